package letters

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vindex-nl/vindex/matcher"
)

// accessesData is the access letter's section on who accessed the youth:
// one row per day, institution, verb and outcome, with how many times.
type accessesData struct {
	// Head is the row of column names.
	Head accessLine
	Rows []accessLine
	// Cut is the number of accesses listed when there are more; "" if
	// the list is whole.
	Cut string
}

// accessRow is one row of the table of accesses.
type accessRow struct {
	Date, Institution, What, Outcome string
}

// accessLine is a row with the columns' widths (the widest value of
// each), for the text form.
type accessLine struct {
	accessRow
	W *accessRow
}

// newAccesses groups a's accesses into rows, in the order they were
// answered: the accesses of one day by one institution with one verb and
// outcome are one row, with how many times.
func newAccesses(a matcher.Access) accessesData {
	var rows []accessRow
	var counts []int
	for _, x := range a.Accesses {
		r := accessRow{Date: day(x.On), Institution: x.Institution, What: verbNames[x.Verb.String()], Outcome: outcomeName(x.Outcome)}
		switch {
		case x.Name != "":
			r.Institution = x.Name
		case x.Institution == "" || x.Institution == matcher.Operator.Institution:
			r.Institution = "de beheerder van de verwijsindex"
		}
		if r.What == "" {
			r.What = x.Verb.String()
		}
		if n := len(rows); n > 0 && rows[n-1] == r {
			counts[n-1]++
			continue
		}
		rows, counts = append(rows, r), append(counts, 1)
	}
	w := &accessRow{}
	d := accessesData{Head: accessLine{accessRow{Date: "Datum", Institution: "Instelling", What: "Wat", Outcome: "Uitkomst"}, w}}
	*w = d.Head.accessRow
	for i, r := range rows {
		if counts[i] > 1 {
			r.What += " (" + strconv.Itoa(counts[i]) + " keer)"
		}
		*w = accessRow{Date: wider(w.Date, r.Date), Institution: wider(w.Institution, r.Institution),
			What: wider(w.What, r.What), Outcome: wider(w.Outcome, r.Outcome)}
		d.Rows = append(d.Rows, accessLine{r, w})
	}
	if a.AccessesCut {
		d.Cut = strconv.Itoa(len(a.Accesses))
	}
	return d
}

// wider returns the longer of a and b, in characters.
func wider(a, b string) string {
	if utf8.RuneCountInString(b) > utf8.RuneCountInString(a) {
		return b
	}
	return a
}

// pad writes s padded with spaces to the width of like.
func pad(s, like string) string {
	return s + strings.Repeat(" ", max(0, utf8.RuneCountInString(like)-utf8.RuneCountInString(s)))
}

// verbNames say in plain Dutch what an institution did, by the verb's
// name (store.AuditVerb's String).
var verbNames = map[string]string{
	"register":       "registratie gemeld",
	"refresh":        "registratie opnieuw gemeld",
	"lookup":         "opgezocht wie betrokken is",
	"end":            "registratie beëindigd",
	"close":          "zaak afgesloten",
	"remove":         "registratie verwijderd",
	"death":          "overlijden vastgelegd",
	"objection":      "bezwaar uitgevoerd",
	"subject-access": "inzage gevraagd",
	"events":         "berichten gelezen",
	"inform":         "informeren vastgelegd",
	"letter":         "informatiebrief gemaakt",
	"key-init":       "sleutelbeheer",
	"key-rotate":     "sleutelbeheer",
	"key-retire":     "sleutelbeheer",
	"key-rewrap":     "sleutelbeheer",
	"expire":         "termijn verstreken",
	"audit-extract":  "raadplegingen opgevraagd",
	"gap":            "logboek hersteld na storing",
	"audit-cut":      "oude logboekregels vernietigd",
	"coordinate":     "zorgcoördinatie aanvaard, geweigerd of overgedragen",
	"escalate":       "escalatiestap vastgelegd",
}

// outcomeName says in plain Dutch how a call ended.
func outcomeName(code string) string {
	switch code {
	case "ok":
		return "uitgevoerd"
	case "not_involved":
		return "geweigerd: niet betrokken"
	case "forbidden":
		return "geweigerd: geen toegang"
	}
	return "niet uitgevoerd (" + code + ")"
}
