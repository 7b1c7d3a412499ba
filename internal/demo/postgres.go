package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
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

// throwAwayCluster runs initdb and pg_ctl. PostgreSQL refuses to run as root, so as
// root the cluster is made and run by the postgres system user.
func throwAwayCluster(ctx context.Context, dir string, out io.Writer) (string, func(), error) {
	initdb, err := findPGBinary("initdb")
	if err != nil {
		return "", nil, err
	}
	pgctl, err := findPGBinary("pg_ctl")
	if err != nil {
		return "", nil, err
	}
	dataDir, err := filepath.Abs(filepath.Join(dir, "pgdata"))
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	asUser := func(name string, args ...string) *exec.Cmd { return exec.CommandContext(ctx, name, args...) }
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return "", nil, errors.New("running as root and there is no postgres user to run a throw-away cluster; set DATABASE_URL")
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return "", nil, errors.New("running as root without runuser; set DATABASE_URL")
		}
		asUser = func(name string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return "", nil, err
		}
		if out, err := exec.CommandContext(ctx, "chown", "-R", "postgres", filepath.Dir(dataDir)).CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		cmd := asUser(initdb, "-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("initdb: %v: %s", err, b)
		}
	}
	logFile := filepath.Join(filepath.Dir(dataDir), "postgres.log")
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", port, filepath.Dir(dataDir))
	if b, err := asUser(pgctl, "-D", dataDir, "-o", opts, "-l", logFile, "-w", "start").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("pg_ctl start: %v: %s", err, b)
	}
	fmt.Fprintf(out, "database: throw-away cluster in %s on port %d\n", dataDir, port)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := asUser(pgctl, "-D", dataDir, "-m", "fast", "-w", "stop")
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		_ = cmd.Run()
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
	u, err := freshDatabase(ctx, admin)
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("throw-away cluster: %w", err)
	}
	return u, stop, nil
}

// findPGBinary looks on PATH, then in Debian's versioned directories.
func findPGBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL, start a server on 127.0.0.1:5432, or set DATABASE_URL", name)
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
