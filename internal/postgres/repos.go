package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// Repository activity written by collect_repos (migrations/0004_repos.sql). Every write
// is an upsert on the natural key that rewrites nothing when the row did not change,
// batched through unnest arrays, de-duplicated first; every stream's watermark is
// written in the same transaction as its data.

// Watermark streams of collect_repos in sync_watermarks.
const (
	StreamRepoInventory   = "repos.inventory"  // scope: org login (lower case); watermark: newest pushed_at listed
	StreamRepoPass        = "repo.pass"        // scope: repository id; watermark: the pushed_at the last pass saw
	StreamRepoCommits     = "repo.commits"     // watermark: newest committed_at stored
	StreamRepoPulls       = "repo.pulls"       // watermark: newest updated_at fully stored
	StreamRepoRuns        = "repo.runs"        // watermark: start of the created window listed each pass
	StreamRepoDeployments = "repo.deployments" // watermark: newest created_at stored
	StreamRepoChanges     = "repo.changes"     // watermark: when deployment changes were last brought up to date
	StreamRepoIncidents   = "repo.incidents"   // watermark: when incidents were last listed
)

// Mark is one sync_watermarks row: a stream's watermark for a scope, plus the
// collection that completed it.
type Mark struct {
	Watermark time.Time
	// Collection names the collection (the calls of collect_repos sharing one cursor)
	// that last completed the stream; "" while a stream is part-way (a batch committed).
	Collection string
	// SweptAt is, for repo.pass, when the repository last had a full pass (every stream)
	// and, for repos.inventory, when the org was last listed completely.
	SweptAt time.Time
	// Count is, for repo.incidents read through GraphQL, how many labelled issues the
	// listing held; with Watermark (the newest updatedAt among them) it fingerprints the
	// listing, so an unchanged one is not read again (decision 0006).
	Count int
}

type markState struct {
	Collection string     `json:"collection,omitempty"`
	SweptAt    *time.Time `json:"swept_at,omitempty"`
	Count      int        `json:"count,omitempty"`
}

func (m Mark) state() ([]byte, error) {
	st := markState{Collection: m.Collection, Count: m.Count}
	if !m.SweptAt.IsZero() {
		t := m.SweptAt.UTC()
		st.SweptAt = &t
	}
	return json.Marshal(st)
}

func parseMark(watermark time.Time, state []byte) (Mark, error) {
	var st markState
	if len(state) > 0 {
		if err := json.Unmarshal(state, &st); err != nil {
			return Mark{}, fmt.Errorf("watermark state: %w", err)
		}
	}
	m := Mark{Watermark: watermark.UTC(), Collection: st.Collection, Count: st.Count}
	if st.SweptAt != nil {
		m.SweptAt = st.SweptAt.UTC()
	}
	return m, nil
}

const sqlPutMark = `
INSERT INTO sync_watermarks (enterprise_id, stream, scope, watermark, state, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (enterprise_id, stream, scope) DO UPDATE
SET watermark = EXCLUDED.watermark, state = EXCLUDED.state, updated_at = now()
WHERE (sync_watermarks.watermark, sync_watermarks.state) IS DISTINCT FROM (EXCLUDED.watermark, EXCLUDED.state)`

func putMark(ctx context.Context, tx pgx.Tx, enterpriseID, stream, scope string, m Mark) error {
	state, err := m.state()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sqlPutMark, enterpriseID, stream, scope, m.Watermark.UTC(), state); err != nil {
		return fmt.Errorf("write %s watermark: %w", stream, err)
	}
	return nil
}

func repoScope(repoID int64) string { return strconv.FormatInt(repoID, 10) }

const sqlGetMark = `SELECT watermark, state FROM sync_watermarks WHERE enterprise_id = $1 AND stream = $2 AND scope = $3`

// GetInventoryMark returns the inventory watermark of an org; ok is false when the org
// was never listed.
func (s *Store) GetInventoryMark(ctx context.Context, enterpriseID, org string) (m Mark, ok bool, err error) {
	var watermark time.Time
	var state []byte
	err = s.pool.QueryRow(ctx, sqlGetMark, enterpriseID, StreamRepoInventory, strings.ToLower(org)).Scan(&watermark, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return Mark{}, false, nil
	}
	if err != nil {
		return Mark{}, false, classify(fmt.Errorf("get inventory watermark of %s: %w", org, err))
	}
	m, err = parseMark(watermark, state)
	return m, err == nil, err
}

const sqlGetRepoMarks = `
SELECT stream, watermark, state FROM sync_watermarks
WHERE enterprise_id = $1 AND scope = $2 AND stream LIKE 'repo.%'`

// GetRepoMarks returns the watermarks of one repository's streams, by stream name.
func (s *Store) GetRepoMarks(ctx context.Context, enterpriseID string, repoID int64) (map[string]Mark, error) {
	rows, err := s.pool.Query(ctx, sqlGetRepoMarks, enterpriseID, repoScope(repoID))
	if err != nil {
		return nil, classify(fmt.Errorf("get watermarks of repository %d: %w", repoID, err))
	}
	marks := map[string]Mark{}
	var (
		stream    string
		watermark time.Time
		state     []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&stream, &watermark, &state}, func() error {
		m, err := parseMark(watermark, state)
		marks[stream] = m
		return err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("get watermarks of repository %d: %w", repoID, err))
	}
	return marks, nil
}

// Inventory.

const sqlUpsertRepositories = `
INSERT INTO repositories (enterprise_id, id, org, name, full_name, default_branch, archived, fork, private,
                          created_at, pushed_at, updated_at, missing_since)
SELECT $1, t.id, t.org, t.name, t.full_name, t.default_branch, t.archived, t.fork, t.private,
       t.created_at, t.pushed_at, t.updated_at, NULL
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::bool[],
            $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])
     AS t(id, org, name, full_name, default_branch, archived, fork, private, created_at, pushed_at, updated_at)
ON CONFLICT (enterprise_id, id) DO UPDATE
SET org = EXCLUDED.org, name = EXCLUDED.name, full_name = EXCLUDED.full_name,
    default_branch = EXCLUDED.default_branch, archived = EXCLUDED.archived, fork = EXCLUDED.fork,
    private = EXCLUDED.private, created_at = EXCLUDED.created_at, pushed_at = EXCLUDED.pushed_at,
    updated_at = EXCLUDED.updated_at,
    missing_since = CASE WHEN $13 OR (repositories.pushed_at, repositories.updated_at)
                                      IS DISTINCT FROM (EXCLUDED.pushed_at, EXCLUDED.updated_at)
                         THEN NULL ELSE repositories.missing_since END
WHERE (repositories.org, repositories.name, repositories.full_name, repositories.default_branch,
       repositories.archived, repositories.fork, repositories.private, repositories.created_at,
       repositories.pushed_at, repositories.updated_at)
      IS DISTINCT FROM (EXCLUDED.org, EXCLUDED.name, EXCLUDED.full_name, EXCLUDED.default_branch,
       EXCLUDED.archived, EXCLUDED.fork, EXCLUDED.private, EXCLUDED.created_at,
       EXCLUDED.pushed_at, EXCLUDED.updated_at)
   OR (repositories.missing_since IS NOT NULL AND $13)`

// A listed repository marked missing (a 404, or absent from a complete listing) is
// taken back when a complete listing shows it or it changed since (a push): the pages a
// partial listing replays from the cache say nothing new about it.

// A complete listing that no longer shows a repository marks it missing.
const sqlMarkUnlisted = `
UPDATE repositories SET missing_since = $3
WHERE enterprise_id = $1 AND lower(org) = $2 AND missing_since IS NULL AND NOT (id = ANY($4::bigint[]))`

