# PocketSphinx transcripts, suggestions from a local Ollama model (or any
# OpenAI-compatible chat-completions server). See docs/suggesters.md.

auth { hmac_secret = env("JWT_SECRET") }

plugin "audio" {}
plugin "sphinx" {}
plugin "llm" {}

pipeline "interview" {
  decoder "audio" {}
  transcriber "sphinx" {}
  suggester "llm" {
    base_url = env("LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    model    = env("LLM_MODEL", "llama3.1")
    timeout  = "30s"
  }
}
