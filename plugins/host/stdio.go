package host

import (
	"bytes"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLogLine bounds one logged line of a plugin's stdout or stderr; a longer line
// is logged in pieces of this size.
const maxLogLine = 8 << 10

// lineLogger logs what a plugin writes to its os.Stdout or os.Stderr once it
// serves (go-plugin's ClientConfig.SyncStdout/SyncStderr: the plugin's writes come
// over the connection, in pieces that need not end at line ends), one entry per
// line: at the level a "[WARN]"-style prefix names, else at debug, as go-plugin
// does with the lines of the plugin's original stderr.
type lineLogger struct {
	log hclog.Logger

	mu  sync.Mutex
	buf []byte // the line so far
}

// Write never fails: a plugin's output is not worth stopping for.
func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		if room := maxLogLine - len(w.buf); len(part) > room {
			w.buf = append(w.buf, part[:room]...)
			p = p[room:]
			w.emit()
			continue
		}
		w.buf = append(w.buf, part...)
		if i < 0 {
			break
		}
		p = p[i+1:]
		w.emit()
	}
	return n, nil
}

// flush logs an unfinished last line.
func (w *lineLogger) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit()
}

func (w *lineLogger) emit() {
	line := strings.TrimRight(string(w.buf), "\r")
	w.buf = w.buf[:0]
	if strings.TrimSpace(line) == "" {
		return
	}
	switch {
	case strings.HasPrefix(line, "[TRACE]"):
		w.log.Trace(line)
	case strings.HasPrefix(line, "[DEBUG]"):
		w.log.Debug(line)
	case strings.HasPrefix(line, "[INFO]"):
		w.log.Info(line)
	case strings.HasPrefix(line, "[WARN]"):
		w.log.Warn(line)
	case strings.HasPrefix(line, "[ERROR]"):
		w.log.Error(line)
	default:
		w.log.Debug(line)
	}
}
