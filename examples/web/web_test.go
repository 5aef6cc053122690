package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	cases := []struct {
		demo       bool
		path       string
		status     int
		bodyHas    string
		typePrefix string
	}{
		{true, "/", 200, "earshot", "text/html"},
		{true, "/client.js", 200, "export class EarshotClient", "text/javascript"},
		{true, "/demo.js", 200, "earshotDemo", "text/javascript"},
		{true, "/client.d.ts", 200, "ClientOptions", ""},
		{true, "/secret", 404, "", ""},
		{true, "/../go.mod", 404, "", ""},
		{false, "/", 404, "", ""},
		{false, "/demo.js", 404, "", ""},
		{false, "/client.js", 200, "EarshotClient", "text/javascript"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		Handler(c.demo).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.status {
			t.Errorf("demo=%v %s: status %d, want %d", c.demo, c.path, rec.Code, c.status)
			continue
		}
		if c.bodyHas != "" && !strings.Contains(string(body), c.bodyHas) {
			t.Errorf("demo=%v %s: body lacks %q", c.demo, c.path, c.bodyHas)
		}
		if ct := rec.Header().Get("Content-Type"); c.typePrefix != "" && !strings.HasPrefix(ct, c.typePrefix) {
			t.Errorf("demo=%v %s: content type %q", c.demo, c.path, ct)
		}
	}
	rec := httptest.NewRecorder()
	Handler(true).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
}
