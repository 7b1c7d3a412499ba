package metrics

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// DORARow is one scope's DORA figures for one ISO week: a dora_metrics row (without the
// enterprise_id, which the store adds). Pointer fields are NULL (nil) when the week has
// no data for them; counts are 0 then. Every percentile carries its sample size.
type DORARow struct {
	ScopeType string    // ScopeEnterprise, ScopeOrganization or ScopeRepository
	Scope     string    // enterprise name, org login, or "org/repo"
	WeekStart time.Time // Monday 00:00 UTC

	Deployments    int // rollouts of successful production deployments that started in the week
	DeploymentDays int // UTC days of the week on which one started

	LeadTimeP50Hours *float64
	LeadTimeP90Hours *float64
	LeadTimeN        int // changes measured, once per production environment

	FailedDeployments int      // of Deployments, those a failure signal blames
	ChangeFailureRate *float64 // FailedDeployments ÷ Deployments

	RecoveryTimeP50Hours *float64
	RecoveryN            int // failed deployments restored

	ReworkDeployments int      // of Deployments, those that restore a failed deployment
	ReworkRate        *float64 // ReworkDeployments ÷ Deployments

	DeploymentFrequencyLevel Level // "" = NULL
	LeadTimeLevel            Level
	ChangeFailureLevel       Level
	RecoveryLevel            Level
	// PerformanceLevel is, for a repository, the worst of the four above that are set;
	// for an organization or the enterprise, the median of its repositories' levels.
	PerformanceLevel Level

	ThresholdsVersion string
	MetricVersion     int

	// Appended in metric_version 2.
	FailedAttempts      int // production deployment attempts that failed in the week (no deployment, no failure)
	UnrecoveredFailures int // of FailedDeployments, those not restored yet
	// Repositories at each performance level in the week (for a repository row, 1 in its
	// own level's column). Organization and enterprise rows rate these, never their
	// pooled deployment days.
	ReposElite, ReposHigh, ReposMedium, ReposLow int
}

// doraWeek is one repository's week (and, summed, a scope's).
type doraWeek struct {
	deployments, failed, rework int
	attempts, unrecovered       int
	days                        uint8 // bit i: a deployment on weekday i (Monday = 0)
	lead, recovery              []float64
	lastDeploy                  time.Time // latest successful deployment before the week's end
}

// DORARollingRow is one scope's DORA figures over the trailing window of WindowWeeks ISO
// weeks that ends with the week WeekStart: the weekly figures of those weeks added up
// (samples pooled), and the levels rated on the window (docs/metrics.md, "Rolling
// DORA"), so a repository that deploys every other week does not flip between levels
// week by week.
type DORARollingRow struct {
	DORARow
	WindowWeeks int
	WindowStart time.Time // Monday of the window's first week
}

// DORARollingWindows are the trailing windows dora_rolling holds: four weeks (about a
// month) and thirteen (a quarter).
func DORARollingWindows() []int { return []int{4, 13} }

// maxRollingWindow bounds a rolling window: a year.
const maxRollingWindow = 52

// DORAResult is what CalculateDORAWithRolling computes.
type DORAResult struct {
	Weekly  []DORARow
	Rolling []DORARollingRow // per window, in the order of the windows asked for
}

// CalculateDORA computes the weekly DORA metrics of every scope — the enterprise, each
// organization, each team with a repository mapping (Options.Teams) and each repository
// in repos — for every ISO week from opts.From to opts.To. It is pure: same input, same
// rows. Rows come enterprise first, then organizations, teams and repositories (each by
// name), weeks oldest first. The definitions are in docs/metrics.md.
func CalculateDORA(repos []RepoActivity, opts Options) ([]DORARow, error) {
	res, err := CalculateDORAWithRolling(repos, opts, nil)
	return res.Weekly, err
}

