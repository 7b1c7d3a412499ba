package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"metrics-collector/internal/metrics"
)

// Team collection modes (COLLECTOR_ENTERPRISES[].teams).
const (
	// TeamsAll collects every team of the enterprise's organizations.
	TeamsAll = "all"
	// TeamRepositoriesFromPermissions maps each team to the repositories it has admin or
	// maintain permission on (COLLECTOR_ENTERPRISES[].team_repositories).
	TeamRepositoriesFromPermissions = "permissions"
)

// Teams says which teams of an enterprise's organizations are collected: none (the
// zero value), all, or a list of "org/team-slug".
type Teams struct {
	All  bool
	List []string // "org/team-slug", as configured
}

// Enabled reports whether any team is collected.
func (t Teams) Enabled() bool { return t.All || len(t.List) > 0 }

// Wants reports whether the team slug of org is collected.
func (t Teams) Wants(org, slug string) bool {
	if t.All {
		return true
	}
	return slices.ContainsFunc(t.List, func(s string) bool { return strings.EqualFold(s, org+"/"+slug) })
}

// UnmarshalJSON reads "all" or a list of "org/team-slug"; "" and null mean none.
func (t *Teams) UnmarshalJSON(b []byte) error {
	const want = `or a list of "org/team-slug"`
	none, all, err := readKeyword(b, "teams", TeamsAll, want)
	switch {
	case err != nil:
		return err
	case none:
		*t = Teams{}
		return nil
	case all:
		*t = Teams{All: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("teams: must be %q %s", TeamsAll, want)
	}
	*t = Teams{List: list}
	return nil
}

// readKeyword reads a setting that is a keyword or a structure: none is JSON null or ""
// (as when left out), keyword the string keyword; both false means b is something else,
// for the caller to decode. Any other string is an error naming field and what it may be
// (keyword, then otherwise).
func readKeyword(b []byte, field, keyword, otherwise string) (none, isKeyword bool, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return true, false, nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return false, false, nil
	}
	switch s {
	case "":
		return true, false, nil
	case keyword:
		return false, true, nil
	}
	return false, false, fmt.Errorf("%s: %q must be %q %s", field, s, keyword, otherwise)
}

// MarshalJSON writes what UnmarshalJSON reads.
func (t Teams) MarshalJSON() ([]byte, error) {
	if t.All {
		return json.Marshal(TeamsAll)
	}
	return json.Marshal(t.List)
}

// TeamRepositories says which repositories a team's DORA rows pool: none (the zero
// value: no team DORA rows), the repositories each team has admin or maintain
// permission on, or a configured map.
type TeamRepositories struct {
	FromPermissions bool
	// Map holds "org/team-slug" → repositories ("org/name", or "name" in the team's org).
	Map map[string][]string
}

// Enabled reports whether team DORA rows are computed.
func (r TeamRepositories) Enabled() bool { return r.FromPermissions || r.Map != nil }

// UnmarshalJSON reads "permissions" or an object of "org/team-slug" → repository list;
// "" and null mean none.
func (r *TeamRepositories) UnmarshalJSON(b []byte) error {
	const want = `or an object of "org/team-slug": [repositories]`
	none, fromPermissions, err := readKeyword(b, "team_repositories", TeamRepositoriesFromPermissions, want)
	switch {
	case err != nil:
		return err
	case none:
		*r = TeamRepositories{}
		return nil
	case fromPermissions:
		*r = TeamRepositories{FromPermissions: true}
		return nil
	}
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("team_repositories: must be %q %s", TeamRepositoriesFromPermissions, want)
	}
	if m == nil {
		m = map[string][]string{}
	}
	*r = TeamRepositories{Map: m}
	return nil
}

// MarshalJSON writes what UnmarshalJSON reads.
func (r TeamRepositories) MarshalJSON() ([]byte, error) {
	switch {
	case r.FromPermissions:
		return json.Marshal(TeamRepositoriesFromPermissions)
	case r.Map != nil:
		return json.Marshal(r.Map)
	}
	return []byte("null"), nil
}

