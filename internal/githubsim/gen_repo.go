package githubsim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// A repository's timeline is a small discrete-event simulation: pull requests and direct
// pushes are planned up front; merges, production releases, incidents and their fixes
// are events processed in time order, because what they do depends on the state of the
// default branch and of the deployments at that moment.
//
// Production environments. A repository that deploys releases to one environment
// ("production" or "prod"), to a monorepo's services ("production/api",
// "production/web": each service is released on its own days, and web ships, 40 % of
// the time, the build that passed staging 18 to 48 hours earlier, so it often runs an
// older SHA than api), or to regions (one release goes to "production-eu", then,
// 45 to 100 minutes after it succeeded, to "production-us" [and "production-ap"]).
// Every org's third active repository is a monorepo and its fourth a regional one; of
// the other deploying repositories, 5 % are monorepos and 5 % regional (two or three
// regions). Everything below happens per environment: the last release, rollbacks,
// fixes (a regional incident is fixed by a new rollout from the first region on).
//
// Random rates, outside the showcase: a production attempt fails (failure 6 %, error
// 1.5 %) and the same SHA is deployed to the same environment 20 to 90 minutes later
// (which fails again 10 % of the time); a successful release is followed by an incident
// (7 %: fixed by a rollback, a Revert-button pull request of the newest pull request it
// brought, or a hotfix pull request), a false alarm (1.5 %: an incident closed as
// not_planned, or a quarter of the time as duplicate, 30 minutes to 20 hours after it
// was opened), an incident whose label is replaced by "bug" 2 to 72 hours after it was
// opened (1.5 %), a Revert-button pull request, 3 to 40 hours later and without an
// incident, of the newest pull request an earlier release deployed (2 %), or a direct
// push `git revert` 2 to 30 hours later of the newest single-parent commit an earlier
// release deployed (1.5 %); 2 % of people's pull requests revert their own commit
// (WIP, Revert "WIP", final). Reverts are written as git and GitHub write them: the
// Revert button opens `Revert "<title>"` from revert-<N>-<head> with body
// "Reverts owner/repo#N" and one `git revert` commit per commit the merge landed (-m 1
// of a merge commit: "This reverts commit <sha>, reversing\nchanges made to <parent>.");
// squash commits carry GitHub's default message (a single commit's whole message, or the
// title and every commit's message as a list).
//
// The showcase repository of every org (its first active repository) additionally holds
// every rare case at a fixed place, so tests can rely on them (day N is N days after the
// UTC day of deployFrom; a pinned release is at 14:00 after a direct push at 12:00, and
// no other release happens that day):
//   - deployments start at 60 % of the history back from the initial now (deployFrom);
//   - three pull requests opened 1, 2 and 3 days after deployFrom, merged with a merge
//     commit, a squash and a rebase, each reviewed by a colleague and by Copilot (the
//     first also commented on by its author); a merged Dependabot pull request; one
//     closed unmerged; a draft opened 50 hours before the initial now that stays open;
//   - a direct push by an author whose e-mail has no account, a day after deployFrom;
//   - an incident opened the day before the repository's first deployment;
//   - pinned production releases on days 3, 6, 9 and 12: the first fails and its SHA is
//     deployed again successfully 20 to 90 minutes later, with no incident (a failed
//     attempt); the second causes an incident fixed by a rollback (a deployment of an
//     older SHA), the third one fixed by a revert pull request, the fourth one fixed by
//     a hotfix pull request;
//   - day 14: a pinned release; an incident opened at 17:00 and closed at 20:00 whose
//     labels become ["bug"] (it is no incident any more) 2 hours after the initial now;
//   - day 15: a pinned release; an incident opened at 16:00 that stays open until it is
//     closed as not_planned 3 hours after the initial now (each change happens at the
//     later of that time and a day after the incident was opened, which only matters
//     when the history is too short for day 15 to lie in the past);
//   - days 16–18: pull request P1 opened at 09:00 on day 16, merged with a merge commit
//     within about an hour and released that day; P2 likewise (a squash) on day 17; on
//     day 18 at 09:00 the Revert button's pull request of P1, released 25 minutes after
//     it is merged (a revert of an earlier release);
//   - day 19: a pull request opened at 09:00 whose commits are "WIP", `Revert "WIP"`
//     (This reverts commit <WIP>.) and "final", merged with a merge commit and released
//     that day; no incident follows (an in-PR revert);
//   - days 20–21: a direct push at 11:00 on day 20, released that day, reverted by a
//     direct push (`git revert`) at 11:00 on day 21, released that day;
//   - an incident opened 10 hours before the initial now that stays open;
//   - a production deployment started 4 minutes before the initial now whose success
//     status is created 4 minutes after it, and a workflow run in progress at now.
//
// So the showcase's cases all lie before the initial now when HistoryDays ≥ 40. Apart
// from them, no incident, rollback or revert happens in the showcase.
//
// The monorepo (third active repository) 9 days before the initial now (UTC day): api
// releases at 11:00 and 13:00 (a push before each); web releases api's 11:00 SHA at 15:00
// — older than api's latest, not a rollback of web — and catches up with the default
// branch's head at 11:00 the next day. The regional repository (fourth) 8 days before:
// a push at 10:00 released at 11:00 to production-eu, then to production-us. No release
// on those days but the pinned ones, and no incident or revert follows a release from 3
// days before to 2 days after.

const (
	idKindPull int64 = iota + 1
	idKindIssue
	idKindReview
	idKindRun
	idKindDeployment
	idKindStatus
	idKindWorkflow
)

// entityID builds a unique id that increases with seq within a repository and kind.
func entityID(kind int64, r *repo, seq int) int64 {
	return kind*10_000_000_000_000 + (r.id-400_000_000)*1_000_000 + int64(seq)
}

type eventKind int8

const (
	evMerge eventKind = iota
	evPush
	evPromote
	evRedeploy
	evIncident
	evRollback
	evFixPull
	evRollout
)

