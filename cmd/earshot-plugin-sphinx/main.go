// Command earshot-plugin-sphinx serves the sphinx transcriber (CMU PocketSphinx)
// as an earshot plugin.
package main

import (
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx"
)

func main() { sdk.ServeTranscriber(sphinx.New) }
