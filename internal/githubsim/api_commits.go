package githubsim

import (
	"cmp"
	"net/http"
	"strings"
)

// listCommits is GET /repos/{o}/{r}/commits: the commits reachable from sha (default: the
// default branch), newest committer date first; since and until filter on the committer
// date.
func (c *call) listCommits() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	ref := cmp.Or(q.Get("sha"), r.defaultBranch)
	head, found := r.resolveRef(ref, c.now)
	if !found {
		return reply{status: http.StatusNotFound, body: map[string]any{"message": "No commit found for SHA: " + ref, "documentation_url": "https://docs.github.com/rest/commits/commits#list-commits", "status": "404"}}
	}
	since, hasSince, bad := c.timeParam("since")
	if bad.status != 0 {
		return bad
	}
	until, hasUntil, bad := c.timeParam("until")
	if bad.status != 0 {
		return bad
	}
	var list []int32
	for _, i := range r.history(head) {
		t := r.commits[i].committedAt
		if (hasSince && t.Before(since)) || (hasUntil && t.After(until)) {
			continue
		}
		list = append(list, i)
	}
	pageItems, link := paginate(c, list, c.pageParams(30, 100))
	out := make([]commitJSON, 0, len(pageItems))
	for _, i := range pageItems {
		out = append(out, c.commitJSON(r, i, false))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// getCommit is GET /repos/{o}/{r}/commits/{ref}, with stats and files.
func (c *call) getCommit() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	ref := c.r.PathValue("ref")
	i, found := r.resolveRef(ref, c.now)
	if !found {
		return reply{status: http.StatusUnprocessableEntity, body: map[string]any{"message": "No commit found for SHA: " + ref, "documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit", "status": "422"}}
	}
	return ok(c.commitJSON(r, i, true))
}

type compareJSON struct {
	URL             string       `json:"url"`
	HTMLURL         string       `json:"html_url"`
	PermalinkURL    string       `json:"permalink_url"`
	DiffURL         string       `json:"diff_url"`
	PatchURL        string       `json:"patch_url"`
	BaseCommit      commitJSON   `json:"base_commit"`
	MergeBaseCommit commitJSON   `json:"merge_base_commit"`
	Status          string       `json:"status"`
	AheadBy         int          `json:"ahead_by"`
	BehindBy        int          `json:"behind_by"`
	TotalCommits    int          `json:"total_commits"`
	Commits         []commitJSON `json:"commits"`
	Files           []commitFile `json:"files,omitempty"`
}

// compareCommits is GET /repos/{o}/{r}/compare/{base}...{head}: the commits reachable from
// head and not from base, oldest first. Without page or per_page the first 250 commits
// are returned; with them, pages of per_page (default 30, at most 250) with Link headers.
// Changed files are listed on the first page only.
func (c *call) compareCommits() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	baseRef, headRef, found := strings.Cut(c.r.PathValue("basehead"), "...")
	if !found {
		return notFound()
	}
	strip := func(ref string) string {
		if owner, rest, has := strings.Cut(ref, ":"); has && strings.EqualFold(owner, r.org.login) {
			return rest
		}
		return ref
	}
	base, okBase := r.resolveRef(strip(baseRef), c.now)
	head, okHead := r.resolveRef(strip(headRef), c.now)
	if !okBase || !okHead {
		return notFound()
	}
	cmpr := r.compare(base, head)
	p := c.pageParams(30, 250)
	if !p.explicit {
		p.perPage = 250
	}
	start, end := p.window(len(cmpr.commits))
	link := ""
	if p.explicit {
		link = c.link(p, len(cmpr.commits))
	}
	u := c.repoURL(r)
	bh := r.commits[base].sha.String() + "..." + r.commits[head].sha.String()
	out := compareJSON{
		URL: u + "/compare/" + baseRef + "..." + headRef, HTMLURL: htmlBase + "/" + r.fullName() + "/compare/" + baseRef + "..." + headRef,
		PermalinkURL: htmlBase + "/" + r.fullName() + "/compare/" + bh,
		DiffURL:      htmlBase + "/" + r.fullName() + "/compare/" + baseRef + "..." + headRef + ".diff",
		PatchURL:     htmlBase + "/" + r.fullName() + "/compare/" + baseRef + "..." + headRef + ".patch",
		BaseCommit:   c.commitJSON(r, base, false), MergeBaseCommit: c.commitJSON(r, r.mergeBase(base, head), false),
		Status: cmpr.status, AheadBy: cmpr.ahead, BehindBy: cmpr.behind, TotalCommits: cmpr.ahead,
		Commits: make([]commitJSON, 0, end-start),
	}
	for _, i := range cmpr.commits[start:end] {
		out.Commits = append(out.Commits, c.commitJSON(r, i, false))
	}
	if p.page == 1 {
		out.Files = []commitFile{}
		for _, i := range cmpr.commits {
			out.Files = append(out.Files, c.commitJSON(r, i, true).Files...)
			if len(out.Files) >= 300 {
				out.Files = out.Files[:300]
				break
			}
		}
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// mergeBase is the newest common ancestor of a and b.
func (r *repo) mergeBase(a, b int32) int32 {
	fromA, fromB := r.ancestors(a), r.ancestors(b)
	best := int32(-1)
	for i := range r.commits {
		if !fromA[i] || !fromB[i] {
			continue
		}
		if best < 0 || r.commits[i].committedAt.After(r.commits[best].committedAt) {
			best = int32(i)
		}
	}
	if best < 0 {
		return a
	}
	return best
}
