package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// DeliveryStore keeps webhooks, the outbox of deliveries and the cursor over the alert events
// (store.Store).
type DeliveryStore interface {
	EventSource
	// AllWebhooks returns every webhook, with its secret.
	AllWebhooks(ctx context.Context) ([]Webhook, error)
	// WebhookCursor returns the ID of the last alert event whose deliveries were written.
	WebhookCursor(ctx context.Context) (int64, error)
	// EnqueueWebhookDeliveries writes ds and moves the cursor from from to to, in one
	// transaction, if the cursor is still at from; false if another instance moved it first
	// (then nothing is written).
	EnqueueWebhookDeliveries(ctx context.Context, from, to int64, ds []Delivery) (bool, error)
	// ClaimWebhookDeliveries leases up to limit pending deliveries of enabled webhooks that
	// are due at now and not leased, to owner until now+lease, and returns them.
	ClaimWebhookDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishWebhookDelivery records the outcome of an attempt on a delivery claimed as d
	// (d.LeaseOwner, d.LeaseUntil) and ends the lease; a Conflict if the claim was lost.
	FinishWebhookDelivery(ctx context.Context, d Delivery) error
}

// Doer sends HTTP requests (*http.Client).
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// DelivererOptions tune a Deliverer.
type DelivererOptions struct {
	// Client sends the requests: default an http.Client that follows no redirects (a 3xx is a
	// failed attempt) and, unless AllowPrivate, connects to public addresses only, directly
	// (no proxy: the check would see the proxy's address, not the receiver's).
	Client Doer
	// AllowPrivate lets the default client connect to loopback, link-local, private,
	// unspecified and multicast addresses (config alerts.webhooks.allow_private).
	AllowPrivate bool
	// Now is the clock of the schedule: default time.Now.
	Now func() time.Time
	// PollInterval is how often Run looks for new events and due deliveries: default 1s.
	PollInterval time.Duration
	// Timeout bounds one attempt: default 10s.
	Timeout time.Duration
	// Lease is how long a claimed delivery is this deliverer's: default 3 x Timeout, and
	// never less than 2 x Timeout, so that a lease cannot end while its attempt runs.
	Lease time.Duration
	Retry RetryPolicy
	// Workers is how many deliveries are sent at once: default 4.
	Workers int
	// Batch is how many events are read, or deliveries claimed, at a time: default 100.
	Batch int
	// Owner names this deliverer's leases: default a random name.
	Owner string
	// Metrics counts the attempts' outcomes; none if nil.
	Metrics *Metrics
	Log     *slog.Logger
}

// Deliverer writes the deliveries of new alert events to the outbox and sends the due ones.
// Several instances may run one each on a shared store.
type Deliverer struct {
	store DeliveryStore
	opts  DelivererOptions
	log   *slog.Logger
}

// NewDeliverer returns a deliverer over st. Run it to send anything.
func NewDeliverer(st DeliveryStore, o DelivererOptions) *Deliverer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 3 * o.Timeout
	}
	o.Lease = max(o.Lease, 2*o.Timeout)
	if o.Client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		if !o.AllowPrivate {
			dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second, Control: refusePrivate}
			transport.DialContext, transport.Proxy = dialer.DialContext, nil
		}
		o.Client = &http.Client{Timeout: o.Timeout, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Owner == "" {
		b := make([]byte, 8)
		rand.Read(b)
		o.Owner = "deliverer-" + hex.EncodeToString(b)
	}
	o.Retry = o.Retry.withDefaults()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{store: st, opts: o, log: o.Log.With("component", "webhooks")}
}

