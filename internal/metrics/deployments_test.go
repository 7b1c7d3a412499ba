package metrics

import (
	"testing"
	"time"
)

func TestDeploymentOutcome(t *testing.T) {
	t.Parallel()
	d := Deployment{Statuses: []DeploymentStatus{
		{State: "queued", CreatedAt: at(t, "2025-03-04T10:00:00Z")},
		{State: "error", CreatedAt: at(t, "2025-03-04T10:05:00Z")},
		{State: "success", CreatedAt: at(t, "2025-03-04T10:20:00Z")}, // a retry of the same deployment
		{State: "failure", CreatedAt: at(t, "2025-03-04T11:00:00Z")},
		{State: "inactive", CreatedAt: at(t, "2025-03-05T10:00:00Z")},
	}}
	if got, ok := SucceededAt(d); !ok || !got.Equal(at(t, "2025-03-04T10:20:00Z")) {
		t.Errorf("SucceededAt = %s, %v; want the first success", got, ok)
	}
	if got, ok := FailedAt(d); !ok || !got.Equal(at(t, "2025-03-04T10:05:00Z")) {
		t.Errorf("FailedAt = %s, %v; want the first error", got, ok)
	}
	if _, ok := SucceededAt(Deployment{Statuses: []DeploymentStatus{{State: "in_progress"}}}); ok {
		t.Error("SucceededAt of a deployment still in progress: want not ok")
	}
	if _, ok := FailedAt(Deployment{}); ok {
		t.Error("FailedAt without statuses: want not ok")
	}
}

func TestDataWindow(t *testing.T) {
	t.Parallel()
	start, end := DataWindow(at(t, "2025-03-05T12:00:00Z"), at(t, "2025-03-19T12:00:00Z"), 0)
	if want := at(t, "2025-03-03T00:00:00Z").AddDate(0, 0, -DeploymentLookbackDays); !start.Equal(want) {
		t.Errorf("start = %s, want %s (182 days before the first Monday)", start, want)
	}
	if want := at(t, "2025-03-31T00:00:00Z"); !end.Equal(want) {
		t.Errorf("end = %s, want %s (the last week's end plus 7 days)", end, want)
	}
	if _, end := DataWindow(at(t, "2025-03-05T12:00:00Z"), at(t, "2025-03-19T12:00:00Z"), 48*time.Hour); !end.Equal(at(t, "2025-03-26T00:00:00Z")) {
		t.Errorf("end with a 2-day window = %s, want 2025-03-26", end)
	}
}
