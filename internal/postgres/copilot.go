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

// Copilot usage data (migrations/0003_copilot.sql), written by collect_copilot. One
// report day of one scope is written in one transaction together with its fetch record
// and its watermark; every statement skips rows that did not change, so re-collecting
// a day that GitHub did not change rewrites nothing.

// Copilot report names as stored in copilot_report_fetches.report, copilot_raw_records
// and the watermark streams ("copilot:<report>").
const (
	CopilotReportAggregate = "aggregate"
	CopilotReportUsers     = "users"
	CopilotReportUserTeams = "user_teams"
)

// CopilotUserTeam is one line of a user-teams-1-day report: a Copilot user's team on a day.
type CopilotUserTeam struct {
	Day       time.Time
	UserID    int64
	UserLogin string
	TeamID    int64
	TeamSlug  string
	Raw       json.RawMessage
}

// CopilotReportDay is one report of one scope for one day, as fetched.
type CopilotReportDay struct {
	EnterpriseID string
	Scope        metrics.CopilotScope
	Report       string    // CopilotReportAggregate, CopilotReportUsers or CopilotReportUserTeams
	Day          time.Time // UTC midnight
	// Available is false when GitHub answered 204 (no report): only the fetch record and
	// the watermark are written, and what an earlier fetch stored is kept.
	Available bool
	Shards    int
	// Exactly one of these is used, by Report.
	Aggregate *metrics.CopilotDay
	Users     []metrics.CopilotUserDay
	UserTeams []CopilotUserTeam
	// UsersWritten: the users report was written in batches (SaveCopilotUserBatch);
	// UserIDs are every user it holds, and the day's other users go.
	UsersWritten bool
	UserIDs      []int64
}

// CopilotWrite tells what a write did.
type CopilotWrite struct {
	// Rows is the number of typed rows the data holds (daily row and breakdowns, user
	// rows, user-team rows, seats), whether written or confirmed unchanged.
	Rows int64
	// Changed counts rows inserted, updated or deleted (raw records included).
	Changed int64
	// Duplicates counts records dropped because an earlier record of the same batch had
	// the same key (the first one is kept).
	Duplicates int
}

// CopilotStream names one watermark: a report of a scope.
type CopilotStream struct {
	Scope  metrics.CopilotScope
	Report string
}

func (c CopilotStream) stream() string { return "copilot:" + c.Report }

func copilotScopeKey(s metrics.CopilotScope) string { return s.Type + ":" + s.Name }

const sqlCopilotWatermarks = `
SELECT stream, scope, watermark FROM sync_watermarks
WHERE enterprise_id = $1 AND stream LIKE 'copilot:%'`

// CopilotWatermarks returns, per report and scope, the newest day GitHub answered for
// (a report or a 204).
func (s *Store) CopilotWatermarks(ctx context.Context, enterpriseID string) (map[CopilotStream]time.Time, error) {
	rows, err := s.pool.Query(ctx, sqlCopilotWatermarks, enterpriseID)
	if err != nil {
		return nil, classify(fmt.Errorf("copilot watermarks: %w", err))
	}
	out := map[CopilotStream]time.Time{}
	for rows.Next() {
		var stream, scope string
		var at time.Time
		if err := rows.Scan(&stream, &scope, &at); err != nil {
			return nil, classify(fmt.Errorf("copilot watermarks: %w", err))
		}
		typ, name, ok := strings.Cut(scope, ":")
		if !ok {
			continue // not written by this file
		}
		key := CopilotStream{Scope: metrics.CopilotScope{Type: typ, Name: name}, Report: strings.TrimPrefix(stream, "copilot:")}
		out[key] = at.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("copilot watermarks: %w", err))
	}
	return out, nil
}

const sqlCopilotFirstDays = `
SELECT scope_type, scope, report, min(day) FROM copilot_report_fetches
WHERE enterprise_id = $1 GROUP BY scope_type, scope, report`

// CopilotFirstDays returns, per report and scope, the oldest day ever fetched (a report
// or a 204).
func (s *Store) CopilotFirstDays(ctx context.Context, enterpriseID string) (map[CopilotStream]time.Time, error) {
	rows, err := s.pool.Query(ctx, sqlCopilotFirstDays, enterpriseID)
	if err != nil {
		return nil, classify(fmt.Errorf("copilot first days: %w", err))
	}
	out := map[CopilotStream]time.Time{}
	for rows.Next() {
		var typ, name, report string
		var day time.Time
		if err := rows.Scan(&typ, &name, &report, &day); err != nil {
			return nil, classify(fmt.Errorf("copilot first days: %w", err))
		}
		out[CopilotStream{Scope: metrics.CopilotScope{Type: typ, Name: name}, Report: report}] = day.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("copilot first days: %w", err))
	}
	return out, nil
}

