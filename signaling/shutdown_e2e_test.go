package signaling

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Serve's graceful shutdown: once its context ends it stops accepting, runs Drain
// while the connections are still open (what Drain publishes reaches the client),
// and only then closes them with 1001. NoMetrics leaves /metrics out.
func TestServeDrainsBeforeClosing(t *testing.T) {
	v, err := auth.NewValidator(auth.Config{HMACSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	media := newFakeMedia()
	var (
		srv         *Server
		hasDeadline bool
		dialErr     error
	)
	srv, err = NewServer(Options{
		Logger:          hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}}),
		Auth:            v,
		Media:           media,
		NoMetrics:       true,
		ShutdownTimeout: 5 * time.Second,
		Drain: func(ctx context.Context) {
			_, hasDeadline = ctx.Deadline()
			var c net.Conn
			if c, dialErr = net.DialTimeout("tcp", addr, time.Second); dialErr == nil {
				c.Close()
			}
			srv.Publish("s1", protocol.EventTranscriptionResult,
				protocol.TranscriptionResult{SessionID: "s1", Text: "last words", IsFinal: true}, nil, "")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	media.pub = srv
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with NoMetrics: %d, want 404", resp.StatusCode)
	}

	e := &env{t: t, s: srv, media: media, url: "ws://" + addr}
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	cancel()
	f := alice.waitFor(protocol.EventTranscriptionResult)
	if r := decodeInto[protocol.TranscriptionResult](t, f.Data); r.Text != "last words" || !r.IsFinal {
		t.Errorf("drained final %+v", r)
	}
	if code := alice.expectClose(); code != protocol.CloseGoingAway {
		t.Errorf("close %d after the drain, want %d", code, protocol.CloseGoingAway)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !hasDeadline {
		t.Error("Drain's context has no deadline (ShutdownTimeout)")
	}
	if dialErr == nil {
		t.Error("a new connection was accepted while draining")
	}
}
