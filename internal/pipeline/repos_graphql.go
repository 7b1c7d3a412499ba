package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// collect_repos through GraphQL (repo_api "graphql", the default; decision 0006). The
// streams pulls, deployments and incidents read GitHub's GraphQL API; commits, runs,
// changes (compares) and the inventory stay REST. GraphQL has no conditional requests,
// so what REST learnt for free from a 304 a probe learns for a fraction of a point:
// the due repositories are looked at in chunks, one query for many repositories asking
// each only its totals and newest times (and, where stored production deployments are
// unsettled, the newest deployments with their statuses); a second query prefetches
// the first page of every listing that changed, again many repositories at once. Each
// repository's streams then go on as with REST, reading further pages only for the few
// listings longer than a page, and commit as they go.

// Tuning of the GraphQL collection.
const (
	// lookChunk is how many due repositories are probed together (one query of about
	// 3 × lookChunk connection requests: under one point per 33 repositories).
	lookChunk = 50
	// prefetchChunk is how many of them have their changed listings prefetched
	// together, just before they are worked.
	prefetchChunk = 10
	// lookPrefetchPulls bounds the pull requests prefetched for those (the rest are
	// read in their stream), so the memory held stays small.
	lookPrefetchPulls = 1_000
	// listFirst is the page asked of a listing read from its start; changedFirst the
	// first page of a listing that changed since the last pass (usually a few items).
	listFirst    = 100
	changedFirst = 10
)

// repoLook is what the look learnt of one repository for its GraphQL streams.
type repoLook struct {
	marks     map[string]postgres.Mark
	unsettled []metrics.Deployment // stored production deployments whose statuses may change
	err       error                // GitHub's answer about the repository (ErrNotFound, ErrForbidden)
	// probe holds the totals and newest times; its Deployments is a full first page when
	// unsettled deployments were asked.
	probe github.RepoAnswer
	// The prefetched first pages (nil: not prefetched).
	pulls       *github.PullPage
	deployments *github.DeploymentPage
	incidents   map[string]*github.IncidentPage // by label
}

// graphQL reports whether the enterprise collects pull requests, deployments and
// incidents through GraphQL.
func (c *repoCollection) graphQL() bool { return c.e.RepoAPI != config.RepoAPIREST }

// collectChunks works the due repositories: it probes lookChunk of them at a time, and
// prefetches the changed listings of prefetchChunk of those just before working them, so
// a call the budget cuts loses the prefetch of a few repositories at most.
func (c *repoCollection) collectChunks(work []repoWork) (stop bool, res Result, err error) {
	for start := 0; start < len(work); start += lookChunk {
		chunk := work[start:min(start+lookChunk, len(work))]
		if !c.startUnit() {
			return true, c.paused(), nil
		}
		if err := c.probe(chunk); err != nil {
			if stop, res, err := c.handle(err, "repositories from "+chunk[0].state.Repo.FullName, nil); stop {
				return true, res, err
			}
			continue
		}
		for sub := 0; sub < len(chunk); sub += prefetchChunk {
			part := chunk[sub:min(sub+prefetchChunk, len(chunk))]
			if err := c.prefetch(part); err != nil {
				if stop, res, err := c.handle(err, "repositories from "+part[0].state.Repo.FullName, nil); stop {
					return true, res, err
				}
				continue
			}
			for k := range part {
				w := part[k]
				part[k].look = nil // its pages go once it is worked, not with the call
				err := c.collectRepo(w)
				if err == nil {
					c.reposDone++
					continue
				}
				if stop, res, err := c.handle(err, w.state.Repo.FullName, &w.state.Repo); stop {
					return true, res, err
				}
			}
		}
	}
	return false, Result{}, nil
}

// streamsPending tells which of a repository's GraphQL streams this collection has
// still to run.
func (c *repoCollection) streamsPending(w repoWork, marks map[string]postgres.Mark) (pulls, deployments, incidents bool) {
	pending := func(stream string) bool {
		m, ok := marks[stream]
		return !ok || m.Collection != c.cur.Collection
	}
	frozen := w.state.Repo.Archived && w.state.Repo.UpdatedAt.Before(c.since)
	return !frozen && pending(postgres.StreamRepoPulls),
		!frozen && c.signal == metrics.SignalDeployment && pending(postgres.StreamRepoDeployments),
		!frozen && pending(postgres.StreamRepoIncidents)
}

