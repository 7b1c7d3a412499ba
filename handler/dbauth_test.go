package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"metrics-collector/internal/postgres/pgtest"
)

// TestEntraDatabaseAuth: with DATABASE_AUTH=entra the service logs in to PostgreSQL as
// the role of its managed identity with a token from the identity endpoint the
// Functions host provides (no password anywhere), and never prints the token.
func TestEntraDatabaseAuth(t *testing.T) {
	const token = "eyJ0eXAiOiJKV1QifQ.managed-identity-token-for-postgres.c2ln"
	var mu sync.Mutex
	var resources []string
	identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "header-from-the-host" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		resources = append(resources, r.URL.Query().Get("resource"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"expires_on":%q,"resource":%q,"token_type":"Bearer"}`,
			token, strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10), r.URL.Query().Get("resource"))
	}))
	defer identity.Close()
	t.Setenv("IDENTITY_ENDPOINT", identity.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "header-from-the-host")

	databaseURL := pgtest.NewDatabase(t)
	role := pgtest.NewOwnerRole(t, databaseURL)
	proxy := pgtest.NewAuthProxy(t, func(user, password string) error {
		if user != role || password != token {
			return fmt.Errorf("not the managed identity's token for %s", role)
		}
		return nil
	})

	app := startInProcess(t, map[string]string{
		"DATABASE_AUTH":         "entra",
		"DATABASE_URL":          proxy.URL(t, databaseURL, role),
		"COLLECTOR_ENTERPRISES": `[{"id":"ent1","orgs":["octo"],"token_secret":"github-pat-ent1"}]`,
	}, hooks{})
	app.stop()

	logins := proxy.Logins()
	if len(logins) == 0 {
		t.Fatal("the service never logged in through the proxy")
	}
	for _, l := range logins {
		if !l.Accepted {
			t.Errorf("login %s refused", l.User)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resources) == 0 || resources[0] != "https://ossrdbms-aad.database.windows.net" {
		t.Errorf("identity endpoint asked for %q, want the ossrdbms-aad resource", resources)
	}
	if strings.Contains(app.logs.String(), "managed-identity-token") {
		t.Error("the token appears in the service's logs")
	}
}
