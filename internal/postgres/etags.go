package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The GitHub client's state: its conditional-request cache (github_etags) and what it
// learned about its token (github_token_health). The method sets match the
// github.Cache and github.TokenHealthStore interfaces, which the handler wires
// together; this package does not import the client.

const sqlGetCachedPage = `
SELECT etag, link, body FROM github_etags WHERE enterprise_id = $1 AND url = $2`

// GetCachedPage returns the stored ETag, Link header and body of a list page; ok is
// false when there is none.
func (s *Store) GetCachedPage(ctx context.Context, enterpriseID, url string) (etag, link string, body []byte, ok bool, err error) {
	err = s.pool.QueryRow(ctx, sqlGetCachedPage, enterpriseID, url).Scan(&etag, &link, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil, false, nil
	}
	if err != nil {
		return "", "", nil, false, classify(fmt.Errorf("get cached github page: %w", err))
	}
	return etag, link, body, true, nil
}

// A page that did not change (same ETag, Link and body) is not rewritten.
const sqlPutCachedPage = `
INSERT INTO github_etags (enterprise_id, url, etag, link, body, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (enterprise_id, url) DO UPDATE
SET etag = EXCLUDED.etag, link = EXCLUDED.link, body = EXCLUDED.body, updated_at = now()
WHERE (github_etags.etag, github_etags.link, github_etags.body)
      IS DISTINCT FROM (EXCLUDED.etag, EXCLUDED.link, EXCLUDED.body)`

// PutCachedPage stores (or replaces) the ETag, Link header and body of a list page.
func (s *Store) PutCachedPage(ctx context.Context, enterpriseID, url, etag, link string, body []byte) error {
	if etag == "" {
		return errors.New("put cached github page: etag is empty")
	}
	if body == nil {
		body = []byte{} // the column is NOT NULL; an empty page is still a page
	}
	if _, err := s.pool.Exec(ctx, sqlPutCachedPage, enterpriseID, url, etag, link, body); err != nil {
		return classify(fmt.Errorf("put cached github page: %w", err))
	}
	return nil
}

// PruneCachedPages deletes cached pages of an enterprise not written for maxAge (by the
// database's clock, which wrote updated_at):
// URLs that carry a moving window (workflow-run windows, commit `since`) are replaced by
// new ones and would otherwise pile up. A stable URL whose page has not changed for that
// long costs one charged request to cache again.
func (s *Store) PruneCachedPages(ctx context.Context, enterpriseID string, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM github_etags WHERE enterprise_id = $1 AND updated_at < now() - make_interval(secs => $2)`,
		enterpriseID, maxAge.Seconds())
	if err != nil {
		return 0, classify(fmt.Errorf("prune cached github pages: %w", err))
	}
	return tag.RowsAffected(), nil
}

// expires_at is the expiry announced with the latest accepted answer: NULL when none
// was announced (a token that does not expire). last_ok_at only moves forward.
const sqlRecordTokenOK = `
INSERT INTO github_token_health (enterprise_id, expires_at, last_ok_at, updated_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (enterprise_id) DO UPDATE
SET expires_at = EXCLUDED.expires_at,
    last_ok_at = GREATEST(github_token_health.last_ok_at, EXCLUDED.last_ok_at),
    updated_at = now()
WHERE (github_token_health.expires_at, github_token_health.last_ok_at)
      IS DISTINCT FROM (EXCLUDED.expires_at, GREATEST(github_token_health.last_ok_at, EXCLUDED.last_ok_at))`

// RecordTokenOK records that GitHub accepted the enterprise's token at `at`, and the
// expiry it announced (nil: none).
func (s *Store) RecordTokenOK(ctx context.Context, enterpriseID string, at time.Time, expiresAt *time.Time) error {
	if _, err := s.pool.Exec(ctx, sqlRecordTokenOK, enterpriseID, expiresAt, at); err != nil {
		return classify(fmt.Errorf("record github token accepted: %w", err))
	}
	return nil
}

// A refusal says nothing about the expiry: that column is left as it was.
const sqlRecordTokenRefused = `
INSERT INTO github_token_health (enterprise_id, last_refused_at, updated_at)
VALUES ($1, $2, now())
ON CONFLICT (enterprise_id) DO UPDATE
SET last_refused_at = GREATEST(github_token_health.last_refused_at, EXCLUDED.last_refused_at),
    updated_at = now()
WHERE github_token_health.last_refused_at
      IS DISTINCT FROM GREATEST(github_token_health.last_refused_at, EXCLUDED.last_refused_at)`

// RecordTokenRefused records that GitHub refused the enterprise's token (401) at `at`.
func (s *Store) RecordTokenRefused(ctx context.Context, enterpriseID string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, sqlRecordTokenRefused, enterpriseID, at); err != nil {
		return classify(fmt.Errorf("record github token refused: %w", err))
	}
	return nil
}

// TokenHealth is a row of github_token_health; nil times were never recorded.
type TokenHealth struct {
	EnterpriseID string
	ExpiresAt    *time.Time
	LastOKAt     *time.Time
	LastRefused  *time.Time
	UpdatedAt    time.Time
}

const sqlGetTokenHealth = `
SELECT enterprise_id, expires_at, last_ok_at, last_refused_at, updated_at
FROM github_token_health WHERE enterprise_id = $1`

// GetTokenHealth returns what is recorded about an enterprise's token, or ErrNotFound.
func (s *Store) GetTokenHealth(ctx context.Context, enterpriseID string) (TokenHealth, error) {
	var h TokenHealth
	err := s.pool.QueryRow(ctx, sqlGetTokenHealth, enterpriseID).
		Scan(&h.EnterpriseID, &h.ExpiresAt, &h.LastOKAt, &h.LastRefused, &h.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return TokenHealth{}, fmt.Errorf("github token health of %s: %w", enterpriseID, ErrNotFound)
	}
	if err != nil {
		return TokenHealth{}, classify(fmt.Errorf("github token health of %s: %w", enterpriseID, err))
	}
	for _, t := range []*time.Time{h.ExpiresAt, h.LastOKAt, h.LastRefused} {
		if t != nil {
			*t = t.UTC()
		}
	}
	h.UpdatedAt = h.UpdatedAt.UTC()
	return h, nil
}
