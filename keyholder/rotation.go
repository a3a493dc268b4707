package keyholder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vindex-nl/vindex/crypto/oprf"
)

// ErrRotation reports a rotation file that cannot be read: not the JSON
// object WriteRotation writes, or a key ID or ratio that is not valid.
var ErrRotation = errors.New("keyholder: rotation file")

// Rotation is what a key holder that replaces its key hands the index's
// operator: the old and new keys' IDs (oprf.KeyID) and the ratio that
// re-keys every element made under the old key to the new one, without a
// BSN. The ratio is as secret as the keys (with the old key it gives the
// new one): it is never printed or logged, and its file is for the index's
// operator only, to be deleted once the index has taken it over.
type Rotation struct {
	From, To string
	Ratio    oprf.Ratio
}

type rotationJSON struct {
	Format string `json:"format"`
	From   string `json:"from"`
	To     string `json:"to"`
	Ratio  []byte `json:"ratio"`
}

const rotationFormat = "vindex-keyholder-rotation-v1"

// MarshalJSON encodes r as {"format": "vindex-keyholder-rotation-v1",
// "from": ID, "to": ID, "ratio": base64}.
func (r Rotation) MarshalJSON() ([]byte, error) {
	b, err := r.Ratio.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRotation, err)
	}
	return json.Marshal(rotationJSON{Format: rotationFormat, From: r.From, To: r.To, Ratio: b})
}

// UnmarshalJSON decodes what MarshalJSON encodes, and refuses anything
// else (ErrRotation).
func (r *Rotation) UnmarshalJSON(b []byte) error {
	var v rotationJSON
	if err := json.Unmarshal(b, &v); err != nil || v.Format != rotationFormat {
		return fmt.Errorf("%w: not a %s object", ErrRotation, rotationFormat)
	}
	if !oprf.ValidLayerID(v.From) || !oprf.ValidLayerID(v.To) || len(v.From) != 16 || len(v.To) != 16 || v.From == v.To {
		return fmt.Errorf("%w: from and to must be two different key IDs of 16 hex digits", ErrRotation)
	}
	ratio, err := oprf.ParseRatio(v.Ratio)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotation, err)
	}
	*r = Rotation{From: v.From, To: v.To, Ratio: ratio}
	return nil
}

// NewRotation returns the rotation from key from to key to.
func NewRotation(from, to *oprf.PrivateKey) (Rotation, error) {
	ratio, err := oprf.RatioOf(from, to)
	if err != nil {
		return Rotation{}, err
	}
	return Rotation{From: oprf.KeyID(from.Public()), To: oprf.KeyID(to.Public()), Ratio: ratio}, nil
}

// WriteRotation writes r to a new file at path, readable by its owner
// only; it never replaces an existing file.
func WriteRotation(path string, r Rotation) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	// The file's name is durable once its directory is synced.
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keyholder: rotation file: %w", err)
	}
	return nil
}

// ReadRotation reads a file WriteRotation wrote. It refuses a file that
// group or others may read (the ratio is secret).
func ReadRotation(path string) (Rotation, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Rotation{}, fmt.Errorf("keyholder: rotation file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Rotation{}, fmt.Errorf("%w: %s is readable by group or others (mode %v); chmod 600 it", ErrRotation, path, fi.Mode().Perm()&fs.ModePerm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Rotation{}, fmt.Errorf("keyholder: rotation file: %w", err)
	}
	var r Rotation
	if err := json.Unmarshal(b, &r); err != nil {
		return Rotation{}, err
	}
	return r, nil
}
