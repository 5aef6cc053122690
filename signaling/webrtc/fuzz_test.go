package webrtc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// minimalOffer is the smallest offer checkOffer accepts: one audio m-line.
const minimalOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"

// browserOffer is an offer from newBrowser (pion standing in for a browser: one
// Opus track), kept as text: a live peer connection in a fuzz worker keeps
// changing coverage and stalls the fuzzer.
const browserOffer = "v=0\r\no=- 6883874768737994014 1795685161 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=msid-semantic:WMS *\r\na=fingerprint:sha-256 0B:0C:C2:CC:D5:26:23:61:DE:2D:89:90:FB:F0:AD:03:08:FB:77:2B:9A:6B:3F:9B:37:EF:C1:9D:85:C5:94:5E\r\na=extmap-allow-mixed\r\na=cryptex\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 9 0 8\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=ice-ufrag:OTbFggSQxQjwbqNi\r\na=ice-pwd:miWJHzZQmynpDhRNIcMkJocOtVcGvAvr\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtcp-fb:111 transport-cc\r\na=rtpmap:9 G722/8000\r\na=rtcp-fb:9 transport-cc\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-fb:0 transport-cc\r\na=rtpmap:8 PCMA/8000\r\na=rtcp-fb:8 transport-cc\r\na=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=ssrc:3686633715 cname:mic\r\na=ssrc:3686633715 msid:mic audio\r\na=ssrc:3686633715 mslabel:mic\r\na=ssrc:3686633715 label:audio\r\na=msid:mic audio\r\na=sendrecv\r\n"

// FuzzCheckOffer: the offer's SDP comes from the browser. checkOffer never panics,
// refuses with a coded error, and accepts only what pion's own parser reads as an
// offer with a live audio m-line.
func FuzzCheckOffer(f *testing.F) {
	f.Add(browserOffer)
	f.Add(strings.Replace(browserOffer, "m=audio 9 UDP/TLS/RTP/SAVPF 111 9 0 8", "m=video 9 UDP/TLS/RTP/SAVPF 96", 1))
	f.Add(minimalOffer)
	f.Add(strings.Replace(minimalOffer, "m=audio 9", "m=audio 0", 1))
	f.Add("v=0\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		err := checkOffer(s)
		if err == nil {
			if len(s) > 64<<10 {
				t.Fatalf("accepted an offer of %d bytes", len(s))
			}
			parsed, perr := pionParse(s)
			if perr != nil {
				t.Fatalf("accepted an offer pion refuses: %v", perr)
			}
			audio := false
			for _, md := range parsed.MediaDescriptions {
				audio = audio || md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0
			}
			if !audio {
				t.Fatalf("accepted an offer without a live audio m-line:\n%q", s)
			}
			return
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("uncoded error: %v", err)
		}
		switch pe.Code {
		case protocol.CodeBadRequest:
		case protocol.CodeUnsupportedFormat:
			if _, perr := pionParse(s); perr != nil {
				t.Fatalf("unparsable SDP refused as %s, not %s: %v", pe.Code, protocol.CodeBadRequest, perr)
			}
		default:
			t.Fatalf("refused with code %s: %v", pe.Code, err)
		}
	})
}

// pionParse reads s as pion reads an offer it is given.
func pionParse(s string) (*sdp.SessionDescription, error) {
	d := pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: s}
	return d.Unmarshal()
}

// FuzzAddCandidate: webrtc:candidate carries the browser's ICE candidate, which
// AddCandidate hands to a live peer connection. It never panics and refuses a bad
// candidate with BAD_REQUEST; the peer stays up. The manager gathers on the
// loopback interface only, so candidates the fuzzer makes up are not probed
// beyond this machine.
func FuzzAddCandidate(f *testing.F) {
	open := func(context.Context, protocol.StreamSpec) (Stream, error) { return newRecordingStream(), nil }
	m, err := New(Options{Open: open, IncludeLoopback: true, Interfaces: []string{"lo"}, StopTimeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(m.Shutdown)
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "u", Emit: func(string, any) {}}
	if _, err := m.Offer(context.Background(), owner, browserOffer); err != nil {
		f.Fatalf("Offer: %v", err)
	}
	f.Add("candidate:1966762134 1 udp 2130706431 127.0.0.1 50000 typ host", "0", true, uint16(0), "")
	f.Add("candidate:1 1 UDP 1694498815 192.0.2.1 3478 typ srflx raddr 10.0.0.1 rport 5000 generation 0", "0", true, uint16(0), "abcd")
	f.Add("candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active", "", false, uint16(0), "")
	f.Add("candidate:3 1 udp 2113937151 4b1c2a3e-0000-4000-8000-000000000000.local 54321 typ host", "0", true, uint16(0), "")
	f.Add("candidate:x", "0", true, uint16(7), "")
	f.Add("", "", false, uint16(0), "")
	f.Fuzz(func(t *testing.T, cand, mid string, hasIndex bool, index uint16, ufrag string) {
		c := protocol.ICECandidate{Candidate: cand, UsernameFragment: &ufrag}
		if mid != "" {
			c.SDPMid = &mid
		}
		if hasIndex {
			c.SDPMLineIndex = &index
		}
		err := m.AddCandidate(context.Background(), owner, c)
		if err == nil {
			return
		}
		if cand == "" {
			t.Fatalf("end-of-candidates refused: %v", err)
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("uncoded error: %v", err)
		}
		switch pe.Code {
		case protocol.CodeBadRequest:
		case CodeNoPeer:
			// Only if the peer really went (ICE gave up on it), never for a bad candidate.
			if m.Count() != 0 {
				t.Fatalf("%s while the peer is up: %v", pe.Code, err)
			}
			t.Skip("the peer connection ended")
		default:
			t.Fatalf("refused with code %s: %v", pe.Code, err)
		}
	})
}
