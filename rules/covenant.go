package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vindex-nl/vindex/identity"
)

// Institution types a covenant may use.
const (
	TypeGGD             = "ggd"
	TypeWIJTeam         = "wij-team"
	TypeSocialTeam      = "sociaal-team"
	TypeBureauJeugdzorg = "bureau-jeugdzorg"
	TypeYouthCare       = "jeugdzorg"
	TypeYouthMental     = "jeugd-ggz"
	TypeSocialWork      = "maatschappelijk-werk"
	TypeSchool          = "school"
	TypePolice          = "politie"
	TypeChildcare       = "kinderopvang"
	TypeAttendance      = "leerplicht"
	TypeMunicipality    = "gemeente"
)

// knownTypes lists every type; signalOnly those that may only signal and so
// can never coordinate (the seeds: school, police, childcare).
var (
	knownTypes = []string{TypeGGD, TypeWIJTeam, TypeSocialTeam, TypeBureauJeugdzorg, TypeYouthCare,
		TypeYouthMental, TypeSocialWork, TypeSchool, TypePolice, TypeChildcare, TypeAttendance, TypeMunicipality}
	signalOnly = []string{TypeSchool, TypePolice, TypeChildcare, TypeAttendance}
)

// KnownTypes returns the institution types a covenant may use.
func KnownTypes() []string { return slices.Clone(knownTypes) }

// SignalOnly reports whether institutions of type t may only signal.
func SignalOnly(t string) bool { return slices.Contains(signalOnly, t) }

// Institution is one institution that takes part in the covenant.
type Institution struct {
	ID   string
	Name string
	Type string
	// MayCoordinate: the institution provides care and may be assigned
	// as coordinator. Never true for a signal-only type.
	MayCoordinate bool
	// Municipalities it serves (CBS codes); empty means all of the
	// covenant's.
	Municipalities []string
	// Email is the institution's functional mailbox, if any.
	Email string
	// ClientCertificates pins the TLS client certificates the institution's
	// systems authenticate with: "sha256:" and the lower-case hex SHA-256 of
	// the certificate's SubjectPublicKeyInfo. A pin survives certificate
	// renewal with the same key. The covenant only holds and checks the
	// pins; matching a certificate to one is authentication, httpapi's.
	ClientCertificates []string
	// RateLimits are the institution's rates per class: its own
	// rate_limits, else the covenant's, else DefaultRateLimits. Every
	// class has one.
	RateLimits RateLimits
	// Line is where the institution is defined in the covenant file.
	Line int
}

// Serves reports whether the institution serves municipality m.
func (i Institution) Serves(m string) bool {
	return len(i.Municipalities) == 0 || m == "" || slices.Contains(i.Municipalities, m)
}

// DefaultAuditRetentionYears is how long the audit log is kept when the
// covenant does not say.
const DefaultAuditRetentionYears = 5

// Limits are the covenant's lifecycle limits. A covenant may be stricter
// than the law (Jeugdwet art. 7.1.4.5), never looser.
type Limits struct {
	// MaxYears a registration lasts at most; default and legal maximum 2.
	MaxYears int
	// EndAge at which a youth's registrations end (on the first day of
	// the month of that birthday); default and legal maximum 23.
	EndAge int
	// RetentionDays an ended registration is kept in the archive before
	// it is destroyed; default and legal maximum 1825 (five years: the
	// covenant's archive_years times 365, or its retention_days). Never
	// past the youth's 23rd birthday, whatever the term.
	RetentionDays int
	// AuditRetentionYears the audit log's entries are kept (the
	// covenant's limits.audit_retention_years, 1 to 20; default 5). The
	// law's exact term for a reference index's access log was not found:
	// the covenant sets it.
	AuditRetentionYears int
	// LiberationDay says in which years 5 May is a day off on the
	// working-day calendar (the covenant's limits.liberation_day:
	// lustrum, the default, always or never). See Calendar.
	LiberationDay LiberationDay
}

