package auth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Token sources, as returned by TokenFromRequest and used in logs and metrics.
const (
	SourceHeader = "header"
	SourceQuery  = "query"
	SourceAuth   = "auth" // the auth object (native auth frame, Socket.IO CONNECT payload)
)

// TokenFromRequest finds the token of an upgrade request: "Authorization: Bearer <t>"
// first, then the ?token= query parameter. An Authorization header with another
// scheme (Basic…) or an empty bearer token is ignored, so the query can still
// supply the token. ok is false when neither holds a token.
func TokenFromRequest(r *http.Request) (token, source string, ok bool) {
	if r == nil {
		return "", "", false
	}
	for _, h := range r.Header.Values("Authorization") {
		if t, found := bearer(h); found {
			return t, SourceHeader, true
		}
	}
	if r.URL != nil {
		// Query() ignores malformed pairs instead of failing the whole query.
		if t := strings.TrimSpace(r.URL.Query().Get("token")); t != "" {
			return t, SourceQuery, true
		}
	}
	return "", "", false
}

// bearer extracts the credentials of a "Bearer <token>" value (scheme case-insensitive,
// RFC 7235).
func bearer(v string) (string, bool) {
	v = strings.TrimSpace(v)
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t := strings.TrimSpace(rest)
	return t, t != ""
}

// TokenFromAuthPayload reads {"token":"…"} — the data of a native `auth` frame or the
// payload of a Socket.IO CONNECT packet. A "Bearer " prefix inside the value is
// tolerated (clients often reuse their Authorization header value). ok is false when
// raw is not an object or its token is missing, not a string or empty.
func TokenFromAuthPayload(raw json.RawMessage) (string, bool) {
	var p struct {
		Token *string `json:"token"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil || p.Token == nil {
		return "", false
	}
	t := strings.TrimSpace(*p.Token)
	if b, ok := bearer(t); ok {
		t = b
	}
	return t, t != ""
}

// redactedParams are query parameters whose values never reach a log.
var redactedParams = map[string]bool{"token": true, "access_token": true}

// RedactURL renders u for logs: the values of token= (and access_token=) in the
// query string become REDACTED, a userinfo password becomes xxxxx, and the
// fragment is dropped. The order and raw form of other parameters are kept.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		parts := strings.Split(c.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
			if redactedParams[k] || redactedParams[strings.ToLower(k)] {
				parts[i] = url.QueryEscape(k) + "=REDACTED"
			}
		}
		c.RawQuery = strings.Join(parts, "&")
	}
	c.ForceQuery = false
	return c.Redacted()
}
