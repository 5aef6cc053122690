// Package auth validates the JWTs that clients present at the WebSocket handshake and
// finds them in the places the protocol allows (Authorization header, ?token= query,
// the auth object of the first frame or of the Socket.IO CONNECT packet).
//
// Every refusal is a *protocol.Error (UNAUTHORIZED or TOKEN_EXPIRED) whose message
// says what was wrong without echoing the token or the key.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// DefaultMaxTokenSize is the longest token accepted when Config.MaxTokenSize is zero (8 KiB).
const DefaultMaxTokenSize = 8192

// DefaultRole is the role of a token that carries no role claim. It is the least
// privileged participant role: it may join sessions but not change their status.
const DefaultRole = protocol.RoleCandidate

// MinHMACSecretSize is the shortest HMAC secret NewValidator accepts (RFC 7518 §3.2:
// a key at least as long as the HS256 hash output).
const MinHMACSecretSize = 32

// Claims is what the gateway uses from a valid token.
type Claims struct {
	Subject string // sub: user id (required)
	Name    string // name (optional; empty when absent)
	Role    string // role: interviewer | candidate | observer | admin (DefaultRole when absent)
	// Sessions lists the session ids the user may join. nil means any session (claim
	// absent or null); an empty non-nil slice means none.
	Sessions  []string
	ExpiresAt time.Time // exp (always set on a validated token)
}

// MayJoin reports whether the sessions claim allows joining sessionID.
func (c Claims) MayJoin(sessionID string) bool {
	return c.Sessions == nil || slices.Contains(c.Sessions, sessionID)
}

// Config says which tokens a Validator accepts.
type Config struct {
	// HMACSecret verifies HS256/HS384/HS512 tokens (JWT_SECRET). At least
	// MinHMACSecretSize bytes when set.
	HMACSecret []byte
	// PublicKeys verify RS*/PS* (*rsa.PublicKey), ES* (*ecdsa.PublicKey) and EdDSA
	// (ed25519.PublicKey) tokens. LoadPublicKeyPEM reads them from PEM.
	PublicKeys []crypto.PublicKey
	// Algorithms is the allow-list of JWS "alg" values. When empty: HS256 if
	// HMACSecret is set, plus the natural algorithm of each public key (RS256 for
	// RSA, ES256/ES384/ES512 by curve for ECDSA, EdDSA for Ed25519). "none" is never
	// accepted.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// Issuer and Audience, when set, must match the iss and aud claims.
	Issuer, Audience string
	// MaxTokenSize is the longest token accepted, in bytes (DefaultMaxTokenSize when 0).
	MaxTokenSize int
}

// Validator checks tokens against a Config. It is safe for concurrent use.
type Validator struct {
	hmacSecret []byte
	rsaKeys    []any
	ecKeys     []any
	edKeys     []any
	algs       []string
	maxSize    int
	parser     *jwt.Parser
	now        func() time.Time
}

var knownAlgs = map[string]string{ // alg → key family
	"HS256": "hmac", "HS384": "hmac", "HS512": "hmac",
	"RS256": "rsa", "RS384": "rsa", "RS512": "rsa",
	"PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
	"ES256": "ec", "ES384": "ec", "ES512": "ec",
	"EdDSA": "ed",
}

