package github

import (
	"context"
	"fmt"
	"strings"
)

// credential is what authenticates a request: the PAT, or one app installation's
// token. Each has its own pacer, because each has its own rate limit.
type credential struct {
	name  string // for logs: "the PAT", "installation 42"
	pacer *pacer
	pat   bool
	// get returns the token to send; refused is the token GitHub just answered 401
	// to (installation tokens are then minted again), "" otherwise.
	get func(ctx context.Context, refused string) (string, error)
}

// Which endpoints take which credential (docs/deploy.md, "GitHub App"):
//
//   - /orgs/{org}/... and /repos/{owner}/{repo}/... — repositories, commits, pull
//     requests and reviews, workflow runs, deployments, issues, the organization's
//     Copilot reports and seats — take the installation token of {org} / {owner}
//     when the client has an app, else the PAT;
//   - /enterprises/{enterprise}/... — the enterprise's Copilot reports and seats —
//     take only the PAT (an organization installation cannot read them);
//   - anything else takes the PAT.
//
// The app's own requests (/app/..., GET /orgs/{org}/installation) carry its JWT and
// do not pass through here (app.request).
func (t *transport) credentialFor(ctx context.Context, path string) (*credential, error) {
	rel := strings.TrimPrefix(path, strings.TrimSuffix(t.origin.Path, "/"))
	rel = strings.TrimPrefix(rel, "/")
	parts := strings.SplitN(rel, "/", 3)
	if t.app != nil && len(parts) >= 2 && parts[1] != "" && (parts[0] == "orgs" || parts[0] == "repos") {
		id, err := t.app.installation(ctx, parts[1])
		if err != nil {
			return nil, err
		}
		return t.app.credential(id), nil
	}
	if t.pat != nil {
		return t.pat, nil
	}
	return nil, fmt.Errorf("%w: /%s needs a personal access token (GitHub App installation tokens cannot read enterprise endpoints): set token_secret for this enterprise in COLLECTOR_ENTERPRISES",
		ErrTokenUnusable, rel)
}

// credential returns the installation's credential.
func (a *app) credential(id int64) *credential {
	p := a.pacer(id)
	return &credential{
		name:  fmt.Sprintf("installation %d", id),
		pacer: p,
		get:   func(ctx context.Context, refused string) (string, error) { return a.token(ctx, id, refused) },
	}
}
