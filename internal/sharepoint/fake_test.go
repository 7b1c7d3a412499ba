package sharepoint_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	testToken = "graph-token-s3cr3t-value"
	driveID   = "b!drive-1"
)

// staticCredential hands out one known token, so tests can look for it everywhere.
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// request is what the fake saw of one request.
type request struct {
	Host, Method, Path string
	Auth               string
	ContentEncoding    string
	ContentRange       string
	BodyLen            int
}

// graphFake serves the Graph drive-item endpoints on one httptest server and the
// upload-session URLs on another (a different origin, as SharePoint's are), shaped
// like the documented responses.
type graphFake struct {
	t      *testing.T
	token  string // the bearer token Graph accepts
	graph  *httptest.Server
	upload *httptest.Server

	mu       sync.Mutex
	files    map[string][]byte // path inside the drive → content
	requests []request
	sessions map[string]*uploadSession
	nextID   int

	// Knobs.
	failNext       []func(w http.ResponseWriter) bool      // answered in order before normal handling
	noRanges       bool                                    // session replies without nextExpectedRanges
	sessionBody    map[string]any                          // last createUploadSession body
	chunkFailure   func(n int, w http.ResponseWriter) bool // answers chunk n instead of storing it
	afterChunk     func(n int, w http.ResponseWriter) bool // answers chunk n after storing it
	dropFinalItem  bool                                    // the last chunk's answer holds no item, nothing is stored
	statusFailures int                                     // GETs of a session answered 503
	chunks         int
	now            func() time.Time // the fake's clock: session expiry
	sessionTTL     time.Duration
}

type uploadSession struct {
	path     string
	received []byte
	expires  time.Time
	deleted  bool
}

func newGraphFake(t *testing.T) *graphFake {
	f := &graphFake{t: t, token: testToken, files: map[string][]byte{}, sessions: map[string]*uploadSession{},
		now: time.Now, sessionTTL: 15 * time.Minute}
	f.graph = httptest.NewServer(http.HandlerFunc(f.serveGraph))
	f.upload = httptest.NewServer(http.HandlerFunc(f.serveUpload))
	t.Cleanup(f.graph.Close)
	t.Cleanup(f.upload.Close)
	return f
}

func (f *graphFake) record(r *http.Request, body []byte) {
	f.requests = append(f.requests, request{
		Host: r.Host, Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
		ContentEncoding: r.Header.Get("Content-Encoding"), ContentRange: r.Header.Get("Content-Range"), BodyLen: len(body),
	})
}

