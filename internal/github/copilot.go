package github

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"metrics-collector/internal/metrics"
)

// Copilot usage-metrics reports: the last element(s) of each report's path. The
// aggregate reports exist per scope type; the others for both.
const (
	ReportEnterpriseDay     = "enterprise-1-day"
	ReportOrganizationDay   = "organization-1-day"
	ReportUsersDay          = "users-1-day"
	ReportUserTeamsDay      = "user-teams-1-day"
	ReportReposDay          = "repos-1-day"
	ReportEnterprise28Day   = "enterprise-28-day/latest"
	ReportOrganization28Day = "organization-28-day/latest"
	ReportUsers28Day        = "users-28-day/latest"
)

// AggregateDayReport names the 1-day aggregate report of scope's type.
func AggregateDayReport(scope metrics.CopilotScope) string {
	if scope.Type == metrics.ScopeEnterprise {
		return ReportEnterpriseDay
	}
	return ReportOrganizationDay
}

// reportKind tells which scope types offer a report, and whether it takes ?day=.
type reportKind struct {
	known, enterprise, organization, daily bool
}

func kindOf(report string) reportKind {
	switch report {
	case ReportEnterpriseDay:
		return reportKind{known: true, enterprise: true, daily: true}
	case ReportOrganizationDay:
		return reportKind{known: true, organization: true, daily: true}
	case ReportUsersDay, ReportUserTeamsDay, ReportReposDay:
		return reportKind{known: true, enterprise: true, organization: true, daily: true}
	case ReportEnterprise28Day:
		return reportKind{known: true, enterprise: true}
	case ReportOrganization28Day:
		return reportKind{known: true, organization: true}
	case ReportUsers28Day:
		return reportKind{known: true, enterprise: true, organization: true}
	}
	return reportKind{}
}

// CopilotReport is GitHub's answer to a report request: where to download it.
type CopilotReport struct {
	// Available is false when GitHub answered 204: no report for that day (not
	// generated yet, before the history floor, or no data). Not an error.
	Available bool
	// Links are the report's shards. They are signed and expire within about an hour:
	// download them all right away, and never store or log them.
	Links []string
	// Day is report_day (1-day reports); StartDay and EndDay the 28-day range.
	Day, StartDay, EndDay time.Time
}

// reportEnvelope is the JSON GitHub answers a report request with.
type reportEnvelope struct {
	DownloadLinks  []string `json:"download_links"`
	ReportDay      string   `json:"report_day"`
	ReportStartDay string   `json:"report_start_day"`
	ReportEndDay   string   `json:"report_end_day"`
}

// GetCopilotReport asks for one Copilot usage-metrics report of scope: report is one
// of the Report* names, day the UTC day of a 1-day report (ignored for 28-day ones).
func (c *Client) GetCopilotReport(ctx context.Context, scope metrics.CopilotScope, report string, day time.Time) (CopilotReport, error) {
	base, err := copilotScopePath(scope)
	if err != nil {
		return CopilotReport{}, err
	}
	allowed := kindOf(report)
	switch {
	case !allowed.known:
		return CopilotReport{}, fmt.Errorf("report: %q is not a Copilot usage-metrics report", report)
	case scope.Type == metrics.ScopeEnterprise && !allowed.enterprise,
		scope.Type == metrics.ScopeOrganization && !allowed.organization:
		return CopilotReport{}, fmt.Errorf("report: %q does not exist for an %s scope", report, scope.Type)
	case allowed.daily && day.IsZero():
		return CopilotReport{}, fmt.Errorf("day: report %q needs a day", report)
	}
	path := base + "/copilot/metrics/reports/" + report
	op := fmt.Sprintf("get copilot report %s of %s %s", report, scope.Type, scope.Name)
	if allowed.daily {
		d := day.UTC().Format(time.DateOnly)
		path = withQuery(path, url.Values{"day": {d}})
		op += " for " + d
	}
	var env reportEnvelope
	resp, err := c.get(ctx, op, path, &env)
	if err != nil {
		return CopilotReport{}, err
	}
	if resp.StatusCode == http.StatusNoContent {
		return CopilotReport{}, nil
	}
	out := CopilotReport{Available: true, Links: env.DownloadLinks}
	for _, f := range []struct {
		name  string
		value string
		into  *time.Time
	}{
		{"report_day", env.ReportDay, &out.Day},
		{"report_start_day", env.ReportStartDay, &out.StartDay},
		{"report_end_day", env.ReportEndDay, &out.EndDay},
	} {
		if f.value == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, f.value)
		if err != nil {
			return CopilotReport{}, fmt.Errorf("%s: %s: %q is not a YYYY-MM-DD date", op, f.name, f.value)
		}
		*f.into = t
	}
	return out, nil
}

