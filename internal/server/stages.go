package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/logging"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/telemetry"
)

// stageBody is the request of DESIGN §2.1. Pointers tell "absent" from "zero".
type stageBody struct {
	Enterprise    *string `json:"enterprise"`
	RunID         *int64  `json:"run_id"`
	Since         *string `json:"since"`
	Until         *string `json:"until"`
	Cursor        *string `json:"cursor"`
	BudgetSeconds *int    `json:"budget_seconds"`
	Shard         *int    `json:"shard"`
	Shards        *int    `json:"shards"`
	// Kinds are the file kinds export_csv writes (issue 14); absent: every kind.
	Kinds *[]string `json:"kinds"`
}

// stageResponse is the answer of DESIGN §2.1, plus the counters of the audit row.
type stageResponse struct {
	RunID        int64   `json:"run_id"`
	Stage        string  `json:"stage"`
	Enterprise   *string `json:"enterprise"`
	Shard        int     `json:"shard"`
	Status       string  `json:"status"`
	Done         bool    `json:"done"`
	Cursor       *string `json:"cursor"`
	Records      int64   `json:"records"`
	APICalls     int64   `json:"api_calls"`
	NotModified  int64   `json:"not_modified"`
	Retries      int64   `json:"retries"`
	RateLimitLow *int    `json:"rate_limit_low"`
	// GraphQLRequests of APICalls were GraphQL queries, costing GraphQLPoints.
	GraphQLRequests int64 `json:"graphql_requests"`
	GraphQLPoints   int64 `json:"graphql_points"`
	// GraphQLRateLimitLow is the GraphQL budget's lowest remaining points seen.
	GraphQLRateLimitLow *int     `json:"graphql_rate_limit_low"`
	DurationMS          int64    `json:"duration_ms"`
	Warnings            []string `json:"warnings"`
	Error               string   `json:"error,omitempty"`
}

const (
	maxBodyBytes  = 64 << 10
	maxCursorLen  = 8 << 10
	maxShards     = 64
	minBudget     = 5
	stageGrace    = 25 * time.Second // hard stop after the budget, under the 230 s HTTP limit
	shardedStages = pipeline.StageCollectRepos
)

