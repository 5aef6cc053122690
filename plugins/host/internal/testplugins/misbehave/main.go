// Command misbehave is a plugin built by the host's tests to misbehave in the ways
// a real plugin can: TESTPLUGIN_MODE selects how, TESTPLUGIN_KIND what it serves.
// Audio frames whose first sample is Trigger set off the misbehaviour mid-stream.
//
//	(empty)      behave (a pass-through transcriber, toy decoder or suggester)
//	crash        exit(3) on the trigger frame
//	hang         stop itself (SIGSTOP) on the trigger frame: no more health answers
//	oversized    answer the trigger frame with a partial larger than the size bound
//	garbage      print garbage on stdout instead of the handshake
//	noisy        write plain lines and JSON log lines at several levels to stderr,
//	             before serving and (to the os.Stderr go-plugin redirects) after
//	wrongversion serve API version 99 only
//	exitafter    exit 200ms after Configure, every time (a crash loop)
//	slowstart    sleep for an hour before serving; with TESTPLUGIN_MARKER set, only
//	             once that file exists (the first process creates it and serves)
//	dieonopen    exit as soon as a stream opens, before reading from it
//	orphan       start a helper in a session of its own that keeps stderr open
//	             (its pid is logged: "helper started" pid=…)
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
	"github.com/earshot-dev/earshot/plugins/internal/toyplugins"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Trigger is the first sample of a frame that sets off the misbehaviour.
const Trigger = 31337

var mode = os.Getenv("TESTPLUGIN_MODE")

type transcriber struct{ *toyplugins.Transcriber }

func (t transcriber) Info() sdk.Info {
	i := t.Transcriber.Info()
	i.Name = "misbehave"
	return i
}

func (t transcriber) Configure(ctx context.Context, cfg sdk.Config) error {
	if mode == "exitafter" {
		time.AfterFunc(200*time.Millisecond, func() { os.Exit(4) })
	}
	if mode == "noisy" {
		sdk.Logger().Warn("configured with a warning", "marker", "noisy-warn")
		sdk.Logger().Debug("a debug line", "marker", "noisy-debug")
		// go-plugin has replaced os.Stderr by now: these travel over the
		// connection, the second in two writes.
		fmt.Fprintln(os.Stderr, "[WARN] a raw warning after serving marker=noisy-raw-warn")
		fmt.Fprint(os.Stderr, "a raw plain line ")
		fmt.Fprintln(os.Stderr, "after serving marker=noisy-raw-plain")
	}
	return t.Transcriber.Configure(ctx, cfg)
}

func (t transcriber) Transcribe(ctx context.Context, st sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) error {
	return t.Transcriber.Transcribe(ctx, st, trigger{in: in, out: out}, out)
}

type trigger struct {
	in  sdk.AudioSource
	out sdk.TranscriptSink
}

func (tr trigger) Next(ctx context.Context) (sdk.AudioInput, error) {
	a, err := tr.in.Next(ctx)
	if err != nil || len(a.Samples) == 0 || a.Samples[0] != Trigger {
		return a, err
	}
	switch mode {
	case "crash":
		os.Exit(3)
	case "hang":
		_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	case "oversized":
		if err := tr.out.Partial(ctx, sdk.Result{Text: strings.Repeat("x", handshake.MaxMessageSize+1)}); err != nil {
			return a, err
		}
	}
	return a, nil
}

type decoder struct{ *toyplugins.Decoder }

func (d decoder) Info() sdk.Info {
	i := d.Decoder.Info()
	i.Name = "misbehave"
	return i
}

func main() {
	switch mode {
	case "garbage":
		fmt.Println("this is not a handshake")
		os.Exit(0)
	case "noisy":
		fmt.Fprintln(os.Stderr, "a plain stderr line")
	case "env": // writes the environment it got to TESTPLUGIN_ENVFILE, then serves
		if err := os.WriteFile(os.Getenv("TESTPLUGIN_ENVFILE"), []byte(strings.Join(os.Environ(), "\n")), 0o600); err != nil {
			panic(err)
		}
	case "slowstart":
		if m := os.Getenv("TESTPLUGIN_MARKER"); m != "" {
			if f, err := os.OpenFile(m, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
				f.Close()
				break // the first process serves
			}
		}
		time.Sleep(time.Hour)
	case "orphan":
		helper := exec.Command("sleep", "3600")
		helper.Stderr = os.Stderr
		helper.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := helper.Start(); err != nil {
			panic(err)
		}
		sdk.Logger().Info("helper started", "pid", helper.Process.Pid)
	case "dieonopen":
		srv, err := handshake.ServerPlugin(transcriber{toyplugins.NewTranscriber()})
		if err != nil {
			panic(err)
		}
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  handshake.Config(1),
			VersionedPlugins: map[int]plugin.PluginSet{1: {"transcriber": srv}},
			GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
				return grpc.NewServer(append(o, grpc.StreamInterceptor(
					func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
						if info.FullMethod == pb.Transcriber_Transcribe_FullMethodName {
							os.Exit(5)
						}
						return h(srv, ss) // go-plugin's own streams (stdio, broker)
					}))...)
			},
		})
		return
	case "wrongversion", "oversized":
		// Served without the SDK's Serve: another API version, or no bound on
		// what the plugin sends, so that the host's own bound is what is tested.
		srv, err := handshake.ServerPlugin(transcriber{toyplugins.NewTranscriber()})
		if err != nil {
			panic(err)
		}
		version := 1
		if mode == "wrongversion" {
			version = 99
		}
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  handshake.Config(version),
			VersionedPlugins: map[int]plugin.PluginSet{version: {"transcriber": srv}},
			GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
				return grpc.NewServer(append(o, grpc.MaxSendMsgSize(64<<20))...)
			},
		})
		return
	}
	switch os.Getenv("TESTPLUGIN_KIND") {
	case "decoder":
		sdk.ServeDecoder(func() decoder { return decoder{toyplugins.NewDecoder()} })
	case "suggester":
		sdk.ServeSuggester(toyplugins.NewSuggester)
	default:
		sdk.ServeTranscriber(func() transcriber { return transcriber{toyplugins.NewTranscriber()} })
	}
}