// Repos returns the configured repositories of a team ("org/name"; a bare name is taken
// in the team's organization), and whether the map names the team.
func (r TeamRepositories) Repos(org, slug string) ([]string, bool) {
	for team, repos := range r.Map {
		if !strings.EqualFold(team, org+"/"+slug) {
			continue
		}
		out := make([]string, 0, len(repos))
		for _, repo := range repos {
			if !strings.Contains(repo, "/") {
				repo = org + "/" + repo
			}
			out = append(out, repo)
		}
		return out, true
	}
	return nil, false
}

// checkTeams validates the team options of enterprise i.
func checkTeams(i int, e *Enterprise, bad func(string, string, ...any)) {
	field := func(name string) string { return fmt.Sprintf("COLLECTOR_ENTERPRISES[%d].%s", i, name) }
	inOrgs := func(org string) bool {
		return slices.ContainsFunc(e.Orgs, func(o string) bool { return strings.EqualFold(o, org) })
	}
	if e.Teams.Enabled() && len(e.Orgs) == 0 {
		bad(field("teams"), "teams belong to organizations; list the organizations in orgs, or remove teams")
	}
	for j, s := range e.Teams.List {
		org, slug, ok := strings.Cut(s, "/")
		switch {
		case !ok || org == "" || slug == "" || strings.ContainsAny(slug, "/ "):
			bad(fmt.Sprintf("%s[%d]", field("teams"), j), "%q is not \"org/team-slug\"", s)
		case !inOrgs(org):
			bad(fmt.Sprintf("%s[%d]", field("teams"), j), "%q: organization %s is not in orgs", s, org)
		}
	}
	if !e.TeamRepositories.Enabled() {
		return
	}
	if !e.Teams.Enabled() {
		bad(field("team_repositories"), "needs teams: set teams to \"all\" or list the teams")
	}
	for _, team := range slices.Sorted(maps.Keys(e.TeamRepositories.Map)) {
		org, slug, ok := strings.Cut(team, "/")
		name := fmt.Sprintf("%s[%q]", field("team_repositories"), team)
		switch {
		case !ok || org == "" || slug == "" || strings.Contains(slug, "/"):
			bad(name, "%q is not \"org/team-slug\"", team)
			continue
		case !inOrgs(org):
			bad(name, "organization %s is not in orgs", org)
		case !e.Teams.Wants(org, slug):
			bad(name, "team %s is not collected; add it to teams", team)
		}
		for k, repo := range e.TeamRepositories.Map[team] {
			parts := strings.Split(repo, "/")
			if repo == "" || len(parts) > 2 || slices.Contains(parts, "") || strings.Contains(repo, " ") {
				bad(fmt.Sprintf("%s[%d]", name, k), "%q is not a repository (\"org/name\", or \"name\" in the team's organization)", repo)
			}
		}
	}
}

// parseSeatPrices reads COPILOT_SEAT_PRICES: a JSON object of monthly prices per plan
// type plus an optional currency, e.g. {"business": 19, "enterprise": 39, "currency":
// "USD"}. Plans and the currency not given keep their defaults
// (metrics.DefaultSeatPrices).
func parseSeatPrices(raw string, bad func(string, string, ...any)) metrics.SeatPrices {
	const v = "COPILOT_SEAT_PRICES"
	prices := metrics.DefaultSeatPrices()
	if strings.TrimSpace(raw) == "" {
		return prices
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		bad(v, `not a JSON object; set monthly prices per plan and the currency, e.g. {"business": 19, "enterprise": 39, "currency": "USD"}`)
		return metrics.DefaultSeatPrices()
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(m)) {
		val := m[key]
		if key == "currency" {
			if err := json.Unmarshal(val, &prices.Currency); err != nil {
				errs = append(errs, errors.New("currency: must be a string such as \"USD\""))
			}
			continue
		}
		var price float64
		if err := json.Unmarshal(val, &price); err != nil || math.IsInf(price, 0) {
			errs = append(errs, fmt.Errorf("%s: %s is not a number", key, strconv.Quote(string(val))))
			continue
		}
		prices.Monthly[key] = price
	}
	if err := prices.Check(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		bad(v, "%v", errors.Join(errs...))
		return metrics.DefaultSeatPrices()
	}
	return prices
}

// boolSetting reads a true/false setting; empty means def.
func boolSetting(getenv func(string) string, name string, def bool, bad func(string, string, ...any)) bool {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def
	}
	switch strings.ToLower(raw) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	bad(name, "%q must be true or false", raw)
	return def
}