type event struct {
	at   time.Time
	seq  int
	kind eventKind
	env  int8 // index in repo.prodEnvs of a promotion, rollout, redeployment, incident or rollback
	a, b int32
	flag string
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Flags of events. What follows a successful release (its aftermath) travels as the
// flag of the rollout, incident and fix events.
const (
	remedyRollback = "rollback"
	remedyRevert   = "revert"
	remedyHotfix   = "hotfix"
	// An incident closed as not planned or as a duplicate: a false alarm.
	afterFalseAlarm = "false-alarm"
	// An incident whose incident label is removed later.
	afterRelabel = "relabel"
	// A revert pull request, without an incident, of a pull request an earlier release
	// deployed.
	afterLateRevert = "late-revert"
	// A direct push `git revert` of a commit an earlier release deployed.
	afterRevertPush = "revert-push"

	flagForced   = "forced"
	flagSlow     = "slow"
	flagUnlinked = "unlinked"
	// A revert pull request (fix event) released as soon as it is merged.
	flagRevertRelease = "revert-release"
	// A direct push reverted by a direct push the next day.
	flagRevertNextDay = "revert-next-day"
	// Pinned promotions: forced, with a fixed outcome.
	pinFail     = "forced:fail"
	pinRollback = "forced:" + remedyRollback
	pinRevert   = "forced:" + remedyRevert
	pinHotfix   = "forced:" + remedyHotfix
	pinSlow     = "forced:slow"
	pinPlain    = "forced:plain" // success, nothing follows
	pinOlder    = "forced:older" // a monorepo service releases the other service's previous SHA
)

// pinned reports whether a promotion's flag fixes its outcome.
func pinned(flag string) bool { return strings.HasPrefix(flag, flagForced+":") }

type stagingOK struct {
	at  time.Time
	pos int
}

type pendingIncident struct {
	issue  int32
	env    int8 // production environment of the bad release (its group: envGroup)
	badPos int  // default-branch position the bad release deployed
	fixPos int  // position of the fix once merged, or -1
	closed bool
}

// fixTarget says what the merge of a fix pull request does: fix incident inc (-1: none)
// and release env at once.
type fixTarget struct {
	inc int
	env int8
}

type landing struct {
	pull int32
	pos  int
}

type messageKind int8

const (
	msgMerge  messageKind = iota // "Merge pull request #N from ..."
	msgSquash                    // GitHub's default squash message (squashMessage)
	msgCopy                      // a rebased copy of src
	msgRevert                    // git revert of src
)

// messageRule is a commit message written by finish(), once pull numbers are known and
// the messages it derives from are written. Rules are kept in commit creation order, so
// a rule only reads messages already written.
type messageRule struct {
	commit int32
	kind   messageKind
	pull   int32 // msgMerge, msgSquash
	src    int32 // msgCopy, msgRevert
}

type repoGen struct {
	w      *world
	r      *repo
	rng    *rand.Rand
	leadIn time.Time
	end    time.Time
	now    time.Time

	contributors []*user
	releasers    []*user
	unlinked     [2]string // name, e-mail of an author without an account

	queue eventHeap
	seq   int

	deployFrom time.Time
	staging    []stagingOK
	incidents  []*pendingIncident
	fixFor     map[int32]fixTarget // fix pull → what its merge does
	landings   []landing
	messages   []messageRule
	pinnedDays map[time.Time]bool // days of pinned promotions: no other one

	// Per production environment: the default-branch position of the last successful
	// deployment, and of every one in order.
	prodPos  []int
	deployed [][]int

	// Pull requests and default-branch commits a revert was planned for.
	revertedPull, revertedCommit map[int32]bool

	// No incident, revert or rollback follows a release between quietFrom and quietTo,
	// so a pinned sequence of releases plays out as documented.
	quietFrom, quietTo time.Time
}

func genRepo(w *world, r *repo) {
	g := &repoGen{
		w:              w,
		r:              r,
		rng:            newRand(w.cfg.Seed, streamRepo, uint64(r.id)),
		leadIn:         w.start.AddDate(0, 0, -14),
		end:            w.end,
		now:            w.initialNow,
		fixFor:         map[int32]fixTarget{},
		revertedPull:   map[int32]bool{},
		revertedCommit: map[int32]bool{},
		pinnedDays:     map[time.Time]bool{},
	}
	for range r.prodEnvs {
		g.prodPos = append(g.prodPos, -1)
		g.deployed = append(g.deployed, nil)
	}
	r.bySHA = map[sha]int32{}
	r.byNumber = map[int]itemRef{}
	r.workflows = []workflow{
		{name: "CI", path: ".github/workflows/ci.yml"},
		{name: "Deploy staging", path: ".github/workflows/staging.yml"},
		{name: "Release", path: ".github/workflows/release.yml"},
		{name: "Nightly", path: ".github/workflows/nightly.yml"},
		{name: "Matrix", path: ".github/workflows/matrix.yml"},
	}
	for i := range r.workflows {
		r.workflows[i].id = entityID(idKindWorkflow, r, i)
	}
	devs := r.org.devs
	n := min(len(devs), 3+g.rng.IntN(6))
	perm := g.rng.Perm(len(devs))
	for _, k := range perm[:n] {
		g.contributors = append(g.contributors, devs[k])
	}
	g.releasers = g.contributors[:min(2, len(g.contributors))]
	g.unlinked = [2]string{"Jordan Contractor", fmt.Sprintf("jordan.%d@contractor.example.net", r.id%1000)}
	r.metaUpdatedAt = r.createdAt.Add(between(g.rng, time.Hour, 30*24*time.Hour))

	if r.kind == repoDormant {
		g.genDormant()
	} else {
		g.genActive()
	}
	g.finish()
}

// genDormant gives a repository a short, old history and nothing since.
func (g *repoGen) genDormant() {
	r := g.r
	last := g.now.Add(-between(g.rng, 200*24*time.Hour, 900*24*time.Hour))
	if !last.After(r.createdAt) {
		last = r.createdAt.Add(48 * time.Hour)
	}
	g.history(r.createdAt, last, 2+g.rng.IntN(5))
	if r.archived {
		r.metaUpdatedAt = last.Add(between(g.rng, 24*time.Hour, 60*24*time.Hour))
	} else if r.metaUpdatedAt.Before(last) {
		r.metaUpdatedAt = last.Add(time.Hour)
	}
}

// history lands n direct commits between from and to, starting with the initial commit.
func (g *repoGen) history(from, to time.Time, n int) {
	step := to.Sub(from) / time.Duration(n)
	for i := range n {
		at := from.Add(step * time.Duration(i)).Add(between(g.rng, 0, step/2+time.Second)).Truncate(time.Second)
		if i == 0 {
			at = from
		}
		if i == n-1 {
			at = to
		}
		author := pick(g.rng, g.contributors)
		msg := "Initial commit"
		if i > 0 {
			msg = pick(g.rng, pushMessages)
		}
		c := g.addCommit(g.sized(commit{author: author, committer: author, authoredAt: at, committedAt: at, pushedAt: at, message: msg, parents: parentsOf(g.tip())}))
		g.land(c, at)
	}
}

func (g *repoGen) genActive() {
	r, rng := g.r, g.rng
	g.history(r.createdAt, g.leadIn.Add(-time.Hour), 3+rng.IntN(6))
	nightly := rng.IntN(10) < 3
	g.deployFrom = g.leadIn
	if r.showcase {
		g.deployFrom = g.now.Add(-time.Duration(float64(g.w.cfg.HistoryDays)*0.6) * 24 * time.Hour)
		g.pinShowcase()
	}
	r.deployFrom = g.deployFrom
	if r.pinnedLayout {
		g.pinLayout()
	}

	rate := r.org.cfg.PRsPerWeek / 5
	pushRate := 0.12
	for day := startOfDay(g.leadIn); day.Before(g.end); day = day.AddDate(0, 0, 1) {
		weekend := isWeekend(day)
		dayRate, dayPush := rate, pushRate
		if weekend {
			dayRate, dayPush = rate*0.1, pushRate*0.1
		}
		var created []time.Time
		for range poisson(rng, dayRate) {
			created = append(created, workTime(rng, day))
		}
		for _, t := range sortedTimes(created) {
			if t.After(g.end) || t.Before(g.leadIn) {
				continue
			}
			kind, author := prNormal, pick(rng, g.contributors)
			switch x := rng.Float64(); {
			case x < 0.08:
				kind, author = prDependabot, g.w.dependabot
			case x < 0.11:
				kind, author = prCopilot, g.w.copilotAgent
			}
			g.planPull(t, pullOpts{kind: kind, author: author, revertOf: -1, method: methodAny})
		}
		for range poisson(rng, dayPush) {
			g.schedule(workTime(rng, day), evPush, 0, 0, "")
		}
		promoteChance := 0.5
		if r.showcase {
			promoteChance = 0.8
		}
		// Each service of a monorepo is released on its own; regions share a release.
		releases := 1
		if r.layout == layoutServices {
			releases = len(r.prodEnvs)
		}
		for env := range releases {
			if r.deploys && !weekend && chance(rng, promoteChance) && !g.pinnedDays[day] {
				t := day.Add(between(rng, 13*time.Hour, 17*time.Hour)).Truncate(time.Second)
				g.scheduleEnv(t, evPromote, env, 0, 0, "")
			}
		}
		if nightly && day.After(g.leadIn) {
			g.scheduledRun(day.Add(3*time.Hour + between(rng, 0, 20*time.Minute)))
		}
		for range poisson(rng, 0.1) {
			g.ordinaryIssue(workTime(rng, day))
		}
	}
	if r.busy {
		g.busyDay(startOfDay(g.now).AddDate(0, 0, -3))
	}
	g.runLoop()
}

// pinShowcase places the showcase repository's fixed cases (see the file comment).
func (g *repoGen) pinShowcase() {
	// Everything sits after deployFrom (60 % of the history back), so a collector that
	// back-fills less than the whole history still sees it.
	day := startOfDay(g.deployFrom)
	at := func(days int, hour int) time.Time {
		return day.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour)
	}
	dev := g.contributors[0]
	for i, m := range []mergeMethod{methodMerge, methodSquash, methodRebase} {
		g.planPull(at(1+i, 9), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeMerged, method: m, botReview: true, selfComment: i == 0, humanReview: true})
	}
	g.planPull(at(4, 11), pullOpts{kind: prDependabot, author: g.w.dependabot, revertOf: -1, outcome: outcomeMerged, method: methodAny})
	g.planPull(at(5, 9), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeClosed, method: methodAny, humanReview: true})
	g.planPull(g.now.Add(-50*time.Hour), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeOpenDraft, method: methodAny})

	for i, flag := range []string{pinFail, pinRollback, pinRevert, pinHotfix} {
		g.pinRelease(day.AddDate(0, 0, 3*(i+1)), flag)
	}
	g.pinVersion2(at)
	before := g.deployFrom.Add(-24 * time.Hour)
	g.addIssue(issue{
		author: pick(g.rng, g.contributors), title: "Incident: checkout errors before the first release",
		body: "Customers see 500s on checkout.", labels: []string{"incident", "sev2"},
		createdAt: before, closedAt: before.Add(5 * time.Hour), comments: 3,
	})
	g.addIssue(issue{
		author: pick(g.rng, g.contributors), title: "Incident: elevated latency on the orders API",
		body: "p99 latency doubled.", labels: []string{"incident", "sev3"},
		createdAt: g.now.Add(-10 * time.Hour), comments: 1,
	})
	g.schedule(at(1, 16), evPush, 0, 0, flagUnlinked)
	g.schedule(g.now.Add(-60*time.Minute), evPush, 0, 0, "")
	g.schedule(g.now.Add(-4*time.Minute), evPromote, 0, 0, pinSlow)
	g.schedule(g.now.Add(-3*time.Minute), evPush, 0, 0, flagSlow)
}

