package main

import (
	"context"
	"flag"
	"io"
	"time"

	"metrics-collector/internal/githubsim"
)

// simulate serves the GitHub simulator (the demo's world) for manual use, with
// simulated time following the wall clock.
func simulate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	api := fs.String("api", "127.0.0.1:8081", "address of the simulated API host")
	downloads := fs.String("downloads", "127.0.0.1:8082", "address of the report download host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return githubsim.Serve(ctx, githubsim.DemoConfig(time.Now().UTC()), githubsim.ServeOptions{
		APIAddr: *api, DownloadAddr: *downloads, Realtime: true,
	}, stdout)
}
