package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Parse(pageTemplate))

// Weeks and days the trends show.
const (
	trendWeeks  = 13
	copilotDays = 28
)

// DefaultDocsURL is where the definitions are linked to when no other address is
// configured: the repository's docs/metrics.md, relative to the page.
const DefaultDocsURL = "docs/metrics.md"

// Render writes the report page for d. The output depends only on d: the same files
// give the same bytes.
func Render(w io.Writer, d Data) error {
	p := buildPage(d)
	if err := tmpl.Execute(w, p); err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	return nil
}

// figure is one headline number: the CSV cell it shows (file, key, column, value as
// written) and how it reads on the page.
type figure struct {
	File, Key, Column, Value string
	Text                     string // the value as shown, with its unit
	N                        string // the sample size when the figure is a percentile or a rate
	SmallN                   bool   // a percentile on fewer than 5 samples
	Level                    string
}

type chart struct {
	ID, Title, Definition, Anchor string
	SVG                           template.HTML
	Legend                        template.HTML
	Figure                        figure
	Extra                         []figure
}

// plot draws the chart's trend lines (the title gains the scope's name) and, for more
// than one series, their legend.
func (c *chart) plot(title string, s Scope, labels []string, series []Series, unit string, format func(float64) string) {
	c.SVG = template.HTML(lineChart(title+", "+scopeTitle(s), labels, series, unit, format))
	if len(series) > 1 {
		c.Legend = template.HTML(legend(series))
	}
}

type weekTable struct {
	Header []string
	Rows   [][]string
}

type scopeSection struct {
	ID, Title, Subtitle string
	DocsURL             string
	Level               figure
	Repos               string // distribution of repository levels, for an organization or enterprise
	Charts              []chart
	Table               weekTable
	Note                string
}

type freshnessRow struct {
	Enterprise, Dataset, Through, Status, Note string
}

type cohortRow struct {
	Scope, Week, Cohort, Authors, Merged, Cycle, CycleN, Review, ReviewN, Size, SizeN, ReviewedByCopilot, Reverted string
	Suppressed                                                                                                     bool
}

type page struct {
	ExportDate string
	DocsURL    string
	Run        RunStatus
	RunDate    string
	Freshness  []freshnessRow
	Warnings   []string
	DORA       []scopeSection
	Velocity   []scopeSection
	Copilot    []scopeSection
	Cohorts    []cohortRow
	HasCohorts bool
	Partial    string // the week in progress, left out of the trends
}

func buildPage(d Data) page {
	docs := d.DocsURL
	if docs == "" {
		docs = DefaultDocsURL
	}
	p := page{ExportDate: d.ExportDate.Format(time.DateOnly), DocsURL: docs, Run: d.Status, Warnings: d.Status.Warnings}
	if !d.Status.RunDate.IsZero() {
		p.RunDate = d.Status.RunDate.Format(time.DateOnly)
	}
	weekEnd := lastCompleteWeek(d.ExportDate)
	p.Partial = weekEnd.AddDate(0, 0, 7).Format(time.DateOnly)
	p.Freshness = freshness(d, weekEnd)
	if t := d.Tables[KindDORA]; t != nil {
		for _, s := range scopes(t) {
			p.DORA = append(p.DORA, doraSection(docs, t, s, weekEnd))
		}
	}
	if t := d.Tables[KindVelocity]; t != nil {
		for _, s := range scopes(t) {
			p.Velocity = append(p.Velocity, velocitySection(docs, t, s, weekEnd))
		}
	}
	if t := d.Tables[KindCopilot]; t != nil {
		seats := d.Tables[KindSeatUtilisation]
		for _, s := range scopes(t) {
			p.Copilot = append(p.Copilot, copilotSection(docs, t, seats, s))
		}
	}
	if t := d.Tables[KindImpact]; t != nil {
		p.HasCohorts = true
		p.Cohorts = cohorts(t, weekEnd)
	}
	return p
}

// lastCompleteWeek is the Monday of the latest ISO week that ended on or before the
// export date: the week in progress is partial and is left out of trends and headlines.
func lastCompleteWeek(exportDate time.Time) time.Time {
	d := time.Date(exportDate.Year(), exportDate.Month(), exportDate.Day(), 0, 0, 0, 0, time.UTC)
	monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, -7)
}

