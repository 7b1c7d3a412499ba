package metrics

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MetricVersion is stamped on every computed row. Change it whenever a definition
// changes, so old and new rows can be told apart. Version 2 (docs/metrics.md) attributes
// failures per environment and to the deployment that caused them.
const MetricVersion = 2

// DefaultFailureWindow is how long after a deployment a failure signal still counts
// against it, when Options.FailureWindow is zero.
const DefaultFailureWindow = 7 * 24 * time.Hour

// DefaultRolloutWindow is the rollout window the enterprises' settings default to.
const DefaultRolloutWindow = 24 * time.Hour

// maxWeeks bounds a calculation's range: ten years of weekly rows is far more than any
// recompute needs, and a typo in a date should fail, not allocate.
const maxWeeks = 520

// RepoActivity is everything the calculators need of one repository. Both calculators
// take the same input; each reads what it needs.
type RepoActivity struct {
	FullName      string // "org/name"; the organization scope is the part before '/'
	DefaultBranch string // optional; when set, only revert PRs into it are failure signals

	// Deployments of every environment with their statuses; the calculators keep the
	// production ones. Changes are needed on successful production deployments.
	Deployments  []Deployment
	PullRequests []PullRequest // with Commits and Reviews
	Incidents    []Incident
	Commits      []Commit      // commits on the default branch (velocity)
	WorkflowRuns []WorkflowRun // (velocity)
}

// Options are the parameters of one calculation.
type Options struct {
	// Enterprise names the enterprise scope (its slug, or the configured id).
	Enterprise string
	// Orgs are the configured organizations. Each gets rows even when repos holds none
	// of its repositories; organizations of repos are added to them.
	Orgs []string
	// From and To are any instants in the first and last week to compute; a row is
	// produced for every scope and every ISO week between them, both included.
	From, To time.Time
	// FailureWindow is how long after a deployment a failure signal counts against it;
	// zero means DefaultFailureWindow.
	FailureWindow time.Duration
	// ThresholdsVersion selects the DORA report whose clusters rate the metrics; empty
	// means DefaultThresholdsVersion.
	ThresholdsVersion string
	// HotfixPattern marks hotfix pull requests by title or head branch (and directly
	// pushed commits by headline); nil marks none.
	HotfixPattern *regexp.Regexp
	// RolloutWindow groups deployments of one SHA to several production environments of
	// a repository into one rollout when they finish within it of the first (regions);
	// zero counts every deployment alone. The collector's default is
	// DefaultRolloutWindow.
	RolloutWindow time.Duration
	// Bots excludes bots from the human metrics.
	Bots BotClassifier
	// Teams are the teams of the configured organizations. Velocity and the Copilot
	// impact cohorts get a team row for each (by its members' work); DORA only for the
	// teams with a repository mapping (Team.Repos not nil).
	Teams []Team
}

// DataWindow returns the span of activity the calculators need to compute the weeks of
// opts.From…opts.To correctly: from DeploymentLookbackDays before the first week (the
// deployment-frequency level looks back that far for the last deployment; earlier
// deployments also keep already-deployed changes from counting twice) to the end of the
// last week plus the failure window (failure signals of the last week's deployments
// arrive after it). Deployments, incidents and pull requests merged or updated in this
// span should be loaded; data outside it is used when given but not needed.
func DataWindow(from, to time.Time, failureWindow time.Duration) (start, end time.Time) {
	if failureWindow <= 0 {
		failureWindow = DefaultFailureWindow
	}
	start = WeekStart(from).AddDate(0, 0, -DeploymentLookbackDays)
	end = WeekStart(to).Add(Week + failureWindow)
	return start, end
}

// plan is a validated calculation: the weeks, the scopes and the settings.
type plan struct {
	weeks      []time.Time
	first      time.Time
	window     time.Duration
	thresholds Thresholds
	bots       BotClassifier
	hotfix     *regexp.Regexp

	rolloutWindow time.Duration

	enterprise string
	orgs       []string // sorted
	orgOfRepo  []int    // repo index → index in orgs
	repoOrder  []int    // repo indices sorted by full name
	teams      []Team
	teamOrder  []int // team indices sorted by scope name
}

