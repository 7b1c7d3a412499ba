package githubsim

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// The fields of GitHub's GraphQL schema the simulator serves, over the same view at now
// as the REST API (view.go), so both APIs tell the same story. What GitHub's GraphQL API
// shows differently from REST is shown differently here too:
//   - a bot's login has no "[bot]" suffix ("dependabot", "github-actions"), and the
//     Copilot coding agent, "Copilot" in REST, is "copilot-swe-agent";
//   - a commit's author and committer are GitActors whose user is a User only: a bot's
//     commits have user null (REST links them to the bot account);
//   - databaseId is a 32-bit Int, null for the larger ids the simulator (like GitHub
//     today) hands out; pull requests, reviews and issues have fullDatabaseId (a BigInt
//     string), deployments and their statuses only their global id;
//   - mergeCommit is null until a pull request is merged; the test merge REST reports as
//     merge_commit_sha is potentialMergeCommit;
//   - enum values are upper case (OPEN, MERGED, SUCCESS, NOT_PLANNED), times are UTC.

// Objects the resolvers read.
type (
	gqlPull struct {
		r *repo
		s pullState
	}
	gqlCommit struct {
		r   *repo
		i   int32 // -1: a commit only its SHA is known of (a test merge)
		sha sha
	}
	gqlGitActor struct {
		name, email string
		date        time.Time
		user        *user
	}
	gqlReview struct {
		r  *repo
		rv review
	}
	gqlDeployment struct {
		r *repo
		d *deployment
	}
	gqlStatus struct {
		r  *repo
		d  *deployment
		st deploymentStatus
	}
	gqlIssue struct {
		r  *repo
		is *issue
	}
	gqlLabel struct {
		r    *repo
		name string
	}
	gqlRef struct {
		r    *repo
		name string
	}
)

// gqlRateState is the query's rateLimit object.
type gqlRateState struct {
	cost, limit, remaining, used int
	nodes                        int64
	reset                        time.Time
}

func gqlResolvers() map[string]gqlResolver {
	m := map[string]gqlResolver{}
	add := func(typ string, fields map[string]gqlResolver) {
		for name, fn := range fields {
			m[typ+"."+name] = fn
		}
	}
	add("Query", map[string]gqlResolver{
		"rateLimit": func(x *gqlExec, _ gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return gqlObject{typ: "RateLimit", v: x.rate}, nil
		},
		"repository": resolveRepository,
		"node": func(x *gqlExec, _ gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			return x.node(id)
		},
		"nodes": func(x *gqlExec, _ gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			ids, _ := args["ids"].([]any)
			if len(ids) > gqlMaxPage {
				return nil, gqlErrorf("EXCESSIVE_PAGINATION", "You may not ask for more than %d nodes at once (asked %d).", gqlMaxPage, len(ids))
			}
			out := make([]gqlObject, len(ids))
			for i, v := range ids {
				id, _ := v.(string)
				obj, err := x.node(id)
				if err != nil {
					return nil, err
				}
				out[i] = obj
			}
			return out, nil
		},
	})
	rate := func(get func(gqlRateState) any) gqlResolver {
		return func(_ *gqlExec, obj gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return get(obj.v.(gqlRateState)), nil
		}
	}
	add("RateLimit", map[string]gqlResolver{
		"cost":      rate(func(r gqlRateState) any { return r.cost }),
		"limit":     rate(func(r gqlRateState) any { return r.limit }),
		"remaining": rate(func(r gqlRateState) any { return r.remaining }),
		"used":      rate(func(r gqlRateState) any { return r.used }),
		"nodeCount": rate(func(r gqlRateState) any { return r.nodes }),
		"resetAt":   rate(func(r gqlRateState) any { return gqlTime(r.reset) }),
	})
	add("Repository", repositoryResolvers())
	add("PullRequest", pullResolvers())
	add("PullRequestCommit", map[string]gqlResolver{
		"commit": func(_ *gqlExec, obj gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return obj.v, nil // the PullRequestCommit wraps the commit object itself
		},
	})
	add("Commit", commitResolvers())
	add("GitActor", map[string]gqlResolver{
		"name": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlGitActor).name, nil
		},
		"email": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlGitActor).email, nil
		},
		"date": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return gqlTime(o.v.(gqlGitActor).date), nil
		},
		"user": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			u := o.v.(gqlGitActor).user
			if u == nil || u.isBot() {
				return nil, nil // a GitActor's user is a User: bots are not linked
			}
			return gqlObject{typ: "User", v: u}, nil
		},
	})
	actor := map[string]gqlResolver{
		"login": func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return x.c.s.w.graphQLLogin(o.v.(*user)), nil
		},
		"id": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			u := o.v.(*user)
			if u.isBot() {
				return nodeID("BOT_", u.id), nil
			}
			return nodeID("U_", u.id), nil
		},
		"databaseId": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return int32OrNull(o.v.(*user).id), nil
		},
		"url": func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return htmlBase + "/" + x.c.s.w.graphQLLogin(o.v.(*user)), nil
		},
	}
	add("User", actor)
	add("Bot", actor)
	add("Organization", map[string]gqlResolver{
		"login": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(*org).login, nil
		},
	})
	add("PullRequestReview", reviewResolvers())
	add("Label", map[string]gqlResolver{
		"name": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlLabel).name, nil
		},
		"color": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			n := o.v.(gqlLabel).name
			return fmt.Sprintf("%06x", hashOf(uint64(len(n)), uint64(n[0]))%0xFFFFFF), nil
		},
	})
	add("Ref", map[string]gqlResolver{
		"name": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlRef).name, nil
		},
		"prefix": func(_ *gqlExec, _ gqlObject, _ *ast.Field, _ map[string]any) (any, error) { return "refs/heads/", nil },
		"qualifiedName": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return "refs/heads/" + o.v.(gqlRef).name, nil
		},
	})
	add("Deployment", deploymentResolvers())
	add("DeploymentStatus", statusResolvers())
	add("Issue", issueResolvers())
	return m
}

