package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// maxRecent bounds what a session remembers about recent utterances (speaker roles,
// send times, the finals to re-send after a suggester restart).
const maxRecent = 64

// session is the runtime's side of a session: its streams (registered in the
// Runtime under its lock) and its one suggester stream, opened at the first final.
//
// The suggester goroutine (runSuggest, one per session, counted in Runtime.wg) ends
// when the session's utterance queue is closed and drained, or when ctx is cancelled.
type session struct {
	rt  *Runtime
	id  string
	def *Definition
	log hclog.Logger

	streams map[string]*stream // by stream id; guarded by rt.mu

	ctx    context.Context
	cancel context.CancelFunc
	sugQ   *queue[sdk.Utterance]

	mu       sync.Mutex
	started  bool
	closed   bool
	sugDone  chan struct{}
	roles    map[string]string    // utterance id → speaker role
	sentAt   map[string]time.Time // utterance id → when it went to the suggester
	recent   []string             // utterance ids, oldest first, for eviction
	unanswer []sdk.Utterance      // sent since the last suggestion set (re-sent after a restart)
}

func newSession(rt *Runtime, id string, def *Definition) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		rt: rt, id: id, def: def,
		log:     rt.log.Named("session").With("session", id),
		streams: map[string]*stream{},
		ctx:     ctx, cancel: cancel,
		sugQ:    newQueue[sdk.Utterance](rt.opts.SuggestQueue),
		sugDone: make(chan struct{}),
		roles:   map[string]string{},
		sentAt:  map[string]time.Time{},
	}
}

// feed gives a final to the session's suggester, starting it on the first one. The
// caller is a stream goroutine (counted in Runtime.wg), so adding to the wait group
// here cannot race with Close's Wait reaching zero.
func (s *session) feed(u sdk.Utterance) {
	if s.def.Suggester == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.roles[u.UtteranceID] = u.Role
	s.recent = append(s.recent, u.UtteranceID)
	if len(s.recent) > maxRecent {
		old := s.recent[0]
		s.recent = s.recent[1:]
		delete(s.roles, old)
		delete(s.sentAt, old)
	}
	if !s.started {
		s.started = true
		s.rt.wg.Add(1)
		go s.runSuggest()
	}
	s.mu.Unlock()
	ok, err := s.sugQ.TryPush(u, 1)
	if !ok && err == nil {
		s.rt.m.suggestDropped.Inc()
		s.log.Warn("suggester queue full: final not given to the suggester", "utterance", u.UtteranceID)
	}
}

// shutdown drains the session's streams, then its suggester, each bounded by
// DrainTimeout (then aborted).
func (s *session) shutdown() {
	s.rt.mu.Lock()
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.rt.mu.Unlock()
	deadline := time.NewTimer(s.rt.opts.DrainTimeout)
	defer deadline.Stop()
	for _, st := range streams {
		st.beginDrain(false)
	}
	for _, st := range streams {
		select {
		case <-st.done:
		case <-deadline.C:
			for _, x := range streams {
				x.abort(errAborted)
			}
			<-st.done
		}
	}
	for _, st := range streams {
		<-st.done
	}
	s.mu.Lock()
	s.closed = true
	started := s.started
	s.mu.Unlock()
	s.sugQ.Close()
	if started {
		t := time.NewTimer(s.rt.opts.DrainTimeout)
		select {
		case <-s.sugDone:
		case <-t.C:
			s.cancel()
			<-s.sugDone
		}
		t.Stop()
	}
	s.cancel()
}

// runSuggest supervises the session's suggester stream. A failed stream is re-opened
// (after WaitReady; the finals not yet answered are sent again) within the same
// restart budget as a stream's stages, MaxRestarts within RestartWindow, failed
// re-opens included. When the plugin cannot come back the session goes on without
// suggestions and the members that receive them are told (giveUpSuggest).
func (s *session) runSuggest() {
	defer s.rt.wg.Done()
	defer close(s.sugDone)
	st := s.def.Suggester
	info := sdk.SessionInfo{SessionID: s.id, Pipeline: s.def.Name}
	open := func(ctx context.Context) (SuggestStream, error) { return st.OpenSuggest(ctx, info) }
	ss, err := openWithRetry(s.ctx, s.ctx, s.rt, st.WaitReady, open)
	var restarts []time.Time
	for {
		if err == nil {
			err = s.suggestAttempt(ss)
			_ = ss.Close()
			if err == nil {
				return
			}
		}
		if s.ctx.Err() != nil {
			s.sugQ.Close()
			s.sugQ.Discard()
			return
		}
		switch s.rt.classify(err) {
		case FaultFatal, FaultUnavailable: // a coded plugin error, or the host gave up
			s.giveUpSuggest(err)
			return
		}
		now := time.Now()
		restarts = slices.DeleteFunc(restarts, func(t time.Time) bool { return now.Sub(t) >= s.rt.opts.RestartWindow })
		restarts = append(restarts, now)
		if n := len(restarts); n > s.rt.opts.MaxRestarts {
			s.giveUpSuggest(fmt.Errorf("%d restarts within %s: %w", n-1, s.rt.opts.RestartWindow, err))
			return
		}
		s.rt.m.restarts.WithLabelValues("suggest").Inc()
		s.log.Warn("suggester stream failed: restarting", "error", err, "restarts", len(restarts))
		wctx, cancel := context.WithTimeout(s.ctx, s.rt.opts.ReadyTimeout)
		err = st.WaitReady(wctx)
		cancel()
		if err != nil && s.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("suggester not ready after %s: %w", s.rt.opts.ReadyTimeout, ErrUnavailable)
		}
		if err == nil {
			ss, err = openStage(s.ctx, s.ctx, s.rt, open)
		}
	}
}

