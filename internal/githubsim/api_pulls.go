package githubsim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

type labelJSON struct {
	ID          int64  `json:"id"`
	NodeID      string `json:"node_id"`
	URL         string `json:"url"`
	Name        string `json:"name"`
	Color       string `json:"color"`
	Default     bool   `json:"default"`
	Description string `json:"description"`
}

func (c *call) labelsJSON(r *repo, names []string) []labelJSON {
	out := []labelJSON{}
	for _, n := range names {
		id := int64(hashOf(uint64(r.id), uint64(len(n)), uint64(n[0])) % 1_000_000_000)
		out = append(out, labelJSON{ID: id, NodeID: nodeID("LA_", id), URL: c.repoURL(r) + "/labels/" + n, Name: n,
			Color: fmt.Sprintf("%06x", hashOf(uint64(len(n)), uint64(n[0]))%0xFFFFFF), Default: n == "bug" || n == "enhancement"})
	}
	return out
}

type branchJSON struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  *userJSON `json:"user"`
	Repo  *repoJSON `json:"repo"`
}

type pullJSON struct {
	URL                string      `json:"url"`
	ID                 int64       `json:"id"`
	NodeID             string      `json:"node_id"`
	HTMLURL            string      `json:"html_url"`
	DiffURL            string      `json:"diff_url"`
	PatchURL           string      `json:"patch_url"`
	IssueURL           string      `json:"issue_url"`
	CommitsURL         string      `json:"commits_url"`
	ReviewCommentsURL  string      `json:"review_comments_url"`
	StatusesURL        string      `json:"statuses_url"`
	Number             int         `json:"number"`
	State              string      `json:"state"`
	Locked             bool        `json:"locked"`
	Title              string      `json:"title"`
	User               *userJSON   `json:"user"`
	Body               string      `json:"body"`
	Labels             []labelJSON `json:"labels"`
	Milestone          any         `json:"milestone"`
	ActiveLockReason   *string     `json:"active_lock_reason"`
	CreatedAt          ts          `json:"created_at"`
	UpdatedAt          ts          `json:"updated_at"`
	ClosedAt           ts          `json:"closed_at"`
	MergedAt           ts          `json:"merged_at"`
	MergeCommitSHA     string      `json:"merge_commit_sha"`
	Assignee           *userJSON   `json:"assignee"`
	Assignees          []*userJSON `json:"assignees"`
	RequestedReviewers []*userJSON `json:"requested_reviewers"`
	RequestedTeams     []any       `json:"requested_teams"`
	Head               branchJSON  `json:"head"`
	Base               branchJSON  `json:"base"`
	AuthorAssociation  string      `json:"author_association"`
	AutoMerge          any         `json:"auto_merge"`
	Draft              bool        `json:"draft"`
}

// pullDetails are the fields only GET /pulls/{n} carries.
type pullDetails struct {
	Merged              bool      `json:"merged"`
	Mergeable           *bool     `json:"mergeable"`
	Rebaseable          *bool     `json:"rebaseable"`
	MergeableState      string    `json:"mergeable_state"`
	MergedBy            *userJSON `json:"merged_by"`
	Comments            int       `json:"comments"`
	ReviewComments      int       `json:"review_comments"`
	MaintainerCanModify bool      `json:"maintainer_can_modify"`
	Commits             int       `json:"commits"`
	Additions           int       `json:"additions"`
	Deletions           int       `json:"deletions"`
	ChangedFiles        int       `json:"changed_files"`
}

// pullDetailJSON is a pull request with its details, flattened as GitHub sends it.
type pullDetailJSON struct {
	*pullJSON
	*pullDetails
}

func association(u *user, r *repo) string {
	switch {
	case u.isBot():
		return "CONTRIBUTOR"
	case slices.Contains(u.orgs, r.org):
		return "MEMBER"
	}
	return "CONTRIBUTOR"
}

