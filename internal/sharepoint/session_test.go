package sharepoint_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
)

// Upload sessions: every chunk is sent with the call's context, the first failure
// that retrying cannot fix stops the upload, and after a lost answer the upload
// resumes from what the session says it expects.

const sessionChunk = 4 * sharepoint.ChunkUnit // 1.25 MiB: a 5 MiB file is 5 chunks

// uploadRequests are the requests that reached the upload host, "METHOD range".
func uploadRequests(f *graphfake.Server) []string {
	var out []string
	for _, r := range f.Requests() {
		if r.URLPath == graphfake.UploadSessionPath {
			out = append(out, strings.TrimSpace(r.Method+" "+r.ContentRange))
		}
	}
	return out
}

func chunkRange(i int, total int) string {
	start := i * int(sessionChunk)
	end := min(start+int(sessionChunk), total) - 1
	return "PUT bytes " + strconv.Itoa(start) + "-" + strconv.Itoa(end) + "/" + strconv.Itoa(total)
}

// The stage's hard stop cancels the call's context while a chunk is on its way: no
// further chunk is sent, and the upload ends with the context's error.
func TestUploadStopsWhenTheCallIsCancelled(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.AfterChunk(func(n int) graphfake.Fault {
		if n == 1 {
			cancel() // the hard stop, while the second chunk is being answered
		}
		return nil
	})
	c := newClient(t, f, &sleeper{}, sessionChunk)
	data := content(5<<20 + 11)
	_, err := c.Upload(ctx, "cancelled.csv", int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	want := []string{chunkRange(0, len(data)), chunkRange(1, len(data))}
	if diff := cmp.Diff(want, uploadRequests(f)); diff != "" {
		t.Errorf("upload requests (-want +got); nothing may follow the cancellation:\n%s", diff)
	}
	if _, ok := f.File(folder + "/cancelled.csv"); ok {
		t.Error("a cancelled upload stored the file")
	}
}

// A chunk Graph refuses for good ends the upload there: no later chunk is sent, and
// the session is cancelled rather than left to expire.
func TestUploadStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.BeforeChunk(func(n int) graphfake.Fault {
		if n == 1 {
			return graphfake.ODataError(http.StatusBadRequest, "invalidRequest", "Declared fragment length does not match the provided number of bytes")
		}
		return nil
	})
	s := &sleeper{}
	c := newClient(t, f, s, sessionChunk)
	data := content(5<<20 + 11)
	_, err := c.Upload(t.Context(), "refused.csv", int64(len(data)), bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "graph status 400: invalidRequest: Declared fragment length") {
		t.Fatalf("error = %v, want Graph's refusal", err)
	}
	if errors.Is(err, sharepoint.ErrUnavailable) {
		t.Errorf("a 400 is not an outage: %v", err)
	}
	want := []string{chunkRange(0, len(data)), chunkRange(1, len(data)), "DELETE"}
	if diff := cmp.Diff(want, uploadRequests(f)); diff != "" {
		t.Errorf("upload requests (-want +got):\n%s", diff)
	}
	if len(s.Waits()) != 0 {
		t.Errorf("a refusal was retried after %v", s.Waits())
	}
}

