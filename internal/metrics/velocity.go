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
// each organization, each team of opts.Teams and each repository in repos — for every
// ISO week from opts.From to opts.To. It is pure: same input, same rows, in the order
// CalculateDORA uses. A team's row holds the work of its members in every repository:
// the pull requests they authored, the commits they pushed, the runs they triggered, and
// they as active contributors; a person in two teams counts in both. The definitions
// are in docs/metrics.md.
func CalculateVelocity(repos []RepoActivity, opts Options) ([]VelocityRow, error) {
	p, err := newPlan(repos, opts)
	if err != nil {
		return nil, err
	}
	people := make(map[string]int32)
	// Teams' weeks follow the repositories' in perRepo, so a team scope gathers like
	// any other.
	perRepo := make([][]velocityWeek, len(repos)+len(p.teams))
	var tx *teamIndex
	if len(p.teams) > 0 {
		tx = newTeamIndex(p.teams)
		for t := range p.teams {
			perRepo[len(repos)+t] = make([]velocityWeek, len(p.weeks))
		}
	}
	for i := range repos {
		perRepo[i] = p.repoVelocity(&repos[i], people, tx, perRepo[len(repos):])
	}
	teamScopes := make([]scopeRow, 0, len(p.teams))
	for _, t := range p.teamOrder {
		teamScopes = append(teamScopes, scopeRow{ScopeTeam, p.teams[t].Scope(), []int{len(repos) + t}})
	}
	scopes := p.scopesInOrder(repos, teamScopes)
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
// calculation, so organization, team and enterprise scopes count a person once. Each
// figure also goes to the week of every team (tx, teamWeeks) its person belonged to
// during that week.
func (p *plan) repoVelocity(repo *RepoActivity, people map[string]int32, tx *teamIndex, teamWeeks [][]velocityWeek) []velocityWeek {
	weeks := make([]velocityWeek, len(p.weeks))
	// add applies fn to week w of the repository and of the person's teams.
	add := func(w int, who Person, fn func(*velocityWeek)) {
		fn(&weeks[w])
		if tx == nil {
			return
		}
		for _, t := range tx.of(who, p.weeks[w], p.weeks[w].Add(Week)) {
			fn(&teamWeeks[t][w])
		}
	}
	contributed := func(w int, who Person) {
		if w < 0 || who.Login == "" || p.bots.IsBot(who.Login) {
			return
		}
		key := strings.ToLower(who.Login)
		id, ok := people[key]
		if !ok {
			id = int32(len(people))
			people[key] = id
		}
		add(w, who, func(x *velocityWeek) { x.contributors = append(x.contributors, id) })
	}

	tl := newTimeline(repo.Deployments)
	idx := NewChangeIndex(repo.PullRequests)
	deployedAt := tl.firstDeployments(idx, len(repo.PullRequests))

	for i := range repo.PullRequests {
		pr := &repo.PullRequests[i]
		for _, r := range pr.Reviews {
			contributed(p.weekIndex(r.SubmittedAt), Person{Login: r.ReviewerLogin})
		}
		if p.bots.IsBot(pr.AuthorLogin) {
			continue
		}
		author := Person{pr.AuthorID, pr.AuthorLogin}
		if w := p.weekIndex(pr.CreatedAt); w >= 0 {
			add(w, author, func(x *velocityWeek) { x.opened++ })
			contributed(w, author)
		}
		if pr.MergedAt == nil {
			if pr.ClosedAt != nil {
				if w := p.weekIndex(*pr.ClosedAt); w >= 0 {
					add(w, author, func(x *velocityWeek) { x.closedUnmerged++ })
				}
			}
			continue
		}
		w := p.weekIndex(*pr.MergedAt)
		if w < 0 {
			continue
		}
		merged := *pr.MergedAt
		firstCommit := FirstCommitAt(*pr)
		firstReview, reviewed := p.firstReview(pr)
		deployed := deployedAt[i]
		add(w, author, func(wk *velocityWeek) {
			wk.merged++
			wk.size = append(wk.size, float64(pr.Additions+pr.Deletions))
			wk.cycle = appendSpan(wk.cycle, pr.CreatedAt, merged)
			if !firstCommit.IsZero() {
				wk.coding = appendSpan(wk.coding, firstCommit, pr.CreatedAt)
			}
			if reviewed {
				wk.pickup = appendSpan(wk.pickup, pr.CreatedAt, firstReview)
				wk.review = appendSpan(wk.review, firstReview, merged)
			} else {
				wk.withoutReview++
			}
			if !deployed.IsZero() {
				wk.deploy = appendSpan(wk.deploy, merged, deployed)
			}
		})
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
		author := Person{Login: c.AuthorLogin}
		if c.AuthorLogin == "" {
			// A commit whose e-mail is linked to no account counts for the repository but
			// belongs to no team.
			weeks[w].commits++
			continue
		}
		add(w, author, func(x *velocityWeek) { x.commits++ })
		contributed(w, author)
	}

	for _, run := range repo.WorkflowRuns {
		w := p.weekIndex(run.CreatedAt)
		if w < 0 {
			continue
		}
		completed := run.Completed() && run.Conclusion != "skipped"
		start := run.RunStartedAt
		if start.IsZero() {
			start = run.CreatedAt
		}
		d := run.UpdatedAt.Sub(start)
		fn := func(wk *velocityWeek) {
			wk.runs++
			if !completed {
				return
			}
			wk.completedRuns++
			if run.Conclusion == "success" {
				wk.successfulRuns++
			}
			if d >= 0 {
				wk.duration = append(wk.duration, d.Seconds())
			}
		}
		if run.ActorLogin == "" {
			fn(&weeks[w])
			continue
		}
		add(w, Person{Login: run.ActorLogin}, fn)
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
