package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/vindex-nl/vindex/bench/target"
)

// ImportFile describes a seeded import file for vindex import (and the
// baselines' bulk imports) in the shape of the bulk workload: each youth
// reported by two institutions of the example covenant, the school
// school-example-lyceum (a signal with code S01) and wij-groningen (an
// involvement), so that every youth makes one match, whose coordinator is
// wij-groningen. Its youths are those of the bulk workload with the same
// seed (target.NewYouths): distinct BSNs that pass the eleven-check, each
// with one birth date (born 2009 to 2022, so under 18 until 2027), all in
// municipality GM0014.
type ImportFile struct {
	// Rows is the number of rows after the header.
	Rows int
	// Seed seeds the youths and the order of the rows: the same ImportFile
	// always gives the same bytes.
	Seed uint64
	// Refresh is the fraction of the rows (0 ≤ Refresh < 1) that report a
	// youth again by one of its two institutions: a refresh, which changes
	// the registration's contact phone and makes no new registration.
	Refresh float64
	// Invalid is the fraction of the rows (0 ≤ Invalid < 1) that an import
	// must reject, each for exactly one reason, in turn: a BSN failing the
	// eleven-check (a youth's BSN with another check digit), an unknown
	// institution, a signal without a code. The last two carry the BSN of
	// one of the file's youths, whose other rows are valid.
	Invalid float64
}

// ImportCounts is what an ImportFile holds.
type ImportCounts struct {
	// Youths is the number of distinct youths, each reported by both
	// institutions: the matches an import makes.
	Youths int
	// Registrations is the number of registrations an import makes: two
	// per youth.
	Registrations int
	// Refreshes is the number of refresh rows (valid rows that make no
	// new registration).
	Refreshes int
	// Invalid is the number of rows an import rejects.
	Invalid int
}

// Valid is the number of rows an import accepts.
func (c ImportCounts) Valid() int { return c.Registrations + c.Refreshes }

// ImportHeader is the header row WriteImportCSV writes.
const ImportHeader = "institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone,contact_email"

// ErrImportFile reports an ImportFile that cannot be made.
var ErrImportFile = errors.New("bench: import file")

// Counts returns the numbers of youths, registrations, refreshes and
// invalid rows f holds: Invalid and Refresh are rounded to whole rows, and
// a row left over after two per youth is one more refresh.
func (f ImportFile) Counts() (ImportCounts, error) {
	if f.Rows < 0 || !(f.Refresh >= 0 && f.Refresh < 1) || !(f.Invalid >= 0 && f.Invalid < 1) || f.Refresh+f.Invalid >= 1 {
		return ImportCounts{}, fmt.Errorf("%w: want rows ≥ 0, refresh and invalid fractions in [0, 1) and below 1 together", ErrImportFile)
	}
	c := ImportCounts{Invalid: int(math.Round(float64(f.Rows) * f.Invalid)), Refreshes: int(math.Round(float64(f.Rows) * f.Refresh))}
	base := f.Rows - c.Invalid - c.Refreshes
	if base < 0 {
		c.Refreshes += base
		base = 0
	}
	c.Youths = base / 2
	c.Registrations = 2 * c.Youths
	c.Refreshes += base % 2
	if c.Refreshes > 0 && c.Youths == 0 {
		return ImportCounts{}, fmt.Errorf("%w: %d rows leave no youth to refresh", ErrImportFile, f.Rows)
	}
	if c.Youths > target.MaxYouths {
		return ImportCounts{}, fmt.Errorf("%w: %d youths, at most %d", ErrImportFile, c.Youths, target.MaxYouths)
	}
	return c, nil
}

// importBlock is how many youths share a block: their rows, refreshes and
// invalid rows are shuffled together, so that the rows of one youth are
// spread over about 2·importBlock rows and an importer must sort them.
const importBlock = 1 << 16

// The kinds of row.
const (
	rowSchool uint8 = iota
	rowWIJ
	rowRefreshSchool
	rowRefreshWIJ
	rowBadBSN
	rowUnknownInstitution
	rowNoCode
)

type importRow struct {
	youth int32 // within the block
	kind  uint8
}

// WriteImportCSV writes the import file f to w: the header ImportHeader,
// then f.Rows rows (see ImportFile and its Counts). It takes time in
// proportion to the rows and memory in proportion to the youths (4 bytes
// each) plus one block of rows.
func WriteImportCSV(w io.Writer, f ImportFile) error {
	c, err := f.Counts()
	if err != nil {
		return err
	}
	// Without youths, the invalid rows borrow the BSN of one that no row
	// reports.
	youths := max(c.Youths, 1)
	pop := target.NewYouths(f.Seed)
	pop.Grow(youths)
	r := rand.New(rand.NewPCG(f.Seed, 0x696d706f7274)) // "import"
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(ImportHeader + "\n")
	var rows []importRow
	var line []byte
	bad := 0 // invalid rows so far, for their reasons in turn
	for start := 0; start < youths; start += importBlock {
		end := min(start+importBlock, youths)
		n := end - start
		// This block's share of the refreshes and invalid rows.
		refreshes := share(c.Refreshes, start, end, youths)
		invalid := share(c.Invalid, start, end, youths)
		rows = rows[:0]
		if c.Youths > 0 {
			for y := range n {
				rows = append(rows, importRow{int32(y), rowSchool}, importRow{int32(y), rowWIJ})
			}
		}
		for range refreshes {
			rows = append(rows, importRow{int32(r.IntN(n)), rowRefreshSchool + uint8(r.IntN(2))})
		}
		for range invalid {
			rows = append(rows, importRow{int32(r.IntN(n)), rowBadBSN + uint8(bad%3)})
			bad++
		}
		r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, row := range rows {
			line = appendImportRow(line[:0], pop, start+int(row.youth), row.kind)
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// share is the part of total that falls to youths [start, end) of n, in
// proportion, so that the parts add up to total.
func share(total, start, end, n int) int {
	return int(int64(total)*int64(end)/int64(n) - int64(total)*int64(start)/int64(n))
}

// appendImportRow appends the row of kind for youth i of pop.
func appendImportRow(b []byte, pop *target.Youths, i int, kind uint8) []byte {
	inst, signal := "wij-groningen", false
	switch kind {
	case rowSchool, rowRefreshSchool, rowNoCode:
		inst, signal = "school-example-lyceum", true
	case rowUnknownInstitution:
		inst = "wij-drenthe"
	}
	b = append(b, inst...)
	b = append(b, ',')
	digits := pop.Digits(i)
	if kind == rowBadBSN {
		d := []byte(digits)
		d[8] = '0' + (d[8]-'0'+1)%10 // the check digit is the only one that passes
		b = append(b, d...)
	} else {
		b = append(b, digits...)
	}
	b = append(b, ',')
	y, m, d := pop.BirthDate(i).RevealDate().Date()
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-', byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+d/10), byte('0'+d%10), ',')
	b = append(b, target.Municipality...)
	switch {
	case signal && kind == rowNoCode:
		b = append(b, ",signal,,"...)
	case signal:
		b = append(b, ",signal,"+target.SignalCode+","...)
	default:
		b = append(b, ",involvement,,"...)
	}
	phone := "050-1111111"
	if kind == rowRefreshSchool || kind == rowRefreshWIJ {
		phone = "050-7654321"
	}
	if signal {
		b = append(b, "M. Bakker,"+phone+",m.bakker@lyceum.example\n"...)
	} else {
		b = append(b, "A. Jansen,"+phone+",a.jansen@wij.example\n"...)
	}
	return b
}
