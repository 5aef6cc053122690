// Command earshot-plugin-llm is earshot's LLM suggester plugin: it streams
// suggestions from an OpenAI-compatible chat-completions endpoint. The earshot
// daemon launches it.
package main

import (
	"github.com/earshot-dev/earshot/plugins/llm"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

func main() { sdk.ServeSuggester(llm.New) }
