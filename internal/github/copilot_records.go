package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"metrics-collector/internal/metrics"
)

// codeCounters are the counters a report record and each breakdown element share.
type codeCounters struct {
	UserInitiatedInteractionCount *int64 `json:"user_initiated_interaction_count"`
	CodeGenerationActivityCount   *int64 `json:"code_generation_activity_count"`
	CodeAcceptanceActivityCount   *int64 `json:"code_acceptance_activity_count"`
	LOCSuggestedToAddSum          *int64 `json:"loc_suggested_to_add_sum"`
	LOCSuggestedToDeleteSum       *int64 `json:"loc_suggested_to_delete_sum"`
	LOCAddedSum                   *int64 `json:"loc_added_sum"`
	LOCDeletedSum                 *int64 `json:"loc_deleted_sum"`
}

// chatModes are the top-level chat_panel_*_mode counters of a record.
type chatModes struct {
	ChatPanelAgentMode   *int64 `json:"chat_panel_agent_mode"`
	ChatPanelAskMode     *int64 `json:"chat_panel_ask_mode"`
	ChatPanelCustomMode  *int64 `json:"chat_panel_custom_mode"`
	ChatPanelEditMode    *int64 `json:"chat_panel_edit_mode"`
	ChatPanelPlanMode    *int64 `json:"chat_panel_plan_mode"`
	ChatPanelUnknownMode *int64 `json:"chat_panel_unknown_mode"`
}

func (m chatModes) toChatModes() metrics.CopilotChatModes {
	return metrics.CopilotChatModes{Agent: m.ChatPanelAgentMode, Ask: m.ChatPanelAskMode, Custom: m.ChatPanelCustomMode,
		Edit: m.ChatPanelEditMode, Plan: m.ChatPanelPlanMode, Unknown: m.ChatPanelUnknownMode}
}

type breakdownElement struct {
	codeCounters
	IDE      string `json:"ide"`
	Feature  string `json:"feature"`
	Language string `json:"language"`
	Model    string `json:"model"`
}

// breakdowns are the totals_by_* arrays we model; the others (CLI, 3rd-party
// agents, ...) stay in Raw.
type breakdowns struct {
	ByIDE             []breakdownElement `json:"totals_by_ide"`
	ByFeature         []breakdownElement `json:"totals_by_feature"`
	ByLanguageFeature []breakdownElement `json:"totals_by_language_feature"`
	ByLanguageModel   []breakdownElement `json:"totals_by_language_model"`
	ByModelFeature    []breakdownElement `json:"totals_by_model_feature"`
}

type aggregateRecord struct {
	Day                     string `json:"day"`
	DailyActiveUsers        *int64 `json:"daily_active_users"`
	WeeklyActiveUsers       *int64 `json:"weekly_active_users"`
	MonthlyActiveUsers      *int64 `json:"monthly_active_users"`
	MonthlyActiveChatUsers  *int64 `json:"monthly_active_chat_users"`
	MonthlyActiveAgentUsers *int64 `json:"monthly_active_agent_users"`
	codeCounters
	chatModes
	breakdowns
	PullRequests *struct {
		TotalCreated            *int64   `json:"total_created"`
		TotalReviewed           *int64   `json:"total_reviewed"`
		TotalMerged             *int64   `json:"total_merged"`
		MedianMinutesToMerge    *float64 `json:"median_minutes_to_merge"`
		TotalSuggestions        *int64   `json:"total_suggestions"`
		TotalAppliedSuggestions *int64   `json:"total_applied_suggestions"`
		TotalCreatedByCopilot   *int64   `json:"total_created_by_copilot"`
		TotalReviewedByCopilot  *int64   `json:"total_reviewed_by_copilot"`
		// Copilot code review's own; total_suggestions counts every reviewer's.
		TotalCopilotSuggestions        *int64 `json:"total_copilot_suggestions"`
		TotalCopilotAppliedSuggestions *int64 `json:"total_copilot_applied_suggestions"`
	} `json:"pull_requests"`
}

