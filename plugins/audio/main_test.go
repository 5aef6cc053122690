package audio_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: Decode starts none, and
// the gRPC shim and plugin host used by the contract tests must stop theirs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
