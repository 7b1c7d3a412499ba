package pipeline_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// copilotNow is when the tests run, in simulated time. It lies ahead of the real clock
// because the server bounds each stage call with a real context deadline derived from
// its (fake) now.
var copilotNow = time.Date(2030, 6, 15, 6, 0, 0, 0, time.UTC)

var (
	copilotEntScope  = metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "contoso"}
	copilotWebScope  = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "contoso-web"}
	copilotDataScope = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "contoso-data"}
	copilotScopes    = []metrics.CopilotScope{copilotEntScope, copilotDataScope, copilotWebScope} // collection order
)

// copilotClock is the fake time of a test: the server, the stage and the GitHub client
// read it; the client's waits move it on; tick moves it on at every stage reading, so a
// small budget runs out after a few units without anything sleeping.
type copilotClock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

func (c *copilotClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *copilotClock) stageNow() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

func (c *copilotClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(max(d, 0))
	return nil
}

func (c *copilotClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type copilotEvents struct {
	mu    sync.Mutex
	names []string
}

func (r *copilotEvents) Event(name string, _ map[string]string, _ map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, name)
}

// copilotEnv is the simulator on two hosts, a fresh database, the real GitHub client and
// the real server routes with collect_copilot.
type copilotEnv struct {
	t      testing.TB
	sim    *githubsim.Simulator
	store  *postgres.Store
	clock  *copilotClock
	events *copilotEvents
	srv    *httptest.Server
	token  string
}

type copilotSetup struct {
	simConfig  func(*githubsim.Config)
	enterprise func(*config.Enterprise)
	token      string // default: the simulated enterprise's own
	client     func(*github.Options)
}

func newCopilotEnv(t testing.TB, setup copilotSetup) *copilotEnv {
	t.Helper()
	cfg := githubsim.DemoConfig(copilotNow)
	cfg.UserShardSize = 7 // the users reports come in several NDJSON shards
	if setup.simConfig != nil {
		setup.simConfig(&cfg)
	}
	sim, err := githubsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hosts := sim.Start()
	t.Cleanup(hosts.Close)
	return startCopilotEnv(t, sim, hosts, pgtest.New(t), setup)
}

func startCopilotEnv(t testing.TB, sim *githubsim.Simulator, hosts *githubsim.Servers, store *postgres.Store, setup copilotSetup) *copilotEnv {
	t.Helper()
	e := &copilotEnv{t: t, sim: sim, store: store, clock: &copilotClock{now: sim.Now()}, events: &copilotEvents{}}
	e.token = sim.Enterprises()[0].Token
	if setup.token != "" {
		e.token = setup.token
	}
	ent := config.Enterprise{ID: "ent1", Slug: "contoso", Orgs: []string{"contoso-web", "contoso-data"},
		APIURL: hosts.API.URL + "/", TokenSecret: "github-pat-ent1", CopilotBackfillDays: 28, CopilotUserTeams: true}
	if setup.enterprise != nil {
		setup.enterprise(&ent)
	}
	token := e.token
	opts := github.Options{
		EnterpriseID: ent.ID, BaseURL: ent.APIURL, TokenSecret: ent.TokenSecret, DownloadHosts: ent.CopilotDownloadHosts,
		Token:      func(context.Context) (string, error) { return token, nil },
		HTTPClient: &http.Client{}, DownloadClient: &http.Client{},
		Clock: e.clock, MaxRate: math.Inf(1), Cache: store, TokenHealth: store,
	}
	if setup.client != nil {
		setup.client(&opts)
	}
	client, err := github.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	stage := pipeline.NewCopilotStage(pipeline.CopilotOptions{
		Store: store,
		Clients: func(id string) (*github.Client, error) {
			if id != ent.ID {
				return nil, fmt.Errorf("no client for %q", id)
			}
			return client, nil
		},
		Events: e.events,
		Now:    e.clock.stageNow,
	})
	srv := server.New(server.Options{
		Log:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Store: store,
		Config: config.Config{
			// ent3 has orgs only: its history starts on the org reports' first day.
			Enterprises: []config.Enterprise{ent, {ID: "ent3", Orgs: []string{"fabrikam-apps"}, APIURL: ent.APIURL}},
			StageBudget: 150 * time.Second,
		},
		Stages: []pipeline.Stage{stage},
		Now:    e.clock.Now,
	})
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e
}

type copilotAnswer struct {
	RunID    int64    `json:"run_id"`
	Status   string   `json:"status"`
	Done     bool     `json:"done"`
	Cursor   *string  `json:"cursor"`
	Records  int64    `json:"records"`
	APICalls int64    `json:"api_calls"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error"`
	raw      string
}

// call posts to /api/collect_copilot and returns the status and the decoded answer.
func (e *copilotEnv) call(body string) (int, copilotAnswer) {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/api/collect_copilot", "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a copilotAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("answer is not JSON: %s", raw)
	}
	a.raw = string(raw)
	return resp.StatusCode, a
}

// collect posts body and expects a finished, successful call.
func (e *copilotEnv) collect(body string) copilotAnswer {
	e.t.Helper()
	status, a := e.call(body)
	if status != http.StatusOK || !a.Done || a.Status != pipeline.StatusSucceeded {
		e.t.Fatalf("collect_copilot %s = %d %s", body, status, a.raw)
	}
	return a
}

func copilotDate(t time.Time) string { return t.Format(time.DateOnly) }

