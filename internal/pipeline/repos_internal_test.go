package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
)

func TestRepoShardIsStableAndSpread(t *testing.T) {
	t.Parallel()
	counts := make([]int, 4)
	for id := int64(400_000_000); id < 400_001_000; id++ {
		s := repoShard(id, 4)
		if s != repoShard(id, 4) {
			t.Fatalf("repository %d changes shard", id)
		}
		counts[s]++
	}
	for s, n := range counts {
		if n < 200 || n > 300 {
			t.Errorf("shard %d got %d of 1,000 consecutive ids; want about 250", s, n)
		}
	}
	if repoShard(123, 1) != 0 || repoShard(123, 0) != 0 {
		t.Error("a single shard must hold everything")
	}
	// Pinned: the assignment is part of the contract with running collections.
	if got := []int{repoShard(1, 3), repoShard(2, 3), repoShard(400_000_017, 3)}; !cmp.Equal(got, []int{pinnedShard(1, 3), pinnedShard(2, 3), pinnedShard(400_000_017, 3)}) {
		t.Errorf("shards %v changed", got)
	}
}

// pinnedShard is FNV-1a 64 over the id's 8 big-endian bytes, written out.
func pinnedShard(id int64, shards int) int {
	h := uint64(14695981039346656037)
	for i := 7; i >= 0; i-- {
		h ^= uint64(byte(id >> (8 * i)))
		h *= 1099511628211
	}
	return int(h % uint64(shards))
}

func TestRunsWindowEnd(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, c := range []struct {
		now  time.Time
		span time.Duration
	}{
		{from.Add(time.Hour), 32 * day},
		{from.Add(31 * day), 32 * day},
		{from.Add(32*day - 30*time.Minute), 64 * day},
		{from.Add(90 * day), 128 * day},
	} {
		if got := runsWindowEnd(from, c.now).Sub(from); got != c.span {
			t.Errorf("now %s: span %s, want %s", c.now, got, c.span)
		}
	}
}

func TestReposCursorRoundTripAndChecks(t *testing.T) {
	t.Parallel()
	s := NewReposStage(ReposOptions{})
	now := time.Date(2026, 9, 15, 10, 0, 0, 0, time.UTC)
	ent := &config.Enterprise{ID: "ent1", Orgs: []string{"acme"}}
	since := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	c, err := s.cursorFor(Request{Enterprise: ent, Shard: 1, Shards: 3, Now: now, Since: &since})
	if err != nil {
		t.Fatal(err)
	}
	c.SkipOrgs = []string{"ghost"}
	back, err := decodeReposCursor(c.encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	other := &config.Enterprise{ID: "ent2"}
	later := since.AddDate(0, 0, 1)
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"garbage", Request{Enterprise: ent, Cursor: "repos1.%%%", Shards: 3, Shard: 1}, "cursor: is not a cursor of collect_repos"},
		{"another stage's", Request{Enterprise: ent, Cursor: "20260915:2", Shards: 3, Shard: 1}, "cursor: is not a cursor of collect_repos"},
		{"another enterprise", Request{Enterprise: other, Cursor: c.encode(), Shards: 3, Shard: 1}, `cursor: belongs to enterprise "ent1", not "ent2"`},
		{"another shard", Request{Enterprise: ent, Cursor: c.encode(), Shards: 3, Shard: 2}, "cursor: belongs to shard 1 of 3, not shard 2 of 3"},
		{"another since", Request{Enterprise: ent, Cursor: c.encode(), Shards: 3, Shard: 1, Since: &later}, `cursor: belongs to a collection since "2026-08-01"`},
		{"until", Request{Enterprise: ent, Until: &since, Shards: 1}, "until: collect_repos always collects up to now"},
		{"since too old", Request{Enterprise: ent, Since: ptrTime(now.AddDate(-3, 0, 0)), Shards: 1, Now: now}, "since: 2023-09-15 is more than 730 days back"},
	} {
		tc.req.Now = now
		err := s.Validate(tc.req)
		var input *InputError
		if !errors.As(err, &input) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an input error starting %q", tc.name, err, tc.want)
		}
	}
	// The same since, or none, continues the collection.
	for _, req := range []Request{
		{Enterprise: ent, Cursor: c.encode(), Shards: 3, Shard: 1, Now: now},
		{Enterprise: ent, Cursor: c.encode(), Shards: 3, Shard: 1, Now: now, Since: &since},
	} {
		if err := s.Validate(req); err != nil {
			t.Errorf("valid cursor refused: %v", err)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestWorkflowDeploymentFromRuns(t *testing.T) {
	t.Parallel()
	c := &repoCollection{e: &config.Enterprise{DeployWorkflows: []string{"deploy.yml", ".github/workflows/release.yaml"}}}
	repo := metrics.Repository{FullName: "acme/api", DefaultBranch: "main"}
	t0 := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	run := func(path, branch, status, conclusion string) metrics.WorkflowRun {
		return metrics.WorkflowRun{ID: 7, Path: path, HeadBranch: branch, HeadSHA: "abc", Status: status, Conclusion: conclusion,
			ActorLogin: "ada", CreatedAt: t0, RunStartedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(5 * time.Minute)}
	}
	for _, tc := range []struct {
		name  string
		run   metrics.WorkflowRun
		state string // "" = no deployment
	}{
		{"successful deploy", run(".github/workflows/deploy.yml", "main", "completed", "success"), "success"},
		{"by path", run(".github/workflows/release.yaml", "main", "completed", "success"), "success"},
		{"failed deploy", run(".github/workflows/deploy.yml", "main", "completed", "failure"), "failure"},
		{"timed out", run(".github/workflows/deploy.yml", "main", "completed", "timed_out"), "failure"},
		{"cancelled", run(".github/workflows/deploy.yml", "main", "completed", "cancelled"), ""},
		{"in progress", run(".github/workflows/deploy.yml", "main", "in_progress", ""), ""},
		{"another branch", run(".github/workflows/deploy.yml", "feature/x", "completed", "success"), ""},
		{"another workflow", run(".github/workflows/ci.yml", "main", "completed", "success"), ""},
		{"same name elsewhere", run(".github/workflows/release.yml", "main", "completed", "success"), ""},
	} {
		d, ok := c.workflowDeployment(repo, tc.run)
		if ok != (tc.state != "") {
			t.Errorf("%s: deployment %v, want %v", tc.name, ok, tc.state != "")
			continue
		}
		if !ok {
			continue
		}
		want := metrics.Deployment{ID: 7, RepoFullName: "acme/api", Signal: metrics.SignalWorkflow, SHA: "abc", Ref: "main",
			Environment: tc.run.Path[strings.LastIndex(tc.run.Path, "/")+1:], Production: true, CreatorLogin: "ada", CreatedAt: t0,
			Statuses: []metrics.DeploymentStatus{{ID: 1, State: "in_progress", CreatedAt: t0.Add(time.Minute)}, {ID: 2, State: tc.state, CreatedAt: t0.Add(5 * time.Minute)}}}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestIsEmptyRepository(t *testing.T) {
	t.Parallel()
	if !isEmptyRepository(fmt.Errorf("list commits of acme/new: github answered 409 Conflict: Git Repository is empty.")) {
		t.Error("409 not recognised")
	}
	if isEmptyRepository(errors.New("list commits of acme/new: github: not found")) {
		t.Error("404 taken for an empty repository")
	}
}