// SaveCopilotReport writes one report day in one transaction: the typed rows (replacing
// the day's set, so a user who left the report leaves our tables too), the raw records,
// the fetch record, and the watermark (which only moves forward). The seat figures of
// the daily row come from the seat snapshot of the same date, when there is one.
func (s *Store) SaveCopilotReport(ctx context.Context, r CopilotReportDay) (CopilotWrite, error) {
	if err := checkCopilotReport(r); err != nil {
		return CopilotWrite{}, err
	}
	op := fmt.Sprintf("save copilot %s report of %s %s for %s", r.Report, r.Scope.Type, r.Scope.Name, r.Day.Format(time.DateOnly))
	var w CopilotWrite
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		w = CopilotWrite{}
		k := copilotDayKey{r.EnterpriseID, r.Scope.Type, r.Scope.Name, r.Day}
		records := 0
		if r.Available {
			var raws []copilotRaw
			var err error
			switch {
			case r.Report == CopilotReportUsers && r.UsersWritten:
				err = endCopilotUserBatches(ctx, tx, k, r.UserIDs, &w)
			case r.Report == CopilotReportAggregate:
				raws, err = saveCopilotAggregate(ctx, tx, k, r.Aggregate, &w)
			case r.Report == CopilotReportUsers:
				raws, err = saveCopilotUsers(ctx, tx, k, r.Users, true, &w)
			case r.Report == CopilotReportUserTeams:
				raws, err = saveCopilotUserTeams(ctx, tx, k, r.UserTeams, &w)
			}
			if err != nil {
				return err
			}
			records = len(raws)
			if r.UsersWritten {
				records = len(r.UserIDs)
			} else if err := saveCopilotRaw(ctx, tx, k, r.Report, raws, true, &w); err != nil {
				return err
			}
		}
		status := "no_report"
		if r.Available {
			status = "ok"
		}
		tag, err := tx.Exec(ctx, sqlCopilotFetch, r.EnterpriseID, r.Scope.Type, r.Scope.Name, r.Report, r.Day, status, r.Shards, records)
		if err != nil {
			return fmt.Errorf("fetch record: %w", err)
		}
		w.Changed += tag.RowsAffected()
		stream := CopilotStream{Scope: r.Scope, Report: r.Report}
		if _, err := tx.Exec(ctx, sqlCopilotWatermark, r.EnterpriseID, stream.stream(), copilotScopeKey(r.Scope), r.Day); err != nil {
			return fmt.Errorf("watermark: %w", err)
		}
		return nil
	})
	if err != nil {
		return CopilotWrite{}, classify(fmt.Errorf("%s: %w", op, err))
	}
	return w, nil
}

func checkCopilotReport(r CopilotReportDay) error {
	switch {
	case r.EnterpriseID == "":
		return errors.New("save copilot report: enterprise id is empty")
	case r.Scope.Type != metrics.ScopeEnterprise && r.Scope.Type != metrics.ScopeOrganization:
		return fmt.Errorf("save copilot report: scope type %q is neither %q nor %q", r.Scope.Type, metrics.ScopeEnterprise, metrics.ScopeOrganization)
	case r.Scope.Name == "":
		return errors.New("save copilot report: scope name is empty")
	case r.Day.IsZero() || !r.Day.Equal(r.Day.UTC().Truncate(24*time.Hour)):
		return fmt.Errorf("save copilot report: day %s is not a UTC midnight", r.Day)
	}
	switch r.Report {
	case CopilotReportAggregate:
		if r.Available && r.Aggregate == nil {
			return errors.New("save copilot report: an available aggregate report needs its day record")
		}
	case CopilotReportUsers, CopilotReportUserTeams:
		if r.UsersWritten && r.Report != CopilotReportUsers {
			return errNoUsersWritten
		}
	default:
		return fmt.Errorf("save copilot report: report %q is not %q, %q or %q", r.Report, CopilotReportAggregate, CopilotReportUsers, CopilotReportUserTeams)
	}
	return nil
}

// copilotDayKey is the (enterprise, scope, day) every Copilot row of a report day shares.
type copilotDayKey struct {
	enterpriseID, scopeType, scope string
	day                            time.Time
}

// copilotRaw is one raw record and its key within the report day.
type copilotRaw struct {
	key     string
	payload json.RawMessage
}

// A 204 never replaces an answer that had a report; an unchanged answer is not rewritten.
const sqlCopilotFetch = `
INSERT INTO copilot_report_fetches AS f (enterprise_id, scope_type, scope, report, day, status, shards, records, fetched_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (enterprise_id, scope_type, scope, report, day) DO UPDATE
SET status = EXCLUDED.status, shards = EXCLUDED.shards, records = EXCLUDED.records, fetched_at = now()
WHERE (f.status, f.shards, f.records) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.shards, EXCLUDED.records)
  AND NOT (f.status = 'ok' AND EXCLUDED.status = 'no_report')`

const sqlCopilotWatermark = `
INSERT INTO sync_watermarks (enterprise_id, stream, scope, watermark, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (enterprise_id, stream, scope) DO UPDATE
SET watermark = EXCLUDED.watermark, updated_at = now()
WHERE sync_watermarks.watermark < EXCLUDED.watermark`

