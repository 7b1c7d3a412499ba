package metrics

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsRevertPR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pr   PullRequest
		want bool
	}{
		{"GitHub revert button title", PullRequest{Title: `Revert "Add caching layer"`}, true},
		{"revert title with leading space", PullRequest{Title: ` Revert "x"`}, true},
		{"the word revert alone is not enough", PullRequest{Title: "Revert caching"}, false},
		{"a feature about reverts", PullRequest{Title: `Support "Revert" in the editor`}, false},
		{"Revert-button description", PullRequest{Title: "Undo caching", RevertsNumber: 12}, true},
		{"a commit reverting a commit from outside the PR", PullRequest{Title: "Undo caching", Commits: []Commit{
			{SHA: "1111111aaaa", MessageHeadline: `Revert "Add caching layer"`, Reverts: []string{"0123abcd"}}}}, true},
		// v1 called these reverts from the headline alone; what they revert is unknown.
		{"a revert headline without the reverted SHA", PullRequest{Title: "Undo caching", Commits: []Commit{{MessageHeadline: `Revert "Add caching layer"`}}}, false},
		// Issue 12, case 2: v1 said true, and the deployment before the PR's failed.
		{"WIP, Revert \"WIP\", final: a revert among the PR's own commits", PullRequest{Title: "Add search", Commits: []Commit{
			{SHA: "aaaaaaa1111", MessageHeadline: "WIP"},
			{SHA: "bbbbbbb2222", MessageHeadline: `Revert "WIP"`, Reverts: []string{"aaaaaaa1111"}},
			{SHA: "ccccccc3333", MessageHeadline: "final"}}}, false},
		{"ordinary PR", PullRequest{Title: "Add caching layer", Commits: []Commit{{MessageHeadline: "cache"}}}, false},
	}
	for _, tt := range tests {
		if got := IsRevertPR(tt.pr); got != tt.want {
			t.Errorf("%s: IsRevertPR = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRevertedPullNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want int
	}{
		{"Reverts acme/shop#12", 12},
		{"Reverts Acme/Shop#12\n\nBroke checkout.", 12},
		{"Some context.\r\nReverts #7", 7},
		{"Reverts acme/web#12", 0}, // another repository's pull request
		{"This reverts the caching (see acme/shop#12)", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := RevertedPullNumber(tt.body, "acme/shop"); got != tt.want {
			t.Errorf("RevertedPullNumber(%q) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

func TestRevertedSHAs(t *testing.T) {
	t.Parallel()
	msg := "Revert \"a\"\n\nThis reverts commit 0123456789ABCDEF0123456789abcdef01234567.\nthis reverts commit abcdef1, and This reverts commit 0123456789abcdef0123456789abcdef01234567."
	want := []string{"0123456789abcdef0123456789abcdef01234567", "abcdef1"}
	if diff := cmp.Diff(want, RevertedSHAs(msg)); diff != "" {
		t.Errorf("RevertedSHAs mismatch (-want +got):\n%s", diff)
	}
	if got := RevertedSHAs("Add feature"); got != nil {
		t.Errorf("RevertedSHAs(no revert) = %v, want nil", got)
	}
}

func TestIsHotfixPR(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`(?i)^hotfix|\bhotfix/`)
	tests := []struct {
		name    string
		pr      PullRequest
		pattern *regexp.Regexp
		want    bool
	}{
		{"title", PullRequest{Title: "Hotfix: null pointer in login"}, re, true},
		{"head branch", PullRequest{Title: "Fix login", HeadRef: "hotfix/login-npe"}, re, true},
		{"neither", PullRequest{Title: "Fix login", HeadRef: "fix/login"}, re, false},
		{"no pattern configured", PullRequest{Title: "Hotfix", HeadRef: "hotfix/x"}, nil, false},
	}
	for _, tt := range tests {
		if got := IsHotfixPR(tt.pr, tt.pattern); got != tt.want {
			t.Errorf("%s: IsHotfixPR = %v, want %v", tt.name, got, tt.want)
		}
	}
}
