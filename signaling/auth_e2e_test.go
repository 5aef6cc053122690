package signaling

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

func signHS(t *testing.T, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func baseClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "alice", "name": "Alice", "role": "interviewer", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// TestAuthSources checks each token source and the connection:success payload.
func TestAuthSources(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alice", protocol.RoleInterviewer)
	cases := []struct {
		name   string
		path   string
		header http.Header
		frame  bool
	}{
		{"header", "/interview", http.Header{"Authorization": {"Bearer " + tok}}, false},
		{"query", "/interview?token=" + url.QueryEscape(tok), nil, false},
		{"auth frame", "/interview", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			c := e.dial(tc.path, tc.header)
			if tc.frame {
				c.sendRaw([]byte(`{"event":"auth","data":{"token":"` + tok + `"},"id":1}`))
			}
			f := c.expect(protocol.EventConnectionSuccess)
			cs := decodeInto[protocol.ConnectionSuccess](t, f.Data)
			if cs.UserID != "alice" || cs.Role != "interviewer" || cs.Protocol != 1 || cs.ConnectionID == "" ||
				time.Since(time.UnixMilli(cs.ServerTime)).Abs() > time.Minute {
				t.Fatalf("connection:success %s", f.Data)
			}
			if tc.frame {
				ack := c.expectAck(1)
				if string(ack.Data) != string(f.Data) {
					t.Fatalf("auth ack %s, want %s", ack.Data, f.Data)
				}
			}
			// The connection takes events now.
			id := c.request(protocol.EventSessionJoin, map[string]any{"sessionId": "s-" + strings.ReplaceAll(tc.name, " ", "")})
			c.expect(protocol.EventSessionJoined)
			c.expectAck(id)
		})
	}
}

// TestAuthRefused is the refusal matrix: every bad token gets connection:error with
// its code and the matching close code, from each source.
func TestAuthRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	e := newEnv(t, func(o *Options) {
		v, err := auth.NewValidator(auth.Config{HMACSecret: testSecret, Issuer: "earshot-test", Audience: "earshot", Leeway: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o.Auth = v
	})
	good := func() jwt.MapClaims {
		c := baseClaims()
		c["iss"], c["aud"] = "earshot-test", "earshot"
		return c
	}
	with := func(k string, v any) string {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return signHS(t, testSecret, c)
	}
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	rsTok, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, good()).SignedString(rsaKey)
	// HS/RS confusion: an HS256 token whose HMAC key is the server's RSA public key.
	confused := signHS(t, pubPEM, good())
	huge := good()
	huge["pad"] = strings.Repeat("x", 9000)

	cases := []struct {
		name, token, code string
	}{
		{"bad signature", signHS(t, []byte("another-secret-another-secret-another"), good()), protocol.CodeUnauthorized},
		{"alg none", noneTok, protocol.CodeUnauthorized},
		{"RS256 not allowed", rsTok, protocol.CodeUnauthorized},
		{"HS with RSA public key", confused, protocol.CodeUnauthorized},
		{"expired", with("exp", time.Now().Add(-time.Hour).Unix()), protocol.CodeTokenExpired},
		{"no exp", with("exp", nil), protocol.CodeUnauthorized},
		{"not yet valid", with("nbf", time.Now().Add(time.Hour).Unix()), protocol.CodeUnauthorized},
		{"wrong issuer", with("iss", "someone-else"), protocol.CodeUnauthorized},
		{"wrong audience", with("aud", "other"), protocol.CodeUnauthorized},
		{"no subject", with("sub", nil), protocol.CodeUnauthorized},
		{"oversized", signHS(t, testSecret, huge), protocol.CodeUnauthorized},
		{"garbage", "not.a.jwt", protocol.CodeUnauthorized},
	}
	// Sanity: the good token is accepted, so the refusals are about what each case changes.
	ok := e.dial("/interview", http.Header{"Authorization": {"Bearer " + signHS(t, testSecret, good())}})
	ok.expect(protocol.EventConnectionSuccess)

	for _, tc := range cases {
		for _, src := range []string{"header", "query", "frame"} {
			t.Run(tc.name+"/"+src, func(t *testing.T) {
				e := e.in(t)
				var c *client
				switch src {
				case "header":
					c = e.dial("/interview", http.Header{"Authorization": {"Bearer " + tc.token}})
				case "query":
					c = e.dial("/interview?token="+url.QueryEscape(tc.token), nil)
				default:
					c = e.dial("/interview", nil)
					b, _ := json.Marshal(map[string]any{"event": "auth", "data": map[string]string{"token": tc.token}})
					c.sendRaw(b)
				}
				c.expectErr(protocol.EventConnectionError, tc.code)
				want := protocol.CloseUnauthorized
				if tc.code == protocol.CodeTokenExpired {
					want = protocol.CloseTokenExpired
				}
				if got := c.expectClose(); got != want {
					t.Fatalf("close %d, want %d", got, want)
				}
			})
		}
	}
}

func TestAuthFirstFrameAndTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AuthTimeout = 300 * time.Millisecond })
	t.Run("other first frame", func(t *testing.T) {
		e := e.in(t)
		c := e.dial("/interview", nil)
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
		c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized)
		if got := c.expectClose(); got != protocol.CloseUnauthorized {
			t.Fatalf("close %d", got)
		}
	})
	// A refused first frame that carries an id gets a refused ack after
	// connection:error, before the close: a bad token, no token, another event.
	for name, frame := range map[string]string{
		"bad token with id":   `{"event":"auth","data":{"token":"abc.def.ghi"},"id":5}`,
		"no token with id":    `{"event":"auth","data":{},"id":5}`,
		"other event with id": `{"event":"session:join","data":{"sessionId":"s1"},"id":5}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			c := e.dial("/interview", nil)
			c.sendRaw([]byte(frame))
			c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized)
			if ack := c.expectAck(5); ack.Error == nil || ack.Error.Code != protocol.CodeUnauthorized {
				t.Fatalf("ack %s", ack.raw)
			}
			if got := c.expectClose(); got != protocol.CloseUnauthorized {
				t.Fatalf("close %d", got)
			}
		})
	}
	t.Run("binary first frame", func(t *testing.T) {
		e := e.in(t)
		c := e.dial("/interview", nil)
		c.sendBinary([]byte{1, 2, 3})
		c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized)
		if got := c.expectClose(); got != protocol.CloseUnauthorized {
			t.Fatalf("close %d", got)
		}
	})
	t.Run("auth without token", func(t *testing.T) {
		e := e.in(t)
		c := e.dial("/interview", nil)
		c.send(protocol.EventAuth, map[string]string{})
		c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized)
		if got := c.expectClose(); got != protocol.CloseUnauthorized {
			t.Fatalf("close %d", got)
		}
	})
	t.Run("silence", func(t *testing.T) {
		e := e.in(t)
		c := e.dial("/interview", nil)
		perr := c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized)
		if !strings.Contains(perr.Message, "no authentication") {
			t.Fatalf("message %q", perr.Message)
		}
		if got := c.expectClose(); got != protocol.CloseUnauthorized {
			t.Fatalf("close %d", got)
		}
	})
}

func TestOrigin(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alice", protocol.RoleCandidate)
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://localhost:3000", true},
		{"", true},
		{"https://evil.example", false},
		{"http://localhost:3001", false},
	} {
		for _, path := range []string{"/interview", "/socket.io/?EIO=4&transport=websocket"} {
			h := http.Header{"Authorization": {"Bearer " + tok}}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, resp, err := e.dialRaw(path, h)
			if tc.ok {
				if err != nil {
					t.Fatalf("%s origin %q: %v", path, tc.origin, err)
				}
				_ = ws.Close()
				continue
			}
			if err == nil {
				_ = ws.Close()
				t.Fatalf("%s origin %q accepted", path, tc.origin)
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s origin %q: %v %v, want 403", path, tc.origin, resp, err)
			}
		}
	}
}

// TestTokenExpiryAndRefresh: a token that expires ends the connection with 4002
// unless auth:refresh moved the expiry.
func TestTokenExpiryAndRefresh(t *testing.T) {
	e := newEnv(t, nil)
	short := func(sub string) string {
		tok, err := auth.Mint(testSecret, auth.Claims{Subject: sub, Role: protocol.RoleCandidate}, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	stays := e.dial("/interview", http.Header{"Authorization": {"Bearer " + short("bob")}})
	stays.expect(protocol.EventConnectionSuccess)
	goes := e.dial("/interview", http.Header{"Authorization": {"Bearer " + short("carol")}})
	goes.expect(protocol.EventConnectionSuccess)

	// A token of another user is refused; the connection stays.
	id := stays.request(protocol.EventAuthRefresh, map[string]string{"token": e.token("mallory", protocol.RoleCandidate)})
	stays.expectErr(protocol.EventError, protocol.CodeUnauthorized)
	stays.expectAck(id)

	id = stays.request(protocol.EventAuthRefresh, map[string]string{"token": e.token("bob", protocol.RoleCandidate)})
	f := stays.expect(EventAuthRefreshed)
	stays.expectAck(id)
	var r struct{ ExpiresAt int64 }
	_ = json.Unmarshal(f.Data, &r)
	if time.Until(time.UnixMilli(r.ExpiresAt)) < 30*time.Minute {
		t.Fatalf("refreshed expiry %s", f.Data)
	}

	// The new token governs: its sessions claim narrows later joins, and its
	// expiry replaces the old one even when it is earlier.
	narrow, err := auth.Mint(testSecret, auth.Claims{Subject: "bob", Role: protocol.RoleCandidate, Sessions: []string{"only"}}, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id = stays.request(protocol.EventAuthRefresh, map[string]string{"token": narrow})
	f = stays.expect(EventAuthRefreshed)
	stays.expectAck(id)
	_ = json.Unmarshal(f.Data, &r)
	if d := time.Until(time.UnixMilli(r.ExpiresAt)); d > 21*time.Minute || d < 19*time.Minute {
		t.Fatalf("refreshed expiry %s, want the new token's (20 min)", f.Data)
	}
	stays.send(protocol.EventSessionJoin, map[string]string{"sessionId": "other"})
	stays.expectErr(protocol.EventSessionError, protocol.CodeForbidden)
	stays.send(protocol.EventSessionJoin, map[string]string{"sessionId": "only"})
	stays.expect(protocol.EventSessionJoined)

	goes.expectErr(protocol.EventConnectionError, protocol.CodeTokenExpired)
	if got := goes.expectClose(); got != protocol.CloseTokenExpired {
		t.Fatalf("close %d, want 4002", got)
	}
	stays.sync() // still connected after the other's identical token expired
}

// TestTokensNeverLogged runs accepted and refused tokens from every source with debug
// logging and checks no token (nor its signature) reaches the log.
func TestTokensNeverLogged(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &buf})
	})
	good := e.token("alice", protocol.RoleInterviewer)
	bad := signHS(t, []byte("another-secret-another-secret-another"), baseClaims())
	for _, tok := range []string{good, bad} {
		if ws, _, err := e.dialRaw("/interview?token="+url.QueryEscape(tok), http.Header{"Origin": {"https://evil.example"}}); err == nil {
			_ = ws.Close()
			t.Fatal("bad origin accepted")
		}
	}
	for _, tok := range []string{good, bad} {
		c := e.dial("/interview?token="+url.QueryEscape(tok), nil)
		c.next()
		c2 := e.dial("/interview", http.Header{"Authorization": {"Bearer " + tok}})
		c2.next()
		c3 := e.dial("/interview", nil)
		c3.send(protocol.EventAuth, map[string]string{"token": tok})
		c3.next()
		s := e.sioDial(nil)
		s.sioSend(`40/interview,{"token":"` + tok + `"}`)
		s.next()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_ = e.s.Shutdown(ctx)
	logs := buf.String()
	if !strings.Contains(logs, "refused origin") {
		t.Fatalf("debug log looks empty:\n%s", logs)
	}
	for _, tok := range []string{good, bad} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(logs, sig) {
			t.Fatalf("a token reached the log:\n%s", logs)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTokenLeeway: a token accepted within the validator's leeway is not cut off at
// once; it ends at exp + leeway.
func TestTokenLeeway(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		v, err := auth.NewValidator(auth.Config{HMACSecret: testSecret, Leeway: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o.Auth, o.TokenLeeway = v, 3*time.Second
	})
	tok, err := auth.Mint(testSecret, auth.Claims{Subject: "alice", Role: protocol.RoleCandidate, ExpiresAt: time.Now().Add(-time.Second)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial("/interview", http.Header{"Authorization": {"Bearer " + tok}})
	c.expect(protocol.EventConnectionSuccess)
	c.sync() // still up after exp
	c.expectErr(protocol.EventConnectionError, protocol.CodeTokenExpired)
	if got := c.expectClose(); got != protocol.CloseTokenExpired {
		t.Fatalf("close %d", got)
	}
}
