package baseline

import (
	"database/sql"
	"fmt"
	"net/url"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/rules"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

var sqliteSchema = schemaFor(map[string]string{
	"bytes": "BLOB", "int": "INTEGER", "bool": "INTEGER", "false": "0", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
})

// OpenSQLite opens (or makes) the SQLite baseline in the file path, in WAL
// mode with synchronous=FULL (every commit is fsynced). Writes go through
// one connection, each transaction begun IMMEDIATE: SQLite has one write
// lock, and callers queueing for one connection fare better than conns
// connections polling for the lock (measured here: the same throughput,
// a quarter of the 99th percentile latency). Lookups use up to conns
// read-only connections beside it, which WAL mode lets read while the
// writer writes.
func OpenSQLite(path string, conns int, ps *pseudonym.Pseudonymiser, cov *rules.Covenant) (*SQL, error) {
	open := func(readOnly bool) (*sql.DB, error) {
		v := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(60000)", "foreign_keys(off)"} {
			v.Add("_pragma", p)
		}
		if readOnly {
			v.Add("_pragma", "query_only(true)")
		} else {
			v.Set("_txlock", "immediate")
		}
		db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
		if err != nil {
			return nil, fmt.Errorf("baseline: sqlite: %w", err)
		}
		n := 1
		if readOnly {
			n = max(conns, 1)
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		return db, nil
	}
	db, err := open(false)
	if err != nil {
		return nil, err
	}
	var mode string
	var sync int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("baseline: sqlite: %w", err)
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || mode != "wal" || sync != 2 {
		db.Close()
		return nil, fmt.Errorf("baseline: sqlite: journal_mode %s, synchronous %d (want wal, 2 = FULL): %v", mode, sync, err)
	}
	s, err := newSQL(dialect{name: "sqlite", schema: sqliteSchema}, db, nil, ps, cov)
	if err != nil {
		db.Close()
		return nil, err
	}
	if s.rdb, err = open(true); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