// giveUpSuggest ends the session's suggestions: the suggester cannot come back. There
// is no suggestion error event in the protocol, so the members the suggestions go to
// get the runtime's pipeline-failure event, transcription:error PIPELINE_UNAVAILABLE
// with retrying false and no streamId.
func (s *session) giveUpSuggest(err error) {
	s.sugQ.Close()
	s.sugQ.Discard()
	s.log.Error("suggester unavailable: no suggestions for this session", "error", err)
	var roles []string
	if len(s.def.SuggestTo) > 0 {
		roles = slices.Clone(s.def.SuggestTo)
	}
	s.rt.pub.Publish(s.id, protocol.EventTranscriptionError, protocol.TranscriptionError{
		Code:      protocol.CodePipelineUnavailable,
		Message:   fmt.Sprintf("the suggester of pipeline %q is unavailable; no more suggestions in this session", s.def.Name),
		SessionID: s.id,
	}, roles, "")
}

func (s *session) suggestAttempt(ss SuggestStream) error {
	actx, cancel := context.WithCancelCause(s.ctx)
	var prog progress
	s.mu.Lock()
	resend := slices.Clone(s.unanswer)
	s.mu.Unlock()
	return runAttempt(actx, cancel, &prog,
		func(sentAll chan struct{}) { s.sendUtterances(actx, cancel, ss, resend, sentAll, &prog) },
		ss.Recv, s.publish)
}

func (s *session) sendUtterances(actx context.Context, cancel context.CancelCauseFunc, ss SuggestStream, resend []sdk.Utterance, sentAll chan struct{}, prog *progress) {
	send := func(u sdk.Utterance) error {
		cctx, c := context.WithTimeoutCause(actx, s.rt.opts.CallTimeout, errHung)
		defer c()
		if err := ss.Send(cctx, u); err != nil {
			return attemptErr(cctx, err)
		}
		return nil
	}
	for _, u := range resend {
		if err := send(u); err != nil {
			s.rt.sendFailed(actx, cancel, err)
			return
		}
	}
	for {
		u, err := s.sugQ.Pop(actx)
		if errors.Is(err, io.EOF) {
			close(sentAll) // before CloseSend: the receiver may see io.EOF at once
			if err := ss.CloseSend(); err != nil {
				s.rt.sendFailed(actx, cancel, err)
				return
			}
			watchDrain(actx, s.rt.opts.DrainTimeout, prog, cancel)
			return
		}
		if err != nil {
			return
		}
		s.mu.Lock()
		if _, ok := s.roles[u.UtteranceID]; ok {
			s.sentAt[u.UtteranceID] = time.Now()
		}
		s.unanswer = append(s.unanswer, u)
		if len(s.unanswer) > 8 {
			s.unanswer = s.unanswer[1:]
		}
		s.mu.Unlock()
		if err := send(u); err != nil {
			s.rt.sendFailed(actx, cancel, err)
			return
		}
	}
}

// publish sends a suggestion set to the roles the pipeline targets, if the utterance
// it answers came from a role that triggers suggestions.
func (s *session) publish(set sdk.SuggestionSet) {
	s.mu.Lock()
	role, known := s.roles[set.UtteranceID]
	sent, timed := s.sentAt[set.UtteranceID]
	delete(s.sentAt, set.UtteranceID)
	s.unanswer = nil
	s.mu.Unlock()
	if timed {
		s.rt.m.stageLatency.WithLabelValues("suggest").Observe(time.Since(sent).Seconds())
	}
	if known && len(s.def.SuggestFrom) > 0 && !slices.Contains(s.def.SuggestFrom, role) {
		return
	}
	items := make([]protocol.Suggestion, len(set.Suggestions))
	for i, x := range set.Suggestions {
		items[i] = protocol.Suggestion{ID: x.ID, Text: x.Text, Kind: x.Kind, Score: x.Score}
	}
	var roles []string
	if len(s.def.SuggestTo) > 0 {
		roles = slices.Clone(s.def.SuggestTo)
	}
	s.rt.pub.Publish(s.id, protocol.EventSuggestions, protocol.Suggestions{
		SessionID: s.id, UtteranceID: set.UtteranceID, Question: set.Question,
		Suggestions: items, Source: s.def.SuggesterName, Supersedes: set.Supersedes,
		SetID: set.ID, Final: set.Final,
	}, roles, "")
}