// scopes lists a table's scopes: each enterprise first, then its organizations, by name.
func scopes(t *Table) []Scope {
	seen := map[Scope]bool{}
	var out []Scope
	for _, r := range t.Rows {
		s := r.scope()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int {
		if c := strings.Compare(a.EnterpriseID, b.EnterpriseID); c != 0 {
			return c
		}
		if a.Type != b.Type {
			if a.Type == "enterprise" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// rowsOf returns a scope's rows keyed by the date column, and the dates within
// [from, to], ascending.
func rowsOf(t *Table, s Scope, dateColumn string, from, to time.Time) (map[string]Row, []string) {
	byDate := map[string]Row{}
	var dates []string
	lo, hi := from.Format(time.DateOnly), to.Format(time.DateOnly)
	for _, r := range t.Rows {
		if r.scope() != s {
			continue
		}
		d := r[dateColumn]
		if d < lo || d > hi {
			continue
		}
		if _, dup := byDate[d]; !dup {
			dates = append(dates, d)
		}
		byDate[d] = r
	}
	slices.Sort(dates)
	return byDate, dates
}

func scopeTitle(s Scope) string {
	if s.Type == "enterprise" {
		return "Enterprise " + s.Name
	}
	return "Organization " + s.Name
}

func scopeID(prefix string, s Scope) string {
	id := prefix + "-" + s.EnterpriseID + "-" + s.Type + "-" + s.Name
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, id)
}

func rowKey(s Scope, date string) string {
	return s.EnterpriseID + ";" + s.Type + ";" + s.Name + ";" + date
}

func seriesOf(byDate map[string]Row, dates []string, column string, scale float64) []*float64 {
	out := make([]*float64, len(dates))
	for i, d := range dates {
		if v := parseValue(byDate[d][column]); v != nil {
			x := *v * scale
			out[i] = &x
		}
	}
	return out
}

func shortDates(dates []string) []string {
	out := make([]string, len(dates))
	for i, d := range dates {
		if t, err := time.Parse(time.DateOnly, d); err == nil {
			out[i] = t.Format("2 Jan")
		} else {
			out[i] = d
		}
	}
	return out
}

// Number formats. A CSV cell is shown as it is written (its decimals are the
// contract's); a rate is shown as a percentage with two decimals.
func formatHours(v float64) string   { return strconv.FormatFloat(v, 'f', 1, 64) }
func formatCount(v float64) string   { return strconv.FormatFloat(v, 'f', 0, 64) }
func formatPercent(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func cellText(v, unit string) string {
	if v == "" {
		return "—"
	}
	return v + unit
}

func percentText(v string) string {
	f := parseValue(v)
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(*f*100, 'f', 2, 64) + " %"
}

func newFigure(file string, s Scope, date string, r Row, column, text, n string) figure {
	f := figure{File: file, Key: rowKey(s, date), Column: column, Value: r[column], Text: text, N: n}
	if nv, err := strconv.Atoi(n); err == nil && nv < 5 && r[column] != "" {
		f.SmallN = true
	}
	return f
}

// weeklySection opens a section of a weekly file: the scope's rows of the trend's weeks
// ending with weekEnd's, by week_start. Without any, the section says so.
func weeklySection(name, docs string, t *Table, s Scope, weekEnd time.Time) (scopeSection, map[string]Row, []string) {
	byDate, dates := rowsOf(t, s, "week_start", weekEnd.AddDate(0, 0, -7*(trendWeeks-1)), weekEnd)
	sec := scopeSection{ID: scopeID(name, s), Title: scopeTitle(s), DocsURL: docs}
	if len(dates) == 0 {
		sec.Note = "No complete week in the file yet."
	}
	return sec, byDate, dates
}

func doraSection(docs string, t *Table, s Scope, weekEnd time.Time) scopeSection {
	sec, byDate, dates := weeklySection("dora", docs, t, s, weekEnd)
	if len(dates) == 0 {
		return sec
	}
	labels := shortDates(dates)
	cur := dates[len(dates)-1]
	r := byDate[cur]
	sec.Subtitle = "Week of " + cur + ", the latest complete week; trends over the " + strconv.Itoa(len(dates)) + " weeks from " + dates[0]
	sec.Level = figure{File: KindDORA, Key: rowKey(s, cur), Column: "performance_level", Value: r["performance_level"],
		Text: cellText(r["performance_level"], ""), Level: r["performance_level"]}
	if s.Type != "repository" && r["repos_elite"] != "" {
		sec.Repos = fmt.Sprintf("Repositories by level: %s elite, %s high, %s medium, %s low", r["repos_elite"], r["repos_high"], r["repos_medium"], r["repos_low"])
	}
	dep := chart{ID: sec.ID + "-deployments", Title: "Deployments per week", Anchor: "deployment-frequency",
		Definition: "Successful production deployments (rollouts) that finished in the week, and the days with one.",
		Figure:     newFigure(KindDORA, s, cur, r, "deployments", cellText(r["deployments"], ""), "")}
	dep.Figure.Level = r["deployment_frequency_level"]
	dep.Extra = []figure{newFigure(KindDORA, s, cur, r, "deployment_days", cellText(r["deployment_days"], " days"), "")}
	depSeries := []Series{{"deployments", seriesOf(byDate, dates, "deployments", 1)}, {"deployment days", seriesOf(byDate, dates, "deployment_days", 1)}}
	dep.plot("Deployments per week", s, labels, depSeries, "", formatCount)

	lead := chart{ID: sec.ID + "-lead", Title: "Change lead time", Anchor: "change-lead-time",
		Definition: "Median hours from a change's first commit to its deployment, per production environment.",
		Figure:     newFigure(KindDORA, s, cur, r, "lead_time_p50_hours", cellText(r["lead_time_p50_hours"], " h"), r["lead_time_n"])}
	lead.Figure.Level = r["lead_time_level"]
	lead.Extra = []figure{newFigure(KindDORA, s, cur, r, "lead_time_p90_hours", "p90 "+cellText(r["lead_time_p90_hours"], " h"), r["lead_time_n"])}
	leadSeries := []Series{{"p50", seriesOf(byDate, dates, "lead_time_p50_hours", 1)}, {"p90", seriesOf(byDate, dates, "lead_time_p90_hours", 1)}}
	lead.plot("Change lead time", s, labels, leadSeries, " h", formatHours)

	cfr := chart{ID: sec.ID + "-cfr", Title: "Change failure rate", Anchor: "change-failure-rate",
		Definition: "Deployments a revert, rollback, incident or hotfix blames, as a share of the week's deployments.",
		Figure:     newFigure(KindDORA, s, cur, r, "change_failure_rate", percentText(r["change_failure_rate"]), r["deployments"])}
	cfr.Figure.Level = r["change_failure_level"]
	cfr.Extra = []figure{newFigure(KindDORA, s, cur, r, "failed_deployments", cellText(r["failed_deployments"], " failed"), "")}
	cfrSeries := []Series{{"change failure rate", seriesOf(byDate, dates, "change_failure_rate", 100)}}
	cfr.plot("Change failure rate", s, labels, cfrSeries, " %", formatPercent)

	rec := chart{ID: sec.ID + "-recovery", Title: "Failed deployment recovery time", Anchor: "failed-deployment-recovery-time",
		Definition: "Median hours from a failed deployment's finish to its restoration.",
		Figure:     newFigure(KindDORA, s, cur, r, "recovery_time_p50_hours", cellText(r["recovery_time_p50_hours"], " h"), r["recovery_n"])}
	rec.Figure.Level = r["recovery_level"]
	if r["unrecovered_failures"] != "" {
		rec.Extra = []figure{newFigure(KindDORA, s, cur, r, "unrecovered_failures", r["unrecovered_failures"]+" not restored yet", "")}
	}
	recSeries := []Series{{"recovery p50", seriesOf(byDate, dates, "recovery_time_p50_hours", 1)}}
	rec.plot("Recovery time", s, labels, recSeries, " h", formatHours)

	rework := chart{ID: sec.ID + "-rework", Title: "Deployment rework rate", Anchor: "deployment-rework-rate",
		Definition: "Deployments that restore a failed one (rollback, revert, hotfix), as a share of deployments.",
		Figure:     newFigure(KindDORA, s, cur, r, "rework_rate", percentText(r["rework_rate"]), r["deployments"])}
	reworkSeries := []Series{{"rework rate", seriesOf(byDate, dates, "rework_rate", 100)}}
	rework.plot("Rework rate", s, labels, reworkSeries, " %", formatPercent)

	sec.Charts = []chart{dep, lead, cfr, rec, rework}
	sec.Table.Header = []string{"week", "deployments", "days", "lead time p50 h", "n", "change failure", "recovery p50 h", "n", "rework", "level"}
	for i := len(dates) - 1; i >= 0; i-- {
		r := byDate[dates[i]]
		sec.Table.Rows = append(sec.Table.Rows, []string{dates[i], r["deployments"], r["deployment_days"],
			cellText(r["lead_time_p50_hours"], ""), r["lead_time_n"], percentText(r["change_failure_rate"]),
			cellText(r["recovery_time_p50_hours"], ""), r["recovery_n"], percentText(r["rework_rate"]), cellText(r["performance_level"], "")})
	}
	return sec
}

func velocitySection(docs string, t *Table, s Scope, weekEnd time.Time) scopeSection {
	sec, byDate, dates := weeklySection("velocity", docs, t, s, weekEnd)
	if len(dates) == 0 {
		return sec
	}
	labels := shortDates(dates)
	cur := dates[len(dates)-1]
	r := byDate[cur]
	sec.Subtitle = "Week of " + cur
	thr := chart{ID: sec.ID + "-throughput", Title: "Pull requests", Anchor: "velocity",
		Definition: "Pull requests by people (bots left out) opened and merged in the week.",
		Figure:     newFigure(KindVelocity, s, cur, r, "prs_merged", cellText(r["prs_merged"], " merged"), "")}
	thr.Extra = []figure{newFigure(KindVelocity, s, cur, r, "prs_opened", cellText(r["prs_opened"], " opened"), "")}
	thrSeries := []Series{{"merged", seriesOf(byDate, dates, "prs_merged", 1)}, {"opened", seriesOf(byDate, dates, "prs_opened", 1)}}
	thr.plot("Pull requests per week", s, labels, thrSeries, "", formatCount)

	cyc := chart{ID: sec.ID + "-cycle", Title: "Cycle time and its phases", Anchor: "velocity",
		Definition: "Medians in hours: created → merged (cycle), first commit → opened (coding), opened → first review (pickup), first review → merged (review), merged → deployed (deploy).",
		Figure:     newFigure(KindVelocity, s, cur, r, "pr_cycle_time_p50_hours", cellText(r["pr_cycle_time_p50_hours"], " h"), r["pr_cycle_time_n"])}
	cyc.Extra = []figure{
		newFigure(KindVelocity, s, cur, r, "coding_time_p50_hours", "coding "+cellText(r["coding_time_p50_hours"], " h"), r["coding_time_n"]),
		newFigure(KindVelocity, s, cur, r, "pickup_time_p50_hours", "pickup "+cellText(r["pickup_time_p50_hours"], " h"), r["pickup_time_n"]),
		newFigure(KindVelocity, s, cur, r, "review_time_p50_hours", "review "+cellText(r["review_time_p50_hours"], " h"), r["review_time_n"]),
		newFigure(KindVelocity, s, cur, r, "deploy_time_p50_hours", "deploy "+cellText(r["deploy_time_p50_hours"], " h"), r["deploy_time_n"]),
	}
	cycSeries := []Series{
		{"coding", seriesOf(byDate, dates, "coding_time_p50_hours", 1)},
		{"pickup", seriesOf(byDate, dates, "pickup_time_p50_hours", 1)},
		{"review", seriesOf(byDate, dates, "review_time_p50_hours", 1)},
		{"deploy", seriesOf(byDate, dates, "deploy_time_p50_hours", 1)},
	}
	cyc.plot("Cycle time phases", s, labels, cycSeries, " h", formatHours)
	sec.Charts = []chart{thr, cyc}
	sec.Table.Header = []string{"week", "opened", "merged", "cycle p50 h", "n", "coding h", "pickup h", "review h", "deploy h", "without review"}
	for i := len(dates) - 1; i >= 0; i-- {
		r := byDate[dates[i]]
		sec.Table.Rows = append(sec.Table.Rows, []string{dates[i], r["prs_opened"], r["prs_merged"],
			cellText(r["pr_cycle_time_p50_hours"], ""), r["pr_cycle_time_n"], cellText(r["coding_time_p50_hours"], ""),
			cellText(r["pickup_time_p50_hours"], ""), cellText(r["review_time_p50_hours"], ""),
			cellText(r["deploy_time_p50_hours"], ""), r["prs_merged_without_review"]})
	}
	return sec
}

func copilotSection(docs string, t, seats *Table, s Scope) scopeSection {
	sec := scopeSection{ID: scopeID("copilot", s), Title: scopeTitle(s), DocsURL: docs}
	var last time.Time
	for _, r := range t.Rows {
		if r.scope() == s {
			if d, err := time.Parse(time.DateOnly, r["date"]); err == nil && d.After(last) {
				last = d
			}
		}
	}
	if last.IsZero() {
		sec.Note = "No report day in the file yet."
		return sec
	}
	byDate, dates := rowsOf(t, s, "date", last.AddDate(0, 0, -(copilotDays-1)), last)
	labels := shortDates(dates)
	cur := dates[len(dates)-1]
	r := byDate[cur]
	sec.Subtitle = "Report day " + cur + "; trends over the " + strconv.Itoa(len(dates)) + " days from " + dates[0]
	users := chart{ID: sec.ID + "-users", Title: "Active users", Anchor: "copilot-helpers",
		Definition: "People who used Copilot on the day (daily) and in the 7 days to it (weekly), as GitHub's report counts them.",
		Figure:     newFigure(KindCopilot, s, cur, r, "daily_active_users", cellText(r["daily_active_users"], " daily"), "")}
	users.Extra = []figure{newFigure(KindCopilot, s, cur, r, "weekly_active_users", cellText(r["weekly_active_users"], " weekly"), "")}
	userSeries := []Series{{"daily", seriesOf(byDate, dates, "daily_active_users", 1)}, {"weekly", seriesOf(byDate, dates, "weekly_active_users", 1)}}
	users.plot("Active users", s, labels, userSeries, "", formatCount)

	acc := chart{ID: sec.ID + "-acceptance", Title: "Completion acceptance", Anchor: "copilot-helpers",
		Definition: "Code completions accepted as a share of those shown (the code_completion feature only).",
		Figure:     newFigure(KindCopilot, s, cur, r, "completion_acceptance_rate", percentText(r["completion_acceptance_rate"]), r["completion_generations"])}
	accSeries := []Series{{"acceptance", seriesOf(byDate, dates, "completion_acceptance_rate", 100)}}
	acc.plot("Completion acceptance", s, labels, accSeries, " %", formatPercent)

	chat := chart{ID: sec.ID + "-chat", Title: "Chat and agent prompts", Anchor: "copilot-helpers",
		Definition: "Prompts people gave chat (ask, edit, plan, inline) and agent mode on the day.",
		Figure:     newFigure(KindCopilot, s, cur, r, "chat_interactions", cellText(r["chat_interactions"], " chat"), "")}
	chat.Extra = []figure{newFigure(KindCopilot, s, cur, r, "agent_interactions", cellText(r["agent_interactions"], " agent"), "")}
	chatSeries := []Series{{"chat", seriesOf(byDate, dates, "chat_interactions", 1)}, {"agent", seriesOf(byDate, dates, "agent_interactions", 1)}}
	chat.plot("Chat and agent prompts", s, labels, chatSeries, "", formatCount)

	seat := chart{ID: sec.ID + "-seats", Title: "Seats", Anchor: "copilot-helpers",
		Definition: "Seats assigned, and those with activity in the 30 days to the day.",
		Figure:     newFigure(KindCopilot, s, cur, r, "seats_total", cellText(r["seats_total"], " seats"), "")}
	seat.Extra = []figure{newFigure(KindCopilot, s, cur, r, "seats_active_30d", cellText(r["seats_active_30d"], " active in 30 days"), "")}
	if seats != nil {
		seat.Extra = append(seat.Extra, idleCost(seats, s)...)
	}
	seatSeries := []Series{{"seats", seriesOf(byDate, dates, "seats_total", 1)}, {"active in 30 days", seriesOf(byDate, dates, "seats_active_30d", 1)}}
	seat.plot("Seats", s, labels, seatSeries, "", formatCount)
	sec.Charts = []chart{users, acc, chat, seat}
	sec.Table.Header = []string{"day", "daily users", "weekly users", "acceptance", "chat", "agent", "seats", "active 30 d"}
	for i := len(dates) - 1; i >= 0; i-- {
		r := byDate[dates[i]]
		sec.Table.Rows = append(sec.Table.Rows, []string{dates[i], r["daily_active_users"], r["weekly_active_users"],
			percentText(r["completion_acceptance_rate"]), r["chat_interactions"], r["agent_interactions"], r["seats_total"], r["seats_active_30d"]})
	}
	return sec
}

// idleCost shows, where the seat utilisation file exists, the newest day's idle seats
// and their monthly cost.
func idleCost(t *Table, s Scope) []figure {
	var newest string
	var row Row
	for _, r := range t.Rows {
		if r.scope() == s && r["date"] > newest {
			newest, row = r["date"], r
		}
	}
	if row == nil {
		return nil
	}
	var out []figure
	if v, ok := row["seats_idle_30d"]; ok {
		out = append(out, figure{File: KindSeatUtilisation, Key: rowKey(s, newest), Column: "seats_idle_30d", Value: v, Text: cellText(v, " idle for 30 days")})
	}
	if v, ok := row["idle_monthly_cost"]; ok {
		out = append(out, figure{File: KindSeatUtilisation, Key: rowKey(s, newest), Column: "idle_monthly_cost", Value: v,
			Text: cellText(v, " "+row["currency"]+" a month on idle seats")})
	}
	return out
}

func freshness(d Data, weekEnd time.Time) []freshnessRow {
	type key struct{ ent, dataset string }
	through := map[key]string{}
	note := func(ent, dataset, date string) {
		k := key{ent, dataset}
		if date > through[k] {
			through[k] = date
		}
	}
	if t := d.Tables[KindCopilot]; t != nil {
		for _, r := range t.Rows {
			if r["scope_type"] == "enterprise" {
				note(r["enterprise_id"], "Copilot usage", r["date"])
			}
		}
	}
	for _, kd := range []struct{ kind, name string }{{KindDORA, "DORA"}, {KindVelocity, "Velocity"}} {
		t := d.Tables[kd.kind]
		if t == nil {
			continue
		}
		for _, r := range t.Rows {
			if r["scope_type"] != "enterprise" {
				continue
			}
			ws, err := time.Parse(time.DateOnly, r["week_start"])
			if err != nil || ws.After(weekEnd) {
				continue
			}
			note(r["enterprise_id"], kd.name, ws.AddDate(0, 0, 6).Format(time.DateOnly))
		}
	}
	stageOf := map[string]string{"Copilot usage": "collect_copilot", "DORA": "calculate_dora", "Velocity": "calculate_velocity"}
	var out []freshnessRow
	for k, date := range through {
		row := freshnessRow{Enterprise: k.ent, Dataset: k.dataset, Through: date, Status: "—"}
		for _, ds := range d.Status.Datasets {
			if ds.EnterpriseID == k.ent && ds.Dataset == stageOf[k.dataset] {
				row.Status, row.Note = ds.Status, ds.Error
			}
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b freshnessRow) int {
		return strings.Compare(a.Enterprise+"\x00"+a.Dataset, b.Enterprise+"\x00"+b.Dataset)
	})
	return out
}

func cohorts(t *Table, weekEnd time.Time) []cohortRow {
	from := weekEnd.AddDate(0, 0, -7*3).Format(time.DateOnly)
	to := weekEnd.Format(time.DateOnly)
	var out []cohortRow
	for _, s := range scopes(t) {
		for _, r := range t.Rows {
			if r.scope() != s || r["week_start"] < from || r["week_start"] > to {
				continue
			}
			out = append(out, cohortRow{Scope: scopeTitle(s), Week: r["week_start"], Cohort: r["cohort"],
				Authors: r["authors"], Merged: r["prs_merged"], Cycle: cellText(r["pr_cycle_time_p50_hours"], ""),
				CycleN: r["pr_cycle_time_n"], Review: cellText(r["review_time_p50_hours"], ""), ReviewN: r["review_time_n"],
				Size: cellText(r["pr_size_p50"], ""), SizeN: r["pr_size_n"],
				ReviewedByCopilot: r["prs_reviewed_by_copilot"], Reverted: r["prs_reverted"], Suppressed: r["suppressed"] == "true"})
		}
	}
	slices.SortStableFunc(out, func(a, b cohortRow) int { return strings.Compare(b.Week, a.Week) })
	return out
}
