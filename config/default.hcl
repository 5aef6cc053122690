# earshot — the embedded default configuration.
#
# `earshot serve` runs this when no --config is given. Copy it to start your own:
# every attribute below shows its default, so you can delete the ones you keep.
# Reference: docs/configuration.md.
#
# Durations are strings with units ms, s, m, h, d: "500ms", "5m", "7d", "1d12h".
# Sizes are strings with units B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB
# (powers of 1024), or a plain number of bytes: "1MiB", "64KiB", 4096.
# env("NAME", "fallback") reads an environment variable; without a fallback an unset
# variable is an error. file("path") reads a file relative to this file.

server {
  # Where the HTTP/WebSocket listener binds. Loopback only by default; use
  # "0.0.0.0:8080" to accept other machines (put TLS in front).
  listen = "127.0.0.1:8080"

  # Browser origins allowed to connect (the Origin header). FRONTEND_URL keeps
  # its meaning from the original gateway.
  allowed_origins = [env("FRONTEND_URL", "http://localhost:3000")]

  # Per-connection limits. A bigger message is closed with 1009; more events than
  # the token bucket allows get RATE_LIMITED; a client that cannot keep up with its
  # outbound queue is closed with 4008.
  max_message_size            = "1MiB"
  event_rate                  = 50  # events per second
  event_burst                 = 100
  outbound_queue              = "4MiB"
  max_sessions_per_connection = 8
  audio_rate_limit            = "256KiB" # audio bytes per second per stream

  # Heartbeat and handshake time-outs.
  ping_interval = "25s"
  pong_timeout  = "20s"
  auth_timeout  = "10s" # time to authenticate after connecting

  demo             = false  # demo mode: serve the browser demo page
  log_format       = "text" # or "json"
  log_level        = "info" # trace, debug, info, warn, error, off
  shutdown_timeout = "10s"  # grace period on SIGINT/SIGTERM
  metrics          = true   # expose Prometheus metrics
}

auth {
  # HS256 secret, at least 32 bytes. Generate one with: openssl rand -hex 32
  # Never put the secret itself in a file you commit.
  hmac_secret = env("JWT_SECRET")

  # Accepted algorithms. For RS256/ES256/EdDSA add a PEM public key:
  # public_key_file = "jwt-public.pem"
  algorithms = ["HS256"]
  leeway     = "30s" # clock skew tolerated on exp/nbf/iat
  issuer     = ""    # required "iss" claim, when set
  audience   = ""    # required "aud" claim, when set

  # Lifetime of tokens that `earshot token` mints; JWT_EXPIRES_IN keeps its meaning.
  token_ttl      = env("JWT_EXPIRES_IN", "7d")
  max_token_size = "8KiB"
}

sessions {
  cleanup_interval      = "5m"                     # how often empty sessions are looked for
  inactive_after        = "30m"                    # an empty session is removed after this long
  max_users             = 16                       # distinct users per session
  max_sessions          = 10000                    # sessions on this node, empty ones included
  max_sessions_per_user = 100                      # sessions one user created that the node holds, empty ones included
  status_roles          = ["interviewer", "admin"] # roles allowed to change a session's status
}

webrtc {
  enabled              = true
  udp_ports            = "50000-50299" # ICE UDP ports; open them in your firewall
  ice_servers          = []            # e.g. ["stun:stun.l.google.com:19302"]
  public_ips           = []            # announce these when behind 1:1 NAT
  include_loopback     = false
  interfaces           = []            # restrict ICE to these interfaces; [] = all
  max_peer_connections = 256           # each uses a port of udp_ports per local address

  # TURN servers need credentials:
  # ice_server {
  #   urls       = ["turn:turn.example.org:3478?transport=udp"]
  #   username   = "earshot"
  #   credential = env("TURN_PASSWORD")
  # }
}

# Every plugin a pipeline uses is declared, even with an empty block. A plugin runs
# the binary earshot-plugin-<name> found next to the earshot binary (or in
# plugin_dirs). Optional: path, args, env = { KEY = "value" }, sha256 = "…" to pin it.
plugin "audio" {}  # decoder: WebM/Ogg Opus, raw Opus, PCM, WAV
plugin "sphinx" {} # transcriber: CMU PocketSphinx, offline
plugin "coach" {}  # suggester: offline, knowledge-base driven

# plugin_dirs = ["/usr/local/lib/earshot/plugins"]

# A pipeline turns each audio stream into transcripts and suggestions. The body of
# each stage block is the plugin's own configuration.
pipeline "interview" {
  relay_audio         = false           # forward audio to the session (audio:received)
  suggest_from        = ["interviewer"] # whose finished sentences feed the suggester
  suggest_to          = ["candidate"]   # who receives the suggestions
  stream_idle_timeout = "10s"           # close a stream after this long without audio
  replay_buffer       = "30s"           # audio kept to replay into a restarted transcriber
  output_rate         = 16000           # Hz, what the decoder produces for the transcriber

  decoder "audio" {}

  transcriber "sphinx" {
    endpoint_silence = "500ms" # silence that ends an utterance (a final)
  }

  suggester "coach" {}
}

# With several pipelines, name the one sessions use when session:join names none:
# default_pipeline = "interview"