// probe asks a chunk of repositories what changed, filling each repoWork's look.
func (c *repoCollection) probe(chunk []repoWork) error {
	var probes []github.RepoQuery
	var probed []int
	for i := range chunk {
		w := &chunk[i]
		marks, err := c.store.GetRepoMarks(c.ctx, c.e.ID, w.state.Repo.ID)
		if err != nil {
			return err
		}
		w.look = &repoLook{marks: marks}
		pulls, deployments, incidents := c.streamsPending(*w, marks)
		q := github.RepoQuery{FullName: w.state.Repo.FullName}
		if pulls {
			q.Pulls = &github.Page{Probe: true}
		}
		if deployments {
			w.look.unsettled, err = c.store.UnsettledDeployments(c.ctx, c.e.ID, w.state.Repo.ID, c.signal, c.unsettledFrom(), c.recentFrom())
			if err != nil {
				return err
			}
			q.Deployments = &github.Page{Probe: true}
			if n := len(w.look.unsettled); n > 0 {
				// The newest deployments down to the oldest unsettled one, statuses
				// included: usually all of them in this first page.
				q.Deployments = &github.Page{First: min(listFirst, 2*n+4)}
			}
		}
		if incidents {
			for _, l := range c.e.IncidentLabels {
				q.Incidents = append(q.Incidents, github.LabelPage{Label: l, Page: github.Page{Probe: true}})
			}
		}
		if q.Pulls != nil || q.Deployments != nil || len(q.Incidents) > 0 {
			probes = append(probes, q)
			probed = append(probed, i)
		}
	}
	answers, err := c.client.QueryRepos(c.ghCtx, "Probe", probes)
	if err != nil {
		return err
	}
	for k, a := range answers {
		w := &chunk[probed[k]]
		w.look.probe, w.look.err = a, a.Err
	}
	return nil
}

// prefetch reads, many repositories to a query, the first page of every listing the
// probe found changed.
func (c *repoCollection) prefetch(part []repoWork) error {
	var fetches []github.RepoQuery
	var fetched []int
	prefetched := 0
	for i := range part {
		w := &part[i]
		if w.look == nil || w.look.err != nil {
			continue
		}
		q := github.RepoQuery{FullName: w.state.Repo.FullName}
		if first, ok := c.pullsToRead(w); ok && prefetched+first <= lookPrefetchPulls {
			q.Pulls = &github.Page{First: first}
			prefetched += first
		}
		if first, ok := c.deploymentsToRead(w); ok {
			q.Deployments = &github.Page{First: first}
		}
		q.Incidents = append(q.Incidents, c.incidentsToRead(w)...)
		if q.Pulls != nil || q.Deployments != nil || len(q.Incidents) > 0 {
			fetches = append(fetches, q)
			fetched = append(fetched, i)
		}
	}
	answers, err := c.client.QueryRepos(c.ghCtx, "Prefetch", fetches)
	if err != nil {
		return err
	}
	for k, a := range answers {
		look := part[fetched[k]].look
		if a.Err != nil {
			look.err = a.Err
			continue
		}
		look.pulls, look.deployments = a.Pulls, a.Deployments
		for i := range a.Incidents {
			if look.incidents == nil {
				look.incidents = map[string]*github.IncidentPage{}
			}
			look.incidents[a.Incidents[i].Label] = &a.Incidents[i]
		}
	}
	return nil
}

// pullsFrom is where a repository's pull request listing starts (its watermark, or the
// window start on a first pass or a re-collection).
func (c *repoCollection) pullsFrom(mark postgres.Mark, ok bool) time.Time {
	if ok && (!c.forced || mark.Watermark.Before(c.since)) {
		return mark.Watermark
	}
	return c.since
}

// pullsToRead decides from the probe whether the pull requests changed since the last
// pass, and how large a first page to ask.
func (c *repoCollection) pullsToRead(w *repoWork) (first int, read bool) {
	p := w.look.probe.Pulls
	if p == nil || p.Total == 0 {
		return 0, false
	}
	mark, ok := w.look.marks[postgres.StreamRepoPulls]
	from := c.pullsFrom(mark, ok)
	if p.Newest.Before(from) || (ok && !c.forced && !p.Newest.After(mark.Watermark)) {
		return 0, false // nothing updated since the last pass saw it
	}
	if !ok || c.forced {
		return min(listFirst, p.Total), true
	}
	return min(changedFirst, p.Total), true
}

