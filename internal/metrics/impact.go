package metrics

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Copilot impact cohorts (copilot_impact): every merged pull request falls, in the week
// it merged, into one cohort by its author. docs/metrics.md, "Copilot impact cohorts",
// has the definitions and what the figures can and cannot say (correlation, not
// causation).
const (
	// CohortCopilotActive: the author has a per-user Copilot report row with a code
	// generation or a user-initiated interaction on at least one day of the week.
	CohortCopilotActive = "copilot_active"
	// CohortCopilotInactive: the author has no such row that week (a seat holder who did
	// not use Copilot, or no seat).
	CohortCopilotInactive = "copilot_inactive"
	// CohortCopilotAgent: the pull request was opened by the Copilot coding agent.
	CohortCopilotAgent = "copilot_agent"
)

// ImpactCohorts lists the cohorts in the order rows are written.
func ImpactCohorts() []string {
	return []string{CohortCopilotActive, CohortCopilotInactive, CohortCopilotAgent}
}

// DefaultImpactMinAuthors is the default privacy threshold (COPILOT_IMPACT_MIN_AUTHORS).
const DefaultImpactMinAuthors = 5

// CopilotUserUsage is one user's day in one scope's per-user report (users-1-day),
// reduced to what the team rows and the impact cohorts read. Counters are nil when the
// report left them out.
type CopilotUserUsage struct {
	ScopeType string // ScopeEnterprise or ScopeOrganization: the report it came from
	Scope     string
	Day       time.Time // UTC midnight
	UserID    int64
	UserLogin string

	UserInitiatedInteractions *int64
	CodeGenerations           *int64
	CodeAcceptances           *int64
	LOCSuggestedToAdd         *int64
	LOCSuggestedToDelete      *int64
	LOCAdded                  *int64
	LOCDeleted                *int64
	ChatInteractions          *int64
	AgentInteractions         *int64
	UsedChat                  bool
	UsedAgent                 bool
}

// Active reports whether the user used Copilot that day: a code generation or a
// user-initiated interaction. Rows whose counters are all zero (GitHub lists seat holders
// who did nothing) are not activity.
func (u CopilotUserUsage) Active() bool {
	return positive(u.UserInitiatedInteractions) || positive(u.CodeGenerations)
}

func positive(v *int64) bool { return v != nil && *v > 0 }

// ImpactRow is one cohort of one scope in one ISO week. When Suppressed, or when the
// cohort cannot be known (copilot_active and copilot_inactive in a week without any
// per-user report), every figure is nil. Percentiles carry their sample sizes.
type ImpactRow struct {
	ScopeType string // ScopeEnterprise, ScopeOrganization or ScopeTeam
	Scope     string
	WeekStart time.Time
	Cohort    string

	// Suppressed is true when the cohort had at least one but fewer than MinAuthors
	// distinct authors: its figures are withheld so no individual's can be read.
	Suppressed bool

	Authors              *int // distinct authors of the cohort's merged pull requests
	PRsMerged            *int
	PRCycleTimeP50Hours  *float64 // created → merged
	PRCycleTimeN         *int
	ReviewTimeP50Hours   *float64 // first qualifying review → merged
	ReviewTimeN          *int
	PRSizeP50            *float64 // additions + deletions
	PRSizeN              *int
	PRsReviewedByCopilot *int // with a review by Copilot code review at or before the merge
	PRsReverted          *int // reverted within the failure window after the merge (v2 revert rule)
	CopilotReportDays    int  // days of the week with per-user Copilot report rows (0–7)
	MinAuthors           int  // the threshold the row was judged with
	MetricVersion        int
}

// impactBucket gathers one cohort of one scope in one week.
type impactBucket struct {
	authors                  map[string]struct{}
	merged, copilot, reverts int
	cycle, review, size      []float64
}

