// Package graphfake is a stand-in for the parts of Microsoft Graph the uploader uses
// and for the managed identity endpoint that hands out its tokens, for the sharepoint
// package's tests, end-to-end tests and `make demo`: one drive whose items are
// addressed by path (/v1.0/drives/{drive}/items/root:/{path}:...), with
//
//   - PUT …:/content (simple upload; parent folders are created, as Graph does for
//     path-addressed uploads), answering the driveItem: 201 when new, 200 replaced;
//   - POST …:/createUploadSession, answering an upload URL on a second server (another
//     origin, as SharePoint's are), pre-authenticated by a signed tempauth token in its
//     query; it takes no Authorization header (401). There, PUT of a byte range
//     (Content-Range) answers 202 with nextExpectedRanges, or 201/200 with the
//     driveItem once the last byte arrived; 416 for a range other than the next
//     expected one; GET answers the session's state; DELETE 204; anything after the
//     session's expiry (SessionTTL after its last fragment) or deletion 404;
//   - GET …: (the driveItem) and GET …:/children (files and folders, one page);
//   - DELETE …: (a file, or a folder with everything in it; 404 when absent);
//
// every Graph request needing "Authorization: Bearer <Token>". The identity endpoint
// speaks App Service's managed identity protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER)
// and hands out Token.
//
// Tests inject failures: FailNext answers the next Graph requests in the fake's place,
// BeforeChunk and AfterChunk answer a fragment instead of storing it or after storing
// it, FailSessionStatus fails the next session queries, ExpireSessions ends every
// session, OmitNextExpectedRanges and DropFinalItem give the less common answers. The
// fake records every request it receives (Requests). It is safe for concurrent use and
// imports nothing of the Graph SDK.
package graphfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fixed identities of the fake.
const (
	DriveID        = "b!fake-drive-0001"
	SiteID         = "contoso.sharepoint.com,00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002"
	Token          = "fake-graph-token-for-the-managed-identity"
	IdentityHeader = "fake-identity-header-value"
	// UploadSessionPath is where the upload URLs point on the SharePoint server.
	UploadSessionPath = "/sites/metrics/_api/v2.0/drives/" + DriveID + "/items/root/uploadSession"
	// SessionTTL is how long an upload session lives after its creation or its last
	// fragment, unless SetSessionTTL changes it.
	SessionTTL = 15 * time.Minute
)

// Request is one request the fake received, on the Graph or the SharePoint server.
type Request struct {
	Host    string // host:port of the server that received it
	Method  string
	URLPath string // the URL's path, e.g. /v1.0/drives/…/items/root:/metrics/a.csv:/content
	Path    string // the item path, e.g. metrics/latest/dora_metrics.csv; "" for others
	Action  string // "content", "children", "createUploadSession", "upload" (an upload URL), ""
	// Headers the tests look at, and the body's length.
	Auth            string // Authorization
	ContentEncoding string
	ContentRange    string
	BodyLen         int
	Status          int // the answer's status; 0 when the connection was dropped without one
	At              time.Time
}

// A Fault answers a request in the fake's place.
type Fault func(w http.ResponseWriter)

// A ChunkHook chooses how fragment n (counted from 0 over every upload session) is
// answered: a Fault, or nil for the fake's own answer.
type ChunkHook func(n int) Fault

// Server is the fake Graph, SharePoint upload and identity endpoint.
type Server struct {
	graph      *httptest.Server
	sharepoint *httptest.Server // the upload URLs
	identity   *httptest.Server

	mu             sync.Mutex
	files          map[string]stored // path → content
	sessions       map[string]*session
	requests       []Request
	tokenResources []string
	sessionRequest []byte // the last createUploadSession body
	chunks         int    // fragments received

	// What tests inject.
	failNext       []Fault
	beforeChunk    ChunkHook
	afterChunk     ChunkHook
	statusFailures int
	noRanges       bool
	dropFinalItem  bool
	sessionTTL     time.Duration
}

type stored struct {
	data     []byte
	modified time.Time
}

type session struct {
	path     string
	received []byte
	total    int
	expires  time.Time
	deleted  bool // cancelled or complete
}

// New starts the fake on three loopback servers; Close stops them.
func New() *Server {
	s := &Server{files: map[string]stored{}, sessions: map[string]*session{}, sessionTTL: SessionTTL}
	s.graph = httptest.NewServer(http.HandlerFunc(s.serveGraph))
	s.sharepoint = httptest.NewServer(http.HandlerFunc(s.serveUpload))
	s.identity = httptest.NewServer(http.HandlerFunc(s.serveIdentity))
	return s
}

