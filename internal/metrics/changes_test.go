package metrics

import (
	"testing"
	"time"
)

func TestChangeIndex(t *testing.T) {
	t.Parallel()
	// PR 1 was squash-merged: its commits never reach main, the squash commit does.
	squash := mergedPR(t, 1, "ana", "Add search", "2025-03-03T10:00:00Z", "2025-03-04T10:00:00Z", "s1",
		commit(t, "p1a", "ana", "2025-03-02T09:00:00Z", "search: index"),
		commit(t, "p1b", "ana", "2025-03-03T09:00:00Z", "search: ui"))
	// PR 2 was merged with a merge commit: its own SHAs and the merge commit reach main.
	mergeCommit := mergedPR(t, 2, "bo", "Add export", "2025-03-03T11:00:00Z", "2025-03-04T11:00:00Z", "m2",
		commit(t, "p2a", "bo", "2025-03-01T08:00:00Z", "export: csv"))
	// PR 3 was rebase-merged: new SHAs, same authored time, headline and author.
	rebase := mergedPR(t, 3, "cy", "Fix typo", "2025-03-03T12:00:00Z", "2025-03-04T12:00:00Z", "r3b",
		commit(t, "p3a", "cy", "2025-03-03T07:00:00Z", "docs: typo"),
		commit(t, "p3b", "cy", "2025-03-03T07:30:00Z", "docs: another typo"))
	// PR 4 is still open: it must not claim anything.
	open := PullRequest{Number: 4, AuthorLogin: "ana", CreatedAt: at(t, "2025-03-03T13:00:00Z"), MergeCommitSHA: "x4",
		Commits: []Commit{commit(t, "p4a", "ana", "2025-03-03T12:59:00Z", "wip")}}
	// PR 5, a release PR merged later, carries PR 2's commit again: PR 2 brought it first.
	release := mergedPR(t, 5, "dee", "Release", "2025-03-05T10:00:00Z", "2025-03-05T11:00:00Z", "m5",
		commit(t, "p2a", "bo", "2025-03-01T08:00:00Z", "export: csv"))
	// PR 6 was merged but its commits were not collected.
	noCommits := mergedPR(t, 6, "ed", "Bump", "2025-03-05T08:00:00Z", "2025-03-05T09:00:00Z", "s6")

	idx := NewChangeIndex([]PullRequest{squash, mergeCommit, rebase, open, release, noCommits})
	tests := []struct {
		name      string
		change    Commit
		wantPR    int // index, -1 for a direct push
		wantStart string
	}{
		{"squash commit", commit(t, "s1", "ana", "2025-03-04T10:00:00Z", "Add search (#1)"), 0, "2025-03-02T09:00:00Z"},
		{"merge commit (2 parents)", Commit{SHA: "m2", AuthoredAt: at(t, "2025-03-04T11:00:00Z"), ParentCount: 2}, 1, "2025-03-01T08:00:00Z"},
		{"merge-commit merge keeps the PR's SHA", commit(t, "P2A", "bo", "2025-03-01T08:00:00Z", "export: csv"), 1, "2025-03-01T08:00:00Z"},
		{"rebased commit by fingerprint", commit(t, "new3a", "CY", "2025-03-03T07:00:00Z", "docs: typo"), 2, "2025-03-03T07:00:00Z"},
		{"rebased commit with a sub-second authored time", Commit{SHA: "new3b", AuthorLogin: "cy", AuthoredAt: at(t, "2025-03-03T07:30:00Z").Add(400 * time.Millisecond), MessageHeadline: "docs: another typo"}, 2, "2025-03-03T07:00:00Z"},
		{"same headline, other author is a direct push", commit(t, "new3c", "eve", "2025-03-03T07:00:00Z", "docs: typo"), -1, "2025-03-03T07:00:00Z"},
		{"open PR's commit is a direct push", commit(t, "p4a", "ana", "2025-03-03T12:59:00Z", "wip"), -1, "2025-03-03T12:59:00Z"},
		{"open PR's merge SHA claims nothing", commit(t, "x4", "ana", "2025-03-03T14:00:00Z", "wip"), -1, "2025-03-03T14:00:00Z"},
		{"direct push", commit(t, "d1", "fay", "2025-03-04T15:00:00Z", "hot edit"), -1, "2025-03-04T15:00:00Z"},
		{"PR without commits starts at its creation", commit(t, "s6", "ed", "2025-03-05T09:00:00Z", "Bump (#6)"), 5, "2025-03-05T08:00:00Z"},
	}
	for _, tt := range tests {
		pr := idx.PullRequestFor(tt.change)
		if pr != tt.wantPR {
			t.Errorf("%s: PullRequestFor = %d, want %d", tt.name, pr, tt.wantPR)
			continue
		}
		if got := idx.ChangeStart(tt.change, pr); !got.Equal(at(t, tt.wantStart)) {
			t.Errorf("%s: ChangeStart = %s, want %s", tt.name, got, tt.wantStart)
		}
	}
	if got := idx.PullRequest(2).Number; got != 3 {
		t.Errorf("PullRequest(2).Number = %d, want 3", got)
	}
}
