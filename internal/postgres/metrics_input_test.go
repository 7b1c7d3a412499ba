package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// at parses an RFC 3339 time for the activity fixtures.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func atPtr(s string) *time.Time {
	t := at(s)
	return &t
}

// seedActivity stores a little of everything the calculators read for enterprise ent1,
// in and out of the span 2026-06-01 – 2026-09-01, plus look-alikes that must not be
// loaded: another enterprise's rows with the same ids, another organization, the other
// deployment signal, a staging deployment, a repository gone before the span. acme/shop
// is stored twice (id 1, and id 6: a new repository under the name of a renamed one
// whose rename the next listing will record).
func seedActivity(t *testing.T, s *postgres.Store) {
	t.Helper()
	exec(t, s, `INSERT INTO repositories (enterprise_id, id, org, name, full_name, default_branch, archived)
		VALUES ('ent1', 1, 'acme', 'shop', 'acme/shop', 'main', false),
		       ('ent1', 2, 'acme', 'attic', 'acme/attic', 'master', true),
		       ('ent1', 3, 'beta', 'api', 'beta/api', 'main', false),
		       ('ent1', 6, 'acme', 'shop', 'acme/shop', 'main', false),
		       ('ent2', 1, 'other', 'shop', 'other/shop', 'main', false)`)
	exec(t, s, `INSERT INTO repositories (enterprise_id, id, org, name, full_name, default_branch, missing_since)
		VALUES ('ent1', 4, 'acme', 'gone', 'acme/gone', 'main', '2026-05-31T00:00:00Z'),
		       ('ent1', 5, 'acme', 'moved', 'acme/moved', 'main', '2026-07-01T00:00:00Z')`)
	exec(t, s, `INSERT INTO deployments (enterprise_id, repo_id, signal, deployment_id, sha, ref, environment, production, creator_login, created_at)
		VALUES ('ent1', 1, 'deployment', 10, 'aaa', 'main', 'production', true, 'ana', '2026-06-10T10:00:00Z'),
		       ('ent1', 1, 'deployment', 11, 'bbb', 'main', 'prod', true, 'bo', '2026-06-12T10:00:00Z'),
		       ('ent1', 1, 'deployment', 12, 'bbb', 'main', 'staging', false, 'bo', '2026-06-11T10:00:00Z'),
		       ('ent1', 1, 'deployment', 9, 'zzz', 'main', 'production', true, 'bo', '2026-05-31T23:59:59Z'),
		       ('ent1', 1, 'workflow', 10, 'aaa', 'main', '', true, 'ana', '2026-06-10T10:00:00Z'),
		       ('ent1', 3, 'deployment', 30, 'ccc', 'main', 'production', true, 'cy', '2026-06-10T10:00:00Z'),
		       ('ent2', 1, 'deployment', 10, 'xxx', 'main', 'production', true, 'xi', '2026-06-10T10:00:00Z')`)
	exec(t, s, `INSERT INTO deployment_statuses (enterprise_id, repo_id, signal, deployment_id, status_id, state, created_at)
		VALUES ('ent1', 1, 'deployment', 10, 101, 'in_progress', '2026-06-10T10:01:00Z'),
		       ('ent1', 1, 'deployment', 10, 102, 'success', '2026-06-10T10:05:00Z'),
		       ('ent1', 1, 'deployment', 10, 100, 'queued', '2026-06-10T10:00:00Z'),
		       ('ent1', 1, 'deployment', 12, 120, 'success', '2026-06-11T10:05:00Z'),
		       ('ent1', 1, 'workflow', 10, 100, 'failure', '2026-06-10T10:05:00Z'),
		       ('ent2', 1, 'deployment', 10, 100, 'success', '2026-06-10T10:05:00Z')`)
	exec(t, s, `INSERT INTO deployment_changes (enterprise_id, repo_id, signal, deployment_id, sha, position, author_login,
		author_name, authored_at, committer_login, committed_at, message_headline, parent_count)
		VALUES ('ent1', 1, 'deployment', 10, 'c2', 1, 'bo', 'Bo', '2026-06-09T09:00:00Z', 'web-flow', '2026-06-09T11:00:00Z', 'Second', 2),
		       ('ent1', 1, 'deployment', 10, 'c1', 0, 'ana', 'Ana', '2026-06-10T09:00:00Z', '', NULL, 'First', 1)`)
	exec(t, s, `INSERT INTO deployment_changes (enterprise_id, repo_id, signal, deployment_id, sha, author_login, authored_at, message_headline)
		VALUES 
		       ('ent1', 1, 'workflow', 10, 'c9', 'ana', '2026-06-08T09:00:00Z', 'Other signal'),
		       ('ent2', 1, 'deployment', 10, 'c1', 'xi', '2026-06-08T09:00:00Z', 'Other enterprise')`)
	exec(t, s, `INSERT INTO pull_requests (enterprise_id, repo_id, number, id, author_login, title, state, draft,
		base_ref, head_ref, labels, created_at, updated_at, closed_at, merged_at, merge_commit_sha, additions, deletions, changed_files)
		VALUES ('ent1', 1, 1, 1001, 'ana', 'Add cart', 'closed', false, 'main', 'cart', '{feature,ui}',
		        '2026-06-08T08:00:00Z', '2026-06-09T12:00:00Z', '2026-06-09T11:00:00Z', '2026-06-09T11:00:00Z', 'm1', 30, 5, 3),
		       ('ent1', 1, 2, 1002, 'bo', 'Old work', 'closed', false, 'main', 'old', '{}',
		        '2026-04-01T08:00:00Z', '2026-05-01T08:00:00Z', '2026-05-01T08:00:00Z', NULL, '', 1, 1, 1),
		       ('ent1', 1, 3, 1003, 'cy', 'Long-running draft', 'open', true, 'main', 'draft', '{}',
		        '2026-03-01T08:00:00Z', '2026-07-01T08:00:00Z', NULL, NULL, 'test-merge', 0, 0, 0),
		       ('ent1', 1, 4, 1004, 'di', 'Too late', 'open', false, 'main', 'late', '{}',
		        '2026-09-01T00:00:00Z', '2026-09-01T00:00:00Z', NULL, NULL, '', 0, 0, 0),
		       ('ent2', 1, 1, 9001, 'xi', 'Other enterprise', 'open', false, 'main', 'x', '{}',
		        '2026-06-08T08:00:00Z', '2026-06-08T08:00:00Z', NULL, NULL, '', 0, 0, 0)`)
	exec(t, s, `INSERT INTO pull_request_commits (enterprise_id, repo_id, pr_number, sha, position, author_login, author_name,
		authored_at, committer_login, committed_at, message_headline, parent_count)
		VALUES ('ent1', 1, 1, 'c2', 1, 'bo', 'Bo', '2026-06-09T09:00:00Z', 'bo', '2026-06-09T09:30:00Z', 'Second', 1),
		       ('ent1', 1, 1, 'c1', 0, 'ana', 'Ana', '2026-06-10T09:00:00Z', 'ana', NULL, 'First', 1)`)
	exec(t, s, `INSERT INTO pull_request_commits (enterprise_id, repo_id, pr_number, sha, author_login, authored_at, message_headline)
		VALUES ('ent1', 1, 2, 'o1', 'bo', '2026-04-01T07:00:00Z', 'Old'),
		       ('ent2', 1, 1, 'x1', 'xi', '2026-06-08T07:00:00Z', 'Other')`)
	exec(t, s, `INSERT INTO pull_request_reviews (enterprise_id, repo_id, pr_number, review_id, reviewer_login, state, submitted_at)
		VALUES ('ent1', 1, 1, 502, 'cy', 'APPROVED', '2026-06-09T10:00:00Z'),
		       ('ent1', 1, 1, 501, 'di', 'COMMENTED', '2026-06-08T10:00:00Z'),
		       ('ent1', 1, 1, 503, 'ed', 'PENDING', NULL),
		       ('ent1', 1, 2, 504, 'ana', 'APPROVED', '2026-04-02T10:00:00Z')`)
	exec(t, s, `INSERT INTO incidents (enterprise_id, repo_id, number, title, author_login, labels, created_at, closed_at)
		VALUES ('ent1', 1, 7, 'Checkout down', 'ops', '{incident,sev1}', '2026-06-10T12:00:00Z', '2026-06-10T15:00:00Z'),
		       ('ent1', 1, 8, 'Still open', 'ops', '{incident}', '2026-06-11T12:00:00Z', NULL),
		       ('ent1', 1, 6, 'Long ago', 'ops', '{incident}', '2026-05-01T12:00:00Z', '2026-05-02T12:00:00Z'),
		       ('ent1', 6, 1, 'New shop down', 'ops', '{incident}', '2026-06-20T12:00:00Z', NULL),
		       ('ent1', 4, 1, 'Gone down', 'ops', '{incident}', '2026-06-20T12:00:00Z', NULL),
		       ('ent1', 5, 1, 'Moved down', 'ops', '{incident}', '2026-06-20T12:00:00Z', NULL)`)
	exec(t, s, `INSERT INTO commits (enterprise_id, repo_id, sha, author_login, author_name, authored_at,
		committer_login, committed_at, message_headline, parent_count)
		VALUES ('ent1', 1, 'm1', 'ana', 'Ana', '2026-06-08T09:00:00Z', 'web-flow', '2026-06-09T11:00:00Z', 'Add cart (#1)', 1),
		       ('ent1', 1, 'd1', '', 'Nobody', '2026-06-09T13:00:00Z', '', '2026-06-09T13:00:00Z', 'Direct push', 1),
		       ('ent1', 1, 'f1', 'ana', 'Ana', '2026-09-01T09:00:00Z', 'ana', '2026-09-01T09:00:00Z', 'Future', 1)`)
	exec(t, s, `INSERT INTO commits (enterprise_id, repo_id, sha, author_login, authored_at, committed_at, message_headline, reverts)
		VALUES ('ent1', 1, 'r1', 'bo', '2026-06-11T09:00:00Z', '2026-06-11T09:00:00Z', 'Revert "Add cart (#1)"', '{m1}')`)
	exec(t, s, `UPDATE incidents SET state_reason = 'completed' WHERE enterprise_id = 'ent1' AND repo_id = 1 AND number = 7`)
	exec(t, s, `UPDATE pull_requests SET reverts_number = 2 WHERE enterprise_id = 'ent1' AND repo_id = 1 AND number = 3`)
	exec(t, s, `INSERT INTO workflow_runs (enterprise_id, repo_id, run_id, workflow_id, name, path, event, head_branch,
		head_sha, status, conclusion, actor_login, run_attempt, created_at, updated_at, run_started_at)
		VALUES ('ent1', 1, 70, 5, 'CI', '.github/workflows/ci.yml', 'push', 'main', 'm1', 'completed', 'success', 'ana', 2,
		        '2026-06-09T11:01:00Z', '2026-06-09T11:09:00Z', '2026-06-09T11:02:00Z'),
		       ('ent1', 1, 71, 5, 'CI', '.github/workflows/ci.yml', 'push', 'main', 'd1', 'queued', '', 'ana', 1,
		        '2026-06-09T13:01:00Z', '2026-06-09T13:01:00Z', NULL)`)
}

