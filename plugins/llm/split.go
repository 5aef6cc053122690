package llm

import (
	"strings"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Suggestion kinds the llm suggester emits.
const (
	KindTalkingPoint = "talking_point"
	KindFollowUp     = "follow_up"
	KindAnswer       = "answer"
)

// split turns the model's text into suggestions, one per non-empty line: bullet
// lines ("- ", "* ", "• ", "1. ") are talking points, lines starting with "? "
// are questions to ask back, anything else is answer text. Unless final, the last
// line may still be growing and is included as it stands.
func split(text string, final bool) []sdk.Suggestion {
	var out []sdk.Suggestion
	lines := strings.Split(text, "\n")
	if !final && len(lines[len(lines)-1]) < 3 {
		// A line just begun ("-", "? ") would show with the wrong kind for an
		// update; wait for a few characters.
		lines = lines[:len(lines)-1]
	}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if strings.Trim(line, "-*•?#> ") == "" {
			// Empty, or a bare list marker.
			continue
		}
		kind := KindAnswer
		switch {
		case strings.HasPrefix(line, "?"):
			kind, line = KindFollowUp, strings.TrimSpace(strings.TrimPrefix(line, "?"))
		case strings.HasPrefix(line, "- "), strings.HasPrefix(line, "* "), strings.HasPrefix(line, "• "):
			kind, line = KindTalkingPoint, strings.TrimSpace(line[strings.Index(line, " ")+1:])
		default:
			if rest, ok := cutNumber(line); ok {
				kind, line = KindTalkingPoint, rest
			}
		}
		line = strings.Trim(line, "*_ ")
		if line == "" {
			continue
		}
		out = append(out, sdk.Suggestion{Kind: kind, Text: line})
	}
	return out
}

// cutNumber strips a "1. " or "2) " list marker.
func cutNumber(line string) (string, bool) {
	i := 0
	for i < len(line) && i < 3 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || i+1 >= len(line) || (line[i] != '.' && line[i] != ')') || line[i+1] != ' ' {
		return "", false
	}
	return strings.TrimSpace(line[i+2:]), true
}