// Run enqueues and sends deliveries every PollInterval until ctx is done. An attempt cut off
// by the end of ctx is not recorded: its lease runs out and it is sent again.
func (d *Deliverer) Run(ctx context.Context) error {
	ticker := time.NewTicker(d.opts.PollInterval)
	defer ticker.Stop()
	for {
		if err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// RunOnce writes the deliveries of every alert event since the cursor, then sends every
// delivery that is due now, and returns when they have been tried.
func (d *Deliverer) RunOnce(ctx context.Context) error {
	if err := d.Enqueue(ctx); err != nil {
		return err
	}
	for ctx.Err() == nil {
		n, err := d.SendDue(ctx)
		if err != nil || n < d.opts.Batch {
			return err
		}
	}
	return nil
}

// Enqueue writes the deliveries of the alert events after the cursor, a batch at a time.
func (d *Deliverer) Enqueue(ctx context.Context) error {
	for {
		from, err := d.store.WebhookCursor(ctx)
		if err != nil {
			return err
		}
		evs, err := d.store.AlertEvents(ctx, from, alerts.Scope{All: true}, d.opts.Batch)
		if err != nil || len(evs) == 0 {
			return err
		}
		hooks, err := d.store.AllWebhooks(ctx)
		if err != nil {
			return err
		}
		now := d.opts.Now()
		var ds []Delivery
		for _, ev := range evs {
			for _, w := range hooks {
				if !w.Matches(ev) {
					continue
				}
				del, err := NewDelivery(w, ev, now)
				if err != nil {
					return err
				}
				ds = append(ds, del)
			}
		}
		to := evs[len(evs)-1].ID
		moved, err := d.store.EnqueueWebhookDeliveries(ctx, from, to, ds)
		if err != nil {
			return err
		}
		if moved && len(ds) > 0 {
			d.log.Debug("webhook deliveries queued", "events", len(evs), "deliveries", len(ds), "through", to)
		}
		if moved && len(evs) < d.opts.Batch {
			return nil
		}
		// Either more events wait, or another instance moved the cursor: read from it again.
	}
}

// SendDue claims up to a batch of due deliveries, sends them, records each outcome, and
// returns how many it claimed.
func (d *Deliverer) SendDue(ctx context.Context) (int, error) {
	claimed, err := d.store.ClaimWebhookDeliveries(ctx, d.opts.Owner, d.opts.Now(), d.opts.Lease, d.opts.Batch)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	hooks, err := d.store.AllWebhooks(ctx)
	if err != nil {
		return len(claimed), err
	}
	byID := make(map[int64]Webhook, len(hooks))
	for _, w := range hooks {
		byID[w.ID] = w
	}
	sem := make(chan struct{}, d.opts.Workers)
	var wg sync.WaitGroup
	for _, del := range claimed {
		w, ok := byID[del.WebhookID]
		if !ok {
			continue // deleted since it was claimed: its deliveries went with it
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.attempt(ctx, w, del)
		}()
	}
	wg.Wait()
	return len(claimed), nil
}

// attempt sends del to w once and records the outcome.
func (d *Deliverer) attempt(ctx context.Context, w Webhook, del Delivery) {
	status, errText := d.post(ctx, w, del)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the delivery is sent again
	}
	del.Record(status, errText, d.opts.Now(), d.opts.Retry)
	d.opts.Metrics.attempt(del.State)
	// The URL and the secret stay out of the log: a URL often carries a token.
	log := d.log.With("webhook", w.ID, "delivery", del.ID, "event", del.EventID, "attempt", del.Attempts)
	switch del.State {
	case DeliveryDelivered:
		log.Debug("webhook delivered", "status", status)
	case DeliveryFailed:
		log.Warn("webhook delivery failed; giving up", "status", status, "err", errText, "since", del.FirstAttempt)
	default:
		log.Info("webhook delivery failed; will retry", "status", status, "err", errText, "next", del.NextAttempt)
	}
	if err := d.store.FinishWebhookDelivery(ctx, del); err != nil && ctx.Err() == nil {
		log.Warn("recording a webhook attempt", "err", err)
	}
}

// post sends the delivery's body and returns the status, or why there is none.
func (d *Deliverer) post(ctx context.Context, w Webhook, del Delivery) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, "bad request: " + errText(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "VitalWatch-Webhook/1")
	req.Header.Set("X-VitalWatch-Signature", Sign(w.Secret, del.Payload))
	req.Header.Set("X-VitalWatch-Delivery", del.Key)
	req.Header.Set("X-VitalWatch-Event", string(del.EventType))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		var refused *refusedTargetError
		if errors.As(err, &refused) {
			return 0, refused.Error()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "timed out after " + d.opts.Timeout.String()
		}
		return 0, errText(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// errText is err without the URL that *url.Error adds, which may carry a token.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "")
	}
	return s
}
