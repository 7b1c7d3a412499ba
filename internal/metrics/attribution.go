package metrics

import (
	"strings"
	"time"
)

// repoChanges answers, for one repository, which changes each successful production
// deployment carried: the pull request of every change, which changes an environment
// received for the first time, and whether a deployment carried a given commit or pull
// request. The failure signals (docs/metrics.md, "Failure signals") are built on it.
type repoChanges struct {
	repo *RepoActivity
	tl   *timeline
	p    *plan
	idx  *ChangeIndex
	// prOf holds, per deployment (index into tl.successes) and per change, the pull
	// request that brought the change (index into repo.PullRequests), or -1.
	prOf [][]int
	// firstCarried holds, per deployment, the indices of the changes its environment
	// received for the first time: each pull request or directly pushed commit once per
	// environment, at the first deployment there that carries it.
	firstCarried [][]int
	hotfix       []int8 // per pull request: 0 unknown, 1 hotfix, -1 not
}

func newRepoChanges(repo *RepoActivity, tl *timeline, p *plan) *repoChanges {
	r := &repoChanges{
		repo: repo, tl: tl, p: p, idx: NewChangeIndex(repo.PullRequests),
		prOf:         make([][]int, len(tl.successes)),
		firstCarried: make([][]int, len(tl.successes)),
		hotfix:       make([]int8, len(repo.PullRequests)),
	}
	for _, env := range tl.envs {
		deployedPR := make(map[int]struct{})
		deployedSHA := make(map[string]struct{})
		for _, k := range env {
			changes := tl.successes[k].d.Changes
			prs := make([]int, len(changes))
			var first []int
			for i, c := range changes {
				pr := r.idx.PullRequestFor(c)
				prs[i] = pr
				if pr >= 0 {
					if _, done := deployedPR[pr]; done {
						continue
					}
					deployedPR[pr] = struct{}{}
				} else {
					sha := strings.ToLower(c.SHA)
					if _, done := deployedSHA[sha]; done {
						continue
					}
					deployedSHA[sha] = struct{}{}
				}
				first = append(first, i)
			}
			r.prOf[k], r.firstCarried[k] = prs, first
		}
	}
	return r
}

// carriesHotfix reports whether deployment k brought its environment a hotfix: a pull
// request matching the hotfix pattern by title or head branch, or a directly pushed
// commit whose headline matches it.
func (r *repoChanges) carriesHotfix(k int) bool {
	if r.p.hotfix == nil {
		return false
	}
	changes := r.tl.successes[k].d.Changes
	for _, i := range r.firstCarried[k] {
		pr := r.prOf[k][i]
		if pr < 0 {
			if r.p.hotfix.MatchString(changes[i].MessageHeadline) {
				return true
			}
			continue
		}
		if r.hotfix[pr] == 0 {
			r.hotfix[pr] = -1
			if IsHotfixPR(r.repo.PullRequests[pr], r.p.hotfix) {
				r.hotfix[pr] = 1
			}
		}
		if r.hotfix[pr] == 1 {
			return true
		}
	}
	return false
}

// changeRef names a commit (sha, possibly abbreviated) and/or a pull request (pr ≥ 0)
// that a deployment may carry.
type changeRef struct {
	sha string
	pr  int
}

// revertEvent is one revert that landed on the default branch: when, what carried it
// (the default-branch commit, or the revert pull request) and what it reverts.
type revertEvent struct {
	landed  time.Time
	carrier changeRef
	targets []changeRef
}

