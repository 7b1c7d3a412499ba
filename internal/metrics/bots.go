package metrics

import "strings"

// BotClassifier decides whether a GitHub login is a bot. It is the one classifier every
// human metric uses (DESIGN §5), so "who counts as a person" cannot drift between metrics.
//
// A login is a bot when
//   - it ends in "[bot]" (GitHub App accounts: "dependabot[bot]", "github-actions[bot]",
//     "copilot-swe-agent[bot]", "copilot-pull-request-reviewer[bot]", …);
//   - it is one of GitHub Copilot's agent logins that carry no "[bot]" suffix: "Copilot"
//     (the coding agent as pull-request author and commit author in REST responses;
//     user id 198982749, type Bot, app copilot-swe-agent), "copilot-swe-agent" and
//     "copilot-pull-request-reviewer" (the same agents as GraphQL and some webhook
//     payloads name them);
//   - it is one of the enterprise's configured bot logins.
//
// Comparison is case-insensitive: GitHub logins are. An empty login (a commit whose
// e-mail is linked to no account) is not a bot; the metrics that need a person skip it.
// The zero value classifies by the built-in rules only.
type BotClassifier struct {
	configured map[string]struct{}
}

// NewBotClassifier returns a classifier that also treats the given logins as bots.
// Blank entries are ignored.
func NewBotClassifier(configuredLogins []string) BotClassifier {
	b := BotClassifier{configured: make(map[string]struct{}, len(configuredLogins))}
	for _, login := range configuredLogins {
		if login = strings.ToLower(strings.TrimSpace(login)); login != "" {
			b.configured[login] = struct{}{}
		}
	}
	return b
}

// IsBot reports whether login belongs to a bot.
func (b BotClassifier) IsBot(login string) bool {
	if login == "" {
		return false
	}
	lower := strings.ToLower(login)
	if strings.HasSuffix(lower, "[bot]") || IsCopilotAgent(lower) {
		return true
	}
	_, ok := b.configured[lower]
	return ok
}

// IsCopilotAgent reports whether login is one of GitHub Copilot's agent accounts, with
// or without the "[bot]" suffix: the coding agent ("Copilot", "copilot-swe-agent"), the
// code reviewer ("copilot-pull-request-reviewer") and the Copilot apps ("copilot[bot]",
// "github-copilot[bot]").
func IsCopilotAgent(login string) bool {
	switch strings.TrimSuffix(strings.ToLower(login), "[bot]") {
	case "copilot", "copilot-swe-agent", "copilot-pull-request-reviewer", "github-copilot":
		return true
	}
	return false
}
