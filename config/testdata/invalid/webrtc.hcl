webrtc {
  udp_ports            = "50100-50000"                       # want: Invalid UDP port range
  ice_servers          = ["http://stun.example.org", "turn:t.example.org"] # want: Invalid ICE server URL; want: Missing TURN credentials
  public_ips           = ["1.2.3"]                           # want: Invalid IP address
  max_peer_connections = -1                                  # want: Value out of range

  ice_server {
    urls = [] # want: Missing ICE server URL
  }
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
