package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/config"
	"github.com/earshot-dev/earshot/pipeline"
	"github.com/earshot-dev/earshot/pipeline/hoststage"
	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling"
	"github.com/earshot-dev/earshot/signaling/protocol"
	"github.com/earshot-dev/earshot/signaling/webrtc"
)

// mediaStack is the plugin host and the pipeline runtime built on it.
type mediaStack struct {
	host    *host.Host
	runtime *pipeline.Runtime
	media   signaling.Media
	peers   atomic.Pointer[webrtc.Manager] // set once WebRTC is up
}

// Close stops the runtime (draining streams), then every plugin process.
func (m *mediaStack) Close() {
	if m.runtime != nil {
		_ = m.runtime.Close()
	}
	if m.host != nil {
		_ = m.host.Close()
	}
}

func writeDiags(w io.Writer, cfg *config.Config, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files()
	}
	return config.WriteDiagnostics(w, files, diags, 100, false)
}

// hostSpec is the host's view of a plugin block.
func hostSpec(p config.Plugin) host.Spec {
	spec := host.Spec{Name: p.Name, Path: p.Path, Args: p.Args, Env: p.Env, SHA256: p.SHA256}
	if w := p.CoalesceWindow; w != nil {
		spec.CoalesceWindow = *w
		if *w == 0 {
			spec.CoalesceWindow = -1 // "0s" is off; the host reads 0 as its default
		}
	}
	return spec
}

func newHost(cfg *config.Config, log hclog.Logger) (*host.Host, error) {
	specs := make([]host.Spec, 0, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		specs = append(specs, hostSpec(p))
	}
	// Plugins, third-party ones included, never see the daemon's signing key.
	h, err := host.New(host.Options{Logger: log, Dirs: cfg.PluginDirs, Plugins: specs, HideEnv: []string{"JWT_SECRET"}})
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	return h, nil
}

// buildDefinitions starts every pipeline stage's plugin, checks each stage block
// against its plugin's schema, and returns the runtime's pipeline definitions.
func buildDefinitions(ctx context.Context, cfg *config.Config, h *host.Host) ([]pipeline.Definition, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	ectx := cfg.EvalContext()
	stage := func(kind sdk.Kind, s config.Stage) *host.Stage {
		st, d := h.Stage(ctx, kind, s.Plugin, s.Body, ectx)
		diags = append(diags, d...)
		return st
	}
	defs := make([]pipeline.Definition, 0, len(cfg.Pipelines))
	for _, p := range cfg.Pipelines {
		def := pipeline.Definition{
			Name:              p.Name,
			RelayAudio:        p.RelayAudio,
			SuggestFrom:       p.SuggestFrom,
			SuggestTo:         p.SuggestTo,
			OutputRate:        p.OutputRate,
			StreamIdleTimeout: p.StreamIdleTimeout,
			ReplayBuffer:      p.ReplayBuffer,
		}
		if st := stage(sdk.KindDecoder, p.Decoder); st != nil {
			def.Decoder = hoststage.Decoder(st)
		}
		if st := stage(sdk.KindTranscriber, p.Transcriber); st != nil {
			def.Transcriber = hoststage.Transcriber(st)
		}
		if p.Suggester != nil {
			if st := stage(sdk.KindSuggester, *p.Suggester); st != nil {
				def.Suggester = hoststage.Suggester(st)
				def.SuggesterName = p.Suggester.Plugin
			}
		}
		defs = append(defs, def)
	}
	return defs, diags
}

