// Package sdktest runs an earshot plugin implementation in process over the real
// gRPC shim (go-plugin's TestPluginGRPCConn) and offers the contract checks every
// plugin of a kind must pass:
//
//	func TestContract(t *testing.T) {
//		sdktest.CheckTranscriber(t, mytranscriber.New, sdktest.TranscriberCase{
//			Start: sdk.TranscribeStart{SampleRate: 16000},
//			Audio: sdktest.Frames(samples, 16000, 20*time.Millisecond),
//		})
//	}
//
// Conn gives tests the same stream API the daemon uses (plugins/host), so a plugin
// can be driven exactly as in production without building its binary.
package sdktest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	"github.com/earshot-dev/earshot/plugins/internal/shim"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Conn is a host-side connection to a plugin served in process.
type Conn struct {
	c *shim.Client
}

// testPlugin joins the SDK's server side and the host's client side, since
// TestPluginGRPCConn uses one plugin set for both ends.
type testPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server plugin.GRPCPlugin
}

func (p testPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	return p.server.GRPCServer(b, s)
}
func (p testPlugin) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return shim.ClientPlugin{}.GRPCClient(ctx, b, c)
}

// Connect serves impl (an sdk.Decoder, sdk.Transcriber or sdk.Suggester) in
// process and connects to it. Everything is torn down when the test ends.
func Connect(t testing.TB, impl sdk.Plugin) *Conn {
	t.Helper()
	srv, err := handshake.ServerPlugin(impl)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	const name = "plugin"
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{name: testPlugin{server: srv}})
	t.Cleanup(func() {
		// Close asks the server to stop (go-plugin's controller); wait for it rather
		// than calling Stop concurrently, which races inside go-plugin.
		_ = client.Close()
		select {
		case <-server.DoneCh:
		case <-time.After(Timeout):
			t.Errorf("sdktest: the in-process plugin server did not stop")
		}
	})
	raw, err := client.Dispense(name)
	if err != nil {
		t.Fatalf("sdktest: dispense: %v", err)
	}
	return &Conn{c: raw.(*shim.Client)}
}

// DecoderConn serves a decoder in process; see Connect.
func DecoderConn(t testing.TB, impl sdk.Decoder) *Conn { t.Helper(); return Connect(t, impl) }

// TranscriberConn serves a transcriber in process; see Connect.
func TranscriberConn(t testing.TB, impl sdk.Transcriber) *Conn { t.Helper(); return Connect(t, impl) }

// SuggesterConn serves a suggester in process; see Connect.
func SuggesterConn(t testing.TB, impl sdk.Suggester) *Conn { t.Helper(); return Connect(t, impl) }

// Info calls the plugin's Info over the shim (APIVersions filled in as Serve does).
func (c *Conn) Info(ctx context.Context) (sdk.Info, error) { return c.c.Info(ctx) }

// ConfigSchema calls the plugin's ConfigSchema over the shim. Defaults arrive in
// their JSON-decoded form (float64, []any, map[string]any), as the daemon sees them.
func (c *Conn) ConfigSchema(ctx context.Context) (sdk.Schema, error) { return c.c.ConfigSchema(ctx) }

// Configure calls the plugin's Configure over the shim; a refusal is a
// *sdk.StreamError.
func (c *Conn) Configure(ctx context.Context, cfg sdk.Config) error { return c.c.Configure(ctx, cfg) }

// ConfigureDefaults configures the plugin with its schema's defaults, overridden
// by overrides (attribute name → Go value; sizes as numbers of bytes or strings,
// durations as strings), exactly as the daemon would encode a stage block.
func (c *Conn) ConfigureDefaults(ctx context.Context, overrides map[string]any) error {
	cfg, err := c.DefaultConfig(ctx, overrides)
	if err != nil {
		return err
	}
	return c.Configure(ctx, cfg)
}

// DefaultConfig returns the configuration ConfigureDefaults would send.
func (c *Conn) DefaultConfig(ctx context.Context, overrides map[string]any) (sdk.Config, error) {
	schema, err := c.ConfigSchema(ctx)
	if err != nil {
		return sdk.Config{}, err
	}
	js, err := defaultsJSON(schema, overrides)
	if err != nil {
		return sdk.Config{}, err
	}
	return sdk.NewConfig(js), nil
}

// OpenDecode opens a decoder stream (the daemon's API: plugins/host.DecodeStream).
func (c *Conn) OpenDecode(ctx context.Context, f sdk.Format) (host.DecodeStream, error) {
	s, err := c.c.OpenDecode(ctx, f)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// OpenTranscribe opens a transcriber stream (plugins/host.TranscribeStream).
func (c *Conn) OpenTranscribe(ctx context.Context, st sdk.TranscribeStart) (host.TranscribeStream, error) {
	s, err := c.c.OpenTranscribe(ctx, st)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// OpenSuggest opens a suggester stream (plugins/host.SuggestStream).
func (c *Conn) OpenSuggest(ctx context.Context, si sdk.SessionInfo) (host.SuggestStream, error) {
	s, err := c.c.OpenSuggest(ctx, si)
	if err != nil {
		return nil, err
	}
	return s, nil
}
