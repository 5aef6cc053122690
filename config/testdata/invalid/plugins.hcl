# Plugin declarations and references.
plugin "audio" {
  sha256 = "not-a-digest" # want: Invalid SHA-256
}
plugin "sphinx" {
  env = { "" = "x" } # want: Invalid environment variable name
}
plugin "my plugin" {} # want: Invalid plugin name
plugin "llm" {
  coalesce_window = "50ms" # want: Invalid coalesce window
}

pipeline "interview" {
  decoder "audio" {}
  transcriber "whisper" {} # want: Undeclared plugin
  suggester "coach" {}     # want: Undeclared plugin
}
