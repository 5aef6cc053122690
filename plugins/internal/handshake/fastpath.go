package handshake

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
)

// Hand-written encoding of the two messages sent once per audio frame: the PCM
// frame in (TranscribeRequest.audio) and the partial or final out
// (TranscribeResponse.partial/final without words). The reflection-driven
// protobuf code spends more CPU on these than the rest of the hop's Go code
// together. The output is byte for byte what proto.Marshal writes (fields in number
// order, zero values left out), and the decoders accept only the plain form they
// can decode exactly like proto.Unmarshal — anything else (other fields, words,
// repeated oneof members, invalid UTF-8, unknown fields) returns ok=false and goes
// through the protobuf library, so what the library accepts and refuses is
// unchanged. Tests and fuzz targets compare both ways against the library.

// Field numbers and wire types, from plugin.proto.
const (
	tagRequestAudio    byte = 2<<3 | byte(protowire.BytesType) // TranscribeRequest.audio
	tagFrameSamples    byte = 1<<3 | byte(protowire.BytesType) // PCMFrame.samples
	tagFrameStart      byte = 2<<3 | byte(protowire.VarintType)
	tagResponsePartial byte = 2<<3 | byte(protowire.BytesType) // TranscribeResponse.partial
	tagResponseFinal   byte = 3<<3 | byte(protowire.BytesType) // TranscribeResponse.final
	tagResultText      byte = 1<<3 | byte(protowire.BytesType)
	tagResultConf      byte = 2<<3 | byte(protowire.Fixed64Type)
	tagResultStart     byte = 3<<3 | byte(protowire.VarintType)
	tagResultEnd       byte = 4<<3 | byte(protowire.VarintType)
	tagResultEOT       byte = 6<<3 | byte(protowire.VarintType)
)

// fastSize returns an upper bound of the encoded size of m if the fast path
// encodes it, or ok=false.
func fastSize(m any) (int, bool) {
	switch m := m.(type) {
	case *pb.TranscribeRequest:
		if f := audioFrame(m); f != nil {
			return len(f.Samples) + 32, true
		}
	case *pb.TranscribeResponse:
		if r, _ := plainResult(m); r != nil {
			return len(r.Text) + 48, true
		}
	}
	return 0, false
}

// audioFrame returns m's frame if m is a plain audio request.
func audioFrame(m *pb.TranscribeRequest) *pb.PCMFrame {
	a, ok := m.Msg.(*pb.TranscribeRequest_Audio)
	if !ok || a.Audio == nil || len(m.ProtoReflect().GetUnknown()) > 0 || len(a.Audio.ProtoReflect().GetUnknown()) > 0 {
		return nil
	}
	return a.Audio
}

// plainResult returns m's result (and its tag) if m is a partial or final without
// words.
func plainResult(m *pb.TranscribeResponse) (*pb.Result, byte) {
	var r *pb.Result
	var tag byte
	switch v := m.Msg.(type) {
	case *pb.TranscribeResponse_Partial:
		r, tag = v.Partial, tagResponsePartial
	case *pb.TranscribeResponse_Final:
		r, tag = v.Final, tagResponseFinal
	}
	// Invalid UTF-8 is left to the library, which refuses to marshal it.
	if r == nil || len(r.Words) > 0 || !utf8.ValidString(r.Text) || len(m.ProtoReflect().GetUnknown()) > 0 || len(r.ProtoReflect().GetUnknown()) > 0 {
		return nil, 0
	}
	return r, tag
}

