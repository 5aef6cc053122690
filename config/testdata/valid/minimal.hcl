# The smallest useful configuration: everything else takes its default, and the
# single pipeline is the default pipeline.
plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
