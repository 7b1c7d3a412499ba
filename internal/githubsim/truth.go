package githubsim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"

	"metrics-collector/internal/metrics"
)

// Truth is what GitHub holds for one enterprise at the simulator's now, in the domain
// types, so tests can compare what the collector stored with it. It is derived from the
// same view at now as the API's answers.
type Truth struct {
	Repositories []metrics.Repository // every repository of the enterprise's orgs, by full name
	// Commits are the default-branch commits of each repository (by full name), oldest
	// first (topological order).
	Commits      map[string][]metrics.Commit
	PullRequests []metrics.PullRequest // by repository, then number; with Commits and Reviews
	WorkflowRuns []metrics.WorkflowRun // by repository, then id
	// Deployments are GitHub Deployments (signal "deployment") by repository, then id.
	// Changes are filled for deployments to a production environment (the collector's
	// default pattern, productionEnv) that have a success status: the commits of the
	// compare between the previous such deployment of the same repository and
	// environment — ordered by first success status, then id — and this one. The first
	// successful deployment of each production environment has no Changes (nothing to
	// compare with).
	Deployments []metrics.Deployment
	// Incidents are the issues (not pull requests) labelled "incident" at now, with
	// their state_reason ("" while open and never closed).
	Incidents []metrics.Incident
}

// productionEnv is the collector's default production pattern: production, prod,
// production/api, production-eu, … but not staging or preview.
var productionEnv = regexp.MustCompile(`(?i)^prod(uction)?([-_/:. ].*)?$`)

func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func secPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := sec(t)
	return &v
}

func login(u *user) string {
	if u == nil {
		return ""
	}
	return u.login
}

// Truth returns the repository data of the enterprise named by its id or slug.
func (s *Simulator) Truth(enterprise string) (Truth, error) {
	e, err := s.enterprise(enterprise)
	if err != nil {
		return Truth{}, fmt.Errorf("truth: %w", err)
	}
	now := s.Now()
	t := Truth{Commits: map[string][]metrics.Commit{}}
	var repos []*repo
	for _, o := range e.orgs {
		for _, r := range o.repos {
			if r.visibleAt(now) {
				repos = append(repos, r)
			}
		}
	}
	sort.Slice(repos, func(i, j int) bool { return repos[i].fullName() < repos[j].fullName() })
	for _, r := range repos {
		t.Repositories = append(t.Repositories, repoTruth(r, now))
		var commits []metrics.Commit
		for _, i := range r.defaultBranchCommits(now) {
			commits = append(commits, commitTruth(r, i))
		}
		t.Commits[r.fullName()] = commits
		t.PullRequests = append(t.PullRequests, pullsTruth(r, now)...)
		t.WorkflowRuns = append(t.WorkflowRuns, runsTruth(r, now)...)
		t.Deployments = append(t.Deployments, deploymentsTruth(r, now)...)
		t.Incidents = append(t.Incidents, incidentsTruth(r, now)...)
	}
	return t, nil
}

func repoTruth(r *repo, now time.Time) metrics.Repository {
	return metrics.Repository{
		ID: r.id, Org: r.org.login, Name: r.name, FullName: r.fullName(), DefaultBranch: r.defaultBranch,
		Archived: r.archived, Fork: r.fork, Private: r.private, CreatedAt: sec(r.createdAt),
		PushedAt: sec(r.pushedAt(now)), UpdatedAt: sec(r.updatedAt(now)),
	}
}

func commitTruth(r *repo, i int32) metrics.Commit {
	c := &r.commits[i]
	return metrics.Commit{
		SHA: c.sha.String(), AuthorLogin: login(c.author), AuthorName: c.authorName, AuthoredAt: sec(c.authoredAt),
		CommitterLogin: login(c.committer), CommittedAt: sec(c.committedAt), MessageHeadline: firstLine(c.message),
		ParentCount: len(c.parents), Reverts: metrics.RevertedSHAs(c.message),
	}
}