// InventoryListing is what one listing of an org's repositories found.
type InventoryListing struct {
	Org   string
	Repos []metrics.Repository
	// Complete is true when every page was read; repositories of the org that were not
	// listed are then marked missing.
	Complete bool
	Mark     Mark // the org's new inventory watermark
	At       time.Time
}

// SaveInventory upserts the listed repositories and the org's inventory watermark in
// one transaction. It returns how many repository rows were written.
func (s *Store) SaveInventory(ctx context.Context, enterpriseID string, l InventoryListing) (int64, error) {
	repos := uniqueBy(l.Repos, func(r metrics.Repository) int64 { return r.ID })
	n := len(repos)
	var (
		ids                                     = make([]int64, n)
		orgs, names, fullNames, defaultBranches = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		archived, forks, private                = make([]bool, n), make([]bool, n), make([]bool, n)
		created, pushed, updated                = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	)
	for i, r := range repos {
		ids[i], orgs[i], names[i], fullNames[i], defaultBranches[i] = r.ID, r.Org, r.Name, r.FullName, r.DefaultBranch
		archived[i], forks[i], private[i] = r.Archived, r.Fork, r.Private
		created[i], pushed[i], updated[i] = nullTime(r.CreatedAt), nullTime(r.PushedAt), nullTime(r.UpdatedAt)
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlUpsertRepositories, enterpriseID, ids, orgs, names, fullNames, defaultBranches,
			archived, forks, private, created, pushed, updated, l.Complete)
		if err != nil {
			return fmt.Errorf("upsert repositories: %w", err)
		}
		written = tag.RowsAffected()
		if l.Complete {
			if _, err := tx.Exec(ctx, sqlMarkUnlisted, enterpriseID, strings.ToLower(l.Org), l.At.UTC(), ids); err != nil {
				return fmt.Errorf("mark unlisted repositories: %w", err)
			}
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoInventory, strings.ToLower(l.Org), l.Mark)
	})
	if err != nil {
		return 0, fmt.Errorf("save inventory of %s: %w", l.Org, err)
	}
	return written, nil
}

const sqlMarkRepoMissing = `
UPDATE repositories SET missing_since = $3 WHERE enterprise_id = $1 AND id = $2 AND missing_since IS NULL`

// MarkRepoMissing records that GitHub no longer shows a repository (404): it is not
// collected until a listing shows it again.
func (s *Store) MarkRepoMissing(ctx context.Context, enterpriseID string, repoID int64, at time.Time) error {
	if _, err := s.pool.Exec(ctx, sqlMarkRepoMissing, enterpriseID, repoID, at.UTC()); err != nil {
		return classify(fmt.Errorf("mark repository %d missing: %w", repoID, err))
	}
	return nil
}

// RepoState is what collect_repos needs to decide whether a repository is due.
type RepoState struct {
	Repo metrics.Repository
	// Pass is the repo.pass watermark; Passed is false before the first complete pass.
	Pass   Mark
	Passed bool
	// Things that can change without a push, so the repository is watched.
	OpenPulls            bool // a pull request stored open (reviews, closing)
	OpenRuns             bool // a workflow run stored not completed
	UnsettledDeployments bool // a production deployment whose statuses may still change
	OpenIncidents        bool // an incident stored open (its close time)
}

// Unsettled production deployments, created since unsettledFrom: those without a final
// state yet; those created since recentFrom (a failure status can still arrive within
// the failure window); and those still "success" that a successful deployment to the
// same environment created since recentFrom superseded (GitHub marks them inactive).
const sqlUnsettledDeployment = `
d.production AND d.created_at >= $4
AND (d.latest_state NOT IN ('success', 'failure', 'error', 'inactive') OR d.created_at >= $5
     OR (d.latest_state = 'success' AND EXISTS (
         SELECT 1 FROM deployments n
         WHERE n.enterprise_id = d.enterprise_id AND n.repo_id = d.repo_id AND n.signal = d.signal
           AND n.environment = d.environment AND n.production AND n.created_at > d.created_at
           AND n.created_at >= $5 AND n.latest_state IN ('success', 'inactive'))))`

const sqlListRepoStates = `
SELECT r.id, r.org, r.name, r.full_name, r.default_branch, r.archived, r.fork, r.private,
       r.created_at, r.pushed_at, r.updated_at, p.watermark, p.state,
       EXISTS (SELECT 1 FROM pull_requests x WHERE x.enterprise_id = r.enterprise_id AND x.repo_id = r.id AND x.state = 'open'),
       EXISTS (SELECT 1 FROM workflow_runs x WHERE x.enterprise_id = r.enterprise_id AND x.repo_id = r.id AND x.status <> 'completed'),
       EXISTS (SELECT 1 FROM deployments d WHERE d.enterprise_id = r.enterprise_id AND d.repo_id = r.id AND d.signal = $3 AND ` + sqlUnsettledDeployment + `),
       EXISTS (SELECT 1 FROM incidents x WHERE x.enterprise_id = r.enterprise_id AND x.repo_id = r.id AND x.closed_at IS NULL)
FROM repositories r
LEFT JOIN sync_watermarks p ON p.enterprise_id = r.enterprise_id AND p.stream = 'repo.pass' AND p.scope = r.id::text
WHERE r.enterprise_id = $1 AND lower(r.org) = ANY($2::text[]) AND r.missing_since IS NULL
ORDER BY r.full_name COLLATE "C", r.id`

// StateQuery selects the repositories whose state ListRepoStates returns.
type StateQuery struct {
	EnterpriseID string
	Orgs         []string // compared case-insensitively
	Signal       string   // the enterprise's deployment signal
	// Production deployments created since UnsettledFrom without a final state, or
	// created since RecentFrom, count as unsettled.
	UnsettledFrom, RecentFrom time.Time
}

// ListRepoStates returns every stored, not missing repository of the orgs, ordered by
// full name, with its pass watermark and what it has unsettled.
func (s *Store) ListRepoStates(ctx context.Context, q StateQuery) ([]RepoState, error) {
	orgs := make([]string, len(q.Orgs))
	for i, o := range q.Orgs {
		orgs[i] = strings.ToLower(strings.TrimSpace(o))
	}
	rows, err := s.pool.Query(ctx, sqlListRepoStates, q.EnterpriseID, orgs, q.Signal, q.UnsettledFrom.UTC(), q.RecentFrom.UTC())
	if err != nil {
		return nil, classify(fmt.Errorf("list repository states: %w", err))
	}
	var (
		out                       []RepoState
		st                        RepoState
		created, pushed, updated  *time.Time
		passWatermark             *time.Time
		passState                 []byte
		openPulls, openRuns       bool
		unsettled, openIncidents  bool
		id                        int64
		org, name, full, branch   string
		archived, fork, isPrivate bool
	)
	dest := []any{&id, &org, &name, &full, &branch, &archived, &fork, &isPrivate, &created, &pushed, &updated,
		&passWatermark, &passState, &openPulls, &openRuns, &unsettled, &openIncidents}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		st = RepoState{
			Repo: metrics.Repository{ID: id, Org: org, Name: name, FullName: full, DefaultBranch: branch,
				Archived: archived, Fork: fork, Private: isPrivate,
				CreatedAt: zeroIfNil(created), PushedAt: zeroIfNil(pushed), UpdatedAt: zeroIfNil(updated)},
			OpenPulls: openPulls, OpenRuns: openRuns, UnsettledDeployments: unsettled, OpenIncidents: openIncidents,
		}
		if passWatermark != nil {
			m, err := parseMark(*passWatermark, passState)
			if err != nil {
				return fmt.Errorf("repository %s: %w", full, err)
			}
			st.Pass, st.Passed = m, true
		}
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list repository states: %w", err))
	}
	return out, nil
}

