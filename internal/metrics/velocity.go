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

type velocityWeek struct {
	opened, merged, closedUnmerged, withoutReview int
	commits, runs, completedRuns, successfulRuns  int
	cycle, coding, pickup, review, deploy, size   []float64
	duration                                      []float64
	contributors                                  []int32 // interned logins, with repeats
}

func (w *velocityWeek) merge(o *velocityWeek) {
	w.opened += o.opened
	w.merged += o.merged
	w.closedUnmerged += o.closedUnmerged
	w.withoutReview += o.withoutReview
	w.commits += o.commits
	w.runs += o.runs
	w.completedRuns += o.completedRuns
	w.successfulRuns += o.successfulRuns
	w.cycle = append(w.cycle, o.cycle...)
	w.coding = append(w.coding, o.coding...)
	w.pickup = append(w.pickup, o.pickup...)
	w.review = append(w.review, o.review...)
	w.deploy = append(w.deploy, o.deploy...)
	w.size = append(w.size, o.size...)
	w.duration = append(w.duration, o.duration...)
	w.contributors = append(w.contributors, o.contributors...)
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

	enterprise := make([]velocityWeek, len(p.weeks))
	orgs := make([][]velocityWeek, len(p.orgs))
	for i := range orgs {
		orgs[i] = make([]velocityWeek, len(p.weeks))
	}
	for i, weeks := range perRepo {
		for w := range weeks {
			orgs[p.orgOfRepo[i]][w].merge(&weeks[w])
			enterprise[w].merge(&weeks[w])
		}
	}

	rows := make([]VelocityRow, 0, len(p.weeks)*(1+len(p.orgs)+len(repos)))
	scopes := p.scopesInOrder(repos)
	rows = p.appendVelocityRows(rows, scopes[0], enterprise)
	for i := range p.orgs {
		rows = p.appendVelocityRows(rows, scopes[1+i], orgs[i])
	}
	for k, i := range p.repoOrder {
		rows = p.appendVelocityRows(rows, scopes[1+len(p.orgs)+k], perRepo[i])
	}
	return rows, nil
}

func (p *plan) appendVelocityRows(rows []VelocityRow, s scopeRow, weeks []velocityWeek) []VelocityRow {
	for w := range weeks {
		wk := &weeks[w]
		rows = append(rows, VelocityRow{
			ScopeType:                  s.scopeType,
			Scope:                      s.scope,
			WeekStart:                  p.weeks[w],
			PRsOpened:                  wk.opened,
			PRsMerged:                  wk.merged,
			PRsClosedUnmerged:          wk.closedUnmerged,
			PRCycleTimeP50Hours:        Percentile(wk.cycle, 0.5),
			PRCycleTimeP90Hours:        Percentile(wk.cycle, 0.9),
			PRCycleTimeN:               len(wk.cycle),
			CodingTimeP50Hours:         Percentile(wk.coding, 0.5),
			CodingTimeN:                len(wk.coding),
			PickupTimeP50Hours:         Percentile(wk.pickup, 0.5),
			PickupTimeN:                len(wk.pickup),
			ReviewTimeP50Hours:         Percentile(wk.review, 0.5),
			ReviewTimeN:                len(wk.review),
			DeployTimeP50Hours:         Percentile(wk.deploy, 0.5),
			DeployTimeN:                len(wk.deploy),
			PRsMergedWithoutReview:     wk.withoutReview,
			PRSizeP50:                  Percentile(wk.size, 0.5),
			PRSizeN:                    len(wk.size),
			Commits:                    wk.commits,
			ActiveContributors:         countDistinct(wk.contributors),
			WorkflowRuns:               wk.runs,
			WorkflowCompletedRuns:      wk.completedRuns,
			WorkflowSuccessRate:        ratio(wk.successfulRuns, wk.completedRuns),
			WorkflowDurationP50Seconds: Percentile(wk.duration, 0.5),
			WorkflowDurationN:          len(wk.duration),
			MetricVersion:              MetricVersion,
		})
	}
	return rows
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
