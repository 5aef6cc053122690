# Asymmetric tokens next to HS256: the key is a PEM file next to this one.
auth {
  hmac_secret     = env("JWT_SECRET")
  public_key_file = "ed25519.pub.pem"
  algorithms      = ["HS256", "EdDSA"]
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
