// Command earshot-plugin-whisper is an example earshot transcriber plugin that
// sends utterances to an OpenAI-compatible /v1/audio/transcriptions server. Build
// it as bin/earshot-plugin-whisper; see README.md.
package main

import (
	"github.com/earshot-dev/earshot/examples/whisper-transcriber/whisper"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

func main() { sdk.ServeTranscriber(whisper.New) }