// Covenant is a region's covenant: its institutions, coordinator rules,
// limits and signal codes. Load one with Load or LoadFile; it is read-only
// afterwards and safe for concurrent use.
type Covenant struct {
	Name           string
	Region         string
	Municipalities []string
	Institutions   []Institution
	Rules          []Rule
	Limits         Limits
	// RateLimits are the covenant's rates per class for institutions
	// that give none of their own: its rate_limits, else
	// DefaultRateLimits. Every class has one.
	RateLimits RateLimits
	// SignalCodes are the codes a signal may carry, in file order (see
	// SignalCode). A covenant without any refuses every signal.
	SignalCodes []SignalCode

	// The duty to inform. InformWithinDays is how many days an
	// institution has to inform the parents or the youth after it
	// recorded that it will do so later: then it is reminded once (an
	// inform-due event); default 14. RequireInformRecord: a report must
	// say whether the institution informed them (or why not), else it is
	// refused; default false.
	InformWithinDays    int
	RequireInformRecord bool

	// Family is the family section: address matching and the excluded
	// addresses (see Family).
	Family Family
	// Coordination is the coordinator's term to accept (the covenant's
	// coordination section); Escalation the escalation ladder (its
	// escalation section, else DefaultEscalation). See coordination.go.
	Coordination Coordination
	Escalation   []EscalationStep

	byID map[string]int
}

// DefaultInformWithinDays is Covenant.InformWithinDays when the covenant
// gives none.
const DefaultInformWithinDays = 14

// pinPattern is the form of a client certificate pin; the loader checks
// it, and httpapi matches certificates to pins.
var pinPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Institution returns the institution with id.
func (c *Covenant) Institution(id string) (Institution, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Institution{}, false
	}
	return c.Institutions[i], true
}

// InstitutionName returns the display name of institution id, or id itself
// if the covenant does not name it.
func (c *Covenant) InstitutionName(id string) string {
	if inst, ok := c.Institution(id); ok && inst.Name != "" {
		return inst.Name
	}
	return id
}

// RuleLabel returns the label of the rule named name, or name itself if the
// rule has no label or the covenant has no such rule.
func (c *Covenant) RuleLabel(name string) string {
	for _, r := range c.Rules {
		if r.Name == name && r.Label != "" {
			return r.Label
		}
	}
	return name
}

// Rule is one coordinator rule: when all of its conditions hold, it assigns
// the earliest-registered eligible institution its assignment selects.
type Rule struct {
	Name string
	// Label says what the rule does in plain words, for people: mails
	// name the rule by it (e.g. "Jeugdbescherming heeft
	// doorzettingsmacht"), in the covenant's language, whatever the
	// mail's. Empty if the covenant gives none; see Covenant.RuleLabel.
	Label string
	// FinalSay marks a rule whose institution takes the case over from a
	// coordinator assigned earlier by another rule (doorzettingsmacht).
	// Other rules only assign when there is no coordinator.
	FinalSay bool
	When     Conditions
	// Assign selects the institutions the rule may assign.
	Assign Assignment
	Line   int
}

// Conditions of a rule. Empty conditions always hold. Conditions look only at
// the involvements of eligible (care-providing) institutions, so a signal
// never changes which rule fires.
type Conditions struct {
	// Involves holds if an eligible institution of one of these types is
	// involved.
	Involves []string
	// Sector holds if an eligible institution's involvement is in one of
	// these sectors.
	Sector []Sector
	// AgeMin and AgeMax (inclusive) bound the youth's age; nil = no bound.
	// An unknown age fails a bounded condition.
	AgeMin, AgeMax *int
	// Municipality holds if the youth's municipality is one of these.
	Municipality []string
	// MinInvolved holds if at least this many eligible institutions are
	// involved.
	MinInvolved int
}

// Assignment selects whom a rule assigns: an institution type, a named
// institution, or any eligible institution; optionally only one whose own
// involvement is in one of Sector.
type Assignment struct {
	Type        string
	Institution string
	Any         bool
	Sector      []Sector
}

// LoadError is an error at one place in a covenant file.
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ErrCovenant is wrapped by every load error, for errors.Is.
var ErrCovenant = errors.New("rules: invalid covenant")

// Is makes every LoadError match ErrCovenant.
func (e *LoadError) Is(target error) bool { return target == ErrCovenant }

