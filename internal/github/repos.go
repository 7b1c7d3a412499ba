package github

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// ListOrgRepos lists an organization's repositories, most recently pushed first, so a
// caller can stop iterating once it passes its watermark and skip inactive
// repositories without paging through them.
func (c *Client) ListOrgRepos(ctx context.Context, org string) iter.Seq2[metrics.Repository, error] {
	q := url.Values{"type": {"all"}, "sort": {"pushed"}, "direction": {"desc"}, "per_page": {perPage}}
	first := withQuery("orgs/"+url.PathEscape(org)+"/repos", q)
	return list(ctx, c, "list repositories of "+org, first, func(r *gh.Repository) (metrics.Repository, bool) {
		return toRepository(r), true
	})
}

func toRepository(r *gh.Repository) metrics.Repository {
	return metrics.Repository{
		ID:            r.GetID(),
		Org:           r.GetOwner().GetLogin(),
		Name:          r.GetName(),
		FullName:      r.GetFullName(),
		DefaultBranch: r.GetDefaultBranch(),
		Archived:      r.GetArchived(),
		Fork:          r.GetFork(),
		Private:       r.GetPrivate(),
		CreatedAt:     utc(r.GetCreatedAt()),
		PushedAt:      utc(r.GetPushedAt()),
		UpdatedAt:     utc(r.GetUpdatedAt()),
	}
}

// ListCommits lists the commits reachable from branch whose committer date is within
// [since, until] (zero times leave that end open), newest first. GitHub filters on the
// committer date, so a caller re-reads a few days back and lets the SHA de-duplicate.
func (c *Client) ListCommits(ctx context.Context, fullName, branch string, since, until time.Time) iter.Seq2[metrics.Commit, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.Commit](err)
	}
	q := url.Values{"per_page": {perPage}}
	if branch != "" {
		q.Set("sha", branch)
	}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	if !until.IsZero() {
		q.Set("until", until.UTC().Format(time.RFC3339))
	}
	return list(ctx, c, "list commits of "+fullName, withQuery(repo+"/commits", q), func(rc *gh.RepositoryCommit) (metrics.Commit, bool) {
		return toCommit(rc), true
	})
}

// CompareCommits returns the commits reachable from head but not from base, oldest
// first — what a deployment of head brought after one of base.
//
// The compare endpoint answers at most 250 commits when asked without paging
// parameters; with per_page it pages (100 commits a page, the changed files only on
// the first) and has no such cap. We always page, so nothing is cut off, and check the
// count against the total_commits GitHub reports.
func (c *Client) CompareCommits(ctx context.Context, fullName, base, head string) ([]metrics.Commit, error) {
	repo, err := repoPath(fullName)
	if err != nil {
		return nil, err
	}
	if base == "" || head == "" {
		return nil, fmt.Errorf("compare %s: base and head are required", fullName)
	}
	op := fmt.Sprintf("compare %s %s...%s", fullName, short(base), short(head))
	first := withQuery(repo+"/compare/"+url.PathEscape(base)+"..."+url.PathEscape(head), url.Values{"per_page": {perPage}})
	var commits []metrics.Commit
	total := -1
	err = pages(ctx, c, op, first, func(page *gh.CommitsComparison) (bool, error) {
		if page == nil {
			return false, nil
		}
		if page.TotalCommits != nil {
			total = *page.TotalCommits
		}
		for _, rc := range page.Commits {
			if rc != nil {
				commits = append(commits, toCommit(rc))
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if total >= 0 && len(commits) != total {
		return nil, fmt.Errorf("%s: got %d commits of the %d GitHub reported", op, len(commits), total)
	}
	return commits, nil
}

func toCommit(rc *gh.RepositoryCommit) metrics.Commit {
	commit := rc.GetCommit()
	headline, _, _ := strings.Cut(commit.GetMessage(), "\n")
	return metrics.Commit{
		SHA:             rc.GetSHA(),
		AuthorLogin:     rc.GetAuthor().GetLogin(),
		AuthorName:      commit.GetAuthor().GetName(),
		AuthoredAt:      utc(commit.GetAuthor().GetDate()),
		CommitterLogin:  rc.GetCommitter().GetLogin(),
		CommittedAt:     utc(commit.GetCommitter().GetDate()),
		MessageHeadline: strings.TrimSpace(headline),
		ParentCount:     len(rc.Parents),
		Reverts:         metrics.RevertedSHAs(commit.GetMessage()),
	}
}

// utc turns go-github's timestamp into a UTC time (zero stays zero).
func utc(t gh.Timestamp) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// utcPtr is utc for optional timestamps: nil when absent.
func utcPtr(t *gh.Timestamp) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

// short abbreviates a SHA for messages.
func short(ref string) string {
	if len(ref) == 40 {
		return ref[:12]
	}
	return ref
}

// failed is an iterator that yields only err (bad arguments).
func failed[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
