# env() and file() in attributes and in stage bodies; file() is relative to this file.
server {
  listen          = env("EARSHOT_TEST_LISTEN", "127.0.0.1:0")
  allowed_origins = [env("EARSHOT_TEST_ORIGIN")]
}

auth {
  hmac_secret = trimspace(file("secret.txt"))
}

plugin "audio" {}
plugin "sphinx" {}
plugin "coach" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {
    endpoint_silence = env("EARSHOT_TEST_SILENCE", "500ms")
  }
  suggester "coach" {
    knowledge = file("secret.txt")
  }
}
