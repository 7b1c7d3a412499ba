package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

var repoT0 = time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)

func rt(h int) time.Time { return repoT0.Add(time.Duration(h) * time.Hour) }

func rtp(t time.Time) *time.Time { return &t }

func repoFixture(id int64, name string, pushed time.Time) metrics.Repository {
	return metrics.Repository{ID: id, Org: "Acme", Name: name, FullName: "Acme/" + name, DefaultBranch: "main",
		Private: true, CreatedAt: repoT0.AddDate(-1, 0, 0), PushedAt: pushed, UpdatedAt: pushed}
}

func mustWriteRows(t *testing.T, want int64, n int64, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("wrote %d rows, want %d", n, want)
	}
}

func repoQueryInt(t *testing.T, s *postgres.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestSaveInventoryIsIdempotentAndMarksUnlisted(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	listing := postgres.InventoryListing{
		Org: "acme", Repos: []metrics.Repository{repoFixture(1, "api", rt(0)), repoFixture(2, "web", rt(-5)), repoFixture(1, "api", rt(1))},
		Complete: true, Mark: postgres.Mark{Watermark: rt(1), SweptAt: rt(2)}, At: rt(2),
	}
	n, err := s.SaveInventory(ctx, "e1", listing)
	mustWriteRows(t, 2, n, err) // the duplicate of repository 1 is merged: the later listing wins
	n, err = s.SaveInventory(ctx, "e1", listing)
	mustWriteRows(t, 0, n, err)

	m, ok, err := s.GetInventoryMark(ctx, "e1", "ACME")
	if err != nil || !ok {
		t.Fatalf("inventory mark: %v %v", ok, err)
	}
	if diff := cmp.Diff(postgres.Mark{Watermark: rt(1), SweptAt: rt(2)}, m); diff != "" {
		t.Errorf("inventory mark (-want +got):\n%s", diff)
	}

	// A complete listing without web marks it missing; states leave it out.
	listing.Repos = []metrics.Repository{repoFixture(1, "api", rt(1))}
	if _, err := s.SaveInventory(ctx, "e1", listing); err != nil {
		t.Fatal(err)
	}
	states, err := s.ListRepoStates(ctx, postgres.StateQuery{EnterpriseID: "e1", Orgs: []string{"ACME"}, Signal: metrics.SignalDeployment})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Repo.ID != 1 || states[0].Repo.PushedAt != rt(1) || states[0].Passed {
		t.Fatalf("states = %+v, want only api, never passed", states)
	}
	// An incomplete listing replaying it unchanged (a page answered 304) leaves it
	// missing; one showing a push brings it back.
	listing.Repos, listing.Complete = []metrics.Repository{repoFixture(2, "web", rt(-5))}, false
	n, err = s.SaveInventory(ctx, "e1", listing)
	mustWriteRows(t, 0, n, err)
	listing.Repos = []metrics.Repository{repoFixture(2, "web", rt(4))}
	n, err = s.SaveInventory(ctx, "e1", listing)
	mustWriteRows(t, 1, n, err)
	if got := repoQueryInt(t, s, `SELECT count(*) FROM repositories WHERE missing_since IS NULL`); got != 2 {
		t.Errorf("%d repositories present, want 2", got)
	}
	if err := s.MarkRepoMissing(ctx, "e1", 2, rt(3)); err != nil {
		t.Fatal(err)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM repositories WHERE missing_since = $1`, rt(3)); got != 1 {
		t.Errorf("%d repositories missing since the 404, want 1", got)
	}
	// A complete listing that shows it takes it back.
	listing.Complete = true
	listing.Repos = []metrics.Repository{repoFixture(1, "api", rt(1)), repoFixture(2, "web", rt(4))}
	n, err = s.SaveInventory(ctx, "e1", listing)
	mustWriteRows(t, 1, n, err)
	if got := repoQueryInt(t, s, `SELECT count(*) FROM repositories WHERE missing_since IS NULL`); got != 2 {
		t.Errorf("%d repositories present after a complete listing, want 2", got)
	}
}

func TestSaveCommitsAndMarks(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	commits := []postgres.CommitRow{
		{Commit: metrics.Commit{SHA: "a1", AuthorLogin: "ada", AuthorName: "Ada", AuthoredAt: rt(0), CommitterLogin: "web-flow", CommittedAt: rt(1), MessageHeadline: "Add x", ParentCount: 1}},
		{Commit: metrics.Commit{SHA: "b2", AuthorLogin: "dependabot[bot]", AuthoredAt: rt(2), CommittedAt: rt(2), ParentCount: 2}, AuthorIsBot: true},
		{Commit: metrics.Commit{SHA: "r3", AuthorLogin: "ada", AuthoredAt: rt(2), CommittedAt: rt(2), MessageHeadline: `Revert "Add x"`,
			ParentCount: 1, Reverts: []string{"a1", "0123abc"}}},
	}
	mark := postgres.Mark{Watermark: rt(2), Collection: "c1"}
	n, err := s.SaveCommits(ctx, "e1", 7, commits, mark)
	mustWriteRows(t, 3, n, err)
	n, err = s.SaveCommits(ctx, "e1", 7, commits, mark)
	mustWriteRows(t, 0, n, err)
	var reverts []string
	if err := s.Pool().QueryRow(ctx, `SELECT reverts FROM commits WHERE sha = 'r3'`).Scan(&reverts); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "0123abc"}, reverts); diff != "" {
		t.Errorf("reverts of r3 (-want +got):\n%s", diff)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM commits WHERE reverts = '{}'`); got != 2 {
		t.Errorf("%d commits reverting nothing, want 2", got)
	}
	commits[0].MessageHeadline = "Add x (amended)"
	n, err = s.SaveCommits(ctx, "e1", 7, commits, postgres.Mark{Watermark: rt(3)})
	mustWriteRows(t, 1, n, err)
	if got := repoQueryInt(t, s, `SELECT count(*) FROM commits WHERE author_is_bot`); got != 1 {
		t.Errorf("%d bot commits, want 1", got)
	}
	marks, err := s.GetRepoMarks(ctx, "e1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]postgres.Mark{postgres.StreamRepoCommits: {Watermark: rt(3)}}, marks); diff != "" {
		t.Errorf("marks (-want +got):\n%s", diff)
	}
}

func TestSavePullsReplacesCommitsAndReviews(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	pr := metrics.PullRequest{
		ID: 100, Number: 5, AuthorLogin: "ada", Title: `Revert "Add x"`, State: "closed", BaseRef: "main", HeadRef: "revert-x",
		CreatedAt: rt(0), UpdatedAt: rt(3), ClosedAt: rtp(rt(3)), MergedAt: rtp(rt(3)), MergeCommitSHA: "m5",
		Additions: 3, Deletions: 1, ChangedFiles: 1, Labels: []string{"bug", "urgent"}, RevertsNumber: 4,
		Commits: []metrics.Commit{
			{SHA: "c1", AuthorLogin: "ada", AuthorName: "Ada", AuthoredAt: rt(-2), CommitterLogin: "ada", CommittedAt: rt(-2), MessageHeadline: "one", ParentCount: 1},
			{SHA: "c2", AuthorLogin: "ada", AuthoredAt: rt(-1), CommittedAt: rt(-1), MessageHeadline: "two", ParentCount: 1},
		},
	}
	row := postgres.PullRequestRow{PR: pr, IsRevert: true, FirstCommitAuthoredAt: rt(-2), Reviews: []postgres.ReviewRow{
		{Review: metrics.Review{ID: 1, ReviewerLogin: "bo", State: "APPROVED", SubmittedAt: rt(2)}},
		{Review: metrics.Review{ID: 2, ReviewerLogin: "copilot-pull-request-reviewer[bot]", State: "COMMENTED", SubmittedAt: rt(1)}, ReviewerIsBot: true},
	}}
	n, err := s.SavePulls(ctx, "e1", 7, []postgres.PullRequestRow{row}, postgres.Mark{Watermark: rt(3)})
	mustWriteRows(t, 5, n, err) // the pull request, two commits, two reviews
	n, err = s.SavePulls(ctx, "e1", 7, []postgres.PullRequestRow{row}, postgres.Mark{Watermark: rt(3)})
	mustWriteRows(t, 0, n, err)

	var labels []string
	var first time.Time
	var revert bool
	var revertsNumber int
	if err := s.Pool().QueryRow(ctx, `SELECT labels, first_commit_authored_at, is_revert, reverts_number FROM pull_requests WHERE number = 5`).Scan(&labels, &first, &revert, &revertsNumber); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bug", "urgent"}, labels); diff != "" || !first.Equal(rt(-2)) || !revert || revertsNumber != 4 {
		t.Errorf("labels %v, first commit %s, revert %v, reverts #%d", labels, first, revert, revertsNumber)
	}

	// A force-push replaced the commits; a review was withdrawn.
	row.PR.Commits = []metrics.Commit{{SHA: "c3", AuthorLogin: "ada", AuthoredAt: rt(-1), CommittedAt: rt(-1), MessageHeadline: "squashed", ParentCount: 1}}
	row.Reviews = row.Reviews[:1]
	row.PR.Labels = nil
	n, err = s.SavePulls(ctx, "e1", 7, []postgres.PullRequestRow{row}, postgres.Mark{Watermark: rt(4)})
	mustWriteRows(t, 2, n, err) // the pull request's labels and the new commit
	if got := repoQueryInt(t, s, `SELECT count(*) FROM pull_request_commits`); got != 1 {
		t.Errorf("%d pull request commits, want only the new one", got)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM pull_request_reviews`); got != 1 {
		t.Errorf("%d reviews, want 1", got)
	}
	if got := repoQueryInt(t, s, `SELECT cardinality(labels) FROM pull_requests`); got != 0 {
		t.Errorf("labels not cleared: %d left", got)
	}
	times, err := s.PullUpdatedTimes(ctx, "e1", 7, rt(3))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int]time.Time{5: rt(3)}, times); diff != "" {
		t.Errorf("updated times (-want +got):\n%s", diff)
	}
}

func TestSaveRunsAndOpenRuns(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	run := func(id int64, status, conclusion string, created time.Time) postgres.RunRow {
		return postgres.RunRow{WorkflowRun: metrics.WorkflowRun{ID: id, WorkflowID: 9, Name: "Release", Path: ".github/workflows/release.yml",
			Event: "push", HeadBranch: "main", HeadSHA: "s", Status: status, Conclusion: conclusion, ActorLogin: "ada",
			RunAttempt: 1, CreatedAt: created, UpdatedAt: created.Add(time.Minute)}}
	}
	runs := []postgres.RunRow{run(1, "completed", "success", rt(0)), run(2, "in_progress", "", rt(1))}
	derived := []metrics.Deployment{{ID: 1, Signal: metrics.SignalWorkflow, SHA: "s", Ref: "main", Environment: "release", Production: true,
		CreatorLogin: "ada", CreatedAt: rt(0), Statuses: []metrics.DeploymentStatus{{ID: 1, State: "in_progress", CreatedAt: rt(0)}, {ID: 2, State: "success", CreatedAt: rt(0).Add(time.Minute)}}}}
	n, err := s.SaveRuns(ctx, "e1", 7, runs, derived, postgres.Mark{Watermark: rt(0)})
	mustWriteRows(t, 5, n, err) // two runs, a deployment, two statuses
	n, err = s.SaveRuns(ctx, "e1", 7, runs, derived, postgres.Mark{Watermark: rt(0)})
	mustWriteRows(t, 0, n, err)
	oldest, ok, err := s.OldestOpenRun(ctx, "e1", 7)
	if err != nil || !ok || !oldest.Equal(rt(1)) {
		t.Fatalf("oldest open run = %s %v %v, want %s", oldest, ok, err, rt(1))
	}
	runs[1] = run(2, "completed", "failure", rt(1))
	if _, err := s.SaveRuns(ctx, "e1", 7, runs, nil, postgres.Mark{Watermark: rt(0)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.OldestOpenRun(ctx, "e1", 7); err != nil || ok {
		t.Errorf("an open run is left: %v %v", ok, err)
	}
}

func TestDeploymentsStatusesAndChangeTargets(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	st := func(id int64, state string, h int) metrics.DeploymentStatus {
		return metrics.DeploymentStatus{ID: id, State: state, CreatedAt: rt(h)}
	}
	dep := func(id int64, sha, env string, prod bool, h int, statuses ...metrics.DeploymentStatus) metrics.Deployment {
		return metrics.Deployment{ID: id, Signal: metrics.SignalDeployment, SHA: sha, Ref: "main", Environment: env, Production: prod,
			CreatorLogin: "github-actions[bot]", CreatedAt: rt(h), Statuses: statuses}
	}
	deployments := []metrics.Deployment{
		dep(1, "aaa", "production", true, 0, st(11, "queued", 0), st(12, "success", 1)),
		dep(2, "bbb", "staging", false, 2),
		dep(3, "bbb", "production", true, 3, st(31, "in_progress", 3), st(32, "failure", 4)),
		dep(4, "bbb", "production", true, 5, st(41, "in_progress", 5)),
	}
	n, err := s.SaveDeployments(ctx, "e1", 7, deployments, postgres.Mark{Watermark: rt(5)})
	mustWriteRows(t, 9, n, err) // four deployments, five statuses of the production ones
	n, err = s.SaveDeployments(ctx, "e1", 7, deployments, postgres.Mark{Watermark: rt(5)})
	mustWriteRows(t, 0, n, err)

	var states []string
	rows, err := s.Pool().Query(ctx, `SELECT latest_state FROM deployments ORDER BY deployment_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		states = append(states, v)
	}
	if diff := cmp.Diff([]string{"success", "", "failure", "in_progress"}, states); diff != "" {
		t.Errorf("latest states (-want +got):\n%s", diff)
	}

	unsettled, err := s.UnsettledDeployments(ctx, "e1", 7, metrics.SignalDeployment, rt(-100), rt(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(unsettled) != 2 || unsettled[0].ID != 3 || unsettled[1].ID != 4 {
		t.Errorf("unsettled = %+v, want 3 (recent) and 4 (not final)", unsettled)
	}

	targets, err := s.ListChangeTargets(ctx, "e1", 7, metrics.SignalDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]postgres.ChangeTarget{{DeploymentID: 1, SHA: "aaa"}}, targets); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	done := postgres.Mark{Watermark: rt(6), Collection: "c"}
	if _, err := s.SaveDeploymentChanges(ctx, "e1", 7, metrics.SignalDeployment, []postgres.ChangeSet{{DeploymentID: 1}}, &done); err != nil {
		t.Fatal(err)
	}

	// Deployment 4 succeeds: it is compared with deployment 1.
	deployments[3].Statuses = append(deployments[3].Statuses, st(42, "success", 6))
	if _, err := s.SaveDeployments(ctx, "e1", 7, deployments[3:], postgres.Mark{Watermark: rt(5)}); err != nil {
		t.Fatal(err)
	}
	targets, err = s.ListChangeTargets(ctx, "e1", 7, metrics.SignalDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]postgres.ChangeTarget{{DeploymentID: 4, SHA: "bbb", BaseSHA: "aaa"}}, targets); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	changes := []metrics.Commit{
		{SHA: "b0", AuthorLogin: "ada", AuthoredAt: rt(2), CommittedAt: rt(2), MessageHeadline: "x", ParentCount: 1},
		{SHA: "bbb", AuthorLogin: "bo", AuthoredAt: rt(3), CommittedAt: rt(3), MessageHeadline: "y", ParentCount: 2},
	}
	n, err = s.SaveDeploymentChanges(ctx, "e1", 7, metrics.SignalDeployment, []postgres.ChangeSet{{DeploymentID: 4, BaseSHA: "aaa", Commits: changes}}, &done)
	mustWriteRows(t, 3, n, err) // two changes, the deployment marked loaded
	n, err = s.SaveDeploymentChanges(ctx, "e1", 7, metrics.SignalDeployment, []postgres.ChangeSet{{DeploymentID: 4, BaseSHA: "aaa", Commits: changes}}, &done)
	mustWriteRows(t, 0, n, err)

	// A deployment that succeeded between 1 and 4 shows up late: 4 is compared again.
	late := dep(5, "abc", "Production", true, 1, st(51, "success", 2))
	if _, err := s.SaveDeployments(ctx, "e1", 7, []metrics.Deployment{late}, postgres.Mark{Watermark: rt(5)}); err != nil {
		t.Fatal(err)
	}
	targets, err = s.ListChangeTargets(ctx, "e1", 7, metrics.SignalDeployment)
	if err != nil {
		t.Fatal(err)
	}
	want := []postgres.ChangeTarget{{DeploymentID: 5, SHA: "abc", BaseSHA: "aaa"}, {DeploymentID: 4, SHA: "bbb", BaseSHA: "abc"}}
	if diff := cmp.Diff(want, targets); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	if _, err := s.SaveDeploymentChanges(ctx, "e1", 7, metrics.SignalDeployment, []postgres.ChangeSet{{DeploymentID: 4, BaseSHA: "abc", Commits: changes[1:]}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM deployment_changes WHERE deployment_id = 4`); got != 1 {
		t.Errorf("deployment 4 has %d changes after the new compare, want 1", got)
	}

	// Another production environment has its own history (metric_version 2): its first
	// deployment has no base, however recent the other environment's; its second is
	// compared with its first, not with production's deployment in between.
	web := []metrics.Deployment{
		dep(6, "w1", "production/web", true, 7, st(61, "success", 8)),
		dep(8, "w2", "production/web", true, 10, st(81, "success", 11)),
	}
	between := dep(7, "ccc", "production", true, 8, st(71, "success", 9))
	if _, err := s.SaveDeployments(ctx, "e1", 7, append(web, between), postgres.Mark{Watermark: rt(10)}); err != nil {
		t.Fatal(err)
	}
	targets, err = s.ListChangeTargets(ctx, "e1", 7, metrics.SignalDeployment)
	if err != nil {
		t.Fatal(err)
	}
	want = []postgres.ChangeTarget{{DeploymentID: 5, SHA: "abc", BaseSHA: "aaa"}, {DeploymentID: 6, SHA: "w1"},
		{DeploymentID: 7, SHA: "ccc", BaseSHA: "bbb"}, {DeploymentID: 8, SHA: "w2", BaseSHA: "w1"}}
	if diff := cmp.Diff(want, targets); diff != "" {
		t.Fatalf("targets with a second environment (-want +got):\n%s", diff)
	}
}

func TestIncidentsAndRepoStates(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	listing := postgres.InventoryListing{Org: "acme", Repos: []metrics.Repository{repoFixture(7, "api", rt(0)), repoFixture(8, "web", rt(0))}, At: rt(0)}
	if _, err := s.SaveInventory(ctx, "e1", listing); err != nil {
		t.Fatal(err)
	}
	incidents := []metrics.Incident{
		{Number: 3, Title: "Incident: 500s", AuthorLogin: "ada", Labels: []string{"incident", "sev1"}, CreatedAt: rt(1), ClosedAt: rtp(rt(2))},
		{Number: 4, Title: "Incident: slow", AuthorLogin: "bo", Labels: []string{"incident"}, CreatedAt: rt(3)},
	}
	n, err := s.SaveIncidents(ctx, "e1", 7, incidents, postgres.Mark{Watermark: rt(4)})
	mustWriteRows(t, 2, n, err)
	n, err = s.SaveIncidents(ctx, "e1", 7, incidents, postgres.Mark{Watermark: rt(4)})
	mustWriteRows(t, 0, n, err)

	// The listing is complete: #5 joins, #3 is no longer listed (its label was removed,
	// or it was closed as not planned, which the collector leaves out) and is deleted;
	// the other repository's incidents are not touched.
	other := []metrics.Incident{{Number: 3, Title: "web down", Labels: []string{"incident"}, CreatedAt: rt(1), ClosedAt: rtp(rt(2))}}
	if _, err := s.SaveIncidents(ctx, "e1", 8, other, postgres.Mark{Watermark: rt(4)}); err != nil {
		t.Fatal(err)
	}
	relisted := []metrics.Incident{incidents[1],
		{Number: 5, Title: "Incident: queue", Labels: []string{"incident"}, CreatedAt: rt(4), ClosedAt: rtp(rt(5)), StateReason: "completed"}}
	n, err = s.SaveIncidents(ctx, "e1", 7, relisted, postgres.Mark{Watermark: rt(5)})
	mustWriteRows(t, 2, n, err) // #3 deleted, #5 inserted
	var numbers []int
	rows, err := s.Pool().Query(ctx, `SELECT number FROM incidents WHERE repo_id = 7 ORDER BY number`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, v)
	}
	if diff := cmp.Diff([]int{4, 5}, numbers); diff != "" {
		t.Errorf("stored incidents of repository 7 (-want +got):\n%s", diff)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM incidents WHERE repo_id = 8`); got != 1 {
		t.Errorf("repository 8 has %d incidents, want its 1 untouched", got)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM incidents WHERE number = 5 AND state_reason = 'completed'`); got != 1 {
		t.Error("state_reason of #5 not stored")
	}
	if err := s.FinishRepoPass(ctx, "e1", 7, postgres.Mark{Watermark: rt(0), Collection: "c9", SweptAt: rt(4)}); err != nil {
		t.Fatal(err)
	}
	states, err := s.ListRepoStates(ctx, postgres.StateQuery{EnterpriseID: "e1", Orgs: []string{"acme"}, Signal: metrics.SignalDeployment})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 {
		t.Fatalf("%d states, want 2", len(states))
	}
	api, web := states[0], states[1]
	if !api.Passed || api.Pass.Collection != "c9" || !api.Pass.SweptAt.Equal(rt(4)) || !api.OpenIncidents {
		t.Errorf("api state = %+v, want passed in c9 with an open incident", api)
	}
	if web.Passed || web.OpenIncidents || web.OpenPulls || web.OpenRuns || web.UnsettledDeployments {
		t.Errorf("web state = %+v, want nothing", web)
	}
}