// The file format (see examples/covenant-groningen.yaml).
type rawCovenant struct {
	Name           string           `yaml:"name"`
	Region         string           `yaml:"region"`
	Municipalities []string         `yaml:"municipalities"`
	Limits         *rawLimits       `yaml:"limits"`
	RateLimits     *rawRateLimits   `yaml:"rate_limits"`
	Institutions   []rawInstitution `yaml:"institutions"`
	Rules          []rawRule        `yaml:"rules"`
	SignalCodes    []rawSignalCode  `yaml:"signal_codes"`

	InformWithinDays    *int `yaml:"inform_within_days"`
	RequireInformRecord bool `yaml:"require_inform_record"`

	Family       *rawFamily          `yaml:"family"`
	Coordination *rawCoordination    `yaml:"coordination"`
	Escalation   []rawEscalationStep `yaml:"escalation"`
}

type rawLimits struct {
	MaxYears      *int    `yaml:"max_years"`
	EndAge        *int    `yaml:"end_age"`
	ArchiveYears  *int    `yaml:"archive_years"`
	RetentionDays *int    `yaml:"retention_days"`
	AuditYears    *int    `yaml:"audit_retention_years"`
	Liberation    *string `yaml:"liberation_day"`
}

type rawInstitution struct {
	ID             string         `yaml:"id"`
	Name           string         `yaml:"name"`
	Type           string         `yaml:"type"`
	MayCoordinate  bool           `yaml:"may_coordinate"`
	Municipalities []string       `yaml:"municipalities"`
	Email          string         `yaml:"email"`
	ClientCerts    []string       `yaml:"client_certificates"`
	RateLimits     *rawRateLimits `yaml:"rate_limits"`
}

type rawRule struct {
	Name     string        `yaml:"name"`
	Label    *string       `yaml:"label"`
	FinalSay bool          `yaml:"final_say"`
	When     rawConditions `yaml:"when"`
	Assign   rawAssign     `yaml:"assign"`
}

type rawConditions struct {
	Involves     []string `yaml:"involves"`
	Sector       []string `yaml:"sector"`
	Age          *rawAge  `yaml:"age"`
	Municipality []string `yaml:"municipality"`
	MinInvolved  int      `yaml:"min_involved"`
}

type rawAge struct {
	Min *int `yaml:"min"`
	Max *int `yaml:"max"`
}

type rawAssign struct {
	Type        string   `yaml:"type"`
	Institution string   `yaml:"institution"`
	Any         bool     `yaml:"any"`
	Sector      []string `yaml:"sector"`
}

// LoadFile loads the covenant at path.
func LoadFile(path string) (*Covenant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

var yamlLine = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)

// maxCovenantSize bounds what Load reads.
const maxCovenantSize = 4 << 20

// Load reads a covenant in YAML from r; filename is used in errors, which
// are *LoadError values ("file:line: message"), joined when there are
// several. Unknown keys are errors.
func Load(r io.Reader, filename string) (*Covenant, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCovenantSize+1))
	if err != nil {
		return nil, fmt.Errorf("rules: read %s: %w", filename, err)
	}
	if len(data) > maxCovenantSize {
		return nil, &LoadError{File: filename, Msg: "covenant file larger than 4 MiB"}
	}
	var raw rawCovenant
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LoadError{File: filename, Msg: "empty covenant"}
		}
		return nil, yamlErrors(filename, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(filename, err)
	}
	lines := findLines(&root)
	return build(filename, &raw, lines)
}

// yamlErrors turns a YAML error into LoadErrors with lines.
func yamlErrors(file string, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		le := &LoadError{File: file, Msg: m}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			le.Line, _ = strconv.Atoi(sm[1])
			le.Msg = sm[2]
		}
		le.Msg = strings.ReplaceAll(le.Msg, "rules.raw", "")
		errs = append(errs, le)
	}
	return errors.Join(errs...)
}

type lineIndex struct {
	root, limits     int
	limitFields      map[string]int // keys under limits
	informWithin     int
	institutions     []int // line of each institution item
	instFields       []map[string]int
	rules            []int
	ruleFields       []map[string]int
	municipalityLine int
	rateLimits       map[string]int // keys under rate_limits
	signalCodes      []int          // line of each signal code item
	signalFields     []map[string]int
	family           int            // line of the family section
	familyFields     map[string]int // keys under family
	coordination     map[string]int // keys under coordination ("" the section's own line)
	escalation       int            // the escalation key's line
	escalationSteps  []int          // line of each escalation step
	escalationFields []map[string]int
}

