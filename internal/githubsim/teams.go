package githubsim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"metrics-collector/internal/metrics"
)

// Teams (issue 16). Every org has the teams platform, frontend, data and sre. Each
// member of the org belongs to one of the first three (by a hash of person and org), and
// about a third also to sre — except in an enterprise's second org, whose sre team has
// no members. Membership moves once, 36 hours after the initial now: in every org the
// platform member with the highest id leaves, and the lowest-id member outside data
// joins data. Each repository has an owning team (admin or maintain, alternately by
// hash) among the first three; the other teams get push on some repositories and sre
// triage on every active one. Nothing of this is random-stream based, so adding teams
// changed no other part of the world.

// teamChangeAfter is when the memberships change, after the initial now.
const teamChangeAfter = 36 * time.Hour

const (
	teamPlatform = iota
	teamFrontend
	teamData
	teamSRE
)

// member is one person's membership of a team, from since (zero: always) to until
// (zero: still).
type membership struct {
	u            *user
	since, until time.Time
}

// teamMembers returns the team's memberships (sorted by user id).
func (w *world) teamMembers(o *org, t int) []membership {
	change := w.initialNow.Add(teamChangeAfter)
	var out []membership
	var leaver, joiner *user
	for _, u := range o.members {
		in := w.inTeam(o, u, t)
		if t == teamPlatform && in && (leaver == nil || u.id > leaver.id) {
			leaver = u
		}
		if t == teamData && !in && (joiner == nil || u.id < joiner.id) {
			joiner = u
		}
		if in {
			out = append(out, membership{u: u})
		}
	}
	for i := range out {
		if out[i].u == leaver {
			out[i].until = change
		}
	}
	if joiner != nil {
		out = append(out, membership{u: joiner, since: change})
	}
	slices.SortFunc(out, func(a, b membership) int { return cmp.Compare(a.u.id, b.u.id) })
	return out
}

// inTeam reports whether u is an initial member of team t of o.
func (w *world) inTeam(o *org, u *user, t int) bool {
	h := hashOf(uint64(w.cfg.Seed), 0x7ea3, uint64(u.id), uint64(o.id))
	switch t {
	case teamSRE:
		return o.id%2 == 0 && h%3 == 0
	default:
		return int(h>>8%3) == t
	}
}

// membersAt lists the members of team t of o at now.
func (w *world) membersAt(o *org, t int, now time.Time) []*user {
	var out []*user
	for _, m := range w.teamMembers(o, t) {
		if (m.since.IsZero() || !m.since.After(now)) && (m.until.IsZero() || now.Before(m.until)) {
			out = append(out, m.u)
		}
	}
	return out
}

// teamPermission is team t's permission on r ("" when it has none).
func (w *world) teamPermission(r *repo, t int) string {
	h := hashOf(uint64(w.cfg.Seed), 0x7ea4, uint64(r.id))
	owner := int(h % 3)
	switch {
	case t == owner && h>>8%2 == 0:
		return "admin"
	case t == owner:
		return "maintain"
	case t == teamSRE:
		if r.kind == repoActive {
			return "triage"
		}
		return ""
	case hashOf(uint64(r.id), uint64(t))%4 == 0:
		return "push"
	}
	return ""
}

// teamsForbidden is GitHub's answer to a token that may not read the org's teams.
func teamsForbidden() reply {
	return forbidden("Resource not accessible by personal access token")
}

func (c *call) team() (*org, int, bool) {
	o, found := c.org(c.r.PathValue("org"))
	if !found {
		return nil, 0, false
	}
	slug := c.r.PathValue("slug")
	for i, t := range o.teams {
		if strings.EqualFold(t.slug, slug) {
			return o, i, true
		}
	}
	return nil, 0, false
}

