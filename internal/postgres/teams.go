package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// TeamListing is one complete listing of an organization's collected teams on one date:
// each team with its members and, when permissions are mapped, its repositories.
type TeamListing struct {
	EnterpriseID string
	Org          string
	Date         time.Time // UTC midnight
	Teams        []ListedTeam
}

// ListedTeam is one team of a listing.
type ListedTeam struct {
	Team    metrics.Team // ID, Slug and Name
	Members []metrics.Person
	// Repos are the team's repositories with its permission; nil when they were not
	// listed (team_repositories is not "permissions"): the stored ones are then left.
	Repos []metrics.TeamRepository
}

const sqlTeamListedOn = `SELECT listed_on FROM team_listings WHERE enterprise_id = $1 AND org = $2`

// TeamsListedOn returns the date of the org's latest complete team listing; ok is false
// when it was never listed.
func (s *Store) TeamsListedOn(ctx context.Context, enterpriseID, org string) (date time.Time, ok bool, err error) {
	err = s.pool.QueryRow(ctx, sqlTeamListedOn, enterpriseID, org).Scan(&date)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, classify(fmt.Errorf("team listing of %s: %w", org, err))
	}
	return date.UTC(), true, nil
}

// Teams are keyed by id. A team already stored keeps first_listed; whether it is new
// decides whether its first members are members "since always" (NULL).
const sqlUpsertTeam = `
INSERT INTO teams AS t (enterprise_id, org, team_id, slug, name, first_listed, last_listed)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (enterprise_id, org, team_id) DO UPDATE
SET slug = EXCLUDED.slug, name = EXCLUDED.name, last_listed = GREATEST(t.last_listed, EXCLUDED.last_listed), missing_since = NULL
WHERE (t.slug, t.name, t.missing_since) IS DISTINCT FROM (EXCLUDED.slug, EXCLUDED.name, NULL::date)
   OR t.last_listed < EXCLUDED.last_listed
RETURNING (xmax = 0) AS inserted`

// Teams the listing no longer shows: missing from the date on, their open memberships
// closed.
const sqlMissingTeams = `
UPDATE teams SET missing_since = $3
WHERE enterprise_id = $1 AND org = $2 AND missing_since IS NULL AND NOT (team_id = ANY($4::bigint[]))
RETURNING team_id`

const sqlCloseTeamMemberships = `
UPDATE team_members SET until = $4
WHERE enterprise_id = $1 AND org = $2 AND team_id = $3 AND until IS NULL AND NOT (user_id = ANY($5::bigint[]))`

const sqlOpenTeamMembers = `
SELECT user_id, login FROM team_members
WHERE enterprise_id = $1 AND org = $2 AND team_id = $3 AND until IS NULL`

const sqlTeamHasMemberships = `
SELECT EXISTS (SELECT 1 FROM team_members WHERE enterprise_id = $1 AND org = $2 AND team_id = $3)`

const sqlOpenTeamMembership = `
INSERT INTO team_members (enterprise_id, org, team_id, user_id, login, since)
SELECT $1, $2, $3, u.user_id, u.login, $6::date
FROM unnest($4::bigint[], $5::text[]) AS u(user_id, login)`

const sqlRenameTeamMember = `
UPDATE team_members SET login = $5
WHERE enterprise_id = $1 AND org = $2 AND team_id = $3 AND user_id = $4 AND until IS NULL AND login <> $5`

const sqlDeleteTeamRepos = `
DELETE FROM team_repositories
WHERE enterprise_id = $1 AND org = $2 AND team_id = $3 AND NOT (repo_full_name = ANY($4::text[]))`

const sqlUpsertTeamRepos = `
INSERT INTO team_repositories AS r (enterprise_id, org, team_id, repo_full_name, permission)
SELECT $1, $2, $3, u.repo, u.permission FROM unnest($4::text[], $5::text[]) AS u(repo, permission)
ON CONFLICT (enterprise_id, org, team_id, repo_full_name) DO UPDATE SET permission = EXCLUDED.permission
WHERE r.permission IS DISTINCT FROM EXCLUDED.permission`

