package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runtime's Prometheus collectors.
type metrics struct {
	stageLatency   *prometheus.HistogramVec // stage: decode, transcribe, suggest
	speechToFinal  prometheus.Histogram
	audioSeconds   prometheus.Counter
	streamsActive  prometheus.Gauge
	restarts       *prometheus.CounterVec // stage
	fallingBehind  prometheus.Counter
	replayDropped  prometheus.Counter
	suggestDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &metrics{
		stageLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "stage_latency_seconds",
			Help:    "Time a stage takes to answer: decode (chunk sent → PCM out), transcribe (audio sent → the result covering it), suggest (final sent → its first suggestion set).",
			Buckets: buckets,
		}, []string{"stage"}),
		speechToFinal: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "end_of_speech_to_final_seconds",
			Help:    "Time from the decoded audio at a final's end entering the pipeline to the final being published.",
			Buckets: buckets,
		}),
		audioSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "audio_seconds_total",
			Help: "Seconds of decoded audio that entered the pipelines.",
		}),
		streamsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "streams_active",
			Help: "Audio streams (and one-shot clips) running now.",
		}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "plugin_restarts_total",
			Help: "Stage streams re-opened after a plugin failed or hung.",
		}, []string{"stage"}),
		fallingBehind: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "falling_behind_total",
			Help: "Times a stream's transcriber fell behind real time (FALLING_BEHIND reported).",
		}),
		replayDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "replay_dropped_seconds_total",
			Help: "Audio dropped from replay buffers because an utterance outgrew the bound.",
		}),
		suggestDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "earshot", Subsystem: "pipeline", Name: "suggest_dropped_total",
			Help: "Finals not given to a session's suggester because its queue was full.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.stageLatency, m.speechToFinal, m.audioSeconds,
			m.streamsActive, m.restarts, m.fallingBehind, m.replayDropped, m.suggestDropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
