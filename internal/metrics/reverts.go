package metrics

import (
	"regexp"
	"slices"
	"strconv"
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

// revertedPull finds GitHub's Revert-button description, "Reverts owner/repo#N" (or
// "Reverts #N").
var revertedPull = regexp.MustCompile(`(?im)^\s*reverts\s+(?:([\w.-]+/[\w.-]+))?#(\d+)\b`)

// RevertedPullNumber returns the pull request of repository fullName that a pull
// request description says it reverts — GitHub's Revert button writes
// "Reverts owner/repo#N" — or 0. A reference to another repository is not a revert of
// this one's work.
func RevertedPullNumber(body, fullName string) int {
	for _, m := range revertedPull.FindAllStringSubmatch(body, -1) {
		if m[1] != "" && !strings.EqualFold(m[1], fullName) {
			continue
		}
		if n, err := strconv.Atoi(m[2]); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// IsRevertPR reports whether a pull request reverts earlier work (metric_version 2): its
// title starts with `Revert "` (what GitHub's Revert button writes), its description
// names the pull request it reverts, or one of its own commits reverts a commit that is
// not one of the pull request's own. A feature branch whose commits read `WIP`,
// `Revert "WIP"`, `final` reverts nothing that ever left the branch, so it is no revert
// (version 1 said it was). The collector stores the answer as pull_requests.is_revert.
func IsRevertPR(pr PullRequest) bool {
	if IsRevertTitle(pr.Title) || pr.RevertsNumber > 0 {
		return true
	}
	for _, c := range pr.Commits {
		for _, sha := range c.Reverts {
			if !ownCommit(pr, sha) {
				return true
			}
		}
	}
	return false
}

// ownCommit reports whether sha (possibly abbreviated) names one of the pull request's
// own commits.
func ownCommit(pr PullRequest, sha string) bool {
	for _, c := range pr.Commits {
		if shaMatches(c.SHA, sha) {
			return true
		}
	}
	return false
}

// shaMatches reports whether ref — a full or abbreviated (at least 7 characters) SHA —
// names the commit full.
func shaMatches(full, ref string) bool {
	if strings.EqualFold(full, ref) {
		return full != ""
	}
	if len(ref) < 7 || len(ref) > len(full) {
		return false
	}
	return strings.EqualFold(full[:len(ref)], ref)
}

// IsHotfixPR reports whether a pull request is a hotfix: the enterprise's hotfix pattern
// matches its title or its head branch. A nil pattern (none configured) matches nothing.
func IsHotfixPR(pr PullRequest, pattern *regexp.Regexp) bool {
	if pattern == nil {
		return false
	}
	return pattern.MatchString(pr.Title) || pattern.MatchString(pr.HeadRef)
}