func (s *Server) runStage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("stage")
	stage, ok := s.stages[name]
	if !ok {
		if name == "runs" {
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "runs is read-only; use GET"})
			return
		}
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no stage %q", name)})
		return
	}
	start := s.opts.Now()

	body, err := decodeStageBody(r)
	if err != nil {
		s.writeError(ctx, w, err, 0)
		return
	}
	req, err := s.stageRequest(stage, body, start)
	if err != nil {
		s.writeError(ctx, w, err, 0)
		return
	}
	if err := stage.Validate(req); err != nil {
		s.writeError(ctx, w, err, 0)
		return
	}

	// Everything below touches the database, and every wait for it ends with the call:
	// the hard stop is on the wall clock (the service clock may be a test's fixed one),
	// the budget plus a grace, still under the 230 s HTTP limit.
	callCtx, cancel := context.WithTimeout(ctx, req.Deadline.Sub(start)+stageGrace)
	defer cancel()
	fail := func(err error, runID int64) {
		s.writeError(ctx, w, boundedWait(ctx, callCtx, err), runID)
	}
	if err := s.opts.Store.Ready(callCtx); err != nil {
		fail(err, 0)
		return
	}
	if body.RunID != nil {
		if _, err := s.opts.Store.GetRun(callCtx, *body.RunID); err != nil {
			if errors.Is(err, postgres.ErrNotFound) {
				err = fmt.Errorf("run_id: no run %d: %w", *body.RunID, errUnknownRun)
			}
			fail(err, 0)
			return
		}
	}
	enterpriseID := ""
	if req.Enterprise != nil {
		enterpriseID = req.Enterprise.ID
	}
	// The lock's session is not one of the working pool's, and the audit writes up to
	// the stage run in it: a call holding its lock never waits for a working connection
	// before its stage runs (issue 15).
	lock, err := s.opts.Store.TryLock(callCtx, fmt.Sprintf("stage:%s:%s:%d", name, enterpriseID, req.Shard))
	if err != nil {
		if errors.Is(err, postgres.ErrConflict) {
			err = fmt.Errorf("%s is already running for %s: %w", name, describeScope(enterpriseID, req.Shard, req.Shards), postgres.ErrConflict)
		}
		fail(err, 0)
		return
	}
	defer lock.Release()
	// The stage stops when the lock is lost: another call may hold it by then.
	runCtx, stopGuard := lock.Guard(callCtx)
	defer stopGuard()

	manual := body.RunID == nil
	if manual {
		run, err := lock.ManualRun(runCtx, start.Truncate(24*time.Hour))
		if err != nil {
			fail(err, 0)
			return
		}
		req.RunID = run.ID
	}
	if err := lock.MarkInterruptedCalls(runCtx, name, enterpriseID, req.Shard); err != nil {
		fail(err, req.RunID)
		return
	}
	call, err := lock.StartStageCall(runCtx, postgres.StageCall{
		RunID: req.RunID, Stage: name, EnterpriseID: enterpriseID, Shard: req.Shard,
		InvocationID: logging.InvocationID(ctx), CursorIn: req.Cursor,
	})
	if err != nil {
		fail(err, req.RunID)
		return
	}

	res, runErr := s.safeRun(runCtx, stage, req)
	if lost := lock.Err(); errors.Is(lost, postgres.ErrLockLost) {
		// Whatever the stage answered, another call may have run beside it since: the
		// call fails retryably and the next one starts from this call's cursor.
		s.log.WarnContext(ctx, "stage lock lost; the call stops", "stage", name, "enterprise", enterpriseID,
			"shard", req.Shard, "error", lost.Error())
		runErr = lost
	}
	duration := s.opts.Now().Sub(start)

	call.DurationMS = duration.Milliseconds()
	call.Records, call.APICalls = res.Records, res.Counters.Requests
	call.NotModified, call.Retries, call.Waits = res.Counters.NotModified, res.Counters.Retries, res.Counters.Waits
	call.RateLimitLow = res.Counters.RateLimitLow
	call.GraphQLRequests, call.GraphQLPoints = res.Counters.GraphQLRequests, res.Counters.GraphQLPoints
	call.GraphQLRateLimitLow = res.Counters.GraphQLRemainingLow
	call.Warnings = redactAll(s.opts.Redact, res.Warnings)
	call.Status, call.Done, call.CursorOut = res.Status, res.Done, res.Cursor
	call.Error = s.opts.Redact(res.Error)

	var input *pipeline.InputError
	switch {
	case runErr == nil:
		if call.Status == "" {
			call.Status = pipeline.StatusSucceeded
		}
		if !call.Done && call.CursorOut == "" {
			runErr = fmt.Errorf("%s answered done=false without a cursor", name)
			call.Status = pipeline.StatusFailed
		}
	case errors.As(runErr, &input):
		// A late validation failure; the stage wrote nothing.
		call.Status, call.Done, call.Error = pipeline.StatusFailed, true, s.opts.Redact(runErr.Error())
	case errors.Is(runErr, pipeline.ErrPermanent):
		// Retrying cannot help (e.g. a refused token): answer 200 with status failed,
		// so the orchestrator records the reason and moves on.
		call.Status, call.Done, call.Error = pipeline.StatusFailed, true, s.opts.Redact(runErr.Error())
		runErr = nil
	default:
		call.Status, call.Done, call.Error = pipeline.StatusFailed, false, s.opts.Redact(runErr.Error())
		call.CursorOut = req.Cursor // the next call starts where this one did
	}
	// The audit row is finished on the working pool, so it is written even when the
	// lock was lost (FinishStageCall bounds its own wait).
	if err := s.opts.Store.FinishStageCall(ctx, call); err != nil {
		s.log.ErrorContext(ctx, "writing audit row", "stage", name, "error", err)
	}
	if manual {
		s.finishManualRun(ctx, req.RunID, call)
	}
	s.stageTelemetry(call, res.Counters)
	s.log.InfoContext(ctx, "stage call finished", "stage", name, "enterprise", enterpriseID, "shard", req.Shard,
		"run_id", req.RunID, "status", call.Status, "done", call.Done, "records", call.Records,
		"api_calls", call.APICalls, "duration_ms", call.DurationMS)

	if runErr != nil {
		s.writeError(ctx, w, runErr, req.RunID)
		return
	}
	resp := stageResponse{
		RunID: req.RunID, Stage: name, Shard: req.Shard, Status: call.Status, Done: call.Done,
		Records: call.Records, APICalls: call.APICalls, NotModified: call.NotModified, Retries: call.Retries,
		RateLimitLow: call.RateLimitLow, GraphQLRequests: call.GraphQLRequests, GraphQLPoints: call.GraphQLPoints,
		GraphQLRateLimitLow: call.GraphQLRateLimitLow, DurationMS: call.DurationMS, Warnings: call.Warnings, Error: call.Error,
	}
	if enterpriseID != "" {
		resp.Enterprise = &enterpriseID
	}
	if !call.Done {
		resp.Cursor = &call.CursorOut
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// safeRun turns a panicking stage into an error, so its audit row and lock are settled
// like any other failure.
func (s *Server) safeRun(ctx context.Context, stage pipeline.Stage, req pipeline.Request) (res pipeline.Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "stage panicked", "stage", stage.Name(),
				"panic", s.opts.Redact(fmt.Sprint(v)), "stack", s.opts.Redact(string(debug.Stack())))
			res, err = pipeline.Result{}, fmt.Errorf("%s panicked: %v", stage.Name(), v)
		}
	}()
	return stage.Run(ctx, req)
}