// deploymentsToRead decides whether new deployments need listing (the unsettled ones
// came with the probe's full page).
func (c *repoCollection) deploymentsToRead(w *repoWork) (first int, read bool) {
	p := w.look.probe.Deployments
	if p == nil || len(p.Items) > 0 || p.Total == 0 || len(w.look.unsettled) > 0 {
		return 0, false
	}
	mark, ok := w.look.marks[postgres.StreamRepoDeployments]
	from := c.pullsFrom(mark, ok) // the same rule: watermark, or the window start
	if p.Newest.Before(from) || (ok && !c.forced && !p.Newest.After(mark.Watermark)) {
		return 0, false
	}
	if !ok || c.forced {
		return min(listFirst, p.Total), true
	}
	return min(changedFirst, p.Total), true
}

// incidentFingerprint is what the probe says of the incident listing: how many labelled
// issues, and the newest updatedAt among them. Any change to a listed issue moves its
// updatedAt; an issue leaving the listing lowers the count.
func incidentFingerprint(a github.RepoAnswer) (count int, newest time.Time) {
	for _, p := range a.Incidents {
		count += p.Total
		if p.Newest.After(newest) {
			newest = p.Newest
		}
	}
	return count, newest
}

// incidentsToRead returns the first pages of the incident listings to read: none when
// the fingerprint is the one stored.
func (c *repoCollection) incidentsToRead(w *repoWork) []github.LabelPage {
	if len(w.look.probe.Incidents) == 0 || c.incidentsUnchanged(w.look) {
		return nil
	}
	var out []github.LabelPage
	for _, p := range w.look.probe.Incidents {
		if p.Total > 0 {
			out = append(out, github.LabelPage{Label: p.Label, Page: github.Page{First: min(listFirst, p.Total)}})
		}
	}
	return out
}

func (c *repoCollection) incidentsUnchanged(look *repoLook) bool {
	mark, ok := look.marks[postgres.StreamRepoIncidents]
	count, newest := incidentFingerprint(look.probe)
	return ok && !c.forced && mark.Count == count && mark.Watermark.Equal(newest)
}

// nextPage reads the next page of one listing of a repository.
func (c *repoCollection) nextPage(q github.RepoQuery) (github.RepoAnswer, error) {
	answers, err := c.client.QueryRepos(c.ghCtx, "Page", []github.RepoQuery{q})
	if err != nil {
		return github.RepoAnswer{}, err
	}
	if answers[0].Err != nil {
		return github.RepoAnswer{}, answers[0].Err
	}
	return answers[0], nil
}

// pullsGraphQL stores the pull requests updated since the watermark: from the
// prefetched first page, and further pages (newest updated first) down to the
// watermark. Pages are saved as they come under the old watermark; the new one (the
// newest updatedAt seen) is written with the last, so a call cut in between reads the
// listing again and skips what it stored.
func (c *repoCollection) pullsGraphQL(look *repoLook, repo metrics.Repository, mark postgres.Mark, ok bool) error {
	from := c.pullsFrom(mark, ok)
	watermark := from
	if ok && mark.Watermark.After(watermark) {
		watermark = mark.Watermark
	}
	page := look.pulls
	first, read := c.pullsToRead(&repoWork{look: look})
	if !read {
		return c.saved(c.store.SavePulls(c.ctx, c.e.ID, repo.ID, nil, postgres.Mark{Watermark: watermark, Collection: c.cur.Collection}))
	}
	stored, err := c.store.PullUpdatedTimes(c.ctx, c.e.ID, repo.ID, from)
	if err != nil {
		return err
	}
	newest := watermark
	cursor := ""
	for {
		if page == nil {
			a, err := c.nextPage(github.RepoQuery{FullName: repo.FullName, Pulls: &github.Page{First: first, Cursor: cursor}})
			if err != nil {
				return ghErr(err)
			}
			page = a.Pulls
		}
		var rows []postgres.PullRequestRow
		reached := false
		for _, pr := range page.Items {
			if pr.UpdatedAt.Before(from) {
				reached = true
				break
			}
			if pr.UpdatedAt.After(newest) {
				newest = pr.UpdatedAt
			}
			if t, ok := stored[pr.Number]; ok && t.Equal(pr.UpdatedAt) {
				continue // unchanged since we stored it
			}
			rows = append(rows, c.pullRequestRow(pr))
		}
		if reached || !page.More {
			return c.saved(c.store.SavePulls(c.ctx, c.e.ID, repo.ID, rows, postgres.Mark{Watermark: newest, Collection: c.cur.Collection}))
		}
		if err := c.saved(c.store.SavePulls(c.ctx, c.e.ID, repo.ID, rows, postgres.Mark{Watermark: watermark})); err != nil {
			return err
		}
		if !c.startUnit() {
			return errOutOfTime
		}
		cursor, page, first = page.Cursor, nil, listFirst
	}
}

