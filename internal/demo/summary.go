package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// Headline is a handful of figures from the run, read back from the store.
type Headline struct {
	Weeks               int
	Deployments         int64
	LeadTimeP50Hours    *float64 // enterprise scope, over the weeks with deployments
	ChangeFailureRate   *float64
	PRsMerged           int64
	CycleTimeP50Hours   *float64
	CopilotDay          *time.Time
	CopilotActiveUsers  *int64
	CompletionAcceptPct *float64
	SeatsTotal          *int64
	// Issue 16.
	SeatsDay                         *time.Time
	SeatsIdle, SeatsUtilisationTotal int64
	IdleMonthlyCost                  *float64
	Currency                         string
	CohortsShown, CohortsSuppressed  int64
	Teams, TeamWeeksWithDORA         int64
}

const sqlHeadlineDORA = `
SELECT count(*), coalesce(sum(deployments), 0),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_p50_hours),
	sum(failed_deployments)::float8 / nullif(sum(deployments), 0)
FROM dora_metrics WHERE scope_type = 'enterprise'`

const sqlHeadlineVelocity = `
SELECT coalesce(sum(prs_merged), 0), percentile_cont(0.5) WITHIN GROUP (ORDER BY pr_cycle_time_p50_hours)
FROM velocity_metrics WHERE scope_type = 'enterprise'`

const sqlHeadlineCopilot = `
SELECT day, sum(daily_active_users), 100 * sum(completion_acceptances)::float8 / nullif(sum(completion_generations), 0),
	(SELECT sum(seats_total) FROM copilot_seat_snapshots s WHERE s.scope_type = 'enterprise'
	   AND s.snapshot_date = (SELECT max(snapshot_date) FROM copilot_seat_snapshots))
FROM copilot_daily_metrics WHERE scope_type = 'enterprise' AND daily_active_users IS NOT NULL
GROUP BY day ORDER BY day DESC LIMIT 1`

// The newest enterprise seat utilisation, the impact cohorts with pull requests, the
// teams and their DORA rows (issue 16).
const sqlHeadlineInsights = `
SELECT (SELECT max(day) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise'),
	coalesce((SELECT sum(seats_idle_30d) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise'
	   AND day = (SELECT max(day) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise')), 0),
	coalesce((SELECT sum(seats_total) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise'
	   AND day = (SELECT max(day) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise')), 0),
	(SELECT sum(idle_monthly_cost)::float8 FROM copilot_seat_utilisation WHERE scope_type = 'enterprise'
	   AND day = (SELECT max(day) FROM copilot_seat_utilisation WHERE scope_type = 'enterprise')),
	coalesce((SELECT min(currency) FROM copilot_seat_utilisation), ''),
	(SELECT count(*) FROM copilot_impact_metrics WHERE NOT suppressed AND prs_merged > 0),
	(SELECT count(*) FROM copilot_impact_metrics WHERE suppressed),
	(SELECT count(*) FROM teams WHERE missing_since IS NULL),
	(SELECT count(*) FROM dora_metrics WHERE scope_type = 'team' AND deployments > 0)`

func headline(ctx context.Context, dbURL string) (Headline, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return Headline{}, fmt.Errorf("read figures: %w", err)
	}
	defer conn.Close(context.Background())
	var h Headline
	if err := conn.QueryRow(ctx, sqlHeadlineDORA).Scan(&h.Weeks, &h.Deployments, &h.LeadTimeP50Hours, &h.ChangeFailureRate); err != nil {
		return h, fmt.Errorf("read DORA figures: %w", err)
	}
	if err := conn.QueryRow(ctx, sqlHeadlineVelocity).Scan(&h.PRsMerged, &h.CycleTimeP50Hours); err != nil {
		return h, fmt.Errorf("read velocity figures: %w", err)
	}
	var day time.Time
	var active, seats *int64
	var rate *float64
	err = conn.QueryRow(ctx, sqlHeadlineCopilot).Scan(&day, &active, &rate, &seats)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return h, fmt.Errorf("read Copilot figures: %w", err)
	default:
		h.CopilotDay, h.CopilotActiveUsers, h.CompletionAcceptPct, h.SeatsTotal = &day, active, rate, seats
	}
	if err := conn.QueryRow(ctx, sqlHeadlineInsights).Scan(&h.SeatsDay, &h.SeatsIdle, &h.SeatsUtilisationTotal, &h.IdleMonthlyCost,
		&h.Currency, &h.CohortsShown, &h.CohortsSuppressed, &h.Teams, &h.TeamWeeksWithDORA); err != nil {
		return h, fmt.Errorf("read insight figures: %w", err)
	}
	return h, nil
}

