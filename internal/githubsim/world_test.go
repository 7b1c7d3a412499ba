package githubsim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/metrics"
)

func TestConfigValidationNamesTheField(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"no now":          {func(c *Config) { c.Now = time.Time{} }, "Now"},
		"no enterprises":  {func(c *Config) { c.Enterprises = nil }, "Enterprises"},
		"duplicate token": {func(c *Config) { c.Enterprises[1].Token = c.Enterprises[0].Token }, "Enterprises[1].Token"},
		"bad org login":   {func(c *Config) { c.Enterprises[0].Orgs[0].Login = "no spaces" }, "Enterprises[0].Orgs[0].Login"},
		"share over 1":    {func(c *Config) { c.Enterprises[0].Orgs[1].ActiveShare = 1.5 }, "Enterprises[0].Orgs[1]"},
		"duplicate org":   {func(c *Config) { c.Enterprises[1].Orgs[0].Login = "acme-web" }, "Enterprises[1].Orgs[0].Login"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// TestWorldHoldsEveryCase checks that the generated world contains, in every
// enterprise, each case the collector must handle.
func TestWorldHoldsEveryCase(t *testing.T) {
	t.Parallel()
	sundayNight := time.Date(2026, 11, 29, 1, 30, 0, 0, time.UTC)
	for name, cfg := range map[string]Config{"test": testConfig(), "demo": DemoConfig(testNow), "demo on a Sunday night": DemoConfig(sundayNight)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkWorld(t, sim)
		})
	}
}

// TestEveryCaseForAnySeed checks the cases do not depend on luck: other seeds, other
// days of the week and times of day.
func TestEveryCaseForAnySeed(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		cfg := testConfig()
		cfg.Seed = int64(1000 + 7919*i)
		cfg.Now = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 97 * time.Hour).Add(time.Duration(i*37) * time.Minute)
		sim, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(cfg.Now.Format(time.RFC3339), func(t *testing.T) { checkWorld(t, sim) })
	}
}

func checkWorld(t *testing.T, sim *Simulator) {
	t.Helper()
	now := sim.Now()
	for _, e := range sim.w.enterprises {
		var archived, fork, dormant int
		for _, o := range e.orgs {
			for _, r := range o.repos {
				if r.archived {
					archived++
				}
				if r.fork {
					fork++
				}
				if now.Sub(r.pushedAt(now)) > 180*24*time.Hour {
					dormant++
				}
			}
		}
		if archived == 0 || fork == 0 || dormant == 0 {
			t.Errorf("%s: archived %d, forks %d, dormant %d repositories; want some of each", e.cfg.Slug, archived, fork, dormant)
		}
		for _, o := range e.orgs {
			checkShowcase(t, sim, o.showcase, now)
			checkLayouts(t, o, now)
		}
	}
}

// checkLayouts checks the fixed cases of an org's monorepo (with three active
// repositories or more) and regional repository (with four or more).
func checkLayouts(t *testing.T, o *org, now time.Time) {
	t.Helper()
	var active []*repo
	for _, r := range o.repos {
		if r.kind == repoActive {
			active = append(active, r)
		}
	}
	type release struct {
		at  time.Time
		pos int32
	}
	successes := func(r *repo, env string) []release {
		var out []release
		for i := range r.deployments {
			d := &r.deployments[i]
			if at, ok := d.firstSuccess(now); ok && d.env == env && !d.createdAt.After(now) {
				out = append(out, release{at, r.commits[d.commit].mainPos})
			}
		}
		slices.SortFunc(out, func(a, b release) int { return a.at.Compare(b.at) })
		return out
	}
	if len(active) >= 3 {
		r := active[2]
		// web releases an SHA older than api's latest release, and later catches up.
		api, web := successes(r, "production/api"), successes(r, "production/web")
		older, caughtUp := false, false
		for i, w := range web {
			latestAPI := int32(-1)
			for _, a := range api {
				if a.at.Before(w.at) {
					latestAPI = a.pos
				}
			}
			if w.pos < latestAPI && i > 0 && w.pos > web[i-1].pos {
				older = true
				for _, later := range web[i+1:] {
					caughtUp = caughtUp || later.pos >= latestAPI
				}
			}
		}
		if r.layout != layoutServices || !older || !caughtUp {
			t.Errorf("%s: monorepo %v; web released an SHA older than api's latest %v, caught up later %v", r.fullName(), r.layout == layoutServices, older, caughtUp)
		}
	}
	if len(active) >= 4 {
		r := active[3]
		eu, us := successes(r, "production-eu"), successes(r, "production-us")
		rollout := false
		for _, e := range eu {
			for _, u := range us {
				rollout = rollout || (u.pos == e.pos && u.at.After(e.at) && u.at.Sub(e.at) < 2*time.Hour)
			}
		}
		if r.layout != layoutRegions || !rollout {
			t.Errorf("%s: regional %v; one SHA released to production-eu then production-us within 2 hours %v", r.fullName(), r.layout == layoutRegions, rollout)
		}
	}
}

