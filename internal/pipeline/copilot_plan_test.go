package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

func planDay(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func planDayPtr(s string) *time.Time { d := planDay(s); return &d }

var (
	planEnt = metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "contoso"}
	planOrg = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "contoso-web"}
)

func planRequest(now string, e config.Enterprise) Request {
	return Request{Enterprise: &e, Now: planDay(now).Add(6 * time.Hour), Shards: 1}
}

func TestCopilotWindow(t *testing.T) {
	ent := config.Enterprise{ID: "ent1", Slug: "contoso", Orgs: []string{"contoso-web"}, CopilotBackfillDays: 28}
	cases := []struct {
		name         string
		now          string
		backfill     int
		since, until string
		scope        metrics.CopilotScope
		mark         string
		first        string // the oldest day fetched, "" = unknown
		from, to     string // "" = empty window
	}{
		{name: "first run back-fills 28 days", now: "2026-09-15", scope: planEnt, from: "2026-08-18", to: "2026-09-14"},
		{name: "default back-fill when unset", now: "2026-09-15", backfill: -1, scope: planOrg, from: "2026-08-18", to: "2026-09-14"},
		{name: "first run stops at the enterprise floor", now: "2025-10-20", scope: planEnt, from: "2025-10-10", to: "2025-10-19"},
		{name: "first run stops at the org floor", now: "2026-01-05", scope: planOrg, from: "2025-12-12", to: "2026-01-04"},
		{name: "enterprise reports go further back than org ones", now: "2026-01-05", scope: planEnt, from: "2025-12-08", to: "2026-01-04"},
		{name: "never more than a year back", now: "2027-03-01", backfill: 365, scope: planEnt, from: "2026-03-01", to: "2027-02-28"},
		{name: "the last three days again", now: "2026-09-15", scope: planEnt, mark: "2026-09-14", from: "2026-09-12", to: "2026-09-14"},
		{name: "a week missed", now: "2026-09-15", scope: planOrg, mark: "2026-09-07", from: "2026-09-05", to: "2026-09-14"},
		{name: "a cut-off first collection goes on where it stopped", now: "2026-09-15", scope: planEnt, mark: "2026-08-19", first: "2026-08-18", from: "2026-08-18", to: "2026-09-14"},
		{name: "days fetched before are fetched again", now: "2026-09-15", scope: planEnt, mark: "2026-09-14", first: "2026-08-18", from: "2026-09-12", to: "2026-09-14"},
		{name: "since overrides the watermark", now: "2026-09-15", scope: planEnt, mark: "2026-09-14", since: "2026-05-01", from: "2026-05-01", to: "2026-09-14"},
		{name: "since before the org floor is clamped for orgs", now: "2026-09-15", scope: planOrg, since: "2025-11-01", from: "2025-12-12", to: "2026-09-14"},
		{name: "until ends the window", now: "2026-09-15", scope: planEnt, since: "2026-05-01", until: "2026-05-10", from: "2026-05-01", to: "2026-05-10"},
		{name: "until before the watermark window", now: "2026-09-15", scope: planEnt, mark: "2026-09-14", until: "2026-09-01"},
		{name: "until before the org floor", now: "2026-01-05", scope: planOrg, since: "2025-11-01", until: "2025-11-30"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ent
			if tc.backfill != 0 {
				e.CopilotBackfillDays = max(tc.backfill, 0)
			}
			req := planRequest(tc.now, e)
			if tc.since != "" {
				req.Since = planDayPtr(tc.since)
			}
			if tc.until != "" {
				req.Until = planDayPtr(tc.until)
			}
			p := &copilotPlan{scopes: copilotScopes(&e), backfillDays: e.CopilotBackfillDays, runDate: planDay(tc.now), since: req.Since, until: req.Until}
			if p.backfillDays < 1 {
				p.backfillDays = config.DefaultCopilotBackfill
			}
			marks := map[postgres.CopilotStream]time.Time{}
			if tc.mark != "" {
				marks[postgres.CopilotStream{Scope: tc.scope, Report: postgres.CopilotReportUsers}] = planDay(tc.mark)
			}
			if tc.first != "" {
				p.firstDays = map[postgres.CopilotStream]time.Time{{Scope: tc.scope, Report: postgres.CopilotReportUsers}: planDay(tc.first)}
			}
			from, to, ok := p.window(tc.scope, copilotStepUsers, marks)
			if tc.from == "" {
				if ok {
					t.Errorf("window = %s..%s, want empty", from.Format(time.DateOnly), to.Format(time.DateOnly))
				}
				return
			}
			if !ok || !from.Equal(planDay(tc.from)) || !to.Equal(planDay(tc.to)) {
				t.Errorf("window = %s..%s (%v), want %s..%s", from.Format(time.DateOnly), to.Format(time.DateOnly), ok, tc.from, tc.to)
			}
		})
	}
}

