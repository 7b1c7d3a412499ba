package githubsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

type gqlAnswer struct {
	status int
	header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// gql posts a query to the simulator's GraphQL endpoint.
func gql(t testing.TB, srv *Servers, token, query string, vars map[string]any) gqlAnswer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.API.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	a := gqlAnswer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST /graphql: %d, body does not decode: %v", resp.StatusCode, err)
	}
	return a
}

func (a gqlAnswer) errorTypes() []string {
	var out []string
	for _, e := range a.Errors {
		out = append(out, e.Type)
	}
	return out
}

const gqlPullFields = `
	id fullDatabaseId databaseId number title body state isDraft createdAt updatedAt closedAt mergedAt
	additions deletions changedFiles baseRefName headRefName
	author { __typename login ... on User { databaseId } ... on Bot { databaseId } }
	mergeCommit { oid } potentialMergeCommit { oid }
	labels(first: 100) { nodes { name } }
	commits(first: 100) { totalCount nodes { commit { oid message authoredDate committedDate parents { totalCount }
		author { name email user { login } } committer { user { login } } } } }
	reviews(first: 100) { nodes { fullDatabaseId state submittedAt author { __typename login } } }`

type gqlTestActor struct {
	Typename   string `json:"__typename"`
	Login      string
	DatabaseID *int64 `json:"databaseId"` // asked of pull request authors only
}

type gqlTestPull struct {
	ID             string
	FullDatabaseID string
	DatabaseID     *int64
	Number         int
	Title, Body    string
	State          string
	IsDraft        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ClosedAt       *time.Time
	MergedAt       *time.Time
	Additions      int
	Deletions      int
	ChangedFiles   int
	BaseRefName    string
	HeadRefName    string
	Author         *gqlTestActor
	MergeCommit    *struct{ Oid string }
	PotentialMerge *struct{ Oid string } `json:"potentialMergeCommit"`
	Labels         struct{ Nodes []struct{ Name string } }
	Commits        struct {
		TotalCount int
		Nodes      []struct {
			Commit struct {
				Oid, Message  string
				AuthoredDate  time.Time
				CommittedDate time.Time
				Parents       struct{ TotalCount int }
				Author        struct {
					Name, Email string
					User        *struct{ Login string }
				}
				Committer struct{ User *struct{ Login string } }
			}
		}
	}
	Reviews struct {
		Nodes []struct {
			FullDatabaseID string
			State          string
			SubmittedAt    time.Time
			Author         *gqlTestActor
		}
	}
}

// restLogin turns a GraphQL actor back into the REST login (what a client normalises).
func restLogin(typename, login string) string {
	switch {
	case typename == "Bot" && login == "copilot-swe-agent":
		return "Copilot"
	case typename == "Bot":
		return login + "[bot]"
	}
	return login
}

// The GraphQL answers tell the same story as the REST API and Truth: every pull request
// of the enterprise, paged newest-updated first, with its size, commits, reviews and
// labels, once converted to the REST spelling of logins and states.
func TestGraphQLPullRequestsAreTheTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	truth, err := sim.Truth("acme")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]metrics.PullRequest{}
	for _, p := range truth.PullRequests {
		want[p.RepoFullName] = append(want[p.RepoFullName], p)
	}
	q := `query($owner: String!, $name: String!, $after: String) {
		rateLimit { cost remaining }
		repository(owner: $owner, name: $name) {
			pullRequests(first: 7, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
				totalCount pageInfo { hasNextPage endCursor } nodes { ...pr }
			}
		}
	}
	fragment pr on PullRequest {` + gqlPullFields + `}`
	checked := 0
	for _, repo := range truth.Repositories {
		owner, name, _ := strings.Cut(repo.FullName, "/")
		var got []metrics.PullRequest
		var updated []time.Time
		vars := map[string]any{"owner": owner, "name": name}
		for {
			a := gql(t, srv, tokenA, q, vars)
			if len(a.Errors) > 0 || a.status != http.StatusOK {
				t.Fatalf("%s: %d %+v", repo.FullName, a.status, a.Errors)
			}
			var page struct {
				Repository struct {
					PullRequests struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
						Nodes []gqlTestPull
					}
				}
			}
			if err := json.Unmarshal(a.Data, &page); err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Repository.PullRequests.Nodes {
				got = append(got, p.toPullRequest(t, repo.FullName))
				updated = append(updated, p.UpdatedAt)
			}
			if !page.Repository.PullRequests.PageInfo.HasNextPage {
				break
			}
			vars["after"] = page.Repository.PullRequests.PageInfo.EndCursor
		}
		if !slices.IsSortedFunc(updated, func(a, b time.Time) int { return b.Compare(a) }) {
			t.Errorf("%s: pull requests not ordered by updatedAt descending: %v", repo.FullName, updated)
		}
		slices.SortFunc(got, func(a, b metrics.PullRequest) int { return a.Number - b.Number })
		if diff := cmp.Diff(want[repo.FullName], got); diff != "" {
			t.Errorf("%s: GraphQL pull requests differ from the truth (-truth +graphql):\n%s", repo.FullName, diff)
		}
		checked += len(got)
	}
	if checked < 20 {
		t.Fatalf("only %d pull requests checked; the world should have more", checked)
	}
}

