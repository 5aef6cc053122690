default_pipeline = "interveiw" # want: Unknown default pipeline

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" { # want: Missing transcriber block
  suggest_from = ["interviewer", "boss"] # want: Unknown role
  suggest_to   = ["everyone"]            # want: Unknown role
  output_rate  = 4000                    # want: Value out of range
  decoder "audio" {}
}

pipeline "bad name!" { # want: Invalid pipeline name
  decoder "audio" {}
  transcriber "sphinx" {}
}

pipeline "no-decoder" { # want: Missing decoder block
  transcriber "sphinx" {}
}
