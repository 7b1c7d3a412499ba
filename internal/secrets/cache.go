package secrets

import (
	"context"
	"sync"
	"time"
)

// fetchTimeout bounds one shared fetch. A fetch outlives the caller that started it
// (other callers may be waiting on it), so it cannot use that caller's deadline alone.
const fetchTimeout = 30 * time.Second

// Cache keeps secret values for a TTL in front of a slower source.
type Cache struct {
	src      Source
	ttl      time.Duration
	now      func() time.Time
	redactor *Redactor

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	value     string
	fetchedAt time.Time
	has       bool
	inflight  *fetch // non-nil while a fetch for this name runs
}

// fetch is one call to the source, shared by every caller that asked meanwhile.
type fetch struct {
	done  chan struct{} // closed when value and err are set
	value string
	err   error
}

// NewCache reuses each value for ttl, so a rotated secret is picked up within ttl.
// Every value it returns is added to redactor (nil: none) before any caller sees it.
// now is the clock (time.Now in production).
func NewCache(src Source, ttl time.Duration, now func() time.Time, redactor *Redactor) *Cache {
	return &Cache{src: src, ttl: ttl, now: now, redactor: redactor, entries: make(map[string]*cacheEntry)}
}

// Get returns the cached value while it is younger than the TTL; otherwise it fetches
// it, once for all concurrent callers. Errors are returned to the callers waiting on
// that fetch and not cached: the next call tries again. A caller whose ctx ends stops
// waiting; the fetch itself carries on for the others.
func (c *Cache) Get(ctx context.Context, name string) (string, error) {
	c.mu.Lock()
	e := c.entries[name]
	if e == nil {
		e = &cacheEntry{}
		c.entries[name] = e
	}
	if e.has && c.now().Sub(e.fetchedAt) < c.ttl {
		value := e.value
		c.mu.Unlock()
		return value, nil
	}
	f := e.inflight
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		e.inflight = f
		go c.run(context.WithoutCancel(ctx), name, e, f)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *Cache) run(ctx context.Context, name string, e *cacheEntry, f *fetch) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	value, err := c.src.Get(ctx, name)
	if err == nil && c.redactor != nil {
		c.redactor.Add(value)
	}

	c.mu.Lock()
	if err == nil {
		e.value, e.fetchedAt, e.has = value, c.now(), true
	}
	e.inflight = nil
	c.mu.Unlock()

	f.value, f.err = value, err
	close(f.done)
}
