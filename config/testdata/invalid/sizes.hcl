# Sizes that do not parse and sizes out of range.
server {
  max_message_size = "1 MeB" # want: Invalid size
  outbound_queue   = -1      # want: Invalid size
  audio_rate_limit = 1.5     # want: Invalid size
}

auth {
  max_token_size = "0.1B" # want: Invalid size
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
