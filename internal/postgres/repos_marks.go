package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SaveRepoMark writes one stream watermark of a repository and nothing else: a stream
// that found nothing changed (collect_repos' GraphQL probes, decision 0006) records that
// it is done without rewriting rows. Only the repo.* streams are accepted.
func (s *Store) SaveRepoMark(ctx context.Context, enterpriseID string, repoID int64, stream string, m Mark) error {
	if !strings.HasPrefix(stream, "repo.") || stream == StreamRepoPass {
		return fmt.Errorf("save repository mark: stream: %q is not a repository stream", stream)
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		return putMark(ctx, tx, enterpriseID, stream, repoScope(repoID), m)
	})
	if err != nil {
		return fmt.Errorf("save %s watermark of repository %d: %w", stream, repoID, err)
	}
	return nil
}
