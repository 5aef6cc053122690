package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Message is one session event on the Bus.
type Message struct {
	SessionID string
	Event     string
	Payload   json.RawMessage
	// Roles limits delivery to members with these roles; nil means every member.
	Roles []string
	// ExceptUserID skips that user's connections ("s→others").
	ExceptUserID string
	// OnlyUserID delivers to that user's connections only.
	OnlyUserID string
}

// Bus carries session events to every node that has members of the session. The
// in-memory bus (one node) delivers synchronously; a broker-backed bus (NATS)
// publishes to a subject per session and calls deliver for messages it receives.
type Bus interface {
	Publish(ctx context.Context, m Message) error
	// Subscribe registers the node's delivery function; stop ends the subscription.
	Subscribe(deliver func(Message)) (stop func(), err error)
}

// MemoryBus is the single-node Bus.
type MemoryBus struct {
	mu      sync.RWMutex
	deliver []func(Message)
}

// NewMemoryBus returns an empty in-memory bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{} }

// Publish delivers m to every subscriber before returning.
func (b *MemoryBus) Publish(_ context.Context, m Message) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.deliver {
		d(m)
	}
	return nil
}

// Subscribe adds a delivery function.
func (b *MemoryBus) Subscribe(deliver func(Message)) (func(), error) {
	b.mu.Lock()
	b.deliver = append(b.deliver, deliver)
	i := len(b.deliver) - 1
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.deliver[i] = func(Message) {}
		b.mu.Unlock()
	}, nil
}

// registry holds this node's sessions.
type registry struct {
	mu       sync.RWMutex
	sessions map[string]*session
	// created counts, per user id, the sessions in sessions that the user created.
	created map[string]int
}

func newRegistry() *registry {
	return &registry{sessions: make(map[string]*session), created: make(map[string]int)}
}

// session is a room. Its members are connections; users counts distinct users.
type session struct {
	id       string
	pipeline string
	creator  string // user id of the joiner that created it (registry.created)

	mu         sync.RWMutex
	status     string
	conns      map[*conn]struct{}
	users      map[string]*member
	emptySince time.Time
}

type member struct {
	user  protocol.User
	conns int
}

// membership is one connection's side of a session it joined: the session, and the
// lifetime of the calls made for it (WebRTC offers, clips), which leaving it ends.
type membership struct {
	sess   *session
	ctx    context.Context // cancelled when the connection leaves the session or ends
	cancel context.CancelFunc
	calls  sync.WaitGroup // running calls started with goAsync for this membership
}

func newMembership(c *conn, sess *session) *membership {
	m := &membership{sess: sess}
	m.ctx, m.cancel = context.WithCancel(c.ctx)
	return m
}

func (r *registry) get(id string) *session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sessions[id]
}

func (r *registry) countByStatus() map[string]int {
	out := map[string]int{}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.sessions {
		s.mu.RLock()
		out[s.status]++
		s.mu.RUnlock()
	}
	return out
}

// joinResult is what join tells the handler.
type joinResult struct {
	sess     *session
	joined   protocol.SessionJoined
	again    bool // the connection was already a member
	newUser  bool // the user's first connection in the session
	created  bool
	failCode string
	failMsg  string
}

// joinLimits are the bounds joinWith enforces (from Options).
type joinLimits struct {
	maxUsers, maxSessions, maxPerUser int
	inactiveAfter                     time.Duration // only for the refusal's message
}

