package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// deviceConn is one device's own MQTT 3.1.1 connection in the sessions mode (--sessions): a
// plain TCP connection and a small read buffer, with no goroutine of its own. A device sends
// and then waits for what it sent to be acknowledged, on the goroutine that runs its turn, so
// that a device which stays connected between turns costs a socket and a few hundred bytes,
// not the goroutines and buffers of a full client (paho keeps several of each per
// connection). The broker sends such a device nothing unasked for (it subscribes to nothing):
// only CONNACK, PUBACK and PINGRESP, which the next read skips if they were not waited for.
//
// It is used by one goroutine at a time, except setDeadline, which may be called from
// another to cut a wait short.
type deviceConn struct {
	c      net.Conn
	r      *bufio.Reader
	nextID uint16
	buf    []byte // the packets of a turn, written at once
}

// Connection refusals of CONNACK (MQTT 3.1.1, 3.2.2.3).
const (
	connackUnavailable = 3 // server unavailable: the embedded broker while ingest is away
	connackBadLogin    = 4 // bad user name or password
	connackNotAuth     = 5 // not authorized
)

// refusedError is a CONNACK that refused the connection.
type refusedError struct{ code byte }

func (e *refusedError) Error() string {
	switch e.code {
	case connackUnavailable:
		return "connection refused: server unavailable"
	case connackBadLogin:
		return "connection refused: bad user name or password"
	case connackNotAuth:
		return "connection refused: not authorized"
	}
	return fmt.Sprintf("connection refused: return code %d", e.code)
}

// retry says whether the refusal is one a device waits out (the broker is not taking devices
// yet), rather than a wrong login.
func (e *refusedError) retry() bool { return e.code == connackUnavailable }

// brokerAddr returns the host:port of a tcp:// or mqtt:// broker URL, which is all the sessions
// mode speaks.
func brokerAddr(broker string) (string, error) {
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" {
		return "", fmt.Errorf("--sessions needs a tcp:// or mqtt:// broker, got %q", broker)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Host, "1883"), nil
	}
	return u.Host, nil
}

// dialDevice connects to addr and signs in as l with a clean session, keepalive and, if w is
// not nil, a last will at QoS qos. It returns a *refusedError when the broker refuses.
func dialDevice(ctx context.Context, addr string, l login, keepalive time.Duration, w *will, qos byte, timeout time.Duration) (*deviceConn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	dc := &deviceConn{c: c, r: bufio.NewReaderSize(c, 64), nextID: 1}
	dc.buf = appendConnect(dc.buf[:0], l, uint16(keepalive/time.Second), w, qos)
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(dc.buf); err != nil {
		c.Close()
		return nil, err
	}
	dc.buf = dc.buf[:0]
	for {
		typ, body, err := dc.readPacket()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("waiting for CONNACK: %w", err)
		}
		if typ != 2 {
			continue
		}
		if len(body) != 2 {
			c.Close()
			return nil, fmt.Errorf("malformed CONNACK")
		}
		if body[1] != 0 {
			c.Close()
			return nil, &refusedError{code: body[1]}
		}
		c.SetDeadline(time.Time{})
		return dc, nil
	}
}

// setDeadline bounds the reads and writes in progress and to come.
func (dc *deviceConn) setDeadline(t time.Time) { dc.c.SetDeadline(t) }

// publish adds a PUBLISH to the turn's packets and returns its packet id (0 at QoS 0).
func (dc *deviceConn) publish(topic string, payload []byte, qos byte) uint16 {
	var id uint16
	if qos > 0 {
		id = dc.nextID
		if dc.nextID++; dc.nextID == 0 {
			dc.nextID = 1 // 0 is not a packet id [MQTT-2.3.1-1]
		}
	}
	dc.buf = appendPublish(dc.buf, topic, payload, qos, id)
	return id
}

// flush writes the packets added since the last flush.
func (dc *deviceConn) flush() error {
	if len(dc.buf) == 0 {
		return nil
	}
	_, err := dc.c.Write(dc.buf)
	dc.buf = dc.buf[:0]
	return err
}

