package signaling

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// handlerFunc handles one client event. It answers through c.ok / c.fail, possibly
// later from a goroutine the connection owns.
type handlerFunc func(s *Server, c *conn, req *request)

// handlers is the event core shared by both framings.
var handlers map[string]handlerFunc

func init() {
	handlers = map[string]handlerFunc{
		protocol.EventAuth:                 handleAuthAgain,
		protocol.EventAuthRefresh:          handleAuthRefresh,
		protocol.EventSessionJoin:          handleJoin,
		protocol.EventSessionLeave:         handleLeave,
		protocol.EventSessionStatus:        handleStatus,
		protocol.EventAudioStart:           handleAudioStart,
		protocol.EventAudioStream:          handleAudioStream,
		protocol.EventAudioFinalize:        handleAudioFinalize,
		protocol.EventAudioStop:            handleAudioStop,
		protocol.EventTranscriptionRequest: handleTranscriptionRequest,
		protocol.EventWebRTCOffer:          handleWebRTCOffer,
		protocol.EventWebRTCCandidate:      handleWebRTCCandidate,
		protocol.EventWebRTCClose:          handleWebRTCClose,
	}
}

// EventAuthRefreshed is the reply to auth:refresh (extension): {"userId","expiresAt"}.
const EventAuthRefreshed = "auth:refreshed"

// errorEventFor names the error event of an event's family.
func errorEventFor(event string) string {
	switch {
	case strings.HasPrefix(event, "session:"):
		return protocol.EventSessionError
	case strings.HasPrefix(event, "audio:"), event == protocol.EventTranscriptionRequest:
		return protocol.EventAudioError
	case strings.HasPrefix(event, "webrtc:"):
		return protocol.EventWebRTCError
	default:
		return protocol.EventError
	}
}

// dispatch runs one decoded client event through the rate limit and its handler.
func (s *Server) dispatch(c *conn, req *request) {
	now := time.Now()
	s.events.add(now)
	h, known := handlers[req.Event]
	s.m.eventIn(req.Event, known)
	if !c.admit(req) {
		return
	}
	if !known {
		c.fail(&request{Event: protocol.EventError, ID: req.ID, HasID: req.HasID},
			protocol.Errorf(protocol.CodeUnknownEvent, "unknown event %s", quote(truncateName(req.Event))))
		return
	}
	h(s, c, req)
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// decodeData unmarshals req.Data into v; a missing or mistyped payload is BAD_REQUEST.
func decodeData(req *request, v any) *protocol.Error {
	if len(req.Data) == 0 || string(req.Data) == "null" {
		return protocol.Errorf(protocol.CodeBadRequest, "%s needs a data object", req.Event)
	}
	if req.Data[0] != '{' {
		return protocol.Errorf(protocol.CodeBadRequest, "%s data must be an object", req.Event)
	}
	if err := json.Unmarshal(req.Data, v); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "%s: %s", req.Event, jsonErrText(err))
	}
	return nil
}

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

func checkSessionID(id string) *protocol.Error {
	// An absent or empty id is an invalid one: ids are 1-128 characters.
	if !sessionIDPattern.MatchString(id) {
		return &protocol.Error{Code: protocol.CodeInvalidSessionID,
			Message: "sessionId must be 1-128 characters of A-Z a-z 0-9 _ . : -"}
	}
	return nil
}

// joined returns c's membership of session id, or NOT_JOINED.
func (c *conn) joined(id string) (*membership, *protocol.Error) {
	if perr := checkSessionID(id); perr != nil {
		return nil, perr
	}
	c.mu.Lock()
	m := c.sessions[id]
	c.mu.Unlock()
	if m == nil {
		return nil, &protocol.Error{Code: protocol.CodeNotJoined, Message: "not joined to this session", SessionID: id}
	}
	return m, nil
}

// leftDuring refuses a call whose connection left the session before it completed.
func leftDuring(id, what string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeNotJoined, Message: "left the session before the " + what + " completed", SessionID: id}
}

// sessionRef decodes {"sessionId"} and checks membership.
func sessionRef(c *conn, req *request) (string, *membership, *protocol.Error) {
	var ref protocol.SessionRef
	if perr := decodeData(req, &ref); perr != nil {
		return "", nil, perr
	}
	m, perr := c.joined(ref.SessionID)
	return ref.SessionID, m, perr
}

// handleAuthAgain answers an auth frame on an authenticated connection.
func handleAuthAgain(_ *Server, c *conn, req *request) {
	c.fail(req, protocol.Errorf(protocol.CodeBadRequest, "already authenticated; use auth:refresh to extend the token"))
}

