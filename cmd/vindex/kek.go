package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
)

// kek is the open key-encryption key of a configuration.
type kek struct {
	aead  tink.AEAD
	vault *vaultkek.KEK // nil for a key file
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
	switch c.KEK {
	case "file":
		a, err := insecurelocalkek.Load(c.KEKFile, logger)
		if err != nil {
			return nil, err
		}
		return &kek{aead: a}, nil
	case "vault":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		v, err := vaultkek.Open(ctx, vaultkek.Config{
			Address: c.VaultAddr, KeyPath: c.VaultKeyPath, CACert: c.VaultCACert,
			TokenFile: c.VaultTokenFile, RoleID: c.VaultRoleID, SecretIDFile: c.VaultSecretID, SecretIDWrapped: c.VaultWrapped,
			Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		return &kek{aead: v.AEAD(), vault: v}, nil
	}
	return nil, fmt.Errorf("kek: %q is not vault or file", c.KEK)
}

// loadKeyset unwraps the configured keyset with k.
func loadKeyset(c config, k *kek) (*keyset.Handle, error) {
	h, err := keys.LoadFile(c.Keyset, k.aead, keys.AssociatedData(c.Deployment))
	switch {
	case errors.Is(err, keys.ErrNotFound):
		return nil, fmt.Errorf("%w: create one with `vindex keys init`", err)
	case err != nil:
		return nil, fmt.Errorf("unwrapping %s with the %s: %w", c.Keyset, k.describe(c), err)
	}
	return h, nil
}

// loadRefKeyset unwraps the configured reference keyset with k.
func loadRefKeyset(c config, k *kek) (*keyset.Handle, error) {
	h, err := keys.LoadFile(c.RefKeyset, k.aead, keys.RefAssociatedData(c.Deployment))
	switch {
	case errors.Is(err, keys.ErrNotFound):
		return nil, fmt.Errorf("%w: the reference keyset seals client references; create it with `vindex keys init` (it keeps an existing PRF keyset)", err)
	case err != nil:
		return nil, fmt.Errorf("unwrapping %s with the %s: %w", c.RefKeyset, k.describe(c), err)
	}
	return h, nil
}
