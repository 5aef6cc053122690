# Values of the wrong type.
server {
  allowed_origins = "http://localhost:3000" # want: Incorrect attribute value type
  event_burst     = "many"                  # want: Incorrect attribute value type
  event_rate      = [50]                    # want: Incorrect attribute value type
  demo            = "maybe"                 # want: Incorrect attribute value type
  max_sessions_per_connection = 2.5         # want: Invalid number
  max_message_size = true                   # want: Incorrect attribute value type
}

webrtc {
  public_ips = ["203.0.113.1", null] # want: Incorrect attribute value type
}

plugin "audio" {
  env = ["A=1"] # want: Incorrect attribute value type
}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
  relay_audio = 1 # want: Incorrect attribute value type
}