// graphQLLogin is an account's login as GitHub's GraphQL API shows it.
func (w *world) graphQLLogin(u *user) string {
	switch {
	case u == w.copilotAgent:
		return "copilot-swe-agent"
	case u.isBot():
		return strings.TrimSuffix(u.login, "[bot]")
	}
	return u.login
}

func actorObject(u *user) any {
	if u == nil {
		return nil
	}
	if u.isBot() {
		return gqlObject{typ: "Bot", v: u}
	}
	return gqlObject{typ: "User", v: u}
}

func gqlTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// int32OrNull is a databaseId: GraphQL's Int is 32-bit, larger ids are null.
func int32OrNull(id int64) any {
	if id > math.MaxInt32 || id < math.MinInt32 {
		return nil
	}
	return id
}

func stringArg(args map[string]any, name string) string {
	s, _ := args[name].(string)
	return s
}

func stringsArg(args map[string]any, name string) []string {
	list, _ := args[name].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// orderArg reads an orderBy input object ({field, direction}) with its default.
func orderArg(args map[string]any, field, direction string) (string, bool) {
	if o, ok := args["orderBy"].(map[string]any); ok {
		field = cmp.Or(stringArg(o, "field"), field)
		direction = cmp.Or(stringArg(o, "direction"), direction)
	}
	return field, direction == "DESC"
}

func resolveRepository(x *gqlExec, _ gqlObject, _ *ast.Field, args map[string]any) (any, error) {
	owner, name := stringArg(args, "owner"), stringArg(args, "name")
	if r, ok := x.c.repoNamed(owner, name); ok {
		return gqlObject{typ: "Repository", v: r}, nil
	}
	return nil, gqlErrorf("NOT_FOUND", "Could not resolve to a Repository with the name '%s/%s'.", owner, name)
}

// repoNamed finds a repository of the token's enterprise that exists at now.
func (c *call) repoNamed(owner, name string) (*repo, bool) {
	o, found := c.org(owner)
	if !found {
		return nil, false
	}
	r, found := o.byName[name]
	if !found {
		for n, rr := range o.byName {
			if strings.EqualFold(n, name) {
				r, found = rr, true
			}
		}
	}
	if !found || !r.visibleAt(c.now) {
		return nil, false
	}
	return r, true
}

// node finds an object by its global id: pull requests, deployments, issues and
// repositories of the token's enterprise.
func (x *gqlExec) node(id string) (gqlObject, error) {
	notFound := gqlErrorf("NOT_FOUND", "Could not resolve to a node with the global id of '%s'", id)
	prefix, dbID, ok := parseNodeID(id)
	if !ok {
		return gqlObject{}, notFound
	}
	r := x.c.s.repoByEntity(dbID)
	if prefix == "R_" {
		r = x.c.s.reposByID[dbID]
	}
	if r == nil || r.org.ent != x.c.ent || !r.visibleAt(x.c.now) {
		return gqlObject{}, notFound
	}
	switch prefix {
	case "R_":
		return gqlObject{typ: "Repository", v: r}, nil
	case "PR_":
		ref, found := r.byNumber[int(dbID%1_000_000)]
		if found && ref.pull >= 0 && r.pulls[ref.pull].id == dbID {
			if s, visibleNow := r.pullAt(&r.pulls[ref.pull], x.c.now); visibleNow {
				return gqlObject{typ: "PullRequest", v: gqlPull{r: r, s: s}}, nil
			}
		}
	case "I_":
		ref, found := r.byNumber[int(dbID%1_000_000)]
		if found && ref.issue >= 0 && r.issues[ref.issue].id == dbID && !r.issues[ref.issue].createdAt.After(x.c.now) {
			return gqlObject{typ: "Issue", v: gqlIssue{r: r, is: &r.issues[ref.issue]}}, nil
		}
	case "DE_":
		i := int(dbID%1_000_000) - 1
		if i >= 0 && i < len(r.deployments) && r.deployments[i].id == dbID && !r.deployments[i].createdAt.After(x.c.now) {
			return gqlObject{typ: "Deployment", v: gqlDeployment{r: r, d: &r.deployments[i]}}, nil
		}
	}
	return gqlObject{}, notFound
}

// Repository.

func repositoryResolvers() map[string]gqlResolver {
	repoOf := func(o gqlObject) *repo { return o.v.(*repo) }
	return map[string]gqlResolver{
		"id": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return nodeID("R_", repoOf(o).id), nil
		},
		"databaseId": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return int32OrNull(repoOf(o).id), nil
		},
		"name": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) { return repoOf(o).name, nil },
		"nameWithOwner": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return repoOf(o).fullName(), nil
		},
		"isArchived": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return repoOf(o).archived, nil
		},
		"pushedAt": func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return gqlTime(repoOf(o).pushedAt(x.c.now)), nil
		},
		"owner": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return gqlObject{typ: "Organization", v: repoOf(o).org}, nil
		},
		"pullRequests": resolvePullRequests,
		"pullRequest": func(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			r := repoOf(o)
			n, _ := intArg(args, "number")
			ref, found := r.byNumber[n]
			if found && ref.pull >= 0 {
				if s, visibleNow := r.pullAt(&r.pulls[ref.pull], x.c.now); visibleNow {
					return gqlObject{typ: "PullRequest", v: gqlPull{r: r, s: s}}, nil
				}
			}
			return nil, gqlErrorf("NOT_FOUND", "Could not resolve to a PullRequest with the number of %d.", n)
		},
		"issues":      resolveIssues,
		"deployments": resolveDeployments,
	}
}

