package httpapi_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
)

// BenchmarkRegisterHTTPS is the load generator of the service: 64 clients,
// each with one keep-alive HTTPS connection (TLS 1.3, bearer token), post
// registrations of new youths to a real server (Pebble on disk with its
// default sizes, synced writes, the access log at Info level) over
// loopback. Client and server share this machine's cores. It reports
// registrations per second and the p50 and p99 latency seen by the
// clients.
func BenchmarkRegisterHTTPS(b *testing.B) {
	benchHTTPS(b, 64)
}

func benchHTTPS(b *testing.B, conns int) {
	e := newEnvLogging(b, false)
	bodies := make([][]byte, 0, b.N)
	for n := 300000000; len(bodies) < b.N; n++ {
		s := fmt.Sprintf("%09d", n)
		if _, err := identity.ParseBSN(s); err != nil {
			continue
		}
		bodies = append(bodies, fmt.Appendf(nil, `{"bsn":"%s","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`, s))
	}
	host := strings.TrimPrefix(e.srv.URL, "https://")
	head := "POST /v1/registrations HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + e.tokens[ggd] +
		"\r\nContent-Type: application/json\r\nContent-Length: "
	lc := make([]*loadConn, conns)
	for i := range lc {
		c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: e.ca.Pool()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		lc[i] = &loadConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, conns)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			c := lc[w]
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				status, err := c.post(head, bodies[i])
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil || status != http.StatusCreated {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, %v", status, err))
					if err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", n, b.N, firstErr.Load())
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "regs/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// loadConn is one keep-alive HTTPS connection of the load generator. It
// writes requests itself and parses responses with net/http, so that the
// generator, which shares the machine with the server, costs little.
type loadConn struct {
	c *tls.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func (c *loadConn) post(head string, body []byte) (int, error) {
	c.w.WriteString(head)
	c.w.WriteString(strconv.Itoa(len(body)))
	c.w.WriteString("\r\n\r\n")
	c.w.Write(body)
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func BenchmarkRegisterHTTPS128(b *testing.B) { benchHTTPS(b, 128) }