// copilotDump is every Copilot row (timestamps of our own writes left out), table by
// table in key order: two databases with the same dump hold the same data.
func copilotDump(t testing.TB, s *postgres.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range []string{"copilot_daily_metrics", "copilot_breakdowns", "copilot_user_metrics", "copilot_user_teams",
		"copilot_raw_records", "copilot_report_fetches", "copilot_seats", "copilot_seat_snapshots", "sync_watermarks"} {
		rows, err := s.Pool().Query(t.Context(), `SELECT (to_jsonb(t) - 'updated_at' - 'fetched_at' - 'taken_at')::text FROM `+table+` t ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		out[table] = got
	}
	return out
}

// copilotRowVersions is every row version (xmin and position) of the Copilot tables: equal
// before and after a call means the call rewrote nothing.
func copilotRowVersions(t testing.TB, s *postgres.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range []string{"copilot_daily_metrics", "copilot_breakdowns", "copilot_user_metrics", "copilot_user_teams",
		"copilot_raw_records", "copilot_report_fetches", "copilot_seats", "copilot_seat_snapshots", "sync_watermarks"} {
		var v []string
		if err := s.Pool().QueryRow(t.Context(),
			`SELECT coalesce(array_agg(xmin::text || '@' || ctid::text ORDER BY ctid), '{}') FROM `+table).Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[table] = v
	}
	return out
}

func copilotCount(t testing.TB, s *postgres.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// copilotDailyRow is a copilot_daily_metrics row without the seat figures.
type copilotDailyRow struct {
	Day                                                    string
	DAU, WAU, MAU, MonthlyChat, MonthlyAgent, Interactions *int64
	Generations, Acceptances                               *int64
	CompletionGenerations, CompletionAcceptances           *int64
	CompletionRate                                         *float64
	LOCSuggestedAdd, LOCSuggestedDelete, LOCAdded, LOCDel  *int64
	Chat, Agent                                            *int64
	PRCreated, PRReviewed, PRMerged                        *int64
	PRMedian                                               *float64
	PRSuggestions, PRApplied, PRByCopilot, PRReviewedBy    *int64
	PRCopilotSuggestions, PRCopilotApplied                 *int64
}

func copilotStoredDays(t testing.TB, s *postgres.Store, scope metrics.CopilotScope) []copilotDailyRow {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT day::text, daily_active_users, weekly_active_users, monthly_active_users,
		monthly_active_chat_users, monthly_active_agent_users, user_initiated_interactions, code_generations, code_acceptances,
		completion_generations, completion_acceptances, completion_acceptance_rate::float8,
		loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted, chat_interactions, agent_interactions,
		pr_total_created, pr_total_reviewed, pr_total_merged, pr_median_minutes_to_merge::float8,
		pr_total_suggestions, pr_total_applied_suggestions, pr_total_created_by_copilot, pr_total_reviewed_by_copilot,
		pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions
		FROM copilot_daily_metrics WHERE enterprise_id = 'ent1' AND scope_type = $1 AND scope = $2 ORDER BY day`, scope.Type, scope.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []copilotDailyRow
	for rows.Next() {
		var r copilotDailyRow
		if err := rows.Scan(&r.Day, &r.DAU, &r.WAU, &r.MAU, &r.MonthlyChat, &r.MonthlyAgent, &r.Interactions, &r.Generations, &r.Acceptances,
			&r.CompletionGenerations, &r.CompletionAcceptances, &r.CompletionRate,
			&r.LOCSuggestedAdd, &r.LOCSuggestedDelete, &r.LOCAdded, &r.LOCDel, &r.Chat, &r.Agent,
			&r.PRCreated, &r.PRReviewed, &r.PRMerged, &r.PRMedian, &r.PRSuggestions, &r.PRApplied, &r.PRByCopilot, &r.PRReviewedBy,
			&r.PRCopilotSuggestions, &r.PRCopilotApplied); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// copilotWantInteractions is the chat and agent figures of a simulated record, the way
// the simulator builds it: every chat-panel mode has an element when used and always a
// top-level counter, so the counters give the chat-panel modes, zeros included, and
// chat_inline comes from its element. It does not call metrics.CopilotInteractions, so
// the stored figures are checked against a second derivation.
func copilotWantInteractions(bs []metrics.CopilotBreakdown, m metrics.CopilotChatModes) (chat, agent *int64) {
	c := *m.Ask + *m.Custom + *m.Edit + *m.Plan + *m.Unknown
	for _, b := range bs {
		if b.Dimension == metrics.DimensionFeature && b.Key1 == "chat_inline" {
			c += *b.UserInitiatedInteractions
		}
	}
	a := *m.Agent
	return &c, &a
}

func copilotWantDays(days []metrics.CopilotDay) []copilotDailyRow {
	var out []copilotDailyRow
	for _, d := range days {
		var completion *metrics.CopilotBreakdown
		for i, b := range d.Breakdowns {
			if b.Dimension == metrics.DimensionFeature && b.Key1 == "code_completion" {
				completion = &d.Breakdowns[i]
			}
		}
		r := copilotDailyRow{
			Day: copilotDate(d.Day), DAU: d.DailyActiveUsers, WAU: d.WeeklyActiveUsers, MAU: d.MonthlyActiveUsers,
			MonthlyChat: d.MonthlyActiveChatUsers, MonthlyAgent: d.MonthlyActiveAgentUsers, Interactions: d.UserInitiatedInteractions,
			Generations: d.CodeGenerations, Acceptances: d.CodeAcceptances,
			LOCSuggestedAdd: d.LOCSuggestedToAdd, LOCSuggestedDelete: d.LOCSuggestedToDelete, LOCAdded: d.LOCAdded, LOCDel: d.LOCDeleted,
			PRCreated: d.PullRequests.TotalCreated, PRReviewed: d.PullRequests.TotalReviewed, PRMerged: d.PullRequests.TotalMerged,
			PRMedian: d.PullRequests.MedianMinutesToMerge, PRSuggestions: d.PullRequests.TotalSuggestions,
			PRApplied: d.PullRequests.TotalAppliedSuggestions, PRByCopilot: d.PullRequests.TotalCreatedByCopilot,
			PRReviewedBy:         d.PullRequests.TotalReviewedByCopilot,
			PRCopilotSuggestions: d.PullRequests.TotalCopilotSuggestions, PRCopilotApplied: d.PullRequests.TotalCopilotAppliedSuggestions,
		}
		r.Chat, r.Agent = copilotWantInteractions(d.Breakdowns, d.ChatModes)
		if completion != nil {
			r.CompletionGenerations, r.CompletionAcceptances = completion.CodeGenerations, completion.CodeAcceptances
			if *completion.CodeGenerations > 0 {
				rate := float64(*completion.CodeAcceptances) / float64(*completion.CodeGenerations)
				r.CompletionRate = &rate
			}
		}
		out = append(out, r)
	}
	return out
}

// copilotUserRow is a copilot_user_metrics row.
type copilotUserRow struct {
	Day                                                       string
	UserID                                                    int64
	Login                                                     string
	Interactions, Generations, Acceptances                    *int64
	LOCSuggestedAdd, LOCSuggestedDelete, LOCAdded, LOCDeleted *int64
	Agent, Chat, CLI, ReviewActive, ReviewPassive, Coding     bool
	Credits                                                   *float64
	ChatInteractions, AgentInteractions                       *int64
}

func copilotStoredUsers(t testing.TB, s *postgres.Store, scope metrics.CopilotScope) []copilotUserRow {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT day::text, user_id, user_login, user_initiated_interactions, code_generations,
		code_acceptances, loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
		used_agent, used_chat, used_cli, used_code_review_active, used_code_review_passive, used_coding_agent, ai_credits_used::float8,
		chat_interactions, agent_interactions
		FROM copilot_user_metrics WHERE enterprise_id = 'ent1' AND scope_type = $1 AND scope = $2 ORDER BY day, user_id`, scope.Type, scope.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []copilotUserRow
	for rows.Next() {
		var r copilotUserRow
		if err := rows.Scan(&r.Day, &r.UserID, &r.Login, &r.Interactions, &r.Generations, &r.Acceptances,
			&r.LOCSuggestedAdd, &r.LOCSuggestedDelete, &r.LOCAdded, &r.LOCDeleted,
			&r.Agent, &r.Chat, &r.CLI, &r.ReviewActive, &r.ReviewPassive, &r.Coding, &r.Credits,
			&r.ChatInteractions, &r.AgentInteractions); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func copilotWantUsers(days []metrics.CopilotUserDay) []copilotUserRow {
	var out []copilotUserRow
	for _, u := range days {
		chat, agent := copilotWantInteractions(u.Breakdowns, u.ChatModes)
		out = append(out, copilotUserRow{ChatInteractions: chat, AgentInteractions: agent, Day: copilotDate(u.Day), UserID: u.UserID, Login: u.UserLogin,
			Interactions: u.UserInitiatedInteractions, Generations: u.CodeGenerations, Acceptances: u.CodeAcceptances,
			LOCSuggestedAdd: u.LOCSuggestedToAdd, LOCSuggestedDelete: u.LOCSuggestedToDelete, LOCAdded: u.LOCAdded, LOCDeleted: u.LOCDeleted,
			Agent: u.UsedAgent, Chat: u.UsedChat, CLI: u.UsedCLI, ReviewActive: u.UsedCodeReviewActive,
			ReviewPassive: u.UsedCodeReviewPassive, Coding: u.UsedCodingAgent, Credits: u.AICreditsUsed})
	}
	slices.SortFunc(out, func(a, b copilotUserRow) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), cmp.Compare(a.UserID, b.UserID))
	})
	return out
}

type copilotBreakdownRow struct {
	Day, Dimension, Key1, Key2                                string
	Interactions, Generations, Acceptances                    *int64
	LOCSuggestedAdd, LOCSuggestedDelete, LOCAdded, LOCDeleted *int64
}

func copilotStoredBreakdowns(t testing.TB, s *postgres.Store, scope metrics.CopilotScope) []copilotBreakdownRow {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT day::text, dimension, key1, key2, user_initiated_interactions, code_generations,
		code_acceptances, loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted
		FROM copilot_breakdowns WHERE enterprise_id = 'ent1' AND scope_type = $1 AND scope = $2
		ORDER BY day, dimension COLLATE "C", key1 COLLATE "C", key2 COLLATE "C"`, scope.Type, scope.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []copilotBreakdownRow
	for rows.Next() {
		var r copilotBreakdownRow
		if err := rows.Scan(&r.Day, &r.Dimension, &r.Key1, &r.Key2, &r.Interactions, &r.Generations, &r.Acceptances,
			&r.LOCSuggestedAdd, &r.LOCSuggestedDelete, &r.LOCAdded, &r.LOCDeleted); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func copilotWantBreakdowns(days []metrics.CopilotDay) []copilotBreakdownRow {
	var out []copilotBreakdownRow
	for _, d := range days {
		for _, b := range d.Breakdowns {
			out = append(out, copilotBreakdownRow{Day: copilotDate(d.Day), Dimension: b.Dimension, Key1: b.Key1, Key2: b.Key2,
				Interactions: b.UserInitiatedInteractions, Generations: b.CodeGenerations, Acceptances: b.CodeAcceptances,
				LOCSuggestedAdd: b.LOCSuggestedToAdd, LOCSuggestedDelete: b.LOCSuggestedToDelete, LOCAdded: b.LOCAdded, LOCDeleted: b.LOCDeleted})
		}
	}
	slices.SortFunc(out, func(a, b copilotBreakdownRow) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.Dimension, b.Dimension),
			strings.Compare(a.Key1, b.Key1), strings.Compare(a.Key2, b.Key2))
	})
	return out
}

// checkAgainstGitHub compares everything stored for the days from..to with what the
// simulator holds at its now.
func (e *copilotEnv) checkAgainstGitHub(from, to time.Time) {
	t := e.t
	t.Helper()
	truth, err := e.sim.CopilotTruth("ent1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	inWindow := func(rowsDay string) bool { return rowsDay >= copilotDate(from) && rowsDay <= copilotDate(to) }
	for _, scope := range copilotScopes {
		if len(truth.Days[scope]) == 0 {
			t.Fatalf("the simulator has no reports of %v between %s and %s", scope, copilotDate(from), copilotDate(to))
		}
		days := slices.DeleteFunc(copilotStoredDays(t, e.store, scope), func(r copilotDailyRow) bool { return !inWindow(r.Day) })
		if diff := gocmp.Diff(copilotWantDays(truth.Days[scope]), days); diff != "" {
			t.Errorf("daily metrics of %v (-github +stored):\n%s", scope, diff)
		}
		users := slices.DeleteFunc(copilotStoredUsers(t, e.store, scope), func(r copilotUserRow) bool { return !inWindow(r.Day) })
		if diff := gocmp.Diff(copilotWantUsers(truth.UserDays[scope]), users); diff != "" {
			t.Errorf("user metrics of %v (-github +stored):\n%s", scope, diff)
		}
		bds := slices.DeleteFunc(copilotStoredBreakdowns(t, e.store, scope), func(r copilotBreakdownRow) bool { return !inWindow(r.Day) })
		if diff := gocmp.Diff(copilotWantBreakdowns(truth.Days[scope]), bds); diff != "" {
			t.Errorf("breakdowns of %v (-github +stored):\n%s", scope, diff)
		}
	}
}

// checkSeats compares today's seat snapshot with the simulator's listing.
func (e *copilotEnv) checkSeats() {
	t := e.t
	t.Helper()
	truth, err := e.sim.CopilotTruth("ent1", e.sim.Now(), e.sim.Now())
	if err != nil {
		t.Fatal(err)
	}
	today := copilotDate(e.sim.Now())
	for _, scope := range copilotScopes {
		want := metrics.DedupeSeats(truth.Seats[scope])
		var wantKeys []string
		unassigned := 0
		for _, s := range want {
			if s.AssigneeID == 0 {
				unassigned++
				wantKeys = append(wantKeys, "unassigned:"+strconv.Itoa(unassigned))
				continue
			}
			wantKeys = append(wantKeys, strconv.FormatInt(s.AssigneeID, 10))
		}
		slices.Sort(wantKeys)
		var keys []string
		if err := e.store.Pool().QueryRow(t.Context(), `SELECT coalesce(array_agg(seat_key ORDER BY seat_key), '{}') FROM copilot_seats
			WHERE scope_type = $1 AND scope = $2 AND snapshot_date = $3`, scope.Type, scope.Name, today).Scan(&keys); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(wantKeys, keys); diff != "" {
			t.Errorf("seats of %v (-github +stored):\n%s", scope, diff)
		}
		wantTotal, wantActive := metrics.SeatCounts(want, e.sim.Now())
		var total, active, listed int64
		if err := e.store.Pool().QueryRow(t.Context(), `SELECT seats_total, seats_active_30d, seats_listed FROM copilot_seat_snapshots
			WHERE scope_type = $1 AND scope = $2 AND snapshot_date = $3`, scope.Type, scope.Name, today).Scan(&total, &active, &listed); err != nil {
			t.Fatal(err)
		}
		if total != wantTotal || active != wantActive || listed != int64(len(truth.Seats[scope])) {
			t.Errorf("seat snapshot of %v = %d seats, %d active, %d listed; want %d, %d, %d", scope, total, active, listed,
				wantTotal, wantActive, len(truth.Seats[scope]))
		}
	}
}

func TestCopilotFirstRunStoresWhatGitHubHas(t *testing.T) {
	missing := copilotNow.Truncate(24*time.Hour).AddDate(0, 0, -20)
	e := newCopilotEnv(t, copilotSetup{simConfig: func(c *githubsim.Config) {
		c.Enterprises[0].TokenExpiresAt = copilotNow.AddDate(0, 0, 5)
	}})
	a := e.collect(`{"enterprise":"ent1"}`)

	today := copilotNow.Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -28), today.AddDate(0, 0, -1)
	e.checkAgainstGitHub(from, to)
	e.checkSeats()
	// The check above means something only if the enterprise listing repeats users and
	// has a seat without assignee.
	truth, err := e.sim.CopilotTruth("ent1", today, today)
	if err != nil {
		t.Fatal(err)
	}
	listing := truth.Seats[copilotEntScope]
	if len(metrics.DedupeSeats(listing)) == len(listing) || !slices.ContainsFunc(listing, func(s metrics.CopilotSeat) bool { return s.AssigneeID == 0 }) {
		t.Fatal("the simulated enterprise listing has no repeated user or no seat without assignee")
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_seats WHERE scope_type = 'enterprise' AND seat_key LIKE 'unassigned:%'`); n != 1 {
		t.Errorf("%d unassigned enterprise seats stored, want 1", n)
	}
	if a.Records == 0 || a.APICalls == 0 {
		t.Errorf("answer counts %d records, %d API calls", a.Records, a.APICalls)
	}

	// Every day of the back-fill was asked for, each report of each scope: the day GitHub
	// answered 204 for and yesterday (not generated yet) are recorded as no report.
	for _, scope := range copilotScopes {
		for _, report := range []string{"aggregate", "users", "user_teams"} {
			var days []string
			if err := e.store.Pool().QueryRow(t.Context(), `SELECT array_agg(day::text ORDER BY day) FROM copilot_report_fetches
				WHERE scope_type = $1 AND scope = $2 AND report = $3 AND status = 'no_report'`, scope.Type, scope.Name, report).Scan(&days); err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff([]string{copilotDate(missing), copilotDate(to)}, days); diff != "" {
				t.Errorf("%v %s days without a report (-want +got):\n%s", scope, report, diff)
			}
			if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches WHERE scope_type = $1 AND scope = $2 AND report = $3`,
				scope.Type, scope.Name, report); n != 28 {
				t.Errorf("%v %s: %d days fetched, want 28", scope, report, n)
			}
		}
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_daily_metrics WHERE day = $1`, missing); n != 0 {
		t.Errorf("the 204 day has %d daily rows", n)
	}

	// The per-user reports came in several NDJSON shards.
	if n := copilotCount(t, e.store, `SELECT max(shards) FROM copilot_report_fetches WHERE report = 'users' AND scope_type = 'enterprise'`); n < 3 {
		t.Errorf("the enterprise users report had at most %d shards; the test wants several", n)
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_user_teams`); n == 0 {
		t.Error("no user-team rows")
	}
	if n, m := copilotCount(t, e.store, `SELECT count(*) FROM copilot_user_teams`),
		copilotCount(t, e.store, `SELECT count(*) FROM copilot_raw_records WHERE report = 'user_teams'`); n != m {
		t.Errorf("%d user-team rows but %d raw user-team records", n, m)
	}

	// Records GitHub grew a field we do not model: the typed rows matched above, and the
	// raw record keeps the field for later.
	newFieldDay := today.AddDate(0, 0, -10)
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_raw_records WHERE report = 'aggregate' AND day >= $1
		AND payload ? 'totals_by_agent_skill'`, newFieldDay); n == 0 {
		t.Error("the raw aggregate records lost the unknown field totals_by_agent_skill")
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_raw_records WHERE report = 'aggregate' AND day < $1
		AND payload ? 'totals_by_agent_skill'`, newFieldDay); n != 0 {
		t.Errorf("%d raw records before the field appeared carry it", n)
	}
	if n, m := copilotCount(t, e.store, `SELECT count(*) FROM copilot_user_metrics`),
		copilotCount(t, e.store, `SELECT count(*) FROM copilot_raw_records WHERE report = 'users'`); n != m {
		t.Errorf("%d user rows but %d raw user records", n, m)
	}

	// Org figures do not add up to the enterprise's: a user counts in each org, once in
	// the enterprise. Each scope is stored as GitHub reports it.
	var entDAU, orgDAU int64
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT sum(daily_active_users) FILTER (WHERE scope_type = 'enterprise'),
		sum(daily_active_users) FILTER (WHERE scope_type = 'organization') FROM copilot_daily_metrics`).Scan(&entDAU, &orgDAU); err != nil {
		t.Fatal(err)
	}
	if orgDAU <= entDAU {
		t.Errorf("sum of org daily active users %d <= enterprise %d; the simulated users in two orgs should copilotCount twice", orgDAU, entDAU)
	}

	// Days before the first seat snapshot have no seat figures: none is invented.
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_daily_metrics WHERE seats_total IS NOT NULL`); n != 0 {
		t.Errorf("%d daily rows have seat figures without a snapshot of their day", n)
	}

	// The token went to the API host with every request and never to the download host.
	var downloads int
	for _, r := range e.sim.Requests() {
		switch r.Host {
		case githubsim.HostDownload:
			downloads++
			if r.Authorization || r.Token != "" {
				t.Errorf("download request %s carried a credential", r.Path)
			}
		case githubsim.HostAPI:
			if r.Token != e.token {
				t.Errorf("API request %s went without the token", r.Path)
			}
		}
	}
	if downloads < 3*3*26 {
		t.Errorf("%d downloads; want every shard of every report day", downloads)
	}
	if !slices.ContainsFunc(a.Warnings, func(w string) bool { return strings.Contains(w, "expires on") }) {
		t.Errorf("warnings %q lack the token expiry", a.Warnings)
	}
	if !slices.Contains(e.events.names, "TokenExpiring") {
		t.Errorf("events %v lack TokenExpiring", e.events.names)
	}
	if strings.Contains(a.raw, e.token) {
		t.Error("the answer contains the token")
	}
}

