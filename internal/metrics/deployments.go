package metrics

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Deployment status states that end a deployment.
const (
	stateSuccess = "success"
	stateFailure = "failure"
	stateError   = "error"
)

// SucceededAt returns when a deployment first reported success: the deployment's finish
// time, which dates it (its week and day). ok is false when it never succeeded.
func SucceededAt(d Deployment) (at time.Time, ok bool) {
	for _, s := range d.Statuses {
		if s.State == stateSuccess {
			return s.CreatedAt, true
		}
	}
	return time.Time{}, false
}

// FailedAt returns when a deployment first reported failure or error. ok is false when it
// never did.
func FailedAt(d Deployment) (at time.Time, ok bool) {
	for _, s := range d.Statuses {
		if s.State == stateFailure || s.State == stateError {
			return s.CreatedAt, true
		}
	}
	return time.Time{}, false
}

// success is one successful production deployment of a repository.
type success struct {
	at       time.Time // first success status
	d        *Deployment
	env      int  // index into timeline.envs
	rollback bool // it deployed a SHA older than the one running in its environment (see markRollbacks)
}

// timeline is a repository's production deployment history, oldest first.
type timeline struct {
	successes []success
	// envs lists, per production environment, the indices into successes of its
	// deployments, oldest first. "The previous deployment", the change set and rollbacks
	// are per environment: a monorepo's production/web deploying an older SHA than
	// production/api is no rollback.
	envs [][]int
	// attempts are the first failure/error status times of the production deployments
	// that never succeeded: failed attempts, which deployed nothing.
	attempts []time.Time
}

func newTimeline(deployments []Deployment) timeline {
	var t timeline
	for i := range deployments {
		d := &deployments[i]
		if !d.Production {
			continue
		}
		if at, ok := SucceededAt(*d); ok {
			t.successes = append(t.successes, success{at: at, d: d})
		} else if at, ok := FailedAt(*d); ok {
			t.attempts = append(t.attempts, at)
		}
	}
	slices.SortFunc(t.successes, func(a, b success) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.d.ID, b.d.ID))
	})
	slices.SortFunc(t.attempts, time.Time.Compare)
	envIndex := map[string]int{}
	for k := range t.successes {
		s := &t.successes[k]
		key := strings.ToLower(s.d.Environment)
		e, ok := envIndex[key]
		if !ok {
			e = len(t.envs)
			envIndex[key] = e
			t.envs = append(t.envs, nil)
		}
		s.env = e
		t.envs[e] = append(t.envs[e], k)
	}
	for _, env := range t.envs {
		t.markRollbacks(env)
	}
	return t
}

// markRollbacks flags the deployments of one environment that roll back: they deploy a
// SHA strictly older than the one running there. Without a clone we cannot ask git for
// ancestry, so "older" is the order in which the environment first saw each commit:
// every commit of a change set (oldest first) and every deployed SHA gets the next
// number when it first appears. A change set lists commits that are ancestors of the
// deployment's SHA, so a commit first seen earlier is older. Deploying the running SHA
// again is a redeploy; deploying a newer SHA after a rollback (rolling forward) is not a
// rollback either. A rollback to a SHA the environment never deployed or compared (say,
// a tag cut from an old branch) is not recognised.
func (t *timeline) markRollbacks(env []int) {
	changes := 0
	for _, k := range env {
		changes += 1 + len(t.successes[k].d.Changes)
	}
	order := make(map[string]int, changes)
	see := func(sha string) {
		if _, ok := order[sha]; !ok {
			order[sha] = len(order)
		}
	}
	running := ""
	for j, k := range env {
		s := &t.successes[k]
		sha := strings.ToLower(s.d.SHA)
		if seen, ok := order[sha]; ok && j > 0 && sha != running && seen < order[running] {
			s.rollback = true
		}
		for _, c := range s.d.Changes {
			see(strings.ToLower(c.SHA))
		}
		see(sha)
		running = sha
	}
}

// latestAtOrBefore returns the index of the last successful deployment at or before t,
// or -1.
func (t *timeline) latestAtOrBefore(at time.Time) int {
	return sort.Search(len(t.successes), func(k int) bool { return t.successes[k].at.After(at) }) - 1
}

// firstDeployments returns, per pull request of the index, when the first successful
// production deployment whose changes map to it finished (zero when none did).
func (t *timeline) firstDeployments(idx *ChangeIndex, prCount int) []time.Time {
	first := make([]time.Time, prCount)
	for _, s := range t.successes {
		for _, c := range s.d.Changes {
			if pr := idx.PullRequestFor(c); pr >= 0 && first[pr].IsZero() {
				first[pr] = s.at
			}
		}
	}
	return first
}
