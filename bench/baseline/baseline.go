// Package baseline holds what a vendor would otherwise build: vindex's match
// semantics on a SQL database, in SQLite (modernc.org/sqlite, WAL,
// synchronous=FULL) and in PostgreSQL (pgx, synchronous_commit on). They
// exist to be measured side by side with vindex by the bench package, on the
// same workload, and are written to be fair to the databases:
//
//   - the same durability: a registration is acknowledged only once its
//     transaction is committed to disk (fsync), as vindex's Pebble batch is;
//   - the same concurrency: one connection per caller, callers share the
//     fsyncs the database groups;
//   - the same batch size: one transaction per registration, lookup or end,
//     as vindex writes one atomic batch per youth;
//   - the same semantics: keyed-hash pseudonyms from the same
//     crypto/pseudonym package and keyset, a unique index on the live
//     (youth, institution) pair, one lock per youth, a refresh when the
//     institution is already registered, a match when another institution
//     is, the coordinator decided by the same rules.Decide, and outbox
//     events (no match, match naming the coordinator, coordinator,
//     ended) written in the same transaction.
//
// What they leave out is on vindex's side of the scale: no idempotency
// records, no key rotation, no expiry loop, no case-closing verbs.
//
// Beside the bench's workloads, they import vindex import's CSV files:
// ImportRows row by row, one transaction per row as Register writes it,
// and, for PostgreSQL, CopyImport in bulk (COPY and set-based SQL) with the
// same result. Neither keeps a BSN or a birth date (a youth is its
// pseudonym and its age), nor quotes a row in an error.
package baseline

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// dialect is what differs between the databases.
type dialect struct {
	name string
	// dollar: PostgreSQL numbers its placeholders ($1, $2, …).
	dollar bool
	// lockYouth takes the youth's row lock before an end; SQLite's BEGIN
	// IMMEDIATE has already taken the database's write lock.
	lockYouth string
	schema    []string
}

// SQL is a baseline on one database. It implements target.Target.
type SQL struct {
	d  dialect
	db *sql.DB
	// rdb serves lookups: SQLite's pool of readers beside its one
	// writer; db itself for PostgreSQL.
	rdb *sql.DB
	ps  *pseudonym.Pseudonymiser
	cov *rules.Covenant
	ids target.RegistrationIDs[[]byte]
	q   map[string]string
}

