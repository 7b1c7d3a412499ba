package memwatch

import (
	"testing"
	"time"
)

var sink []byte

func TestPeakSeesAnAllocationThatIsGoneByStop(t *testing.T) {
	w := Start(time.Millisecond)
	before := HeapInuse()
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = 1
	}
	time.Sleep(20 * time.Millisecond) // let the sampler see it
	sink = nil
	if peak := w.Stop(); peak < before+32<<20 {
		t.Fatalf("peak %d MiB, want at least %d MiB", peak>>20, (before+32<<20)>>20)
	}
}
