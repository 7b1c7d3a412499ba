package metrics

import (
	"math/bits"
	"time"
)

// DORARow is one scope's DORA figures for one ISO week: a dora_metrics row (without the
// enterprise_id, which the store adds). Pointer fields are NULL (nil) when the week has
// no data for them; counts are 0 then. Every percentile carries its sample size.
type DORARow struct {
	ScopeType string    // ScopeEnterprise, ScopeOrganization or ScopeRepository
	Scope     string    // enterprise name, org login, or "org/repo"
	WeekStart time.Time // Monday 00:00 UTC

	Deployments    int // successful production deployments that finished in the week
	DeploymentDays int // UTC days of the week with at least one of them

	LeadTimeP50Hours *float64
	LeadTimeP90Hours *float64
	LeadTimeN        int // changes measured

	FailedDeployments int      // of Deployments, those with a failure signal
	ChangeFailureRate *float64 // FailedDeployments ÷ Deployments

	RecoveryTimeP50Hours *float64
	RecoveryN            int // failed deployments whose recovery is known

	ReworkDeployments int      // of Deployments, those that remediate a failure
	ReworkRate        *float64 // ReworkDeployments ÷ Deployments

	DeploymentFrequencyLevel Level // "" = NULL
	LeadTimeLevel            Level
	ChangeFailureLevel       Level
	RecoveryLevel            Level
	PerformanceLevel         Level // the worst of the four above that are set

	ThresholdsVersion string
	MetricVersion     int
}

// doraWeek is one repository's week (and, summed, a scope's).
type doraWeek struct {
	deployments, failed, rework int
	days                        uint8 // bit i: a deployment on weekday i (Monday = 0)
	lead, recovery              []float64
	lastDeploy                  time.Time // latest successful deployment before the week's end
}

// CalculateDORA computes the weekly DORA metrics of every scope — the enterprise, each
// organization and each repository in repos — for every ISO week from opts.From to
// opts.To. It is pure: same input, same rows. Rows come enterprise first, then
// organizations, then repositories (each by name), weeks oldest first. The definitions
// are in docs/metrics.md.
func CalculateDORA(repos []RepoActivity, opts Options) ([]DORARow, error) {
	p, err := newPlan(repos, opts)
	if err != nil {
		return nil, err
	}
	perRepo := make([][]doraWeek, len(repos))
	for i := range repos {
		perRepo[i] = p.repoDORA(&repos[i])
	}
	scopes := p.scopesInOrder(repos)
	rows := make([]DORARow, 0, len(p.weeks)*len(scopes))
	var lead, recovery []float64
	for _, s := range scopes {
		for w := range p.weeks {
			lead = gather(lead, perRepo, s.members, w, func(x *doraWeek) []float64 { return x.lead })
			recovery = gather(recovery, perRepo, s.members, w, func(x *doraWeek) []float64 { return x.recovery })
			rows = append(rows, p.doraRow(s, w, perRepo, lead, recovery))
		}
	}
	return rows, nil
}

// doraRow adds up week w of the scope's repositories and rates it. lead and recovery are
// the scope's pooled samples; they are sorted in place.
func (p *plan) doraRow(s scopeRow, w int, perRepo [][]doraWeek, lead, recovery []float64) DORARow {
	var sum doraWeek
	for _, m := range s.members {
		x := &perRepo[m][w]
		sum.deployments += x.deployments
		sum.failed += x.failed
		sum.rework += x.rework
		sum.days |= x.days
		if x.lastDeploy.After(sum.lastDeploy) {
			sum.lastDeploy = x.lastDeploy
		}
	}
	t := p.thresholds
	r := DORARow{
		ScopeType:            s.scopeType,
		Scope:                s.scope,
		WeekStart:            p.weeks[w],
		Deployments:          sum.deployments,
		DeploymentDays:       bits.OnesCount8(sum.days),
		LeadTimeP50Hours:     Percentile(lead, 0.5),
		LeadTimeP90Hours:     Percentile(lead, 0.9),
		LeadTimeN:            len(lead),
		FailedDeployments:    sum.failed,
		ChangeFailureRate:    ratio(sum.failed, sum.deployments),
		RecoveryTimeP50Hours: Percentile(recovery, 0.5),
		RecoveryN:            len(recovery),
		ReworkDeployments:    sum.rework,
		ReworkRate:           ratio(sum.rework, sum.deployments),
		ThresholdsVersion:    t.Version,
		MetricVersion:        MetricVersion,
	}
	sinceLast := time.Duration(-1)
	if !sum.lastDeploy.IsZero() {
		sinceLast = p.weeks[w].Add(Week).Sub(sum.lastDeploy)
	}
	r.DeploymentFrequencyLevel = t.DeploymentFrequencyLevel(r.DeploymentDays, sinceLast)
	r.LeadTimeLevel = t.LeadTimeLevel(r.LeadTimeP50Hours)
	r.ChangeFailureLevel = t.ChangeFailureLevel(r.ChangeFailureRate)
	r.RecoveryLevel = t.RecoveryLevel(r.RecoveryTimeP50Hours)
	r.PerformanceLevel = t.OverallLevel(r.DeploymentFrequencyLevel, r.LeadTimeLevel, r.ChangeFailureLevel, r.RecoveryLevel)
	return r
}

// Failure signal kinds, in the order that breaks a tie between signals at the same time.
type signalKind int

const (
	signalIncident signalKind = iota
	signalRevert
	signalFailedDeployment
	signalRollback
)

