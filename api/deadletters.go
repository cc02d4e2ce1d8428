package api

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
)

// deadLetterJSON is a dead letter as the API shows it.
type deadLetterJSON struct {
	ID       int64     `json:"id"`
	Received time.Time `json:"received"`
	Device   string    `json:"device"`
	Topic    string    `json:"topic"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail"`
	// Reading is the position of the rejected reading in the payload; absent when the whole
	// message was rejected.
	Reading *int `json:"reading,omitempty"`
	// Payload is the kept part of the raw payload when it is text; PayloadBase64 otherwise.
	Payload       string `json:"payload,omitempty"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	PayloadSize   int    `json:"payload_size"`
	Truncated     bool   `json:"truncated"`
}

type deadLetterPage struct {
	Items []deadLetterJSON `json:"items"`
	// Next is the cursor for the following (older) page: pass it as before=. Empty on the last
	// page. A fleet manager's page may hold fewer than limit items and still have a next.
	Next string `json:"next,omitempty"`
}

// listDeadLetters serves GET /api/v1/deadletters?device=&reason=&since=&until=&before=&limit=:
// every dead letter to an admin; to a fleet manager, those of the devices now at their sites (as
// the registry view says); to a doctor, none.
func (a *API) listDeadLetters(c *call) error {
	f, err := deadLetterFilter(c.q)
	if err != nil {
		return err
	}
	var dls []deadletter.DeadLetter
	var next int64
	if c.p.IsAdmin() {
		dls, err = a.opts.DeadLetters.ListDeadLetters(c.Context(), f)
		if len(dls) == f.Limit && len(dls) > 0 {
			next = dls[len(dls)-1].ID
		}
	} else {
		dls, next, err = a.deadLettersAtSites(c, f)
	}
	if err != nil {
		return err
	}
	page := deadLetterPage{Items: make([]deadLetterJSON, 0, len(dls))}
	for i := range dls {
		d := &dls[i]
		j := deadLetterJSON{ID: d.ID, Received: d.Received, Device: d.Device, Topic: d.Topic,
			Reason: d.Reason, Detail: d.Detail, PayloadSize: d.PayloadSize, Truncated: d.Truncated()}
		if d.Index >= 0 {
			j.Reading = &d.Index
		}
		if utf8.Valid(d.Payload) {
			j.Payload = string(d.Payload)
		} else {
			j.PayloadBase64 = base64.StdEncoding.EncodeToString(d.Payload)
		}
		page.Items = append(page.Items, j)
	}
	if next > 0 {
		page.Next = strconv.FormatInt(next, 10)
	}
	return c.reply(page)
}

// deadLetterScan bounds the dead letters read for one page of a fleet manager's, who may see
// few of them: a page then holds fewer than limit items, and next says where to go on.
const deadLetterScan = 10_000

// deadLettersAtSites returns a page of the dead letters of devices at the caller's sites, and
// the cursor of the next page (0 on the last). The store filters by one device at most, so it
// reads newest first and keeps those of the caller's devices.
func (a *API) deadLettersAtSites(c *call, f deadletter.Filter) ([]deadletter.DeadLetter, int64, error) {
	p := c.p
	if a.opts.Devices == nil || a.opts.Devices.Load() == nil {
		return nil, 0, apiError(errcode.Unavailable, "the registry view is not loaded")
	}
	dir := a.opts.Devices.Load()
	mine := func(device string) bool {
		d, ok := dir.Device(device)
		return ok && p.CanSite(d.SiteID)
	}
	if f.Device != "" && !mine(f.Device) {
		return nil, 0, forbidden("device %s is not at one of your sites", f.Device)
	}
	want := f.Limit
	f.Limit = 1000
	var out []deadletter.DeadLetter
	for scanned := 0; scanned < deadLetterScan; {
		batch, err := a.opts.DeadLetters.ListDeadLetters(c.Context(), f)
		if err != nil {
			return nil, 0, err
		}
		for _, d := range batch {
			if !mine(d.Device) {
				continue
			}
			out = append(out, d)
			if len(out) == want {
				return out, d.ID, nil
			}
		}
		if len(batch) < f.Limit {
			return out, 0, nil // no more
		}
		scanned += len(batch)
		f.Before = batch[len(batch)-1].ID
	}
	return out, f.Before, nil
}

// deadLetterFilter reads the query of GET /deadletters.
func deadLetterFilter(q url.Values) (deadletter.Filter, error) {
	var f deadletter.Filter
	if v := q.Get("device"); v != "" {
		if !reading.ValidID(v) {
			return f, invalid("device: not a device id (1-64 characters of A-Z a-z 0-9 . _ : -)")
		}
		f.Device = v
	}
	if v := q.Get("reason"); v != "" {
		known := []string{deadletter.ReasonWriteRejected}
		for _, r := range reading.Reasons {
			known = append(known, string(r))
		}
		if !slices.Contains(known, v) {
			return f, invalid("reason: unknown reason " + strconv.Quote(v) + "; known: " + strings.Join(known, ", "))
		}
		f.Reason = v
	}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, invalid(p.key + ": not an RFC 3339 time (e.g. 2026-11-22T07:30:00Z): " + strconv.Quote(v))
			}
			*p.dst = t
		}
	}
	var err error
	f.Before, f.Limit, err = pageParams(q, "before")
	return f, err
}
