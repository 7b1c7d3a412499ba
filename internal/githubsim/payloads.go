package githubsim

import (
	"fmt"
	"net/url"
	"time"
)

// JSON shapes shared by several endpoints, with the fields GitHub documents (a subset:
// the ones a client reads plus the common links; see doc.go for what is left out).

// ts is a timestamp rendered as GitHub does (RFC 3339, seconds, UTC); the zero time is null.
type ts time.Time

func (t ts) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *ts) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = ts{}
		return nil
	}
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = ts(v)
	return nil
}

const htmlBase = "https://github.com"

type userJSON struct {
	Login        string `json:"login"`
	ID           int64  `json:"id"`
	NodeID       string `json:"node_id"`
	AvatarURL    string `json:"avatar_url"`
	GravatarID   string `json:"gravatar_id"`
	URL          string `json:"url"`
	HTMLURL      string `json:"html_url"`
	Type         string `json:"type"`
	UserViewType string `json:"user_view_type"`
	SiteAdmin    bool   `json:"site_admin"`
}

func (c *call) userJSON(u *user) *userJSON {
	if u == nil {
		return nil
	}
	prefix := "U_"
	if u.isBot() {
		prefix = "BOT_"
	}
	return &userJSON{
		Login: u.login, ID: u.id, NodeID: nodeID(prefix, u.id),
		AvatarURL: fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.id),
		URL:       c.absolute("/users/" + url.PathEscape(u.login)), HTMLURL: htmlBase + "/" + u.login,
		Type: u.typ, UserViewType: "public",
	}
}

func (c *call) orgOwnerJSON(o *org) *userJSON {
	return &userJSON{
		Login: o.login, ID: o.id, NodeID: nodeID("O_", o.id),
		AvatarURL: fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", o.id),
		URL:       c.absolute("/users/" + url.PathEscape(o.login)), HTMLURL: htmlBase + "/" + o.login,
		Type: "Organization", UserViewType: "public",
	}
}

type repoJSON struct {
	ID              int64     `json:"id"`
	NodeID          string    `json:"node_id"`
	Name            string    `json:"name"`
	FullName        string    `json:"full_name"`
	Private         bool      `json:"private"`
	Owner           *userJSON `json:"owner"`
	HTMLURL         string    `json:"html_url"`
	Description     string    `json:"description"`
	Fork            bool      `json:"fork"`
	URL             string    `json:"url"`
	CommitsURL      string    `json:"commits_url"`
	PullsURL        string    `json:"pulls_url"`
	DeploymentsURL  string    `json:"deployments_url"`
	CreatedAt       ts        `json:"created_at"`
	UpdatedAt       ts        `json:"updated_at"`
	PushedAt        ts        `json:"pushed_at"`
	Size            int       `json:"size"`
	StargazersCount int       `json:"stargazers_count"`
	WatchersCount   int       `json:"watchers_count"`
	Language        string    `json:"language"`
	ForksCount      int       `json:"forks_count"`
	Archived        bool      `json:"archived"`
	Disabled        bool      `json:"disabled"`
	OpenIssuesCount int       `json:"open_issues_count"`
	Topics          []string  `json:"topics"`
	Visibility      string    `json:"visibility"`
	DefaultBranch   string    `json:"default_branch"`
	Parent          *repoJSON `json:"parent,omitempty"`
	Source          *repoJSON `json:"source,omitempty"`
}

func (c *call) repoJSON(r *repo) *repoJSON {
	visibility := "internal"
	if !r.private {
		visibility = "public"
	}
	u := c.repoURL(r)
	open := 0
	for i := range r.issues {
		if visible(r.issues[i].createdAt, c.now) && !visible(r.issues[i].closedAt, c.now) {
			open++
		}
	}
	for i := range r.pulls {
		if visible(r.pulls[i].createdAt, c.now) && !visible(r.pulls[i].closedAt, c.now) {
			open++
		}
	}
	return &repoJSON{
		ID: r.id, NodeID: nodeID("R_", r.id), Name: r.name, FullName: r.fullName(), Private: r.private,
		Owner: c.orgOwnerJSON(r.org), HTMLURL: htmlBase + "/" + r.fullName(),
		Description: "The " + r.name + " service.", Fork: r.fork, URL: u,
		CommitsURL: u + "/commits{/sha}", PullsURL: u + "/pulls{/number}", DeploymentsURL: u + "/deployments",
		CreatedAt: ts(r.createdAt), UpdatedAt: ts(r.updatedAt(c.now)), PushedAt: ts(r.pushedAt(c.now)),
		Size: 100 + len(r.commits)*7, Language: []string{"Go", "TypeScript", "Python", "Java"}[r.id%4],
		Archived: r.archived, OpenIssuesCount: open, Topics: []string{}, Visibility: visibility,
		DefaultBranch: r.defaultBranch, StargazersCount: int(r.id % 17), WatchersCount: int(r.id % 17),
	}
}

