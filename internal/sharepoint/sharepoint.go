// Package sharepoint uploads the export files into a SharePoint document library
// through Microsoft Graph, app-only. It is the only package that imports the Graph SDK
// (msgraph-sdk-go): only its drives and models packages, never the root package, which
// takes minutes to compile.
//
// Files up to 4 MiB go in one PUT to root:/<folder>/<name>:/content (which replaces
// a file of the same name); larger files go through an upload session created with
// conflictBehavior=replace, in chunks that are multiples of 320 KiB, sent by this
// package with the call's context (session.go) rather than by the SDK's large-file
// task. Either way the stored item's size is checked before an upload counts as done.
package sharepoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	graphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Limits of the Graph upload APIs.
const (
	// SimpleUploadLimit is the largest file sent in a single PUT.
	SimpleUploadLimit = 4 << 20
	// ChunkUnit: every upload-session chunk but the last must be a multiple of it.
	ChunkUnit = 320 << 10
	// DefaultChunkSize is 16 × 320 KiB = 5 MiB, inside Graph's advice of 5–10 MiB.
	DefaultChunkSize = 16 * ChunkUnit
	maxChunkSize     = 60 << 20
	// DefaultBaseURL is the Graph endpoint of the global cloud.
	DefaultBaseURL = "https://graph.microsoft.com/v1.0"
)

// Options configure a Client.
type Options struct {
	// Credential gets app-only tokens: NewManagedIdentityCredential (the default in
	// production) or NewClientSecretCredential.
	Credential azcore.TokenCredential
	// BaseURL is GRAPH_API_URL, default DefaultBaseURL. The token is sent to this host
	// (scheme, host and port) and to no other.
	BaseURL string
	// DriveID is the document library (SHAREPOINT_DRIVE_ID).
	DriveID string
	// Folder is the path inside the library (SHAREPOINT_FOLDER); empty = its root.
	Folder string
	// HTTPClient supplies the transport (tests: an httptest server's client). Its
	// Timeout, if set, bounds each request; default 2 minutes.
	HTTPClient *http.Client
	// ChunkSize of upload sessions: a multiple of 320 KiB below 60 MiB.
	ChunkSize int64
	// MaxRetries per request on throttling and transient failures (default 4), and
	// MaxWait the most time one request may spend waiting between them (default 2 min).
	MaxRetries int
	MaxWait    time.Duration
	// Sleep waits between retries; tests replace it so nothing sleeps for real.
	Sleep  func(ctx context.Context, d time.Duration) error
	Now    func() time.Time
	Logger *slog.Logger
}

// Client uploads files into one SharePoint folder.
type Client struct {
	adapter abstractions.RequestAdapter
	driveID string
	folder  string
	chunk   int64
	log     *slog.Logger

	// Upload sessions (session.go): a plain client for the pre-authenticated upload
	// URLs, and the retry policy the Graph requests follow too.
	uploads    *http.Client
	maxRetries int
	maxWait    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
}

// backoff is the wait before retry number attempt (1, 2, ...) without Retry-After.
func (c *Client) backoff(attempt int) time.Duration {
	return (&retryHandler{}).backoff(attempt)
}