func (c *call) pullJSON(r *repo, s pullState) *pullJSON {
	p := s.p
	u := c.repoURL(r)
	n := strconv.Itoa(p.number)
	state := "open"
	if !s.open {
		state = "closed"
	}
	var mergedAt ts
	if s.merged {
		mergedAt = ts(s.closedAt)
	}
	rj := c.repoJSON(r)
	headUser := c.userJSON(p.author)
	if p.author.isBot() {
		headUser = c.orgOwnerJSON(r.org)
	}
	return &pullJSON{
		URL: u + "/pulls/" + n, ID: p.id, NodeID: nodeID("PR_", p.id), HTMLURL: htmlBase + "/" + r.fullName() + "/pull/" + n,
		DiffURL: htmlBase + "/" + r.fullName() + "/pull/" + n + ".diff", PatchURL: htmlBase + "/" + r.fullName() + "/pull/" + n + ".patch",
		IssueURL: u + "/issues/" + n, CommitsURL: u + "/pulls/" + n + "/commits", ReviewCommentsURL: u + "/pulls/" + n + "/comments",
		StatusesURL: u + "/statuses/" + r.commits[s.head].sha.String(),
		Number:      p.number, State: state, Title: p.title, User: c.userJSON(p.author), Body: p.body,
		Labels: c.labelsJSON(r, p.labels), CreatedAt: ts(p.createdAt), UpdatedAt: ts(s.updatedAt),
		ClosedAt: ts(s.closedAt), MergedAt: mergedAt, MergeCommitSHA: s.mergeSHA.String(),
		Assignees: []*userJSON{}, RequestedReviewers: []*userJSON{}, RequestedTeams: []any{},
		Head:              branchJSON{Label: r.org.login + ":" + p.headRef, Ref: p.headRef, SHA: r.commits[s.head].sha.String(), User: headUser, Repo: rj},
		Base:              branchJSON{Label: r.org.login + ":" + r.defaultBranch, Ref: r.defaultBranch, SHA: r.commits[s.base].sha.String(), User: c.orgOwnerJSON(r.org), Repo: rj},
		AuthorAssociation: association(p.author, r), Draft: s.draft,
	}
}

func (c *call) pullDetailJSON(r *repo, s pullState) pullDetailJSON {
	d := &pullDetails{
		Merged: s.merged, MergeableState: "unknown", Comments: s.p.comments, ReviewComments: len(s.reviews),
		Commits: len(s.commits), Additions: s.additions, Deletions: s.deletions, ChangedFiles: s.files,
	}
	if s.merged {
		d.MergedBy = c.userJSON(s.p.mergedBy)
	}
	if s.open {
		mergeable := true
		d.Mergeable, d.Rebaseable, d.MergeableState = &mergeable, &mergeable, "clean"
		if s.draft {
			d.MergeableState = "draft"
		}
	}
	return pullDetailJSON{pullJSON: c.pullJSON(r, s), pullDetails: d}
}

