package csvexport

import (
	"time"
)

// SchemaVersion is stamped on every export and in the manifest. Bump it whenever a
// column is appended to a file (columns are never removed, renamed or reordered).
const SchemaVersion = 2

// File kinds: the file name stem of each CSV of an export.
const (
	KindCopilotMetrics     = "copilot_metrics"
	KindDORAMetrics        = "dora_metrics"
	KindVelocityMetrics    = "velocity_metrics"
	KindCopilotUserMetrics = "copilot_user_metrics"
	KindCopilotSeats       = "copilot_seats"
	// Issue 16.
	KindCopilotImpact          = "copilot_impact"
	KindCopilotSeatUtilisation = "copilot_seat_utilisation"
	KindCopilotIdleSeats       = "copilot_idle_seats"
	KindDORARolling            = "dora_rolling"
	KindManifest               = "manifest"
	// KindReport is the HTML report written from the CSVs (internal/report):
	// report_YYYYMMDD.html in archive/, report.html in latest/.
	KindReport = "report"
)

// Decimal precisions of the contract: rates (fractions 0–1) carry 4 decimals, every
// other decimal figure (hours, minutes, seconds, lines, credits) carries 2.
const (
	RatePrecision  = 4
	OtherPrecision = 2
)

// Source is a collection a file's rows are computed from, with the calculations on it.
// A file is exported (and delivered) as soon as every source it needs has been
// collected and calculated for every enterprise in the day's run, so the Copilot files
// do not wait for a repository back-fill.
type Source string

// Sources.
const (
	// SourceCopilot: collect_copilot (usage reports, seats, teams) and the calculation
	// on it, calculate_copilot (team Copilot days, seat utilisation, idle seats).
	SourceCopilot Source = "copilot"
	// SourceRepos: collect_repos and the DORA and velocity calculations on it.
	SourceRepos Source = "repos"
)

// AllSources are every source, in the order they usually complete.
func AllSources() []Source { return []Source{SourceCopilot, SourceRepos} }

// Spec is one CSV file of an export: its kind, its columns in file order, and the
// sources its rows come from.
type Spec struct {
	Kind    string
	Columns []Column
	// UserLevel marks a file that names people (logins, user ids): it is written only
	// with EXPORT_USER_LEVEL on.
	UserLevel bool
	// Sources the rows are computed from; nil means every source (the file waits for
	// the whole run), the safe choice for a file that reads several collections.
	Sources []Source
}

// Needs is the sources the file waits for.
func (s Spec) Needs() []Source {
	if len(s.Sources) == 0 {
		return AllSources()
	}
	return s.Sources
}

// The export layout, the same in EXPORT_DIR and in the SharePoint folder: latest/
// holds one file per kind under a stable name, replaced by every export of that kind
// (Power BI reads only this folder), and archive/YYYY-MM-DD/ the dated snapshots of
// each export date, deleted after SHAREPOINT_RETENTION_DAYS.
const (
	LatestDir  = "latest"
	ArchiveDir = "archive"
)

// LatestName is the stable name of a kind's newest file, e.g. dora_metrics.csv.
func LatestName(kind, ext string) string { return kind + ext }

// LatestPath is that file's path under the export root, e.g. latest/dora_metrics.csv.
func LatestPath(kind, ext string) string { return LatestDir + "/" + LatestName(kind, ext) }

// ArchiveFolder is the folder of an export date's snapshots, e.g. archive/2026-11-26.
func ArchiveFolder(exportDate time.Time) string {
	return ArchiveDir + "/" + exportDate.Format(time.DateOnly)
}

// ArchivePath is a dated file's path under the export root, e.g.
// archive/2026-11-26/dora_metrics_20261126.csv.
func ArchivePath(exportDate time.Time, datedName string) string {
	return ArchiveFolder(exportDate) + "/" + datedName
}

// ArchiveDate reads the date of an archive folder's name (YYYY-MM-DD).
func ArchiveDate(folder string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, folder)
	return t, err == nil
}

// Ext is a kind's file extension: .json for the manifest, .csv for the rest.
func Ext(kind string) string {
	switch kind {
	case KindManifest:
		return ".json"
	case KindReport:
		return ".html"
	}
	return ".csv"
}

// FileName is the file's name for an export date, e.g. dora_metrics_20261126.csv.
func (s Spec) FileName(exportDate time.Time) string {
	return FileName(s.Kind, exportDate, ".csv")
}

// FileName builds <kind>_YYYYMMDD<ext> for an export date.
func FileName(kind string, exportDate time.Time, ext string) string {
	return kind + "_" + exportDate.Format("20060102") + ext
}

// ManifestName is the manifest's name for an export date.
func ManifestName(exportDate time.Time) string {
	return FileName(KindManifest, exportDate, ".json")
}