// revertEvents lists the reverts of the repository's default branch:
//   - a default-branch commit whose message says "This reverts commit <sha>" — a
//     direct push, a squash or merge commit, or a commit a merge brought — reverting a
//     commit that is not one of its own pull request's commits (a feature branch's
//     `Revert "WIP"` reverts nothing that left the branch);
//   - a pull request merged into the default branch whose description says
//     "Reverts owner/repo#N" (GitHub's Revert button): it reverts pull request N;
//   - failing both, a merged pull request titled `Revert "<title>"`: it reverts the
//     latest pull request with that title merged before it.
func (r *repoChanges) revertEvents() []revertEvent {
	prs := r.repo.PullRequests
	var events []revertEvent
	hasEvent := make(map[int]bool)
	for _, c := range r.repo.Commits {
		if len(c.Reverts) == 0 {
			continue
		}
		carrier := r.idx.PullRequestFor(c)
		ev := revertEvent{carrier: changeRef{sha: c.SHA, pr: carrier}, landed: c.CommittedAt}
		if ev.landed.IsZero() {
			ev.landed = c.AuthoredAt
		}
		if carrier >= 0 && prs[carrier].MergedAt != nil {
			ev.landed = *prs[carrier].MergedAt
		}
		for _, sha := range c.Reverts {
			t := changeRef{sha: sha, pr: r.idx.pullRequestForSHA(sha)}
			if carrier >= 0 && (t.pr == carrier || ownCommit(prs[carrier], sha)) {
				continue // a revert among a pull request's own commits
			}
			ev.targets = append(ev.targets, t)
		}
		if len(ev.targets) > 0 {
			events = append(events, ev)
			if carrier >= 0 {
				hasEvent[carrier] = true
			}
		}
	}

	merged := make(map[int]int, len(prs)) // number → index, merged into the default branch
	for i := range prs {
		if prs[i].MergedAt != nil && r.p.intoDefaultBranch(r.repo, &prs[i]) {
			merged[prs[i].Number] = i
		}
	}
	for i := range prs {
		pr := &prs[i]
		if pr.MergedAt == nil || !r.p.intoDefaultBranch(r.repo, pr) {
			continue
		}
		target := -1
		if j, ok := merged[pr.RevertsNumber]; ok && pr.RevertsNumber > 0 && j != i {
			target = j
		} else if pr.RevertsNumber == 0 && !hasEvent[i] && IsRevertTitle(pr.Title) {
			target = r.revertedByTitle(i)
		}
		if target < 0 {
			continue
		}
		events = append(events, revertEvent{
			landed:  *pr.MergedAt,
			carrier: changeRef{sha: pr.MergeCommitSHA, pr: i},
			targets: []changeRef{{sha: prs[target].MergeCommitSHA, pr: target}},
		})
	}
	return events
}

// revertedByTitle finds the pull request a `Revert "<title>"` pull request reverts: the
// latest merged into the default branch before it with exactly that title; -1 if none.
func (r *repoChanges) revertedByTitle(i int) int {
	prs := r.repo.PullRequests
	title := strings.TrimSpace(prs[i].Title)
	title = strings.TrimSuffix(strings.TrimPrefix(title, `Revert "`), `"`)
	best := -1
	for j := range prs {
		pr := &prs[j]
		if j == i || pr.MergedAt == nil || pr.Title != title || !pr.MergedAt.Before(*prs[i].MergedAt) ||
			!r.p.intoDefaultBranch(r.repo, pr) {
			continue
		}
		if best < 0 || pr.MergedAt.After(*prs[best].MergedAt) {
			best = j
		}
	}
	return best
}

// blameRevert applies one revert in every environment: the first deployment there that
// carried a reverted change failed — unless it also carried the revert (the change was
// reverted before it reached that environment) or the revert landed more than the
// failure window after it finished. It is restored by the first later deployment to
// the environment that carries the revert, which is rework.
func (r *repoChanges) blameRevert(ev revertEvent, fails []failure, rework []bool) {
	for _, env := range r.tl.envs {
		for _, t := range ev.targets {
			d := -1
			for j, k := range env {
				if r.carries(k, t) {
					d = j
					break
				}
			}
			if d < 0 {
				continue // never deployed to this environment
			}
			k := env[d]
			if r.carries(k, ev.carrier) || ev.landed.Sub(r.tl.successes[k].at) > r.p.window {
				continue
			}
			var restoredAt time.Time
			restored := false
			for _, k2 := range env[d+1:] {
				if r.carries(k2, ev.carrier) {
					restoredAt, restored = r.tl.successes[k2].at, true
					rework[k2] = true
					break
				}
			}
			fails[k].blame(restoredAt, restored)
		}
	}
}

// carries reports whether deployment k deployed ref: its SHA is ref's commit, or one of
// its changes is ref's commit or maps to ref's pull request.
func (r *repoChanges) carries(k int, ref changeRef) bool {
	s := &r.tl.successes[k]
	if ref.sha != "" && shaMatches(s.d.SHA, ref.sha) {
		return true
	}
	for i, c := range s.d.Changes {
		if ref.pr >= 0 && r.prOf[k][i] == ref.pr {
			return true
		}
		if ref.sha != "" && shaMatches(c.SHA, ref.sha) {
			return true
		}
	}
	return false
}

// intoDefaultBranch reports whether a pull request targets the repository's default
// branch, when both are known.
func (p *plan) intoDefaultBranch(repo *RepoActivity, pr *PullRequest) bool {
	return repo.DefaultBranch == "" || pr.BaseRef == "" || pr.BaseRef == repo.DefaultBranch
}
