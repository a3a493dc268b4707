package main

// vindex keyholder rotate: the key holder replaces its key without any
// BSN. rotate --rotation-out makes the next key beside the current one and
// the rotation (keyholder.Rotation: the ratio k'·k⁻¹) for the index's
// operator; rotate --finish, once the index has taken it, renames the next
// key over the current one.
//
// No step leaves a state in which a crash loses the current key: rotate
// writes the next key's files atomically (the wrapped key linked into
// place, so that of two rotates at once one fails) and the rotation file
// last, and removes the next key again if the rotation cannot be written;
// the current key is untouched until --finish. --finish unwraps the next
// key before it touches anything, and its renames are each atomic, in an
// order that a second --finish completes.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/keyholder"
)

// keyholderRotate runs `vindex keyholder rotate`: --rotation-out or
// --finish.
func keyholderRotate(args []string, stdout, stderr io.Writer) error {
	c, rest, err := parseKeyholder("rotate", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return flagError{cmd: "keyholder rotate", err: fmt.Errorf("unexpected argument %q", rest[0])}
	}
	if c.Finish {
		return keyholderFinish(c, stdout, stderr)
	}
	if err := nextKeyWaits(c); err != nil {
		return err
	}
	if exists(c.RotationOut) {
		return fmt.Errorf("%s exists: a rotation file is never replaced; name a new one (and delete an old one once its rotation is done or abandoned)", c.RotationOut)
	}
	if !exists(c.Key) {
		return fmt.Errorf("no key at %s: `vindex keyholder init` makes it; there is nothing to rotate", c.Key)
	}
	k, err := openKeyholderKEK(c, newLogger(stderr, "info"), false)
	if err != nil {
		return err
	}
	defer k.Close()
	current, err := loadKeyholderKey(c, k)
	if err != nil {
		return err
	}
	next := oprf.GenerateKey()
	rot, err := keyholder.NewRotation(current, next)
	if err != nil {
		return err
	}
	if err := saveNextKey(c, k, next); err != nil {
		return err
	}
	if err := writePublicKey(c.nextPubPath(), next.Public()); err != nil {
		return errors.Join(err, removeNextKey(c))
	}
	// The index must never get a rotation to a key that does not unwrap.
	back, err := unwrapKeyholderKey(c, k, c.nextKeyPath())
	if err == nil && !back.Public().Equal(next.Public()) {
		err = errors.New("another key")
	}
	if err != nil {
		return errors.Join(fmt.Errorf("the next key in %s does not unwrap to the key just made: %w", c.nextKeyPath(), err), removeNextKey(c))
	}
	// Last: a rotation file exists only for a next key that is on disk.
	if err := keyholder.WriteRotation(c.RotationOut, rot); err != nil {
		return errors.Join(err, removeNextKey(c))
	}
	fmt.Fprintf(stdout, `next key %s wrapped with the %s
next public key %s (key ID %s) in %s
rotation from key ID %s to key ID %s in %s (mode 0600)

Next:
  1. Hand %s to the index's operator over a confidential channel, for
     vindex keys rotate --blind --keyholder-rotation FILE. It is secret: with
     either key it gives the other. Delete your copy once they have it.
  2. Give the clients the next public key (vindex keyholder public-key --next),
     to use from step 3 on.
  3. Once the index's operator says the index has taken the rotation:
     vindex keyholder rotate --finish, then restart vindex keyholder serve.
`, c.nextKeyPath(), k.describe(c.KEK), next.Public(), rot.To, c.nextPubPath(),
		rot.From, rot.To, c.RotationOut, c.RotationOut)
	return nil
}