// The statements, written with ? placeholders.
const (
	qUpsertYouth = `INSERT INTO youths (youth, age, municipality) VALUES (?, ?, ?)
		ON CONFLICT (youth) DO UPDATE SET age = excluded.age, municipality = excluded.municipality`
	qYouth = `SELECT coordinator, rule FROM youths WHERE youth = ?`
	qLive  = `SELECT id, institution, kind, created_at, contact_name, contact_phone, contact_email FROM registrations
		WHERE youth = ? AND ended_at IS NULL AND ends_on >= ? ORDER BY created_at, id`
	qRefresh = `UPDATE registrations SET updated_at = ?, ends_on = ?, municipality = ?, contact_name = ?, contact_phone = ?, contact_email = ?
		WHERE id = ?`
	qInsert = `INSERT INTO registrations (id, youth, institution, kind, municipality, contact_name, contact_phone, contact_email, created_at, updated_at, ends_on)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qCoordinator = `UPDATE youths SET coordinator = ?, rule = ?, matched = ? WHERE youth = ?`
	qEvent       = `INSERT INTO outbox (recipient, type, registration, at, payload) VALUES (?, ?, ?, ?, ?)`
	qOwn         = `SELECT youth FROM registrations WHERE id = ? AND institution = ? AND ended_at IS NULL`
	qEnd         = `UPDATE registrations SET ended_at = ? WHERE id = ?`
	qView        = `SELECT r.institution, r.kind, r.contact_name, r.contact_phone, r.contact_email, r.created_at, y.coordinator
		FROM registrations r JOIN youths y ON y.youth = r.youth
		WHERE r.youth = ? AND r.ended_at IS NULL AND r.ends_on >= ? ORDER BY r.created_at, r.id`
)

func newSQL(d dialect, db, rdb *sql.DB, ps *pseudonym.Pseudonymiser, cov *rules.Covenant) (*SQL, error) {
	s := &SQL{d: d, db: db, rdb: rdb, ps: ps, cov: cov, q: map[string]string{}}
	for _, q := range []string{qUpsertYouth, qYouth, qLive, qRefresh, qInsert, qCoordinator, qEvent, qOwn, qEnd, qView, d.lockYouth} {
		s.q[q] = s.rebind(q)
	}
	ctx := context.Background()
	for _, stmt := range d.schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("baseline: %s schema: %w", d.name, err)
		}
	}
	return s, nil
}

func (s *SQL) rebind(q string) string {
	if !s.d.dollar || q == "" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Name implements target.Target.
func (s *SQL) Name() string { return s.d.name }

// Close implements target.Target.
func (s *SQL) Close() error {
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

func (s *SQL) youthKey(bsn identity.BSN) ([]byte, error) {
	set, err := s.ps.Youth(bsn)
	if err != nil {
		return nil, err
	}
	k := binary.BigEndian.AppendUint32(make([]byte, 0, 4+pseudonym.Size), set.Primary.KeyID)
	return append(k, set.Primary.Sum[:]...), nil
}

// day is a date as days since 1970-01-01.
func day(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

type live struct {
	id                 []byte
	inst, kind         string
	created            int64
	name, phone, email string
}

func (s *SQL) live(ctx context.Context, tx *sql.Tx, youth []byte, today int64) ([]live, error) {
	rows, err := tx.QueryContext(ctx, s.q[qLive], youth, today)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []live
	for rows.Next() {
		var l live
		if err := rows.Scan(&l.id, &l.inst, &l.kind, &l.created, &l.name, &l.phone, &l.email); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// party is what an event tells a recipient about another institution.
type party struct {
	Institution string `json:"institution"`
	Name        string `json:"name"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
}

func others(ls []live, self string) []party {
	var out []party
	for _, l := range ls {
		if l.inst != self {
			out = append(out, party{l.inst, l.name, l.phone, l.email})
		}
	}
	return out
}

func (s *SQL) event(ctx context.Context, tx *sql.Tx, recipient, typ string, reg []byte, now time.Time, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q[qEvent], recipient, typ, reg, now.UnixNano(), b)
	return err
}

// announce tells every live party of a coordinator newly assigned without
// a match (its registration ended).
func (s *SQL) announce(ctx context.Context, tx *sql.Tx, ls []live, d rules.Decision, now time.Time) error {
	if d.Coordinator == "" {
		return nil
	}
	for _, l := range ls {
		if err := s.event(ctx, tx, l.inst, "coordinator", l.id, now, map[string]any{"coordinator": d.Coordinator, "rule": d.Rule, "others": others(ls, l.inst)}); err != nil {
			return err
		}
	}
	return nil
}

// schema is the tables in both dialects: {{bytes}}, {{int}}, {{bool}},
// {{false}} and {{serial}} stand for the types that differ.
const schema = `CREATE TABLE IF NOT EXISTS youths (
	youth {{bytes}} PRIMARY KEY,
	coordinator TEXT NOT NULL DEFAULT '',
	rule TEXT NOT NULL DEFAULT '',
	matched {{bool}} NOT NULL DEFAULT {{false}},
	age INTEGER NOT NULL,
	municipality TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
	id {{bytes}} PRIMARY KEY,
	youth {{bytes}} NOT NULL,
	institution TEXT NOT NULL,
	kind TEXT NOT NULL,
	municipality TEXT NOT NULL,
	contact_name TEXT NOT NULL,
	contact_phone TEXT NOT NULL,
	contact_email TEXT NOT NULL,
	created_at {{int}} NOT NULL,
	updated_at {{int}} NOT NULL,
	ends_on {{int}} NOT NULL,
	ended_at {{int}}
);
CREATE UNIQUE INDEX IF NOT EXISTS registrations_live ON registrations (youth, institution) WHERE ended_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
	seq {{serial}},
	recipient TEXT NOT NULL,
	type TEXT NOT NULL,
	registration {{bytes}} NOT NULL,
	at {{int}} NOT NULL,
	payload {{bytes}} NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (recipient, seq)`

