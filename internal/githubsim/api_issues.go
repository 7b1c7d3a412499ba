package githubsim

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type issuePullJSON struct {
	URL      string `json:"url"`
	HTMLURL  string `json:"html_url"`
	DiffURL  string `json:"diff_url"`
	PatchURL string `json:"patch_url"`
	MergedAt ts     `json:"merged_at"`
}

type issueJSON struct {
	URL               string         `json:"url"`
	RepositoryURL     string         `json:"repository_url"`
	HTMLURL           string         `json:"html_url"`
	ID                int64          `json:"id"`
	NodeID            string         `json:"node_id"`
	Number            int            `json:"number"`
	Title             string         `json:"title"`
	User              *userJSON      `json:"user"`
	Labels            []labelJSON    `json:"labels"`
	State             string         `json:"state"`
	StateReason       *string        `json:"state_reason"`
	Locked            bool           `json:"locked"`
	Assignee          *userJSON      `json:"assignee"`
	Assignees         []*userJSON    `json:"assignees"`
	Milestone         any            `json:"milestone"`
	Comments          int            `json:"comments"`
	CreatedAt         ts             `json:"created_at"`
	UpdatedAt         ts             `json:"updated_at"`
	ClosedAt          ts             `json:"closed_at"`
	AuthorAssociation string         `json:"author_association"`
	Draft             *bool          `json:"draft,omitempty"`
	PullRequest       *issuePullJSON `json:"pull_request,omitempty"`
	Body              string         `json:"body"`
}

// issueItem is an issue or a pull request as the issues API lists it.
type issueItem struct {
	number    int
	createdAt time.Time
	updatedAt time.Time
	comments  int
	json      func() issueJSON
}

// listIssues is GET /repos/{o}/{r}/issues: state (default open), labels (all must
// match), since (updated at or after), sort (created | updated | comments; default
// created), direction (default desc). Pull requests are issues too and come with a
// pull_request key.
func (c *call) listIssues() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	sortBy := cmp.Or(q.Get("sort"), "created")
	direction := cmp.Or(q.Get("direction"), "desc")
	switch {
	case !slices.Contains([]string{"open", "closed", "all"}, state):
		return validationFailed("state", "state must be open, closed or all")
	case !slices.Contains([]string{"created", "updated", "comments"}, sortBy):
		return validationFailed("sort", "sort must be created, updated or comments")
	case direction != "asc" && direction != "desc":
		return validationFailed("direction", "direction must be asc or desc")
	}
	since, hasSince, bad := c.timeParam("since")
	if bad.status != 0 {
		return bad
	}
	var wanted []string
	if v := q.Get("labels"); v != "" {
		for _, l := range strings.Split(v, ",") {
			wanted = append(wanted, strings.ToLower(strings.TrimSpace(l)))
		}
	}
	hasLabels := func(labels []string) bool {
		for _, w := range wanted {
			if !slices.ContainsFunc(labels, func(l string) bool { return strings.ToLower(l) == w }) {
				return false
			}
		}
		return true
	}
	keep := func(open bool, updated time.Time, labels []string) bool {
		return (state == "all" || (state == "open") == open) && (!hasSince || !updated.Before(since)) && hasLabels(labels)
	}

	var items []issueItem
	for i := range r.issues {
		is := &r.issues[i]
		if is.createdAt.After(c.now) {
			continue
		}
		open := !visible(is.closedAt, c.now)
		updated := is.updatedAt(c.now)
		if keep(open, updated, is.labelsAt(c.now)) {
			items = append(items, issueItem{is.number, is.createdAt, updated, is.comments, func() issueJSON { return c.issueJSON(r, is) }})
		}
	}
	for i := range r.pulls {
		s, visibleNow := r.pullAt(&r.pulls[i], c.now)
		if visibleNow && keep(s.open, s.updatedAt, s.p.labels) {
			items = append(items, issueItem{s.p.number, s.p.createdAt, s.updatedAt, s.p.comments, func() issueJSON { return c.pullIssueJSON(r, s) }})
		}
	}
	slices.SortStableFunc(items, func(a, b issueItem) int {
		var n int
		switch sortBy {
		case "updated":
			n = a.updatedAt.Compare(b.updatedAt)
		case "comments":
			n = cmp.Compare(a.comments, b.comments)
		default:
			n = a.createdAt.Compare(b.createdAt)
		}
		n = cmp.Or(n, cmp.Compare(a.number, b.number))
		if direction == "desc" {
			return -n
		}
		return n
	})
	pageItems, link := paginate(c, items, c.pageParams(30, 100))
	out := make([]issueJSON, 0, len(pageItems))
	for _, it := range pageItems {
		out = append(out, it.json())
	}
	rep := ok(out)
	rep.link = link
	return rep
}

func (c *call) issueJSON(r *repo, is *issue) issueJSON {
	n := strconv.Itoa(is.number)
	j := issueJSON{
		URL: c.repoURL(r) + "/issues/" + n, RepositoryURL: c.repoURL(r), HTMLURL: htmlBase + "/" + r.fullName() + "/issues/" + n,
		ID: is.id, NodeID: nodeID("I_", is.id), Number: is.number, Title: is.title, User: c.userJSON(is.author),
		Labels: c.labelsJSON(r, is.labelsAt(c.now)), State: "open", Assignees: []*userJSON{}, Comments: is.comments,
		CreatedAt: ts(is.createdAt), UpdatedAt: ts(is.updatedAt(c.now)), AuthorAssociation: association(is.author, r), Body: is.body,
	}
	if visible(is.closedAt, c.now) {
		reason := is.stateReason(c.now)
		j.State, j.StateReason, j.ClosedAt = "closed", &reason, ts(is.closedAt)
	}
	return j
}

func (c *call) pullIssueJSON(r *repo, s pullState) issueJSON {
	p := s.p
	n := strconv.Itoa(p.number)
	draft := s.draft
	j := issueJSON{
		URL: c.repoURL(r) + "/issues/" + n, RepositoryURL: c.repoURL(r), HTMLURL: htmlBase + "/" + r.fullName() + "/pull/" + n,
		ID: p.id, NodeID: nodeID("PR_", p.id), Number: p.number, Title: p.title, User: c.userJSON(p.author),
		Labels: c.labelsJSON(r, p.labels), State: "open", Assignees: []*userJSON{}, Comments: p.comments,
		CreatedAt: ts(p.createdAt), UpdatedAt: ts(s.updatedAt), AuthorAssociation: association(p.author, r), Body: p.body,
		Draft: &draft,
		PullRequest: &issuePullJSON{
			URL: c.repoURL(r) + "/pulls/" + n, HTMLURL: htmlBase + "/" + r.fullName() + "/pull/" + n,
			DiffURL: htmlBase + "/" + r.fullName() + "/pull/" + n + ".diff", PatchURL: htmlBase + "/" + r.fullName() + "/pull/" + n + ".patch",
		},
	}
	if !s.open {
		reason := "completed"
		if !s.merged {
			reason = "not_planned"
		}
		j.State, j.StateReason, j.ClosedAt = "closed", &reason, ts(s.closedAt)
		if s.merged {
			j.PullRequest.MergedAt = ts(s.closedAt)
		}
	}
	return j
}