// New checks the options and builds the Graph request adapter. It does not touch the
// network.
func New(opts Options) (*Client, error) {
	if opts.Credential == nil {
		return nil, errors.New("sharepoint: a credential is required")
	}
	if strings.TrimSpace(opts.DriveID) == "" {
		return nil, errors.New("SHAREPOINT_DRIVE_ID: required for uploads")
	}
	folder, err := cleanFolder(opts.Folder)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(orDefault(opts.BaseURL, DefaultBaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("GRAPH_API_URL: %q must be an https URL (http only on loopback, for tests)", base)
	}
	chunk := opts.ChunkSize
	if chunk == 0 {
		chunk = DefaultChunkSize
	}
	if chunk < ChunkUnit || chunk%ChunkUnit != 0 || chunk >= maxChunkSize {
		return nil, fmt.Errorf("sharepoint: chunk size %d must be a multiple of 320 KiB below 60 MiB", chunk)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	// Scope and valid host follow the configured endpoint, so sovereign clouds work.
	scope := u.Scheme + "://" + u.Host + "/.default"
	auth, err := graphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		opts.Credential, []string{scope}, []string{u.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("sharepoint: auth provider: %w", err)
	}
	policy := newRetryPolicy(opts)
	hc := newHTTPClient(opts, u, policy)
	// Our own factories instead of the SDK's global registry (which the root package
	// fills): JSON is all Graph answers these calls with.
	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, clientOptions(), parsers, writers, hc.Client)
	if err != nil {
		return nil, fmt.Errorf("sharepoint: request adapter: %w", err)
	}
	adapter.SetBaseUrl(base)
	return &Client{
		adapter: adapter, driveID: opts.DriveID, folder: folder, chunk: chunk, log: log,
		uploads: &http.Client{
			Transport: hc.parent,
			Timeout:   hc.timeout,
			// An upload URL does not redirect; a redirect is answered as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		maxRetries: policy.maxRetries, maxWait: policy.maxWait, sleep: policy.sleep, now: policy.now,
	}, nil
}

func clientOptions() msgraphcore.GraphClientOptions {
	return msgraphcore.GraphClientOptions{GraphServiceLibraryVersion: "1.89.0"}
}

// newRetryPolicy fills in the retry options' defaults.
func newRetryPolicy(opts Options) *retryHandler {
	h := &retryHandler{maxRetries: opts.MaxRetries, maxWait: opts.MaxWait, sleep: opts.Sleep, now: opts.Now}
	if h.maxRetries <= 0 {
		h.maxRetries = 4
	}
	if h.maxWait <= 0 {
		h.maxWait = 2 * time.Minute
	}
	if h.sleep == nil {
		h.sleep = sleepContext
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// graphHTTP is the Graph client and what it was built from.
type graphHTTP struct {
	*http.Client
	parent  http.RoundTripper
	timeout time.Duration
}

// newHTTPClient builds the middleware chain: the SDK's handlers minus its retry
// handler (ours is bounded and testable), request compression off (Graph would store
// gzipped bodies as the file), and the token guard last, next to the network.
func newHTTPClient(opts Options, graph *url.URL, retry *retryHandler) graphHTTP {
	var parent http.RoundTripper = http.DefaultTransport
	timeout := 2 * time.Minute
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			parent = opts.HTTPClient.Transport
		}
		if opts.HTTPClient.Timeout > 0 {
			timeout = opts.HTTPClient.Timeout
		}
	}
	co := clientOptions()
	middlewares := []khttp.Middleware{
		msgraphcore.NewGraphTelemetryHandler(&co),
		retry,
		khttp.NewRedirectHandler(),
		khttp.NewCompressionHandlerWithOptions(*khttp.NewCompressionOptionsReference(false)),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
		&tokenGuard{scheme: graph.Scheme, host: graph.Host},
	}
	return graphHTTP{
		Client: &http.Client{
			Transport: khttp.NewCustomTransportWithParentTransport(parent, middlewares...),
			Timeout:   timeout,
			// The redirect middleware follows redirects (and drops the token across hosts).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		parent:  parent,
		timeout: timeout,
	}
}

// Upload stores r (size bytes) as <folder>/<name> in the drive, replacing a file of
// the same name, and returns the drive item id once the stored size is size. name may
// hold folders (latest/dora_metrics.csv); Graph creates the missing ones. Failures
// Graph may recover from wrap ErrUnavailable.
func (c *Client) Upload(ctx context.Context, name string, size int64, r io.ReaderAt) (string, error) {
	if err := checkPath(name); err != nil {
		return "", err
	}
	var id string
	var err error
	if size <= SimpleUploadLimit {
		id, err = c.putSmall(ctx, name, size, r)
	} else {
		id, err = c.putLarge(ctx, name, size, r)
	}
	if err != nil {
		return "", fmt.Errorf("sharepoint upload: %w", err)
	}
	c.log.InfoContext(ctx, "uploaded to sharepoint", "file", name, "bytes", size)
	return id, nil
}

// ListFolders returns the names of the folders directly inside <folder>/<path>; nil
// when that folder does not exist. Failures Graph may recover from wrap
// ErrUnavailable.
func (c *Client) ListFolders(ctx context.Context, path string) ([]string, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	children := c.itemByPath(path).Children()
	var names []string
	for page := 0; ; page++ {
		if page >= maxListPages {
			return nil, fmt.Errorf("list %s: more than %d pages of children", path, maxListPages)
		}
		resp, err := children.Get(ctx, nil)
		if err != nil {
			if status, ok := errorsAsStatus(err); ok && status == http.StatusNotFound {
				return nil, nil
			}
			return nil, fmt.Errorf("list %s: %w", path, describe(err))
		}
		for _, item := range resp.GetValue() {
			if item.GetFolder() != nil && item.GetName() != nil {
				names = append(names, *item.GetName())
			}
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return names, nil
		}
		children = children.WithUrl(*next)
	}
}

// maxListPages bounds a folder listing (Graph pages children by 200).
const maxListPages = 50

// Delete removes <folder>/<path> (a file, or a folder with everything in it); a path
// that is gone already is no error. Failures Graph may recover from wrap
// ErrUnavailable.
func (c *Client) Delete(ctx context.Context, path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := c.itemByPath(path).Delete(ctx, nil); err != nil {
		if status, ok := errorsAsStatus(err); ok && status == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("delete %s: %w", path, describe(err))
	}
	c.log.InfoContext(ctx, "deleted from sharepoint", "path", path)
	return nil
}

func (c *Client) itemByPath(name string) *drives.ItemItemsDriveItemItemRequestBuilder {
	path := name
	if c.folder != "" {
		path = c.folder + "/" + name
	}
	return drives.NewDrivesRequestBuilderInternal(map[string]string{"baseurl": c.adapter.GetBaseUrl()}, c.adapter).
		ByDriveId(c.driveID).Items().ByDriveItemId("root:/" + path + ":")
}

func (c *Client) putSmall(ctx context.Context, name string, size int64, r io.ReaderAt) (string, error) {
	data := make([]byte, size)
	if _, err := (&sizedReader{ReaderAt: r, size: size}).ReadAt(data, 0); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	item, err := c.itemByPath(name).Content().Put(ctx, data, nil)
	if err != nil {
		return "", describe(err)
	}
	if got := sizeOf(item); got != size {
		return "", fmt.Errorf("stored item has %d bytes, want %d", got, size)
	}
	return deref(item.GetId()), nil
}

// putLarge sends the file through upload sessions (session.go) and checks what was
// stored.
func (c *Client) putLarge(ctx context.Context, name string, size int64, r io.ReaderAt) (string, error) {
	create := func(ctx context.Context) (sessionState, error) {
		props := models.NewDriveItemUploadableProperties()
		// Sessions default to conflictBehavior=fail; a re-export must replace the file.
		props.SetAdditionalData(map[string]any{"@microsoft.graph.conflictBehavior": "replace"})
		body := drives.NewItemItemsItemCreateUploadSessionPostRequestBody()
		body.SetItem(props)
		session, err := c.itemByPath(name).CreateUploadSession().Post(ctx, body, nil)
		if err != nil {
			return sessionState{}, fmt.Errorf("create upload session: %w", describe(err))
		}
		if session == nil {
			return sessionState{}, errors.New("create upload session: empty reply")
		}
		state := sessionState{UploadURL: deref(session.GetUploadUrl()), NextExpectedRanges: session.GetNextExpectedRanges()}
		if t := session.GetExpirationDateTime(); t != nil {
			state.ExpirationDateTime = *t
		}
		return state, nil
	}
	item, err := c.sendLarge(ctx, name, size, r, create)
	if err != nil {
		return "", fmt.Errorf("upload session: %w", err)
	}
	if item != nil && item.ID != "" && item.Size != nil && *item.Size == size {
		return item.ID, nil
	}
	// The session took every byte but its last answer did not describe the stored
	// item: ask Graph what it stored.
	stored, err := c.itemByPath(name).Get(ctx, nil)
	if err != nil {
		if status, ok := errorsAsStatus(err); ok && status == http.StatusNotFound {
			return "", fmt.Errorf("upload session ended without storing the file")
		}
		return "", fmt.Errorf("check stored item: %w", describe(err))
	}
	if got := sizeOf(stored); got != size {
		return "", fmt.Errorf("upload session ended short: stored item has %d bytes, want %d", got, size)
	}
	return deref(stored.GetId()), nil
}

// sizedReader reads exactly: io.ReaderAt may answer a read that ends exactly at the
// end with io.EOF, which is no failure; a file shorter than announced is one.
type sizedReader struct {
	io.ReaderAt
	size int64
}

func (s *sizedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.ReaderAt.ReadAt(p, off)
	switch {
	case n == len(p):
		return n, nil
	case err == nil || errors.Is(err, io.EOF):
		return n, fmt.Errorf("file shorter than %d bytes: %w", s.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

func sizeOf(item models.DriveItemable) int64 {
	if item == nil || item.GetSize() == nil {
		return -1
	}
	return *item.GetSize()
}

// apiError is a Graph error answer, described by status, code and message.
type apiError struct {
	status        int
	code, message string
	err           error
}

func (e *apiError) Error() string {
	msg := "graph status " + strconv.Itoa(e.status)
	if e.code != "" {
		msg += ": " + e.code
	}
	if e.message != "" {
		msg += ": " + e.message
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.err }

// describe turns an SDK error into one that says what Graph answered; transport
// failures (ErrUnavailable among them) keep their cause. A *url.Error (which net/http
// wraps every transport failure in) is replaced by its method, host and path: its
// text repeats the whole URL, and a pre-authenticated URL carries its credential in
// the query.
func describe(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = fmt.Errorf("%s %s: %w", strings.ToUpper(urlErr.Op), withoutQuery(urlErr.URL), urlErr.Err)
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		e := &apiError{status: odata.GetStatusCode(), err: err}
		if main := odata.GetErrorEscaped(); main != nil {
			e.code, e.message = deref(main.GetCode()), deref(main.GetMessage())
		}
		return e
	}
	if status, ok := errorsAsStatus(err); ok {
		return &apiError{status: status, err: err}
	}
	return err
}

// withoutQuery names a URL by scheme, host and path only.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// SharePoint refuses these in file and folder names; a ':' would also end the
// root:/path: address early.
const forbiddenNameChars = "\"*:<>?\\|#%"

func cleanFolder(folder string) (string, error) {
	folder = strings.Trim(strings.TrimSpace(folder), "/")
	if folder == "" {
		return "", nil
	}
	for _, seg := range strings.Split(folder, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, forbiddenNameChars) {
			return "", fmt.Errorf("SHAREPOINT_FOLDER: %q is not a valid folder path (segments separated by /, none empty, '.', '..' or holding any of %s)", folder, forbiddenNameChars)
		}
	}
	return folder, nil
}

// checkPath accepts a path relative to the folder: segments separated by /, none
// empty, "." or "..", none holding a character SharePoint refuses.
func checkPath(path string) error {
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, forbiddenNameChars) {
			return fmt.Errorf("sharepoint: %q is not a valid path inside the folder", path)
		}
	}
	return nil
}
