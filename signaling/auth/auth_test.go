package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

var (
	testSecret = []byte("test-secret-0123456789abcdefghijklmnop")
	testNow    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

type keys struct {
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
	rsaPE []byte // PEM of the RSA public key
}

func genKeys(t *testing.T) keys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return keys{rsa: rk, ec: ek, ed: dk, rsaPE: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

// base returns valid claims relative to testNow.
func base() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "alice",
		"name": "Alice",
		"role": "interviewer",
		"iat":  testNow.Add(-time.Minute).Unix(),
		"exp":  testNow.Add(time.Hour).Unix(),
	}
}

func with(mods func(jwt.MapClaims)) jwt.MapClaims {
	c := base()
	mods(c)
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newV(t *testing.T, cfg Config) *Validator {
	t.Helper()
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return testNow }
	return v
}

func TestValidateMatrix(t *testing.T) {
	k := genKeys(t)
	hs := newV(t, Config{HMACSecret: testSecret, Leeway: 30 * time.Second})
	all := newV(t, Config{
		HMACSecret: testSecret,
		PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey, &k.ec.PublicKey, k.ed.Public()},
		Algorithms: []string{"HS256", "RS256", "ES256", "EdDSA"},
	})
	rsOnly := newV(t, Config{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}})
	// HS256 and RS256 both allowed, with an unrelated HMAC secret: the confusion attack
	// must still fail because HS tokens are only checked against the HMAC secret.
	hsrs := newV(t, Config{HMACSecret: testSecret, PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}, Algorithms: []string{"HS256", "RS256"}})
	issAud := newV(t, Config{HMACSecret: testSecret, Issuer: "https://issuer.example", Audience: "earshot"})
	small := newV(t, Config{HMACSecret: testSecret, MaxTokenSize: 200})
	otherSecret := []byte("another-secret-0123456789abcdefghijklmn")

	noneTok := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hsTok := sign(t, jwt.SigningMethodHS256, testSecret, base())
	critTok := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, base())
		tok.Header["crit"] = []string{"x"}
		tok.Header["x"] = 1
		s, err := tok.SignedString(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	cases := []struct {
		name     string
		v        *Validator
		token    string
		code     string // "" = valid
		msg      string // substring of the message
		role     string
		sessions []string
		anySess  bool
	}{
		{name: "valid HS256", v: hs, token: hsTok, role: "interviewer", anySess: true},
		{name: "valid HS256 on multi-key validator", v: all, token: hsTok, role: "interviewer", anySess: true},
		{name: "valid RS256", v: all, token: sign(t, jwt.SigningMethodRS256, k.rsa, base()), role: "interviewer", anySess: true},
		{name: "valid RS256 rs-only", v: rsOnly, token: sign(t, jwt.SigningMethodRS256, k.rsa, base()), role: "interviewer", anySess: true},
		{name: "valid ES256", v: all, token: sign(t, jwt.SigningMethodES256, k.ec, base()), role: "interviewer", anySess: true},
		{name: "valid EdDSA", v: all, token: sign(t, jwt.SigningMethodEdDSA, k.ed, base()), role: "interviewer", anySess: true},
		{name: "missing", v: hs, token: "", code: protocol.CodeUnauthorized, msg: "missing"},
		{name: "garbage", v: hs, token: "not-a-jwt", code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "two segments", v: hs, token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0", code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "bad base64 payload", v: hs, token: "eyJhbGciOiJIUzI1NiJ9.!!!.sig", code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "bad signature", v: hs, token: sign(t, jwt.SigningMethodHS256, otherSecret, base()), code: protocol.CodeUnauthorized, msg: "signature invalid"},
		{name: "tampered payload", v: hs, token: tamper(hsTok), code: protocol.CodeUnauthorized, msg: "signature invalid"},
		{name: "alg none", v: hs, token: noneTok, code: protocol.CodeUnauthorized, msg: `"none" is not allowed`},
		{name: "alg none on multi-key", v: all, token: noneTok, code: protocol.CodeUnauthorized, msg: `"none" is not allowed`},
		{name: "HS256 not allowed", v: rsOnly, token: hsTok, code: protocol.CodeUnauthorized, msg: `"HS256" is not allowed`},
		{name: "HS/RS confusion rs-only", v: rsOnly, token: sign(t, jwt.SigningMethodHS256, k.rsaPE, base()), code: protocol.CodeUnauthorized, msg: "not allowed"},
		{name: "HS/RS confusion hs+rs", v: hsrs, token: sign(t, jwt.SigningMethodHS256, k.rsaPE, base()), code: protocol.CodeUnauthorized, msg: "signature invalid"},
		{name: "RS384 not allowed", v: rsOnly, token: sign(t, jwt.SigningMethodRS384, k.rsa, base()), code: protocol.CodeUnauthorized, msg: `"RS384" is not allowed`},
		{name: "unknown alg", v: hs, token: "eyJhbGciOiJYWVoiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhIn0.c2ln", code: protocol.CodeUnauthorized, msg: `"XYZ" is not allowed`},
		{name: "ES256 signed by other key", v: all, token: sign(t, jwt.SigningMethodES256, mustEC(t), base()), code: protocol.CodeUnauthorized, msg: "signature invalid"},
		{name: "expired", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Minute).Unix() })), code: protocol.CodeTokenExpired, msg: "expired"},
		{name: "expired within leeway", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-10 * time.Second).Unix() })), role: "interviewer", anySess: true},
		{name: "expired with bad signature is unauthorized", v: hs, token: sign(t, jwt.SigningMethodHS256, otherSecret, with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Hour).Unix() })), code: protocol.CodeUnauthorized, msg: "signature invalid"},
		{name: "no exp", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { delete(c, "exp") })), code: protocol.CodeUnauthorized, msg: "no exp"},
		{name: "exp not a number", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "exp a number in a string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(testNow.Add(time.Hour).Unix()) })), code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "exp beyond year 9999", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = 1e20 })), code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "exp fractional", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = float64(testNow.Add(time.Hour).Unix()) + 0.5 })), role: "interviewer", anySess: true},
		{name: "exp far past is expired", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["exp"] = -1 })), code: protocol.CodeTokenExpired, msg: "expired"},
		{name: "nbf a number in a string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["nbf"] = "1" })), code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "crit header", v: hs, token: critTok, code: protocol.CodeUnauthorized, msg: "crit"},
		{name: "nbf in future", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(5 * time.Minute).Unix() })), code: protocol.CodeUnauthorized, msg: "not valid yet"},
		{name: "nbf within leeway", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(20 * time.Second).Unix() })), role: "interviewer", anySess: true},
		{name: "iat in future beyond leeway", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(5 * time.Minute).Unix() })), code: protocol.CodeUnauthorized, msg: "issued in the future"},
		{name: "iat within leeway", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(20 * time.Second).Unix() })), role: "interviewer", anySess: true},
		{name: "iss and aud match", v: issAud, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iss"] = "https://issuer.example"; c["aud"] = []string{"other", "earshot"} })), role: "interviewer", anySess: true},
		{name: "wrong aud", v: issAud, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iss"] = "https://issuer.example"; c["aud"] = "other" })), code: protocol.CodeUnauthorized, msg: "audience"},
		{name: "missing aud", v: issAud, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iss"] = "https://issuer.example" })), code: protocol.CodeUnauthorized, msg: "no aud claim"},
		{name: "missing iss", v: issAud, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["aud"] = "earshot" })), code: protocol.CodeUnauthorized, msg: "no iss claim"},
		{name: "wrong iss", v: issAud, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example"; c["aud"] = "earshot" })), code: protocol.CodeUnauthorized, msg: "issuer"},
		{name: "aud not checked when unconfigured", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["aud"] = "anything"; c["iss"] = "x" })), role: "interviewer", anySess: true},
		{name: "oversized", v: small, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["name"] = strings.Repeat("x", 300) })), code: protocol.CodeUnauthorized, msg: "too large"},
		{name: "oversized default 8 KiB", v: hs, token: strings.Repeat("a", DefaultMaxTokenSize+1), code: protocol.CodeUnauthorized, msg: "too large"},
		{name: "missing sub", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { delete(c, "sub") })), code: protocol.CodeUnauthorized, msg: "no sub"},
		{name: "empty sub", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sub"] = "" })), code: protocol.CodeUnauthorized, msg: "no sub"},
		{name: "numeric sub", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sub"] = 42 })), code: protocol.CodeUnauthorized, msg: "malformed"},
		{name: "bad role", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["role"] = "superuser" })), code: protocol.CodeUnauthorized, msg: `role "superuser"`},
		{name: "role not a string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["role"] = []string{"admin"} })), code: protocol.CodeUnauthorized, msg: "role claim is not a string"},
		{name: "role absent defaults", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { delete(c, "role") })), role: DefaultRole, anySess: true},
		{name: "role admin", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["role"] = "admin" })), role: "admin", anySess: true},
		{name: "role observer", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["role"] = "observer" })), role: "observer", anySess: true},
		{name: "name not a string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["name"] = 7 })), code: protocol.CodeUnauthorized, msg: "name claim"},
		{name: "sessions list", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = []string{"s1", "s2"} })), role: "interviewer", sessions: []string{"s1", "s2"}},
		{name: "sessions empty list", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = []string{} })), role: "interviewer", sessions: []string{}},
		{name: "sessions null", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = nil })), role: "interviewer", anySess: true},
		{name: "sessions a string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = "s1" })), code: protocol.CodeUnauthorized, msg: "sessions claim"},
		{name: "sessions numbers", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = []int{1, 2} })), code: protocol.CodeUnauthorized, msg: "sessions claim"},
		{name: "sessions mixed", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = []any{"s1", map[string]any{}} })), code: protocol.CodeUnauthorized, msg: "sessions claim"},
		{name: "sessions empty string", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = []string{""} })), code: protocol.CodeUnauthorized, msg: "sessions claim"},
		{name: "sessions object", v: hs, token: sign(t, jwt.SigningMethodHS256, testSecret, with(func(c jwt.MapClaims) { c["sessions"] = map[string]any{"s1": true} })), code: protocol.CodeUnauthorized, msg: "sessions claim"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Validate(tc.token)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if c.Subject != "alice" || c.Role != tc.role {
					t.Fatalf("claims = %+v, want sub alice role %s", c, tc.role)
				}
				if tc.anySess != (c.Sessions == nil) {
					t.Fatalf("sessions = %#v, want any=%v", c.Sessions, tc.anySess)
				}
				if !tc.anySess && strings.Join(c.Sessions, ",") != strings.Join(tc.sessions, ",") {
					t.Fatalf("sessions = %#v, want %#v", c.Sessions, tc.sessions)
				}
				if c.ExpiresAt.IsZero() {
					t.Fatal("ExpiresAt not set")
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *protocol.Error %s", err, err, tc.code)
			}
			if pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("err = %s: %s, want %s containing %q", pe.Code, pe.Message, tc.code, tc.msg)
			}
			if tc.token != "" && len(tc.token) > 20 && strings.Contains(pe.Message, tc.token[len(tc.token)-20:]) {
				t.Fatalf("message leaks the token: %s", pe.Message)
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"alice"`, `"mallory"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewValidatorRefuses(t *testing.T) {
	k := genKeys(t)
	cases := []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"nothing", Config{}, "no HMAC secret"},
		{"short secret", Config{HMACSecret: []byte("short")}, "at least 32"},
		{"none", Config{HMACSecret: testSecret, Algorithms: []string{"none"}}, `"none"`},
		{"unknown", Config{HMACSecret: testSecret, Algorithms: []string{"HS1"}}, `"HS1"`},
		{"RS256 without key", Config{HMACSecret: testSecret, Algorithms: []string{"HS256", "RS256"}}, "no RSA public key"},
		{"HS256 without secret", Config{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}, Algorithms: []string{"HS256"}}, "no HMAC secret key"},
		{"private key", Config{PublicKeys: []crypto.PublicKey{k.rsa}}, "unsupported type"},
		{"negative leeway", Config{HMACSecret: testSecret, Leeway: -time.Second}, "leeway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewValidator(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want containing %q", err, tc.msg)
			}
		})
	}
}

