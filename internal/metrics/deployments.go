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
	rollback bool // it deployed a SHA older than the one running (see markRollbacks)
}

// timeline is a repository's production deployment history, oldest first.
type timeline struct {
	successes []success
	failures  []time.Time // first failure/error status of each production deployment
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
		}
		if at, ok := FailedAt(*d); ok {
			t.failures = append(t.failures, at)
		}
	}
	slices.SortFunc(t.successes, func(a, b success) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.d.ID, b.d.ID))
	})
	slices.SortFunc(t.failures, time.Time.Compare)
	t.markRollbacks()
	return t
}

// markRollbacks flags the successful deployments that roll back: they deploy a SHA that
// production already ran — an earlier deployment's SHA or one of the commits an earlier
// deployment brought — other than the SHA running just before. Without a clone we cannot
// ask git whether a SHA is an ancestor; a SHA we have seen deployed before is older than
// everything deployed since, which is what rolling back means. Deploying the running SHA
// again is a redeploy, not a rollback. A rollback to a SHA never deployed and never listed
// in a compare (say, a tag cut from an old branch) is not recognised.
func (t *timeline) markRollbacks() {
	changes := 0
	for _, s := range t.successes {
		changes += 1 + len(s.d.Changes)
	}
	seen := make(map[string]struct{}, changes)
	running := ""
	for k := range t.successes {
		s := &t.successes[k]
		sha := strings.ToLower(s.d.SHA)
		if _, ok := seen[sha]; ok && k > 0 && sha != running {
			s.rollback = true
		}
		seen[sha] = struct{}{}
		for _, c := range s.d.Changes {
			seen[strings.ToLower(c.SHA)] = struct{}{}
		}
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
