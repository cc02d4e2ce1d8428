package broker

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Principal is a trusted platform client, such as ingest. It connects with a username and
// password from the configuration, not from the registry, and may use the topics its filters
// cover.
type Principal struct {
	Username, Password string
	// Subscribe lists the topic filters it may subscribe to, e.g. "devices/+/telemetry" or
	// "$share/+/devices/+/telemetry" (any group). A shared filter also lets it receive the
	// messages that the shared subscription delivers, whose topics are plain.
	Subscribe []string
	// Publish lists the filters of the topics it may publish to, e.g. "devices/+/commands".
	Publish []string
	// ClientID, when set, is the only client id the principal may connect with, and no device
	// may use it: a device registered under ingest's client id could otherwise take over
	// ingest's session (a new connection with a client id replaces the old one).
	ClientID string
}

// Reasons a client is refused, as counted by Refusals.
const (
	RefusedUnknownDevice = "unknown_device"     // username is neither a principal nor a device
	RefusedBadSecret     = "bad_secret"         // wrong device secret or principal password
	RefusedRetired       = "retired"            // the device is retired
	RefusedClientID      = "client_id_mismatch" // a device's client id is not its id
	RefusedWill          = "will_topic"         // a device's last will is outside its topics
	RefusedPublish       = "publish_topic"      // a publish outside the client's topics
	RefusedSubscribe     = "subscribe_topic"    // a subscription (or delivery) outside them
	RefusedRevoked       = "revoked"            // retired, removed or secret rotated while connected
)

// access authenticates devices against the registry and principals against the configuration,
// and keeps each to its topics. mochi asks it on every CONNECT (OnConnectAuthenticate), on every
// PUBLISH from a client and SUBSCRIBE filter (OnACLCheck), and again for every message it is
// about to deliver to a subscriber (OnACLCheck with the concrete topic, write false).
type access struct {
	mqtt.HookBase
	view       *devices.View
	prefix     string // e.g. "devices"
	principals map[string]principal
	reserved   []string // client ids of principals, which devices may not use
	log        *slog.Logger
	// dummyHash is verified against for unknown usernames, so that an unknown device id costs
	// as much time as a wrong secret.
	dummyHash string
	srv       *mqtt.Server // to drop a revoked device's connection

	// proofKey keys the sums of secrets that verified keeps; it is made at start and never
	// leaves the process.
	proofKey []byte
	// hashChecks counts the secrets checked against their hash (PBKDF2).
	hashChecks atomic.Int64

	mu sync.Mutex
	// verified is, per device id, the SecretHash its current connection proved it knows. The
	// client id of a device is its id, so a device has at most one connection (a new one takes
	// the old one over) and this is per connection. A persistent session keeps its entry while
	// the device is away, so that commands queued for it are still delivered.
	//
	// It also keeps a keyed sum of the secret that proved it, so that the device's next
	// connection with the same secret, against the same hash, needs no PBKDF2: in a city, a
	// meter or a cuff connects for every upload, thousands of times a second in all, and the
	// hash's 101 rounds of SHA-512 cost tens of microseconds each time. A wrong secret, a
	// changed hash or an unknown device is checked against the hash as before.
	verified map[string]proof
	refusals map[string]uint64
}

// proof is what a device's connection proved: the hash its secret matched, and the secret's
// HMAC-SHA256 under the access's proofKey.
type proof struct {
	hash string
	sum  [sha256.Size]byte
}

type principal struct {
	Principal
	passwordSum [sha256.Size]byte
}

func newAccess(view *devices.View, prefix string, ps []Principal, log *slog.Logger) (*access, error) {
	h := &access{
		view:       view,
		prefix:     prefix,
		principals: make(map[string]principal, len(ps)),
		log:        log,
		dummyHash:  devices.HashSecret(devices.NewSecret()),
		proofKey:   make([]byte, 32),
		verified:   make(map[string]proof),
		refusals:   make(map[string]uint64),
	}
	if err := validTopicPrefix(prefix); err != nil {
		return nil, err
	}
	rand.Read(h.proofKey)
	for _, p := range ps {
		if p.Username == "" || p.Password == "" {
			return nil, fmt.Errorf("broker: a principal needs a username and a password")
		}
		if _, dup := h.principals[p.Username]; dup {
			return nil, fmt.Errorf("broker: principal %q is listed twice", p.Username)
		}
		for _, f := range append(append([]string(nil), p.Subscribe...), p.Publish...) {
			if !validACLFilter(f) {
				return nil, fmt.Errorf("broker: principal %q: %q is not a valid topic filter", p.Username, f)
			}
		}
		h.principals[p.Username] = principal{Principal: p, passwordSum: sha256.Sum256([]byte(p.Password))}
		if p.ClientID != "" {
			h.reserved = append(h.reserved, p.ClientID)
		}
	}
	return h, nil
}

func validTopicPrefix(prefix string) error {
	if strings.ContainsAny(prefix, "+#\x00") || strings.HasPrefix(prefix, "$") ||
		slices.Contains(strings.Split(prefix, "/"), "") {
		return fmt.Errorf("broker: topic prefix %q must be non-empty topic levels without wildcards or $", prefix)
	}
	return nil
}

