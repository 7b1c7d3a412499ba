package githubsim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Simulator serves a generated world over GitHub's REST paths, viewed at a simulated now
// that only moves when told to (Advance, SetNow). It is safe for concurrent use.
type Simulator struct {
	w       *world
	signKey []byte

	mu           sync.Mutex
	now          time.Time
	rate         map[string]*rateWindow
	gqlRate      map[string]*rateWindow // GraphQL budget per token
	gqlMinute    map[string][]pointsAt  // GraphQL points of the last minute per token
	inFlight     map[string]int         // requests being answered per token
	faults       Faults
	faultRuns    map[string]int // consecutive faults per request identity
	seq          int64
	requests     []Request
	downloadBase string

	api       http.Handler
	downloads http.Handler

	// The GitHub App (app.go); nil without Config.App. Written by New only, except
	// instTokens (under mu).
	app           *AppConfig
	installations map[int64]*installation
	instTokens    map[string]*instToken
	reposByID     map[int64]*repo // read-only after New
}

// New validates cfg and generates the world. Generation is deterministic: the same
// configuration gives the same world and the same response bytes.
func New(cfg Config) (*Simulator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	key := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("githubsim-link-signing"), uint64(cfg.Seed)))
	s := &Simulator{
		w:            newWorld(cfg),
		signKey:      key[:],
		now:          cfg.Now,
		rate:         map[string]*rateWindow{},
		gqlRate:      map[string]*rateWindow{},
		gqlMinute:    map[string][]pointsAt{},
		inFlight:     map[string]int{},
		reposByID:    map[int64]*repo{},
		faultRuns:    map[string]int{},
		downloadBase: "http://copilot-reports.invalid",
	}
	if err := s.setupApp(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	for _, o := range s.w.orgs {
		for _, r := range o.repos {
			s.reposByID[r.id] = r
		}
	}
	s.api = s.apiRoutes()
	s.downloads = s.downloadRoutes()
	return s, nil
}

// API is the handler for the REST API host.
func (s *Simulator) API() http.Handler { return s.api }

// Downloads is the handler for the report download host (a different origin from the
// API; it takes no token).
func (s *Simulator) Downloads() http.Handler { return s.downloads }

// SetDownloadURL tells the simulator where Downloads() is served, so report envelopes
// can link to it, e.g. the URL of an httptest.Server.
func (s *Simulator) SetDownloadURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downloadBase = strings.TrimRight(base, "/")
}

// Now is the simulated time.
func (s *Simulator) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves simulated time forward by d: new activity appears, runs in progress
// complete, deployment statuses change, rate-limit windows reset, links expire.
func (s *Simulator) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

// SetNow moves simulated time to t; time never goes backwards.
func (s *Simulator) SetNow(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Before(s.now) {
		return fmt.Errorf("set now: %s is before the current simulated time %s", t.Format(time.RFC3339), s.now.Format(time.RFC3339))
	}
	s.now = t.UTC()
	return nil
}

// EnterpriseInfo describes one simulated enterprise, for wiring a client to it.
type EnterpriseInfo struct {
	ID    string
	Slug  string
	Token string
	Orgs  []string
}

// Enterprises lists the simulated enterprises in configuration order.
func (s *Simulator) Enterprises() []EnterpriseInfo {
	var out []EnterpriseInfo
	for _, e := range s.w.enterprises {
		info := EnterpriseInfo{ID: e.cfg.ID, Slug: e.cfg.Slug, Token: e.cfg.Token}
		for _, o := range e.orgs {
			info.Orgs = append(info.Orgs, o.login)
		}
		out = append(out, info)
	}
	return out
}

func (s *Simulator) enterprise(idOrSlug string) (*enterprise, error) {
	for _, e := range s.w.enterprises {
		if e.cfg.ID == idOrSlug || e.cfg.Slug == idOrSlug {
			return e, nil
		}
	}
	return nil, fmt.Errorf("unknown enterprise %q", idOrSlug)
}
