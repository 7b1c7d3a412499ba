package githubsim

import (
	"strings"
	"time"
)

// Production releases of a repository's timeline (see gen_repo.go): deployments,
// promotions to each production environment, regional rollouts, failed attempts and
// their retries, and what follows a release — incidents, rollbacks, fixes and reverts.

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

// promote releases to production environment ev.env (in a regional repository, the
// first region; the rollout goes on through the others): the newest commit that passed
// staging, or the default branch's head when forced (a fix that must go out).
func (g *repoGen) promote(ev event) {
	r, rng := g.r, g.rng
	if !r.deploys || ev.at.Before(g.deployFrom) || len(r.main) == 0 {
		return
	}
	env := int(ev.env)
	pos := -1
	switch {
	case ev.flag == pinOlder:
		// The other service's release before its latest one.
		if d := g.deployed[0]; len(d) >= 2 {
			pos = d[len(d)-2]
		}
		if pos <= g.prodPos[env] {
			return
		}
	case strings.HasPrefix(ev.flag, flagForced):
		pos = len(r.main) - 1
	default:
		cutoff := ev.at
		if r.layout == layoutServices && env > 0 && chance(rng, 0.4) {
			// This service ships the build that passed staging a day or two ago.
			cutoff = ev.at.Add(-between(rng, 18*time.Hour, 48*time.Hour))
		}
		for _, s := range g.staging {
			if !s.at.After(cutoff) && s.pos > pos {
				pos = s.pos
			}
		}
		if pos <= g.prodPos[env] {
			return
		}
	}
	outcome := g.releaseOutcome()
	after := g.aftermath(ev.at)
	dur := logNormalDuration(rng, 4*time.Minute, 0.3)
	if r.showcase || pinned(ev.flag) {
		// The showcase's failures and incidents happen at pinned times only.
		outcome, after = "success", ""
		switch ev.flag {
		case pinFail:
			outcome = "failure"
		case pinRollback, pinRevert, pinHotfix:
			after = strings.TrimPrefix(ev.flag, flagForced+":")
		case pinSlow:
			dur = 8 * time.Minute
		case pinPlain, pinOlder:
			after = pinPlain // the rest of a rollout is pinned too
		}
	}
	g.release(env, pos, ev.at, outcome, dur, after)
}

func (g *repoGen) releaseOutcome() string {
	return []string{"success", "failure", "error"}[weightedPick(g.rng, []float64{0.925, 0.06, 0.015})]
}

// aftermath draws what follows a successful release at t: 7 % an incident (fixed by a
// rollback, a revert or a hotfix), 1.5 % a false alarm, 1.5 % an incident relabelled
// later, 2 % a revert pull request of an earlier release's pull request, 1.5 % a direct
// push reverting an earlier release's commit. Not in the showcase, nor in a quiet window.
func (g *repoGen) aftermath(t time.Time) string {
	rng := g.rng
	x := rng.Float64()
	var after string
	switch {
	case x < 0.07:
		after = []string{remedyRollback, remedyRevert, remedyHotfix}[rng.IntN(3)]
	case x < 0.085:
		after = afterFalseAlarm
	case x < 0.10:
		after = afterRelabel
	case x < 0.12:
		after = afterLateRevert
	case x < 0.135:
		after = afterRevertPush
	}
	if g.r.showcase || (!t.Before(g.quietFrom) && t.Before(g.quietTo)) {
		return ""
	}
	return after
}

// release deploys default-branch position pos to production environment env at t.
func (g *repoGen) release(env, pos int, t time.Time, outcome string, dur time.Duration, after string) {
	r, rng := g.r, g.rng
	c := r.main[pos]
	final := g.deploy(r.prodEnvs[env], c, t, outcome, dur, wfRelease, "workflow_dispatch", pick(rng, g.releasers))
	if outcome != "success" {
		// A failed attempt: the same SHA is deployed again (nothing follows it).
		g.scheduleEnv(final.Add(between(rng, 20*time.Minute, 90*time.Minute)), evRedeploy, env, c, int32(pos), "")
		return
	}
	g.released(env, pos, final, after)
}