// pinRelease pins a production release at 14:00 on day with flag, after a direct push
// at 12:00 that makes sure it deploys something new; no other release happens that day.
func (g *repoGen) pinRelease(day time.Time, flag string) {
	g.pinnedDays[day] = true
	g.schedule(day.Add(12*time.Hour), evPush, 0, 0, "")
	g.schedule(day.Add(14*time.Hour), evPromote, 0, 0, flag)
}

// pinVersion2 places the showcase's cases of DORA metric_version 2, one a day from 14
// days after deployFrom (see the file comment); at(d, h) is hour h of day d.
func (g *repoGen) pinVersion2(at func(days, hour int) time.Time) {
	rng, dev := g.rng, g.contributors[0]
	day := func(d int) time.Time { return at(d, 0) }
	// afterNow is the initial now plus d, or a day after t when the history is too short
	// for t to lie before the initial now.
	afterNow := func(t time.Time, d time.Duration) time.Time {
		return latest(g.now.Add(d), t.Add(24*time.Hour))
	}

	// Day 14: an incident 3 hours after the release, closed 3 hours later, whose incident
	// label is replaced by "bug" 2 hours after the initial now.
	g.pinRelease(day(14), pinPlain)
	opened := at(14, 17)
	g.addIssue(issue{
		author: pick(rng, g.contributors), title: "Incident: payment confirmations delayed",
		body: "Confirmation e-mails arrive late.", labels: []string{"incident", "sev3"},
		createdAt: opened, closedAt: opened.Add(3 * time.Hour), comments: 2,
		relabelAt: afterNow(opened, 2*time.Hour), relabelTo: []string{"bug"},
	})
	// Day 15: an incident 2 hours after the release, open until it is closed as not
	// planned 3 hours after the initial now.
	g.pinRelease(day(15), pinPlain)
	opened = at(15, 16)
	g.addIssue(issue{
		author: pick(rng, g.contributors), title: "Incident: dashboard shows stale numbers",
		body: "The numbers stopped updating.", labels: []string{"incident", "sev2"},
		createdAt: opened, closedAt: afterNow(opened, 3*time.Hour), closeReason: "not_planned", comments: 4,
	})
	// Days 16–18: pull request P1 (merge commit) released on day 16, P2 on day 17, and on
	// day 18 the Revert button's pull request of P1, released as soon as it is merged.
	p1 := g.planPull(at(16, 9), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeMerged, method: methodMerge, quick: true})
	g.pinRelease(day(16), pinPlain)
	g.planPull(at(17, 9), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeMerged, method: methodSquash, quick: true})
	g.pinRelease(day(17), pinPlain)
	g.revertedPull[p1] = true
	g.pinnedDays[day(18)] = true
	g.schedule(at(18, 9), evFixPull, -1, p1, flagRevertRelease)
	// Day 19: a pull request whose own commits are WIP, Revert "WIP", final, merged with a
	// merge commit and released.
	g.planPull(at(19, 9), pullOpts{kind: prNormal, author: dev, revertOf: -1, outcome: outcomeMerged, method: methodMerge, quick: true, wipRevert: true})
	g.pinRelease(day(19), pinPlain)
	// Days 20–21: a direct push at 11:00 released on day 20, reverted by a direct push
	// (`git revert`) at 11:00 on day 21, released.
	g.schedule(at(20, 11), evPush, 0, 0, flagRevertNextDay)
	g.pinRelease(day(20), pinPlain)
	g.pinRelease(day(21), pinPlain)
}