// Specs returns the CSV files of an export in the order they are written. The leading
// columns of the first three are DESIGN §6 verbatim; everything after them was
// appended and new columns only ever go at the end.
func Specs() []Spec {
	return []Spec{
		{Kind: KindCopilotMetrics, Columns: copilotMetricsColumns(), Sources: []Source{SourceCopilot}},
		{Kind: KindDORAMetrics, Columns: doraMetricsColumns(), Sources: []Source{SourceRepos}},
		{Kind: KindVelocityMetrics, Columns: velocityMetricsColumns(), Sources: []Source{SourceRepos}},
		{Kind: KindCopilotUserMetrics, Columns: copilotUserMetricsColumns(), UserLevel: true, Sources: []Source{SourceCopilot}},
		{Kind: KindCopilotSeats, Columns: copilotSeatsColumns(), UserLevel: true, Sources: []Source{SourceCopilot}},
		// Computed by calculate_velocity from pull requests and Copilot reports: it waits
		// for the whole run.
		{Kind: KindCopilotImpact, Columns: copilotImpactColumns()},
		// Computed by calculate_copilot from the seat listings alone.
		{Kind: KindCopilotSeatUtilisation, Columns: copilotSeatUtilisationColumns(), Sources: []Source{SourceCopilot}},
		{Kind: KindCopilotIdleSeats, Columns: copilotIdleSeatsColumns(), UserLevel: true, Sources: []Source{SourceCopilot}},
		{Kind: KindDORARolling, Columns: doraRollingColumns(), Sources: []Source{SourceRepos}},
	}
}

// ExportSpecs returns the files an export writes: every Spec, or, with userLevel off
// (EXPORT_USER_LEVEL=false), those that name no person.
func ExportSpecs(userLevel bool) []Spec {
	specs := Specs()
	if userLevel {
		return specs
	}
	out := specs[:0]
	for _, s := range specs {
		if !s.UserLevel {
			out = append(out, s)
		}
	}
	return out
}

func scopeColumns() []Column {
	return []Column{Text("enterprise_id"), Text("scope_type"), Text("scope")}
}

func copilotMetricsColumns() []Column {
	return append(scopeColumns(),
		Date("date"),
		Int("daily_active_users"),
		Int("weekly_active_users"),
		Int("monthly_active_users"),
		Int("user_initiated_interactions"),
		Int("code_generations"),
		Int("code_acceptances"),
		Decimal("completion_acceptance_rate", RatePrecision),
		Int("loc_suggested_to_add"),
		Int("loc_added"),
		Int("seats_total"),
		Int("seats_active_30d"),
		// Appended in schema version 1.
		Int("monthly_active_chat_users"),
		Int("monthly_active_agent_users"),
		Int("chat_interactions"),
		Int("agent_interactions"),
		Int("completion_generations"),
		Int("completion_acceptances"),
		Int("loc_suggested_to_delete"),
		Int("loc_deleted"),
		Int("pr_total_created"),
		Int("pr_total_reviewed"),
		Int("pr_total_merged"),
		Decimal("pr_median_minutes_to_merge", OtherPrecision),
		Int("pr_total_suggestions"),
		Int("pr_total_applied_suggestions"),
		Int("pr_total_created_by_copilot"),
		Int("pr_total_reviewed_by_copilot"),
		// Appended in schema version 2.
		Int("pr_total_copilot_suggestions"),
		Int("pr_total_copilot_applied_suggestions"),
	)
}

func doraMetricsColumns() []Column {
	return append(scopeColumns(),
		Date("week_start"),
		Int("deployments"),
		Int("deployment_days"),
		Decimal("lead_time_p50_hours", OtherPrecision),
		Decimal("lead_time_p90_hours", OtherPrecision),
		Decimal("change_failure_rate", RatePrecision),
		Decimal("recovery_time_p50_hours", OtherPrecision),
		Decimal("rework_rate", RatePrecision),
		Text("performance_level"),
		Int("metric_version"),
		// Appended in schema version 1.
		Int("lead_time_n"),
		Int("failed_deployments"),
		Int("recovery_n"),
		Int("rework_deployments"),
		Text("deployment_frequency_level"),
		Text("lead_time_level"),
		Text("change_failure_level"),
		Text("recovery_level"),
		Text("thresholds_version"),
		// Appended in schema version 2 (metric_version 2).
		Int("failed_attempts"),
		Int("unrecovered_failures"),
		Int("repos_elite"),
		Int("repos_high"),
		Int("repos_medium"),
		Int("repos_low"),
	)
}

func velocityMetricsColumns() []Column {
	return append(scopeColumns(),
		Date("week_start"),
		Int("prs_opened"),
		Int("prs_merged"),
		Int("prs_closed_unmerged"),
		Decimal("pr_cycle_time_p50_hours", OtherPrecision),
		Decimal("pickup_time_p50_hours", OtherPrecision),
		Decimal("review_time_p50_hours", OtherPrecision),
		Int("prs_merged_without_review"),
		Int("commits"),
		Int("active_contributors"),
		Int("workflow_runs"),
		Decimal("workflow_success_rate", RatePrecision),
		Int("metric_version"),
		// Appended in schema version 1.
		Decimal("pr_cycle_time_p90_hours", OtherPrecision),
		Int("pr_cycle_time_n"),
		Decimal("coding_time_p50_hours", OtherPrecision),
		Int("coding_time_n"),
		Int("pickup_time_n"),
		Int("review_time_n"),
		Decimal("deploy_time_p50_hours", OtherPrecision),
		Int("deploy_time_n"),
		Decimal("pr_size_p50", OtherPrecision),
		Int("pr_size_n"),
		Int("workflow_completed_runs"),
		Decimal("workflow_duration_p50_seconds", OtherPrecision),
	)
}