// released records a successful release of pos to env that finished at final and
// starts what follows: the rollout to the next region, then its aftermath.
func (g *repoGen) released(env, pos int, final time.Time, after string) {
	r, rng := g.r, g.rng
	prev := g.prodPos[env]
	g.prodSucceeded(env, pos, final)
	if r.layout == layoutRegions && env+1 < len(r.prodEnvs) {
		g.scheduleEnv(final.Add(between(rng, 45*time.Minute, 100*time.Minute)), evRollout, env+1, 0, int32(pos), after)
		return
	}
	switch after {
	case "", pinPlain:
	case afterLateRevert:
		// Revert the newest pull request an earlier release deployed.
		for i := len(g.landings) - 1; i >= 0; i-- {
			l := g.landings[i]
			if k := r.pulls[l.pull].kind; l.pos <= prev && k != prHotfix && k != prRevert && !g.revertedPull[l.pull] {
				g.revertedPull[l.pull] = true
				g.scheduleEnv(final.Add(between(rng, 3*time.Hour, 40*time.Hour)), evFixPull, env, -1, l.pull, remedyRevert)
				return
			}
		}
	case afterRevertPush:
		// Revert the newest single-parent commit an earlier release deployed.
		for p := prev; p >= 0 && p > prev-50; p-- {
			c := r.main[p]
			if len(r.commits[c].parents) == 1 && !g.revertedCommit[c] {
				g.revertedCommit[c] = true
				g.scheduleEnv(final.Add(between(rng, 2*time.Hour, 30*time.Hour)), evPush, env, c, 0, afterRevertPush)
				return
			}
		}
	default:
		g.scheduleEnv(final.Add(between(rng, time.Hour, 8*time.Hour)), evIncident, env, 0, int32(pos), after)
	}
}

// rollout deploys release ev.b to the next region ev.env.
func (g *repoGen) rollout(ev event) {
	outcome := "success"
	if !g.r.showcase && !pinned(ev.flag) {
		outcome = g.releaseOutcome()
	}
	g.release(int(ev.env), int(ev.b), ev.at, outcome, logNormalDuration(g.rng, 4*time.Minute, 0.3), ev.flag)
}

// redeploy deploys the same commit again after a failed production deployment, unless
// a newer release has succeeded since.
func (g *repoGen) redeploy(ev event) {
	r := g.r
	env := int(ev.env)
	if g.prodPos[env] > int(ev.b) {
		return
	}
	outcome := "success"
	if !r.showcase && chance(g.rng, 0.1) {
		outcome = "failure"
	}
	final := g.deploy(r.prodEnvs[env], ev.a, ev.at, outcome, logNormalDuration(g.rng, 4*time.Minute, 0.3), wfRelease, "workflow_dispatch", pick(g.rng, g.releasers))
	if outcome == "success" {
		g.released(env, int(ev.b), final, "")
	}
}

func (g *repoGen) prodSucceeded(env, pos int, at time.Time) {
	g.prodPos[env] = pos
	g.deployed[env] = append(g.deployed[env], pos)
	for _, inc := range g.incidents {
		if inc.closed || inc.fixPos < 0 {
			continue
		}
		fixed := true
		lo, hi := g.r.envGroup(int(inc.env))
		for e := lo; e < hi; e++ {
			fixed = fixed && g.prodPos[e] >= inc.fixPos
		}
		if fixed {
			g.closeIncident(inc, at.Add(between(g.rng, 10*time.Minute, 40*time.Minute)))
		}
	}
}

// lastGood is the position of env's last successful release older than pos, or -1.
func (g *repoGen) lastGood(env, pos int) int {
	d := g.deployed[env]
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] < pos {
			return d[i]
		}
	}
	return -1
}

func (g *repoGen) closeIncident(inc *pendingIncident, at time.Time) {
	inc.closed = true
	if !at.After(g.end) {
		g.r.issues[inc.issue].closedAt = at.Truncate(time.Second)
	}
}

