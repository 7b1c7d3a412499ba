package githubsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Servers are the simulator's two hosts on loopback test servers.
type Servers struct {
	API       *httptest.Server
	Downloads *httptest.Server
}

// Start serves the simulator on two loopback httptest servers (two origins) and points
// report links at the download server. Close them when done.
func (s *Simulator) Start() *Servers {
	srv := &Servers{API: httptest.NewServer(s.API()), Downloads: httptest.NewServer(s.Downloads())}
	s.SetDownloadURL(srv.Downloads.URL)
	return srv
}

// Close shuts both servers down.
func (srv *Servers) Close() {
	srv.API.Close()
	srv.Downloads.Close()
}

// ServeOptions configures Serve.
type ServeOptions struct {
	APIAddr      string // e.g. "127.0.0.1:8081"
	DownloadAddr string // e.g. "127.0.0.1:8082"
	// Realtime makes simulated time follow the wall clock (checked every second), so
	// runs complete and rate limits reset while a person watches.
	Realtime bool
}

// Serve builds the world of cfg and serves it on two addresses until ctx is done,
// printing the URLs, enterprises, orgs and (simulated) tokens to out.
func Serve(ctx context.Context, cfg Config, opts ServeOptions, out io.Writer) error {
	sim, err := New(cfg)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	apiLn, err := lc.Listen(ctx, "tcp", opts.APIAddr)
	if err != nil {
		return fmt.Errorf("listen for the api host: %w", err)
	}
	dlLn, err := lc.Listen(ctx, "tcp", opts.DownloadAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("listen for the download host: %w", err)
	}
	apiURL, dlURL := "http://"+apiLn.Addr().String(), "http://"+dlLn.Addr().String()
	sim.SetDownloadURL(dlURL)

	fmt.Fprintf(out, "GitHub simulator at %s (simulated now %s)\n", apiURL+"/", sim.Now().Format(time.RFC3339))
	fmt.Fprintf(out, "report downloads at %s\n", dlURL+"/")
	for _, e := range sim.Enterprises() {
		fmt.Fprintf(out, "enterprise %s (id %s) orgs %v token %s\n", e.Slug, e.ID, e.Orgs, e.Token)
	}

	apiSrv := &http.Server{Handler: sim.API(), ReadHeaderTimeout: 10 * time.Second}
	dlSrv := &http.Server{Handler: sim.Downloads(), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- apiSrv.Serve(apiLn) }()
	go func() { errs <- dlSrv.Serve(dlLn) }()

	if opts.Realtime {
		go func() {
			ticker := time.NewTicker(time.Second)
			defer ticker.Stop()
			last := time.Now()
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-ticker.C:
					sim.Advance(t.Sub(last))
					last = t
				}
			}
		}()
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(apiSrv.Shutdown(shutdownCtx), dlSrv.Shutdown(shutdownCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve simulator: %w", serveErr)
	}
	return err
}