// resolvePullRequests is Repository.pullRequests: states, labels (any of), baseRefName,
// headRefName, orderBy (default CREATED_AT ASC; ties by number).
func resolvePullRequests(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
	r := o.v.(*repo)
	states, labels := stringsArg(args, "states"), stringsArg(args, "labels")
	base, head := stringArg(args, "baseRefName"), stringArg(args, "headRefName")
	field, desc := orderArg(args, "CREATED_AT", "ASC")
	var list []pullState
	for i := range r.pulls {
		s, visibleNow := r.pullAt(&r.pulls[i], x.c.now)
		if !visibleNow {
			continue
		}
		if len(states) > 0 && !slices.Contains(states, pullStateEnum(s)) {
			continue
		}
		if len(labels) > 0 && !anyLabel(s.p.labels, labels) {
			continue
		}
		if (base != "" && base != r.defaultBranch) || (head != "" && head != s.p.headRef) {
			continue
		}
		list = append(list, s)
	}
	slices.SortStableFunc(list, func(a, b pullState) int {
		var n int
		switch field {
		case "UPDATED_AT":
			n = a.updatedAt.Compare(b.updatedAt)
		case "COMMENTS":
			n = cmp.Compare(a.p.comments, b.p.comments)
		default:
			n = a.p.createdAt.Compare(b.p.createdAt)
		}
		n = cmp.Or(n, cmp.Compare(a.p.number, b.p.number))
		if desc {
			return -n
		}
		return n
	})
	return pageOf(args, "PullRequestConnection", len(list), func(i int) gqlObject {
		return gqlObject{typ: "PullRequest", v: gqlPull{r: r, s: list[i]}}
	})
}

