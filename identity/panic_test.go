package identity_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
)

type report struct {
	Institution string
	BSN         identity.BSN
	BirthDate   identity.BirthDate
	Urgent      bool
}

//go:noinline
func crash(b identity.BSN, d identity.BirthDate, r report, p *report) {
	panic(fmt.Sprintf("crash %v %v %+v", b, d, r))
}

// A panic with identities on the stack: the traceback prints the frames'
// arguments as raw bytes and words, and must show neither the BSN (as
// digits, or as its ASCII bytes in hex) nor the birth date (as a date, as
// Unix seconds, as time.Time's internal seconds, or as days since 1900).
// The panic runs in a child process, as a crash would.
func TestPanicOutputHoldsNoIdentity(t *testing.T) {
	const digits, date = "111222333", "2014-05-17"
	if os.Getenv("VINDEX_PANIC_CHILD") == "1" {
		b, _ := identity.ParseBSN(digits)
		d, _ := identity.ParseBirthDate(date)
		r := report{Institution: "ggd", BSN: b, BirthDate: d, Urgent: true}
		crash(b, d, r, &r)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanicOutputHoldsNoIdentity$")
	cmd.Env = append(os.Environ(), "VINDEX_PANIC_CHILD=1", "GOTRACEBACK=all")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("panic: crash")) || !bytes.Contains(out, []byte("identity_test.crash(")) {
		t.Fatalf("the child did not panic with a traceback: %v\n%s", err, out)
	}
	var hexDigits []string
	for _, c := range []byte(digits) {
		hexDigits = append(hexDigits, fmt.Sprintf("0x%x", c))
	}
	bd, _ := time.Parse(time.DateOnly, date)
	days := int64(bd.Sub(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	needles := map[string]string{
		"digits":                  digits,
		"ASCII bytes in hex":      strings.Join(hexDigits[:4], ", "),
		"date":                    date,
		"compact date":            strings.ReplaceAll(date, "-", ""),
		"Unix seconds (hex)":      "0x" + strconv.FormatInt(bd.Unix(), 16),
		"time.Time seconds (hex)": "0x" + strconv.FormatInt(bd.Unix()+62135596800, 16),
		"days since 1900 (hex)":   "0x" + strconv.FormatInt(days, 16),
		"days since 1900":         strconv.FormatInt(days, 10),
	}
	for what, n := range needles {
		if bytes.Contains(out, []byte(n)) {
			t.Errorf("the panic output holds the %s (%s):\n%s", what, n, out)
		}
	}
	// Positive control: the same scan finds the clear values.
	clear := fmt.Sprintf("{%s} %d", strings.Join(hexDigits, ", "), bd.Unix())
	if !strings.Contains(clear, needles["ASCII bytes in hex"]) || !strings.Contains(clear, strconv.FormatInt(bd.Unix(), 10)) {
		t.Fatal("the needles do not match the clear encodings")
	}
}
