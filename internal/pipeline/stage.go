// Package pipeline holds the stages as use cases (collect, calculate, export, upload)
// and the orchestrator that runs them in order. Stages consume small interfaces; the
// server decodes requests, holds the per-stage lock and writes the audit row.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"metrics-collector/internal/config"
)

// Stage names: the routes /api/<name> and the function folders.
const (
	StageCollectCopilot    = "collect_copilot"
	StageCollectRepos      = "collect_repos"
	StageCalculateCopilot  = "calculate_copilot"
	StageCalculateDORA     = "calculate_dora"
	StageCalculateVelocity = "calculate_velocity"
	StageExportCSV         = "export_csv"
	StageUploadSharePoint  = "upload_sharepoint"
)

// Stage statuses (DESIGN §2.1), plus skipped for a stage with nothing configured.
const (
	StatusSucceeded = "succeeded"
	StatusPartial   = "partial"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// Request is one validated stage call.
type Request struct {
	RunID      int64
	Enterprise *config.Enterprise // nil for stages that work on all enterprises at once
	Since      *time.Time         // UTC midnight; nil when not given
	Until      *time.Time         // UTC midnight, inclusive; nil when not given
	Cursor     string             // "" on the first call
	Shard      int                // 0-based; collect_repos only
	Shards     int                // >= 1
	// Kinds are the file kinds to export (export_csv only); empty means every kind.
	Kinds []string
	// Deadline is when the stage must have committed its work and returned; the server
	// sets it from budget_seconds. Stages check it between units of work and answer
	// Done=false with a cursor when it is near.
	Deadline time.Time
	Now      time.Time // the server's clock at the start of the call (UTC)
}

// Result is what a stage reports; the server adds run id, stage and duration.
type Result struct {
	Status   string
	Done     bool
	Cursor   string // required when Done is false
	Records  int64
	Counters Counters
	Warnings []string
	// Error is a short reason for a partial or failed status (recorded on the audit row).
	Error string
}

// Counters are the GitHub client's figures for one call.
type Counters struct {
	Requests     int64 // requests sent (attempts included)
	NotModified  int64 // answered 304 (free)
	Retries      int64
	Waits        int64 // rate-limit or backoff waits
	RateLimitLow *int  // lowest x-ratelimit-remaining seen; nil if none seen
	RateLimit    int   // the x-ratelimit-limit seen; 0 if none seen
	// GraphQLRequests of Requests were GraphQL queries, which cost GraphQLPoints of the
	// separate GraphQL budget (repo_api graphql; decision 0006).
	GraphQLRequests int64
	GraphQLPoints   int64
	// GraphQLRemainingLow is the GraphQL budget's lowest remaining points seen (nil if
	// none), GraphQLLimit its limit (0 if none seen).
	GraphQLRemainingLow *int
	GraphQLLimit        int
}

// Stage is one step of the daily job.
type Stage interface {
	// Name is the route and function name, e.g. "collect_repos".
	Name() string
	// PerEnterprise is true when the request must name an enterprise (the orchestrator
	// calls it once per enterprise); false when one call covers all enterprises.
	PerEnterprise() bool
	// Validate checks stage-specific input (dates against API history, cursor format)
	// before anything is written. It returns an *InputError naming the field.
	Validate(req Request) error
	// Run does the work, committing as it goes, and returns before req.Deadline.
	Run(ctx context.Context, req Request) (Result, error)
}

// InputError is a bad request: the server answers 400 with it, naming the field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// BadInput builds an *InputError.
func BadInput(field, format string, args ...any) error {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrUnavailable marks a dependency that is down (GitHub unreachable after retries,
// Graph down): the server answers 503 with Retry-After, the orchestrator retries.
// Wrap it: fmt.Errorf("github: %w", pipeline.ErrUnavailable).
var ErrUnavailable = errors.New("dependency unavailable")

// ErrPermanent marks a failure that retrying cannot fix (a refused token, a missing
// permission): the orchestrator does not retry it.
var ErrPermanent = errors.New("permanent failure")