// validACLFilter reports whether f is a valid topic filter, or a shared one whose group may
// also be + (any group), which no subscription may use but an access rule may.
func validACLFilter(f string) bool {
	rest, ok := shareRest(f)
	if !ok {
		return mqtt.IsValidFilter(f, false)
	}
	group := f[len("$share/") : len(f)-len(rest)-1]
	return group != "" && (group == "+" || !strings.ContainsAny(group, "+#")) &&
		!isShared(rest) && mqtt.IsValidFilter(rest, false)
}

func (h *access) ID() string { return "vitalwatch-access" }

func (h *access) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a principal with its password, or a device with username = its
// id, client id = its id and password = its secret. mochi answers a refusal, whatever its
// reason, with CONNACK reason 0x86 "bad username or password" to a v5 client and return code 5
// "not authorized" to a v3 one.
func (h *access) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if p, ok := h.principals[user]; ok {
		sum := sha256.Sum256(pk.Connect.Password)
		if subtle.ConstantTimeCompare(sum[:], p.passwordSum[:]) != 1 {
			h.refuse(cl, RefusedBadSecret, "principal", user)
			return false
		}
		if p.ClientID != "" && cl.ID != p.ClientID {
			h.refuse(cl, RefusedClientID, "principal", user, "client", clip(cl.ID))
			return false
		}
		return true
	}
	var dev *devices.Device
	ok := false
	if dir := h.view.Load(); dir != nil {
		dev, ok = dir.Device(user)
	}
	if !ok {
		h.verify(h.dummyHash, pk.Connect.Password)
		h.refuse(cl, RefusedUnknownDevice, "username", clip(user))
		return false
	}
	sum := h.secretSum(pk.Connect.Password)
	switch {
	case !h.proven(user, dev.SecretHash, sum) && !h.verify(dev.SecretHash, pk.Connect.Password):
		h.refuse(cl, RefusedBadSecret, "device", user)
		return false
	case dev.Status == devices.Retired:
		h.refuse(cl, RefusedRetired, "device", user)
		return false
	case cl.ID != user || slices.Contains(h.reserved, cl.ID):
		// Else one device could take over another's (or ingest's) session by using its client id.
		h.refuse(cl, RefusedClientID, "device", user, "client", clip(cl.ID))
		return false
	case pk.Connect.WillFlag && !h.devicePublishes(user, pk.Connect.WillTopic):
		// mochi publishes a will without asking OnACLCheck, so it is checked here.
		h.refuse(cl, RefusedWill, "device", user, "topic", clip(pk.Connect.WillTopic))
		return false
	}
	h.mu.Lock()
	h.verified[user] = proof{hash: dev.SecretHash, sum: sum}
	h.mu.Unlock()
	return true
}

// verify checks secret against hash, the slow way, and counts it.
func (h *access) verify(hash string, secret []byte) bool {
	h.hashChecks.Add(1)
	return devices.VerifySecret(hash, string(secret))
}

// secretSum is the keyed sum of a secret that verified keeps.
func (h *access) secretSum(secret []byte) [sha256.Size]byte {
	mac := hmac.New(sha256.New, h.proofKey)
	mac.Write(secret)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	return sum
}

// proven reports whether device id proved, with the secret whose sum is sum, that it knows
// the secret of hash.
func (h *access) proven(id, hash string, sum [sha256.Size]byte) bool {
	h.mu.Lock()
	p, ok := h.verified[id]
	h.mu.Unlock()
	return ok && p.hash == hash && subtle.ConstantTimeCompare(p.sum[:], sum[:]) == 1
}

// OnACLCheck allows a principal the topics its filters cover, and a device publishing under
// {prefix}/{id}/ and subscribing to (and receiving) {prefix}/{id}/commands only. A device that
// has been retired, removed, or given a new secret since it connected is refused and
// disconnected here, on its next publish, subscribe or delivery; see DropRevoked for idle ones.
func (h *access) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if p, ok := h.principals[user]; ok {
		if write && anyCovers(p.Publish, topic) || !write && p.mayReceive(topic) {
			return true
		}
		h.refuse(cl, refusedTopic(write), "principal", user, "topic", clip(topic))
		return false
	}
	if why := h.revoked(user); why != "" {
		h.refuse(cl, RefusedRevoked, "device", user, "why", why)
		h.drop(cl)
		return false
	}
	if write && h.devicePublishes(user, topic) || !write && topic == h.prefix+"/"+user+"/commands" {
		return true
	}
	h.refuse(cl, refusedTopic(write), "device", user, "topic", clip(topic))
	return false
}

// revoked says why device id may no longer use the connection it authenticated, or "".
func (h *access) revoked(id string) string {
	h.mu.Lock()
	p, ok := h.verified[id]
	h.mu.Unlock()
	hash := p.hash
	if !ok {
		return "not authenticated" // not reached: every device client passed OnConnectAuthenticate
	}
	var dev *devices.Device
	found := false
	if dir := h.view.Load(); dir != nil {
		dev, found = dir.Device(id)
	}
	switch {
	case !found:
		return "removed from the registry"
	case dev.Status == devices.Retired:
		return "retired"
	case dev.SecretHash != hash:
		// The secret was rotated: the connection proved the old one. Comparing the stored
		// hashes costs nothing, where verifying the secret again would cost a PBKDF2.
		return "secret rotated"
	}
	return ""
}

