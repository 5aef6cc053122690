package llm

import (
	"net/http"
	"testing"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

// TestContract runs the SDK's suggester contract over the real gRPC shim against
// a local streaming server.
func TestContract(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		streamChunks(w, "- first ", "point\n", "- second point\n", "? a question back")
	})
	var impl *LLM
	t.Cleanup(func() {
		if impl != nil {
			_ = impl.Close()
		}
	})
	sdktest.CheckSuggester(t, func() *LLM { impl = New(); return impl }, sdktest.SuggesterCase{
		Config:  map[string]any{"base_url": srv.URL + "/v1", "model": "m", "update_interval": "0s"},
		Session: sdk.SessionInfo{SessionID: "s1", Pipeline: "interview"},
		Utterances: []sdk.Utterance{
			{UtteranceID: "u1", SpeakerID: "a", Role: "interviewer", Text: "so tell me about yourself"},
			{UtteranceID: "u2", SpeakerID: "b", Role: "candidate", Text: "i build payment systems"},
		},
		Check: func(t *testing.T, sets []sdk.SuggestionSet) {
			if len(sets) == 0 || !sets[len(sets)-1].Final || len(sets[len(sets)-1].Suggestions) != 3 {
				t.Errorf("got %+v", sets)
			}
		},
	})
}
