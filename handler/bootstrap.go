package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"metrics-collector/internal/logging"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/secrets"
)

// bootstrapDB is `metrics-collector bootstrap-db`: run once per deployment by a
// Microsoft Entra administrator of the server (scripts/bootstrap-db.sh, the azd
// postprovision hook), never by the service. It creates the owner role and the role of
// the app's managed identity and hands the database to them (postgres.Bootstrap).
func bootstrapDB(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bootstrap-db", flag.ContinueOnError)
	fs.SetOutput(stdout)
	adminURL := fs.String("admin-url", "", "the server's postgres database as the Entra administrator, e.g. postgres://admins@psql-mc-abc.postgres.database.azure.com:5432/postgres?sslmode=verify-full")
	adminAuth := fs.String("admin-auth", "entra", "entra: your Azure sign-in's token (az login, azd auth login); none: the URL alone (a local server)")
	database := fs.String("database", "metrics", "the app's database")
	owner := fs.String("owner", "metrics_owner", "the NOLOGIN role that owns the database")
	login := fs.String("login", "", "the role of the app's managed identity: the Function App's name (AZURE_FUNCTION_APP_NAME)")
	objectID := fs.String("object-id", "", "the managed identity's object id (AZURE_FUNCTION_APP_PRINCIPAL_ID)")
	legacyURL := fs.String("legacy-url", "", "only when moving an existing deployment: the app's database as the old password administrator; its password comes from LEGACY_DATABASE_PASSWORD")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bootstrap-db: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bootstrap-db: unexpected argument %q", fs.Arg(0))
	}
	opts := postgres.BootstrapOptions{
		AdminURL: *adminURL, Database: *database, Owner: *owner, Login: *login, ObjectID: *objectID, LegacyURL: *legacyURL,
	}
	switch *adminAuth {
	case "entra":
		tokens, err := secrets.NewOperatorDatabaseToken()
		if err != nil {
			return fmt.Errorf("bootstrap-db: admin-auth entra: %w", err)
		}
		opts.AdminPassword = tokens.Password
	case "none":
	default:
		return fmt.Errorf("bootstrap-db: admin-auth: %q must be entra or none", *adminAuth)
	}
	if *legacyURL != "" {
		pw := strings.TrimSpace(getenv("LEGACY_DATABASE_PASSWORD"))
		if pw == "" {
			return errors.New("bootstrap-db: LEGACY_DATABASE_PASSWORD: not set; -legacy-url needs the old administrator's password (Key Vault secret database-password), in the environment, never on the command line")
		}
		opts.LegacyPassword = func(context.Context) (string, error) { return pw, nil }
	}

	redactor := secrets.NewRedactor()
	redactor.Add(getenv("LEGACY_DATABASE_PASSWORD"))
	log := slog.New(logging.NewHandler(stdout, slog.LevelInfo, redactor.Handler))
	rep, err := postgres.Bootstrap(ctx, opts)
	if err != nil {
		return err
	}
	log.Info("database bootstrapped", "database", *database, "owner", *owner, "login", *login,
		"created_owner", rep.CreatedOwner, "created_login", rep.CreatedLogin, "granted_login", rep.GrantedLogin,
		"database_owner_was", rep.DatabaseOwnerWas, "reassigned", len(rep.Reassigned))
	return nil
}
