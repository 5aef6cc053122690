package shim_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	"github.com/earshot-dev/earshot/plugins/internal/shim"
	"github.com/earshot-dev/earshot/plugins/internal/toyplugins"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// dyingPlugin serves impl in process over a unix socket with the SDK's real server.
// Its connection is dialled with an interceptor that, once armed, stops the
// server right after a stream has opened and before the host sends the stream's
// first message — a plugin dying as the stream opens — and waits until the
// stream has seen it, so that the first Send is the call that fails.
type dyingPlugin struct {
	client *shim.Client
	armed  atomic.Bool
	failed atomic.Int32 // OnFailure calls
}

func newDyingPlugin(t *testing.T, impl sdk.Plugin) *dyingPlugin {
	t.Helper()
	srvPlugin, err := handshake.ServerPlugin(impl)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(handshake.ServerOptions()...)
	if err := srvPlugin.GRPCServer(nil, srv); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })

	d := &dyingPlugin{}
	die := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || !d.armed.Load() {
			return cs, err
		}
		srv.Stop()
		// Header returns once the stream has ended (the SDK sends no header
		// before its first answer); the reason stays for RecvMsg.
		if md, _ := cs.Header(); len(md) > 0 {
			t.Errorf("stream headers from a stopped plugin: %v", md)
		}
		return cs, nil
	}
	opts := append(shim.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStreamInterceptor(die))
	conn, err := grpc.NewClient("unix://"+lis.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	d.client = shim.NewClient(conn)
	d.client.OnFailure(func() { d.failed.Add(1) })
	return d
}

// TestPluginDyingAsStreamOpens: when the start message cannot be sent because
// the plugin died as the stream opened, Open reports ErrPluginFailed (the pipeline
// waits for the restart and replays) and wakes the supervisor — not
// ErrStreamClosed or context.Canceled.
func TestPluginDyingAsStreamOpens(t *testing.T) {
	cases := []struct {
		name string
		impl sdk.Plugin
		open func(context.Context, *shim.Client) error
	}{
		{"Decode", toyplugins.NewDecoder(), func(ctx context.Context, c *shim.Client) error {
			_, err := c.OpenDecode(ctx, sdk.Format{Container: "pcm16", SampleRate: 16000, Channels: 1})
			return err
		}},
		{"Transcribe", toyplugins.NewTranscriber(), func(ctx context.Context, c *shim.Client) error {
			_, err := c.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
			return err
		}},
		{"Suggest", toyplugins.NewSuggester(), func(ctx context.Context, c *shim.Client) error {
			_, err := c.OpenSuggest(ctx, sdk.SessionInfo{SessionID: "s"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDyingPlugin(t, tc.impl)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.armed.Store(true)
			err := tc.open(ctx, d.client)
			if !errors.Is(err, shim.ErrPluginFailed) {
				t.Fatalf("open on a plugin that died as the stream opened: %v, want ErrPluginFailed", err)
			}
			if d.failed.Load() == 0 {
				t.Errorf("the supervisor was not told of the failure")
			}
		})
	}
}