func printSummary(out io.Writer, s Summary) {
	fmt.Fprintf(out, "\nrun %d: %s in %s (%d orchestrator invocation(s))\n", s.RunID, s.Status, s.Duration.Round(time.Second), s.Invocations)
	fmt.Fprintf(out, "\nfiles in %s:\n", s.ExportDir)
	for _, f := range s.Files {
		fmt.Fprintf(out, "  %-56s %10d bytes\n", f.Name, f.Bytes)
	}
	h := s.Headline
	fmt.Fprintf(out, "\nheadline (all enterprises, %d enterprise-weeks):\n", h.Weeks)
	fmt.Fprintf(out, "  deployments to production      %d\n", h.Deployments)
	fmt.Fprintf(out, "  change lead time, weekly p50   %s\n", hours(h.LeadTimeP50Hours))
	fmt.Fprintf(out, "  change failure rate            %s\n", percent(h.ChangeFailureRate))
	fmt.Fprintf(out, "  pull requests merged           %d (cycle time p50 %s)\n", h.PRsMerged, hours(h.CycleTimeP50Hours))
	if h.CopilotDay != nil {
		fmt.Fprintf(out, "  Copilot on %s          %s daily active users, %s completions accepted, %s seats\n",
			h.CopilotDay.Format(time.DateOnly), intOrDash(h.CopilotActiveUsers), pctOrDash(h.CompletionAcceptPct), intOrDash(h.SeatsTotal))
	}
	if h.SeatsDay != nil {
		cost := "—"
		if h.IdleMonthlyCost != nil {
			cost = fmt.Sprintf("%.0f %s", *h.IdleMonthlyCost, h.Currency)
		}
		fmt.Fprintf(out, "  Copilot seats on %s    %d of %d idle for 30 days (%s a month)\n",
			h.SeatsDay.Format(time.DateOnly), h.SeatsIdle, h.SeatsUtilisationTotal, cost)
	}
	fmt.Fprintf(out, "  Copilot impact cohorts         %d with pull requests shown, %d suppressed (too few authors)\n",
		h.CohortsShown, h.CohortsSuppressed)
	fmt.Fprintf(out, "  teams                          %d (%d team-weeks with deployments)\n", h.Teams, h.TeamWeeksWithDORA)
	if len(s.Deliveries) > 0 {
		fmt.Fprintf(out, "\ndelivered to SharePoint latest/ (each kind as soon as its collection was complete):\n")
		for _, d := range s.Deliveries {
			fmt.Fprintf(out, "  %-24s %7.1fs after the run started  (invocation %d)\n", d.Kind, d.Uploaded.Seconds(), d.Invocation)
		}
		fmt.Fprintf(out, "  SharePoint holds %d files under metrics/ (latest/ and archive/)\n", len(s.SharePointFiles))
	}
	fmt.Fprintf(out, "\nGitHub requests: %d (%d charged to the rate limits, %d answered 304; %d of them GraphQL queries costing %d points), %d report downloads (no token sent)\n",
		s.Requests, s.Charged, s.NotModified, s.GraphQL, s.GraphQLPoints, s.Downloads)
	if s.InstallationTokens > 0 {
		fmt.Fprintf(out, "GitHub App: %d installation tokens minted; %d requests with installation tokens, %d with the PAT (enterprise endpoints)\n",
			s.InstallationTokens, s.InstallationRequests, s.PATRequests)
	}
	if report := filepath.Join(s.ExportDir, "latest", "report.html"); fileExists(report) {
		fmt.Fprintf(out, "report: %s (open it in a browser; the handler also serves it at /api/report)\n", report)
	}
	fmt.Fprintf(out, "handler log: %s\n", s.HandlerLog)
}

func hours(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f h", *v)
}

func percent(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", 100**v)
}

func pctOrDash(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", *v)
}

func intOrDash(v *int64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprint(*v)
}

// Delivery is when one file kind of the run reached SharePoint's latest/.
type Delivery struct {
	Kind       string
	Uploaded   time.Duration // after the run started
	Invocation int           // the orchestrator invocation that delivered it (1-based)
}

const sqlDeliveries = `
SELECT f.kind, u.uploaded_at - r.started_at, u.uploaded_at
FROM exported_files f
JOIN collection_runs r ON r.id = f.run_id
JOIN uploaded_files u ON u.file_name = 'latest/' || f.kind || CASE WHEN f.kind = 'manifest' THEN '.json' ELSE '.csv' END
WHERE f.run_id = $1 AND f.kind <> 'manifest'
ORDER BY u.uploaded_at, f.kind`

// deliveries reads when each file kind of the run was uploaded to latest/, and by
// which of the invocations (started at invoked) it was.
func deliveries(ctx context.Context, dbURL string, runID int64, invoked []time.Time) ([]Delivery, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sqlDeliveries, runID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var at time.Time
		if err := rows.Scan(&d.Kind, &d.Uploaded, &at); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		for i, start := range invoked {
			if !at.Before(start) {
				d.Invocation = i + 1
			}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