// deploymentsGraphQL stores the deployments created since the watermark (a first pass
// also looks past the window start for each production environment's compare base, as
// the REST stream does), then the statuses of the stored production deployments that
// may still change — asked of the store after the new ones are saved, since a new
// success supersedes older ones — all from the one listing, newest first, statuses
// included.
func (c *repoCollection) deploymentsGraphQL(look *repoLook, repo metrics.Repository, mark postgres.Mark, ok bool) error {
	from := c.pullsFrom(mark, ok)
	firstPass := !ok || c.forced
	watermark := from
	if ok && mark.Watermark.After(watermark) {
		watermark = mark.Watermark
	}
	walk := &deploymentWalk{c: c, repo: repo, first: listFirst, older: map[int64]metrics.Deployment{}}
	if p := look.probe.Deployments; p != nil && len(p.Items) > 0 {
		walk.page = p // the probe already listed the newest deployments
	} else if f, read := c.deploymentsToRead(&repoWork{look: look}); read {
		walk.page, walk.first = look.deployments, f
	} else if len(look.unsettled) == 0 {
		return c.saved(c.store.SaveDeployments(c.ctx, c.e.ID, repo.ID, nil, postgres.Mark{Watermark: watermark, Collection: c.cur.Collection}))
	}

	search := newBaseSearch(firstPass)
	for {
		d, more, err := walk.next()
		if err != nil {
			return ghErr(err)
		}
		if !more {
			break
		}
		if !d.CreatedAt.Before(from) {
			search.inWindow(d)
			continue
		}
		walk.older[d.ID] = d
		inspect, stop := search.older(d)
		if stop {
			break
		}
		if inspect {
			search.inspected(d) // listed with its statuses
		}
	}
	listed := search.oldestFirst()
	done, watermark, err := c.saveListed(listed, watermark, func(batch []metrics.Deployment, watermark time.Time) error {
		// GraphQL listed each deployment with its statuses: nothing more to read.
		return c.saved(c.store.SaveDeployments(c.ctx, c.e.ID, repo.ID, batch, postgres.Mark{Watermark: watermark}))
	})
	if err != nil {
		return err
	}
	// Then the stored ones whose statuses may have changed, the ones just superseded
	// included: further down the same listing (one no longer listed — deleted — keeps
	// what was stored).
	unsettled, err := c.store.UnsettledDeployments(c.ctx, c.e.ID, repo.ID, c.signal, c.unsettledFrom(), c.recentFrom())
	if err != nil {
		return err
	}
	var updated, elsewhere []metrics.Deployment
	for _, u := range unsettled {
		if done[u.ID] {
			continue
		}
		if d, found := walk.find(u); found {
			updated = append(updated, d)
			continue
		}
		// Older than the pages read (a deployment that never finished, weeks ago):
		// its statuses through REST, a conditional request that is free while they do
		// not change, rather than paging down to it every pass.
		u.RepoFullName = repo.FullName
		elsewhere = append(elsewhere, u)
	}
	if len(elsewhere) > 0 {
		if err := c.saveDeployments(repo, elsewhere, watermark, false); err != nil {
			return err
		}
	}
	return c.saved(c.store.SaveDeployments(c.ctx, c.e.ID, repo.ID, updated, postgres.Mark{Watermark: watermark, Collection: c.cur.Collection}))
}

// deploymentWalk goes down a repository's deployments, newest first, page by page,
// keeping the ones older than the window it passed (to find unsettled ones again).
type deploymentWalk struct {
	c        *repoCollection
	repo     metrics.Repository
	page     *github.DeploymentPage
	first    int
	i        int
	cursor   string
	ended    bool
	readOnly bool      // walk only what was read: no further page
	last     time.Time // createdAt of the last deployment walked past
	older    map[int64]metrics.Deployment
}

