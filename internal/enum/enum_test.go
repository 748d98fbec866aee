package enum

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type color uint8

var colorNames = []string{"", "red", "dark_blue"}

func TestRoundTrip(t *testing.T) {
	for i := 1; i < len(colorNames); i++ {
		b, err := Marshal(colorNames, "color", color(i))
		if err != nil {
			t.Fatalf("Marshal(%d): %v", i, err)
		}
		var got color
		if err := Unmarshal(colorNames, "color", b, &got); err != nil || got != color(i) {
			t.Fatalf("Unmarshal(%q) = %d, %v; want %d", b, got, err, i)
		}
	}
}

func TestRejects(t *testing.T) {
	if _, err := Marshal(colorNames, "color", color(0)); !errors.Is(err, ErrUnknown) {
		t.Errorf("Marshal(0) err = %v, want ErrUnknown", err)
	}
	if _, err := Marshal(colorNames, "color", color(9)); !errors.Is(err, ErrUnknown) {
		t.Errorf("Marshal(9) err = %v, want ErrUnknown", err)
	}
	got := color(2)
	for _, s := range []string{"", "Red", "green", "dark-blue"} {
		if err := Unmarshal(colorNames, "color", []byte(s), &got); !errors.Is(err, ErrUnknown) {
			t.Errorf("Unmarshal(%q) err = %v, want ErrUnknown", s, err)
		}
	}
	if got != 2 {
		t.Errorf("a failed Unmarshal changed the value to %d", got)
	}
	if n := Name(colorNames, "color", color(9)); n != "color(9)" {
		t.Errorf("Name(9) = %q", n)
	}
}
