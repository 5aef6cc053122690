// Package protocol holds earshot's wire contract as Go types: event names, payloads,
// error codes and close codes, exactly as docs/protocol.md documents them.
//
// It is a leaf package (no earshot imports) so that the gateway (signaling), the
// pipeline runtime (pipeline) and the command-line client (cmd) speak the same types.
package protocol

import "fmt"

// Version is the protocol version announced in connection:success.
const Version = 1

// Event names.
const (
	EventAuth              = "auth"
	EventAuthRefresh       = "auth:refresh"
	EventAck               = "ack"
	EventError             = "error"
	EventConnectionSuccess = "connection:success"
	EventConnectionError   = "connection:error"

	EventSessionJoin          = "session:join"
	EventSessionJoined        = "session:joined"
	EventSessionLeave         = "session:leave"
	EventSessionLeft          = "session:left"
	EventSessionStatus        = "session:status"
	EventSessionStatusUpdated = "session:status:updated"
	EventSessionError         = "session:error"
	EventUserJoined           = "user:joined"
	EventUserLeft             = "user:left"
	EventUserDisconnected     = "user:disconnected"

	EventAudioStream   = "audio:stream"
	EventAudioStart    = "audio:start"
	EventAudioStarted  = "audio:started"
	EventAudioFinalize = "audio:finalize"
	EventAudioStop     = "audio:stop"
	EventAudioReceived = "audio:received"
	EventAudioError    = "audio:error"

	EventTranscriptionRequest    = "transcription:request"
	EventTranscriptionProcessing = "transcription:processing"
	EventTranscriptionResult     = "transcription:result"
	EventTranscriptionError      = "transcription:error"

	EventSuggestions = "responses:suggestions"

	EventWebRTCOffer     = "webrtc:offer"
	EventWebRTCAnswer    = "webrtc:answer"
	EventWebRTCCandidate = "webrtc:candidate"
	EventWebRTCState     = "webrtc:state"
	EventWebRTCClose     = "webrtc:close"
	EventWebRTCError     = "webrtc:error"
)

// Error codes: stable UPPER_SNAKE strings.
const (
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeTokenExpired        = "TOKEN_EXPIRED"
	CodeForbidden           = "FORBIDDEN"
	CodeBadRequest          = "BAD_REQUEST"
	CodeUnknownEvent        = "UNKNOWN_EVENT"
	CodeNotJoined           = "NOT_JOINED"
	CodeInvalidSessionID    = "INVALID_SESSION_ID"
	CodeSessionFull         = "SESSION_FULL"
	CodeSessionEnded        = "SESSION_ENDED"
	CodeUnsupportedFormat   = "UNSUPPORTED_FORMAT"
	CodeInvalidAudio        = "INVALID_AUDIO"
	CodeNoStream            = "NO_STREAM"
	CodeChunkTooLarge       = "CHUNK_TOO_LARGE"
	CodeRateLimited         = "RATE_LIMITED"
	CodePipelineUnavailable = "PIPELINE_UNAVAILABLE"
	CodeInternal            = "INTERNAL"
	// Extensions (documented in docs/protocol.md of this project).
	CodeTooManySessions = "TOO_MANY_SESSIONS"
	CodeStreamExists    = "STREAM_EXISTS"
	CodeFallingBehind   = "FALLING_BEHIND"
	// CodeSessionLimit refuses a join that would create a session on a node that
	// already holds its maximum; joining an existing session still works.
	CodeSessionLimit = "SESSION_LIMIT"
	// Extension: webrtc:candidate or webrtc:close with no peer connection in the
	// session (also what the gateway's Peers.Close answers for one).
	CodeNoPeer = "NO_PEER"
)

// WebSocket close codes.
const (
	CloseGoingAway     = 1001
	ClosePolicy        = 1008
	CloseTooBig        = 1009
	CloseUnauthorized  = 4001
	CloseTokenExpired  = 4002
	CloseSlowConsumer  = 4008
	CloseRateLimited   = 4029
	CloseNormalClosure = 1000
)

// Roles carried in the token's role claim.
const (
	RoleInterviewer = "interviewer"
	RoleCandidate   = "candidate"
	RoleObserver    = "observer"
	RoleAdmin       = "admin"
)

// Session statuses.
const (
	StatusWaiting = "waiting"
	StatusActive  = "active"
	StatusPaused  = "paused"
	StatusEnded   = "ended"
)

// Audio formats accepted on the wire.
const (
	FormatWebM  = "webm"
	FormatOgg   = "ogg"
	FormatOpus  = "opus" // raw Opus packets, one per chunk (WebRTC tracks)
	FormatPCM16 = "pcm16"
	FormatF32   = "f32"
	FormatWAV   = "wav"
)

// Error is a coded error as it travels on the wire ({"code","message"}), and also an
// error value that components return so the gateway can send it unchanged.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	SessionID string `json:"sessionId,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds a coded error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// User describes a session member.
type User struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

// ConnectionSuccess is the payload of connection:success.
type ConnectionSuccess struct {
	UserID       string `json:"userId"`
	ConnectionID string `json:"connectionId"`
	Role         string `json:"role"`
	ServerTime   int64  `json:"serverTime"`
	Protocol     int    `json:"protocol"`
}

// SessionRef is {"sessionId"}: session:leave, session:left, audio:finalize, audio:stop, webrtc:close.
type SessionRef struct {
	SessionID string `json:"sessionId"`
}

// SessionJoin is the payload of session:join.
type SessionJoin struct {
	SessionID string `json:"sessionId"`
	Pipeline  string `json:"pipeline,omitempty"`
}