func pullStateEnum(s pullState) string {
	switch {
	case s.open:
		return "OPEN"
	case s.merged:
		return "MERGED"
	}
	return "CLOSED"
}

func anyLabel(have, wanted []string) bool {
	for _, w := range wanted {
		if slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return true
		}
	}
	return false
}

// resolveIssues is Repository.issues (pull requests are not issues here): states,
// labels (any of), filterBy.since, orderBy (default CREATED_AT ASC; ties by number).
func resolveIssues(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
	r := o.v.(*repo)
	states, labels := stringsArg(args, "states"), stringsArg(args, "labels")
	var since time.Time
	if fb, ok := args["filterBy"].(map[string]any); ok {
		for k := range fb {
			if k != "since" {
				return nil, gqlErrorf("NOT_SIMULATED", "IssueFilters.%s is not simulated by githubsim", k)
			}
		}
		if v := stringArg(fb, "since"); v != "" {
			t, good := parseTime(v)
			if !good {
				return nil, gqlErrorf("INVALID_ARGUMENT", "filterBy.since %q is not a DateTime", v)
			}
			since = t
		}
	}
	field, desc := orderArg(args, "CREATED_AT", "ASC")
	var list []*issue
	for i := range r.issues {
		is := &r.issues[i]
		if is.createdAt.After(x.c.now) {
			continue
		}
		state := "OPEN"
		if visible(is.closedAt, x.c.now) {
			state = "CLOSED"
		}
		if (len(states) > 0 && !slices.Contains(states, state)) || (len(labels) > 0 && !anyLabel(is.labelsAt(x.c.now), labels)) ||
			(!since.IsZero() && is.updatedAt(x.c.now).Before(since)) {
			continue
		}
		list = append(list, is)
	}
	slices.SortStableFunc(list, func(a, b *issue) int {
		var n int
		switch field {
		case "UPDATED_AT":
			n = a.updatedAt(x.c.now).Compare(b.updatedAt(x.c.now))
		case "COMMENTS":
			n = cmp.Compare(a.comments, b.comments)
		default:
			n = a.createdAt.Compare(b.createdAt)
		}
		n = cmp.Or(n, cmp.Compare(a.number, b.number))
		if desc {
			return -n
		}
		return n
	})
	return pageOf(args, "IssueConnection", len(list), func(i int) gqlObject {
		return gqlObject{typ: "Issue", v: gqlIssue{r: r, is: list[i]}}
	})
}

// resolveDeployments is Repository.deployments: environments, orderBy (CREATED_AT; the
// schema's default is ascending; ties by id).
func resolveDeployments(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
	r := o.v.(*repo)
	envs := stringsArg(args, "environments")
	_, desc := orderArg(args, "CREATED_AT", "ASC")
	var list []*deployment
	for i := range r.deployments { // in creation order, ids increasing
		d := &r.deployments[i]
		if d.createdAt.After(x.c.now) || (len(envs) > 0 && !slices.Contains(envs, d.env)) {
			continue
		}
		list = append(list, d)
	}
	if desc {
		slices.Reverse(list)
	}
	return pageOf(args, "DeploymentConnection", len(list), func(i int) gqlObject {
		return gqlObject{typ: "Deployment", v: gqlDeployment{r: r, d: list[i]}}
	})
}

// Pull requests.