// CalculateDORAWithRolling computes the weekly rows of CalculateDORA and, for each window
// length in windows (weeks, 2–52), a rolling row per scope and week of opts.From…opts.To
// over the window ending with that week. The rolling rows reuse the per-repository weekly
// deployments, failures and samples of the weekly calculation: the weeks before opts.From
// that the longest window reaches back to are computed too (and not returned), so the
// caller loads DataWindow from the window's first week.
func CalculateDORAWithRolling(repos []RepoActivity, opts Options, windows []int) (DORAResult, error) {
	lookback := 0
	var errs []error
	for i, n := range windows {
		switch {
		case n < 2 || n > maxRollingWindow:
			errs = append(errs, fmt.Errorf("windows[%d]: %d weeks is outside 2–%d", i, n, maxRollingWindow))
		case slices.Index(windows, n) < i:
			errs = append(errs, fmt.Errorf("windows[%d]: %d weeks is asked for twice", i, n))
		}
		lookback = max(lookback, n-1)
	}
	if err := errors.Join(errs...); err != nil {
		return DORAResult{}, err
	}
	p, err := newPlan(repos, opts)
	if err != nil {
		return DORAResult{}, err
	}
	if lookback > 0 {
		ext := opts
		ext.From = WeekStart(opts.From).AddDate(0, 0, -7*lookback)
		if p, err = newPlan(repos, ext); err != nil {
			return DORAResult{}, err
		}
	}
	perRepo := make([][]doraWeek, len(repos))
	for i := range repos {
		perRepo[i] = p.repoDORA(&repos[i])
	}
	scopes := p.scopesInOrder(repos, p.teamRepoScopes(repos))
	res := DORAResult{Weekly: p.doraRows(repos, perRepo, scopes, 1, lookback)}
	for _, n := range windows {
		for _, r := range p.doraRows(repos, perRepo, scopes, n, lookback) {
			res.Rolling = append(res.Rolling, DORARollingRow{DORARow: r, WindowWeeks: n, WindowStart: r.WeekStart.AddDate(0, 0, -7*(n-1))})
		}
	}
	return res, nil
}

// doraRows computes the rows of every scope for the weeks from index skip on, each over
// the window of n weeks ending with it (n = 1: the weekly rows). Repositories are rated
// first: the levels of an organization, a team and the enterprise are the distribution
// of their repositories' levels.
func (p *plan) doraRows(repos []RepoActivity, perRepo [][]doraWeek, scopes []scopeRow, n, skip int) []DORARow {
	weeks := len(p.weeks) - skip
	var lead, recovery []float64
	var days []int
	repoRows := make([][]DORARow, len(repos))
	for i := range repos {
		repoRows[i] = make([]DORARow, weeks)
		s := scopeRow{ScopeRepository, repos[i].FullName, []int{i}}
		for w := range weeks {
			hi := skip + w
			lead = gatherRange(lead, perRepo, s.members, hi-n+1, hi, func(x *doraWeek) []float64 { return x.lead })
			recovery = gatherRange(recovery, perRepo, s.members, hi-n+1, hi, func(x *doraWeek) []float64 { return x.recovery })
			repoRows[i][w], days = p.doraRow(s, hi-n+1, hi, perRepo, lead, recovery, days)
		}
	}
	rows := make([]DORARow, 0, weeks*len(scopes))
	levels := make([]Level, 0, len(repos))
	for _, s := range scopes {
		if s.scopeType == ScopeRepository {
			rows = append(rows, repoRows[s.members[0]]...)
			continue
		}
		for w := range weeks {
			hi := skip + w
			lead = gatherRange(lead, perRepo, s.members, hi-n+1, hi, func(x *doraWeek) []float64 { return x.lead })
			recovery = gatherRange(recovery, perRepo, s.members, hi-n+1, hi, func(x *doraWeek) []float64 { return x.recovery })
			var r DORARow
			r, days = p.doraRow(s, hi-n+1, hi, perRepo, lead, recovery, days)
			r.ReposElite, r.ReposHigh, r.ReposMedium, r.ReposLow = 0, 0, 0, 0
			levels = levels[:0]
			for _, m := range s.members {
				rr := &repoRows[m][w]
				r.ReposElite += rr.ReposElite
				r.ReposHigh += rr.ReposHigh
				r.ReposMedium += rr.ReposMedium
				r.ReposLow += rr.ReposLow
				levels = append(levels, rr.DeploymentFrequencyLevel)
			}
			r.DeploymentFrequencyLevel = p.thresholds.MedianLevel(levels)
			levels = levels[:0]
			for _, m := range s.members {
				levels = append(levels, repoRows[m][w].PerformanceLevel)
			}
			r.PerformanceLevel = p.thresholds.MedianLevel(levels)
			rows = append(rows, r)
		}
	}
	return rows
}

