# A production-style configuration: the built-in offline pipeline, explicit limits,
# JSON logs. Run it with:  JWT_SECRET=$(openssl rand -hex 32) bin/earshot serve --config examples/configs/interview.hcl

server {
  listen          = "0.0.0.0:8080"
  allowed_origins = [env("FRONTEND_URL", "http://localhost:3000")]
  log_format      = "json"
  max_message_size = "1MiB"
  event_rate      = 50
  outbound_queue  = "4MiB"
}

auth {
  hmac_secret = env("JWT_SECRET")
  algorithms  = ["HS256"]
  leeway      = "30s"
  issuer      = env("JWT_ISSUER", "")
}

sessions {
  cleanup_interval = "5m"
  inactive_after   = "30m"
  max_users        = 8
}

webrtc {
  udp_ports   = "50000-50299"
  ice_servers = ["stun:stun.l.google.com:19302"]
}

plugin "audio" {}
plugin "sphinx" {}
plugin "coach" {}

pipeline "interview" {
  suggest_from        = ["interviewer"]
  suggest_to          = ["candidate"]
  stream_idle_timeout = "15s"

  decoder "audio" {}

  transcriber "sphinx" {
    endpoint_silence = "500ms"
    partial_interval = "200ms"
  }

  suggester "coach" {}
}
