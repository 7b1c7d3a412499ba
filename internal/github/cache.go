package github

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sync"
)

// Cache keeps one conditional-request entry per enterprise and URL: the page's ETag,
// its Link header and its body. ETags are bound to the token, hence the enterprise in
// the key. postgres.Store implements it over github_etags.
//
// The body is opaque to the cache: the client stores it gzip-compressed (list pages
// are large and compress about tenfold).
type Cache interface {
	// GetCachedPage returns the entry for url; ok is false when there is none.
	GetCachedPage(ctx context.Context, enterpriseID, url string) (etag, link string, body []byte, ok bool, err error)
	// PutCachedPage stores (or replaces) the entry for url.
	PutCachedPage(ctx context.Context, enterpriseID, url, etag, link string, body []byte) error
}

type conditionalKey struct{}

// conditional marks a context's requests as list pages worth caching. Only list
// pages are: single objects are re-read because they changed, compare bodies are
// large and immutable, and report links expire within the hour.
func conditional(ctx context.Context) context.Context {
	return context.WithValue(ctx, conditionalKey{}, true)
}

func isConditional(ctx context.Context) bool {
	v, _ := ctx.Value(conditionalKey{}).(bool)
	return v
}

// pageCompressor gzips cached pages, reusing writers (a gzip.Writer is costly to set up).
type pageCompressor struct {
	writers sync.Pool
}

func (p *pageCompressor) compress(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body)/8 + 64)
	w, _ := p.writers.Get().(*gzip.Writer)
	if w == nil {
		// BestSpeed: pages are written once per change and read rarely; the level
		// barely changes the ratio on JSON.
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		w.Reset(&buf)
	}
	defer p.writers.Put(w)
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("compress page: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress page: %w", err)
	}
	return buf.Bytes(), nil
}

func decompress(stored []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return nil, fmt.Errorf("cached page: %w", err)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cached page: %w", err)
	}
	return body, nil
}
