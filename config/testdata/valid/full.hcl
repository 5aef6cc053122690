# Every attribute set to a value other than its default.
server {
  listen                      = "0.0.0.0:9090"
  allowed_origins             = ["https://app.example.org", "http://localhost:5173"]
  max_message_size            = "2MiB"
  event_rate                  = 12.5
  event_burst                 = 20
  outbound_queue              = 8388608
  ping_interval               = "15s"
  pong_timeout                = "10s"
  auth_timeout                = "5s"
  max_sessions_per_connection = 2
  audio_rate_limit            = "512KB"
  demo                        = true
  log_format                  = "json"
  log_level                   = "debug"
  shutdown_timeout            = "1m30s"
  metrics                     = false
}

auth {
  hmac_secret    = "0123456789abcdef0123456789abcdef-full"
  algorithms     = ["HS256", "HS512"]
  leeway         = "0s"
  issuer         = "https://issuer.example.org"
  audience       = "earshot"
  token_ttl      = "1d12h"
  max_token_size = "4KiB"
}

sessions {
  cleanup_interval      = "1m"
  inactive_after        = "2h"
  max_users             = 4
  max_sessions          = 500
  max_sessions_per_user = 7
  status_roles          = ["admin"]
}

webrtc {
  enabled              = false
  udp_ports            = "40000-40009"
  ice_servers          = ["stun:stun.example.org:3478"]
  public_ips           = ["203.0.113.7", "2001:db8::7"]
  include_loopback     = true
  interfaces           = ["eth0"]
  max_peer_connections = 10

  ice_server {
    urls       = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
    username   = "earshot"
    credential = "turn-credential-value"
  }
}

plugin_dirs = ["plugins", "/opt/earshot/plugins"]

plugin "audio" {
  path   = "bin/earshot-plugin-audio"
  args   = ["--verbose"]
  env    = { AUDIO_THREADS = "2" }
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}
plugin "sphinx" {
  coalesce_window = "0s"
}
plugin "coach" {}
plugin "llm" {
  env = { OPENAI_API_KEY = "sk-test-not-a-real-key" }
}

pipeline "interview" {
  relay_audio         = true
  suggest_from        = ["interviewer", "observer"]
  suggest_to          = ["candidate", "admin"]
  stream_idle_timeout = "30s"
  replay_buffer       = "0s"
  output_rate         = 8000

  decoder "audio" {
    sample_rate = 8000
  }
  transcriber "sphinx" {
    endpoint_silence = "750ms"
  }
  suggester "llm" {
    model = "llama3"
  }
}

pipeline "plain" {
  decoder "audio" {}
  transcriber "sphinx" {}
}

default_pipeline = "plain"
