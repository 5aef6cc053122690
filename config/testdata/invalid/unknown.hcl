# Unknown blocks and attributes, with HCL's "did you mean" suggestions.
server {
  lisen = "127.0.0.1:8080" # want: Unsupported argument
}

serverr { # want: Unsupported block type
}

plugin "audio" {
  binary = "x" # want: Unsupported argument
}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
  summarizer "x" {} # want: Unsupported block type
}