// schemaFor returns the schema's statements with the dialect's types.
func schemaFor(types map[string]string) []string {
	sql := schema
	for k, v := range types {
		sql = strings.ReplaceAll(sql, "{{"+k+"}}", v)
	}
	return strings.Split(sql, ";\n")
}

// decide asks the covenant's rules about the live registrations.
func (s *SQL) decide(ls []live, age int, municipality string) rules.Decision {
	c := rules.Case{Age: age, Municipality: municipality}
	for _, l := range ls {
		c.Involved = append(c.Involved, rules.Involvement{Institution: l.inst, Kind: rules.Kind(l.kind), RegisteredAt: time.Unix(0, l.created)})
	}
	return rules.Decide(c, s.cov)
}

func distinct(ls []live) int {
	seen := map[string]bool{}
	for _, l := range ls {
		seen[l.inst] = true
	}
	return len(seen)
}

// inTx runs f in a transaction and commits it.
func (s *SQL) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Register implements target.Target: the registration, the youth's case and
// the events in one transaction under the youth's lock.
func (s *SQL) Register(ctx context.Context, inst string, y target.Youth) (target.Outcome, error) {
	bsn := y.BSN()
	youth, err := s.youthKey(bsn)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	bd := y.BirthDate()
	kind := "involvement"
	if target.IsSignal(inst) {
		kind = "signal"
	}
	out, id, err := s.register(ctx, youth, report{inst: inst, kind: kind, age: bd.AgeOn(now), municipality: target.Municipality,
		contact: target.Contact, endsOn: legalEnd(bd, now)}, now)
	if err != nil {
		return 0, err
	}
	s.ids.Remember(inst, y, id)
	return out, nil
}

// report is one institution's report of a youth, as the baseline stores
// it.
type report struct {
	inst, kind   string
	age          int
	municipality string
	contact      store.Contact
	endsOn       int64 // day
}

// legalEnd is the day a registration made now ends without another date:
// two years on, and never on or after the youth's 23rd birthday.
func legalEnd(bd identity.BirthDate, now time.Time) int64 {
	return min(day(now.AddDate(2, 0, 0)), day(bd.Birthday(23))-1)
}