// joinWith adds c to session id, creating it (status waiting, pipeline defPipeline)
// if new, the node holds fewer than maxSessions and c's user created fewer than
// maxPerUser of them. A non-empty pipeline must match the session's.
func (r *registry) joinWith(c *conn, id, pipeline, defPipeline string, lim joinLimits) joinResult {
	var res joinResult
	r.mu.Lock()
	defer r.mu.Unlock()
	uid := c.userID()
	s := r.sessions[id]
	if s == nil {
		// Empty sessions stay until cleanup, so join/leave churn over new ids would
		// otherwise grow the registry without bound; the per-user bound keeps one
		// user's churn from taking every place on the node.
		if len(r.sessions) >= lim.maxSessions {
			res.failCode, res.failMsg = protocol.CodeSessionLimit, "the server holds too many sessions; try again later"
			return res
		}
		if r.created[uid] >= lim.maxPerUser {
			res.failCode = protocol.CodeSessionLimit
			res.failMsg = fmt.Sprintf("you have reached your limit of %d sessions created on this server; "+
				"a session is removed once it has been empty for %v", lim.maxPerUser, lim.inactiveAfter)
			return res
		}
		s = &session{id: id, pipeline: defPipeline, creator: uid, status: protocol.StatusWaiting,
			conns: make(map[*conn]struct{}), users: make(map[string]*member)}
		res.created = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res.sess = s
	switch _, isMember := s.conns[c]; {
	case isMember:
		res.again = true
	case s.status == protocol.StatusEnded:
		res.failCode, res.failMsg = protocol.CodeSessionEnded, "session has ended"
	case pipeline != "" && pipeline != s.pipeline:
		res.failCode, res.failMsg = protocol.CodeBadRequest, "session uses pipeline "+quote(s.pipeline)
	case s.users[uid] == nil && len(s.users) >= lim.maxUsers:
		res.failCode, res.failMsg = protocol.CodeSessionFull, "session is full"
	default:
		m := s.users[uid]
		if m == nil {
			m = &member{user: c.user()}
			s.users[uid] = m
			res.newUser = true
		}
		m.conns++
		s.conns[c] = struct{}{}
	}
	if res.failCode != "" {
		return res
	}
	if res.created {
		r.sessions[id] = s
		r.created[uid]++
	}
	res.joined = protocol.SessionJoined{SessionID: id, Status: s.status, Pipeline: s.pipeline, Users: s.userListLocked()}
	return res
}

// quote puts a client-chosen name (a pipeline, a role) in quotes for an error
// message, cut to 64 bytes so that a huge name is not echoed back.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return `"` + s + `"`
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return `"` + s[:cut] + `…"`
}

func (s *session) userListLocked() []protocol.User {
	users := make([]protocol.User, 0, len(s.users))
	for _, m := range s.users {
		users = append(users, m.user)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].UserID < users[j].UserID })
	return users
}

// remove takes c out of s; lastOfUser reports whether the user has no connection
// left in the session.
func (s *session) remove(c *conn) (wasMember, lastOfUser bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return false, false
	}
	delete(s.conns, c)
	uid := c.userID()
	if m := s.users[uid]; m != nil {
		m.conns--
		if m.conns <= 0 {
			delete(s.users, uid)
			lastOfUser = true
		}
	}
	if len(s.conns) == 0 {
		s.emptySince = time.Now()
	}
	return true, lastOfUser
}

func (s *session) getStatus() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.status
}

// setStatus moves the session to status; ended is final.
func (s *session) setStatus(status string) (previous string, perr *protocol.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	previous = s.status
	if previous == protocol.StatusEnded {
		return previous, protocol.Errorf(protocol.CodeSessionEnded, "session has ended")
	}
	s.status = status
	return previous, nil
}

// cleanupLoop removes sessions that stayed without connections for InactiveAfter.
func (s *Server) cleanupLoop() {
	defer s.bgWG.Done()
	t := time.NewTicker(s.opts.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.cleanup(now)
		}
	}
}

// cleanup removes the sessions that have been empty for InactiveAfter at now.
//
// The runtime is told while the registry is still locked: once it is unlocked, a
// join may create the session again and an audio:start open a new runtime session
// under the same id, which a late CloseSession would shut down. CloseSession does
// not wait (see Media).
func (s *Server) cleanup(now time.Time) []string {
	var gone []string
	media := s.getMedia()
	s.reg.mu.Lock()
	for id, sess := range s.reg.sessions {
		sess.mu.RLock()
		idle := len(sess.conns) == 0 && now.Sub(sess.emptySince) >= s.opts.InactiveAfter
		sess.mu.RUnlock()
		if idle {
			delete(s.reg.sessions, id)
			if s.reg.created[sess.creator]--; s.reg.created[sess.creator] <= 0 {
				delete(s.reg.created, sess.creator)
			}
			gone = append(gone, id)
			if media != nil {
				media.CloseSession(id)
			}
		}
	}
	n := len(s.reg.sessions)
	s.reg.mu.Unlock()
	s.m.sessions.Set(float64(n))
	if len(gone) > 0 {
		s.log.Debug("removed inactive sessions", "count", len(gone))
	}
	return gone
}

