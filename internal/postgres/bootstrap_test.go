package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// azureLike sets the local server up the way Azure Database for PostgreSQL is: a NOLOGIN
// azure_pg_admin stand-in owning the app's database (as databases the template creates
// are), a non-superuser administrator with CREATEROLE and CREATEDB in it, the old
// password administrator in it too, and pgaadauth_create_principal_with_oid in the
// maintenance database (a stand-in creating a plain login role, as only Azure can map
// it to an Entra object). Every role is dropped when the test ends.
type azureLike struct {
	maintURL, appURL                string
	appDB                           string
	azureAdmins, admin, legacy      string
	owner, login, objectID, outside string
}

func newAzureLike(t *testing.T) *azureLike {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	a := &azureLike{
		maintURL: pgtest.NewDatabase(t), appURL: pgtest.NewDatabase(t),
		azureAdmins: "azpg_" + sfx, admin: "entra_admin_" + sfx, legacy: "metricsadmin_" + sfx,
		owner: "metrics_owner_" + sfx, login: "func-mc-" + sfx, outside: "outsider_" + sfx,
		objectID: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
	}
	u, _ := url.Parse(a.appURL)
	a.appDB = strings.TrimPrefix(u.Path, "/")
	ctx := context.Background()
	super := superConn(t, pgtest.ServerURL())
	defer super.Close(ctx)
	q := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	for _, stmt := range []string{
		"CREATE ROLE " + q(a.azureAdmins) + " NOLOGIN",
		"CREATE ROLE " + q(a.admin) + " LOGIN CREATEROLE CREATEDB IN ROLE " + q(a.azureAdmins),
		"CREATE ROLE " + q(a.legacy) + " LOGIN IN ROLE " + q(a.azureAdmins),
		"CREATE ROLE " + q(a.outside) + " LOGIN",
		"ALTER DATABASE " + q(a.appDB) + " OWNER TO " + q(a.azureAdmins),
	} {
		mustExecConn(t, super, stmt)
	}
	maint := superConn(t, a.maintURL)
	defer maint.Close(ctx)
	mustExecConn(t, maint, `
CREATE FUNCTION pgaadauth_create_principal_with_oid(rolename text, objectid text, objecttype text, isadmin boolean, ismfa boolean)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF objecttype <> 'service' OR isadmin OR ismfa OR objectid !~ '^[0-9a-f-]{36}$' THEN
    RAISE EXCEPTION 'unexpected arguments';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN', rolename);
  RETURN 'Created role for ' || rolename;
END $$`)
	mustExecConn(t, maint, "REVOKE EXECUTE ON FUNCTION pgaadauth_create_principal_with_oid(text, text, text, boolean, boolean) FROM PUBLIC")
	mustExecConn(t, maint, "GRANT EXECUTE ON FUNCTION pgaadauth_create_principal_with_oid(text, text, text, boolean, boolean) TO "+q(a.azureAdmins))

	t.Cleanup(func() {
		roles := []string{a.login, a.owner, a.legacy, a.admin, a.outside, a.azureAdmins}
		var quoted []string
		for _, r := range roles {
			quoted = append(quoted, q(r))
		}
		list := strings.Join(quoted, ", ")
		for _, dbURL := range []string{a.appURL, a.maintURL} {
			if c, err := pgx.Connect(ctx, dbURL); err == nil {
				_, _ = c.Exec(ctx, "REASSIGN OWNED BY "+list+" TO CURRENT_USER")
				_, _ = c.Exec(ctx, "DROP OWNED BY "+list)
				c.Close(ctx)
			}
		}
		super := superConn(t, pgtest.ServerURL())
		defer super.Close(ctx)
		for _, r := range roles {
			if _, err := super.Exec(ctx, "DROP ROLE IF EXISTS "+q(r)); err != nil {
				t.Logf("drop role %s: %v", r, err)
			}
		}
	})
	return a
}