func TestCopilotRerunRewritesNothing(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{})
	e.collect(`{"enterprise":"ent1"}`)
	before := copilotRowVersions(t, e.store)

	e.clock.advance(time.Hour)
	e.sim.ResetRequests()
	a := e.collect(`{"enterprise":"ent1"}`)
	if diff := gocmp.Diff(before, copilotRowVersions(t, e.store)); diff != "" {
		t.Errorf("a second run the same day rewrote rows (-before +after):\n%s", diff)
	}
	// The last three days of each report of each scope, nothing else: the seat snapshot
	// of the day exists already.
	if want := int64(3 * 3 * 3); a.APICalls != want {
		t.Errorf("the second run made %d API requests, want %d", a.APICalls, want)
	}
	if a.Records == 0 {
		t.Error("the second run confirmed no records")
	}

	// A re-collection of a window (which also retakes the seat snapshot) finds nothing new.
	since := copilotDate(copilotNow.AddDate(0, 0, -12))
	e.collect(`{"enterprise":"ent1","since":"` + since + `"}`)
	if diff := gocmp.Diff(before, copilotRowVersions(t, e.store)); diff != "" {
		t.Errorf("re-collecting since %s rewrote rows (-before +after):\n%s", since, diff)
	}
}

func TestCopilotNextDaysCompleteTheReports(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{})
	e.collect(`{"enterprise":"ent1"}`)
	snapshotDay := copilotNow.Truncate(24 * time.Hour)

	// Two days on: the reports of the last days have grown (they were not final), the
	// report of the first run's date exists and takes that day's seat snapshot.
	e.sim.Advance(48 * time.Hour)
	e.clock.advance(48 * time.Hour)
	e.collect(`{"enterprise":"ent1"}`)
	today := e.sim.Now().Truncate(24 * time.Hour)
	e.checkAgainstGitHub(snapshotDay.AddDate(0, 0, -28), today.AddDate(0, 0, -1))
	e.checkSeats()

	for _, scope := range copilotScopes {
		var total, active, wantTotal, wantActive *int64
		if err := e.store.Pool().QueryRow(t.Context(), `SELECT d.seats_total, d.seats_active_30d, s.seats_total, s.seats_active_30d
			FROM copilot_daily_metrics d JOIN copilot_seat_snapshots s
			  ON (s.enterprise_id, s.scope_type, s.scope, s.snapshot_date) = (d.enterprise_id, d.scope_type, d.scope, d.day)
			WHERE d.scope_type = $1 AND d.scope = $2 AND d.day = $3`, scope.Type, scope.Name, snapshotDay).Scan(&total, &active, &wantTotal, &wantActive); err != nil {
			t.Fatalf("%v: the day of the first snapshot: %v", scope, err)
		}
		if total == nil || *total != *wantTotal || active == nil || *active != *wantActive || *wantTotal == 0 {
			t.Errorf("%v seat figures of %s = %v, %v; want the snapshot's %d, %d", scope, copilotDate(snapshotDay), total, active, *wantTotal, *wantActive)
		}
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_daily_metrics WHERE seats_total IS NOT NULL`); n != len(copilotScopes) {
		t.Errorf("%d daily rows have seat figures, want one per scope (the snapshot day)", n)
	}
}

func TestCopilotBackfillWithSince(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{})
	e.collect(`{"enterprise":"ent1"}`)
	today := copilotNow.Truncate(24 * time.Hour)
	since, until := today.AddDate(0, 0, -90), today.AddDate(0, 0, -60)
	a := e.collect(fmt.Sprintf(`{"enterprise":"ent1","since":%q,"until":%q}`, copilotDate(since), copilotDate(until)))
	e.checkAgainstGitHub(since, until)
	if want := int64(3*3*31) + 3; a.APICalls < want { // 31 days of 3 reports of 3 scopes, and the seats retaken
		t.Errorf("the back-fill made %d API requests, want at least %d", a.APICalls, want)
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_daily_metrics WHERE day > $1 AND day < $2`, until, today.AddDate(0, 0, -28)); n != 0 {
		t.Errorf("%d days between the back-fill and the first run were collected", n)
	}
	// The back-fill did not move the watermarks back: the next daily run asks for the
	// last three days only.
	e.clock.advance(time.Hour)
	if a := e.collect(`{"enterprise":"ent1"}`); a.APICalls != 3*3*3 {
		t.Errorf("the daily run after the back-fill made %d API requests, want %d", a.APICalls, 3*3*3)
	}
}