// awaitAcks reads until every packet id in ids is acknowledged, calling acked for each, in the
// order the PUBACKs come. Other packets are skipped.
func (dc *deviceConn) awaitAcks(ids []uint16, acked func(i int)) error {
	left := 0
	for _, id := range ids {
		if id != 0 {
			left++
		}
	}
	for left > 0 {
		typ, body, err := dc.readPacket()
		if err != nil {
			return err
		}
		if typ != 4 || len(body) < 2 {
			continue // a PINGRESP, or anything else a broker may send
		}
		id := binary.BigEndian.Uint16(body)
		for i, want := range ids {
			if want == id {
				ids[i] = 0
				left--
				acked(i)
				break
			}
		}
	}
	return nil
}

// ping writes a PINGREQ, keeping an idle connection alive; the PINGRESP is skipped by the next
// read.
func (dc *deviceConn) ping() error {
	_, err := dc.c.Write([]byte{0xc0, 0})
	return err
}

// disconnect sends DISCONNECT and waits, up to timeout, for the broker to close the connection
// before closing it, so that the broker's end, not the device's, keeps the closed connection's
// TIME_WAIT: a device that connects every few seconds would otherwise run the machine out of
// local ports.
func (dc *deviceConn) disconnect(timeout time.Duration) {
	dc.c.SetDeadline(time.Now().Add(timeout))
	if _, err := dc.c.Write([]byte{0xe0, 0}); err == nil {
		io.Copy(io.Discard, dc.r)
	}
	dc.c.Close()
}

// close drops the connection without DISCONNECT, as a lost connection would.
func (dc *deviceConn) close() { dc.c.Close() }

// readPacket reads one packet and returns its type (the high nibble of the first byte) and the
// rest of it. The body is valid until the next read.
func (dc *deviceConn) readPacket() (byte, []byte, error) {
	first, err := dc.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := dc.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		if mult *= 128; i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	if n <= dc.r.Size() {
		body, err := dc.r.Peek(n)
		if err != nil {
			return 0, nil, err
		}
		dc.r.Discard(n)
		return first >> 4, body, nil
	}
	if _, err := io.CopyN(io.Discard, dc.r, int64(n)); err != nil {
		return 0, nil, err
	}
	return first >> 4, nil, nil
}

// appendConnect appends a CONNECT (MQTT 3.1.1, clean session) to b.
func appendConnect(b []byte, l login, keepalive uint16, w *will, qos byte) []byte {
	flags := byte(0x02) // clean session
	n := 10 + 2 + len(l.clientID)
	if w != nil {
		flags |= 0x04 | qos<<3
		n += 2 + len(w.topic) + 2 + len(w.payload)
	}
	if l.username != "" {
		flags |= 0x80
		n += 2 + len(l.username)
	}
	if l.password != "" {
		flags |= 0x40
		n += 2 + len(l.password)
	}
	b = append(b, 0x10)
	b = appendLength(b, n)
	b = appendString16(b, "MQTT")
	b = append(b, 4, flags, byte(keepalive>>8), byte(keepalive))
	b = appendString16(b, l.clientID)
	if w != nil {
		b = appendString16(b, w.topic)
		b = appendString16(b, string(w.payload))
	}
	if l.username != "" {
		b = appendString16(b, l.username)
	}
	if l.password != "" {
		b = appendString16(b, l.password)
	}
	return b
}

// appendPublish appends a PUBLISH to b; id is its packet id at QoS 1 or 2.
func appendPublish(b []byte, topic string, payload []byte, qos byte, id uint16) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	b = append(b, 0x30|qos<<1)
	b = appendLength(b, n)
	b = appendString16(b, topic)
	if qos > 0 {
		b = append(b, byte(id>>8), byte(id))
	}
	return append(b, payload...)
}

// appendLength appends n as MQTT's variable-length remaining length.
func appendLength(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendString16(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}