// drop disconnects cl, with reason "not authorized" for a v5 client, unless it is already away.
func (h *access) drop(cl *mqtt.Client) {
	if !cl.Closed() {
		_ = h.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	}
}

// devicePublishes reports whether device id may publish to topic: only under its own
// {prefix}/{id}/. Wildcards are never valid in a topic name [MQTT-3.3.2-2]. An empty topic (a
// v5 topic alias) is refused, since the check runs before mochi resolves the alias.
func (h *access) devicePublishes(id, topic string) bool {
	own := h.prefix + "/" + id + "/"
	return len(topic) > len(own) && strings.HasPrefix(topic, own) && !strings.ContainsAny(topic, "+#\x00")
}

// mayReceive reports whether the principal may subscribe to filter, or receive a message on
// topic: mochi asks with the subscription's filter on SUBSCRIBE and with the message's topic on
// delivery. A shared filter $share/{group}/{f} also allows receiving on the topics f matches,
// since that is what the shared subscription delivers, but not subscribing to f with wildcards.
func (p *principal) mayReceive(topic string) bool {
	if anyCovers(p.Subscribe, topic) {
		return true
	}
	if isShared(topic) || strings.ContainsAny(topic, "+#") {
		return false
	}
	for _, f := range p.Subscribe {
		if rest, ok := shareRest(f); ok && covers(rest, topic) {
			return true
		}
	}
	return false
}

func anyCovers(filters []string, topic string) bool {
	for _, f := range filters {
		if covers(f, topic) {
			return true
		}
	}
	return false
}

// covers reports whether every topic that filter sub matches is matched by filter allowed. A
// topic name is a filter without wildcards, so this also says whether allowed matches a topic.
// As in matching [MQTT-4.7.2-1], a wildcard first level does not match a level starting with $.
func covers(allowed, sub string) bool {
	// Level by level without allocating: this runs for every message delivered to a principal.
	first := true
	for {
		a, aRest, aMore := strings.Cut(allowed, "/")
		if a == "#" {
			return !first || !strings.HasPrefix(sub, "$")
		}
		s, sRest, sMore := strings.Cut(sub, "/")
		switch {
		case a == "+":
			if s == "#" || first && strings.HasPrefix(s, "$") {
				return false
			}
		case a != s:
			return false
		}
		if !aMore || !sMore {
			// "a/#" also matches "a" [MQTT-4.7.1-2].
			return aMore == sMore || aMore && aRest == "#"
		}
		allowed, sub, first = aRest, sRest, false
	}
}

func isShared(filter string) bool {
	return len(filter) >= 7 && strings.EqualFold(filter[:7], "$share/")
}

// shareRest returns f of $share/{group}/{f}.
func shareRest(filter string) (string, bool) {
	if !isShared(filter) {
		return "", false
	}
	_, rest, ok := strings.Cut(filter[7:], "/")
	return rest, ok
}

func refusedTopic(write bool) string {
	if write {
		return RefusedPublish
	}
	return RefusedSubscribe
}

// refuse counts a refusal and logs it. Secrets are never logged.
func (h *access) refuse(cl *mqtt.Client, reason string, attrs ...any) {
	h.mu.Lock()
	h.refusals[reason]++
	h.mu.Unlock()
	h.log.Warn("refused", append([]any{"reason", reason, "remote", cl.Net.Remote}, attrs...)...)
}

// clip bounds a client-chosen string before it is logged.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// Refusals returns how many clients, publishes and subscriptions were refused, by reason (the
// Refused* constants). It is empty when device authentication is off.
func (b *Broker) Refusals() map[string]uint64 {
	if b.access == nil {
		return map[string]uint64{}
	}
	b.access.mu.Lock()
	defer b.access.mu.Unlock()
	return maps.Clone(b.access.refusals)
}

// DropRevoked disconnects every connected device that has been retired, removed from the
// registry or given a new secret since it connected, and returns how many. Such a device is
// refused anyway on its next publish, subscribe or delivery; call this after storing a new
// Directory in the View so that an idle one does not keep its connection either.
func (b *Broker) DropRevoked() int {
	if b.access == nil {
		return 0
	}
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		user := string(cl.Properties.Username)
		if _, ok := b.access.principals[user]; ok || cl.Closed() || cl.Net.Inline {
			continue
		}
		if why := b.access.revoked(user); why != "" {
			b.access.refuse(cl, RefusedRevoked, "device", user, "why", why)
			b.access.drop(cl)
			n++
		}
	}
	// What devices no longer in the registry proved is of no use: they cannot connect again.
	if dir := b.access.view.Load(); dir != nil {
		b.access.mu.Lock()
		for id := range b.access.verified {
			if _, ok := dir.Device(id); !ok {
				delete(b.access.verified, id)
			}
		}
		b.access.mu.Unlock()
	}
	return n
}