func findLines(root *yaml.Node) lineIndex {
	li := lineIndex{root: 1}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return li
	}
	m := root.Content[0]
	li.root = m.Line
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch k.Value {
		case "limits":
			li.limits = v.Line
			li.limitFields = fieldLines(v)
		case "inform_within_days":
			li.informWithin = k.Line
		case "rate_limits":
			li.rateLimits = fieldLines(v)
			li.rateLimits[""] = k.Line
		case "municipalities":
			li.municipalityLine = v.Line
		case "institutions":
			for _, item := range v.Content {
				li.institutions = append(li.institutions, item.Line)
				li.instFields = append(li.instFields, fieldLines(item))
			}
		case "rules":
			for _, item := range v.Content {
				li.rules = append(li.rules, item.Line)
				li.ruleFields = append(li.ruleFields, fieldLines(item))
			}
		case "family":
			li.familyLines(k, v)
		case "signal_codes":
			for _, item := range v.Content {
				li.signalCodes = append(li.signalCodes, item.Line)
				li.signalFields = append(li.signalFields, fieldLines(item))
			}
		case "coordination":
			li.coordination = fieldLines(v)
			li.coordination[""] = k.Line
		case "escalation":
			li.escalation = k.Line
			for _, item := range v.Content {
				li.escalationSteps = append(li.escalationSteps, item.Line)
				li.escalationFields = append(li.escalationFields, fieldLines(item))
			}
		}
	}
	return li
}

// fieldLines maps the keys of a mapping (and of its nested mappings, as
// "outer.inner") to their lines.
func fieldLines(n *yaml.Node) map[string]int {
	out := map[string]int{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			out[k] = n.Content[i].Line
			walk(k+".", n.Content[i+1])
		}
	}
	walk("", n)
	return out
}