// CalculateImpact computes the Copilot impact cohorts of the enterprise, each
// organization and each team (opts.Teams, by membership in the week) for every ISO week
// from opts.From to opts.To: three rows per scope and week, in the order enterprise,
// organizations, teams (each by name), weeks oldest first, cohorts in ImpactCohorts
// order. usage holds the per-user report rows of the enterprise's scopes covering those
// weeks (any scope: a person active in any report is active). Cohorts with fewer than
// minAuthors distinct authors are suppressed (the agent cohort, whose author is no
// person, never is). It is pure.
func CalculateImpact(repos []RepoActivity, usage []CopilotUserUsage, opts Options, minAuthors int) ([]ImpactRow, error) {
	p, err := newPlan(repos, opts)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if minAuthors < 1 {
		errs = append(errs, fmt.Errorf("min_authors: %d must be at least 1", minAuthors))
	}
	for i, u := range usage {
		if u.UserID == 0 && u.UserLogin == "" {
			errs = append(errs, fmt.Errorf("usage[%d]: neither user id nor login", i))
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	window := p.window

	// Who was active in which week, and which weeks have reports at all.
	reportDays := make([]map[time.Time]struct{}, len(p.weeks))
	active := make([]personIndex, len(p.weeks))
	for w := range active {
		active[w] = newPersonIndex()
		reportDays[w] = map[time.Time]struct{}{}
	}
	for _, u := range usage {
		w := p.weekIndex(u.Day)
		if w < 0 {
			continue
		}
		reportDays[w][dayOf(u.Day)] = struct{}{}
		if u.Active() {
			active[w].add(Person{u.UserID, u.UserLogin}, 0)
		}
	}

	// Buckets: scope index (0 the enterprise, 1… the organizations, then the teams) ×
	// week × cohort.
	cohorts := ImpactCohorts()
	nScopes := 1 + len(p.orgs) + len(p.teams)
	buckets := make([][][]impactBucket, nScopes)
	for s := range buckets {
		buckets[s] = make([][]impactBucket, len(p.weeks))
		for w := range buckets[s] {
			buckets[s][w] = make([]impactBucket, len(cohorts))
		}
	}
	tx := newTeamIndex(p.teams)
	for i := range repos {
		repo := &repos[i]
		reverted := p.revertedPullRequests(repo, window)
		for j := range repo.PullRequests {
			pr := &repo.PullRequests[j]
			if pr.MergedAt == nil {
				continue
			}
			w := p.weekIndex(*pr.MergedAt)
			if w < 0 {
				continue
			}
			author := Person{pr.AuthorID, pr.AuthorLogin}
			var cohort int
			switch {
			case IsCopilotCodingAgent(pr.AuthorLogin):
				cohort = 2
			case pr.AuthorLogin == "" || p.bots.IsBot(pr.AuthorLogin):
				continue
			case len(active[w].find(author)) > 0:
				cohort = 0
			default:
				cohort = 1
			}
			add := func(b *impactBucket) {
				if b.authors == nil {
					b.authors = map[string]struct{}{}
				}
				b.authors[author.key()] = struct{}{}
				b.merged++
				b.size = append(b.size, float64(pr.Additions+pr.Deletions))
				b.cycle = appendSpan(b.cycle, pr.CreatedAt, *pr.MergedAt)
				if first, ok := p.firstReview(pr); ok {
					b.review = appendSpan(b.review, first, *pr.MergedAt)
				}
				if reviewedByCopilot(pr) {
					b.copilot++
				}
				if reverted[j] {
					b.reverts++
				}
			}
			add(&buckets[0][w][cohort])
			add(&buckets[1+p.orgOfRepo[i]][w][cohort])
			if cohort != 2 { // the agent belongs to no team
				for _, t := range tx.of(author, p.weeks[w], p.weeks[w].Add(Week)) {
					add(&buckets[1+len(p.orgs)+t][w][cohort])
				}
			}
		}
	}

	type scope struct {
		typ, name string
		index     int
	}
	scopes := []scope{{ScopeEnterprise, p.enterprise, 0}}
	for o, org := range p.orgs {
		scopes = append(scopes, scope{ScopeOrganization, org, 1 + o})
	}
	for _, t := range p.teamOrder {
		scopes = append(scopes, scope{ScopeTeam, p.teams[t].Scope(), 1 + len(p.orgs) + t})
	}
	rows := make([]ImpactRow, 0, len(scopes)*len(p.weeks)*len(cohorts))
	for _, s := range scopes {
		for w := range p.weeks {
			for c, cohort := range cohorts {
				r := ImpactRow{ScopeType: s.typ, Scope: s.name, WeekStart: p.weeks[w], Cohort: cohort,
					CopilotReportDays: len(reportDays[w]), MinAuthors: minAuthors, MetricVersion: MetricVersion}
				b := &buckets[s.index][w][c]
				switch {
				case cohort != CohortCopilotAgent && len(reportDays[w]) == 0:
					// Without any per-user report nobody can be told active or not.
				case cohort != CohortCopilotAgent && len(b.authors) > 0 && len(b.authors) < minAuthors:
					r.Suppressed = true
				default:
					r.fill(b)
				}
				rows = append(rows, r)
			}
		}
	}
	return rows, nil
}

// fill sets the row's figures from its bucket.
func (r *ImpactRow) fill(b *impactBucket) {
	n := func(v int) *int { return &v }
	r.Authors, r.PRsMerged = n(len(b.authors)), n(b.merged)
	r.PRCycleTimeP50Hours, r.PRCycleTimeN = Percentile(b.cycle, 0.5), n(len(b.cycle))
	r.ReviewTimeP50Hours, r.ReviewTimeN = Percentile(b.review, 0.5), n(len(b.review))
	r.PRSizeP50, r.PRSizeN = Percentile(b.size, 0.5), n(len(b.size))
	r.PRsReviewedByCopilot, r.PRsReverted = n(b.copilot), n(b.reverts)
}

// IsCopilotCodingAgent reports whether login is the Copilot coding agent, which opens
// pull requests on a person's behalf: "Copilot" in REST payloads, "copilot-swe-agent"
// elsewhere (with or without "[bot]"), and the Copilot app "github-copilot[bot]". The
// code reviewer (copilot-pull-request-reviewer) opens none.
func IsCopilotCodingAgent(login string) bool {
	return IsCopilotAgent(login) && !strings.HasPrefix(strings.ToLower(login), "copilot-pull-request-reviewer")
}

// reviewedByCopilot reports whether Copilot code review submitted a review of the pull
// request at or before its merge.
func reviewedByCopilot(pr *PullRequest) bool {
	for _, r := range pr.Reviews {
		if IsCopilotAgent(r.ReviewerLogin) && !r.SubmittedAt.IsZero() && r.State != "PENDING" &&
			!r.SubmittedAt.After(*pr.MergedAt) {
			return true
		}
	}
	return false
}

// revertedPullRequests marks the merged pull requests of the repository that a revert —
// by the metric_version 2 rule (revertEvents: a "This reverts commit" message, GitHub's
// Revert button, the `Revert "<title>"` fallback; never a revert among a pull request's
// own commits) — undid within window after their merge. A revert naming a commit marks
// the pull request that brought the commit.
func (p *plan) revertedPullRequests(repo *RepoActivity, window time.Duration) []bool {
	reverted := make([]bool, len(repo.PullRequests))
	if len(repo.PullRequests) == 0 {
		return reverted
	}
	tl := timeline{}
	r := newRepoChanges(repo, &tl, p)
	for _, ev := range r.revertEvents() {
		for _, t := range ev.targets {
			pr := t.pr
			if pr < 0 && t.sha != "" {
				pr = r.idx.pullRequestForPrefix(t.sha)
			}
			if pr < 0 || pr == ev.carrier.pr {
				continue
			}
			merged := repo.PullRequests[pr].MergedAt
			if merged == nil || ev.landed.Before(*merged) || ev.landed.Sub(*merged) > window {
				continue
			}
			reverted[pr] = true
		}
	}
	return reverted
}

// dayOf returns the UTC midnight of t's day.
func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
