package githubsim

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// listOrgRepos is GET /orgs/{org}/repos: type, sort (created | updated | pushed |
// full_name; default created) and direction (default asc for full_name, else desc).
func (c *call) listOrgRepos() reply {
	o, found := c.org(c.r.PathValue("org"))
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	typ := cmp.Or(q.Get("type"), "all")
	sortBy := cmp.Or(q.Get("sort"), "created")
	direction := q.Get("direction")
	if direction == "" {
		direction = "desc"
		if sortBy == "full_name" {
			direction = "asc"
		}
	}
	switch {
	case !slices.Contains([]string{"all", "public", "private", "forks", "sources", "member", "internal"}, typ):
		return validationFailed("type", "type must be one of all, public, private, forks, sources, member")
	case !slices.Contains([]string{"created", "updated", "pushed", "full_name"}, sortBy):
		return validationFailed("sort", "sort must be one of created, updated, pushed, full_name")
	case direction != "asc" && direction != "desc":
		return validationFailed("direction", "direction must be asc or desc")
	}

	var repos []*repo
	for _, r := range o.repos {
		if !r.visibleAt(c.now) {
			continue
		}
		keep := true
		switch typ {
		case "public":
			keep = !r.private
		case "private", "internal":
			keep = r.private
		case "forks":
			keep = r.fork
		case "sources":
			keep = !r.fork
		}
		if keep {
			repos = append(repos, r)
		}
	}
	key := func(r *repo) time.Time {
		switch sortBy {
		case "updated":
			return r.updatedAt(c.now)
		case "pushed":
			return r.pushedAt(c.now)
		}
		return r.createdAt
	}
	slices.SortStableFunc(repos, func(a, b *repo) int {
		var n int
		if sortBy == "full_name" {
			n = strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
		} else {
			n = key(a).Compare(key(b))
		}
		n = cmp.Or(n, cmp.Compare(a.id, b.id))
		if direction == "desc" {
			return -n
		}
		return n
	})
	pageItems, link := paginate(c, repos, c.pageParams(30, 100))
	out := make([]*repoJSON, 0, len(pageItems))
	for _, r := range pageItems {
		out = append(out, c.repoJSON(r))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

func (c *call) getRepo() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	return ok(c.repoFullJSON(r))
}
