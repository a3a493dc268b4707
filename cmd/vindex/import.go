package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

const importUsage = `Usage: vindex import FILE [--config FILE] [flags]

Imports registrations from a CSV file (UTF-8, comma-separated, a header row
first) into the store, as if each institution had reported them: matches,
coordinators and events are made as for reports over the API. Run it while
no server has the store open.

Columns (by header name, in any order; the first five are required):
  institution    the covenant's institution ID
  bsn            the youth's BSN (9 digits)
  birth_date     YYYY-MM-DD
  municipality   CBS code, e.g. GM0014
  kind           signal or involvement
  code           the signal code (signals only)
  urgent         true or false (empty: false)
  sector         child-protection or youth-probation (empty: none)
  contact_name, contact_phone, contact_email   the professional
  ends_on        YYYY-MM-DD (empty: the legal limits only)
  client_ref     the institution's own reference for the youth (stored
                 encrypted; quoted in its notifications)

On a terminal a progress bar shows how far the file has been read.
A row that is wrong is rejected and reported with its line number and
reason; the other rows are imported. Each youth's registrations are
written atomically: a failure never leaves half a report. The exit status
is 0 when every row was imported, 1 when rows were rejected or the import
stopped.

The events the import makes (matches, coordinators, "no match yet") are
delivered by mail and webhook when vindex serve next runs, as for reports
over the API. When migrating from another index whose professionals already
know their matches, --notify=false marks the import's events as not to be
delivered (they stay readable over GET /v1/events); it needs an outbox in
which everything before the import is delivered on the configured channels
(mail, the webhooks of --webhooks). A channel configured later starts after
the import.

The same settings as vindex serve apply (--data, --covenant, --keyset,
--kek, --vault-*, --config, --dev).
`

var importColumns = []string{"institution", "bsn", "birth_date", "municipality", "kind", "code", "urgent", "sector",
	"contact_name", "contact_phone", "contact_email", "ends_on", "client_ref"}

// countingReader counts the bytes read through it, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type importRow struct {
	line   int
	fields map[string]string
}

type rejection struct {
	line   int
	reason string
}

func importCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return printUsage(stderr, importUsage, args)
	}
	file, rest := args[0], args[1:]
	if isHelp(file) {
		rest = args // the usage and the flags
	}
	var workers int
	notifyImported := true
	c, _, err := loadConfig("import", importUsage, rest, func(fs *flag.FlagSet) {
		fs.IntVar(&workers, "workers", 64, "concurrent writers")
		fs.BoolVar(&notifyImported, "notify", true, "deliver the import's events by mail and webhook; false: mark them as not to be delivered")
	})
	if err != nil {
		return err
	}
	if workers < 1 {
		workers = 1
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	in := &countingReader{r: f}
	r := csv.NewReader(in)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: no header row: %v", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(importColumns, h) {
			return fmt.Errorf("%s:1: unknown column %q (known: %s)", file, h, strings.Join(importColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return fmt.Errorf("%s:1: column %q twice", file, h)
		}
		col[h] = i
	}
	for _, need := range importColumns[:5] {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s:1: column %q is missing", file, need)
		}
	}

	logger := newLogger(stderr, "warn")
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	k, err := openKEK(c, logger)
	if err != nil {
		return err
	}
	ps, refs, err := openKeysets(c, k)
	k.Close()
	if err != nil {
		return err
	}
	st, err := pebblestore.Open(c.storeDir(), &pebblestore.Options{Logger: slog.New(slog.DiscardHandler), CacheSize: c.CacheSize, MinFreeBytes: c.MinFreeDisk})
	if err != nil {
		return fmt.Errorf("the store is not available (is a server running?): %w", err)
	}
	defer st.Close()
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov})
	if err != nil {
		return err
	}
	if !notifyImported {
		hooks, err := loadWebhooks(c, cov)
		if err != nil {
			return err
		}
		if err := outboxDelivered(context.Background(), st, cov, deliveryChannels(c, hooks)); err != nil {
			return fmt.Errorf("import --notify=false: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := make(chan importRow, 4*workers)
	var imported, matched atomic.Int64
	var mu sync.Mutex
	var rejected []rejection
	var fatal error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for row := range rows {
				res, err := importOne(ctx, m, row)
				switch {
				case err == nil:
					imported.Add(1)
					if res.Matched && !res.Refreshed {
						matched.Add(1)
					}
				case isRowError(err):
					mu.Lock()
					rejected = append(rejected, rejection{row.line, err.Error()})
					mu.Unlock()
				default:
					mu.Lock()
					if fatal == nil {
						fatal = fmt.Errorf("%s:%d: %w", file, row.line, err)
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}

	start := time.Now()
	done, done2 := make(chan struct{}), make(chan struct{})
	nrejected := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(rejected)
	}
	// A progress bar over the file's bytes on a terminal; a line a second
	// otherwise (a log file, a pipe).
	var bars *mpb.Progress
	var bar *mpb.Bar
	if f, ok := stderr.(*os.File); ok && isTerminal(f) && size > 0 {
		bars = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(40))
		bar = bars.AddBar(size,
			mpb.PrependDecorators(decor.Name("import ", decor.WC{}), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO),
				decor.Any(func(decor.Statistics) string {
					return fmt.Sprintf("  imported %d, rejected %d", imported.Load(), nrejected())
				})),
		)
	}
	go func() {
		interval := time.Second
		if bar != nil {
			interval = 100 * time.Millisecond
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					bar.SetCurrent(size)
					bars.Wait()
				}
				close(done2)
				return
			case <-t.C:
				if bar != nil {
					bar.SetCurrent(in.n.Load())
					continue
				}
				nr := nrejected()
				fmt.Fprintf(stderr, "imported %d, rejected %d, %.0f rows/s\n", imported.Load(), nr, float64(imported.Load()+int64(nr))/time.Since(start).Seconds())
			}
		}
	}()

	var readErr error
	for line := 2; ctx.Err() == nil; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err != csv.ErrFieldCount {
				readErr = fmt.Errorf("%s:%d: %v", file, pe.Line, pe.Err)
				break
			}
		}
		fields := make(map[string]string, len(col))
		for name, i := range col {
			if i < len(rec) {
				fields[name] = strings.TrimSpace(rec[i])
			}
		}
		if len(rec) != len(header) {
			mu.Lock()
			rejected = append(rejected, rejection{line, fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			mu.Unlock()
			continue
		}
		rows <- importRow{line: line, fields: fields}
	}
	close(rows)
	wg.Wait()
	close(done)
	<-done2
	elapsed := time.Since(start)

	if !notifyImported {
		// Every event up to the last is the import's (the store is ours
		// alone, and everything before was delivered on the configured
		// channels): move each delivery cursor past them, on every channel,
		// so that one configured later does not deliver them either.
		last := st.LastSeq()
		for _, inst := range cov.Institutions {
			for _, ch := range channelNames {
				if err := st.RecordDeliveries(context.Background(), inst.ID, ch, last, nil); err != nil {
					return fmt.Errorf("import --notify=false: marking the events not to be delivered: %w", err)
				}
			}
		}
		fmt.Fprintf(stdout, "the import's events (up to %d) will not be delivered by mail or webhook (--notify=false)\n", last)
	}
	slices.SortFunc(rejected, func(a, b rejection) int { return a.line - b.line })
	fmt.Fprintf(stdout, "imported %d registrations (%d made a match) in %v (%.0f/s); rejected %d rows\n",
		imported.Load(), matched.Load(), elapsed.Round(time.Millisecond), float64(imported.Load())/elapsed.Seconds(), len(rejected))
	for i, rj := range rejected {
		if i == 100 {
			fmt.Fprintf(stdout, "… and %d more\n", len(rejected)-100)
			break
		}
		fmt.Fprintf(stdout, "%s:%d: %s\n", file, rj.line, rj.reason)
	}
	switch {
	case fatal != nil:
		return fmt.Errorf("import stopped: %w", fatal)
	case readErr != nil:
		return fmt.Errorf("import stopped: %w", readErr)
	case len(rejected) > 0:
		return exitError{1}
	}
	return nil
}

