package coach_test

import (
	"testing"

	"github.com/earshot-dev/earshot/plugins/coach"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

// TestContract runs the SDK's suggester contract over the real gRPC shim.
func TestContract(t *testing.T) {
	sdktest.CheckSuggester(t, coach.New, sdktest.SuggesterCase{
		Session: sdk.SessionInfo{SessionID: "s1", Pipeline: "interview"},
		Utterances: []sdk.Utterance{
			{UtteranceID: "u1", SpeakerID: "a", Role: "interviewer", Text: "so tell me about yourself"},
			{UtteranceID: "u2", SpeakerID: "b", Role: "candidate", Text: "i build payment systems"},
			{UtteranceID: "u3", SpeakerID: "a", Role: "interviewer", Text: "have you ever had a conflict with a coworker"},
		},
		Check: func(t *testing.T, sets []sdk.SuggestionSet) {
			if len(sets) != 2 || sets[0].UtteranceID != "u1" || sets[1].UtteranceID != "u3" ||
				sets[1].Supersedes != sets[0].ID {
				t.Errorf("got %+v", sets)
			}
		},
	})
}
