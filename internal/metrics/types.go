// Package metrics holds the domain types every other package speaks, and the pure
// calculators that turn them into weekly DORA, velocity and daily Copilot figures.
//
// Nothing here does I/O, reads a clock or logs: a metric bug must be reproducible in a
// table test. Adapters (internal/github, internal/postgres) convert their own
// representations to and from these types at their boundary.
package metrics

import (
	"encoding/json"
	"time"
)

// Scope types, as written to every metric row and CSV.
const (
	ScopeEnterprise   = "enterprise"
	ScopeOrganization = "organization"
	ScopeRepository   = "repository"
)

// Repository is one repository of a configured organization.
type Repository struct {
	ID            int64
	Org           string
	Name          string
	FullName      string // "org/name"
	DefaultBranch string
	Archived      bool
	Fork          bool
	Private       bool
	CreatedAt     time.Time
	PushedAt      time.Time
	UpdatedAt     time.Time
}

// Commit is a commit reachable from a repository's default branch (or listed by the
// compare API between two deployments).
type Commit struct {
	SHA             string
	AuthorLogin     string // GitHub login; empty when the e-mail is not linked to an account
	AuthorName      string
	AuthoredAt      time.Time
	CommitterLogin  string
	CommittedAt     time.Time
	MessageHeadline string // first line of the message
	ParentCount     int
	// Reverts are the commits its full message says it reverts ("This reverts commit
	// <sha>."), lower case, possibly abbreviated (RevertedSHAs). The collector extracts
	// them, since only the headline of the message is kept.
	Reverts []string
}

// PullRequest is a pull request with what the metrics need of its history.
type PullRequest struct {
	ID           int64
	RepoFullName string
	Number       int
	AuthorLogin  string
	// AuthorID is the author's GitHub user id; 0 when unknown (collected before
	// migration 0030). It matches authors to Copilot users and team members even after
	// a rename (Person).
	AuthorID       int64
	Title          string
	State          string // "open" or "closed"
	Draft          bool
	BaseRef        string
	HeadRef        string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ClosedAt       *time.Time
	MergedAt       *time.Time
	MergeCommitSHA string
	Additions      int
	Deletions      int
	ChangedFiles   int
	Labels         []string
	// RevertsNumber is the pull request of the same repository its description says it
	// reverts — GitHub's Revert button writes "Reverts owner/repo#N" — or 0
	// (RevertedPullNumber).
	RevertsNumber int

	// Commits are the PR's own commits (GET /pulls/{n}/commits), oldest first. Their
	// SHAs identify merge-commit merges; their authored time and headline identify
	// rebase merges (rebasing keeps both); the squash commit is MergeCommitSHA.
	Commits []Commit
	Reviews []Review
}

// Review is a submitted pull-request review.
type Review struct {
	ID            int64
	ReviewerLogin string
	State         string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	SubmittedAt   time.Time
}

// WorkflowRun is one GitHub Actions workflow run (latest attempt).
type WorkflowRun struct {
	ID           int64
	RepoFullName string
	WorkflowID   int64
	Name         string
	Path         string // ".github/workflows/deploy.yml"
	Event        string
	HeadBranch   string
	HeadSHA      string
	Status       string // queued, in_progress, completed, ...
	Conclusion   string // success, failure, cancelled, ... ("" while not completed)
	ActorLogin   string
	RunAttempt   int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RunStartedAt time.Time
}

// Completed reports whether the run has finished.
func (r WorkflowRun) Completed() bool { return r.Status == "completed" }

// Deployment signals, recorded with every deployment (DESIGN §5).
const (
	SignalDeployment = "deployment" // GitHub Deployments API
	SignalWorkflow   = "workflow"   // successful runs of configured deploy workflows
)

// Deployment is one deployment attempt to an environment, with its status history.
// For the workflow signal, ID is the workflow run id and Statuses is derived from the run.
type Deployment struct {
	ID           int64
	RepoFullName string
	Signal       string
	SHA          string
	Ref          string
	Environment  string
	Production   bool // environment matches the enterprise's production pattern
	CreatorLogin string
	CreatedAt    time.Time
	Statuses     []DeploymentStatus // oldest first

	// Changes are the commits this deployment brought: the compare between the
	// previous successful production deployment's SHA and this one. Only filled for
	// successful production deployments.
	Changes []Commit
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID        int64
	State     string // success, failure, error, inactive, in_progress, queued, pending
	CreatedAt time.Time
}