// isRowError reports whether err is about the row, not the store.
func isRowError(err error) bool {
	var fe *matcher.FieldError
	return errors.As(err, &fe) || errors.Is(err, matcher.ErrUnknownInstitution) || errors.Is(err, errRow)
}

var errRow = errors.New("row")

type rowError struct{ msg string }

func (e rowError) Error() string { return e.msg }
func (e rowError) Unwrap() error { return errRow }

// importOne registers one row, read as the API reads a report. Its errors
// never quote the BSN or the birth date.
func importOne(ctx context.Context, m *matcher.Matcher, row importRow) (matcher.Result, error) {
	f := row.fields
	req := httpapi.RegistrationRequest{
		BSN: f["bsn"], BirthDate: f["birth_date"], Municipality: f["municipality"], Kind: f["kind"],
		Code: f["code"], Sector: f["sector"], EndsOn: f["ends_on"],
		Contact:   httpapi.ContactJSON{Name: f["contact_name"], Phone: f["contact_phone"], Email: f["contact_email"]},
		ClientRef: f["client_ref"],
	}
	switch strings.ToLower(f["urgent"]) {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		req.Urgent = true
	default:
		return matcher.Result{}, rowError{"urgent: want true or false"}
	}
	reg, err := req.Registration(time.UTC)
	if err != nil {
		return matcher.Result{}, rowError{err.Error()}
	}
	return m.Register(ctx, matcher.Actor{Institution: f["institution"]}, reg)
}

// outboxDelivered checks that every outbox event of every institution is
// settled (delivered or dead) on each channel the settings give it, so that
// moving the delivery cursors past an import skips only the import's
// events there.
func outboxDelivered(ctx context.Context, st *pebblestore.Store, cov *rules.Covenant, channels func(institution string) []string) error {
	const most = 1 << 16
	for _, inst := range cov.Institutions {
		for _, ch := range channels(inst.ID) {
			evs, _, err := store.Undelivered(ctx, st, inst.ID, ch, most+1)
			switch {
			case err != nil:
				return err
			case len(evs) > most:
				return fmt.Errorf("%s has more than %d events not yet delivered on %s; run vindex serve until `vindex outbox status` shows none, or import with --notify", inst.ID, most, ch)
			case len(evs) > 0:
				return fmt.Errorf("%s has %d events not yet delivered on %s; run vindex serve until `vindex outbox status` shows none, or import with --notify", inst.ID, len(evs), ch)
			}
		}
	}
	return nil
}
