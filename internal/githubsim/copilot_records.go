package githubsim

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// The records of the usage-metrics report files, field names as GitHub documents them.
// Fields the collector does not model (ai_adoption_phase, totals_by_cli, agent apps) are
// included on purpose, and from Config.CopilotNewFieldFrom a field nobody knows yet.

type codeActivity struct {
	CodeGenerationActivityCount int64 `json:"code_generation_activity_count"`
	CodeAcceptanceActivityCount int64 `json:"code_acceptance_activity_count"`
	LOCSuggestedToAddSum        int64 `json:"loc_suggested_to_add_sum"`
	LOCSuggestedToDeleteSum     int64 `json:"loc_suggested_to_delete_sum"`
	LOCAddedSum                 int64 `json:"loc_added_sum"`
	LOCDeletedSum               int64 `json:"loc_deleted_sum"`
}

func activityOf(c counts) codeActivity {
	return codeActivity{c.generations, c.acceptances, c.locSuggestedAdd, c.locSuggestedDelete, c.locAdded, c.locDeleted}
}

type versionSample struct {
	SampledAt     string `json:"sampled_at"`
	IDEVersion    string `json:"ide_version,omitempty"`
	Plugin        string `json:"plugin,omitempty"`
	PluginVersion string `json:"plugin_version,omitempty"`
}

type ideTotals struct {
	IDE                           string `json:"ide"`
	UserInitiatedInteractionCount int64  `json:"user_initiated_interaction_count"`
	codeActivity
	LastKnownPluginVersion *versionSample `json:"last_known_plugin_version,omitempty"`
	LastKnownIDEVersion    *versionSample `json:"last_known_ide_version,omitempty"`
}

type featureTotals struct {
	Feature                       string `json:"feature"`
	UserInitiatedInteractionCount int64  `json:"user_initiated_interaction_count"`
	codeActivity
}

type languageFeatureTotals struct {
	Language string `json:"language"`
	Feature  string `json:"feature"`
	codeActivity
}

type languageModelTotals struct {
	Language string `json:"language"`
	Model    string `json:"model"`
	codeActivity
}

type modelFeatureTotals struct {
	Model                         string `json:"model"`
	Feature                       string `json:"feature"`
	UserInitiatedInteractionCount int64  `json:"user_initiated_interaction_count"`
	codeActivity
}

type tokenUsage struct {
	AvgTokensPerRequest float64 `json:"avg_tokens_per_request"`
	OutputTokensSum     int64   `json:"output_tokens_sum"`
	PromptTokensSum     int64   `json:"prompt_tokens_sum"`
}

type cliTotals struct {
	SessionCount int64      `json:"session_count"`
	RequestCount int64      `json:"request_count"`
	PromptCount  int64      `json:"prompt_count"`
	TokenUsage   tokenUsage `json:"token_usage"`
}

type thirdPartyAgent struct {
	AgentName                     string `json:"agent_name"`
	AgentID                       string `json:"agent_id"`
	UserInitiatedInteractionCount int64  `json:"user_initiated_interaction_count"`
	SessionCount                  int64  `json:"session_count,omitempty"`
}

// agentSkillTotals is the "brand-new" field no client models.
type agentSkillTotals struct {
	Skill           string `json:"skill"`
	InvocationCount int64  `json:"invocation_count"`
}

type adoptionPhase struct {
	PhaseNumber int    `json:"phase_number"`
	Phase       string `json:"phase"`
	Version     string `json:"version"`
}

type pullRequestTotals struct {
	TotalCreated            int64   `json:"total_created"`
	TotalReviewed           int64   `json:"total_reviewed"`
	TotalMerged             int64   `json:"total_merged"`
	MedianMinutesToMerge    float64 `json:"median_minutes_to_merge"`
	TotalSuggestions        int64   `json:"total_suggestions"`
	TotalAppliedSuggestions int64   `json:"total_applied_suggestions"`
	TotalCreatedByCopilot   int64   `json:"total_created_by_copilot"`
	TotalReviewedByCopilot  int64   `json:"total_reviewed_by_copilot"`
	// Copilot code review's own share of the suggestions above.
	TotalCopilotSuggestions        int64 `json:"total_copilot_suggestions"`
	TotalCopilotAppliedSuggestions int64 `json:"total_copilot_applied_suggestions"`
}

type chatModes struct {
	ChatPanelAgentMode   int64 `json:"chat_panel_agent_mode"`
	ChatPanelAskMode     int64 `json:"chat_panel_ask_mode"`
	ChatPanelCustomMode  int64 `json:"chat_panel_custom_mode"`
	ChatPanelEditMode    int64 `json:"chat_panel_edit_mode"`
	ChatPanelPlanMode    int64 `json:"chat_panel_plan_mode"`
	ChatPanelUnknownMode int64 `json:"chat_panel_unknown_mode"`
}

