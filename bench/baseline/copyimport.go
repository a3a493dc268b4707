package baseline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNotEmpty reports a CopyImport into a baseline that holds data.
var ErrNotEmpty = errors.New("baseline: copy import: the tables are not empty")

// maxInstitutions bounds the institutions of one youth: an outbox event's
// seq is its step's row number times maxInstitutions plus its recipient's
// place.
const maxInstitutions = 1024

// CopyImport loads a CSV file in the form ImportRows reads into the empty
// PostgreSQL baseline, in bulk, with the same result as ImportRows (so as
// registering each row in the order of the file): a youth row per youth
// with its pseudonym as Register computes it, one live registration per
// (youth, institution) (the first row makes it, later rows refresh it),
// and for each new registration the events Register writes: "no match"
// for the youth's first institution, a match event to every institution
// involved for each further one, naming the coordinator that the
// covenant's rules decide as Register decides it. Rows that are wrong are
// rejected and counted as ImportRows does.
//
// It differs only where a bulk load cannot help it: the registrations'
// timestamps are the import's start plus the row's line number in
// nanoseconds (so the order of the file), a registration's ID is a keyed
// hash of that line number under a random key of the import's, and the
// outbox's seq numbers keep the order of the events with gaps between
// steps. The events' payloads are the JSON Register writes (its keys in
// the same order), but for the characters Go escapes and PostgreSQL does
// not (<, >, &).
//
// How: the Go client reads and checks the rows and computes the
// pseudonyms, and streams them by COPY into an unlogged staging table; the
// result is computed from it with set-based SQL (window functions sorting
// the rows by youth; a youth's institutions in the order they first
// reported) and inserted into the baseline's tables, whose indexes are
// dropped before and built again after, as PostgreSQL's manual advises for
// a bulk load. The coordinator decisions are made in Go, by rules.Decide,
// once per distinct sequence of (institution, kind, age, municipality)
// among the youths. Everything is one transaction, committed with fsync
// on: the import is whole or not at all. The staging tables are dropped
// in the same transaction.
func (s *SQL) CopyImport(ctx context.Context, r io.Reader) (ImportStats, error) {
	var st ImportStats
	if !s.d.dollar {
		return st, errors.New("baseline: copy import is for postgres")
	}
	if len(s.cov.Institutions) >= maxInstitutions {
		return st, fmt.Errorf("baseline: copy import: more than %d institutions", maxInstitutions-1)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return st, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		st, err = s.copyImport(ctx, tx, r)
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return st, fmt.Errorf("baseline: postgres copy import: %w", err)
	}
	return st, nil
}

// The indexes of the baseline's tables, dropped for a bulk load and built
// again after it.
var (
	dropIndexes = []string{
		`ALTER TABLE youths DROP CONSTRAINT youths_pkey`,
		`ALTER TABLE registrations DROP CONSTRAINT registrations_pkey`,
		`DROP INDEX registrations_live`,
		`ALTER TABLE outbox DROP CONSTRAINT outbox_pkey`,
		`DROP INDEX outbox_recipient`,
	}
	buildIndexes = []string{
		`ALTER TABLE youths ADD PRIMARY KEY (youth)`,
		`ALTER TABLE registrations ADD PRIMARY KEY (id)`,
		`CREATE UNIQUE INDEX registrations_live ON registrations (youth, institution) WHERE ended_at IS NULL`,
		`ALTER TABLE outbox ADD PRIMARY KEY (seq)`,
		`CREATE INDEX outbox_recipient ON outbox (recipient, seq)`,
	}
)

