package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Bootstrap (metrics-collector bootstrap-db) prepares a server for passwordless use, run
// once per deployment by a Microsoft Entra administrator of the server (never by the
// app). It leaves:
//
//   - Owner, a NOLOGIN role, owning the app's database (so, from PostgreSQL 15, its
//     public schema through pg_database_owner) and everything in it;
//   - Login, the role of the app's managed identity (created with Azure's
//     pgaadauth_create_principal_with_oid from its object id), a member of Owner and of
//     nothing else: no CREATEROLE, no CREATEDB, no azure_pg_admin;
//   - CONNECT and TEMPORARY on the database revoked from PUBLIC: other roles on the
//     server cannot even connect.
//
// The app connects as Login with options=-c role=<Owner> in DATABASE_URL, so the
// tables its migrations create belong to Owner, and a new identity (a re-created app)
// only needs the membership. Everything is idempotent: a second run changes nothing.

// BootstrapOptions say what to set up.
type BootstrapOptions struct {
	// AdminURL reaches the server's maintenance database (postgres) as a Microsoft
	// Entra administrator; AdminPassword supplies that administrator's token (nil: the
	// URL's password or none, for a local server).
	AdminURL      string
	AdminPassword func(ctx context.Context) (string, error)
	// Database is the app's database (the template creates it).
	Database string
	// Owner is the NOLOGIN owner role, created when missing.
	Owner string
	// Login is the PostgreSQL role of the app's managed identity (by convention the
	// Function App's name), created when missing for the identity ObjectID.
	Login    string
	ObjectID string
	// LegacyURL, when set, reaches Database as the role that owned the app's objects
	// before (the password administrator of a deployment made before passwordless
	// access), with LegacyPassword; its objects are handed to Owner. Without it, objects
	// of other owners in the database make Bootstrap fail with their names.
	LegacyURL      string
	LegacyPassword func(ctx context.Context) (string, error)
}

// BootstrapReport says what Bootstrap changed.
type BootstrapReport struct {
	CreatedOwner, CreatedLogin, GrantedLogin bool
	DatabaseOwnerWas                         string
	Reassigned                               []string // objects moved from the legacy owner
}

var (
	roleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$`)
	dbName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,62}$`)
	objectID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func (o BootstrapOptions) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"owner", o.Owner}, {"login", o.Login}} {
		if !roleName.MatchString(f.value) {
			errs = append(errs, fmt.Errorf("%s: %q is not a role name (letters, digits, _ . @ -, at most 63)", f.name, f.value))
		}
	}
	if o.Owner == o.Login && o.Owner != "" {
		errs = append(errs, errors.New("owner: must differ from login"))
	}
	if !dbName.MatchString(o.Database) {
		errs = append(errs, fmt.Errorf("database: %q is not a database name", o.Database))
	}
	if !objectID.MatchString(o.ObjectID) {
		errs = append(errs, fmt.Errorf("object-id: %q is not the managed identity's object id (a GUID: AZURE_FUNCTION_APP_PRINCIPAL_ID)", o.ObjectID))
	}
	if o.AdminURL == "" {
		errs = append(errs, errors.New("admin-url: not set"))
	}
	return errors.Join(errs...)
}

// Identifiers cannot be bind parameters in DDL: these statements quote names that
// validate() accepted with pgx.Identifier, and take every value as a parameter.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

const (
	sqlRoleExists      = `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`
	sqlIsMember        = `SELECT pg_has_role($1, $2, 'MEMBER')`
	sqlAmMember        = `SELECT pg_has_role($1, 'MEMBER')`
	sqlHasPgaadauth    = `SELECT to_regprocedure('pgaadauth_create_principal_with_oid(text,text,text,boolean,boolean)') IS NOT NULL`
	sqlCreatePrincipal = `SELECT pgaadauth_create_principal_with_oid($1, $2, 'service', false, false)`
	sqlDatabaseOwner   = `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`
	sqlPublicOwner     = `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'`
	// Objects in the app's schema owned by anyone but the owner role.
	sqlForeignObjects = `
SELECT pg_get_userbyid(c.relowner), c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> $1
ORDER BY 1, 2`
)

