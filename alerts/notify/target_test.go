package notify_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/errcode"
)

func TestCheckWebhookURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://sms.example/hook", true}, {"http://10.0.0.5:8080/in?x=1", true},
		{"ftp://x.example/", false}, {"https://", false}, {"/relative", false}, {"https://u:p@x.example/", false},
		{"https://x.example/#frag", false}, {"javascript:alert(1)", false},
	} {
		if err := notify.CheckWebhookURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckWebhookURL(%q) = %v; want ok %v", tt.url, err, tt.ok)
		}
	}
}

func TestCheckWebhookTarget(t *testing.T) {
	for _, tt := range []struct {
		url           string
		public, other bool // ok with private targets refused; ok with them allowed
	}{
		{"https://sms.example/hook", true, true},
		{"http://203.0.113.9:8080/in", true, true},
		{"https://[2001:db8::1]/in", true, true},
		{"http://127.0.0.1:8080/in", false, true},
		{"http://127.9.9.9/", false, true},
		{"http://localhost:8080/", false, true},
		{"http://LocalHost./", false, true},
		{"http://hooks.localhost/", false, true},
		{"http://[::1]/", false, true},
		{"http://[::ffff:127.0.0.1]/", false, true},
		{"http://169.254.169.254/latest/meta-data/", false, true},
		{"http://[fe80::1%25eth0]/", false, true},
		{"http://10.0.0.5/", false, true},
		{"http://172.16.4.4/", false, true},
		{"http://172.32.0.1/", true, true}, // just outside 172.16.0.0/12
		{"http://192.168.1.1/", false, true},
		{"http://[fc00::1]/", false, true},
		{"http://0.0.0.0/", false, true},
		{"http://0.1.2.3/", false, true},
		{"http://[::]/", false, true},
		{"http://224.0.0.1/", false, true},
		{"http://239.1.1.1/", false, true},
		{"http://[ff02::1]/", false, true},
		{"http://127.1/", false, true},            // inet_aton's short form of 127.0.0.1 (see TestCheckWebhookTargetNumberForms)
		{"http://127.0.0.1.example/", true, true}, // a name: checked when it resolves
		{"http://1.2.3.4.5/", true, true},         // five parts: a name, not an address
		{"ftp://sms.example/", false, false},
		{"https://user:pw@sms.example/", false, false},
		{"https://", false, false},
		{"http://%31%32%37.0.0.1/", false, false}, // an escape in a host: no client can use it
	} {
		if err := notify.CheckWebhookTarget(tt.url, false); (err == nil) != tt.public {
			t.Errorf("CheckWebhookTarget(%q, false) = %v; want ok %v", tt.url, err, tt.public)
		} else if err != nil {
			var de *errcode.Error
			if !errors.As(err, &de) || de.Code != errcode.Invalid || !strings.HasPrefix(de.Message, "url: ") {
				t.Errorf("CheckWebhookTarget(%q, false) = %v; want an Invalid error naming url", tt.url, err)
			}
		}
		if err := notify.CheckWebhookTarget(tt.url, true); (err == nil) != tt.other {
			t.Errorf("CheckWebhookTarget(%q, true) = %v; want ok %v", tt.url, err, tt.other)
		}
	}
}

