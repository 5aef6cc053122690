// Package pipeline is the stream and session runtime: one pipeline instance per audio
// stream (decoder → transcriber), one suggester stream per session, the bounded
// queues between the stages, utterance ids and revisions, replay after a plugin
// restart, and the publishing of results to the session.
//
// The runtime depends on small interfaces it declares itself: a Publisher (the
// gateway's session fan-out) and the stage interfaces DecoderStage, TranscriberStage
// and SuggesterStage with their stream types (the plugin host's streams, adapted by
// package pipeline/hoststage). The gateway drives it through Runtime's methods and
// the Stream each OpenStream returns.
//
// Where things are:
//
//	runtime.go     Runtime: options, OpenStream, TranscribeClip, CloseSession, Close
//	stream.go      a stream's goroutines: the decoder and transcriber supervisors, their
//	               senders, backpressure, restarts and replay
//	transcript.go  transcriber events → transcription:* events, with the guarantees
//	session.go     a session's suggester stream and suggestion publishing
//	queue.go       the byte-bounded queue between stages
//	replay.go      what is kept for replay: transcriber inputs and decoder bytes
//	header.go      container header sniffers and resynchronisation for re-opened decoders
//
// docs/pipelines.md describes the model, the guarantees, fault handling and metrics.
package pipeline