// FinishRepoPass records a complete pass of a repository: its repo.pass watermark.
func (s *Store) FinishRepoPass(ctx context.Context, enterpriseID string, repoID int64, m Mark) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		return putMark(ctx, tx, enterpriseID, StreamRepoPass, repoScope(repoID), m)
	})
	if err != nil {
		return fmt.Errorf("finish pass of repository %d: %w", repoID, err)
	}
	return nil
}

// Commits.

// CommitRow is a default-branch commit with its classified author.
type CommitRow struct {
	metrics.Commit
	AuthorIsBot bool
}

const sqlUpsertCommits = `
INSERT INTO commits (enterprise_id, repo_id, sha, author_login, author_name, author_is_bot, authored_at,
                     committer_login, committed_at, message_headline, parent_count, reverts)
SELECT $1, $2, t.sha, t.author_login, t.author_name, t.author_is_bot, t.authored_at, t.committer_login,
       t.committed_at, t.message_headline, t.parent_count, ARRAY(SELECT jsonb_array_elements_text(t.reverts::jsonb))
FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[], $8::text[], $9::timestamptz[],
            $10::text[], $11::int[], $12::text[])
     AS t(sha, author_login, author_name, author_is_bot, authored_at, committer_login, committed_at,
          message_headline, parent_count, reverts)
ON CONFLICT (enterprise_id, repo_id, sha) DO UPDATE
SET author_login = EXCLUDED.author_login, author_name = EXCLUDED.author_name,
    author_is_bot = EXCLUDED.author_is_bot, authored_at = EXCLUDED.authored_at,
    committer_login = EXCLUDED.committer_login, committed_at = EXCLUDED.committed_at,
    message_headline = EXCLUDED.message_headline, parent_count = EXCLUDED.parent_count, reverts = EXCLUDED.reverts
WHERE (commits.author_login, commits.author_name, commits.author_is_bot, commits.authored_at,
       commits.committer_login, commits.committed_at, commits.message_headline, commits.parent_count, commits.reverts)
      IS DISTINCT FROM (EXCLUDED.author_login, EXCLUDED.author_name, EXCLUDED.author_is_bot, EXCLUDED.authored_at,
       EXCLUDED.committer_login, EXCLUDED.committed_at, EXCLUDED.message_headline, EXCLUDED.parent_count,
       EXCLUDED.reverts)`

// SaveCommits upserts default-branch commits and the repo.commits watermark in one
// transaction. It returns how many rows were written.
func (s *Store) SaveCommits(ctx context.Context, enterpriseID string, repoID int64, commits []CommitRow, m Mark) (int64, error) {
	commits = uniqueBy(commits, func(c CommitRow) string { return c.SHA })
	n := len(commits)
	var (
		shas, logins, names, committers, headlines = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		bots                                       = make([]bool, n)
		authored, committed                        = make([]time.Time, n), make([]time.Time, n)
		parents                                    = make([]int32, n)
		reverts                                    = make([]string, n)
	)
	for i, c := range commits {
		shas[i], logins[i], names[i], committers[i], headlines[i] = c.SHA, c.AuthorLogin, c.AuthorName, c.CommitterLogin, c.MessageHeadline
		bots[i], authored[i], committed[i], parents[i] = c.AuthorIsBot, c.AuthoredAt.UTC(), c.CommittedAt.UTC(), int32(c.ParentCount)
		reverts[i] = jsonStrings(c.Reverts)
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			tag, err := tx.Exec(ctx, sqlUpsertCommits, enterpriseID, repoID, shas, logins, names, bots, authored,
				committers, committed, headlines, parents, reverts)
			if err != nil {
				return fmt.Errorf("upsert commits: %w", err)
			}
			written = tag.RowsAffected()
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoCommits, repoScope(repoID), m)
	})
	if err != nil {
		return 0, fmt.Errorf("save commits of repository %d: %w", repoID, err)
	}
	return written, nil
}

// Pull requests.

// PullRequestRow is a pull request with what the collector derives for it. The
// embedded pull request's Commits are stored as its commits; its reviews come from
// Reviews, which carry the reviewer's classification.
type PullRequestRow struct {
	PR                    metrics.PullRequest
	AuthorIsBot           bool
	IsRevert              bool
	IsHotfix              bool
	FirstCommitAuthoredAt time.Time // zero when the pull request has no commits
	Reviews               []ReviewRow
}

// ReviewRow is a submitted review with its classified reviewer.
type ReviewRow struct {
	metrics.Review
	ReviewerIsBot bool
}

const sqlPullUpdatedTimes = `
SELECT number, updated_at FROM pull_requests WHERE enterprise_id = $1 AND repo_id = $2 AND updated_at >= $3`

// PullUpdatedTimes returns the stored updated_at of the repository's pull requests
// updated at or after since, by number: a listed pull request whose updated_at equals
// the stored one has not changed and is not read again.
func (s *Store) PullUpdatedTimes(ctx context.Context, enterpriseID string, repoID int64, since time.Time) (map[int]time.Time, error) {
	rows, err := s.pool.Query(ctx, sqlPullUpdatedTimes, enterpriseID, repoID, since.UTC())
	if err != nil {
		return nil, classify(fmt.Errorf("pull request times of repository %d: %w", repoID, err))
	}
	out := map[int]time.Time{}
	var number int32
	var updated time.Time
	_, err = pgx.ForEachRow(rows, []any{&number, &updated}, func() error {
		out[int(number)] = updated.UTC()
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("pull request times of repository %d: %w", repoID, err))
	}
	return out, nil
}