// startMedia brings up the plugins and the pipeline runtime that publishes through srv.
func startMedia(ctx context.Context, cfg *config.Config, log hclog.Logger, srv *signaling.Server, reg prometheus.Registerer, stderr io.Writer) (*mediaStack, error) {
	h, err := newHost(cfg, log)
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	m := &mediaStack{host: h}
	defs, diags := buildDefinitions(ctx, cfg, h)
	if diags.HasErrors() {
		_ = writeDiags(stderr, cfg, diags)
		m.Close()
		return nil, &exitError{code: 1, err: errors.New("the pipelines could not be set up")}
	}
	rt, err := pipeline.New(pipeline.Options{
		Logger:          log,
		Publisher:       srv,
		Definitions:     defs,
		DefaultPipeline: cfg.DefaultPipeline,
		Registerer:      reg,
		Classify:        hoststage.Classify,
		// A stream the runtime ends by itself is forgotten by the gateway, and by the
		// WebRTC peer whose track fed it, so the user's next audio opens a new one.
		OnStreamEnd: func(spec protocol.StreamSpec, streamID string, _ *protocol.Error) {
			srv.StreamEnded(streamID)
			if p := m.peers.Load(); p != nil && spec.Source == "webrtc" {
				p.StreamEnded(streamID)
			}
		},
	})
	if err != nil {
		m.Close()
		return nil, &exitError{code: 1, err: fmt.Errorf("pipeline runtime: %w", err)}
	}
	m.runtime = rt
	m.media = mediaAdapter{rt}
	return m, nil
}

// mediaAdapter presents the runtime as the gateway's Media.
type mediaAdapter struct{ rt *pipeline.Runtime }

func (m mediaAdapter) HasPipeline(name string) bool { return m.rt.HasPipeline(name) }
func (m mediaAdapter) DefaultPipeline() string      { return m.rt.DefaultPipeline() }
func (m mediaAdapter) OpenStream(ctx context.Context, spec protocol.StreamSpec) (signaling.MediaStream, error) {
	return m.rt.OpenStream(ctx, spec)
}
func (m mediaAdapter) TranscribeClip(ctx context.Context, spec protocol.StreamSpec, audio []byte, requestID string) error {
	return m.rt.TranscribeClip(ctx, spec, audio, requestID)
}
func (m mediaAdapter) CloseSession(sessionID string) { m.rt.CloseSession(sessionID) }

// newPeers builds the WebRTC manager; its tracks open streams in the runtime.
func newPeers(c config.WebRTC, log hclog.Logger, m *mediaStack) (*webrtc.Manager, error) {
	var ice []webrtc.ICEServer
	for _, s := range c.ICEServers {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	peers, err := webrtc.New(webrtc.Options{
		Logger: log,
		Open: func(ctx context.Context, spec protocol.StreamSpec) (webrtc.Stream, error) {
			return m.runtime.OpenStream(ctx, spec)
		},
		UDPPortMin:      c.UDPPortMin,
		UDPPortMax:      c.UDPPortMax,
		ICEServers:      ice,
		PublicIPs:       c.PublicIPs,
		IncludeLoopback: c.IncludeLoopback,
		Interfaces:      c.Interfaces,
		MaxPeers:        c.MaxPeerConnections,
	})
	if err != nil {
		return nil, err
	}
	m.peers.Store(peers)
	return peers, nil
}

// peerAdapter presents the WebRTC manager as the gateway's Peers.
type peerAdapter struct{ m *webrtc.Manager }

func owner(o signaling.PeerOwner) webrtc.Owner {
	return webrtc.Owner{ConnID: o.ConnID, SessionID: o.SessionID, UserID: o.UserID, UserName: o.UserName, Role: o.Role, Pipeline: o.Pipeline, Emit: o.Emit}
}

func (p peerAdapter) Offer(ctx context.Context, o signaling.PeerOwner, sdp string) (string, error) {
	return p.m.Offer(ctx, owner(o), sdp)
}
func (p peerAdapter) AddCandidate(ctx context.Context, o signaling.PeerOwner, c protocol.ICECandidate) error {
	return p.m.AddCandidate(ctx, owner(o), c)
}
func (p peerAdapter) Close(o signaling.PeerOwner) error { return p.m.Close(owner(o)) }

// FinalizeAudio forces the owner's WebRTC utterance final (audio:finalize).
func (p peerAdapter) FinalizeAudio(ctx context.Context, o signaling.PeerOwner) (bool, error) {
	return p.m.FinalizeAudio(ctx, owner(o))
}

// StopAudio drains the owner's WebRTC stream (audio:stop on a WebRTC stream).
func (p peerAdapter) StopAudio(ctx context.Context, o signaling.PeerOwner) (bool, error) {
	return p.m.StopAudio(ctx, owner(o))
}
