package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

func TestTokenFromRequest(t *testing.T) {
	cases := []struct {
		name    string
		url     string
		headers []string
		token   string
		source  string
	}{
		{"header", "/interview", []string{"Bearer abc"}, "abc", SourceHeader},
		{"header lowercase scheme", "/interview", []string{"bearer   abc  "}, "abc", SourceHeader},
		{"header wins over query", "/interview?token=q", []string{"Bearer h"}, "h", SourceHeader},
		{"basic falls back to query", "/interview?token=q", []string{"Basic dXNlcjpwYXNz"}, "q", SourceQuery},
		{"empty bearer falls back to query", "/interview?token=q", []string{"Bearer "}, "q", SourceQuery},
		{"second header", "/interview", []string{"Basic x", "Bearer two"}, "two", SourceHeader},
		{"query", "/socket.io/?EIO=4&transport=websocket&token=q.r.s", nil, "q.r.s", SourceQuery},
		{"query escaped", "/interview?token=a%2Bb", nil, "a+b", SourceQuery},
		{"empty query", "/interview?token=", nil, "", ""},
		{"none", "/interview", nil, "", ""},
		{"bearer alone", "/interview", []string{"Bearer"}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			tok, src, ok := TokenFromRequest(r)
			if tok != tc.token || src != tc.source || ok != (tc.token != "") {
				t.Fatalf("got (%q, %q, %v), want (%q, %q)", tok, src, ok, tc.token, tc.source)
			}
		})
	}
	if _, _, ok := TokenFromRequest(nil); ok {
		t.Fatal("nil request")
	}
}

func TestTokenFromAuthPayload(t *testing.T) {
	cases := []struct {
		raw   string
		token string
	}{
		{`{"token":"abc"}`, "abc"},
		{`{"token":"Bearer abc"}`, "abc"},
		{`{"token":" abc ","other":1}`, "abc"},
		{`{"token":""}`, ""},
		{`{"token":null}`, ""},
		{`{"token":5}`, ""},
		{`{"tok":"abc"}`, ""},
		{`["abc"]`, ""},
		{`"abc"`, ""},
		{`null`, ""},
		{``, ""},
		{`{"token":"abc"`, ""},
	}
	for _, tc := range cases {
		tok, ok := TokenFromAuthPayload(json.RawMessage(tc.raw))
		if tok != tc.token || ok != (tc.token != "") {
			t.Errorf("%s: got (%q, %v), want %q", tc.raw, tok, ok, tc.token)
		}
	}
}

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/socket.io/?EIO=4&transport=websocket&token=eyJsecret", "/socket.io/?EIO=4&transport=websocket&token=REDACTED"},
		{"/interview?token=a&token=b", "/interview?token=REDACTED&token=REDACTED"},
		{"/interview?access_token=x&b=2", "/interview?access_token=REDACTED&b=2"},
		{"/interview?%74oken=x", "/interview?token=REDACTED"},
		{"/interview?TOKEN=x", "/interview?TOKEN=REDACTED"},
		{"/interview", "/interview"},
		{"/interview?tokens=keep", "/interview?tokens=keep"},
		{"http://u:pw@host/x?token=s#frag", "http://u:xxxxx@host/x?token=REDACTED"},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := RedactURL(u); got != tc.want {
			t.Errorf("RedactURL(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if RedactURL(nil) != "" {
		t.Fatal("nil")
	}
}

func FuzzTokenFromRequest(f *testing.F) {
	f.Add("Bearer abc", "token=q")
	f.Add("", "EIO=4&transport=websocket&token=a.b.c")
	f.Add("Basic x", "token=%zz&token=b")
	f.Add("bearer\t x", ";token=a")
	f.Fuzz(func(t *testing.T, header, query string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/interview", RawQuery: query}}
		r.Header.Set("Authorization", header)
		tok, src, ok := TokenFromRequest(r)
		if ok != (tok != "") || (ok && src != SourceHeader && src != SourceQuery) {
			t.Fatalf("inconsistent result (%q, %q, %v)", tok, src, ok)
		}
		if ok && tok != strings.TrimSpace(tok) {
			t.Fatalf("token not trimmed: %q", tok)
		}
		red := RedactURL(r.URL)
		if v := r.URL.Query().Get("token"); len(v) > 3 && !strings.Contains("REDACTED", v) && strings.Contains(red, "token="+url.QueryEscape(v)) {
			t.Fatalf("token leaked in %q", red)
		}
	})
}

