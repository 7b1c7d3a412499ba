package sharepoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Large files go through a Graph upload session, sent by this file rather than the
// SDK's large-file task: that task sends every chunk with a background context (the
// stage's hard stop cannot end it), sleeps on real timers, carries on with the next
// chunk after one failed, and re-sends a range the server already holds.
//
// Here every request uses the call's context; the context is checked between chunks;
// the first failure that retrying cannot fix stops the upload (and cancels the
// session); after a transient failure the session is asked which ranges it still
// expects (GET on the upload URL) and the upload resumes there. A session that expired
// or vanished (404) is replaced by a new one once.
//
// The upload URL is pre-authenticated: it takes no Authorization header, and its query
// is a credential, so it appears in no error and no log line (only its host and path).

// maxSessionAnswer bounds what is read of an upload-session answer (a few hundred
// bytes of JSON, or a driveItem).
const maxSessionAnswer = 1 << 20

// maxSessionRestarts is how often an expired or vanished session is replaced.
const maxSessionRestarts = 1

// sessionState is what Graph tells about an upload session.
type sessionState struct {
	UploadURL          string    `json:"uploadUrl"`
	ExpirationDateTime time.Time `json:"expirationDateTime"`
	NextExpectedRanges []string  `json:"nextExpectedRanges"`
}

// next is the first byte the session expects; ok is false when it expects nothing.
func (s sessionState) next() (int64, bool, error) {
	if len(s.NextExpectedRanges) == 0 {
		return 0, false, nil
	}
	start, _, _ := strings.Cut(s.NextExpectedRanges[0], "-")
	n, err := strconv.ParseInt(strings.TrimSpace(start), 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("nextExpectedRanges %q is not a byte range", s.NextExpectedRanges[0])
	}
	return n, true, nil
}

// storedItem is the part of a driveItem an upload checks.
type storedItem struct {
	ID   string `json:"id"`
	Size *int64 `json:"size"`
}

// errSessionGone: the upload URL answered 404 (the session expired or was cancelled).
var errSessionGone = errors.New("upload session expired or no longer exists")

// chunkSender sends one file to upload sessions.
type chunkSender struct {
	c     *Client
	name  string
	size  int64
	r     io.ReaderAt
	where string // scheme://host/path of the current upload URL, for messages
}

// sendLarge uploads r through upload sessions made by create, and returns the item
// the last chunk's answer describes (nil when the answer did not describe one).
func (c *Client) sendLarge(ctx context.Context, name string, size int64, r io.ReaderAt, create func(context.Context) (sessionState, error)) (*storedItem, error) {
	s := &chunkSender{c: c, name: name, size: size, r: r}
	for restarts := 0; ; restarts++ {
		session, err := create(ctx)
		if err != nil {
			return nil, err
		}
		if session.UploadURL == "" {
			return nil, errors.New("create upload session: no upload URL in the reply")
		}
		s.where = withoutQuery(session.UploadURL)
		item, err := s.send(ctx, session)
		if errors.Is(err, errSessionGone) && restarts < maxSessionRestarts && ctx.Err() == nil {
			c.log.InfoContext(ctx, "upload session expired; starting a new one", "file", name)
			continue
		}
		if err != nil && !errors.Is(err, errSessionGone) && ctx.Err() == nil {
			s.cancel(ctx, session.UploadURL)
		}
		return item, err
	}
}