func pullResolvers() map[string]gqlResolver {
	pr := func(o gqlObject) gqlPull { return o.v.(gqlPull) }
	field := func(get func(x *gqlExec, p gqlPull) any) gqlResolver {
		return func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) { return get(x, pr(o)), nil }
	}
	return map[string]gqlResolver{
		"id":             field(func(_ *gqlExec, p gqlPull) any { return nodeID("PR_", p.s.p.id) }),
		"fullDatabaseId": field(func(_ *gqlExec, p gqlPull) any { return strconv.FormatInt(p.s.p.id, 10) }),
		"databaseId":     field(func(_ *gqlExec, p gqlPull) any { return int32OrNull(p.s.p.id) }),
		"number":         field(func(_ *gqlExec, p gqlPull) any { return p.s.p.number }),
		"title":          field(func(_ *gqlExec, p gqlPull) any { return p.s.p.title }),
		"body":           field(func(_ *gqlExec, p gqlPull) any { return p.s.p.body }),
		"url": field(func(_ *gqlExec, p gqlPull) any {
			return htmlBase + "/" + p.r.fullName() + "/pull/" + strconv.Itoa(p.s.p.number)
		}),
		"state":        field(func(_ *gqlExec, p gqlPull) any { return pullStateEnum(p.s) }),
		"closed":       field(func(_ *gqlExec, p gqlPull) any { return !p.s.open }),
		"merged":       field(func(_ *gqlExec, p gqlPull) any { return p.s.merged }),
		"isDraft":      field(func(_ *gqlExec, p gqlPull) any { return p.s.draft }),
		"createdAt":    field(func(_ *gqlExec, p gqlPull) any { return gqlTime(p.s.p.createdAt) }),
		"updatedAt":    field(func(_ *gqlExec, p gqlPull) any { return gqlTime(p.s.updatedAt) }),
		"closedAt":     field(func(_ *gqlExec, p gqlPull) any { return gqlTime(p.s.closedAt) }),
		"additions":    field(func(_ *gqlExec, p gqlPull) any { return p.s.additions }),
		"deletions":    field(func(_ *gqlExec, p gqlPull) any { return p.s.deletions }),
		"changedFiles": field(func(_ *gqlExec, p gqlPull) any { return p.s.files }),
		"baseRefName":  field(func(_ *gqlExec, p gqlPull) any { return p.r.defaultBranch }),
		"headRefName":  field(func(_ *gqlExec, p gqlPull) any { return p.s.p.headRef }),
		"author":       field(func(_ *gqlExec, p gqlPull) any { return actorObject(p.s.p.author) }),
		"mergedAt": field(func(_ *gqlExec, p gqlPull) any {
			if !p.s.merged {
				return nil
			}
			return gqlTime(p.s.closedAt)
		}),
		"mergeCommit": field(func(_ *gqlExec, p gqlPull) any {
			if !p.s.merged {
				return nil
			}
			return gqlObject{typ: "Commit", v: gqlCommit{r: p.r, i: p.s.p.mergeCommit, sha: p.s.mergeSHA}}
		}),
		"potentialMergeCommit": field(func(_ *gqlExec, p gqlPull) any {
			if p.s.merged {
				return nil
			}
			return gqlObject{typ: "Commit", v: gqlCommit{r: p.r, i: -1, sha: p.s.mergeSHA}}
		}),
		"labels": func(_ *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			p := pr(o)
			return pageOf(args, "LabelConnection", len(p.s.p.labels), func(i int) gqlObject {
				return gqlObject{typ: "Label", v: gqlLabel{r: p.r, name: p.s.p.labels[i]}}
			})
		},
		// commits lists the pull request's own commits, oldest first, at most 250 (as
		// GitHub caps them, in REST and GraphQL alike).
		"commits": func(_ *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			p := pr(o)
			commits := p.s.commits[:min(len(p.s.commits), 250)]
			return pageOf(args, "PullRequestCommitConnection", len(commits), func(i int) gqlObject {
				return gqlObject{typ: "PullRequestCommit", v: gqlObject{typ: "Commit", v: gqlCommit{r: p.r, i: commits[i], sha: p.r.commits[commits[i]].sha}}}
			})
		},
		// reviews lists the submitted reviews in submission order.
		"reviews": func(_ *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			p := pr(o)
			if len(stringsArg(args, "states")) > 0 || stringArg(args, "author") != "" {
				return nil, gqlErrorf("NOT_SIMULATED", "reviews(states:, author:) filters are not simulated by githubsim")
			}
			return pageOf(args, "PullRequestReviewConnection", len(p.s.reviews), func(i int) gqlObject {
				return gqlObject{typ: "PullRequestReview", v: gqlReview{r: p.r, rv: p.s.reviews[i]}}
			})
		},
	}
}