// listTeams is GET /orgs/{org}/teams.
func (c *call) listTeams() reply {
	o, found := c.org(c.r.PathValue("org"))
	if !found {
		return notFound()
	}
	if o.cfg.TeamsForbidden {
		return teamsForbidden()
	}
	items, link := paginate(c, o.teams, c.pageParams(30, 100))
	out := make([]teamJSON, 0, len(items))
	for _, t := range items {
		u := c.absolute(fmt.Sprintf("/organizations/%d/team/%d", o.id, t.id))
		out = append(out, teamJSON{
			ID: t.id, NodeID: nodeID("T_", t.id), URL: u, HTMLURL: htmlBase + "/orgs/" + o.login + "/teams/" + t.slug,
			Name: t.name, Slug: t.slug, Privacy: "closed", NotificationSetting: "notifications_enabled", Permission: "pull",
			MembersURL: u + "/members{/member}", RepositoriesURL: u + "/repos",
		})
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// listTeamMembers is GET /orgs/{org}/teams/{slug}/members (role all, member or
// maintainer; everyone is a member here).
func (c *call) listTeamMembers() reply {
	o, t, found := c.team()
	if !found {
		return notFound()
	}
	if o.cfg.TeamsForbidden {
		return teamsForbidden()
	}
	role := cmp.Or(c.r.URL.Query().Get("role"), "all")
	if role != "all" && role != "member" && role != "maintainer" {
		return validationFailed("role", "role must be one of all, member, maintainer")
	}
	var members []*user
	if role != "maintainer" {
		members = c.s.w.membersAt(o, t, c.now)
	}
	items, link := paginate(c, members, c.pageParams(30, 100))
	out := make([]*userJSON, 0, len(items))
	for _, u := range items {
		out = append(out, c.userJSON(u))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

type teamRepoJSON struct {
	*repoJSON
	Permissions map[string]bool `json:"permissions"`
	RoleName    string          `json:"role_name"`
}

// listTeamRepos is GET /orgs/{org}/teams/{slug}/repos: the repositories the team has a
// permission on, with it.
func (c *call) listTeamRepos() reply {
	o, t, found := c.team()
	if !found {
		return notFound()
	}
	if o.cfg.TeamsForbidden {
		return teamsForbidden()
	}
	var repos []*repo
	for _, r := range o.repos {
		if r.visibleAt(c.now) && c.s.w.teamPermission(r, t) != "" {
			repos = append(repos, r)
		}
	}
	items, link := paginate(c, repos, c.pageParams(30, 100))
	out := make([]teamRepoJSON, 0, len(items))
	for _, r := range items {
		p := c.s.w.teamPermission(r, t)
		levels := []string{"pull", "triage", "push", "maintain", "admin"}
		rank := slices.Index(levels, p)
		perms := map[string]bool{}
		for i, l := range levels {
			perms[l] = i <= rank
		}
		role := map[string]string{"pull": "read", "push": "write"}[p]
		out = append(out, teamRepoJSON{repoJSON: c.repoJSON(r), Permissions: perms, RoleName: cmp.Or(role, p)})
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// TeamTruth is the teams of an enterprise as of Now(): each team with its current
// members (Since and Until unset) and, in Repos, the repositories it has admin or
// maintain permission on; Permissions holds every repository permission per team
// ("org/slug").
type TeamTruth struct {
	Teams       []metrics.Team
	Permissions map[string][]metrics.TeamRepository
}

// TeamTruth returns the teams of the enterprise (id or slug) as of Now().
func (s *Simulator) TeamTruth(enterprise string) (TeamTruth, error) {
	e, err := s.enterprise(enterprise)
	if err != nil {
		return TeamTruth{}, fmt.Errorf("team truth: %w", err)
	}
	now := s.Now()
	out := TeamTruth{Permissions: map[string][]metrics.TeamRepository{}}
	for _, o := range e.orgs {
		for i, t := range o.teams {
			team := metrics.Team{ID: t.id, Org: o.login, Slug: t.slug, Name: t.name, Repos: []string{}}
			for _, u := range s.w.membersAt(o, i, now) {
				team.Members = append(team.Members, metrics.TeamMember{UserID: u.id, Login: u.login})
			}
			for _, r := range o.repos {
				p := s.w.teamPermission(r, i)
				if p == "" || !r.visibleAt(now) {
					continue
				}
				full := o.login + "/" + r.name
				out.Permissions[team.Scope()] = append(out.Permissions[team.Scope()], metrics.TeamRepository{FullName: full, Permission: p})
				if metrics.OwnsRepository(p) {
					team.Repos = append(team.Repos, full)
				}
			}
			out.Teams = append(out.Teams, team)
		}
	}
	return out, nil
}
