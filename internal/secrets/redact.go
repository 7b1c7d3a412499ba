package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
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

// Redactor replaces known secret values in text, and credentials it was never given
// by their shape (see credentialShapes): GitHub tokens, bearer tokens, JWTs, and the
// signature parameters of pre-authenticated URLs (SharePoint upload sessions, Azure
// SAS and other signed download links). It is safe for concurrent use; a nil Redactor
// masks shapes only.
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

// Redact returns s with every known secret value and every credential shape replaced
// by Mask.
func (r *Redactor) Redact(s string) string {
	return r.snapshot().redact(s)
}

func (r *Redactor) snapshot() *redactSet {
	if r == nil {
		return nil
	}
	return r.values.Load()
}

// redact masks the known values (none for a nil set), then credential shapes.
func (set *redactSet) redact(s string) string {
	if set != nil {
		for _, v := range set.values {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Mask)
			}
		}
	}
	return redactShapes(s)
}

// credentialShape is a credential recognised by its form. The pattern runs only when
// the text holds one of the hints, so ordinary log lines cost a few substring checks.
type credentialShape struct {
	hints []string
	re    *regexp.Regexp
	repl  string
}

// credentialShapes catch credentials that reach an error or a log line without the
// redactor having been taught them: tokens GitHub issues (ghp_, gho_, ghu_, ghs_, ghr_,
// github_pat_; installation tokens in GitHub's newer ghs_<app id>_<JWT> form too),
// bearer tokens, JWTs (SharePoint's tempauth and GitHub App JWTs are ones), PEM
// private keys (a GitHub App's), the signature
// parameters of pre-authenticated URLs (tempauth, Azure SAS sig, S3 and GCS signed-URL
// parameters, token/access_token), and passwords in URLs. Each keeps enough context
// (the prefix, the parameter name) to tell what was there.
var credentialShapes = []credentialShape{
	{hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"},
		re: regexp.MustCompile(`\b(gh[pousr]_)[A-Za-z0-9][A-Za-z0-9_.\-]{15,}`), repl: "${1}" + Mask},
	{hints: []string{"PRIVATE KEY"},
		re: regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`), repl: Mask},
	{hints: []string{"github_pat_"},
		re: regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{20,}`), repl: "github_pat_" + Mask},
	{hints: []string{"earer"}, // Bearer, bearer
		re: regexp.MustCompile(`(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{16,}=*`), repl: "${1}${2}" + Mask},
	{hints: []string{"eyJ"},
		re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`), repl: Mask},
	{hints: []string{"="},
		re:   regexp.MustCompile(`(?i)([?&;])(tempauth|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|access_token|token)=([^&\s"'<>#\\]+)`),
		repl: "${1}${2}=" + Mask},
	{hints: []string{"://"},
		re: regexp.MustCompile(`(://[^/\s:@"']+:)[^/\s@"']+@`), repl: "${1}" + Mask + "@"},
}

// redactShapes masks every credential shape in s.
func redactShapes(s string) string {
	for _, c := range credentialShapes {
		for _, h := range c.hints {
			if strings.Contains(s, h) {
				s = c.re.ReplaceAllString(s, c.repl)
				break
			}
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
