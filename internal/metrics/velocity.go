package metrics

import (
	"slices"
	"strings"
	"time"
)

// VelocityRow is one scope's velocity figures for one ISO week: a velocity_metrics row
// (without the enterprise_id, which the store adds). Pointer fields are NULL (nil) when
// the week has no data for them; counts are 0 then. Every percentile carries its sample
// size. Pull requests and commits by bots are left out (see BotClassifier).
type VelocityRow struct {
	ScopeType string
	Scope     string
	WeekStart time.Time

	PRsOpened         int // created in the week
	PRsMerged         int // merged in the week
	PRsClosedUnmerged int // closed without merge in the week

	// Durations of the pull requests merged in the week.
	PRCycleTimeP50Hours *float64 // created → merged
	PRCycleTimeP90Hours *float64
	PRCycleTimeN        int
	CodingTimeP50Hours  *float64 // first commit authored → created
	CodingTimeN         int
	PickupTimeP50Hours  *float64 // created → first review by a human other than the author
	PickupTimeN         int
	ReviewTimeP50Hours  *float64 // that first review → merged
	ReviewTimeN         int
	DeployTimeP50Hours  *float64 // merged → first successful production deployment carrying it
	DeployTimeN         int

	PRsMergedWithoutReview int      // merged in the week with no such review before the merge
	PRSizeP50              *float64 // additions + deletions of the PRs merged in the week
	PRSizeN                int

	Commits            int // non-merge commits on default branches, committed in the week
	ActiveContributors int // people who committed, opened a PR or reviewed in the week

	WorkflowRuns               int      // runs created in the week
	WorkflowCompletedRuns      int      // of those, completed and not skipped
	WorkflowSuccessRate        *float64 // successful ÷ WorkflowCompletedRuns
	WorkflowDurationP50Seconds *float64 // of the completed runs: run start → last update
	WorkflowDurationN          int

	MetricVersion int
}

// velocityWeek is one repository's week (and, summed, a scope's).
type velocityWeek struct {
	opened, merged, closedUnmerged, withoutReview int
	commits, runs, completedRuns, successfulRuns  int
	cycle, coding, pickup, review, deploy, size   []float64
	duration                                      []float64
	contributors                                  []int32 // interned logins, with repeats
}