// qRegs makes import_regs: a row per (youth, institution) from the staged
// rows: the first row's order and kind, the last row's (a refresh's)
// order, municipality, contact, age and ends_on, its ID, the youth's k-th
// institution (in the order of their first rows) and the number n of its
// institutions. The youth's summary row, that of its last row in the
// file, holds its history (the institutions in order, each with the kind,
// age and municipality of its first row) and arrays of its institutions'
// names, IDs, orders and first and last contacts, in order. One full sort
// (by youth); the others sort each youth's few rows.
const qRegs = `CREATE UNLOGGED TABLE import_regs AS
SELECT g.youth, g.institution, g.kind, g.first_ord, g.last_ord, g.municipality, g.contact_name, g.contact_phone, g.contact_email,
	g.ends_on, g.age, g.id,
	row_number() OVER y AS k,
	count(*) OVER ya AS n,
	g.last_ord = max(g.last_ord) OVER ya AS summary,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN string_agg(institution || '/' || kind || '/' || first_age || '/' || first_municipality, ',') OVER yall END AS hist,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(institution) OVER yall END AS insts,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(id) OVER yall END AS ids,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(first_ord) OVER yall END AS first_ords,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(last_ord) OVER yall END AS last_ords,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(first_name) OVER yall END AS first_names,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(first_phone) OVER yall END AS first_phones,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(first_email) OVER yall END AS first_emails,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(contact_name) OVER yall END AS last_names,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(contact_phone) OVER yall END AS last_phones,
	CASE WHEN g.last_ord = max(g.last_ord) OVER ya THEN array_agg(contact_email) OVER yall END AS last_emails
FROM (
	SELECT DISTINCT ON (youth, institution)
		youth, institution, ord AS last_ord, municipality, contact_name, contact_phone, contact_email, ends_on, age,
		last_value(ord) OVER w AS first_ord, last_value(kind) OVER w AS kind,
		last_value(age) OVER w AS first_age, last_value(municipality) OVER w AS first_municipality,
		last_value(contact_name) OVER w AS first_name, last_value(contact_phone) OVER w AS first_phone,
		last_value(contact_email) OVER w AS first_email,
		substring(sha256($1::bytea || int8send(ord)) for 16) AS id
	FROM import_stage
	WINDOW w AS (PARTITION BY youth, institution ORDER BY ord DESC ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
	ORDER BY youth, institution, ord DESC
) g
WINDOW y AS (PARTITION BY youth ORDER BY first_ord),
	ya AS (PARTITION BY youth),
	yall AS (PARTITION BY youth ORDER BY first_ord ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)`

// qRefreshes makes import_refreshes: the rows that refreshed a
// registration, for the contact an institution had when a later one
// matched.
const qRefreshes = `CREATE UNLOGGED TABLE import_refreshes AS
SELECT st.youth, st.institution, st.ord, st.contact_name, st.contact_phone, st.contact_email
FROM import_stage st JOIN import_regs g ON g.youth = st.youth AND g.institution = st.institution
WHERE g.last_ord > g.first_ord AND st.ord > g.first_ord`

// partySQL is the party (its institution and contact, as JSON text in
// the form Register's events give it) that the youth's j-th institution
// was when its k-th reported, in the summary row s: its first contact if
// it is the k-th, its last if it reported last before the k-th, else that
// of its last refresh before the k-th, if any, else its first.
func partySQL(j, k string) string {
	at := func(arr string) string { return "s." + arr + "[" + j + "]" }
	first := partyJSON(at("insts"), at("first_names"), at("first_phones"), at("first_emails"))
	last := partyJSON(at("insts"), at("last_names"), at("last_phones"), at("last_emails"))
	refresh := partyJSON(at("insts"), "r.contact_name", "r.contact_phone", "r.contact_email")
	return "CASE WHEN " + j + " = " + k + " THEN " + first +
		" WHEN s.last_ords[" + j + "] <= s.first_ords[" + k + "] THEN " + last +
		" ELSE coalesce((SELECT " + refresh + " FROM import_refreshes r WHERE r.youth = s.youth AND r.institution = " + at("insts") +
		" AND r.ord <= s.first_ords[" + k + "] ORDER BY r.ord DESC LIMIT 1), " + first + ") END"
}