func lineOf(lines []int, fields []map[string]int, i int, field string) int {
	if i < len(fields) {
		if l, ok := fields[i][field]; ok {
			return l
		}
	}
	if i < len(lines) {
		return lines[i]
	}
	return 0
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// builder turns a decoded covenant file into a Covenant, collecting every
// load error on the way (in file order, so that a user sees them all at
// once).
type builder struct {
	file  string
	li    lineIndex
	c     *Covenant
	byPin map[string]int // client certificate pin -> index of its institution
	errs  []error
}

func (b *builder) fail(line int, format string, args ...any) {
	b.errs = append(b.errs, &LoadError{File: b.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// build checks raw and makes the Covenant: the name, the municipalities,
// the limits, the institutions, then the rules.
func build(file string, raw *rawCovenant, li lineIndex) (*Covenant, error) {
	b := &builder{file: file, li: li, byPin: map[string]int{},
		c: &Covenant{Name: raw.Name, Region: raw.Region, byID: map[string]int{}}}
	if raw.Name == "" {
		b.fail(li.root, "covenant needs a name")
	}
	b.municipalities(raw.Municipalities)
	b.limits(raw.Limits)
	b.c.RateLimits = b.rateLimits(DefaultRateLimits(), raw.RateLimits, "rate_limits", func(key string) int {
		if l, ok := b.li.rateLimits[key]; ok {
			return l
		}
		return b.li.rateLimits[""]
	})
	if len(raw.Institutions) == 0 {
		b.fail(li.root, "covenant lists no institutions")
	}
	for i, ri := range raw.Institutions {
		b.institution(i, ri)
	}
	names := map[string]bool{}
	for i, rr := range raw.Rules {
		b.rule(i, rr, names)
	}
	if len(raw.Rules) == 0 {
		b.fail(li.root, "covenant has no coordinator rules")
	}
	b.signalCodes(raw.SignalCodes)
	b.inform(raw)
	b.family(raw.Family)
	b.coordination(raw.Coordination)
	b.escalation(raw.Escalation)
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return b.c, nil
}

// municipalities checks the covenant's municipalities: CBS codes, each once.
func (b *builder) municipalities(ms []string) {
	for _, m := range ms {
		code, err := identity.ParseMunicipality(m)
		if err != nil || string(code) != m {
			b.fail(b.li.municipalityLine, "municipality %q is not a CBS code such as GM0014", m)
			continue
		}
		if slices.Contains(b.c.Municipalities, m) {
			b.fail(b.li.municipalityLine, "municipality %s listed twice", m)
			continue
		}
		b.c.Municipalities = append(b.c.Municipalities, m)
	}
}

// limits sets the lifecycle limits: the law's, or stricter ones the file
// gives.
func (b *builder) limits(l *rawLimits) {
	b.c.Limits = Limits{MaxYears: 2, EndAge: 23, RetentionDays: 5 * 365, AuditRetentionYears: DefaultAuditRetentionYears, LiberationDay: LiberationLustrum}
	if l == nil {
		return
	}
	if v := l.Liberation; v != nil {
		switch lib := LiberationDay(*v); lib {
		case LiberationLustrum, LiberationAlways, LiberationNever:
			b.c.Limits.LiberationDay = lib
		default:
			line := b.li.limitFields["liberation_day"]
			if line == 0 {
				line = b.li.limits
			}
			b.fail(line, "limits.liberation_day must be lustrum (a day off every fifth year, the default), always or never")
		}
	}
	b.limit(l.AuditYears, 1, 20, &b.c.Limits.AuditRetentionYears, "limits.audit_retention_years must be from 1 to 20")
	b.limit(l.MaxYears, 1, 2, &b.c.Limits.MaxYears, "limits.max_years must be 1 or 2: the law (Jeugdwet art. 7.1.4.5) allows at most 2")
	b.limit(l.EndAge, 12, 23, &b.c.Limits.EndAge, "limits.end_age must be from 12 to 23: the law allows at most 23")
	if l.ArchiveYears != nil && l.RetentionDays != nil {
		b.fail(b.li.limits, "limits: give archive_years or retention_days, not both")
		return
	}
	if y := l.ArchiveYears; y != nil {
		days := *y * 365
		b.limit(&days, 365, 5*365, &b.c.Limits.RetentionDays, "limits.archive_years must be from 1 to 5: the archive is kept at most five years")
	}
	b.limit(l.RetentionDays, 1, 5*365, &b.c.Limits.RetentionDays, "limits.retention_days must be from 1 to 1825: the archive is kept at most five years")
}

// inform sets the duty to inform's settings.
func (b *builder) inform(raw *rawCovenant) {
	b.c.InformWithinDays = DefaultInformWithinDays
	b.c.RequireInformRecord = raw.RequireInformRecord
	if v := raw.InformWithinDays; v != nil {
		if *v < 1 || *v > 365 {
			b.fail(b.li.informWithin, "inform_within_days must be from 1 to 365")
			return
		}
		b.c.InformWithinDays = *v
	}
}

// limit sets *dst to *v if v is given and within [lo, hi]; outside, it
// fails with msg.
func (b *builder) limit(v *int, lo, hi int, dst *int, msg string) {
	switch {
	case v == nil:
	case *v < lo || *v > hi:
		b.fail(b.li.limits, "%s", msg)
	default:
		*dst = *v
	}
}

// institution checks the i-th institution and adds it if its ID is sound.
func (b *builder) institution(i int, ri rawInstitution) {
	line := lineOf(b.li.institutions, nil, i, "")
	field := func(f string) int { return lineOf(b.li.institutions, b.li.instFields, i, f) }
	c := b.c
	inst := Institution{ID: ri.ID, Name: ri.Name, Type: ri.Type, MayCoordinate: ri.MayCoordinate, Email: ri.Email, Line: line}
	ok := true
	switch {
	case !idPattern.MatchString(ri.ID):
		b.fail(field("id"), "institution id %q must be 1 to 63 characters of a-z, 0-9 and -", ri.ID)
		ok = false
	case c.byID[ri.ID] != 0 || (len(c.Institutions) > 0 && c.Institutions[0].ID == ri.ID):
		b.fail(field("id"), "institution %s defined twice", ri.ID)
		ok = false
	}
	if ri.Name == "" {
		b.fail(line, "institution %s needs a name", ri.ID)
	}
	b.institutionType(ri, field)
	b.institutionMunicipalities(ri, field)
	inst.Municipalities = slices.Clone(ri.Municipalities)
	if ri.Email != "" && (!strings.Contains(ri.Email, "@") || strings.ContainsAny(ri.Email, " \t\r\n<>")) {
		b.fail(field("email"), "institution %s: email %q is not an e-mail address", ri.ID, ri.Email)
	}
	b.pins(ri, field, ok)
	inst.ClientCertificates = slices.Clone(ri.ClientCerts)
	inst.RateLimits = b.rateLimits(c.RateLimits, ri.RateLimits, "institution "+ri.ID+": rate_limits", func(key string) int {
		return field("rate_limits." + key)
	})
	if ok {
		c.byID[ri.ID] = len(c.Institutions)
		c.Institutions = append(c.Institutions, inst)
	}
}

// institutionType checks an institution's type and whether it may
// coordinate.
func (b *builder) institutionType(ri rawInstitution, field func(string) int) {
	switch {
	case !slices.Contains(knownTypes, ri.Type):
		b.fail(field("type"), "institution %s: unknown type %q (known: %s)", ri.ID, ri.Type, strings.Join(knownTypes, ", "))
	case ri.MayCoordinate && SignalOnly(ri.Type):
		b.fail(field("may_coordinate"), "institution %s: a %s may only signal and can never coordinate", ri.ID, ri.Type)
	case ri.MayCoordinate && ri.Type == TypeMunicipality:
		b.fail(field("may_coordinate"), "institution %s: a municipality does not provide care and cannot coordinate", ri.ID)
	}
}

// institutionMunicipalities checks that an institution serves only the
// covenant's municipalities, by their CBS codes.
func (b *builder) institutionMunicipalities(ri rawInstitution, field func(string) int) {
	for _, m := range ri.Municipalities {
		if len(b.c.Municipalities) > 0 && !slices.Contains(b.c.Municipalities, m) {
			b.fail(field("municipalities"), "institution %s: municipality %q is not one of the covenant's", ri.ID, m)
		} else if code, err := identity.ParseMunicipality(m); err != nil || string(code) != m {
			b.fail(field("municipalities"), "institution %s: municipality %q is not a CBS code such as GM0014", ri.ID, m)
		}
	}
}

// pins checks an institution's client certificate pins: their form, and
// that none is listed twice or is another institution's. The pins of an
// institution that is added (ok) are remembered for that check.
func (b *builder) pins(ri rawInstitution, field func(string) int, ok bool) {
	for _, pin := range ri.ClientCerts {
		switch other, dup := b.byPin[pin]; {
		case !pinPattern.MatchString(pin):
			b.fail(field("client_certificates"), "institution %s: client certificate pin %q must be sha256: and 64 lower-case hex digits", ri.ID, pin)
		case dup && other == len(b.c.Institutions):
			b.fail(field("client_certificates"), "institution %s: client certificate pin listed twice", ri.ID)
		case dup:
			b.fail(field("client_certificates"), "institution %s: client certificate pin is already %s's", ri.ID, b.c.Institutions[other].ID)
		case ok:
			b.byPin[pin] = len(b.c.Institutions)
		}
	}
}

// rule checks the i-th rule, its conditions and its assignment, and adds
// it.
func (b *builder) rule(i int, rr rawRule, names map[string]bool) {
	line := lineOf(b.li.rules, nil, i, "")
	field := func(f string) int { return lineOf(b.li.rules, b.li.ruleFields, i, f) }
	r := Rule{Name: rr.Name, FinalSay: rr.FinalSay, Line: line}
	switch {
	case !idPattern.MatchString(rr.Name):
		b.fail(field("name"), "rule name %q must be 1 to 63 characters of a-z, 0-9 and -", rr.Name)
	case names[rr.Name]:
		b.fail(field("name"), "rule %s defined twice", rr.Name)
	case rr.Name == RuleHandover || rr.Name == RuleEscalationDecision:
		b.fail(field("name"), "rule name %s is reserved: vindex records a hand-over and an alderman's decision under it", rr.Name)
	}
	names[rr.Name] = true
	if rr.Label != nil {
		r.Label = b.label(rr.Name, *rr.Label, field("label"))
	}
	r.When = b.conditions(rr.Name, rr.When, field)
	r.Assign = b.assignment(rr.Name, rr.Assign, field)
	b.c.Rules = append(b.c.Rules, r)
}

// maxLabel is the most characters a rule's label may have.
const maxLabel = 120

// notLabelText reports whether r may not stand in a label, which mails
// quote: a control character, a format character (bidi overrides,
// zero-width characters) or a line or paragraph separator.
func notLabelText(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// label checks a rule's label: some words on one line, at most maxLabel
// characters.
func (b *builder) label(rule, l string, line int) string {
	switch {
	case strings.TrimSpace(l) == "":
		b.fail(line, "rule %s: label is empty (leave it out to name the rule by its name)", rule)
	case strings.ContainsFunc(l, notLabelText):
		b.fail(line, "rule %s: label has a control or format character (a line break, a tab): it must be one line of text", rule)
	case utf8.RuneCountInString(l) > maxLabel:
		b.fail(line, "rule %s: label is longer than %d characters", rule, maxLabel)
	}
	return strings.TrimSpace(l)
}

// conditions checks a rule's when.
func (b *builder) conditions(rule string, w rawConditions, field func(string) int) Conditions {
	var out Conditions
	for _, t := range w.Involves {
		if !slices.Contains(knownTypes, t) {
			b.fail(field("when.involves"), "rule %s: unknown institution type %q", rule, t)
		} else if SignalOnly(t) {
			b.fail(field("when.involves"), "rule %s: a %s only signals, and signals never steer the decision", rule, t)
		}
	}
	out.Involves = w.Involves
	out.Sector = sectors(w.Sector, func(s string) { b.fail(field("when.sector"), "rule %s: unknown sector %q", rule, s) })
	if w.Age != nil {
		b.age(rule, w.Age, field)
		out.AgeMin, out.AgeMax = w.Age.Min, w.Age.Max
	}
	for _, m := range w.Municipality {
		if len(b.c.Municipalities) > 0 && !slices.Contains(b.c.Municipalities, m) {
			b.fail(field("when.municipality"), "rule %s: municipality %q is not one of the covenant's", rule, m)
		}
	}
	out.Municipality = w.Municipality
	if w.MinInvolved < 0 {
		b.fail(field("when.min_involved"), "rule %s: min_involved must not be negative", rule)
	}
	out.MinInvolved = w.MinInvolved
	return out
}

// age checks a rule's age bounds.
func (b *builder) age(rule string, a *rawAge, field func(string) int) {
	if a.Min == nil && a.Max == nil {
		b.fail(field("when.age"), "rule %s: age needs min or max", rule)
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		b.fail(field("when.age"), "rule %s: age min %d is above max %d", rule, *a.Min, *a.Max)
	}
	for _, v := range []*int{a.Min, a.Max} {
		if v != nil && (*v < 0 || *v > 23) {
			b.fail(field("when.age"), "rule %s: age bounds must be from 0 to 23", rule)
		}
	}
}

// assignment checks whom a rule assigns: exactly one of a type, an
// institution or any, and only what may coordinate.
func (b *builder) assignment(rule string, a rawAssign, field func(string) int) Assignment {
	n := 0
	for _, given := range []bool{a.Type != "", a.Institution != "", a.Any} {
		if given {
			n++
		}
	}
	if n != 1 {
		b.fail(field("assign"), "rule %s: assign needs exactly one of type, institution or any", rule)
	}
	if a.Type != "" {
		if !slices.Contains(knownTypes, a.Type) {
			b.fail(field("assign.type"), "rule %s: unknown institution type %q", rule, a.Type)
		} else if SignalOnly(a.Type) || a.Type == TypeMunicipality {
			b.fail(field("assign.type"), "rule %s: a %s can never coordinate", rule, a.Type)
		}
	}
	if a.Institution != "" {
		if inst, ok := b.c.Institution(a.Institution); !ok {
			b.fail(field("assign.institution"), "rule %s: unknown institution %q", rule, a.Institution)
		} else if !inst.MayCoordinate {
			b.fail(field("assign.institution"), "rule %s: institution %s may not coordinate", rule, a.Institution)
		}
	}
	return Assignment{Type: a.Type, Institution: a.Institution, Any: a.Any,
		Sector: sectors(a.Sector, func(s string) { b.fail(field("assign.sector"), "rule %s: unknown sector %q", rule, s) })}
}

func sectors(in []string, bad func(string)) []Sector {
	var out []Sector
	for _, s := range in {
		switch Sector(s) {
		case SectorChildProtection, SectorYouthProbation:
			out = append(out, Sector(s))
		default:
			bad(s)
		}
	}
	return out
}
