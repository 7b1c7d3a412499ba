package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/logging"
)

// StageCallBody is the JSON body of POST /api/<stage> (DESIGN §2.1).
type StageCallBody struct {
	Enterprise    string `json:"enterprise,omitempty"`
	RunID         int64  `json:"run_id,omitempty"`
	Since         string `json:"since,omitempty"`
	Until         string `json:"until,omitempty"`
	Cursor        string `json:"cursor,omitempty"`
	BudgetSeconds int    `json:"budget_seconds,omitempty"`
	Shard         *int   `json:"shard,omitempty"`
	Shards        *int   `json:"shards,omitempty"`
	// Kinds are the file kinds export_csv writes (empty: every kind).
	Kinds []string `json:"kinds,omitempty"`
}

// StageCallResponse is the JSON answer of a stage route.
type StageCallResponse struct {
	RunID       int64    `json:"run_id"`
	Stage       string   `json:"stage"`
	Enterprise  string   `json:"enterprise"`
	Shard       int      `json:"shard"`
	Status      string   `json:"status"`
	Done        bool     `json:"done"`
	Cursor      string   `json:"cursor"`
	Records     int64    `json:"records"`
	APICalls    int64    `json:"api_calls"`
	NotModified int64    `json:"not_modified"`
	Retries     int64    `json:"retries"`
	DurationMS  int64    `json:"duration_ms"`
	Warnings    []string `json:"warnings"`
	Error       string   `json:"error,omitempty"`
}

// CallError is a stage call that did not give a 200 answer.
type CallError struct {
	Stage      string
	StatusCode int // 0 when no HTTP answer came (connection refused, reset, timeout)
	Message    string
	RetryAfter time.Duration
}

func (e *CallError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s: no answer: %s", e.Stage, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Stage, e.StatusCode, e.Message)
}

// Retryable: no answer, 409 (the same stage is still running), 429 and 5xx are worth
// another try; 400 and 404 are not — the request itself is wrong.
func (e *CallError) Retryable() bool {
	switch {
	case e.StatusCode == 0, e.StatusCode == http.StatusConflict, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode >= 500:
		return true
	}
	return false
}

// HTTPCaller calls stage routes at a base URL (STAGE_BASE_URL), with the function
// key when one is configured.
type HTTPCaller struct {
	BaseURL     string
	FunctionKey string
	Client      *http.Client
}

// Call posts body to /api/<stage> and decodes the answer.
func (c *HTTPCaller) Call(ctx context.Context, stage string, body StageCallBody) (StageCallResponse, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return StageCallResponse{}, err
	}
	// The stage answers within its budget plus a grace; give up a little after that.
	timeout := time.Duration(body.BudgetSeconds)*time.Second + 40*time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/api/"+stage, bytes.NewReader(buf))
	if err != nil {
		return StageCallResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.FunctionKey != "" {
		req.Header.Set("x-functions-key", c.FunctionKey)
	}
	// Calls over loopback do not pass through the Functions host, so give each one its
	// own invocation id; the parent's id is logged beside it.
	req.Header.Set("X-Azure-Functions-InvocationId", logging.NewInvocationID())
	if parent := logging.InvocationID(ctx); parent != "" {
		req.Header.Set("X-Parent-Invocation-Id", parent)
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return StageCallResponse{}, &CallError{Stage: stage, Message: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return StageCallResponse{}, &CallError{Stage: stage, Message: "reading answer: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		ce := &CallError{Stage: stage, StatusCode: resp.StatusCode, Message: errorMessage(raw)}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ce.RetryAfter = time.Duration(s) * time.Second
		}
		return StageCallResponse{}, ce
	}
	var out StageCallResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return StageCallResponse{}, &CallError{Stage: stage, StatusCode: resp.StatusCode, Message: "answer is not JSON: " + err.Error()}
	}
	return out, nil
}

func errorMessage(raw []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