// Close stops the servers.
func (s *Server) Close() {
	s.graph.Close()
	s.sharepoint.Close()
	s.identity.Close()
}

// URL is the Graph server's origin (scheme://host:port); the API is under URL()+"/v1.0".
func (s *Server) URL() string { return s.graph.URL }

// SharePointURL is the origin of the upload URLs.
func (s *Server) SharePointURL() string { return s.sharepoint.URL }

// Client is an HTTP client for the fake's servers.
func (s *Server) Client() *http.Client { return s.graph.Client() }

// Settings are the app settings that point the service at the fake: the Graph
// endpoint, site, drive and folder, and the managed identity endpoint.
func (s *Server) Settings(folder string) map[string]string {
	return map[string]string{
		"GRAPH_API_URL":       s.graph.URL + "/v1.0",
		"SHAREPOINT_SITE_ID":  SiteID,
		"SHAREPOINT_DRIVE_ID": DriveID,
		"SHAREPOINT_FOLDER":   folder,
		"IDENTITY_ENDPOINT":   s.identity.URL + "/msi/token",
		"IDENTITY_HEADER":     IdentityHeader,
	}
}

// Put stores a file at path (seeding a test).
func (s *Server) Put(path string, data []byte, modified time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[strings.Trim(path, "/")] = stored{data: slices.Clone(data), modified: modified}
}

// File returns the file stored at path.
func (s *Server) File(path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[strings.Trim(path, "/")]
	return slices.Clone(f.data), ok
}

// Files returns the stored files by path.
func (s *Server) Files() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.files))
	for p, f := range s.files {
		out[p] = slices.Clone(f.data)
	}
	return out
}

// Requests returns what the Graph and SharePoint servers received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TokenResources returns the resource of every token the identity endpoint handed
// out, in order.
func (s *Server) TokenResources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenResources)
}

// Sessions returns how many upload sessions were created.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// SessionRequest returns the body of the last createUploadSession request; nil
// before the first.
func (s *Server) SessionRequest() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body map[string]any
	_ = json.Unmarshal(s.sessionRequest, &body)
	return body
}

// UploadCredential is the tempauth token in the upload URL of session n (from 1, in
// the order of creation): the credential the URL's query carries.
func (s *Server) UploadCredential(n int) string { return tempauth(strconv.Itoa(n)) }

// FailNext makes the faults answer the next requests to the Graph server, one each,
// in order, before the token is checked.
func (s *Server) FailNext(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, faults...)
}

// BeforeChunk lets h answer a fragment in place of storing it.
func (s *Server) BeforeChunk(h ChunkHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeChunk = h
}

// AfterChunk lets h answer a fragment once it is stored (and the session's expiry
// extended); a fragment h answers is not the last one to complete the file.
func (s *Server) AfterChunk(h ChunkHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterChunk = h
}

// FailSessionStatus makes the next n GETs of an upload session answer 503.
func (s *Server) FailSessionStatus(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFailures += n
}

// ExpireSessions makes every upload session expire now, as if its time ran out.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, sess := range s.sessions {
		sess.expires = now
	}
}

// SetSessionTTL sets how long sessions created from now on live after their creation
// or their last fragment.
func (s *Server) SetSessionTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionTTL = d
}

// OmitNextExpectedRanges makes createUploadSession answer without
// nextExpectedRanges, which Graph documents as optional.
func (s *Server) OmitNextExpectedRanges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRanges = true
}

// DropFinalItem makes an upload session accept every byte yet answer the last
// fragment without the driveItem and store nothing.
func (s *Server) DropFinalItem() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropFinalItem = true
}

// Throttle answers with status and Retry-After (empty: no header).
func Throttle(status int, retryAfter string) Fault {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, status, "activityLimitReached", "Too many requests")
	}
}

// ODataError answers with Graph's error payload.
func ODataError(status int, code, message string) Fault {
	return func(w http.ResponseWriter) { writeError(w, status, code, message) }
}

// Reply answers with status and v as JSON.
func Reply(status int, v any) Fault {
	return func(w http.ResponseWriter) { writeJSON(w, status, v) }
}

// ResetConnection drops the connection without an answer, as a network failure does.
func ResetConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != IdentityHeader {
		http.Error(w, `{"error":"invalid_request","error_description":"missing X-IDENTITY-HEADER"}`, http.StatusBadRequest)
		return
	}
	resource := r.URL.Query().Get("resource")
	s.mu.Lock()
	s.tokenResources = append(s.tokenResources, resource)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": Token, "token_type": "Bearer", "resource": resource,
		"expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