const sqlUpsertPulls = `
INSERT INTO pull_requests (enterprise_id, repo_id, number, id, author_login, author_is_bot, title, state, draft,
                           base_ref, head_ref, labels, created_at, updated_at, closed_at, merged_at,
                           merge_commit_sha, additions, deletions, changed_files, is_revert, is_hotfix,
                           first_commit_authored_at, reverts_number, author_id)
SELECT $1, $2, t.number, t.id, t.author_login, t.author_is_bot, t.title, t.state, t.draft, t.base_ref, t.head_ref,
       ARRAY(SELECT jsonb_array_elements_text(t.labels::jsonb)), t.created_at, t.updated_at, t.closed_at,
       t.merged_at, t.merge_commit_sha, t.additions, t.deletions, t.changed_files, t.is_revert, t.is_hotfix,
       t.first_commit_authored_at, t.reverts_number, NULLIF(t.author_id, 0)
FROM unnest($3::int[], $4::bigint[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::bool[], $10::text[],
            $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], $16::timestamptz[],
            $17::text[], $18::int[], $19::int[], $20::int[], $21::bool[], $22::bool[], $23::timestamptz[], $24::int[], $25::bigint[])
     AS t(number, id, author_login, author_is_bot, title, state, draft, base_ref, head_ref, labels, created_at,
          updated_at, closed_at, merged_at, merge_commit_sha, additions, deletions, changed_files, is_revert,
          is_hotfix, first_commit_authored_at, reverts_number, author_id)
ON CONFLICT (enterprise_id, repo_id, number) DO UPDATE
SET id = EXCLUDED.id, author_login = EXCLUDED.author_login, author_is_bot = EXCLUDED.author_is_bot,
    title = EXCLUDED.title, state = EXCLUDED.state, draft = EXCLUDED.draft, base_ref = EXCLUDED.base_ref,
    head_ref = EXCLUDED.head_ref, labels = EXCLUDED.labels, created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, merged_at = EXCLUDED.merged_at,
    merge_commit_sha = EXCLUDED.merge_commit_sha, additions = EXCLUDED.additions, deletions = EXCLUDED.deletions,
    changed_files = EXCLUDED.changed_files, is_revert = EXCLUDED.is_revert, is_hotfix = EXCLUDED.is_hotfix,
    first_commit_authored_at = EXCLUDED.first_commit_authored_at, reverts_number = EXCLUDED.reverts_number,
    author_id = COALESCE(EXCLUDED.author_id, pull_requests.author_id)
WHERE (pull_requests.id, pull_requests.author_login, pull_requests.author_is_bot, pull_requests.title,
       pull_requests.state, pull_requests.draft, pull_requests.base_ref, pull_requests.head_ref, pull_requests.labels,
       pull_requests.created_at, pull_requests.updated_at, pull_requests.closed_at, pull_requests.merged_at,
       pull_requests.merge_commit_sha, pull_requests.additions, pull_requests.deletions, pull_requests.changed_files,
       pull_requests.is_revert, pull_requests.is_hotfix, pull_requests.first_commit_authored_at,
       pull_requests.reverts_number, pull_requests.author_id)
      IS DISTINCT FROM (EXCLUDED.id, EXCLUDED.author_login, EXCLUDED.author_is_bot, EXCLUDED.title,
       EXCLUDED.state, EXCLUDED.draft, EXCLUDED.base_ref, EXCLUDED.head_ref, EXCLUDED.labels,
       EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.closed_at, EXCLUDED.merged_at,
       EXCLUDED.merge_commit_sha, EXCLUDED.additions, EXCLUDED.deletions, EXCLUDED.changed_files,
       EXCLUDED.is_revert, EXCLUDED.is_hotfix, EXCLUDED.first_commit_authored_at, EXCLUDED.reverts_number,
       COALESCE(EXCLUDED.author_id, pull_requests.author_id))`

// The commits and reviews of the batch's pull requests are replaced: rows GitHub no
// longer lists (a force-push rewrote the branch) are removed.
const sqlDeleteStalePullCommits = `
DELETE FROM pull_request_commits c
WHERE c.enterprise_id = $1 AND c.repo_id = $2 AND c.pr_number = ANY($3::int[])
  AND (c.pr_number, c.sha) NOT IN (SELECT * FROM unnest($4::int[], $5::text[]))`

const sqlUpsertPullCommits = `
INSERT INTO pull_request_commits (enterprise_id, repo_id, pr_number, sha, position, author_login, author_name,
                                  authored_at, committer_login, committed_at, message_headline, parent_count)
SELECT $1, $2, t.pr_number, t.sha, t.position, t.author_login, t.author_name, t.authored_at, t.committer_login,
       t.committed_at, t.message_headline, t.parent_count
FROM unnest($3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::timestamptz[], $9::text[],
            $10::timestamptz[], $11::text[], $12::int[])
     AS t(pr_number, sha, position, author_login, author_name, authored_at, committer_login, committed_at,
          message_headline, parent_count)
ON CONFLICT (enterprise_id, repo_id, pr_number, sha) DO UPDATE
SET position = EXCLUDED.position, author_login = EXCLUDED.author_login, author_name = EXCLUDED.author_name,
    authored_at = EXCLUDED.authored_at, committer_login = EXCLUDED.committer_login,
    committed_at = EXCLUDED.committed_at, message_headline = EXCLUDED.message_headline,
    parent_count = EXCLUDED.parent_count
WHERE (pull_request_commits.position, pull_request_commits.author_login, pull_request_commits.author_name,
       pull_request_commits.authored_at, pull_request_commits.committer_login, pull_request_commits.committed_at,
       pull_request_commits.message_headline, pull_request_commits.parent_count)
      IS DISTINCT FROM (EXCLUDED.position, EXCLUDED.author_login, EXCLUDED.author_name, EXCLUDED.authored_at,
       EXCLUDED.committer_login, EXCLUDED.committed_at, EXCLUDED.message_headline, EXCLUDED.parent_count)`

const sqlDeleteStaleReviews = `
DELETE FROM pull_request_reviews r
WHERE r.enterprise_id = $1 AND r.repo_id = $2 AND r.pr_number = ANY($3::int[])
  AND NOT (r.review_id = ANY($4::bigint[]))`

const sqlUpsertReviews = `
INSERT INTO pull_request_reviews (enterprise_id, repo_id, pr_number, review_id, reviewer_login, reviewer_is_bot,
                                  state, submitted_at)
SELECT $1, $2, t.pr_number, t.review_id, t.reviewer_login, t.reviewer_is_bot, t.state, t.submitted_at
FROM unnest($3::int[], $4::bigint[], $5::text[], $6::bool[], $7::text[], $8::timestamptz[])
     AS t(pr_number, review_id, reviewer_login, reviewer_is_bot, state, submitted_at)
ON CONFLICT (enterprise_id, repo_id, review_id) DO UPDATE
SET pr_number = EXCLUDED.pr_number, reviewer_login = EXCLUDED.reviewer_login,
    reviewer_is_bot = EXCLUDED.reviewer_is_bot, state = EXCLUDED.state, submitted_at = EXCLUDED.submitted_at
WHERE (pull_request_reviews.pr_number, pull_request_reviews.reviewer_login, pull_request_reviews.reviewer_is_bot,
       pull_request_reviews.state, pull_request_reviews.submitted_at)
      IS DISTINCT FROM (EXCLUDED.pr_number, EXCLUDED.reviewer_login, EXCLUDED.reviewer_is_bot,
       EXCLUDED.state, EXCLUDED.submitted_at)`

// SavePulls upserts pull requests with their commits and reviews, and the repo.pulls
// watermark, in one transaction. It returns how many rows were written.
func (s *Store) SavePulls(ctx context.Context, enterpriseID string, repoID int64, pulls []PullRequestRow, m Mark) (int64, error) {
	pulls = uniqueBy(pulls, func(p PullRequestRow) int { return p.PR.Number })
	prArgs, err := pullArgs(pulls)
	if err != nil {
		return 0, fmt.Errorf("save pull requests of repository %d: %w", repoID, err)
	}
	numbers := prArgs[0]
	commitArgs, commitKeys := pullCommitArgs(pulls)
	reviewArgs := reviewArgs(pulls)
	var written int64
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if len(pulls) > 0 {
			tag, err := tx.Exec(ctx, sqlUpsertPulls, append([]any{enterpriseID, repoID}, prArgs...)...)
			if err != nil {
				return fmt.Errorf("upsert pull requests: %w", err)
			}
			written += tag.RowsAffected()
			if _, err := tx.Exec(ctx, sqlDeleteStalePullCommits, enterpriseID, repoID, numbers, commitKeys[0], commitKeys[1]); err != nil {
				return fmt.Errorf("delete stale pull request commits: %w", err)
			}
			if tag, err = tx.Exec(ctx, sqlUpsertPullCommits, append([]any{enterpriseID, repoID}, commitArgs...)...); err != nil {
				return fmt.Errorf("upsert pull request commits: %w", err)
			}
			written += tag.RowsAffected()
			if _, err := tx.Exec(ctx, sqlDeleteStaleReviews, enterpriseID, repoID, numbers, reviewArgs[1]); err != nil {
				return fmt.Errorf("delete stale reviews: %w", err)
			}
			if tag, err = tx.Exec(ctx, sqlUpsertReviews, append([]any{enterpriseID, repoID}, reviewArgs...)...); err != nil {
				return fmt.Errorf("upsert reviews: %w", err)
			}
			written += tag.RowsAffected()
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoPulls, repoScope(repoID), m)
	})
	if err != nil {
		return 0, fmt.Errorf("save pull requests of repository %d: %w", repoID, err)
	}
	return written, nil
}