// The seat figures come from the same day's seat snapshot (NULL without one).
const sqlCopilotDaily = `
WITH seats AS (
    SELECT seats_total, seats_active_30d FROM copilot_seat_snapshots
    WHERE enterprise_id = $1 AND scope_type = $2 AND scope = $3 AND snapshot_date = $4
)
INSERT INTO copilot_daily_metrics AS d (enterprise_id, scope_type, scope, day,
    daily_active_users, weekly_active_users, monthly_active_users,
    monthly_active_chat_users, monthly_active_agent_users,
    user_initiated_interactions, code_generations, code_acceptances,
    completion_generations, completion_acceptances, completion_acceptance_rate,
    loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
    chat_interactions, agent_interactions,
    pr_total_created, pr_total_reviewed, pr_total_merged, pr_median_minutes_to_merge,
    pr_total_suggestions, pr_total_applied_suggestions, pr_total_created_by_copilot, pr_total_reviewed_by_copilot,
    pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions,
    seats_total, seats_active_30d, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
    $22, $23, $24, $25, $26, $27, $28, $29, $30, $31,
    (SELECT seats_total FROM seats), (SELECT seats_active_30d FROM seats), now())
ON CONFLICT (enterprise_id, scope_type, scope, day) DO UPDATE SET
    daily_active_users = EXCLUDED.daily_active_users, weekly_active_users = EXCLUDED.weekly_active_users,
    monthly_active_users = EXCLUDED.monthly_active_users, monthly_active_chat_users = EXCLUDED.monthly_active_chat_users,
    monthly_active_agent_users = EXCLUDED.monthly_active_agent_users,
    user_initiated_interactions = EXCLUDED.user_initiated_interactions, code_generations = EXCLUDED.code_generations,
    code_acceptances = EXCLUDED.code_acceptances, completion_generations = EXCLUDED.completion_generations,
    completion_acceptances = EXCLUDED.completion_acceptances, completion_acceptance_rate = EXCLUDED.completion_acceptance_rate,
    loc_suggested_to_add = EXCLUDED.loc_suggested_to_add, loc_suggested_to_delete = EXCLUDED.loc_suggested_to_delete,
    loc_added = EXCLUDED.loc_added, loc_deleted = EXCLUDED.loc_deleted,
    chat_interactions = EXCLUDED.chat_interactions, agent_interactions = EXCLUDED.agent_interactions,
    pr_total_created = EXCLUDED.pr_total_created, pr_total_reviewed = EXCLUDED.pr_total_reviewed,
    pr_total_merged = EXCLUDED.pr_total_merged, pr_median_minutes_to_merge = EXCLUDED.pr_median_minutes_to_merge,
    pr_total_suggestions = EXCLUDED.pr_total_suggestions, pr_total_applied_suggestions = EXCLUDED.pr_total_applied_suggestions,
    pr_total_created_by_copilot = EXCLUDED.pr_total_created_by_copilot, pr_total_reviewed_by_copilot = EXCLUDED.pr_total_reviewed_by_copilot,
    pr_total_copilot_suggestions = EXCLUDED.pr_total_copilot_suggestions,
    pr_total_copilot_applied_suggestions = EXCLUDED.pr_total_copilot_applied_suggestions,
    seats_total = EXCLUDED.seats_total, seats_active_30d = EXCLUDED.seats_active_30d,
    updated_at = now()
WHERE (d.daily_active_users, d.weekly_active_users, d.monthly_active_users,
       d.monthly_active_chat_users, d.monthly_active_agent_users,
       d.user_initiated_interactions, d.code_generations, d.code_acceptances,
       d.completion_generations, d.completion_acceptances, d.completion_acceptance_rate,
       d.loc_suggested_to_add, d.loc_suggested_to_delete, d.loc_added, d.loc_deleted,
       d.chat_interactions, d.agent_interactions,
       d.pr_total_created, d.pr_total_reviewed, d.pr_total_merged, d.pr_median_minutes_to_merge,
       d.pr_total_suggestions, d.pr_total_applied_suggestions, d.pr_total_created_by_copilot, d.pr_total_reviewed_by_copilot,
       d.pr_total_copilot_suggestions, d.pr_total_copilot_applied_suggestions,
       d.seats_total, d.seats_active_30d)
      IS DISTINCT FROM
      (EXCLUDED.daily_active_users, EXCLUDED.weekly_active_users, EXCLUDED.monthly_active_users,
       EXCLUDED.monthly_active_chat_users, EXCLUDED.monthly_active_agent_users,
       EXCLUDED.user_initiated_interactions, EXCLUDED.code_generations, EXCLUDED.code_acceptances,
       EXCLUDED.completion_generations, EXCLUDED.completion_acceptances, EXCLUDED.completion_acceptance_rate,
       EXCLUDED.loc_suggested_to_add, EXCLUDED.loc_suggested_to_delete, EXCLUDED.loc_added, EXCLUDED.loc_deleted,
       EXCLUDED.chat_interactions, EXCLUDED.agent_interactions,
       EXCLUDED.pr_total_created, EXCLUDED.pr_total_reviewed, EXCLUDED.pr_total_merged, EXCLUDED.pr_median_minutes_to_merge,
       EXCLUDED.pr_total_suggestions, EXCLUDED.pr_total_applied_suggestions, EXCLUDED.pr_total_created_by_copilot, EXCLUDED.pr_total_reviewed_by_copilot,
       EXCLUDED.pr_total_copilot_suggestions, EXCLUDED.pr_total_copilot_applied_suggestions,
       EXCLUDED.seats_total, EXCLUDED.seats_active_30d)`

// Breakdown elements of the day that are no longer in the report.
const sqlCopilotBreakdownsDelete = `
DELETE FROM copilot_breakdowns b
WHERE b.enterprise_id = $1 AND b.scope_type = $2 AND b.scope = $3 AND b.day = $4
  AND NOT EXISTS (SELECT 1 FROM unnest($5::text[], $6::text[], $7::text[]) AS k(dimension, key1, key2)
                  WHERE (k.dimension, k.key1, k.key2) = (b.dimension, b.key1, b.key2))`

