package bridge

import (
	"math"
	"sync"
	"time"
)

// maxBuckets bounds the per-user limiter's memory.
const maxBuckets = 10000

// userLimiter is a token bucket per GitHub user id: perMinute requests a
// minute, in bursts of up to perMinute. A bucket that has refilled is the
// same as no bucket, so sweeps drop those, and the map holds only users
// seen within the last minute (and never more than maxBuckets).
type userLimiter struct {
	perMinute float64
	max       int

	mu        sync.Mutex
	buckets   map[int64]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newUserLimiter(perMinute, max int) *userLimiter {
	return &userLimiter{perMinute: float64(perMinute), max: max, buckets: map[int64]*bucket{}}
}

// allow takes one request from user's bucket, or says how long until one
// is available.
func (l *userLimiter) allow(user int64, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[user]
	if !found {
		l.makeRoom(now)
		b = &bucket{tokens: l.perMinute, last: now}
		l.buckets[user] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
	return false, wait
}

func (l *userLimiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.perMinute, b.tokens+elapsed.Minutes()*l.perMinute)
		b.last = now
	}
}

// makeRoom sweeps refilled buckets once a minute or when the map is full,
// and if it is still full drops the least recently used bucket.
func (l *userLimiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.max && now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for id, b := range l.buckets {
		if now.Sub(b.last) >= time.Minute {
			delete(l.buckets, id)
		}
	}
	for len(l.buckets) >= l.max {
		var oldest int64
		var oldestAt time.Time
		first := true
		for id, b := range l.buckets {
			if first || b.last.Before(oldestAt) {
				oldest, oldestAt, first = id, b.last, false
			}
		}
		delete(l.buckets, oldest)
	}
}

func (l *userLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
