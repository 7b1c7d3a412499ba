package github

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// healthRecorder is a TokenHealthStore that remembers what it was told.
type healthRecorder struct {
	mu       sync.Mutex
	ok       int
	refused  int
	expiries []*time.Time
}

func (h *healthRecorder) RecordTokenOK(_ context.Context, _ string, _ time.Time, expiresAt *time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ok++
	h.expiries = append(h.expiries, expiresAt)
	return nil
}

func (h *healthRecorder) RecordTokenRefused(context.Context, string, time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused++
	return nil
}

func TestParseTokenExpiration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-01 10:00:00 UTC", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), true},
		{"2026-12-01 10:00:00 -0700", time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"next tuesday", time.Time{}, false},
	} {
		got, ok := parseTokenExpiration(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseTokenExpiration(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTokenExpiryIsRecordedAndReported(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	expiry := "2026-09-25 10:00:00 UTC" // ten days after the fake clock's start
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Github-Authentication-Token-Expiration", expiry)
		serveJSON(t, w, "pull.json")
	})
	store := &healthRecorder{}
	c := newTestClient(t, f, func(o *Options) { o.TokenHealth = store })

	if _, ok := c.TokenExpiresWithin(clock.Now(), 14*24*time.Hour); ok {
		t.Error("expiry reported before any request")
	}
	for range 3 {
		if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
			t.Fatal(err)
		}
	}
	want := time.Date(2026, 9, 25, 10, 0, 0, 0, time.UTC)
	got, ok := c.TokenExpiresWithin(clock.Now(), 14*24*time.Hour)
	if !ok || !got.Equal(want) {
		t.Errorf("TokenExpiresWithin(14 days) = %v, %v; want %v, true", got, ok, want)
	}
	if _, ok := c.TokenExpiresWithin(clock.Now(), 7*24*time.Hour); ok {
		t.Error("TokenExpiresWithin(7 days) = true for an expiry ten days away")
	}
	health := c.TokenHealth()
	if !health.LastOK.Equal(clock.Now()) || !health.LastRefused.IsZero() {
		t.Errorf("health = %+v", health)
	}
	// Three accepted requests in the same minute with the same expiry: one write.
	if store.ok != 1 || store.expiries[0] == nil || !store.expiries[0].Equal(want) {
		t.Errorf("store heard %d acceptances (%v), want 1 with the expiry", store.ok, store.expiries)
	}
	if err := clock.Sleep(t.Context(), tokenHealthWriteEvery); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if store.ok != 2 {
		t.Errorf("store heard %d acceptances after %v, want 2", store.ok, tokenHealthWriteEvery)
	}
}