const sqlTeamListing = `
INSERT INTO team_listings AS l (enterprise_id, org, listed_on, teams) VALUES ($1, $2, $3, $4)
ON CONFLICT (enterprise_id, org) DO UPDATE SET listed_on = EXCLUDED.listed_on, teams = EXCLUDED.teams, listed_at = now()
WHERE (l.listed_on, l.teams) IS DISTINCT FROM (EXCLUDED.listed_on, EXCLUDED.teams)`

// SaveTeamListing stores a complete team listing of one organization in one transaction:
// teams upserted (a renamed team keeps its id), teams no longer listed marked missing
// with their memberships closed, each team's membership periods opened and closed
// (docs/metrics.md, "Teams"), repository permissions replaced when listed, and the
// org's listing date. Saving the same listing again changes nothing. It returns the
// rows written.
func (s *Store) SaveTeamListing(ctx context.Context, l TeamListing) (int64, error) {
	if err := l.check(); err != nil {
		return 0, fmt.Errorf("save team listing: %w", err)
	}
	ids := make([]int64, len(l.Teams))
	for i, t := range l.Teams {
		ids[i] = t.Team.ID
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		written = 0
		count := func(tag interface{ RowsAffected() int64 }) { written += tag.RowsAffected() }
		rows, err := tx.Query(ctx, sqlMissingTeams, l.EnterpriseID, l.Org, l.Date, ids)
		if err != nil {
			return fmt.Errorf("missing teams: %w", err)
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("missing teams: %w", err)
		}
		for _, id := range gone {
			tag, err := tx.Exec(ctx, sqlCloseTeamMemberships, l.EnterpriseID, l.Org, id, l.Date, []int64{})
			if err != nil {
				return fmt.Errorf("close memberships of missing team %d: %w", id, err)
			}
			count(tag)
		}
		written += int64(len(gone))
		for _, t := range l.Teams {
			n, err := saveTeam(ctx, tx, l, t)
			if err != nil {
				return fmt.Errorf("team %s (%d): %w", t.Team.Slug, t.Team.ID, err)
			}
			written += n
		}
		tag, err := tx.Exec(ctx, sqlTeamListing, l.EnterpriseID, l.Org, l.Date, len(l.Teams))
		if err != nil {
			return fmt.Errorf("listing date: %w", err)
		}
		count(tag)
		return nil
	})
	if err != nil {
		return 0, classify(fmt.Errorf("save team listing of %s: %w", l.Org, err))
	}
	return written, nil
}

func (l TeamListing) check() error {
	var errs []error
	if l.EnterpriseID == "" || l.Org == "" {
		errs = append(errs, errors.New("enterprise_id, org: required"))
	}
	if !l.Date.Equal(l.Date.UTC().Truncate(24 * time.Hour)) {
		errs = append(errs, fmt.Errorf("date: %s is not a UTC midnight", l.Date))
	}
	seen := map[int64]bool{}
	for i, t := range l.Teams {
		if t.Team.ID == 0 || t.Team.Slug == "" {
			errs = append(errs, fmt.Errorf("teams[%d]: id and slug are required", i))
		}
		if seen[t.Team.ID] {
			errs = append(errs, fmt.Errorf("teams[%d]: team %d listed twice", i, t.Team.ID))
		}
		seen[t.Team.ID] = true
		for j, m := range t.Members {
			if m.ID == 0 {
				errs = append(errs, fmt.Errorf("teams[%d].members[%d]: user id required (%q)", i, j, m.Login))
			}
		}
	}
	return errors.Join(errs...)
}

