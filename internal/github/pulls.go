package github

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"

	gh "github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// ListPulls lists a repository's pull requests in every state, most recently updated
// first (the endpoint's default direction for sort=updated is ascending, hence the
// explicit desc), so a caller stops iterating at its watermark. The list does not
// carry additions, deletions or changed files: GetPull does.
func (c *Client) ListPulls(ctx context.Context, fullName string) iter.Seq2[metrics.PullRequest, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.PullRequest](err)
	}
	q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {perPage}}
	return list(ctx, c, "list pull requests of "+fullName, withQuery(repo+"/pulls", q), func(p *gh.PullRequest) (metrics.PullRequest, bool) {
		return toPullRequest(fullName, p), true
	})
}

// GetPull reads one pull request, with the size figures the list lacks.
func (c *Client) GetPull(ctx context.Context, fullName string, number int) (metrics.PullRequest, error) {
	repo, err := repoPath(fullName)
	if err != nil {
		return metrics.PullRequest{}, err
	}
	var p gh.PullRequest
	op := fmt.Sprintf("get pull request %s#%d", fullName, number)
	if _, err := c.get(ctx, op, repo+"/pulls/"+strconv.Itoa(number), &p); err != nil {
		return metrics.PullRequest{}, err
	}
	return toPullRequest(fullName, &p), nil
}

// ListPullCommits lists a pull request's commits, oldest first. GitHub lists at most
// 250 commits for a pull request.
func (c *Client) ListPullCommits(ctx context.Context, fullName string, number int) iter.Seq2[metrics.Commit, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.Commit](err)
	}
	first := withQuery(repo+"/pulls/"+strconv.Itoa(number)+"/commits", url.Values{"per_page": {perPage}})
	op := fmt.Sprintf("list commits of pull request %s#%d", fullName, number)
	return list(ctx, c, op, first, func(rc *gh.RepositoryCommit) (metrics.Commit, bool) {
		return toCommit(rc), true
	})
}

// ListPullReviews lists a pull request's submitted reviews, oldest first. Pending
// (unsubmitted) reviews are skipped: they have no submission time and are visible only
// to their author.
func (c *Client) ListPullReviews(ctx context.Context, fullName string, number int) iter.Seq2[metrics.Review, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.Review](err)
	}
	first := withQuery(repo+"/pulls/"+strconv.Itoa(number)+"/reviews", url.Values{"per_page": {perPage}})
	op := fmt.Sprintf("list reviews of pull request %s#%d", fullName, number)
	return list(ctx, c, op, first, func(r *gh.PullRequestReview) (metrics.Review, bool) {
		if r.GetState() == "PENDING" || r.SubmittedAt == nil {
			return metrics.Review{}, false
		}
		return metrics.Review{
			ID:            r.GetID(),
			ReviewerLogin: r.GetUser().GetLogin(),
			State:         r.GetState(),
			SubmittedAt:   utc(r.GetSubmittedAt()),
		}, true
	})
}

func toPullRequest(fullName string, p *gh.PullRequest) metrics.PullRequest {
	var labels []string
	for _, l := range p.Labels {
		if l != nil && l.GetName() != "" {
			labels = append(labels, l.GetName())
		}
	}
	return metrics.PullRequest{
		ID:             p.GetID(),
		RepoFullName:   fullName,
		Number:         p.GetNumber(),
		AuthorLogin:    p.GetUser().GetLogin(),
		AuthorID:       p.GetUser().GetID(),
		Title:          p.GetTitle(),
		State:          p.GetState(),
		Draft:          p.GetDraft(),
		BaseRef:        p.GetBase().GetRef(),
		HeadRef:        p.GetHead().GetRef(),
		CreatedAt:      utc(p.GetCreatedAt()),
		UpdatedAt:      utc(p.GetUpdatedAt()),
		ClosedAt:       utcPtr(p.ClosedAt),
		MergedAt:       utcPtr(p.MergedAt),
		MergeCommitSHA: p.GetMergeCommitSHA(),
		Additions:      p.GetAdditions(),
		Deletions:      p.GetDeletions(),
		ChangedFiles:   p.GetChangedFiles(),
		Labels:         labels,
		RevertsNumber:  metrics.RevertedPullNumber(p.GetBody(), fullName),
	}
}