func TestListRepoActivity(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	seedActivity(t, s)

	got, err := s.ListRepoActivity(t.Context(), postgres.ActivityQuery{
		EnterpriseID: "ent1", Orgs: []string{"ACME"}, PresentFrom: at("2026-06-01T00:00:00Z"), Signal: metrics.SignalDeployment,
		From: at("2026-06-01T00:00:00Z"), To: at("2026-09-01T00:00:00Z"),
		Reviews: true, Incidents: true, Commits: true, WorkflowRuns: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.RepoActivity{
		// Archived and idle, still listed so it gets its rows.
		{FullName: "acme/attic", DefaultBranch: "master"},
		// Missing since a month into the span: it counts in the weeks it was there.
		{FullName: "acme/moved", DefaultBranch: "main", Incidents: []metrics.Incident{
			{RepoFullName: "acme/moved", Number: 1, Title: "Moved down", AuthorLogin: "ops", Labels: []string{"incident"},
				CreatedAt: at("2026-06-20T12:00:00Z")},
		}},
		{
			FullName: "acme/shop", DefaultBranch: "main",
			Deployments: []metrics.Deployment{
				{ID: 10, RepoFullName: "acme/shop", Signal: "deployment", SHA: "aaa", Ref: "main", Environment: "production",
					Production: true, CreatorLogin: "ana", CreatedAt: at("2026-06-10T10:00:00Z"),
					Statuses: []metrics.DeploymentStatus{
						{ID: 100, State: "queued", CreatedAt: at("2026-06-10T10:00:00Z")},
						{ID: 101, State: "in_progress", CreatedAt: at("2026-06-10T10:01:00Z")},
						{ID: 102, State: "success", CreatedAt: at("2026-06-10T10:05:00Z")},
					},
					// In the compare's order (position), whatever the dates say; only
					// the fields the calculators read.
					Changes: []metrics.Commit{
						{SHA: "c1", AuthorLogin: "ana", AuthoredAt: at("2026-06-10T09:00:00Z"), MessageHeadline: "First"},
						{SHA: "c2", AuthorLogin: "bo", AuthoredAt: at("2026-06-09T09:00:00Z"), MessageHeadline: "Second"},
					}},
				// A production deployment without statuses yet.
				{ID: 11, RepoFullName: "acme/shop", Signal: "deployment", SHA: "bbb", Ref: "main", Environment: "prod",
					Production: true, CreatorLogin: "bo", CreatedAt: at("2026-06-12T10:00:00Z")},
			},
			PullRequests: []metrics.PullRequest{
				{ID: 1001, RepoFullName: "acme/shop", Number: 1, AuthorLogin: "ana", Title: "Add cart", State: "closed",
					BaseRef: "main", HeadRef: "cart", Labels: []string{"feature", "ui"},
					CreatedAt: at("2026-06-08T08:00:00Z"), UpdatedAt: at("2026-06-09T12:00:00Z"),
					ClosedAt: atPtr("2026-06-09T11:00:00Z"), MergedAt: atPtr("2026-06-09T11:00:00Z"), MergeCommitSHA: "m1",
					Additions: 30, Deletions: 5, ChangedFiles: 3,
					Commits: []metrics.Commit{
						{SHA: "c1", AuthorLogin: "ana", AuthoredAt: at("2026-06-10T09:00:00Z"), MessageHeadline: "First"},
						{SHA: "c2", AuthorLogin: "bo", AuthoredAt: at("2026-06-09T09:00:00Z"), MessageHeadline: "Second"},
					},
					Reviews: []metrics.Review{
						{ID: 501, ReviewerLogin: "di", State: "COMMENTED", SubmittedAt: at("2026-06-08T10:00:00Z")},
						{ID: 502, ReviewerLogin: "cy", State: "APPROVED", SubmittedAt: at("2026-06-09T10:00:00Z")},
						{ID: 503, ReviewerLogin: "ed", State: "PENDING"},
					}},
				// Opened long before the span, but updated in it.
				{ID: 1003, RepoFullName: "acme/shop", Number: 3, AuthorLogin: "cy", Title: "Long-running draft", State: "open",
					Draft: true, BaseRef: "main", HeadRef: "draft", Labels: []string{},
					CreatedAt: at("2026-03-01T08:00:00Z"), UpdatedAt: at("2026-07-01T08:00:00Z"), MergeCommitSHA: "test-merge",
					RevertsNumber: 2},
			},
			Incidents: []metrics.Incident{
				{RepoFullName: "acme/shop", Number: 7, Title: "Checkout down", AuthorLogin: "ops", Labels: []string{"incident", "sev1"},
					CreatedAt: at("2026-06-10T12:00:00Z"), ClosedAt: atPtr("2026-06-10T15:00:00Z"), StateReason: "completed"},
				{RepoFullName: "acme/shop", Number: 8, Title: "Still open", AuthorLogin: "ops", Labels: []string{"incident"},
					CreatedAt: at("2026-06-11T12:00:00Z")},
				// Of the other repository stored as acme/shop.
				{RepoFullName: "acme/shop", Number: 1, Title: "New shop down", AuthorLogin: "ops", Labels: []string{"incident"},
					CreatedAt: at("2026-06-20T12:00:00Z")},
			},
			Commits: []metrics.Commit{
				{SHA: "m1", AuthorLogin: "ana", AuthorName: "Ana", AuthoredAt: at("2026-06-08T09:00:00Z"), CommitterLogin: "web-flow",
					CommittedAt: at("2026-06-09T11:00:00Z"), MessageHeadline: "Add cart (#1)", ParentCount: 1},
				{SHA: "d1", AuthorName: "Nobody", AuthoredAt: at("2026-06-09T13:00:00Z"),
					CommittedAt: at("2026-06-09T13:00:00Z"), MessageHeadline: "Direct push", ParentCount: 1},
				{SHA: "r1", AuthorLogin: "bo", AuthoredAt: at("2026-06-11T09:00:00Z"), CommittedAt: at("2026-06-11T09:00:00Z"),
					MessageHeadline: `Revert "Add cart (#1)"`, ParentCount: 1, Reverts: []string{"m1"}},
			},
			WorkflowRuns: []metrics.WorkflowRun{
				{ID: 70, RepoFullName: "acme/shop", WorkflowID: 5, Name: "CI", Path: ".github/workflows/ci.yml", Event: "push",
					HeadBranch: "main", HeadSHA: "m1", Status: "completed", Conclusion: "success", ActorLogin: "ana", RunAttempt: 2,
					CreatedAt: at("2026-06-09T11:01:00Z"), UpdatedAt: at("2026-06-09T11:09:00Z"), RunStartedAt: at("2026-06-09T11:02:00Z")},
				{ID: 71, RepoFullName: "acme/shop", WorkflowID: 5, Name: "CI", Path: ".github/workflows/ci.yml", Event: "push",
					HeadBranch: "main", HeadSHA: "d1", Status: "queued", ActorLogin: "ana", RunAttempt: 1,
					CreatedAt: at("2026-06-09T13:01:00Z"), UpdatedAt: at("2026-06-09T13:01:00Z")},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	for _, r := range got {
		for _, d := range r.Deployments {
			if d.CreatedAt.Location() != time.UTC {
				t.Errorf("deployment %d created_at in %s, want UTC", d.ID, d.CreatedAt.Location())
			}
		}
	}
}

func TestListRepoActivityLoadsOnlyWhatIsAskedFor(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	seedActivity(t, s)

	// No org filter: every repository of the enterprise; the workflow signal; no
	// reviews, incidents, commits or runs.
	got, err := s.ListRepoActivity(t.Context(), postgres.ActivityQuery{
		EnterpriseID: "ent1", Signal: metrics.SignalWorkflow,
		From: at("2026-06-01T00:00:00Z"), To: at("2026-09-01T00:00:00Z"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.FullName)
		if len(r.Incidents)+len(r.Commits)+len(r.WorkflowRuns) > 0 {
			t.Errorf("%s: incidents, commits or runs loaded although not asked for", r.FullName)
		}
		for _, pr := range r.PullRequests {
			if len(pr.Reviews) > 0 {
				t.Errorf("%s#%d: reviews loaded although not asked for", r.FullName, pr.Number)
			}
		}
	}
	if diff := cmp.Diff([]string{"acme/attic", "acme/gone", "acme/moved", "acme/shop", "beta/api"}, names); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	shop := got[3]
	if len(shop.Deployments) != 1 || shop.Deployments[0].Signal != metrics.SignalWorkflow ||
		len(shop.Deployments[0].Statuses) != 1 || shop.Deployments[0].Statuses[0].State != "failure" ||
		len(shop.Deployments[0].Changes) != 1 || shop.Deployments[0].Changes[0].SHA != "c9" {
		t.Errorf("workflow-signal deployments = %+v", shop.Deployments)
	}
	if len(shop.PullRequests) != 2 || len(shop.PullRequests[0].Commits) != 2 {
		t.Errorf("pull requests = %+v, want #1 (with its 2 commits) and #3", shop.PullRequests)
	}

	// DORA reads only the default-branch commits that revert others.
	reverts, err := s.ListRepoActivity(t.Context(), postgres.ActivityQuery{
		EnterpriseID: "ent1", Signal: metrics.SignalDeployment, RevertCommits: true,
		From: at("2026-06-01T00:00:00Z"), To: at("2026-09-01T00:00:00Z"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := reverts[3].Commits; len(c) != 1 || c[0].SHA != "r1" || !cmp.Equal(c[0].Reverts, []string{"m1"}) {
		t.Errorf("revert commits of acme/shop = %+v, want r1 reverting m1 only", c)
	}

	// An enterprise with nothing stored.
	none, err := s.ListRepoActivity(t.Context(), postgres.ActivityQuery{
		EnterpriseID: "ent9", Signal: metrics.SignalDeployment,
		From: at("2026-06-01T00:00:00Z"), To: at("2026-09-01T00:00:00Z"),
	})
	if err != nil || len(none) != 0 {
		t.Errorf("unknown enterprise: %v, %v; want nothing and no error", none, err)
	}
}

func TestListRepoActivityRefusesBadQueries(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	from, to := at("2026-06-01T00:00:00Z"), at("2026-09-01T00:00:00Z")
	for _, tc := range []struct {
		q     postgres.ActivityQuery
		field string
	}{
		{postgres.ActivityQuery{Signal: "deployment", From: from, To: to}, "enterprise_id"},
		{postgres.ActivityQuery{EnterpriseID: "ent1", Signal: "deployments", From: from, To: to}, "signal"},
		{postgres.ActivityQuery{EnterpriseID: "ent1", Signal: "deployment", From: to, To: from}, "from"},
		{postgres.ActivityQuery{EnterpriseID: "ent1", Signal: "deployment", To: to}, "from"},
	} {
		_, err := s.ListRepoActivity(t.Context(), tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: error %v, want one naming %s", tc.q, err, tc.field)
		}
	}
}