// The second chunk arrives but its answer is lost (the connection drops): the
// uploader asks the session what it expects and goes on from there, without sending
// the same range twice.
func TestUploadResumesFromTheSessionsNextExpectedRange(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.AfterChunk(func(n int) graphfake.Fault {
		if n == 1 {
			return graphfake.ResetConnection
		}
		return nil
	})
	s := &sleeper{}
	c := newClient(t, f, s, sessionChunk)
	data := content(5<<20 + 11)
	if _, err := c.Upload(t.Context(), "resumed.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.File(folder + "/resumed.csv"); !bytes.Equal(stored, data) {
		t.Fatalf("stored %d bytes, want the %d given", len(stored), len(data))
	}
	want := []string{chunkRange(0, len(data)), chunkRange(1, len(data)), "GET",
		chunkRange(2, len(data)), chunkRange(3, len(data)), chunkRange(4, len(data))}
	if diff := cmp.Diff(want, uploadRequests(f)); diff != "" {
		t.Errorf("upload requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, s.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

// When the session cannot be asked either, the same range goes again; the session
// answers 416 (it has those bytes), is asked again, and the upload goes on.
func TestUploadRecoversFromAWrongRange(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.AfterChunk(func(n int) graphfake.Fault {
		if n == 1 {
			f.FailSessionStatus(1) // the next GET of the session fails too
			return graphfake.ResetConnection
		}
		return nil
	})
	s := &sleeper{}
	c := newClient(t, f, s, sessionChunk)
	data := content(5<<20 + 11)
	if _, err := c.Upload(t.Context(), "range.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.File(folder + "/range.csv"); !bytes.Equal(stored, data) {
		t.Fatalf("stored %d bytes, want the %d given", len(stored), len(data))
	}
	want := []string{chunkRange(0, len(data)), chunkRange(1, len(data)), "GET",
		chunkRange(1, len(data)), "GET", // 416, then the session says where it stands
		chunkRange(2, len(data)), chunkRange(3, len(data)), chunkRange(4, len(data))}
	if diff := cmp.Diff(want, uploadRequests(f)); diff != "" {
		t.Errorf("upload requests (-want +got):\n%s", diff)
	}
}

// A session that expires (or vanishes: 404) mid-upload is replaced once by a new one,
// which takes the whole file; a second loss is an error.
func TestExpiredSessionIsReplacedOnce(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.AfterChunk(func(n int) graphfake.Fault {
		if n == 1 {
			f.ExpireSessions() // the answer to this chunk still goes out
		}
		return nil
	})
	c := newClient(t, f, &sleeper{}, sessionChunk)
	data := content(5<<20 + 11)
	if _, err := c.Upload(t.Context(), "expired.csv", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.File(folder + "/expired.csv"); !bytes.Equal(stored, data) {
		t.Fatalf("stored %d bytes, want the %d given", len(stored), len(data))
	}
	if n := f.Sessions(); n != 2 {
		t.Errorf("%d sessions created, want 2", n)
	}

	// Every session expires after its second chunk: one replacement, then an error.
	g := newGraphFake(t)
	g.AfterChunk(func(n int) graphfake.Fault {
		if n%2 == 1 {
			g.ExpireSessions()
		}
		return nil
	})
	c = newClient(t, g, &sleeper{}, sessionChunk)
	_, err := c.Upload(t.Context(), "expired.csv", int64(len(data)), bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "upload session expired or no longer exists") {
		t.Fatalf("error = %v, want the expiry named", err)
	}
	if n := g.Sessions(); n != 2 {
		t.Errorf("%d sessions created, want 2", n)
	}
}

// stepClock moves on by step at every reading.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Between chunks the uploader checks that another chunk fits before the call's
// deadline; one that would not is not started.
func TestUploadStopsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.SetSessionTTL(24 * time.Hour)
	clock := &stepClock{now: time.Now(), step: 10 * time.Minute}
	c, err := sharepoint.New(sharepoint.Options{
		Credential: staticCredential{}, BaseURL: f.URL() + "/v1.0", DriveID: graphfake.DriveID, Folder: folder,
		HTTPClient: f.Client(), ChunkSize: sessionChunk, Sleep: (&sleeper{}).Sleep, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each chunk takes 10 minutes on this clock; 25 minutes are left at the first.
	ctx, cancel := context.WithDeadline(t.Context(), clock.now.Add(35*time.Minute))
	defer cancel()
	data := content(5<<20 + 11)
	_, err = c.Upload(ctx, "late.csv", int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no time left for another chunk") {
		t.Fatalf("error = %v, want the upload stopped for the deadline", err)
	}
	if got := uploadRequests(f); len(got) == 0 || len(got) >= 5 || got[len(got)-1] != "DELETE" {
		t.Errorf("upload requests %v: want a few chunks, then the session cancelled", got)
	}
}

// A session that keeps asking for the range it was just sent is given up on after the
// retries, not fed the same chunk forever.
func TestSessionThatDoesNotAdvanceIsGivenUp(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	f.BeforeChunk(func(n int) graphfake.Fault {
		if n == 0 {
			return nil
		}
		return graphfake.Reply(http.StatusAccepted, map[string]any{"nextExpectedRanges": []string{strconv.Itoa(int(sessionChunk)) + "-"}})
	})
	c := newClient(t, f, &sleeper{}, sessionChunk)
	data := content(5<<20 + 11)
	_, err := c.Upload(t.Context(), "stuck.csv", int64(len(data)), bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "does not move past byte 1310720") {
		t.Fatalf("error = %v, want the stuck session named", err)
	}
	got := uploadRequests(f)
	want := []string{chunkRange(0, len(data))}
	for range 5 { // the first attempt and 4 retries
		want = append(want, chunkRange(1, len(data)))
	}
	want = append(want, "DELETE")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("upload requests (-want +got):\n%s", diff)
	}
}
