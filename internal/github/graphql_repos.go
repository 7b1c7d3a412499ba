package github

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/metrics"
)

// QueryRepos reads repositories' pull requests, deployments and incident issues through
// GitHub's GraphQL API, several repositories to a query (aliases), each part either a
// page of full items or a probe (the total and the newest item's time, one node).
//
//   - Pull requests: most recently updated first, each with its size, author, state,
//     times, refs, merge commit, title, body (RevertsNumber), labels, commits (full
//     message: Reverts and the headline) and submitted reviews. A pull request with more
//     than a page of commits, reviews or labels is completed with nested pages before
//     QueryRepos returns, so every item is whole.
//   - Deployments: newest first, each with its statuses (oldest first, as
//     metrics.Deployment holds them; never nil). Production is left false: the client
//     does not know the production pattern.
//   - Incident issues: one listing per label (GitHub's label filter is applied to one
//     label at a time, so "any of" is the union), oldest first, with state_reason.
//
// Logins are spelled as the REST API spells them (a bot's with "[bot]", the Copilot
// coding agent "Copilot"), ids are the REST ids, so the rows stored are the same
// whichever API served them. A repository GitHub cannot resolve (deleted, renamed,
// no access) answers Err (ErrNotFound, ErrForbidden) and the others go on. Page sizes
// are at most the asked First and may be smaller (the client's adaptive size): continue
// with Cursor while More.
//
// op names the query (the GraphQL operation name GitHub logs and the simulator records),
// e.g. "Probe" or "Pages": letters, digits and underscores.
func (c *Client) QueryRepos(ctx context.Context, op string, qs []RepoQuery) ([]RepoAnswer, error) {
	if !operationName.MatchString(op) {
		return nil, fmt.Errorf("op: %q is not a GraphQL operation name (letters, digits, underscores)", op)
	}
	out := make([]RepoAnswer, len(qs))
	builders := make([]gqlBuilder, len(qs))
	for i, q := range qs {
		owner, name, ok := strings.Cut(q.FullName, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("fullName: %q is not \"owner/name\"", q.FullName)
		}
		if err := q.validate(); err != nil {
			return nil, fmt.Errorf("query of %s: %w", q.FullName, err)
		}
		builders[i] = repoBuilder(owner, name, q, c.nestedFloor)
		out[i].FullName = q.FullName
	}
	var nested []nestedPage
	err := c.runAliases(ctx, op, repoFragments, builders, func(i int, a gqlAnswer) error {
		if a.err != nil {
			out[i].Err = fmt.Errorf("graphql repository %s: %w", qs[i].FullName, a.err)
			return nil
		}
		ans, more, err := decodeRepo(qs[i], a.data)
		if err != nil {
			return fmt.Errorf("graphql repository %s: %w", qs[i].FullName, err)
		}
		for k := range more {
			more[k].repo = i
		}
		out[i] = ans
		nested = append(nested, more...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.completeNested(ctx, out, nested); err != nil {
		return nil, err
	}
	return out, nil
}

var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// RepoQuery is what QueryRepos asks of one repository; nil parts are not asked.
type RepoQuery struct {
	FullName    string
	Pulls       *Page
	Deployments *Page
	// Incidents lists issues per label (any of them makes an incident).
	Incidents []LabelPage
}

// Page asks for at most First items after Cursor ("" for the first page), or, with
// Probe, only the total and the newest item.
type Page struct {
	First  int
	Cursor string
	Probe  bool
}

// LabelPage is a Page of the issues carrying Label.
type LabelPage struct {
	Label string
	Page
}

func (q RepoQuery) validate() error {
	check := func(field string, p *Page) error {
		if p != nil && !p.Probe && (p.First < 1 || p.First > graphQLMaxPage) {
			return fmt.Errorf("%s.First: %d is not within 1..%d", field, p.First, graphQLMaxPage)
		}
		return nil
	}
	if err := check("Pulls", q.Pulls); err != nil {
		return err
	}
	if err := check("Deployments", q.Deployments); err != nil {
		return err
	}
	for _, l := range q.Incidents {
		if strings.TrimSpace(l.Label) == "" {
			return fmt.Errorf("Incidents.Label: empty")
		}
		if err := check("Incidents", &l.Page); err != nil {
			return err
		}
	}
	return nil
}

// RepoAnswer is one repository's answer.
type RepoAnswer struct {
	FullName    string
	Err         error // the repository could not be read: ErrNotFound, ErrForbidden
	Pulls       *PullPage
	Deployments *DeploymentPage
	Incidents   []IncidentPage
}

// PageInfo is where a page ends: Total items in the whole listing, More after Cursor,
// and the time of the newest item (pull requests and issues: updatedAt; deployments:
// createdAt) — of the page's first item, which is the newest for the orderings used.
type PageInfo struct {
	Total  int
	More   bool
	Cursor string
	Newest time.Time
}

// PullPage is a page of pull requests, most recently updated first.
type PullPage struct {
	PageInfo
	Items []metrics.PullRequest
}

// DeploymentPage is a page of deployments, newest first.
type DeploymentPage struct {
	PageInfo
	Items []metrics.Deployment
}

// IncidentPage is a page of the issues carrying Label, oldest first.
type IncidentPage struct {
	PageInfo
	Label string
	Items []metrics.Incident
}

// The query text. Variables carry everything the caller gives (names, labels,
// cursors, sizes), so nothing is spliced into the query but alias numbers.

var repoFragments = map[string]string{
	"pull": `fragment pull on PullRequest {
  id fullDatabaseId number title body state isDraft createdAt updatedAt closedAt mergedAt
  additions deletions changedFiles baseRefName headRefName
  author { __typename login ... on User { databaseId } ... on Bot { databaseId } }
  mergeCommit { oid }
  potentialMergeCommit { oid }
  labels(first: 100) { pageInfo { hasNextPage endCursor } nodes { name } }
  commits(first: $nested) { pageInfo { hasNextPage endCursor } nodes { commit { ...commit } } }
  reviews(first: $nested) { pageInfo { hasNextPage endCursor } nodes { ...review } }
}`,
	"commit": `fragment commit on Commit {
  oid message authoredDate committedDate
  parents { totalCount }
  author { name email user { login } }
  committer { name email user { login } }
}`,
	"review": `fragment review on PullRequestReview { fullDatabaseId state submittedAt author { __typename login } }`,
	"deployment": `fragment deployment on Deployment {
  id databaseId commitOid environment createdAt
  ref { name }
  creator { __typename login }
  statuses(first: $nested) { pageInfo { hasNextPage endCursor } nodes { id state createdAt } }
}`,
	"incident": `fragment incident on Issue {
  number title createdAt closedAt updatedAt state stateReason(enableDuplicate: true)
  author { __typename login }
  labels(first: 100) { pageInfo { hasNextPage endCursor } nodes { name } }
}`,
}

// repoBuilder builds the alias of one repository at a page size.
func repoBuilder(owner, name string, q RepoQuery, floor int) gqlBuilder {
	return func(alias string, size int) gqlPart {
		nested := nestedFirst(size, floor)
		p := gqlPart{vars: map[string]any{}}
		v := func(name, typ string, value any) string {
			key := name + "_" + alias
			p.varDefs = append(p.varDefs, "$"+key+": "+typ)
			p.vars[key] = value
			return "$" + key
		}
		var b strings.Builder
		fmt.Fprintf(&b, "  %s: repository(owner: %s, name: %s) {\n", alias, v("o", "String!", owner), v("n", "String!", name))
		connection := func(field, args, order, item string, pg *Page, nestedPerItem int64, nestedNodes int64, fragment string) {
			if pg.Probe {
				fmt.Fprintf(&b, "    %s(first: 1%s, orderBy: %s) { totalCount nodes { %s } }\n", field, args, order, item)
				p.requests++
				p.nodes++
				return
			}
			first := min(pg.First, size)
			after := "null"
			if pg.Cursor != "" {
				after = v("a"+strconv.Itoa(len(p.varDefs)), "String", pg.Cursor)
			}
			fmt.Fprintf(&b, "    %s(first: %s, after: %s%s, orderBy: %s) { totalCount pageInfo { hasNextPage endCursor } nodes { ...%s } }\n",
				field, v("f"+strconv.Itoa(len(p.varDefs)), "Int!", first), after, args, order, fragment)
			p.fragments = append(p.fragments, fragment)
			p.requests += 1 + int64(first)*nestedPerItem
			p.nodes += int64(first) + int64(first)*nestedNodes
		}
		if q.Pulls != nil {
			connection("pullRequests", "", "{field: UPDATED_AT, direction: DESC}", "number updatedAt", q.Pulls, 3, 100+2*int64(nested), "pull")
			if !q.Pulls.Probe {
				p.fragments = append(p.fragments, "commit", "review")
			}
		}
		if q.Deployments != nil {
			connection("deployments", "", "{field: CREATED_AT, direction: DESC}", "createdAt", q.Deployments, 1, int64(nested), "deployment")
		}
		for k, l := range q.Incidents {
			fmt.Fprintf(&b, "    i%d: ", k)
			labels := ", labels: [" + v("l"+strconv.Itoa(k), "String!", l.Label) + "]"
			order := "{field: CREATED_AT, direction: ASC}"
			if l.Probe {
				order = "{field: UPDATED_AT, direction: DESC}"
			}
			connection("issues", labels, order, "updatedAt", &l.Page, 1, 100, "incident")
		}
		b.WriteString("  }")
		p.text = b.String()
		if !(q.Pulls == nil || q.Pulls.Probe) || !(q.Deployments == nil || q.Deployments.Probe) {
			p.varDefs = append(p.varDefs, "$nested: Int!")
			p.vars["nested"] = nested
		}
		return p
	}
}

// The answer's shapes.

type gqlActor struct {
	Typename string `json:"__typename"`
	Login    string `json:"login"`
	// DatabaseID is the REST id of a User or Bot (asked of pull request authors: the
	// impact cohorts match them to Copilot report users); nil when not asked or null.
	DatabaseID *int64 `json:"databaseId"`
}

type gqlPageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

type gqlName struct {
	Name string `json:"name"`
}

type gqlLabels struct {
	PageInfo gqlPageInfo `json:"pageInfo"`
	Nodes    []gqlName   `json:"nodes"`
}

type gqlGitActor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	User  *struct {
		Login string `json:"login"`
	} `json:"user"`
}

type gqlCommit struct {
	Oid           string    `json:"oid"`
	Message       string    `json:"message"`
	AuthoredDate  time.Time `json:"authoredDate"`
	CommittedDate time.Time `json:"committedDate"`
	Parents       struct {
		TotalCount int `json:"totalCount"`
	} `json:"parents"`
	Author    gqlGitActor `json:"author"`
	Committer gqlGitActor `json:"committer"`
}

type gqlCommits struct {
	PageInfo gqlPageInfo `json:"pageInfo"`
	Nodes    []struct {
		Commit gqlCommit `json:"commit"`
	} `json:"nodes"`
}

type gqlReview struct {
	FullDatabaseID string     `json:"fullDatabaseId"`
	State          string     `json:"state"`
	SubmittedAt    *time.Time `json:"submittedAt"`
	Author         *gqlActor  `json:"author"`
}

type gqlReviews struct {
	PageInfo gqlPageInfo `json:"pageInfo"`
	Nodes    []gqlReview `json:"nodes"`
}

type gqlPull struct {
	ID             string     `json:"id"`
	FullDatabaseID string     `json:"fullDatabaseId"`
	Number         int        `json:"number"`
	Title          string     `json:"title"`
	Body           string     `json:"body"`
	State          string     `json:"state"`
	IsDraft        bool       `json:"isDraft"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	ClosedAt       *time.Time `json:"closedAt"`
	MergedAt       *time.Time `json:"mergedAt"`
	Additions      int        `json:"additions"`
	Deletions      int        `json:"deletions"`
	ChangedFiles   int        `json:"changedFiles"`
	BaseRefName    string     `json:"baseRefName"`
	HeadRefName    string     `json:"headRefName"`
	Author         *gqlActor  `json:"author"`
	MergeCommit    *struct {
		Oid string `json:"oid"`
	} `json:"mergeCommit"`
	PotentialMergeCommit *struct {
		Oid string `json:"oid"`
	} `json:"potentialMergeCommit"`
	Labels  gqlLabels  `json:"labels"`
	Commits gqlCommits `json:"commits"`
	Reviews gqlReviews `json:"reviews"`
}

type gqlStatuses struct {
	PageInfo gqlPageInfo `json:"pageInfo"`
	Nodes    []struct {
		ID        string    `json:"id"`
		State     string    `json:"state"`
		CreatedAt time.Time `json:"createdAt"`
	} `json:"nodes"`
}

type gqlDeployment struct {
	ID          string    `json:"id"`
	DatabaseID  *int64    `json:"databaseId"`
	CommitOid   string    `json:"commitOid"`
	Environment string    `json:"environment"`
	CreatedAt   time.Time `json:"createdAt"`
	Ref         *gqlName  `json:"ref"`
	Creator     *gqlActor `json:"creator"`
	Statuses    gqlStatuses
}

type gqlIssue struct {
	Number      int        `json:"number"`
	Title       string     `json:"title"`
	CreatedAt   time.Time  `json:"createdAt"`
	ClosedAt    *time.Time `json:"closedAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	State       string     `json:"state"`
	StateReason *string    `json:"stateReason"`
	Author      *gqlActor  `json:"author"`
	Labels      gqlLabels  `json:"labels"`
}

type gqlConnection[T any] struct {
	TotalCount int         `json:"totalCount"`
	PageInfo   gqlPageInfo `json:"pageInfo"`
	Nodes      []T         `json:"nodes"`
}

// probeItem is the one node of a probe: the newest item's time.
type probeItem struct {
	UpdatedAt time.Time `json:"updatedAt"`
	CreatedAt time.Time `json:"createdAt"`
}

// nestedPage is a connection of an item that has more than its first page: the rest is
// read through node(id:).
type nestedPage struct {
	repo   int    // index in the answers
	kind   string // "commits", "reviews", "pull labels", "statuses", "issue labels"
	item   int    // index of the item in its page
	label  int    // for issue labels: the index of the label listing
	nodeID string // of the pull request, deployment or issue
	cursor string
}

func decodeRepo(q RepoQuery, raw json.RawMessage) (RepoAnswer, []nestedPage, error) {
	var data struct {
		PullRequests json.RawMessage `json:"pullRequests"`
		Deployments  json.RawMessage `json:"deployments"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return RepoAnswer{}, nil, err
	}
	ans := RepoAnswer{FullName: q.FullName}
	var more []nestedPage
	if q.Pulls != nil {
		var conn gqlConnection[json.RawMessage]
		if err := json.Unmarshal(data.PullRequests, &conn); err != nil {
			return ans, nil, fmt.Errorf("pullRequests: %w", err)
		}
		page := &PullPage{PageInfo: pageInfo(conn.TotalCount, conn.PageInfo)}
		for i, n := range conn.Nodes {
			if q.Pulls.Probe {
				var it probeItem
				if err := json.Unmarshal(n, &it); err != nil {
					return ans, nil, fmt.Errorf("pullRequests: %w", err)
				}
				page.Newest = it.UpdatedAt
				continue
			}
			var p gqlPull
			if err := json.Unmarshal(n, &p); err != nil {
				return ans, nil, fmt.Errorf("pullRequests: %w", err)
			}
			pr, err := p.pullRequest(q.FullName)
			if err != nil {
				return ans, nil, err
			}
			if i == 0 {
				page.Newest = pr.UpdatedAt
			}
			page.Items = append(page.Items, pr)
			for kind, info := range map[string]gqlPageInfo{"commits": p.Commits.PageInfo, "reviews": p.Reviews.PageInfo, "pull labels": p.Labels.PageInfo} {
				if info.HasNextPage {
					more = append(more, nestedPage{kind: kind, item: i, nodeID: p.ID, cursor: info.EndCursor})
				}
			}
		}
		ans.Pulls = page
	}
	if q.Deployments != nil {
		var conn gqlConnection[json.RawMessage]
		if err := json.Unmarshal(data.Deployments, &conn); err != nil {
			return ans, nil, fmt.Errorf("deployments: %w", err)
		}
		page := &DeploymentPage{PageInfo: pageInfo(conn.TotalCount, conn.PageInfo)}
		for i, n := range conn.Nodes {
			if q.Deployments.Probe {
				var it probeItem
				if err := json.Unmarshal(n, &it); err != nil {
					return ans, nil, fmt.Errorf("deployments: %w", err)
				}
				page.Newest = it.CreatedAt
				continue
			}
			var d gqlDeployment
			if err := json.Unmarshal(n, &d); err != nil {
				return ans, nil, fmt.Errorf("deployments: %w", err)
			}
			dep, err := d.deployment(q.FullName)
			if err != nil {
				return ans, nil, err
			}
			if i == 0 {
				page.Newest = dep.CreatedAt
			}
			page.Items = append(page.Items, dep)
			if d.Statuses.PageInfo.HasNextPage {
				more = append(more, nestedPage{kind: "statuses", item: i, nodeID: d.ID, cursor: d.Statuses.PageInfo.EndCursor})
			}
		}
		ans.Deployments = page
	}
	if len(q.Incidents) > 0 {
		var byLabel map[string]json.RawMessage
		if err := json.Unmarshal(raw, &byLabel); err != nil {
			return ans, nil, err
		}
		for k, l := range q.Incidents {
			var conn gqlConnection[json.RawMessage]
			if err := json.Unmarshal(byLabel["i"+strconv.Itoa(k)], &conn); err != nil {
				return ans, nil, fmt.Errorf("issues labelled %q: %w", l.Label, err)
			}
			page := IncidentPage{PageInfo: pageInfo(conn.TotalCount, conn.PageInfo), Label: l.Label}
			for i, n := range conn.Nodes {
				var is gqlIssue
				if err := json.Unmarshal(n, &is); err != nil {
					return ans, nil, fmt.Errorf("issues labelled %q: %w", l.Label, err)
				}
				if l.Probe {
					page.Newest = is.UpdatedAt
					continue
				}
				page.Newest = maxTime(page.Newest, is.UpdatedAt)
				page.Items = append(page.Items, is.incident(q.FullName))
				if is.Labels.PageInfo.HasNextPage {
					// Issue labels are read by number, not id (the fragment asks no id).
					more = append(more, nestedPage{kind: "issue labels", item: i, label: k, nodeID: strconv.Itoa(is.Number), cursor: is.Labels.PageInfo.EndCursor})
				}
			}
			ans.Incidents = append(ans.Incidents, page)
		}
	}
	return ans, more, nil
}

func pageInfo(total int, info gqlPageInfo) PageInfo {
	return PageInfo{Total: total, More: info.HasNextPage, Cursor: info.EndCursor}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Conversions to the domain types, spelled as the REST client spells them.

// restLogin spells an actor's login as the REST API does: GraphQL shows a bot's login
// without "[bot]" ("dependabot", REST "dependabot[bot]"), and the Copilot coding agent
// as "copilot-swe-agent" where REST says "Copilot".
func restLogin(a *gqlActor) string {
	switch {
	case a == nil:
		return ""
	case a.Typename == "Bot" && a.Login == "copilot-swe-agent":
		return "Copilot"
	case a.Typename == "Bot" && !strings.HasSuffix(a.Login, "[bot]"):
		return a.Login + "[bot]"
	}
	return a.Login
}

// noreplyDomain is the host of GitHub's no-reply commit e-mail addresses,
// <id>+<login>@users.noreply.github.com.
const noreplyDomain = "@users.noreply.github.com"

// gitLogin is the account a commit's author or committer is linked to. GraphQL links
// an e-mail to a User only, where REST links bots as well; a bot commits with its
// no-reply address, which names the login REST shows.
func gitLogin(g gqlGitActor) string {
	if g.User != nil {
		return g.User.Login
	}
	local, ok := strings.CutSuffix(g.Email, noreplyDomain)
	if !ok {
		return ""
	}
	id, login, ok := strings.Cut(local, "+")
	if _, err := strconv.ParseInt(id, 10, 64); !ok || err != nil || login == "" {
		return ""
	}
	return login
}

func (c gqlCommit) commit() metrics.Commit {
	headline, _, _ := strings.Cut(c.Message, "\n")
	return metrics.Commit{
		SHA:             c.Oid,
		AuthorLogin:     gitLogin(c.Author),
		AuthorName:      c.Author.Name,
		AuthoredAt:      c.AuthoredDate.UTC(),
		CommitterLogin:  gitLogin(c.Committer),
		CommittedAt:     c.CommittedDate.UTC(),
		MessageHeadline: strings.TrimSpace(headline),
		ParentCount:     c.Parents.TotalCount,
		Reverts:         metrics.RevertedSHAs(c.Message),
	}
}

func (r gqlReview) review() (metrics.Review, bool, error) {
	if r.State == "PENDING" || r.SubmittedAt == nil {
		return metrics.Review{}, false, nil // visible to its author only, not submitted
	}
	id, err := strconv.ParseInt(r.FullDatabaseID, 10, 64)
	if err != nil {
		return metrics.Review{}, false, fmt.Errorf("review fullDatabaseId %q: %w", r.FullDatabaseID, err)
	}
	return metrics.Review{ID: id, ReviewerLogin: restLogin(r.Author), State: r.State, SubmittedAt: r.SubmittedAt.UTC()}, true, nil
}

func (p gqlPull) pullRequest(fullName string) (metrics.PullRequest, error) {
	id, err := strconv.ParseInt(p.FullDatabaseID, 10, 64)
	if err != nil {
		return metrics.PullRequest{}, fmt.Errorf("pull request #%d: fullDatabaseId %q: %w", p.Number, p.FullDatabaseID, err)
	}
	pr := metrics.PullRequest{
		ID: id, RepoFullName: fullName, Number: p.Number, AuthorLogin: restLogin(p.Author), Title: p.Title,
		State: "closed", Draft: p.IsDraft, BaseRef: p.BaseRefName, HeadRef: p.HeadRefName,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(), ClosedAt: utcTimePtr(p.ClosedAt), MergedAt: utcTimePtr(p.MergedAt),
		Additions: p.Additions, Deletions: p.Deletions, ChangedFiles: p.ChangedFiles,
		RevertsNumber: metrics.RevertedPullNumber(p.Body, fullName),
	}
	if p.Author != nil && p.Author.DatabaseID != nil {
		pr.AuthorID = *p.Author.DatabaseID
	}
	if p.State == "OPEN" {
		pr.State = "open"
	}
	// REST's merge_commit_sha: the merge commit once merged, the test merge before.
	switch {
	case p.MergeCommit != nil:
		pr.MergeCommitSHA = p.MergeCommit.Oid
	case p.PotentialMergeCommit != nil:
		pr.MergeCommitSHA = p.PotentialMergeCommit.Oid
	}
	for _, l := range p.Labels.Nodes {
		if l.Name != "" {
			pr.Labels = append(pr.Labels, l.Name)
		}
	}
	for _, n := range p.Commits.Nodes {
		pr.Commits = append(pr.Commits, n.Commit.commit())
	}
	for _, r := range p.Reviews.Nodes {
		rv, keep, err := r.review()
		if err != nil {
			return metrics.PullRequest{}, fmt.Errorf("pull request #%d: %w", p.Number, err)
		}
		if keep {
			pr.Reviews = append(pr.Reviews, rv)
		}
	}
	return pr, nil
}

func (d gqlDeployment) deployment(fullName string) (metrics.Deployment, error) {
	var id int64
	if d.DatabaseID != nil {
		id = *d.DatabaseID
	} else {
		var err error
		if id, err = databaseID("deployment id", d.ID); err != nil {
			return metrics.Deployment{}, err
		}
	}
	dep := metrics.Deployment{
		ID: id, RepoFullName: fullName, Signal: metrics.SignalDeployment, SHA: d.CommitOid, Ref: d.CommitOid,
		Environment: d.Environment, CreatorLogin: restLogin(d.Creator), CreatedAt: d.CreatedAt.UTC(),
	}
	if d.Ref != nil {
		dep.Ref = d.Ref.Name // null when the ref is gone or was a SHA: the SHA stands in
	}
	sts, err := d.Statuses.statuses()
	if err != nil {
		return metrics.Deployment{}, fmt.Errorf("deployment %d: %w", id, err)
	}
	dep.Statuses = sts
	return dep, nil
}

// statuses converts a page of statuses, oldest first (by id, as REST orders them).
func (s gqlStatuses) statuses() ([]metrics.DeploymentStatus, error) {
	out := make([]metrics.DeploymentStatus, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		id, err := databaseID("deployment status id", n.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, metrics.DeploymentStatus{ID: id, State: strings.ToLower(n.State), CreatedAt: n.CreatedAt.UTC()})
	}
	sortStatuses(out)
	return out, nil
}

func sortStatuses(s []metrics.DeploymentStatus) {
	slices.SortFunc(s, func(a, b metrics.DeploymentStatus) int { return cmp.Compare(a.ID, b.ID) })
}

func (is gqlIssue) incident(fullName string) metrics.Incident {
	inc := metrics.Incident{
		RepoFullName: fullName, Number: is.Number, Title: is.Title, AuthorLogin: restLogin(is.Author),
		CreatedAt: is.CreatedAt.UTC(), ClosedAt: utcTimePtr(is.ClosedAt),
	}
	if is.StateReason != nil {
		inc.StateReason = strings.ToLower(*is.StateReason)
	}
	for _, l := range is.Labels.Nodes {
		if l.Name != "" {
			inc.Labels = append(inc.Labels, l.Name)
		}
	}
	return inc
}

func utcTimePtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

// Nested pages: the rest of a pull request's commits, reviews or labels, a deployment's
// statuses, an issue's labels, read page by page through node(id:) (issues by number),
// batched many to a query.

func (c *Client) completeNested(ctx context.Context, out []RepoAnswer, pending []nestedPage) error {
	for len(pending) > 0 {
		builders := make([]gqlBuilder, len(pending))
		for i, n := range pending {
			builders[i] = nestedBuilder(out[n.repo].FullName, n, c.nestedFloor)
		}
		var next []nestedPage
		err := c.runAliases(ctx, "NestedPages", repoFragments, builders, func(i int, a gqlAnswer) error {
			n := pending[i]
			if a.err != nil {
				// The item went away between the two queries: its repository is read
				// again by a later pass; fail this one rather than store a partial item.
				return fmt.Errorf("graphql %s %s of %s: %w", out[n.repo].FullName, n.kind, n.nodeID, a.err)
			}
			info, err := appendNested(&out[n.repo], n, a.data)
			if err != nil {
				return fmt.Errorf("graphql %s %s: %w", out[n.repo].FullName, n.kind, err)
			}
			if info.HasNextPage {
				n.cursor = info.EndCursor
				next = append(next, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		pending = next
	}
	return nil
}

func nestedBuilder(fullName string, n nestedPage, floor int) gqlBuilder {
	return func(alias string, size int) gqlPart {
		first := nestedFirst(size, floor)
		p := gqlPart{vars: map[string]any{"id_" + alias: n.nodeID, "c_" + alias: n.cursor, "f_" + alias: first},
			varDefs: []string{"$id_" + alias + ": ID!", "$c_" + alias + ": String", "$f_" + alias + ": Int!"}}
		page := "(first: $f_" + alias + ", after: $c_" + alias + ") { pageInfo { hasNextPage endCursor } nodes { %s } }"
		switch n.kind {
		case "commits":
			p.text = fmt.Sprintf("  %s: node(id: $id_%s) { ... on PullRequest { commits"+page+" } }", alias, alias, "commit { ...commit }")
			p.fragments = []string{"commit"}
		case "reviews":
			p.text = fmt.Sprintf("  %s: node(id: $id_%s) { ... on PullRequest { reviews"+page+" } }", alias, alias, "...review")
			p.fragments = []string{"review"}
		case "pull labels":
			p.text = fmt.Sprintf("  %s: node(id: $id_%s) { ... on PullRequest { labels"+page+" } }", alias, alias, "name")
		case "statuses":
			p.text = fmt.Sprintf("  %s: node(id: $id_%s) { ... on Deployment { statuses"+page+" } }", alias, alias, "id state createdAt")
		case "issue labels":
			owner, name, _ := strings.Cut(fullName, "/")
			number, _ := strconv.Atoi(n.nodeID)
			delete(p.vars, "id_"+alias)
			p.varDefs[0] = "$o_" + alias + ": String!, $n_" + alias + ": String!, $num_" + alias + ": Int!"
			p.vars["o_"+alias], p.vars["n_"+alias], p.vars["num_"+alias] = owner, name, number
			p.text = fmt.Sprintf("  %s: repository(owner: $o_%s, name: $n_%s) { issue(number: $num_%s) { labels"+page+" } }", alias, alias, alias, alias, "name")
		}
		p.requests, p.nodes = 1, int64(first)
		return p
	}
}

// appendNested adds a nested page to its item and returns where the page ended.
func appendNested(ans *RepoAnswer, n nestedPage, raw json.RawMessage) (gqlPageInfo, error) {
	switch n.kind {
	case "commits":
		var d struct{ Commits gqlCommits }
		if err := json.Unmarshal(raw, &d); err != nil {
			return gqlPageInfo{}, err
		}
		pr := &ans.Pulls.Items[n.item]
		for _, c := range d.Commits.Nodes {
			pr.Commits = append(pr.Commits, c.Commit.commit())
		}
		return d.Commits.PageInfo, nil
	case "reviews":
		var d struct{ Reviews gqlReviews }
		if err := json.Unmarshal(raw, &d); err != nil {
			return gqlPageInfo{}, err
		}
		pr := &ans.Pulls.Items[n.item]
		for _, r := range d.Reviews.Nodes {
			rv, keep, err := r.review()
			if err != nil {
				return gqlPageInfo{}, err
			}
			if keep {
				pr.Reviews = append(pr.Reviews, rv)
			}
		}
		return d.Reviews.PageInfo, nil
	case "pull labels":
		var d struct{ Labels gqlLabels }
		if err := json.Unmarshal(raw, &d); err != nil {
			return gqlPageInfo{}, err
		}
		pr := &ans.Pulls.Items[n.item]
		for _, l := range d.Labels.Nodes {
			pr.Labels = append(pr.Labels, l.Name)
		}
		return d.Labels.PageInfo, nil
	case "statuses":
		var d struct{ Statuses gqlStatuses }
		if err := json.Unmarshal(raw, &d); err != nil {
			return gqlPageInfo{}, err
		}
		sts, err := d.Statuses.statuses()
		if err != nil {
			return gqlPageInfo{}, err
		}
		dep := &ans.Deployments.Items[n.item]
		dep.Statuses = append(dep.Statuses, sts...)
		sortStatuses(dep.Statuses)
		return d.Statuses.PageInfo, nil
	case "issue labels":
		var d struct {
			Issue struct{ Labels gqlLabels }
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return gqlPageInfo{}, err
		}
		inc := &ans.Incidents[n.label].Items[n.item]
		for _, l := range d.Issue.Labels.Nodes {
			inc.Labels = append(inc.Labels, l.Name)
		}
		return d.Issue.Labels.PageInfo, nil
	}
	return gqlPageInfo{}, fmt.Errorf("nested page of unknown kind %q", n.kind)
}
