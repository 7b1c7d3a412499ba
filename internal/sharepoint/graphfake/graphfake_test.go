package graphfake_test

import (
	"bytes"
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
