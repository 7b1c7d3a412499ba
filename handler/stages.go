package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/secrets"
	"metrics-collector/internal/sharepoint"
)

// buildStages builds the seven stages with their adapters.
func buildStages(ctx context.Context, cfg config.Config, store *postgres.Store, secretSource secrets.Source, redactor *secrets.Redactor, events pipeline.Events, log *slog.Logger, h hooks) ([]pipeline.Stage, error) {
	clients, byID, err := githubClients(cfg, store, secretSource, redactor, log, h.githubClock)
	if err != nil {
		return nil, err
	}
	if err := checkApps(ctx, cfg, byID, log); err != nil {
		return nil, err
	}

	exportDir := resolvedExportDir(cfg)
	if err := os.MkdirAll(exportDir, 0o755); err != nil {
		log.Warn("EXPORT_DIR cannot be created; export_csv will fail until it can", "dir", exportDir, "error", err.Error())
	}
	var uploader pipeline.Uploader // nil interface when SharePoint is not configured
	if cfg.SharePoint.Enabled() {
		sp, err := sharePoint(cfg, secretSource, log)
		if err != nil {
			return nil, err
		}
		uploader = sp
	}
	calc := pipeline.CalculateOptions{
		Store: store, FailureWindow: cfg.FailureWindow, ThresholdsVersion: cfg.ThresholdsVersion,
		RecomputeWeeks: cfg.RecomputeWeeks, RetentionDays: cfg.RetentionDays, Now: h.now, Logger: log,
		Gate:     make(chan struct{}, 1), // one calculation in memory at a time per instance
		Insights: store, ImpactMinAuthors: cfg.ImpactMinAuthors, SeatPrices: cfg.SeatPrices,
	}
	return []pipeline.Stage{
		pipeline.NewCopilotStage(pipeline.CopilotOptions{Store: store, Clients: clients, Events: events, Now: h.now, Logger: log}),
		pipeline.NewReposStage(pipeline.ReposOptions{
			Store: store, Clients: clients, Events: events, Now: h.now, Logger: log, FailureWindow: cfg.FailureWindow,
		}),
		pipeline.NewCopilotMetricsStage(calc),
		pipeline.NewDORAStage(calc),
		pipeline.NewVelocityStage(calc),
		pipeline.NewExportStage(pipeline.ExportOptions{
			Store: store, Dir: exportDir, Enterprises: enterpriseIDs(cfg), RetentionDays: cfg.ExportRetentionDays,
			ArchiveDays: cfg.SharePointRetentionDays, NoUserLevel: !cfg.ExportUserLevel, ReportDocsURL: cfg.ReportDocsURL,
			Now: h.now, Logger: log,
		}),
		pipeline.NewUploadStage(pipeline.UploadOptions{
			Store: store, Uploader: uploader, Dir: exportDir, ArchiveDays: cfg.SharePointRetentionDays, Now: h.now, Logger: log,
		}),
	}, nil
}

func enterpriseIDs(cfg config.Config) []string {
	ids := make([]string, len(cfg.Enterprises))
	for i, e := range cfg.Enterprises {
		ids[i] = e.ID
	}
	return ids
}

// sharePoint builds the Graph uploader: managed identity by default, or client
// credentials whose secret is read (lazily, on the first token) from the secret store.
func sharePoint(cfg config.Config, secretSource secrets.Source, log *slog.Logger) (*sharepoint.Client, error) {
	var cred azcore.TokenCredential
	if cfg.Graph.ClientID != "" {
		cred = &lazyClientSecret{cfg: cfg.Graph, secrets: secretSource}
	} else {
		mi, err := sharepoint.NewManagedIdentityCredential("", nil)
		if err != nil {
			return nil, fmt.Errorf("SharePoint managed identity: %w", err)
		}
		cred = mi
	}
	return sharepoint.New(sharepoint.Options{
		Credential: cred, BaseURL: cfg.Graph.APIURL, DriveID: cfg.SharePoint.DriveID,
		Folder: cfg.SharePoint.Folder, Logger: log,
	})
}

// lazyClientSecret reads the Graph client secret when the first token is needed, so
// start-up never waits on Key Vault, and rebuilds the credential when the secret
// rotates.
type lazyClientSecret struct {
	cfg     config.Graph
	secrets secrets.Source

	mu     sync.Mutex
	secret string
	cred   azcore.TokenCredential
}

