// Package logging builds the service's slog handler: JSON lines to stdout, each
// carrying the invocation id of the request it belongs to (taken from the context).
// Log with the *Context methods (log.InfoContext(ctx, ...)) so the id is attached.
package logging

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
)

type invocationKey struct{}

// WithInvocationID returns a context whose log lines carry id.
func WithInvocationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, invocationKey{}, id)
}

// InvocationID returns the context's invocation id, or "".
func InvocationID(ctx context.Context) string {
	id, _ := ctx.Value(invocationKey{}).(string)
	return id
}

// NewInvocationID makes an id for work that did not come with one from the host.
func NewInvocationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewHandler returns a JSON handler writing to w that adds invocation_id from the
// context to every record. wrap, when not nil, wraps the JSON handler (e.g. a redactor).
func NewHandler(w io.Writer, level slog.Leveler, wrap func(slog.Handler) slog.Handler) slog.Handler {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	if wrap != nil {
		h = wrap(h)
	}
	return contextHandler{h}
}

type contextHandler struct{ inner slog.Handler }

func (h contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := InvocationID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("invocation_id", id))
	}
	return h.inner.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.inner.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.inner.WithGroup(name)}
}
