// Package graphfake is a stand-in for the parts of Microsoft Graph the uploader uses
// and for the managed identity endpoint that hands out its tokens, for end-to-end
// tests and `make demo`: one drive whose items are addressed by path
// (/v1.0/drives/{drive}/items/root:/{path}:...), with
//
//   - PUT …:/content (simple upload; parent folders are created, as Graph does for
//     path-addressed uploads), answering the driveItem;
//   - POST …:/createUploadSession and PUT of byte ranges to the session's URL on the
//     same server (no Authorization header allowed), for files over 4 MiB;
//   - GET …: (the driveItem) and GET …:/children (files and folders, one page);
//   - DELETE …: (a file, or a folder with everything in it; 404 when absent);
//
// every Graph request needing "Authorization: Bearer <Token>". The identity endpoint
// speaks App Service's managed identity protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER)
// and hands out Token. It imports nothing of the Graph SDK.
package graphfake

import (
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
)

// Request is one request the fake received (method and path inside the drive).
type Request struct {
	Method string
	Path   string // the item path, e.g. metrics/latest/dora_metrics.csv; "" for others
	Action string // "content", "children", "createUploadSession", "upload", ""
	Status int
	At     time.Time
}

// Server is the fake Graph and identity endpoint.
type Server struct {
	graph    *httptest.Server
	identity *httptest.Server

	mu       sync.Mutex
	files    map[string]stored // path → content
	sessions map[string]*session
	requests []Request
}

type stored struct {
	data     []byte
	modified time.Time
}

type session struct {
	path     string
	received []byte
}

// New starts the fake on two loopback servers; Close stops them.
func New() *Server {
	s := &Server{files: map[string]stored{}, sessions: map[string]*session{}}
	s.graph = httptest.NewServer(http.HandlerFunc(s.serveGraph))
	s.identity = httptest.NewServer(http.HandlerFunc(s.serveIdentity))
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.graph.Close()
	s.identity.Close()
}

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
	s.files[strings.Trim(path, "/")] = stored{data: data, modified: modified}
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

// Requests returns what the fake received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != IdentityHeader {
		http.Error(w, `{"error":"invalid_request","error_description":"missing X-IDENTITY-HEADER"}`, http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": Token, "token_type": "Bearer", "resource": r.URL.Query().Get("resource"),
		"expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func odataError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Request{Method: r.Method, At: time.Now()}
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = rw.status
		s.requests = append(s.requests, rec)
	}()
	if id, ok := strings.CutPrefix(r.URL.Path, "/upload/"); ok {
		rec.Action = "upload"
		s.serveUpload(rw, r, id, body, &rec)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		odataError(rw, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	prefix := "/v1.0/drives/" + DriveID + "/items/root:/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		odataError(rw, http.StatusNotFound, "itemNotFound", "no route "+r.URL.Path)
		return
	}
	path, action, ok := strings.Cut(rest, ":")
	if !ok {
		odataError(rw, http.StatusBadRequest, "invalidRequest", "bad item path")
		return
	}
	path = strings.Trim(path, "/")
	rec.Path, rec.Action = path, strings.TrimPrefix(action, "/")
	switch {
	case r.Method == http.MethodPut && action == "/content":
		s.files[path] = stored{data: body, modified: time.Now()}
		writeJSON(rw, http.StatusCreated, s.item(path))
	case r.Method == http.MethodPost && action == "/createUploadSession":
		id := strconv.Itoa(len(s.sessions) + 1)
		s.sessions[id] = &session{path: path}
		writeJSON(rw, http.StatusOK, map[string]any{
			"uploadUrl":          s.graph.URL + "/upload/" + id,
			"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"nextExpectedRanges": []string{"0-"},
		})
	case r.Method == http.MethodGet && action == "/children":
		children, found := s.children(path)
		if !found {
			odataError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"value": children})
	case r.Method == http.MethodGet && action == "":
		if _, ok := s.files[path]; !ok {
			odataError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
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
			odataError(rw, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	default:
		odataError(rw, http.StatusMethodNotAllowed, "invalidRequest", r.Method+" "+r.URL.Path)
	}
}

// serveUpload takes one byte range of an upload session (no Authorization header:
// the URL is pre-authenticated).
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string, body []byte, rec *Request) {
	sess, ok := s.sessions[id]
	if !ok || r.Header.Get("Authorization") != "" {
		odataError(w, http.StatusNotFound, "itemNotFound", "The upload session was not found.")
		return
	}
	rec.Path = sess.path
	if r.Method == http.MethodDelete {
		delete(s.sessions, id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var start, end, total int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil ||
		start != len(sess.received) || end-start+1 != len(body) {
		odataError(w, http.StatusRequestedRangeNotSatisfiable, "invalidRange", "unexpected range")
		return
	}
	sess.received = append(sess.received, body...)
	if len(sess.received) < total {
		writeJSON(w, http.StatusAccepted, map[string]any{"nextExpectedRanges": []string{strconv.Itoa(len(sess.received)) + "-"}})
		return
	}
	s.files[sess.path] = stored{data: sess.received, modified: time.Now()}
	delete(s.sessions, id)
	writeJSON(w, http.StatusCreated, s.item(sess.path))
}

func (s *Server) item(path string) map[string]any {
	return map[string]any{
		"id":   "item-" + strings.ReplaceAll(path, "/", "-"),
		"name": path[strings.LastIndex(path, "/")+1:],
		"size": len(s.files[path].data),
		"file": map[string]any{"mimeType": "text/csv"},
	}
}

// children lists the files and folders directly inside folder (folders are implied
// by the stored paths).
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
		item := map[string]any{"id": "item-" + strings.ReplaceAll(folder+"/"+name, "/", "-"), "name": name,
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
