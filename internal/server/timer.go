package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"metrics-collector/internal/config"
)

// timerEnvelope is what the Functions host posts to /main_orchestrator. Only what we
// log is decoded, and leniently: on a first run ScheduleStatus.Last has no zone
// ("0001-01-01T00:00:00"), ScheduleStatus may be null, older hosts send Schedule: {}.
type timerEnvelope struct {
	Data struct {
		Timer *struct {
			ScheduleStatus *struct {
				Last string `json:"Last"`
				Next string `json:"Next"`
			} `json:"ScheduleStatus"`
			IsPastDue bool `json:"IsPastDue"`
		} `json:"timer"`
	} `json:"Data"`
	Metadata struct {
		Sys struct {
			MethodName string `json:"MethodName"`
			UtcNow     string `json:"UtcNow"`
		} `json:"sys"`
	} `json:"Metadata"`
}

// orchestratorGrace is how long after its budget an orchestrator invocation's database
// waits may still run.
const orchestratorGrace = 45 * time.Second

// envelopeResponse is the answer the host expects from a non-HTTP trigger.
type envelopeResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// hostTime parses the host's timestamps, with or without a zone (no zone = UTC).
func hostTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (s *Server) orchestrate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(raw) > maxBodyBytes {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body: cannot be read or is too large"})
		return
	}
	var env timerEnvelope
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &env); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "body: not a Functions timer envelope: " + jsonProblem(err)})
			return
		}
	}
	attrs := []any{}
	if t := env.Data.Timer; t != nil {
		attrs = append(attrs, "past_due", t.IsPastDue)
		if t.ScheduleStatus != nil {
			if last, ok := hostTime(t.ScheduleStatus.Last); ok && last.Year() > 1 {
				attrs = append(attrs, "last", last)
			}
		}
	}
	s.log.InfoContext(ctx, "orchestrator invoked", attrs...)
	// Every database wait of the invocation ends a little after the orchestrator's own
	// budget: its last stage call may answer up to ~25 s after it.
	budget := s.opts.Config.OrchestratorBudget
	if budget == 0 {
		budget = config.DefaultOrchestratorBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget+orchestratorGrace)
	defer cancel()
	if err := s.opts.Store.Ready(ctx); err != nil {
		s.writeError(ctx, w, err, 0)
		return
	}
	// The orchestrator takes its own lock (one invocation at a time) and stops when it
	// loses it; that error wraps postgres.ErrUnavailable (503).
	sum, err := s.opts.Orchestrator.Run(ctx)
	if err != nil {
		s.writeError(ctx, w, err, sum.RunID)
		return
	}
	logs := sum.Logs
	for i := range logs {
		logs[i] = s.opts.Redact(logs[i])
	}
	if logs == nil {
		logs = []string{}
	}
	s.log.InfoContext(ctx, "orchestrator finished", "run_id", sum.RunID, "status", sum.Status, "finished", sum.Finished,
		"summary", strings.Join(logs, " | "))
	writeJSON(w, http.StatusOK, envelopeResponse{Outputs: map[string]any{}, Logs: logs, ReturnValue: nil})
}

func jsonProblem(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case asErr(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at offset %d", syntaxErr.Offset)
	case asErr(err, &typeErr):
		return fmt.Sprintf("field %s has the wrong type", typeErr.Field)
	}
	return "invalid JSON"
}
