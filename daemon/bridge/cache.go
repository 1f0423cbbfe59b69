package bridge

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// maxCacheEntries bounds the cache's memory whatever the traffic.
const maxCacheEntries = 10000

// answerCache holds GitHub's answers for a short time, keyed by a hash of
// the token (never the token) and what was asked, so that a client that
// retries does not spend the user's GitHub rate limit. Every entry lives
// the same TTL, so insertion order is expiry order: the list's front is
// always the first to go.
type answerCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[cacheKey]*list.Element
	order   *list.List // of *cacheEntry, oldest first
}

type cacheKey struct {
	token [sha256.Size]byte
	what  string // "user", "repo:OWNER/REPO" (lower case), "check-token"
}

type cacheEntry struct {
	key     cacheKey
	value   any
	expires time.Time
}

func newAnswerCache(ttl time.Duration, max int) *answerCache {
	return &answerCache{ttl: ttl, max: max, entries: map[cacheKey]*list.Element{}, order: list.New()}
}

func tokenHash(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns the live value for key.
func (c *answerCache) get(key cacheKey, now time.Time) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	return e.value, true
}

// put stores value for the TTL, dropping expired entries and, when full,
// the oldest.
func (c *answerCache) put(key cacheKey, value any, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
	for front := c.order.Front(); front != nil; front = c.order.Front() {
		e := front.Value.(*cacheEntry)
		if now.Before(e.expires) && c.order.Len() < c.max {
			break
		}
		c.order.Remove(front)
		delete(c.entries, e.key)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, value: value, expires: now.Add(c.ttl)})
}

func (c *answerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
