# want: No pipeline
plugin "audio" {}
