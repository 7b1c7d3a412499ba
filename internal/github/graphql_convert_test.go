package github

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

// GraphQL's spellings become the REST ones the stored rows and the bot classifier use.
func TestGraphQLConversionsSpellLikeREST(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		actor *gqlActor
		want  string
	}{
		{nil, ""},
		{&gqlActor{Typename: "User", Login: "ada"}, "ada"},
		{&gqlActor{Typename: "Bot", Login: "dependabot"}, "dependabot[bot]"},
		{&gqlActor{Typename: "Bot", Login: "github-actions[bot]"}, "github-actions[bot]"},
		{&gqlActor{Typename: "Bot", Login: "copilot-swe-agent"}, "Copilot"},
		{&gqlActor{Typename: "Bot", Login: "copilot-pull-request-reviewer"}, "copilot-pull-request-reviewer[bot]"},
		{&gqlActor{Typename: "Organization", Login: "acme"}, "acme"},
	} {
		if got := restLogin(c.actor); got != c.want {
			t.Errorf("restLogin(%+v) = %q, want %q", c.actor, got, c.want)
		}
	}
	for email, want := range map[string]string{
		"49699333+dependabot[bot]@users.noreply.github.com": "dependabot[bot]",
		"198982749+Copilot@users.noreply.github.com":        "Copilot",
		"ada@example.com":                 "",
		"ada@users.noreply.github.com":    "", // the old form carries no id
		"x+ada@users.noreply.github.com":  "",
		"123+@users.noreply.github.com":   "",
		"123+ada@users.noreply.github.co": "",
	} {
		if got := gitLogin(gqlGitActor{Email: email}); got != want {
			t.Errorf("gitLogin(%q) = %q, want %q", email, got, want)
		}
	}
	if got := gitLogin(gqlGitActor{Email: "49699333+dependabot[bot]@users.noreply.github.com", User: &struct {
		Login string `json:"login"`
	}{Login: "linked"}}); got != "linked" {
		t.Errorf("a linked user: %q", got)
	}

	at := time.Date(2026, 9, 1, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	p := gqlPull{FullDatabaseID: "10000716000083", Number: 83, State: "MERGED", Body: "Reverts acme/api#7\n\nbecause", CreatedAt: at, UpdatedAt: at,
		Author: &gqlActor{Typename: "Bot", Login: "dependabot"}, PotentialMergeCommit: &struct {
			Oid string `json:"oid"`
		}{Oid: "test-merge"}}
	p.Commits.Nodes = append(p.Commits.Nodes, struct {
		Commit gqlCommit `json:"commit"`
	}{gqlCommit{Oid: "c1", Message: "  Revert \"x\"  \n\nThis reverts commit 0123abc.", AuthoredDate: at, CommittedDate: at}})
	pending := gqlReview{FullDatabaseID: "1", State: "PENDING"}
	submitted := gqlReview{FullDatabaseID: "2", State: "APPROVED", SubmittedAt: &at, Author: &gqlActor{Typename: "User", Login: "bo"}}
	p.Reviews.Nodes = []gqlReview{pending, submitted}
	pr, err := p.pullRequest("acme/api")
	if err != nil {
		t.Fatal(err)
	}
	want := metrics.PullRequest{ID: 10000716000083, RepoFullName: "acme/api", Number: 83, AuthorLogin: "dependabot[bot]", State: "closed",
		CreatedAt: at.UTC(), UpdatedAt: at.UTC(), MergeCommitSHA: "test-merge", RevertsNumber: 7,
		Commits: []metrics.Commit{{SHA: "c1", AuthoredAt: at.UTC(), CommittedAt: at.UTC(), MessageHeadline: `Revert "x"`, Reverts: []string{"0123abc"}}},
		Reviews: []metrics.Review{{ID: 2, ReviewerLogin: "bo", State: "APPROVED", SubmittedAt: at.UTC()}}}
	if diff := cmp.Diff(want, pr); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	if _, err := (gqlPull{FullDatabaseID: "not-a-number", Number: 4}).pullRequest("acme/api"); err == nil || !strings.Contains(err.Error(), "fullDatabaseId") {
		t.Errorf("bad id: %v", err)
	}

	// A deployment whose ref is gone (or was a SHA) keeps the SHA as its ref; its
	// statuses come oldest first by id whatever order GitHub lists them in.
	d := gqlDeployment{ID: "DE_kgDOAAAAew", CommitOid: "abc", Environment: "production", CreatedAt: at}
	d.Statuses.Nodes = append(d.Statuses.Nodes,
		struct {
			ID        string    `json:"id"`
			State     string    `json:"state"`
			CreatedAt time.Time `json:"createdAt"`
		}{"DES_kgDOAAAAyA", "SUCCESS", at}, // id 200
		struct {
			ID        string    `json:"id"`
			State     string    `json:"state"`
			CreatedAt time.Time `json:"createdAt"`
		}{"DES_kgDOAAAAZA", "IN_PROGRESS", at}) // id 100
	dep, err := d.deployment("acme/api")
	if err != nil {
		t.Fatal(err)
	}
	if dep.ID != 123 || dep.Ref != "abc" || len(dep.Statuses) != 2 || dep.Statuses[0].ID != 100 || dep.Statuses[0].State != "in_progress" || dep.Statuses[1].State != "success" {
		t.Errorf("deployment %+v", dep)
	}
	d.Statuses.Nodes[0].ID = "opaque"
	if _, err := d.deployment("acme/api"); err == nil || !strings.Contains(err.Error(), "deployment status id") {
		t.Errorf("an unreadable status id: %v", err)
	}
}
