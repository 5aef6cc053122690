package whisper

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"

	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// maxResponse bounds what is read from the server.
const maxResponse = 1 << 20

// client posts utterances to one /v1/audio/transcriptions endpoint.
type client struct {
	http    *http.Client
	url     string
	apiKey  string
	model   string
	format  string // json or verbose_json
	timeout time.Duration
}

// request holds the per-stream parts of a transcription request.
type request struct {
	rate     int
	language string
	prompt   string
}

// response is the union of the json and verbose_json answers (OpenAI,
// whisper.cpp and faster-whisper-server agree on these fields).
type response struct {
	Text     string    `json:"text"`
	Segments []segment `json:"segments"`
	Words    []word    `json:"words"`
}

type segment struct {
	Start      float64  `json:"start"`
	End        float64  `json:"end"`
	Text       string   `json:"text"`
	AvgLogprob *float64 `json:"avg_logprob"`
	Words      []word   `json:"words"`
}

type word struct {
	Word        string   `json:"word"`
	Start       float64  `json:"start"`
	End         float64  `json:"end"`
	Probability *float64 `json:"probability"`
}

// transcribe posts one utterance and turns the answer into a final result. Its
// failures are coded: BAD_CONFIG for what the user must fix (401, 403, 404: key,
// URL or model), UNAVAILABLE for what may pass (time-outs, 429, 5xx, connection
// errors), INTERNAL for an answer that is not the API's.
func (c *client) transcribe(ctx context.Context, req request, u Event) (sdk.Result, error) {
	body, contentType, err := c.form(req, u.Samples)
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "build request: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "build request: %v", err)
	}
	hreq.Header.Set("Content-Type", contentType)
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return sdk.Result{}, ctx.Err() // the stream ended; not the server's fault
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry credentials in its query
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.Result{}, sdk.Errorf(sdk.CodeUnavailable, "transcription server did not answer within %v", c.timeout)
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeUnavailable, "transcription server: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.Result{}, sdk.Errorf(sdk.CodeUnavailable, "transcription server did not answer within %v", c.timeout)
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeUnavailable, "read transcription: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		code := sdk.CodeUnavailable
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			code = sdk.CodeBadConfig
		}
		return sdk.Result{}, sdk.Errorf(code, "transcription server: HTTP %d: %s", resp.StatusCode, apiMessage(raw))
	}
	if len(raw) > maxResponse {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "transcription larger than %d bytes", maxResponse)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "transcription server sent invalid JSON: %v", err)
	}
	return result(r, u), nil
}

// form builds the multipart/form-data body: the WAV file and the parameters.
func (c *client) form(req request, samples []int16) (io.Reader, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if err := writeWAV(fw, samples, req.rate); err != nil {
		return nil, "", err
	}
	fields := [][2]string{{"model", c.model}, {"response_format", c.format}, {"temperature", "0"}}
	if req.language != "" {
		fields = append(fields, [2]string{"language", req.language})
	}
	if req.prompt != "" {
		// Whisper's prompt biases it towards these spellings (names, jargon).
		fields = append(fields, [2]string{"prompt", req.prompt})
	}
	if c.format == "verbose_json" {
		fields = append(fields, [2]string{"timestamp_granularities[]", "segment"},
			[2]string{"timestamp_granularities[]", "word"})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

// writeWAV writes samples as a 16-bit mono PCM WAV file.
func writeWAV(w io.Writer, samples []int16, rate int) error {
	data := uint32(len(samples) * 2)
	hdr := struct {
		Riff     [4]byte
		Size     uint32
		Wave     [4]byte
		Fmt      [4]byte
		FmtSize  uint32
		Format   uint16
		Channels uint16
		Rate     uint32
		ByteRate uint32
		Align    uint16
		Bits     uint16
		Data     [4]byte
		DataSize uint32
	}{
		[4]byte{'R', 'I', 'F', 'F'}, 36 + data, [4]byte{'W', 'A', 'V', 'E'},
		[4]byte{'f', 'm', 't', ' '}, 16, 1, 1, uint32(rate), uint32(rate * 2), 2, 16,
		[4]byte{'d', 'a', 't', 'a'}, data,
	}
	if err := binary.Write(w, binary.LittleEndian, &hdr); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, samples)
}

// result maps the server's answer onto the utterance's time line.
func result(r response, u Event) sdk.Result {
	res := sdk.Result{Text: cleanText(r.Text), Start: u.Begin, End: u.End, EndOfTurn: u.EndOfTurn}
	off := u.Start // server times are relative to the posted audio
	at := func(sec float64) time.Duration { return off + time.Duration(sec*float64(time.Second)) }
	words := r.Words
	if len(words) == 0 {
		for _, s := range r.Segments {
			words = append(words, s.Words...)
		}
	}
	var probSum float64
	var probN int
	for _, w := range words {
		text := strings.TrimSpace(w.Word)
		if text == "" {
			continue
		}
		wr := sdk.WordResult{Text: text, Start: at(w.Start), End: at(w.End)}
		if wr.End < wr.Start {
			wr.End = wr.Start
		}
		if w.Probability != nil {
			wr.Confidence = clamp01(*w.Probability)
			probSum += wr.Confidence
			probN++
		}
		res.Words = append(res.Words, wr)
	}
	switch {
	case probN > 0:
		res.Confidence = probSum / float64(probN)
	case len(r.Segments) > 0:
		// Segment log-probabilities → a per-token probability, averaged.
		var sum float64
		var n int
		for _, s := range r.Segments {
			if s.AvgLogprob != nil {
				sum += math.Exp(*s.AvgLogprob)
				n++
			}
		}
		if n > 0 {
			res.Confidence = clamp01(sum / float64(n))
		}
	}
	// Confidence stays 0 when the server reports nothing to base it on.
	return res
}

// cleanText drops whisper.cpp's non-speech markers ("[BLANK_AUDIO]",
// "(music)") and surrounding space.
func cleanText(s string) string {
	s = strings.TrimSpace(s)
	for _, pair := range [][2]string{{"[", "]"}, {"(", ")"}} {
		for {
			i := strings.Index(s, pair[0])
			j := strings.Index(s, pair[1])
			if i < 0 || j < i {
				break
			}
			s = strings.TrimSpace(s[:i] + " " + s[j+1:])
		}
	}
	return strings.Join(strings.Fields(s), " ")
}

func clamp01(f float64) float64 { return math.Max(0, math.Min(1, f)) }

// apiMessage extracts the message of an OpenAI-style error body.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = strconv.Quote("")
	}
	return s
}
