package githubsim

import (
	"cmp"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// The view at now: what GitHub shows of the timeline at a given moment. The API and the
// ground truth (truth.go) both read the world only through these functions, so they
// cannot disagree.

func visible(t, now time.Time) bool { return !t.IsZero() && !t.After(now) }

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// repoVisible reports whether the repository exists at now.
func (r *repo) visibleAt(now time.Time) bool { return !r.createdAt.After(now) }

// updatedAt is the repository's updated_at: its last push or settings change.
func (r *repo) updatedAt(now time.Time) time.Time {
	meta := r.createdAt
	if visible(r.metaUpdatedAt, now) {
		meta = r.metaUpdatedAt
	}
	return latest(meta, r.pushedAt(now))
}

func (r *repo) commitVisible(i int32, now time.Time) bool {
	return visible(r.commits[i].pushedAt, now)
}

// resolveRef finds the commit a ref names at now: the default branch, the head branch of
// an open pull request, or a full or abbreviated SHA.
func (r *repo) resolveRef(ref string, now time.Time) (int32, bool) {
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	if ref == r.defaultBranch {
		pos := r.tipAt(now)
		if pos < 0 {
			return -1, false
		}
		return r.main[pos], true
	}
	for i := range r.pulls {
		p := &r.pulls[i]
		if p.headRef != ref || !visible(p.createdAt, now) || visible(p.closedAt, now) {
			continue
		}
		return r.pullHead(p, now), true
	}
	if len(ref) < 7 || len(ref) > 40 {
		return -1, false
	}
	if _, err := hex.DecodeString(ref[:len(ref)&^1]); err != nil {
		return -1, false
	}
	if s, ok := parseSHA(ref); ok {
		i, ok := r.commitIndex(s)
		return i, ok && r.commitVisible(i, now)
	}
	for i := range r.commits {
		if strings.HasPrefix(r.commits[i].sha.String(), ref) && r.commitVisible(int32(i), now) {
			return int32(i), true
		}
	}
	return -1, false
}

// ancestors is the set of commits reachable from head (head included).
func (r *repo) ancestors(head int32) []bool {
	seen := make([]bool, len(r.commits))
	stack := []int32{head}
	seen[head] = true
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range r.commits[c].parents {
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return seen
}

// history lists the commits reachable from head, newest committer date first (what
// GET /commits returns).
func (r *repo) history(head int32) []int32 {
	seen := r.ancestors(head)
	var out []int32
	for i, ok := range seen {
		if ok {
			out = append(out, int32(i))
		}
	}
	slices.SortStableFunc(out, func(a, b int32) int {
		ca, cb := r.commits[a].committedAt, r.commits[b].committedAt
		if !ca.Equal(cb) {
			return cb.Compare(ca)
		}
		return int(b - a)
	})
	return out
}

// defaultBranchCommits are the commits on the default branch at now, oldest first.
func (r *repo) defaultBranchCommits(now time.Time) []int32 {
	return r.main[:r.tipAt(now)+1]
}

type comparison struct {
	status  string // identical, ahead, behind, diverged
	ahead   int
	behind  int
	commits []int32 // reachable from head and not from base, oldest first
}

// compare is GET /compare/{base}...{head}.
func (r *repo) compare(base, head int32) comparison {
	fromBase, fromHead := r.ancestors(base), r.ancestors(head)
	var c comparison
	for i := range r.commits {
		switch {
		case fromHead[i] && !fromBase[i]:
			c.commits = append(c.commits, int32(i))
		case fromBase[i] && !fromHead[i]:
			c.behind++
		}
	}
	c.ahead = len(c.commits)
	switch {
	case c.ahead == 0 && c.behind == 0:
		c.status = "identical"
	case c.behind == 0:
		c.status = "ahead"
	case c.ahead == 0:
		c.status = "behind"
	default:
		c.status = "diverged"
	}
	slices.SortStableFunc(c.commits, func(a, b int32) int {
		ca, cb := r.commits[a].committedAt, r.commits[b].committedAt
		if !ca.Equal(cb) {
			return ca.Compare(cb)
		}
		return int(a - b)
	})
	return c
}

// pullState is a pull request as seen at now.
type pullState struct {
	p         *pull
	open      bool
	draft     bool
	merged    bool
	closedAt  time.Time // zero while open
	updatedAt time.Time
	commits   []int32
	reviews   []review
	head      int32
	base      int32 // base branch head
	mergeSHA  sha
	additions int
	deletions int
	files     int
}

func (r *repo) pullHead(p *pull, now time.Time) int32 {
	head := p.commits[0]
	for _, c := range p.commits {
		if r.commitVisible(c, now) {
			head = c
		}
	}
	return head
}

// pullAt returns the pull request as seen at now; ok is false before it is opened.
func (r *repo) pullAt(p *pull, now time.Time) (pullState, bool) {
	if p.createdAt.After(now) {
		return pullState{}, false
	}
	s := pullState{p: p, open: !visible(p.closedAt, now), updatedAt: p.createdAt}
	if !s.open {
		s.closedAt = p.closedAt
		s.merged = p.merged
		s.updatedAt = p.closedAt
	}
	s.draft = !p.readyAt.IsZero() && p.readyAt.After(now)
	if !p.readyAt.IsZero() && visible(p.readyAt, now) {
		s.updatedAt = latest(s.updatedAt, p.readyAt)
	}
	for _, c := range p.commits {
		if r.commitVisible(c, now) {
			s.commits = append(s.commits, c)
			cm := &r.commits[c]
			s.additions += int(cm.additions)
			s.deletions += int(cm.deletions)
			s.files += int(cm.files)
			s.updatedAt = latest(s.updatedAt, cm.pushedAt)
		}
	}
	for _, rv := range p.reviews {
		if visible(rv.submittedAt, now) {
			s.reviews = append(s.reviews, rv)
			s.updatedAt = latest(s.updatedAt, rv.submittedAt)
		}
	}
	s.head = r.pullHead(p, now)
	s.files = min(s.files, 3+s.files/2) // files overlap between commits
	baseAt := now
	if !s.open {
		baseAt = s.closedAt
	}
	if pos := r.tipAt(baseAt); pos >= 0 {
		s.base = r.main[pos]
	}
	s.mergeSHA = p.testMerge
	if s.merged {
		s.mergeSHA = r.commits[p.mergeCommit].sha
	}
	return s, true
}

// updatedAt is an issue's updated_at at now: its creation, closing or relabelling,
// whichever came last.
func (is *issue) updatedAt(now time.Time) time.Time {
	out := is.createdAt
	if visible(is.closedAt, now) {
		out = latest(out, is.closedAt)
	}
	if visible(is.relabelAt, now) {
		out = latest(out, is.relabelAt)
	}
	return out
}

// labelsAt are the issue's labels at now.
func (is *issue) labelsAt(now time.Time) []string {
	if visible(is.relabelAt, now) {
		return is.relabelTo
	}
	return is.labels
}

// stateReason is the issue's state_reason at now: "" while open and never closed.
func (is *issue) stateReason(now time.Time) string {
	if !visible(is.closedAt, now) {
		return ""
	}
	return cmp.Or(is.closeReason, "completed")
}

// runState is a workflow run as seen at now (its latest attempt).
type runState struct {
	status     string
	conclusion string
	attempt    int
	started    time.Time
	updated    time.Time
}

func (ru *run) at(now time.Time) (runState, bool) {
	if ru.created.After(now) {
		return runState{}, false
	}
	started, completed, conclusion, attempt := ru.started, ru.completed, ru.conclusion, 1
	if visible(ru.rerunStarted, now) {
		started, completed, conclusion, attempt = ru.rerunStarted, ru.rerunCompleted, ru.rerunConclusion, 2
	}
	switch {
	case now.Before(started):
		return runState{status: "queued", attempt: attempt, started: started, updated: ru.created}, true
	case now.Before(completed):
		return runState{status: "in_progress", attempt: attempt, started: started, updated: started}, true
	}
	return runState{status: "completed", conclusion: conclusion, attempt: attempt, started: started, updated: completed}, true
}

// statusesAt are the deployment's statuses created by now, oldest first.
func (d *deployment) statusesAt(now time.Time) []deploymentStatus {
	n := 0
	for _, s := range d.statuses {
		if visible(s.at, now) {
			n++
		}
	}
	return d.statuses[:n]
}

func (d *deployment) updatedAt(now time.Time) time.Time {
	sts := d.statusesAt(now)
	if len(sts) == 0 {
		return d.createdAt
	}
	return sts[len(sts)-1].at
}

func (d *deployment) succeededBy(now time.Time) bool {
	_, ok := d.firstSuccess(now)
	return ok
}

// firstSuccess is the time of the deployment's first success status created by now.
func (d *deployment) firstSuccess(now time.Time) (time.Time, bool) {
	for _, s := range d.statusesAt(now) {
		if s.state == "success" {
			return s.at, true
		}
	}
	return time.Time{}, false
}
