package githubsim

import (
	"time"
)

// repo is one repository with its whole timeline. Slices are filled by genRepo and never
// change afterwards.
type repo struct {
	id            int64
	org           *org
	name          string
	defaultBranch string
	kind          repoKind
	archived      bool
	fork          bool
	private       bool
	createdAt     time.Time
	metaUpdatedAt time.Time // last change of the repository's settings

	showcase bool // holds every rare case (see gen_repo.go)
	busy     bool // > 1,000 workflow runs on one day
	deploys  bool // uses GitHub Deployments (staging and production)
	// prodEnvs are the production environments: one ("production" or "prod"), a
	// monorepo's services deployed independently ("production/api", "production/web"),
	// or regions one release rolls out to in turn ("production-eu", "production-us",
	// "production-ap").
	prodEnvs []string
	layout   envLayout
	// pinnedLayout marks the org's repository holding its layout's fixed case (see
	// gen_repo.go).
	pinnedLayout bool
	// deployFrom is when production releases start: the showcase's pinned cases are
	// placed in days after it.
	deployFrom time.Time

	commits []commit
	bySHA   map[sha]int32
	// main is the default branch in topological order; landedAt is nondecreasing along
	// it, so the branch at time t is a prefix (see tipAt).
	main       []int32
	mainLanded []time.Time
	pushTimes  []time.Time // every push to any branch, sorted

	pulls       []pull // in creation order; pull numbers are assigned by finish()
	issues      []issue
	byNumber    map[int]itemRef
	workflows   []workflow
	runs        []run        // in creation order (ids increase)
	deployments []deployment // in creation order (ids increase)
}

func (r *repo) fullName() string { return r.org.login + "/" + r.name }

// envLayout is how a repository's production environments relate.
type envLayout int8

const (
	layoutSingle   envLayout = iota // one production environment
	layoutServices                  // a monorepo: each service has its environment and its own releases
	layoutRegions                   // one release rolls out to every region in turn
)

// envGroup is the range of r.prodEnvs one release of env reaches: all regions, or the
// environment alone.
func (r *repo) envGroup(env int) (lo, hi int) {
	if r.layout == layoutRegions {
		return 0, len(r.prodEnvs)
	}
	return env, env + 1
}

// itemRef points at a pull request or an issue by number (they share the sequence).
type itemRef struct {
	pull  int32 // index in pulls, or -1
	issue int32 // index in issues, or -1
}

type commit struct {
	sha         sha
	parents     []int32
	author      *user // nil when the author e-mail is linked to no account
	authorName  string
	authorEmail string
	committer   *user
	authoredAt  time.Time
	committedAt time.Time
	pushedAt    time.Time // the commit exists from this time
	landedAt    time.Time // reachable from the default branch from this time; zero: never
	mainPos     int32     // position in repo.main, or -1
	message     string
	additions   int32
	deletions   int32
	files       int32
}

type mergeMethod int8

const (
	methodMerge mergeMethod = iota
	methodSquash
	methodRebase
)

type prKind int8

const (
	prNormal prKind = iota
	prDependabot
	prCopilot
	prHotfix
	prRevert
)

type pull struct {
	id       int64
	number   int
	kind     prKind
	author   *user
	title    string
	body     string
	headRef  string
	labels   []string
	revertOf int32 // index of the reverted pull request, or -1

	createdAt time.Time
	readyAt   time.Time // draft until then; zero: never a draft
	closedAt  time.Time // zero: not closed within the timeline
	merged    bool
	mergedBy  *user
	method    mergeMethod

	commits     []int32 // the PR's own commits, oldest first
	mergeCommit int32   // the commit GitHub reports as merge_commit_sha once merged, or -1
	testMerge   sha     // merge_commit_sha while open or closed unmerged (the test merge)
	reviews     []review
	comments    int
}

type review struct {
	id          int64
	user        *user
	state       string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	submittedAt time.Time
	body        string
}

type issue struct {
	id        int64
	number    int
	author    *user
	title     string
	body      string
	labels    []string
	createdAt time.Time
	closedAt  time.Time // zero: open
	// closeReason is the state_reason once closed: "" (completed), "not_planned" or
	// "duplicate".
	closeReason string
	// From relabelAt (zero: never) the issue carries relabelTo instead of labels.
	relabelAt time.Time
	relabelTo []string
	comments  int
}

type workflow struct {
	id   int64
	name string
	path string
}

// Workflow indexes in repo.workflows.
const (
	wfCI = iota
	wfStaging
	wfRelease
	wfNightly
	wfMatrix
)

type run struct {
	id         int64
	workflow   int8
	number     int32
	event      string
	branch     string
	commit     int32
	actor      *user
	pull       int32 // pull index for pull_request runs, or -1
	created    time.Time
	started    time.Time
	completed  time.Time
	conclusion string
	// A failed run may be re-run: attempt 2 starts at rerunStarted.
	rerunStarted    time.Time
	rerunCompleted  time.Time
	rerunConclusion string
}

type deployment struct {
	id          int64
	commit      int32
	ref         string
	env         string
	creator     *user
	description string
	createdAt   time.Time
	statuses    []deploymentStatus // oldest first
}

type deploymentStatus struct {
	id    int64
	state string
	at    time.Time
}

// tipAt is the position in r.main of the default branch's head at t, or -1.
func (r *repo) tipAt(t time.Time) int {
	return lastAtOrBefore(r.mainLanded, t)
}

// pushedAt is the time of the last push at or before t (the zero time if none).
func (r *repo) pushedAt(t time.Time) time.Time {
	i := lastAtOrBefore(r.pushTimes, t)
	if i < 0 {
		return time.Time{}
	}
	return r.pushTimes[i]
}

func (r *repo) commitIndex(s sha) (int32, bool) {
	i, ok := r.bySHA[s]
	return i, ok
}