// pinLayout places the fixed case of the org's monorepo (its third active repository)
// or regional repository (its fourth).
func (g *repoGen) pinLayout() {
	r := g.r
	switch r.layout {
	case layoutServices:
		// Nine days before the initial now: api releases at 11:00 and again at 13:00 (a
		// push before each); web releases api's 11:00 SHA at 15:00 — older than api's
		// latest, not a rollback — and catches up with the default branch's head at 11:00
		// the next day.
		day := startOfDay(g.now).AddDate(0, 0, -9)
		g.pinnedDays[day], g.pinnedDays[day.AddDate(0, 0, 1)] = true, true
		g.quietFrom, g.quietTo = day.AddDate(0, 0, -3), day.AddDate(0, 0, 2)
		g.schedule(day.Add(10*time.Hour), evPush, 0, 0, "")
		g.scheduleEnv(day.Add(11*time.Hour), evPromote, 0, 0, 0, pinPlain)
		g.schedule(day.Add(12*time.Hour), evPush, 0, 0, "")
		g.scheduleEnv(day.Add(13*time.Hour), evPromote, 0, 0, 0, pinPlain)
		g.scheduleEnv(day.Add(15*time.Hour), evPromote, 1, 0, 0, pinOlder)
		g.scheduleEnv(day.AddDate(0, 0, 1).Add(11*time.Hour), evPromote, 1, 0, 0, pinPlain)
	case layoutRegions:
		// Eight days before the initial now: a push at 10:00 released at 11:00 to
		// production-eu, then, 45 to 100 minutes after it succeeded, to production-us.
		day := startOfDay(g.now).AddDate(0, 0, -8)
		g.pinnedDays[day] = true
		g.quietFrom, g.quietTo = day.AddDate(0, 0, -3), day.AddDate(0, 0, 2)
		g.schedule(day.Add(10*time.Hour), evPush, 0, 0, "")
		g.scheduleEnv(day.Add(11*time.Hour), evPromote, 0, 0, 0, pinPlain)
	}
}

func (g *repoGen) schedule(at time.Time, kind eventKind, a, b int32, flag string) {
	g.scheduleEnv(at, kind, 0, a, b, flag)
}

func (g *repoGen) scheduleEnv(at time.Time, kind eventKind, env int, a, b int32, flag string) {
	if at.After(g.end) {
		return
	}
	g.seq++
	heap.Push(&g.queue, event{at: at, seq: g.seq, kind: kind, env: int8(env), a: a, b: b, flag: flag})
}

func (g *repoGen) runLoop() {
	for g.queue.Len() > 0 {
		ev := heap.Pop(&g.queue).(event)
		switch ev.kind {
		case evMerge:
			g.merge(ev.a, ev.at)
		case evPush:
			g.directPush(ev)
		case evPromote:
			g.promote(ev)
		case evRedeploy:
			g.redeploy(ev)
		case evIncident:
			g.incident(ev)
		case evRollback:
			g.rollback(ev)
		case evFixPull:
			g.fixPull(ev)
		case evRollout:
			g.rollout(ev)
		}
	}
}

// sized gives a new commit a random size.
func (g *repoGen) sized(c commit) commit {
	c.additions = int32(logNormalDuration(g.rng, 30, 1.1)) + 1
	c.deletions = int32(float64(c.additions) * g.rng.Float64() * 0.7)
	c.files = int32(1 + g.rng.IntN(6))
	return c
}

// addCommit stores c with a fresh SHA and returns its index.
func (g *repoGen) addCommit(c commit) int32 {
	r := g.r
	idx := int32(len(r.commits))
	c.sha = makeSHA(g.w.cfg.Seed, uint64(r.id), uint64(idx))
	c.mainPos = -1
	if c.author != nil {
		c.authorName, c.authorEmail = c.author.name, c.author.email
	}
	r.commits = append(r.commits, c)
	r.bySHA[c.sha] = idx
	r.pushTimes = append(r.pushTimes, c.pushedAt)
	return idx
}

// land puts commit c on the default branch at t.
func (g *repoGen) land(c int32, t time.Time) {
	r := g.r
	r.commits[c].landedAt = t
	r.commits[c].mainPos = int32(len(r.main))
	r.main = append(r.main, c)
	r.mainLanded = append(r.mainLanded, t)
}

func (g *repoGen) tip() int32 {
	if len(g.r.main) == 0 {
		return -1
	}
	return g.r.main[len(g.r.main)-1]
}

func parentsOf(c int32) []int32 {
	if c < 0 {
		return nil
	}
	return []int32{c}
}

type pullOutcome int8

const (
	outcomeRandom pullOutcome = iota
	outcomeMerged
	outcomeClosed
	outcomeOpen
	outcomeOpenDraft // a draft never marked ready
)

const methodAny mergeMethod = -1

// pullOpts says what to plan; the zero values of the flags leave things to chance.
type pullOpts struct {
	kind     prKind
	author   *user
	revertOf int32 // reverted pull request for prRevert, else -1
	outcome  pullOutcome
	method   mergeMethod // methodAny: the repository's habit
	// Force a review by another person, a Copilot review, a comment by the author.
	humanReview, botReview, selfComment bool
	// quick: one commit, approved and merged within about an hour, like a fix.
	quick bool
	// wipRevert: the commits are WIP, Revert "WIP", final (an in-PR revert).
	wipRevert bool
}

