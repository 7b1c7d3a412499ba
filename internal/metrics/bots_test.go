package metrics

import "testing"

func TestBotClassifier(t *testing.T) {
	t.Parallel()
	bots := NewBotClassifier([]string{" Deploy-Robot ", "", "svc-release"})
	tests := []struct {
		login string
		want  bool
	}{
		{"dependabot[bot]", true},
		{"github-actions[bot]", true},
		{"Renovate[BOT]", true},
		{"Copilot", true},
		{"copilot", true},
		{"copilot-swe-agent", true},
		{"copilot-swe-agent[bot]", true},
		{"copilot-pull-request-reviewer", true},
		{"copilot-pull-request-reviewer[bot]", true},
		{"github-copilot[bot]", true},
		{"deploy-robot", true},
		{"SVC-RELEASE", true},
		{"octocat", false},
		{"copilot-fan", false}, // a person whose login merely starts with copilot
		{"robot", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := bots.IsBot(tt.login); got != tt.want {
			t.Errorf("IsBot(%q) = %v, want %v", tt.login, got, tt.want)
		}
	}
	var zero BotClassifier
	if !zero.IsBot("dependabot[bot]") || zero.IsBot("deploy-robot") {
		t.Error("zero classifier: want the built-in rules only")
	}
}