// next returns the next deployment (Production set; statuses kept for production
// deployments only), or more=false at the end of the listing.
func (w *deploymentWalk) next() (d metrics.Deployment, more bool, err error) {
	for {
		if w.ended {
			return metrics.Deployment{}, false, nil
		}
		if w.page == nil && w.readOnly {
			return metrics.Deployment{}, false, nil
		}
		if w.page == nil {
			a, err := w.c.nextPage(github.RepoQuery{FullName: w.repo.FullName, Deployments: &github.Page{First: w.first, Cursor: w.cursor}})
			if err != nil {
				return metrics.Deployment{}, false, err
			}
			w.page, w.i, w.first = a.Deployments, 0, listFirst
		}
		if w.i < len(w.page.Items) {
			d = w.page.Items[w.i]
			w.i++
			d.RepoFullName, d.Production = w.repo.FullName, w.c.e.IsProduction(d.Environment)
			if !d.Production {
				d.Statuses = nil // statuses are kept for production deployments only
			}
			w.last = d.CreatedAt
			return d, true, nil
		}
		if !w.page.More {
			w.ended = true
			continue
		}
		w.cursor, w.page = w.page.Cursor, nil
	}
}

// find returns the stored deployment u as the listing has it now, walking further down
// the page already read (never asking another) while the listing is newer than u.
func (w *deploymentWalk) find(u metrics.Deployment) (metrics.Deployment, bool) {
	w.readOnly = true
	for {
		if d, ok := w.older[u.ID]; ok {
			return d, true
		}
		if w.ended || (!w.last.IsZero() && w.last.Before(u.CreatedAt)) {
			return metrics.Deployment{}, false
		}
		d, more, _ := w.next() // read-only: no request, no error
		if !more {
			return metrics.Deployment{}, false
		}
		w.older[d.ID] = d
	}
}

// incidentsGraphQL replaces the repository's incidents with the complete listing, read
// only when the probe's fingerprint differs from the stored one.
func (c *repoCollection) incidentsGraphQL(look *repoLook, repo metrics.Repository, _ postgres.Mark, _ bool) error {
	count, newest := incidentFingerprint(look.probe)
	done := postgres.Mark{Watermark: newest, Count: count, Collection: c.cur.Collection}
	if c.incidentsUnchanged(look) {
		return c.saved(0, c.store.SaveRepoMark(c.ctx, c.e.ID, repo.ID, postgres.StreamRepoIncidents, done))
	}
	byNumber := map[int]metrics.Incident{}
	for _, p := range look.probe.Incidents {
		if p.Total == 0 {
			continue
		}
		page := look.incidents[p.Label]
		cursor := ""
		for {
			if page == nil {
				a, err := c.nextPage(github.RepoQuery{FullName: repo.FullName, Incidents: []github.LabelPage{{Label: p.Label, Page: github.Page{First: listFirst, Cursor: cursor}}}})
				if err != nil {
					return ghErr(err)
				}
				page = &a.Incidents[0]
			}
			for _, inc := range page.Items {
				if metrics.CountsAsIncident(inc) {
					byNumber[inc.Number] = inc
				}
			}
			if !page.More {
				break
			}
			cursor, page = page.Cursor, nil
		}
	}
	incidents := make([]metrics.Incident, 0, len(byNumber))
	for _, inc := range byNumber {
		incidents = append(incidents, inc)
	}
	slices.SortFunc(incidents, func(a, b metrics.Incident) int { return cmp.Compare(a.Number, b.Number) })
	return c.saved(c.store.SaveIncidents(c.ctx, c.e.ID, repo.ID, incidents, done))
}

// graphQLQueryError turns a query GitHub refuses (a schema change, or a bug of ours)
// into a permanent failure that says how to keep collecting meanwhile.
func graphQLQueryError(enterpriseID string, err error) error {
	if !errors.Is(err, github.ErrGraphQLQuery) {
		return nil
	}
	return fmt.Errorf("collect repositories of %s: %w (set \"repo_api\": \"rest\" for the enterprise in COLLECTOR_ENTERPRISES to collect through REST meanwhile): %w",
		enterpriseID, err, ErrPermanent)
}