func pullArgs(pulls []PullRequestRow) ([]any, error) {
	n := len(pulls)
	var (
		numbers, additions, deletions, files  = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		ids                                   = make([]int64, n)
		authors, titles, states, bases, heads = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		labels, mergeSHAs                     = make([]string, n), make([]string, n)
		authorBots, drafts, reverts, hotfixes = make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n)
		created, updated                      = make([]time.Time, n), make([]time.Time, n)
		closed, merged, firstCommit           = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		revertsNumbers                        = make([]int32, n)
		authorIDs                             = make([]int64, n) // 0: unknown, stored as NULL
	)
	for i, row := range pulls {
		p := row.PR
		l := p.Labels
		if l == nil {
			l = []string{}
		}
		raw, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("labels of #%d: %w", p.Number, err)
		}
		numbers[i], ids[i], authors[i], authorBots[i], titles[i] = int32(p.Number), p.ID, p.AuthorLogin, row.AuthorIsBot, p.Title
		states[i], drafts[i], bases[i], heads[i], labels[i] = p.State, p.Draft, p.BaseRef, p.HeadRef, string(raw)
		created[i], updated[i], closed[i], merged[i] = p.CreatedAt.UTC(), p.UpdatedAt.UTC(), nullTimePtr(p.ClosedAt), nullTimePtr(p.MergedAt)
		mergeSHAs[i], additions[i], deletions[i], files[i] = p.MergeCommitSHA, int32(p.Additions), int32(p.Deletions), int32(p.ChangedFiles)
		reverts[i], hotfixes[i], firstCommit[i] = row.IsRevert, row.IsHotfix, nullTime(row.FirstCommitAuthoredAt)
		revertsNumbers[i], authorIDs[i] = int32(p.RevertsNumber), p.AuthorID
	}
	return []any{numbers, ids, authors, authorBots, titles, states, drafts, bases, heads, labels, created, updated,
		closed, merged, mergeSHAs, additions, deletions, files, reverts, hotfixes, firstCommit, revertsNumbers, authorIDs}, nil
}

// pullCommitArgs returns the unnest arguments of the pull requests' commits and the
// (number, sha) keys that stay.
func pullCommitArgs(pulls []PullRequestRow) (args []any, keys [2]any) {
	var (
		numbers, positions, parents               []int32
		shas, logins, names, committers, headings []string
		authored                                  []time.Time
		committed                                 []*time.Time
	)
	for _, row := range pulls {
		seen := map[string]bool{}
		for pos, c := range row.PR.Commits {
			if seen[c.SHA] {
				continue
			}
			seen[c.SHA] = true
			numbers, shas, positions = append(numbers, int32(row.PR.Number)), append(shas, c.SHA), append(positions, int32(pos))
			logins, names, authored = append(logins, c.AuthorLogin), append(names, c.AuthorName), append(authored, c.AuthoredAt.UTC())
			committers, committed = append(committers, c.CommitterLogin), append(committed, nullTime(c.CommittedAt))
			headings, parents = append(headings, c.MessageHeadline), append(parents, int32(c.ParentCount))
		}
	}
	args = []any{emptyIfNil(numbers), emptyIfNil(shas), emptyIfNil(positions), emptyIfNil(logins), emptyIfNil(names), emptyIfNil(authored),
		emptyIfNil(committers), emptyIfNil(committed), emptyIfNil(headings), emptyIfNil(parents)}
	return args, [2]any{emptyIfNil(numbers), emptyIfNil(shas)}
}

func reviewArgs(pulls []PullRequestRow) []any {
	var (
		numbers   []int32
		ids       []int64
		logins    []string
		bots      []bool
		states    []string
		submitted []*time.Time
	)
	seen := map[int64]bool{}
	for _, row := range pulls {
		for _, r := range row.Reviews {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			numbers, ids, logins = append(numbers, int32(row.PR.Number)), append(ids, r.ID), append(logins, r.ReviewerLogin)
			bots, states, submitted = append(bots, r.ReviewerIsBot), append(states, r.State), append(submitted, nullTime(r.SubmittedAt))
		}
	}
	return []any{emptyIfNil(numbers), emptyIfNil(ids), emptyIfNil(logins), emptyIfNil(bots), emptyIfNil(states), emptyIfNil(submitted)}
}

// Workflow runs.

// RunRow is a workflow run with its classified actor.
type RunRow struct {
	metrics.WorkflowRun
	ActorIsBot bool
}

const sqlUpsertRuns = `
INSERT INTO workflow_runs (enterprise_id, repo_id, run_id, workflow_id, name, path, event, head_branch, head_sha,
                           status, conclusion, actor_login, actor_is_bot, run_attempt, created_at, updated_at,
                           run_started_at)
SELECT $1, $2, t.run_id, t.workflow_id, t.name, t.path, t.event, t.head_branch, t.head_sha, t.status,
       t.conclusion, t.actor_login, t.actor_is_bot, t.run_attempt, t.created_at, t.updated_at, t.run_started_at
FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
            $11::text[], $12::text[], $13::bool[], $14::int[], $15::timestamptz[], $16::timestamptz[],
            $17::timestamptz[])
     AS t(run_id, workflow_id, name, path, event, head_branch, head_sha, status, conclusion, actor_login,
          actor_is_bot, run_attempt, created_at, updated_at, run_started_at)
ON CONFLICT (enterprise_id, repo_id, run_id) DO UPDATE
SET workflow_id = EXCLUDED.workflow_id, name = EXCLUDED.name, path = EXCLUDED.path, event = EXCLUDED.event,
    head_branch = EXCLUDED.head_branch, head_sha = EXCLUDED.head_sha, status = EXCLUDED.status,
    conclusion = EXCLUDED.conclusion, actor_login = EXCLUDED.actor_login, actor_is_bot = EXCLUDED.actor_is_bot,
    run_attempt = EXCLUDED.run_attempt, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
    run_started_at = EXCLUDED.run_started_at
WHERE (workflow_runs.workflow_id, workflow_runs.name, workflow_runs.path, workflow_runs.event,
       workflow_runs.head_branch, workflow_runs.head_sha, workflow_runs.status, workflow_runs.conclusion,
       workflow_runs.actor_login, workflow_runs.actor_is_bot, workflow_runs.run_attempt, workflow_runs.created_at,
       workflow_runs.updated_at, workflow_runs.run_started_at)
      IS DISTINCT FROM (EXCLUDED.workflow_id, EXCLUDED.name, EXCLUDED.path, EXCLUDED.event,
       EXCLUDED.head_branch, EXCLUDED.head_sha, EXCLUDED.status, EXCLUDED.conclusion,
       EXCLUDED.actor_login, EXCLUDED.actor_is_bot, EXCLUDED.run_attempt, EXCLUDED.created_at,
       EXCLUDED.updated_at, EXCLUDED.run_started_at)`

const sqlOldestOpenRun = `
SELECT min(created_at) FROM workflow_runs WHERE enterprise_id = $1 AND repo_id = $2 AND status <> 'completed'`