type breakdowns struct {
	TotalsByIDE             []ideTotals             `json:"totals_by_ide"`
	TotalsByFeature         []featureTotals         `json:"totals_by_feature"`
	TotalsByLanguageFeature []languageFeatureTotals `json:"totals_by_language_feature"`
	TotalsByLanguageModel   []languageModelTotals   `json:"totals_by_language_model"`
	TotalsByModelFeature    []modelFeatureTotals    `json:"totals_by_model_feature"`
}

// dayRecord is one aggregate (enterprise-1-day / organization-1-day) record.
type dayRecord struct {
	Day                                 string `json:"day"`
	EnterpriseID                        string `json:"enterprise_id,omitempty"`
	OrganizationID                      string `json:"organization_id,omitempty"`
	DailyActiveUsers                    int64  `json:"daily_active_users"`
	WeeklyActiveUsers                   int64  `json:"weekly_active_users"`
	MonthlyActiveUsers                  int64  `json:"monthly_active_users"`
	MonthlyActiveChatUsers              int64  `json:"monthly_active_chat_users"`
	MonthlyActiveAgentUsers             int64  `json:"monthly_active_agent_users"`
	DailyActiveCLIUsers                 int64  `json:"daily_active_cli_users"`
	DailyActiveCopilotCloudAgentUsers   int64  `json:"daily_active_copilot_cloud_agent_users"`
	DailyActiveCopilotCodeReviewUsers   int64  `json:"daily_active_copilot_code_review_users"`
	DailyPassiveCopilotCodeReviewUsers  int64  `json:"daily_passive_copilot_code_review_users"`
	MonthlyActiveCopilotCodeReviewUsers int64  `json:"monthly_active_copilot_code_review_users"`
	UserInitiatedInteractionCount       int64  `json:"user_initiated_interaction_count"`
	chatModes
	CodeGenerationActivityCount int64 `json:"code_generation_activity_count"`
	CodeAcceptanceActivityCount int64 `json:"code_acceptance_activity_count"`
	breakdowns
	TotalsByCLI           *cliTotals         `json:"totals_by_cli,omitempty"`
	TotalsBy3rdPartyAgent []thirdPartyAgent  `json:"totals_by_3rd_party_agent"`
	TotalsByAgentSkill    []agentSkillTotals `json:"totals_by_agent_skill,omitempty"`
	LOCSuggestedToAddSum  int64              `json:"loc_suggested_to_add_sum"`
	LOCSuggestedToDelete  int64              `json:"loc_suggested_to_delete_sum"`
	LOCAddedSum           int64              `json:"loc_added_sum"`
	LOCDeletedSum         int64              `json:"loc_deleted_sum"`
	PullRequests          pullRequestTotals  `json:"pull_requests"`
}

// userRecord is one line of a users-1-day (or users-28-day) report.
type userRecord struct {
	ReportStartDay                string  `json:"report_start_day,omitempty"`
	ReportEndDay                  string  `json:"report_end_day,omitempty"`
	UserID                        int64   `json:"user_id"`
	UserLogin                     string  `json:"user_login"`
	Day                           string  `json:"day"`
	OrganizationID                string  `json:"organization_id,omitempty"`
	EnterpriseID                  string  `json:"enterprise_id,omitempty"`
	AICreditsUsed                 float64 `json:"ai_credits_used"`
	UserInitiatedInteractionCount int64   `json:"user_initiated_interaction_count"`
	chatModes
	CodeGenerationActivityCount int64 `json:"code_generation_activity_count"`
	CodeAcceptanceActivityCount int64 `json:"code_acceptance_activity_count"`
	breakdowns
	TotalsByCLI                  *cliTotals         `json:"totals_by_cli,omitempty"`
	AIAdoptionPhase              adoptionPhase      `json:"ai_adoption_phase"`
	TotalsByAgentSkill           []agentSkillTotals `json:"totals_by_agent_skill,omitempty"`
	UsedAgent                    bool               `json:"used_agent"`
	UsedChat                     bool               `json:"used_chat"`
	UsedCLI                      bool               `json:"used_cli"`
	UsedCopilotCodeReviewActive  bool               `json:"used_copilot_code_review_active"`
	UsedCopilotCodeReviewPassive bool               `json:"used_copilot_code_review_passive"`
	UsedCopilotCodingAgent       bool               `json:"used_copilot_coding_agent"`
	LOCSuggestedToAddSum         int64              `json:"loc_suggested_to_add_sum"`
	LOCSuggestedToDeleteSum      int64              `json:"loc_suggested_to_delete_sum"`
	LOCAddedSum                  int64              `json:"loc_added_sum"`
	LOCDeletedSum                int64              `json:"loc_deleted_sum"`
}