// planPull plans a pull request opened at created: its commits, reviews and outcome.
// Fix pull requests (hotfix, revert) are quick and always merged.
func (g *repoGen) planPull(created time.Time, o pullOpts) int32 {
	rng, r := g.rng, g.r
	kind, author, revertOf := o.kind, o.author, o.revertOf
	fix := kind == prHotfix || kind == prRevert
	fast := fix || o.quick
	p := pull{kind: kind, author: author, createdAt: created, revertOf: revertOf, mergeCommit: -1, comments: rng.IntN(4)}
	pi := int32(len(r.pulls))
	topic := pick(rng, topics)
	switch kind {
	case prDependabot:
		pkg := pick(rng, packages)
		v := fmt.Sprintf("%d.%d.%d", 1+rng.IntN(5), rng.IntN(20), rng.IntN(10))
		nv := fmt.Sprintf("%s.%d", v[:strings.LastIndex(v, ".")], 10+rng.IntN(10))
		p.title = fmt.Sprintf("Bump %s from %s to %s", pkg, v, nv)
		p.headRef = fmt.Sprintf("dependabot/npm_and_yarn/%s-%s", pkg, nv)
		p.labels = []string{"dependencies"}
		p.body = "Bumps " + pkg + " from " + v + " to " + nv + "."
	case prCopilot:
		p.title = "Fix flaky test in " + topic
		p.headRef = "copilot/fix-flaky-" + strings.ReplaceAll(topic, " ", "-")
		p.body = "Copilot coding agent session."
	case prHotfix:
		p.title = "hotfix: " + pick(rng, hotfixTitles)
		p.headRef = "hotfix/" + strings.ReplaceAll(topic, " ", "-")
		p.labels = []string{"hotfix", "incident"}
		p.body = "Fixes the incident."
	case prRevert:
		reverted := r.pulls[revertOf]
		p.title = `Revert "` + reverted.title + `"`
		p.body = "Reverts the change that caused the incident."
	default:
		p.title = pick(rng, verbs) + " " + topic
		p.headRef = pick(rng, []string{"feature/", "fix/", "chore/", ""}) + strings.ReplaceAll(topic, " ", "-") + fmt.Sprintf("-%d", rng.IntN(100))
		p.body = "This pull request changes " + topic + "."
		if chance(rng, 0.2) {
			p.labels = []string{pick(rng, []string{"enhancement", "bug", "refactor"})}
		}
	}

	commitAuthor := author
	nBefore := 1 + poisson(rng, 0.8)
	coding := 10*time.Minute + expDuration(rng, 16*time.Hour)
	if fast || kind == prDependabot {
		nBefore, coding = 1, between(rng, 10*time.Minute, 50*time.Minute)
	}
	// An in-PR revert: the showcase's pinned one and 2 % of other people's pull requests.
	wip := o.wipRevert || (kind == prNormal && !r.showcase && chance(rng, 0.02))
	var targets []int32 // what a revert pull request reverts, newest first
	switch {
	case kind == prRevert:
		targets = g.revertTargets(revertOf)
		nBefore = len(targets)
	case wip:
		nBefore = 3
	}
	first := created.Add(-coding)
	for i := range nBefore {
		at := first.Add((coding - 5*time.Minute) * time.Duration(i) / time.Duration(nBefore)).Truncate(time.Second)
		msg := pick(rng, commitMessages)
		switch {
		case kind == prRevert:
			// GitHub's Revert button: `git revert` of the merged commits, committed by
			// GitHub.
			g.prCommit(&p, commitAuthor, at, "", targets[i])
			r.commits[p.commits[i]].committer = g.w.webFlow
			continue
		case wip && i == 0:
			msg = "WIP"
			if !o.wipRevert {
				msg = pick(rng, wipMessages)
			}
		case wip && i == 1:
			g.prCommit(&p, commitAuthor, at, "", p.commits[0])
			continue
		case wip && i == 2:
			msg = "final"
			if !o.wipRevert {
				msg = pick(rng, commitMessages)
			}
		case kind == prDependabot:
			msg = p.title
		}
		g.prCommit(&p, commitAuthor, at, msg, -1)
	}

	ready := created
	if o.outcome == outcomeOpenDraft || (!fast && kind != prDependabot && chance(rng, 0.12)) {
		ready = created.Add(time.Hour + expDuration(rng, 20*time.Hour)).Truncate(time.Second)
		p.readyAt = ready
	}
	t := ready
	if chance(rng, 0.3) || o.botReview {
		g.addReview(&p, g.w.copilotReviewer, "COMMENTED", ready.Add(between(rng, 2*time.Minute, 6*time.Minute)), "Copilot reviewed this pull request.")
	}
	reviewed := chance(rng, 0.88)
	if kind == prDependabot {
		reviewed = chance(rng, 0.6)
	}
	if fast || o.humanReview {
		reviewed = true
	}
	approver := author
	if reviewed {
		pickup := 10*time.Minute + expDuration(rng, 5*time.Hour)
		if fast {
			pickup = between(rng, 5*time.Minute, 30*time.Minute)
		}
		t = ready.Add(pickup).Truncate(time.Second)
		reviewer := g.otherThan(author)
		approver = reviewer
		state := []string{"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}[weightedPick(rng, []float64{0.55, 0.22, 0.2, 0.03})]
		if fast {
			state = "APPROVED"
		}
		g.addReview(&p, reviewer, state, t, reviewBody(state))
		if state != "APPROVED" {
			t = t.Add(5*time.Minute + expDuration(rng, 3*time.Hour)).Truncate(time.Second)
			g.prCommit(&p, commitAuthor, t, "Address review comments", -1)
			t = t.Add(5*time.Minute + expDuration(rng, 2*time.Hour)).Truncate(time.Second)
			approver = g.otherThan(author)
			g.addReview(&p, approver, "APPROVED", t, "LGTM")
		}
	}
	if (kind == prNormal && !o.quick && chance(rng, 0.15)) || o.selfComment {
		g.addReview(&p, author, "COMMENTED", created.Add(between(rng, 5*time.Minute, 2*time.Hour)), "Note to reviewers: the interesting part is in the second commit.")
	}
	sort.SliceStable(p.reviews, func(i, j int) bool { return p.reviews[i].submittedAt.Before(p.reviews[j].submittedAt) })
	if n := len(p.reviews); n > 0 && p.reviews[n-1].submittedAt.After(t) {
		t = p.reviews[n-1].submittedAt
	}
	p.mergedBy = approver
	if p.mergedBy.isBot() {
		p.mergedBy = pick(rng, g.contributors)
	}

	outcome := o.outcome
	if outcome == outcomeRandom {
		outcome = []pullOutcome{outcomeMerged, outcomeClosed, outcomeOpen}[weightedPick(rng, []float64{0.8, 0.08, 0.12})]
	}
	if fix {
		outcome = outcomeMerged
	}
	if outcome == outcomeOpenDraft || (!p.readyAt.IsZero() && outcome == outcomeOpen && chance(rng, 0.5)) {
		p.readyAt = g.end.AddDate(1, 0, 0) // a draft that is never marked ready
	}
	p.method = o.method
	if p.method == methodAny {
		p.method = g.mergeMethodFor()
	}
	r.pulls = append(r.pulls, p)
	switch outcome {
	case outcomeMerged:
		wait := 3*time.Minute + expDuration(rng, 2*time.Hour)
		if fast {
			wait = between(rng, 5*time.Minute, 40*time.Minute)
		}
		g.schedule(t.Add(wait).Truncate(time.Second), evMerge, pi, 0, "")
	case outcomeClosed:
		closed := t.Add(time.Hour + expDuration(rng, 48*time.Hour)).Truncate(time.Second)
		if !closed.After(g.end) {
			r.pulls[pi].closedAt = closed
		}
	}
	g.pullRuns(pi)
	return pi
}

// prCommit adds a commit to pull request p's branch: with message msg, or, when reverts
// is a commit, `git revert` of it.
func (g *repoGen) prCommit(p *pull, author *user, at time.Time, msg string, reverts int32) {
	c := g.sized(commit{author: author, committer: author, authoredAt: at, committedAt: at, pushedAt: at, message: msg})
	if author == g.w.copilotAgent || author == g.w.dependabot {
		c.committer = g.w.webFlow
	}
	if n := len(p.commits); n > 0 {
		c.parents = []int32{p.commits[n-1]}
	}
	if reverts >= 0 {
		c = g.revertOf(c, reverts)
	}
	i := g.addCommit(c)
	if reverts >= 0 {
		g.messages = append(g.messages, messageRule{commit: i, kind: msgRevert, src: reverts})
	}
	p.commits = append(p.commits, i)
}

// revertOf gives commit c the size of `git revert` of commit target: what target added
// is deleted. Its message is written by finish().
func (g *repoGen) revertOf(c commit, target int32) commit {
	t := &g.r.commits[target]
	if t.additions+t.deletions > 0 {
		c.additions, c.deletions, c.files = t.deletions, t.additions, t.files
	}
	c.message = ""
	return c
}

// revertTargets are the default-branch commits GitHub's Revert button reverts for merged
// pull request pi, newest first: the merge commit (reverted with -m 1) or the squash
// commit, or every rebased commit.
func (g *repoGen) revertTargets(pi int32) []int32 {
	r := g.r
	p := &r.pulls[pi]
	if p.method != methodRebase {
		return []int32{p.mergeCommit}
	}
	last := int(r.commits[p.mergeCommit].mainPos)
	var out []int32
	for pos := last; pos > last-len(p.commits); pos-- {
		out = append(out, r.main[pos])
	}
	return out
}

func (g *repoGen) addReview(p *pull, u *user, state string, at time.Time, body string) {
	p.reviews = append(p.reviews, review{user: u, state: state, submittedAt: at.Truncate(time.Second), body: body})
}

func reviewBody(state string) string {
	switch state {
	case "APPROVED":
		return "Looks good to me."
	case "CHANGES_REQUESTED":
		return "Please add a test for the error path."
	case "DISMISSED":
		return "Approved an earlier version."
	}
	return "A few nits inline."
}

func (g *repoGen) otherThan(u *user) *user {
	for range 10 {
		c := pick(g.rng, g.contributors)
		if c != u {
			return c
		}
	}
	for _, c := range g.r.org.members {
		if c != u {
			return c
		}
	}
	return u
}

// mergeMethodFor picks how a pull request will be merged: each repository prefers one
// method.
func (g *repoGen) mergeMethodFor() mergeMethod {
	preferred := mergeMethod(g.r.id % 3)
	if chance(g.rng, 0.75) {
		return preferred
	}
	return mergeMethod(g.rng.IntN(3))
}

// merge lands pull request pi on the default branch at t with its merge method.
func (g *repoGen) merge(pi int32, t time.Time) {
	r := g.r
	p := &r.pulls[pi]
	if !p.closedAt.IsZero() {
		return
	}
	head := p.commits[len(p.commits)-1]
	switch p.method {
	case methodMerge:
		for _, c := range p.commits {
			g.land(c, t)
		}
		mc := g.addCommit(commit{
			parents: append(parentsOf(g.mainTipBefore(len(p.commits))), head), author: p.mergedBy, committer: g.w.webFlow,
			authoredAt: t, committedAt: t, pushedAt: t,
		})
		g.land(mc, t)
		p.mergeCommit = mc
		g.messages = append(g.messages, messageRule{commit: mc, kind: msgMerge, pull: pi})
	case methodSquash:
		var add, del, files int32
		for _, c := range p.commits {
			add, del, files = add+r.commits[c].additions, del+r.commits[c].deletions, files+r.commits[c].files
		}
		sc := g.addCommit(commit{
			parents: parentsOf(g.tip()), author: p.author, committer: g.w.webFlow,
			authoredAt: t, committedAt: t, pushedAt: t, additions: add, deletions: del, files: files,
		})
		g.land(sc, t)
		p.mergeCommit = sc
		g.messages = append(g.messages, messageRule{commit: sc, kind: msgSquash, pull: pi})
	case methodRebase:
		for _, c := range p.commits {
			orig := r.commits[c]
			nc := g.addCommit(commit{
				parents: parentsOf(g.tip()), author: orig.author, committer: g.w.webFlow,
				authoredAt: orig.authoredAt, committedAt: t, pushedAt: t, message: orig.message,
				additions: orig.additions, deletions: orig.deletions, files: orig.files,
			})
			r.commits[nc].authorName, r.commits[nc].authorEmail = orig.authorName, orig.authorEmail
			if orig.message == "" { // written by finish()
				g.messages = append(g.messages, messageRule{commit: nc, kind: msgCopy, src: c})
			}
			g.land(nc, t)
			p.mergeCommit = nc
		}
	}
	p.merged = true
	p.closedAt = t
	g.landings = append(g.landings, landing{pull: pi, pos: len(r.main) - 1})
	if fix, ok := g.fixFor[pi]; ok {
		if fix.inc >= 0 {
			g.incidents[fix.inc].fixPos = len(r.main) - 1
		}
		g.scheduleEnv(t.Add(25*time.Minute), evPromote, int(fix.env), 0, 0, flagForced)
	}
	g.afterLanding(t, p.mergedBy, "")
}

// mainTipBefore is the default branch's head before the last n commits were landed.
func (g *repoGen) mainTipBefore(n int) int32 {
	m := g.r.main
	if len(m) <= n {
		return -1
	}
	return m[len(m)-1-n]
}

// directPush pushes a commit to the default branch: with flag afterRevertPush, `git
// revert` of commit ev.a.
func (g *repoGen) directPush(ev event) {
	t, flag := ev.at, ev.flag
	author := pick(g.rng, g.contributors)
	c := g.sized(commit{author: author, committer: author, authoredAt: t.Add(-between(g.rng, time.Minute, 40*time.Minute)).Truncate(time.Second),
		committedAt: t, pushedAt: t, message: pick(g.rng, pushMessages), parents: parentsOf(g.tip())})
	if flag == flagUnlinked || chance(g.rng, 0.1) {
		// An author whose e-mail is linked to no account: no login on either side.
		c.author, c.committer = nil, nil
		c.authorName, c.authorEmail = g.unlinked[0], g.unlinked[1]
	}
	if flag == afterRevertPush {
		c = g.revertOf(c, ev.a)
	}
	i := g.addCommit(c)
	if flag == afterRevertPush {
		g.messages = append(g.messages, messageRule{commit: i, kind: msgRevert, src: ev.a})
	}
	g.land(i, t)
	if flag == flagRevertNextDay {
		g.revertedCommit[i] = true
		g.schedule(t.AddDate(0, 0, 1), evPush, i, 0, afterRevertPush)
	}
	g.afterLanding(t, author, flag)
}

// afterLanding starts what a push to the default branch triggers: CI and, for
// repositories that deploy, a staging deployment.
func (g *repoGen) afterLanding(t time.Time, actor *user, flag string) {
	r, rng := g.r, g.rng
	head := g.tip()
	ciDur := logNormalDuration(rng, 4*time.Minute, 0.4)
	if flag == flagSlow {
		ciDur = 12 * time.Minute
	}
	g.addRun(run{workflow: wfCI, event: "push", branch: r.defaultBranch, commit: head, actor: actor, pull: -1,
		created: t.Add(5 * time.Second)}, ciDur, g.ciConclusion())
	if !r.deploys || t.Before(g.deployFrom) {
		return
	}
	outcome := []string{"success", "failure", "error"}[weightedPick(rng, []float64{0.94, 0.05, 0.01})]
	dur := logNormalDuration(rng, 2*time.Minute, 0.3)
	if flag == flagSlow {
		dur = 15 * time.Minute
	}
	final := g.deploy("staging", head, t.Add(8*time.Second), outcome, dur, wfStaging, "push", actor)
	if outcome == "success" {
		g.staging = append(g.staging, stagingOK{at: final, pos: len(r.main) - 1})
	}
}

func (g *repoGen) ciConclusion() string {
	return []string{"success", "failure", "cancelled"}[weightedPick(g.rng, []float64{0.84, 0.11, 0.05})]
}

// addRun adds a workflow run created at ru.created that takes dur; failed runs are
// sometimes re-run.
func (g *repoGen) addRun(ru run, dur time.Duration, conclusion string) {
	rng := g.rng
	ru.created = ru.created.Truncate(time.Second)
	ru.started = ru.created.Add(between(rng, 3*time.Second, 40*time.Second))
	ru.completed = ru.started.Add(dur).Truncate(time.Second)
	if ru.completed.Before(ru.started) {
		ru.completed = ru.started
	}
	ru.conclusion = conclusion
	if conclusion == "failure" && ru.workflow == wfCI && chance(rng, 0.25) {
		ru.rerunStarted = ru.completed.Add(between(rng, 2*time.Minute, 90*time.Minute))
		ru.rerunCompleted = ru.rerunStarted.Add(dur).Truncate(time.Second)
		ru.rerunConclusion = []string{"success", "failure"}[weightedPick(rng, []float64{0.8, 0.2})]
	}
	if ru.created.After(g.end) {
		return
	}
	g.r.runs = append(g.r.runs, ru)
}

// pullRuns adds the CI runs of a pull request: one when it is opened and one for every
// later push.
func (g *repoGen) pullRuns(pi int32) {
	p := &g.r.pulls[pi]
	var head int32 = -1
	for _, c := range p.commits {
		at := g.r.commits[c].pushedAt
		if !at.After(p.createdAt) {
			head = c
			continue
		}
		g.addRun(run{workflow: wfCI, event: "pull_request", branch: p.headRef, commit: c, actor: p.author, pull: pi, created: at.Add(4 * time.Second)},
			logNormalDuration(g.rng, 5*time.Minute, 0.4), g.ciConclusion())
	}
	if head >= 0 {
		g.addRun(run{workflow: wfCI, event: "pull_request", branch: p.headRef, commit: head, actor: p.author, pull: pi, created: p.createdAt.Add(4 * time.Second)},
			logNormalDuration(g.rng, 5*time.Minute, 0.4), g.ciConclusion())
	}
}

func (g *repoGen) addIssue(is issue) int32 {
	g.r.issues = append(g.r.issues, is)
	return int32(len(g.r.issues) - 1)
}

func (g *repoGen) ordinaryIssue(at time.Time) {
	rng := g.rng
	is := issue{
		author: pick(rng, g.r.org.members), title: pick(rng, issueTitles),
		body: "Steps to reproduce are in the linked discussion.", labels: []string{pick(rng, []string{"bug", "enhancement", "documentation", "question"})},
		createdAt: at, comments: rng.IntN(5),
	}
	if chance(rng, 0.6) {
		closed := at.Add(time.Hour + expDuration(rng, 5*24*time.Hour)).Truncate(time.Second)
		if !closed.After(g.end) {
			is.closedAt = closed
		}
	}
	g.addIssue(is)
}

// scheduledRun adds a nightly run; its head commit is resolved by finish().
func (g *repoGen) scheduledRun(t time.Time) {
	const head = -1
	conclusion := []string{"success", "failure"}[weightedPick(g.rng, []float64{0.9, 0.1})]
	g.addRun(run{workflow: wfNightly, event: "schedule", branch: g.r.defaultBranch, commit: head, actor: g.contributors[0], pull: -1, created: t},
		logNormalDuration(g.rng, 12*time.Minute, 0.3), conclusion)
}

// busyDay adds a storm of 1,100–1,300 matrix runs on one day.
func (g *repoGen) busyDay(day time.Time) {
	n := 1100 + g.rng.IntN(200)
	for i := range n {
		t := day.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n)).Add(between(g.rng, 0, 30*time.Second))
		g.addRun(run{workflow: wfMatrix, event: "repository_dispatch", branch: g.r.defaultBranch, commit: -1, actor: g.contributors[0], pull: -1, created: t},
			logNormalDuration(g.rng, 3*time.Minute, 0.3), g.ciConclusion())
	}
}

