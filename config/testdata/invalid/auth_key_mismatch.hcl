auth {
  public_key_file = "../valid/ed25519.pub.pem" # want: Public key does not match algorithm
  algorithms      = ["ES256"]
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
