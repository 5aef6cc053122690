# STUN and TURN URLs are parsed as pion parses them when it creates a peer
# connection: a URL it refuses would fail every WebRTC offer. A port range smaller
# than max_peer_connections is a warning.
webrtc {
  udp_ports            = "50000-50009" # want: Too few UDP ports for the peer connections
  max_peer_connections = 20
  ice_servers = [
    "stun:stun.example.org:3478",
    "stun://stun.l.google.com:19302",       # want: Invalid ICE server URL
    "stun:stun.example.org:abc",            # want: Invalid ICE server URL
    "stun:stun.example.org?transport=udp",  # pion drops the query
    "STUN:stun.example.org",
    "STUN:stun.example.org?transport=udp",  # want: Invalid ICE server URL
    "stun:",                                # want: Invalid ICE server URL
    "stun:stun.example.org:0",              # want: Invalid ICE server URL
    "stun:stun.example.org:70000",          # want: Invalid ICE server URL
    "stun:2001:db8::1",                     # want: Invalid ICE server URL
    "stun:[2001:db8::1]:3478",
  ]

  ice_server {
    urls = [
      "turn:turn.example.org:3478?transport=udp",
      "turn:turn.example.org?transport=sctp", # want: Invalid ICE server URL
      "turns:turn.example.org?ttl=5",         # want: Invalid ICE server URL
      "turn::3478",                           # want: Invalid ICE server URL
    ]
    username   = "earshot"
    credential = "secret"
  }
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
