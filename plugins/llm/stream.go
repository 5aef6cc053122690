package llm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits on what the chat-completions server may send.
const (
	// maxLineBytes bounds one SSE line.
	maxLineBytes = 256 << 10
	// maxErrorBody bounds the error body read from a failed response.
	maxErrorBody = 64 << 10
)

// errTooLarge ends a response that exceeds max_response_bytes.
var errTooLarge = errors.New("response exceeds max_response_bytes")

// streamResult says how a streamed response ended.
type streamResult struct {
	done      bool // the server sent "data: [DONE]" (or a finish_reason)
	malformed int  // data lines that were not a usable chunk
}

// chunk is one chat.completion.chunk (or an error object some servers send
// inside the stream).
type chunk struct {
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		// Message is used by servers that ignore "stream": true.
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Error *apiError `json:"error"`
}

// apiError is the OpenAI error object: {"error": {"message": …, "type": …, "code": …}}.
type apiError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

func (e *apiError) String() string {
	if e.Type != "" {
		return e.Type + ": " + e.Message
	}
	return e.Message
}

// parseStream reads a text/event-stream of chat.completion.chunk objects from r
// (at most maxBytes) and calls onDelta with each piece of content, in order. It
// skips comments, other SSE fields and malformed data lines (counted in the
// result), stops at "[DONE]" or a finish_reason, and returns an error when the
// server sends an error object, a line is too long, or the response is larger
// than maxBytes.
func parseStream(r io.Reader, maxBytes int64, onDelta func(string) error) (streamResult, error) {
	var res streamResult
	lr := &io.LimitedReader{R: r, N: maxBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			// Blank separators, ": comments", "event:", "id:", "retry:".
			continue
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			res.done = true
			return res, nil
		}
		var c chunk
		if err := json.Unmarshal(data, &c); err != nil {
			res.malformed++
			continue
		}
		if c.Error != nil {
			return res, fmt.Errorf("server error in stream: %s", c.Error)
		}
		if len(c.Choices) == 0 {
			// Usage-only chunks are legitimate; anything else is noise either way.
			res.malformed++
			continue
		}
		ch := c.Choices[0]
		if ch.Delta.Content != nil && *ch.Delta.Content != "" {
			if err := onDelta(*ch.Delta.Content); err != nil {
				return res, err
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			// The request asks for one choice and no usage chunk, so the
			// answer is complete: stop here rather than wait for a "[DONE]"
			// some servers never send while they keep the connection open.
			res.done = true
			return res, nil
		}
	}
	if lr.N <= 0 {
		return res, errTooLarge
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return res, fmt.Errorf("stream line longer than %d bytes", maxLineBytes)
		}
		return res, err
	}
	return res, nil
}

// parseWhole reads a non-streamed chat.completion (for servers that ignore
// "stream": true) and returns its content.
func parseWhole(r io.Reader, maxBytes int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > maxBytes {
		return "", errTooLarge
	}
	var c chunk
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("malformed chat completion: %w", err)
	}
	if c.Error != nil {
		return "", fmt.Errorf("server error: %s", c.Error)
	}
	if len(c.Choices) == 0 || c.Choices[0].Message.Content == nil {
		return "", errors.New("malformed chat completion: no choices[0].message.content")
	}
	return *c.Choices[0].Message.Content, nil
}

// errorMessage extracts a readable message from an error response body.
func errorMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj apiError
		if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
			return obj.String()
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return s
		}
	}
	text := string(bytes.TrimSpace(body))
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	return text
}
