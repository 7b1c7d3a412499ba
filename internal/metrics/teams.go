package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ScopeTeam is the scope type of a team's rows; the scope is "org/team-slug".
const ScopeTeam = "team"

// Team is one team of a configured organization, with its members over time and, when a
// repository→team mapping is configured, the repositories its DORA rows pool.
type Team struct {
	ID   int64 // GitHub's team id; the slug changes when a team is renamed, the id does not
	Org  string
	Slug string
	Name string
	// Members are the membership periods collected from the team's member listings. A
	// person who left and came back has two periods.
	Members []TeamMember
	// Repos are the repositories ("org/name") the team owns for DORA: the configured
	// team_repositories, or the repositories it has admin or maintain permission on. nil
	// means no mapping: the team gets no DORA rows (people, not repositories, make up a
	// team, and a repository many teams push to cannot be split between them).
	Repos []string
}

// Scope is the team's scope name, "org/team-slug".
func (t Team) Scope() string { return t.Org + "/" + t.Slug }

// TeamMember is one period of a person's membership of a team.
type TeamMember struct {
	UserID int64 // GitHub user id; 0 when unknown
	Login  string
	// Since is the UTC day the member was first listed; nil when they were in the team's
	// first listing, whose members count back to the start of the data (nobody knows
	// when they joined). Until is the day the member was first missing from a listing
	// (exclusive); nil while still a member.
	Since, Until *time.Time
}

// covers reports whether the membership overlaps [from, to).
func (m TeamMember) covers(from, to time.Time) bool {
	return (m.Since == nil || m.Since.Before(to)) && (m.Until == nil || m.Until.After(from))
}

// TeamRepository is a repository a team has access to, with the team's permission on it:
// "admin", "maintain", "push", "triage" or "pull" (the highest GitHub grants).
type TeamRepository struct {
	FullName   string
	Permission string
}

// OwnsRepository reports whether a team's permission makes it an owner of the repository
// for team DORA rows (team_repositories "permissions"): admin or maintain.
func OwnsRepository(permission string) bool {
	return permission == "admin" || permission == "maintain"
}

// Person identifies a GitHub account: by id when known, else by login.
//
// Matching rule (issue 16): two accounts are the same person when both ids are known and
// equal; when the id of the one looked up is unknown (0: data collected before ids were
// stored, commits whose author is known only by login), when their logins are equal
// ignoring case. Known but different ids are different people even when the logins are
// equal — GitHub frees a login when its owner renames, and someone else may take it.
type Person struct {
	ID    int64
	Login string
}

// key is a person's identity within one calculation: "i:<id>" or "l:<login>".
func (p Person) key() string {
	if p.ID != 0 {
		return fmt.Sprintf("i:%d", p.ID)
	}
	return "l:" + strings.ToLower(p.Login)
}

// personIndex finds the entries (indices) recorded for a person, by the matching rule of
// Person.
type personIndex struct {
	byID    map[int64][]int
	byLogin map[string][]int
}

func newPersonIndex() personIndex {
	return personIndex{byID: map[int64][]int{}, byLogin: map[string][]int{}}
}

// add records entry i for the person. An entry of a known id is found by that id, and by
// its login for look-ups whose id is unknown.
func (x personIndex) add(p Person, i int) {
	if p.ID != 0 {
		x.byID[p.ID] = append(x.byID[p.ID], i)
	}
	if p.Login != "" {
		l := strings.ToLower(p.Login)
		x.byLogin[l] = append(x.byLogin[l], i)
	}
}

// find returns the entries recorded for p.
func (x personIndex) find(p Person) []int {
	if p.ID != 0 {
		return x.byID[p.ID]
	}
	if p.Login == "" {
		return nil
	}
	return x.byLogin[strings.ToLower(p.Login)]
}

// teamIndex answers which teams a person belonged to in a period.
type teamIndex struct {
	teams   []Team
	periods []teamPeriod
	people  personIndex // → indices into periods
	buf     []int
}

type teamPeriod struct {
	team   int
	member TeamMember
}

func newTeamIndex(teams []Team) *teamIndex {
	x := &teamIndex{teams: teams, people: newPersonIndex()}
	for t, team := range teams {
		for _, m := range team.Members {
			x.people.add(Person{m.UserID, m.Login}, len(x.periods))
			x.periods = append(x.periods, teamPeriod{team: t, member: m})
		}
	}
	return x
}

// of returns the teams (indices, ascending, each once) the person was a member of at any
// time in [from, to). The slice is reused by the next call.
func (x *teamIndex) of(p Person, from, to time.Time) []int {
	if x == nil || len(x.periods) == 0 {
		return nil
	}
	x.buf = x.buf[:0]
	for _, i := range x.people.find(p) {
		tp := x.periods[i]
		if tp.member.covers(from, to) && !slices.Contains(x.buf, tp.team) {
			x.buf = append(x.buf, tp.team)
		}
	}
	slices.Sort(x.buf)
	return x.buf
}

// checkTeams validates the teams: an organization and slug each, no team twice, members
// identified by id or login, periods that do not end before they start, repositories
// named "org/name".
func checkTeams(teams []Team) error {
	var errs []error
	seen := map[string]int{}
	for i, t := range teams {
		if strings.TrimSpace(t.Org) == "" || strings.Contains(t.Org, "/") {
			errs = append(errs, fmt.Errorf("teams[%d].org: %q is not an organization login", i, t.Org))
		}
		if strings.TrimSpace(t.Slug) == "" || strings.Contains(t.Slug, "/") {
			errs = append(errs, fmt.Errorf("teams[%d].slug: %q is not a team slug", i, t.Slug))
		}
		key := strings.ToLower(t.Scope())
		if j, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("teams[%d]: %q repeats teams[%d]", i, t.Scope(), j))
		}
		seen[key] = i
		for j, m := range t.Members {
			if m.UserID == 0 && m.Login == "" {
				errs = append(errs, fmt.Errorf("teams[%d].members[%d]: neither user id nor login", i, j))
			}
			if m.Since != nil && m.Until != nil && m.Until.Before(*m.Since) {
				errs = append(errs, fmt.Errorf("teams[%d].members[%d].until: %s is before since %s", i, j,
					m.Until.Format(time.DateOnly), m.Since.Format(time.DateOnly)))
			}
		}
		for j, r := range t.Repos {
			if org, name, ok := strings.Cut(r, "/"); !ok || org == "" || name == "" {
				errs = append(errs, fmt.Errorf("teams[%d].repos[%d]: %q is not \"org/name\"", i, j, r))
			}
		}
	}
	return errors.Join(errs...)
}

// sortedTeams returns the indices of teams sorted by scope name.
func sortedTeams(teams []Team) []int {
	order := make([]int, len(teams))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(teams[a].Scope(), teams[b].Scope()) })
	return order
}