func (s *Server) finishManualRun(ctx context.Context, runID int64, call postgres.StageCall) {
	status := call.Status
	var warnings []string
	if status == pipeline.StatusSkipped {
		status = pipeline.StatusSucceeded
	}
	if !call.Done {
		status = pipeline.StatusPartial
		warnings = append(warnings, "stage not done; call again with the returned cursor and run_id")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.opts.Store.FinishRun(ctx, runID, status, call.Error, append(warnings, call.Warnings...)); err != nil {
		s.log.ErrorContext(ctx, "finishing manual run", "run_id", runID, "error", err)
	}
}

func (s *Server) stageTelemetry(call postgres.StageCall, counters pipeline.Counters) {
	props := map[string]string{
		"run_id": fmt.Sprint(call.RunID), "stage": call.Stage, "enterprise": call.EnterpriseID,
		"shard": fmt.Sprint(call.Shard), "status": call.Status, "done": fmt.Sprint(call.Done), "error": call.Error,
	}
	m := map[string]float64{
		"duration_ms": float64(call.DurationMS), "records": float64(call.Records), "api_calls": float64(call.APICalls),
		"not_modified": float64(call.NotModified), "retries": float64(call.Retries), "waits": float64(call.Waits),
		"graphql_requests": float64(call.GraphQLRequests), "graphql_points": float64(call.GraphQLPoints),
	}
	if call.RateLimitLow != nil {
		m["rate_limit_low"] = float64(*call.RateLimitLow)
	}
	if call.GraphQLRateLimitLow != nil {
		m["graphql_rate_limit_low"] = float64(*call.GraphQLRateLimitLow)
	}
	// Each budget's use, told apart by the resource dimension (GitHub's
	// x-ratelimit-resource): the REST one ("core") and the GraphQL one, in points.
	s.rateLimitMetrics(call.EnterpriseID, "core", call.RateLimitLow, counters.RateLimit)
	s.rateLimitMetrics(call.EnterpriseID, "graphql", call.GraphQLRateLimitLow, counters.GraphQLLimit)
	s.opts.Telemetry.Event("StageFinished", props, m)
	s.opts.Telemetry.Metric("stage_duration_ms", float64(call.DurationMS), map[string]string{
		"stage": call.Stage, "enterprise": call.EnterpriseID, "status": call.Status,
	})
}

// rateLimitMetrics sends a budget's lowest remaining figure of the call and, with its
// limit known, the share used.
func (s *Server) rateLimitMetrics(enterpriseID, resource string, low *int, limit int) {
	if low == nil {
		return
	}
	dims := map[string]string{"enterprise": enterpriseID, "resource": resource}
	s.opts.Telemetry.Metric(telemetry.MetricRateLimitRemaining, float64(*low), dims)
	if limit > 0 {
		s.opts.Telemetry.Metric(telemetry.MetricRateLimitUsedPct, 100*float64(limit-*low)/float64(limit), dims)
	}
}

// decodeStageBody reads the JSON body strictly: unknown fields and wrong types are
// reported by name. An empty body means "all defaults".
func decodeStageBody(r *http.Request) (stageBody, error) {
	var b stageBody
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return b, pipeline.BadInput("body", "cannot be read: %v", err)
	}
	if len(raw) > maxBodyBytes {
		return b, pipeline.BadInput("body", "larger than %d bytes", maxBodyBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, jsonInputError(err)
	}
	if dec.More() {
		return b, pipeline.BadInput("body", "must hold one JSON object")
	}
	return b, nil
}

func jsonInputError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return pipeline.BadInput("body", "must be a JSON object")
		}
		return pipeline.BadInput(field, "must be %s, not a JSON %s", expectedKind(field), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return pipeline.BadInput("body", "is not valid JSON (offset %d)", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return pipeline.BadInput(field, "is not a known field; known: enterprise, run_id, since, until, cursor, budget_seconds, shard, shards, kinds")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return pipeline.BadInput("body", "is truncated JSON")
	}
	return pipeline.BadInput("body", "is not a valid request: %v", err)
}

func expectedKind(field string) string {
	switch field {
	case "run_id", "budget_seconds", "shard", "shards":
		return "a whole number"
	case "kinds":
		return "an array of file kinds (strings)"
	}
	return "a string"
}