// incident opens an incident issue after a bad release of ev.b to environment ev.env
// and plans its fix; a false alarm is closed as not planned or as a duplicate, a
// relabelled one loses its incident label.
func (g *repoGen) incident(ev event) {
	rng := g.rng
	is := issue{
		author: pick(rng, g.contributors), title: "Incident: " + pick(rng, symptoms),
		body: "Started after the last production deployment.", labels: []string{"incident", pick(rng, []string{"sev1", "sev2", "sev3"})},
		createdAt: ev.at.Truncate(time.Second), comments: 2 + rng.IntN(6),
	}
	switch ev.flag {
	case afterFalseAlarm:
		is.closeReason = []string{"not_planned", "duplicate"}[weightedPick(rng, []float64{0.75, 0.25})]
		if closed := is.createdAt.Add(between(rng, 30*time.Minute, 20*time.Hour)).Truncate(time.Second); !closed.After(g.end) {
			is.closedAt = closed
		}
		g.addIssue(is)
		return
	case afterRelabel:
		if relabel := is.createdAt.Add(between(rng, 2*time.Hour, 72*time.Hour)).Truncate(time.Second); !relabel.After(g.end) {
			is.relabelAt, is.relabelTo = relabel, []string{"bug"}
		}
		if closed := is.createdAt.Add(between(rng, time.Hour, 48*time.Hour)).Truncate(time.Second); chance(rng, 0.5) && !closed.After(g.end) {
			is.closedAt = closed
		}
		g.addIssue(is)
		return
	}
	ii := g.addIssue(is)
	g.incidents = append(g.incidents, &pendingIncident{issue: ii, env: ev.env, badPos: int(ev.b), fixPos: -1})
	inc := int32(len(g.incidents) - 1)
	// A fix is released to the environment, or from the first region on.
	lo, _ := g.r.envGroup(int(ev.env))
	remedy := ev.flag
	if remedy == remedyRollback && g.lastGood(lo, int(ev.b)) < 0 {
		remedy = remedyHotfix // nothing older to roll back to
	}
	switch remedy {
	case remedyRollback:
		g.scheduleEnv(ev.at.Add(between(rng, 20*time.Minute, 50*time.Minute)), evRollback, int(ev.env), inc, 0, "")
		g.schedule(ev.at.Add(2*time.Hour), evFixPull, -1, -1, remedyHotfix)
	case remedyRevert:
		// Revert the newest pull request the bad release brought (or, when it brought
		// only direct pushes, the newest one released before).
		for i := len(g.landings) - 1; i >= 0; i-- {
			l := g.landings[i]
			if k := g.r.pulls[l.pull].kind; l.pos <= int(ev.b) && k != prHotfix && k != prRevert && !g.revertedPull[l.pull] {
				g.revertedPull[l.pull] = true
				g.scheduleEnv(ev.at.Add(40*time.Minute), evFixPull, lo, inc, l.pull, remedyRevert)
				return
			}
		}
		g.scheduleEnv(ev.at.Add(time.Hour), evFixPull, lo, inc, -1, remedyHotfix)
	default:
		g.scheduleEnv(ev.at.Add(time.Hour), evFixPull, lo, inc, -1, remedyHotfix)
	}
}

// rollback deploys, to every environment the bad release reached, its last good commit
// again, and closes the incident.
func (g *repoGen) rollback(ev event) {
	r := g.r
	inc := g.incidents[ev.a]
	lo, hi := r.envGroup(int(inc.env))
	at := ev.at
	var final time.Time
	for e := lo; e < hi; e++ {
		pos := g.lastGood(e, inc.badPos)
		if pos < 0 {
			continue
		}
		final = g.deploy(r.prodEnvs[e], r.main[pos], at, "success", logNormalDuration(g.rng, 3*time.Minute, 0.2), wfRelease, "workflow_dispatch", pick(g.rng, g.releasers))
		g.prodSucceeded(e, pos, final)
		at = at.Add(between(g.rng, 2*time.Minute, 6*time.Minute))
	}
	if !final.IsZero() {
		g.closeIncident(inc, final.Add(15*time.Minute))
	}
}

// fixPull opens a hotfix or revert pull request (of pull ev.b) for incident ev.a (-1:
// none). An incident's fix, and a revert flagged flagRevertRelease, is released to
// environment ev.env as soon as it is merged.
func (g *repoGen) fixPull(ev event) {
	kind := prHotfix
	if ev.flag == remedyRevert || ev.flag == flagRevertRelease {
		kind = prRevert
		if !g.r.pulls[ev.b].merged { // not merged within the timeline
			return
		}
	}
	pi := g.planPull(ev.at.Truncate(time.Second), pullOpts{kind: kind, author: pick(g.rng, g.contributors), revertOf: ev.b, outcome: outcomeMerged, method: methodAny})
	if ev.a >= 0 || ev.flag == flagRevertRelease {
		g.fixFor[pi] = fixTarget{inc: int(ev.a), env: ev.env}
	}
}
