package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	sv "github.com/childslot/supervisor"
)

// command serves POST /commands: authorize, parse strictly, submit, and
// wait for the loop's record of it.
func (h *handler) command(w http.ResponseWriter, r *http.Request) {
	who, code, err := h.authorize(r)
	if err != nil {
		// The body is left unread: the connection closes after the answer
		// (within ReadTimeout, when the server drains what is left).
		w.Header().Set("Connection", "close")
		h.refuse(w, code, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "a command's Content-Type must be application/json")
		return
	}
	body, err := parseCommand(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		code := http.StatusBadRequest
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			code = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("the body is over %d bytes", mbe.Limit)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			code = http.StatusRequestTimeout
			err = fmt.Errorf("the body did not arrive within %v", h.opts.ReadTimeout)
		}
		w.Header().Set("Connection", "close")
		writeError(w, code, "bad command: "+err.Error())
		return
	}
	// The body is in: the wait for the loop's record, then the answer,
	// get their own bounds (a read deadline that passes while the handler
	// waits would cancel the request).
	rc := http.NewResponseController(w)
	until := time.Now().Add(h.opts.CommandTimeout + h.opts.WriteTimeout)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
	c := sv.Command{Op: body.Op, Path: body.Path, Requester: who, Reason: body.Reason}
	// One CommandTimeout for both waits: for room in a full queue (a bulk
	// of commands waits its turn rather than being refused), then for the
	// loop's record.
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.CommandTimeout)
	defer cancel()
	done, err := h.g.SubmitWait(ctx, c)
	switch {
	case r.Context().Err() != nil:
		return // the client went away before the command was queued
	case errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable,
			fmt.Sprintf("%v: the loop took no command within %v; this one was not queued", sv.ErrCommandQueueFull, h.opts.CommandTimeout))
		return
	case err != nil:
		writeError(w, commandCode(err), err.Error())
		return
	}
	select {
	case rec := <-done:
		writeJSON(w, commandCode(rec.Err), rec)
	case <-ctx.Done():
		if r.Context().Err() != nil {
			return // the client went away; the command stands and the loop applies it
		}
		writeJSON(w, http.StatusGatewayTimeout, struct {
			Error   string     `json:"error"`
			Command sv.Command `json:"command"`
		}{
			Error:   fmt.Sprintf("the loop has not applied the command within %v; it is queued and may still be", h.opts.CommandTimeout),
			Command: c,
		})
	}
}

// authorize returns who asks by r, or the status code and error that
// refuse it.
func (h *handler) authorize(r *http.Request) (string, int, error) {
	if h.opts.Authorize == nil {
		return "", http.StatusForbidden, errors.New("commands are off: the program installed no authorizer")
	}
	who, err := h.opts.Authorize(r)
	switch {
	case err != nil:
		return "", http.StatusForbidden, fmt.Errorf("not authorized: %w", err)
	case strings.TrimSpace(who) == "":
		return "", http.StatusForbidden, errors.New("not authorized: the authorizer named nobody")
	}
	return who, 0, nil
}

// commandCode maps a command's error, from Submit or from its record, to
// a status code. A refusal is checked first: it may wrap why (a stopped
// group, say).
func commandCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, sv.ErrCommandRefused):
		return http.StatusConflict
	case errors.Is(err, sv.ErrUnknownMember):
		return http.StatusNotFound
	case errors.Is(err, sv.ErrInvalidCommand):
		return http.StatusBadRequest
	case errors.Is(err, sv.ErrCommandQueueFull), errors.Is(err, sv.ErrGroupStopped):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// commandBody is a command as posted. Who asks is not in it: Authorize
// says.
type commandBody struct {
	Op     sv.CommandOp
	Path   string
	Reason string
}

// parseCommand reads exactly one JSON object from r whose keys are among
// "op", "path" and "reason", each at most once and each a string, and
// nothing after it. Stricter than json.Decoder with DisallowUnknownFields,
// it matches keys by exact case, refuses duplicates and null, and reads
// every byte, so that a body over the limit is never half-taken.
func parseCommand(r io.Reader) (commandBody, error) {
	var c commandBody
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{', "the body must be one JSON object"); err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for dec.More() {
		key, val, err := nextField(dec)
		if err != nil {
			return c, err
		}
		if seen[key] {
			return c, fmt.Errorf("field %q given twice", key)
		}
		seen[key] = true
		if err := c.set(key, val); err != nil {
			return c, err
		}
	}
	if err := expectDelim(dec, '}', "the object does not end"); err != nil {
		return c, err
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return c, nil
	case err != nil && !isSyntax(err):
		return c, err
	}
	return c, errors.New("data after the JSON object")
}

// set stores the value of field key.
func (c *commandBody) set(key, val string) error {
	switch key {
	case "op":
		if err := c.Op.UnmarshalText([]byte(val)); err != nil {
			return fmt.Errorf("unknown op %q: want restart, pause, resume, quarantine, remove or shutdown", val)
		}
	case "path":
		c.Path = val
	case "reason":
		c.Reason = val
	case "requester":
		return errors.New(`unknown field "requester": who asks comes from the authorizer, not the body`)
	default:
		return fmt.Errorf("unknown field %q: want op, path and reason", key)
	}
	return nil
}

// nextField reads one key and its value, which must be a string.
func nextField(dec *json.Decoder) (key, val string, err error) {
	tok, err := dec.Token()
	if err != nil {
		return "", "", readError(err)
	}
	key, _ = tok.(string) // a key is always a string
	tok, err = dec.Token()
	if err != nil {
		return "", "", readError(err)
	}
	val, ok := tok.(string)
	if !ok {
		return "", "", fmt.Errorf("field %q must be a string", key)
	}
	return key, val, nil
}

// expectDelim reads the next token and returns an error saying what when
// it is not d.
func expectDelim(dec *json.Decoder, d json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New(what + ": the body is empty or ends early")
		}
		return readError(err)
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return errors.New(what)
	}
	return nil
}

// readError keeps a body-size error as it is, for the caller to find, and
// words the rest.
func readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the JSON ends early")
	}
	if isSyntax(err) {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return err
}

// isSyntax reports whether err is a JSON syntax error.
func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}
