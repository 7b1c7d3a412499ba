package github

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// Teams: the team scope (issue 16) needs each configured organization's teams, their
// members and, for team DORA rows mapped by permission, the repositories each team may
// administer or maintain. Every listing is paged 100 at a time with conditional
// requests, so a day without changes costs 304s (no primary quota).

// ListTeams lists an organization's teams visible to the token
// (GET /orgs/{org}/teams). Members and repositories are not filled.
func (c *Client) ListTeams(ctx context.Context, org string) iter.Seq2[metrics.Team, error] {
	base, err := orgPath(org)
	if err != nil {
		return failed[metrics.Team](err)
	}
	first := withQuery(base+"/teams", url.Values{"per_page": {perPage}})
	return list(ctx, c, "list teams of "+org, first, func(t *gh.Team) (metrics.Team, bool) {
		return metrics.Team{ID: t.GetID(), Org: org, Slug: t.GetSlug(), Name: t.GetName()}, t.GetSlug() != ""
	})
}

// ListTeamMembers lists the members of a team (GET /orgs/{org}/teams/{slug}/members,
// role=all). GitHub includes the members of its child teams.
func (c *Client) ListTeamMembers(ctx context.Context, org, slug string) iter.Seq2[metrics.Person, error] {
	base, err := teamPath(org, slug)
	if err != nil {
		return failed[metrics.Person](err)
	}
	first := withQuery(base+"/members", url.Values{"role": {"all"}, "per_page": {perPage}})
	return list(ctx, c, "list members of team "+org+"/"+slug, first, func(u *gh.User) (metrics.Person, bool) {
		return metrics.Person{ID: u.GetID(), Login: u.GetLogin()}, u.GetLogin() != "" || u.GetID() != 0
	})
}

// ListTeamRepos lists the repositories a team has access to with its permission on each
// (GET /orgs/{org}/teams/{slug}/repos): the highest of the permissions GitHub sets, or
// its role_name when the permissions are missing.
func (c *Client) ListTeamRepos(ctx context.Context, org, slug string) iter.Seq2[metrics.TeamRepository, error] {
	base, err := teamPath(org, slug)
	if err != nil {
		return failed[metrics.TeamRepository](err)
	}
	first := withQuery(base+"/repos", url.Values{"per_page": {perPage}})
	return list(ctx, c, "list repositories of team "+org+"/"+slug, first, func(r *gh.Repository) (metrics.TeamRepository, bool) {
		return metrics.TeamRepository{FullName: r.GetFullName(), Permission: permissionOf(r)}, r.GetFullName() != ""
	})
}

// permissionOf returns the highest permission a team repository listing grants.
func permissionOf(r *gh.Repository) string {
	if p := r.GetPermissions(); p != nil {
		for _, level := range []struct {
			name string
			set  *bool
		}{{"admin", p.Admin}, {"maintain", p.Maintain}, {"push", p.Push}, {"triage", p.Triage}, {"pull", p.Pull}} {
			if level.set != nil && *level.set {
				return level.name
			}
		}
	}
	switch role := strings.ToLower(r.GetRoleName()); role {
	case "admin", "maintain", "push", "triage", "pull":
		return role
	case "write":
		return "push"
	case "read":
		return "pull"
	}
	return ""
}

func orgPath(org string) (string, error) {
	if org == "" || strings.ContainsAny(org, "/ ") {
		return "", errors.New("org: " + quote(org) + " is not an organization login")
	}
	return "orgs/" + url.PathEscape(org), nil
}

func teamPath(org, slug string) (string, error) {
	base, err := orgPath(org)
	if err != nil {
		return "", err
	}
	if slug == "" || strings.ContainsAny(slug, "/ ") {
		return "", errors.New("slug: " + quote(slug) + " is not a team slug")
	}
	return base + "/teams/" + url.PathEscape(slug), nil
}

func quote(s string) string { return `"` + s + `"` }