// gatherRange appends the samples of weeks lo…hi of every member repository to buf[:0].
func gatherRange[W any, T any](buf []T, perRepo [][]W, members []int, lo, hi int, samples func(*W) []T) []T {
	buf = buf[:0]
	for _, m := range members {
		for w := lo; w <= hi; w++ {
			buf = append(buf, samples(&perRepo[m][w])...)
		}
	}
	return buf
}

// doraRow adds up weeks lo…hi of the scope's repositories and rates them as a repository
// is rated: one week (lo = hi) by the weekly rules, a longer window by the window rules
// (Thresholds.WindowDeploymentFrequencyLevel). The row is dated by week hi. lead and
// recovery are the scope's pooled samples; they are sorted in place. days is a buffer
// for the weekly deployment days, returned for reuse.
func (p *plan) doraRow(s scopeRow, lo, hi int, perRepo [][]doraWeek, lead, recovery []float64, days []int) (DORARow, []int) {
	var sum doraWeek
	days = days[:0]
	for w := lo; w <= hi; w++ {
		var weekDays uint8
		for _, m := range s.members {
			x := &perRepo[m][w]
			sum.deployments += x.deployments
			sum.failed += x.failed
			sum.rework += x.rework
			sum.attempts += x.attempts
			sum.unrecovered += x.unrecovered
			weekDays |= x.days
			if w == hi && x.lastDeploy.After(sum.lastDeploy) {
				sum.lastDeploy = x.lastDeploy
			}
		}
		days = append(days, bits.OnesCount8(weekDays))
	}
	deploymentDays := 0
	for _, d := range days {
		deploymentDays += d
	}
	t := p.thresholds
	r := DORARow{
		ScopeType:            s.scopeType,
		Scope:                s.scope,
		WeekStart:            p.weeks[hi],
		Deployments:          sum.deployments,
		DeploymentDays:       deploymentDays,
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
		FailedAttempts:       sum.attempts,
		UnrecoveredFailures:  sum.unrecovered,
	}
	sinceLast := time.Duration(-1)
	if !sum.lastDeploy.IsZero() {
		sinceLast = p.weeks[hi].Add(Week).Sub(sum.lastDeploy)
	}
	if lo == hi {
		r.DeploymentFrequencyLevel = t.DeploymentFrequencyLevel(r.DeploymentDays, sinceLast)
	} else {
		r.DeploymentFrequencyLevel = t.WindowDeploymentFrequencyLevel(days, sinceLast)
	}
	r.LeadTimeLevel = t.LeadTimeLevel(r.LeadTimeP50Hours)
	r.ChangeFailureLevel = t.ChangeFailureLevel(r.ChangeFailureRate)
	r.RecoveryLevel = t.RecoveryLevel(r.RecoveryTimeP50Hours)
	r.PerformanceLevel = t.OverallLevel(r.DeploymentFrequencyLevel, r.LeadTimeLevel, r.ChangeFailureLevel, r.RecoveryLevel)
	switch r.PerformanceLevel {
	case LevelElite:
		r.ReposElite = 1
	case LevelHigh:
		r.ReposHigh = 1
	case LevelMedium:
		r.ReposMedium = 1
	case LevelLow:
		r.ReposLow = 1
	}
	return r, days
}

// failure is what the failure signals say of one successful deployment.
type failure struct {
	failed     bool
	restored   bool
	restoredAt time.Time // the earliest restoration among its signals
}

// blame records a signal against the deployment, restored at restoredAt when restored.
func (f *failure) blame(restoredAt time.Time, restored bool) {
	f.failed = true
	if restored && (!f.restored || restoredAt.Before(f.restoredAt)) {
		f.restored, f.restoredAt = true, restoredAt
	}
}

