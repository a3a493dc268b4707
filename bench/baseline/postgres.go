package baseline

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/rules"
)

var postgresSchema = schemaFor(map[string]string{
	"bytes": "BYTEA", "int": "BIGINT", "bool": "BOOLEAN", "false": "false", "serial": "BIGSERIAL PRIMARY KEY",
})

// OpenPostgres connects to the PostgreSQL baseline at dsn (a pgx
// connection string) with at most conns connections and makes its tables
// if missing. It refuses a server that does not fsync its commits
// (fsync or synchronous_commit off), which would not be a fair comparison.
// The upsert of the youth's row takes the row's lock, which serialises the
// registrations of one youth as vindex's per-youth write does.
func OpenPostgres(dsn string, conns int, ps *pseudonym.Pseudonymiser, cov *rules.Covenant) (*SQL, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("baseline: postgres: %w", err)
	}
	db.SetMaxOpenConns(max(conns, 1))
	db.SetMaxIdleConns(max(conns, 1))
	ctx := context.Background()
	for _, setting := range []string{"fsync", "synchronous_commit"} {
		var v string
		if err := db.QueryRowContext(ctx, "SHOW "+setting).Scan(&v); err != nil {
			db.Close()
			return nil, fmt.Errorf("baseline: postgres: %w", err)
		}
		if v != "on" {
			db.Close()
			return nil, fmt.Errorf("baseline: postgres: %s is %s; the baseline needs durable commits (on)", setting, v)
		}
	}
	s, err := newSQL(dialect{name: "postgres", dollar: true, schema: postgresSchema,
		lockYouth: `SELECT 1 FROM youths WHERE youth = ? FOR UPDATE`}, db, db, ps, cov)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Reset empties the PostgreSQL baseline's tables, so that runs start from
// the same empty state as a new vindex store.
func (s *SQL) Reset(ctx context.Context) error {
	if !s.d.dollar {
		return fmt.Errorf("baseline: reset is for postgres")
	}
	_, err := s.db.ExecContext(ctx, `TRUNCATE youths, registrations, outbox RESTART IDENTITY`)
	return err
}