type userRecord struct {
	Day       string `json:"day"`
	UserID    *int64 `json:"user_id"`
	UserLogin string `json:"user_login"`
	codeCounters
	chatModes
	breakdowns
	UsedAgent                    bool     `json:"used_agent"`
	UsedChat                     bool     `json:"used_chat"`
	UsedCLI                      bool     `json:"used_cli"`
	UsedCopilotCodeReviewActive  bool     `json:"used_copilot_code_review_active"`
	UsedCopilotCodeReviewPassive bool     `json:"used_copilot_code_review_passive"`
	UsedCopilotCodingAgent       bool     `json:"used_copilot_coding_agent"`
	AICreditsUsed                *float64 `json:"ai_credits_used"`
}

// DecodeCopilotDay decodes one record of an aggregate 1-day report (enterprise-1-day
// or organization-1-day; also each element of a 28-day report's day_totals). Fields we
// do not model are ignored and kept in Raw, as is the whole record. day is required.
func DecodeCopilotDay(raw json.RawMessage) (metrics.CopilotDay, error) {
	var rec aggregateRecord
	if err := decodeObject(raw, &rec); err != nil {
		return metrics.CopilotDay{}, fmt.Errorf("copilot day record: %w", err)
	}
	day, err := parseReportDay(rec.Day)
	if err != nil {
		return metrics.CopilotDay{}, fmt.Errorf("copilot day record: %w", err)
	}
	out := metrics.CopilotDay{
		Day:                       day,
		DailyActiveUsers:          rec.DailyActiveUsers,
		WeeklyActiveUsers:         rec.WeeklyActiveUsers,
		MonthlyActiveUsers:        rec.MonthlyActiveUsers,
		MonthlyActiveChatUsers:    rec.MonthlyActiveChatUsers,
		MonthlyActiveAgentUsers:   rec.MonthlyActiveAgentUsers,
		UserInitiatedInteractions: rec.UserInitiatedInteractionCount,
		CodeGenerations:           rec.CodeGenerationActivityCount,
		CodeAcceptances:           rec.CodeAcceptanceActivityCount,
		LOCSuggestedToAdd:         rec.LOCSuggestedToAddSum,
		LOCSuggestedToDelete:      rec.LOCSuggestedToDeleteSum,
		LOCAdded:                  rec.LOCAddedSum,
		LOCDeleted:                rec.LOCDeletedSum,
		ChatModes:                 rec.toChatModes(),
		Breakdowns:                rec.toBreakdowns(),
		Raw:                       raw,
	}
	if pr := rec.PullRequests; pr != nil {
		out.PullRequests = metrics.CopilotPullRequests{
			TotalCreated:                   pr.TotalCreated,
			TotalReviewed:                  pr.TotalReviewed,
			TotalMerged:                    pr.TotalMerged,
			MedianMinutesToMerge:           pr.MedianMinutesToMerge,
			TotalSuggestions:               pr.TotalSuggestions,
			TotalAppliedSuggestions:        pr.TotalAppliedSuggestions,
			TotalCreatedByCopilot:          pr.TotalCreatedByCopilot,
			TotalReviewedByCopilot:         pr.TotalReviewedByCopilot,
			TotalCopilotSuggestions:        pr.TotalCopilotSuggestions,
			TotalCopilotAppliedSuggestions: pr.TotalCopilotAppliedSuggestions,
		}
	}
	return out, nil
}

