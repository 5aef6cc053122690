package signaling

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// metrics holds the gateway's Prometheus collectors. Event counters are looked up
// once per event name at start-up so the hot path does no label hashing; names a
// client invents are counted as "unknown" (bounded cardinality).
type metrics struct {
	connections *prometheus.GaugeVec
	sessions    prometheus.Gauge
	eventsIn    *prometheus.CounterVec
	eventsOut   *prometheus.CounterVec
	errors      *prometheus.CounterVec
	disconnects *prometheus.CounterVec

	in  map[string]prometheus.Counter
	out map[string]prometheus.Counter
	// errs is read-only after construction; codes outside it go to "OTHER".
	errs map[string]prometheus.Counter

	queueBytes atomic.Int64
	inTotal    atomic.Int64
	outTotal   atomic.Int64
}

var knownCodes = []string{
	protocol.CodeUnauthorized, protocol.CodeTokenExpired, protocol.CodeForbidden, protocol.CodeBadRequest,
	protocol.CodeUnknownEvent, protocol.CodeNotJoined, protocol.CodeInvalidSessionID, protocol.CodeSessionFull,
	protocol.CodeSessionEnded, protocol.CodeUnsupportedFormat, protocol.CodeInvalidAudio, protocol.CodeNoStream,
	protocol.CodeChunkTooLarge, protocol.CodeRateLimited, protocol.CodePipelineUnavailable, protocol.CodeInternal,
	protocol.CodeTooManySessions, protocol.CodeSessionLimit, protocol.CodeStreamExists, protocol.CodeFallingBehind,
	// Extensions defined by the runtime and the WebRTC manager.
	"STREAM_IDLE", "PEER_EXISTS", "TOO_MANY_PEERS", "NO_PEER",
	"MESSAGE_TOO_BIG", "OTHER",
}

var serverEvents = []string{
	protocol.EventAck, protocol.EventError, protocol.EventConnectionSuccess, protocol.EventConnectionError,
	protocol.EventSessionJoined, protocol.EventSessionLeft, protocol.EventSessionStatusUpdated, protocol.EventSessionError,
	protocol.EventUserJoined, protocol.EventUserLeft, protocol.EventUserDisconnected,
	protocol.EventAudioStarted, protocol.EventAudioReceived, protocol.EventAudioError,
	protocol.EventTranscriptionProcessing, protocol.EventTranscriptionResult, protocol.EventTranscriptionError,
	protocol.EventSuggestions, protocol.EventWebRTCAnswer, protocol.EventWebRTCCandidate, protocol.EventWebRTCState,
	protocol.EventWebRTCError, EventAuthRefreshed, "other",
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, prometheus.Gatherer, error) {
	var gatherer prometheus.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	} else {
		gatherer = prometheus.DefaultGatherer
	}
	m := &metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "connections", Help: "Open WebSocket connections by endpoint (native, socketio)."}, []string{"endpoint"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "sessions", Help: "Sessions held by this node (including empty ones awaiting cleanup)."}),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "events_in_total", Help: "Client events received, by event name (binary = native audio frames)."}, []string{"event"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "events_out_total", Help: "Server events queued to connections, by event name."}, []string{"event"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "errors_total", Help: "Coded errors sent to clients, by code."}, []string{"code"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "earshot", Subsystem: "gateway",
			Name: "disconnects_total", Help: "Closed connections by reason."}, []string{"reason"}),
		in:   map[string]prometheus.Counter{},
		out:  map[string]prometheus.Counter{},
		errs: map[string]prometheus.Counter{},
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "gateway",
		Name: "outbound_queue_bytes", Help: "Bytes queued to all connections and not yet written."},
		func() float64 { return float64(m.queueBytes.Load()) })
	for _, c := range []prometheus.Collector{m.connections, m.sessions, m.eventsIn, m.eventsOut, m.errors, m.disconnects, queue} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, nil, fmt.Errorf("signaling: metrics already registered (one Server per registry): %w", err)
			}
			return nil, nil, fmt.Errorf("signaling: register metrics: %w", err)
		}
	}
	for name := range handlers {
		m.in[name] = m.eventsIn.WithLabelValues(name)
	}
	for _, name := range []string{"binary", "invalid", "unknown"} {
		m.in[name] = m.eventsIn.WithLabelValues(name)
	}
	for _, name := range serverEvents {
		m.out[name] = m.eventsOut.WithLabelValues(name)
	}
	for _, code := range knownCodes {
		m.errs[code] = m.errors.WithLabelValues(code)
	}
	for _, r := range []string{reasonClientClosed, reasonError, reasonPingTimeout, reasonSlow, reasonRateLimited,
		reasonTooBig, reasonUnauthorized, reasonExpired, reasonShutdown, "bad_origin"} {
		m.disconnects.WithLabelValues(r)
	}
	m.connections.WithLabelValues("native")
	m.connections.WithLabelValues("socketio")
	return m, gatherer, nil
}

func (m *metrics) eventIn(name string, known bool) {
	m.inTotal.Add(1)
	if c, ok := m.in[name]; ok && (known || name == "invalid") {
		c.Inc()
		return
	}
	m.in["unknown"].Inc()
}

func (m *metrics) eventOut(name string, n int) {
	if n <= 0 {
		return
	}
	m.outTotal.Add(int64(n))
	c, ok := m.out[name]
	if !ok {
		c = m.out["other"]
	}
	c.Add(float64(n))
}

func (m *metrics) errorCode(code string) {
	c, ok := m.errs[code]
	if !ok {
		c = m.errs["OTHER"]
	}
	c.Inc()
}
