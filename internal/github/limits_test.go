package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// An API answer larger than the limit is refused with an error naming the endpoint,
// not read into memory; it is not retried (it would be as large again).
func TestAPIBodyLargerThanTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	big := `{"number":1,"title":"` + strings.Repeat("x", 4096) + `"}`
	for _, announced := range []bool{true, false} {
		f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if !announced {
				w.Header().Set("Transfer-Encoding", "chunked") // no Content-Length
				w.(http.Flusher).Flush()
			}
			fmt.Fprint(w, big)
		})
		c := newTestClient(t, f, func(o *Options) { o.MaxBodyBytes = 1024 })
		_, err := c.GetPull(t.Context(), "acme/api", 1)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "GET /api/v3/repos/acme/api/pulls/1") || !strings.Contains(err.Error(), "1024 bytes") {
			t.Errorf("announced=%v: err = %v, want ErrTooLarge naming the endpoint and the limit", announced, err)
		}
		if errors.Is(err, ErrUnavailable) {
			t.Errorf("announced=%v: a too-large answer is not an outage: %v", announced, err)
		}
		if n := len(f.seen()); n != 1 {
			t.Errorf("announced=%v: %d requests, want 1", announced, n)
		}
	}
}

// A report record larger than the limit stops the download with an error naming the
// record and the host, after reading little more than the limit: a file that never
// ends a record cannot fill memory.
func TestReportRecordLargerThanTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	var written atomic.Int64 // the handler may still be writing when the client gives up
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "{\"user_id\":1,\"day\":\"2026-09-14\"}\n{\"user_id\":2,\"pad\":\"")
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 2048 { // 64 MiB, one record that never ends
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, f, func(o *Options) { o.MaxRecordBytes = limit })
	records := 0
	err := c.DownloadCopilotReport(t.Context(), dl.link("users.json"), func(json.RawMessage) error { records++; return nil })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "record 2") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("err = %v, want ErrTooLarge naming the record and the host", err)
	}
	if records != 1 {
		t.Errorf("%d records handed over, want 1 (the one before)", records)
	}
	if dl.hits.Load() != 1 {
		t.Errorf("%d downloads; a too-large record is not retried", dl.hits.Load())
	}
	if n := written.Load(); n >= 32<<20 {
		t.Errorf("the server wrote %d bytes before the client stopped", n)
	}
}
