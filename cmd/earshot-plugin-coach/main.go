// Command earshot-plugin-coach is earshot's offline suggester plugin: it answers
// interview questions from an HCL knowledge base. The earshot daemon launches it.
package main

import (
	"github.com/earshot-dev/earshot/plugins/coach"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

func main() { sdk.ServeSuggester(coach.New) }
