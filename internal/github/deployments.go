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

// ListDeployments lists a repository's deployments to environment (all environments
// when empty), newest first. The client does not know the production pattern:
// Production is left false and Statuses empty for the caller to fill.
func (c *Client) ListDeployments(ctx context.Context, fullName, environment string) iter.Seq2[metrics.Deployment, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.Deployment](err)
	}
	q := url.Values{"per_page": {perPage}}
	if environment != "" {
		q.Set("environment", environment)
	}
	return list(ctx, c, "list deployments of "+fullName, withQuery(repo+"/deployments", q), func(d *gh.Deployment) (metrics.Deployment, bool) {
		return metrics.Deployment{
			ID:           d.GetID(),
			RepoFullName: fullName,
			Signal:       metrics.SignalDeployment,
			SHA:          d.GetSHA(),
			Ref:          d.GetRef(),
			Environment:  d.GetEnvironment(),
			CreatorLogin: d.GetCreator().GetLogin(),
			CreatedAt:    utc(d.GetCreatedAt()),
		}, true
	})
}

// ListDeploymentStatuses lists one deployment's statuses as GitHub orders them:
// newest first (metrics.Deployment.Statuses wants oldest first; reverse them).
func (c *Client) ListDeploymentStatuses(ctx context.Context, fullName string, deploymentID int64) iter.Seq2[metrics.DeploymentStatus, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.DeploymentStatus](err)
	}
	first := withQuery(repo+"/deployments/"+strconv.FormatInt(deploymentID, 10)+"/statuses", url.Values{"per_page": {perPage}})
	op := fmt.Sprintf("list statuses of deployment %s/%d", fullName, deploymentID)
	return list(ctx, c, op, first, func(s *gh.DeploymentStatus) (metrics.DeploymentStatus, bool) {
		return metrics.DeploymentStatus{
			ID:        s.GetID(),
			State:     s.GetState(),
			CreatedAt: utc(s.GetCreatedAt()),
		}, true
	})
}
