package githubapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// GitHub's primary rate limits: 5,000 requests an hour for a user token, 60
// for unauthenticated requests, in a window that starts at the first request
// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
const (
	userLimit      = 5000
	anonymousLimit = 60
	rateWindow     = time.Hour
)

type bucket struct {
	limit     int
	remaining int
	reset     time.Time
}

// bucketLocked returns the bucket for key, opening a fresh window when none
// is open. Callers hold s.mu.
func (s *Server) bucketLocked(key string, limit int) *bucket {
	now := s.clock.Now()
	b, ok := s.buckets[key]
	if !ok || !now.Before(b.reset) {
		b = &bucket{limit: limit, remaining: limit, reset: now.Add(rateWindow).Truncate(time.Second)}
		s.buckets[key] = b
	}
	return b
}

func tokenBucketKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:])
}

// Unauthenticated requests are limited by the client's IP address.
func anonymousBucketKey(r *http.Request) string { return "ip:" + clientIP(r) }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// SetRateLimit sets how many requests token has left in its current window
// (one is opened if none is), e.g. 0 to get GitHub's rate-limit answer on
// the next call.
func (s *Server) SetRateLimit(token string, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(tokenBucketKey(token), userLimit)
	b.remaining = min(max(remaining, 0), b.limit)
}

// rateHeaders are GitHub's x-ratelimit-* headers for b.
func rateHeaders(h http.Header, b bucket) {
	h.Set("x-ratelimit-limit", strconv.Itoa(b.limit))
	h.Set("x-ratelimit-remaining", strconv.Itoa(b.remaining))
	h.Set("x-ratelimit-reset", strconv.FormatInt(b.reset.Unix(), 10))
	h.Set("x-ratelimit-used", strconv.Itoa(b.limit-b.remaining))
	h.Set("x-ratelimit-resource", "core")
}

// anonymousHeaders sets the headers of the caller's unauthenticated bucket
// without using it up (for errors and the web host's endpoints).
func (s *Server) anonymousHeaders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := *s.bucketLocked(anonymousBucketKey(r), anonymousLimit)
	s.mu.Unlock()
	rateHeaders(w.Header(), b)
}

// spend takes one request from the bucket at key and sets the headers. At
// zero it answers as GitHub does (403, x-ratelimit-remaining: 0, "API rate
// limit exceeded for ...") and returns false. Callers do not hold s.mu.
func (s *Server) spend(w http.ResponseWriter, key string, limit int, who string) bool {
	s.mu.Lock()
	b := s.bucketLocked(key, limit)
	ok := b.remaining > 0
	if ok {
		b.remaining--
	}
	snapshot := *b
	s.mu.Unlock()
	rateHeaders(w.Header(), snapshot)
	if !ok {
		writeRateLimited(w, http.StatusForbidden, who)
	}
	return ok
}

// writeRateLimited is GitHub's primary rate-limit answer; who is e.g.
// "user ID 1234" or an IP address.
func writeRateLimited(w http.ResponseWriter, status int, who string) {
	writeError(w, status, fmt.Sprintf("API rate limit exceeded for %s.", who), docsRateLimit)
}

// rateSubject names the limited party in the rate-limit message.
func rateSubject(rec *tokenRecord) string {
	if rec.user == nil {
		return fmt.Sprintf("installation ID %d", rec.id)
	}
	return fmt.Sprintf("user ID %d", rec.user.id)
}

// rateWho names the party a request would be limited as: the token's user,
// else the client's address.
func (s *Server) rateWho(r *http.Request) string {
	if token, ok := bearerToken(r); ok {
		s.mu.Lock()
		rec, ok := s.lookupLocked(token)
		s.mu.Unlock()
		if ok {
			return rateSubject(rec)
		}
	}
	return clientIP(r)
}