const sqlCopilotBreakdowns = `
INSERT INTO copilot_breakdowns AS b (enterprise_id, scope_type, scope, day, dimension, key1, key2,
    user_initiated_interactions, code_generations, code_acceptances,
    loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted, updated_at)
SELECT $1::text, $2::text, $3::text, $4::date, u.*, now()
FROM unnest($5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[],
            $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, day, dimension, key1, key2) DO UPDATE SET
    user_initiated_interactions = EXCLUDED.user_initiated_interactions, code_generations = EXCLUDED.code_generations,
    code_acceptances = EXCLUDED.code_acceptances, loc_suggested_to_add = EXCLUDED.loc_suggested_to_add,
    loc_suggested_to_delete = EXCLUDED.loc_suggested_to_delete, loc_added = EXCLUDED.loc_added,
    loc_deleted = EXCLUDED.loc_deleted, updated_at = now()
WHERE (b.user_initiated_interactions, b.code_generations, b.code_acceptances,
       b.loc_suggested_to_add, b.loc_suggested_to_delete, b.loc_added, b.loc_deleted)
      IS DISTINCT FROM
      (EXCLUDED.user_initiated_interactions, EXCLUDED.code_generations, EXCLUDED.code_acceptances,
       EXCLUDED.loc_suggested_to_add, EXCLUDED.loc_suggested_to_delete, EXCLUDED.loc_added, EXCLUDED.loc_deleted)`

func saveCopilotAggregate(ctx context.Context, tx pgx.Tx, k copilotDayKey, d *metrics.CopilotDay, w *CopilotWrite) ([]copilotRaw, error) {
	gens, accs, rate := metrics.CompletionAcceptance(d.Breakdowns)
	chat, agent := metrics.CopilotInteractions(d.Breakdowns, d.ChatModes)
	pr := d.PullRequests
	tag, err := tx.Exec(ctx, sqlCopilotDaily, k.enterpriseID, k.scopeType, k.scope, k.day,
		d.DailyActiveUsers, d.WeeklyActiveUsers, d.MonthlyActiveUsers, d.MonthlyActiveChatUsers, d.MonthlyActiveAgentUsers,
		d.UserInitiatedInteractions, d.CodeGenerations, d.CodeAcceptances,
		gens, accs, rate,
		d.LOCSuggestedToAdd, d.LOCSuggestedToDelete, d.LOCAdded, d.LOCDeleted,
		chat, agent,
		pr.TotalCreated, pr.TotalReviewed, pr.TotalMerged, pr.MedianMinutesToMerge,
		pr.TotalSuggestions, pr.TotalAppliedSuggestions, pr.TotalCreatedByCopilot, pr.TotalReviewedByCopilot,
		pr.TotalCopilotSuggestions, pr.TotalCopilotAppliedSuggestions)
	if err != nil {
		return nil, fmt.Errorf("daily metrics: %w", err)
	}
	w.Rows++
	w.Changed += tag.RowsAffected()

	b := mergeBreakdowns(d.Breakdowns)
	tag, err = tx.Exec(ctx, sqlCopilotBreakdownsDelete, k.enterpriseID, k.scopeType, k.scope, k.day, b.dimension, b.key1, b.key2)
	if err != nil {
		return nil, fmt.Errorf("breakdowns: %w", err)
	}
	w.Changed += tag.RowsAffected()
	if len(b.dimension) > 0 {
		tag, err = tx.Exec(ctx, sqlCopilotBreakdowns, k.enterpriseID, k.scopeType, k.scope, k.day, b.dimension, b.key1, b.key2,
			b.interactions, b.generations, b.acceptances, b.locSuggestedAdd, b.locSuggestedDelete, b.locAdded, b.locDeleted)
		if err != nil {
			return nil, fmt.Errorf("breakdowns: %w", err)
		}
		w.Changed += tag.RowsAffected()
	}
	w.Rows += int64(len(b.dimension))
	return []copilotRaw{{key: "", payload: d.Raw}}, nil
}

// breakdownColumns are the breakdown elements as parallel arrays for unnest.
type breakdownColumns struct {
	dimension, key1, key2                                                                             []string
	interactions, generations, acceptances, locSuggestedAdd, locSuggestedDelete, locAdded, locDeleted []*int64
}

// mergeBreakdowns turns the elements into columns, one row per (dimension, key1, key2):
// a repeated element is added to the first (as metrics.CompletionAcceptance does), so
// the batch has no duplicate keys.
func mergeBreakdowns(bs []metrics.CopilotBreakdown) breakdownColumns {
	var c breakdownColumns
	at := map[[3]string]int{}
	for _, b := range bs {
		key := [3]string{b.Dimension, b.Key1, b.Key2}
		if i, seen := at[key]; seen {
			c.interactions[i] = addInt(c.interactions[i], b.UserInitiatedInteractions)
			c.generations[i] = addInt(c.generations[i], b.CodeGenerations)
			c.acceptances[i] = addInt(c.acceptances[i], b.CodeAcceptances)
			c.locSuggestedAdd[i] = addInt(c.locSuggestedAdd[i], b.LOCSuggestedToAdd)
			c.locSuggestedDelete[i] = addInt(c.locSuggestedDelete[i], b.LOCSuggestedToDelete)
			c.locAdded[i] = addInt(c.locAdded[i], b.LOCAdded)
			c.locDeleted[i] = addInt(c.locDeleted[i], b.LOCDeleted)
			continue
		}
		at[key] = len(c.dimension)
		c.dimension = append(c.dimension, b.Dimension)
		c.key1 = append(c.key1, b.Key1)
		c.key2 = append(c.key2, b.Key2)
		c.interactions = append(c.interactions, b.UserInitiatedInteractions)
		c.generations = append(c.generations, b.CodeGenerations)
		c.acceptances = append(c.acceptances, b.CodeAcceptances)
		c.locSuggestedAdd = append(c.locSuggestedAdd, b.LOCSuggestedToAdd)
		c.locSuggestedDelete = append(c.locSuggestedDelete, b.LOCSuggestedToDelete)
		c.locAdded = append(c.locAdded, b.LOCAdded)
		c.locDeleted = append(c.locDeleted, b.LOCDeleted)
	}
	return c
}