// CalculateVelocity computes the weekly velocity metrics of every scope — the enterprise,
// each organization and each repository in repos — for every ISO week from opts.From to
// opts.To. It is pure: same input, same rows, in the order CalculateDORA uses. The
// definitions are in docs/metrics.md.
func CalculateVelocity(repos []RepoActivity, opts Options) ([]VelocityRow, error) {
	p, err := newPlan(repos, opts)
	if err != nil {
		return nil, err
	}
	people := make(map[string]int32)
	perRepo := make([][]velocityWeek, len(repos))
	for i := range repos {
		perRepo[i] = p.repoVelocity(&repos[i], people)
	}
	scopes := p.scopesInOrder(repos)
	rows := make([]VelocityRow, 0, len(p.weeks)*len(scopes))
	var buf []float64
	var who []int32
	// p50 of one duration over the scope's pooled sample; buf is reused.
	p50 := func(s scopeRow, w int, samples func(*velocityWeek) []float64) (*float64, int) {
		buf = gather(buf, perRepo, s.members, w, samples)
		return Percentile(buf, 0.5), len(buf)
	}
	for _, s := range scopes {
		for w := range p.weeks {
			var sum velocityWeek
			for _, m := range s.members {
				x := &perRepo[m][w]
				sum.opened += x.opened
				sum.merged += x.merged
				sum.closedUnmerged += x.closedUnmerged
				sum.withoutReview += x.withoutReview
				sum.commits += x.commits
				sum.runs += x.runs
				sum.completedRuns += x.completedRuns
				sum.successfulRuns += x.successfulRuns
			}
			r := VelocityRow{
				ScopeType:              s.scopeType,
				Scope:                  s.scope,
				WeekStart:              p.weeks[w],
				PRsOpened:              sum.opened,
				PRsMerged:              sum.merged,
				PRsClosedUnmerged:      sum.closedUnmerged,
				PRsMergedWithoutReview: sum.withoutReview,
				Commits:                sum.commits,
				WorkflowRuns:           sum.runs,
				WorkflowCompletedRuns:  sum.completedRuns,
				WorkflowSuccessRate:    ratio(sum.successfulRuns, sum.completedRuns),
				MetricVersion:          MetricVersion,
			}
			buf = gather(buf, perRepo, s.members, w, func(x *velocityWeek) []float64 { return x.cycle })
			r.PRCycleTimeP50Hours, r.PRCycleTimeP90Hours, r.PRCycleTimeN = Percentile(buf, 0.5), Percentile(buf, 0.9), len(buf)
			r.CodingTimeP50Hours, r.CodingTimeN = p50(s, w, func(x *velocityWeek) []float64 { return x.coding })
			r.PickupTimeP50Hours, r.PickupTimeN = p50(s, w, func(x *velocityWeek) []float64 { return x.pickup })
			r.ReviewTimeP50Hours, r.ReviewTimeN = p50(s, w, func(x *velocityWeek) []float64 { return x.review })
			r.DeployTimeP50Hours, r.DeployTimeN = p50(s, w, func(x *velocityWeek) []float64 { return x.deploy })
			r.PRSizeP50, r.PRSizeN = p50(s, w, func(x *velocityWeek) []float64 { return x.size })
			r.WorkflowDurationP50Seconds, r.WorkflowDurationN = p50(s, w, func(x *velocityWeek) []float64 { return x.duration })
			who = gather(who, perRepo, s.members, w, func(x *velocityWeek) []int32 { return x.contributors })
			r.ActiveContributors = countDistinct(who)
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// countDistinct counts the distinct ids; ids is sorted in place.
func countDistinct(ids []int32) int {
	slices.Sort(ids)
	return len(slices.Compact(ids))
}

// repoVelocity computes one repository's weeks. people interns logins across the whole
// calculation, so organization and enterprise scopes count a person once.
func (p *plan) repoVelocity(repo *RepoActivity, people map[string]int32) []velocityWeek {
	weeks := make([]velocityWeek, len(p.weeks))
	contributed := func(w int, login string) {
		if w < 0 || login == "" || p.bots.IsBot(login) {
			return
		}
		key := strings.ToLower(login)
		id, ok := people[key]
		if !ok {
			id = int32(len(people))
			people[key] = id
		}
		weeks[w].contributors = append(weeks[w].contributors, id)
	}

	tl := newTimeline(repo.Deployments)
	idx := NewChangeIndex(repo.PullRequests)
	deployedAt := tl.firstDeployments(idx, len(repo.PullRequests))

	for i := range repo.PullRequests {
		pr := &repo.PullRequests[i]
		for _, r := range pr.Reviews {
			contributed(p.weekIndex(r.SubmittedAt), r.ReviewerLogin)
		}
		if p.bots.IsBot(pr.AuthorLogin) {
			continue
		}
		if w := p.weekIndex(pr.CreatedAt); w >= 0 {
			weeks[w].opened++
			contributed(w, pr.AuthorLogin)
		}
		if pr.MergedAt == nil {
			if pr.ClosedAt != nil {
				if w := p.weekIndex(*pr.ClosedAt); w >= 0 {
					weeks[w].closedUnmerged++
				}
			}
			continue
		}
		w := p.weekIndex(*pr.MergedAt)
		if w < 0 {
			continue
		}
		wk := &weeks[w]
		merged := *pr.MergedAt
		wk.merged++
		wk.size = append(wk.size, float64(pr.Additions+pr.Deletions))
		wk.cycle = appendSpan(wk.cycle, pr.CreatedAt, merged)
		if first := FirstCommitAt(*pr); !first.IsZero() {
			wk.coding = appendSpan(wk.coding, first, pr.CreatedAt)
		}
		if first, ok := p.firstReview(pr); ok {
			wk.pickup = appendSpan(wk.pickup, pr.CreatedAt, first)
			wk.review = appendSpan(wk.review, first, merged)
		} else {
			wk.withoutReview++
		}
		if at := deployedAt[i]; !at.IsZero() {
			wk.deploy = appendSpan(wk.deploy, merged, at)
		}
	}

	seen := make(map[string]struct{}, len(repo.Commits))
	for _, c := range repo.Commits {
		if _, dup := seen[c.SHA]; dup {
			continue
		}
		seen[c.SHA] = struct{}{}
		at := c.CommittedAt
		if at.IsZero() {
			at = c.AuthoredAt
		}
		w := p.weekIndex(at)
		if w < 0 || c.ParentCount > 1 || p.bots.IsBot(c.AuthorLogin) {
			continue
		}
		weeks[w].commits++
		contributed(w, c.AuthorLogin)
	}

	for _, run := range repo.WorkflowRuns {
		w := p.weekIndex(run.CreatedAt)
		if w < 0 {
			continue
		}
		wk := &weeks[w]
		wk.runs++
		if !run.Completed() || run.Conclusion == "skipped" {
			continue
		}
		wk.completedRuns++
		if run.Conclusion == "success" {
			wk.successfulRuns++
		}
		start := run.RunStartedAt
		if start.IsZero() {
			start = run.CreatedAt
		}
		if d := run.UpdatedAt.Sub(start); d >= 0 {
			wk.duration = append(wk.duration, d.Seconds())
		}
	}
	return weeks
}

// firstReview returns when the first review by someone other than the author, and not a
// bot, was submitted at or before the merge. Pending reviews (not submitted) do not count.
func (p *plan) firstReview(pr *PullRequest) (time.Time, bool) {
	var first time.Time
	for _, r := range pr.Reviews {
		if r.SubmittedAt.IsZero() || r.State == "PENDING" || r.SubmittedAt.After(*pr.MergedAt) ||
			r.ReviewerLogin == "" || strings.EqualFold(r.ReviewerLogin, pr.AuthorLogin) || p.bots.IsBot(r.ReviewerLogin) {
			continue
		}
		if first.IsZero() || r.SubmittedAt.Before(first) {
			first = r.SubmittedAt
		}
	}
	return first, !first.IsZero()
}

// appendSpan appends the hours from start to end, unless either is unknown or the span
// is negative (clock skew, or data that cannot be right).
func appendSpan(samples []float64, start, end time.Time) []float64 {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return samples
	}
	return append(samples, hours(end.Sub(start)))
}
