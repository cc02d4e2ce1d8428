package api

import (
	"net/url"
	"testing"
	"time"
)

// The audit log is filtered by the time of the change: since (inclusive) and until (exclusive).
func TestAuditSinceUntil(t *testing.T) {
	f := newRegistryFixture(t)
	count := func(q url.Values) int {
		t.Helper()
		var p struct {
			Items []auditJSON `json:"items"`
		}
		f.want(200, "admin", "GET", "/audit?"+q.Encode(), "", &p)
		return len(p.Items)
	}
	seeded := count(url.Values{})
	time.Sleep(5 * time.Millisecond) // the log keeps milliseconds: the change below is after mid
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	f.want(201, "admin", "POST", "/sites", `{"id":"sZ","name":"Zed CHC"}`, nil)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for _, c := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{}, seeded + 1},
		{url.Values{"since": {ts(mid)}}, 1},
		{url.Values{"until": {ts(mid)}}, seeded},
		{url.Values{"since": {ts(mid)}, "subject": {"site/sZ"}, "action": {"site.create"}}, 1},
		{url.Values{"since": {ts(mid)}, "subject": {"site/sA"}}, 0},
		{url.Values{"since": {ts(time.Now().Add(time.Hour))}}, 0},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("audit?%s lists %d; want %d", c.q.Encode(), got, c.want)
		}
	}
	f.want(400, "admin", "GET", "/audit?since=yesterday", "", nil)
	f.want(400, "admin", "GET", "/audit?since="+url.QueryEscape(ts(mid))+"&until="+url.QueryEscape(ts(mid)), "", nil)
	f.want(403, "docA", "GET", "/audit?since="+url.QueryEscape(ts(mid)), "", nil)
}
