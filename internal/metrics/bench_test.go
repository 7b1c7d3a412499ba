package metrics

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchQuarter builds a quarter (13 weeks) of activity for repos repositories in 20
// organizations: per repository and week about 3 production deployments with their
// changes, 8 squash-merged pull requests with 3 commits and 2 reviews each, 10 direct
// pushes, 20 CI runs and now and then an incident or a failed deployment. For 1,000
// repositories: 38,949 deployments carrying 230,743 changes, 103,703 pull requests
// (311,109 commits, 207,406 reviews), 233,703 default-branch commits, 260,000 runs and
// 2,573 incidents. Deterministic (fixed seed).
func benchQuarter(repos int) ([]RepoActivity, Options) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC) // a Monday
	const weeks = 13
	people := []string{"ana", "bo", "carol", "dan", "erin", "fay", "gus", "hal", "ivy", "jo", "dependabot[bot]", "Copilot"}
	pick := func() string { return people[rng.IntN(len(people))] }
	at := func(day int, hour float64) time.Time {
		return start.AddDate(0, 0, day).Add(time.Duration(hour * float64(time.Hour)))
	}

	out := make([]RepoActivity, repos)
	for r := range out {
		name := fmt.Sprintf("org%02d/repo%04d", r%20, r)
		repo := RepoActivity{FullName: name, DefaultBranch: "main"}
		var pending []Commit // on main, not yet deployed
		depID := int64(0)
		for day := 0; day < weeks*7; day++ {
			if day%7 >= 5 { // weekends are quiet
				continue
			}
			for p := 0; p < 2; p++ { // ~8 PRs a week
				if rng.IntN(5) == 0 {
					continue
				}
				n := len(repo.PullRequests) + 1
				created := at(day, 8+rng.Float64()*8)
				author := pick()
				pr := PullRequest{Number: n, RepoFullName: name, AuthorLogin: author, Title: fmt.Sprintf("Change %d", n),
					HeadRef: fmt.Sprintf("feature/%d", n), BaseRef: "main", State: "closed", CreatedAt: created,
					Additions: rng.IntN(400), Deletions: rng.IntN(200)}
				if rng.IntN(40) == 0 {
					pr.Title = `Revert "Change ` + fmt.Sprint(n-1) + `"`
				}
				for c := 0; c < 3; c++ {
					pr.Commits = append(pr.Commits, Commit{SHA: fmt.Sprintf("%s-p%d-%d", name, n, c), AuthorLogin: author,
						AuthoredAt: created.Add(-time.Duration(rng.IntN(72)) * time.Hour), MessageHeadline: fmt.Sprintf("work %d.%d", n, c), ParentCount: 1})
				}
				for v := 0; v < 2; v++ {
					pr.Reviews = append(pr.Reviews, Review{ID: int64(n*10 + v), ReviewerLogin: pick(), State: "APPROVED",
						SubmittedAt: created.Add(time.Duration(1+rng.IntN(20)) * time.Hour)})
				}
				merged := created.Add(time.Duration(2+rng.IntN(40)) * time.Hour)
				pr.ClosedAt, pr.MergedAt = &merged, &merged
				pr.MergeCommitSHA = fmt.Sprintf("%s-m%d", name, n)
				repo.PullRequests = append(repo.PullRequests, pr)
				squash := Commit{SHA: pr.MergeCommitSHA, AuthorLogin: author, AuthoredAt: pr.Commits[0].AuthoredAt, CommittedAt: merged,
					MessageHeadline: pr.Title, ParentCount: 1}
				repo.Commits = append(repo.Commits, squash)
				pending = append(pending, squash)
			}
			for c := 0; c < 2; c++ { // direct pushes
				t := at(day, 9+rng.Float64()*8)
				push := Commit{SHA: fmt.Sprintf("%s-d%d-%d", name, day, c), AuthorLogin: pick(), AuthoredAt: t, CommittedAt: t,
					MessageHeadline: "direct", ParentCount: 1}
				repo.Commits = append(repo.Commits, push)
				pending = append(pending, push)
			}
			if rng.IntN(5) < 3 && len(pending) > 0 { // ~3 deployments a week
				depID++
				created := at(day, 17)
				state := "success"
				if rng.IntN(15) == 0 {
					state = "failure"
				}
				d := Deployment{ID: depID, RepoFullName: name, Signal: SignalDeployment, SHA: pending[len(pending)-1].SHA,
					Environment: "production", Production: true, CreatedAt: created,
					Statuses: []DeploymentStatus{{State: "in_progress", CreatedAt: created}, {State: state, CreatedAt: created.Add(10 * time.Minute)}}}
				if state == "success" {
					d.Changes, pending = pending, nil
				}
				repo.Deployments = append(repo.Deployments, d)
			}
			if rng.IntN(25) == 0 {
				opened := at(day, 18)
				closed := opened.Add(time.Duration(1+rng.IntN(30)) * time.Hour)
				repo.Incidents = append(repo.Incidents, Incident{RepoFullName: name, Number: 1000 + day, CreatedAt: opened, ClosedAt: &closed})
			}
			for w := 0; w < 4; w++ { // ~20 CI runs a week
				created := at(day, 8+rng.Float64()*10)
				conclusion := "success"
				if rng.IntN(6) == 0 {
					conclusion = "failure"
				}
				repo.WorkflowRuns = append(repo.WorkflowRuns, WorkflowRun{ID: int64(day*10 + w), RepoFullName: name,
					Status: "completed", Conclusion: conclusion, CreatedAt: created, RunStartedAt: created,
					UpdatedAt: created.Add(time.Duration(60+rng.IntN(900)) * time.Second)})
			}
		}
		out[r] = repo
	}
	return out, Options{Enterprise: "bench", From: start, To: start.AddDate(0, 0, weeks*7-1), Bots: NewBotClassifier(nil)}
}

func BenchmarkCalculateDORA(b *testing.B) {
	repos, opts := benchQuarter(1000)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		out, err := CalculateDORA(repos, opts)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkCalculateVelocity(b *testing.B) {
	repos, opts := benchQuarter(1000)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		out, err := CalculateVelocity(repos, opts)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCalculateDORAWithRolling is BenchmarkCalculateDORA plus the 4- and 13-week
// rolling rows (issue 16): 12 more weeks of per-repository work and three rows per
// scope and week.
func BenchmarkCalculateDORAWithRolling(b *testing.B) {
	repos, opts := benchQuarter(1000)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		out, err := CalculateDORAWithRolling(repos, opts, DORARollingWindows())
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out.Weekly) + len(out.Rolling)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCalculateImpact computes the impact cohorts of the quarter with every pull
// request author active on a weekday of the week they merged in half the weeks.
func BenchmarkCalculateImpact(b *testing.B) {
	repos, opts := benchQuarter(1000)
	var usage []CopilotUserUsage
	seen := map[string]bool{}
	for _, r := range repos {
		for _, pr := range r.PullRequests {
			if pr.MergedAt == nil {
				continue
			}
			w := WeekStart(*pr.MergedAt)
			key := pr.AuthorLogin + w.String()
			if seen[key] || w.Unix()/604800%2 == 0 {
				continue
			}
			seen[key] = true
			usage = append(usage, CopilotUserUsage{ScopeType: ScopeEnterprise, Scope: "bench", Day: w.AddDate(0, 0, 1),
				UserLogin: pr.AuthorLogin, UserID: int64(len(usage) + 1), CodeGenerations: new(int64(3))})
		}
	}
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		out, err := CalculateImpact(repos, usage, opts, DefaultImpactMinAuthors)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