// partyJSON is the JSON text of a party, as Register's json.Marshal of
// party writes it (phone and email omitted when empty).
func partyJSON(inst, name, phone, email string) string {
	return `('{"institution":' || to_json(` + inst + `)::text || ',"name":' || to_json(` + name + `)::text || ` +
		`CASE WHEN ` + phone + ` <> '' THEN ',"phone":' || to_json(` + phone + `)::text ELSE '' END || ` +
		`CASE WHEN ` + email + ` <> '' THEN ',"email":' || to_json(` + email + `)::text ELSE '' END || '}')`
}

// qEvents writes the outbox: "no match" for each youth's first
// institution; for its k-th (k ≥ 2), a match event to each of the first k
// institutions l, naming the others as they were then, the k-th as the
// subject and the coordinator decided at that step. seq keeps the order of
// ImportRows: by step, then by recipient.
var qEvents = `INSERT INTO outbox (seq, recipient, type, registration, at, payload)
SELECT first_ord * ` + strconv.Itoa(maxInstitutions) + `, institution, 'no_match', id, $1::bigint + first_ord, convert_to('{}', 'UTF8')
FROM import_regs WHERE k = 1
UNION ALL
SELECT s.first_ords[d.k] * ` + strconv.Itoa(maxInstitutions) + ` + l - 1, s.insts[l], 'match', s.ids[l], $1::bigint + s.first_ords[d.k],
	convert_to('{' || CASE WHEN d.coordinator <> '' THEN '"coordinator":' || to_json(d.coordinator)::text || ',' ELSE '' END ||
		'"others":[' || CASE WHEN d.k = 2 THEN ` + partySQL("(3 - l)", "d.k") + `
			ELSE (SELECT string_agg(` + partySQL("j", "d.k") + `, ',' ORDER BY j) FROM generate_series(1, d.k) j WHERE j <> l) END || ']' ||
		CASE WHEN d.coordinator <> '' THEN ',"rule":' || to_json(d.rule)::text ELSE '' END ||
		',"subject":' || to_json(s.insts[d.k])::text || '}', 'UTF8')
FROM import_regs s JOIN import_decisions d ON d.hist = s.hist
CROSS JOIN LATERAL generate_series(1, d.k) l
WHERE s.summary AND s.n >= 2`

