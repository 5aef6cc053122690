package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// max_message_size must leave room for a token of max_token_size and the message
// around it, or nobody can authenticate; outbound_queue must be at least 1 KiB,
// which the gateway requires.
func TestMessageAndQueueLimits(t *testing.T) {
	const summary = "Message size too small for the token"
	for _, tc := range []struct {
		server, auth string
		want         []want
	}{
		{"", "", nil},
		{"max_message_size = 9216", "max_token_size = 8192", nil}, // exactly token + 1 KiB
		{"max_message_size = 9215", "max_token_size = 8192", []want{{2, summary}}},
		{"max_message_size = \"4KiB\"", "", []want{{2, summary}}},
		// Only max_token_size is set: the diagnostic points at it.
		{"", "max_token_size = \"1MiB\"", []want{{5, summary}}},
		{"max_message_size = \"2MiB\"", "max_token_size = \"1MiB\"", nil},
		// A size that is already wrong is reported once.
		{"max_message_size = 0", "", []want{{2, "Invalid size"}}},
		{"outbound_queue = 1024", "", nil},
		{"outbound_queue = 1023", "", []want{{2, "Invalid size"}}},
		{"outbound_queue = 0", "", []want{{2, "Invalid size"}}},
	} {
		t.Run(tc.server+" "+tc.auth, func(t *testing.T) {
			src := fmt.Sprintf("server {\n  %s\n}\nauth {\n  %s\n}\nplugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n", tc.server, tc.auth)
			_, diags := testLoader(testEnv).Parse([]byte(src), "x.hcl")
			if got := gotOf(t, diags); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, d := range diags {
				if d.Summary == summary && !strings.Contains(d.Detail, "max_token_size") {
					t.Errorf("detail does not say what to change: %s", d.Detail)
				}
			}
		})
	}
}

// sessions.max_sessions_per_user defaults to 100 and must be at least 1.
func TestMaxSessionsPerUser(t *testing.T) {
	for _, tc := range []struct {
		attr string
		n    int
		want []want
	}{
		{"", 100, nil},
		{"max_sessions_per_user = 3", 3, nil},
		{"max_sessions_per_user = 1", 1, nil},
		{"max_sessions_per_user = 0", 0, []want{{2, "Value out of range"}}},
		{"max_sessions_per_user = -1", -1, []want{{2, "Value out of range"}}},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			src := fmt.Sprintf("sessions {\n  %s\n}\nplugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n", tc.attr)
			c, diags := testLoader(testEnv).Parse([]byte(src), "x.hcl")
			if got := gotOf(t, diags); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if c != nil && c.Sessions.MaxSessionsPerUser != tc.n {
				t.Errorf("MaxSessionsPerUser = %d, want %d", c.Sessions.MaxSessionsPerUser, tc.n)
			}
		})
	}
}