func saveTeam(ctx context.Context, tx pgx.Tx, l TeamListing, t ListedTeam) (int64, error) {
	var written int64
	var inserted bool
	err := tx.QueryRow(ctx, sqlUpsertTeam, l.EnterpriseID, l.Org, t.Team.ID, t.Team.Slug, t.Team.Name, l.Date).Scan(&inserted)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // unchanged
	case err != nil:
		return 0, err
	default:
		written++
	}
	// Members, each once (a listing page boundary moving during paging can repeat one).
	members := slices.Clone(t.Members)
	slices.SortFunc(members, func(a, b metrics.Person) int { return cmp.Compare(a.ID, b.ID) })
	members = slices.CompactFunc(members, func(a, b metrics.Person) bool { return a.ID == b.ID })
	listed := make([]int64, len(members))
	for i, m := range members {
		listed[i] = m.ID
	}
	tag, err := tx.Exec(ctx, sqlCloseTeamMemberships, l.EnterpriseID, l.Org, t.Team.ID, l.Date, listed)
	if err != nil {
		return 0, fmt.Errorf("close memberships: %w", err)
	}
	written += tag.RowsAffected()

	rows, err := tx.Query(ctx, sqlOpenTeamMembers, l.EnterpriseID, l.Org, t.Team.ID)
	if err != nil {
		return 0, fmt.Errorf("open memberships: %w", err)
	}
	open := map[int64]string{}
	var (
		id    int64
		login string
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &login}, func() error { open[id] = login; return nil }); err != nil {
		return 0, fmt.Errorf("open memberships: %w", err)
	}
	var hasAny bool
	if err := tx.QueryRow(ctx, sqlTeamHasMemberships, l.EnterpriseID, l.Org, t.Team.ID).Scan(&hasAny); err != nil {
		return 0, fmt.Errorf("memberships: %w", err)
	}
	var newIDs []int64
	var newLogins []string
	for _, m := range members {
		old, ok := open[m.ID]
		switch {
		case !ok:
			newIDs, newLogins = append(newIDs, m.ID), append(newLogins, m.Login)
		case old != m.Login:
			tag, err := tx.Exec(ctx, sqlRenameTeamMember, l.EnterpriseID, l.Org, t.Team.ID, m.ID, m.Login)
			if err != nil {
				return 0, fmt.Errorf("rename member %d: %w", m.ID, err)
			}
			written += tag.RowsAffected()
		}
	}
	if len(newIDs) > 0 {
		// A team's first members count back to the start of the data: nobody knows when
		// they joined. Later ones joined between two listings.
		since := &l.Date
		if inserted && !hasAny {
			since = nil
		}
		tag, err := tx.Exec(ctx, sqlOpenTeamMembership, l.EnterpriseID, l.Org, t.Team.ID, newIDs, newLogins, since)
		if err != nil {
			return 0, fmt.Errorf("open memberships: %w", err)
		}
		written += tag.RowsAffected()
	}
	if t.Repos != nil {
		repos := make([]string, 0, len(t.Repos))
		perms := make([]string, 0, len(t.Repos))
		seen := map[string]bool{}
		for _, r := range t.Repos {
			key := strings.ToLower(r.FullName)
			if seen[key] {
				continue
			}
			seen[key] = true
			repos, perms = append(repos, r.FullName), append(perms, r.Permission)
		}
		tag, err := tx.Exec(ctx, sqlDeleteTeamRepos, l.EnterpriseID, l.Org, t.Team.ID, repos)
		if err != nil {
			return 0, fmt.Errorf("repositories: %w", err)
		}
		written += tag.RowsAffected()
		if tag, err = tx.Exec(ctx, sqlUpsertTeamRepos, l.EnterpriseID, l.Org, t.Team.ID, repos, perms); err != nil {
			return 0, fmt.Errorf("repositories: %w", err)
		}
		written += tag.RowsAffected()
	}
	return written, nil
}

