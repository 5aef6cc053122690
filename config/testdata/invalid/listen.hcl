server {
  listen = "localhost" # want: Invalid listen address
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