// OldestOpenRun returns when the oldest stored run that had not completed was created;
// ok is false when every stored run completed.
func (s *Store) OldestOpenRun(ctx context.Context, enterpriseID string, repoID int64) (at time.Time, ok bool, err error) {
	var t *time.Time
	if err := s.pool.QueryRow(ctx, sqlOldestOpenRun, enterpriseID, repoID).Scan(&t); err != nil {
		return time.Time{}, false, classify(fmt.Errorf("oldest open run of repository %d: %w", repoID, err))
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return t.UTC(), true, nil
}

// SaveRuns upserts workflow runs, the deployments derived from them (the workflow
// signal; nil otherwise) and the repo.runs watermark in one transaction. It returns how
// many rows were written.
func (s *Store) SaveRuns(ctx context.Context, enterpriseID string, repoID int64, runs []RunRow, derived []metrics.Deployment, m Mark) (int64, error) {
	runs = uniqueBy(runs, func(r RunRow) int64 { return r.ID })
	n := len(runs)
	var (
		ids, workflows                               = make([]int64, n), make([]int64, n)
		names, paths, events, branches, shas, actors = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statuses, conclusions                        = make([]string, n), make([]string, n)
		bots                                         = make([]bool, n)
		attempts                                     = make([]int32, n)
		created, updated                             = make([]time.Time, n), make([]time.Time, n)
		started                                      = make([]*time.Time, n)
	)
	for i, r := range runs {
		ids[i], workflows[i], names[i], paths[i], events[i] = r.ID, r.WorkflowID, r.Name, r.Path, r.Event
		branches[i], shas[i], statuses[i], conclusions[i] = r.HeadBranch, r.HeadSHA, r.Status, r.Conclusion
		actors[i], bots[i], attempts[i] = r.ActorLogin, r.ActorIsBot, int32(r.RunAttempt)
		created[i], updated[i], started[i] = r.CreatedAt.UTC(), r.UpdatedAt.UTC(), nullTime(r.RunStartedAt)
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			tag, err := tx.Exec(ctx, sqlUpsertRuns, enterpriseID, repoID, ids, workflows, names, paths, events, branches,
				shas, statuses, conclusions, actors, bots, attempts, created, updated, started)
			if err != nil {
				return fmt.Errorf("upsert workflow runs: %w", err)
			}
			written = tag.RowsAffected()
		}
		if len(derived) > 0 {
			w, err := saveDeployments(ctx, tx, enterpriseID, repoID, derived)
			if err != nil {
				return err
			}
			written += w
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoRuns, repoScope(repoID), m)
	})
	if err != nil {
		return 0, fmt.Errorf("save workflow runs of repository %d: %w", repoID, err)
	}
	return written, nil
}

// Deployments.

const sqlUnsettledDeployments = `
SELECT d.deployment_id, d.sha, d.ref, d.environment, d.creator_login, d.created_at
FROM deployments d
WHERE d.enterprise_id = $1 AND d.repo_id = $2 AND d.signal = $3 AND ` + sqlUnsettledDeployment + `
ORDER BY d.created_at, d.deployment_id`

// UnsettledDeployments returns the repository's production deployments of signal
// whose statuses may still change (see StateQuery), oldest first, without statuses.
func (s *Store) UnsettledDeployments(ctx context.Context, enterpriseID string, repoID int64, signal string, unsettledFrom, recentFrom time.Time) ([]metrics.Deployment, error) {
	rows, err := s.pool.Query(ctx, sqlUnsettledDeployments, enterpriseID, repoID, signal, unsettledFrom.UTC(), recentFrom.UTC())
	if err != nil {
		return nil, classify(fmt.Errorf("unsettled deployments of repository %d: %w", repoID, err))
	}
	var (
		out                          []metrics.Deployment
		id                           int64
		sha, ref, environment, login string
		created                      time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &sha, &ref, &environment, &login, &created}, func() error {
		out = append(out, metrics.Deployment{ID: id, Signal: signal, SHA: sha, Ref: ref, Environment: environment,
			Production: true, CreatorLogin: login, CreatedAt: created.UTC()})
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("unsettled deployments of repository %d: %w", repoID, err))
	}
	return out, nil
}

// SaveDeployments upserts deployments and the repo.deployments watermark in one
// transaction. The statuses of production deployments replace the stored ones (oldest
// first, as metrics.Deployment holds them); non-production deployments are stored
// without statuses. It returns how many rows were written.
func (s *Store) SaveDeployments(ctx context.Context, enterpriseID string, repoID int64, deployments []metrics.Deployment, m Mark) (int64, error) {
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if written, err = saveDeployments(ctx, tx, enterpriseID, repoID, deployments); err != nil {
			return err
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoDeployments, repoScope(repoID), m)
	})
	if err != nil {
		return 0, fmt.Errorf("save deployments of repository %d: %w", repoID, err)
	}
	return written, nil
}

const sqlUpsertDeployments = `
INSERT INTO deployments (enterprise_id, repo_id, signal, deployment_id, sha, ref, environment, production,
                         creator_login, created_at, latest_state)
SELECT $1, $2, t.signal, t.deployment_id, t.sha, t.ref, t.environment, t.production, t.creator_login,
       t.created_at, t.latest_state
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[],
            $10::timestamptz[], $11::text[])
     AS t(signal, deployment_id, sha, ref, environment, production, creator_login, created_at, latest_state)
ON CONFLICT (enterprise_id, repo_id, signal, deployment_id) DO UPDATE
SET sha = EXCLUDED.sha, ref = EXCLUDED.ref, environment = EXCLUDED.environment, production = EXCLUDED.production,
    creator_login = EXCLUDED.creator_login, created_at = EXCLUDED.created_at, latest_state = EXCLUDED.latest_state
WHERE (deployments.sha, deployments.ref, deployments.environment, deployments.production,
       deployments.creator_login, deployments.created_at, deployments.latest_state)
      IS DISTINCT FROM (EXCLUDED.sha, EXCLUDED.ref, EXCLUDED.environment, EXCLUDED.production,
       EXCLUDED.creator_login, EXCLUDED.created_at, EXCLUDED.latest_state)`

const sqlDeleteStaleStatuses = `
DELETE FROM deployment_statuses s
WHERE s.enterprise_id = $1 AND s.repo_id = $2 AND (s.signal, s.deployment_id) IN (SELECT * FROM unnest($3::text[], $4::bigint[]))
  AND (s.signal, s.deployment_id, s.status_id) NOT IN (SELECT * FROM unnest($5::text[], $6::bigint[], $7::bigint[]))`

const sqlUpsertStatuses = `
INSERT INTO deployment_statuses (enterprise_id, repo_id, signal, deployment_id, status_id, state, created_at)
SELECT $1, $2, t.signal, t.deployment_id, t.status_id, t.state, t.created_at
FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::timestamptz[])
     AS t(signal, deployment_id, status_id, state, created_at)
ON CONFLICT (enterprise_id, repo_id, signal, deployment_id, status_id) DO UPDATE
SET state = EXCLUDED.state, created_at = EXCLUDED.created_at
WHERE (deployment_statuses.state, deployment_statuses.created_at) IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.created_at)`

