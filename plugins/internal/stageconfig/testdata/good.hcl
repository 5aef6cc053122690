name     = "sphinx"
rate     = 16000
enabled  = true
silence  = "750ms"
buffer   = "64KiB"
small    = 512
hints    = ["Kubernetes", "Go"]
labels   = { team = "infra" }
