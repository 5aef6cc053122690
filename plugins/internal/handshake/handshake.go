// Package handshake holds what the plugin side (plugins/sdk) and the host side
// (plugins/host, plugins/sdk/sdktest) of the plugin connection must agree on and
// that plugin authors need not see: the go-plugin handshake, message size bounds,
// the debug-mode reattach format, and the link through which in-process tests reach
// the SDK's gRPC server.
package handshake

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Magic cookie: not security, only a guard against a plugin binary run by hand
// without -debug (go-plugin then prints a friendly message).
const (
	MagicCookieKey   = "EARSHOT_PLUGIN"
	MagicCookieValue = "c6d1a7f3-earshot-plugin-v1"
)

// MaxMessageSize bounds every gRPC message in both directions on both sides
// (go-plugin's default is unbounded). The largest legitimate message is a decoder
// chunk or a PCM frame, far below this.
const MaxMessageSize = 4 << 20

// Fixed HTTP/2 flow-control windows on both sides. Setting them turns off gRPC's
// bandwidth-delay estimation, whose pings and window updates cost a measurable
// share of the CPU per 20 ms frame on a local socket (see docs/plugin-system.md).
// A stream's window holds several seconds of 16 kHz PCM.
const (
	WindowSize     = 1 << 20
	ConnWindowSize = 16 << 20
)

// ServerOptions are the gRPC server options of every plugin.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(WindowSize),
		grpc.InitialConnWindowSize(ConnWindowSize),
		grpc.ForceServerCodecV2(Codec),
	}
}

// EnvReattach names the environment variable through which the daemon attaches to
// plugins started by hand with -debug: a JSON object plugin name → Reattach.
const EnvReattach = "EARSHOT_PLUGIN_REATTACH"

// EnvLogLevel is set by the host to its log level so plugins do not produce lines
// the host would drop anyway.
const EnvLogLevel = "EARSHOT_PLUGIN_LOG_LEVEL"

// Plugin set names; one per kind.
const (
	SetDecoder     = "decoder"
	SetTranscriber = "transcriber"
	SetSuggester   = "suggester"
)

// Config returns the handshake for the given API version.
func Config(apiVersion int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(apiVersion),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// Reattach is the JSON form of a go-plugin ReattachConfig (whose net.Addr does not
// marshal by itself).
type Reattach struct {
	Protocol        string `json:"protocol"`
	ProtocolVersion int    `json:"protocol_version"`
	Pid             int    `json:"pid"`
	Test            bool   `json:"test"`
	Addr            struct {
		Network string `json:"network"`
		String  string `json:"string"`
	} `json:"addr"`
}

// FromReattachConfig converts go-plugin's form.
func FromReattachConfig(rc *plugin.ReattachConfig) Reattach {
	var r Reattach
	r.Protocol = string(rc.Protocol)
	r.ProtocolVersion = rc.ProtocolVersion
	r.Pid = rc.Pid
	r.Test = rc.Test
	r.Addr.Network = rc.Addr.Network()
	r.Addr.String = rc.Addr.String()
	return r
}

// ReattachConfig converts to go-plugin's form.
func (r Reattach) ReattachConfig() (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch r.Addr.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", r.Addr.String)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", r.Addr.String)
	default:
		return nil, fmt.Errorf("unknown network %q", r.Addr.Network)
	}
	if err != nil {
		return nil, err
	}
	if r.Protocol != string(plugin.ProtocolGRPC) {
		return nil, fmt.Errorf("protocol %q: earshot plugins speak grpc only", r.Protocol)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(r.Protocol),
		ProtocolVersion: r.ProtocolVersion,
		Pid:             r.Pid,
		Test:            r.Test,
		Addr:            addr,
	}, nil
}

// ParseReattachEnv parses the value of EnvReattach.
func ParseReattachEnv(v string) (map[string]*plugin.ReattachConfig, error) {
	var m map[string]Reattach
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvReattach, err)
	}
	out := make(map[string]*plugin.ReattachConfig, len(m))
	for name, r := range m {
		rc, err := r.ReattachConfig()
		if err != nil {
			return nil, fmt.Errorf("%s: plugin %q: %w", EnvReattach, name, err)
		}
		out[name] = rc
	}
	return out, nil
}

// ServerPlugin is set by plugins/sdk when it is linked in: it returns the go-plugin
// plugin serving impl (an sdk.Decoder, sdk.Transcriber or sdk.Suggester) over gRPC.
// sdktest uses it to run an implementation in process over the real shim; it is a
// variable because sdk cannot be imported by the packages it imports.
var ServerPlugin func(impl any) (Plugin, error)

// Plugin is a go-plugin plugin served over gRPC (net/rpc methods refuse).
type Plugin interface {
	plugin.Plugin
	plugin.GRPCPlugin
}
