package githubsim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// world is everything that ever happens, generated once by newWorld and read-only
// afterwards: every entity carries the timestamps of its events, and the view at a
// given now (view.go) decides what is visible.
type world struct {
	cfg        Config
	start      time.Time // first generated repository event
	end        time.Time // last moment events are generated for
	initialNow time.Time

	enterprises []*enterprise
	byToken     map[string]*enterprise
	bySlug      map[string]*enterprise
	orgs        map[string]*org

	webFlow, actionsBot, dependabot, copilotReviewer, copilotAgent *user
}

type enterprise struct {
	cfg    EnterpriseConfig
	index  int
	id     int64 // GitHub's numeric enterprise id, sent as a string in reports
	orgs   []*org
	people []*user // everyone; the first cfg.Developers commit code
	devs   []*user
	// copilot is the set of people holding at least one Copilot seat.
	copilot []*copilotUser
	// unassignedSeat is the one seat whose assignee is null.
	unassignedSeat seat
}

type org struct {
	cfg     OrgConfig
	login   string
	id      int64
	ent     *enterprise
	repos   []*repo
	byName  map[string]*repo
	members []*user
	devs    []*user // members who commit
	teams   []team
	// showcase is the repository that is guaranteed to hold every rare case (see gen_repo.go).
	showcase *repo
}

type team struct {
	id   int64
	name string
	slug string
}

// user is a GitHub account (or a bot).
type user struct {
	id    int64
	login string
	name  string
	email string
	typ   string // "User" or "Bot"
	orgs  []*org
}

func (u *user) isBot() bool { return u.typ == "Bot" }

