package supervisor

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reading a child's values. The error a child returns and the value it
// panics with are the child's own code: their Error, String, Unwrap, Is and
// ExitCode methods may panic, loop forever or block. What an exit needs
// from them (a text, whether the error is a cancellation, an exit code) is
// read once, on the child's own goroutine, before the exit is posted, by
// the functions below: each method call is recovered, the unwrap walk is
// bounded, and texts are cut to maxReason bytes. The loop then only reads
// the plain values they return, as OTP reads an exit reason: as data.

// maxReason bounds the text of an exit's Reason, in bytes: a child that
// panics with a 16 MB value, or returns an error whose text is a log
// file, costs a record (and every page and scrape that serves it) no more
// than this. A text cut short ends with "… (N bytes cut)".
const maxReason = 1024

// maxChain bounds the errors an unwrap walk visits: a chain that unwraps
// to itself, or is deeper than this, is cut there.
const maxChain = 64

// formatTimeout bounds how long the child's goroutine waits for the text of
// a panic value whose type has methods: a String method that blocks must
// not hold the exit back (the restart is due on time), so it runs on a
// goroutine of its own, which is left behind if it never returns.
const formatTimeout = 100 * time.Millisecond

// errFacts is what an exit needs from a returned error.
type errFacts struct {
	text      string    // the error's text, bounded; says so when Error panicked
	cancelled bool      // the chain holds context.Canceled or DeadlineExceeded
	code      int       // the first ExitCode() in the chain
	killed    bool      // the chain holds a process that died of SIGKILL
	cut       bool      // the walk stopped at maxChain
	directive Directive // the first ErrFailGroup or ErrDoNotRestart in the chain
}

// readError returns what an exit needs from err, calling err's methods on
// the caller's goroutine under recover. A nil err gives the zero facts.
func readError(err error) errFacts {
	if err == nil {
		return errFacts{}
	}
	f := errFacts{text: errorText(err)}
	f.walk(err)
	if f.cut {
		f.text = bound(f.text + " (error chain cut after " + strconv.Itoa(maxChain) + " links)")
	}
	return f
}

// errorText returns err's text, bounded: "nil *T" for a typed nil whose
// Error panics, and a description of the panic for any Error that does.
func errorText(err error) (text string) {
	defer func() {
		if r := recover(); r != nil {
			text = errorTextPanicked(err, r)
		}
	}()
	return bound(err.Error())
}

// errorTextPanicked is errorText's text when err's Error panicked with r.
func errorTextPanicked(err error, r any) string {
	if isNilPointer(err) {
		// A typed nil returned as error, the classic Go trap, whose Error
		// does not work on a nil receiver.
		return "returned a nil " + typeName(err) + " as a non-nil error"
	}
	return bound(fmt.Sprintf("%s (its Error method panicked: %s)", typeName(err), safeText(r)))
}

// isNilPointer reports whether v holds a nil pointer.
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// walk visits err's chain (Unwrap() error and Unwrap() []error) depth
// first, as errors.Is does, at most maxChain errors, noting what an exit
// needs from each. A chain without joins costs no allocation.
func (f *errFacts) walk(err error) {
	var later []error // the rest of joined errors, to visit after
	for seen := 0; ; {
		if err == nil {
			if len(later) == 0 {
				return
			}
			err, later = later[len(later)-1], later[:len(later)-1]
			continue
		}
		if seen == maxChain {
			f.cut = true
			return
		}
		seen++
		f.note(err)
		joined, next := unwrap(err)
		for i := len(joined) - 1; i > 0; i-- {
			later = append(later, joined[i])
		}
		if len(joined) > 0 {
			next = joined[0]
		}
		err = next
	}
}

// note records what e itself says, its methods recovered.
func (f *errFacts) note(e error) {
	defer func() { _ = recover() }() // a method that panics says nothing
	if e == context.Canceled || e == context.DeadlineExceeded {
		f.cancelled = true
	}
	if is, ok := e.(interface{ Is(error) bool }); ok && !f.cancelled {
		f.cancelled = is.Is(context.Canceled) || is.Is(context.DeadlineExceeded)
	}
	if f.directive == DirectiveNone {
		f.directive = directiveOf(e)
	}
	if c, ok := e.(interface{ ExitCode() int }); ok && f.code == 0 {
		if ee, ok := e.(*exec.ExitError); ok {
			ws, ok := ee.Sys().(syscall.WaitStatus)
			f.killed = f.killed || ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
		}
		f.code = c.ExitCode()
	}
}

// unwrap returns what e unwraps to: one error, or the errors it joins. An
// Unwrap that panics unwraps to nothing.
func unwrap(e error) (joined []error, next error) {
	defer func() {
		if recover() != nil {
			joined, next = nil, nil
		}
	}()
	switch u := e.(type) {
	case interface{ Unwrap() error }:
		return nil, u.Unwrap()
	case interface{ Unwrap() []error }:
		return u.Unwrap(), nil
	}
	return nil, nil
}

// panicText returns the text of a panic value, bounded. A value of a basic
// type without methods is formatted directly; an error of the runtime's is
// the runtime's own; any other value's methods run on a goroutine of their
// own, recovered, for at most formatTimeout.
func panicText(v any) string {
	if plain(v) {
		return bound(fmt.Sprint(v))
	}
	if re, ok := v.(runtime.Error); ok && isRuntimeType(re) {
		return bound(re.Error())
	}
	out := make(chan string, 1) // buffered: a late formatter leaves without a reader
	go func() {
		defer func() {
			if r := recover(); r != nil {
				out <- fmt.Sprintf("%s (its String or Error method panicked: %s)", typeName(v), safeText(r))
			}
		}()
		out <- bound(fmt.Sprint(v))
	}()
	timer := time.NewTimer(formatTimeout)
	defer timer.Stop()
	select {
	case s := <-out:
		return bound(s)
	case <-timer.C:
		return typeName(v) + " (its String or Error method did not return within " + formatTimeout.String() + ")"
	}
}

// safeText formats a value without calling any of its methods: a plain
// value as fmt does, anything else by its type alone. It is for values
// met while recovering from a method that panicked.
func safeText(v any) string {
	if plain(v) {
		return bound(fmt.Sprint(v))
	}
	return "a " + typeName(v)
}

// plain reports whether v is nil or of a basic kind (bool, number, string)
// whose type has no methods: fmt formats it without calling user code.
func plain(v any) bool {
	if v == nil {
		return true
	}
	t := reflect.TypeOf(v)
	if t.NumMethod() != 0 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// isRuntimeType reports whether v's type is the runtime package's own (an
// index out of range, a nil map write, panic(nil)), whose methods are safe.
func isRuntimeType(v any) bool {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "runtime"
}

// typeName returns v's type as %T prints it, which calls no method.
func typeName(v any) string { return fmt.Sprintf("%T", v) }

// bound returns s cut to at most maxReason bytes (at a rune boundary),
// saying how much was cut.
func bound(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - 40 // room for the note
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)-cut) + " bytes cut)"
}

// escapeControl returns s with its control characters written as Go
// escapes them ("\n", "\x1b", "\u0085"), and s itself when it has none.
func escapeControl(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