func TestCopilotValidateWindow(t *testing.T) {
	withSlug := config.Enterprise{ID: "ent1", Slug: "contoso", Orgs: []string{"contoso-web"}}
	orgsOnly := config.Enterprise{ID: "ent2", Orgs: []string{"fabrikam-apps"}}
	cases := []struct {
		name         string
		e            config.Enterprise
		now          string
		since, until string
		field        string // "" = accepted
	}{
		{"enterprise floor", withSlug, "2026-01-05", "2025-10-10", "", ""},
		{"before the enterprise floor", withSlug, "2026-01-05", "2025-10-09", "", "since"},
		{"org floor", orgsOnly, "2026-01-05", "2025-12-12", "", ""},
		{"before the org floor", orgsOnly, "2026-01-05", "2025-12-11", "", "since"},
		{"between the floors with an enterprise", withSlug, "2026-01-05", "2025-11-01", "", ""},
		{"a year back", withSlug, "2027-03-01", "2026-03-01", "", ""},
		{"more than a year back", withSlug, "2027-03-01", "2026-02-28", "", "since"},
		{"since yesterday", withSlug, "2026-09-15", "2026-09-14", "", ""},
		{"since today", withSlug, "2026-09-15", "2026-09-15", "", "since"},
		{"until yesterday", withSlug, "2026-09-15", "", "2026-09-14", ""},
		{"until today", withSlug, "2026-09-15", "", "2026-09-15", "until"},
		{"until before any report", orgsOnly, "2026-01-05", "", "2025-12-01", "until"},
	}
	stage := NewCopilotStage(CopilotOptions{})
	for _, tc := range cases {
		req := planRequest(tc.now, tc.e)
		if tc.since != "" {
			req.Since = planDayPtr(tc.since)
		}
		if tc.until != "" {
			req.Until = planDayPtr(tc.until)
		}
		err := stage.Validate(req)
		var input *InputError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &input) || input.Field != tc.field):
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	if err := stage.Validate(Request{Now: planDay("2026-01-05")}); err == nil {
		t.Error("a request without an enterprise was accepted")
	}
	if err := stage.Validate(planRequest("2026-01-05", config.Enterprise{ID: "x"})); err == nil {
		t.Error("an enterprise with nothing to collect was accepted")
	}
}

