// Package web serves the browser client (/client.js, /client.d.ts) and the demo page
// (/) from files embedded in the binary, so they need no build step and no files on
// disk next to the daemon.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html demo.js demo.css client.js client.d.ts
var files embed.FS

// Handler serves the demo page at "/" and the client library at "/client.js". When
// demo is false only the client library (client.js, client.d.ts) is served.
func Handler(demo bool) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/client.js", "/client.d.ts":
		case "/", "/index.html", "/demo.js", "/demo.css":
			if !demo {
				http.NotFound(w, r)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			// The page loads only its own scripts and talks only to its own origin.
			w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'")
		}
		fileServer.ServeHTTP(w, r)
	})
}

// Files exposes the embedded files (for tests and tools).
func Files() fs.FS { return files }