// Bootstrap sets up the roles and ownership described above.
func Bootstrap(ctx context.Context, o BootstrapOptions) (BootstrapReport, error) {
	var rep BootstrapReport
	if err := o.validate(); err != nil {
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	admin, err := connect(ctx, o.AdminURL, "", o.AdminPassword)
	if err != nil {
		return rep, fmt.Errorf("bootstrap-db: connect as the administrator: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))

	var ok bool
	if err := admin.QueryRow(ctx, sqlRoleExists, o.Owner).Scan(&ok); err != nil {
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	if !ok {
		if _, err := admin.Exec(ctx, "CREATE ROLE "+ident(o.Owner)+" NOLOGIN"); err != nil {
			return rep, fmt.Errorf("bootstrap-db: create owner role %s: %w", o.Owner, err)
		}
		rep.CreatedOwner = true
	}
	// The administrator joins the owner role: it may then hand the database to it.
	if err := admin.QueryRow(ctx, sqlAmMember, o.Owner).Scan(&ok); err != nil {
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	if !ok {
		if _, err := admin.Exec(ctx, "GRANT "+ident(o.Owner)+" TO CURRENT_USER"); err != nil {
			return rep, fmt.Errorf("bootstrap-db: grant %s to the administrator: %w", o.Owner, err)
		}
	}

	if err := admin.QueryRow(ctx, sqlRoleExists, o.Login).Scan(&ok); err != nil {
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	if !ok {
		var has bool
		if err := admin.QueryRow(ctx, sqlHasPgaadauth).Scan(&has); err != nil {
			return rep, fmt.Errorf("bootstrap-db: %w", err)
		}
		if !has {
			return rep, fmt.Errorf("bootstrap-db: role %s does not exist and pgaadauth_create_principal_with_oid is not available: connect to the postgres database of an Azure Database for PostgreSQL server with Microsoft Entra authentication enabled, as its Entra administrator", o.Login)
		}
		var msg string
		if err := admin.QueryRow(ctx, sqlCreatePrincipal, o.Login, o.ObjectID).Scan(&msg); err != nil {
			return rep, fmt.Errorf("bootstrap-db: create role %s for object id %s: %w", o.Login, o.ObjectID, err)
		}
		rep.CreatedLogin = true
	}
	if err := admin.QueryRow(ctx, sqlIsMember, o.Login, o.Owner).Scan(&ok); err != nil {
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	if !ok {
		if _, err := admin.Exec(ctx, "GRANT "+ident(o.Owner)+" TO "+ident(o.Login)); err != nil {
			return rep, fmt.Errorf("bootstrap-db: grant %s to %s: %w", o.Owner, o.Login, err)
		}
		rep.GrantedLogin = true
	}

	if err := admin.QueryRow(ctx, sqlDatabaseOwner, o.Database).Scan(&rep.DatabaseOwnerWas); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return rep, fmt.Errorf("bootstrap-db: database %s does not exist (the template creates it; check -database)", o.Database)
		}
		return rep, fmt.Errorf("bootstrap-db: %w", err)
	}
	if rep.DatabaseOwnerWas != o.Owner {
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident(o.Database)+" OWNER TO "+ident(o.Owner)); err != nil {
			return rep, fmt.Errorf("bootstrap-db: hand database %s (owned by %s) to %s: %w", o.Database, rep.DatabaseOwnerWas, o.Owner, err)
		}
	}
	if _, err := admin.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+ident(o.Database)+" FROM PUBLIC"); err != nil {
		return rep, fmt.Errorf("bootstrap-db: revoke connect on %s from public: %w", o.Database, err)
	}

	db, err := connect(ctx, o.AdminURL, o.Database, o.AdminPassword)
	if err != nil {
		return rep, fmt.Errorf("bootstrap-db: connect to %s as the administrator: %w", o.Database, err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	var schemaOwner string
	if err := db.QueryRow(ctx, sqlPublicOwner).Scan(&schemaOwner); err != nil {
		return rep, fmt.Errorf("bootstrap-db: schema public of %s: %w", o.Database, err)
	}
	if schemaOwner != "pg_database_owner" && schemaOwner != o.Owner {
		if _, err := db.Exec(ctx, "ALTER SCHEMA public OWNER TO "+ident(o.Owner)); err != nil {
			return rep, fmt.Errorf("bootstrap-db: hand schema public (owned by %s) to %s: %w", schemaOwner, o.Owner, err)
		}
	}

	if o.LegacyURL != "" {
		moved, err := reassignLegacy(ctx, admin, o)
		rep.Reassigned = moved
		if err != nil {
			return rep, err
		}
	}
	foreign, err := foreignObjects(ctx, db, o.Owner)
	if err != nil {
		return rep, err
	}
	if len(foreign) > 0 {
		return rep, fmt.Errorf("bootstrap-db: %d objects in %s belong to other roles (%s); hand them over with -legacy-url (docs/runbook.md, \"Moving an existing deployment to passwordless access\")",
			len(foreign), o.Database, strings.Join(foreign, ", "))
	}
	return rep, nil
}

// reassignLegacy hands every object of the legacy owner in the database to the owner
// role. REASSIGN OWNED needs the rights of both roles, which only the legacy owner can
// have: the administrator lets it into the owner role for the statement, then out.
func reassignLegacy(ctx context.Context, admin *pgx.Conn, o BootstrapOptions) ([]string, error) {
	cfg, err := pgx.ParseConfig(o.LegacyURL)
	if err != nil {
		return nil, errors.New("bootstrap-db: legacy-url cannot be parsed as a PostgreSQL URL")
	}
	if cfg.Database != o.Database {
		return nil, fmt.Errorf("bootstrap-db: legacy-url names database %q, want %q", cfg.Database, o.Database)
	}
	user := cfg.User
	if !roleName.MatchString(user) {
		return nil, fmt.Errorf("bootstrap-db: legacy-url: %q is not a role name", user)
	}
	// Let the legacy owner into the owner role first: it may then connect (PUBLIC
	// lost CONNECT above) and hand its objects over; it leaves again at the end.
	var wasMember bool
	if err := admin.QueryRow(ctx, sqlIsMember, user, o.Owner).Scan(&wasMember); err != nil {
		return nil, fmt.Errorf("bootstrap-db: %w", err)
	}
	if !wasMember {
		if _, err := admin.Exec(ctx, "GRANT "+ident(o.Owner)+" TO "+ident(user)); err != nil {
			return nil, fmt.Errorf("bootstrap-db: let %s into %s for the hand-over: %w", user, o.Owner, err)
		}
		defer func() {
			_, _ = admin.Exec(context.WithoutCancel(ctx), "REVOKE "+ident(o.Owner)+" FROM "+ident(user))
		}()
	}
	legacy, err := connect(ctx, o.LegacyURL, "", o.LegacyPassword)
	if err != nil {
		return nil, fmt.Errorf("bootstrap-db: connect as the legacy owner %s: %w", user, err)
	}
	defer legacy.Close(context.WithoutCancel(ctx))
	before, err := foreignObjects(ctx, legacy, o.Owner)
	if err != nil {
		return nil, err
	}
	if _, err := legacy.Exec(ctx, "REASSIGN OWNED BY CURRENT_USER TO "+ident(o.Owner)); err != nil {
		return nil, fmt.Errorf("bootstrap-db: hand the objects of %s to %s: %w", user, o.Owner, err)
	}
	var moved []string
	for _, f := range before {
		if rel, ok := strings.CutPrefix(f, user+":"); ok {
			moved = append(moved, rel)
		}
	}
	return moved, nil
}

// foreignObjects lists "owner:relation" for every relation of schema public not owned
// by the owner role.
func foreignObjects(ctx context.Context, conn *pgx.Conn, owner string) ([]string, error) {
	rows, err := conn.Query(ctx, sqlForeignObjects, owner)
	if err != nil {
		return nil, fmt.Errorf("bootstrap-db: list objects: %w", err)
	}
	var out []string
	var who, rel string
	_, err = pgx.ForEachRow(rows, []any{&who, &rel}, func() error {
		out = append(out, who+":"+rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrap-db: list objects: %w", err)
	}
	return out, nil
}

// connect opens one connection to rawURL (to database when not empty), with the
// password from password when it is set.
func connect(ctx context.Context, rawURL, database string, password func(context.Context) (string, error)) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, errors.New("cannot be parsed as a PostgreSQL URL")
	}
	if database != "" {
		cfg.Database = database
	}
	if password != nil {
		pw, err := password(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Password = pw
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(err)
	}
	return conn, nil
}
