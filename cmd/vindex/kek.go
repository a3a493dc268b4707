package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// kek is the open key-encryption key of a configuration.
type kek struct {
	aead  tink.AEAD
	vault *vaultkek.KEK // nil for a key file
	// metrics count the Vault token's renewals (at zero for a key file).
	metrics *vaultkek.Metrics
}

func (k *kek) Close() {
	if k.vault != nil {
		k.vault.Close()
	}
}

// describe names where the key is, for messages.
func (k *kek) describe(c config) string {
	if k.vault != nil {
		return "Vault " + k.vault.Address() + " " + k.vault.KeyPath()
	}
	return "development key file " + c.KEKFile
}

// openKEK opens the configured key-encryption key: Vault transit, or a
// development key file. With Vault, it fails at once, naming the address,
// the path and the missing capability, when Vault is unreachable, sealed or
// refuses.
func openKEK(c config, logger *slog.Logger) (*kek, error) {
	if err := c.validateKEK(); err != nil {
		return nil, err
	}
	metrics := vaultkek.NewMetrics()
	switch c.KEK {
	case "file":
		a, err := insecurelocalkek.Load(c.KEKFile, logger)
		if err != nil {
			return nil, err
		}
		return &kek{aead: a, metrics: metrics}, nil
	case "vault":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		v, err := vaultkek.Open(ctx, vaultkek.Config{
			Address: c.VaultAddr, KeyPath: c.VaultKeyPath, CACert: c.VaultCACert,
			TokenFile: c.VaultTokenFile, RoleID: c.VaultRoleID, SecretIDFile: c.VaultSecretID, SecretIDWrapped: c.VaultWrapped,
			Logger: logger, Metrics: metrics,
		})
		if err != nil {
			return nil, err
		}
		return &kek{aead: v.AEAD(), vault: v, metrics: metrics}, nil
	}
	return nil, fmt.Errorf("kek: %q is not vault or file", c.KEK)
}

// keysetFile is one of vindex's two wrapped keysets: the PRF keyset and
// the reference keyset.
type keysetFile struct {
	what   string // "keyset", "reference keyset"
	path   string
	ad     []byte
	create func() (*keyset.Handle, error)
	rotate func(*keyset.Handle) (*keyset.Handle, uint32, error)
	// use counts, per key ID, what still depends on a key (from the
	// store); using says what it counts, for messages.
	use   func(store.KeyUse) map[uint32]int64
	using string
	// missing is added to the error when the file does not exist.
	missing string
}

func keysetFiles(c config) (prf, refs keysetFile) {
	prf = keysetFile{what: "keyset", path: c.Keyset, ad: keys.AssociatedData(c.Deployment),
		create: keys.Create, rotate: keys.Rotate, use: store.KeyUse.LiveByKey, using: "live registrations",
		missing: "create one with `vindex keys init`"}
	refs = keysetFile{what: "reference keyset", path: c.RefKeyset, ad: keys.RefAssociatedData(c.Deployment),
		create: keys.CreateRefKeyset, rotate: keys.RotateRefKeyset, use: store.KeyUse.RefsByKey, using: "stored client references",
		missing: "the reference keyset seals client references; create it with `vindex keys init` (it keeps an existing PRF keyset)"}
	return prf, refs
}

// load unwraps the keyset with k.
func (f keysetFile) load(c config, k *kek) (*keyset.Handle, error) {
	h, err := keys.LoadFile(f.path, k.aead, f.ad)
	switch {
	case errors.Is(err, keys.ErrNotFound):
		return nil, fmt.Errorf("%w: %s", err, f.missing)
	case err != nil:
		return nil, fmt.Errorf("unwrapping %s with the %s: %w", f.path, k.describe(c), err)
	}
	return h, nil
}

// make creates the keyset and writes it wrapped with k.
func (f keysetFile) make(k *kek) error {
	h, err := f.create()
	if err != nil {
		return err
	}
	return keys.SaveFile(f.path, h, k.aead, f.ad)
}

// openedKeys are the keys serve and import work with, unwrapped.
type openedKeys struct {
	ps   *pseudonym.Pseudonymiser
	refs *clientref.Sealer
	// status lists each keyset's keys (for the audit log's key entries).
	prfStatus, refStatus []keys.KeyInfo
	// blind is set in a blind deployment, whose key holders' layer is
	// layer (blind-layer; the zero Layer before any key holder rotation).
	blind bool
	layer matcher.Layer
}

// openKeysets unwraps both keysets with k: the pseudonymiser and the
// client-reference sealer that serve and import work with.
func openKeysets(c config, k *kek) (openedKeys, error) {
	prf, refs := keysetFiles(c)
	h, err := prf.load(c, k)
	if err != nil {
		return openedKeys{}, err
	}
	ps, err := pseudonym.New(h)
	if err != nil {
		return openedKeys{}, fmt.Errorf("%s: %w", prf.path, err)
	}
	rh, err := refs.load(c, k)
	if err != nil {
		return openedKeys{}, err
	}
	sealer, err := clientref.New(rh)
	if err != nil {
		return openedKeys{}, fmt.Errorf("%s: %w", refs.path, err)
	}
	o := openedKeys{ps: ps, refs: sealer}
	if o.prfStatus, err = keys.Status(h); err != nil {
		return openedKeys{}, err
	}
	if o.refStatus, err = keys.Status(rh); err != nil {
		return openedKeys{}, err
	}
	mode, err := readPseudonyms(c)
	if err != nil {
		return openedKeys{}, err
	}
	if o.blind = mode == modeBlind; o.blind {
		if o.layer, err = loadLayer(c, k); err != nil {
			return openedKeys{}, err
		}
	}
	return o, nil
}