func addInt(a, b *int64) *int64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	v := *a + *b
	return &v
}

const sqlCopilotUsersDelete = `
DELETE FROM copilot_user_metrics
WHERE enterprise_id = $1 AND scope_type = $2 AND scope = $3 AND day = $4 AND user_id <> ALL($5::bigint[])`

const sqlCopilotUsers = `
INSERT INTO copilot_user_metrics AS m (enterprise_id, scope_type, scope, day, user_id, user_login,
    user_initiated_interactions, code_generations, code_acceptances,
    loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
    used_agent, used_chat, used_cli, used_code_review_active, used_code_review_passive, used_coding_agent,
    ai_credits_used, chat_interactions, agent_interactions, updated_at)
SELECT $1::text, $2::text, $3::text, $4::date, u.*, now()
FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
            $12::bigint[], $13::bigint[], $14::boolean[], $15::boolean[], $16::boolean[], $17::boolean[],
            $18::boolean[], $19::boolean[], $20::numeric[], $21::bigint[], $22::bigint[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, day, user_id) DO UPDATE SET
    user_login = EXCLUDED.user_login,
    user_initiated_interactions = EXCLUDED.user_initiated_interactions, code_generations = EXCLUDED.code_generations,
    code_acceptances = EXCLUDED.code_acceptances, loc_suggested_to_add = EXCLUDED.loc_suggested_to_add,
    loc_suggested_to_delete = EXCLUDED.loc_suggested_to_delete, loc_added = EXCLUDED.loc_added,
    loc_deleted = EXCLUDED.loc_deleted, used_agent = EXCLUDED.used_agent, used_chat = EXCLUDED.used_chat,
    used_cli = EXCLUDED.used_cli, used_code_review_active = EXCLUDED.used_code_review_active,
    used_code_review_passive = EXCLUDED.used_code_review_passive, used_coding_agent = EXCLUDED.used_coding_agent,
    ai_credits_used = EXCLUDED.ai_credits_used,
    chat_interactions = EXCLUDED.chat_interactions, agent_interactions = EXCLUDED.agent_interactions, updated_at = now()
WHERE (m.user_login, m.user_initiated_interactions, m.code_generations, m.code_acceptances,
       m.loc_suggested_to_add, m.loc_suggested_to_delete, m.loc_added, m.loc_deleted,
       m.used_agent, m.used_chat, m.used_cli, m.used_code_review_active, m.used_code_review_passive,
       m.used_coding_agent, m.ai_credits_used, m.chat_interactions, m.agent_interactions)
      IS DISTINCT FROM
      (EXCLUDED.user_login, EXCLUDED.user_initiated_interactions, EXCLUDED.code_generations, EXCLUDED.code_acceptances,
       EXCLUDED.loc_suggested_to_add, EXCLUDED.loc_suggested_to_delete, EXCLUDED.loc_added, EXCLUDED.loc_deleted,
       EXCLUDED.used_agent, EXCLUDED.used_chat, EXCLUDED.used_cli, EXCLUDED.used_code_review_active,
       EXCLUDED.used_code_review_passive, EXCLUDED.used_coding_agent, EXCLUDED.ai_credits_used,
       EXCLUDED.chat_interactions, EXCLUDED.agent_interactions)`

