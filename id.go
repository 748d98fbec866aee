package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIDLen bounds a slot's or a group's id, in bytes.
const maxIDLen = 128

// checkID returns why id cannot name a slot or a group, wrapping
// [ErrInvalidConfig], or nil. One rule for every id: not empty, at most 128
// bytes of UTF-8, no '/', no control character, not "." or "..". A path is
// the ids from the root joined by '/', so two members never share one,
// and an id never breaks a line of a log, a status or a notification.
func checkID(id string) error {
	why := ""
	switch {
	case id == "":
		why = "empty"
	case len(id) > maxIDLen:
		why = "longer than " + strconv.Itoa(maxIDLen) + " bytes (" + strconv.Itoa(len(id)) + ")"
	case id == "." || id == "..":
		why = "a path element of its own"
	case !utf8.ValidString(id):
		why = "not UTF-8"
	case strings.ContainsRune(id, '/'):
		why = "contains '/', which separates the ids of a path"
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		why = "contains a control character"
	default:
		return nil
	}
	return fmt.Errorf("%w: id %s is %s", ErrInvalidConfig, quoteID(id), why)
}

// checkPath returns why path is not a path of ids ("/a/b"), wrapping
// [ErrInvalidConfig], or nil.
func checkPath(path string) error {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return fmt.Errorf("%w: path %s does not start with '/'", ErrInvalidConfig, quoteID(path))
	}
	for id := range strings.SplitSeq(rest, "/") {
		if err := checkID(id); err != nil {
			return fmt.Errorf("path %s: %w", quoteID(path), err)
		}
	}
	return nil
}

// quoteID quotes id for an error message, escaped and cut to 64 bytes.
func quoteID(id string) string {
	if len(id) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(id[cut]) {
			cut--
		}
		return strconv.Quote(id[:cut]) + "…"
	}
	return strconv.Quote(id)
}
