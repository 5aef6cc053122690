// Command earshot-plugin-audio is earshot's built-in audio decoder plugin.
package main

import (
	"github.com/earshot-dev/earshot/plugins/audio"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

func main() { sdk.ServeDecoder(audio.New) }
