package notify

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/errcode"
	"golang.org/x/net/idna"
)

// CheckWebhookURL refuses a URL that is not an absolute http or https URL with a host.
func CheckWebhookURL(raw string) error {
	if len(raw) > MaxWebhookURL || !utf8.ValidString(raw) {
		return errcode.FieldErrorf(errcode.Invalid, "url", "url: at most %d bytes of UTF-8", MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errcode.FieldErrorf(errcode.Invalid, "url", "url: %q is not an http:// or https:// URL with a host (and no user or fragment)", raw)
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
		return errcode.FieldErrorf(errcode.Invalid, "url", "url: host %s is this machine; private targets are not allowed (alerts.webhooks.allow_private)", u.Hostname())
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
		return errcode.FieldErrorf(errcode.Invalid, "url", "url: host %s is %s; private targets are not allowed (alerts.webhooks.allow_private)", shown, why)
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
	if why := commonKind(ip); why != "" {
		return why
	}
	switch {
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
	if why := commonKind(ip); why != "" {
		return why
	}
	switch {
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

// commonKind names the refused kinds that net/netip knows for both IPv4 and IPv6, or "".
func commonKind(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsMulticast():
		return "a multicast address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsPrivate():
		return "a private address"
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