func (p gqlTestPull) toPullRequest(t testing.TB, fullName string) metrics.PullRequest {
	t.Helper()
	id, err := strconv.ParseInt(p.FullDatabaseID, 10, 64)
	if err != nil {
		t.Fatalf("fullDatabaseId %q: %v", p.FullDatabaseID, err)
	}
	if p.DatabaseID != nil {
		t.Errorf("pull request %d: databaseId %d is set although the id %d does not fit 32 bits", p.Number, *p.DatabaseID, id)
	}
	if prefix, dbID, ok := parseNodeID(p.ID); !ok || prefix != "PR_" || dbID != id {
		t.Errorf("pull request %d: global id %q does not decode to PR_ and %d", p.Number, p.ID, id)
	}
	out := metrics.PullRequest{
		ID: id, RepoFullName: fullName, Number: p.Number, Title: p.Title, State: "open", Draft: p.IsDraft,
		BaseRef: p.BaseRefName, HeadRef: p.HeadRefName, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		ClosedAt: p.ClosedAt, MergedAt: p.MergedAt, Additions: p.Additions, Deletions: p.Deletions,
		ChangedFiles: p.ChangedFiles, RevertsNumber: metrics.RevertedPullNumber(p.Body, fullName),
	}
	if p.State != "OPEN" {
		out.State = "closed"
	}
	if (p.State == "MERGED") != (p.MergedAt != nil) {
		t.Errorf("pull request %d: state %s with mergedAt %v", p.Number, p.State, p.MergedAt)
	}
	if p.Author != nil && p.Author.DatabaseID != nil {
		out.AuthorID = *p.Author.DatabaseID // the REST user id (issue 16 matches authors by it)
	}
	if p.Author != nil {
		out.AuthorLogin = restLogin(p.Author.Typename, p.Author.Login)
	}
	switch {
	case p.MergeCommit != nil && p.PotentialMerge == nil:
		out.MergeCommitSHA = p.MergeCommit.Oid
	case p.MergeCommit == nil && p.PotentialMerge != nil:
		out.MergeCommitSHA = p.PotentialMerge.Oid
	default:
		t.Errorf("pull request %d: want exactly one of mergeCommit %v and potentialMergeCommit %v", p.Number, p.MergeCommit, p.PotentialMerge)
	}
	for _, l := range p.Labels.Nodes {
		out.Labels = append(out.Labels, l.Name)
	}
	for _, n := range p.Commits.Nodes {
		c := n.Commit
		commit := metrics.Commit{SHA: c.Oid, AuthorName: c.Author.Name, AuthoredAt: c.AuthoredDate, CommittedAt: c.CommittedDate,
			MessageHeadline: firstLine(c.Message), ParentCount: c.Parents.TotalCount, Reverts: metrics.RevertedSHAs(c.Message)}
		if c.Author.User != nil {
			commit.AuthorLogin = c.Author.User.Login
		} else if login, ok := strings.CutSuffix(c.Author.Email, "@users.noreply.github.com"); ok {
			_, commit.AuthorLogin, _ = strings.Cut(login, "+") // a bot: GitHub links users only
		}
		if c.Committer.User != nil {
			commit.CommitterLogin = c.Committer.User.Login
		}
		out.Commits = append(out.Commits, commit)
	}
	for _, r := range p.Reviews.Nodes {
		id, err := strconv.ParseInt(r.FullDatabaseID, 10, 64)
		if err != nil {
			t.Fatalf("review fullDatabaseId %q: %v", r.FullDatabaseID, err)
		}
		rv := metrics.Review{ID: id, State: r.State, SubmittedAt: r.SubmittedAt}
		if r.Author != nil {
			rv.ReviewerLogin = restLogin(r.Author.Typename, r.Author.Login)
		}
		out.Reviews = append(out.Reviews, rv)
	}
	return out
}