// SessionJoined is the payload of session:joined.
type SessionJoined struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
	Pipeline  string `json:"pipeline"`
	Users     []User `json:"users"`
}

// SessionStatus is the payload of session:status.
type SessionStatus struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
}

// SessionStatusUpdated is the payload of session:status:updated.
type SessionStatusUpdated struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
	Previous  string `json:"previous"`
	UpdatedBy string `json:"updatedBy"`
	At        int64  `json:"at"`
}

// UserEvent is the payload of user:joined and user:left.
type UserEvent struct {
	SessionID string `json:"sessionId"`
	User      User   `json:"user"`
}

// UserDisconnected is the payload of user:disconnected.
type UserDisconnected struct {
	SessionID string `json:"sessionId"`
	UserID    string `json:"userId"`
	Reason    string `json:"reason"`
}

// AudioStream is the payload of audio:stream. AudioData is base64 on the native
// endpoint; on Socket.IO the binary attachment's bytes are placed in Bytes by the codec.
type AudioStream struct {
	SessionID  string `json:"sessionId"`
	AudioData  string `json:"audioData,omitempty"`
	Format     string `json:"format"`
	SampleRate int    `json:"sampleRate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
	Sequence   *int64 `json:"sequence,omitempty"`
}

// AudioStart is the payload of audio:start.
type AudioStart struct {
	SessionID  string `json:"sessionId"`
	Format     string `json:"format"`
	SampleRate int    `json:"sampleRate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
}

// AudioStarted is the payload of audio:started.
type AudioStarted struct {
	SessionID string `json:"sessionId"`
	StreamID  string `json:"streamId"`
}

// AudioReceived is the payload of audio:received (relay to other members).
type AudioReceived struct {
	SessionID  string `json:"sessionId"`
	FromUserID string `json:"fromUserId"`
	AudioData  string `json:"audioData"`
	Format     string `json:"format"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels,omitempty"` // extension: when known
	Sequence   int64  `json:"sequence"`
}

// TranscriptionRequest is the payload of transcription:request.
type TranscriptionRequest struct {
	SessionID  string `json:"sessionId"`
	AudioData  string `json:"audioData,omitempty"`
	Format     string `json:"format"`
	SampleRate int    `json:"sampleRate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
}

// TranscriptionProcessing is the payload of transcription:processing.
type TranscriptionProcessing struct {
	SessionID   string  `json:"sessionId"`
	StreamID    string  `json:"streamId"`
	UserID      string  `json:"userId"`
	UtteranceID string  `json:"utteranceId"`
	RequestID   *string `json:"requestId,omitempty"`
}

// Word is one recognised word with its times relative to the stream's first audio.
type Word struct {
	Text       string  `json:"text"`
	StartMs    int64   `json:"startMs"`
	EndMs      int64   `json:"endMs"`
	Confidence float64 `json:"confidence"`
}

// TranscriptionResult is the payload of transcription:result.
type TranscriptionResult struct {
	SessionID   string  `json:"sessionId"`
	StreamID    string  `json:"streamId"`
	UserID      string  `json:"userId"`
	Role        string  `json:"role"`
	UtteranceID string  `json:"utteranceId"`
	Revision    int     `json:"revision"`
	Text        string  `json:"text"`
	IsFinal     bool    `json:"isFinal"`
	EndOfTurn   bool    `json:"endOfTurn"`
	Confidence  float64 `json:"confidence"`
	StartMs     int64   `json:"startMs"`
	EndMs       int64   `json:"endMs"`
	Words       []Word  `json:"words"`
	RequestID   *string `json:"requestId"`
}

// TranscriptionError is the payload of transcription:error.
type TranscriptionError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	SessionID string `json:"sessionId"`
	StreamID  string `json:"streamId,omitempty"`
	Retrying  bool   `json:"retrying"`
}

// Suggestion is one entry of a suggestion set.
type Suggestion struct {
	ID    string  `json:"id"`
	Text  string  `json:"text"`
	Kind  string  `json:"kind"`
	Score float64 `json:"score"`
}

// Suggestions is the payload of responses:suggestions.
type Suggestions struct {
	SessionID   string       `json:"sessionId"`
	UtteranceID string       `json:"utteranceId"`
	Question    string       `json:"question"`
	Suggestions []Suggestion `json:"suggestions"`
	Source      string       `json:"source"`
	Supersedes  string       `json:"supersedes,omitempty"`
	// Extension: the id of this set and whether more updates of it will follow.
	SetID string `json:"setId,omitempty"`
	Final bool   `json:"final"`
}

// ICECandidate mirrors RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// WebRTCOffer is the payload of webrtc:offer and webrtc:answer.
type WebRTCOffer struct {
	SessionID string `json:"sessionId"`
	SDP       string `json:"sdp"`
}

// WebRTCCandidate is the payload of webrtc:candidate.
type WebRTCCandidate struct {
	SessionID string       `json:"sessionId"`
	Candidate ICECandidate `json:"candidate"`
}

// WebRTCState is the payload of webrtc:state.
type WebRTCState struct {
	SessionID string `json:"sessionId"`
	State     string `json:"state"`
}

// StreamSpec names one audio stream: one user's audio in one session. The gateway
// builds it from audio:start / audio:stream / webrtc tracks and hands it to the
// pipeline runtime.
type StreamSpec struct {
	SessionID  string
	UserID     string
	UserName   string
	Role       string
	Pipeline   string // the session's pipeline name
	Format     string
	SampleRate int
	Channels   int
	Source     string // "websocket" or "webrtc"
}
