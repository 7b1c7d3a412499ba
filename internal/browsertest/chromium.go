// Package browsertest drives a headless Chromium over the DevTools protocol, for tests
// that must see a page as a browser does: what it requests, what it logs, how it lays
// out. It starts the machine's Chromium (Debian's `chromium`; CHROMIUM names another)
// with a fresh profile, background networking off, and every host name resolving to
// nothing, so a page can only load what it carries or what is on loopback.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// ErrNoChromium is returned by Start when no Chromium binary is installed.
var ErrNoChromium = errors.New("no chromium binary (install Debian's chromium, or set CHROMIUM)")

// Browser is a running headless Chromium.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	http    string // http://127.0.0.1:<port> of the DevTools endpoint
	done    chan struct{}
}

// Path returns the Chromium binary to use, or "" when there is none.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start launches Chromium. Stop it with Close.
func Start(ctx context.Context) (*Browser, error) {
	bin := Path()
	if bin == "" {
		return nil, ErrNoChromium
	}
	profile, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		return nil, fmt.Errorf("chromium profile: %w", err)
	}
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio",
		// No name resolves: a page that reaches for another host fails to, and the test
		// sees the request it made.
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+profile, "about:blank")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(profile)
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	b := &Browser{cmd: cmd, profile: profile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	// Chromium writes the port it chose to DevToolsActivePort in the profile.
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err == nil {
			if port, _, ok := strings.Cut(string(raw), "\n"); ok && port != "" {
				b.http = "http://127.0.0.1:" + strings.TrimSpace(port)
				return b, nil
			}
		}
		select {
		case <-b.done:
			_ = os.RemoveAll(profile)
			return nil, errors.New("chromium exited before it opened its DevTools port")
		case <-ctx.Done():
			b.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Close()
			return nil, errors.New("chromium did not open its DevTools port within 30 s")
		}
	}
}

// Close stops Chromium and removes its profile.
func (b *Browser) Close() {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	_ = os.RemoveAll(b.profile)
}

// NewPage opens a blank tab and connects to it.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, b.http+"/json/new?about:blank", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	defer resp.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		return nil, fmt.Errorf("open a tab: no debugger address (%v)", err)
	}
	conn, err := websocket.Dial(target.WebSocketDebuggerURL, "", b.http)
	if err != nil {
		return nil, fmt.Errorf("connect to the tab: %w", err)
	}
	conn.MaxPayloadBytes = 256 << 20 // full-page screenshots
	p := &Page{conn: conn, pending: map[int64]chan reply{}, closed: make(chan struct{})}
	go p.read()
	return p, nil
}

// Page is one tab.
type Page struct {
	conn   *websocket.Conn
	mu     sync.Mutex
	nextID int64
	// pending calls by id.
	pending map[int64]chan reply
	events  []Event
	waiters []waiter
	closed  chan struct{}
	err     error
}

// Event is a DevTools event the page sent.
type Event struct {
	Method string
	Params json.RawMessage
}

type reply struct {
	Result json.RawMessage
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
}

type waiter struct {
	method string
	ch     chan Event
}

func (p *Page) read() {
	defer close(p.closed)
	for {
		var msg struct {
			ID     int64           `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(p.conn, &msg); err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if msg.Method != "" {
			ev := Event{Method: msg.Method, Params: msg.Params}
			p.events = append(p.events, ev)
			kept := p.waiters[:0]
			for _, w := range p.waiters {
				if w.method == ev.Method {
					w.ch <- ev
					continue
				}
				kept = append(kept, w)
			}
			p.waiters = kept
		} else if ch, ok := p.pending[msg.ID]; ok {
			delete(p.pending, msg.ID)
			ch <- reply{Result: msg.Result, Error: msg.Error}
		}
		p.mu.Unlock()
	}
}

// Call sends a DevTools command and decodes its result into result (when not nil).
func (p *Page) Call(ctx context.Context, method string, params, result any) error {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan reply, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(p.conn, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		if result != nil {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-p.closed:
		return fmt.Errorf("%s: the connection closed: %v", method, p.err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Expect registers interest in the next event named method; receive from the channel
// after the command that causes it.
func (p *Page) Expect(method string) <-chan Event {
	ch := make(chan Event, 1)
	p.mu.Lock()
	p.waiters = append(p.waiters, waiter{method: method, ch: ch})
	p.mu.Unlock()
	return ch
}

// Events returns the events received so far.
func (p *Page) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Evaluate runs a JavaScript expression in the page and decodes its (JSON-able) value.
func (p *Page) Evaluate(ctx context.Context, expression string, value any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expression, "returnByValue": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate: %s", res.ExceptionDetails.Text)
	}
	return json.Unmarshal(res.Result.Value, value)
}

// Close disconnects from the tab.
func (p *Page) Close() error { return p.conn.Close() }

// Problems lists what the page reported as wrong so far: console errors and warnings,
// uncaught exceptions, log entries of level error, and every request to anything but
// the allowed URL prefixes (a self-contained page requests nothing but itself).
func (p *Page) Problems(allowed ...string) []string {
	var out []string
	for _, ev := range p.Events() {
		switch ev.Method {
		case "Runtime.consoleAPICalled":
			var c struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			_ = json.Unmarshal(ev.Params, &c)
			if c.Type == "error" || c.Type == "warning" || c.Type == "assert" {
				out = append(out, fmt.Sprintf("console %s: %v", c.Type, c.Args))
			}
		case "Runtime.exceptionThrown":
			out = append(out, "uncaught exception: "+string(ev.Params))
		case "Log.entryAdded":
			var l struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			_ = json.Unmarshal(ev.Params, &l)
			if l.Entry.Level == "error" {
				out = append(out, fmt.Sprintf("log error: %s %s", l.Entry.Text, l.Entry.URL))
			}
		case "Network.requestWillBeSent":
			var r struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			_ = json.Unmarshal(ev.Params, &r)
			ok := false
			for _, a := range allowed {
				if strings.HasPrefix(r.Request.URL, a) {
					ok = true
				}
			}
			if !ok {
				out = append(out, "request to "+r.Request.URL)
			}
		}
	}
	return out
}

// Screenshot captures the whole page (beyond the viewport) as PNG.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var metrics struct {
		CSSContentSize struct {
			Width, Height float64
		} `json:"cssContentSize"`
	}
	if err := p.Call(ctx, "Page.getLayoutMetrics", nil, &metrics); err != nil {
		return nil, err
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON: decoded by encoding/json into []byte
	}
	err := p.Call(ctx, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": metrics.CSSContentSize.Width, "height": metrics.CSSContentSize.Height, "scale": 1},
	}, &shot)
	return shot.Data, err
}

// SetViewport sets the window's width and height in CSS pixels (mobile: a phone's
// viewport rules).
func (p *Page) SetViewport(ctx context.Context, width, height int, mobile bool) error {
	return p.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
	}, nil)
}

// Open enables the domains whose events Problems reads and loads url, waiting for its
// load event.
func (p *Page) Open(ctx context.Context, url string) error {
	for _, domain := range []string{"Page", "Runtime", "Log", "Network"} {
		if err := p.Call(ctx, domain+".enable", nil, nil); err != nil {
			return err
		}
	}
	loaded := p.Expect("Page.loadEventFired")
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigate to %s: %s", url, nav.ErrorText)
	}
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load %s: %w", url, ctx.Err())
	}
}