// collectAll calls with budget until done, following cursors; it returns the calls.
func (e *copilotEnv) collectAll(budget int) []copilotAnswer {
	e.t.Helper()
	var answers []copilotAnswer
	body := fmt.Sprintf(`{"enterprise":"ent1","budget_seconds":%d}`, budget)
	for range 500 {
		status, a := e.call(body)
		if status != http.StatusOK || a.Status != pipeline.StatusSucceeded {
			e.t.Fatalf("call %d: %d %s", len(answers)+1, status, a.raw)
		}
		answers = append(answers, a)
		if a.Done {
			return answers
		}
		if a.Cursor == nil || *a.Cursor == "" {
			e.t.Fatalf("call %d: done=false without a cursor: %s", len(answers), a.raw)
		}
		body = fmt.Sprintf(`{"enterprise":"ent1","run_id":%d,"budget_seconds":%d,"cursor":%q}`, a.RunID, budget, *a.Cursor)
	}
	e.t.Fatal("collect_copilot never finished")
	return nil
}

func TestCopilotCursorAndFaultsGiveTheSameRows(t *testing.T) {
	setup := copilotSetup{enterprise: func(e *config.Enterprise) { e.CopilotBackfillDays = 7 }}
	clean := newCopilotEnv(t, setup)
	cleanAnswer := clean.collect(`{"enterprise":"ent1"}`)
	want := copilotDump(t, clean.store)

	t.Run("budget cut and resumed by cursor", func(t *testing.T) {
		e := newCopilotEnv(t, setup)
		e.clock.tick = 10 * time.Second // every unit takes 10 s of the budget
		answers := e.collectAll(60)
		if len(answers) < 5 {
			t.Fatalf("%d calls; the budget should have cut the collection several times", len(answers))
		}
		if diff := gocmp.Diff(want, copilotDump(t, e.store)); diff != "" {
			t.Errorf("resumed collection differs from a single run (-single +resumed):\n%s", diff)
		}
		// No unit was done twice: each report day was asked for once.
		seen := map[string]int{}
		for _, r := range e.sim.Requests() {
			if r.Host == githubsim.HostAPI && strings.Contains(r.Path, "/reports/") {
				seen[r.Path+"?"+r.Query]++
			}
		}
		for req, n := range seen {
			if n != 1 {
				t.Errorf("%s asked %d times", req, n)
			}
		}
		if len(seen) != 3*3*7 {
			t.Errorf("%d report requests, want %d", len(seen), 3*3*7)
		}
	})

	t.Run("5xx, resets and truncated bodies on both hosts", func(t *testing.T) {
		e := newCopilotEnv(t, setup)
		e.sim.SetFaults(githubsim.Faults{ServerErrors: 0.15, Truncations: 0.15, Resets: 0.05, MaxConsecutive: 1})
		a := e.collect(`{"enterprise":"ent1"}`)
		faulted := map[githubsim.Host]int{}
		for _, r := range e.sim.Requests() {
			if r.Fault != "" {
				faulted[r.Host]++
			}
		}
		if faulted[githubsim.HostAPI] == 0 || faulted[githubsim.HostDownload] == 0 {
			t.Fatalf("faults injected per host: %v; want some on both", faulted)
		}
		if diff := gocmp.Diff(want, copilotDump(t, e.store)); diff != "" {
			t.Errorf("collection under faults differs from a clean one (-clean +faulted):\n%s", diff)
		}
		if a.Records != cleanAnswer.Records {
			t.Errorf("records = %d under faults, %d clean", a.Records, cleanAnswer.Records)
		}
	})

	t.Run("secondary rate limits on the API host", func(t *testing.T) {
		e := newCopilotEnv(t, setup)
		e.sim.SetFaults(githubsim.Faults{SecondaryLimits: 0.2, Hosts: []githubsim.Host{githubsim.HostAPI}, MaxConsecutive: 1})
		// A limit without Retry-After costs a minute or more of the budget, so the
		// collection takes several calls.
		e.collectAll(150)
		limited := 0
		for _, r := range e.sim.Requests() {
			if r.Fault == githubsim.FaultSecondaryLimit {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("no secondary limit was injected")
		}
		if diff := gocmp.Diff(want, copilotDump(t, e.store)); diff != "" {
			t.Errorf("collection under secondary limits differs from a clean one (-clean +limited):\n%s", diff)
		}
	})
}

func TestCopilotGitHubDown(t *testing.T) {
	t.Run("no progress: 503", func(t *testing.T) {
		e := newCopilotEnv(t, copilotSetup{})
		e.sim.SetFaults(githubsim.Faults{ServerErrors: 1, Hosts: []githubsim.Host{githubsim.HostAPI}})
		status, a := e.call(`{"enterprise":"ent1"}`)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("status %d %s, want 503", status, a.raw)
		}
		if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches`) + copilotCount(t, e.store, `SELECT count(*) FROM copilot_seats`); n != 0 {
			t.Errorf("%d rows written", n)
		}
	})

	t.Run("after progress: a cursor, then the rest", func(t *testing.T) {
		e := newCopilotEnv(t, copilotSetup{enterprise: func(e *config.Enterprise) { e.CopilotBackfillDays = 5 }})
		e.sim.SetFaults(githubsim.Faults{ServerErrors: 1, PathPrefixes: []string{"/orgs/contoso-data/copilot/metrics"}})
		status, a := e.call(`{"enterprise":"ent1"}`)
		if status != http.StatusOK || a.Done || a.Cursor == nil {
			t.Fatalf("status %d %s; want 200, done=false with a cursor", status, a.raw)
		}
		if !slices.ContainsFunc(a.Warnings, func(w string) bool { return strings.Contains(w, "contoso-data") }) {
			t.Errorf("warnings %q do not name the org GitHub failed on", a.Warnings)
		}
		if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches WHERE scope_type = 'enterprise'`); n != 3*5 {
			t.Errorf("%d enterprise report days saved before the failure, want 15", n)
		}
		e.sim.SetFaults(githubsim.Faults{})
		a = e.collect(fmt.Sprintf(`{"enterprise":"ent1","run_id":%d,"cursor":%q}`, a.RunID, *a.Cursor))
		if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches`); n != 3*3*5 {
			t.Errorf("%d report days after resuming, want 45", n)
		}
	})
}

func TestCopilotPolicyDisabledOrgIsSkipped(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{
		simConfig:  func(c *githubsim.Config) { c.Enterprises[0].Orgs[1].CopilotPolicyDisabled = true }, // contoso-data
		enterprise: func(e *config.Enterprise) { e.CopilotBackfillDays = 5 },
	})
	status, a := e.call(`{"enterprise":"ent1"}`)
	if status != http.StatusOK || !a.Done || a.Status != pipeline.StatusPartial {
		t.Fatalf("status %d %s; want 200, done, partial", status, a.raw)
	}
	if !slices.ContainsFunc(a.Warnings, func(w string) bool {
		return strings.Contains(w, "organization contoso-data") && strings.Contains(w, "Copilot usage metrics\" policy")
	}) {
		t.Errorf("warnings %q do not name the org and the fix", a.Warnings)
	}
	if !strings.Contains(a.Error, "contoso-data") {
		t.Errorf("error %q does not name the org", a.Error)
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches WHERE scope = 'contoso-data'`); n != 0 {
		t.Errorf("%d report days of the refused org", n)
	}
	for _, scope := range []string{"contoso", "contoso-web"} {
		if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches WHERE scope = $1`, scope); n != 3*5 {
			t.Errorf("%s: %d report days, want 15", scope, n)
		}
	}
	// Only one refused request: the org's other reports and days were not asked for.
	refused := 0
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusForbidden {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d refused requests, want 1", refused)
	}
}

func TestCopilotTokenRefused(t *testing.T) {
	bad := "fake-token-notTheRightToken"
	e := newCopilotEnv(t, copilotSetup{token: bad})
	status, a := e.call(`{"enterprise":"ent1"}`)
	// Retrying cannot help: the call ends failed for good (200, status failed, done).
	if status != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("status %d %s; want 200, failed, done", status, a.raw)
	}
	if !strings.Contains(a.Error, "refused the token") || strings.Contains(a.raw, bad) {
		t.Errorf("error %q: want the refusal named, never the token", a.Error)
	}
	if !slices.Contains(e.events.names, "TokenRefused") {
		t.Errorf("events %v lack TokenRefused", e.events.names)
	}
	if n := copilotCount(t, e.store, `SELECT count(*) FROM copilot_report_fetches`) + copilotCount(t, e.store, `SELECT count(*) FROM copilot_seats`); n != 0 {
		t.Errorf("%d rows written", n)
	}
}

// A token that cannot be one (two values pasted into the secret) fails the call for
// good, naming the secret to fix; nothing is sent to GitHub and nothing is retried.
func TestCopilotUnusableTokenFailsForGoodNamingTheSecret(t *testing.T) {
	bad := "fake-token-first\nfake-token-second"
	e := newCopilotEnv(t, copilotSetup{token: bad})
	e.sim.ResetRequests()
	status, a := e.call(`{"enterprise":"ent1"}`)
	if status != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("status %d %s; want 200, failed, done", status, a.raw)
	}
	if !strings.Contains(a.Error, `secret "github-pat-ent1"`) || strings.Contains(a.raw, "fake-token-first") {
		t.Errorf("error %q: want the secret named, never the token", a.Error)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests reached GitHub", n)
	}
}

// Report links to a host the enterprise does not allow are not fetched: the call fails
// for good, naming the host and the option to change.
func TestCopilotDownloadHostNotAllowedFailsForGood(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{enterprise: func(ent *config.Enterprise) {
		ent.CopilotDownloadHosts = []string{"copilot-reports.github.com"}
	}})
	e.sim.ResetRequests()
	status, a := e.call(`{"enterprise":"ent1"}`)
	if status != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("status %d %s; want 200, failed, done", status, a.raw)
	}
	if !strings.Contains(a.Error, "127.0.0.1 is not an allowed report host") || !strings.Contains(a.Error, "copilot_download_hosts") {
		t.Errorf("error %q: want the host and the option named", a.Error)
	}
	for _, r := range e.sim.Requests() {
		if r.Host == githubsim.HostDownload {
			t.Errorf("the download host was asked for %s", r.Path)
		}
	}
}

// A report record beyond the client's limit fails the call for good, naming the limit:
// it would be as large on every retry.
func TestCopilotRecordTooLargeFailsForGood(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{client: func(o *github.Options) { o.MaxRecordBytes = 200 }})
	status, a := e.call(`{"enterprise":"ent1"}`)
	if status != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("status %d %s; want 200, failed, done", status, a.raw)
	}
	if !strings.Contains(a.Error, "longer than 200 bytes") {
		t.Errorf("error %q: want the limit named", a.Error)
	}
}

func TestCopilotBadInputWritesNothing(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{})
	today := copilotNow.Truncate(24 * time.Hour)
	otherEnterprise := copilotCursorOf(t, "ent2")
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"unknown enterprise", `{"enterprise":"nope"}`, 404, "enterprise"},
		{"no enterprise", `{}`, 400, "enterprise"},
		{"impossible date", `{"enterprise":"ent1","since":"2030-02-30"}`, 400, "since"},
		{"reversed window", `{"enterprise":"ent1","since":"2030-06-10","until":"2030-06-01"}`, 400, "since"},
		{"since before the enterprise reports began", `{"enterprise":"ent1","since":"2025-09-30"}`, 400, "since"},
		{"since before the org reports began", `{"enterprise":"ent3","since":"2025-12-01"}`, 400, "since"},
		{"since more than a year back", `{"enterprise":"ent1","since":"` + copilotDate(today.AddDate(-1, 0, -1)) + `"}`, 400, "since"},
		{"since today", `{"enterprise":"ent1","since":"` + copilotDate(today) + `"}`, 400, "since"},
		{"until today", `{"enterprise":"ent1","until":"` + copilotDate(today) + `"}`, 400, "until"},
		{"until in the future", `{"enterprise":"ent1","until":"2030-07-01"}`, 400, "until"},
		{"not our cursor", `{"enterprise":"ent1","cursor":"repos:17"}`, 400, "cursor"},
		{"damaged cursor", `{"enterprise":"ent1","cursor":"copilot1.eyJ2Ijox"}`, 400, "cursor"},
		{"another enterprise's cursor", `{"enterprise":"ent1","cursor":"` + otherEnterprise + `"}`, 400, "cursor"},
	}
	for _, tc := range cases {
		status, a := e.call(tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, status, a.raw, tc.status)
			continue
		}
		var body struct{ Error string }
		_ = json.Unmarshal([]byte(a.raw), &body)
		if !strings.HasPrefix(body.Error, tc.field+":") {
			t.Errorf("%s: error %q does not name %s", tc.name, body.Error, tc.field)
		}
	}
	for _, table := range []string{"copilot_report_fetches", "copilot_seats", "copilot_seat_snapshots", "sync_watermarks", "stage_calls", "collection_runs"} {
		if n := copilotCount(t, e.store, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%s has %d rows after bad input", table, n)
		}
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests reached GitHub", n)
	}
}

// copilotCursorOf gets a genuine cursor of enterprise id from a call cut short.
func copilotCursorOf(t *testing.T, id string) string {
	t.Helper()
	e := newCopilotEnv(t, copilotSetup{enterprise: func(e *config.Enterprise) { e.ID = id }})
	e.clock.tick = time.Minute
	status, a := e.call(fmt.Sprintf(`{"enterprise":%q,"budget_seconds":180}`, id))
	if status != http.StatusOK || a.Done || a.Cursor == nil {
		t.Fatalf("wanted a call cut short: %d %s", status, a.raw)
	}
	return *a.Cursor
}

// BenchmarkCopilotDailyRun measures the API requests collect_copilot makes for the demo
// enterprise (contoso: the enterprise and two orgs, 60 Copilot users): a first run that
// back-fills 28 days, a second run the same day, and the next day's run. Run it with
//
//	go test ./internal/pipeline -run '^$' -bench CopilotDailyRun -benchtime 1x
func BenchmarkCopilotDailyRun(b *testing.B) {
	for _, userTeams := range []bool{false, true} {
		b.Run(fmt.Sprintf("user_teams=%v", userTeams), func(b *testing.B) {
			for b.Loop() {
				e := newCopilotEnv(b, copilotSetup{
					simConfig:  func(c *githubsim.Config) { c.UserShardSize = 0 }, // GitHub-like shards
					enterprise: func(e *config.Enterprise) { e.CopilotUserTeams = userTeams },
				})
				measure := func(name string, body string) {
					e.sim.ResetRequests()
					a := e.collect(body)
					var charged, notModified, downloads int
					for _, r := range e.sim.Requests() {
						switch {
						case r.Host == githubsim.HostDownload:
							downloads++
						case r.Status == http.StatusNotModified:
							notModified++
						case r.Charged:
							charged++
						}
					}
					if int64(charged+notModified) != a.APICalls {
						b.Fatalf("%s: the simulator saw %d API requests, the stage counted %d", name, charged+notModified, a.APICalls)
					}
					b.ReportMetric(float64(charged), name+"-charged")
					b.ReportMetric(float64(notModified), name+"-304")
					b.ReportMetric(float64(downloads), name+"-downloads")
					b.ReportMetric(float64(a.Records), name+"-records")
				}
				measure("first", `{"enterprise":"ent1"}`)
				e.clock.advance(time.Hour)
				measure("again", `{"enterprise":"ent1"}`)
				e.sim.Advance(24 * time.Hour)
				e.clock.advance(24 * time.Hour)
				measure("nextday", `{"enterprise":"ent1"}`)
			}
		})
	}
}
