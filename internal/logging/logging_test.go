package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestInvocationIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelInfo, nil)).With("component", "test")
	ctx := WithInvocationID(context.Background(), "inv-123")
	log.InfoContext(ctx, "first", "n", 1)
	log.WithGroup("g").InfoContext(ctx, "second", "k", "v")
	log.Info("no context")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"inv-123", "", ""} {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		got, _ := m["invocation_id"].(string)
		if i == 1 {
			g, _ := m["g"].(map[string]any)
			got, _ = g["invocation_id"].(string)
			want = "inv-123"
		}
		if got != want {
			t.Errorf("line %d invocation_id = %q, want %q (%s)", i, got, want, lines[i])
		}
	}
}

func TestNewInvocationIDIsUnique(t *testing.T) {
	a, b := NewInvocationID(), NewInvocationID()
	if a == b || len(a) != 36 {
		t.Fatalf("ids %q %q: want two different 36-character ids", a, b)
	}
}