// fastAppend appends m's encoding to b; call it only when fastSize said ok.
func fastAppend(b []byte, m any) []byte {
	switch m := m.(type) {
	case *pb.TranscribeRequest:
		f := audioFrame(m)
		n := 0
		if len(f.Samples) > 0 {
			n += 1 + protowire.SizeBytes(len(f.Samples))
		}
		if f.StartNs != 0 {
			n += 1 + protowire.SizeVarint(uint64(f.StartNs))
		}
		b = append(b, tagRequestAudio)
		b = protowire.AppendVarint(b, uint64(n))
		if len(f.Samples) > 0 {
			b = append(b, tagFrameSamples)
			b = protowire.AppendBytes(b, f.Samples)
		}
		if f.StartNs != 0 {
			b = append(b, tagFrameStart)
			b = protowire.AppendVarint(b, uint64(f.StartNs))
		}
	case *pb.TranscribeResponse:
		r, tag := plainResult(m)
		conf := math.Float64bits(r.Confidence)
		n := 0
		if len(r.Text) > 0 {
			n += 1 + protowire.SizeBytes(len(r.Text))
		}
		if conf != 0 {
			n += 1 + 8
		}
		if r.StartNs != 0 {
			n += 1 + protowire.SizeVarint(uint64(r.StartNs))
		}
		if r.EndNs != 0 {
			n += 1 + protowire.SizeVarint(uint64(r.EndNs))
		}
		if r.EndOfTurn {
			n += 2
		}
		b = append(b, tag)
		b = protowire.AppendVarint(b, uint64(n))
		if len(r.Text) > 0 {
			b = append(b, tagResultText)
			b = protowire.AppendString(b, r.Text)
		}
		if conf != 0 {
			b = append(b, tagResultConf)
			b = protowire.AppendFixed64(b, conf)
		}
		if r.StartNs != 0 {
			b = append(b, tagResultStart)
			b = protowire.AppendVarint(b, uint64(r.StartNs))
		}
		if r.EndNs != 0 {
			b = append(b, tagResultEnd)
			b = protowire.AppendVarint(b, uint64(r.EndNs))
		}
		if r.EndOfTurn {
			b = append(b, tagResultEOT, 1)
		}
	}
	return b
}

// fastUnmarshal decodes b into m if b is in the plain form, or returns false
// having left m alone.
func fastUnmarshal(b []byte, m any) bool {
	switch m := m.(type) {
	case *pb.TranscribeRequest:
		inner, ok := onlyField(b, tagRequestAudio)
		if !ok {
			return false
		}
		var f pb.PCMFrame
		for len(inner) > 0 {
			num, typ, n := protowire.ConsumeTag(inner)
			if n < 0 {
				return false
			}
			inner = inner[n:]
			switch {
			case num == 1 && typ == protowire.BytesType:
				v, n := protowire.ConsumeBytes(inner)
				if n < 0 {
					return false
				}
				f.Samples = append([]byte{}, v...)
				inner = inner[n:]
			case num == 2 && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(inner)
				if n < 0 {
					return false
				}
				f.StartNs = int64(v)
				inner = inner[n:]
			default:
				return false
			}
		}
		m.Reset()
		m.Msg = &pb.TranscribeRequest_Audio{Audio: &f}
		return true
	case *pb.TranscribeResponse:
		if len(b) == 0 {
			return false
		}
		tag := b[0]
		if tag != tagResponsePartial && tag != tagResponseFinal {
			return false
		}
		inner, ok := onlyField(b, tag)
		if !ok {
			return false
		}
		r := &pb.Result{}
		for len(inner) > 0 {
			num, typ, n := protowire.ConsumeTag(inner)
			if n < 0 {
				return false
			}
			inner = inner[n:]
			switch {
			case num == 1 && typ == protowire.BytesType:
				v, n := protowire.ConsumeBytes(inner)
				if n < 0 || !utf8.Valid(v) {
					return false
				}
				r.Text = string(v)
				inner = inner[n:]
			case num == 2 && typ == protowire.Fixed64Type:
				v, n := protowire.ConsumeFixed64(inner)
				if n < 0 {
					return false
				}
				r.Confidence = math.Float64frombits(v)
				inner = inner[n:]
			case (num == 3 || num == 4 || num == 6) && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(inner)
				if n < 0 {
					return false
				}
				switch num {
				case 3:
					r.StartNs = int64(v)
				case 4:
					r.EndNs = int64(v)
				default:
					r.EndOfTurn = protowire.DecodeBool(v)
				}
				inner = inner[n:]
			default:
				return false
			}
		}
		m.Reset()
		if tag == tagResponsePartial {
			m.Msg = &pb.TranscribeResponse_Partial{Partial: r}
		} else {
			m.Msg = &pb.TranscribeResponse_Final{Final: r}
		}
		return true
	}
	return false
}

// onlyField returns the payload of b if b is exactly one length-delimited field
// with the one-byte tag.
func onlyField(b []byte, tag byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != tag {
		return nil, false
	}
	v, n := protowire.ConsumeBytes(b[1:])
	if n < 0 || 1+n != len(b) {
		return nil, false
	}
	return v, true
}
