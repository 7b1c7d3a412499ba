package graphfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
)

// The real uploader, with the managed identity the fake hands tokens out for, against
// the fake: a small and a large upload, a listing, a deletion.
func TestFakeServesTheUploader(t *testing.T) {
	f := graphfake.New()
	t.Cleanup(f.Close)
	settings := f.Settings("metrics")
	t.Setenv("IDENTITY_ENDPOINT", settings["IDENTITY_ENDPOINT"])
	t.Setenv("IDENTITY_HEADER", settings["IDENTITY_HEADER"])
	cred, err := sharepoint.NewManagedIdentityCredential("", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sharepoint.New(sharepoint.Options{Credential: cred, BaseURL: settings["GRAPH_API_URL"],
		DriveID: settings["SHAREPOINT_DRIVE_ID"], Folder: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("a;b\r\n1;2\r\n")
	large := bytes.Repeat([]byte("0123456789"), (sharepoint.SimpleUploadLimit+1000)/10)
	for path, data := range map[string][]byte{"latest/small.csv": small, "archive/2026-11-26/large.csv": large} {
		if _, err := c.Upload(t.Context(), path, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatalf("upload %s: %v", path, err)
		}
	}
	files := f.Files()
	if !bytes.Equal(files["metrics/latest/small.csv"], small) || !bytes.Equal(files["metrics/archive/2026-11-26/large.csv"], large) {
		t.Fatalf("stored %d files, not the uploaded bytes", len(files))
	}
	f.Put("metrics/archive/2026-10-01/old.csv", []byte("x"), time.Now())
	folders, err := c.ListFolders(t.Context(), "archive")
	if err != nil || strings.Join(folders, " ") != "2026-10-01 2026-11-26" {
		t.Fatalf("ListFolders = %v, %v", folders, err)
	}
	if err := c.Delete(t.Context(), "archive/2026-10-01"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Files()["metrics/archive/2026-10-01/old.csv"]; ok {
		t.Error("the folder survived its deletion")
	}
	for _, r := range f.Requests() {
		if r.Status >= 400 {
			t.Errorf("request %+v failed", r)
		}
	}
}

// An upload session spoken to in plain HTTP, as Graph documents it: the ranges it
// expects, a range out of turn, its state, its end, a token on the pre-authenticated
// URL, an expired session.
func TestUploadSessionProtocol(t *testing.T) {
	t.Parallel()
	f := graphfake.New()
	t.Cleanup(f.Close)
	call := func(method, url, auth, contentRange string, body []byte) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if contentRange != "" {
			req.Header.Set("Content-Range", contentRange)
		}
		resp, err := f.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		return resp.StatusCode, answer
	}
	bearer := "Bearer " + graphfake.Token
	create := f.URL() + "/v1.0/drives/" + graphfake.DriveID + "/items/root:/metrics/big.csv:/createUploadSession"
	request := []byte(`{"item":{"@microsoft.graph.conflictBehavior":"replace"}}`)

	if status, _ := call(http.MethodPost, create, "", "", request); status != http.StatusUnauthorized {
		t.Errorf("createUploadSession without a token: %d, want 401", status)
	}
	status, session := call(http.MethodPost, create, bearer, "", request)
	upload, _ := session["uploadUrl"].(string)
	if status != http.StatusOK || !strings.HasPrefix(upload, f.SharePointURL()+graphfake.UploadSessionPath+"?") ||
		!strings.Contains(upload, "tempauth="+f.UploadCredential(1)) || fmt.Sprint(session["nextExpectedRanges"]) != "[0-]" {
		t.Fatalf("createUploadSession = %d %v", status, session)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(session["expirationDateTime"])); err != nil {
		t.Errorf("expirationDateTime: %v", err)
	}
	if got := f.SessionRequest(); fmt.Sprint(got) != "map[item:map[@microsoft.graph.conflictBehavior:replace]]" {
		t.Errorf("SessionRequest = %v", got)
	}

	data := []byte("0123456789")
	steps := []struct {
		method, auth, contentRange string
		body                       []byte
		status                     int
		next                       string // nextExpectedRanges; "" for none
	}{
		{http.MethodPut, bearer, "bytes 0-3/10", data[:4], http.StatusUnauthorized, ""},
		{http.MethodPut, "", "bytes 0-3/10", data[:4], http.StatusAccepted, "[4-]"},
		{http.MethodPut, "", "bytes 0-3/10", data[:4], http.StatusRequestedRangeNotSatisfiable, ""},
		{http.MethodPut, "", "bytes 4-9/10", data[4:8], http.StatusRequestedRangeNotSatisfiable, ""},
		{http.MethodGet, "", "", nil, http.StatusOK, "[4-]"},
		{http.MethodPut, "", "bytes 4-9/10", data[4:], http.StatusCreated, ""},
		{http.MethodGet, "", "", nil, http.StatusNotFound, ""},
	}
	for i, s := range steps {
		status, answer := call(s.method, upload, s.auth, s.contentRange, s.body)
		next := ""
		if r, ok := answer["nextExpectedRanges"]; ok {
			next = fmt.Sprint(r)
		}
		if status != s.status || next != s.next {
			t.Errorf("step %d, %s %s: %d %v; want %d with nextExpectedRanges %q", i, s.method, s.contentRange, status, answer, s.status, s.next)
		}
		if s.status == http.StatusCreated && (answer["id"] != "item-metrics-big.csv" || answer["size"] != float64(len(data))) {
			t.Errorf("the last fragment's answer %v is not the driveItem", answer)
		}
	}
	if got, _ := f.File("metrics/big.csv"); !bytes.Equal(got, data) {
		t.Errorf("stored %q, want %q", got, data)
	}

	// A session past its expiry is gone.
	_, session = call(http.MethodPost, create, bearer, "", request)
	f.ExpireSessions()
	if status, _ := call(http.MethodPut, session["uploadUrl"].(string), "", "bytes 0-9/10", data); status != http.StatusNotFound {
		t.Errorf("PUT to an expired session: %d, want 404", status)
	}
	if n := f.Sessions(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	var uploads []string
	for _, r := range f.Requests() {
		if r.Action == "upload" {
			uploads = append(uploads, r.Method+" "+r.Path+" "+strconv.Itoa(r.Status))
		}
	}
	want := []string{"PUT metrics/big.csv 401", "PUT metrics/big.csv 202", "PUT metrics/big.csv 416", "PUT metrics/big.csv 416",
		"GET metrics/big.csv 200", "PUT metrics/big.csv 201", "GET metrics/big.csv 404", "PUT metrics/big.csv 404"}
	if strings.Join(uploads, ", ") != strings.Join(want, ", ") {
		t.Errorf("recorded upload requests\n%v\nwant\n%v", uploads, want)
	}
}

// Faults answer in the fake's place, in order; a dropped connection is recorded
// without a status.
func TestFaults(t *testing.T) {
	t.Parallel()
	f := graphfake.New()
	t.Cleanup(f.Close)
	f.FailNext(graphfake.Throttle(http.StatusTooManyRequests, "7"), graphfake.ResetConnection)
	url := f.URL() + "/v1.0/drives/" + graphfake.DriveID + "/items/root:/metrics/a.csv:"
	resp, err := f.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("first answer %d, Retry-After %q; want the throttling", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if _, err := f.Client().Get(url); err == nil {
		t.Error("the second request got an answer; want the connection dropped")
	}
	resp, err = f.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("third answer %d, want the fake's own 401 (no token)", resp.StatusCode)
	}
	var statuses []int
	for _, r := range f.Requests() {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[429 0 401]" {
		t.Errorf("recorded statuses %v, want [429 0 401]", statuses)
	}
}