// begin records a request; the deferred call of the function it returns records the
// answer's status.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, body []byte, path, action string) (*statusWriter, int, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Host: r.Host, Method: r.Method, URLPath: r.URL.Path, Path: path, Action: action,
		Auth: r.Header.Get("Authorization"), ContentEncoding: r.Header.Get("Content-Encoding"),
		ContentRange: r.Header.Get("Content-Range"), BodyLen: len(body), At: time.Now(),
	})
	i := len(s.requests) - 1
	rw := &statusWriter{ResponseWriter: w}
	return rw, i, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[i].Status = rw.status
	}
}

// route splits a drive-item URL path into the item path and the action after it.
func route(urlPath string) (path, action string, ok bool) {
	rest, ok := strings.CutPrefix(urlPath, "/v1.0/drives/"+DriveID+"/items/root:/")
	if !ok {
		return "", "", false
	}
	path, action, ok = strings.Cut(rest, ":")
	return strings.Trim(path, "/"), strings.TrimPrefix(action, "/"), ok
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) == 0 {
		return nil
	}
	fault := s.failNext[0]
	s.failNext = s.failNext[1:]
	return fault
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, action, routed := route(r.URL.Path)
	rw, _, answered := s.begin(w, r, body, path, action)
	defer answered()
	if fault := s.nextFault(); fault != nil {
		fault(rw)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+Token {
		writeError(rw, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	if !routed {
		writeError(rw, http.StatusNotFound, "itemNotFound", "no route "+r.URL.Path)
		return
	}
	switch {
	case r.Method == http.MethodPut && action == "content":
		status := http.StatusCreated
		if _, existed := s.files[path]; existed {
			status = http.StatusOK // replaced
		}
		s.files[path] = stored{data: body, modified: time.Now()}
		writeJSON(rw, status, s.item(path))
	case r.Method == http.MethodPost && action == "createUploadSession":
		if !json.Valid(body) {
			writeError(rw, http.StatusBadRequest, "invalidRequest", "body is not JSON")
			return
		}
		s.sessionRequest = body
		id := strconv.Itoa(len(s.sessions) + 1)
		sess := &session{path: path, expires: time.Now().Add(s.sessionTTL)}
		s.sessions[id] = sess
		reply := map[string]any{
			"uploadUrl":          s.sharepoint.URL + UploadSessionPath + "?guid='" + id + "'&overwrite=True&rename=False&dc=0&tempauth=" + tempauth(id),
			"expirationDateTime": sess.expires.UTC().Format(time.RFC3339),
		}
		if !s.noRanges {
			reply["nextExpectedRanges"] = []string{"0-"}
		}
		writeJSON(rw, http.StatusOK, reply)
	case r.Method == http.MethodGet && action == "children":
		children, found := s.children(path)
		if !found {
			writeError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"value": children})
	case r.Method == http.MethodGet && action == "":
		if _, ok := s.files[path]; !ok {
			writeError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(rw, http.StatusOK, s.item(path))
	case r.Method == http.MethodDelete && action == "":
		deleted := false
		for p := range s.files {
			if p == path || strings.HasPrefix(p, path+"/") {
				delete(s.files, p)
				deleted = true
			}
		}
		if !deleted {
			writeError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	default:
		writeError(rw, http.StatusMethodNotAllowed, "invalidRequest", r.Method+" "+r.URL.Path)
	}
}

// serveUpload serves the upload URLs (see the package comment). The chunk hooks run
// outside the lock, so they may call the Server's methods.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	action := ""
	if r.URL.Path == UploadSessionPath {
		action = "upload"
	}
	rw, i, answered := s.begin(w, r, body, "", action)
	defer answered()
	sess, n, ok := s.openSession(rw, r, i)
	if !ok {
		return
	}
	if fault := s.chunkFault(false, n); fault != nil {
		fault(rw)
		return
	}
	if !s.storeFragment(rw, r, sess, body) {
		return
	}
	if fault := s.chunkFault(true, n); fault != nil {
		fault(rw)
		return // the fragment was stored, the answer is the hook's
	}
	s.answerFragment(rw, sess)
}

// openSession checks the upload URL and answers all but a PUT, whose fragment number
// it returns.
func (s *Server) openSession(w http.ResponseWriter, r *http.Request, i int) (*session, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.Trim(r.URL.Query().Get("guid"), "'")
	sess, ok := s.sessions[id]
	ok = ok && r.URL.Path == UploadSessionPath && r.URL.Query().Get("tempauth") == tempauth(id)
	if ok {
		s.requests[i].Path = sess.path
	}
	if r.Header.Get("Authorization") != "" {
		// SharePoint answers 401 to a token it did not issue on a pre-authenticated URL.
		writeError(w, http.StatusUnauthorized, "unauthenticated", "the upload URL takes no Authorization header")
		return nil, 0, false
	}
	if !ok || sess.deleted || !time.Now().Before(sess.expires) {
		writeError(w, http.StatusNotFound, "itemNotFound", "The upload session was not found or has expired.")
		return nil, 0, false
	}
	switch r.Method {
	case http.MethodGet:
		if s.statusFailures > 0 {
			s.statusFailures--
			writeError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "try again")
			return nil, 0, false
		}
		writeJSON(w, http.StatusOK, sessionState(sess))
	case http.MethodDelete:
		sess.deleted = true
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		n := s.chunks
		s.chunks++
		return sess, n, true
	default:
		writeError(w, http.StatusMethodNotAllowed, "invalidRequest", r.Method)
	}
	return nil, 0, false
}

// chunkFault asks the BeforeChunk or (after) the AfterChunk hook, outside the lock,
// how to answer fragment n.
func (s *Server) chunkFault(after bool, n int) Fault {
	s.mu.Lock()
	h := s.beforeChunk
	if after {
		h = s.afterChunk
	}
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(n)
}

// storeFragment takes the fragment if its range is the next one expected.
func (s *Server) storeFragment(w http.ResponseWriter, r *http.Request, sess *session, body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var start, end, total int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil {
		writeError(w, http.StatusBadRequest, "invalidRange", "bad Content-Range")
		return false
	}
	if start != len(sess.received) || end-start+1 != len(body) || end >= total {
		writeError(w, http.StatusRequestedRangeNotSatisfiable, "invalidRange",
			fmt.Sprintf("got %d-%d (%d bytes), expected to start at %d", start, end, len(body), len(sess.received)))
		return false
	}
	sess.received = append(sess.received, body...)
	sess.total = total
	sess.expires = time.Now().Add(s.sessionTTL) // each fragment extends the session
	return true
}

// answerFragment answers a stored fragment: the session's state, or the driveItem
// once the file is complete.
func (s *Server) answerFragment(w http.ResponseWriter, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(sess.received) < sess.total {
		writeJSON(w, http.StatusAccepted, sessionState(sess))
		return
	}
	status := http.StatusCreated
	if _, existed := s.files[sess.path]; existed {
		status = http.StatusOK // replaced
	}
	sess.deleted = true
	if s.dropFinalItem {
		writeJSON(w, status, map[string]any{})
		return
	}
	s.files[sess.path] = stored{data: sess.received, modified: time.Now()}
	writeJSON(w, status, s.item(sess.path))
}

func sessionState(sess *session) map[string]any {
	return map[string]any{
		"expirationDateTime": sess.expires.UTC().Format(time.RFC3339),
		"nextExpectedRanges": []string{strconv.Itoa(len(sess.received)) + "-"},
	}
}

// tempauth is a session's credential: a signed JWT, as SharePoint's are.
func tempauth(id string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	claims := enc.EncodeToString([]byte(`{"aud":"00000003-0000-0ff1-ce00-000000000000/contoso.sharepoint.com","sid":"` + id + `","exp":1795000000}`))
	sig := sha256.Sum256([]byte("fake-signing-key:" + id))
	return "v1." + header + "." + claims + "." + enc.EncodeToString(sig[:])
}

func (s *Server) item(path string) map[string]any {
	f := s.files[path]
	return map[string]any{
		"@odata.context":       s.graph.URL + "/v1.0/$metadata#drives('" + DriveID + "')/items/$entity",
		"id":                   itemID(path),
		"name":                 path[strings.LastIndex(path, "/")+1:],
		"size":                 len(f.data),
		"lastModifiedDateTime": f.modified.UTC().Format(time.RFC3339),
		"file":                 map[string]any{"mimeType": "text/csv"},
	}
}

func itemID(path string) string { return "item-" + strings.ReplaceAll(path, "/", "-") }

// children lists the files and folders directly inside folder (folders are implied
// by the stored paths), by name.
func (s *Server) children(folder string) ([]map[string]any, bool) {
	seen := map[string]bool{}
	out := []map[string]any{}
	found := false
	for p, f := range s.files {
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
		item := map[string]any{"id": itemID(folder + "/" + name), "name": name,
			"lastModifiedDateTime": f.modified.UTC().Format(time.RFC3339)}
		if isFolder {
			item["folder"] = map[string]any{"childCount": 1}
		} else {
			item["file"] = map[string]any{"mimeType": "text/csv"}
			item["size"] = len(f.data)
		}
		out = append(out, item)
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(a["name"].(string), b["name"].(string)) })
	return out, found
}

// statusWriter remembers the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (ResetConnection).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