func copilotScopePath(scope metrics.CopilotScope) (string, error) {
	if strings.TrimSpace(scope.Name) == "" {
		return "", errors.New("scope: name is empty")
	}
	switch scope.Type {
	case metrics.ScopeEnterprise:
		return "enterprises/" + url.PathEscape(scope.Name), nil
	case metrics.ScopeOrganization:
		return "orgs/" + url.PathEscape(scope.Name), nil
	}
	return "", fmt.Errorf("scope: type %q is neither %q nor %q", scope.Type, metrics.ScopeEnterprise, metrics.ScopeOrganization)
}

// DownloadCopilotReport downloads one report shard from its signed link and hands
// each record to fn as GitHub wrote it. It reads NDJSON (one object per line, as the
// per-user reports are, whatever the file is called), a single JSON object (the
// aggregate reports) and, defensively, a JSON array of objects — all with one
// json.Decoder loop, without holding the file in memory.
//
// The request goes through the download client and never carries an Authorization
// header: the link is signed. Neither the link nor its query (the signature) appears
// in errors or logs, only its host.
//
// 5xx answers, resets and truncated bodies restart the download (Options.Retries
// times, with backoff). A link names one immutable file, so on a restart the records
// already handed to fn are skipped and fn sees every record once. When an error is
// returned, fn may have seen a prefix of the shard: callers buffer a shard before
// committing it, or write idempotently (upserts), so a later complete download
// repairs it. An error from fn stops the download and is returned as is (wrapped).
//
// go-github's Download*Metrics helpers are not used: they read the whole file into
// fixed types (losing the raw record and fields added later) and send the request
// through the API client.
func (c *Client) DownloadCopilotReport(ctx context.Context, link string, fn func(raw json.RawMessage) error) error {
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return errors.New("download link: not an absolute URL")
	}
	if err := c.checkDownloadURL(u); err != nil {
		return err
	}
	op := "download copilot report from " + u.Host
	delivered := 0
	for retries := 0; ; retries++ {
		retry, err := c.downloadOnce(ctx, u, &delivered, fn)
		if err == nil {
			return nil
		}
		if !retry || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if retries >= c.retries {
			return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
		}
		wait := retryWait(retries)
		if deadline, ok := ctx.Deadline(); ok && wait > time.Until(deadline) {
			return fmt.Errorf("%s: %w: %w, and no time left to retry", op, ErrUnavailable, err)
		}
		countInto(ctx, func(c *Counters) { c.retries.Add(1); c.waited.Add(int64(wait)) })
		logger(ctx, c.log).Info("retrying copilot report download", "enterprise", c.enterpriseID, "host", u.Host, "cause", err.Error(), "retry", retries+1, "wait", wait.String())
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
}

// errFromCallback marks fn's own error, which is never retried.
type errFromCallback struct{ err error }

func (e errFromCallback) Error() string { return e.err.Error() }
func (e errFromCallback) Unwrap() error { return e.err }

