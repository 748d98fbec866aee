package admin

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands in on fd 3, answers out on fd
// 4, each a JSON message ended by a NUL byte), with one page attached.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      *os.File // to the browser
	mu      sync.Mutex
	id      int
	waiting map[int]chan cdpAnswer
	session string
	stderr  bytes.Buffer
}

// cdpAnswer is the answer to one command.
type cdpAnswer struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser starts Chromium and opens a page of width×height pixels;
// it stops the browser at the test's end.
func startBrowser(t *testing.T, bin string, width, height int) *browser {
	t.Helper()
	toR, toW, err := os.Pipe()
	require.NoError(t, err)
	fromR, fromW, err := os.Pipe()
	require.NoError(t, err)
	b := &browser{t: t, in: toW, waiting: map[int]chan cdpAnswer{}}
	b.cmd = exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--hide-scrollbars", "--force-color-profile=srgb",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toR, fromW} // fd 3 and fd 4
	b.cmd.Stderr = &b.stderr
	require.NoError(t, b.cmd.Start())
	_ = toR.Close()
	_ = fromW.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		b.read(fromR)
	}()
	t.Cleanup(func() {
		_, _ = b.call("", "Browser.close", nil)
		_ = toW.Close()
		done := make(chan struct{})
		go func() {
			_ = b.cmd.Wait() // killed or closed: its status says nothing here
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-done
		}
		_ = fromR.Close()
		<-read
	})

	var target struct {
		TargetID string `json:"targetId"`
	}
	b.must("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.must("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Performance.enable"} {
		b.must(b.session, domain, nil, nil)
	}
	b.must(b.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

// read hands each answer from r to its caller; events are dropped.
func (b *browser) read(r *os.File) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, c := range b.waiting {
				close(c)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		var a cdpAnswer
		if json.Unmarshal(msg[:len(msg)-1], &a) != nil || a.ID == 0 {
			continue
		}
		b.mu.Lock()
		c := b.waiting[a.ID]
		delete(b.waiting, a.ID)
		b.mu.Unlock()
		if c != nil {
			c <- a
		}
	}
}

// call sends method with params to the session (the browser when empty)
// and returns its result, waiting at most 30 seconds.
func (b *browser) call(session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.id++
	id := b.id
	c := make(chan cdpAnswer, 1)
	b.waiting[id] = c
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, err
	}
	select {
	case a, ok := <-c:
		switch {
		case !ok:
			return nil, errors.New("the browser went away: " + b.stderr.String())
		case a.Error != nil:
			return nil, fmt.Errorf("%s: %s", method, a.Error.Message)
		}
		return a.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30s", method)
	}
}

// must is call, failing the test on an error, decoding the result into
// out when not nil.
func (b *browser) must(session, method string, params, out any) {
	b.t.Helper()
	res, err := b.call(session, method, params)
	require.NoError(b.t, err)
	if out != nil {
		require.NoError(b.t, json.Unmarshal(res, out), string(res))
	}
}

// eval evaluates the JavaScript expr in the page, awaiting a promise, and
// decodes its value into out (when not nil).
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.must(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if e := res.ExceptionDetails; e != nil {
		require.FailNow(b.t, "script error", "%s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out != nil {
		require.NoError(b.t, json.Unmarshal(res.Result.Value, out), string(res.Result.Value))
	}
}

// navigate loads url and waits for its load to complete.
func (b *browser) navigate(url string) {
	b.t.Helper()
	b.must(b.session, "Page.navigate", map[string]any{"url": url}, nil)
	b.waitJS(`document.readyState === 'complete' && location.href !== 'about:blank'`)
}

// waitJS waits, for at most ten seconds, until the expression cond is
// true in the page.
func (b *browser) waitJS(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		res, err := b.call(b.session, "Runtime.evaluate", map[string]any{"expression": "!!(" + cond + ")", "returnByValue": true})
		if err == nil {
			var r struct {
				Result struct {
					Value bool `json:"value"`
				} `json:"result"`
			}
			ok = json.Unmarshal(res, &r) == nil && r.Result.Value
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(b.t, "timed out waiting", "%s (last error %v)", cond, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// taskSeconds returns the page's main-thread task time so far, from the
// browser's own Performance metrics.
func (b *browser) taskSeconds() float64 {
	b.t.Helper()
	var m struct {
		Metrics []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"metrics"`
	}
	b.must(b.session, "Performance.getMetrics", nil, &m)
	for _, x := range m.Metrics {
		if x.Name == "TaskDuration" {
			return x.Value
		}
	}
	require.FailNow(b.t, "no TaskDuration metric")
	return 0
}

// screenshot returns a PNG of the page's viewport.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	b.must(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(b.t, err)
	return png
}

// setDark switches the page's prefers-color-scheme.
func (b *browser) setDark(dark bool) {
	b.t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	b.must(b.session, "Emulation.setEmulatedMedia",
		map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": v}}}, nil)
}