func (l *lazyClientSecret) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	secret, err := l.secrets.Get(ctx, l.cfg.ClientSecretSecret)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("GRAPH_CLIENT_SECRET_SECRET: %w", err)
	}
	l.mu.Lock()
	if l.cred == nil || secret != l.secret {
		cred, err := sharepoint.NewClientSecretCredential(l.cfg.TenantID, l.cfg.ClientID, secret, nil)
		if err != nil {
			l.mu.Unlock()
			return azcore.AccessToken{}, err
		}
		l.cred, l.secret = cred, secret
	}
	cred := l.cred
	l.mu.Unlock()
	return cred.GetToken(ctx, opts)
}

// githubClients builds one GitHub client per enterprise, once per process, so each
// credential's pacing and rate-limit state outlive a single stage call. An enterprise
// with "auth" gets its GitHub App (the key read from its secret, every JWT and token
// taught to the redactor) and its PAT only if token_secret is set.
func githubClients(cfg config.Config, store *postgres.Store, secretSource secrets.Source, redactor *secrets.Redactor, log *slog.Logger, clock github.Clock) (pipeline.GitHubClients, map[string]*github.Client, error) {
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
		var token func(ctx context.Context) (string, error)
		if secretName != "" {
			token = func(ctx context.Context) (string, error) { return secretSource.Get(ctx, secretName) }
		}
		var app *github.AppAuth
		if a := e.Auth; a != nil {
			keySecret := a.PrivateKeySecret
			app = &github.AppAuth{
				Issuer: a.Issuer(),
				PrivateKey: func(ctx context.Context) ([]byte, error) {
					v, err := secretSource.Get(ctx, keySecret)
					return []byte(v), err
				},
				KeySecret:     keySecret,
				Installations: a.Installations,
				OnSecret:      redactor.Add,
			}
		}
		c, err := github.New(github.Options{
			EnterpriseID:   e.ID,
			BaseURL:        e.APIURL,
			Token:          token,
			App:            app,
			TokenSecret:    secretName,
			DownloadHosts:  e.CopilotDownloadHosts,
			HTTPClient:     &http.Client{Transport: apiTransport},
			DownloadClient: downloads,
			Cache:          store,
			TokenHealth:    store,
			Clock:          clock,
			MaxRate:        e.MaxRequestsPerSecond,
			Logger:         log.With("enterprise", e.ID),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("COLLECTOR_ENTERPRISES %s: %w", e.ID, err)
		}
		byID[e.ID] = c
	}
	return func(id string) (*github.Client, error) {
		c, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("no GitHub client for enterprise %q", id)
		}
		return c, nil
	}, byID, nil
}

// appCheckTimeout bounds the start-up check of the GitHub Apps.
const appCheckTimeout = 30 * time.Second

// checkApps makes sure every configured GitHub App can work before the service takes
// calls: its key is in its secret and is a PEM RSA key, GitHub accepts its JWT, and it
// is installed (with the configured installation) on every organization. Those
// problems only an operator can fix stop the service with the setting and the fix;
// an outage of GitHub or Key Vault is logged and left to the stages, which retry.
func checkApps(ctx context.Context, cfg config.Config, clients map[string]*github.Client, log *slog.Logger) error {
	for i, e := range cfg.Enterprises {
		if e.Auth == nil {
			continue
		}
		checkCtx, cancel := context.WithTimeout(ctx, appCheckTimeout)
		err := clients[e.ID].CheckApp(checkCtx, e.Orgs)
		cancel()
		setting := fmt.Sprintf("COLLECTOR_ENTERPRISES[%d].auth", i)
		switch {
		case err == nil:
			log.Info("github app ready", "enterprise", e.ID, "orgs", len(e.Orgs))
		case errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrForbidden):
			return fmt.Errorf("%s.private_key_secret: the app's private key cannot be read (%w): store the app's .pem file in secret %q and give the app's identity Key Vault Secrets User",
				setting, err, e.Auth.PrivateKeySecret)
		case errors.Is(err, github.ErrTokenUnusable), errors.Is(err, github.ErrTokenRefused), errors.Is(err, github.ErrAppInstallation):
			return fmt.Errorf("%s (enterprise %s): %w", setting, e.ID, err)
		default:
			log.Warn("the github app could not be checked at start; the stages will retry", "enterprise", e.ID, "error", err.Error())
		}
	}
	return nil
}

// resolvedExportDir is EXPORT_DIR, or a folder in the temp dir when it is not set
// (running from a package the app folder is read-only; the temp dir is not).
func resolvedExportDir(cfg config.Config) string {
	if cfg.ExportDir != "" {
		return cfg.ExportDir
	}
	return filepath.Join(os.TempDir(), "metrics-collector-export")
}