// nextKeyWaits refuses a second rotate while a next key waits, and says
// how to go on.
func nextKeyWaits(c khConfig) error {
	var waiting string
	for _, f := range []string{c.nextKeyPath(), c.nextPubPath()} {
		if exists(f) {
			waiting = f
			break
		}
	}
	if waiting == "" {
		return nil
	}
	id := "unknown"
	if pub, err := readPublicKey(c.nextPubPath()); err == nil {
		id = keyholder.KeyID(pub)
	}
	return fmt.Errorf("%s exists: a rotation to key ID %s is under way. Once the index has taken its rotation file, "+
		"`vindex keyholder rotate --finish` ends it. To abandon it instead (only if neither its rotation file nor its "+
		"public key was handed out, or the index's operator has dropped it), delete %s and %s, and the rotation file",
		waiting, id, c.nextKeyPath(), c.nextPubPath())
}

// saveNextKey writes next wrapped, as init wraps a key, to a file of its
// own and links that to the next key's path: a link, unlike a rename,
// fails if a next key appeared since nextKeyWaits (another rotate), so two
// rotates at once never leave a rotation file for a key that is not on
// disk.
func saveNextKey(c khConfig, k *kek, next *oprf.PrivateKey) error {
	dir := filepath.Dir(c.nextKeyPath())
	f, err := os.CreateTemp(dir, "."+filepath.Base(c.nextKeyPath())+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	secret, err := next.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(secret)
	if err := keys.SaveSealed(tmp, secret, k.aead, keys.KeyholderAssociatedData(c.Deployment)); err != nil {
		return err
	}
	if err := os.Link(tmp, c.nextKeyPath()); errors.Is(err, os.ErrExist) {
		return nextKeyWaits(c)
	} else if err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return errors.Join(err, removeNextKey(c))
	}
	return syncDir(dir)
}

// removeNextKey removes the next key's files after a rotate that failed
// before its rotation file was written: nobody has them.
func removeNextKey(c khConfig) error {
	var errs []error
	for _, f := range []string{c.nextPubPath(), c.nextKeyPath()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := syncDir(filepath.Dir(c.nextKeyPath())); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// keyholderFinish makes the next key the current one: it unwraps the next
// key (so that a key that would not unwrap never replaces one that does),
// renames its public key over the current one's and then the wrapped key
// over the current wrapped key, syncing the directory after each. A crash
// between the two renames leaves the old key with the new public key
// (serve refuses to start and says to run --finish again) and the next
// key, which a second --finish renames.
func keyholderFinish(c khConfig, stdout, stderr io.Writer) error {
	if !exists(c.nextKeyPath()) {
		return fmt.Errorf("no next key at %s: `vindex keyholder rotate --rotation-out FILE` makes one", c.nextKeyPath())
	}
	k, err := openKeyholderKEK(c, newLogger(stderr, "info"), false)
	if err != nil {
		return err
	}
	defer k.Close()
	next, err := unwrapKeyholderKey(c, k, c.nextKeyPath())
	if err != nil {
		return fmt.Errorf("the next key does not unwrap; the current key is kept: %w", err)
	}
	pub := next.Public()
	replaced := "key ID " + keyholder.KeyID(pub) + " is the current key"
	if old, err := readPublicKey(c.pubPath()); err == nil && !old.Equal(pub) {
		replaced = "key ID " + keyholder.KeyID(old) + " replaced by key ID " + keyholder.KeyID(pub)
	}
	dir := filepath.Dir(c.Key)
	switch np, err := readPublicKey(c.nextPubPath()); {
	case err == nil && !np.Equal(pub):
		return fmt.Errorf("%s is not the public key of %s: the current key is kept", c.nextPubPath(), c.nextKeyPath())
	case err == nil:
		if err := os.Rename(c.nextPubPath(), c.pubPath()); err != nil {
			return err
		}
	case errors.Is(err, os.ErrNotExist): // an interrupted finish renamed it already
		if err := writePublicKey(c.pubPath(), pub); err != nil {
			return err
		}
	default:
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Rename(c.nextKeyPath(), c.Key); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `%s: %s and %s are the former next key's
the old wrapped key is gone from %s: destroy its backups too, and your copy of the rotation file
restart vindex keyholder serve: a running one keeps the key it unwrapped at start
`, replaced, c.Key, c.pubPath(), dir)
	return nil
}

// syncDir makes the renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