// Deployments (with their statuses) and incident issues, likewise.
func TestGraphQLDeploymentsAndIncidentsAreTheTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	truth, err := sim.Truth("acme")
	if err != nil {
		t.Fatal(err)
	}
	q := `query($owner: String!, $name: String!) {
		repository(owner: $owner, name: $name) {
			deployments(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {
				totalCount pageInfo { hasNextPage }
				nodes { id databaseId commitOid environment createdAt ref { name } creator { __typename login }
					latestStatus { id state createdAt }
					statuses(first: 100) { nodes { id state createdAt } } }
			}
			incidents: issues(first: 100, labels: ["incident"]) {
				nodes { number title createdAt closedAt state stateReason(enableDuplicate: true) author { __typename login } labels(first: 10) { nodes { name } } }
			}
		}
	}`
	var gotDeployments []metrics.Deployment
	var gotIncidents []metrics.Incident
	for _, repo := range truth.Repositories {
		owner, name, _ := strings.Cut(repo.FullName, "/")
		a := gql(t, srv, tokenA, q, map[string]any{"owner": owner, "name": name})
		if len(a.Errors) > 0 {
			t.Fatalf("%s: %+v", repo.FullName, a.Errors)
		}
		var page struct {
			Repository struct {
				Deployments struct {
					TotalCount int
					PageInfo   struct{ HasNextPage bool }
					Nodes      []struct {
						ID           string
						DatabaseID   *int64
						CommitOid    string
						Environment  string
						CreatedAt    time.Time
						Ref          struct{ Name string }
						Creator      gqlTestActor
						LatestStatus *struct {
							ID    string
							State string
						}
						Statuses struct {
							Nodes []struct {
								ID        string
								State     string
								CreatedAt time.Time
							}
						}
					}
				}
				Incidents struct {
					Nodes []struct {
						Number      int
						Title       string
						CreatedAt   time.Time
						ClosedAt    *time.Time
						State       string
						StateReason *string
						Author      gqlTestActor
						Labels      struct{ Nodes []struct{ Name string } }
					}
				}
			}
		}
		if err := json.Unmarshal(a.Data, &page); err != nil {
			t.Fatal(err)
		}
		if page.Repository.Deployments.PageInfo.HasNextPage {
			t.Fatalf("%s: more than 100 deployments; the test reads one page", repo.FullName)
		}
		var deps []metrics.Deployment
		for _, d := range page.Repository.Deployments.Nodes {
			_, id, ok := parseNodeID(d.ID)
			if !ok || d.DatabaseID != nil {
				t.Fatalf("deployment %q: id does not decode, or databaseId %v set for a 64-bit id", d.ID, d.DatabaseID)
			}
			dep := metrics.Deployment{ID: id, RepoFullName: repo.FullName, Signal: metrics.SignalDeployment, SHA: d.CommitOid,
				Ref: d.Ref.Name, Environment: d.Environment, Production: productionEnv.MatchString(d.Environment),
				CreatorLogin: restLogin(d.Creator.Typename, d.Creator.Login), CreatedAt: d.CreatedAt}
			for _, s := range d.Statuses.Nodes {
				_, sid, ok := parseNodeID(s.ID)
				if !ok {
					t.Fatalf("status id %q does not decode", s.ID)
				}
				dep.Statuses = append(dep.Statuses, metrics.DeploymentStatus{ID: sid, State: strings.ToLower(s.State), CreatedAt: s.CreatedAt})
			}
			slices.Reverse(dep.Statuses) // listed newest first
			if n := len(d.Statuses.Nodes); (n == 0) != (d.LatestStatus == nil) || (n > 0 && d.LatestStatus.ID != d.Statuses.Nodes[0].ID) {
				t.Errorf("deployment %d: latestStatus %+v is not the newest of %+v", id, d.LatestStatus, d.Statuses.Nodes)
			}
			deps = append(deps, dep)
		}
		slices.Reverse(deps)
		gotDeployments = append(gotDeployments, deps...)
		for _, is := range page.Repository.Incidents.Nodes {
			inc := metrics.Incident{RepoFullName: repo.FullName, Number: is.Number, Title: is.Title,
				AuthorLogin: restLogin(is.Author.Typename, is.Author.Login), CreatedAt: is.CreatedAt, ClosedAt: is.ClosedAt}
			if is.StateReason != nil {
				inc.StateReason = strings.ToLower(*is.StateReason)
			}
			if (is.State == "CLOSED") != (is.ClosedAt != nil) {
				t.Errorf("issue %d: state %s, closedAt %v", is.Number, is.State, is.ClosedAt)
			}
			for _, l := range is.Labels.Nodes {
				inc.Labels = append(inc.Labels, l.Name)
			}
			gotIncidents = append(gotIncidents, inc)
		}
	}
	var wantDeployments []metrics.Deployment
	for _, d := range truth.Deployments {
		d.Changes = nil
		wantDeployments = append(wantDeployments, d)
	}
	if len(wantDeployments) == 0 || len(truth.Incidents) == 0 {
		t.Fatal("the test world has no deployments or no incidents")
	}
	if diff := cmp.Diff(wantDeployments, gotDeployments); diff != "" {
		t.Errorf("deployments differ from the truth (-truth +graphql):\n%s", diff)
	}
	if diff := cmp.Diff(truth.Incidents, gotIncidents); diff != "" {
		t.Errorf("incidents differ from the truth (-truth +graphql):\n%s", diff)
	}
}

