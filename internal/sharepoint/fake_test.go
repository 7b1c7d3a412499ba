package sharepoint_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"metrics-collector/internal/sharepoint/graphfake"
)

// newGraphFake starts the Graph fake for one test.
func newGraphFake(t *testing.T) *graphfake.Server {
	f := graphfake.New()
	t.Cleanup(f.Close)
	return f
}

// staticCredential hands out the one token the fake accepts, so tests can look for it
// everywhere.
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: graphfake.Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// sleeper records waits instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}
