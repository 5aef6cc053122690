auth {
  algorithms = ["RS256"] # want: Missing public key
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
