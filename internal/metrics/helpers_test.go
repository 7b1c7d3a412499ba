package metrics

import (
	"testing"
	"time"
)

// at parses an RFC 3339 time; tests use UTC literals.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad time literal %q: %v", s, err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// prodDeploy is a production deployment of sha created at created that reports state at
// finished (state "" means no terminal status yet).
func prodDeploy(t testing.TB, id int64, sha, created, state, finished string, changes ...Commit) Deployment {
	t.Helper()
	d := Deployment{ID: id, SHA: sha, Environment: "production", Production: true, CreatedAt: at(t, created), Changes: changes}
	d.Statuses = []DeploymentStatus{{ID: id*10 + 1, State: "in_progress", CreatedAt: at(t, created)}}
	if state != "" {
		d.Statuses = append(d.Statuses, DeploymentStatus{ID: id*10 + 2, State: state, CreatedAt: at(t, finished)})
	}
	return d
}

func commit(t testing.TB, sha, author, authored, headline string) Commit {
	t.Helper()
	a := at(t, authored)
	return Commit{SHA: sha, AuthorLogin: author, AuthoredAt: a, CommittedAt: a, MessageHeadline: headline, ParentCount: 1}
}

// mergedPR is a pull request merged at merged with mergeSHA as its merge commit.
func mergedPR(t testing.TB, number int, author, title, created, merged, mergeSHA string, commits ...Commit) PullRequest {
	t.Helper()
	m := at(t, merged)
	return PullRequest{
		Number: number, AuthorLogin: author, Title: title, State: "closed", BaseRef: "main",
		CreatedAt: at(t, created), ClosedAt: &m, MergedAt: &m, MergeCommitSHA: mergeSHA, Commits: commits,
	}
}

func review(t testing.TB, id int64, reviewer, state, submitted string) Review {
	t.Helper()
	return Review{ID: id, ReviewerLogin: reviewer, State: state, SubmittedAt: at(t, submitted)}
}
