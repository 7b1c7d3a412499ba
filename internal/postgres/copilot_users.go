package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// A users-1-day report can hold tens of thousands of users. collect_copilot writes it
// in batches as its shards are read (SaveCopilotUserBatch: typed rows and raw records
// upserted, nothing deleted), then ends it with SaveCopilotReport{UsersWritten: true,
// UserIDs: …}, which in one transaction deletes the day's users (and raw records) the
// report no longer holds and writes the fetch record and the watermark. A call that
// stops between batches leaves upserted rows of genuine report data behind and no
// watermark, so the next call fetches the day again; every write is idempotent.

// SaveCopilotUserBatch upserts one batch of a users-1-day report of scope for day, in
// one transaction. Within the batch the first record of a user is kept.
func (s *Store) SaveCopilotUserBatch(ctx context.Context, enterpriseID string, scope metrics.CopilotScope, day time.Time, users []metrics.CopilotUserDay) (CopilotWrite, error) {
	r := CopilotReportDay{EnterpriseID: enterpriseID, Scope: scope, Report: CopilotReportUsers, Day: day}
	if err := checkCopilotReport(r); err != nil {
		return CopilotWrite{}, err
	}
	op := fmt.Sprintf("save copilot users batch of %s %s for %s", scope.Type, scope.Name, day.Format(time.DateOnly))
	var w CopilotWrite
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		w = CopilotWrite{}
		k := copilotDayKey{enterpriseID, scope.Type, scope.Name, day}
		raws, err := saveCopilotUsers(ctx, tx, k, users, false, &w)
		if err != nil {
			return err
		}
		return saveCopilotRaw(ctx, tx, k, CopilotReportUsers, raws, false, &w)
	})
	if err != nil {
		return CopilotWrite{}, classify(fmt.Errorf("%s: %w", op, err))
	}
	return w, nil
}

// endCopilotUserBatches deletes the day's users and raw user records that are not in
// ids (the users the report held).
func endCopilotUserBatches(ctx context.Context, tx pgx.Tx, k copilotDayKey, ids []int64, w *CopilotWrite) error {
	if ids == nil {
		ids = []int64{} // <> ALL('{}') is true: an empty report empties the day
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = strconv.FormatInt(id, 10)
	}
	tag, err := tx.Exec(ctx, sqlCopilotUsersDelete, k.enterpriseID, k.scopeType, k.scope, k.day, ids)
	if err != nil {
		return fmt.Errorf("user metrics: %w", err)
	}
	w.Changed += tag.RowsAffected()
	tag, err = tx.Exec(ctx, sqlCopilotRawDelete, k.enterpriseID, k.scopeType, k.scope, CopilotReportUsers, k.day, keys)
	if err != nil {
		return fmt.Errorf("raw records: %w", err)
	}
	w.Changed += tag.RowsAffected()
	return nil
}

// errNoUsersWritten guards SaveCopilotReport's batched form from being used for
// another report.
var errNoUsersWritten = errors.New("save copilot report: UsersWritten applies to the users report only")
