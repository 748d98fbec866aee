package supervisor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupConfigTemporary: Temporary, the last restart type, is a
// valid restart type for a nested group.
func TestGroupConfigTemporary(t *testing.T) {
	_, err := NewGroup("batch", GroupConfig{Restart: Temporary})
	require.NoError(t, err)
	_, err = NewGroup("batch", GroupConfig{Restart: Temporary + 1})
	require.ErrorIs(t, err, ErrInvalidConfig)
}
