package pipeline

import (
	"context"
	"errors"
	"fmt"

	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// collectTeams lists an org's configured teams with their members (and, for team DORA
// mapped by permission, their repositories) once a day — again when the call
// re-collects a window — and stores the complete listing in one transaction. Every
// listing is conditional, so a day without changes costs 304s. A team deleted between
// the listing and its members is left out (and so marked missing).
func (s *CopilotStage) collectTeams(ctx, ghCtx context.Context, call *copilotCall, u copilotUnit) error {
	plan, scope := call.plan, call.plan.scopes[u.scope]
	today := utcDate(s.opts.Now())
	if !plan.recollect() {
		listed, ok, err := s.opts.Store.TeamsListedOn(ctx, plan.enterpriseID, scope.Name)
		if err != nil || (ok && !listed.Before(today)) {
			return err
		}
	}
	refused := func(err error) error {
		if errors.Is(err, github.ErrForbidden) || errors.Is(err, github.ErrNotFound) {
			return &copilotRefusal{scope: scope, teams: true, err: err}
		}
		return err
	}
	var teams []metrics.Team
	for t, err := range call.client.ListTeams(ghCtx, scope.Name) {
		if err != nil {
			return refused(err)
		}
		if plan.teamFilter.Wants(scope.Name, t.Slug) {
			teams = append(teams, t)
		}
	}
	listing := postgres.TeamListing{EnterpriseID: plan.enterpriseID, Org: scope.Name, Date: today}
	for _, t := range teams {
		lt := postgres.ListedTeam{Team: t, Members: []metrics.Person{}}
		gone := false
		for m, err := range call.client.ListTeamMembers(ghCtx, scope.Name, t.Slug) {
			if errors.Is(err, github.ErrNotFound) {
				gone = true
				break
			}
			if err != nil {
				return refused(err)
			}
			lt.Members = append(lt.Members, m)
		}
		if gone {
			continue
		}
		if plan.teamRepos {
			lt.Repos = []metrics.TeamRepository{}
			for r, err := range call.client.ListTeamRepos(ghCtx, scope.Name, t.Slug) {
				if errors.Is(err, github.ErrNotFound) {
					gone = true
					break
				}
				if err != nil {
					return refused(err)
				}
				lt.Repos = append(lt.Repos, r)
			}
			if gone {
				continue
			}
		}
		listing.Teams = append(listing.Teams, lt)
	}
	n, err := s.opts.Store.SaveTeamListing(ctx, listing)
	if err != nil {
		return fmt.Errorf("teams of %s: %w", scope.Name, err)
	}
	call.records += n
	s.log.DebugContext(ctx, "listed teams", "enterprise", plan.enterpriseID, "org", scope.Name, "teams", len(listing.Teams), "rows", n)
	return nil
}