func TestCopilotCursor(t *testing.T) {
	e := config.Enterprise{ID: "ent1", Slug: "contoso", Orgs: []string{"b-org", "a-org", "b-org"}, CopilotUserTeams: true}
	req := planRequest("2026-09-15", e)
	req.Since = planDayPtr("2026-08-01")
	p, err := newCopilotPlan(req)
	if err != nil {
		t.Fatal(err)
	}
	wantScopes := []metrics.CopilotScope{planEnt, {Type: metrics.ScopeOrganization, Name: "a-org"}, {Type: metrics.ScopeOrganization, Name: "b-org"}}
	if diff := cmp.Diff(wantScopes, p.scopes); diff != "" {
		t.Fatalf("scopes (-want +got):\n%s", diff)
	}
	p.skipped, p.unreadable = []string{"organization a-org"}, 2
	next := copilotUnit{scope: 2, step: copilotStepUsers, day: planDay("2026-08-20")}
	cursor := p.cursor(next)

	// The next day, without since: the cursor carries the window and pins the run date.
	resumed := planRequest("2026-09-16", e)
	resumed.Cursor = cursor
	q, err := newCopilotPlan(resumed)
	if err != nil {
		t.Fatal(err)
	}
	if *q.resume != next || !q.runDate.Equal(planDay("2026-09-15")) || q.since == nil || !q.since.Equal(planDay("2026-08-01")) ||
		q.until != nil || q.unreadable != 2 || len(q.skipped) != 1 {
		t.Errorf("resumed plan = resume %v, run date %s, since %v, until %v, unreadable %d, skipped %v",
			*q.resume, q.runDate.Format(time.DateOnly), q.since, q.until, q.unreadable, q.skipped)
	}
	units := q.units(nil)
	if len(units) == 0 || units[0] != next {
		t.Fatalf("units start at %v, want %v", units[0], next)
	}
	for _, u := range units {
		if u.before(next) {
			t.Errorf("unit %v before the cursor's", u)
		}
	}
	// b-org: users 2026-08-20..2026-09-14 (26 days), user teams 2026-08-01..2026-09-14 (45 days).
	if len(units) != 26+45 {
		t.Errorf("%d units after the cursor, want 71", len(units))
	}

	bad := func(name string, mutate func(*Request)) {
		r := planRequest("2026-09-16", e)
		r.Cursor = cursor
		mutate(&r)
		var input *InputError
		if _, err := newCopilotPlan(r); !errors.As(err, &input) || input.Field != "cursor" {
			t.Errorf("%s: %v, want an error naming cursor", name, err)
		}
	}
	bad("another since", func(r *Request) { r.Since = planDayPtr("2026-08-02") })
	bad("an until the cursor lacks", func(r *Request) { r.Until = planDayPtr("2026-09-01") })
	bad("another enterprise", func(r *Request) { other := e; other.ID = "ent2"; r.Enterprise = &other })
	bad("org no longer configured", func(r *Request) { other := e; other.Orgs = []string{"a-org"}; r.Enterprise = &other })
	bad("from the future", func(r *Request) { r.Now = planDay("2026-09-14") })
	bad("not ours", func(r *Request) { r.Cursor = "repos:3" })
	bad("damaged", func(r *Request) { r.Cursor = cursor[:len(cursor)-4] })
	bad("unknown field", func(r *Request) {
		r.Cursor = copilotCursorPrefix + "eyJ2IjoxLCJ4Ijp0cnVlfQ" // {"v":1,"x":true}
	})
	same := planRequest("2026-09-16", e)
	same.Cursor, same.Since = cursor, planDayPtr("2026-08-01")
	if _, err := newCopilotPlan(same); err != nil {
		t.Errorf("the cursor with its own since again: %v", err)
	}
}

func TestCopilotRecordsLeaveOutWhatCannotBeRead(t *testing.T) {
	day := planDay("2026-09-14")
	users := copilotRecords{day: day, step: copilotStepUsers}
	for _, line := range []string{
		`{"user_id":1,"user_login":"mona","day":"2026-09-14","code_generation_activity_count":3,"brand_new_field":{"x":1}}`,
		`{"user_login":"ghost","day":"2026-09-14"}`,
		`{"user_id":2,"user_login":"hubot","day":"2026-09-13"}`,
		`{"user_id":3,"user_login":"octocat","day":"2026-09-14"}`,
	} {
		if err := users.add(json.RawMessage(line)); err != nil {
			t.Fatal(err)
		}
	}
	if len(users.users) != 2 || users.unreadable != 2 || users.firstProblem == nil {
		t.Errorf("users: %d kept, %d unreadable (%v); want 2 kept, 2 unreadable", len(users.users), users.unreadable, users.firstProblem)
	}
	if !strings.Contains(string(users.users[0].Raw), "brand_new_field") {
		t.Error("the raw record lost the field we do not model")
	}

	agg := copilotRecords{day: day, step: copilotStepAggregate}
	for _, line := range []string{`{"day":"2026-09-14","daily_active_users":4}`, `{"day":"2026-09-14","daily_active_users":5}`} {
		_ = agg.add(json.RawMessage(line))
	}
	var r postgres.CopilotReportDay
	agg.fill(&r)
	if !r.Available || r.Aggregate == nil || *r.Aggregate.DailyActiveUsers != 4 || agg.extraDays != 1 {
		t.Errorf("aggregate: available %v, extra %d; want the first record kept", r.Available, agg.extraDays)
	}
	empty := copilotRecords{day: day, step: copilotStepAggregate}
	_ = empty.add(json.RawMessage(`{"day":"2026-09-13"}`))
	r = postgres.CopilotReportDay{Available: true}
	empty.fill(&r)
	if r.Available || empty.unreadable != 1 {
		t.Errorf("an aggregate report without its day's record: available %v, unreadable %d", r.Available, empty.unreadable)
	}

	teams := copilotRecords{day: day, step: copilotStepUserTeams}
	for _, line := range []string{`{"user_id":1,"user_login":"mona","day":"2026-09-14","team_id":7,"slug":"web"}`, `{"user_id":1,"day":"2026-09-14"}`, `[1]`} {
		_ = teams.add(json.RawMessage(line))
	}
	if len(teams.teams) != 1 || teams.teams[0].TeamSlug != "web" || teams.unreadable != 2 {
		t.Errorf("user teams: %+v, %d unreadable", teams.teams, teams.unreadable)
	}
}