// NewValidator checks cfg and builds a Validator. It refuses configurations that
// could never verify a token or that would weaken verification: an allowed algorithm
// without a key of its family, "none", an unknown algorithm, a short HMAC secret.
func NewValidator(cfg Config) (*Validator, error) {
	v := &Validator{maxSize: cfg.MaxTokenSize, now: time.Now}
	if v.maxSize <= 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: leeway must not be negative")
	}
	if len(cfg.HMACSecret) > 0 {
		if len(cfg.HMACSecret) < MinHMACSecretSize {
			return nil, fmt.Errorf("auth: HMAC secret is %d bytes, need at least %d", len(cfg.HMACSecret), MinHMACSecretSize)
		}
		v.hmacSecret = slices.Clone(cfg.HMACSecret)
	}
	var natural []string
	if v.hmacSecret != nil {
		natural = append(natural, "HS256")
	}
	for i, k := range cfg.PublicKeys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			v.rsaKeys = append(v.rsaKeys, k)
			natural = append(natural, "RS256")
		case *ecdsa.PublicKey:
			v.ecKeys = append(v.ecKeys, k)
			switch k.Curve {
			case elliptic.P256():
				natural = append(natural, "ES256")
			case elliptic.P384():
				natural = append(natural, "ES384")
			case elliptic.P521():
				natural = append(natural, "ES512")
			default:
				return nil, fmt.Errorf("auth: public key %d: unsupported ECDSA curve", i)
			}
		case ed25519.PublicKey:
			v.edKeys = append(v.edKeys, k)
			natural = append(natural, "EdDSA")
		default:
			return nil, fmt.Errorf("auth: public key %d: unsupported type %T", i, k)
		}
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = natural
	}
	if len(algs) == 0 {
		return nil, errors.New("auth: no HMAC secret and no public key configured")
	}
	for _, a := range algs {
		fam, ok := knownAlgs[a]
		if !ok {
			return nil, fmt.Errorf("auth: algorithm %q is not supported", a)
		}
		if !v.hasFamily(fam) {
			return nil, fmt.Errorf("auth: algorithm %s is allowed but no %s key is configured", a, familyName[fam])
		}
		if !slices.Contains(v.algs, a) {
			v.algs = append(v.algs, a)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

var familyName = map[string]string{"hmac": "HMAC secret", "rsa": "RSA public", "ec": "ECDSA public", "ed": "Ed25519 public"}

func (v *Validator) hasFamily(fam string) bool {
	switch fam {
	case "hmac":
		return v.hmacSecret != nil
	case "rsa":
		return len(v.rsaKeys) > 0
	case "ec":
		return len(v.ecKeys) > 0
	case "ed":
		return len(v.edKeys) > 0
	}
	return false
}

// Algorithms returns the effective allow-list.
func (v *Validator) Algorithms() []string { return slices.Clone(v.algs) }

// keyFor picks the verification keys by the algorithm's family, never by what the
// token claims about its key: an HS256 token is only ever checked against the HMAC
// secret, so a token HMAC-signed with an RSA public key's bytes cannot pass.
func (v *Validator) keyFor(t *jwt.Token) (any, error) {
	switch knownAlgs[t.Method.Alg()] {
	case "hmac":
		if v.hmacSecret != nil {
			return v.hmacSecret, nil
		}
	case "rsa":
		return jwt.VerificationKeySet{Keys: toKeys(v.rsaKeys)}, nil
	case "ec":
		return jwt.VerificationKeySet{Keys: toKeys(v.ecKeys)}, nil
	case "ed":
		return jwt.VerificationKeySet{Keys: toKeys(v.edKeys)}, nil
	}
	return nil, errors.New("no key for algorithm")
}

func toKeys(ks []any) []jwt.VerificationKey {
	out := make([]jwt.VerificationKey, len(ks))
	for i, k := range ks {
		out[i] = k
	}
	return out
}

// tokenClaims is the JSON shape of the claims earshot reads. Name, role and sessions
// are decoded loosely (json.RawMessage) so that a wrong type gets a precise message
// instead of a generic "malformed".
//
// The times are decoded strictly (numericDate): jwt/v5 also takes a number in a
// string ("exp":"1790000000"), which RFC 7519 does not allow, and turns an exp
// beyond time.Time's range into a time in the past, which would tell the client
// that an absurd token had merely expired. These fields, being shallower than
// RegisteredClaims', are the ones JSON fills, and the Get* methods below, which
// jwt/v5's validator calls, are the ones it uses.
type tokenClaims struct {
	jwt.RegisteredClaims
	Expires   numericDate     `json:"exp"`
	NotBefore numericDate     `json:"nbf"`
	IssuedAt  numericDate     `json:"iat"`
	Name      json.RawMessage `json:"name,omitempty"`
	Role      json.RawMessage `json:"role,omitempty"`
	Sessions  json.RawMessage `json:"sessions,omitempty"`
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Expires.t, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.t, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.t, nil }

// maxNumericDate is 9999-12-31T23:59:59Z: a JWT time beyond it (either way) is
// refused as malformed.
const maxNumericDate = 253402300799

// numericDate is a JWT NumericDate (RFC 7519 §2): a JSON number of seconds since
// the epoch, possibly fractional; null is absent.
type numericDate struct{ t *jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		d.t = nil
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) || !json.Valid(b) {
		return errors.New("a JWT time must be a number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.Abs(f) > maxNumericDate {
		return errors.New("a JWT time must be a number of seconds within years 0-9999")
	}
	sec, frac := math.Modf(f)
	d.t = jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
	return nil
}

// Limits on claim contents, so a token cannot smuggle huge values into session state.
const (
	maxSessionsClaim = 1024
	maxClaimString   = 256
)

func unauthorized(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeUnauthorized, format, args...)
}

// Validate verifies token and returns its claims. Every failure is a *protocol.Error:
// TOKEN_EXPIRED for a correctly signed token past its exp (plus leeway), UNAUTHORIZED
// for everything else.
func (v *Validator) Validate(token string) (Claims, error) {
	if token == "" {
		return Claims{}, unauthorized("token missing")
	}
	if len(token) > v.maxSize {
		return Claims{}, unauthorized("token too large: %d bytes, limit %d", len(token), v.maxSize)
	}
	var tc tokenClaims
	tok, err := v.parser.ParseWithClaims(token, &tc, v.keyFor)
	if err != nil {
		return Claims{}, v.explain(token, err)
	}
	// RFC 7515 §4.1.11: a recipient must refuse critical header extensions it does
	// not understand, and earshot understands none.
	if _, ok := tok.Header["crit"]; ok {
		return Claims{}, unauthorized("token header lists critical extensions (crit), which this server does not support")
	}
	if tc.Subject == "" {
		return Claims{}, unauthorized("token has no sub claim")
	}
	if len(tc.Subject) > maxClaimString {
		return Claims{}, unauthorized("token sub claim longer than %d bytes", maxClaimString)
	}
	c := Claims{Subject: tc.Subject, ExpiresAt: tc.Expires.t.Time}
	if c.Name, err = optString(tc.Name, "name"); err != nil {
		return Claims{}, err
	}
	if c.Role, err = optString(tc.Role, "role"); err != nil {
		return Claims{}, err
	}
	switch c.Role {
	case "":
		c.Role = DefaultRole
	case protocol.RoleInterviewer, protocol.RoleCandidate, protocol.RoleObserver, protocol.RoleAdmin:
	default:
		return Claims{}, unauthorized("token role %q is not one of interviewer, candidate, observer, admin", truncate(c.Role, 32))
	}
	if c.Sessions, err = sessionsClaim(tc.Sessions); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func optString(raw json.RawMessage, claim string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", unauthorized("token %s claim is not a string", claim)
	}
	if len(s) > maxClaimString {
		return "", unauthorized("token %s claim longer than %d bytes", claim, maxClaimString)
	}
	return s, nil
}

func sessionsClaim(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, unauthorized("token sessions claim is not a list of strings")
	}
	if len(list) > maxSessionsClaim {
		return nil, unauthorized("token sessions claim lists more than %d sessions", maxSessionsClaim)
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || s == "" || len(s) > maxClaimString {
			return nil, unauthorized("token sessions claim is not a list of non-empty strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// explain turns a jwt/v5 error into a coded error with a message that names the
// failed check. Signature checks run before claim checks, so TOKEN_EXPIRED is only
// ever reported for a token that we signed (or that the configured key holder did).
func (v *Validator) explain(token string, err error) *protocol.Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return protocol.Errorf(protocol.CodeTokenExpired, "token expired")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("token malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		if alg, ok := headerAlg(token); ok && !slices.Contains(v.algs, alg) {
			return unauthorized("token algorithm %q is not allowed (allowed: %s)", truncate(alg, 16), strings.Join(v.algs, ", "))
		}
		if errors.Is(err, jwt.ErrTokenUnverifiable) {
			return unauthorized("token cannot be verified with the configured keys")
		}
		return unauthorized("token signature invalid")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// jwt/v5 names the claim only in its message ("aud claim is required").
		for _, claim := range []string{"exp", "aud", "iss"} {
			if strings.Contains(err.Error(), claim+" claim is required") {
				return unauthorized("token has no %s claim", claim)
			}
		}
		return unauthorized("token lacks a required claim")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized("token not valid yet (nbf in the future)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized("token issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized("token audience does not match")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthorized("token issuer does not match")
	}
	return unauthorized("token invalid")
}

// headerAlg reads the (unverified) alg of a token's header, only to say in the error
// message that the algorithm is not on the allow-list.
func headerAlg(token string) (string, bool) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(head, "="))
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
