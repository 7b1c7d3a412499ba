// Package memwatch measures the peak Go heap of a piece of work, for benchmarks that
// report memory (docs/benchmarks.md).
package memwatch

import (
	"runtime"
	"time"
)

// HeapInuse is the current runtime.MemStats.HeapInuse.
func HeapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Watch samples HeapInuse until Stop.
type Watch struct {
	done chan struct{}
	peak chan uint64
}

// Start samples HeapInuse every interval in a goroutine.
func Start(interval time.Duration) *Watch {
	w := &Watch{done: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		peak := HeapInuse()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				peak = max(peak, HeapInuse())
			case <-w.done:
				w.peak <- max(peak, HeapInuse())
				return
			}
		}
	}()
	return w
}

// Stop ends sampling and returns the highest HeapInuse seen (one last sample included).
func (w *Watch) Stop() uint64 {
	close(w.done)
	return <-w.peak
}