func (s *SQL) copyImport(ctx context.Context, tx pgx.Tx, r io.Reader) (ImportStats, error) {
	var st ImportStats
	start := time.Now()
	base := start.UnixNano()
	exec := func(sql string, args ...any) error {
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%.40s…: %w", sql, err)
		}
		return nil
	}
	if err := exec(`LOCK TABLE youths, registrations, outbox IN ACCESS EXCLUSIVE MODE`); err != nil {
		return st, err
	}
	var held bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM youths) OR EXISTS (SELECT 1 FROM registrations) OR EXISTS (SELECT 1 FROM outbox)`).Scan(&held); err != nil {
		return st, err
	}
	if held {
		return st, ErrNotEmpty
	}
	// Sorts in memory where they fit; the server's memory, not the
	// client's.
	for _, q := range append([]string{`SET LOCAL work_mem = '256MB'`, `SET LOCAL maintenance_work_mem = '512MB'`}, dropIndexes...) {
		if err := exec(q); err != nil {
			return st, err
		}
	}
	if err := exec(`CREATE UNLOGGED TABLE import_stage (ord BIGINT, youth BYTEA, institution TEXT, kind TEXT, municipality TEXT,
		contact_name TEXT, contact_phone TEXT, contact_email TEXT, age INTEGER, ends_on BIGINT)`); err != nil {
		return st, err
	}
	ir, err := s.newImportReader(r, start)
	if err != nil {
		return st, err
	}
	src := pgx.CopyFromFunc(func() ([]any, error) {
		youth, rep, err := ir.nextValid(&st)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c := rep.contact
		return []any{ir.line, youth, rep.inst, rep.kind, rep.municipality, c.Name, c.Phone, c.Email, int32(rep.age), rep.endsOn}, nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"import_stage"},
		[]string{"ord", "youth", "institution", "kind", "municipality", "contact_name", "contact_phone", "contact_email", "age", "ends_on"}, src)
	if err != nil {
		return st, err
	}
	st.Imported = n
	// A registration's ID: a keyed hash of its first row's number under a
	// key of the import's, as unique and unpredictable as Register's
	// random IDs, for a third of the cost of gen_random_uuid here.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return st, err
	}
	if err := exec(qRegs, key); err != nil {
		return st, err
	}
	if err := exec(`ANALYZE import_regs`); err != nil {
		return st, err
	}
	if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE k >= 2), count(*) FILTER (WHERE summary) FROM import_regs`).
		Scan(&st.Registrations, &st.Matches, &st.Youths); err != nil {
		return st, err
	}
	st.Refreshed = st.Imported - st.Registrations
	refreshes := `CREATE UNLOGGED TABLE import_refreshes (youth BYTEA, institution TEXT, ord BIGINT, contact_name TEXT, contact_phone TEXT, contact_email TEXT)`
	if st.Refreshed > 0 {
		refreshes = qRefreshes
	}
	for _, q := range []string{refreshes, `CREATE INDEX ON import_refreshes (youth, institution, ord)`,
		`CREATE UNLOGGED TABLE import_decisions (hist TEXT, k INTEGER, coordinator TEXT, rule TEXT)`} {
		if err := exec(q); err != nil {
			return st, err
		}
	}
	if err := s.copyDecisions(ctx, tx); err != nil {
		return st, err
	}
	if err := exec(`ANALYZE import_decisions`); err != nil {
		return st, err
	}
	for _, q := range []string{
		`INSERT INTO registrations (id, youth, institution, kind, municipality, contact_name, contact_phone, contact_email, created_at, updated_at, ends_on)
			SELECT id, youth, institution, kind, municipality, contact_name, contact_phone, contact_email, $1::bigint + first_ord, $1::bigint + last_ord, ends_on
			FROM import_regs`,
		`INSERT INTO youths (youth, coordinator, rule, matched, age, municipality)
			SELECT s.youth, coalesce(d.coordinator, ''), coalesce(d.rule, ''), s.n >= 2, s.age, s.municipality
			FROM import_regs s LEFT JOIN import_decisions d ON d.hist = s.hist AND d.k = s.n
			WHERE s.summary`,
		qEvents,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{base}
		}
		if err := exec(q, args...); err != nil {
			return st, err
		}
	}
	for _, q := range append(buildIndexes,
		`SELECT setval(pg_get_serial_sequence('outbox', 'seq'), max(seq)) FROM outbox HAVING count(*) > 0`,
		`DROP TABLE import_stage, import_regs, import_refreshes, import_decisions`) {
		if err := exec(q); err != nil {
			return st, err
		}
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

// copyDecisions decides the coordinator for each distinct history of the
// youths with two institutions or more, as Register does it step by step:
// at each new institution k ≥ 2 the rules decide on the first k, and the
// decision replaces the coordinator if none was assigned yet or if its
// rule has the final say over another coordinator. It writes a row (hist,
// k, coordinator, rule) per step to import_decisions.
func (s *SQL) copyDecisions(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT hist FROM import_regs WHERE summary AND n >= 2`)
	if err != nil {
		return err
	}
	hists, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var out [][]any
	for _, h := range hists {
		var ls []live
		var coord, rule string
		for k, step := range strings.Split(h, ",") {
			f := strings.Split(step, "/")
			if len(f) != 4 {
				return fmt.Errorf("history step %q", step)
			}
			age, err := strconv.Atoi(f[2])
			if err != nil {
				return fmt.Errorf("history step %q", step)
			}
			ls = append(ls, live{inst: f[0], kind: f[1], created: int64(k)})
			if k == 0 {
				continue
			}
			if nd := s.decide(ls, age, f[3]); coord == "" || nd.FinalSay && nd.Coordinator != coord {
				coord, rule = nd.Coordinator, nd.Rule
			}
			out = append(out, []any{h, int32(k + 1), coord, rule})
		}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"import_decisions"}, []string{"hist", "k", "coordinator", "rule"}, pgx.CopyFromRows(out))
	return err
}
