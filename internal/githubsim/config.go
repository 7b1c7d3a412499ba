package githubsim

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config describes the world to build. Zero values take the defaults named on each field.
type Config struct {
	Seed int64
	// Now is the initial simulated time (required). Activity is generated from
	// Now−HistoryDays to Now+FutureDays; the API shows the world as of the moving now.
	Now         time.Time
	HistoryDays int // default 120
	FutureDays  int // default 14; Advance beyond Now+FutureDays shows a frozen world
	Enterprises []EnterpriseConfig

	// RateLimit is the primary rate limit per token per hour of simulated time.
	RateLimit int // default 5000
	// GraphQLRateLimit is the GraphQL API's own primary budget per token per hour of
	// simulated time, in points (a PAT's 5,000; an app installation on Enterprise Cloud
	// has 10,000). Default 5000.
	GraphQLRateLimit int
	// GraphQLPointsPerMinute is GitHub's secondary limit on the GraphQL endpoint
	// (default 2,000 points a minute per token).
	GraphQLPointsPerMinute int
	// MaxConcurrent is the most requests a token may have in flight, REST and GraphQL
	// together (GitHub's secondary limit of 100; default 100); more are refused with a
	// secondary-limit 403.
	MaxConcurrent int

	// Copilot reports. A day's report exists CopilotReportDelay after the day ends and
	// its counters keep growing for three more days before they are final.
	CopilotReportDelay  time.Duration // default 24h
	CopilotMissingDay   time.Time     // a day answered 204 although in range; zero: none
	CopilotNewFieldFrom time.Time     // records from this day carry a field no client knows; zero: never
	UserShardSize       int           // lines per per-user report shard; default 50
	LinkTTL             time.Duration // report download links expire after this much simulated time; default 1h

	// Sleep is used for injected latency. Default: a real timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error

	// App, when set, is a GitHub App installed on the world's organizations (app.go).
	App *AppConfig
}

// EnterpriseConfig is one GitHub Enterprise Cloud enterprise and its token.
type EnterpriseConfig struct {
	ID    string // the collector's short id, e.g. "ent1" (informational)
	Slug  string // enterprise slug used in /enterprises/{slug}
	Token string // the only token that can read this enterprise and its orgs
	// TokenExpiresAt, when set, is sent as github-authentication-token-expiration.
	TokenExpiresAt time.Time
	Orgs           []OrgConfig
	Developers     int // people who commit; default 12 per org
	CopilotUsers   int // people with a Copilot seat; default 80 % of Developers
}

// OrgConfig is one organization of an enterprise.
type OrgConfig struct {
	Login       string
	Repos       int     // number of repositories
	ActiveShare float64 // share of repositories with ongoing activity, 0..1
	PRsPerWeek  float64 // mean pull requests opened per active repository per week; default 3
	// BusyRepo gives one active repository more than 1,000 workflow runs on a single day.
	BusyRepo bool
	// CopilotPolicyDisabled makes this org's Copilot usage-metrics reports answer 403.
	CopilotPolicyDisabled bool
	// TeamsForbidden makes this org's team listings answer 403 (a token without read:org).
	TeamsForbidden bool
}

// DemoConfig is the world `make demo` collects: two enterprises of two organizations of
// 25 repositories over 120 days. Its rate limit is GitHub's 15,000 requests an hour (a
// GitHub App installation on Enterprise Cloud) so one collection fits in one hour.
func DemoConfig(now time.Time) Config {
	org := func(login string, busy bool) OrgConfig {
		return OrgConfig{Login: login, Repos: 25, ActiveShare: 0.5, PRsPerWeek: 2, BusyRepo: busy}
	}
	return Config{
		Seed:                20260915,
		Now:                 now,
		HistoryDays:         120,
		RateLimit:           15000,
		GraphQLRateLimit:    10000,
		CopilotMissingDay:   startOfDay(now).AddDate(0, 0, -20),
		CopilotNewFieldFrom: startOfDay(now).AddDate(0, 0, -10),
		Enterprises: []EnterpriseConfig{
			{ID: "ent1", Slug: "contoso", Token: "fake-token-simContoso-1",
				TokenExpiresAt: now.AddDate(0, 0, 40),
				Orgs:           []OrgConfig{org("contoso-web", true), org("contoso-data", false)},
				Developers:     30, CopilotUsers: 60},
			{ID: "ent2", Slug: "fabrikam", Token: "fake-token-simFabrikam-2",
				TokenExpiresAt: now.AddDate(0, 0, 9), // close enough to expiry to raise the warning
				Orgs:           []OrgConfig{org("fabrikam-apps", false), org("fabrikam-platform", false)},
				Developers:     24, CopilotUsers: 40},
		},
	}
}