func copilotUserMetricsColumns() []Column {
	return append(scopeColumns(),
		Date("date"),
		Int("user_id"),
		Text("user_login"),
		Int("user_initiated_interactions"),
		Int("code_generations"),
		Int("code_acceptances"),
		Int("loc_suggested_to_add"),
		Int("loc_suggested_to_delete"),
		Int("loc_added"),
		Int("loc_deleted"),
		Bool("used_agent"),
		Bool("used_chat"),
		Bool("used_cli"),
		Bool("used_code_review_active"),
		Bool("used_code_review_passive"),
		Bool("used_coding_agent"),
		Decimal("ai_credits_used", OtherPrecision),
		// Appended in schema version 2.
		Int("chat_interactions"),
		Int("agent_interactions"),
	)
}

// copilot_seats is the newest seat snapshot of each scope (one row per seat), not a
// history: daily seat counts are already in copilot_metrics (seats_total,
// seats_active_30d).
func copilotSeatsColumns() []Column {
	return append(scopeColumns(),
		Date("snapshot_date"),
		Int("assignee_id"),
		Text("assignee_login"),
		Text("assignee_type"),
		Text("organization"),
		Text("assigning_team"),
		Text("plan_type"),
		Timestamp("created_at"),
		Date("pending_cancellation"),
		Timestamp("last_activity_at"),
		Text("last_activity_editor"),
		Timestamp("last_authenticated_at"),
	)
}

// copilot_impact: the Copilot impact cohorts per scope (enterprise, organization, team),
// ISO week and cohort. A suppressed cohort has every figure empty.
func copilotImpactColumns() []Column {
	return append(scopeColumns(),
		Date("week_start"),
		Text("cohort"),
		Bool("suppressed"),
		Int("authors"),
		Int("prs_merged"),
		Decimal("pr_cycle_time_p50_hours", OtherPrecision),
		Decimal("review_time_p50_hours", OtherPrecision),
		Decimal("pr_size_p50", OtherPrecision),
		Int("prs_reviewed_by_copilot"),
		Int("prs_reverted"),
		Int("copilot_report_days"),
		Int("min_authors"),
		Int("metric_version"),
		Int("pr_cycle_time_n"),
		Int("review_time_n"),
		Int("pr_size_n"),
	)
}

// copilot_seat_utilisation: seats and their cost per scope and day with a seat snapshot.
func copilotSeatUtilisationColumns() []Column {
	return append(scopeColumns(),
		Date("date"),
		Int("seats_total"),
		Int("seats_active_7d"),
		Int("seats_active_30d"),
		Int("seats_idle_30d"),
		Int("seats_never_used"),
		Int("seats_pending_cancellation"),
		Int("seats_business"),
		Int("seats_enterprise"),
		Int("seats_other_plan"),
		Text("currency"),
		Decimal("monthly_cost", OtherPrecision),
		Decimal("idle_monthly_cost", OtherPrecision),
		Int("unpriced_seats"),
		Int("metric_version"),
	)
}

// copilot_idle_seats: the idle seats of each scope's newest seat snapshot, one row per
// seat, for the licence owner. It names people.
func copilotIdleSeatsColumns() []Column {
	return append(scopeColumns(),
		Date("snapshot_date"),
		Int("assignee_id"),
		Text("assignee_login"),
		Text("organization"),
		Text("assigning_team"),
		Text("plan_type"),
		Timestamp("seat_created_at"),
		Timestamp("last_activity_at"),
		Text("last_activity_editor"),
		Int("days_idle"),
		Bool("never_used"),
		Date("pending_cancellation"),
		Int("metric_version"),
	)
}

// dora_rolling: the DORA columns over trailing windows of window_weeks ISO weeks ending
// with week_start's week.
func doraRollingColumns() []Column {
	return append(scopeColumns(),
		Date("week_start"),
		Int("window_weeks"),
		Date("window_start"),
		Int("deployments"),
		Int("deployment_days"),
		Decimal("lead_time_p50_hours", OtherPrecision),
		Decimal("lead_time_p90_hours", OtherPrecision),
		Decimal("change_failure_rate", RatePrecision),
		Decimal("recovery_time_p50_hours", OtherPrecision),
		Decimal("rework_rate", RatePrecision),
		Text("performance_level"),
		Int("failed_deployments"),
		Int("rework_deployments"),
		Int("failed_attempts"),
		Int("unrecovered_failures"),
		Text("deployment_frequency_level"),
		Text("lead_time_level"),
		Text("change_failure_level"),
		Text("recovery_level"),
		Int("repos_elite"),
		Int("repos_high"),
		Int("repos_medium"),
		Int("repos_low"),
		Text("thresholds_version"),
		Int("metric_version"),
		Int("lead_time_n"),
		Int("recovery_n"),
	)
}