// userTeamRecord is one line of a user-teams-1-day report.
type userTeamRecord struct {
	UserID         int64  `json:"user_id"`
	UserLogin      string `json:"user_login"`
	Day            string `json:"day"`
	OrganizationID string `json:"organization_id,omitempty"`
	EnterpriseID   string `json:"enterprise_id,omitempty"`
	TeamID         int64  `json:"team_id"`
	Slug           string `json:"slug"`
}

// reportScope is an enterprise (org nil) or one of its orgs.
type reportScope struct {
	e *enterprise
	o *org
}

func (s reportScope) ids() (enterpriseID, orgID string) {
	if s.o != nil {
		return "", strconv.FormatInt(s.o.id, 10)
	}
	return strconv.FormatInt(s.e.id, 10), ""
}

const dayLayout = "2006-01-02"

// collector accumulates counters by breakdown key.
type collector struct {
	ide      map[string]*counts
	feature  map[string]*counts
	langFeat map[[2]string]*counts
	langMod  map[[2]string]*counts
	modFeat  map[[2]string]*counts
	total    counts
	modes    chatModes
	cli      cliUsage
}

func newCollector() *collector {
	return &collector{ide: map[string]*counts{}, feature: map[string]*counts{}, langFeat: map[[2]string]*counts{},
		langMod: map[[2]string]*counts{}, modFeat: map[[2]string]*counts{}}
}

func addTo[K comparable](m map[K]*counts, k K, c counts) {
	if m[k] == nil {
		m[k] = &counts{}
	}
	m[k].add(c)
}

func (c *collector) addDay(d *userDay) {
	if !d.flags.active {
		return
	}
	t := d.total()
	c.total.add(t)
	addTo(c.ide, ides[d.ide], t)
	for f, fc := range d.features {
		if fc == (counts{}) {
			continue
		}
		name := featureNames[f]
		addTo(c.feature, name, fc)
		addTo(c.modFeat, [2]string{d.models[f], name}, fc)
		for i, lc := range d.splitLanguages(fc) {
			if lc == (counts{}) {
				continue
			}
			addTo(c.langFeat, [2]string{d.langs[i], name}, lc)
			addTo(c.langMod, [2]string{d.langs[i], d.models[f]}, lc)
		}
	}
	c.modes.ChatPanelAgentMode += d.features[featAgentMode].interactions
	c.modes.ChatPanelAskMode += d.features[featAsk].interactions
	c.modes.ChatPanelEditMode += d.features[featEdit].interactions
	c.cli.sessions += d.cli.sessions
	c.cli.requests += d.cli.requests
	c.cli.prompts += d.cli.prompts
	c.cli.outputTokens += d.cli.outputTokens
	c.cli.promptTokens += d.cli.promptTokens
}

func sortedKeys[K cmp.Ordered](m map[K]*counts) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedPairs(m map[[2]string]*counts) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	return keys
}

func (c *collector) breakdowns() breakdowns {
	b := breakdowns{
		TotalsByIDE: []ideTotals{}, TotalsByFeature: []featureTotals{}, TotalsByLanguageFeature: []languageFeatureTotals{},
		TotalsByLanguageModel: []languageModelTotals{}, TotalsByModelFeature: []modelFeatureTotals{},
	}
	for _, k := range sortedKeys(c.ide) {
		b.TotalsByIDE = append(b.TotalsByIDE, ideTotals{IDE: k, UserInitiatedInteractionCount: c.ide[k].interactions, codeActivity: activityOf(*c.ide[k])})
	}
	for _, k := range sortedKeys(c.feature) {
		b.TotalsByFeature = append(b.TotalsByFeature, featureTotals{Feature: k, UserInitiatedInteractionCount: c.feature[k].interactions, codeActivity: activityOf(*c.feature[k])})
	}
	for _, k := range sortedPairs(c.langFeat) {
		b.TotalsByLanguageFeature = append(b.TotalsByLanguageFeature, languageFeatureTotals{Language: k[0], Feature: k[1], codeActivity: activityOf(*c.langFeat[k])})
	}
	for _, k := range sortedPairs(c.langMod) {
		b.TotalsByLanguageModel = append(b.TotalsByLanguageModel, languageModelTotals{Language: k[0], Model: k[1], codeActivity: activityOf(*c.langMod[k])})
	}
	for _, k := range sortedPairs(c.modFeat) {
		b.TotalsByModelFeature = append(b.TotalsByModelFeature, modelFeatureTotals{Model: k[0], Feature: k[1], UserInitiatedInteractionCount: c.modFeat[k].interactions, codeActivity: activityOf(*c.modFeat[k])})
	}
	return b
}