// A query GitHub's schema refuses is refused (200 with errors, no data, nothing charged).
func TestGraphQLRefusesWhatTheSchemaRefuses(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	for name, c := range map[string]struct {
		query string
		vars  map[string]any
		want  string
	}{
		"unknown field":      {`{ repository(owner: "acme-web", name: "x") { pullRequests(first: 1) { nodes { sizeInLines } } } }`, nil, "Cannot query field \"sizeInLines\" on type \"PullRequest\""},
		"wrong argument":     {`{ repository(owner: "acme-web", name: "x") { pullRequests(first: "ten") { totalCount } } }`, nil, "Int cannot represent"},
		"missing argument":   {`{ repository(owner: "acme-web") { id } }`, nil, "name"},
		"undefined variable": {`query { repository(owner: $o, name: "x") { id } }`, nil, "$o"},
		"variable type":      {`query($n: Int!) { repository(owner: "acme-web", name: "x") { pullRequests(first: $n) { totalCount } } }`, map[string]any{"n": "many"}, "n"},
		"syntax":             {`{ repository(owner: "acme-web", name: "x") { id }`, nil, "Expected"},
		"enum value":         {`{ repository(owner: "acme-web", name: "x") { pullRequests(first: 1, states: [DRAFT]) { totalCount } } }`, nil, "DRAFT"},
		"mutation":           {`mutation { addStar(input: {starrableId: "x"}) { clientMutationId } }`, nil, "queries only"},
	} {
		used := sim.GraphQLRateLimitUsed(tokenA)
		a := gql(t, srv, tokenA, c.query, c.vars)
		if a.status != http.StatusOK || len(a.Errors) == 0 || string(a.Data) != "" && string(a.Data) != "null" {
			t.Errorf("%s: %d data %s errors %+v, want 200 with errors only", name, a.status, a.Data, a.Errors)
			continue
		}
		if !strings.Contains(a.Errors[0].Message, c.want) {
			t.Errorf("%s: error %q does not mention %q", name, a.Errors[0].Message, c.want)
		}
		if got := sim.GraphQLRateLimitUsed(tokenA); got != used {
			t.Errorf("%s: a refused query cost %d points", name, got-used)
		}
	}
}

