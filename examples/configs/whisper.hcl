# A custom transcriber: the example plugin in examples/whisper-transcriber, sending
# each utterance to an OpenAI-compatible /v1/audio/transcriptions server (whisper.cpp,
# faster-whisper-server, OpenAI). Build it first:
#   go build -o bin/earshot-plugin-whisper ./examples/whisper-transcriber

auth { hmac_secret = env("JWT_SECRET") }

plugin "audio" {}
plugin "whisper" {}
plugin "coach" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "whisper" {
    base_url = env("WHISPER_URL", "http://127.0.0.1:8081")
  }
  suggester "coach" {}
}