func (f *graphFake) Requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func (f *graphFake) File(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[path]
	return b, ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func odataError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func (f *graphFake) driveItem(path string) map[string]any {
	name := path[strings.LastIndex(path, "/")+1:]
	return map[string]any{
		"@odata.context": f.graph.URL + "/v1.0/$metadata#drives('" + driveID + "')/items/$entity",
		"id":             "item-" + strings.ReplaceAll(path, "/", "-"),
		"name":           name,
		"size":           len(f.files[path]),
		"file":           map[string]any{"mimeType": "text/csv"},
	}
}

func (f *graphFake) serveGraph(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r, body)
	if len(f.failNext) > 0 {
		fail := f.failNext[0]
		f.failNext = f.failNext[1:]
		if fail(w) {
			return
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		odataError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	prefix := "/v1.0/drives/" + driveID + "/items/root:/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		odataError(w, http.StatusNotFound, "itemNotFound", "no route "+r.URL.Path)
		return
	}
	path, action, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), ":")
	if !ok {
		odataError(w, http.StatusBadRequest, "invalidRequest", "bad item path")
		return
	}
	switch {
	case r.Method == http.MethodPut && action == "/content":
		f.files[path] = body
		writeJSON(w, http.StatusCreated, f.driveItem(path))
	case r.Method == http.MethodPost && action == "/createUploadSession":
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			odataError(w, http.StatusBadRequest, "invalidRequest", "body is not JSON")
			return
		}
		f.sessionBody = req
		f.nextID++
		id := strconv.Itoa(f.nextID)
		f.sessions[id] = &uploadSession{path: path, expires: f.now().Add(f.sessionTTL)}
		reply := map[string]any{
			"uploadUrl":          f.uploadURL(id),
			"expirationDateTime": f.sessions[id].expires.UTC().Format(time.RFC3339),
		}
		if !f.noRanges {
			reply["nextExpectedRanges"] = []string{"0-"}
		}
		writeJSON(w, http.StatusOK, reply)
	case r.Method == http.MethodGet && action == "/children":
		children, ok := f.children(path)
		if !ok {
			odataError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": children})
	case r.Method == http.MethodDelete && action == "":
		deleted := false
		for p := range f.files {
			if p == path || strings.HasPrefix(p, path+"/") {
				delete(f.files, p)
				deleted = true
			}
		}
		if !deleted {
			odataError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && action == "":
		if _, ok := f.files[path]; !ok {
			odataError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(w, http.StatusOK, f.driveItem(path))
	default:
		odataError(w, http.StatusMethodNotAllowed, "invalidRequest", r.Method+" "+r.URL.Path)
	}
}

// children lists the items directly inside folder (folders implied by the stored
// files' paths), as GET …/children answers: files with a file facet, folders with a
// folder facet.
func (f *graphFake) children(folder string) ([]map[string]any, bool) {
	seen := map[string]bool{}
	var out []map[string]any
	found := false
	for p := range f.files {
		rest, ok := strings.CutPrefix(p, folder+"/")
		if !ok {
			continue
		}
		found = true
		name, _, isFolder := strings.Cut(rest, "/")
		if seen[name] {
			continue
		}
		seen[name] = true
		item := map[string]any{"id": "item-" + strings.ReplaceAll(folder+"/"+name, "/", "-"), "name": name}
		if isFolder {
			item["folder"] = map[string]any{"childCount": 1}
		} else {
			item["file"] = map[string]any{"mimeType": "text/csv"}
			item["size"] = len(f.files[p])
		}
		out = append(out, item)
	}
	return out, found
}

// serveUpload serves the upload URLs as Graph documents them: PUT a byte range
// (Content-Range) → 202 with nextExpectedRanges, or 201/200 with the driveItem once the
// last byte arrived; 416 for a range other than the next expected one; GET → the
// session's state; DELETE → 204; any request after expiry or deletion → 404.
func (f *graphFake) serveUpload(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r, body)
	if r.Header.Get("Authorization") != "" {
		// SharePoint answers 401 to a token it did not issue on a pre-authenticated URL.
		odataError(w, http.StatusUnauthorized, "unauthenticated", "the upload URL takes no Authorization header")
		return
	}
	id := strings.Trim(r.URL.Query().Get("guid"), "'")
	s, ok := f.sessions[id]
	if !ok || r.URL.Path != uploadSessionPath || r.URL.Query().Get("tempauth") != tempauth(id) ||
		s.deleted || !f.now().Before(s.expires) {
		odataError(w, http.StatusNotFound, "itemNotFound", "The upload session was not found or has expired.")
		return
	}
	switch r.Method {
	case http.MethodGet:
		if f.statusFailures > 0 {
			f.statusFailures--
			odataError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "try again")
			return
		}
		writeJSON(w, http.StatusOK, f.sessionState(s))
		return
	case http.MethodDelete:
		s.deleted = true
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPut:
	default:
		odataError(w, http.StatusMethodNotAllowed, "invalidRequest", r.Method)
		return
	}
	n := f.chunks
	f.chunks++
	if f.chunkFailure != nil && f.chunkFailure(n, w) {
		return
	}
	var start, end, total int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil {
		odataError(w, http.StatusBadRequest, "invalidRange", "bad Content-Range")
		return
	}
	if start != len(s.received) || end-start+1 != len(body) || end >= total {
		odataError(w, http.StatusRequestedRangeNotSatisfiable, "invalidRange",
			fmt.Sprintf("got %d-%d (%d bytes), expected to start at %d", start, end, len(body), len(s.received)))
		return
	}
	s.received = append(s.received, body...)
	s.expires = f.now().Add(f.sessionTTL) // each fragment extends the session
	if f.afterChunk != nil && f.afterChunk(n, w) {
		return // the fragment was stored, the answer is the knob's
	}
	if len(s.received) < total {
		writeJSON(w, http.StatusAccepted, f.sessionState(s))
		return
	}
	status := http.StatusCreated
	if _, existed := f.files[s.path]; existed {
		status = http.StatusOK // replaced
	}
	s.deleted = true
	if f.dropFinalItem {
		writeJSON(w, status, map[string]any{})
		return
	}
	f.files[s.path] = s.received
	writeJSON(w, status, f.driveItem(s.path))
}

func (f *graphFake) sessionState(s *uploadSession) map[string]any {
	return map[string]any{
		"expirationDateTime": s.expires.UTC().Format(time.RFC3339),
		"nextExpectedRanges": []string{strconv.Itoa(len(s.received)) + "-"},
	}
}

// Sessions returns how many upload sessions were created.
func (f *graphFake) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// expireSessions makes every session expire now, as if its time ran out.
func (f *graphFake) expireSessions() {
	for _, s := range f.sessions {
		s.expires = f.now()
	}
}

// uploadSessionPath is where SharePoint's upload URLs point.
const uploadSessionPath = "/sites/metrics/_api/v2.0/drives/" + driveID + "/items/root/uploadSession"

// uploadURL is shaped like the URLs SharePoint hands out: pre-authenticated by a
// signed tempauth token in the query, which is a credential to the session.
func (f *graphFake) uploadURL(id string) string {
	return f.upload.URL + uploadSessionPath + "?guid='" + id + "'&overwrite=True&rename=False&dc=0&tempauth=" + tempauth(id)
}

// tempauth is the session's credential: a signed JWT, as SharePoint's are.
func tempauth(id string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	claims := enc.EncodeToString([]byte(`{"aud":"00000003-0000-0ff1-ce00-000000000000/contoso.sharepoint.com","sid":"` + id + `","exp":1795000000}`))
	sig := sha256.Sum256([]byte("fake-signing-key:" + id))
	return "v1." + header + "." + claims + "." + enc.EncodeToString(sig[:])
}

// resetConnection drops the connection without an answer, as a network failure does.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// throttle answers the next request with status and Retry-After (empty: no header).
func throttle(status int, retryAfter string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		odataError(w, status, "activityLimitReached", "Too many requests")
		return true
	}
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
