package handshake

import (
	"net"
	"testing"

	"github.com/hashicorp/go-plugin"
)

func TestReattachRoundTrip(t *testing.T) {
	addr, _ := net.ResolveUnixAddr("unix", "/tmp/plugin123")
	rc := &plugin.ReattachConfig{Protocol: plugin.ProtocolGRPC, ProtocolVersion: 1, Addr: addr, Pid: 42, Test: true}
	got, err := FromReattachConfig(rc).ReattachConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got.Addr.String() != addr.String() || got.Pid != 42 || !got.Test || got.ProtocolVersion != 1 {
		t.Errorf("round trip: %+v", got)
	}
}

func TestParseReattachEnvErrors(t *testing.T) {
	for _, v := range []string{
		`not json`,
		`{"x":{"protocol":"netrpc","addr":{"network":"unix","string":"/tmp/p"}}}`,
		`{"x":{"protocol":"grpc","addr":{"network":"carrier-pigeon","string":"/tmp/p"}}}`,
	} {
		if _, err := ParseReattachEnv(v); err == nil {
			t.Errorf("%s: accepted", v)
		}
	}
}

func FuzzParseReattachEnv(f *testing.F) {
	f.Add(`{"sphinx":{"protocol":"grpc","protocol_version":1,"pid":1,"test":true,"addr":{"network":"unix","string":"/tmp/plugin1"}}}`)
	f.Add(`{"a":{"protocol":"grpc","addr":{"network":"tcp","string":"127.0.0.1:1"}}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, v string) {
		m, err := ParseReattachEnv(v)
		if err != nil {
			return
		}
		for name, rc := range m {
			if rc.Addr == nil || rc.Protocol != plugin.ProtocolGRPC {
				t.Errorf("%q: accepted %+v", name, rc)
			}
		}
	})
}
