package github

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"

	gh "github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// searchCap is the most results GitHub returns for one workflow-runs query that
// filters by created (the search behind it stops at 1,000).
const searchCap = 1000

// ListWorkflowRuns lists the runs of a repository created in [from, to) (whole
// seconds), newest first within each window. When a query reports total_count ≥ 1,000
// — more than GitHub will page through — the window is split in two halves by time and
// each is listed on its own, recursively, so no run is lost; its first page is thrown
// away (one request). A window of a single second that still holds 1,000 runs cannot
// be split and ends the iteration with an error rather than silently dropping runs.
// Runs that were not completed must be re-read later (GetWorkflowRun).
func (c *Client) ListWorkflowRuns(ctx context.Context, fullName string, from, to time.Time) iter.Seq2[metrics.WorkflowRun, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.WorkflowRun](err)
	}
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	if !from.Before(to) {
		return failed[metrics.WorkflowRun](fmt.Errorf("list workflow runs of %s: from %s is not before to %s",
			fullName, from.Format(time.RFC3339), to.Format(time.RFC3339)))
	}
	return func(yield func(metrics.WorkflowRun, error) bool) {
		_, err := c.listRunsWindow(conditional(ctx), repo, fullName, from, to, yield)
		if err != nil {
			yield(metrics.WorkflowRun{}, err)
		}
	}
}

// listRunsWindow yields the runs created in [from, to); stopped reports that yield
// asked to stop.
func (c *Client) listRunsWindow(ctx context.Context, repo, fullName string, from, to time.Time, yield func(metrics.WorkflowRun, error) bool) (stopped bool, err error) {
	// created=A..B is inclusive at both ends, in whole seconds.
	created := from.Format(time.RFC3339) + ".." + to.Add(-time.Second).Format(time.RFC3339)
	q := url.Values{"created": {created}, "per_page": {perPage}}
	op := fmt.Sprintf("list workflow runs of %s created %s", fullName, created)
	split, firstPage := false, true
	err = pages(ctx, c, op, withQuery(repo+"/actions/runs", q), func(page *gh.WorkflowRuns) (bool, error) {
		if page == nil {
			return false, nil
		}
		// Only the first page decides: a count that grows while paging (new runs) must
		// not split a window whose runs were already yielded.
		if firstPage && page.GetTotalCount() >= searchCap {
			if to.Sub(from) <= time.Second {
				return false, fmt.Errorf("%s: %d runs within one second exceed GitHub's %d-result window", op, page.GetTotalCount(), searchCap)
			}
			split = true
			return false, nil
		}
		firstPage = false
		for _, r := range page.WorkflowRuns {
			if r != nil && !yield(toWorkflowRun(fullName, r), nil) {
				stopped = true
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil || stopped || !split {
		return stopped, err
	}
	mid := from.Add(to.Sub(from) / 2).Truncate(time.Second)
	// Newest first, as GitHub lists within a window.
	if stopped, err := c.listRunsWindow(ctx, repo, fullName, mid, to, yield); stopped || err != nil {
		return stopped, err
	}
	return c.listRunsWindow(ctx, repo, fullName, from, mid, yield)
}

// GetWorkflowRun re-reads one run (e.g. one that was still in progress).
func (c *Client) GetWorkflowRun(ctx context.Context, fullName string, id int64) (metrics.WorkflowRun, error) {
	repo, err := repoPath(fullName)
	if err != nil {
		return metrics.WorkflowRun{}, err
	}
	var r gh.WorkflowRun
	op := fmt.Sprintf("get workflow run %s/%d", fullName, id)
	if _, err := c.get(ctx, op, repo+"/actions/runs/"+strconv.FormatInt(id, 10), &r); err != nil {
		return metrics.WorkflowRun{}, err
	}
	return toWorkflowRun(fullName, &r), nil
}

func toWorkflowRun(fullName string, r *gh.WorkflowRun) metrics.WorkflowRun {
	return metrics.WorkflowRun{
		ID:           r.GetID(),
		RepoFullName: fullName,
		WorkflowID:   r.GetWorkflowID(),
		Name:         r.GetName(),
		Path:         r.GetPath(),
		Event:        r.GetEvent(),
		HeadBranch:   r.GetHeadBranch(),
		HeadSHA:      r.GetHeadSHA(),
		Status:       r.GetStatus(),
		Conclusion:   r.GetConclusion(),
		ActorLogin:   r.GetActor().GetLogin(),
		RunAttempt:   r.GetRunAttempt(),
		CreatedAt:    utc(r.GetCreatedAt()),
		UpdatedAt:    utc(r.GetUpdatedAt()),
		RunStartedAt: utc(r.GetRunStartedAt()),
	}
}
