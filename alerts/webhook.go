package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Webhooks (DESIGN.md "Alerts", "Notifications"): signed HTTP POSTs of alert events to a team's
// or a site's receivers (an SMS gateway, a hospital system).
//
//   - What is sent: an event that notifies people (raised, severity_raised, or the first clean
//     repeat of an alert that was quiet: Event.Notify), every escalated event, and the resolved
//     event of an alert that had notified someone, so that a receiver can close what it opened.
//     A repeat that notifies no one (updated) and acknowledgements are not sent.
//   - To whom: a clinical alert's event to the enabled webhooks of its team, a fault's to those
//     of its site, each at or above the webhook's minimum severity (for resolved, the severity
//     it had notified), and only events written after the webhook was created.
//   - How: the Deliverer follows the alert events from a cursor kept in the store and, in one
//     step with moving the cursor, writes one delivery per matching webhook to an outbox. It
//     then claims due deliveries under a lease, so that two instances never send one at once,
//     and POSTs each; 2xx is delivered, anything else is retried with exponential backoff until
//     at least RetryPolicy.GiveUpAfter has passed since the first attempt, then failed. The body
//     and the idempotency key are fixed when the delivery is written, so every retry is the same
//     request and a receiver can drop repeats by the key. The signature is made when a request
//     is sent, with the webhook's secret then: after a rotation, every request, a retry of an
//     event queued before it included, is signed with the new secret.
//   - Where to: a webhook makes the platform POST from inside its network, so a URL naming an
//     internal address would let whoever manages a webhook reach internal services. Unless
//     private targets are allowed (config alerts.webhooks.allow_private, for receivers on the
//     same network), a webhook's URL may not name localhost or a literal loopback, link-local,
//     private, unspecified or multicast address (CheckWebhookTarget, when it is registered or
//     changed), and the deliverer's client checks the address it connects to, after the name
//     is resolved, on every connection (net.Dialer.Control): a name that resolves to such an
//     address, at registration or only later (DNS rebinding), is refused as well. A refused
//     attempt is a failed attempt like a refused connection: the delivery log records it with
//     the reason, and it is retried with the usual backoff until GiveUpAfter, so that a URL or
//     DNS record put right in time still gets the event.

