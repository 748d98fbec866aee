package supervisor

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idBad lists ids the one rule refuses, each with what the error says.
var idBad = []struct{ name, id, says string }{
	{"empty", "", "is empty"},
	{"slash", "a/b", "contains '/'"},
	{"dot", ".", "a path element of its own"},
	{"dot dot", "..", "a path element of its own"},
	{"newline", "app\nREADY=1\n", "contains a control character"},
	{"tab", "a\tb", "contains a control character"},
	{"DEL", "a\x7fb", "contains a control character"},
	{"C1 control", "a\u0085b", "contains a control character"},
	{"not UTF-8", "a\xffb", "not UTF-8"},
	{"1 MiB", strings.Repeat("x", 1<<20), "longer than 128 bytes (1048576)"},
	{"129 bytes", strings.Repeat("x", 129), "longer than 128 bytes"},
}

func TestIDRuleAtEveryEntry(t *testing.T) {
	fn := func(context.Context, *Attempt) error { return nil }
	root, err := NewGroup("app", GroupConfig{})
	require.NoError(t, err)
	entries := map[string]func(id string) error{
		"NewChildSlot": func(id string) error { _, err := NewChildSlot(id, fn, Config{}); return err },
		"NewGroup":     func(id string) error { _, err := NewGroup(id, GroupConfig{}); return err },
		"Group.Add":    func(id string) error { _, err := root.Add(id, fn, Config{}); return err },
		"Config.Path": func(id string) error {
			_, err := NewChildSlot("ok", fn, Config{Path: "/app/" + id})
			return err
		},
		"Submit": func(id string) error {
			_, err := root.Submit(Command{Op: CommandPause, Path: "/app/" + id, Requester: "op", Reason: "test"})
			if err != nil {
				assert.ErrorIs(t, err, ErrInvalidCommand)
			}
			return err
		},
	}
	for entry, call := range entries {
		for _, tt := range idBad {
			if tt.id == "a/b" && (entry == "Config.Path" || entry == "Submit") {
				continue // in a path, two ids
			}
			t.Run(entry+"/"+tt.name, func(t *testing.T) {
				err := call(tt.id)
				require.ErrorIs(t, err, ErrInvalidConfig)
				assert.Contains(t, err.Error(), tt.says)
				assert.Less(t, len(err.Error()), 300, "the error quotes a bounded id")
				assert.NotContains(t, err.Error(), "\n", "the error quotes the id escaped")
			})
		}
	}
	assert.Zero(t, root.Len(), "nothing joined")
	for _, ok := range []string{"db", "api-1", "tenant 42", "ünïcode", "a.b", "...", strings.Repeat("x", 128)} {
		_, err := root.Add(ok, fn, Config{})
		assert.NoError(t, err, "%q", ok)
	}
}

// TestIDPathsAreUnique: the member "a/b" of the root and the member "b" of
// the nested group "a" had the same path; the first is now refused.
func TestIDPathsAreUnique(t *testing.T) {
	fn := func(context.Context, *Attempt) error { return nil }
	root, err := NewGroup("app", GroupConfig{})
	require.NoError(t, err)
	a, err := NewGroup("a", GroupConfig{})
	require.NoError(t, err)
	require.NoError(t, root.AddGroup(a))
	b, err := a.Add("b", fn, Config{})
	require.NoError(t, err)
	assert.Equal(t, "/app/a/b", b.Record(b.base.instant(0)).Path)
	_, err = root.Add("a/b", fn, Config{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Equal(t, 1, root.Len())
}
