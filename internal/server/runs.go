package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"metrics-collector/internal/postgres"
)

func asErr[T any](err error, target *T) bool { return errors.As(err, target) }

// statusTimeout bounds the database waits of the read-only status routes.
const statusTimeout = 30 * time.Second

// runDetail is GET /api/runs/{id}: the run, its plan steps, every stage call, and the
// files it delivered so far (each kind goes out as soon as its collection is complete,
// so a run still collecting may have delivered some).
type runDetail struct {
	postgres.Run
	Steps      []postgres.Step      `json:"steps"`
	Calls      []postgres.StageCall `json:"calls"`
	Deliveries []delivery           `json:"deliveries"`
}

// delivery is one file kind a run exported: when, and its data's completeness.
type delivery struct {
	Kind            string            `json:"kind"`
	File            string            `json:"file"`
	ExportDate      string            `json:"export_date"`
	ExportedAt      time.Time         `json:"exported_at"`
	Rows            int64             `json:"rows"`
	CompleteThrough map[string]string `json:"complete_through"` // enterprise → date; absent: never complete
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	fail := func(err error) { s.writeError(ctx, w, boundedWait(r.Context(), ctx, err), 0) }
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "limit: must be a whole number between 1 and 500"})
			return
		}
		limit = n
	}
	if err := s.opts.Store.Ready(ctx); err != nil {
		fail(err)
		return
	}
	runs, err := s.opts.Store.ListRuns(ctx, limit)
	if err != nil {
		fail(err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	fail := func(err error, runID int64) { s.writeError(ctx, w, boundedWait(r.Context(), ctx, err), runID) }
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "id: must be a positive run id"})
		return
	}
	if err := s.opts.Store.Ready(ctx); err != nil {
		fail(err, 0)
		return
	}
	run, err := s.opts.Store.GetRun(ctx, id)
	if errors.Is(err, postgres.ErrNotFound) {
		fail(fmt.Errorf("id: no run %d: %w", id, errUnknownRun), 0)
		return
	}
	if err != nil {
		fail(err, 0)
		return
	}
	steps, err := s.opts.Store.ListSteps(ctx, id)
	if err != nil {
		fail(err, id)
		return
	}
	calls, err := s.opts.Store.ListStageCalls(ctx, id)
	if err != nil {
		fail(err, id)
		return
	}
	files, err := s.opts.Store.RunExports(ctx, id)
	if err != nil {
		fail(err, id)
		return
	}
	deliveries := make([]delivery, 0, len(files))
	for _, f := range files {
		d := delivery{Kind: f.Kind, File: f.FileName, ExportDate: f.ExportDate.Format(time.DateOnly), ExportedAt: f.ExportedAt,
			Rows: f.Rows, CompleteThrough: map[string]string{}}
		for id, t := range f.CompleteThrough {
			if t != nil {
				d.CompleteThrough[id] = t.Format(time.DateOnly)
			}
		}
		deliveries = append(deliveries, d)
	}
	writeJSON(w, http.StatusOK, runDetail{Run: run, Steps: steps, Calls: calls, Deliveries: deliveries})
}
