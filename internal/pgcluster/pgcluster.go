// Package pgcluster makes a throw-away PostgreSQL cluster with the machine's initdb and
// pg_ctl: `make demo` uses it when no server is reachable, and the end-to-end tests use
// it to restart a database under a running job without disturbing other tests.
//
// PostgreSQL refuses to run as root, so as root the cluster is made and run by the
// postgres system user (through runuser).
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"
)

// Cluster is a running throw-away cluster, listening on 127.0.0.1 with trust auth.
type Cluster struct {
	dataDir string
	tempDir string // set when the cluster lives in a temp dir of its own
	port    int
	pgctl   string
	asUser  func(ctx context.Context, name string, args ...string) *exec.Cmd
}

// Start makes (or reuses) a cluster in dir and starts it on a free port.
func Start(ctx context.Context, dir string) (*Cluster, error) {
	initdb, err := findBinary("initdb")
	if err != nil {
		return nil, err
	}
	pgctl, err := findBinary("pg_ctl")
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(filepath.Join(dir, "pgdata"))
	if err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: dataDir, pgctl: pgctl,
		asUser: func(ctx context.Context, name string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, name, args...)
		}}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root and there is no postgres user to own a throw-away cluster")
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return nil, errors.New("running as root without runuser to start a throw-away cluster")
		}
		c.asUser = func(ctx context.Context, name string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		if c.asUser(ctx, "test", "-x", dir).Run() != nil {
			// The postgres user cannot reach dir (a root-only parent such as a test's
			// temp dir): keep the cluster in a temp dir of its own instead.
			tmp, err := os.MkdirTemp("", "pgcluster-")
			if err != nil {
				return nil, err
			}
			if err := os.Chmod(tmp, 0o755); err != nil {
				return nil, err
			}
			c.tempDir = tmp
			c.dataDir = filepath.Join(tmp, "pgdata")
			dataDir = c.dataDir
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return nil, err
			}
		}
		if b, err := exec.CommandContext(ctx, "chown", "-R", "postgres", filepath.Dir(dataDir)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		cmd := c.asUser(ctx, initdb, "-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, b)
		}
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// URL is the admin URL of the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// DataDir is where the cluster lives.
func (c *Cluster) DataDir() string { return c.dataDir }

func (c *Cluster) start(ctx context.Context) error {
	logFile := filepath.Join(filepath.Dir(c.dataDir), "postgres.log")
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", c.port, filepath.Dir(c.dataDir))
	if b, err := c.asUser(ctx, c.pgctl, "-D", c.dataDir, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, b)
	}
	return nil
}

// Stop shuts the cluster down (fast mode: open sessions are ended).
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b, err := c.asUser(ctx, c.pgctl, "-D", c.dataDir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, b)
	}
	return nil
}

// Destroy stops the cluster and removes a temp dir it made for itself.
func (c *Cluster) Destroy() error {
	err := c.Stop()
	if c.tempDir != "" {
		_ = os.RemoveAll(c.tempDir)
	}
	return err
}

// Restart stops the cluster, waits down for the given time, and starts it again on
// the same port, as a managed database's maintenance restart would.
func (c *Cluster) Restart(ctx context.Context, down time.Duration) error {
	if err := c.Stop(); err != nil {
		return err
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.start(ctx)
}

func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL's server binaries", name)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