// repoFullJSON is GET /repos/{owner}/{repo}: a fork also names its parent.
func (c *call) repoFullJSON(r *repo) *repoJSON {
	j := c.repoJSON(r)
	if r.fork {
		parent := &repoJSON{
			ID: 1_000_000 + r.id%1000, Name: r.name, FullName: "upstream-oss/" + r.name,
			Owner:   &userJSON{Login: "upstream-oss", ID: 999, Type: "Organization", UserViewType: "public"},
			HTMLURL: htmlBase + "/upstream-oss/" + r.name, URL: c.absolute("/repos/upstream-oss/" + r.name),
			DefaultBranch: "main", Visibility: "public", Topics: []string{}, CreatedAt: ts(r.createdAt.AddDate(-1, 0, 0)),
		}
		j.Parent, j.Source = parent, parent
	}
	return j
}

// Commits.

type gitActor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  ts     `json:"date"`
}

type gitCommitJSON struct {
	Author       gitActor `json:"author"`
	Committer    gitActor `json:"committer"`
	Message      string   `json:"message"`
	Tree         shaLink  `json:"tree"`
	URL          string   `json:"url"`
	CommentCount int      `json:"comment_count"`
	Verification struct {
		Verified bool    `json:"verified"`
		Reason   string  `json:"reason"`
		Payload  *string `json:"payload"`
	} `json:"verification"`
}

type shaLink struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url,omitempty"`
}

type commitStats struct {
	Total     int `json:"total"`
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
}

type commitFile struct {
	SHA       string `json:"sha"`
	Filename  string `json:"filename"`
	Status    string `json:"status"`
	Additions int    `json:"additions"`
	Deletions int    `json:"deletions"`
	Changes   int    `json:"changes"`
}

type commitJSON struct {
	SHA         string        `json:"sha"`
	NodeID      string        `json:"node_id"`
	Commit      gitCommitJSON `json:"commit"`
	URL         string        `json:"url"`
	HTMLURL     string        `json:"html_url"`
	CommentsURL string        `json:"comments_url"`
	Author      *userJSON     `json:"author"`
	Committer   *userJSON     `json:"committer"`
	Parents     []shaLink     `json:"parents"`
	Stats       *commitStats  `json:"stats,omitempty"`
	Files       []commitFile  `json:"files,omitempty"`
}

func (c *call) commitJSON(r *repo, i int32, detailed bool) commitJSON {
	cm := &r.commits[i]
	s := cm.sha.String()
	u := c.repoURL(r)
	committerName, committerEmail := cm.authorName, cm.authorEmail
	if cm.committer != nil {
		committerName, committerEmail = cm.committer.name, cm.committer.email
	}
	j := commitJSON{
		SHA: s, NodeID: nodeID("C_", r.id<<20^int64(i)), URL: u + "/commits/" + s,
		HTMLURL: htmlBase + "/" + r.fullName() + "/commit/" + s, CommentsURL: u + "/commits/" + s + "/comments",
		Author: c.userJSON(cm.author), Committer: c.userJSON(cm.committer), Parents: []shaLink{},
	}
	j.Commit = gitCommitJSON{
		Author:    gitActor{Name: cm.authorName, Email: cm.authorEmail, Date: ts(cm.authoredAt)},
		Committer: gitActor{Name: committerName, Email: committerEmail, Date: ts(cm.committedAt)},
		Message:   cm.message, URL: u + "/git/commits/" + s,
		Tree: shaLink{SHA: makeSHA(c.s.w.cfg.Seed, uint64(r.id), 1<<41+uint64(i)).String()},
	}
	j.Commit.Tree.URL = u + "/git/trees/" + j.Commit.Tree.SHA
	j.Commit.Verification.Reason = "unsigned"
	if cm.committer == c.s.w.webFlow {
		j.Commit.Verification.Verified, j.Commit.Verification.Reason = true, "valid"
	}
	for _, p := range cm.parents {
		ps := r.commits[p].sha.String()
		j.Parents = append(j.Parents, shaLink{SHA: ps, URL: u + "/commits/" + ps, HTMLURL: htmlBase + "/" + r.fullName() + "/commit/" + ps})
	}
	if detailed {
		j.Stats = &commitStats{Total: int(cm.additions + cm.deletions), Additions: int(cm.additions), Deletions: int(cm.deletions)}
		j.Files = []commitFile{}
		n := max(int(cm.files), 0)
		for f := range n {
			add, del := int(cm.additions)/max(n, 1), int(cm.deletions)/max(n, 1)
			if f == 0 {
				add += int(cm.additions) % max(n, 1)
				del += int(cm.deletions) % max(n, 1)
			}
			j.Files = append(j.Files, commitFile{
				SHA: makeSHA(c.s.w.cfg.Seed, uint64(r.id), 1<<42+uint64(i)<<8+uint64(f)).String(), Filename: fmt.Sprintf("src/%s/file%d.go", r.name, f),
				Status: "modified", Additions: add, Deletions: del, Changes: add + del,
			})
		}
	}
	return j
}
