server {
  listen                      = ""                 # want: Empty listen address
  allowed_origins             = ["localhost:3000"] # want: Invalid allowed origin
  log_format                  = "xml"              # want: Invalid value
  log_level                   = "loud"             # want: Invalid value
  event_rate                  = 0                  # want: Value out of range
  event_burst                 = 0                  # want: Value out of range
  max_sessions_per_connection = 0                  # want: Value out of range
  outbound_queue              = "512B"             # want: Invalid size
  max_message_size            = "4KiB"             # want: Message size too small for the token
}

sessions {
  max_users    = -1       # want: Value out of range
  max_sessions = 0        # want: Value out of range
  status_roles = ["boss"] # want: Unknown role
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