// saveCopilotUsers upserts users; replaceDay also deletes the day's users not among
// them (a whole report), otherwise they are one batch of a report written in parts.
func saveCopilotUsers(ctx context.Context, tx pgx.Tx, k copilotDayKey, users []metrics.CopilotUserDay, replaceDay bool, w *CopilotWrite) ([]copilotRaw, error) {
	n := len(users)
	var (
		ids                                                   = make([]int64, 0, n)
		logins                                                = make([]string, 0, n)
		interactions, gens, accs, sugAdd, sugDel, added, dels = make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n)
		agent, chat, cli, reviewActive, reviewPassive, coding = make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n)
		credits                                               = make([]*float64, 0, n)
		chatInteractions, agentInteractions                   = make([]*int64, 0, n), make([]*int64, 0, n)
		raws                                                  = make([]copilotRaw, 0, n)
		seen                                                  = make(map[int64]bool, n)
	)
	for _, u := range users {
		if seen[u.UserID] {
			w.Duplicates++
			continue
		}
		seen[u.UserID] = true
		ids = append(ids, u.UserID)
		logins = append(logins, u.UserLogin)
		interactions = append(interactions, u.UserInitiatedInteractions)
		gens = append(gens, u.CodeGenerations)
		accs = append(accs, u.CodeAcceptances)
		sugAdd = append(sugAdd, u.LOCSuggestedToAdd)
		sugDel = append(sugDel, u.LOCSuggestedToDelete)
		added = append(added, u.LOCAdded)
		dels = append(dels, u.LOCDeleted)
		agent = append(agent, u.UsedAgent)
		chat = append(chat, u.UsedChat)
		cli = append(cli, u.UsedCLI)
		reviewActive = append(reviewActive, u.UsedCodeReviewActive)
		reviewPassive = append(reviewPassive, u.UsedCodeReviewPassive)
		coding = append(coding, u.UsedCodingAgent)
		credits = append(credits, u.AICreditsUsed)
		chatN, agentN := metrics.CopilotInteractions(u.Breakdowns, u.ChatModes)
		chatInteractions = append(chatInteractions, chatN)
		agentInteractions = append(agentInteractions, agentN)
		raws = append(raws, copilotRaw{key: strconv.FormatInt(u.UserID, 10), payload: u.Raw})
	}
	if replaceDay {
		tag, err := tx.Exec(ctx, sqlCopilotUsersDelete, k.enterpriseID, k.scopeType, k.scope, k.day, ids)
		if err != nil {
			return nil, fmt.Errorf("user metrics: %w", err)
		}
		w.Changed += tag.RowsAffected()
	}
	if len(ids) > 0 {
		tag, err := tx.Exec(ctx, sqlCopilotUsers, k.enterpriseID, k.scopeType, k.scope, k.day, ids, logins,
			interactions, gens, accs, sugAdd, sugDel, added, dels, agent, chat, cli, reviewActive, reviewPassive, coding, credits,
			chatInteractions, agentInteractions)
		if err != nil {
			return nil, fmt.Errorf("user metrics: %w", err)
		}
		w.Changed += tag.RowsAffected()
	}
	w.Rows += int64(len(ids))
	return raws, nil
}

const sqlCopilotUserTeamsDelete = `
DELETE FROM copilot_user_teams t
WHERE t.enterprise_id = $1 AND t.scope_type = $2 AND t.scope = $3 AND t.day = $4
  AND NOT EXISTS (SELECT 1 FROM unnest($5::bigint[], $6::bigint[]) AS k(user_id, team_id)
                  WHERE (k.user_id, k.team_id) = (t.user_id, t.team_id))`

const sqlCopilotUserTeams = `
INSERT INTO copilot_user_teams AS t (enterprise_id, scope_type, scope, day, user_id, team_id, user_login, team_slug, updated_at)
SELECT $1::text, $2::text, $3::text, $4::date, u.*, now()
FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::text[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, day, user_id, team_id) DO UPDATE SET
    user_login = EXCLUDED.user_login, team_slug = EXCLUDED.team_slug, updated_at = now()
WHERE (t.user_login, t.team_slug) IS DISTINCT FROM (EXCLUDED.user_login, EXCLUDED.team_slug)`

func saveCopilotUserTeams(ctx context.Context, tx pgx.Tx, k copilotDayKey, teams []CopilotUserTeam, w *CopilotWrite) ([]copilotRaw, error) {
	var (
		userIDs, teamIDs []int64
		logins, slugs    []string
		raws             []copilotRaw
		seen             = map[[2]int64]bool{}
	)
	for _, t := range teams {
		key := [2]int64{t.UserID, t.TeamID}
		if seen[key] {
			w.Duplicates++
			continue
		}
		seen[key] = true
		userIDs = append(userIDs, t.UserID)
		teamIDs = append(teamIDs, t.TeamID)
		logins = append(logins, t.UserLogin)
		slugs = append(slugs, t.TeamSlug)
		raws = append(raws, copilotRaw{key: strconv.FormatInt(t.UserID, 10) + ":" + strconv.FormatInt(t.TeamID, 10), payload: t.Raw})
	}
	tag, err := tx.Exec(ctx, sqlCopilotUserTeamsDelete, k.enterpriseID, k.scopeType, k.scope, k.day, userIDs, teamIDs)
	if err != nil {
		return nil, fmt.Errorf("user teams: %w", err)
	}
	w.Changed += tag.RowsAffected()
	if len(userIDs) > 0 {
		tag, err = tx.Exec(ctx, sqlCopilotUserTeams, k.enterpriseID, k.scopeType, k.scope, k.day, userIDs, teamIDs, logins, slugs)
		if err != nil {
			return nil, fmt.Errorf("user teams: %w", err)
		}
		w.Changed += tag.RowsAffected()
	}
	w.Rows += int64(len(userIDs))
	return raws, nil
}

const sqlCopilotRawDelete = `
DELETE FROM copilot_raw_records
WHERE enterprise_id = $1 AND scope_type = $2 AND scope = $3 AND report = $4 AND day = $5
  AND record_key <> ALL($6::text[])`

// jsonb compares by value, so a record that comes back with its keys in another order
// is not rewritten.
const sqlCopilotRaw = `
INSERT INTO copilot_raw_records AS r (enterprise_id, scope_type, scope, report, day, record_key, payload, updated_at)
SELECT $1::text, $2::text, $3::text, $4::text, $5::date, u.record_key, u.payload::jsonb, now()
FROM unnest($6::text[], $7::text[]) AS u(record_key, payload)
ON CONFLICT (enterprise_id, scope_type, scope, report, day, record_key) DO UPDATE SET
    payload = EXCLUDED.payload, updated_at = now()
WHERE r.payload IS DISTINCT FROM EXCLUDED.payload`