// publish sends a session event through the bus.
func (s *Server) publish(m Message) {
	if err := s.bus.Publish(context.Background(), m); err != nil {
		s.log.Error("bus publish failed", "session", m.SessionID, "event", m.Event, "error", err)
	}
}

// Publish sends event to the members of a session (the pipeline's Publisher). roles
// nil means every member; exceptUserID skips that user's connections.
func (s *Server) Publish(sessionID, event string, payload any, roles []string, exceptUserID string) {
	s.publish(Message{SessionID: sessionID, Event: event, Payload: mustJSON(payload), Roles: roles, ExceptUserID: exceptUserID})
}

// PublishToUser sends event to one user's connections in a session.
func (s *Server) PublishToUser(sessionID, userID, event string, payload any) {
	s.publish(Message{SessionID: sessionID, Event: event, Payload: mustJSON(payload), OnlyUserID: userID})
}

// deliver fans a bus message out to this node's members of its session. Each frame
// is encoded once per framing; enqueueing never blocks.
func (s *Server) deliver(m Message) {
	sess := s.reg.get(m.SessionID)
	if sess == nil {
		return
	}
	var frames [numFramings][]byte
	n := 0
	sess.mu.RLock()
	for c := range sess.conns {
		uid := c.userID()
		if (m.ExceptUserID != "" && uid == m.ExceptUserID) ||
			(m.OnlyUserID != "" && uid != m.OnlyUserID) ||
			(m.Roles != nil && !slices.Contains(m.Roles, c.claims.Role)) {
			continue
		}
		k := c.fr.kind()
		if frames[k] == nil {
			frames[k] = c.fr.event(m.Event, m.Payload)
		}
		if c.enqueue(outItem{data: frames[k]}) {
			n++
		}
	}
	sess.mu.RUnlock()
	s.m.eventOut(m.Event, n)
}

// leaveAll removes a lost connection from its sessions: user:disconnected to the
// others when it was the user's last connection there, its streams drained, its peer
// connections closed.
func (s *Server) leaveAll(c *conn, reason string) {
	c.mu.Lock()
	sessions := c.sessions
	c.sessions = nil
	c.mu.Unlock()
	for id, m := range sessions {
		s.detach(c, m, id, func() {
			s.publish(Message{SessionID: id, Event: protocol.EventUserDisconnected, ExceptUserID: c.userID(),
				Payload: mustJSON(protocol.UserDisconnected{SessionID: id, UserID: c.userID(), Reason: reason})})
		})
	}
}

// detach is what leaving a session costs a connection, whether it left or was lost:
// membership, running calls, streams, peer connection. announce runs when the user
// has no other connection in the session.
//
// Calls made for the session (an offer, a clip) are cancelled and waited for first,
// so none completes after the leave: an offer that got its peer connection anyway
// has it closed just below, and nothing of theirs is published once the connection
// is out. Streams are drained and the peer connection closed while the connection is
// still a member, so a leaver still receives the finals of its own audio.
func (s *Server) detach(c *conn, m *membership, id string, announce func()) {
	sess := m.sess
	m.cancel()
	m.calls.Wait()
	c.stopStreams(id)
	if p := s.getPeers(); p != nil {
		// Most members never had a peer connection: NO_PEER is the normal answer.
		var perr *protocol.Error
		if err := p.Close(c.peerOwner(id, sess.pipeline)); err != nil && !(errors.As(err, &perr) && perr.Code == protocol.CodeNoPeer) {
			s.log.Debug("close peer", "conn", c.id, "session", id, "error", err)
		}
	}
	if _, last := sess.remove(c); last {
		announce()
	}
}