func checkShowcase(t *testing.T, sim *Simulator, r *repo, now time.Time) {
	t.Helper()
	name := r.fullName()
	methods := map[mergeMethod]bool{}
	var closedUnmerged, draftOpen, dependabot, revert, hotfix, selfComment, botReview, otherReview bool
	for i := range r.pulls {
		s, found := r.pullAt(&r.pulls[i], now)
		if !found {
			continue
		}
		p := s.p
		if s.merged {
			methods[p.method] = true
		}
		closedUnmerged = closedUnmerged || (!s.open && !s.merged)
		draftOpen = draftOpen || (s.open && s.draft)
		dependabot = dependabot || p.author == sim.w.dependabot
		revert = revert || (s.merged && strings.HasPrefix(p.title, `Revert "`))
		hotfix = hotfix || (s.merged && strings.HasPrefix(p.headRef, "hotfix/"))
		for _, rv := range s.reviews {
			selfComment = selfComment || (rv.user == p.author && rv.state == "COMMENTED")
			botReview = botReview || rv.user == sim.w.copilotReviewer
			otherReview = otherReview || (rv.user != p.author && !rv.user.isBot())
		}
	}
	if len(methods) != 3 {
		t.Errorf("%s: merge methods used %v, want all three", name, methods)
	}
	for what, ok := range map[string]bool{"closed unmerged PR": closedUnmerged, "open draft": draftOpen, "dependabot PR": dependabot,
		"merged revert PR": revert, "merged hotfix PR": hotfix, "self-comment": selfComment, "Copilot review": botReview, "colleague review": otherReview} {
		if !ok {
			t.Errorf("%s: no %s", name, what)
		}
	}

	unlinked := false
	for _, c := range r.defaultBranchCommits(now) {
		unlinked = unlinked || (r.commits[c].author == nil && r.commits[c].authorEmail != "")
	}
	if !unlinked {
		t.Errorf("%s: no default-branch commit whose author e-mail has no account", name)
	}

	inProgress := false
	for i := range r.runs {
		st, found := r.runs[i].at(now)
		inProgress = inProgress || (found && st.status == "in_progress" && r.runs[i].completed.After(now))
	}
	if !inProgress {
		t.Errorf("%s: no workflow run in progress at now", name)
	}

	var failedProd, rollback, sameSHATwice, changesAfterNow bool
	var prodSuccess []int32 // commits of successful production deployments in order
	seen := map[int32]int{}
	firstDeployment := time.Time{}
	for i := range r.deployments {
		d := &r.deployments[i]
		if d.createdAt.After(now) {
			continue
		}
		if firstDeployment.IsZero() {
			firstDeployment = d.createdAt
		}
		if d.env != r.prodEnvs[0] {
			continue
		}
		sts := d.statusesAt(now)
		last := sts[len(sts)-1].state
		failedProd = failedProd || last == "failure" || last == "error"
		seen[d.commit]++
		sameSHATwice = sameSHATwice || seen[d.commit] > 1
		changesAfterNow = changesAfterNow || len(sts) < len(d.statuses)
		if d.succeededBy(now) {
			if n := len(prodSuccess); n > 0 && r.commits[d.commit].mainPos < r.commits[prodSuccess[n-1]].mainPos {
				rollback = true
			}
			prodSuccess = append(prodSuccess, d.commit)
		}
	}
	for what, ok := range map[string]bool{"failed production deployment": failedProd, "rollback": rollback,
		"same SHA deployed twice": sameSHATwice, "deployment whose status changes after now": changesAfterNow} {
		if !ok {
			t.Errorf("%s: no %s", name, what)
		}
	}

	var openIncident, incidentBeforeDeploy, closedIncident, relabelledLater, notPlannedLater bool
	for i := range r.issues {
		is := &r.issues[i]
		if is.createdAt.After(now) || !hasLabel(is.labelsAt(now), "incident") {
			continue
		}
		openIncident = openIncident || !visible(is.closedAt, now)
		closedIncident = closedIncident || visible(is.closedAt, now)
		incidentBeforeDeploy = incidentBeforeDeploy || is.createdAt.Before(firstDeployment)
		relabelledLater = relabelledLater || (is.relabelAt.After(now) && !hasLabel(is.relabelTo, "incident"))
		notPlannedLater = notPlannedLater || (is.closedAt.After(now) && is.closeReason == "not_planned")
	}
	if !openIncident || !incidentBeforeDeploy || !closedIncident {
		t.Errorf("%s: open incident %v, incident before the first deployment %v, closed incident %v; want all", name, openIncident, incidentBeforeDeploy, closedIncident)
	}
	if !relabelledLater || !notPlannedLater {
		t.Errorf("%s: incident relabelled after now %v, closed as not planned after now %v; want both", name, relabelledLater, notPlannedLater)
	}

	// Reverts: a Revert-button pull request of a pull request merged before the last
	// production release preceding it, a pull request reverting its own commit, a direct
	// push reverting an earlier commit.
	var lateRevert, inPRRevert, revertPush bool
	inPR := map[int32]bool{}
	for i := range r.pulls {
		p := &r.pulls[i]
		for _, c := range p.commits {
			inPR[c] = true
		}
		if !p.merged || !visible(p.closedAt, now) {
			continue
		}
		if p.kind == prRevert {
			reverted := r.commits[r.pulls[p.revertOf].mergeCommit].mainPos
			releasesSince := 0
			for _, c := range prodSuccess {
				if r.commits[c].mainPos >= reverted && r.commits[c].mainPos < r.commits[p.mergeCommit].mainPos {
					releasesSince++
				}
			}
			lateRevert = lateRevert || releasesSince >= 2
		}
		for _, c := range p.commits {
			for _, s := range metrics.RevertedSHAs(r.commits[c].message) {
				inPRRevert = inPRRevert || slices.ContainsFunc(p.commits, func(o int32) bool { return r.commits[o].sha.String() == s }) && p.method == methodMerge
			}
		}
	}
	for _, c := range r.defaultBranchCommits(now) {
		revertPush = revertPush || (!inPR[c] && len(metrics.RevertedSHAs(r.commits[c].message)) == 1 && r.commits[c].committer != sim.w.webFlow)
	}
	if !lateRevert || !inPRRevert || !revertPush {
		t.Errorf("%s: revert PR of an earlier release %v, in-PR revert merged with a merge commit %v, direct-push revert %v; want all", name, lateRevert, inPRRevert, revertPush)
	}
}

