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
// pushes are planned up front; merges, production promotions, incidents and their fixes
// are events processed in time order, because what they do depends on the state of the
// default branch and of the deployments at that moment.
//
// The showcase repository of every org (its first active repository) additionally holds
// every rare case at a fixed place, so tests can rely on them:
//   - deployments start at 60 % of the history back from the initial now (deployFrom);
//   - three pull requests opened 1, 2 and 3 days after deployFrom, merged with a merge
//     commit, a squash and a rebase, each reviewed by a colleague and by Copilot (the
//     first also commented on by its author); a merged Dependabot pull request; one
//     closed unmerged; a draft opened 50 hours before the initial now that stays open;
//   - a direct push by an author whose e-mail has no account, a day after deployFrom;
//   - an incident opened the day before the repository's first deployment;
//   - production deployments 3, 6, 9 and 12 days after deployFrom: the first fails and
//     its SHA is deployed again successfully; the second causes an incident fixed by a
//     rollback (a deployment of an older SHA), the third one fixed by a revert pull
//     request, the fourth one fixed by a hotfix pull request;
//   - an incident opened 10 hours before the initial now that stays open;
//   - a production deployment started 4 minutes before the initial now whose success
//     status is created 4 minutes after it, and a workflow run in progress at now.

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
)

type event struct {
	at   time.Time
	seq  int
	kind eventKind
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

// Flags of promotion and incident events.
const (
	remedyRollback = "rollback"
	remedyRevert   = "revert"
	remedyHotfix   = "hotfix"
	flagForced     = "forced"
	flagSlow       = "slow"
	flagUnlinked   = "unlinked"
	// Pinned showcase promotions: forced, with a fixed outcome.
	pinFail     = "forced:fail"
	pinRollback = "forced:" + remedyRollback
	pinRevert   = "forced:" + remedyRevert
	pinHotfix   = "forced:" + remedyHotfix
	pinSlow     = "forced:slow"
)

type stagingOK struct {
	at  time.Time
	pos int
}

type pendingIncident struct {
	issue   int32
	prevPos int // default-branch position of the last good production deployment
	fixPos  int // position of the fix once merged, or -1
	closed  bool
}

type landing struct {
	pull int32
	pos  int
}

type mergeMessage struct {
	commit int32
	pull   int32
	method mergeMethod
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
	prodPos    int // default-branch position of the last successful production deployment
	incidents  []*pendingIncident
	fixFor     map[int32]int // fix pull → incident
	landings   []landing
	messages   []mergeMessage
	pinnedDays map[time.Time]bool // days of the showcase's pinned promotions: no other one
}

func genRepo(w *world, r *repo) {
	g := &repoGen{
		w:          w,
		r:          r,
		rng:        newRand(w.cfg.Seed, streamRepo, uint64(r.id)),
		leadIn:     w.start.AddDate(0, 0, -14),
		end:        w.end,
		now:        w.initialNow,
		prodPos:    -1,
		fixFor:     map[int32]int{},
		pinnedDays: map[time.Time]bool{},
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
		if r.deploys && !weekend && chance(rng, promoteChance) && !g.pinnedDays[day] {
			t := day.Add(between(rng, 13*time.Hour, 17*time.Hour)).Truncate(time.Second)
			g.schedule(t, evPromote, 0, 0, "")
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
		// A push shortly before makes sure the promotion deploys something new.
		day := startOfDay(g.deployFrom).AddDate(0, 0, 3*(i+1))
		g.pinnedDays[day] = true
		g.schedule(day.Add(12*time.Hour), evPush, 0, 0, "")
		g.schedule(day.Add(14*time.Hour), evPromote, 0, 0, flag)
	}
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

func (g *repoGen) schedule(at time.Time, kind eventKind, a, b int32, flag string) {
	if at.After(g.end) {
		return
	}
	g.seq++
	heap.Push(&g.queue, event{at: at, seq: g.seq, kind: kind, a: a, b: b, flag: flag})
}

func (g *repoGen) runLoop() {
	for g.queue.Len() > 0 {
		ev := heap.Pop(&g.queue).(event)
		switch ev.kind {
		case evMerge:
			g.merge(ev.a, ev.at)
		case evPush:
			g.directPush(ev.at, ev.flag)
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
}

// planPull plans a pull request opened at created: its commits, reviews and outcome.
// Fix pull requests (hotfix, revert) are quick and always merged.
func (g *repoGen) planPull(created time.Time, o pullOpts) int32 {
	rng, r := g.rng, g.r
	kind, author, revertOf := o.kind, o.author, o.revertOf
	fix := kind == prHotfix || kind == prRevert
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
		p.title = fmt.Sprintf("Revert %q", reverted.title)
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
	if fix || kind == prDependabot {
		nBefore, coding = 1, between(rng, 10*time.Minute, 50*time.Minute)
	}
	first := created.Add(-coding)
	for i := range nBefore {
		at := first.Add((coding - 5*time.Minute) * time.Duration(i) / time.Duration(nBefore)).Truncate(time.Second)
		msg := pick(rng, commitMessages)
		if kind == prRevert {
			msg = fmt.Sprintf("Revert %q\n\nThis reverts commit %s.", r.pulls[revertOf].title, r.commits[r.pulls[revertOf].mergeCommit].sha)
		} else if kind == prDependabot {
			msg = p.title
		}
		g.prCommit(&p, commitAuthor, at, msg)
	}

	ready := created
	if o.outcome == outcomeOpenDraft || (!fix && kind != prDependabot && chance(rng, 0.12)) {
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
	if fix || o.humanReview {
		reviewed = true
	}
	approver := author
	if reviewed {
		pickup := 10*time.Minute + expDuration(rng, 5*time.Hour)
		if fix {
			pickup = between(rng, 5*time.Minute, 30*time.Minute)
		}
		t = ready.Add(pickup).Truncate(time.Second)
		reviewer := g.otherThan(author)
		approver = reviewer
		state := []string{"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}[weightedPick(rng, []float64{0.55, 0.22, 0.2, 0.03})]
		if fix {
			state = "APPROVED"
		}
		g.addReview(&p, reviewer, state, t, reviewBody(state))
		if state != "APPROVED" {
			t = t.Add(5*time.Minute + expDuration(rng, 3*time.Hour)).Truncate(time.Second)
			g.prCommit(&p, commitAuthor, t, "Address review comments")
			t = t.Add(5*time.Minute + expDuration(rng, 2*time.Hour)).Truncate(time.Second)
			approver = g.otherThan(author)
			g.addReview(&p, approver, "APPROVED", t, "LGTM")
		}
	}
	if (kind == prNormal && chance(rng, 0.15)) || o.selfComment {
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
		if fix {
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

// prCommit adds a commit to pull request p's branch.
func (g *repoGen) prCommit(p *pull, author *user, at time.Time, msg string) {
	c := g.sized(commit{author: author, committer: author, authoredAt: at, committedAt: at, pushedAt: at, message: msg})
	if author == g.w.copilotAgent || author == g.w.dependabot {
		c.committer = g.w.webFlow
	}
	if n := len(p.commits); n > 0 {
		c.parents = []int32{p.commits[n-1]}
	}
	p.commits = append(p.commits, g.addCommit(c))
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
		g.messages = append(g.messages, mergeMessage{commit: mc, pull: pi, method: methodMerge})
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
		g.messages = append(g.messages, mergeMessage{commit: sc, pull: pi, method: methodSquash})
	case methodRebase:
		for _, c := range p.commits {
			orig := r.commits[c]
			nc := g.addCommit(commit{
				parents: parentsOf(g.tip()), author: orig.author, committer: g.w.webFlow,
				authoredAt: orig.authoredAt, committedAt: t, pushedAt: t, message: orig.message,
				additions: orig.additions, deletions: orig.deletions, files: orig.files,
			})
			r.commits[nc].authorName, r.commits[nc].authorEmail = orig.authorName, orig.authorEmail
			g.land(nc, t)
			p.mergeCommit = nc
		}
	}
	p.merged = true
	p.closedAt = t
	g.landings = append(g.landings, landing{pull: pi, pos: len(r.main) - 1})
	if inc, ok := g.fixFor[pi]; ok {
		g.incidents[inc].fixPos = len(r.main) - 1
		g.schedule(t.Add(25*time.Minute), evPromote, 0, 0, flagForced)
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

func (g *repoGen) directPush(t time.Time, flag string) {
	author := pick(g.rng, g.contributors)
	c := g.sized(commit{author: author, committer: author, authoredAt: t.Add(-between(g.rng, time.Minute, 40*time.Minute)).Truncate(time.Second),
		committedAt: t, pushedAt: t, message: pick(g.rng, pushMessages), parents: parentsOf(g.tip())})
	if flag == flagUnlinked || chance(g.rng, 0.1) {
		// An author whose e-mail is linked to no account: no login on either side.
		c.author, c.committer = nil, nil
		c.authorName, c.authorEmail = g.unlinked[0], g.unlinked[1]
	}
	g.land(g.addCommit(c), t)
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

// deploy runs a deployment workflow at t that creates a deployment of commit c to env
// and returns the time of its final status.
func (g *repoGen) deploy(env string, c int32, t time.Time, outcome string, dur time.Duration, wf int8, event string, actor *user) time.Time {
	r, rng := g.r, g.rng
	t = t.Truncate(time.Second)
	started := t.Add(between(rng, 3*time.Second, 20*time.Second))
	created := started.Add(between(rng, 10*time.Second, 40*time.Second)).Truncate(time.Second)
	inProgress := created.Add(between(rng, 5*time.Second, 30*time.Second)).Truncate(time.Second)
	final := inProgress.Add(dur).Truncate(time.Second)
	d := deployment{
		commit: c, ref: r.defaultBranch, env: env, creator: g.w.actionsBot, createdAt: created,
		description: "Deploy " + r.commits[c].sha.String()[:7] + " to " + env,
		statuses: []deploymentStatus{
			{state: "queued", at: created},
			{state: "in_progress", at: inProgress},
			{state: outcome, at: final},
		},
	}
	if outcome == "success" {
		// A new success marks earlier successful deployments to the same environment
		// inactive (GitHub's auto_inactive).
		for i := range r.deployments {
			prev := &r.deployments[i]
			if prev.env != env || !prev.createdAt.Before(created) {
				continue
			}
			last := prev.statuses[len(prev.statuses)-1]
			if last.state == "success" && last.at.Before(final) {
				prev.statuses = append(prev.statuses, deploymentStatus{state: "inactive", at: final})
			}
		}
	}
	r.deployments = append(r.deployments, d)
	conclusion := "success"
	if outcome != "success" {
		conclusion = "failure"
	}
	ru := run{workflow: wf, event: event, branch: r.defaultBranch, commit: c, actor: actor, pull: -1, created: t, started: started}
	ru.completed = final.Add(between(rng, 5*time.Second, 20*time.Second)).Truncate(time.Second)
	ru.conclusion = conclusion
	if !ru.created.After(g.end) {
		r.runs = append(r.runs, ru)
	}
	return final
}

// promote deploys to production: the newest commit that passed staging, or the
// default branch's head when forced (a fix that must go out).
func (g *repoGen) promote(ev event) {
	r, rng := g.r, g.rng
	if !r.deploys || ev.at.Before(g.deployFrom) || len(r.main) == 0 {
		return
	}
	forced := strings.HasPrefix(ev.flag, flagForced)
	pos := -1
	if forced {
		pos = len(r.main) - 1
	} else {
		for _, s := range g.staging {
			if !s.at.After(ev.at) && s.pos > pos {
				pos = s.pos
			}
		}
		if pos <= g.prodPos {
			return
		}
	}
	outcome := []string{"success", "failure", "error"}[weightedPick(rng, []float64{0.925, 0.06, 0.015})]
	remedy := ""
	if chance(rng, 0.07) {
		remedy = []string{remedyRollback, remedyRevert, remedyHotfix}[rng.IntN(3)]
	}
	dur := logNormalDuration(rng, 4*time.Minute, 0.3)
	if r.showcase {
		// The showcase's failures and incidents happen at pinned times only.
		outcome, remedy = "success", ""
		switch ev.flag {
		case pinFail:
			outcome = "failure"
		case pinRollback, pinRevert, pinHotfix:
			remedy = strings.TrimPrefix(ev.flag, "forced:")
		case pinSlow:
			dur = 8 * time.Minute
		}
	}
	c := r.main[pos]
	final := g.deploy(r.prodEnv, c, ev.at, outcome, dur, wfRelease, "workflow_dispatch", pick(rng, g.releasers))
	if outcome != "success" {
		g.schedule(final.Add(between(rng, 20*time.Minute, 90*time.Minute)), evRedeploy, c, int32(pos), "")
		return
	}
	prev := g.prodPos
	g.prodSucceeded(pos, final)
	if remedy != "" {
		g.schedule(final.Add(between(rng, time.Hour, 8*time.Hour)), evIncident, int32(prev), int32(pos), remedy)
	}
}

// redeploy deploys the same commit again after a failed production deployment.
func (g *repoGen) redeploy(ev event) {
	r := g.r
	outcome := "success"
	if !r.showcase && chance(g.rng, 0.1) {
		outcome = "failure"
	}
	final := g.deploy(r.prodEnv, ev.a, ev.at, outcome, logNormalDuration(g.rng, 4*time.Minute, 0.3), wfRelease, "workflow_dispatch", pick(g.rng, g.releasers))
	if outcome == "success" {
		g.prodSucceeded(int(ev.b), final)
	}
}

func (g *repoGen) prodSucceeded(pos int, at time.Time) {
	g.prodPos = pos
	for _, inc := range g.incidents {
		if !inc.closed && inc.fixPos >= 0 && pos >= inc.fixPos {
			g.closeIncident(inc, at.Add(between(g.rng, 10*time.Minute, 40*time.Minute)))
		}
	}
}

func (g *repoGen) closeIncident(inc *pendingIncident, at time.Time) {
	inc.closed = true
	if !at.After(g.end) {
		g.r.issues[inc.issue].closedAt = at.Truncate(time.Second)
	}
}

// incident opens an incident issue after a bad production deployment and plans its fix.
func (g *repoGen) incident(ev event) {
	rng := g.rng
	ii := g.addIssue(issue{
		author: pick(rng, g.contributors), title: "Incident: " + pick(rng, symptoms),
		body: "Started after the last production deployment.", labels: []string{"incident", pick(rng, []string{"sev1", "sev2", "sev3"})},
		createdAt: ev.at.Truncate(time.Second), comments: 2 + rng.IntN(6),
	})
	g.incidents = append(g.incidents, &pendingIncident{issue: ii, prevPos: int(ev.a), fixPos: -1})
	inc := int32(len(g.incidents) - 1)
	remedy := ev.flag
	if remedy == remedyRollback && ev.a < 0 {
		remedy = remedyHotfix // nothing older to roll back to
	}
	switch remedy {
	case remedyRollback:
		g.schedule(ev.at.Add(between(rng, 20*time.Minute, 50*time.Minute)), evRollback, inc, 0, "")
		g.schedule(ev.at.Add(2*time.Hour), evFixPull, -1, -1, remedyHotfix)
	case remedyRevert:
		// Revert the newest pull request the bad deployment brought (or, when it brought
		// only direct pushes, the newest one deployed before).
		for i := len(g.landings) - 1; i >= 0; i-- {
			l := g.landings[i]
			if k := g.r.pulls[l.pull].kind; l.pos <= int(ev.b) && k != prHotfix && k != prRevert {
				g.schedule(ev.at.Add(40*time.Minute), evFixPull, inc, l.pull, remedyRevert)
				return
			}
		}
		g.schedule(ev.at.Add(time.Hour), evFixPull, inc, -1, remedyHotfix)
	default:
		g.schedule(ev.at.Add(time.Hour), evFixPull, inc, -1, remedyHotfix)
	}
}

// rollback deploys the previous good commit again and closes the incident.
func (g *repoGen) rollback(ev event) {
	inc := g.incidents[ev.a]
	if inc.prevPos < 0 {
		return
	}
	c := g.r.main[inc.prevPos]
	final := g.deploy(g.r.prodEnv, c, ev.at, "success", logNormalDuration(g.rng, 3*time.Minute, 0.2), wfRelease, "workflow_dispatch", pick(g.rng, g.releasers))
	g.prodSucceeded(inc.prevPos, final)
	g.closeIncident(inc, final.Add(15*time.Minute))
}

// fixPull opens a hotfix or revert pull request for incident ev.a (-1: none).
func (g *repoGen) fixPull(ev event) {
	kind := prHotfix
	if ev.flag == remedyRevert {
		kind = prRevert
	}
	pi := g.planPull(ev.at.Truncate(time.Second), pullOpts{kind: kind, author: pick(g.rng, g.contributors), revertOf: ev.b, outcome: outcomeMerged, method: methodAny})
	if ev.a >= 0 {
		g.fixFor[pi] = int(ev.a)
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
		p := r.pulls[m.pull]
		c := &r.commits[m.commit]
		if m.method == methodMerge {
			c.message = fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", p.number, r.org.login, p.headRef, p.title)
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s (#%d)\n", p.title, p.number)
		for _, pc := range p.commits {
			fmt.Fprintf(&b, "\n* %s", firstLine(r.commits[pc].message))
		}
		c.message = b.String()
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
var pushMessages = []string{"Bump version", "Fix typo in README", "Update CI config", "Regenerate lockfile",
	"Update CODEOWNERS", "Tweak logging", "Release notes"}
var packages = []string{"lodash", "axios", "express", "react", "webpack", "jest", "eslint", "typescript"}
var hotfixTitles = []string{"restore connection pool size", "guard nil customer", "roll forward schema fix",
	"disable broken feature flag", "fix timeout in payment call"}
var symptoms = []string{"checkout returns 500", "login loop for SSO users", "orders stuck in pending",
	"search results empty", "elevated error rate on the API"}
var issueTitles = []string{"Dark mode colours are off", "Export ignores the date filter", "Document the retry settings",
	"Flaky test in CI", "Support SSO logins", "Typo on the settings page", "Slow dashboard load"}