func (c *collector) cliTotals() *cliTotals {
	if c.cli.requests == 0 {
		return nil
	}
	return &cliTotals{
		SessionCount: c.cli.sessions, RequestCount: c.cli.requests, PromptCount: c.cli.prompts,
		TokenUsage: tokenUsage{
			AvgTokensPerRequest: float64((c.cli.outputTokens+c.cli.promptTokens)*10/c.cli.requests) / 10,
			OutputTokensSum:     c.cli.outputTokens, PromptTokensSum: c.cli.promptTokens,
		},
	}
}

func (w *world) newField(day time.Time) []agentSkillTotals {
	if w.cfg.CopilotNewFieldFrom.IsZero() || day.Before(startOfDay(w.cfg.CopilotNewFieldFrom)) {
		return nil
	}
	h := hashOf(uint64(w.cfg.Seed), dayNumber(day))
	return []agentSkillTotals{{Skill: "code-review", InvocationCount: int64(h % 50)}, {Skill: "test-writer", InvocationCount: int64(h / 50 % 30)}}
}

// userRecordOf renders one user-day for a report of the scope.
func (w *world) userRecordOf(s reportScope, d *userDay) userRecord {
	entID, orgID := s.ids()
	c := newCollector()
	c.addDay(d)
	t := c.total
	rec := userRecord{
		UserID: d.cu.u.id, UserLogin: d.cu.u.login, Day: d.day.Format(dayLayout),
		OrganizationID: orgID, EnterpriseID: entID, AICreditsUsed: d.credits,
		UserInitiatedInteractionCount: t.interactions, chatModes: c.modes,
		CodeGenerationActivityCount: t.generations, CodeAcceptanceActivityCount: t.acceptances,
		breakdowns: c.breakdowns(), TotalsByCLI: c.cliTotals(),
		AIAdoptionPhase:    adoptionPhase{PhaseNumber: 1 + int(d.cu.u.id%4), Phase: []string{"explorer", "adopter", "practitioner", "expert"}[d.cu.u.id%4], Version: "v1"},
		TotalsByAgentSkill: w.newField(d.day),
		UsedAgent:          d.flags.agent, UsedChat: d.flags.chat, UsedCLI: d.flags.cli,
		UsedCopilotCodeReviewActive: d.flags.reviewActive, UsedCopilotCodeReviewPassive: d.flags.reviewPassive,
		UsedCopilotCodingAgent: d.flags.codingAgent,
		LOCSuggestedToAddSum:   t.locSuggestedAdd, LOCSuggestedToDeleteSum: t.locSuggestedDelete, LOCAddedSum: t.locAdded, LOCDeletedSum: t.locDeleted,
	}
	if d.flags.active {
		sampled := d.day.Add(time.Duration(8+d.cu.u.id%9) * time.Hour).Format(time.RFC3339)
		ide := &rec.TotalsByIDE[0]
		ide.LastKnownIDEVersion = &versionSample{SampledAt: sampled, IDEVersion: ideVersions[d.ide]}
		ide.LastKnownPluginVersion = &versionSample{SampledAt: sampled, Plugin: idePlugins[d.ide], PluginVersion: pluginVers[d.ide]}
	}
	return rec
}

// userRecords are the lines of the scope's users-1-day report for day at now.
func (w *world) userRecords(s reportScope, day, now time.Time) []userRecord {
	f := w.completeness(day, now)
	users := s.e.scopeUsers(s.o, day)
	out := make([]userRecord, 0, len(users))
	for _, cu := range users {
		d := cu.day(w.cfg.Seed, day, f)
		out = append(out, w.userRecordOf(s, &d))
	}
	return out
}

