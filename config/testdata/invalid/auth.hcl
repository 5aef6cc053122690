auth {
  hmac_secret = "too-short" # want: JWT secret too short
  algorithms  = ["HS256", "none", "HS999"] # want: Algorithm "none" is not allowed; want: Unknown algorithm
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