// send uploads the file into one session, from the first range it expects.
func (s *chunkSender) send(ctx context.Context, session sessionState) (*storedItem, error) {
	offset, ok, err := session.next()
	if err != nil {
		return nil, err
	}
	if !ok {
		offset = 0 // a new session expects the whole file ("0-")
	}
	expires := session.ExpirationDateTime
	failures := 0 // attempts in a row that moved nothing forward
	var waited, longest time.Duration
	for {
		// Between chunks: the call's hard stop (and whether another chunk fits before
		// it), and the session's own expiry.
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("upload stopped at byte %d of %d: %w", offset, s.size, err)
		}
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(s.c.now()) < longest {
			return nil, fmt.Errorf("upload stopped at byte %d of %d: no time left for another chunk before the call's deadline: %w",
				offset, s.size, context.DeadlineExceeded)
		}
		if !expires.IsZero() && !s.c.now().Before(expires) {
			return nil, fmt.Errorf("%w (it expired at %s)", errSessionGone, expires.UTC().Format(time.RFC3339))
		}
		end := min(offset+s.c.chunk, s.size) - 1
		started := s.c.now() // the wall clock in production, as the deadline is
		ans, err := s.put(ctx, session.UploadURL, offset, end)
		longest = max(longest, s.c.now().Sub(started))
		switch {
		case err == nil && ans.item != nil:
			s.c.log.DebugContext(ctx, "upload progress", "file", s.name, "bytes", s.size, "of", s.size)
			return ans.item, nil
		case err == nil:
			next, more, rerr := ans.state.next()
			if rerr != nil {
				return nil, rerr
			}
			if !more {
				// Nothing more expected, yet no item: the caller checks what was stored.
				return nil, nil
			}
			if next > offset {
				failures, waited = 0, 0
			} else if failures++; failures > s.c.maxRetries {
				// The session keeps asking for bytes it was just sent.
				return nil, fmt.Errorf("PUT %s: the session does not move past byte %d", s.where, next)
			}
			offset = next
			if !ans.state.ExpirationDateTime.IsZero() {
				expires = ans.state.ExpirationDateTime
			}
			s.c.log.DebugContext(ctx, "upload progress", "file", s.name, "bytes", offset, "of", s.size)
			continue
		case errors.Is(err, errSessionGone), ctx.Err() != nil:
			return nil, err
		}
		var retry *retryableError
		var wrongRange *rangeError
		switch {
		case errors.As(err, &wrongRange):
			// The session holds other bytes than we thought: ask it, resume there.
			if failures >= s.c.maxRetries {
				return nil, fmt.Errorf("%w (after %d attempts)", err, failures+1)
			}
		case errors.As(err, &retry):
			wait := retry.after
			if wait == 0 {
				wait = s.c.backoff(failures + 1)
			}
			if failures >= s.c.maxRetries || waited+wait > s.c.maxWait {
				return nil, fmt.Errorf("%s after %d attempts: %w", retry.reason, failures+1, ErrUnavailable)
			}
			if err := s.c.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("upload stopped at byte %d of %d: %w", offset, s.size, err)
			}
			waited += wait
		default:
			return nil, err // a refusal retrying cannot fix: stop here
		}
		failures++
		// The chunk may have arrived although its answer did not: resume from what the
		// session expects instead of sending the same range again.
		state, err := s.status(ctx, session.UploadURL)
		if err != nil {
			if errors.As(err, &retry) && failures < s.c.maxRetries {
				continue // send the same range; a 416 will tell if it arrived
			}
			return nil, err
		}
		next, more, err := state.next()
		if err != nil {
			return nil, err
		}
		if !more {
			return nil, nil
		}
		offset = next
		if !state.ExpirationDateTime.IsZero() {
			expires = state.ExpirationDateTime
		}
	}
}

// sessionAnswer is a chunk's answer: the session's state (202) or the item (200/201).
type sessionAnswer struct {
	state sessionState
	item  *storedItem
}

// retryableError is a failure another attempt may get past. after is the wait the
// answer asked for (Retry-After); zero means back off.
type retryableError struct {
	reason string
	after  time.Duration
}

func (e *retryableError) Error() string { return e.reason }

// rangeError is a 416: the range sent is not the one the session expects.
type rangeError struct{ apiError }