// Paging and node limits as GitHub documents them.
func TestGraphQLLimits(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	heavy := `r%d: repository(owner: "acme-web", name: "x") { pullRequests(first: 100) { nodes {
		commits(first: 100) { nodes { commit { oid } } } reviews(first: 100) { nodes { state } } labels(first: 100) { nodes { name } } } } }`
	var aliases []string
	for i := range 17 { // 17 × 30,100 = 511,700 nodes
		aliases = append(aliases, strings.ReplaceAll(heavy, "%d", strconv.Itoa(i)))
	}
	for name, c := range map[string]struct{ query, wantType, wantMessage string }{
		"first over 100": {`{ repository(owner: "acme-web", name: "x") { pullRequests(first: 101) { nodes { number } } } }`,
			"EXCESSIVE_PAGINATION", "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."},
		"last under 1": {`{ repository(owner: "acme-web", name: "x") { pullRequests(last: 0) { nodes { number } } } }`, "INVALID_PAGINATION", "between 1 and 100"},
		"no boundaries": {`{ repository(owner: "acme-web", name: "x") { pullRequests { nodes { number } } } }`,
			"MISSING_PAGINATION_BOUNDARIES", "You must provide a `first` or `last` value to properly paginate the `pullRequests` connection."},
		"nodes": {"{" + strings.Join(aliases, "\n") + "}", "MAX_NODE_LIMIT_EXCEEDED",
			"This query requests up to 511,700 possible nodes which exceeds the maximum limit of 500,000."},
	} {
		a := gql(t, srv, tokenA, c.query, nil)
		if len(a.Errors) != 1 || a.Errors[0].Type != c.wantType || !strings.Contains(a.Errors[0].Message, c.wantMessage) {
			t.Errorf("%s: errors %+v, want %s %q", name, a.Errors, c.wantType, c.wantMessage)
		}
	}
	// totalCount alone needs no page size.
	a := gql(t, srv, tokenA, `{ rateLimit { cost } r: repository(owner: "acme-web", name: "x") { pullRequests { totalCount } } }`, nil)
	if len(a.Errors) != 1 || a.Errors[0].Type != "NOT_FOUND" { // the repository does not exist: but the query ran
		t.Errorf("totalCount only: %+v", a.Errors)
	}
}