// listPulls is GET /repos/{o}/{r}/pulls: state (default open), sort (created | updated |
// popularity | long-running; default created), direction (default desc for created,
// asc otherwise), base and head filters.
func (c *call) listPulls() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	sortBy := cmp.Or(q.Get("sort"), "created")
	direction := q.Get("direction")
	if direction == "" {
		direction = "asc"
		if sortBy == "created" {
			direction = "desc"
		}
	}
	switch {
	case !slices.Contains([]string{"open", "closed", "all"}, state):
		return validationFailed("state", "state must be open, closed or all")
	case !slices.Contains([]string{"created", "updated", "popularity", "long-running"}, sortBy):
		return validationFailed("sort", "sort must be created, updated, popularity or long-running")
	case direction != "asc" && direction != "desc":
		return validationFailed("direction", "direction must be asc or desc")
	}
	base := q.Get("base")
	head := q.Get("head")
	if _, ref, has := strings.Cut(head, ":"); has {
		head = ref
	}
	var states []pullState
	for i := range r.pulls {
		s, visibleNow := r.pullAt(&r.pulls[i], c.now)
		if !visibleNow || (state == "open" && !s.open) || (state == "closed" && s.open) {
			continue
		}
		if (base != "" && base != r.defaultBranch) || (head != "" && head != s.p.headRef) {
			continue
		}
		states = append(states, s)
	}
	key := func(s pullState) time.Time {
		if sortBy == "updated" {
			return s.updatedAt
		}
		return s.p.createdAt
	}
	slices.SortStableFunc(states, func(a, b pullState) int {
		var n int
		if sortBy == "popularity" {
			n = cmp.Compare(a.p.comments, b.p.comments)
		} else {
			n = key(a).Compare(key(b))
		}
		n = cmp.Or(n, cmp.Compare(a.p.number, b.p.number))
		if direction == "desc" {
			return -n
		}
		return n
	})
	pageItems, link := paginate(c, states, c.pageParams(30, 100))
	out := make([]*pullJSON, 0, len(pageItems))
	for _, s := range pageItems {
		out = append(out, c.pullJSON(r, s))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// pull finds the pull request named by the path at now.
func (c *call) pull() (*repo, pullState, bool) {
	r, found := c.repo()
	if !found {
		return nil, pullState{}, false
	}
	n, err := strconv.Atoi(c.r.PathValue("number"))
	if err != nil {
		return nil, pullState{}, false
	}
	ref, found := r.byNumber[n]
	if !found || ref.pull < 0 {
		return nil, pullState{}, false
	}
	s, visibleNow := r.pullAt(&r.pulls[ref.pull], c.now)
	return r, s, visibleNow
}

func (c *call) getPull() reply {
	r, s, found := c.pull()
	if !found {
		return notFound()
	}
	return ok(c.pullDetailJSON(r, s))
}

// listPullCommits is GET /pulls/{n}/commits: the pull request's own commits, oldest first
// (at most 250).
func (c *call) listPullCommits() reply {
	r, s, found := c.pull()
	if !found {
		return notFound()
	}
	commits := s.commits[:min(len(s.commits), 250)]
	pageItems, link := paginate(c, commits, c.pageParams(30, 100))
	out := make([]commitJSON, 0, len(pageItems))
	for _, i := range pageItems {
		out = append(out, c.commitJSON(r, i, false))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

type reviewJSON struct {
	ID                int64     `json:"id"`
	NodeID            string    `json:"node_id"`
	User              *userJSON `json:"user"`
	Body              string    `json:"body"`
	State             string    `json:"state"`
	HTMLURL           string    `json:"html_url"`
	PullRequestURL    string    `json:"pull_request_url"`
	AuthorAssociation string    `json:"author_association"`
	SubmittedAt       ts        `json:"submitted_at"`
	CommitID          string    `json:"commit_id"`
}

// listReviews is GET /pulls/{n}/reviews, in chronological order.
func (c *call) listReviews() reply {
	r, s, found := c.pull()
	if !found {
		return notFound()
	}
	pageItems, link := paginate(c, s.reviews, c.pageParams(30, 100))
	out := make([]reviewJSON, 0, len(pageItems))
	n := strconv.Itoa(s.p.number)
	for _, rv := range pageItems {
		commit := s.head
		for _, ci := range s.commits {
			if !r.commits[ci].pushedAt.After(rv.submittedAt) {
				commit = ci
			}
		}
		out = append(out, reviewJSON{
			ID: rv.id, NodeID: nodeID("PRR_", rv.id), User: c.userJSON(rv.user), Body: rv.body, State: rv.state,
			HTMLURL:        fmt.Sprintf("%s/%s/pull/%s#pullrequestreview-%d", htmlBase, r.fullName(), n, rv.id),
			PullRequestURL: c.repoURL(r) + "/pulls/" + n, AuthorAssociation: association(rv.user, r),
			SubmittedAt: ts(rv.submittedAt), CommitID: r.commits[commit].sha.String(),
		})
	}
	rep := ok(out)
	rep.link = link
	return rep
}
