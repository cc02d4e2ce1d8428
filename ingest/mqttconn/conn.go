// Package mqttconn gives paho MQTT clients what a subscriber of tens of thousands of messages a
// second needs: a TCP connection that reads through a buffer and gathers small writes into large
// ones (paho writes every packet with its own write call and reads every packet a few bytes at a
// time, one system call each), and a store that keeps no record of the QoS 1 messages received.
package mqttconn

import (
	"bufio"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Supports reports whether Open can dial the broker URL: plain TCP (tcp:// or mqtt://) only.
// TLS and websocket brokers are left to paho's own dialer.
func Supports(brokerURL string) bool {
	u, err := url.Parse(brokerURL)
	return err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt")
}

// Open dials a plain TCP broker and wraps the connection. Pass it to paho's
// ClientOptions.SetCustomOpenConnectionFn for brokers that Supports.
func Open(uri *url.URL, opts mqtt.ClientOptions) (net.Conn, error) {
	d := net.Dialer{Timeout: opts.ConnectTimeout}
	c, err := d.Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	return newCoalescingConn(c), nil
}

// coalesceMax is how many bytes may wait to be written before Write blocks: the bound of the
// queue, whose overflow policy is back-pressure on the publisher.
const coalesceMax = 256 << 10

// coalescingConn reads through a buffer and writes through a queue that one goroutine empties
// with a single write call for whatever has gathered meanwhile: nothing waits when the line is
// idle, and under load the packets go out in large segments. A write error is returned by the
// following Write; paho learns of it there, or from the reader when the broker closes.
type coalescingConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    *sync.Cond // signals pending data to the flusher and free room to writers
	pending []byte
	err     error
	closing bool
	done    chan struct{} // closed when the flusher has stopped
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), done: make(chan struct{})}
	cc.cond = sync.NewCond(&cc.mu)
	go cc.flush()
	return cc
}

func (c *coalescingConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.pending) > 0 && len(c.pending)+len(p) > coalesceMax {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closing:
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// flush is the connection's writer goroutine; it stops on Close, once the queue is empty, or at
// the first write error.
func (c *coalescingConn) flush() {
	defer close(c.done)
	var out []byte
	for {
		c.mu.Lock()
		for len(c.pending) == 0 && !c.closing {
			c.cond.Wait()
		}
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		out, c.pending = c.pending, out[:0]
		c.cond.Broadcast()
		c.mu.Unlock()

		if _, err := c.Conn.Write(out); err != nil {
			c.mu.Lock()
			c.err = err
			c.pending = nil
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
	}
}

// Close sends what is queued (paho's last write is its DISCONNECT), giving a stalled peer a
// second, and closes the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	<-c.done
	return c.Conn.Close()
}
