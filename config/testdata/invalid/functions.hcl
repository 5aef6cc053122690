# env() and file() mistakes are reported at the call.
server {
  listen          = env("EARSHOT_TEST_UNSET")           # want: Missing environment variable
  allowed_origins = [env("A", "b", "c")]                # want: Invalid function argument
  log_level       = file("no-such-file.txt")            # want: Cannot read file
  log_format      = lower("TEXT")                       # want: Call to unknown function
}

auth {
  hmac_secret = var.secret # want: Variables not allowed
}

plugin "audio" {}
plugin "sphinx" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