// TestDefaultBranchIsItsHistory checks the two views of the default branch agree: the
// landing order and the commit graph.
func TestDefaultBranchIsItsHistory(t *testing.T) {
	t.Parallel()
	sim, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{testNow.AddDate(0, 0, -20), testNow, testNow.AddDate(0, 0, 5)} {
		for _, o := range sim.w.orgs {
			for _, r := range o.repos {
				branch := r.defaultBranchCommits(now)
				if len(branch) == 0 {
					t.Fatalf("%s: empty default branch", r.fullName())
				}
				fromGraph := r.history(branch[len(branch)-1])
				got, want := slices.Sorted(slices.Values(fromGraph)), slices.Sorted(slices.Values(branch))
				if !slices.Equal(got, want) {
					t.Fatalf("%s at %s: graph reaches %d commits, landing order has %d", r.fullName(), now, len(got), len(want))
				}
				for _, c := range branch {
					if r.commits[c].pushedAt.After(now) {
						t.Fatalf("%s: commit %s on the branch before it was pushed", r.fullName(), r.commits[c].sha)
					}
				}
			}
		}
	}
}

func TestNewIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := a.Truth("acme")
	tb, _ := b.Truth("acme")
	if len(ta.PullRequests) == 0 {
		t.Fatal("no pull requests")
	}
	// Encoded, the two truths compare byte for byte (cmp.Diff is too slow at this size).
	same := func(x, y any) bool {
		bx, errX := json.Marshal(x)
		by, errY := json.Marshal(y)
		return errX == nil && errY == nil && bytes.Equal(bx, by)
	}
	if !same(ta, tb) {
		t.Fatal("two worlds of one seed differ")
	}
	ca, _ := a.CopilotTruth("acme", testNow.AddDate(0, 0, -10), testNow)
	cb, _ := b.CopilotTruth("acme", testNow.AddDate(0, 0, -10), testNow)
	for scope := range ca.Seats {
		if !same(ca.Days[scope], cb.Days[scope]) || !same(ca.UserDays[scope], cb.UserDays[scope]) || !same(ca.Seats[scope], cb.Seats[scope]) || len(ca.UserDays[scope]) == 0 {
			t.Fatalf("two worlds of one seed differ in the Copilot data of %v", scope)
		}
	}
	cfg := testConfig()
	cfg.Seed = 8
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := c.Truth("acme")
	if len(tc.PullRequests) > 0 && tc.PullRequests[0].MergeCommitSHA == ta.PullRequests[0].MergeCommitSHA {
		t.Fatalf("another seed gave the same first pull request")
	}
}