// Points as GitHub computes them: one request per connection, times the page sizes of
// the connections above it; ÷ 100, rounded; at least 1. The answer's rateLimit and the
// x-ratelimit headers (resource graphql) agree, and the REST budget is untouched.
func TestGraphQLChargesPointsLikeGitHub(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	repo := sim.w.orgs["acme-web"].showcase
	vars := map[string]any{"o": "acme-web", "n": repo.name}
	for _, c := range []struct {
		selection string
		want      int
	}{
		{`pullRequests(first: 1) { nodes { number } }`, 1},
		{`pullRequests(first: 50) { nodes { commits(first: 100) { nodes { commit { oid } } } reviews(first: 100) { nodes { state } } labels(first: 10) { nodes { name } } } }`, 2}, // 151 requests
		{`pullRequests(first: 100) { nodes { commits(first: 100) { nodes { commit { oid parents { totalCount } } } } reviews(first: 100) { nodes { state } } labels(first: 10) { nodes { name } } } }`, 3},
		{`pullRequests(first: 100) { totalCount } deployments(first: 100) { nodes { statuses(first: 100) { nodes { state } } } }`, 1},    // 101 requests
		{`pullRequests(first: 100) { nodes { commits(first: 100) { nodes { commit { parents(first: 2) { nodes { oid } } } } } } }`, 101}, // 1 + 100 + 10,000
	} {
		before := sim.GraphQLRateLimitUsed(tokenA)
		restBefore := sim.rateUsed(tokenA)
		a := gql(t, srv, tokenA, `query($o: String!, $n: String!) { rateLimit { cost remaining used limit nodeCount resetAt } repository(owner: $o, name: $n) { `+c.selection+` } }`, vars)
		if len(a.Errors) > 0 {
			t.Fatalf("%s: %+v", c.selection, a.Errors)
		}
		var got struct {
			RateLimit struct{ Cost, Remaining, Used, Limit int }
		}
		if err := json.Unmarshal(a.Data, &got); err != nil {
			t.Fatal(err)
		}
		spent := sim.GraphQLRateLimitUsed(tokenA) - before
		if got.RateLimit.Cost != c.want || spent != c.want {
			t.Errorf("%s: cost %d, charged %d, want %d", c.selection, got.RateLimit.Cost, spent, c.want)
		}
		if h := a.header; h.Get("X-RateLimit-Resource") != "graphql" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(got.RateLimit.Remaining) ||
			h.Get("X-RateLimit-Limit") != "5000" || h.Get("X-RateLimit-Used") != strconv.Itoa(got.RateLimit.Used) || h.Get("X-RateLimit-Reset") == "" {
			t.Errorf("%s: headers %v, rateLimit %+v", c.selection, h, got.RateLimit)
		}
		if sim.rateUsed(tokenA) != restBefore {
			t.Errorf("%s: a GraphQL query spent the REST budget", c.selection)
		}
	}
	reqs := sim.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != http.MethodPost || last.Path != "/graphql" || !last.Charged || last.Points != 101 || last.Nodes != 30_100 {
		t.Errorf("recorded %+v, want a charged POST /graphql of 101 points and 30,100 nodes", last)
	}
}

func (s *Simulator) rateUsed(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window(token, s.now).used
}

// The primary GraphQL budget runs out as GitHub's does (200, RATE_LIMITED, remaining
// 0), and refills with the window; the points-per-minute secondary limit answers 403
// with Retry-After; over MaxConcurrent requests in flight a token is refused.
func TestGraphQLRateLimits(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.GraphQLRateLimit = 3
	cfg.GraphQLPointsPerMinute = 2
	sim, srv := newSim(t, cfg)
	q := `{ rateLimit { remaining } repository(owner: "acme-web", name: "` + sim.w.orgs["acme-web"].showcase.name + `") { pullRequests(first: 1) { totalCount } } }`
	for i := range 2 {
		if a := gql(t, srv, tokenA, q, nil); len(a.Errors) > 0 {
			t.Fatalf("query %d: %+v", i, a.Errors)
		}
	}
	a := gql(t, srv, tokenA, q, nil)
	if a.status != http.StatusForbidden || a.header.Get("Retry-After") != "60" {
		t.Fatalf("third query within a minute: %d Retry-After %q, want 403 with Retry-After 60", a.status, a.header.Get("Retry-After"))
	}
	sim.Advance(time.Minute)
	if a := gql(t, srv, tokenA, q, nil); len(a.Errors) > 0 {
		t.Fatalf("a minute later: %+v", a.Errors)
	}
	sim.Advance(time.Minute)
	a = gql(t, srv, tokenA, q, nil)
	if a.status != http.StatusOK || !slices.Equal(a.errorTypes(), []string{"RATE_LIMITED"}) || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("fourth point of three: %d %+v remaining %q, want RATE_LIMITED", a.status, a.Errors, a.header.Get("X-RateLimit-Remaining"))
	}
	sim.Advance(time.Hour)
	if a := gql(t, srv, tokenA, q, nil); len(a.Errors) > 0 {
		t.Fatalf("after the reset: %+v", a.Errors)
	}
	// The other enterprise's token has its own budget.
	if a := gql(t, srv, tokenB, `{ rateLimit { remaining } }`, nil); len(a.Errors) > 0 || a.header.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("token B: %+v remaining %q", a.Errors, a.header.Get("X-RateLimit-Remaining"))
	}

	cfg = testConfig()
	cfg.MaxConcurrent = 1
	sim, srv = newSim(t, cfg)
	if !sim.enter(tokenA) { // a request of token A still being answered
		t.Fatal("no slot free")
	}
	a = gql(t, srv, tokenA, `{ rateLimit { remaining } }`, nil)
	resp, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
	if a.status != http.StatusForbidden || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the concurrency limit: GraphQL %d, REST %d, want 403 for both", a.status, resp.StatusCode)
	}
	sim.leave(tokenA)
	if a := gql(t, srv, tokenA, `{ rateLimit { remaining } }`, nil); a.status != http.StatusOK {
		t.Errorf("with the slot free: %d", a.status)
	}
}