// dayRecordOf aggregates the scope's users for day at now.
func (w *world) dayRecordOf(s reportScope, day, now time.Time) dayRecord {
	f := w.completeness(day, now)
	entID, orgID := s.ids()
	users := s.e.scopeUsers(s.o, day)
	c := newCollector()
	var dau, wau, mau, chat, agent, cliUsers, cloud, reviewActive, reviewPassive, reviewMonthly int64
	for _, cu := range users {
		d := cu.day(w.cfg.Seed, day, f)
		c.addDay(&d)
		var week, month, monthChat, monthAgent, monthReview bool
		for back := range 28 {
			fl := d.flags
			if back > 0 {
				fl = cu.flags(w.cfg.Seed, day.AddDate(0, 0, -back))
			}
			if fl.active {
				week = week || back < 7
				month = true
				monthChat = monthChat || fl.chat
				monthAgent = monthAgent || fl.agent
				monthReview = monthReview || fl.reviewActive
			}
		}
		count := func(b bool) int64 {
			if b {
				return 1
			}
			return 0
		}
		dau += count(d.flags.active)
		wau += count(week)
		mau += count(month)
		chat += count(monthChat)
		agent += count(monthAgent)
		cliUsers += count(d.flags.cli)
		cloud += count(d.flags.codingAgent)
		reviewActive += count(d.flags.reviewActive)
		reviewPassive += count(d.flags.reviewPassive)
		reviewMonthly += count(monthReview)
	}
	t := c.total
	pr := w.pullActivity(s.e, s.o, day, f)
	h := hashOf(uint64(w.cfg.Seed), dayNumber(day), uint64(s.e.id))
	if s.o != nil {
		h = mix(h, uint64(s.o.id))
	}
	return dayRecord{
		Day: day.Format(dayLayout), EnterpriseID: entID, OrganizationID: orgID,
		DailyActiveUsers: dau, WeeklyActiveUsers: wau, MonthlyActiveUsers: mau,
		MonthlyActiveChatUsers: chat, MonthlyActiveAgentUsers: agent, DailyActiveCLIUsers: cliUsers,
		DailyActiveCopilotCloudAgentUsers: cloud, DailyActiveCopilotCodeReviewUsers: reviewActive,
		DailyPassiveCopilotCodeReviewUsers: reviewPassive, MonthlyActiveCopilotCodeReviewUsers: reviewMonthly,
		UserInitiatedInteractionCount: t.interactions, chatModes: c.modes,
		CodeGenerationActivityCount: t.generations, CodeAcceptanceActivityCount: t.acceptances,
		breakdowns: c.breakdowns(), TotalsByCLI: c.cliTotals(),
		TotalsBy3rdPartyAgent: []thirdPartyAgent{
			{AgentName: "Claude", AgentID: "claude", UserInitiatedInteractionCount: int64(h % 40), SessionCount: int64(h / 40 % 15)},
			{AgentName: "Codex", AgentID: "codex", UserInitiatedInteractionCount: int64(h / 600 % 25), SessionCount: int64(h / 15000 % 9)},
		},
		TotalsByAgentSkill:   w.newField(day),
		LOCSuggestedToAddSum: t.locSuggestedAdd, LOCSuggestedToDelete: t.locSuggestedDelete, LOCAddedSum: t.locAdded, LOCDeletedSum: t.locDeleted,
		PullRequests: pullRequestTotals{
			TotalCreated: pr.created, TotalReviewed: pr.reviewed, TotalMerged: pr.merged, MedianMinutesToMerge: pr.medianMinutes,
			TotalSuggestions: pr.suggestions, TotalAppliedSuggestions: pr.applied,
			TotalCreatedByCopilot: pr.createdByCopilot, TotalReviewedByCopilot: pr.reviewedByCopilot,
			TotalCopilotSuggestions: pr.copilotSuggestions, TotalCopilotAppliedSuggestions: pr.copilotApplied,
		},
	}
}

// userTeamRecords are the lines of the scope's user-teams-1-day report. Teams with fewer
// than five seated users are left out, as GitHub does.
func (w *world) userTeamRecords(s reportScope, day time.Time) []userTeamRecord {
	entID, orgID := s.ids()
	orgs := s.e.orgs
	if s.o != nil {
		orgs = []*org{s.o}
	}
	var out []userTeamRecord
	for _, o := range orgs {
		seated := s.e.scopeUsers(o, day)
		for ti, t := range o.teams {
			var members []*copilotUser
			for _, cu := range seated {
				if hashOf(uint64(w.cfg.Seed), uint64(cu.u.id), uint64(t.id))%uint64(len(o.teams)) == uint64(ti)%2 {
					members = append(members, cu)
				}
			}
			if len(members) < 5 {
				continue
			}
			for _, cu := range members {
				out = append(out, userTeamRecord{UserID: cu.u.id, UserLogin: cu.u.login, Day: day.Format(dayLayout),
					OrganizationID: orgID, EnterpriseID: entID, TeamID: t.id, Slug: t.slug})
			}
		}
	}
	return out
}
