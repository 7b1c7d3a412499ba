package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// AuthProxy stands in front of the test server and demands a password the way Azure
// Database for PostgreSQL does for Microsoft Entra logins: it asks the client for a
// cleartext password (the access token), checks it with Check, and only then connects
// the session to the real server (which trusts local connections). The test server's
// own authentication is trust, so this is how a test sees which password each new
// connection brought and refuses the ones that would not be accepted.
type AuthProxy struct {
	// Check decides whether user may log in with password; an error refuses the login
	// with SQLSTATE 28P01, as a refused token is.
	Check func(user, password string) error

	ln     net.Listener
	target string

	mu     sync.Mutex
	logins []Login
	open   map[net.Conn]bool // client connections being served, closed at the end
}

// Login is one login attempt the proxy saw.
type Login struct {
	User, Password string
	Accepted       bool
}

// NewAuthProxy listens on a loopback port and forwards accepted sessions to the host of
// the test server; it stops when the test ends.
func NewAuthProxy(t testing.TB, check func(user, password string) error) *AuthProxy {
	t.Helper()
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &AuthProxy{Check: check, ln: ln, target: target, open: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.open[c] = true
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					p.mu.Lock()
					delete(p.open, c)
					p.mu.Unlock()
				}()
				p.serve(c)
			}()
		}
	}()
	return p
}

// URL returns databaseURL (a URL of the test server) pointed at the proxy, for user.
func (p *AuthProxy) URL(t testing.TB, databaseURL, user string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	u.User = url.User(user)
	return u.String()
}

// Logins returns the login attempts so far, oldest first.
func (p *AuthProxy) Logins() []Login {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Login(nil), p.logins...)
}

func (p *AuthProxy) serve(client net.Conn) {
	defer client.Close()
	be := pgproto3.NewBackend(client, client)
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.StartupMessage:
			startup = m
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := client.Write([]byte("N")); err != nil { // no TLS here: tests use sslmode=disable
				return
			}
		default:
			return
		}
	}
	user := startup.Parameters["user"]
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := be.Flush(); err != nil {
		return
	}
	if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return
	}
	msg, err := be.Receive()
	if err != nil {
		return
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return
	}
	checkErr := errors.New("no check configured")
	if p.Check != nil {
		checkErr = p.Check(user, pw.Password)
	}
	p.mu.Lock()
	p.logins = append(p.logins, Login{User: user, Password: pw.Password, Accepted: checkErr == nil})
	p.mu.Unlock()
	if checkErr != nil {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01",
			Message: "password authentication failed for user \"" + user + "\": " + checkErr.Error()})
		_ = be.Flush()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	fe := pgproto3.NewFrontend(server, server)
	fe.Send(startup)
	if err := fe.Flush(); err != nil {
		return
	}
	// The server (trust) answers AuthenticationOk and the session parameters; from here
	// on the proxy only copies bytes.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
		close(done)
	}()
	_, _ = io.Copy(client, server)
	client.Close()
	<-done
}

// NewOwnerRole creates a login role (no password: the AuthProxy decides who gets in)
// that owns the database of databaseURL, as the app's role does after bootstrap-db, and
// drops it when the test ends.
func NewOwnerRole(t testing.TB, databaseURL string) string {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	role := "mc_login_" + hex.EncodeToString(b)
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Identifiers made here (random hex) or by pgtest (the database): quoted anyway.
	roleID, dbID := pgx.Identifier{role}.Sanitize(), pgx.Identifier{dbName}.Sanitize()
	for _, stmt := range []string{"CREATE ROLE " + roleID + " LOGIN", "ALTER DATABASE " + dbID + " OWNER TO " + roleID} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The database is dropped by NewDatabase's cleanup, which runs after this one:
		// hand everything back to the server's admin first.
		if db, err := pgx.Connect(ctx, databaseURL); err == nil {
			_, _ = db.Exec(ctx, "REASSIGN OWNED BY "+roleID+" TO CURRENT_USER")
			_, _ = db.Exec(ctx, "DROP OWNED BY "+roleID)
			db.Close(ctx)
		}
		admin, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, "ALTER DATABASE "+dbID+" OWNER TO CURRENT_USER")
		if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+roleID); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	return role
}