// downloadOnce makes one download attempt; retry reports whether a failure is worth
// another attempt.
func (c *Client) downloadOnce(ctx context.Context, u *url.URL, delivered *int, fn func(json.RawMessage) error) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, errors.New("cannot build the download request")
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson, */*")
	req.Header.Set("User-Agent", userAgent)
	countInto(ctx, func(c *Counters) { c.downloads.Add(1) })
	resp, err := c.download.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its text would repeat the signed link
		}
		return !errors.Is(err, ErrDisallowedHost), err
	}
	defer resp.Body.Close()
	switch status := resp.StatusCode; {
	case status == http.StatusOK:
	case status >= 500 || status == http.StatusTooManyRequests:
		return true, fmt.Errorf("download host answered %s", resp.Status)
	case status == http.StatusForbidden || status == http.StatusNotFound || status == http.StatusGone:
		// Expired or withdrawn link: ask GitHub for the report again.
		return false, fmt.Errorf("%w: download host answered %s (the link may have expired)", ErrForbidden, resp.Status)
	default:
		return false, fmt.Errorf("download host answered %s", resp.Status)
	}
	err = decodeRecords(resp.Body, c.maxRecord, delivered, fn)
	var fnErr errFromCallback
	if errors.As(err, &fnErr) {
		return false, fnErr.err
	}
	if errors.Is(err, ErrTooLarge) {
		return false, err
	}
	if err != nil {
		var syntaxErr *json.SyntaxError
		// A body cut short reads as an unexpected EOF or a read error; a syntax error
		// in a complete body will not go away on a retry.
		return !errors.As(err, &syntaxErr), err
	}
	return false, nil
}

// decodeRecords streams the records of r to fn, skipping the first *delivered of them
// (already handed over by an earlier attempt) and counting the ones it hands over. A
// record longer than maxRecord bytes stops it with ErrTooLarge.
func decodeRecords(r io.Reader, maxRecord int64, delivered *int, fn func(json.RawMessage) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstNonSpace(br)
	if errors.Is(err, io.EOF) {
		return nil // an empty file holds no records
	}
	if err != nil {
		return fmt.Errorf("read report: %w", err)
	}
	seen := 0
	limited := &recordLimiter{r: br, limit: maxRecord, record: func() int { return seen + 1 }}
	dec := json.NewDecoder(limited)
	limited.dec = dec
	deliver := func(raw json.RawMessage) error {
		seen++
		if seen <= *delivered {
			return nil
		}
		if err := fn(raw); err != nil {
			return errFromCallback{err}
		}
		*delivered = seen
		return nil
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("read report: %w", err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("read report record %d: %w", seen+1, err)
			}
			if err := deliver(raw); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("read report: end of array: %w", err)
		}
		return nil
	}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read report record %d: %w", seen+1, err)
		}
		if err := deliver(raw); err != nil {
			return err
		}
	}
}

// recordLimiter feeds a json.Decoder and refuses to read on once the decoder holds
// more than limit bytes past the end of the last value it decoded: the record being
// decoded is too long. Memory stays within the limit plus one read.
type recordLimiter struct {
	r      io.Reader
	dec    *json.Decoder
	limit  int64
	read   int64
	record func() int // the number of the record being read, for the message
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.read-l.dec.InputOffset() > l.limit {
		return 0, fmt.Errorf("%w: report record %d is longer than %d bytes (the client's limit)", ErrTooLarge, l.record(), l.limit)
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// firstNonSpace peeks at the first byte that is not JSON white space.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

// newDownloadClient wraps the given client (or a new one) so that no request it makes
// ever carries an Authorization header, its connections are guarded (egress.go), and
// redirects are checked by checkRedirect.
func newDownloadClient(given *http.Client, allowLocal bool, checkRedirect func(*http.Request, []*http.Request) error) *http.Client {
	if given == nil {
		given = &http.Client{Timeout: 5 * time.Minute}
	}
	return &http.Client{
		Transport:     noAuthTransport{next: guardTransport(given.Transport, allowLocal)},
		Timeout:       given.Timeout,
		CheckRedirect: checkRedirect,
	}
}

// noAuthTransport strips Authorization from every request, redirects included.
type noAuthTransport struct{ next http.RoundTripper }

func (t noAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return t.next.RoundTrip(req)
}
