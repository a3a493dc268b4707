package rules

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// SignalCode is one code of the covenant's list of signal codes: a signal
// carries one of them, and nothing else, so that no case detail ("vermoeden
// mishandeling") reaches the store through a code. The list names domains
// of concern the way a reference index does, never what happened.
type SignalCode struct {
	// Code is what a signal carries: 1 to 16 characters of A-Z, 0-9 and
	// "-" (e.g. "S01"), unique in the covenant.
	Code string
	// Label says in Dutch what the code stands for (e.g. "Zorg over
	// schoolgang of verzuim"): one line of at most 120 characters.
	Label string
	// Line is where the code is defined in the covenant file.
	Line int
}

// SignalCode returns the covenant's signal code code, if it lists one.
func (c *Covenant) SignalCode(code string) (SignalCode, bool) {
	for _, s := range c.SignalCodes {
		if s.Code == code {
			return s, true
		}
	}
	return SignalCode{}, false
}

type rawSignalCode struct {
	Code  string `yaml:"code"`
	Label string `yaml:"label"`
}

var signalCodePattern = regexp.MustCompile(`^[A-Z0-9-]{1,16}$`)

// signalCodes checks the covenant's signal codes and adds them.
//
// A covenant without signal codes refuses every signal: there is no list
// to take a code from, and a code that is not on a list is free text. That
// suits a covenant of care providers that records involvement only, so it
// is not a mistake in itself (vindex covenant check says what it means). It
// is a mistake when an institution that may only signal takes part (a
// school, the police): it could never report anything, so that is a load
// error, at the first such institution.
func (b *builder) signalCodes(raw []rawSignalCode) {
	if len(raw) == 0 {
		for _, inst := range b.c.Institutions {
			if SignalOnly(inst.Type) {
				b.fail(inst.Line, "institution %s: a %s may only signal, but the covenant lists no signal_codes for its signals", inst.ID, inst.Type)
				return
			}
		}
		return
	}
	for i, rs := range raw {
		field := func(f string) int { return lineOf(b.li.signalCodes, b.li.signalFields, i, f) }
		switch _, dup := b.c.SignalCode(rs.Code); {
		case !signalCodePattern.MatchString(rs.Code):
			b.fail(field("code"), "signal code %q must be 1 to 16 characters of A-Z, 0-9 and -", rs.Code)
			continue
		case dup:
			b.fail(field("code"), "signal code %s defined twice", rs.Code)
			continue
		}
		label := strings.TrimSpace(rs.Label)
		switch {
		case label == "":
			b.fail(field("code"), "signal code %s needs a label: what it stands for, in Dutch", rs.Code)
		case strings.ContainsFunc(rs.Label, notLabelText):
			b.fail(field("label"), "signal code %s: label has a control or format character (a line break, a tab): it must be one line of text", rs.Code)
		case utf8.RuneCountInString(label) > maxLabel:
			b.fail(field("label"), "signal code %s: label is longer than %d characters", rs.Code, maxLabel)
		}
		b.c.SignalCodes = append(b.c.SignalCodes, SignalCode{Code: rs.Code, Label: label, Line: lineOf(b.li.signalCodes, nil, i, "")})
	}
}
