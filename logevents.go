package supervisor

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// LogEvents returns a listener for Config.OnEvent or GroupConfig.OnEvent
// that logs each event to logger on one line, at the level [Event.Level]
// gives it, with the event's kind as the message and flat attributes that
// read the same under slog's text and JSON handlers (durations as "1.5s",
// not nanoseconds):
//
//	OnEvent: supervisor.LogEvents(logger),
//
// A member's failure logs two lines at Info and above, its exit and its
// restart; the restart's start, a group_restart covering only the failed
// member and the cancellation that precedes an exit are at Debug, since
// the lines around them already say so. A nil logger logs to
// slog.Default().
func LogEvents(logger *slog.Logger) func(Event) {
	return func(e Event) {
		l := logger
		if l == nil {
			l = slog.Default()
		}
		ctx := context.Background()
		level := e.Level()
		if !l.Enabled(ctx, level) {
			return
		}
		l.LogAttrs(ctx, level, e.Kind.String(), e.logAttrs()...)
	}
}

// Level returns the level at which [LogEvents] logs e: Error for a
// failure (an exit failed, panicked, timed out or unhealthy, a group that
// failed) and a quarantine; Warn for a refused restart, an abandoned
// attempt and a refused operator command; Debug for what the lines around
// it already say (an attempt started again after a restart, a
// group_restart of the failed member alone, a cancellation, whose exit
// follows); Info for the rest.
func (e Event) Level() slog.Level {
	switch e.Kind {
	case EventExited:
		return exitLevel(e.Exit)
	case EventQuarantined, EventGroupFailed:
		return slog.LevelError
	case EventRestartRefused, EventAbandoned:
		return slog.LevelWarn
	case EventCommand:
		if e.Command != nil && e.Command.Error != "" {
			return slog.LevelWarn
		}
	case EventStarted:
		if e.Attempt > 1 {
			return slog.LevelDebug
		}
	case EventGroupRestart:
		if len(e.Scope) == 1 && e.Scope[0] == e.Member {
			return slog.LevelDebug
		}
	case EventCancelled:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// exitLevel is the level of an exited event with exit x: Error for an
// abnormal exit, Warn for an abandoned one, Info for the rest.
func exitLevel(x *Exit) slog.Level {
	switch {
	case x == nil || !x.Kind.Abnormal():
		return slog.LevelInfo
	case x.Kind == Abandoned:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// logAttrs returns e's attributes for LogEvents: flat, durations as
// strings, each fact once.
func (e Event) logAttrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("path", e.Path))
	if e.Attempt != 0 {
		attrs = append(attrs, slog.Uint64("attempt", e.Attempt))
	}
	if e.Member != "" {
		attrs = append(attrs, slog.String("member", e.Member))
	}
	if e.Scope != nil {
		attrs = append(attrs, slog.String("scope", strings.Join(e.Scope, ",")))
	}
	switch e.Kind {
	case EventRestartScheduled:
		attrs = append(attrs, slog.String("in", roundDuration(e.Delay).String()))
	case EventFence:
		attrs = append(attrs, slog.String("phase", e.Phase.String()))
	}
	if x := e.Exit; x != nil {
		attrs = appendExit(attrs, x, e.Attempt)
	} else if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if c := e.Command; c != nil {
		attrs = appendCommand(attrs, c, e.Reason)
	}
	return attrs
}

// appendExit appends the attributes of exit x of an event about attempt.
func appendExit(attrs []slog.Attr, x *Exit, attempt uint64) []slog.Attr {
	attrs = append(attrs, slog.String("exit", x.Kind.String()), slog.String("ran", roundDuration(x.Duration()).String()))
	if x.Attempt != attempt {
		attrs = append(attrs, slog.Uint64("exit_attempt", x.Attempt))
	}
	if x.Reason != "" {
		attrs = append(attrs, slog.String("reason", x.Reason))
	}
	if x.Code != 0 {
		attrs = append(attrs, slog.Int("code", x.Code))
	}
	if x.Stack != "" {
		attrs = append(attrs, slog.String("stack", x.Stack))
	}
	return attrs
}

// appendCommand appends the attributes of command c, whose reason the
// event's, reason, may already say.
func appendCommand(attrs []slog.Attr, c *CommandRecord, reason string) []slog.Attr {
	attrs = append(attrs, slog.String("op", c.Op.String()), slog.String("requester", c.Requester))
	if c.Reason != "" && c.Reason != reason {
		attrs = append(attrs, slog.String("why", c.Reason))
	}
	if c.Error != "" {
		attrs = append(attrs, slog.String("error", c.Error))
	}
	return attrs
}

// maxLogLine is the longest line LogLines keeps waiting for its end; a
// longer one is logged in pieces of this size.
const maxLogLine = 64 << 10

// LogLines returns a writer that logs each line written to it as one
// record of logger at Info, with the message "output", the line as
// "line", and attrs: for an OS process's output, as in
//
//	cmd.Stdout = supervisor.LogLines(logger, slog.String("path", "/app/ticker"))
//
// A line is logged once its newline arrives; a line longer than 64 KiB is
// logged in pieces, so that a process that never writes a newline cannot
// grow the buffer without bound. Writes never fail. The writer is safe for
// concurrent use (a Cmd's Stdout and Stderr may share it). A nil logger
// logs to slog.Default().
func LogLines(logger *slog.Logger, attrs ...slog.Attr) io.Writer {
	return &lineLogger{logger: logger, attrs: attrs}
}

// lineLogger is LogLines's writer.
type lineLogger struct {
	logger *slog.Logger
	attrs  []slog.Attr
	mu     sync.Mutex
	buf    []byte // the start of a line whose end has not come yet
}

// Write logs every complete line of p and keeps the rest for later.
func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		switch {
		case i >= 0:
		case len(l.buf) >= maxLogLine:
			i = maxLogLine
		default:
			if len(l.buf) == 0 {
				l.buf = nil // let a burst's buffer go
			}
			return len(p), nil
		}
		l.log(string(bytes.TrimSuffix(l.buf[:i], []byte("\r"))))
		if i < len(l.buf) && l.buf[i] == '\n' {
			i++
		}
		l.buf = l.buf[i:]
	}
}

func (l *lineLogger) log(line string) {
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs := append(l.attrs[:len(l.attrs):len(l.attrs)], slog.String("line", line))
	logger.LogAttrs(context.Background(), slog.LevelInfo, "output", attrs...)
}