func TestDefaultAlgorithms(t *testing.T) {
	k := genKeys(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	v, err := NewValidator(Config{HMACSecret: testSecret, PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey, &k.ec.PublicKey, &p384.PublicKey, k.ed.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.Algorithms(), ","); got != "HS256,RS256,ES256,ES384,EdDSA" {
		t.Fatalf("algorithms = %s", got)
	}
}

func TestMintRoundTrip(t *testing.T) {
	v, err := NewValidator(Config{HMACSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Mint(testSecret, Claims{Subject: "bob", Name: "Bob", Role: "candidate", Sessions: []string{"s1"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Validate(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "bob" || c.Name != "Bob" || c.Role != "candidate" || !c.MayJoin("s1") || c.MayJoin("s2") {
		t.Fatalf("claims = %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Fatalf("exp in %v", d)
	}
	// Sessions nil → claim absent → any session.
	tok, err = Mint(testSecret, Claims{Subject: "bob"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = v.Validate(tok); err != nil || c.Sessions != nil || !c.MayJoin("anything") || c.Role != DefaultRole {
		t.Fatalf("claims = %+v, %v", c, err)
	}
	// Already expired (ExpiresAt in the past) → TOKEN_EXPIRED.
	tok, err = Mint(testSecret, Claims{Subject: "bob", ExpiresAt: time.Now().Add(-time.Hour)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var pe *protocol.Error
	if _, err = v.Validate(tok); !errors.As(err, &pe) || pe.Code != protocol.CodeTokenExpired {
		t.Fatalf("err = %v", err)
	}
	if _, err := Mint(testSecret, Claims{}, time.Hour); err == nil {
		t.Fatal("mint without subject succeeded")
	}
}

func TestLoadPublicKeyPEM(t *testing.T) {
	k := genKeys(t)
	der := func(pub any) []byte {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	enc := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	for name, in := range map[string][]byte{
		"rsa pkix":  k.rsaPE,
		"rsa pkcs1": enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)),
		"ecdsa":     enc("PUBLIC KEY", der(&k.ec.PublicKey)),
		"ed25519":   enc("PUBLIC KEY", der(k.ed.Public())),
	} {
		t.Run(name, func(t *testing.T) {
			pub, err := LoadPublicKeyPEM(in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewValidator(Config{PublicKeys: []crypto.PublicKey{pub}}); err != nil {
				t.Fatal(err)
			}
		})
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(k.rsa)
	if _, err := LoadPublicKeyPEM(enc("PRIVATE KEY", priv)); err == nil || !strings.Contains(err.Error(), "not a public key") {
		t.Fatalf("private key: err = %v", err)
	}
	if _, err := LoadPublicKeyPEM([]byte("hello")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func BenchmarkValidateHS256(b *testing.B) {
	v, err := NewValidator(Config{HMACSecret: testSecret, Leeway: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := Mint(testSecret, Claims{Subject: "alice", Name: "Alice", Role: "interviewer", Sessions: []string{"s1", "s2"}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// MintWith writes the algorithm, issuer and audience a validator requires; a
// validator expecting others refuses the token.
func TestMintWithIssuerAudience(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef-mint")
	o := MintOptions{Algorithm: "HS512", Issuer: "https://issuer.example.org", Audience: "earshot"}
	tok, err := MintWith(secret, Claims{Subject: "alice", Role: "interviewer"}, time.Hour, o)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(Config{HMACSecret: secret, Algorithms: []string{"HS512"}, Issuer: o.Issuer, Audience: o.Audience})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Validate(tok); err != nil || c.Subject != "alice" {
		t.Fatalf("Validate = %+v, %v", c, err)
	}
	for name, cfg := range map[string]Config{
		"other issuer":   {HMACSecret: secret, Algorithms: []string{"HS512"}, Issuer: "https://other.example.org"},
		"other audience": {HMACSecret: secret, Algorithms: []string{"HS512"}, Audience: "someone-else"},
		"HS256 only":     {HMACSecret: secret, Algorithms: []string{"HS256"}},
	} {
		v, err := NewValidator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Validate(tok); err == nil {
			t.Errorf("%s: token accepted", name)
		}
	}
	if _, err := MintWith(secret, Claims{Subject: "alice"}, time.Hour, MintOptions{Algorithm: "RS256"}); err == nil {
		t.Error("MintWith signed RS256 with an HMAC secret")
	}
	if got := HMACAlgorithm([]string{"RS256", "HS384", "HS256"}); got != "HS384" {
		t.Errorf("HMACAlgorithm = %q, want HS384", got)
	}
	if got := HMACAlgorithm([]string{"RS256"}); got != "" {
		t.Errorf("HMACAlgorithm without HS* = %q", got)
	}
}