// Injected faults: timeouts (502 or a 200 "something went wrong"), resource limits,
// heavy queries, and the generic ones.
func TestGraphQLFaults(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	q := `{ repository(owner: "acme-web", name: "` + sim.w.orgs["acme-web"].showcase.name + `") { pullRequests(first: 10) { nodes { number commits(first: 10) { totalCount } } } } }`
	sim.SetFaults(Faults{GraphQLTimeouts: 1})
	seen := map[int]bool{}
	for range 8 {
		a := gql(t, srv, tokenA, q, nil)
		switch {
		case a.status == http.StatusBadGateway:
		case a.status == http.StatusOK && len(a.Errors) == 1 && strings.HasPrefix(a.Errors[0].Message, "Something went wrong while executing your query"):
		default:
			t.Fatalf("timeout fault: %d %+v", a.status, a.Errors)
		}
		seen[a.status] = true
	}
	if !seen[http.StatusBadGateway] || !seen[http.StatusOK] {
		t.Errorf("timeouts answered only %v", seen)
	}
	sim.SetFaults(Faults{ResourceLimits: 1})
	if a := gql(t, srv, tokenA, q, nil); !slices.Equal(a.errorTypes(), []string{"RESOURCE_LIMITS_EXCEEDED"}) {
		t.Errorf("resource limits: %d %+v", a.status, a.Errors)
	}
	sim.SetFaults(Faults{HeavyQueryNodes: 50})
	if a := gql(t, srv, tokenA, q, nil); a.status != http.StatusBadGateway { // 10 + 10 × 10 nodes
		t.Errorf("heavy query: %d, want 502", a.status)
	}
	if a := gql(t, srv, tokenA, strings.Replace(q, "first: 10) { nodes { number commits(first: 10)", "first: 4) { nodes { number commits(first: 10)", 1), nil); a.status != http.StatusOK || len(a.Errors) > 0 {
		t.Errorf("a lighter query: %d %+v", a.status, a.Errors)
	}
	sim.SetFaults(Faults{SecondaryLimits: 1, MaxConsecutive: 1})
	if a := gql(t, srv, tokenA, q, nil); a.status != http.StatusForbidden && a.status != http.StatusTooManyRequests {
		t.Errorf("secondary limit: %d", a.status)
	}
	sim.SetFaults(Faults{PrimaryLimits: 1})
	if a := gql(t, srv, tokenA, q, nil); !slices.Equal(a.errorTypes(), []string{"RATE_LIMITED"}) || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("primary limit: %d %+v", a.status, a.Errors)
	}
	// Faults limited to REST paths leave GraphQL alone.
	sim.SetFaults(Faults{ServerErrors: 1, PathPrefixes: []string{"/repos/"}})
	if a := gql(t, srv, tokenA, q, nil); a.status != http.StatusOK || len(a.Errors) > 0 {
		t.Errorf("REST-only faults: GraphQL answered %d %+v", a.status, a.Errors)
	}
	var faulted int
	for _, r := range sim.Requests() {
		if r.Fault != "" {
			faulted++
		}
	}
	if faulted < 12 {
		t.Errorf("only %d requests recorded a fault", faulted)
	}
}

