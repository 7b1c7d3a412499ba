package metrics

import (
	"strings"
	"time"
)

// ChangeIndex maps commits to the merged pull request that brought them to a branch. It
// is built once per repository from its pull requests and answers for every change of
// every deployment.
//
// A commit maps to a pull request when
//  1. its SHA is the pull request's merge_commit_sha: the squash commit of a squash merge,
//     the two-parent merge commit of a merge-commit merge, the last rebased commit of a
//     rebase merge;
//  2. its SHA is one of the pull request's own commits (merge-commit merges keep them);
//  3. its authored time (to the second), message headline and author login equal those
//     of one of the pull request's own commits — rebase merges rewrite every SHA but keep
//     these three.
//
// Earlier rules win. When several pull requests match by the same rule (a commit carried
// by a feature PR and again by a release PR), the one merged first wins — it is the one
// that brought the commit — and the lower number breaks a tie.
type ChangeIndex struct {
	prs           []PullRequest
	bySHA         map[string]int // merge commit SHA → index in prs
	byOwnSHA      map[string]int
	byFingerprint map[commitFingerprint]int
	firstCommit   []time.Time // per PR: earliest authored time of its own commits (zero when unknown)
}

type commitFingerprint struct {
	authoredUnix int64
	headline     string
	author       string
}

func fingerprintOf(c Commit) commitFingerprint {
	return commitFingerprint{c.AuthoredAt.Unix(), c.MessageHeadline, strings.ToLower(c.AuthorLogin)}
}

// NewChangeIndex indexes the merged pull requests among prs. The slice is kept, not
// copied: do not modify it while the index is in use.
func NewChangeIndex(prs []PullRequest) *ChangeIndex {
	commits := 0
	for _, pr := range prs {
		commits += len(pr.Commits)
	}
	// Sized up front: growing these maps was most of the index's cost.
	x := &ChangeIndex{
		prs:           prs,
		bySHA:         make(map[string]int, len(prs)),
		byOwnSHA:      make(map[string]int, commits),
		byFingerprint: make(map[commitFingerprint]int, commits),
		firstCommit:   make([]time.Time, len(prs)),
	}
	for i, pr := range prs {
		x.firstCommit[i] = FirstCommitAt(pr)
		if pr.MergedAt == nil {
			continue
		}
		if pr.MergeCommitSHA != "" {
			put(x, x.bySHA, strings.ToLower(pr.MergeCommitSHA), i)
		}
		for _, c := range pr.Commits {
			if c.SHA != "" {
				put(x, x.byOwnSHA, strings.ToLower(c.SHA), i)
			}
			put(x, x.byFingerprint, fingerprintOf(c), i)
		}
	}
	return x
}

func put[K comparable](x *ChangeIndex, m map[K]int, key K, i int) {
	if j, ok := m[key]; ok && !x.mergedBefore(i, j) {
		return
	}
	m[key] = i
}

// mergedBefore reports whether PR i was merged before PR j (lower number on a tie).
func (x *ChangeIndex) mergedBefore(i, j int) bool {
	a, b := *x.prs[i].MergedAt, *x.prs[j].MergedAt
	if !a.Equal(b) {
		return a.Before(b)
	}
	return x.prs[i].Number < x.prs[j].Number
}

// PullRequestFor returns the index (in the slice given to NewChangeIndex) of the pull
// request that brought commit c, or -1 for a direct push.
func (x *ChangeIndex) PullRequestFor(c Commit) int {
	sha := strings.ToLower(c.SHA)
	if i, ok := x.bySHA[sha]; ok {
		return i
	}
	if i, ok := x.byOwnSHA[sha]; ok {
		return i
	}
	if i, ok := x.byFingerprint[fingerprintOf(c)]; ok {
		return i
	}
	return -1
}

// pullRequestForSHA returns the pull request whose merge commit or own commit is the full
// SHA sha, or -1 (also for an abbreviated SHA).
func (x *ChangeIndex) pullRequestForSHA(sha string) int {
	sha = strings.ToLower(sha)
	if i, ok := x.bySHA[sha]; ok {
		return i
	}
	if i, ok := x.byOwnSHA[sha]; ok {
		return i
	}
	return -1
}

// pullRequestForPrefix returns the merged pull request whose merge commit or own commit
// ref names — a full or an abbreviated SHA (at least 7 characters) — or -1. Abbreviated
// SHAs are rare (a hand-written revert message), so the pull requests are scanned; the
// one merged first wins, as in PullRequestFor.
func (x *ChangeIndex) pullRequestForPrefix(ref string) int {
	if i := x.pullRequestForSHA(ref); i >= 0 {
		return i
	}
	best := -1
	for i, pr := range x.prs {
		if pr.MergedAt == nil || (best >= 0 && !x.mergedBefore(i, best)) {
			continue
		}
		match := shaMatches(pr.MergeCommitSHA, ref)
		for _, c := range pr.Commits {
			match = match || shaMatches(c.SHA, ref)
		}
		if match {
			best = i
		}
	}
	return best
}

// PullRequest returns the indexed pull request i.
func (x *ChangeIndex) PullRequest(i int) PullRequest { return x.prs[i] }

// ChangeStart returns when the work on commit c started, the start of its lead time:
// the first authored time among the commits of the pull request that brought it; for a
// direct push (pr < 0), the commit's own authored time. For a pull request whose commits
// were not collected it is the earlier of the pull request's creation and the commit's
// authored time. pr is PullRequestFor(c).
func (x *ChangeIndex) ChangeStart(c Commit, pr int) time.Time {
	if pr < 0 {
		return c.AuthoredAt
	}
	if first := x.firstCommit[pr]; !first.IsZero() {
		return first
	}
	if created := x.prs[pr].CreatedAt; !created.IsZero() && (c.AuthoredAt.IsZero() || created.Before(c.AuthoredAt)) {
		return created
	}
	return c.AuthoredAt
}

// FirstCommitAt returns the earliest authored time of a pull request's own commits, or
// the zero time when none were collected. The collector stores it as
// pull_requests.first_commit_authored_at.
func FirstCommitAt(pr PullRequest) time.Time {
	var first time.Time
	for _, c := range pr.Commits {
		if !c.AuthoredAt.IsZero() && (first.IsZero() || c.AuthoredAt.Before(first)) {
			first = c.AuthoredAt
		}
	}
	return first
}