// Incident is an issue labelled as an incident.
type Incident struct {
	RepoFullName string
	Number       int
	Title        string
	AuthorLogin  string
	Labels       []string
	CreatedAt    time.Time
	ClosedAt     *time.Time
	// StateReason is GitHub's state_reason: "completed", "not_planned", "reopened",
	// "duplicate" or "" (none given). An incident closed as not planned (or as a
	// duplicate) was no incident and counts nowhere.
	StateReason string
}

// CopilotScope names what a Copilot report covers.
type CopilotScope struct {
	Type string // ScopeEnterprise or ScopeOrganization
	Name string // enterprise slug or org login
}

// CopilotDay is one day of an aggregate (enterprise-1-day / organization-1-day) report,
// already reduced to the figures we model. Raw keeps the record as GitHub sent it.
type CopilotDay struct {
	Day                       time.Time // UTC midnight
	DailyActiveUsers          *int64
	WeeklyActiveUsers         *int64
	MonthlyActiveUsers        *int64
	MonthlyActiveChatUsers    *int64
	MonthlyActiveAgentUsers   *int64
	UserInitiatedInteractions *int64
	CodeGenerations           *int64
	CodeAcceptances           *int64
	LOCSuggestedToAdd         *int64
	LOCSuggestedToDelete      *int64
	LOCAdded                  *int64
	LOCDeleted                *int64
	ChatModes                 CopilotChatModes
	PullRequests              CopilotPullRequests
	Breakdowns                []CopilotBreakdown
	Raw                       json.RawMessage
}

// CopilotPullRequests is the report's pull_requests object.
type CopilotPullRequests struct {
	TotalCreated            *int64
	TotalReviewed           *int64
	TotalMerged             *int64
	MedianMinutesToMerge    *float64
	TotalSuggestions        *int64
	TotalAppliedSuggestions *int64
	TotalCreatedByCopilot   *int64
	TotalReviewedByCopilot  *int64
	// Copilot code review's own suggestions (total_copilot_suggestions,
	// total_copilot_applied_suggestions); TotalSuggestions counts every reviewer's.
	TotalCopilotSuggestions        *int64
	TotalCopilotAppliedSuggestions *int64
}

// CopilotChatModes are a report record's top-level chat_panel_*_mode counters: the
// user-initiated interactions of each chat-panel mode. They repeat the chat_panel_*
// elements of the feature breakdown (when both are present they agree), which is read
// first; a counter stands in for a mode the breakdown leaves out (CopilotInteractions).
type CopilotChatModes struct {
	Agent, Ask, Custom, Edit, Plan, Unknown *int64
}

// Copilot breakdown dimensions (the report's totals_by_* arrays).
const (
	DimensionIDE             = "ide"
	DimensionFeature         = "feature"
	DimensionLanguageFeature = "language_feature"
	DimensionLanguageModel   = "language_model"
	DimensionModelFeature    = "model_feature"
)

// CopilotBreakdown is one element of a totals_by_* array. Key2 is empty for
// one-dimensional breakdowns (ide, feature).
type CopilotBreakdown struct {
	Dimension                 string
	Key1                      string
	Key2                      string
	UserInitiatedInteractions *int64
	CodeGenerations           *int64
	CodeAcceptances           *int64
	LOCSuggestedToAdd         *int64
	LOCSuggestedToDelete      *int64
	LOCAdded                  *int64
	LOCDeleted                *int64
}

// CopilotUserDay is one line of a users-1-day report.
type CopilotUserDay struct {
	Day                       time.Time
	UserID                    int64
	UserLogin                 string
	UserInitiatedInteractions *int64
	CodeGenerations           *int64
	CodeAcceptances           *int64
	LOCSuggestedToAdd         *int64
	LOCSuggestedToDelete      *int64
	LOCAdded                  *int64
	LOCDeleted                *int64
	UsedAgent                 bool
	UsedChat                  bool
	UsedCLI                   bool
	UsedCodeReviewActive      bool
	UsedCodeReviewPassive     bool
	UsedCodingAgent           bool
	AICreditsUsed             *float64
	ChatModes                 CopilotChatModes
	Breakdowns                []CopilotBreakdown
	Raw                       json.RawMessage
}

// CopilotSeat is one seat of a seats listing.
type CopilotSeat struct {
	AssigneeID          int64 // 0 when GitHub sent a null assignee
	AssigneeLogin       string
	AssigneeType        string
	Organization        string // granting org (enterprise listing)
	AssigningTeam       string
	PlanType            string
	CreatedAt           time.Time
	UpdatedAt           *time.Time
	PendingCancellation *time.Time
	LastActivityAt      *time.Time
	LastActivityEditor  string
	LastAuthenticatedAt *time.Time
}
