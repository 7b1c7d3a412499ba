package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/user"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/pgcluster"
)

// database finds a PostgreSQL for the demo: DATABASE_URL when set, else the server on
// 127.0.0.1:5432, else a throw-away cluster made with initdb/pg_ctl under dir. It
// returns the URL of a fresh database and a function that releases what it started.
func database(ctx context.Context, getenv func(string) string, dir string, out io.Writer) (string, func(), error) {
	if u := getenv("DATABASE_URL"); u != "" {
		fmt.Fprintln(out, "database: DATABASE_URL")
		return u, func() {}, nil
	}
	for _, admin := range localCandidates(getenv) {
		if u, err := freshDatabase(ctx, admin); err == nil {
			fmt.Fprintf(out, "database: local PostgreSQL at %s (database %s, recreated)\n", redactURL(admin), demoDatabase)
			return u, func() {}, nil
		}
	}
	fmt.Fprintln(out, "database: no server on 127.0.0.1:5432; making a throw-away cluster with initdb")
	return throwAwayCluster(ctx, dir, out)
}

const demoDatabase = "metrics_collector_demo"

func localCandidates(getenv func(string) string) []string {
	names := []string{"postgres"}
	if u, err := user.Current(); err == nil && u.Username != "postgres" {
		names = append(names, u.Username)
	}
	if v := getenv("PGUSER"); v != "" {
		names = append([]string{v}, names...)
	}
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("postgres://%s@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3", url.PathEscape(n)))
	}
	return out
}

// freshDatabase drops and recreates the demo database so every demo starts clean.
func freshDatabase(ctx context.Context, admin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+demoDatabase+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+demoDatabase); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + demoDatabase
	q := u.Query()
	q.Del("connect_timeout")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// throwAwayCluster starts a cluster with initdb/pg_ctl under dir.
func throwAwayCluster(ctx context.Context, dir string, out io.Writer) (string, func(), error) {
	c, err := pgcluster.Start(ctx, dir)
	if err != nil {
		return "", nil, fmt.Errorf("%w; or start a server on 127.0.0.1:5432, or set DATABASE_URL", err)
	}
	fmt.Fprintf(out, "database: throw-away cluster in %s\n", c.DataDir())
	stop := func() { _ = c.Destroy() }
	u, err := freshDatabase(ctx, c.URL())
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("throw-away cluster: %w", err)
	}
	return u, stop, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "127.0.0.1:5432"
	}
	return u.User.Username() + "@" + u.Host
}
