package githubsim

import (
	"slices"
	"time"
)

// Host names which of the two servers a request reached.
type Host string

// The simulator's hosts.
const (
	HostAPI      Host = "api"
	HostDownload Host = "download"
)

// Request is one request the simulator received.
type Request struct {
	Seq    int64
	Host   Host
	Method string
	Path   string
	Query  string // raw query
	Status int    // 0 when the connection was reset
	// Authorization reports whether the request carried an Authorization header, and
	// Token which credential it carried (simulator tokens are not secrets).
	Authorization bool
	Token         string
	Enterprise    string // slug of the enterprise owning Token; "" when unknown or absent
	Installation  int64  // the app installation of an installation token; 0 for a PAT
	Charged       bool   // counted against the primary rate limit (304s are not)
	// GraphQL requests (POST /graphql): the operation's name, the points charged to
	// the token's GraphQL budget (Charged is true when Points > 0), and the nodes the
	// query could return.
	Operation string
	Points    int
	Nodes     int64
	Fault     string // the injected fault, "" for none (see Fault* constants)
	At        time.Time
}

// Injected fault kinds, as recorded in Request.Fault.
const (
	FaultServerError    = "server_error"
	FaultSecondaryLimit = "secondary_limit"
	FaultPrimaryLimit   = "primary_limit"
	FaultTruncated      = "truncated"
	FaultReset          = "reset"
	FaultTimeout        = "timeout"         // GraphQL only
	FaultResourceLimits = "resource_limits" // GraphQL only
)

func (s *Simulator) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// Requests returns every request received since the start or the last ResetRequests,
// in the order they finished.
func (s *Simulator) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Simulator) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}
