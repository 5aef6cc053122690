package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// message is one chat message of the request.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string    `json:"model"`
	Messages    []message `json:"messages"`
	Stream      bool      `json:"stream"`
	Temperature float64   `json:"temperature"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
}

// httpError is a non-2xx answer from the server.
type httpError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *httpError) Error() string {
	return fmt.Sprintf("chat completions: HTTP %d: %s", e.Status, e.Message)
}

// retryable reports whether a failed attempt may be retried: connection
// failures, 429 and 5xx. Time-outs are not retried: the answer would be stale
// by the time a retry finished.
func retryable(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF)
}

// client talks to one OpenAI-compatible chat-completions endpoint.
type client struct {
	http        *http.Client
	url         string
	apiKey      string
	timeout     time.Duration
	maxRetries  int
	maxBytes    int64
	backoffBase time.Duration
}

// attemptResult is what one streamed completion produced.
type attemptResult struct {
	gotContent bool
	stream     streamResult
}

// complete runs a chat completion, calling onDelta with each piece of content
// as it arrives. It retries retryable failures that happen before any content
// arrived (after that a retry would repeat text the user already sees), up to
// maxRetries times with exponential backoff and jitter, honouring Retry-After.
func (c *client) complete(ctx context.Context, req chatRequest, onDelta func(string) error, onRetry func(attempt int, err error, wait time.Duration)) (attemptResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return attemptResult{}, fmt.Errorf("encode chat request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		res, err := c.attempt(ctx, body, onDelta)
		if err == nil || res.gotContent || attempt >= c.maxRetries || !retryable(err) || ctx.Err() != nil {
			return res, err
		}
		wait := c.backoff(attempt)
		var he *httpError
		if errors.As(err, &he) && he.RetryAfter > wait {
			wait = min(he.RetryAfter, 10*time.Second)
		}
		if onRetry != nil {
			onRetry(attempt+1, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *client) backoff(attempt int) time.Duration {
	d := c.backoffBase << attempt
	if d <= 0 || d > 4*time.Second {
		d = 4 * time.Second
	}
	// Full jitter on the upper half, so concurrent sessions spread out.
	return d/2 + rand.N(d/2+1)
}

func (c *client) attempt(ctx context.Context, body []byte, onDelta func(string) error) (attemptResult, error) {
	var res attemptResult
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("chat request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return res, deadline(ctx, fmt.Errorf("chat completions: %w", scrubURL(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		he := &httpError{Status: resp.StatusCode, Message: errorMessage(b)}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		return res, he
	}
	wrapped := func(s string) error {
		res.gotContent = true
		return onDelta(s)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" {
		text, err := parseWhole(resp.Body, c.maxBytes)
		if err != nil {
			return res, deadline(ctx, err)
		}
		res.stream.done = true
		return res, wrapped(text)
	}
	res.stream, err = parseStream(resp.Body, c.maxBytes, wrapped)
	return res, deadline(ctx, err)
}

// deadline reports a read cut short by the attempt's time-out as a time-out,
// whatever error the transport surfaced.
func deadline(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return err
}

// scrubURL drops the URL from a *url.Error: base URLs may carry credentials in
// their query string (Azure-style api-key=…), which must not reach the log.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