// DecodeCopilotUserDay decodes one line of a users-1-day report. Fields we do not
// model are ignored and kept in Raw. day and user_id are required; many users have
// every counter at zero (there is no "active" flag).
func DecodeCopilotUserDay(raw json.RawMessage) (metrics.CopilotUserDay, error) {
	var rec userRecord
	if err := decodeObject(raw, &rec); err != nil {
		return metrics.CopilotUserDay{}, fmt.Errorf("copilot user record: %w", err)
	}
	day, err := parseReportDay(rec.Day)
	if err != nil {
		return metrics.CopilotUserDay{}, fmt.Errorf("copilot user record: %w", err)
	}
	if rec.UserID == nil {
		return metrics.CopilotUserDay{}, errors.New("copilot user record: user_id: missing")
	}
	return metrics.CopilotUserDay{
		Day:                       day,
		UserID:                    *rec.UserID,
		UserLogin:                 rec.UserLogin,
		UserInitiatedInteractions: rec.UserInitiatedInteractionCount,
		CodeGenerations:           rec.CodeGenerationActivityCount,
		CodeAcceptances:           rec.CodeAcceptanceActivityCount,
		LOCSuggestedToAdd:         rec.LOCSuggestedToAddSum,
		LOCSuggestedToDelete:      rec.LOCSuggestedToDeleteSum,
		LOCAdded:                  rec.LOCAddedSum,
		LOCDeleted:                rec.LOCDeletedSum,
		UsedAgent:                 rec.UsedAgent,
		UsedChat:                  rec.UsedChat,
		UsedCLI:                   rec.UsedCLI,
		UsedCodeReviewActive:      rec.UsedCopilotCodeReviewActive,
		UsedCodeReviewPassive:     rec.UsedCopilotCodeReviewPassive,
		UsedCodingAgent:           rec.UsedCopilotCodingAgent,
		AICreditsUsed:             rec.AICreditsUsed,
		ChatModes:                 rec.toChatModes(),
		Breakdowns:                rec.toBreakdowns(),
		Raw:                       raw,
	}, nil
}

// decodeObject decodes raw, which must be a JSON object, into v.
func decodeObject(raw json.RawMessage, v any) error {
	for _, b := range raw {
		if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
			continue
		}
		if b != '{' {
			return errors.New("not a JSON object")
		}
		break
	}
	if len(raw) == 0 {
		return errors.New("empty record")
	}
	return json.Unmarshal(raw, v)
}

func parseReportDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("day: missing")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("day: %q is not a YYYY-MM-DD date", s)
	}
	return t, nil
}

func (b breakdowns) toBreakdowns() []metrics.CopilotBreakdown {
	n := len(b.ByIDE) + len(b.ByFeature) + len(b.ByLanguageFeature) + len(b.ByLanguageModel) + len(b.ByModelFeature)
	if n == 0 {
		return nil
	}
	out := make([]metrics.CopilotBreakdown, 0, n)
	add := func(dimension string, elements []breakdownElement, keys func(breakdownElement) (string, string)) {
		for _, e := range elements {
			k1, k2 := keys(e)
			out = append(out, metrics.CopilotBreakdown{
				Dimension:                 dimension,
				Key1:                      k1,
				Key2:                      k2,
				UserInitiatedInteractions: e.UserInitiatedInteractionCount,
				CodeGenerations:           e.CodeGenerationActivityCount,
				CodeAcceptances:           e.CodeAcceptanceActivityCount,
				LOCSuggestedToAdd:         e.LOCSuggestedToAddSum,
				LOCSuggestedToDelete:      e.LOCSuggestedToDeleteSum,
				LOCAdded:                  e.LOCAddedSum,
				LOCDeleted:                e.LOCDeletedSum,
			})
		}
	}
	add(metrics.DimensionIDE, b.ByIDE, func(e breakdownElement) (string, string) { return e.IDE, "" })
	add(metrics.DimensionFeature, b.ByFeature, func(e breakdownElement) (string, string) { return e.Feature, "" })
	add(metrics.DimensionLanguageFeature, b.ByLanguageFeature, func(e breakdownElement) (string, string) { return e.Language, e.Feature })
	add(metrics.DimensionLanguageModel, b.ByLanguageModel, func(e breakdownElement) (string, string) { return e.Language, e.Model })
	add(metrics.DimensionModelFeature, b.ByModelFeature, func(e breakdownElement) (string, string) { return e.Model, e.Feature })
	return out
}