func reviewResolvers() map[string]gqlResolver {
	field := func(get func(rv review) any) gqlResolver {
		return func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return get(o.v.(gqlReview).rv), nil
		}
	}
	return map[string]gqlResolver{
		"id":             field(func(rv review) any { return nodeID("PRR_", rv.id) }),
		"fullDatabaseId": field(func(rv review) any { return strconv.FormatInt(rv.id, 10) }),
		"databaseId":     field(func(rv review) any { return int32OrNull(rv.id) }),
		"state":          field(func(rv review) any { return rv.state }),
		"body":           field(func(rv review) any { return rv.body }),
		"submittedAt":    field(func(rv review) any { return gqlTime(rv.submittedAt) }),
		"createdAt":      field(func(rv review) any { return gqlTime(rv.submittedAt) }),
		"author":         field(func(rv review) any { return actorObject(rv.user) }),
	}
}

// Commits.

func commitResolvers() map[string]gqlResolver {
	known := func(name string, get func(x *gqlExec, c gqlCommit, cm *commit) any) gqlResolver {
		return func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			c := o.v.(gqlCommit)
			if c.i < 0 {
				return nil, gqlErrorf("NOT_SIMULATED", "Commit.%s of a pull request's test merge is not simulated by githubsim (only its oid)", name)
			}
			return get(x, c, &c.r.commits[c.i]), nil
		}
	}
	m := map[string]gqlResolver{
		"oid": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlCommit).sha.String(), nil
		},
		"abbreviatedOid": func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return o.v.(gqlCommit).sha.String()[:7], nil
		},
		"parents": func(_ *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			c := o.v.(gqlCommit)
			if c.i < 0 {
				return nil, gqlErrorf("NOT_SIMULATED", "Commit.parents of a pull request's test merge is not simulated by githubsim (only its oid)")
			}
			parents := c.r.commits[c.i].parents
			return pageOf(args, "CommitConnection", len(parents), func(k int) gqlObject {
				return gqlObject{typ: "Commit", v: gqlCommit{r: c.r, i: parents[k], sha: c.r.commits[parents[k]].sha}}
			})
		},
	}
	for name, get := range map[string]func(x *gqlExec, c gqlCommit, cm *commit) any{
		"id":              func(_ *gqlExec, c gqlCommit, _ *commit) any { return nodeID("C_", c.r.id<<20^int64(c.i)) },
		"message":         func(_ *gqlExec, _ gqlCommit, cm *commit) any { return cm.message },
		"messageHeadline": func(_ *gqlExec, _ gqlCommit, cm *commit) any { return firstLine(cm.message) },
		"messageBody": func(_ *gqlExec, _ gqlCommit, cm *commit) any {
			_, body, _ := strings.Cut(cm.message, "\n")
			return strings.TrimLeft(body, "\n")
		},
		"authoredDate":  func(_ *gqlExec, _ gqlCommit, cm *commit) any { return gqlTime(cm.authoredAt) },
		"committedDate": func(_ *gqlExec, _ gqlCommit, cm *commit) any { return gqlTime(cm.committedAt) },
		"additions":     func(_ *gqlExec, _ gqlCommit, cm *commit) any { return int(cm.additions) },
		"deletions":     func(_ *gqlExec, _ gqlCommit, cm *commit) any { return int(cm.deletions) },
		"url": func(_ *gqlExec, c gqlCommit, _ *commit) any {
			return htmlBase + "/" + c.r.fullName() + "/commit/" + c.sha.String()
		},
		"author": func(_ *gqlExec, _ gqlCommit, cm *commit) any {
			return gqlObject{typ: "GitActor", v: gqlGitActor{name: cm.authorName, email: cm.authorEmail, date: cm.authoredAt, user: cm.author}}
		},
		"committer": func(_ *gqlExec, _ gqlCommit, cm *commit) any {
			a := gqlGitActor{name: cm.authorName, email: cm.authorEmail, date: cm.committedAt, user: cm.committer}
			if cm.committer != nil {
				a.name, a.email = cm.committer.name, cm.committer.email
			}
			return gqlObject{typ: "GitActor", v: a}
		},
	} {
		m[name] = known(name, get)
	}
	return m
}

// Deployments.

