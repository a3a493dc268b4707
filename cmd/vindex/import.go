package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
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
  (blind deployment) in place of bsn and birth_date:
  youth          the youth's element (base64 of 32 bytes, docs/blind.md), as
                 the client systems compute it with the key holders
  born_in        the youth's birth month, YYYY-MM
  youth_key      the key holders' keys that made the element (the client
                 SDK's Blinder.LayerID); needed while a key holder replaces
                 its key (see docs/blind.md)
  municipality   CBS code, e.g. GM0014
  kind           signal or involvement
  code           one of the covenant's signal codes (signals only)
  urgent         true or false (empty: false)
  sector         child-protection or youth-probation (empty: none)
  contact_name   the professional's name (required)
  contact_phone, contact_email
                 a phone number or an e-mail address of the professional
                 (at least one of the two is required); each with the
                 strict form the API asks for (see openapi.yaml, Contact)
  ends_on        YYYY-MM-DD (empty: the legal limits only)
  client_ref     the institution's own reference for the youth (stored
                 encrypted; quoted in its notifications)

An import reads and checks the whole file first, and sorts its rows by
youth (by the youth's pseudonym, in --memory bytes; what does not fit goes
to runs in the data directory, sealed under a key that lives only in the
import's memory, since the rows hold BSNs). It then registers youth after
youth, each youth's rows in the order of the file, and writes the records
into sorted tables that are added to the store in one step at the end,
past the write-ahead log (a bulk import; docs/benchmarks.md has its
figures against row by row). It is all or nothing: an import that stops, is
killed or finds the disk full leaves the store as it was, and can be run
again. While it runs it needs free space in the data directory for about
two and a half times what it adds (10 million rows: 9 GB, for a store 3.9
GB larger), and memory for a few times --memory (at the default, 1.7 GiB
at most for a file of 10 million rows).

--bulk=false registers row by row instead, each row durable as it goes
(--workers concurrent writers): an import that stops keeps the rows
before it. A bulk import cannot read what it has changed in a table that
reports read by range (the family index of registrations with family
relations, made over the API): should a row need that, it stops, with
the store as it was, and says to import with --bulk=false.

On a terminal a progress bar shows how far each phase is (reading the
file, loading the youths); otherwise a line a second. A row that is wrong
is rejected and reported with its line number and reason; the other rows
are imported. The rows of one youth are applied in the order of the file,
so the same file always gives the same matches, coordinators and events.
Each youth's registrations are written atomically: a failure never leaves
half a report. The exit status is 0 when every row was imported, 1 when
rows were rejected or the import stopped.

The events the import makes (matches, coordinators, "no match yet") are
delivered by mail and webhook when vindex serve next runs, as for reports
over the API. When migrating from another index whose professionals already
know their matches, --notify=false marks the import's events as not to be
delivered (they stay readable over GET /v1/events); it needs an outbox in
which everything before the import is delivered on the configured channels
(mail, the webhooks of --webhooks). A channel configured later starts after
the import.

A blind deployment (vindex keys init --pseudonyms blind) takes no BSN and
no birth date: its file gives youth and born_in; or, migrating from an
index that holds BSNs, bsn and birth_date with the key holders (below): the
import turns each BSN into its element through them, in batches of up to
1024, and each birth date into its month, before anything reaches the
store. An hmac deployment refuses a youth column; a blind one refuses a bsn
column without the key holders.

` + keyholderHelp + `
The same settings as vindex serve apply (--data, --covenant, --keyset,
--kek, --vault-*, --config, --dev).
`

// importOptions are import's arguments besides the shared settings.
type importOptions struct {
	file    string
	workers int  // concurrent writers
	notify  bool // deliver the import's events
	bulk    bool // sort and load (importbulk.go)
	memory  int  // bytes the sort and the load each hold (bulk)
	cpuprof string
	kh      holderFlags
}

func importCmd(args []string, stdout, stderr io.Writer) error {
	o, c, err := parseImportArgs(args, stderr)
	if err != nil {
		return err
	}
	f, err := os.Open(o.file)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readCSVHeader(f, o.file)
	if err != nil {
		return err
	}
	mode, err := readPseudonyms(c)
	if err != nil {
		return err
	}
	src, blinder, err := importSource(rows, mode, &o.kh, stderr)
	if err != nil {
		return err
	}
	if br, ok := src.(*blindRows); ok {
		defer br.close()
	}
	imp, err := openImport(c, stderr)
	if err != nil {
		return err
	}
	defer imp.st.Close()
	if !o.notify {
		if err := imp.checkSettled(c); err != nil {
			return err
		}
	}
	stopProfile, err := startCPUProfile(o.cpuprof)
	if err != nil {
		return err
	}
	if o.bulk {
		imp.importBulk(src, rows.file, c.Data, o.memory, min(o.workers, 2*runtime.GOMAXPROCS(0)), stderr, fileSize(f), rows.bytesRead)
	} else {
		stopProgress := startProgress(stderr, progress{label: "import", verb: "imported", size: fileSize(f), bytes: true, done: rows.bytesRead, counts: imp.tally.counts})
		imp.importRows(src, rows.file, o.workers)
		stopProgress()
	}
	stopProfile()
	if br, ok := src.(*blindRows); ok && blinder != nil {
		br.close()
		fmt.Fprintf(stdout, "turned %d BSNs into elements through %d key holder(s)\n", br.blinded.Load(), len(blinder.Holders))
	}
	if !o.notify {
		if err := imp.markDelivered(stdout); err != nil {
			return err
		}
	}
	if imp.bulkNote != "" {
		fmt.Fprintln(stdout, imp.bulkNote)
	}
	return imp.tally.report(stdout, o.file)
}

// parseImportArgs reads import's arguments: the file, then the shared
// settings and import's own flags.
func parseImportArgs(args []string, stderr io.Writer) (importOptions, config, error) {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return importOptions{}, config{}, printUsage(stderr, importUsage, args)
	}
	o := importOptions{file: args[0], notify: true}
	rest := args[1:]
	if isHelp(o.file) {
		rest = args // the usage and the flags
	}
	c, _, err := loadConfig("import", importUsage, rest, func(fs *flag.FlagSet) {
		fs.IntVar(&o.workers, "workers", 64, "concurrent writers (in bulk: at most twice the CPUs)")
		fs.BoolVar(&o.bulk, "bulk", true, "sort the file by youth and load it into the store's tables in one step, all or nothing; false: register row by row, each row durable as it goes")
		fs.IntVar(&o.memory, "memory", bulkMemory, "bulk: `bytes` of rows, and of records, held in memory before spilling to the data directory")
		fs.BoolVar(&o.notify, "notify", true, "deliver the import's events by mail and webhook; false: mark them as not to be delivered")
		fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the import to `file` (go tool pprof)")
		o.kh.bind(fs)
	})
	o.workers = max(o.workers, 1)
	return o, c, err
}

// fileSize is f's size, 0 if unknown.
func fileSize(f *os.File) int64 {
	if st, err := f.Stat(); err == nil {
		return st.Size()
	}
	return 0
}

// importer registers rows through the matcher on the store, which it has
// to itself.
type importer struct {
	cov   *rules.Covenant
	st    backend
	m     *matcher.Matcher
	tally importTally
	start time.Time
	// bulkNote says what a bulk import sorted and wrote.
	bulkNote string
}

// openImport opens what an import writes with: the covenant, the keysets
// (the key-encryption key only for as long as it takes to unwrap them), the
// store and a matcher on it, blind if the deployment is.
func openImport(c config, stderr io.Writer) (*importer, error) {
	if err := checkDataDir(c.Data); err != nil {
		return nil, err
	}
	logger := newLogger(stderr, "warn")
	cov, err := covenantOf(c)
	if err != nil {
		return nil, err
	}
	k, err := openKEK(c, logger)
	if err != nil {
		return nil, err
	}
	opened, err := openKeysets(c, k)
	k.Close()
	if err != nil {
		return nil, err
	}
	ps, refs := opened.ps, opened.refs
	st, err := openStore(c, importUse)
	if err != nil {
		return nil, fmt.Errorf("the store is not available (is a server running?): %w", err)
	}
	excluded, err := excludedElementsOf(cov, opened.blind)
	if err != nil {
		st.Close()
		return nil, err
	}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov, Blind: opened.blind, Layer: opened.layer,
		ExcludedAddressElements: excluded})
	if err != nil {
		st.Close()
		return nil, excludedElementsErr(cov, err)
	}
	return &importer{cov: cov, st: st, m: m}, nil
}

// checkSettled checks, before an import whose events are not to be
// delivered, that nothing before it waits for delivery on the configured
// channels: markDelivered would skip it too.
func (imp *importer) checkSettled(c config) error {
	hooks, err := loadWebhooks(c, imp.cov)
	if err != nil {
		return err
	}
	if err := notify.CheckSettled(context.Background(), imp.st, institutionIDs(imp.cov), deliveryChannels(c, imp.cov, hooks)); err != nil {
		return fmt.Errorf("import --notify=false: %w; run vindex serve until `vindex outbox status` shows none, or import with --notify", err)
	}
	return nil
}

// markDelivered marks the import's events as not to be delivered, on
// every channel, configured now or later. Every event of an institution up
// to its last is the import's: the store is ours alone, and checkSettled
// found everything before it delivered.
func (imp *importer) markDelivered(stdout io.Writer) error {
	if err := notify.MarkDelivered(context.Background(), imp.st, institutionIDs(imp.cov), channelNames, imp.st.LastSeq); err != nil {
		return fmt.Errorf("import --notify=false: marking the events not to be delivered: %w", err)
	}
	fmt.Fprintf(stdout, "the import's events will not be delivered by mail or webhook (--notify=false)\n")
	return nil
}

// institutionIDs lists the covenant's institutions.
func institutionIDs(cov *rules.Covenant) []string {
	ids := make([]string, 0, len(cov.Institutions))
	for _, inst := range cov.Institutions {
		ids = append(ids, inst.ID)
	}
	return ids
}

// importRows registers the rows with workers concurrent writers, until
// the rows end or an error that is not about a row stops them. The rows of
// one youth all go to the same writer, in the order of the file, so an
// import gives the same matches, coordinators and events every time; rows
// of different youths run in parallel.
func (imp *importer) importRows(rows rowSource, file string, workers int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	imp.start = time.Now()
	t := &imp.tally
	queues := make([]chan importRow, workers)
	var wg sync.WaitGroup
	for w := range queues {
		queue := make(chan importRow, 4)
		queues[w] = queue
		wg.Go(func() {
			for row := range queue {
				res, err := importOne(ctx, imp.m, row)
				if t.add(file, row.line, res, err) {
					cancel()
				}
			}
		})
	}
	t.readRows(rows, func() bool { return ctx.Err() != nil }, func(row importRow) {
		queues[writerOf(row, workers)] <- row
	})
	for _, queue := range queues {
		close(queue)
	}
	wg.Wait()
	t.elapsed = time.Since(imp.start)
}

// importTally counts what an import did.
type importTally struct {
	imported, matched atomic.Int64
	mu                sync.Mutex
	rejected          []rejection
	fatal             error // from the store: the import stopped
	readErr           error // from the file: the import stopped
	elapsed           time.Duration
}

// add counts the outcome of a row and reports whether it stops the import.
func (t *importTally) add(file string, line int, res matcher.Result, err error) (stop bool) {
	switch {
	case err == nil:
		t.imported.Add(1)
		if res.Matched && !res.Refreshed {
			t.matched.Add(1)
		}
		return false
	case isRowError(err):
		t.reject(rejection{line, err.Error()})
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fatal == nil {
		t.fatal = fmt.Errorf("%s:%d: %w", file, line, err)
	}
	return true
}

// readRows reads rows until they end, stop says to, or the file cannot be
// read (readErr): each row rejected as it is read is counted, and each
// other one goes to take.
func (t *importTally) readRows(rows rowSource, stop func() bool, take func(importRow)) {
	for !stop() {
		row, err := rows.next()
		var rj *rejection
		switch {
		case errors.Is(err, io.EOF):
			return
		case errors.As(err, &rj):
			t.reject(*rj)
		case err != nil:
			t.readErr = err
			return
		default:
			take(row)
		}
	}
}

// failed returns what stopped the import, if anything has.
func (t *importTally) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fatal
}

// stop records err, which is not about a row, as what stopped the import.
func (t *importTally) stop(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fatal == nil {
		t.fatal = err
	}
}

func (t *importTally) reject(rj rejection) {
	t.mu.Lock()
	t.rejected = append(t.rejected, rj)
	t.mu.Unlock()
}

// counts returns the rows imported and rejected so far.
func (t *importTally) counts() (imported, rejected int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.imported.Load(), int64(len(t.rejected))
}

// report prints the summary and the first hundred rejections, and returns
// the import's outcome: nil when every row was imported.
func (t *importTally) report(stdout io.Writer, file string) error {
	slices.SortFunc(t.rejected, func(a, b rejection) int { return a.line - b.line })
	imported := t.imported.Load()
	fmt.Fprintf(stdout, "imported %d registrations (%d made a match) in %v (%.0f/s); rejected %d rows\n",
		imported, t.matched.Load(), t.elapsed.Round(time.Millisecond), float64(imported)/t.elapsed.Seconds(), len(t.rejected))
	for i, rj := range t.rejected {
		if i == 100 {
			fmt.Fprintf(stdout, "… and %d more\n", len(t.rejected)-100)
			break
		}
		fmt.Fprintf(stdout, "%s:%d: %s\n", file, rj.line, rj.reason)
	}
	switch {
	case t.fatal != nil:
		return fmt.Errorf("import stopped: %w", t.fatal)
	case t.readErr != nil:
		return fmt.Errorf("import stopped: %w", t.readErr)
	case len(t.rejected) > 0:
		return exitError{1}
	}
	return nil
}

// progress is what startProgress shows of one phase of an import.
type progress struct {
	label  string
	verb   string       // what counts' first number counts: "imported" rows, "read" rows
	size   int64        // of the whole: bytes of the file, or rows
	bytes  bool         // size counts bytes
	done   func() int64 // how much of size is done
	counts func() (imported, rejected int64)
}

// startProgress shows how far an import's phase is until the returned
// function is called: on a terminal a bar over p.size, of which p.done
// says how much is done; otherwise (a log file, a pipe) a line a second.
func startProgress(stderr io.Writer, p progress) (stop func()) {
	start := time.Now()
	size, read, counts := p.size, p.done, p.counts
	var bars *mpb.Progress
	var bar *mpb.Bar
	if f, ok := stderr.(*os.File); ok && isTerminal(f) && size > 0 {
		bars, bar = importBar(stderr, p)
	}
	interval := time.Second
	if bar != nil {
		interval = 100 * time.Millisecond
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					bar.SetCurrent(size)
					bars.Wait()
				}
				return
			case <-t.C:
				if bar != nil {
					bar.SetCurrent(read())
					continue
				}
				imported, rejected := counts()
				fmt.Fprintf(stderr, "%s: %s %d, rejected %d, %.0f rows/s\n", p.label, p.verb, imported, rejected, float64(imported+rejected)/time.Since(start).Seconds())
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// importBar draws a bar over p.size with the counts beside it.
func importBar(w io.Writer, p progress) (*mpb.Progress, *mpb.Bar) {
	counts := p.counts
	bars := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	amount := decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)
	if p.bytes {
		amount = decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)
	}
	bar := bars.AddBar(p.size,
		mpb.PrependDecorators(decor.Name(p.label+" ", decor.WC{}), amount),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO),
			decor.Any(func(decor.Statistics) string {
				imported, rejected := counts()
				return fmt.Sprintf("  %s %d, rejected %d", p.verb, imported, rejected)
			})),
	)
	return bars, bar
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

// writerOf picks the writer of row's youth: by a hash of its BSN in the
// form the matcher reads (so "012345678" and "12345678" are one youth), or
// of its element (whose encoding is canonical). A row whose BSN or element
// does not parse is refused by whichever writer takes it.
func writerOf(row importRow, workers int) int {
	key, ok := row.fields["bsn"]
	if !ok {
		key = row.fields["youth"]
	} else if b, err := identity.ParseBSN(key); err == nil {
		key = b.RevealDigits()
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(workers))
}

// importOne registers one row, read as the API reads a report. Its errors
// never quote the BSN or the birth date.
func importOne(ctx context.Context, m *matcher.Matcher, row importRow) (matcher.Result, error) {
	reg, err := parseRow(m, row)
	if err != nil {
		return matcher.Result{}, err
	}
	return m.Register(ctx, matcher.Actor{Institution: row.fields["institution"]}, reg)
}

// parseRow reads one row as the API reads a report. Its errors never
// quote the BSN or the birth date.
func parseRow(m *matcher.Matcher, row importRow) (matcher.Registration, error) {
	f := row.fields
	req := httpapi.RegistrationRequest{
		BSN: f["bsn"], Youth: f["youth"], YouthKey: f["youth_key"], BirthDate: f["birth_date"], BornIn: f["born_in"], Municipality: f["municipality"], Kind: f["kind"],
		Code: f["code"], Sector: f["sector"], EndsOn: f["ends_on"],
		Contact:   httpapi.ContactJSON{Name: f["contact_name"], Phone: f["contact_phone"], Email: f["contact_email"]},
		ClientRef: f["client_ref"],
	}
	switch strings.ToLower(f["urgent"]) {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		req.Urgent = true
	default:
		return matcher.Registration{}, rowError{"urgent: want true or false"}
	}
	reg, err := req.Registration(m, time.UTC)
	if err != nil {
		return matcher.Registration{}, rowError{err.Error()}
	}
	return reg, nil
}
