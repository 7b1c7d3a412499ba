package github

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runsServer serves /repos/acme/api/actions/runs over a synthetic set of runs the way
// GitHub does: created=A..B filters inclusively, newest first, total_count is the
// full match count, and no more than 1,000 results can be paged to.
type runsServer struct {
	t       *testing.T
	base    func() string
	created []time.Time // index = run id - 1

	mu      sync.Mutex
	queries []string
}

func (s *runsServer) handle(w http.ResponseWriter, r *http.Request) {
	if apiPath(r) == "repos/acme/api/actions/runs/77" {
		serveJSON(s.t, w, "run.json")
		return
	}
	if apiPath(r) != "repos/acme/api/actions/runs" {
		http.NotFound(w, r)
		return
	}
	created := r.URL.Query().Get("created")
	fromS, toS, ok := strings.Cut(created, "..")
	from, err1 := time.Parse(time.RFC3339, fromS)
	to, err2 := time.Parse(time.RFC3339, toS)
	if !ok || err1 != nil || err2 != nil {
		http.Error(w, `{"message":"bad created"}`, http.StatusUnprocessableEntity)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	s.mu.Lock()
	s.queries = append(s.queries, created)
	s.mu.Unlock()

	var ids []int
	for i, at := range s.created {
		if !at.Before(from) && !at.After(to) {
			ids = append(ids, i+1)
		}
	}
	slices.SortFunc(ids, func(a, b int) int { return s.created[b-1].Compare(s.created[a-1]) })
	reachable := min(len(ids), searchCap)
	lo, hi := min((page-1)*100, reachable), min(page*100, reachable)
	var runs []map[string]any
	for _, id := range ids[lo:hi] {
		runs = append(runs, map[string]any{
			"id": id, "name": "Build", "status": "completed", "conclusion": "success",
			"created_at": s.created[id-1].Format(time.RFC3339), "head_branch": "main",
		})
	}
	if hi < reachable {
		w.Header().Set("Link", `<`+s.base()+`repos/acme/api/actions/runs?created=`+created+`&per_page=100&page=`+strconv.Itoa(page+1)+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"total_count": len(ids), "workflow_runs": runs})
}

func TestListWorkflowRunsSplitsWindowsPastTheSearchCap(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 9, 14, 0, 0, 0, 0, time.UTC)
	srv := &runsServer{t: t}
	// 2,600 runs: a busy hour with 1,800 of them, the rest spread over the day, and
	// one exactly on the window's end (excluded: the window is [from, to)).
	for i := range 1800 {
		srv.created = append(srv.created, day.Add(10*time.Hour+time.Duration(i)*2*time.Second))
	}
	for i := range 799 {
		srv.created = append(srv.created, day.Add(time.Duration(i)*108*time.Second))
	}
	srv.created = append(srv.created, day.Add(24*time.Hour))

	clock := newFakeClock()
	f := newFakeGitHub(t, clock, srv.handle)
	srv.base = f.baseURL
	c := newTestClient(t, f, nil)

	runs, err := collect(t, c.ListWorkflowRuns(t.Context(), "acme/api", day, day.Add(24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, r := range runs {
		seen[r.ID]++
		if r.RepoFullName != "acme/api" || r.Status != "completed" {
			t.Fatalf("run %+v", r)
		}
	}
	if len(seen) != 2599 {
		t.Errorf("got %d distinct runs, want 2599", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("run %d listed %d times", id, n)
		}
	}
	if seen[2600] != 0 {
		t.Error("the run created exactly at `to` was listed")
	}
	if srv.queries[0] != "2026-09-14T00:00:00Z..2026-09-14T23:59:59Z" {
		t.Errorf("first query created=%s", srv.queries[0])
	}
	if len(srv.queries) < 3 {
		t.Errorf("queries = %v, want the window split", srv.queries)
	}
}

func TestListWorkflowRunsCannotSplitOneSecond(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	srv := &runsServer{t: t}
	for range 1000 {
		srv.created = append(srv.created, at)
	}
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, srv.handle)
	srv.base = f.baseURL
	c := newTestClient(t, f, nil)
	_, err := collect(t, c.ListWorkflowRuns(t.Context(), "acme/api", at, at.Add(time.Second)))
	if err == nil || !strings.Contains(err.Error(), "within one second") {
		t.Errorf("err = %v, want the unsplittable window reported", err)
	}
}

func TestListWorkflowRunsRejectsAnEmptyWindow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) { t.Error("unexpected request") })
	c := newTestClient(t, f, nil)
	at := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	if _, err := collect(t, c.ListWorkflowRuns(t.Context(), "acme/api", at, at)); err == nil {
		t.Error("no error for from == to")
	}
}

func TestGetWorkflowRun(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := &runsServer{t: t}
	f := newFakeGitHub(t, clock, srv.handle)
	c := newTestClient(t, f, nil)
	run, err := c.GetWorkflowRun(t.Context(), "acme/api", 77)
	if err != nil {
		t.Fatal(err)
	}
	if run.ID != 30433642 || run.WorkflowID != 159038 || run.RunAttempt != 2 || run.ActorLogin != "octocat" ||
		run.Path != ".github/workflows/build.yml@main" || !run.Completed() || run.Conclusion != "success" ||
		!run.RunStartedAt.Equal(time.Date(2026, 9, 14, 10, 0, 30, 0, time.UTC)) {
		t.Errorf("run = %+v", run)
	}
}