// failure is the earliest failure signal linked to a successful deployment.
type failure struct {
	at       time.Time
	kind     signalKind
	closedAt *time.Time // the incident's close, for signalIncident
}

func (f *failure) earlier(at time.Time, kind signalKind) bool {
	return f == nil || at.Before(f.at) || (at.Equal(f.at) && kind < f.kind)
}

// repoDORA computes one repository's weeks.
func (p *plan) repoDORA(repo *RepoActivity) []doraWeek {
	weeks := make([]doraWeek, len(p.weeks))
	tl := newTimeline(repo.Deployments)
	n := len(tl.successes)
	idx := NewChangeIndex(repo.PullRequests)

	// Link every failure signal to the deployment it blames: the latest successful
	// production deployment at or before the signal, if the signal came within the
	// failure window. By construction it came before the next successful deployment.
	failures := make([]*failure, n)
	link := func(at time.Time, kind signalKind, closedAt *time.Time) {
		j := tl.latestAtOrBefore(at)
		if j < 0 || at.Sub(tl.successes[j].at) > p.window {
			return // before any deployment, or too late to blame one
		}
		if failures[j].earlier(at, kind) {
			failures[j] = &failure{at: at, kind: kind, closedAt: closedAt}
		}
	}
	for _, in := range repo.Incidents {
		link(in.CreatedAt, signalIncident, in.ClosedAt)
	}
	for i := range repo.PullRequests {
		pr := &repo.PullRequests[i]
		if pr.MergedAt != nil && p.intoDefaultBranch(repo, pr) && IsRevertPR(*pr) {
			link(*pr.MergedAt, signalRevert, nil)
		}
	}
	for _, at := range tl.failures {
		link(at, signalFailedDeployment, nil)
	}
	// A rollback blames the deployment it rolls back from, the one just before it. It
	// started when the rollback deployment was created.
	for k := 1; k < n; k++ {
		if !tl.successes[k].rollback {
			continue
		}
		prev := tl.successes[k-1].at
		at := tl.successes[k].d.CreatedAt
		if at.Before(prev) {
			at = prev
		}
		if at.Sub(prev) <= p.window && failures[k-1].earlier(at, signalRollback) {
			failures[k-1] = &failure{at: at, kind: signalRollback}
		}
	}

	fixes := make([]int8, len(repo.PullRequests)) // 0 unknown, 1 fix, -1 not a fix
	isFix := func(pr int) bool {
		if fixes[pr] == 0 {
			fixes[pr] = -1
			if pull := repo.PullRequests[pr]; IsRevertPR(pull) || IsHotfixPR(pull, p.hotfix) {
				fixes[pr] = 1
			}
		}
		return fixes[pr] == 1
	}

	deployedPR := make([]bool, len(repo.PullRequests))
	deployedSHA := make(map[string]struct{})
	next := 0 // for lastDeploy: successes before the current week's end
	for k := range tl.successes {
		s := &tl.successes[k]
		w := p.weekIndex(s.at)

		// Lead time: one sample per change — a pull request, or a directly pushed
		// commit — the first time a deployment carries it.
		rework := s.rollback || (k > 0 && failures[k-1] != nil)
		var lead []float64
		for _, c := range s.d.Changes {
			pr := idx.PullRequestFor(c)
			if pr >= 0 {
				if isFix(pr) {
					rework = true
				}
				if deployedPR[pr] {
					continue
				}
				deployedPR[pr] = true
			} else {
				if IsRevertCommit(c) {
					rework = true
				}
				if _, done := deployedSHA[c.SHA]; done {
					continue
				}
				deployedSHA[c.SHA] = struct{}{}
			}
			if lt := s.at.Sub(idx.ChangeStart(c, pr)); lt > 0 && w >= 0 {
				lead = append(lead, hours(lt))
			}
		}
		if w < 0 {
			continue
		}

		wk := &weeks[w]
		wk.deployments++
		wk.days |= 1 << weekday(s.at)
		wk.lead = append(wk.lead, lead...)
		if rework {
			wk.rework++
		}
		if f := failures[k]; f != nil {
			wk.failed++
			if rec, ok := recovery(f, tl.successes, k); ok {
				wk.recovery = append(wk.recovery, hours(rec))
			}
		}
	}

	for w := range weeks {
		end := p.weeks[w].Add(Week)
		for next < n && tl.successes[next].at.Before(end) {
			next++
		}
		if next > 0 {
			weeks[w].lastDeploy = tl.successes[next-1].at
		}
	}
	return weeks
}

// recovery returns how long the failure of successful deployment k lasted: from its
// earliest signal to the incident's close when that signal is an incident, otherwise to
// the next successful production deployment. ok is false while it lasts (incident still
// open, no deployment since).
func recovery(f *failure, successes []success, k int) (time.Duration, bool) {
	var end time.Time
	switch {
	case f.kind == signalIncident:
		if f.closedAt == nil {
			return 0, false
		}
		end = *f.closedAt
	case k+1 < len(successes):
		end = successes[k+1].at
	default:
		return 0, false
	}
	d := end.Sub(f.at)
	if d < 0 {
		return 0, false
	}
	return d, true
}

// intoDefaultBranch reports whether a pull request targets the repository's default
// branch, when both are known.
func (p *plan) intoDefaultBranch(repo *RepoActivity, pr *PullRequest) bool {
	return repo.DefaultBranch == "" || pr.BaseRef == "" || pr.BaseRef == repo.DefaultBranch
}
