# want: Missing default_pipeline
plugin "audio" {}
plugin "sphinx" {}

pipeline "a" {
  decoder "audio" {}
  transcriber "sphinx" {}
}

pipeline "b" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
