package signaling

import (
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestSessionLimitPerUser: a user who created MaxSessionsPerUser sessions the node
// still holds (empty ones included) cannot create another, with SESSION_LIMIT naming
// the user's limit, while other users still can and the user can still join sessions
// others created; cleanup of the user's empty sessions gives the places back.
func TestSessionLimitPerUser(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.MaxSessionsPerUser = 2
		o.MaxSessions = 100
		o.InactiveAfter = time.Minute
	})
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)

	alice.churn("s1", "s2")
	id := alice.request(protocol.EventSessionJoin, map[string]string{"sessionId": "s3"})
	perr := alice.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
	if perr.SessionID != "s3" || !strings.Contains(perr.Message, "your limit of 2") ||
		!strings.Contains(perr.Message, "empty for 1m0s") {
		t.Fatalf("error %+v: want sessionId s3 and a message naming the user's limit and removal", perr)
	}
	if ack := alice.expectAck(id); ack.Error == nil || ack.Error.Code != protocol.CodeSessionLimit {
		t.Fatalf("ack %s, want SESSION_LIMIT", ack.raw)
	}

	// Bob is under his own limit; alice may join the session he created.
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "b1"})
	bob.expect(protocol.EventSessionJoined)
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "b1"})
	if j := decodeInto[protocol.SessionJoined](t, alice.expect(protocol.EventSessionJoined).Data); j.SessionID != "b1" {
		t.Fatalf("joined %+v", j)
	}
	bob.expect(protocol.EventUserJoined)
	// Rejoining one of her own empty sessions is not a creation either.
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionJoined)
	alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionLeft)

	// s1 and s2 are empty and alice's; b1 is bob's and occupied. Cleanup removes
	// alice's two and gives her room for two more, not three.
	if gone := e.s.cleanup(time.Now().Add(2 * time.Minute)); !sameSet(gone, []string{"s1", "s2"}) {
		t.Fatalf("cleanup removed %v, want s1 and s2", gone)
	}
	for _, id := range []string{"s3", "s4"} {
		alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": id})
		if j := decodeInto[protocol.SessionJoined](t, alice.expect(protocol.EventSessionJoined).Data); j.SessionID != id {
			t.Fatalf("joined %+v, want %s", j, id)
		}
	}
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s5"})
	alice.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "b2"})
	bob.expect(protocol.EventSessionJoined)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "b3"})
	bob.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
}
