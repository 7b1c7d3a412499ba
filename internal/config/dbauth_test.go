package config

import (
	"strings"
	"testing"
)

func TestDatabaseAuthDefaultsToPassword(t *testing.T) {
	c, err := Parse(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseAuth != DatabaseAuthPassword {
		t.Errorf("DatabaseAuth = %q, want %q: local and test URLs keep working unchanged", c.DatabaseAuth, DatabaseAuthPassword)
	}
}

func TestDatabaseAuthEntra(t *testing.T) {
	const azureURL = "postgres://func-mc-abc@psql-mc-abc.postgres.database.azure.com:5432/metrics?sslmode=verify-full&options=-c%20role%3Dmetrics_owner"
	for _, u := range []string{azureURL, "postgres://mc_login@127.0.0.1:5432/metrics?sslmode=disable"} {
		m := valid()
		m["DATABASE_AUTH"] = "entra"
		m["DATABASE_URL"] = u
		c, err := Parse(env(m))
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if c.DatabaseAuth != DatabaseAuthEntra {
			t.Errorf("%s: DatabaseAuth = %q", u, c.DatabaseAuth)
		}
	}
}

func TestDatabaseAuthErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_AUTH": "token"}, `DATABASE_AUTH: "token" is not a database authentication mode`},
		{map[string]string{"DATABASE_AUTH": "entra", "DATABASE_URL": "postgres://db.example.com:5432/metrics?sslmode=verify-full"},
			"DATABASE_URL: DATABASE_AUTH=entra needs the user"},
		{map[string]string{"DATABASE_AUTH": "entra", "DATABASE_URL": "postgres://app:pw@db.example.com:5432/metrics?sslmode=verify-full"},
			"DATABASE_URL: must carry no password with DATABASE_AUTH=entra"},
		{map[string]string{"DATABASE_AUTH": "entra", "DATABASE_URL": "postgres://app@db.example.com:5432/metrics?sslmode=require"},
			"DATABASE_URL: DATABASE_AUTH=entra sends an access token as the password, so the server's certificate and name must be checked; use sslmode=verify-full"},
		{map[string]string{"DATABASE_AUTH": "entra", "DATABASE_URL": "postgres://app@db.example.com:5432/metrics?sslmode=verify-full", "DATABASE_PASSWORD_SECRET": "database-password"},
			"DATABASE_PASSWORD_SECRET: must be empty with DATABASE_AUTH=entra"},
	}
	for _, tc := range cases {
		m := valid()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := Parse(env(m))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with %v: error %v, want it to contain %q", tc.set, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error echoes the database password: %v", err)
		}
	}
}