// BenchmarkConfig is the large world: two enterprises, each one organization of 1,000
// repositories of which 20 % are active.
func BenchmarkConfig(now time.Time) Config {
	return Config{
		Seed:        42,
		Now:         now,
		HistoryDays: 120,
		RateLimit:   15000,
		Enterprises: []EnterpriseConfig{
			{ID: "big1", Slug: "bigcorp", Token: "fake-token-simBigcorp-1",
				Orgs:       []OrgConfig{{Login: "bigcorp-eng", Repos: 1000, ActiveShare: 0.2, PRsPerWeek: 3, BusyRepo: true}},
				Developers: 300, CopilotUsers: 250},
			{ID: "big2", Slug: "megacorp", Token: "fake-token-simMegacorp-2",
				Orgs:       []OrgConfig{{Login: "megacorp-eng", Repos: 1000, ActiveShare: 0.2, PRsPerWeek: 3}},
				Developers: 300, CopilotUsers: 250},
		},
	}
}

var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// withDefaults validates the configuration and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Now.IsZero() {
		bad("Now", "is required")
	}
	c.Now = c.Now.UTC().Truncate(time.Second) // GitHub shows whole seconds
	c.HistoryDays = orDefault(c.HistoryDays, 120)
	c.FutureDays = orDefault(c.FutureDays, 14)
	c.RateLimit = orDefault(c.RateLimit, 5000)
	c.GraphQLRateLimit = orDefault(c.GraphQLRateLimit, 5000)
	c.GraphQLPointsPerMinute = orDefault(c.GraphQLPointsPerMinute, 2000)
	c.MaxConcurrent = orDefault(c.MaxConcurrent, 100)
	c.UserShardSize = orDefault(c.UserShardSize, 50)
	if c.CopilotReportDelay == 0 {
		c.CopilotReportDelay = 24 * time.Hour
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = time.Hour
	}
	if c.Sleep == nil {
		c.Sleep = sleepContext
	}
	if c.HistoryDays < 1 || c.FutureDays < 1 || c.RateLimit < 1 || c.UserShardSize < 1 {
		bad("Config", "HistoryDays, FutureDays, RateLimit and UserShardSize must be positive")
	}
	if c.GraphQLRateLimit < 1 || c.GraphQLPointsPerMinute < 1 || c.MaxConcurrent < 1 {
		bad("Config", "GraphQLRateLimit, GraphQLPointsPerMinute and MaxConcurrent must be positive")
	}
	if len(c.Enterprises) == 0 {
		bad("Enterprises", "at least one enterprise is required")
	}
	tokens, slugs, orgs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range c.Enterprises {
		e := &c.Enterprises[i]
		field := fmt.Sprintf("Enterprises[%d]", i)
		if !loginRE.MatchString(e.Slug) || slugs[e.Slug] {
			bad(field+".Slug", "%q must be a unique slug", e.Slug)
		}
		slugs[e.Slug] = true
		if e.Token == "" || tokens[e.Token] {
			bad(field+".Token", "must be set and unique")
		}
		tokens[e.Token] = true
		if e.ID == "" {
			e.ID = e.Slug
		}
		if len(e.Orgs) == 0 {
			bad(field+".Orgs", "at least one organization is required")
		}
		for j := range e.Orgs {
			o := &e.Orgs[j]
			of := fmt.Sprintf("%s.Orgs[%d]", field, j)
			if !loginRE.MatchString(o.Login) || orgs[o.Login] {
				bad(of+".Login", "%q must be a unique login", o.Login)
			}
			orgs[o.Login] = true
			if o.Repos < 0 || o.ActiveShare < 0 || o.ActiveShare > 1 || o.PRsPerWeek < 0 {
				bad(of, "Repos must be ≥ 0, ActiveShare within 0..1, PRsPerWeek ≥ 0")
			}
			if o.PRsPerWeek == 0 {
				o.PRsPerWeek = 3
			}
		}
		e.Developers = orDefault(e.Developers, 12*len(e.Orgs))
		if e.CopilotUsers == 0 {
			e.CopilotUsers = e.Developers * 4 / 5
		}
		if e.Developers < 2 || e.CopilotUsers < 0 {
			bad(field, "Developers must be ≥ 2 and CopilotUsers ≥ 0")
		}
	}
	return c, errors.Join(errs...)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
