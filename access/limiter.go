package access

import (
	"sync"
	"time"
)

// Limiter bounds the sign-in attempts that fail, per key (a username, a client address): a key
// with Max attempts counted in the last Window is refused until the oldest of them is Window
// old. It lives in memory and holds at most Keys keys; when full it forgets first the keys whose
// attempts are all older than Window, then the key that failed longest ago.
//
// An attempt is counted when it starts (Take), so that many attempts sent at once cannot all
// get in before the first has failed; one that succeeds is taken back (Forgive) or clears its
// key (Reset).
type Limiter struct {
	max    int
	window time.Duration
	keys   int

	mu       sync.Mutex
	attempts map[string][]time.Time // per key, oldest first, at most max
}

// NewLimiter returns a limiter of max attempts per key in window, for at most keys keys.
func NewLimiter(max int, window time.Duration, keys int) *Limiter {
	return &Limiter{max: max, window: window, keys: keys, attempts: map[string][]time.Time{}}
}

// Take counts an attempt for key at now, unless key has used up its attempts: then it counts
// nothing and says how long until the next attempt is allowed.
func (l *Limiter) Take(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := recent(l.attempts[key], now.Add(-l.window))
	if len(ts) >= l.max {
		l.attempts[key] = ts
		return ts[0].Add(l.window).Sub(now), false
	}
	if _, known := l.attempts[key]; !known && len(l.attempts) >= l.keys {
		l.makeRoom(now)
	}
	l.attempts[key] = append(ts, now)
	return 0, true
}

// Forgive takes back the newest attempt counted for key: it succeeded.
func (l *Limiter) Forgive(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ts := l.attempts[key]; len(ts) > 1 {
		l.attempts[key] = ts[:len(ts)-1]
	} else {
		delete(l.attempts, key)
	}
}

// Reset forgets every attempt counted for key.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.attempts, key)
}

// Len returns how many keys the limiter holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.attempts)
}

// makeRoom forgets the keys without recent attempts, or else the one whose newest attempt is
// the oldest. Called with l.mu held, only when the map is full.
func (l *Limiter) makeRoom(now time.Time) {
	since := now.Add(-l.window)
	var oldestKey string
	var oldest time.Time
	for k, ts := range l.attempts {
		last := ts[len(ts)-1]
		if !last.After(since) {
			delete(l.attempts, k)
			continue
		}
		if oldestKey == "" || last.Before(oldest) {
			oldestKey, oldest = k, last
		}
	}
	if len(l.attempts) >= l.keys {
		delete(l.attempts, oldestKey)
	}
}

// recent returns the times in ts after since (ts is in order), reusing ts.
func recent(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(since) {
		i++
	}
	return ts[i:]
}