func superConn(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustExecConn(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// as returns dbURL for another user (the test server trusts local logins).
func as(dbURL, user string, params ...string) string {
	u, _ := url.Parse(dbURL)
	u.User = url.User(user)
	for i := 0; i+1 < len(params); i += 2 {
		// A space must reach pgx as %20 (it reads '+' literally) and '=' as %3D.
		u.RawQuery += "&" + params[i] + "=" + strings.ReplaceAll(url.PathEscape(params[i+1]), "=", "%3D")
	}
	return u.String()
}

func (a *azureLike) options(legacy bool) postgres.BootstrapOptions {
	o := postgres.BootstrapOptions{
		AdminURL: as(a.maintURL, a.admin), Database: a.appDB,
		Owner: a.owner, Login: a.login, ObjectID: a.objectID,
	}
	if legacy {
		o.LegacyURL = as(a.appURL, a.legacy)
	}
	return o
}

// appURL is DATABASE_URL as the template writes it: the identity's role, acting as the
// owner role.
func (a *azureLike) appDatabaseURL() string {
	return as(a.appURL, a.login, "options", "-c role="+a.owner)
}

func TestBootstrapMovesAnExistingDeploymentToTheOwnerRole(t *testing.T) {
	a := newAzureLike(t)
	ctx := t.Context()
	// The deployment before passwordless access: the password administrator applied
	// the migrations, so it owns every table.
	old, err := postgres.New(as(a.appURL, a.legacy), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Ready(ctx); err != nil {
		t.Fatalf("migrate as the legacy administrator: %v", err)
	}
	if _, _, err := old.TimerRun(ctx, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	old.Close()

	// Without the legacy owner's connection the bootstrap stops, naming what is in the way.
	_, err = postgres.Bootstrap(ctx, a.options(false))
	if err == nil || !strings.Contains(err.Error(), a.legacy+":collection_runs") || !strings.Contains(err.Error(), "-legacy-url") {
		t.Fatalf("bootstrap with foreign objects: %v, want an error naming them and -legacy-url", err)
	}

	rep, err := postgres.Bootstrap(ctx, a.options(true))
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if rep.CreatedOwner || rep.CreatedLogin || len(rep.Reassigned) < 10 {
		// The first, failed run got as far as the roles and the database owner.
		t.Errorf("report %+v: want the legacy tables reassigned, the roles left as the first run made them", rep)
	}

	super := superConn(t, a.appURL)
	defer super.Close(ctx)
	var n int
	if err := super.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = 'public' AND pg_get_userbyid(c.relowner) <> $1`, a.owner).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d relations not owned by %s (%v)", n, a.owner, err)
	}
	var dbOwner string
	var loginMember, legacyMember, ownerCanLogin, loginPowers bool
	if err := super.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, a.appDB).Scan(&dbOwner); err != nil || dbOwner != a.owner {
		t.Errorf("database owner %q (%v), want %s", dbOwner, err, a.owner)
	}
	if err := super.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER'), pg_has_role($3, $2, 'MEMBER'),
		(SELECT rolcanlogin FROM pg_roles WHERE rolname = $2),
		(SELECT rolcreaterole OR rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = $1)`,
		a.login, a.owner, a.legacy).Scan(&loginMember, &legacyMember, &ownerCanLogin, &loginPowers); err != nil {
		t.Fatal(err)
	}
	if !loginMember || legacyMember || ownerCanLogin || loginPowers {
		t.Errorf("login member of owner %v (want true), legacy still member %v, owner can log in %v, login has server powers %v",
			loginMember, legacyMember, ownerCanLogin, loginPowers)
	}
	var azureAdmin bool
	if err := super.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, a.login, a.azureAdmins).Scan(&azureAdmin); err != nil || azureAdmin {
		t.Errorf("login is in the administrators' role: %v %v", azureAdmin, err)
	}

	// The app, as its identity acting as the owner: the data is there, new objects
	// belong to the owner.
	app, err := postgres.New(a.appDatabaseURL(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Ready(ctx); err != nil {
		t.Fatalf("app as %s: %v", a.login, err)
	}
	runs, err := app.ListRuns(ctx, 10)
	if err != nil || len(runs) != 1 {
		t.Errorf("runs %v, %v: want the legacy run readable", runs, err)
	}
	if _, err := app.Pool().Exec(ctx, `CREATE TABLE probe (id int)`); err != nil {
		t.Fatalf("create a table as the app: %v", err)
	}
	var probeOwner string
	if err := super.QueryRow(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'probe'`).Scan(&probeOwner); err != nil || probeOwner != a.owner {
		t.Errorf("a table the app creates belongs to %q (%v), want %s", probeOwner, err, a.owner)
	}

	// Nobody else on the server may connect to the app's database.
	if c, err := pgx.Connect(ctx, as(a.appURL, a.outside)); err == nil {
		c.Close(ctx)
		t.Error("a role outside the app connected to its database")
	} else if !strings.Contains(err.Error(), "permission denied for database") {
		t.Errorf("outsider: %v, want permission denied", err)
	}

	// A second run changes nothing.
	again, err := postgres.Bootstrap(ctx, a.options(false))
	if err != nil {
		t.Fatalf("second bootstrap: %v", err)
	}
	if again.CreatedOwner || again.CreatedLogin || again.GrantedLogin || again.DatabaseOwnerWas != a.owner || len(again.Reassigned) != 0 {
		t.Errorf("second run %+v: want nothing changed", again)
	}
}

func TestBootstrapNewDeployment(t *testing.T) {
	a := newAzureLike(t)
	ctx := t.Context()
	rep, err := postgres.Bootstrap(ctx, a.options(false))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CreatedOwner || !rep.CreatedLogin || !rep.GrantedLogin || rep.DatabaseOwnerWas != a.azureAdmins {
		t.Errorf("report %+v", rep)
	}
	app, err := postgres.New(a.appDatabaseURL(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Ready(ctx); err != nil {
		t.Fatalf("migrate as the app's identity on a fresh database: %v", err)
	}
}

func TestBootstrapRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	good := postgres.BootstrapOptions{AdminURL: pgtest.ServerURL(), Database: "metrics", Owner: "metrics_owner",
		Login: "func-mc-abc", ObjectID: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"}
	for _, tc := range []struct {
		change func(*postgres.BootstrapOptions)
		want   string
	}{
		{func(o *postgres.BootstrapOptions) { o.Owner = `x"; DROP ROLE postgres; --` }, "owner:"},
		{func(o *postgres.BootstrapOptions) { o.Login = "" }, "login:"},
		{func(o *postgres.BootstrapOptions) { o.Login = o.Owner }, "owner: must differ from login"},
		{func(o *postgres.BootstrapOptions) { o.Database = "a b" }, "database:"},
		{func(o *postgres.BootstrapOptions) { o.ObjectID = "func-mc-abc" }, "object-id:"},
		{func(o *postgres.BootstrapOptions) { o.AdminURL = "" }, "admin-url: not set"},
	} {
		o := good
		tc.change(&o)
		if _, err := postgres.Bootstrap(ctx, o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	// A plain PostgreSQL (no pgaadauth) cannot map the identity: a clear error.
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	o := good
	o.AdminURL, o.Owner, o.Login = pgtest.NewDatabase(t), "owner_"+hex.EncodeToString(b), "func-mc-"+hex.EncodeToString(b)
	t.Cleanup(func() {
		super := superConn(t, pgtest.ServerURL())
		defer super.Close(context.Background())
		_, _ = super.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{o.Owner}.Sanitize())
	})
	if _, err := postgres.Bootstrap(ctx, o); err == nil || !strings.Contains(err.Error(), "pgaadauth_create_principal_with_oid is not available") {
		t.Errorf("without pgaadauth: %v", err)
	}
}