// saveCopilotRaw upserts raw records; replaceDay also deletes the day's other raw
// records of the report.
func saveCopilotRaw(ctx context.Context, tx pgx.Tx, k copilotDayKey, report string, raws []copilotRaw, replaceDay bool, w *CopilotWrite) error {
	keys := make([]string, 0, len(raws))
	payloads := make([]string, 0, len(raws))
	for _, r := range raws {
		if !json.Valid(r.payload) {
			return fmt.Errorf("raw record %q is not valid JSON", r.key)
		}
		keys = append(keys, r.key)
		payloads = append(payloads, string(r.payload))
	}
	if replaceDay {
		tag, err := tx.Exec(ctx, sqlCopilotRawDelete, k.enterpriseID, k.scopeType, k.scope, report, k.day, keys)
		if err != nil {
			return fmt.Errorf("raw records: %w", err)
		}
		w.Changed += tag.RowsAffected()
	}
	if len(keys) == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, sqlCopilotRaw, k.enterpriseID, k.scopeType, k.scope, report, k.day, keys, payloads)
	if err != nil {
		return fmt.Errorf("raw records: %w", err)
	}
	w.Changed += tag.RowsAffected()
	return nil
}

// CopilotSeatSnapshot is the seat listing of one scope on one date, already
// de-duplicated (metrics.DedupeSeats), with its figures (metrics.SeatCounts).
type CopilotSeatSnapshot struct {
	EnterpriseID string
	Scope        metrics.CopilotScope
	Date         time.Time // UTC midnight of the day the listing was read
	Seats        []metrics.CopilotSeat
	Total        int64 // seats after de-duplication
	Active30d    int64
	Listed       int64 // seats as listed, repeats included
	GitHubTotal  int64 // GitHub's total_seats
}

const sqlHasCopilotSeatSnapshot = `
SELECT EXISTS (SELECT 1 FROM copilot_seat_snapshots
               WHERE enterprise_id = $1 AND scope_type = $2 AND scope = $3 AND snapshot_date = $4)`

// HasCopilotSeatSnapshot reports whether the scope's seats were taken on date.
func (s *Store) HasCopilotSeatSnapshot(ctx context.Context, enterpriseID string, scope metrics.CopilotScope, date time.Time) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, sqlHasCopilotSeatSnapshot, enterpriseID, scope.Type, scope.Name, date).Scan(&ok); err != nil {
		return false, classify(fmt.Errorf("copilot seat snapshot of %s %s: %w", scope.Type, scope.Name, err))
	}
	return ok, nil
}

const sqlCopilotSeatsDelete = `
DELETE FROM copilot_seats
WHERE enterprise_id = $1 AND scope_type = $2 AND scope = $3 AND snapshot_date = $4 AND seat_key <> ALL($5::text[])`

const sqlCopilotSeats = `
INSERT INTO copilot_seats AS s (enterprise_id, scope_type, scope, snapshot_date, seat_key,
    assignee_id, assignee_login, assignee_type, organization, assigning_team, plan_type,
    created_at, pending_cancellation, last_activity_at, last_activity_editor, last_authenticated_at, seat_updated_at)
SELECT $1::text, $2::text, $3::text, $4::date, u.*
FROM unnest($5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
            $12::timestamptz[], $13::date[], $14::timestamptz[], $15::text[], $16::timestamptz[], $17::timestamptz[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, snapshot_date, seat_key) DO UPDATE SET
    assignee_id = EXCLUDED.assignee_id, assignee_login = EXCLUDED.assignee_login, assignee_type = EXCLUDED.assignee_type,
    organization = EXCLUDED.organization, assigning_team = EXCLUDED.assigning_team, plan_type = EXCLUDED.plan_type,
    created_at = EXCLUDED.created_at, pending_cancellation = EXCLUDED.pending_cancellation,
    last_activity_at = EXCLUDED.last_activity_at, last_activity_editor = EXCLUDED.last_activity_editor,
    last_authenticated_at = EXCLUDED.last_authenticated_at, seat_updated_at = EXCLUDED.seat_updated_at
WHERE (s.assignee_id, s.assignee_login, s.assignee_type, s.organization, s.assigning_team, s.plan_type,
       s.created_at, s.pending_cancellation, s.last_activity_at, s.last_activity_editor, s.last_authenticated_at, s.seat_updated_at)
      IS DISTINCT FROM
      (EXCLUDED.assignee_id, EXCLUDED.assignee_login, EXCLUDED.assignee_type, EXCLUDED.organization,
       EXCLUDED.assigning_team, EXCLUDED.plan_type, EXCLUDED.created_at, EXCLUDED.pending_cancellation,
       EXCLUDED.last_activity_at, EXCLUDED.last_activity_editor, EXCLUDED.last_authenticated_at, EXCLUDED.seat_updated_at)`

const sqlCopilotSeatSnapshot = `
INSERT INTO copilot_seat_snapshots AS s (enterprise_id, scope_type, scope, snapshot_date,
    seats_total, seats_active_30d, seats_listed, github_total_seats, taken_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (enterprise_id, scope_type, scope, snapshot_date) DO UPDATE SET
    seats_total = EXCLUDED.seats_total, seats_active_30d = EXCLUDED.seats_active_30d,
    seats_listed = EXCLUDED.seats_listed, github_total_seats = EXCLUDED.github_total_seats, taken_at = now()
WHERE (s.seats_total, s.seats_active_30d, s.seats_listed, s.github_total_seats)
      IS DISTINCT FROM (EXCLUDED.seats_total, EXCLUDED.seats_active_30d, EXCLUDED.seats_listed, EXCLUDED.github_total_seats)`