// An address written in another form than dotted decimal names the same host to the resolver
// (inet_aton: hex, octal, decimal, one to four parts) or to the HTTP client (IDNA maps
// full-width digits and dots), or reaches it through an IPv6 form that embeds IPv4: each form
// is judged by the address it lands on, and refused when that is not public.
func TestCheckWebhookTargetNumberForms(t *testing.T) {
	for _, tt := range []struct {
		url string
		why string // "" when public
	}{
		{"http://0x7f000001/", "loopback"},
		{"http://0X7F000001:8080/in", "loopback"},
		{"http://2130706433/", "loopback"},
		{"http://127.1/", "loopback"},
		{"http://127.0.1/", "loopback"},
		{"http://0177.0.0.1/", "loopback"},
		{"http://017700000001/", "loopback"},
		{"http://0x7f.0x0.0x0.0x1/", "loopback"},
		{"http://0x7f.1/", "loopback"},
		{"http://127.0.0.1./", "loopback"},
		{"http://127.0.0.0x1/", "loopback"},
		{"http://0/", "unspecified"},
		{"http://0x0/", "unspecified"},
		{"http://00000/", "unspecified"},
		{"http://0x/", "unspecified"}, // WHATWG URL parsers read a bare 0x as 0
		{"http://0xa9fea9fe/latest/meta-data/", "link-local"},
		{"http://2852039166/", "link-local"},
		{"http://169.254.43518/", "link-local"},
		{"http://0251.0376.0251.0376/", "link-local"},
		{"http://10.1/", "private"},
		{"http://012.0.0.1/", "private"},
		{"http://167772161/", "private"},
		{"http://0xc0a80001/", "private"},
		{"http://192.168.257/", "private"},
		{"http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", "loopback"},
		{"http://127\u30020\u30020\u30021/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::ffff:7f00:1]/", "loopback"},
		{"http://[::1]/", "loopback"},
		{"http://[0:0:0:0:0:0:0:1]/", "loopback"},
		{"http://[0000:0000:0000:0000:0000:0000:0000:0001]:443/", "loopback"},
		{"http://[::1%25lo]/", "loopback"},
		{"http://[::127.0.0.1]/", "loopback"},          // IPv4-compatible
		{"http://[::ffff:0:127.0.0.1]/", "loopback"},   // IPv4-translated (SIIT)
		{"http://[64:ff9b::127.0.0.1]/", "loopback"},   // NAT64 well-known prefix
		{"http://[64:ff9b::a9fe:a9fe]/", "link-local"}, // NAT64 of the metadata service
		{"http://[2002:7f00:1::]/", "loopback"},        // 6to4 of 127.0.0.1
		{"http://[2002:a00:1::1]/", "private"},         // 6to4 of 10.0.0.1
		{"http://[::]/", "unspecified"},
		{"http://[::0.0.0.0]/", "unspecified"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[FE80::1%25EN0]/", "link-local"},
		{"http://[fec0::1]/", "site-local"},
		{"http://[64:ff9b:1::a00:1]/", "NAT64"},
		{"http://localhost./", "this machine"},
		{"http://LOCALHOST/", "this machine"},
		{"http://localhost.localdomain/", "this machine"},
		{"http://ip6-localhost/", "this machine"},
		{"http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "this machine"},
		{"http://100.100.100.200/", "shared"}, // carrier-grade NAT space, where some clouds keep metadata
		{"http://0x64646464c8/", ""},          // too large for IPv4: a name, checked when it resolves
		{"http://100.64.0.1/", "shared"},
		{"http://192.0.0.192/", "reserved"},
		{"http://198.18.0.1/", "benchmarking"},
		{"http://240.0.0.1/", "reserved"},
		{"http://255.255.255.255/", "reserved"},
		{"http://0xffffffff/", "reserved"},
		{"http://[::ffff:100.100.100.200]/", "shared"},
		// Public, in any form.
		{"http://0x08080808/", ""},
		{"http://134744072/", ""},
		{"http://8.8.2056/", ""},
		{"http://[::ffff:8.8.8.8]/", ""},
		{"http://[64:ff9b::808:808]/", ""},
		{"http://[2002:808:808::1]/", ""},
		{"http://[2001:db8::1]/", ""},
		{"http://100.63.255.255/", ""},
		{"http://100.128.0.1/", ""},
		{"http://203.0.113.9/", ""},
		{"http://08.0.0.1/", ""},   // not octal: a name to the resolver, which finds nothing
		{"http://1.2.3.256/", ""},  // out of range: a name too
		{"http://4294967296/", ""}, // 2^32: a name too
		{"http://localhost.example/", ""},
	} {
		raw, err := strconv.Unquote(`"` + tt.url + `"`)
		if err != nil {
			t.Fatal(err)
		}
		err = notify.CheckWebhookTarget(raw, false)
		switch {
		case tt.why == "" && err != nil:
			t.Errorf("CheckWebhookTarget(%q, false) = %v; want ok", raw, err)
		case tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), "url: host ")):
			t.Errorf("CheckWebhookTarget(%q, false) = %v; want an error naming url and saying %q", raw, err, tt.why)
		}
		if err := notify.CheckWebhookTarget(raw, true); err != nil {
			t.Errorf("CheckWebhookTarget(%q, true) = %v; want ok with private targets allowed", raw, err)
		}
	}
}
