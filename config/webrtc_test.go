package config

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
	pion "github.com/pion/webrtc/v4"
)

// TestICEURLsAsPionParsesThem checks validation against pion itself: every URL
// NewPeerConnection refuses must be refused at load time, and every URL validation
// refuses must be one pion refuses too, except the ports pion lets through but no
// server listens on.
func TestICEURLsAsPionParsesThem(t *testing.T) {
	for _, tc := range []struct {
		url          string
		onlyOurError bool // pion accepts it; we refuse it on purpose
	}{
		{url: "stun:stun.l.google.com:19302"},
		{url: "stun:stun.example.org"},
		{url: "STUN:stun.example.org"},
		{url: "stuns:stun.example.org:5349"},
		{url: "stun:[2001:db8::1]:3478"},
		{url: "turn:turn.example.org:3478?transport=udp"},
		{url: "turn:turn.example.org?transport=tcp"},
		{url: "turns:turn.example.org"},
		{url: "stun://stun.l.google.com:19302"},
		{url: "stun:host:abc"},
		{url: "stun:host?transport=udp"}, // pion drops the query
		{url: "stuns:host:5349?x=y"},
		{url: "STUN:host?transport=udp"},
		{url: "stun:host:abc?transport=udp"},
		{url: "turn:host?transport=sctp"},
		{url: "turn:host?ttl=5"},
		{url: "turn::3478"},
		{url: "stun:2001:db8::1"},
		{url: "http://stun.example.org"},
		{url: "stun:"},
		{url: "stun:host:0", onlyOurError: true},
		{url: "stun:host:70000", onlyOurError: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, ourErr := parseICEURL(tc.url)
			pc, pionErr := pion.NewPeerConnection(pion.Configuration{ICEServers: []pion.ICEServer{{
				URLs: []string{tc.url}, Username: "u", Credential: "c", CredentialType: pion.ICECredentialTypePassword,
			}}})
			if pc != nil {
				_ = pc.Close()
			}
			switch {
			case pionErr != nil && ourErr == nil:
				t.Errorf("pion refuses it (%v), validation accepts it", pionErr)
			case pionErr == nil && ourErr != nil && !tc.onlyOurError:
				t.Errorf("pion accepts it, validation refuses it: %v", ourErr)
			case tc.onlyOurError && ourErr == nil:
				t.Error("validation accepts it")
			}
		})
	}
}

// webrtcSrc is a loadable file with the given webrtc block body.
func webrtcSrc(body string) []byte {
	return []byte("webrtc {\n" + body + "}\nplugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n")
}

// Fewer UDP ports than peer connections is a warning at the attribute to change,
// and loading goes on.
func TestUDPPortsWarning(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []want
	}{
		{"defaults", "", nil},
		{"enough ports", "  udp_ports = \"50000-50009\"\n  max_peer_connections = 10\n", nil},
		{"one port, one peer", "  udp_ports = \"50000\"\n  max_peer_connections = 1\n", nil},
		{"narrow range", "  udp_ports = \"50000-50009\"\n  max_peer_connections = 11\n", []want{{2, "Too few UDP ports for the peer connections"}}},
		{"narrow range, default max", "  udp_ports = \"50000-50099\"\n", []want{{2, "Too few UDP ports for the peer connections"}}},
		{"max above the default range", "  max_peer_connections = 301\n", []want{{2, "Too few UDP ports for the peer connections"}}},
		{"both set: points at udp_ports", "  max_peer_connections = 500\n  udp_ports = \"50000-50099\"\n", []want{{3, "Too few UDP ports for the peer connections"}}},
		{"webrtc disabled", "  enabled = false\n  udp_ports = \"50000\"\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := testLoader(testEnv).Parse(webrtcSrc(tc.body), "x.hcl")
			if diags.HasErrors() {
				t.Fatalf("errors: %v", diags)
			}
			if got := gotOf(t, diags); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagWarning {
					t.Errorf("severity %v, want a warning", d.Severity)
				}
			}
			if c.WebRTC.MaxPeerConnections < 1 {
				t.Errorf("config not loaded: %+v", c.WebRTC)
			}
		})
	}
}

// The embedded default and defaults() agree, and their port range covers the
// default number of peer connections.
func TestDefaultUDPPortsCoverPeers(t *testing.T) {
	c, diags := testLoader(testEnv).LoadDefault()
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	want := defaults(testLoader(testEnv).LookupEnv).WebRTC
	if fmt.Sprint(c.WebRTC) != fmt.Sprint(want) {
		t.Errorf("default.hcl webrtc %+v, defaults() %+v", c.WebRTC, want)
	}
	if ports := int(c.WebRTC.UDPPortMax) - int(c.WebRTC.UDPPortMin) + 1; ports < c.WebRTC.MaxPeerConnections {
		t.Errorf("%d ports for %d peer connections", ports, c.WebRTC.MaxPeerConnections)
	}
}
