package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/github"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// The store is the GitHub client's cache and token-health record.
var (
	_ github.Cache            = (*postgres.Store)(nil)
	_ github.TokenHealthStore = (*postgres.Store)(nil)
)

func rowVersion(t *testing.T, s *postgres.Store, query string, args ...any) string {
	t.Helper()
	var xmin string
	if err := s.Pool().QueryRow(t.Context(), query, args...).Scan(&xmin); err != nil {
		t.Fatal(err)
	}
	return xmin
}

func TestCachedPages(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	const url = "https://api.github.com/orgs/acme/repos?per_page=100"

	if _, _, _, ok, err := s.GetCachedPage(ctx, "ent1", url); err != nil || ok {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	body := []byte{0x1f, 0x8b, 0, 1, 2, 3} // opaque (the client stores gzip)
	link := `<https://api.github.com/orgs/acme/repos?per_page=100&page=2>; rel="next"`
	if err := s.PutCachedPage(ctx, "ent1", url, `W/"abc"`, link, body); err != nil {
		t.Fatal(err)
	}
	etag, gotLink, gotBody, ok, err := s.GetCachedPage(ctx, "ent1", url)
	if err != nil || !ok || etag != `W/"abc"` || gotLink != link || !bytes.Equal(gotBody, body) {
		t.Fatalf("GetCachedPage = %q %q %v %v %v", etag, gotLink, gotBody, ok, err)
	}
	// ETags are bound to the token: another enterprise does not see the entry.
	if _, _, _, ok, _ := s.GetCachedPage(ctx, "ent2", url); ok {
		t.Error("ent2 sees ent1's cached page")
	}

	const version = `SELECT xmin::text FROM github_etags WHERE enterprise_id = $1 AND url = $2`
	before := rowVersion(t, s, version, "ent1", url)
	if err := s.PutCachedPage(ctx, "ent1", url, `W/"abc"`, link, body); err != nil {
		t.Fatal(err)
	}
	if after := rowVersion(t, s, version, "ent1", url); after != before {
		t.Error("storing the same page again rewrote the row")
	}
	if err := s.PutCachedPage(ctx, "ent1", url, `W/"def"`, "", []byte{9}); err != nil {
		t.Fatal(err)
	}
	etag, gotLink, gotBody, _, _ = s.GetCachedPage(ctx, "ent1", url)
	if etag != `W/"def"` || gotLink != "" || !bytes.Equal(gotBody, []byte{9}) {
		t.Errorf("after a change: %q %q %v", etag, gotLink, gotBody)
	}
	if err := s.PutCachedPage(ctx, "ent1", url, "", "", body); err == nil {
		t.Error("an empty ETag was accepted")
	}
}

func TestPruneCachedPages(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	for _, u := range []string{"old-a", "old-b", "fresh"} {
		if err := s.PutCachedPage(ctx, "ent1", u, `"e"`, "", []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutCachedPage(ctx, "ent2", "old-a", `"e"`, "", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE github_etags SET updated_at = now() - interval '40 days' WHERE url LIKE 'old-%'`); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneCachedPages(ctx, "ent1", 35*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want ent1's two old pages", n, err)
	}
	if _, _, _, ok, _ := s.GetCachedPage(ctx, "ent1", "fresh"); !ok {
		t.Error("a fresh page was pruned")
	}
	if _, _, _, ok, _ := s.GetCachedPage(ctx, "ent2", "old-a"); !ok {
		t.Error("another enterprise's page was pruned")
	}
}

func TestTokenHealth(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	if _, err := s.GetTokenHealth(ctx, "ent1"); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("unknown enterprise: err = %v, want ErrNotFound", err)
	}
	t0 := time.Date(2026, 9, 15, 6, 0, 0, 0, time.UTC)
	expiry := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.RecordTokenOK(ctx, "ent1", t0, &expiry); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTokenRefused(ctx, "ent1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A late, older acceptance does not move last_ok_at back.
	if err := s.RecordTokenOK(ctx, "ent1", t0.Add(-time.Hour), &expiry); err != nil {
		t.Fatal(err)
	}
	h, err := s.GetTokenHealth(ctx, "ent1")
	if err != nil {
		t.Fatal(err)
	}
	refused := t0.Add(time.Hour)
	want := postgres.TokenHealth{EnterpriseID: "ent1", ExpiresAt: &expiry, LastOKAt: &t0, LastRefused: &refused}
	if diff := cmp.Diff(want, h, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "UpdatedAt" }, cmp.Ignore())); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}

	const version = `SELECT xmin::text FROM github_token_health WHERE enterprise_id = $1`
	before := rowVersion(t, s, version, "ent1")
	if err := s.RecordTokenOK(ctx, "ent1", t0, &expiry); err != nil {
		t.Fatal(err)
	}
	if rowVersion(t, s, version, "ent1") != before {
		t.Error("recording the same acceptance rewrote the row")
	}
	// A rotated token that does not expire clears the expiry.
	if err := s.RecordTokenOK(ctx, "ent1", t0.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	h, _ = s.GetTokenHealth(ctx, "ent1")
	if h.ExpiresAt != nil || !h.LastOKAt.Equal(t0.Add(2*time.Hour)) || !h.LastRefused.Equal(refused) {
		t.Errorf("after rotation: %+v", h)
	}
}

// The client's conditional requests against the real store: the second pass is
// answered 304 and replayed from Postgres, and token health lands in its table.
func TestGitHubClientReplays304FromPostgres(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v3/orgs/acme/repos" {
			http.NotFound(w, r)
			return
		}
		page := r.URL.Query().Get("page")
		etag := fmt.Sprintf(`"page-%s"`, page)
		w.Header().Set("Github-Authentication-Token-Expiration", "2026-12-01 10:00:00 UTC")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		if page == "2" {
			fmt.Fprint(w, `[{"id":3,"name":"ops","full_name":"acme/ops","owner":{"login":"acme"},"pushed_at":"2026-01-01T00:00:00Z"}]`)
			return
		}
		w.Header().Set("Link", `<`+srv.URL+`/api/v3/orgs/acme/repos?per_page=100&page=2>; rel="next"`)
		fmt.Fprint(w, `[{"id":1,"name":"api","full_name":"acme/api","owner":{"login":"acme"},"pushed_at":"2026-09-01T00:00:00Z"},`+
			`{"id":2,"name":"web","full_name":"acme/web","owner":{"login":"acme"},"pushed_at":"2026-08-01T00:00:00Z"}]`)
	}))
	t.Cleanup(srv.Close)

	client, err := github.New(github.Options{
		EnterpriseID: "ent1",
		BaseURL:      srv.URL + "/api/v3/",
		Token:        func(context.Context) (string, error) { return "test-token", nil },
		HTTPClient:   srv.Client(),
		Cache:        s,
		TokenHealth:  s,
	})
	if err != nil {
		t.Fatal(err)
	}
	list := func(c *github.Counters) []string {
		var names []string
		for repo, err := range client.ListOrgRepos(github.WithCounters(t.Context(), c), "acme") {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, repo.FullName)
		}
		return names
	}
	var first, second github.Counters
	want := list(&first)
	got := list(&second)
	if diff := cmp.Diff([]string{"acme/api", "acme/web", "acme/ops"}, want); diff != "" {
		t.Errorf("first pass (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second pass differs (-first +second):\n%s", diff)
	}
	if c := second.Snapshot(); c.Requests != 2 || c.NotModified != 2 {
		t.Errorf("second pass counters = %+v, want 2 requests answered 304", c)
	}
	var rows int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM github_etags WHERE enterprise_id = 'ent1'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("github_etags holds %d rows, want 2", rows)
	}
	h, err := s.GetTokenHealth(t.Context(), "ent1")
	if err != nil {
		t.Fatal(err)
	}
	if h.ExpiresAt == nil || !h.ExpiresAt.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) || h.LastOKAt == nil {
		t.Errorf("token health = %+v", h)
	}
}