// Objects are found by their global id (pull requests, deployments, issues,
// repositories) within the token's enterprise; another enterprise's are not found.
// Missing repositories answer null with a NOT_FOUND error at their path; a field the
// simulator does not serve is an error, never a silent null.
func TestGraphQLNodesNotFoundAndUnsimulatedFields(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	repo := sim.w.orgs["acme-web"].showcase
	a := gql(t, srv, tokenA, `query($n: String!) { repository(owner: "acme-web", name: $n) {
		id pullRequests(first: 3) { nodes { id number } } deployments(first: 2) { nodes { id commitOid } } issues(first: 1) { nodes { id number } } } }`,
		map[string]any{"n": repo.name})
	var page struct {
		Repository struct {
			ID           string
			PullRequests struct{ Nodes []struct{ ID string } }
			Deployments  struct{ Nodes []struct{ ID string } }
			Issues       struct{ Nodes []struct{ ID string } }
		}
	}
	if err := json.Unmarshal(a.Data, &page); err != nil || len(a.Errors) > 0 {
		t.Fatalf("%v %+v", err, a.Errors)
	}
	ids := []any{page.Repository.ID}
	for _, n := range page.Repository.PullRequests.Nodes {
		ids = append(ids, n.ID)
	}
	ids = append(ids, page.Repository.Deployments.Nodes[0].ID, page.Repository.Issues.Nodes[0].ID)
	a = gql(t, srv, tokenA, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": ids})
	var nodes struct {
		Nodes []struct {
			Typename string `json:"__typename"`
			ID       string
		}
	}
	if err := json.Unmarshal(a.Data, &nodes); err != nil || len(a.Errors) > 0 {
		t.Fatalf("%v %+v", err, a.Errors)
	}
	var gotIDs []any
	var types []string
	for _, n := range nodes.Nodes {
		gotIDs = append(gotIDs, n.ID)
		types = append(types, n.Typename)
	}
	if !slices.Equal(gotIDs, ids) || !slices.Equal(types, []string{"Repository", "PullRequest", "PullRequest", "PullRequest", "Deployment", "Issue"}) {
		t.Errorf("nodes(ids) = %v %v, want %v", gotIDs, types, ids)
	}
	// Token B cannot see them; a malformed id is not found either.
	for _, id := range []string{ids[1].(string), "PR_" + base64.RawURLEncoding.EncodeToString([]byte("nope"))} {
		a = gql(t, srv, tokenB, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
		if !slices.Equal(a.errorTypes(), []string{"NOT_FOUND"}) || !strings.Contains(string(a.Data), `"node":null`) {
			t.Errorf("node %s with the other token: %s %+v", id, a.Data, a.Errors)
		}
	}

	a = gql(t, srv, tokenA, `{ a: repository(owner: "acme-web", name: "no-such") { id } b: repository(owner: "acme-web", name: "`+repo.name+`") { name } }`, nil)
	if !slices.Equal(a.errorTypes(), []string{"NOT_FOUND"}) || len(a.Errors[0].Path) != 1 || a.Errors[0].Path[0] != "a" ||
		string(a.Data) != `{"a":null,"b":{"name":"`+repo.name+`"}}` {
		t.Errorf("missing repository beside a present one: %s %+v", a.Data, a.Errors)
	}
	a = gql(t, srv, tokenA, `{ repository(owner: "acme-web", name: "`+repo.name+`") { stargazerCount } }`, nil)
	if !slices.Equal(a.errorTypes(), []string{"NOT_SIMULATED"}) || !strings.Contains(a.Errors[0].Message, "stargazerCount") {
		t.Errorf("unsimulated field: %s %+v", a.Data, a.Errors)
	}
}

func TestNodeIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{0, 5, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 50_000_000_123_456_789} {
		prefix, got, ok := parseNodeID(nodeID("DES_", id))
		if !ok || prefix != "DES_" || got != id {
			t.Errorf("%d: %q → %q %d %v", id, nodeID("DES_", id), prefix, got, ok)
		}
	}
	// A repository id as GitHub writes it (MessagePack [0, 483330703]).
	if _, got, ok := parseNodeID("R_kgDOHM8Kjw"); !ok || got != 483330703 {
		t.Errorf("R_kgDOHM8Kjw = %d %v", got, ok)
	}
}