// Webhook is a receiver of the alert events of one team (clinical alerts) or one site (faults).
type Webhook struct {
	ID   int64
	Team string // exactly one of Team and Site
	Site string
	URL  string // http or https
	// Secret keys the HMAC-SHA256 signature of each body. It is stored as given, since the
	// signature needs it, shown once when the webhook is created or its secret rotated, and
	// never logged.
	Secret  string
	Enabled bool
	// MinSeverity is the lowest severity sent; 0 sends every severity.
	MinSeverity Severity
	// FromEvent is the last alert event written before the webhook was created: only later
	// events are sent to it.
	FromEvent int64
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MaxWebhookURL bounds a webhook's URL, in bytes.
const MaxWebhookURL = 2000

// Check refuses a webhook that cannot be stored: not exactly one of team and site, a URL that
// is not an absolute http or https URL, a severity out of range, no secret.
func (w Webhook) Check() error {
	switch {
	case (w.Team == "") == (w.Site == ""):
		return devices.Errorf(devices.Invalid, "a webhook is for one team or one site: give exactly one of team and site")
	case w.Team != "" && !devices.ValidID(w.Team):
		return devices.Errorf(devices.Invalid, "team: %q is not an id", w.Team)
	case w.Site != "" && !devices.ValidID(w.Site):
		return devices.Errorf(devices.Invalid, "site: %q is not an id", w.Site)
	case w.MinSeverity != 0 && (w.MinSeverity < Info || w.MinSeverity > Critical):
		return devices.Errorf(devices.Invalid, "min_severity: %v is not a severity", w.MinSeverity)
	case w.Secret == "":
		return devices.Errorf(devices.Invalid, "a webhook needs a secret")
	}
	return CheckWebhookURL(w.URL)
}

// CheckWebhookURL refuses a URL that is not an absolute http or https URL with a host.
func CheckWebhookURL(raw string) error {
	if len(raw) > MaxWebhookURL || !utf8.ValidString(raw) {
		return devices.Errorf(devices.Invalid, "url: at most %d bytes of UTF-8", MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return devices.Errorf(devices.Invalid, "url: %q is not an http:// or https:// URL with a host (and no user or fragment)", raw)
	}
	return nil
}

// CheckWebhookTarget refuses what CheckWebhookURL refuses and, unless allowPrivate, a URL
// whose host names this machine (localhost, a name under .localhost, and the other names
// /etc/hosts gives loopback) or is an address, in any form that the HTTP client or the
// resolver reads as one, that is not a public one (see hostAddress and privateTarget). A name
// is checked when a request connects to what it resolves to (see DelivererOptions.AllowPrivate).
func CheckWebhookTarget(raw string, allowPrivate bool) error {
	if err := CheckWebhookURL(raw); err != nil || allowPrivate {
		return err
	}
	u, _ := url.Parse(raw) // CheckWebhookURL parsed it
	host, ip, isAddr := hostAddress(u.Hostname())
	if thisMachine(host) {
		return devices.Errorf(devices.Invalid, "url: host %s is this machine; private targets are not allowed (alerts.webhooks.allow_private)", u.Hostname())
	}
	if !isAddr {
		return nil
	}
	if why := privateTarget(ip); why != "" {
		shown := u.Hostname()
		if canonical := ip.String(); canonical != shown {
			// 0x7f000001 or 127.1 says little to whoever reads the error: name the address.
			shown += " (" + canonical + ")"
		}
		return devices.Errorf(devices.Invalid, "url: host %s is %s; private targets are not allowed (alerts.webhooks.allow_private)", shown, why)
	}
	return nil
}

// hostAddress reads the host of a URL as the deliverer's client will: net/http maps a
// non-ASCII host through IDNA (UTS #46) before it dials, so that full-width digits and
// ideographic full stops become "127.0.0.1"; an IPv6 literal may carry a zone; and a host that
// is not a literal address goes to the resolver, which, like inet_aton and WHATWG URL parsers,
// also reads 0x7f000001, 2130706433, 127.1 and 0177.0.0.1 as addresses. It returns the host as
// mapped (lower case, without a trailing dot) and, if the host is an address in any of those
// forms, the address; a host that is not one is a name, checked when it resolves.
func hostAddress(hostname string) (host string, ip netip.Addr, ok bool) {
	host = hostname
	if !isASCII(host) {
		// As net/http does (canonicalAddr): on an error it dials the host as it is.
		if mapped, err := idna.Lookup.ToASCII(host); err == nil {
			host = mapped
		}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return host, ip, true
	}
	if ip, ok := parseIPv4Loose(host); ok {
		return host, ip, true
	}
	return host, netip.Addr{}, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// parseIPv4Loose parses s as inet_aton (glibc's resolver) and WHATWG URL parsers read an IPv4
// address: one to four parts separated by dots, each decimal, octal (a leading 0) or hex (0x;
// a bare 0x is 0 to a WHATWG parser), the last part filling the bytes that remain (127.1 is
// 127.0.0.1, 2130706433 is 127.0.0.1). It is lenient where those parsers differ, since a host
// that any of them reads as a refused address must be refused; ok false when s cannot be an
// address, and the resolver would look it up as a name.
func parseIPv4Loose(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint32
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= uint32(n) << (8 * (3 - i))
			continue
		}
		if rest := 8 * (5 - len(parts)); n >= 1<<rest {
			return netip.Addr{}, false // 4 parts leave 8 bits to the last, 1 part all 32
		}
		v |= uint32(n)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Part parses one part of an IPv4 address for parseIPv4Loose.
func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || p[0] == '+' || p[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 64)
	return n, err == nil
}

// thisMachine reports whether host (lower case, no trailing dot) is a name that always means
// this machine: localhost and the names under it (RFC 6761), and the loopback names that
// Debian's /etc/hosts gives.
func thisMachine(host string) bool {
	switch host {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	return strings.HasSuffix(host, ".localhost")
}

// Address ranges that privateTarget refuses besides those netip names. They are read-only.
var (
	sharedIPv4     = netip.MustParsePrefix("100.64.0.0/10")   // carrier-grade NAT (RFC 6598); Alibaba Cloud's metadata service is 100.100.100.200
	protocolIPv4   = netip.MustParsePrefix("192.0.0.0/24")    // IETF protocol assignments (RFC 6890); 192.0.0.192 is a metadata address too
	benchmarkIPv4  = netip.MustParsePrefix("198.18.0.0/15")   // benchmarking (RFC 2544), used by proxies as fake addresses
	reservedIPv4   = netip.MustParsePrefix("240.0.0.0/4")     // reserved, with the limited broadcast 255.255.255.255
	siteLocalIPv6  = netip.MustParsePrefix("fec0::/10")       // deprecated site-local (RFC 3879), still routed inside some networks
	nat64LocalIPv6 = netip.MustParsePrefix("64:ff9b:1::/48")  // local-use NAT64 (RFC 8215): translated inside this network
	nat64IPv6      = netip.MustParsePrefix("64:ff9b::/96")    // NAT64 well-known prefix (RFC 6052): an IPv4 address in the last 32 bits
	sixToFourIPv6  = netip.MustParsePrefix("2002::/16")       // 6to4 (RFC 3056): an IPv4 address in bits 16-47
	translatedIPv6 = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (RFC 2765)
	compatibleIPv6 = netip.MustParsePrefix("::/96")           // IPv4-compatible (RFC 4291, deprecated)
)

// privateTarget says what ip is when it is not a public address a webhook may be sent to:
// loopback, link-local (which holds cloud metadata services), private (RFC 1918, RFC 4193),
// unspecified (and the rest of 0.0.0.0/8, which reaches this host), multicast, shared
// (carrier-grade NAT), reserved, benchmarking, site-local or local-use NAT64; "" when it is
// none of those. An IPv6 address that carries an IPv4 one (mapped, compatible, translated,
// NAT64, 6to4) is judged by the IPv4 address as well, since a translator or relay on the path
// may deliver it there. A zone is ignored.
func privateTarget(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return privateIPv4(ip)
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsMulticast():
		return "a multicast address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case siteLocalIPv6.Contains(ip):
		return "a site-local address"
	case nat64LocalIPv6.Contains(ip):
		return "a local-use NAT64 address"
	}
	if v4, ok := embeddedIPv4(ip); ok {
		if why := privateIPv4(v4); why != "" {
			return "an IPv6 form of " + v4.String() + ", " + why
		}
	}
	return ""
}

// privateIPv4 is privateTarget for an IPv4 address.
func privateIPv4(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsMulticast():
		return "a multicast address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsPrivate():
		return "a private address"
	case ip.As4()[0] == 0:
		return "an unspecified address"
	case sharedIPv4.Contains(ip):
		return "a shared address (carrier-grade NAT)"
	case protocolIPv4.Contains(ip), reservedIPv4.Contains(ip):
		return "a reserved address"
	case benchmarkIPv4.Contains(ip):
		return "a benchmarking address"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address that an IPv6 address of a translation or transition
// form carries (IPv4-mapped addresses are unmapped before).
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case compatibleIPv6.Contains(ip), translatedIPv6.Contains(ip), nat64IPv6.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFourIPv6.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// refusedTargetError is a connection the deliverer's client refused to make.
type refusedTargetError struct {
	addr, why string
}

func (e *refusedTargetError) Error() string {
	return "refused: " + e.addr + " is " + e.why + "; private targets are not allowed (alerts.webhooks.allow_private)"
}

// refusePrivate is a net.Dialer Control that refuses to connect to a private address: it runs
// after the name is resolved, on the address about to be connected to.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedTargetError{addr: address, why: "not an IP address and port"}
	}
	if why := privateTarget(ap.Addr()); why != "" {
		return &refusedTargetError{addr: ap.Addr().String(), why: why}
	}
	return nil
}

// NewWebhookSecret returns a fresh random webhook secret: 32 random bytes, hex, prefixed.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// Sign is the X-VitalWatch-Signature of body under secret: "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is the signature of body under secret, comparing in
// constant time: what a receiver does.
func VerifySignature(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(mac, m.Sum(nil))
}

// WebhookSends reports whether an event of this kind is sent to webhooks at all (see the top of
// the file).
func WebhookSends(ev Event) bool {
	switch ev.Type {
	case EventEscalated:
		return true
	case EventResolved:
		return ev.Alert.NotifiedSeverity > 0
	case EventRaised, EventSeverityRaised, EventUpdated:
		return ev.Notify
	}
	return false
}

// Matches reports whether ev is sent to w: w is enabled and was created before ev, ev is sent
// at all, it is routed to w's team (clinical) or site (fault), and it is at or above w's
// minimum severity.
func (w Webhook) Matches(ev Event) bool {
	if !w.Enabled || ev.ID <= w.FromEvent || !WebhookSends(ev) {
		return false
	}
	switch ev.Alert.Category {
	case Clinical:
		if w.Team == "" || w.Team != ev.Alert.Team {
			return false
		}
	case Fault:
		if w.Site == "" || w.Site != ev.Alert.Site {
			return false
		}
	default:
		return false
	}
	sev := ev.Severity
	if ev.Type == EventResolved {
		sev = ev.Alert.NotifiedSeverity
	}
	return sev >= w.MinSeverity
}

// DeliveryState is where a delivery is: pending (to be sent, or sent again), delivered (a 2xx
// answer) or failed (given up).
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
)

