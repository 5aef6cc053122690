auth {
  public_key_file = "no-such-key.pem" # want: Invalid public key file
  algorithms      = ["EdDSA"]
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