func saveDeployments(ctx context.Context, tx pgx.Tx, enterpriseID string, repoID int64, deployments []metrics.Deployment) (int64, error) {
	type key struct {
		signal string
		id     int64
	}
	deployments = uniqueBy(deployments, func(d metrics.Deployment) key { return key{d.Signal, d.ID} })
	if len(deployments) == 0 {
		return 0, nil
	}
	n := len(deployments)
	var (
		signals, shas, refs, envs, creators, latest = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ids                                         = make([]int64, n)
		production                                  = make([]bool, n)
		created                                     = make([]time.Time, n)
		// Production deployments whose statuses are replaced, and those statuses.
		withSignals          []string
		withIDs              []int64
		stSignals, stStates  []string
		stDeployments, stIDs []int64
		stCreated            []time.Time
	)
	for i, d := range deployments {
		signals[i], ids[i], shas[i], refs[i], envs[i] = d.Signal, d.ID, d.SHA, d.Ref, d.Environment
		production[i], creators[i], created[i] = d.Production, d.CreatorLogin, d.CreatedAt.UTC()
		if !d.Production {
			continue
		}
		latest[i] = LatestState(d.Statuses)
		withSignals, withIDs = append(withSignals, d.Signal), append(withIDs, d.ID)
		seen := map[int64]bool{}
		for _, st := range d.Statuses {
			if seen[st.ID] {
				continue
			}
			seen[st.ID] = true
			stSignals, stDeployments, stIDs = append(stSignals, d.Signal), append(stDeployments, d.ID), append(stIDs, st.ID)
			stStates, stCreated = append(stStates, st.State), append(stCreated, st.CreatedAt.UTC())
		}
	}
	tag, err := tx.Exec(ctx, sqlUpsertDeployments, enterpriseID, repoID, signals, ids, shas, refs, envs, production,
		creators, created, latest)
	if err != nil {
		return 0, fmt.Errorf("upsert deployments: %w", err)
	}
	written := tag.RowsAffected()
	if len(withIDs) == 0 {
		return written, nil
	}
	if _, err := tx.Exec(ctx, sqlDeleteStaleStatuses, enterpriseID, repoID, withSignals, withIDs,
		emptyIfNil(stSignals), emptyIfNil(stDeployments), emptyIfNil(stIDs)); err != nil {
		return 0, fmt.Errorf("delete stale deployment statuses: %w", err)
	}
	if len(stIDs) > 0 {
		tag, err = tx.Exec(ctx, sqlUpsertStatuses, enterpriseID, repoID, stSignals, stDeployments, stIDs, stStates, stCreated)
		if err != nil {
			return 0, fmt.Errorf("upsert deployment statuses: %w", err)
		}
		written += tag.RowsAffected()
	}
	return written, nil
}

// LatestState is the state of a deployment's newest status (statuses oldest first;
// equal times are ordered by id), "" without statuses.
func LatestState(statuses []metrics.DeploymentStatus) string {
	var latest *metrics.DeploymentStatus
	for i := range statuses {
		st := &statuses[i]
		if latest == nil || st.CreatedAt.After(latest.CreatedAt) || (st.CreatedAt.Equal(latest.CreatedAt) && st.ID > latest.ID) {
			latest = st
		}
	}
	if latest == nil {
		return ""
	}
	return latest.State
}

// Deployment changes.

// ChangeTarget is a successful production deployment whose changes are missing or were
// compared against another predecessor.
type ChangeTarget struct {
	DeploymentID int64
	SHA          string
	// BaseSHA is the SHA of the previous successful production deployment to the same
	// environment of the repository (by first success, then id; environment names
	// compared case-insensitively); "" for the first one there.
	BaseSHA string
}

// Successful production deployments in the order the calculators use (first success,
// then id), each with its predecessor's SHA in the same environment (metric_version 2:
// change sets are per environment).
const sqlChangeTargets = `
WITH succeeded AS (
    SELECT d.deployment_id, d.sha, d.environment, d.changes_loaded, d.changes_base_sha,
           (SELECT min(s.created_at) FROM deployment_statuses s
            WHERE s.enterprise_id = d.enterprise_id AND s.repo_id = d.repo_id AND s.signal = d.signal
              AND s.deployment_id = d.deployment_id AND s.state = 'success') AS succeeded_at
    FROM deployments d
    WHERE d.enterprise_id = $1 AND d.repo_id = $2 AND d.signal = $3 AND d.production
), ordered AS (
    SELECT deployment_id, sha, environment, changes_loaded, changes_base_sha, succeeded_at,
           coalesce(lag(sha) OVER (PARTITION BY lower(environment) ORDER BY succeeded_at, deployment_id), '') AS base_sha
    FROM succeeded WHERE succeeded_at IS NOT NULL
)
SELECT deployment_id, sha, base_sha FROM ordered
WHERE NOT changes_loaded OR changes_base_sha <> base_sha
ORDER BY succeeded_at, deployment_id`

// ListChangeTargets returns the repository's successful production deployments of
// signal whose changes must be (re)loaded, in success order.
func (s *Store) ListChangeTargets(ctx context.Context, enterpriseID string, repoID int64, signal string) ([]ChangeTarget, error) {
	rows, err := s.pool.Query(ctx, sqlChangeTargets, enterpriseID, repoID, signal)
	if err != nil {
		return nil, classify(fmt.Errorf("deployments without changes of repository %d: %w", repoID, err))
	}
	var out []ChangeTarget
	var t ChangeTarget
	_, err = pgx.ForEachRow(rows, []any{&t.DeploymentID, &t.SHA, &t.BaseSHA}, func() error {
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("deployments without changes of repository %d: %w", repoID, err))
	}
	return out, nil
}

// ChangeSet is the compare result of one deployment.
type ChangeSet struct {
	DeploymentID int64
	BaseSHA      string
	Commits      []metrics.Commit // oldest first
}

const sqlDeleteStaleChanges = `
DELETE FROM deployment_changes c
WHERE c.enterprise_id = $1 AND c.repo_id = $2 AND c.signal = $3 AND c.deployment_id = ANY($4::bigint[])
  AND (c.deployment_id, c.sha) NOT IN (SELECT * FROM unnest($5::bigint[], $6::text[]))`

const sqlUpsertChanges = `
INSERT INTO deployment_changes (enterprise_id, repo_id, signal, deployment_id, sha, position, author_login,
                                author_name, authored_at, committer_login, committed_at, message_headline,
                                parent_count)
SELECT $1, $2, $3, t.deployment_id, t.sha, t.position, t.author_login, t.author_name, t.authored_at,
       t.committer_login, t.committed_at, t.message_headline, t.parent_count
FROM unnest($4::bigint[], $5::text[], $6::int[], $7::text[], $8::text[], $9::timestamptz[], $10::text[],
            $11::timestamptz[], $12::text[], $13::int[])
     AS t(deployment_id, sha, position, author_login, author_name, authored_at, committer_login, committed_at,
          message_headline, parent_count)
ON CONFLICT (enterprise_id, repo_id, signal, deployment_id, sha) DO UPDATE
SET position = EXCLUDED.position, author_login = EXCLUDED.author_login, author_name = EXCLUDED.author_name,
    authored_at = EXCLUDED.authored_at, committer_login = EXCLUDED.committer_login,
    committed_at = EXCLUDED.committed_at, message_headline = EXCLUDED.message_headline,
    parent_count = EXCLUDED.parent_count
WHERE (deployment_changes.position, deployment_changes.author_login, deployment_changes.author_name,
       deployment_changes.authored_at, deployment_changes.committer_login, deployment_changes.committed_at,
       deployment_changes.message_headline, deployment_changes.parent_count)
      IS DISTINCT FROM (EXCLUDED.position, EXCLUDED.author_login, EXCLUDED.author_name, EXCLUDED.authored_at,
       EXCLUDED.committer_login, EXCLUDED.committed_at, EXCLUDED.message_headline, EXCLUDED.parent_count)`

