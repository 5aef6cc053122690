# Two pipelines: sessions pick one with session:join {"pipeline": "..."}; the default
# is used otherwise. The "dictation" pipeline has no suggester and relays audio.

auth { hmac_secret = env("JWT_SECRET") }

plugin "audio" {}
plugin "sphinx" {}
plugin "coach" {}

default_pipeline = "interview"

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" { endpoint_silence = "500ms" }
  suggester "coach" {}
}

pipeline "dictation" {
  relay_audio = true
  decoder "audio" {}
  transcriber "sphinx" { endpoint_silence = "1s" }
}