// put sends bytes [start, end] of the file.
func (s *chunkSender) put(ctx context.Context, uploadURL string, start, end int64) (sessionAnswer, error) {
	data := make([]byte, end-start+1)
	if _, err := (&sizedReader{ReaderAt: s.r, size: s.size}).ReadAt(data, start); err != nil {
		return sessionAnswer{}, fmt.Errorf("read: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, bytes.NewReader(data))
	if err != nil {
		return sessionAnswer{}, fmt.Errorf("PUT %s: cannot build the request", s.where)
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, s.size))
	req.Header.Set("Content-Type", "application/octet-stream")
	var ans sessionAnswer
	err = s.do(req, func(status int, body []byte) error {
		switch status {
		case http.StatusAccepted:
			if err := json.Unmarshal(body, &ans.state); err != nil {
				return fmt.Errorf("PUT %s: answer is not an upload session: %w", s.where, err)
			}
		case http.StatusOK, http.StatusCreated:
			var item storedItem
			if err := json.Unmarshal(body, &item); err != nil {
				return fmt.Errorf("PUT %s: answer is not a driveItem: %w", s.where, err)
			}
			ans.item = &item
			if item.ID == "" {
				ans.item = nil
				ans.state = sessionState{} // complete, but the caller must check the item
			}
		default:
			return fmt.Errorf("PUT %s: unexpected status %d", s.where, status)
		}
		return nil
	})
	return ans, err
}

// status asks the session which ranges it still expects.
func (s *chunkSender) status(ctx context.Context, uploadURL string) (sessionState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uploadURL, nil)
	if err != nil {
		return sessionState{}, fmt.Errorf("GET %s: cannot build the request", s.where)
	}
	req.Header.Set("Accept", "application/json")
	var state sessionState
	err = s.do(req, func(status int, body []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: unexpected status %d", s.where, status)
		}
		if err := json.Unmarshal(body, &state); err != nil {
			return fmt.Errorf("GET %s: answer is not an upload session: %w", s.where, err)
		}
		return nil
	})
	return state, err
}

// cancel deletes a session that will not be finished, so its bytes do not linger
// until it expires. Best effort: the session expires anyway.
func (s *chunkSender) cancel(ctx context.Context, uploadURL string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, uploadURL, nil)
	if err != nil {
		return
	}
	if err := s.do(req, func(int, []byte) error { return nil }); err != nil {
		s.c.log.InfoContext(ctx, "upload session not cancelled", "file", s.name, "error", err.Error())
	}
}

// do sends one request to the upload URL (never with a credential of ours) and hands
// a 2xx answer to ok. Failures become a *retryableError (network, 429, 5xx), a
// *rangeError (416), errSessionGone (404) or an *apiError.
func (s *chunkSender) do(req *http.Request, ok func(status int, body []byte) error) error {
	resp, err := s.c.uploads.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return fmt.Errorf("%s %s: %w", req.Method, s.where, req.Context().Err())
		}
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its text repeats the upload URL
		}
		return &retryableError{reason: fmt.Sprintf("%s %s: %v", req.Method, s.where, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSessionAnswer+1))
	if err != nil {
		return &retryableError{reason: fmt.Sprintf("%s %s: read answer: %v", req.Method, s.where, err)}
	}
	if len(body) > maxSessionAnswer {
		return fmt.Errorf("%s %s: answer larger than %d bytes", req.Method, s.where, maxSessionAnswer)
	}
	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		return ok(status, body)
	case retryableStatus(status):
		after, _ := retryAfter(resp.Header.Get("Retry-After"), s.c.now())
		return &retryableError{reason: fmt.Sprintf("%s %s: status %d", req.Method, s.where, status), after: after}
	case status == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", req.Method, s.where, errSessionGone)
	}
	e := apiError{status: status}
	var odata struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &odata) == nil {
		e.code, e.message = odata.Error.Code, odata.Error.Message
	}
	if status == http.StatusRequestedRangeNotSatisfiable {
		return &rangeError{e}
	}
	return &e
}
