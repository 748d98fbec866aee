package supervisor_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
)

// ProcessWith stops a program with the signal it expects: this shell
// ignores SIGTERM and exits 0 on SIGINT, so it stops at once rather than
// being killed after the StopTimeout. The signal goes to the process's
// whole group, its sleep included.
func ExampleProcessWith() {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	defer w.Close()
	// The shell waits with "wait", which a trapped signal interrupts at
	// once: a signal that came while it ran "sleep" in the foreground would
	// run its trap only when the sleep ended.
	sh := supervisor.ProcessWith(supervisor.ProcessOptions{StopSignal: syscall.SIGINT}, func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `trap '' TERM; trap 'exit 0' INT; echo ready; sleep 30 & wait $!`)
		cmd.Stdout = w
		return cmd
	})
	slot, err := supervisor.NewChildSlot("sh", sh, supervisor.Config{Restart: supervisor.Temporary, StopTimeout: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := slot.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	line, _ := bufio.NewReader(r).ReadString('\n') // the trap is set
	fmt.Print(line)
	slot.Cancel(time.Now())
	<-slot.Done()
	exit, err := slot.Collect(time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(exit.Kind, exit.Code)
	// Output:
	// ready
	// cancelled 0
}