// Delivery is one event to send to one webhook, and what became of it: the delivery log.
type Delivery struct {
	ID        int64
	WebhookID int64
	EventID   int64
	EventType EventType
	// Key is the idempotency key: the body's id and the X-VitalWatch-Delivery header, the same
	// on every attempt.
	Key string
	// Payload is the exact body sent on every attempt.
	Payload      []byte
	State        DeliveryState
	Attempts     int
	LastStatus   int    // the HTTP status of the last attempt; 0 if it got none
	LastError    string // why the last attempt failed
	CreatedAt    time.Time
	FirstAttempt time.Time
	LastAttempt  time.Time
	NextAttempt  time.Time // when a pending delivery is due
	DeliveredAt  time.Time
	// LeaseOwner and LeaseUntil are the claim on a delivery being sent: no one else claims it
	// before LeaseUntil, and only the same claim records its outcome.
	LeaseOwner string
	LeaseUntil time.Time
}

// RetryPolicy says when a failed delivery is tried again.
type RetryPolicy struct {
	First       time.Duration // the wait after the first failed attempt: default 10s
	Max         time.Duration // the longest wait: default 1h
	GiveUpAfter time.Duration // no retry once this long has passed since the first attempt: default 24h
}

// withDefaults fills the zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = 10 * time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 24 * time.Hour
	}
	return p
}

