package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// MinRedactLength is the shortest value a Redactor replaces: shorter values are too
// likely to be ordinary words or numbers, and scrubbing those would garble logs.
const MinRedactLength = 8

// Mask replaces a secret value.
const Mask = "***"

// Redactor replaces known secret values in text. It is safe for concurrent use, and a
// nil or empty Redactor returns text unchanged at the cost of one atomic load.
type Redactor struct {
	mu     sync.Mutex // serialises Add; readers use the atomic snapshot
	values atomic.Pointer[redactSet]
}

// redactSet is an immutable snapshot; a new one is stored on every change, so a
// pointer comparison tells whether anything was learned since.
type redactSet struct {
	values []string // longest first, so a secret containing another is masked whole
}

// NewRedactor returns a Redactor that knows no secrets yet.
func NewRedactor() *Redactor { return &Redactor{} }

// Add teaches the redactor a secret value. The value with surrounding white space
// removed is learned too, because tokens stored with a trailing newline are usually
// sent trimmed. Values shorter than MinRedactLength are ignored.
func (r *Redactor) Add(value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.values.Load()
	var known []string
	if old != nil {
		known = old.values
	}
	next := known
	for _, v := range []string{value, strings.TrimSpace(value)} {
		if utf8.RuneCountInString(v) < MinRedactLength || slices.Contains(next, v) {
			continue
		}
		next = append(slices.Clip(next), v)
	}
	if len(next) == len(known) {
		return
	}
	slices.SortStableFunc(next, func(a, b string) int { return len(b) - len(a) })
	r.values.Store(&redactSet{values: next})
}

// Redact returns s with every known secret value replaced by Mask.
func (r *Redactor) Redact(s string) string {
	return r.snapshot().redact(s)
}

func (r *Redactor) snapshot() *redactSet {
	if r == nil {
		return nil
	}
	return r.values.Load()
}

func (set *redactSet) redact(s string) string {
	if set == nil {
		return s
	}
	for _, v := range set.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Handler wraps a slog handler so that the message and every attribute value reaching
// it are redacted: strings, errors, values inside groups, LogValuers (after
// resolving), and any other value whose printed form holds a secret. Attributes bound
// earlier with WithAttrs are redacted again when the redactor learns a new secret.
func (r *Redactor) Handler(inner slog.Handler) slog.Handler {
	return &redactHandler{r: r, root: inner}
}

type redactHandler struct {
	r     *Redactor
	root  slog.Handler // the wrapped handler before any WithAttrs/WithGroup
	steps []handlerStep
	built atomic.Pointer[builtHandler]
}

// handlerStep is one WithGroup (group set) or WithAttrs (attrs set) call, replayed on
// root whenever the set of known secrets changes.
type handlerStep struct {
	group string
	attrs []slog.Attr
}

type builtHandler struct {
	set     *redactSet
	handler slog.Handler
}

func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.root.Enabled(ctx, level)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	set := h.r.snapshot()
	inner := h.current(set)
	if set == nil {
		return inner.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, set.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(set.redactAttr(a))
		return true
	})
	return inner.Handle(ctx, out)
}

// current returns root with the recorded steps applied, rebuilt only when the
// redactor has learned something since the last build.
func (h *redactHandler) current(set *redactSet) slog.Handler {
	if len(h.steps) == 0 {
		return h.root
	}
	if b := h.built.Load(); b != nil && b.set == set {
		return b.handler
	}
	inner := h.root
	for _, s := range h.steps {
		if s.group != "" {
			inner = inner.WithGroup(s.group)
			continue
		}
		inner = inner.WithAttrs(set.redactAttrs(s.attrs))
	}
	h.built.Store(&builtHandler{set: set, handler: inner})
	return inner
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerStep{attrs: slices.Clone(attrs)})
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerStep{group: name})
}

func (h *redactHandler) with(s handlerStep) *redactHandler {
	steps := append(slices.Clip(h.steps), s)
	return &redactHandler{r: h.r, root: h.root, steps: steps}
}

func (set *redactSet) redactAttrs(attrs []slog.Attr) []slog.Attr {
	if set == nil {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = set.redactAttr(a)
	}
	return out
}

func (set *redactSet) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, set.redact(v.String()))
	case slog.KindGroup:
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(set.redactAttrs(v.Group())...)}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, set.redact(err.Error()))
		}
		// Keep structured values as they are unless their printed form leaks a secret.
		printed := fmt.Sprintf("%+v", v.Any())
		if redacted := set.redact(printed); redacted != printed {
			return slog.String(a.Key, redacted)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