// newWorld generates the whole timeline.
func newWorld(cfg Config) *world {
	w := &world{
		cfg:        cfg,
		initialNow: cfg.Now,
		start:      startOfDay(cfg.Now.AddDate(0, 0, -cfg.HistoryDays)),
		end:        cfg.Now.AddDate(0, 0, cfg.FutureDays),
		byToken:    map[string]*enterprise{},
		bySlug:     map[string]*enterprise{},
		orgs:       map[string]*org{},
	}
	w.webFlow = &user{id: 19864447, login: "web-flow", name: "GitHub", email: "noreply@github.com", typ: "User"}
	w.actionsBot = &user{id: 41898282, login: "github-actions[bot]", name: "github-actions[bot]", email: "41898282+github-actions[bot]@users.noreply.github.com", typ: "Bot"}
	w.dependabot = &user{id: 49699333, login: "dependabot[bot]", name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com", typ: "Bot"}
	w.copilotReviewer = &user{id: 175728472, login: "copilot-pull-request-reviewer[bot]", name: "copilot-pull-request-reviewer[bot]", email: "175728472+Copilot@users.noreply.github.com", typ: "Bot"}
	w.copilotAgent = &user{id: 198982749, login: "Copilot", name: "Copilot", email: "198982749+Copilot@users.noreply.github.com", typ: "Bot"}

	var repoID int64 = 400_000_000
	for i, ec := range cfg.Enterprises {
		e := &enterprise{cfg: ec, index: i, id: int64(10_000 + 37*i)}
		w.enterprises = append(w.enterprises, e)
		w.byToken[ec.Token] = e
		w.bySlug[ec.Slug] = e
		for j, oc := range ec.Orgs {
			o := &org{cfg: oc, login: oc.Login, id: int64(90_000_000 + 1000*i + j), ent: e, byName: map[string]*repo{}}
			e.orgs = append(e.orgs, o)
			w.orgs[oc.Login] = o
		}
		w.genPeople(e)
		for _, o := range e.orgs {
			repoID = w.genRepos(o, repoID)
		}
		w.genCopilot(e)
	}
	return w
}

var firstNames = []string{"ada", "alan", "grace", "linus", "barbara", "ken", "margaret", "dennis",
	"frances", "edsger", "radia", "tim", "hedy", "john", "katherine", "donald", "sophie", "niklaus",
	"annie", "bjarne", "shafi", "guido", "lynn", "james", "jean", "rob", "evelyn", "brian", "mary", "leslie"}
var lastNames = []string{"lovelace", "turing", "hopper", "torvalds", "liskov", "thompson", "hamilton",
	"ritchie", "allen", "dijkstra", "perlman", "berners", "lamarr", "backus", "johnson", "knuth",
	"wilson", "wirth", "easley", "stroustrup", "goldwasser", "rossum", "conway", "gosling", "sammet",
	"pike", "boyd", "kernighan", "keller", "lamport"}

// genPeople creates the enterprise's accounts and spreads them over its orgs: everyone
// has a home org and a quarter also belong to a second one, so org Copilot totals do not
// add up to the enterprise's.
func (w *world) genPeople(e *enterprise) {
	rng := newRand(w.cfg.Seed, streamUsers, uint64(e.index))
	n := max(e.cfg.Developers, e.cfg.CopilotUsers) + 3
	used := map[string]bool{}
	for k := range n {
		var login string
		for {
			login = fmt.Sprintf("%s-%s", pick(rng, firstNames), pick(rng, lastNames))
			if rng.IntN(3) == 0 || used[login] {
				login = fmt.Sprintf("%s%d", login, rng.IntN(900)+10)
			}
			if !used[login] {
				break
			}
		}
		used[login] = true
		u := &user{id: int64(5_000_000 + 100_000*e.index + k), login: login, typ: "User"}
		u.name = displayName(login)
		u.email = fmt.Sprintf("%s@%s.example.com", login, e.cfg.Slug)
		e.people = append(e.people, u)
	}
	e.devs = e.people[:e.cfg.Developers]
	for k, u := range e.people {
		home := e.orgs[k%len(e.orgs)]
		u.orgs = []*org{home}
		if len(e.orgs) > 1 && rng.IntN(4) == 0 {
			other := e.orgs[(k+1+rng.IntN(len(e.orgs)-1))%len(e.orgs)]
			u.orgs = append(u.orgs, other)
		}
		for _, o := range u.orgs {
			o.members = append(o.members, u)
			if k < e.cfg.Developers {
				o.devs = append(o.devs, u)
			}
		}
	}
	for j, o := range e.orgs {
		if len(o.devs) == 0 { // tiny worlds: make sure every org has someone committing
			o.devs = append(o.devs, e.devs[j%len(e.devs)])
		}
		for t, name := range []string{"platform", "frontend", "data", "sre"} {
			o.teams = append(o.teams, team{id: o.id*10 + int64(t), name: name, slug: name})
		}
	}
}

func displayName(login string) string {
	out := []rune{}
	upper := true
	for _, r := range login {
		switch {
		case r == '-':
			out = append(out, ' ')
			upper = true
		case r >= '0' && r <= '9':
			// drop the disambiguating number from the display name
		case upper && r >= 'a' && r <= 'z':
			out = append(out, r-'a'+'A')
			upper = false
		default:
			out = append(out, r)
		}
	}
	return string(out)
}

var repoWords1 = []string{"payments", "billing", "search", "identity", "catalog", "orders", "inventory",
	"shipping", "pricing", "notifications", "reporting", "gateway", "checkout", "profile", "ledger",
	"analytics", "scheduler", "storage", "media", "chat"}
var repoWords2 = []string{"api", "service", "web", "worker", "ui", "lib", "sdk", "infra", "jobs", "cli"}

type repoKind int

const (
	repoActive  repoKind = iota
	repoDormant          // nothing for a long time
)

// genRepos creates the org's repositories and generates their timelines.
func (w *world) genRepos(o *org, nextID int64) int64 {
	rng := newRand(w.cfg.Seed, streamOrg, uint64(o.id))
	n := o.cfg.Repos
	nActive := int(float64(n)*o.cfg.ActiveShare + 0.5)
	if n > 0 && o.cfg.ActiveShare > 0 && nActive == 0 {
		nActive = 1
	}
	kinds := make([]repoKind, n)
	for i := range kinds {
		if i >= nActive {
			kinds[i] = repoDormant
		}
	}
	// Active repositories first in creation order would be unrealistic: shuffle, but
	// keep the first active one (the showcase) and the busy one deterministic.
	rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	used := map[string]bool{}
	// Repositories were created over the four years before the history starts.
	span := w.start.Sub(w.start.AddDate(-4, 0, 0))
	slot := span / time.Duration(max(n, 1))
	for i := range n {
		name := fmt.Sprintf("%s-%s", pick(rng, repoWords1), pick(rng, repoWords2))
		for k := 2; used[name]; k++ {
			name = fmt.Sprintf("%s-%s-%d", pick(rng, repoWords1), pick(rng, repoWords2), k)
		}
		used[name] = true
		created := w.start.Add(-span + slot*time.Duration(i) + between(rng, 0, slot/2+time.Second))
		r := &repo{
			id:            nextID,
			org:           o,
			name:          name,
			defaultBranch: "main",
			kind:          kinds[i],
			private:       rng.IntN(5) != 0,
			createdAt:     created.Truncate(time.Second),
		}
		nextID++
		if rng.IntN(6) == 0 {
			r.defaultBranch = "master"
		}
		o.repos = append(o.repos, r)
		o.byName[name] = r
	}
	// Roles: the first active repository is the showcase, the second active one the busy
	// one (when asked for); a share of dormant ones are archived; some are forks.
	var active, dormant []*repo
	for _, r := range o.repos {
		if r.kind == repoActive {
			active = append(active, r)
		} else {
			dormant = append(dormant, r)
		}
	}
	if len(active) > 0 {
		o.showcase = active[0]
		active[0].showcase = true
		active[0].deploys = true
		active[0].prodEnvs = []string{"production"}
	}
	for i, r := range active[min(1, len(active)):] {
		r.deploys = rng.Float64() < 0.7
		r.prodEnvs = []string{pick(rng, []string{"production", "prod"})}
		if i == 0 {
			r.deploys, r.prodEnvs = true, []string{"prod"} // both production names always occur
			r.busy = o.cfg.BusyRepo
		}
		if rng.IntN(12) == 0 {
			r.fork = true
		}
	}
	w.assignLayouts(o, active)
	for i, r := range dormant {
		if i%3 == 0 {
			r.archived = true
		}
		if i%5 == 1 {
			r.fork = true
		}
	}
	for _, r := range o.repos {
		genRepo(w, r)
	}
	return nextID
}

// Production environments of a monorepo's services and of a regional rollout.
var (
	serviceEnvs = []string{"production/api", "production/web"}
	regionEnvs  = []string{"production-eu", "production-us", "production-ap"}
)

// assignLayouts gives the org's third active repository a monorepo's two services
// and its fourth two regions, each with its fixed case (see gen_repo.go); 5 % of the
// other deploying repositories are monorepos and 5 % deploy to two or three regions.
// Its own stream keeps the other choices of genRepos as they were.
func (w *world) assignLayouts(o *org, active []*repo) {
	rng := newRand(w.cfg.Seed, streamLayout, uint64(o.id))
	for i, r := range active {
		services, regions := i == 2, i == 3
		if i > 3 && r.deploys {
			x := rng.Float64()
			services, regions = x < 0.05, x >= 0.05 && x < 0.10
		}
		switch {
		case services:
			r.deploys, r.layout, r.prodEnvs = true, layoutServices, serviceEnvs
		case regions:
			n := 2
			if i > 3 && rng.IntN(2) == 0 {
				n = 3
			}
			r.deploys, r.layout, r.prodEnvs = true, layoutRegions, regionEnvs[:n]
		}
		r.pinnedLayout = i == 2 || i == 3
	}
}

// sortedTimes sorts and returns ts.
func sortedTimes(ts []time.Time) []time.Time {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// lastAtOrBefore returns the index of the last element of the sorted ts that is ≤ t, or -1.
func lastAtOrBefore(ts []time.Time, t time.Time) int {
	return sort.Search(len(ts), func(i int) bool { return ts[i].After(t) }) - 1
}

// weightedPick chooses an index with probability proportional to weights.
func weightedPick(rng *rand.Rand, weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