// repoDORA computes one repository's weeks.
func (p *plan) repoDORA(repo *RepoActivity) []doraWeek {
	weeks := make([]doraWeek, len(p.weeks))
	tl := newTimeline(repo.Deployments)
	n := len(tl.successes)
	r := newRepoChanges(repo, &tl, p)

	fails := make([]failure, n)
	rework := make([]bool, n) // the deployment restores a failed one

	for _, env := range tl.envs {
		for j := 1; j < len(env); j++ {
			k, prev := env[j], env[j-1]
			s := &tl.successes[k]
			// Rollback: blames the deployment it replaced, restored when it finished.
			if s.rollback {
				fails[prev].blame(s.at, true)
				rework[k] = true
			}
			// Hotfix: blames the previous deployment to the environment when it came
			// within the failure window, restored when the hotfix finished.
			if r.carriesHotfix(k) && s.at.Sub(tl.successes[prev].at) <= p.window {
				fails[prev].blame(s.at, true)
				rework[k] = true
			}
		}
	}
	for _, ev := range r.revertEvents() {
		r.blameRevert(ev, fails, rework)
	}
	for _, in := range repo.Incidents {
		if !CountsAsIncident(in) {
			continue
		}
		j := tl.latestAtOrBefore(in.CreatedAt)
		if j < 0 || in.CreatedAt.Sub(tl.successes[j].at) > p.window {
			continue // before any deployment, or too late to blame one
		}
		if in.ClosedAt != nil {
			fails[j].blame(*in.ClosedAt, true)
		} else {
			fails[j].blame(time.Time{}, false)
		}
	}

	// Lead time: one sample per change the first time a deployment to an environment
	// carries it, in that deployment's week.
	for k := range tl.successes {
		s := &tl.successes[k]
		w := p.weekIndex(s.at)
		if w < 0 {
			continue
		}
		for _, i := range r.firstCarried[k] {
			c := s.d.Changes[i]
			if lt := s.at.Sub(r.idx.ChangeStart(c, r.prOf[k][i])); lt > 0 {
				weeks[w].lead = append(weeks[w].lead, hours(lt))
			}
		}
	}

	// Counts, failures, recovery and rework are per rollout.
	for _, ro := range p.rollouts(&tl) {
		first := &tl.successes[ro[0]]
		w := p.weekIndex(first.at)
		if w < 0 {
			continue
		}
		wk := &weeks[w]
		wk.deployments++
		wk.days |= 1 << weekday(first.at)
		var failed, unrestored, isRework bool
		var from, to time.Time
		for _, k := range ro {
			if rework[k] {
				isRework = true
			}
			f := &fails[k]
			if !f.failed {
				continue
			}
			at := tl.successes[k].at
			if !failed || at.Before(from) {
				from = at
			}
			failed = true
			if !f.restored {
				unrestored = true
			} else if f.restoredAt.After(to) {
				to = f.restoredAt
			}
		}
		if isRework {
			wk.rework++
		}
		switch {
		case !failed:
		case unrestored:
			wk.failed++
			wk.unrecovered++
		default:
			wk.failed++
			if d := to.Sub(from); d >= 0 {
				wk.recovery = append(wk.recovery, hours(d))
			}
		}
	}

	for _, at := range tl.attempts {
		if w := p.weekIndex(at); w >= 0 {
			weeks[w].attempts++
		}
	}

	next := 0 // successes before the current week's end
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

// CountsAsIncident reports whether an incident issue is one: closed as not planned (or
// as a duplicate), it was not. The collector drops the others; the calculator checks
// again.
func CountsAsIncident(in Incident) bool {
	switch strings.ToLower(in.StateReason) {
	case "not_planned", "duplicate":
		return false
	}
	return true
}

// rollouts groups the successful deployments into rollouts: a deployment of the same SHA
// of the repository to another production environment finishing within the rollout
// window of the group's first joins it (regions, blue/green pairs), so one SHA rolled
// out to N environments counts once and a failure of it is not divided by N. A group has
// at most one deployment per environment. A zero window puts every deployment in a group
// of its own. Groups come in the order of their first deployment.
func (p *plan) rollouts(tl *timeline) [][]int {
	groups := make([][]int, 0, len(tl.successes))
	open := map[string]int{} // SHA → its latest group
	for k := range tl.successes {
		s := &tl.successes[k]
		sha := strings.ToLower(s.d.SHA)
		if g, ok := open[sha]; ok && p.rolloutWindow > 0 && sha != "" &&
			s.at.Sub(tl.successes[groups[g][0]].at) <= p.rolloutWindow &&
			!slices.ContainsFunc(groups[g], func(m int) bool { return tl.successes[m].env == s.env }) {
			groups[g] = append(groups[g], k)
			continue
		}
		open[sha] = len(groups)
		groups = append(groups, []int{k})
	}
	return groups
}
