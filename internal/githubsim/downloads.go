package githubsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Report files are served by a second handler, standing in for GitHub's report storage:
// links are signed (an HMAC over the path and the expiry, like a storage SAS) and expire
// Config.LinkTTL of simulated time after the envelope was issued. The download host
// needs no token; requests that carry one are still answered (and recorded, so tests can
// prove the collector never sends its token there).

const sasVersion = "2025-11-05"

func (s *Simulator) sign(path, expiry string) string {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(path + "\n" + expiry))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// downloadLinks are the signed links of a report's shards.
func (s *Simulator) downloadLinks(sc reportScope, kind, dayKey string, shards int, now time.Time) []string {
	s.mu.Lock()
	base := s.downloadBase
	s.mu.Unlock()
	scopeKind, name := "enterprise", sc.e.cfg.Slug
	if sc.o != nil {
		scopeKind, name = "organization", sc.o.login
	}
	expiry := now.Add(s.w.cfg.LinkTTL).UTC().Format(time.RFC3339)
	links := make([]string, 0, shards)
	for k := 1; k <= shards; k++ {
		path := fmt.Sprintf("/copilot-reports/%s/%s/%s/%s/part-%d-of-%d.json", scopeKind, url.PathEscape(name), kind, dayKey, k, shards)
		q := url.Values{"sv": {sasVersion}, "sp": {"r"}, "se": {expiry}, "sig": {s.sign(path, expiry)}}
		links = append(links, base+path+"?"+q.Encode())
	}
	return links
}

func (s *Simulator) downloadRoutes() http.Handler {
	return http.HandlerFunc(s.serveDownload)
}

