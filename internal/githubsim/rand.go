package githubsim

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"
)

// Everything random in the world comes from a generator seeded with the world's seed and
// a stream id naming what is generated (a repository, a user-day), so each part is
// deterministic on its own and the order parts are generated in does not matter.

// Stream ids, mixed with the seed.
const (
	streamUsers uint64 = iota + 1
	streamOrg
	streamRepo
	streamCopilotUser
	streamCopilotDay
	streamSeats
	streamFaults
	streamPRActivity
	streamLayout
)

func newRand(seed int64, stream uint64, ids ...uint64) *rand.Rand {
	h := mix(uint64(seed), stream)
	for _, id := range ids {
		h = mix(h, id)
	}
	return rand.New(rand.NewPCG(h, mix(h, 0x5eed)))
}

// mix folds v into h with the splitmix64 finaliser.
func mix(h, v uint64) uint64 {
	z := h ^ (v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2))
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hashOf is a stable hash of a few integers, for values computed on demand.
func hashOf(vals ...uint64) uint64 {
	var h uint64 = 0xcbf29ce484222325
	for _, v := range vals {
		h = mix(h, v)
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// sha is a git object id.
type sha [20]byte

func (s sha) String() string { return hex.EncodeToString(s[:]) }

// makeSHA derives a commit id from the seed and what the commit is.
func makeSHA(seed int64, parts ...uint64) sha {
	buf := make([]byte, 8*(len(parts)+1))
	binary.BigEndian.PutUint64(buf, uint64(seed))
	for i, p := range parts {
		binary.BigEndian.PutUint64(buf[8*(i+1):], p)
	}
	return sha1.Sum(buf)
}

func parseSHA(s string) (sha, bool) {
	var out sha
	if len(s) != 40 {
		return out, false
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, false
	}
	return out, true
}

// expDuration draws an exponential duration with the given mean.
func expDuration(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}

// logNormalDuration draws a log-normal duration with the given median and spread
// (sigma of the underlying normal).
func logNormalDuration(rng *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(rng.NormFloat64()*sigma))
}

// between draws a duration uniformly in [lo, hi).
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// chance reports true with probability p.
func chance(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

// pick returns a random element.
func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// poisson draws a Poisson-distributed count (Knuth; fine for the small means used here).
func poisson(rng *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		n := int(math.Round(mean + rng.NormFloat64()*math.Sqrt(mean)))
		return max(n, 0)
	}
	l := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// workTime places an event on day at a working hour (07:00–19:00 UTC, denser mid-day).
func workTime(rng *rand.Rand, day time.Time) time.Time {
	hour := 7 + (rng.Float64()+rng.Float64())*6 // triangular around 13:00
	return day.Add(time.Duration(hour * float64(time.Hour))).Truncate(time.Second)
}

func isWeekend(t time.Time) bool {
	wd := t.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
