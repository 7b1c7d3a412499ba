package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/secrets"
)

// buildStages builds the six stages with their adapters.
func buildStages(ctx context.Context, cfg config.Config, store *postgres.Store, secretSource secrets.Source, log *slog.Logger) ([]pipeline.Stage, error) {
	clients, err := githubClients(cfg, store, secretSource, log)
	if err != nil {
		return nil, err
	}
	_ = clients
	return nil, nil
}

// githubClients builds one GitHub client per enterprise, once per process, so each
// token's pacing and rate-limit state outlive a single stage call.
func githubClients(cfg config.Config, store *postgres.Store, secretSource secrets.Source, log *slog.Logger) (pipeline.GitHubClients, error) {
	apiTransport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	downloads := &http.Client{Transport: apiTransport.Clone(), Timeout: 5 * time.Minute}
	byID := map[string]*github.Client{}
	for _, e := range cfg.Enterprises {
		secretName := e.TokenSecret
		c, err := github.New(github.Options{
			EnterpriseID:   e.ID,
			BaseURL:        e.APIURL,
			Token:          func(ctx context.Context) (string, error) { return secretSource.Get(ctx, secretName) },
			HTTPClient:     &http.Client{Transport: apiTransport},
			DownloadClient: downloads,
			Cache:          store,
			TokenHealth:    store,
			Logger:         log.With("enterprise", e.ID),
		})
		if err != nil {
			return nil, fmt.Errorf("COLLECTOR_ENTERPRISES %s: %w", e.ID, err)
		}
		byID[e.ID] = c
	}
	return func(id string) (*github.Client, error) {
		c, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("no GitHub client for enterprise %q", id)
		}
		return c, nil
	}, nil
}