func newPlan(repos []RepoActivity, opts Options) (*plan, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if strings.TrimSpace(opts.Enterprise) == "" {
		bad("enterprise: required; give the enterprise scope's name")
	}
	if opts.From.IsZero() {
		bad("from: required")
	}
	if opts.To.IsZero() {
		bad("to: required")
	}
	var weeks []time.Time
	if !opts.From.IsZero() && !opts.To.IsZero() {
		if opts.To.Before(opts.From) {
			bad("to: %s is before from %s", opts.To.UTC().Format(time.RFC3339), opts.From.UTC().Format(time.RFC3339))
		} else if n := int(WeekStart(opts.To).Sub(WeekStart(opts.From))/Week) + 1; n > maxWeeks {
			bad("to: the range spans %d weeks; at most %d are computed at once", n, maxWeeks)
		} else {
			weeks = WeeksBetween(opts.From, opts.To)
		}
	}
	if opts.FailureWindow < 0 {
		bad("failure_window: %s is negative", opts.FailureWindow)
	}
	if opts.RolloutWindow < 0 {
		bad("rollout_window: %s is negative", opts.RolloutWindow)
	}
	thresholds, err := ThresholdsFor(opts.ThresholdsVersion)
	if err != nil {
		errs = append(errs, err)
	}
	if err := checkTeams(opts.Teams); err != nil {
		errs = append(errs, err)
	}

	p := &plan{
		weeks:      weeks,
		window:     opts.FailureWindow,
		thresholds: thresholds,
		bots:       opts.Bots,
		hotfix:     opts.HotfixPattern,

		rolloutWindow: opts.RolloutWindow,
		enterprise:    strings.TrimSpace(opts.Enterprise),
		teams:         opts.Teams,
		teamOrder:     sortedTeams(opts.Teams),
		orgOfRepo:     make([]int, len(repos)),
		repoOrder:     make([]int, len(repos)),
	}
	if p.window == 0 {
		p.window = DefaultFailureWindow
	}
	if len(weeks) > 0 {
		p.first = weeks[0]
	}

	seen := make(map[string]int, len(repos))
	orgNames := make([]string, len(repos))
	for i, r := range repos {
		org, name, ok := strings.Cut(r.FullName, "/")
		if !ok || org == "" || name == "" || strings.Contains(name, "/") {
			bad("repositories[%d].full_name: %q is not \"org/name\"", i, r.FullName)
			continue
		}
		key := strings.ToLower(r.FullName)
		if j, dup := seen[key]; dup {
			bad("repositories[%d].full_name: %q repeats repositories[%d]", i, r.FullName, j)
			continue
		}
		seen[key] = i
		orgNames[i] = org
		if err := checkRepoFields(i, r); err != nil {
			errs = append(errs, err)
		}
	}
	for i, org := range opts.Orgs {
		switch org = strings.TrimSpace(org); {
		case org == "":
			bad("orgs[%d]: empty organization login", i)
		case strings.Contains(org, "/"):
			bad("orgs[%d]: %q is not an organization login", i, org)
		default:
			orgNames = append(orgNames, org)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.orgs = slices.Compact(slices.Sorted(slices.Values(orgNames)))
	for i := range repos {
		p.orgOfRepo[i], _ = slices.BinarySearch(p.orgs, orgNames[i])
		p.repoOrder[i] = i
	}
	slices.SortFunc(p.repoOrder, func(a, b int) int { return strings.Compare(repos[a].FullName, repos[b].FullName) })
	return p, nil
}

// checkRepoFields catches wiring mistakes: an item filed under the wrong repository.
func checkRepoFields(i int, r RepoActivity) error {
	mismatch := func(field string, j int, got string) error {
		return fmt.Errorf("repositories[%d].%s[%d].repo_full_name: %q does not match %q", i, field, j, got, r.FullName)
	}
	for j, d := range r.Deployments {
		if d.RepoFullName != "" && !strings.EqualFold(d.RepoFullName, r.FullName) {
			return mismatch("deployments", j, d.RepoFullName)
		}
	}
	for j, pr := range r.PullRequests {
		if pr.RepoFullName != "" && !strings.EqualFold(pr.RepoFullName, r.FullName) {
			return mismatch("pull_requests", j, pr.RepoFullName)
		}
	}
	for j, in := range r.Incidents {
		if in.RepoFullName != "" && !strings.EqualFold(in.RepoFullName, r.FullName) {
			return mismatch("incidents", j, in.RepoFullName)
		}
	}
	for j, run := range r.WorkflowRuns {
		if run.RepoFullName != "" && !strings.EqualFold(run.RepoFullName, r.FullName) {
			return mismatch("workflow_runs", j, run.RepoFullName)
		}
	}
	return nil
}

// weekIndex returns the index of the week holding t, or -1 outside the range.
func (p *plan) weekIndex(t time.Time) int {
	if t.IsZero() || t.Before(p.first) {
		return -1
	}
	i := int(t.Sub(p.first) / Week)
	if i >= len(p.weeks) {
		return -1
	}
	return i
}

// scopeRow names one scope's rows and the repositories (indices into the input) whose
// weekly figures it adds up.
type scopeRow struct {
	scopeType, scope string
	members          []int
}

// scopesInOrder lists the scopes as rows are written: the enterprise, then the
// organizations, then the given team scopes, then the repositories, each sorted by name.
func (p *plan) scopesInOrder(repos []RepoActivity, teams []scopeRow) []scopeRow {
	out := make([]scopeRow, 0, 1+len(p.orgs)+len(teams)+len(repos))
	out = append(out, scopeRow{ScopeEnterprise, p.enterprise, p.repoOrder})
	byOrg := make([][]int, len(p.orgs))
	for _, i := range p.repoOrder {
		byOrg[p.orgOfRepo[i]] = append(byOrg[p.orgOfRepo[i]], i)
	}
	for o, org := range p.orgs {
		out = append(out, scopeRow{ScopeOrganization, org, byOrg[o]})
	}
	out = append(out, teams...)
	for k, i := range p.repoOrder {
		out = append(out, scopeRow{ScopeRepository, repos[i].FullName, p.repoOrder[k : k+1]})
	}
	return out
}

// teamRepoScopes returns a scope per team with a repository mapping (Team.Repos not
// nil), sorted by name, whose members are the mapped repositories that repos holds.
// Repositories the mapping names but the calculation does not have (not collected, of
// an organization no longer configured) are left out.
func (p *plan) teamRepoScopes(repos []RepoActivity) []scopeRow {
	byName := make(map[string]int, len(repos))
	for i, r := range repos {
		byName[strings.ToLower(r.FullName)] = i
	}
	var out []scopeRow
	for _, t := range p.teamOrder {
		team := p.teams[t]
		if team.Repos == nil {
			continue
		}
		members := []int{}
		for _, name := range team.Repos {
			if i, ok := byName[strings.ToLower(name)]; ok && !slices.Contains(members, i) {
				members = append(members, i)
			}
		}
		slices.SortFunc(members, func(a, b int) int { return strings.Compare(repos[a].FullName, repos[b].FullName) })
		out = append(out, scopeRow{ScopeTeam, team.Scope(), members})
	}
	return out
}

// gather appends the samples of week w of every member repository to buf[:0]: the
// scope's pooled sample (percentiles of an organization are over all its changes, not
// medians of medians). buf is reused row after row.
func gather[W any, T any](buf []T, perRepo [][]W, members []int, w int, samples func(*W) []T) []T {
	buf = buf[:0]
	for _, m := range members {
		buf = append(buf, samples(&perRepo[m][w])...)
	}
	return buf
}

// hours converts a duration to fractional hours.
func hours(d time.Duration) float64 { return d.Hours() }

// ratio returns num ÷ den, or nil when den is 0.
func ratio(num, den int) *float64 {
	if den == 0 {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}
