package pipeline

import (
	"context"
	"fmt"
	"time"

	"metrics-collector/internal/github"
)

// GitHubClients returns the GitHub client of a configured enterprise. There is one
// per enterprise per process, so its rate limiter and pacing outlive a stage call.
type GitHubClients func(enterpriseID string) (*github.Client, error)

// Events receives telemetry events from stages (TokenExpiring, TokenRefused).
// It is the same small interface the orchestrator uses.

// countGitHub makes every GitHub request made with the returned context count into
// the call's counters; read them with the returned function when the call ends.
func countGitHub(ctx context.Context) (context.Context, func() Counters) {
	var c github.Counters
	ctx = github.WithCounters(ctx, &c)
	return ctx, func() Counters {
		s := c.Snapshot()
		return Counters{
			Requests: s.Requests, NotModified: s.NotModified, Retries: s.Retries, Waits: s.Waits,
			RateLimitLow: s.RateLimitLow, RateLimit: s.RateLimit,
			GraphQLRequests: s.GraphQLRequests, GraphQLPoints: s.GraphQLPoints,
			GraphQLRemainingLow: s.GraphQLRemainingLow, GraphQLLimit: s.GraphQLLimit,
		}
	}
}

// tokenExpiryWarning is the run warning (and TokenExpiring event) raised from 14 days
// before a token GitHub says will expire.
const tokenWarningPeriod = 14 * 24 * time.Hour

func tokenExpiryWarning(client *github.Client, enterpriseID string, now time.Time, events Events) []string {
	at, ok := client.TokenExpiresWithin(now, tokenWarningPeriod)
	if !ok {
		return nil
	}
	days := at.Sub(now).Hours() / 24
	if events != nil {
		events.Event("TokenExpiring", map[string]string{"enterprise": enterpriseID, "expires_at": at.Format(time.RFC3339)},
			map[string]float64{"days_left": days})
	}
	if days <= 0 {
		return []string{fmt.Sprintf("the GitHub token of %s expired on %s; rotate it (docs/runbook.md)", enterpriseID, at.Format(time.DateOnly))}
	}
	return []string{fmt.Sprintf("the GitHub token of %s expires on %s (in %.0f days); rotate it (docs/runbook.md)", enterpriseID, at.Format(time.DateOnly), days)}
}