func FuzzTokenFromAuthPayload(f *testing.F) {
	for _, s := range []string{`{"token":"abc"}`, `{"token":"Bearer x"}`, `{"token":1}`, `[]`, `null`, `{"token":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tok, ok := TokenFromAuthPayload(raw)
		if ok != (tok != "") {
			t.Fatalf("inconsistent (%q, %v)", tok, ok)
		}
	})
}

// FuzzValidate: the token comes from the peer (header, query or auth payload).
// Validate never panics; what it accepts has claims the gateway can use; what it
// refuses is a coded *protocol.Error, as the handshake answers it.
func FuzzValidate(f *testing.F) {
	v, err := NewValidator(Config{HMACSecret: testSecret, Issuer: "i", Audience: "a"})
	if err != nil {
		f.Fatal(err)
	}
	opts := MintOptions{Issuer: "i", Audience: "a"}
	good, err := MintWith(testSecret, Claims{Subject: "s", Role: "admin", Sessions: []string{"x"}}, time.Hour, opts)
	if err != nil {
		f.Fatal(err)
	}
	// The acceptance branch must run from the seeds, not only when fuzzing.
	if _, err := v.Validate(good); err != nil {
		f.Fatalf("the good seed is refused: %v", err)
	}
	bare, err := MintWith(testSecret, Claims{Subject: "u"}, time.Hour, opts)
	if err != nil {
		f.Fatal(err)
	}
	expired, err := MintWith(testSecret, Claims{Subject: "s", ExpiresAt: time.Now().Add(-time.Hour)}, 0, opts)
	if err != nil {
		f.Fatal(err)
	}
	noAudience, err := Mint(testSecret, Claims{Subject: "s"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, bare, expired, noAudience, "", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "eyJhbGciOiJIUzI1NiJ9.e30.", strings.Repeat(".", 10)} {
		f.Add(s)
	}
	roles := []string{protocol.RoleInterviewer, protocol.RoleCandidate, protocol.RoleObserver, protocol.RoleAdmin}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Validate(tok)
		if err == nil {
			switch {
			case c.Subject == "" || len(c.Subject) > maxClaimString || len(c.Name) > maxClaimString:
				t.Fatalf("accepted token with bad sub or name %+v", c)
			case !slices.Contains(roles, c.Role):
				t.Fatalf("accepted token with role %q", c.Role)
			case c.ExpiresAt.IsZero() || time.Until(c.ExpiresAt) < -time.Minute:
				t.Fatalf("accepted token expiring at %v", c.ExpiresAt)
			case len(c.Sessions) > maxSessionsClaim || slices.Contains(c.Sessions, ""):
				t.Fatalf("accepted token with sessions %q", c.Sessions)
			}
			return
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("uncoded refusal: %v", err)
		}
		if pe.Code != protocol.CodeUnauthorized && pe.Code != protocol.CodeTokenExpired {
			t.Fatalf("refused with code %s: %v", pe.Code, err)
		}
	})
}

// FuzzNumericDate: the JWT time decoder (reached before the signature is checked)
// never panics, and what it accepts is a JSON number within years 0-9999.
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{"0", "-1", "1790000000", "1790000000.5", "1e20", "\"1790000000\"", "null", "-0", "253402300799", "253402300800", "1e", "NaN", "Infinity", "[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d numericDate
		if err := d.UnmarshalJSON(b); err != nil || d.t == nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not JSON", b)
		}
		if s := d.t.Unix(); s < -maxNumericDate-1 || s > maxNumericDate {
			t.Fatalf("accepted %q as %d s", b, s)
		}
	})
}