// Backoff is the wait after the attempts-th failed attempt: First, doubling, at most Max.
func (p RetryPolicy) Backoff(attempts int) time.Duration {
	p = p.withDefaults()
	d := p.First
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Record sets the outcome of an attempt made at now that got status (0 for none) or failed
// with errText: delivered on a 2xx; else pending again after the backoff, or failed when
// GiveUpAfter has passed since the first attempt.
func (d *Delivery) Record(status int, errText string, now time.Time, p RetryPolicy) {
	p = p.withDefaults()
	d.Attempts++
	if d.FirstAttempt.IsZero() {
		d.FirstAttempt = now
	}
	d.LastAttempt, d.LastStatus, d.LastError = now, status, errText
	switch {
	case status >= 200 && status < 300:
		d.State, d.DeliveredAt, d.LastError, d.NextAttempt = DeliveryDelivered, now, "", time.Time{}
	case now.Sub(d.FirstAttempt) >= p.GiveUpAfter:
		d.State, d.NextAttempt = DeliveryFailed, time.Time{}
	default:
		d.State, d.NextAttempt = DeliveryPending, now.Add(p.Backoff(d.Attempts))
	}
}

// WebhookPayload is the JSON body of a delivery.
type WebhookPayload struct {
	ID    string       `json:"id"` // the idempotency key
	Event WebhookEvent `json:"event"`
	Alert WebhookAlert `json:"alert"`
}

// WebhookEvent is the change an event made, in a delivery.
type WebhookEvent struct {
	ID       int64     `json:"id"` // the alert event's id, as in the live feed
	Type     EventType `json:"type"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Note     string    `json:"note,omitempty"`
	Severity Severity  `json:"severity"`
}

// WebhookAlert is the alert after the change, in a delivery: as the API shows it, without
// its evidence.
type WebhookAlert struct {
	ID              int64              `json:"id"`
	Rule            string             `json:"rule"`
	RuleVersion     int                `json:"rule_version"`
	Category        Category           `json:"category"`
	Severity        Severity           `json:"severity"`
	Subject         string             `json:"subject"` // patient/<id> or device/<id>
	Patient         string             `json:"patient,omitempty"`
	Device          string             `json:"device,omitempty"`
	Team            string             `json:"team,omitempty"`
	Site            string             `json:"site,omitempty"`
	State           State              `json:"state"`
	FirstSeen       time.Time          `json:"first_seen"`
	LastSeen        time.Time          `json:"last_seen"`
	Count           int                `json:"count"`
	LastValue       string             `json:"last_value,omitempty"`
	Thresholds      map[string]float64 `json:"thresholds,omitempty"`
	AcknowledgedBy  string             `json:"acknowledged_by,omitempty"`
	AcknowledgedAt  time.Time          `json:"acknowledged_at,omitzero"`
	ResolvedBy      string             `json:"resolved_by,omitempty"`
	ResolvedAt      time.Time          `json:"resolved_at,omitzero"`
	ResolutionNote  string             `json:"resolution_note,omitempty"`
	EscalationLevel int                `json:"escalation_level"`
}

// NewDelivery is the delivery of ev to w, created at now, with a fresh idempotency key and its
// body.
func NewDelivery(w Webhook, ev Event, now time.Time) (Delivery, error) {
	b := make([]byte, 16)
	rand.Read(b)
	key := "whd_" + hex.EncodeToString(b)
	a := ev.Alert
	body, err := json.Marshal(WebhookPayload{ID: key,
		Event: WebhookEvent{ID: ev.ID, Type: ev.Type, At: ev.At.UTC(), Actor: ev.Actor, Note: ev.Note, Severity: ev.Severity},
		Alert: WebhookAlert{ID: a.ID, Rule: a.Rule, RuleVersion: a.RuleVersion, Category: a.Category, Severity: a.Severity,
			Subject: a.Subject.String(), Patient: a.Patient, Device: a.Device, Team: a.Team, Site: a.Site, State: a.State,
			FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Count: a.Count, LastValue: a.LastValue, Thresholds: a.Thresholds,
			AcknowledgedBy: a.AcknowledgedBy, AcknowledgedAt: a.AcknowledgedAt, ResolvedBy: a.ResolvedBy,
			ResolvedAt: a.ResolvedAt, ResolutionNote: a.ResolutionNote, EscalationLevel: a.EscalationLevel}})
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook %d, event %d: %w", w.ID, ev.ID, err)
	}
	return Delivery{WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type, Key: key, Payload: body,
		State: DeliveryPending, CreatedAt: now, NextAttempt: now}, nil
}

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
	Log   *slog.Logger
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
		evs, err := d.store.AlertEvents(ctx, from, Scope{All: true}, d.opts.Batch)
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