// A users report is written in batches as it is read; only the ids stay in memory, and
// the first record of a user is kept.
func TestCopilotUsersAreWrittenInBatches(t *testing.T) {
	day := planDay("2026-09-14")
	var batches []int
	var written []int64
	recs := copilotRecords{day: day, step: copilotStepUsers,
		writeUsers: func(users []metrics.CopilotUserDay) (postgres.CopilotWrite, error) {
			batches = append(batches, len(users))
			for _, u := range users {
				written = append(written, u.UserID)
			}
			return postgres.CopilotWrite{Rows: int64(len(users))}, nil
		}}
	const n = 2*copilotUserBatch + 500
	for id := n; id >= 1; id-- { // a report need not be sorted
		line := fmt.Sprintf(`{"user_id":%d,"user_login":"u%d","day":"2026-09-14"}`, id, id)
		if err := recs.add(json.RawMessage(line)); err != nil {
			t.Fatal(err)
		}
		if len(recs.users) >= copilotUserBatch {
			t.Fatalf("%d users held; want at most a batch", len(recs.users))
		}
	}
	_ = recs.add(json.RawMessage(`{"user_id":7,"user_login":"again","day":"2026-09-14"}`))
	if err := recs.flushUsers(); err != nil { // the end of the shard
		t.Fatal(err)
	}
	if fmt.Sprint(batches) != fmt.Sprint([]int{copilotUserBatch, copilotUserBatch, 500}) || len(recs.users) != 0 {
		t.Errorf("batches %v, %d held; want two full batches and the rest at the shard's end", batches, len(recs.users))
	}
	if recs.duplicates != 1 || recs.written.Rows != n {
		t.Errorf("%d duplicates, %d rows written; want 1 and %d", recs.duplicates, recs.written.Rows, n)
	}
	var r postgres.CopilotReportDay
	recs.fill(&r)
	if !r.UsersWritten || len(r.UserIDs) != n || r.UserIDs[0] != 1 || r.UserIDs[n-1] != n || r.Users != nil {
		t.Errorf("report day: written %v, %d ids; want every id, sorted, and no users held", r.UsersWritten, len(r.UserIDs))
	}

	// A failing write stops the download with its error.
	failing := copilotRecords{day: day, step: copilotStepUsers,
		writeUsers: func([]metrics.CopilotUserDay) (postgres.CopilotWrite, error) {
			return postgres.CopilotWrite{}, postgres.ErrUnavailable
		}}
	var err error
	for id := 1; id <= copilotUserBatch && err == nil; id++ {
		err = failing.add(json.RawMessage(fmt.Sprintf(`{"user_id":%d,"day":"2026-09-14"}`, id)))
	}
	if !errors.Is(err, postgres.ErrUnavailable) {
		t.Errorf("error = %v, want the store's", err)
	}
}
