# Durations that do not parse and durations out of range.
server {
  ping_interval    = "25 seconds" # want: Invalid duration
  pong_timeout     = 20           # want: Invalid duration
  auth_timeout     = "0s"         # want: Invalid duration
  shutdown_timeout = "1w"         # want: Invalid duration
}

auth {
  leeway    = "-5s" # want: Invalid duration
  token_ttl = ""    # want: Invalid duration
}

sessions {
  cleanup_interval = "5x"  # want: Invalid duration
  inactive_after   = "-1m" # want: Invalid duration
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  stream_idle_timeout = "1.5.s" # want: Invalid duration
  replay_buffer       = "-30s"  # want: Invalid duration
  decoder "audio" {}
  transcriber "sphinx" {}
}
