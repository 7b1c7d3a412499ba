package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/secrets"
)

// entraIssuer plays Microsoft Entra ID and the server's token check: it issues tokens
// that live an hour on the test's clock, and valid says whether a token would be
// accepted at a login now.
type entraIssuer struct {
	mu     sync.Mutex
	now    func() time.Time
	expiry map[string]time.Time
}

func (e *entraIssuer) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(opts.Scopes) != 1 || opts.Scopes[0] != secrets.DatabaseTokenScope {
		return azcore.AccessToken{}, fmt.Errorf("unexpected scopes %v", opts.Scopes)
	}
	tok := fmt.Sprintf("eyJ0eXAiOiJKV1QifQ.token-%d.sig", len(e.expiry)+1)
	e.expiry[tok] = e.now().Add(time.Hour)
	return azcore.AccessToken{Token: tok, ExpiresOn: e.expiry[tok]}, nil
}

func (e *entraIssuer) valid(tok string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.expiry[tok]
	switch {
	case !ok:
		return fmt.Errorf("not a token this issuer issued")
	case !e.now().Before(exp):
		return fmt.Errorf("the token expired at %s", exp.Format(time.RFC3339))
	}
	return nil
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestEveryNewConnectionLogsInWithAValidToken: the store in DATABASE_AUTH=entra mode
// asks the token source before each new pool connection, the server sees the token as
// the password, and a token near its expiry is replaced before a login would fail.
func TestEveryNewConnectionLogsInWithAValidToken(t *testing.T) {
	databaseURL := pgtest.NewDatabase(t)
	role := pgtest.NewOwnerRole(t, databaseURL)
	clock := &testClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	issuer := &entraIssuer{now: clock.Now, expiry: map[string]time.Time{}}
	proxy := pgtest.NewAuthProxy(t, func(user, password string) error {
		if user != role {
			return fmt.Errorf("no such principal %q", user)
		}
		return issuer.valid(password)
	})
	tokens := secrets.NewDatabaseToken(issuer, secrets.DatabaseTokenOptions{Now: clock.Now})
	var asked atomic.Int64
	store, err := postgres.New(proxy.URL(t, databaseURL, role), postgres.Options{
		MaxConns: 4,
		Password: func(ctx context.Context) (string, error) {
			asked.Add(1)
			return tokens.Password(ctx)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	if err := store.Ready(ctx); err != nil {
		t.Fatalf("migrate as the identity: %v", err)
	}

	// Hold three connections at once: the pool opens new ones, each logging in.
	holdConnections := func(n int) {
		t.Helper()
		conns := make([]*pgxpool.Conn, 0, n)
		for range n {
			c, err := store.Pool().Acquire(ctx)
			if err != nil {
				t.Fatalf("acquire: %v", err)
			}
			conns = append(conns, c)
		}
		var user string
		if err := conns[n-1].QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil || user != role {
			t.Errorf("connected as %q (%v), want the identity's role %s", user, err, role)
		}
		for _, c := range conns {
			c.Release()
		}
	}
	holdConnections(3)
	lock, err := store.TryLock(ctx, "stage:collect_repos:ent1:0")
	if err != nil {
		t.Fatalf("lock through a token login: %v", err)
	}
	lock.Release()

	logins := proxy.Logins()
	if len(logins) < 3 {
		t.Fatalf("%d logins for three connections held at once", len(logins))
	}
	if int64(len(logins)) != asked.Load() {
		t.Errorf("%d logins but the token source was asked %d times: every new connection must ask", len(logins), asked.Load())
	}
	for _, l := range logins {
		if !l.Accepted || l.Password != "eyJ0eXAiOiJKV1QifQ.token-1.sig" {
			t.Errorf("login %+v: want token 1, accepted", l)
		}
	}

	// An hour later token 1 has expired (the server would refuse it) ...
	clock.advance(61 * time.Minute)
	stale, err := pgx.Connect(ctx, strings.Replace(proxy.URL(t, databaseURL, role), role+"@", role+":"+"eyJ0eXAiOiJKV1QifQ.token-1.sig@", 1))
	if err == nil {
		stale.Close(ctx)
		t.Fatal("the proxy accepted an expired token; the test would prove nothing")
	}
	// ... and new connections log in with a renewed one.
	store.Pool().Reset() // close the open connections, as idle timeouts and restarts do
	before := len(proxy.Logins())
	holdConnections(2)
	renewed := proxy.Logins()[before:]
	if len(renewed) < 2 {
		t.Fatalf("%d new logins after the reset", len(renewed))
	}
	for _, l := range renewed {
		if !l.Accepted || l.Password != "eyJ0eXAiOiJKV1QifQ.token-2.sig" {
			t.Errorf("login after expiry %+v: want the renewed token 2, accepted", l)
		}
	}
	if n := len(issuer.expiry); n != 2 {
		t.Errorf("%d tokens issued, want 2: one per hour, not one per connection", n)
	}
}