// register stores r for youth at now: a refresh if r's institution is
// registered already, else a new registration, a match when another
// institution is; the youth's case and the events in the same
// transaction. It returns the outcome and the registration's ID.
func (s *SQL) register(ctx context.Context, youth []byte, r report, now time.Time) (target.Outcome, []byte, error) {
	today := day(now)
	c, inst, age := r.contact, r.inst, r.age
	var out target.Outcome
	var id []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The upsert takes the youth's row lock (PostgreSQL); SQLite's
		// BEGIN IMMEDIATE holds the write lock already.
		if _, err := tx.ExecContext(ctx, s.q[qUpsertYouth], youth, age, r.municipality); err != nil {
			return err
		}
		var coord, rule string
		if err := tx.QueryRowContext(ctx, s.q[qYouth], youth).Scan(&coord, &rule); err != nil {
			return err
		}
		ls, err := s.live(ctx, tx, youth, today)
		if err != nil {
			return err
		}
		var own *live
		for i := range ls {
			if ls[i].inst == inst {
				own = &ls[i]
			}
		}
		if own != nil {
			id = own.id
			out = target.Refreshed
			_, err := tx.ExecContext(ctx, s.q[qRefresh], now.UnixNano(), r.endsOn, r.municipality, c.Name, c.Phone, c.Email, own.id)
			return err
		}
		id = newID()
		if _, err := tx.ExecContext(ctx, s.q[qInsert], id, youth, inst, r.kind, r.municipality, c.Name, c.Phone, c.Email,
			now.UnixNano(), now.UnixNano(), r.endsOn); err != nil {
			return err
		}
		ls = append(ls, live{id: id, inst: inst, kind: r.kind, created: now.UnixNano(), name: c.Name, phone: c.Phone, email: c.Email})
		if distinct(ls) < 2 {
			out = target.Registered
			return s.event(ctx, tx, inst, "no_match", id, now, struct{}{})
		}
		out = target.NewMatch
		// The coordinator stays unless none was assigned or a rule with the
		// final say takes over; the match events name it, as vindex's do.
		d := rules.Decision{Coordinator: coord, Rule: rule}
		if nd := s.decide(ls, age, r.municipality); coord == "" || nd.FinalSay && nd.Coordinator != coord {
			d = nd
			if _, err := tx.ExecContext(ctx, s.q[qCoordinator], d.Coordinator, d.Rule, true, youth); err != nil {
				return err
			}
		}
		for _, l := range ls {
			payload := map[string]any{"others": others(ls, l.inst), "subject": inst}
			if d.Coordinator != "" {
				payload["coordinator"], payload["rule"] = d.Coordinator, d.Rule
			}
			if err := s.event(ctx, tx, l.inst, "match", l.id, now, payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("baseline: %s register: %w", s.d.name, err)
	}
	return out, id, nil
}

// Lookup implements target.Target: one read of the live registrations,
// answered only to an institution among them.
func (s *SQL) Lookup(ctx context.Context, inst string, y target.Youth) (target.Outcome, error) {
	youth, err := s.youthKey(y.BSN())
	if err != nil {
		return 0, err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q[qView], youth, day(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("baseline: %s lookup: %w", s.d.name, err)
	}
	defer rows.Close()
	// Every row is read in full, as the answer would need it; the target
	// reports only whether the caller is involved.
	involved := false
	for rows.Next() {
		var p party
		var kind, coord string
		var since int64
		if err := rows.Scan(&p.Institution, &kind, &p.Name, &p.Phone, &p.Email, &since, &coord); err != nil {
			return 0, err
		}
		involved = involved || p.Institution == inst
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("baseline: %s lookup: %w", s.d.name, err)
	}
	if !involved {
		return target.NotInvolved, nil
	}
	return target.Viewed, nil
}

// End implements target.Target: the registration ends, and if its
// institution coordinated, the coordinator is decided anew; the others
// hear of it, all in one transaction under the youth's lock.
func (s *SQL) End(ctx context.Context, inst string, y target.Youth) (target.Outcome, error) {
	id, ok := s.ids.Take(inst, y)
	if !ok {
		return target.Skipped, nil
	}
	now := time.Now()
	age := y.BirthDate().AgeOn(now)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var youth []byte
		switch err := tx.QueryRowContext(ctx, s.q[qOwn], id, inst).Scan(&youth); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // ended already: not an error, as in vindex
		case err != nil:
			return err
		}
		if s.d.lockYouth != "" {
			if _, err := tx.ExecContext(ctx, s.q[s.d.lockYouth], youth); err != nil {
				return err
			}
		}
		var coord, rule string
		if err := tx.QueryRowContext(ctx, s.q[qYouth], youth).Scan(&coord, &rule); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q[qEnd], now.UnixNano(), id); err != nil {
			return err
		}
		ls, err := s.live(ctx, tx, youth, day(now))
		if err != nil {
			return err
		}
		for _, l := range ls {
			if err := s.event(ctx, tx, l.inst, "ended", l.id, now, map[string]any{"subject": inst}); err != nil {
				return err
			}
		}
		if coord != inst {
			return nil
		}
		var d rules.Decision
		if distinct(ls) >= 2 {
			d = s.decide(ls, age, target.Municipality)
		}
		if _, err := tx.ExecContext(ctx, s.q[qCoordinator], d.Coordinator, d.Rule, distinct(ls) >= 2, youth); err != nil {
			return err
		}
		return s.announce(ctx, tx, ls, d, now)
	})
	if err != nil {
		return 0, fmt.Errorf("baseline: %s end: %w", s.d.name, err)
	}
	return target.Ended, nil
}

func newID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// Count returns the number of rows in the baseline's registrations and
// outbox tables, for tests and reports.
func (s *SQL) Count(ctx context.Context) (registrations, events int64, err error) {
	if err = s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM registrations`).Scan(&registrations); err != nil {
		return
	}
	err = s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&events)
	return
}

// DB is the baseline's database handle.
func (s *SQL) DB() *sql.DB { return s.db }
