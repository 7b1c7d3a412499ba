package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// A stream mark alone is written without touching rows, keeps its count (the incident
// listing's fingerprint), and replaces the previous mark.
func TestSaveRepoMarkWritesTheMarkAlone(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	inc := []metrics.Incident{{Number: 3, Title: "down", Labels: []string{"incident"}, CreatedAt: rt(0)}}
	n, err := s.SaveIncidents(ctx, "e1", 7, inc, postgres.Mark{Watermark: rt(1), Count: 2, Collection: "c1"})
	mustWriteRows(t, 1, n, err)
	if err := s.SaveRepoMark(ctx, "e1", 7, postgres.StreamRepoIncidents, postgres.Mark{Watermark: rt(2), Count: 3, Collection: "c2"}); err != nil {
		t.Fatal(err)
	}
	marks, err := s.GetRepoMarks(ctx, "e1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]postgres.Mark{postgres.StreamRepoIncidents: {Watermark: rt(2), Count: 3, Collection: "c2"}}, marks); diff != "" {
		t.Errorf("marks (-want +got):\n%s", diff)
	}
	if got := repoQueryInt(t, s, `SELECT count(*) FROM incidents WHERE repo_id = 7`); got != 1 {
		t.Errorf("%d incidents after writing a mark, want the 1 stored", got)
	}
	for _, stream := range []string{postgres.StreamRepoPass, postgres.StreamRepoInventory, "copilot.day", ""} {
		if err := s.SaveRepoMark(ctx, "e1", 7, stream, postgres.Mark{Watermark: rt(3)}); err == nil {
			t.Errorf("stream %q accepted", stream)
		}
	}
}