// handleAuthRefresh replaces the connection's token with a newer one. The new token
// must name the same user and role; from then on its expiry and its sessions claim
// govern the connection (later joins; sessions already joined stay joined), even
// when they are narrower than the old token's. The name stays the first token's: it
// is what the sessions already show. The connection stays up when it is refused.
func handleAuthRefresh(s *Server, c *conn, req *request) {
	tok, ok := auth.TokenFromAuthPayload(req.Data)
	if !ok {
		c.fail(req, protocol.Errorf(protocol.CodeBadRequest, "auth:refresh needs {\"token\"}"))
		return
	}
	claims, err := s.opts.Auth.Validate(tok)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			perr = protocol.Errorf(protocol.CodeUnauthorized, "invalid token")
		}
		c.fail(req, perr)
		return
	}
	if claims.Role == "" {
		claims.Role = auth.DefaultRole
	}
	if claims.Subject != c.claims.Subject || claims.Role != c.claims.Role {
		c.fail(req, protocol.Errorf(protocol.CodeUnauthorized, "refresh token must name the same user and role"))
		return
	}
	// Only the read loop reads Sessions; other goroutines read Role, which stays.
	c.claims.Sessions = claims.Sessions
	c.claims.ExpiresAt = claims.ExpiresAt
	c.armExpiry(claims.ExpiresAt)
	c.ok(req, EventAuthRefreshed, map[string]any{"userId": claims.Subject, "expiresAt": c.expiresAt.Load()})
}

func handleJoin(s *Server, c *conn, req *request) {
	var p protocol.SessionJoin
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	id := p.SessionID
	refuse := func(code, msg string) {
		c.fail(req, &protocol.Error{Code: code, Message: msg, SessionID: id})
	}
	if perr := checkSessionID(id); perr != nil {
		c.fail(req, perr)
		return
	}
	if !c.claims.MayJoin(id) {
		refuse(protocol.CodeForbidden, "token does not allow this session")
		return
	}
	pipeline := p.Pipeline
	if media := s.getMedia(); media != nil {
		if pipeline != "" && !media.HasPipeline(pipeline) {
			refuse(protocol.CodePipelineUnavailable, "no pipeline named "+quote(pipeline))
			return
		}
	} else if pipeline != "" {
		refuse(protocol.CodePipelineUnavailable, "no pipelines are configured")
		return
	}
	c.mu.Lock()
	_, again := c.sessions[id]
	full := !again && len(c.sessions) >= s.opts.MaxSessionsPerConn
	c.mu.Unlock()
	if full {
		refuse(protocol.CodeTooManySessions, "too many sessions on this connection")
		return
	}
	defPipeline := pipeline
	if defPipeline == "" {
		if media := s.getMedia(); media != nil {
			defPipeline = media.DefaultPipeline()
		}
	}
	// A join without a pipeline takes the session's, whatever it is.
	res := s.reg.joinWith(c, id, pipeline, defPipeline, joinLimits{maxUsers: s.opts.MaxUsersPerSession,
		maxSessions: s.opts.MaxSessions, maxPerUser: s.opts.MaxSessionsPerUser, inactiveAfter: s.opts.InactiveAfter})
	if res.failCode != "" {
		refuse(res.failCode, res.failMsg)
		return
	}
	if res.created {
		s.m.sessions.Inc()
	}
	c.mu.Lock()
	if c.sessions == nil {
		c.sessions = make(map[string]*membership, 1)
	}
	if c.sessions[id] == nil {
		c.sessions[id] = newMembership(c, res.sess)
	}
	c.mu.Unlock()
	// Announce before replying: whoever joins after the joiner saw session:joined must
	// find the joiner in its users list only, not also in a late user:joined.
	if res.newUser {
		s.publish(Message{SessionID: id, Event: protocol.EventUserJoined, ExceptUserID: c.userID(),
			Payload: mustJSON(protocol.UserEvent{SessionID: id, User: c.user()})})
	}
	c.ok(req, protocol.EventSessionJoined, res.joined)
}

func handleLeave(s *Server, c *conn, req *request) {
	id, m, perr := sessionRef(c, req)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
	s.detach(c, m, id, func() {
		s.publish(Message{SessionID: id, Event: protocol.EventUserLeft, ExceptUserID: c.userID(),
			Payload: mustJSON(protocol.UserEvent{SessionID: id, User: c.user()})})
	})
	c.ok(req, protocol.EventSessionLeft, protocol.SessionRef{SessionID: id})
}

var statuses = []string{protocol.StatusWaiting, protocol.StatusActive, protocol.StatusPaused, protocol.StatusEnded}

func handleStatus(s *Server, c *conn, req *request) {
	var p protocol.SessionStatus
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, perr := c.joined(p.SessionID)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	sess := m.sess
	refuse := func(code, msg string) {
		c.fail(req, &protocol.Error{Code: code, Message: msg, SessionID: p.SessionID})
	}
	if !slices.Contains(statuses, p.Status) {
		refuse(protocol.CodeBadRequest, "status must be one of waiting, active, paused, ended")
		return
	}
	if !slices.Contains(s.opts.StatusRoles, c.claims.Role) {
		refuse(protocol.CodeForbidden, "role "+quote(c.claims.Role)+" may not change the session status")
		return
	}
	prev, perr := sess.setStatus(p.Status)
	if perr != nil {
		perr.SessionID = p.SessionID
		c.fail(req, perr)
		return
	}
	upd := protocol.SessionStatusUpdated{SessionID: p.SessionID, Status: p.Status, Previous: prev,
		UpdatedBy: c.userID(), At: time.Now().UnixMilli()}
	// Everyone in the session, the sender included, gets the broadcast; the ack
	// carries the same payload.
	s.publish(Message{SessionID: p.SessionID, Event: protocol.EventSessionStatusUpdated, Payload: mustJSON(upd)})
	c.ok(req, "", upd)
}
