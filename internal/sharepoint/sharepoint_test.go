package sharepoint_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
)

const folder = "Reports/Power BI"

func newClient(t *testing.T, f *graphfake.Server, s *sleeper, chunk int64) *sharepoint.Client {
	t.Helper()
	c, err := sharepoint.New(sharepoint.Options{
		Credential: staticCredential{},
		BaseURL:    f.URL() + "/v1.0",
		DriveID:    graphfake.DriveID,
		Folder:     "/" + folder + "/",
		HTTPClient: f.Client(),
		ChunkSize:  chunk,
		Sleep:      s.Sleep,
		Now:        func() time.Time { return time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// content is deterministic, not compressible to nothing, and CSV-like.
func content(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		b.WriteString("ent1;organization;octo-org;2026-11-25;")
		b.WriteString(strings.Repeat("x", i%17))
		b.WriteString("\r\n")
	}
	return b.Bytes()[:size]
}

func checkNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), graphfake.Token) {
		t.Errorf("the token leaked into an error: %v", err)
	}
}

func TestUploadSmallFileReplaces(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	c := newClient(t, f, &sleeper{}, 0)
	for _, data := range [][]byte{content(3000), content(2000)} {
		id, err := c.Upload(t.Context(), "dora_metrics_20261126.csv", int64(len(data)), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if id != "item-Reports-Power BI-dora_metrics_20261126.csv" {
			t.Errorf("item id = %q", id)
		}
		stored, _ := f.File(folder + "/dora_metrics_20261126.csv")
		if !bytes.Equal(stored, data) {
			t.Errorf("stored %d bytes, want the %d given", len(stored), len(data))
		}
	}
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 PUTs: %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		want := "/v1.0/drives/" + graphfake.DriveID + "/items/root:/" + folder + "/dora_metrics_20261126.csv:/content"
		if r.Method != http.MethodPut || r.URLPath != want || r.Auth != "Bearer "+graphfake.Token || r.ContentEncoding != "" {
			t.Errorf("request %+v; want an uncompressed, authorised PUT to %s", r, want)
		}
	}
}