func deploymentResolvers() map[string]gqlResolver {
	field := func(get func(x *gqlExec, d gqlDeployment) any) gqlResolver {
		return func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return get(x, o.v.(gqlDeployment)), nil
		}
	}
	return map[string]gqlResolver{
		"id":                  field(func(_ *gqlExec, d gqlDeployment) any { return nodeID("DE_", d.d.id) }),
		"databaseId":          field(func(_ *gqlExec, d gqlDeployment) any { return int32OrNull(d.d.id) }),
		"commitOid":           field(func(_ *gqlExec, d gqlDeployment) any { return d.r.commits[d.d.commit].sha.String() }),
		"environment":         field(func(_ *gqlExec, d gqlDeployment) any { return d.d.env }),
		"originalEnvironment": field(func(_ *gqlExec, d gqlDeployment) any { return d.d.env }),
		"latestEnvironment":   field(func(_ *gqlExec, d gqlDeployment) any { return d.d.env }),
		"description":         field(func(_ *gqlExec, d gqlDeployment) any { return d.d.description }),
		"task":                field(func(_ *gqlExec, _ gqlDeployment) any { return "deploy" }),
		"createdAt":           field(func(_ *gqlExec, d gqlDeployment) any { return gqlTime(d.d.createdAt) }),
		"updatedAt":           field(func(x *gqlExec, d gqlDeployment) any { return gqlTime(d.d.updatedAt(x.c.now)) }),
		"creator":             field(func(_ *gqlExec, d gqlDeployment) any { return actorObject(d.d.creator) }),
		"commit": field(func(_ *gqlExec, d gqlDeployment) any {
			return gqlObject{typ: "Commit", v: gqlCommit{r: d.r, i: d.d.commit, sha: d.r.commits[d.d.commit].sha}}
		}),
		"ref": field(func(_ *gqlExec, d gqlDeployment) any {
			return gqlObject{typ: "Ref", v: gqlRef{r: d.r, name: d.d.ref}}
		}),
		"latestStatus": field(func(x *gqlExec, d gqlDeployment) any {
			sts := d.d.statusesAt(x.c.now)
			if len(sts) == 0 {
				return nil
			}
			return gqlObject{typ: "DeploymentStatus", v: gqlStatus{r: d.r, d: d.d, st: sts[len(sts)-1]}}
		}),
		// statuses lists newest first, as the REST API does.
		"statuses": func(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			d := o.v.(gqlDeployment)
			sts := d.d.statusesAt(x.c.now)
			return pageOf(args, "DeploymentStatusConnection", len(sts), func(i int) gqlObject {
				return gqlObject{typ: "DeploymentStatus", v: gqlStatus{r: d.r, d: d.d, st: sts[len(sts)-1-i]}}
			})
		},
	}
}

func statusResolvers() map[string]gqlResolver {
	field := func(get func(s gqlStatus) any) gqlResolver {
		return func(_ *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return get(o.v.(gqlStatus)), nil
		}
	}
	return map[string]gqlResolver{
		"id":          field(func(s gqlStatus) any { return nodeID("DES_", s.st.id) }),
		"state":       field(func(s gqlStatus) any { return strings.ToUpper(s.st.state) }),
		"createdAt":   field(func(s gqlStatus) any { return gqlTime(s.st.at) }),
		"updatedAt":   field(func(s gqlStatus) any { return gqlTime(s.st.at) }),
		"description": field(func(s gqlStatus) any { return statusDescription(s.st.state) }),
		"environment": field(func(s gqlStatus) any { return s.d.env }),
		"creator":     field(func(s gqlStatus) any { return actorObject(s.d.creator) }),
	}
}

// Issues.