// TeamQuery selects the teams a calculation reads.
type TeamQuery struct {
	EnterpriseID string
	Orgs         []string // the configured organizations (case-insensitive)
	// PresentFrom leaves out teams missing since before it (the first week computed);
	// a team that went missing later still counts in the weeks it existed.
	PresentFrom time.Time
	// OwnedRepos fills Team.Repos with the repositories each team has admin or maintain
	// permission on (team_repositories "permissions"); otherwise Repos stays nil.
	OwnedRepos bool
}

const sqlListTeams = `
SELECT org, team_id, slug, name FROM teams
WHERE enterprise_id = $1 AND (missing_since IS NULL OR missing_since > $2)
ORDER BY org COLLATE "C", slug COLLATE "C", team_id`

const sqlListTeamMembers = `
SELECT m.org, m.team_id, m.user_id, m.login, m.since, m.until
FROM team_members m JOIN teams t USING (enterprise_id, org, team_id)
WHERE m.enterprise_id = $1 AND (t.missing_since IS NULL OR t.missing_since > $2)
ORDER BY m.org, m.team_id, m.user_id, m.since NULLS FIRST`

const sqlListTeamRepos = `
SELECT r.org, r.team_id, r.repo_full_name, r.permission
FROM team_repositories r JOIN teams t USING (enterprise_id, org, team_id)
WHERE r.enterprise_id = $1 AND (t.missing_since IS NULL OR t.missing_since > $2)
ORDER BY r.org, r.team_id, r.repo_full_name COLLATE "C"`

// ListTeams returns the stored teams of the enterprise's configured organizations with
// their membership periods (and, with OwnedRepos, their owned repositories), ordered by
// org and slug. Two teams of one org with the same slug (a renamed team and a new one
// under its old name, until the next listing) are both returned; the newer listing's
// team keeps the slug, the other is left out.
func (s *Store) ListTeams(ctx context.Context, q TeamQuery) ([]metrics.Team, error) {
	if q.EnterpriseID == "" {
		return nil, errors.New("list teams: enterprise_id: required")
	}
	orgs := map[string]bool{}
	for _, o := range q.Orgs {
		orgs[strings.ToLower(strings.TrimSpace(o))] = true
	}
	var out []metrics.Team
	type key struct {
		org string
		id  int64
	}
	index := map[key]int{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var (
			org, slug, name, login, repo, perm string
			id, userID                         int64
			since, until                       *time.Time
		)
		rows, err := tx.Query(ctx, sqlListTeams, q.EnterpriseID, q.PresentFrom.UTC())
		if err != nil {
			return err
		}
		slugs := map[string]bool{}
		if _, err := pgx.ForEachRow(rows, []any{&org, &id, &slug, &name}, func() error {
			scope := strings.ToLower(org + "/" + slug)
			if !orgs[strings.ToLower(org)] || slugs[scope] {
				return nil
			}
			slugs[scope] = true
			index[key{org, id}] = len(out)
			t := metrics.Team{ID: id, Org: org, Slug: slug, Name: name}
			if q.OwnedRepos {
				t.Repos = []string{}
			}
			out = append(out, t)
			return nil
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, sqlListTeamMembers, q.EnterpriseID, q.PresentFrom.UTC()); err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&org, &id, &userID, &login, &since, &until}, func() error {
			i, ok := index[key{org, id}]
			if !ok {
				return nil
			}
			out[i].Members = append(out[i].Members, metrics.TeamMember{UserID: userID, Login: login, Since: utcDatePtr(since), Until: utcDatePtr(until)})
			return nil
		}); err != nil {
			return err
		}
		if !q.OwnedRepos {
			return nil
		}
		if rows, err = tx.Query(ctx, sqlListTeamRepos, q.EnterpriseID, q.PresentFrom.UTC()); err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&org, &id, &repo, &perm}, func() error {
			if i, ok := index[key{org, id}]; ok && metrics.OwnsRepository(perm) {
				out[i].Repos = append(out[i].Repos, repo)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list teams of %s: %w", q.EnterpriseID, err))
	}
	return out, nil
}

func utcDatePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return &d
}
