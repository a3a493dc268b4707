package pebblestore

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// migrateHistory moves the ended registrations of a schema 1 store out of
// the youth records into records of their own (prefix 'h'), then marks the
// store schema 2. Each batch of youths is one synced write that replaces a
// youth record and writes its history together, so an interrupted
// migration leaves every youth either moved or not, and the next Open
// finishes it (a moved record holds no ended registration and is left as
// it is).
func (s *Store) migrateHistory() error {
	const batchYouths = 1024
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixYouth}, UpperBound: []byte{prefixYouth + 1}})
	if err != nil {
		return fmt.Errorf("pebblestore: migrate: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	var buf []byte
	youths, moved, inBatch := 0, 0, 0
	flush := func() error {
		if b.Empty() {
			return nil
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("pebblestore: migrate: %w", err)
		}
		b.Close()
		b = s.db.NewBatch()
		inBatch = 0
		return nil
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 1+youthSize {
			return ErrSchema
		}
		rec, err := decodeYouth(it.Value())
		if err != nil {
			return fmt.Errorf("pebblestore: migrate: %w", err)
		}
		live := rec.regs[:0:0]
		for i := range rec.regs {
			r := &rec.regs[i]
			if r.IsLive() {
				live = append(live, *r)
				continue
			}
			buf = encodeRegistration(buf[:0], r)
			b.Set(historyKey(r.Youth, r.ID), buf, nil)
			moved++
		}
		if len(live) == len(rec.regs) {
			continue
		}
		rec.regs = live
		if len(rec.regs) == 0 && !rec.hasCase {
			b.Delete(it.Key(), nil)
		} else {
			buf = encodeYouth(buf[:0], &rec)
			b.Set(it.Key(), buf, nil)
		}
		youths++
		if inBatch++; inBatch == batchYouths {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebblestore: migrate: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := s.db.Set(schemaKey, []byte{schemaV2}, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: write schema: %w", err)
	}
	s.logger.Info("store migrated: ended registrations kept apart from the live ones", slog.String("component", "pebblestore"),
		slog.Int("youths", youths), slog.Int("ended_registrations", moved))
	return nil
}

// countHistoryRefs counts the client references and sealed elements of every ended
// registration into use (the live registrations are counted from the youth
// records; an ended one adds to no live count).
func countHistoryRefs(db *pebble.DB, use *keyUse) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHistory}, UpperBound: []byte{prefixHistory + 1}})
	if err != nil {
		return err
	}
	var regs []store.Registration
	for it.First(); it.Valid(); it.Next() {
		r, err := decodeRegistration(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if len(r.ClientRef) > 0 || len(r.Element) > 0 {
			regs = append(regs, r)
		}
		if len(regs) == 1024 {
			use.apply(nil, regs)
			regs = regs[:0]
		}
	}
	use.apply(nil, regs)
	return it.Close()
}