func pullsTruth(r *repo, now time.Time) []metrics.PullRequest {
	var out []metrics.PullRequest
	for i := range r.pulls {
		s, found := r.pullAt(&r.pulls[i], now)
		if !found {
			continue
		}
		p := s.p
		pr := metrics.PullRequest{
			ID: p.id, RepoFullName: r.fullName(), Number: p.number, AuthorLogin: p.author.login, AuthorID: p.author.id, Title: p.title,
			State: "open", Draft: s.draft, BaseRef: r.defaultBranch, HeadRef: p.headRef,
			CreatedAt: sec(p.createdAt), UpdatedAt: sec(s.updatedAt), MergeCommitSHA: s.mergeSHA.String(),
			Additions: s.additions, Deletions: s.deletions, ChangedFiles: s.files, Labels: append([]string(nil), p.labels...),
			RevertsNumber: metrics.RevertedPullNumber(p.body, r.fullName()),
		}
		if !s.open {
			pr.State = "closed"
			pr.ClosedAt = secPtr(s.closedAt)
			if s.merged {
				pr.MergedAt = secPtr(s.closedAt)
			}
		}
		for _, c := range s.commits {
			pr.Commits = append(pr.Commits, commitTruth(r, c))
		}
		for _, rv := range s.reviews {
			pr.Reviews = append(pr.Reviews, metrics.Review{ID: rv.id, ReviewerLogin: rv.user.login, State: rv.state, SubmittedAt: sec(rv.submittedAt)})
		}
		out = append(out, pr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func runsTruth(r *repo, now time.Time) []metrics.WorkflowRun {
	var out []metrics.WorkflowRun
	for i := range r.runs {
		ru := &r.runs[i]
		st, found := ru.at(now)
		if !found {
			continue
		}
		wf := r.workflows[ru.workflow]
		out = append(out, metrics.WorkflowRun{
			ID: ru.id, RepoFullName: r.fullName(), WorkflowID: wf.id, Name: wf.name, Path: wf.path, Event: ru.event,
			HeadBranch: ru.branch, HeadSHA: r.commits[ru.commit].sha.String(), Status: st.status, Conclusion: st.conclusion,
			ActorLogin: ru.actor.login, RunAttempt: st.attempt, CreatedAt: sec(ru.created), UpdatedAt: sec(st.updated),
			RunStartedAt: sec(st.started),
		})
	}
	return out
}

func deploymentsTruth(r *repo, now time.Time) []metrics.Deployment {
	var out []metrics.Deployment
	type success struct {
		out    int // index in out
		at     time.Time
		id     int64
		commit int32
	}
	byEnv := map[string][]success{} // successful production deployments per environment
	for i := range r.deployments {
		d := &r.deployments[i]
		if d.createdAt.After(now) {
			continue
		}
		dt := metrics.Deployment{
			ID: d.id, RepoFullName: r.fullName(), Signal: metrics.SignalDeployment, SHA: r.commits[d.commit].sha.String(),
			Ref: d.ref, Environment: d.env, Production: productionEnv.MatchString(d.env), CreatorLogin: login(d.creator),
			CreatedAt: sec(d.createdAt),
		}
		for _, st := range d.statusesAt(now) {
			dt.Statuses = append(dt.Statuses, metrics.DeploymentStatus{ID: st.id, State: st.state, CreatedAt: sec(st.at)})
		}
		if at, ok := d.firstSuccess(now); ok && dt.Production {
			byEnv[d.env] = append(byEnv[d.env], success{out: len(out), at: at, id: d.id, commit: d.commit})
		}
		out = append(out, dt)
	}
	for _, list := range byEnv {
		sort.Slice(list, func(i, j int) bool {
			if !list[i].at.Equal(list[j].at) {
				return list[i].at.Before(list[j].at)
			}
			return list[i].id < list[j].id
		})
		for k := 1; k < len(list); k++ {
			for _, c := range r.compare(list[k-1].commit, list[k].commit).commits {
				out[list[k].out].Changes = append(out[list[k].out].Changes, commitTruth(r, c))
			}
		}
	}
	return out
}

func incidentsTruth(r *repo, now time.Time) []metrics.Incident {
	var out []metrics.Incident
	for i := range r.issues {
		is := &r.issues[i]
		labels := is.labelsAt(now)
		if is.createdAt.After(now) || !hasLabel(labels, "incident") {
			continue
		}
		inc := metrics.Incident{
			RepoFullName: r.fullName(), Number: is.number, Title: is.title, AuthorLogin: is.author.login,
			Labels: append([]string(nil), labels...), CreatedAt: sec(is.createdAt), StateReason: is.stateReason(now),
		}
		if visible(is.closedAt, now) {
			inc.ClosedAt = secPtr(is.closedAt)
		}
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func hasLabel(labels []string, want string) bool {
	for _, l := range labels {
		if l == want {
			return true
		}
	}
	return false
}

// CopilotTruth is the Copilot data of one enterprise at now, per scope (the enterprise
// and each of its orgs).
type CopilotTruth struct {
	// Days are the aggregate reports that exist at now for days in the asked range.
	Days map[metrics.CopilotScope][]metrics.CopilotDay
	// UserDays are the per-user report lines of the same days.
	UserDays map[metrics.CopilotScope][]metrics.CopilotUserDay
	// Seats are the seat listings at now (the enterprise's repeats users per org and
	// includes the seat with a null assignee).
	Seats map[metrics.CopilotScope][]metrics.CopilotSeat
}

// CopilotTruth returns the enterprise's Copilot reports for the days from..to
// (inclusive, UTC days) as they are at now, and its seats. Orgs whose Copilot policy is
// disabled have no reports.
func (s *Simulator) CopilotTruth(enterprise string, from, to time.Time) (CopilotTruth, error) {
	e, err := s.enterprise(enterprise)
	if err != nil {
		return CopilotTruth{}, fmt.Errorf("copilot truth: %w", err)
	}
	now := s.Now()
	w := s.w
	t := CopilotTruth{Days: map[metrics.CopilotScope][]metrics.CopilotDay{}, UserDays: map[metrics.CopilotScope][]metrics.CopilotUserDay{},
		Seats: map[metrics.CopilotScope][]metrics.CopilotSeat{}}
	scopes := []reportScope{{e: e}}
	for _, o := range e.orgs {
		scopes = append(scopes, reportScope{e: e, o: o})
	}
	for _, sc := range scopes {
		key := metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: e.cfg.Slug}
		if sc.o != nil {
			key = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: sc.o.login}
		}
		t.Seats[key] = w.seatsTruth(e, sc.o, now)
		if sc.o != nil && sc.o.cfg.CopilotPolicyDisabled {
			continue
		}
		for d := startOfDay(from); !d.After(startOfDay(to)); d = d.AddDate(0, 0, 1) {
			if !w.reportExists(sc.o != nil, d, now) {
				continue
			}
			day, err := copilotDayTruth(w.dayRecordOf(sc, d, now))
			if err != nil {
				return CopilotTruth{}, err
			}
			t.Days[key] = append(t.Days[key], day)
			for _, rec := range w.userRecords(sc, d, now) {
				ud, err := copilotUserDayTruth(rec)
				if err != nil {
					return CopilotTruth{}, err
				}
				t.UserDays[key] = append(t.UserDays[key], ud)
			}
		}
	}
	return t, nil
}

func i64(v int64) *int64 { return &v }

func breakdownTruth(b breakdowns) []metrics.CopilotBreakdown {
	var out []metrics.CopilotBreakdown
	add := func(dim, k1, k2 string, interactions *int64, a codeActivity) {
		out = append(out, metrics.CopilotBreakdown{
			Dimension: dim, Key1: k1, Key2: k2, UserInitiatedInteractions: interactions,
			CodeGenerations: i64(a.CodeGenerationActivityCount), CodeAcceptances: i64(a.CodeAcceptanceActivityCount),
			LOCSuggestedToAdd: i64(a.LOCSuggestedToAddSum), LOCSuggestedToDelete: i64(a.LOCSuggestedToDeleteSum),
			LOCAdded: i64(a.LOCAddedSum), LOCDeleted: i64(a.LOCDeletedSum),
		})
	}
	for _, x := range b.TotalsByIDE {
		add(metrics.DimensionIDE, x.IDE, "", i64(x.UserInitiatedInteractionCount), x.codeActivity)
	}
	for _, x := range b.TotalsByFeature {
		add(metrics.DimensionFeature, x.Feature, "", i64(x.UserInitiatedInteractionCount), x.codeActivity)
	}
	for _, x := range b.TotalsByLanguageFeature {
		add(metrics.DimensionLanguageFeature, x.Language, x.Feature, nil, x.codeActivity)
	}
	for _, x := range b.TotalsByLanguageModel {
		add(metrics.DimensionLanguageModel, x.Language, x.Model, nil, x.codeActivity)
	}
	for _, x := range b.TotalsByModelFeature {
		add(metrics.DimensionModelFeature, x.Model, x.Feature, i64(x.UserInitiatedInteractionCount), x.codeActivity)
	}
	return out
}

// chatModesTruth: the simulator sends every chat_panel_*_mode counter, zeros included.
func chatModesTruth(m chatModes) metrics.CopilotChatModes {
	return metrics.CopilotChatModes{Agent: i64(m.ChatPanelAgentMode), Ask: i64(m.ChatPanelAskMode), Custom: i64(m.ChatPanelCustomMode),
		Edit: i64(m.ChatPanelEditMode), Plan: i64(m.ChatPanelPlanMode), Unknown: i64(m.ChatPanelUnknownMode)}
}

func copilotDayTruth(rec dayRecord) (metrics.CopilotDay, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return metrics.CopilotDay{}, fmt.Errorf("encode day record: %w", err)
	}
	day, _ := time.Parse(dayLayout, rec.Day)
	median := rec.PullRequests.MedianMinutesToMerge
	return metrics.CopilotDay{
		Day: day, DailyActiveUsers: i64(rec.DailyActiveUsers), WeeklyActiveUsers: i64(rec.WeeklyActiveUsers),
		MonthlyActiveUsers: i64(rec.MonthlyActiveUsers), MonthlyActiveChatUsers: i64(rec.MonthlyActiveChatUsers),
		MonthlyActiveAgentUsers: i64(rec.MonthlyActiveAgentUsers), UserInitiatedInteractions: i64(rec.UserInitiatedInteractionCount),
		CodeGenerations: i64(rec.CodeGenerationActivityCount), CodeAcceptances: i64(rec.CodeAcceptanceActivityCount),
		LOCSuggestedToAdd: i64(rec.LOCSuggestedToAddSum), LOCSuggestedToDelete: i64(rec.LOCSuggestedToDelete),
		LOCAdded: i64(rec.LOCAddedSum), LOCDeleted: i64(rec.LOCDeletedSum),
		PullRequests: metrics.CopilotPullRequests{
			TotalCreated: i64(rec.PullRequests.TotalCreated), TotalReviewed: i64(rec.PullRequests.TotalReviewed),
			TotalMerged: i64(rec.PullRequests.TotalMerged), MedianMinutesToMerge: &median,
			TotalSuggestions: i64(rec.PullRequests.TotalSuggestions), TotalAppliedSuggestions: i64(rec.PullRequests.TotalAppliedSuggestions),
			TotalCreatedByCopilot: i64(rec.PullRequests.TotalCreatedByCopilot), TotalReviewedByCopilot: i64(rec.PullRequests.TotalReviewedByCopilot),
			TotalCopilotSuggestions:        i64(rec.PullRequests.TotalCopilotSuggestions),
			TotalCopilotAppliedSuggestions: i64(rec.PullRequests.TotalCopilotAppliedSuggestions),
		},
		ChatModes:  chatModesTruth(rec.chatModes),
		Breakdowns: breakdownTruth(rec.breakdowns),
		Raw:        raw,
	}, nil
}

func copilotUserDayTruth(rec userRecord) (metrics.CopilotUserDay, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return metrics.CopilotUserDay{}, fmt.Errorf("encode user record: %w", err)
	}
	day, _ := time.Parse(dayLayout, rec.Day)
	credits := rec.AICreditsUsed
	return metrics.CopilotUserDay{
		Day: day, UserID: rec.UserID, UserLogin: rec.UserLogin,
		UserInitiatedInteractions: i64(rec.UserInitiatedInteractionCount),
		CodeGenerations:           i64(rec.CodeGenerationActivityCount), CodeAcceptances: i64(rec.CodeAcceptanceActivityCount),
		LOCSuggestedToAdd: i64(rec.LOCSuggestedToAddSum), LOCSuggestedToDelete: i64(rec.LOCSuggestedToDeleteSum),
		LOCAdded: i64(rec.LOCAddedSum), LOCDeleted: i64(rec.LOCDeletedSum),
		UsedAgent: rec.UsedAgent, UsedChat: rec.UsedChat, UsedCLI: rec.UsedCLI,
		UsedCodeReviewActive: rec.UsedCopilotCodeReviewActive, UsedCodeReviewPassive: rec.UsedCopilotCodeReviewPassive,
		UsedCodingAgent: rec.UsedCopilotCodingAgent, AICreditsUsed: &credits,
		ChatModes:  chatModesTruth(rec.chatModes),
		Breakdowns: breakdownTruth(rec.breakdowns),
		Raw:        raw,
	}, nil
}

func (w *world) seatsTruth(e *enterprise, o *org, now time.Time) []metrics.CopilotSeat {
	var out []metrics.CopilotSeat
	for _, v := range w.seatsAt(e, o, now) {
		st := metrics.CopilotSeat{
			PlanType: v.s.plan, CreatedAt: sec(v.s.createdAt), UpdatedAt: secPtr(v.updatedAt),
			PendingCancellation: secPtr(v.pendingCancel), LastActivityAt: secPtr(v.lastActivity),
			LastActivityEditor: v.lastActivityEditor, LastAuthenticatedAt: secPtr(v.lastAuthenticated),
		}
		if v.s.holder != nil {
			st.AssigneeID, st.AssigneeLogin, st.AssigneeType = v.s.holder.u.id, v.s.holder.u.login, v.s.holder.u.typ
		}
		if o == nil {
			st.Organization = v.s.org.login
		}
		if v.s.team != nil {
			st.AssigningTeam = v.s.team.slug
		}
		out = append(out, st)
	}
	return out
}
