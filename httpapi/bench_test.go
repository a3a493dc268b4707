package httpapi_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/benchcpu"
	"github.com/vindex-nl/vindex/internal/keyholdertest"
	"github.com/vindex-nl/vindex/keyholder"
)

// BenchmarkRegisterHTTPS is the load generator of the service: 64 clients,
// each with one keep-alive HTTPS connection (TLS 1.3, bearer token), post
// registrations of new youths to a real server (Pebble on disk with its
// default sizes, synced writes, the access log at Info level) over
// loopback. Client and server share this machine's cores. It reports
// registrations per second, the p50 and p99 latency seen by the clients,
// and the CPU time of the whole process (server and clients) per
// registration.
func BenchmarkRegisterHTTPS(b *testing.B) {
	benchHTTPS(b, 64)
}

func benchHTTPS(b *testing.B, conns int) {
	e := newEnvLogging(b, false)
	bodies := make([][]byte, 0, b.N)
	for _, s := range benchBSNs(b.N) {
		bodies = append(bodies, fmt.Appendf(nil, `{"bsn":"%s","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`, s))
	}
	b.ResetTimer()
	postAll(b, e, conns, bodies, time.Now(), nil)
}

// benchBSNs returns n distinct valid BSNs.
func benchBSNs(n int) []string {
	out := make([]string, 0, n)
	for v := 300000000; len(out) < n; v++ {
		s := fmt.Sprintf("%09d", v)
		if _, err := identity.ParseBSN(s); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// postAll posts bodies as registrations over conns keep-alive HTTPS
// connections, and reports registrations a second since start (which may
// include work done before, such as blinding) and the latencies.
// postAll posts bodies over conns connections; ready, if not nil, is
// called before body i is posted and returns once it is there.
func postAll(b *testing.B, e *env, conns int, bodies [][]byte, start time.Time, ready func(i int)) {
	cpu := benchcpu.Start()
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
	for w := range conns {
		wg.Go(func() {
			c := lc[w]
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				if ready != nil {
					ready(i)
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
		b.Fatalf("%d of %d requests failed; first: %v", n, len(bodies), firstErr.Load())
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(bodies))/elapsed.Seconds(), "regs/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	// The CPU of server and clients both, TLS handshakes included.
	cpu.Report(b)
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

// BenchmarkRegisterHTTPSBlind is BenchmarkRegisterHTTPS in a blind
// deployment, the client system's work included: every BSN is blinded,
// evaluated by a key holder over HTTPS (package keyholder, in process, in
// batches of 64 from 8 client goroutines), unblinded, and then reported
// with its element and birth month over the same 64 connections. regs/s
// counts from the first blinding; blind-ms is the blinding's share.
func BenchmarkRegisterHTTPSBlind(b *testing.B) { benchRegisterHTTPSBlind(b, blindPipelined) }

// BenchmarkRegisterHTTPSBlindSequential blinds every BSN before it sends the
// first report: the blinding's cost and the index's add up.
func BenchmarkRegisterHTTPSBlindSequential(b *testing.B) { benchRegisterHTTPSBlind(b, blindFirst) }

// BenchmarkRegisterHTTPSBlindIndex counts the index's part alone: the
// elements are made before the clock starts, as when the client systems
// and the key holders run on machines of their own.
func BenchmarkRegisterHTTPSBlindIndex(b *testing.B) { benchRegisterHTTPSBlind(b, blindUntimed) }

// How benchRegisterHTTPSBlind's client blinds.
const (
	blindPipelined = iota // reports go out as their batch is blinded
	blindFirst            // every batch blinded, then the reports
	blindUntimed          // blindFirst, the blinding not timed
)

// benchRegisterHTTPSBlind counts blind registrations over HTTPS: the
// client's blinding and a key holder's evaluations (batches of 64, eight at
// a time) and the index's reports. Pipelined, as a client system works, the
// reports of a batch go out as soon as it is blinded, while later batches
// are; otherwise every batch is blinded first.
func benchRegisterHTTPSBlind(b *testing.B, how int) {
	e := newEnvMode(b, false, nil, nil, true)
	kh, key, token := keyholdertest.Handler(b, keyholder.Config{ElementsPerSecond: 1e9, Burst: 1 << 30}, "bench")
	srv := httptest.NewTLSServer(kh)
	defer srv.Close()
	blinder := client.Blinder{Holders: []client.KeyHolder{{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: srv.Client()}}}
	var in []identity.BSN
	for _, s := range benchBSNs(b.N) {
		bsn, _ := identity.ParseBSN(s)
		in = append(in, bsn)
	}
	const batch = 64
	done := make([]chan struct{}, (len(in)+batch-1)/batch)
	for i := range done {
		done[i] = make(chan struct{})
	}
	b.ResetTimer()
	start := time.Now()
	bodies := make([][]byte, len(in))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				lo := int(next.Add(batch) - batch)
				if lo >= len(in) {
					return
				}
				hi := min(lo+batch, len(in))
				ys, err := blinder.Elements(context.Background(), in[lo:hi]...)
				if err != nil {
					b.Error(err)
					return
				}
				for i, y := range ys {
					text, _ := y.MarshalText()
					bodies[lo+i] = fmt.Appendf(nil, `{"youth":"%s","born_in":"2014-05","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`, text)
				}
				close(done[lo/batch])
			}
		})
	}
	var blinding time.Duration
	if how == blindPipelined {
		blinded := make(chan time.Duration, 1)
		go func() { wg.Wait(); blinded <- time.Since(start) }()
		postAll(b, e, 64, bodies, start, func(i int) { <-done[i/batch] })
		blinding = <-blinded
	} else {
		wg.Wait()
		blinding = time.Since(start)
		if how == blindUntimed {
			b.ResetTimer()
			start = time.Now()
		}
		postAll(b, e, 64, bodies, start, nil)
	}
	b.ReportMetric(float64(blinding.Milliseconds()), "blind-ms")
}
