// Package enum holds the text encoding shared by the package's small
// enumerations: each one is a uint8 whose names sit in a table.
package enum

import (
	"errors"
	"fmt"
)

// ErrUnknown is returned for a value or a name outside the table.
var ErrUnknown = errors.New("unknown name")

// Name returns the table's name for v, or typ(v) when v is outside it.
func Name[T ~uint8](names []string, typ string, v T) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, uint8(v))
}

// Marshal returns the name of v as text, or an error naming typ when v has
// no name.
func Marshal[T ~uint8](names []string, typ string, v T) ([]byte, error) {
	if int(v) < len(names) && names[v] != "" {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("supervisor: %s(%d): %w", typ, uint8(v), ErrUnknown)
}

// Unmarshal stores in *v the value whose name is text, or returns an error
// naming typ and text when no value has that name; *v is then unchanged.
func Unmarshal[T ~uint8](names []string, typ string, text []byte, v *T) error {
	for i, n := range names {
		if n != "" && n == string(text) {
			*v = T(i)
			return nil
		}
	}
	return fmt.Errorf("supervisor: %s %q: %w", typ, text, ErrUnknown)
}
