package main

import (
	"context"
	"log/slog"

	"metrics-collector/internal/config"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/secrets"
)

// buildStages builds the six stages with their adapters.
func buildStages(ctx context.Context, cfg config.Config, store *postgres.Store, secretSource secrets.Source, log *slog.Logger) ([]pipeline.Stage, error) {
	return nil, nil
}
