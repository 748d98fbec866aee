package supervisor

import (
	"fmt"
	"io"
	"strings"
)

// WriteOutcomes writes what became of each member of r, one line each,
// from the last started to the first (the order of a shutdown), a nested
// group's members indented below its line: the member's path, its
// shutdown outcome, then for a slot its attempts and last exit, for a
// group its strategy and restarts, and the member's latest operator
// command if it had one, control characters escaped as in Event.String. It
// is the summary a program prints once Run has
// returned:
//
//	/app/api               abandoned        attempts 1; last: no exit
//	/app/jobs              stopped          one_for_all group, restarts 1
//	  /app/jobs/x          already_stopped  attempts 0; last: no exit
//	/app/db                stopped          attempts 2; last: attempt 2 was cancelled after 2.2s: group shutting down
//
// It returns the first error of w.
func (r GroupRecord) WriteOutcomes(w io.Writer) error {
	var b strings.Builder
	r.appendOutcomes(&b, 1)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *GroupRecord) appendOutcomes(b *strings.Builder, depth int) {
	indent := strings.Repeat("  ", depth)
	for i := len(r.Members) - 1; i >= 0; i-- {
		m := &r.Members[i]
		name := indent + r.Path + "/" + m.ID
		switch {
		case m.Group != nil:
			fmt.Fprintf(b, "%-24s %-16s %s group, restarts %d%s\n", name, m.Shutdown, m.Group.Strategy, m.Group.Restarts, commandText(m.LastCommand))
			m.Group.appendOutcomes(b, depth+1)
		case m.Slot != nil:
			last := "no exit"
			if m.Slot.LastExit != nil {
				last = m.Slot.LastExit.String()
			}
			fmt.Fprintf(b, "%-24s %-16s attempts %d; last: %s%s\n", name, m.Shutdown, m.Slot.Attempt, last, commandText(m.LastCommand))
		}
	}
}

// commandText tells a member's latest operator command for its outcome
// line, or nothing when it had none.
func commandText(c *CommandRecord) string {
	if c == nil {
		return ""
	}
	s := fmt.Sprintf("; last command: %s by %s (%s)", c.Op, c.Requester, escapeControl(c.Reason))
	if c.Error != "" {
		s += ", refused: " + escapeControl(c.Error)
	}
	return s
}
