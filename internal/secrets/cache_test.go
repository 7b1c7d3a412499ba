package secrets

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeSource answers with get and counts calls per name.
type fakeSource struct {
	get func(ctx context.Context, name string, call int) (string, error)

	mu    sync.Mutex
	calls map[string]int
}

func (s *fakeSource) Get(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[string]int)
	}
	s.calls[name]++
	call := s.calls[name]
	s.mu.Unlock()
	return s.get(ctx, name, call)
}

func (s *fakeSource) Calls(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// rotating returns "<name>-version-<call>", like a secret rotated before every read.
func rotating(_ context.Context, name string, call int) (string, error) {
	return name + "-version-" + strconv.Itoa(call), nil
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	src := &fakeSource{get: rotating}
	cache := NewCache(src, 10*time.Minute, clock.Now, nil)

	steps := []struct {
		advance time.Duration
		secret  string
		want    string
	}{
		{0, "github-pat-ent1", "github-pat-ent1-version-1"},
		{10*time.Minute - time.Nanosecond, "github-pat-ent1", "github-pat-ent1-version-1"}, // still fresh
		{0, "github-pat-ent2", "github-pat-ent2-version-1"},                                // names are cached apart
		{time.Nanosecond, "github-pat-ent1", "github-pat-ent1-version-2"},                  // TTL reached: rotated value
		{5 * time.Minute, "github-pat-ent1", "github-pat-ent1-version-2"},
		{5 * time.Minute, "github-pat-ent1", "github-pat-ent1-version-3"},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		got, err := cache.Get(t.Context(), s.secret)
		if err != nil || got != s.want {
			t.Errorf("step %d: Get(%q) = %q, %v; want %q", i, s.secret, got, err, s.want)
		}
	}
	if got := src.Calls("github-pat-ent1"); got != 3 {
		t.Errorf("source called %d times for github-pat-ent1, want 3", got)
	}
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	src := &fakeSource{get: func(_ context.Context, name string, call int) (string, error) {
		if call == 1 {
			return "", ErrUnavailable
		}
		return "ghp_secondtry0123456789", nil
	}}
	cache := NewCache(src, time.Hour, clock.Now, nil)

	if _, err := cache.Get(t.Context(), "github-pat-ent1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first Get error = %v, want ErrUnavailable", err)
	}
	got, err := cache.Get(t.Context(), "github-pat-ent1")
	if err != nil || got != "ghp_secondtry0123456789" {
		t.Errorf("second Get = %q, %v; want the value from a new fetch", got, err)
	}
	if calls := src.Calls("github-pat-ent1"); calls != 2 {
		t.Errorf("source called %d times, want 2", calls)
	}
}

func TestCacheTeachesRedactor(t *testing.T) {
	t.Parallel()
	redactor := NewRedactor()
	src := &fakeSource{get: func(context.Context, string, int) (string, error) { return "ghp_learned0123456789", nil }}
	cache := NewCache(src, time.Hour, time.Now, redactor)

	if _, err := cache.Get(t.Context(), "github-pat-ent1"); err != nil {
		t.Fatal(err)
	}
	if got := redactor.Redact("token ghp_learned0123456789 used"); got != "token *** used" {
		t.Errorf("Redact = %q, want the cached value masked", got)
	}
}

func TestCacheSingleFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := &fakeSource{get: func(_ context.Context, name string, _ int) (string, error) {
			<-release
			return name + "-value", nil
		}}
		cache := NewCache(src, time.Hour, time.Now, nil)

		const callers = 20
		results := make([]string, callers)
		var wg sync.WaitGroup
		for i := range callers {
			name := "github-pat-ent1"
			if i%2 == 1 {
				name = "github-pat-ent2"
			}
			wg.Go(func() {
				v, err := cache.Get(t.Context(), name)
				if err != nil {
					t.Errorf("Get(%q): %v", name, err)
				}
				results[i] = v
			})
		}
		synctest.Wait() // every caller is now waiting on a fetch
		if a, b := src.Calls("github-pat-ent1"), src.Calls("github-pat-ent2"); a != 1 || b != 1 {
			t.Errorf("fetches while %d callers wait: %d and %d, want 1 per name", callers, a, b)
		}
		close(release)
		wg.Wait()
		for i, v := range results {
			want := "github-pat-ent1-value"
			if i%2 == 1 {
				want = "github-pat-ent2-value"
			}
			if v != want {
				t.Errorf("caller %d got %q, want %q", i, v, want)
			}
		}
	})
}

func TestCacheCallerGivesUpFetchContinues(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := &fakeSource{get: func(ctx context.Context, _ string, _ int) (string, error) {
			select {
			case <-release:
				return "ghp_slowvalue0123456789", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}}
		cache := NewCache(src, time.Hour, time.Now, nil)

		impatient, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := cache.Get(impatient, "github-pat-ent1")
			errc <- err
		}()
		synctest.Wait()
		cancel() // the caller that started the fetch leaves
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Get error = %v, want context.Canceled", err)
		}

		got := make(chan string, 1)
		go func() {
			v, _ := cache.Get(t.Context(), "github-pat-ent1")
			got <- v
		}()
		synctest.Wait()
		close(release)
		if v := <-got; v != "ghp_slowvalue0123456789" {
			t.Errorf("patient Get = %q, want the value of the fetch the first caller started", v)
		}
		if calls := src.Calls("github-pat-ent1"); calls != 1 {
			t.Errorf("source called %d times, want 1", calls)
		}
	})
}

func TestCacheFetchTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{get: func(ctx context.Context, _ string, _ int) (string, error) {
			<-ctx.Done() // a vault that never answers
			return "", ctx.Err()
		}}
		cache := NewCache(src, time.Hour, time.Now, nil)
		_, err := cache.Get(context.Background(), "github-pat-ent1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get error = %v, want the fetch deadline", err)
		}
	})
}