func storageError(w http.ResponseWriter, status int, code, message string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, message)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (s *Simulator) serveDownload(w http.ResponseWriter, r *http.Request) {
	token, hasAuth := bearerToken(r)
	s.mu.Lock()
	s.seq++
	seq, now := s.seq, s.now
	plan := s.planFault(seq, HostDownload, r, token)
	s.mu.Unlock()
	rec := Request{Seq: seq, Host: HostDownload, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: hasAuth, Token: token, At: now}
	if e := s.w.byToken[token]; e != nil {
		rec.Enterprise = e.cfg.Slug
	}
	defer func() { s.record(rec) }()
	if plan.latency > 0 {
		if err := s.w.cfg.Sleep(r.Context(), plan.latency); err != nil {
			return
		}
	}
	w.Header().Set("x-ms-request-id", fmt.Sprintf("%08x-0000-0000-0000-%012x", seq, hashOf(uint64(seq))&0xFFFFFFFFFFFF))
	switch plan.kind {
	case FaultServerError, FaultSecondaryLimit, FaultReset:
		rec.Fault = plan.kind
		rec.Status = writeFault(w, plan, fmt.Sprintf("%d", seq), nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Status = http.StatusMethodNotAllowed
		storageError(w, rec.Status, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
		return
	}
	q := r.URL.Query()
	expiry := q.Get("se")
	if q.Get("sig") == "" || !hmac.Equal([]byte(q.Get("sig")), []byte(s.sign(r.URL.Path, expiry))) {
		rec.Status = http.StatusForbidden
		storageError(w, rec.Status, "AuthenticationFailed", "Signature did not match.")
		return
	}
	exp, err := time.Parse(time.RFC3339, expiry)
	if err != nil || now.After(exp) {
		rec.Status = http.StatusForbidden
		storageError(w, rec.Status, "AuthenticationFailed", "Signed expiry time has passed.")
		return
	}
	body, found := s.reportFile(r.URL.Path, now)
	if !found {
		rec.Status = http.StatusNotFound
		storageError(w, rec.Status, "BlobNotFound", "The specified blob does not exist.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Last-Modified", now.UTC().Format(http.TimeFormat))
	rec.Status = http.StatusOK
	if plan.kind == FaultTruncated && len(body) > 1 {
		rec.Fault = plan.kind
		writeTruncated(w, body, plan.variant)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// reportFile renders the file a (verified) download path names, as of now.
func (s *Simulator) reportFile(path string, now time.Time) ([]byte, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/copilot-reports/"), "/")
	if len(parts) != 5 {
		return nil, false
	}
	scopeKind, name, kind, dayKey, file := parts[0], parts[1], parts[2], parts[3], parts[4]
	var part, shards int
	if _, err := fmt.Sscanf(file, "part-%d-of-%d.json", &part, &shards); err != nil || part < 1 || part > shards {
		return nil, false
	}
	var sc reportScope
	switch scopeKind {
	case "enterprise":
		e, found := s.w.bySlug[name]
		if !found {
			return nil, false
		}
		sc = reportScope{e: e}
	case "organization":
		o, found := s.w.orgs[name]
		if !found {
			return nil, false
		}
		sc = reportScope{e: o.ent, o: o}
	default:
		return nil, false
	}
	w := s.w
	var lines []any
	if end, isLatest := strings.CutPrefix(dayKey, "latest-"); isLatest {
		endDay, err := time.Parse(dayLayout, end)
		if err != nil {
			return nil, false
		}
		start := endDay.AddDate(0, 0, -27)
		switch kind {
		case reportEnterprise28, reportOrg28:
			entID, orgID := sc.ids()
			days := []dayRecord{}
			for d := start; !d.After(endDay); d = d.AddDate(0, 0, 1) {
				if w.reportExists(sc.o != nil, d, now) {
					days = append(days, w.dayRecordOf(sc, d, now))
				}
			}
			lines = append(lines, periodRecord{
				ReportStartDay: start.Format(dayLayout), ReportEndDay: endDay.Format(dayLayout),
				EnterpriseID: entID, OrganizationID: orgID, CreatedAt: ts(w.reportAvailableAt(endDay)), DayTotals: days,
			})
		case reportUsers28:
			for d := start; !d.After(endDay); d = d.AddDate(0, 0, 1) {
				if !w.reportExists(sc.o != nil, d, now) {
					continue
				}
				for _, rec := range w.userRecords(sc, d, now) {
					rec.ReportStartDay, rec.ReportEndDay = start.Format(dayLayout), endDay.Format(dayLayout)
					lines = append(lines, rec)
				}
			}
		default:
			return nil, false
		}
	} else {
		day, err := time.Parse(dayLayout, dayKey)
		if err != nil || !w.reportExists(sc.o != nil, day, now) {
			return nil, false
		}
		switch kind {
		case reportEnterpriseDay, reportOrgDay:
			lines = append(lines, w.dayRecordOf(sc, day, now))
		case reportUsersDay:
			for _, rec := range w.userRecords(sc, day, now) {
				lines = append(lines, rec)
			}
		case reportUserTeamsDay:
			for _, rec := range w.userTeamRecords(sc, day) {
				lines = append(lines, rec)
			}
		default:
			return nil, false
		}
	}
	if s.shardCount(len(lines)) != shards {
		return nil, false
	}
	size := s.w.cfg.UserShardSize
	from, to := min((part-1)*size, len(lines)), min(part*size, len(lines))
	if shards == 1 {
		from, to = 0, len(lines)
	}
	var buf bytes.Buffer
	for _, l := range lines[from:to] {
		b, err := json.Marshal(l)
		if err != nil {
			return nil, false
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), true
}

// periodRecord is the file of an enterprise-28-day or organization-28-day report.
type periodRecord struct {
	ReportStartDay string      `json:"report_start_day"`
	ReportEndDay   string      `json:"report_end_day"`
	EnterpriseID   string      `json:"enterprise_id,omitempty"`
	OrganizationID string      `json:"organization_id,omitempty"`
	CreatedAt      ts          `json:"created_at"`
	DayTotals      []dayRecord `json:"day_totals"`
}