func TestUploadLargeFileThroughSession(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	chunk := int64(4 * sharepoint.ChunkUnit) // 1.25 MiB
	c := newClient(t, f, &sleeper{}, chunk)
	data := content(5<<20 + 123) // over the 4 MiB simple-upload limit
	id, err := c.Upload(t.Context(), "copilot_user_metrics_20261126.csv", int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Error("no item id")
	}
	stored, _ := f.File(folder + "/copilot_user_metrics_20261126.csv")
	if !bytes.Equal(stored, data) {
		t.Fatalf("stored %d bytes, want the %d given", len(stored), len(data))
	}
	body := f.SessionRequest()
	item, _ := body["item"].(map[string]any)
	if item["@microsoft.graph.conflictBehavior"] != "replace" {
		t.Errorf("createUploadSession body = %v, want conflictBehavior replace", body)
	}

	var chunks []string
	for _, r := range f.Requests() {
		if r.Host == strings.TrimPrefix(f.URL(), "http://") {
			if r.Auth != "Bearer "+graphfake.Token {
				t.Errorf("Graph request %s %s without the token", r.Method, r.URLPath)
			}
			continue
		}
		// The upload URL is pre-authenticated and on another host: no token, ever.
		if r.Auth != "" {
			t.Errorf("upload host got an Authorization header on %s %s", r.Method, r.URLPath)
		}
		if r.ContentEncoding != "" {
			t.Errorf("chunk sent with Content-Encoding %q", r.ContentEncoding)
		}
		chunks = append(chunks, r.ContentRange)
	}
	total := len(data)
	want := []string{
		"bytes 0-1310719/" + strconv.Itoa(total),
		"bytes 1310720-2621439/" + strconv.Itoa(total),
		"bytes 2621440-3932159/" + strconv.Itoa(total),
		"bytes 3932160-5242879/" + strconv.Itoa(total),
		"bytes 5242880-5243002/" + strconv.Itoa(total),
	}
	if diff := cmp.Diff(want, chunks); diff != "" {
		t.Errorf("chunks (-want +got), each a multiple of 320 KiB but the last:\n%s", diff)
	}
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	s := &sleeper{}
	c := newClient(t, f, s, 0)
	f.FailNext(
		graphfake.Throttle(http.StatusTooManyRequests, "7"),
		graphfake.Throttle(http.StatusServiceUnavailable, ""),
		graphfake.Throttle(http.StatusTooManyRequests, "Thu, 26 Nov 2026 06:00:03 GMT"))
	data := content(1000)
	if _, err := c.Upload(t.Context(), "velocity_metrics_20261126.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Retry-After in seconds, exponential backoff without one (2nd retry: 2 s), and an
	// HTTP date 3 s after the fake clock.
	if diff := cmp.Diff([]time.Duration{7 * time.Second, 2 * time.Second, 3 * time.Second}, s.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	stored, _ := f.File(folder + "/velocity_metrics_20261126.csv")
	if !bytes.Equal(stored, data) {
		t.Errorf("a retried PUT stored %d bytes, want %d (the body must be re-sent whole)", len(stored), len(data))
	}
	if n := len(f.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestThrottlingGivesUpWithinBound(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	s := &sleeper{}
	c := newClient(t, f, s, 0)
	// Retry-After beyond the wait budget: give up at once rather than wait an hour.
	f.FailNext(graphfake.Throttle(http.StatusTooManyRequests, "3600"))
	data := content(100)
	_, err := c.Upload(t.Context(), "a.csv", int64(len(data)), bytes.NewReader(data))
	var r interface{ Retryable() bool }
	if !errors.Is(err, sharepoint.ErrUnavailable) || !errors.As(err, &r) || !r.Retryable() {
		t.Fatalf("error = %v, want a retryable ErrUnavailable", err)
	}
	if len(s.Waits()) != 0 {
		t.Errorf("waited %v for a Retry-After past the budget", s.Waits())
	}
	checkNoToken(t, err)

	// Persistent 503: 4 retries with backoff 1+2+4+8 s, then give up.
	for range 10 {
		f.FailNext(graphfake.Throttle(http.StatusServiceUnavailable, ""))
	}
	before := len(f.Requests())
	_, err = c.Upload(t.Context(), "a.csv", int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, sharepoint.ErrUnavailable) || !strings.Contains(err.Error(), "status 503 after 5 attempts") {
		t.Fatalf("error = %v", err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, s.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if n := len(f.Requests()) - before; n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}

func TestChunkThrottledIsRetried(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	s := &sleeper{}
	c := newClient(t, f, s, 16*sharepoint.ChunkUnit)
	f.BeforeChunk(func(n int) graphfake.Fault {
		if n == 1 {
			return graphfake.Throttle(http.StatusTooManyRequests, "2")
		}
		return nil
	})
	data := content(6 << 20)
	if _, err := c.Upload(t.Context(), "big.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.File(folder + "/big.csv")
	if !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes, want %d", len(stored), len(data))
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, s.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestSessionThatStopsShortFails(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.DropFinalItem() // every byte accepted, yet no item in the answer and nothing stored
	c := newClient(t, f, &sleeper{}, 0)
	data := content(5 << 20)
	_, err := c.Upload(t.Context(), "short.csv", int64(len(data)), bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "upload session ended without storing the file") {
		t.Fatalf("error = %v, want the short session detected", err)
	}
	if errors.Is(err, sharepoint.ErrUnavailable) {
		t.Error("a short session is not an outage")
	}

	// With yesterday's file in place the check compares sizes.
	f.Put(folder+"/short.csv", content(100), time.Now())
	_, err = c.Upload(t.Context(), "short.csv", int64(len(data)), bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "ended short: stored item has 100 bytes, want 5242880") {
		t.Fatalf("error = %v, want a size mismatch", err)
	}
}

// A session whose reply lacks nextExpectedRanges expects the whole file (Graph's
// "0-"): the file is sent from the start.
func TestSessionWithoutRangesStartsAtZero(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.OmitNextExpectedRanges()
	c := newClient(t, f, &sleeper{}, 0)
	data := content(5 << 20)
	if _, err := c.Upload(t.Context(), "noranges.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.File(folder + "/noranges.csv"); !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes, want %d", len(stored), len(data))
	}
}

func TestPermanentGraphErrorIsDescribed(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	s := &sleeper{}
	c := newClient(t, f, s, 0)
	f.FailNext(graphfake.ODataError(http.StatusForbidden, "accessDenied", "Either scp or roles claim need to be present in the token."))
	_, err := c.Upload(t.Context(), "a.csv", 10, bytes.NewReader(content(10)))
	if err == nil || !strings.Contains(err.Error(), "graph status 403: accessDenied: Either scp or roles") {
		t.Fatalf("error = %v", err)
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		t.Error("a 403 must not be retryable")
	}
	if len(s.Waits()) != 0 {
		t.Errorf("a 403 was retried: %v", s.Waits())
	}
	checkNoToken(t, err)
}

// The token stays with the Graph host even when Graph redirects elsewhere.
func TestTokenNotFollowingRedirects(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	c := newClient(t, f, &sleeper{}, 0)
	f.FailNext(func(w http.ResponseWriter) {
		w.Header().Set("Location", f.SharePointURL()+"/elsewhere")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	c.Upload(t.Context(), "a.csv", 10, bytes.NewReader(content(10)))
	followed := false
	for _, r := range f.Requests() {
		if r.URLPath == "/elsewhere" {
			followed = true
			if r.Auth != "" {
				t.Errorf("redirect target got Authorization %q", r.Auth)
			}
		}
	}
	if !followed {
		t.Error("the redirect was not followed; the test proves nothing")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	ok := sharepoint.Options{Credential: staticCredential{}, DriveID: "d", Folder: "Reports"}
	tests := []struct {
		name string
		edit func(*sharepoint.Options)
		want string
	}{
		{"no credential", func(o *sharepoint.Options) { o.Credential = nil }, "credential is required"},
		{"no drive", func(o *sharepoint.Options) { o.DriveID = " " }, "SHAREPOINT_DRIVE_ID"},
		{"folder with colon", func(o *sharepoint.Options) { o.Folder = "a:b" }, "SHAREPOINT_FOLDER"},
		{"folder with ..", func(o *sharepoint.Options) { o.Folder = "a/../b" }, "SHAREPOINT_FOLDER"},
		{"plain http", func(o *sharepoint.Options) { o.BaseURL = "http://graph.example.com/v1.0" }, "GRAPH_API_URL"},
		{"no host", func(o *sharepoint.Options) { o.BaseURL = "https:///v1.0" }, "GRAPH_API_URL"},
		{"odd chunk", func(o *sharepoint.Options) { o.ChunkSize = 1 << 20 }, "multiple of 320 KiB"},
		{"huge chunk", func(o *sharepoint.Options) { o.ChunkSize = 200 * sharepoint.ChunkUnit }, "below 60 MiB"},
	}
	for _, tt := range tests {
		o := ok
		tt.edit(&o)
		if _, err := sharepoint.New(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := sharepoint.New(ok); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
	c, _ := sharepoint.New(ok)
	if _, err := c.Upload(t.Context(), "../x.csv", 1, bytes.NewReader([]byte("x"))); err == nil {
		t.Error("a file name with a path was accepted")
	}
}

// eofReader answers a read that reaches the end with io.EOF, as io.ReaderAt allows.
type eofReader struct{ data []byte }

func (r eofReader) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, r.data[off:])
	if off+int64(n) >= int64(len(r.data)) {
		return n, io.EOF
	}
	return n, nil
}

func TestReaderAtEndingWithEOF(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	c := newClient(t, f, &sleeper{}, 0)
	for _, size := range []int{1000, 5<<20 + 7} {
		data := content(size)
		if _, err := c.Upload(t.Context(), "eof.csv", int64(size), eofReader{data}); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if stored, _ := f.File(folder + "/eof.csv"); !bytes.Equal(stored, data) {
			t.Errorf("%d bytes: stored %d", size, len(stored))
		}
	}
	// A file shorter than announced is an error, not a truncated upload.
	if _, err := c.Upload(t.Context(), "eof.csv", 2000, eofReader{content(1000)}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short file: %v, want io.ErrUnexpectedEOF", err)
	}
}

// The upload URL is pre-authenticated (tempauth in its query): a chunk that fails on
// the network is reported by host and path, never by the URL itself.
func TestChunkFailureErrorNamesNoCredential(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.BeforeChunk(func(int) graphfake.Fault { return graphfake.ResetConnection })
	c := newClient(t, f, &sleeper{}, 4*sharepoint.ChunkUnit)
	data := content(5 << 20)
	_, err := c.Upload(t.Context(), "big.csv", int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, sharepoint.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "tempauth") || strings.Contains(err.Error(), f.UploadCredential(1)) || strings.Contains(err.Error(), "guid=") {
		t.Errorf("error carries the upload URL's query: %v", err)
	}
	if !strings.Contains(err.Error(), graphfake.UploadSessionPath) {
		t.Errorf("error %q does not say where the upload failed", err)
	}
	checkNoToken(t, err)
}
