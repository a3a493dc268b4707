package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Sentinel errors of checkpoints.
var (
	// ErrCheckpoint reports a checkpoint whose body is not a C2SP
	// tlog-checkpoint of the expected origin.
	ErrCheckpoint = errors.New("audit: malformed checkpoint")
	// ErrSignature reports a checkpoint that lacks a valid signature of a
	// required key (the log's, or a witness's).
	ErrSignature = errors.New("audit: checkpoint not signed by a required key")
	// ErrKey reports an unusable note key.
	ErrKey = errors.New("audit: invalid key")
)

// Checkpoint is a signed statement of the tree: its size and root, under
// the log's origin.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
}

// Body returns the checkpoint's note text in the C2SP tlog-checkpoint
// format: the origin, the size in decimal and the root in standard base64,
// each on its own line.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// GenerateKey returns a new Ed25519 note key pair named name (the log's
// origin, e.g. "vindex.example.org/audit"): skey for NewSigner, to be kept
// wrapped; vkey for verifiers, to be published.
func GenerateKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err == nil {
		_, err = note.NewSigner(skey) // refuses a name a note cannot carry
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %w", ErrKey, name, err)
	}
	return skey, vkey, nil
}

// Signer signs the log's checkpoints. The log's origin is its key's name.
type Signer struct {
	s    note.Signer
	vkey string
}

// NewSigner returns a Signer for the note signer key skey (as GenerateKey
// writes it: "PRIVATE+KEY+name+hash+base64"). The key must be Ed25519.
func NewSigner(skey string) (*Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	// The key's last field is base64 of the algorithm byte (1, Ed25519)
	// and the 32-byte seed; its public half is the verifier key.
	// "PRIVATE+KEY+name+hash+key": the key's base64 may hold '+' itself.
	fields := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, fmt.Errorf("%w: not an Ed25519 note key", ErrKey)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return &Signer{s: s, vkey: vkey}, nil
}

// VerifierKey returns the log's verifier key ("name+hash+base64"), to be
// published for whoever checks its checkpoints.
func (s *Signer) VerifierKey() string { return s.vkey }

// Verifier returns the verifier of the log's own signatures.
func (s *Signer) Verifier() note.Verifier {
	v, err := note.NewVerifier(s.vkey)
	if err != nil {
		panic("audit: the signer's own verifier key: " + err.Error())
	}
	return v
}

// Origin returns the log's origin: the first line of its checkpoints.
func (s *Signer) Origin() string { return s.s.Name() }

// SignCheckpoint returns the signed checkpoint for a tree of size leaves
// with root root.
func (s *Signer) SignCheckpoint(size uint64, root Hash) ([]byte, error) {
	c := Checkpoint{Origin: s.s.Name(), Size: size, Root: root}
	b, err := note.Sign(&note.Note{Text: c.Body()}, s.s)
	if err != nil {
		return nil, fmt.Errorf("audit: signing checkpoint: %w", err)
	}
	return b, nil
}

// Cosign adds witness's signature to the checkpoint text after checking
// that it is a checkpoint of origin signed by the log (log verifies the
// log's key). The witness signs with its own key (a Signer of its own
// name). The signatures already on the checkpoint are kept. A witness that calls Cosign should
// first have checked that the tree extends the last one it cosigned.
func Cosign(text []byte, origin string, log note.Verifier, witness *Signer) ([]byte, error) {
	n, _, err := open(text, origin, log)
	if err != nil {
		return nil, err
	}
	b, err := note.Sign(n, witness.s)
	if err != nil {
		return nil, fmt.Errorf("audit: cosigning checkpoint: %w", err)
	}
	return b, nil
}

// NewVerifier returns the note verifier for the verifier key vkey (as
// GenerateKey writes it: "name+hash+base64").
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return v, nil
}

// ParseCheckpoint opens the signed checkpoint text of the log named
// origin. It requires a valid signature of every one of verifiers (at least
// one: the log's key, then any witnesses that must have cosigned);
// signatures of other keys are ignored. The body must be exactly a C2SP
// checkpoint: origin, decimal size without leading zeros, base64 root of
// 32 bytes, no extension lines.
func ParseCheckpoint(text []byte, origin string, verifiers ...note.Verifier) (Checkpoint, error) {
	_, c, err := open(text, origin, verifiers...)
	return c, err
}

func open(text []byte, origin string, verifiers ...note.Verifier) (*note.Note, Checkpoint, error) {
	if len(verifiers) == 0 {
		return nil, Checkpoint{}, fmt.Errorf("%w: no verifier given", ErrSignature)
	}
	n, err := note.Open(text, note.VerifierList(verifiers...))
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	for _, v := range verifiers {
		if !signedBy(n, v) {
			return nil, Checkpoint{}, fmt.Errorf("%w: no signature of %s", ErrSignature, v.Name())
		}
	}
	c, err := parseBody(n.Text, origin)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	return n, c, nil
}

func signedBy(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}

func parseBody(text, origin string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want 3 lines", ErrCheckpoint)
	}
	if lines[0] != origin {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, lines[0], origin)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: size %q", ErrCheckpoint, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != HashSize {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q", ErrCheckpoint, lines[2])
	}
	c := Checkpoint{Origin: origin, Size: size, Root: Hash(root)}
	if !bytes.Equal([]byte(c.Body()), []byte(text)) {
		return Checkpoint{}, fmt.Errorf("%w: not canonical", ErrCheckpoint)
	}
	return c, nil
}
