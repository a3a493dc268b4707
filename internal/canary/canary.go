// Package canary finds identities where they must never be: the canary
// tests register known BSNs and birth dates, then scan the data directory,
// the logs and the metrics for the forms a careless program might write.
package canary

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Needles maps a name ("bsn 3") to the byte forms to look for.
type Needles map[string][][]byte

// BSN adds the forms of a BSN: its decimal digits, without a leading zero,
// and the number as 4- and 8-byte integers in both byte orders.
func (n Needles) BSN(name, digits string) {
	out := [][]byte{[]byte(digits)}
	v, _ := strconv.ParseUint(digits, 10, 64)
	if trimmed := strconv.FormatUint(v, 10); trimmed != digits {
		out = append(out, []byte(trimmed))
	}
	var b4 [4]byte
	var b8 [8]byte
	binary.BigEndian.PutUint32(b4[:], uint32(v))
	out = append(out, bytes.Clone(b4[:]))
	binary.LittleEndian.PutUint32(b4[:], uint32(v))
	out = append(out, bytes.Clone(b4[:]))
	binary.BigEndian.PutUint64(b8[:], v)
	out = append(out, bytes.Clone(b8[:]))
	binary.LittleEndian.PutUint64(b8[:], v)
	out = append(out, bytes.Clone(b8[:]))
	n[name] = out
}

// Date adds the common textual forms of a date given as YYYY-MM-DD.
func (n Needles) Date(name, iso string) {
	y, m, d := iso[0:4], iso[5:7], iso[8:10]
	n[name] = [][]byte{[]byte(iso), []byte(y + m + d), []byte(d + "-" + m + "-" + y), []byte(d + m + y)}
}

// Day adds the forms in which a program might write a day as a number: the
// days since 1970-01-01 (as vindex's store keys days) as a 4-byte integer
// in both byte orders. (A store's varint of a day
// number is too short to scan raw bytes for: check decoded records too.)
func (n Needles) Day(name string, day time.Time) {
	y, m, d := day.Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	var out [][]byte
	// Days since 1970 only, as 4-byte integers: days since another epoch
	// (1900) are numbers like any other at rest, and two more patterns
	// that begin or end with two zero bytes match random bytes by chance
	// too often for a scan of a store's files.
	days := uint32(t.Sub(time.Unix(0, 0).UTC()) / (24 * time.Hour))
	out = append(out, binary.BigEndian.AppendUint32(nil, days), binary.LittleEndian.AppendUint32(nil, days))
	n[name] = out
}

// Address adds the forms of a Dutch address: the postcode (given as
// "1234AB") written together, with its space, in either case, and the
// postcode with the house number and addition as a program might join
// them ("1234AB12", "1234AB 12", "1234AB:12:A", "1234 AB 12-A"). The
// house number alone is too short to look for.
func (n Needles) Address(name, postcode string, number int, addition string) {
	num := strconv.Itoa(number)
	lower := bytes.ToLower([]byte(postcode))
	spaced := postcode[:4] + " " + postcode[4:]
	out := [][]byte{[]byte(postcode), lower, []byte(spaced), bytes.ToLower([]byte(spaced)),
		[]byte(postcode + num), []byte(postcode + " " + num), []byte(postcode + ":" + num + ":" + addition)}
	if addition != "" {
		out = append(out, []byte(spaced+" "+num+"-"+addition), []byte(spaced+" "+num+" "+addition))
	}
	n[name] = out
}

// Bytes adds a byte string to look for as it is (a pseudonym, a key).
func (n Needles) Bytes(name string, b []byte) { n[name] = [][]byte{bytes.Clone(b)} }

// Scan returns a line for each needle form found in b; where names b.
func (n Needles) Scan(where string, b []byte) []string {
	var found []string
	for name, forms := range n {
		for _, f := range forms {
			if bytes.Contains(b, f) {
				found = append(found, where+": "+name+" as "+strconv.Quote(string(f)))
			}
		}
	}
	return found
}

// Significant returns the lines of found (what Scan or ScanDir returned)
// that cannot be chance. A form of 4 bytes (a BSN or a day as a 4-byte
// integer) is held by random bytes (pseudonyms, IDs, checksums) about once
// per 2^32 positions, so a scan of a store's files finds one now and then
// by chance; a program that writes identities in such a form writes every
// one of them so. Lines of 5 bytes or more are all returned; the lines of
// 4-byte forms only if they name at least minNames needles.
func Significant(found []string, minNames int) []string {
	var sure, short []string
	names := map[string]bool{}
	for _, line := range found {
		i, j := strings.Index(line, ": "), strings.LastIndex(line, " as ")
		form, err := strconv.Unquote(line[j+len(" as "):])
		if i < 0 || j < i || err != nil || len(form) > 4 {
			sure = append(sure, line)
			continue
		}
		short = append(short, line)
		names[line[i+2:j]] = true
	}
	if len(names) >= minNames {
		sure = append(sure, short...)
	}
	return sure
}

// ScanDir scans every regular file under dir (not a socket, such as
// vindex serve's backup socket, which holds no bytes).
func (n Needles) ScanDir(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		found = append(found, n.Scan(rel, b)...)
		return nil
	})
	return found, err
}

// Log is a log sink safe for concurrent writers, to scan afterwards.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// String returns what was written.
func (l *Log) String() string { return string(l.Bytes()) }