func issueResolvers() map[string]gqlResolver {
	field := func(get func(x *gqlExec, i gqlIssue) any) gqlResolver {
		return func(x *gqlExec, o gqlObject, _ *ast.Field, _ map[string]any) (any, error) {
			return get(x, o.v.(gqlIssue)), nil
		}
	}
	return map[string]gqlResolver{
		"id":             field(func(_ *gqlExec, i gqlIssue) any { return nodeID("I_", i.is.id) }),
		"fullDatabaseId": field(func(_ *gqlExec, i gqlIssue) any { return strconv.FormatInt(i.is.id, 10) }),
		"databaseId":     field(func(_ *gqlExec, i gqlIssue) any { return int32OrNull(i.is.id) }),
		"number":         field(func(_ *gqlExec, i gqlIssue) any { return i.is.number }),
		"title":          field(func(_ *gqlExec, i gqlIssue) any { return i.is.title }),
		"body":           field(func(_ *gqlExec, i gqlIssue) any { return i.is.body }),
		"url": field(func(_ *gqlExec, i gqlIssue) any {
			return htmlBase + "/" + i.r.fullName() + "/issues/" + strconv.Itoa(i.is.number)
		}),
		"author":    field(func(_ *gqlExec, i gqlIssue) any { return actorObject(i.is.author) }),
		"createdAt": field(func(_ *gqlExec, i gqlIssue) any { return gqlTime(i.is.createdAt) }),
		"updatedAt": field(func(x *gqlExec, i gqlIssue) any { return gqlTime(i.is.updatedAt(x.c.now)) }),
		"closed":    field(func(x *gqlExec, i gqlIssue) any { return visible(i.is.closedAt, x.c.now) }),
		"closedAt": field(func(x *gqlExec, i gqlIssue) any {
			if !visible(i.is.closedAt, x.c.now) {
				return nil
			}
			return gqlTime(i.is.closedAt)
		}),
		"state": field(func(x *gqlExec, i gqlIssue) any {
			if visible(i.is.closedAt, x.c.now) {
				return "CLOSED"
			}
			return "OPEN"
		}),
		// stateReason answers DUPLICATE only when asked with enableDuplicate: true
		// (NOT_PLANNED otherwise), as GitHub's does.
		"stateReason": func(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			i := o.v.(gqlIssue)
			reason := strings.ToUpper(i.is.stateReason(x.c.now))
			if reason == "" {
				return nil, nil
			}
			if dup, _ := args["enableDuplicate"].(bool); reason == "DUPLICATE" && !dup {
				reason = "NOT_PLANNED"
			}
			return reason, nil
		},
		"labels": func(x *gqlExec, o gqlObject, _ *ast.Field, args map[string]any) (any, error) {
			i := o.v.(gqlIssue)
			labels := i.is.labelsAt(x.c.now)
			return pageOf(args, "LabelConnection", len(labels), func(k int) gqlObject {
				return gqlObject{typ: "Label", v: gqlLabel{r: i.r, name: labels[k]}}
			})
		},
	}
}

// Global ids, in GitHub's current format: a type prefix, "_", and the base64url
// (unpadded) MessagePack encoding of [0, database id].

func nodeID(prefix string, id int64) string {
	b := []byte{0x92, 0x00} // fixarray of 2, then 0
	u := uint64(id)
	switch {
	case id >= 0 && u < 0x80:
		b = append(b, byte(u))
	case id >= 0 && u <= math.MaxUint8:
		b = append(b, 0xcc, byte(u))
	case id >= 0 && u <= math.MaxUint16:
		b = append(b, 0xcd, byte(u>>8), byte(u))
	case id >= 0 && u <= math.MaxUint32:
		b = append(b, 0xce, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	default:
		b = append(b, 0xcf, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseNodeID reads what nodeID writes: the prefix with its underscore and the id.
func parseNodeID(id string) (prefix string, dbID int64, ok bool) {
	i := strings.IndexByte(id, '_')
	if i <= 0 {
		return "", 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(id[i+1:])
	if err != nil || len(b) < 3 || b[0] != 0x92 || b[1] != 0x00 {
		return "", 0, false
	}
	var u uint64
	switch rest := b[2:]; {
	case len(rest) == 1 && rest[0] < 0x80:
		u = uint64(rest[0])
	case rest[0] == 0xcc && len(rest) == 2, rest[0] == 0xcd && len(rest) == 3, rest[0] == 0xce && len(rest) == 5, rest[0] == 0xcf && len(rest) == 9:
		for _, c := range rest[1:] {
			u = u<<8 | uint64(c)
		}
	default:
		return "", 0, false
	}
	if u > math.MaxInt64 {
		return "", 0, false
	}
	return id[:i+1], int64(u), true
}

// repoByEntity finds the repository an entity id (entityID) belongs to.
func (s *Simulator) repoByEntity(id int64) *repo {
	return s.reposByID[(id%10_000_000_000_000)/1_000_000+400_000_000]
}
