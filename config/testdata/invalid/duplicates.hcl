# Blocks that may appear once, appearing twice.
server {}
server {} # want: Duplicate server block

plugin "audio" {}
plugin "audio" {} # want: Duplicate plugin block
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  decoder "audio" {} # want: Duplicate decoder block
  transcriber "sphinx" {}
}

pipeline "interview" { # want: Duplicate pipeline block
  decoder "audio" {}
  transcriber "sphinx" {}
}
