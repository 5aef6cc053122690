package webrtc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestICEServersReachPion checks that a peer connection is configured with every
// ICE server as its own entry, each with its own TURN credentials.
func TestICEServersReachPion(t *testing.T) {
	servers := []ICEServer{
		{URLs: []string{"stun:127.0.0.1:3478"}},
		{URLs: []string{"turn:127.0.0.1:3479?transport=udp", "turn:127.0.0.1:3479?transport=tcp"}, Username: "alice", Credential: "alice-secret"},
		{URLs: []string{"turn:127.0.0.1:3480"}, Username: "bob", Credential: "bob-secret"},
	}
	open := func(context.Context, protocol.StreamSpec) (Stream, error) { return newRecordingStream(), nil }
	m, err := New(Options{Open: open, IncludeLoopback: true, StopTimeout: 5 * time.Second, ICEServers: servers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "u", Emit: func(string, any) {}}
	if _, err := m.Offer(context.Background(), owner, newBrowser(t, true).offer(t)); err != nil {
		t.Fatalf("Offer with TURN servers: %v", err)
	}
	p := m.lookup(owner)
	if p == nil {
		t.Fatal("no peer after Offer")
	}
	got := p.pc.GetConfiguration().ICEServers
	if len(got) != len(servers) {
		t.Fatalf("pion has %d ICE servers, want %d: %+v", len(got), len(servers), got)
	}
	for i, want := range servers {
		g := got[i]
		if !slices.Equal(g.URLs, want.URLs) {
			t.Errorf("server %d: URLs %v, want %v", i, g.URLs, want.URLs)
		}
		if g.Username != want.Username {
			t.Errorf("server %d: username %q, want %q", i, g.Username, want.Username)
		}
		cred, _ := g.Credential.(string)
		if cred != want.Credential {
			t.Errorf("server %d: credential %q, want %q", i, cred, want.Credential)
		}
	}
	if err := m.Close(owner); err != nil {
		t.Fatal(err)
	}
}

func TestTURNWithoutCredentialsRefused(t *testing.T) {
	open := func(context.Context, protocol.StreamSpec) (Stream, error) { return newRecordingStream(), nil }
	for _, s := range []ICEServer{
		{URLs: []string{"turn:127.0.0.1:3479"}},
		{URLs: []string{"stun:127.0.0.1:3478", "turns:127.0.0.1:5349"}, Username: "alice"},
		{URLs: []string{"TURN:127.0.0.1:3479"}, Credential: "secret"},
	} {
		m, err := New(Options{Open: open, ICEServers: []ICEServer{s}})
		if err == nil {
			m.Shutdown()
			t.Errorf("%v: accepted", s)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the credential: %v", err)
		}
	}
}

func TestICEServerRedactsCredential(t *testing.T) {
	s := ICEServer{URLs: []string{"turn:turn.example.org"}, Username: "alice", Credential: "hunter2"}
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		out := fmt.Sprintf(verb, s)
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the credential: %s", verb, out)
		}
		if !strings.Contains(out, "alice") || !strings.Contains(out, "turn:turn.example.org") {
			t.Errorf("%s hides more than the credential: %s", verb, out)
		}
	}
	// A slice of servers, as a logger would print Options, is redacted too.
	if out := fmt.Sprintf("%+v", []ICEServer{s}); strings.Contains(out, "hunter2") {
		t.Errorf("a slice shows the credential: %s", out)
	}
}