// finish links, numbers and orders what the loop produced.
func (g *repoGen) finish() {
	r := g.r
	// A pull request branches off the default branch as it was at its first commit.
	for i := range r.pulls {
		p := &r.pulls[i]
		first := &r.commits[p.commits[0]]
		if pos := r.tipAt(first.committedAt); pos >= 0 {
			first.parents = []int32{r.main[pos]}
		} else if len(r.main) > 0 {
			first.parents = []int32{r.main[0]}
		}
		p.testMerge = makeSHA(g.w.cfg.Seed, uint64(r.id), 1<<40+uint64(i))
	}
	// Scheduled and matrix runs: head is the branch head at creation.
	for i := range r.runs {
		if r.runs[i].commit < 0 {
			pos := max(r.tipAt(r.runs[i].created), 0)
			r.runs[i].commit = r.main[pos]
		}
	}
	// Pull requests and issues share one number sequence, in creation order.
	type item struct {
		at    time.Time
		pull  int32
		issue int32
	}
	items := make([]item, 0, len(r.pulls)+len(r.issues))
	for i := range r.pulls {
		items = append(items, item{r.pulls[i].createdAt, int32(i), -1})
	}
	for i := range r.issues {
		items = append(items, item{r.issues[i].createdAt, -1, int32(i)})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	for k, it := range items {
		n := k + 1
		r.byNumber[n] = itemRef{pull: it.pull, issue: it.issue}
		if it.pull >= 0 {
			r.pulls[it.pull].number = n
			r.pulls[it.pull].id = entityID(idKindPull, r, n)
		} else {
			r.issues[it.issue].number = n
			r.issues[it.issue].id = entityID(idKindIssue, r, n)
		}
	}
	for i := range r.pulls {
		p := &r.pulls[i]
		if p.kind == prRevert {
			rev := r.pulls[p.revertOf]
			p.headRef = fmt.Sprintf("revert-%d-%s", rev.number, rev.headRef)
			p.body = fmt.Sprintf("Reverts %s#%d", r.fullName(), rev.number)
		}
	}
	for _, m := range g.messages {
		c := &r.commits[m.commit]
		switch m.kind {
		case msgMerge:
			p := &r.pulls[m.pull]
			c.message = fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", p.number, r.org.login, p.headRef, p.title)
		case msgSquash:
			c.message = squashMessage(r, &r.pulls[m.pull])
		case msgCopy:
			c.message = r.commits[m.src].message
		case msgRevert:
			c.message = revertMessage(r, m.src)
		}
	}
	// Reviews get ids in submission order across the repository.
	type rv struct {
		at   time.Time
		p, k int
	}
	var rvs []rv
	for i := range r.pulls {
		for k := range r.pulls[i].reviews {
			rvs = append(rvs, rv{r.pulls[i].reviews[k].submittedAt, i, k})
		}
	}
	sort.SliceStable(rvs, func(i, j int) bool { return rvs[i].at.Before(rvs[j].at) })
	for n, x := range rvs {
		r.pulls[x.p].reviews[x.k].id = entityID(idKindReview, r, n+1)
	}
	// Runs: ids and per-workflow run numbers in creation order.
	sort.SliceStable(r.runs, func(i, j int) bool { return r.runs[i].created.Before(r.runs[j].created) })
	numbers := map[int8]int32{}
	for i := range r.runs {
		r.runs[i].id = entityID(idKindRun, r, i+1)
		numbers[r.runs[i].workflow]++
		r.runs[i].number = numbers[r.runs[i].workflow]
	}
	// Deployments and statuses: ids in creation order.
	sort.SliceStable(r.deployments, func(i, j int) bool { return r.deployments[i].createdAt.Before(r.deployments[j].createdAt) })
	type st struct {
		at   time.Time
		d, k int
	}
	var sts []st
	for i := range r.deployments {
		d := &r.deployments[i]
		d.id = entityID(idKindDeployment, r, i+1)
		sort.SliceStable(d.statuses, func(a, b int) bool { return d.statuses[a].at.Before(d.statuses[b].at) })
		for k := range d.statuses {
			sts = append(sts, st{d.statuses[k].at, i, k})
		}
	}
	sort.SliceStable(sts, func(i, j int) bool { return sts[i].at.Before(sts[j].at) })
	for n, x := range sts {
		r.deployments[x.d].statuses[x.k].id = entityID(idKindStatus, r, n+1)
	}
	sortedTimes(r.pushTimes)
}

// squashMessage is GitHub's default squash commit message: for a single commit, its
// message with the pull request's number after the headline; otherwise the pull
// request's title and number, then every commit's message as a list item.
func squashMessage(r *repo, p *pull) string {
	if len(p.commits) == 1 {
		headline, body, _ := strings.Cut(r.commits[p.commits[0]].message, "\n")
		msg := fmt.Sprintf("%s (#%d)", headline, p.number)
		if body != "" {
			msg += "\n" + body
		}
		return msg
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (#%d)\n", p.title, p.number)
	for _, pc := range p.commits {
		fmt.Fprintf(&b, "\n* %s\n", r.commits[pc].message)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// revertMessage is the message `git revert` writes for commit target (with -m 1 for a
// merge commit).
func revertMessage(r *repo, target int32) string {
	t := &r.commits[target]
	msg := `Revert "` + firstLine(t.message) + `"` + "\n\nThis reverts commit " + t.sha.String()
	if len(t.parents) > 1 {
		msg += ", reversing\nchanges made to " + r.commits[t.parents[0]].sha.String()
	}
	return msg + "."
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var verbs = []string{"Add", "Fix", "Refactor", "Improve", "Remove", "Speed up", "Document", "Harden"}
var topics = []string{"pagination of orders", "retry policy", "login flow", "cache invalidation",
	"rate limiter", "search ranking", "invoice export", "audit logging", "feature flags", "health checks",
	"config loading", "error messages", "metrics endpoint", "token refresh", "CSV import", "webhook delivery"}
var commitMessages = []string{"Implement the change", "Add tests", "Handle the empty case", "Rename for clarity",
	"Extract helper", "Fix lint", "Update docs", "Tidy up error handling", "Cover the edge case"}
var wipMessages = []string{"WIP", "wip", "WIP: try another approach", "Spike the new query"}
var pushMessages = []string{"Bump version", "Fix typo in README", "Update CI config", "Regenerate lockfile",
	"Update CODEOWNERS", "Tweak logging", "Release notes"}
var packages = []string{"lodash", "axios", "express", "react", "webpack", "jest", "eslint", "typescript"}
var hotfixTitles = []string{"restore connection pool size", "guard nil customer", "roll forward schema fix",
	"disable broken feature flag", "fix timeout in payment call"}
var symptoms = []string{"checkout returns 500", "login loop for SSO users", "orders stuck in pending",
	"search results empty", "elevated error rate on the API"}
var issueTitles = []string{"Dark mode colours are off", "Export ignores the date filter", "Document the retry settings",
	"Flaky test in CI", "Support SSO logins", "Typo on the settings page", "Slow dashboard load"}
