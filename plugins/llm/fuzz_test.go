package llm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseStream feeds arbitrary server output to the SSE parser: it must never
// panic, never read past its bound, and only deliver content it was sent.
func FuzzParseStream(f *testing.F) {
	for _, seed := range []string{
		"data: {\"choices\":[{\"delta\":{\"content\":\"- a\"}}]}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n",
		": ping\nevent: message\nid: 7\nretry: 100\ndata:{\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\r\n\r\n",
		"data: {not json\n\ndata: {\"choices\":[]}\n\ndata: {\"id\":\"1\"}\n\n",
		"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":null}}]}\n\n",
		"data: " + strings.Repeat("a", 5000) + "\n\n",
		"",
		"\x00\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 4096
		var got strings.Builder
		_, _ = parseStream(strings.NewReader(string(b)), limit, func(s string) error {
			got.WriteString(s)
			return nil
		})
		// JSON decoding may expand escapes (\u00e9 is 6 bytes for 2) but never
		// produce more runes than the bytes read.
		if utf8.RuneCountInString(got.String()) > limit+1 {
			t.Fatalf("delivered %d runes from a %d-byte bound", utf8.RuneCountInString(got.String()), limit)
		}
		_ = errorMessage(b)
		_, _ = parseWhole(strings.NewReader(string(b)), limit)
	})
}
