package baseline

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/rules"
)

var postgresSchema = []string{
	`CREATE TABLE IF NOT EXISTS youths (
		youth BYTEA PRIMARY KEY,
		coordinator TEXT NOT NULL DEFAULT '',
		rule TEXT NOT NULL DEFAULT '',
		matched BOOLEAN NOT NULL DEFAULT false,
		age INTEGER NOT NULL,
		municipality TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS registrations (
		id BYTEA PRIMARY KEY,
		youth BYTEA NOT NULL,
		institution TEXT NOT NULL,
		kind TEXT NOT NULL,
		municipality TEXT NOT NULL,
		contact_name TEXT NOT NULL,
		contact_phone TEXT NOT NULL,
		contact_email TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		ends_on BIGINT NOT NULL,
		ended_at BIGINT
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS registrations_live ON registrations (youth, institution) WHERE ended_at IS NULL`,
	`CREATE TABLE IF NOT EXISTS outbox (
		seq BIGSERIAL PRIMARY KEY,
		recipient TEXT NOT NULL,
		type TEXT NOT NULL,
		registration BYTEA NOT NULL,
		at BIGINT NOT NULL,
		payload JSONB NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (recipient, seq)`,
}

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