// The daily row of the snapshot's date (if its report is already stored) takes the figures.
const sqlCopilotDailySeats = `
UPDATE copilot_daily_metrics d SET seats_total = $5, seats_active_30d = $6, updated_at = now()
WHERE d.enterprise_id = $1 AND d.scope_type = $2 AND d.scope = $3 AND d.day = $4
  AND (d.seats_total, d.seats_active_30d) IS DISTINCT FROM ($5::bigint, $6::bigint)`

// SaveCopilotSeats stores a seat snapshot in one transaction, replacing an earlier
// snapshot of the same scope and date (seats gone from the listing are removed), and
// copies its figures to the daily metrics row of that date.
func (s *Store) SaveCopilotSeats(ctx context.Context, snap CopilotSeatSnapshot) (CopilotWrite, error) {
	sc := snap.Scope
	if snap.EnterpriseID == "" || sc.Name == "" || (sc.Type != metrics.ScopeEnterprise && sc.Type != metrics.ScopeOrganization) {
		return CopilotWrite{}, fmt.Errorf("save copilot seats: enterprise %q, scope %q %q: all are required", snap.EnterpriseID, sc.Type, sc.Name)
	}
	if !snap.Date.Equal(snap.Date.UTC().Truncate(24 * time.Hour)) {
		return CopilotWrite{}, fmt.Errorf("save copilot seats: date %s is not a UTC midnight", snap.Date)
	}
	c := seatColumns(snap.Seats)
	var w CopilotWrite
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		w = CopilotWrite{Duplicates: c.duplicates}
		tag, err := tx.Exec(ctx, sqlCopilotSeatsDelete, snap.EnterpriseID, sc.Type, sc.Name, snap.Date, c.key)
		if err != nil {
			return fmt.Errorf("seats: %w", err)
		}
		w.Changed += tag.RowsAffected()
		if len(c.key) > 0 {
			tag, err = tx.Exec(ctx, sqlCopilotSeats, snap.EnterpriseID, sc.Type, sc.Name, snap.Date, c.key,
				c.assigneeID, c.login, c.assigneeType, c.organization, c.team, c.plan,
				c.createdAt, c.pendingCancel, c.lastActivity, c.editor, c.lastAuth, c.updatedAt)
			if err != nil {
				return fmt.Errorf("seats: %w", err)
			}
			w.Changed += tag.RowsAffected()
		}
		w.Rows = int64(len(c.key))
		tag, err = tx.Exec(ctx, sqlCopilotSeatSnapshot, snap.EnterpriseID, sc.Type, sc.Name, snap.Date,
			snap.Total, snap.Active30d, snap.Listed, snap.GitHubTotal)
		if err != nil {
			return fmt.Errorf("seat snapshot: %w", err)
		}
		w.Changed += tag.RowsAffected()
		tag, err = tx.Exec(ctx, sqlCopilotDailySeats, snap.EnterpriseID, sc.Type, sc.Name, snap.Date, snap.Total, snap.Active30d)
		if err != nil {
			return fmt.Errorf("daily seat figures: %w", err)
		}
		w.Changed += tag.RowsAffected()
		return nil
	})
	if err != nil {
		return CopilotWrite{}, classify(fmt.Errorf("save copilot seats of %s %s for %s: %w", sc.Type, sc.Name, snap.Date.Format(time.DateOnly), err))
	}
	return w, nil
}

type seatCols struct {
	key, login, assigneeType, organization, team, plan, editor []*string
	assigneeID                                                 []*int64
	createdAt, lastActivity, lastAuth, updatedAt               []*time.Time
	pendingCancel                                              []*time.Time
	duplicates                                                 int
}

// seatColumns keys the seats (assignee id; "unassigned:<n>" in listing order for a null
// assignee) and turns them into columns. A repeated assignee keeps its first seat.
func seatColumns(seats []metrics.CopilotSeat) seatCols {
	c := seatCols{key: []*string{}} // never nil: an empty listing removes every stored seat
	seen := map[int64]bool{}
	unassigned := 0
	str := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	for _, s := range seats {
		var key string
		var id *int64
		if s.AssigneeID == 0 {
			unassigned++
			key = "unassigned:" + strconv.Itoa(unassigned)
		} else {
			if seen[s.AssigneeID] {
				c.duplicates++
				continue
			}
			seen[s.AssigneeID] = true
			key = strconv.FormatInt(s.AssigneeID, 10)
			v := s.AssigneeID
			id = &v
		}
		var created *time.Time
		if !s.CreatedAt.IsZero() {
			t := s.CreatedAt
			created = &t
		}
		c.key = append(c.key, &key)
		c.assigneeID = append(c.assigneeID, id)
		c.login = append(c.login, str(s.AssigneeLogin))
		c.assigneeType = append(c.assigneeType, str(s.AssigneeType))
		c.organization = append(c.organization, str(s.Organization))
		c.team = append(c.team, str(s.AssigningTeam))
		c.plan = append(c.plan, str(s.PlanType))
		c.createdAt = append(c.createdAt, created)
		c.pendingCancel = append(c.pendingCancel, s.PendingCancellation)
		c.lastActivity = append(c.lastActivity, s.LastActivityAt)
		c.editor = append(c.editor, str(s.LastActivityEditor))
		c.lastAuth = append(c.lastAuth, s.LastAuthenticatedAt)
		c.updatedAt = append(c.updatedAt, s.UpdatedAt)
	}
	return c
}
