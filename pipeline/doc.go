// Package pipeline is the stream and session runtime: one pipeline instance per audio
// stream (decoder → transcriber), one suggester stream per session, the bounded
// queues between the stages, utterance ids and revisions, replay after a plugin
// restart, and the publishing of results to the session.
package pipeline
