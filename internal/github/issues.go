package github

import (
	"context"
	"iter"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// ListIssues lists a repository's issues in every state that carry all of labels
// (GitHub ANDs them: call once per label for "any of") and were updated at or after
// since (zero: all). The issues endpoint also returns pull requests; they are dropped.
func (c *Client) ListIssues(ctx context.Context, fullName string, labels []string, since time.Time) iter.Seq2[metrics.Incident, error] {
	repo, err := repoPath(fullName)
	if err != nil {
		return failed[metrics.Incident](err)
	}
	q := url.Values{"state": {"all"}, "per_page": {perPage}}
	if len(labels) > 0 {
		q.Set("labels", strings.Join(labels, ","))
	}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	return list(ctx, c, "list issues of "+fullName, withQuery(repo+"/issues", q), func(i *gh.Issue) (metrics.Incident, bool) {
		if i.PullRequestLinks != nil {
			return metrics.Incident{}, false
		}
		var names []string
		for _, l := range i.Labels {
			if l != nil && l.GetName() != "" {
				names = append(names, l.GetName())
			}
		}
		return metrics.Incident{
			RepoFullName: fullName,
			Number:       i.GetNumber(),
			Title:        i.GetTitle(),
			AuthorLogin:  i.GetUser().GetLogin(),
			Labels:       names,
			CreatedAt:    utc(i.GetCreatedAt()),
			ClosedAt:     utcPtr(i.ClosedAt),
			StateReason:  i.GetStateReason(),
		}, true
	})
}