const sqlMarkChangesLoaded = `
UPDATE deployments d SET changes_loaded = true, changes_base_sha = t.base_sha
FROM unnest($4::bigint[], $5::text[]) AS t(deployment_id, base_sha)
WHERE d.enterprise_id = $1 AND d.repo_id = $2 AND d.signal = $3 AND d.deployment_id = t.deployment_id
  AND (d.changes_loaded, d.changes_base_sha) IS DISTINCT FROM (true, t.base_sha)`

// SaveDeploymentChanges replaces the changes of the given deployments, marks them
// loaded against their base, and, when mark is not nil, writes the repo.changes
// watermark, all in one transaction. It returns how many rows were written.
func (s *Store) SaveDeploymentChanges(ctx context.Context, enterpriseID string, repoID int64, signal string, sets []ChangeSet, m *Mark) (int64, error) {
	sets = uniqueBy(sets, func(c ChangeSet) int64 { return c.DeploymentID })
	var (
		deploymentIDs, bases                       = make([]int64, len(sets)), make([]string, len(sets))
		chDeployments                              []int64
		shas, logins, names, committers, headlines []string
		positions, parents                         []int32
		authored                                   []time.Time
		committed                                  []*time.Time
	)
	for i, set := range sets {
		deploymentIDs[i], bases[i] = set.DeploymentID, set.BaseSHA
		seen := map[string]bool{}
		for pos, c := range set.Commits {
			if seen[c.SHA] {
				continue
			}
			seen[c.SHA] = true
			chDeployments, shas, positions = append(chDeployments, set.DeploymentID), append(shas, c.SHA), append(positions, int32(pos))
			logins, names, authored = append(logins, c.AuthorLogin), append(names, c.AuthorName), append(authored, c.AuthoredAt.UTC())
			committers, committed = append(committers, c.CommitterLogin), append(committed, nullTime(c.CommittedAt))
			headlines, parents = append(headlines, c.MessageHeadline), append(parents, int32(c.ParentCount))
		}
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if len(sets) > 0 {
			if _, err := tx.Exec(ctx, sqlDeleteStaleChanges, enterpriseID, repoID, signal, deploymentIDs,
				emptyIfNil(chDeployments), emptyIfNil(shas)); err != nil {
				return fmt.Errorf("delete stale deployment changes: %w", err)
			}
			if len(shas) > 0 {
				tag, err := tx.Exec(ctx, sqlUpsertChanges, enterpriseID, repoID, signal, chDeployments, shas, positions,
					logins, names, authored, committers, committed, headlines, parents)
				if err != nil {
					return fmt.Errorf("upsert deployment changes: %w", err)
				}
				written += tag.RowsAffected()
			}
			tag, err := tx.Exec(ctx, sqlMarkChangesLoaded, enterpriseID, repoID, signal, deploymentIDs, bases)
			if err != nil {
				return fmt.Errorf("mark deployment changes loaded: %w", err)
			}
			written += tag.RowsAffected()
		}
		if m == nil {
			return nil
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoChanges, repoScope(repoID), *m)
	})
	if err != nil {
		return 0, fmt.Errorf("save deployment changes of repository %d: %w", repoID, err)
	}
	return written, nil
}

// Incidents.

const sqlUpsertIncidents = `
INSERT INTO incidents (enterprise_id, repo_id, number, title, author_login, labels, created_at, closed_at, state_reason)
SELECT $1, $2, t.number, t.title, t.author_login, ARRAY(SELECT jsonb_array_elements_text(t.labels::jsonb)),
       t.created_at, t.closed_at, t.state_reason
FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
     AS t(number, title, author_login, labels, created_at, closed_at, state_reason)
ON CONFLICT (enterprise_id, repo_id, number) DO UPDATE
SET title = EXCLUDED.title, author_login = EXCLUDED.author_login, labels = EXCLUDED.labels,
    created_at = EXCLUDED.created_at, closed_at = EXCLUDED.closed_at, state_reason = EXCLUDED.state_reason
WHERE (incidents.title, incidents.author_login, incidents.labels, incidents.created_at, incidents.closed_at,
       incidents.state_reason)
      IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.author_login, EXCLUDED.labels, EXCLUDED.created_at,
       EXCLUDED.closed_at, EXCLUDED.state_reason)`

// The repository's incidents that a complete listing no longer returns: the label was
// removed, the issue was deleted or transferred, or it was closed as not planned.
const sqlDeleteGoneIncidents = `
DELETE FROM incidents
WHERE enterprise_id = $1 AND repo_id = $2 AND NOT (number = ANY($3::int[]))`

// SaveIncidents replaces the repository's incident issues with a complete listing —
// incidents it no longer holds are deleted, so the stored incidents follow GitHub's
// current state — and writes the repo.incidents watermark, in one transaction. It
// returns how many rows were written or deleted.
func (s *Store) SaveIncidents(ctx context.Context, enterpriseID string, repoID int64, incidents []metrics.Incident, m Mark) (int64, error) {
	incidents = uniqueBy(incidents, func(i metrics.Incident) int { return i.Number })
	n := len(incidents)
	var (
		numbers                 = make([]int32, n)
		titles, authors, labels = make([]string, n), make([]string, n), make([]string, n)
		reasons                 = make([]string, n)
		created                 = make([]time.Time, n)
		closed                  = make([]*time.Time, n)
	)
	for i, inc := range incidents {
		l := inc.Labels
		if l == nil {
			l = []string{}
		}
		raw, err := json.Marshal(l)
		if err != nil {
			return 0, fmt.Errorf("labels of incident #%d: %w", inc.Number, err)
		}
		numbers[i], titles[i], authors[i], labels[i] = int32(inc.Number), inc.Title, inc.AuthorLogin, string(raw)
		created[i], closed[i], reasons[i] = inc.CreatedAt.UTC(), nullTimePtr(inc.ClosedAt), inc.StateReason
	}
	var written int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDeleteGoneIncidents, enterpriseID, repoID, numbers)
		if err != nil {
			return fmt.Errorf("delete incidents no longer listed: %w", err)
		}
		written = tag.RowsAffected()
		if n > 0 {
			tag, err := tx.Exec(ctx, sqlUpsertIncidents, enterpriseID, repoID, numbers, titles, authors, labels, created, closed, reasons)
			if err != nil {
				return fmt.Errorf("upsert incidents: %w", err)
			}
			written += tag.RowsAffected()
		}
		return putMark(ctx, tx, enterpriseID, StreamRepoIncidents, repoScope(repoID), m)
	})
	if err != nil {
		return 0, fmt.Errorf("save incidents of repository %d: %w", repoID, err)
	}
	return written, nil
}

// Helpers.

// uniqueBy keeps the last item of each key (the newest answer wins), in first-seen order:
// one upsert statement cannot touch the same row twice.
func uniqueBy[T any, K comparable](items []T, key func(T) K) []T {
	index := make(map[K]int, len(items))
	out := make([]T, 0, len(items))
	for _, it := range items {
		k := key(it)
		if i, ok := index[k]; ok {
			out[i] = it
			continue
		}
		index[k] = len(out)
		out = append(out, it)
	}
	return out
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

func nullTimePtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

func zeroIfNil(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// jsonStrings encodes a list of strings as a JSON array ('[]' for none), the form the
// upserts unnest text arrays from (unnest cannot take an array of arrays).
func jsonStrings(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	raw, _ := json.Marshal(l) // strings always encode
	return string(raw)
}

// emptyIfNil turns a nil slice into an empty one: pgx sends nil as NULL, and unnest(NULL)
// or NOT IN over NULL would not mean "none".
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
