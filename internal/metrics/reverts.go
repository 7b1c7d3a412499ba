package metrics

import (
	"regexp"
	"slices"
	"strings"
)

// revertedSHA finds the commit named by git's default revert message, "This reverts
// commit <sha>." (abbreviated SHAs included, as some tools write them).
var revertedSHA = regexp.MustCompile(`(?i)this reverts commit ([0-9a-f]{7,40})`)

// IsRevertTitle reports whether a pull-request title or commit headline is one GitHub's
// "Revert" button or `git revert` writes: it starts with `Revert "`.
func IsRevertTitle(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), `Revert "`)
}

// IsRevertCommit reports whether a commit reverts another one, judged from what we keep
// of its message: a `Revert "` headline, or a headline holding "This reverts commit".
func IsRevertCommit(c Commit) bool {
	return IsRevertTitle(c.MessageHeadline) || revertedSHA.MatchString(c.MessageHeadline)
}

// RevertedSHAs returns the commit SHAs a message says it reverts ("This reverts commit
// <sha>"), in order, without duplicates.
func RevertedSHAs(message string) []string {
	var shas []string
	for _, m := range revertedSHA.FindAllStringSubmatch(message, -1) {
		sha := strings.ToLower(m[1])
		if !slices.Contains(shas, sha) {
			shas = append(shas, sha)
		}
	}
	return shas
}

// IsRevertPR reports whether a pull request reverts earlier work: its title starts with
// `Revert "` (what GitHub's Revert button writes), or one of its own commits is a revert
// (IsRevertCommit). The collector stores the answer as pull_requests.is_revert; the
// calculators recompute it from the same fields.
func IsRevertPR(pr PullRequest) bool {
	if IsRevertTitle(pr.Title) {
		return true
	}
	for _, c := range pr.Commits {
		if IsRevertCommit(c) {
			return true
		}
	}
	return false
}

// IsHotfixPR reports whether a pull request is a hotfix: the enterprise's hotfix pattern
// matches its title or its head branch. A nil pattern (none configured) matches nothing.
func IsHotfixPR(pr PullRequest, pattern *regexp.Regexp) bool {
	if pattern == nil {
		return false
	}
	return pattern.MatchString(pr.Title) || pattern.MatchString(pr.HeadRef)
}
