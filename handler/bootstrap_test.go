package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/postgres/pgtest"
)

func TestBootstrapDBCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-admin-auth", "none"}, nil, "admin-url: not set"},
		{[]string{"-admin-auth", "none", "-admin-url", "postgres://a@127.0.0.1/postgres", "-object-id", "x"}, nil, "login:"},
		{[]string{"-admin-auth", "password", "-admin-url", "postgres://a@127.0.0.1/postgres"}, nil, "admin-auth: \"password\" must be entra or none"},
		{[]string{"-admin-auth", "none", "-legacy-url", "postgres://metricsadmin@127.0.0.1/metrics"}, nil, "LEGACY_DATABASE_PASSWORD: not set"},
		{[]string{"-no-such-flag"}, nil, "flag provided but not defined"},
		{[]string{"-admin-auth", "none", "extra"}, nil, "unexpected argument"},
	} {
		var out bytes.Buffer
		getenv := func(k string) string { return tc.env[k] }
		err := run(t.Context(), append([]string{"bootstrap-db"}, tc.args...), getenv, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestBootstrapDBCommand runs the subcommand against the local server (trust, as its
// superuser) with a stand-in for Azure's pgaadauth_create_principal_with_oid;
// internal/postgres tests the role setup itself under a non-superuser administrator.
func TestBootstrapDBCommand(t *testing.T) {
	maint, appDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	owner, login := "owner_"+hex.EncodeToString(b), "func-mc-"+hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, maint)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION pgaadauth_create_principal_with_oid(r text, o text, ty text, a boolean, m boolean)
		RETURNS text LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('CREATE ROLE %I LOGIN', r); RETURN 'ok'; END $$`); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(appDB)
	dbName := strings.TrimPrefix(u.Path, "/")
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, pgtest.ServerURL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{dbName}.Sanitize()+" OWNER TO CURRENT_USER")
		if a, err := pgx.Connect(ctx, appDB); err == nil {
			_, _ = a.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{owner}.Sanitize()+", "+pgx.Identifier{login}.Sanitize())
			a.Close(ctx)
		}
		for _, r := range []string{login, owner} {
			_, _ = c.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
		}
	})

	var out bytes.Buffer
	args := []string{"bootstrap-db", "-admin-auth", "none", "-admin-url", maint, "-database", dbName,
		"-owner", owner, "-login", login, "-object-id", "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"}
	if err := run(t.Context(), args, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("bootstrap-db: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"msg":"database bootstrapped"`) || !strings.Contains(out.String(), `"created_login":true`) {
		t.Errorf("output lacks the report:\n%s", out.String())
	}
	var dbOwner string
	if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, dbName).Scan(&dbOwner); err != nil || dbOwner != owner {
		t.Errorf("database owner %q (%v), want %s", dbOwner, err, owner)
	}
}