// stageRequest validates the common fields (DESIGN §2.1) and builds the request.
func (s *Server) stageRequest(stage pipeline.Stage, b stageBody, now time.Time) (pipeline.Request, error) {
	req := pipeline.Request{Shards: 1, Now: now}
	cfg := s.opts.Config

	switch {
	case stage.PerEnterprise() && b.Enterprise == nil:
		return req, pipeline.BadInput("enterprise", "required for %s; one of %s", stage.Name(), strings.Join(enterpriseIDs(cfg), ", "))
	case !stage.PerEnterprise() && b.Enterprise != nil:
		return req, pipeline.BadInput("enterprise", "%s covers every enterprise at once; leave it out", stage.Name())
	case b.Enterprise != nil:
		e, ok := cfg.Enterprise(*b.Enterprise)
		if !ok {
			return req, fmt.Errorf("enterprise: %q is not configured (configured: %s): %w", *b.Enterprise, strings.Join(enterpriseIDs(cfg), ", "), errUnknownEnterprise)
		}
		req.Enterprise = &e
	}
	if b.RunID != nil && *b.RunID <= 0 {
		return req, pipeline.BadInput("run_id", "must be a positive run id")
	}
	if b.RunID != nil {
		req.RunID = *b.RunID
	}
	today := now.Truncate(24 * time.Hour)
	var err error
	if req.Since, err = parseDate("since", b.Since, today); err != nil {
		return req, err
	}
	if req.Until, err = parseDate("until", b.Until, today); err != nil {
		return req, err
	}
	if req.Since != nil && req.Until != nil && req.Since.After(*req.Until) {
		return req, pipeline.BadInput("since", "%s is after until %s", req.Since.Format(time.DateOnly), req.Until.Format(time.DateOnly))
	}
	if b.Cursor != nil {
		if len(*b.Cursor) > maxCursorLen {
			return req, pipeline.BadInput("cursor", "longer than %d characters; pass the cursor a previous call returned", maxCursorLen)
		}
		req.Cursor = *b.Cursor
	}
	budget := cfg.StageBudget
	if budget == 0 {
		budget = config.DefaultStageBudget
	}
	if b.BudgetSeconds != nil {
		maxBudget := int(config.MaxStageBudget.Seconds())
		if *b.BudgetSeconds < minBudget || *b.BudgetSeconds > maxBudget {
			return req, pipeline.BadInput("budget_seconds", "%d must be between %d and %d (a call must answer within 230 s)", *b.BudgetSeconds, minBudget, maxBudget)
		}
		budget = time.Duration(*b.BudgetSeconds) * time.Second
	}
	req.Deadline = now.Add(budget)

	if b.Shards != nil {
		if *b.Shards < 1 || *b.Shards > maxShards {
			return req, pipeline.BadInput("shards", "%d must be between 1 and %d", *b.Shards, maxShards)
		}
		req.Shards = *b.Shards
	}
	if b.Shard != nil {
		if b.Shards == nil {
			return req, pipeline.BadInput("shard", "needs shards (the number of slices) too")
		}
		if *b.Shard < 0 || *b.Shard >= req.Shards {
			return req, pipeline.BadInput("shard", "%d must be between 0 and shards-1 (%d)", *b.Shard, req.Shards-1)
		}
		req.Shard = *b.Shard
	}
	if req.Shards > 1 && stage.Name() != shardedStages {
		return req, pipeline.BadInput("shards", "only %s can be split into shards", shardedStages)
	}
	if b.Kinds != nil {
		if stage.Name() != pipeline.StageExportCSV {
			return req, pipeline.BadInput("kinds", "only %s takes kinds (the file kinds to export)", pipeline.StageExportCSV)
		}
		if len(*b.Kinds) == 0 {
			return req, pipeline.BadInput("kinds", "is empty; list file kinds, or leave it out to export every kind")
		}
		req.Kinds = *b.Kinds
	}
	return req, nil
}

func parseDate(field string, v *string, today time.Time) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	d, err := time.Parse(time.DateOnly, *v)
	if err != nil {
		return nil, pipeline.BadInput(field, "%q is not a date; use YYYY-MM-DD", *v)
	}
	if d.After(today) {
		return nil, pipeline.BadInput(field, "%s is in the future (today is %s UTC)", *v, today.Format(time.DateOnly))
	}
	return &d, nil
}

func enterpriseIDs(cfg config.Config) []string {
	ids := make([]string, 0, len(cfg.Enterprises))
	for _, e := range cfg.Enterprises {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

func describeScope(enterpriseID string, shard, shards int) string {
	scope := "all enterprises"
	if enterpriseID != "" {
		scope = "enterprise " + enterpriseID
	}
	if shards > 1 {
		scope += " shard " + strconv.Itoa(shard)
	}
	return scope
}

// boundedWait turns a database wait that ran into bounded's deadline, while the
// request itself goes on, into ErrUnavailable (503 + Retry-After): the database is too
// busy to serve this call in time.
func boundedWait(request, bounded context.Context, err error) error {
	if bounded.Err() != nil && request.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: no database connection before the call's deadline: %w", postgres.ErrUnavailable, err)
	}
	return err
}

func redactAll(redact func(string) string, in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = redact(s)
	}
	return out
}
