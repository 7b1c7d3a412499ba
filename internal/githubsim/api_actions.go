package githubsim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runSearchCap is how many results a filtered workflow-run query can page through;
// total_count still reports the true number.
const runSearchCap = 1000

type runCommitJSON struct {
	ID        string   `json:"id"`
	TreeID    string   `json:"tree_id"`
	Message   string   `json:"message"`
	Timestamp ts       `json:"timestamp"`
	Author    gitActor `json:"author"`
	Committer gitActor `json:"committer"`
}

type runPullJSON struct {
	ID     int64  `json:"id"`
	Number int    `json:"number"`
	URL    string `json:"url"`
	Head   runRef `json:"head"`
	Base   runRef `json:"base"`
}

type runRef struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo struct {
		ID   int64  `json:"id"`
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"repo"`
}

type runJSON struct {
	ID                  int64         `json:"id"`
	Name                string        `json:"name"`
	NodeID              string        `json:"node_id"`
	HeadBranch          string        `json:"head_branch"`
	HeadSHA             string        `json:"head_sha"`
	Path                string        `json:"path"`
	DisplayTitle        string        `json:"display_title"`
	RunNumber           int32         `json:"run_number"`
	Event               string        `json:"event"`
	Status              string        `json:"status"`
	Conclusion          *string       `json:"conclusion"`
	WorkflowID          int64         `json:"workflow_id"`
	CheckSuiteID        int64         `json:"check_suite_id"`
	URL                 string        `json:"url"`
	HTMLURL             string        `json:"html_url"`
	PullRequests        []runPullJSON `json:"pull_requests"`
	CreatedAt           ts            `json:"created_at"`
	UpdatedAt           ts            `json:"updated_at"`
	Actor               *userJSON     `json:"actor"`
	RunAttempt          int           `json:"run_attempt"`
	ReferencedWorkflows []any         `json:"referenced_workflows"`
	RunStartedAt        ts            `json:"run_started_at"`
	TriggeringActor     *userJSON     `json:"triggering_actor"`
	JobsURL             string        `json:"jobs_url"`
	LogsURL             string        `json:"logs_url"`
	CheckSuiteURL       string        `json:"check_suite_url"`
	ArtifactsURL        string        `json:"artifacts_url"`
	CancelURL           string        `json:"cancel_url"`
	RerunURL            string        `json:"rerun_url"`
	PreviousAttemptURL  *string       `json:"previous_attempt_url"`
	WorkflowURL         string        `json:"workflow_url"`
	HeadCommit          runCommitJSON `json:"head_commit"`
	Repository          *repoJSON     `json:"repository"`
	HeadRepository      *repoJSON     `json:"head_repository"`
}

func (c *call) runJSON(r *repo, ru *run, st runState, rj *repoJSON, withPulls bool) runJSON {
	u := c.repoURL(r)
	runURL := fmt.Sprintf("%s/actions/runs/%d", u, ru.id)
	wf := r.workflows[ru.workflow]
	cm := &r.commits[ru.commit]
	committerName, committerEmail := cm.authorName, cm.authorEmail
	if cm.committer != nil {
		committerName, committerEmail = cm.committer.name, cm.committer.email
	}
	j := runJSON{
		ID: ru.id, Name: wf.name, NodeID: nodeID("WFR_", ru.id), HeadBranch: ru.branch, HeadSHA: cm.sha.String(), Path: wf.path,
		DisplayTitle: firstLine(cm.message), RunNumber: ru.number, Event: ru.event, Status: st.status,
		WorkflowID: wf.id, CheckSuiteID: ru.id + 1, URL: runURL,
		HTMLURL:      fmt.Sprintf("%s/%s/actions/runs/%d", htmlBase, r.fullName(), ru.id),
		PullRequests: []runPullJSON{}, CreatedAt: ts(ru.created), UpdatedAt: ts(st.updated),
		Actor: c.userJSON(ru.actor), RunAttempt: st.attempt, ReferencedWorkflows: []any{}, RunStartedAt: ts(st.started),
		TriggeringActor: c.userJSON(ru.actor), JobsURL: runURL + "/jobs", LogsURL: runURL + "/logs",
		CheckSuiteURL: fmt.Sprintf("%s/check-suites/%d", u, ru.id+1), ArtifactsURL: runURL + "/artifacts",
		CancelURL: runURL + "/cancel", RerunURL: runURL + "/rerun", WorkflowURL: fmt.Sprintf("%s/actions/workflows/%d", u, wf.id),
		HeadCommit: runCommitJSON{
			ID: cm.sha.String(), TreeID: makeSHA(c.s.w.cfg.Seed, uint64(r.id), 1<<41+uint64(ru.commit)).String(), Message: cm.message,
			Timestamp: ts(cm.committedAt), Author: gitActor{Name: cm.authorName, Email: cm.authorEmail},
			Committer: gitActor{Name: committerName, Email: committerEmail},
		},
		Repository: rj, HeadRepository: rj,
	}
	if st.status == "completed" {
		conclusion := st.conclusion
		j.Conclusion = &conclusion
	}
	if st.attempt > 1 {
		prev := runURL + "/attempts/" + strconv.Itoa(st.attempt-1)
		j.PreviousAttemptURL = &prev
	}
	if withPulls && ru.pull >= 0 {
		p := &r.pulls[ru.pull]
		pr := runPullJSON{ID: p.id, Number: p.number, URL: u + "/pulls/" + strconv.Itoa(p.number)}
		pr.Head.Ref, pr.Head.SHA = p.headRef, cm.sha.String()
		pr.Base.Ref = r.defaultBranch
		if pos := r.tipAt(ru.created); pos >= 0 {
			pr.Base.SHA = r.commits[r.main[pos]].sha.String()
		}
		for _, ref := range []*runRef{&pr.Head, &pr.Base} {
			ref.Repo.ID, ref.Repo.URL, ref.Repo.Name = r.id, u, r.name
		}
		j.PullRequests = append(j.PullRequests, pr)
	}
	return j
}

// timeRange is an inclusive range; zero bounds are open.
type timeRange struct{ from, to time.Time }

func (tr timeRange) contains(t time.Time) bool {
	return (tr.from.IsZero() || !t.Before(tr.from)) && (tr.to.IsZero() || !t.After(tr.to))
}

// parseCreated parses GitHub's search date syntax: D, >D, >=D, <D, <=D, A..B, A..*, *..B,
// where each side is a date (a whole UTC day) or an ISO 8601 date-time.
func parseCreated(v string) (timeRange, error) {
	point := func(s string, upper bool) (time.Time, error) {
		if s == "*" {
			return time.Time{}, nil
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			if upper {
				return t.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
			}
			return t, nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not a date or date-time", s)
	}
	var tr timeRange
	var err error
	switch {
	case strings.Contains(v, ".."):
		a, b, _ := strings.Cut(v, "..")
		if tr.from, err = point(a, false); err == nil {
			tr.to, err = point(b, true)
		}
	case strings.HasPrefix(v, ">="):
		tr.from, err = point(v[2:], false)
	case strings.HasPrefix(v, "<="):
		tr.to, err = point(v[2:], true)
	case strings.HasPrefix(v, ">"):
		var t time.Time
		if t, err = point(v[1:], true); err == nil {
			tr.from = t.Add(time.Nanosecond)
		}
	case strings.HasPrefix(v, "<"):
		var t time.Time
		if t, err = point(v[1:], false); err == nil {
			tr.to = t.Add(-time.Nanosecond)
		}
	default:
		if tr.from, err = point(v, false); err == nil {
			tr.to, err = point(v, true)
		}
	}
	return tr, err
}

var runStatuses = []string{"completed", "action_required", "cancelled", "failure", "neutral", "skipped", "stale",
	"success", "timed_out", "in_progress", "queued", "requested", "waiting", "pending"}

// listRuns is GET /repos/{o}/{r}/actions/runs, newest first. With any of the search
// filters only the first 1,000 results can be paged through.
func (c *call) listRuns() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	var created timeRange
	if v := q.Get("created"); v != "" {
		var err error
		if created, err = parseCreated(v); err != nil {
			return validationFailed("created", err.Error())
		}
	}
	status := q.Get("status")
	if status != "" && !slices.Contains(runStatuses, status) {
		return validationFailed("status", "status must be a check run status or conclusion")
	}
	branch, event, actor, headSHA := q.Get("branch"), q.Get("event"), q.Get("actor"), q.Get("head_sha")
	filtered := false
	for _, f := range []string{"actor", "branch", "check_suite_id", "created", "event", "head_sha", "status"} {
		filtered = filtered || q.Get(f) != ""
	}
	type item struct {
		ru *run
		st runState
	}
	var items []item
	for i := len(r.runs) - 1; i >= 0; i-- {
		ru := &r.runs[i]
		st, visibleNow := ru.at(c.now)
		if !visibleNow || !created.contains(ru.created) {
			continue
		}
		if (branch != "" && ru.branch != branch) || (event != "" && ru.event != event) ||
			(actor != "" && !strings.EqualFold(ru.actor.login, actor)) ||
			(headSHA != "" && r.commits[ru.commit].sha.String() != headSHA) {
			continue
		}
		if status != "" && st.status != status && st.conclusion != status {
			continue
		}
		items = append(items, item{ru, st})
	}
	total := len(items)
	pageable := items
	if filtered && len(pageable) > runSearchCap {
		pageable = pageable[:runSearchCap]
	}
	pageItems, link := paginate(c, pageable, c.pageParams(30, 100))
	rj := c.repoJSON(r)
	runs := make([]runJSON, 0, len(pageItems))
	exclude := q.Get("exclude_pull_requests") == "true"
	for _, it := range pageItems {
		runs = append(runs, c.runJSON(r, it.ru, it.st, rj, !exclude))
	}
	rep := ok(map[string]any{"total_count": total, "workflow_runs": runs})
	rep.link = link
	return rep
}

func (c *call) getRun() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil {
		return notFound()
	}
	i, found := slices.BinarySearchFunc(r.runs, id, func(ru run, id int64) int { return cmp.Compare(ru.id, id) })
	if !found {
		return notFound()
	}
	ru := &r.runs[i]
	st, visibleNow := ru.at(c.now)
	if !visibleNow {
		return notFound()
	}
	return ok(c.runJSON(r, ru, st, c.repoJSON(r), true))
}
