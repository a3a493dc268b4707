package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/keyholder"
	"github.com/vindex-nl/vindex/matcher"
)

// A blind deployment's state of the key holders' keys (matcher.Layer) is
// kept in DIR/blind-layer, beside the keyset, wrapped by the
// key-encryption key like the keysets (it holds the ratio while a key
// holder's rotation is in progress, which is as secret as the keys).
// DIR/blind-rekeyed says, in the clear, which generation, primary PRF key
// and primary reference key vindex serve's last complete re-keying walk
// left every record under: `vindex keys rotate
// --finish-keyholder-rotation` needs it.

func blindLayerFile(c config) string { return filepath.Join(filepath.Dir(c.Keyset), "blind-layer") }

func rekeyedFile(c config) string { return filepath.Join(c.Data, "blind-rekeyed") }

// blindLayerAD binds the layer file to the deployment.
func blindLayerAD(deployment string) []byte { return []byte("vindex:blind-layer:v1:" + deployment) }

type layerJSON struct {
	Generation uint32 `json:"generation"`
	Rotating   bool   `json:"rotating,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Ratio      []byte `json:"ratio,omitempty"`
	// Keys: the key holders' key IDs the current generation is made under,
	// as learned from the rotations taken over.
	Keys []string `json:"keys,omitempty"`
}

// loadLayer reads the deployment's layer; the zero Layer if it has none
// (no key holder rotation yet).
func loadLayer(c config, k *kek) (matcher.Layer, error) {
	b, err := keys.LoadSealed(blindLayerFile(c), k.aead, blindLayerAD(c.Deployment))
	if errors.Is(err, keys.ErrNotFound) {
		return matcher.Layer{}, nil
	}
	if err != nil {
		return matcher.Layer{}, fmt.Errorf("%s: %w", blindLayerFile(c), err)
	}
	var v layerJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return matcher.Layer{}, fmt.Errorf("%s: not a layer: %w", blindLayerFile(c), err)
	}
	l := matcher.Layer{Generation: v.Generation, Rotating: v.Rotating, From: v.From, To: v.To, Keys: v.Keys}
	if v.Rotating {
		if l.Ratio, err = oprf.ParseRatio(v.Ratio); err != nil {
			return matcher.Layer{}, fmt.Errorf("%s: %w", blindLayerFile(c), err)
		}
	}
	return l, nil
}

func saveLayer(c config, k *kek, l matcher.Layer) error {
	v := layerJSON{Generation: l.Generation, Rotating: l.Rotating, From: l.From, To: l.To, Keys: l.Keys}
	if l.Rotating {
		r, err := l.Ratio.MarshalBinary()
		if err != nil {
			return err
		}
		v.Ratio = r
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return keys.SaveSealed(blindLayerFile(c), b, k.aead, blindLayerAD(c.Deployment))
}

// takeKeyholderRotation starts a key holder's rotation in the index: the
// next generation, elements of the old key re-keyed by the ratio.
func takeKeyholderRotation(stdout io.Writer, c config, k *kek, path string) error {
	rot, err := keyholder.ReadRotation(path)
	if err != nil {
		return err
	}
	l, err := loadLayer(c, k)
	if err != nil {
		return err
	}
	switch {
	case l.Rotating:
		return fmt.Errorf("keys rotate: the rotation of key holder key %s to %s is still in progress; finish it first (--finish-keyholder-rotation, after vindex serve has re-keyed every record)", l.From, l.To)
	case slices.Contains(l.Keys, rot.To):
		return fmt.Errorf("keys rotate: this index's elements are already made under key %s: this rotation was taken over before; taking it again would re-key every element once more and lose every match", rot.To)
	case len(l.Keys) > 0 && !slices.Contains(l.Keys, rot.From):
		return fmt.Errorf("keys rotate: the rotation is from key holder key %s, but this index's elements are made under %s: a rotation of another deployment's key holder, or one to be taken over after another", rot.From, strings.Join(l.Keys, "+"))
	}
	l = matcher.Layer{Generation: l.Generation + 1, Rotating: true, From: rot.From, To: rot.To, Ratio: rot.Ratio, Keys: l.Keys}
	if err := saveLayer(c, k, l); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "took over the key holder's rotation from key %s to %s (generation %d); restart vindex serve: it re-keys every record in the background and takes elements of both keys (with youth_key) meanwhile. Delete %s now: its ratio is kept, wrapped, in %s.\n",
		rot.From, rot.To, l.Generation, path, blindLayerFile(c))
	return nil
}

// finishKeyholderRotation ends a rotation once vindex serve has re-keyed
// every record to its generation, and the covenant's excluded addresses'
// elements are made under the new key: the ratio is forgotten, and
// elements of the old key are refused from the next start.
func finishKeyholderRotation(stdout io.Writer, c config, k *kek) error {
	l, err := loadLayer(c, k)
	if err != nil {
		return err
	}
	if !l.Rotating {
		return errors.New("keys rotate --finish-keyholder-rotation: no key holder rotation is in progress")
	}
	if err := excludedElementsOutlive(c, l.From); err != nil {
		return err
	}
	gen, _, err := readRekeyed(c)
	if err != nil || gen != l.Generation {
		return fmt.Errorf("keys rotate --finish-keyholder-rotation: vindex serve has not yet re-keyed every record to generation %d (%s says otherwise); run it until it logs \"rekey complete\" (\"rekey incomplete\" names youths whose records hold no element it can re-key: they move when reported again)", l.Generation, rekeyedFile(c))
	}
	keys := slices.DeleteFunc(slices.Clone(l.Keys), func(id string) bool { return id == l.From })
	l = matcher.Layer{Generation: l.Generation, Keys: append(keys, l.To)}
	slices.Sort(l.Keys)
	if err := saveLayer(c, k, l); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the key holder rotation is finished (generation %d); the ratio is gone. Restart vindex serve; the key holder may now destroy its old key (vindex keyholder rotate --finish).\n", l.Generation)
	return nil
}

// rekeyKeys are the primary keys a complete walk leaves every record
// under: the PRF key (the pseudonyms) and the reference key (the sealed
// elements).
type rekeyKeys struct{ prf, ref uint32 }

func rekeyTarget(o openedKeys) rekeyKeys {
	t := rekeyKeys{prf: o.ps.PrimaryKeyID()}
	if o.refs != nil {
		t.ref = o.refs.PrimaryKeyID()
	}
	return t
}

// readRekeyed reads DIR/blind-rekeyed: "generation G key K refkey R".
func readRekeyed(c config) (gen uint32, keys rekeyKeys, err error) {
	b, err := os.ReadFile(rekeyedFile(c))
	if err != nil {
		return 0, keys, err
	}
	f := strings.Fields(string(b))
	if len(f) < 6 || f[0] != "generation" || f[2] != "key" || f[4] != "refkey" {
		return 0, keys, fmt.Errorf("%s: malformed", rekeyedFile(c))
	}
	g, err1 := strconv.ParseUint(f[1], 10, 32)
	k, err2 := strconv.ParseUint(f[3], 10, 32)
	r, err3 := strconv.ParseUint(f[5], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, keys, fmt.Errorf("%s: malformed", rekeyedFile(c))
	}
	return uint32(g), rekeyKeys{prf: uint32(k), ref: uint32(r)}, nil
}

// rekeyedAway refuses, in a blind deployment, to retire key id (of the
// reference keyset with refs) until a complete walk of vindex serve has
// moved every record, ended ones too, to another primary: the live count
// keys retire checks does not see the ended registrations, which a
// subject access or an objection must still find.
func rekeyedAway(c config, id uint32, refs bool) error {
	mode, err := readPseudonyms(c)
	if err != nil || mode != modeBlind {
		return err
	}
	_, done, err := readRekeyed(c)
	at := done.prf
	if refs {
		at = done.ref
	}
	if err != nil || at == id {
		return fmt.Errorf("keys retire: vindex serve has not yet re-keyed every record of this blind deployment away from key %d (%s); start it with the new primary and wait until it logs \"rekey complete\"", id, rekeyedFile(c))
	}
	return nil
}

// rekeyPage is how many youths one Rekey call visits.
const rekeyPage = 512

// rekey walks the whole store once at start (a blind deployment's), moving
// every youth to the primary PRF key and the current generation, and
// records in DIR/blind-rekeyed that it is done. It skips the walk when
// the last complete one was for this generation and key. Reports go on
// meanwhile: each youth is locked only for its own write.
func rekey(ctx context.Context, c config, m *matcher.Matcher, target rekeyKeys, logger *slog.Logger) {
	generation, rotating := m.Generation()
	if gen, done, err := readRekeyed(c); err == nil && gen == generation && done == target && !rotating {
		return
	}
	start := time.Now()
	var total matcher.RekeyPage
	var after pseudonym.Pseudonym
	for {
		p, err := m.Rekey(ctx, after, rekeyPage)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("rekey failed; it starts over at the next start", slog.String("component", "rekey"), slog.String("error", err.Error()))
			}
			return
		}
		total.Visited += p.Visited
		total.Moved += p.Moved
		total.Records += p.Records
		total.Stranded += p.Stranded
		if p.Next.IsZero() {
			break
		}
		after = p.Next
	}
	d := time.Since(start)
	attrs := []any{slog.String("component", "rekey"), slog.Int("youths", total.Visited), slog.Int("moved", total.Moved),
		slog.Int("records", total.Records), slog.Int("stranded", total.Stranded), slog.Uint64("generation", uint64(generation)),
		slog.Uint64("primary_key", uint64(target.prf)), slog.Uint64("primary_ref_key", uint64(target.ref)), slog.Duration("took", d)}
	if total.Stranded > 0 {
		// Not complete: the old keys are still needed for these youths.
		logger.Warn("rekey incomplete: some youths' records hold no element this index can re-key; a new report of each moves it, and the next start walks again", attrs...)
		return
	}
	logger.Info("rekey complete", attrs...)
	line := fmt.Sprintf("generation %d key %d refkey %d complete %s\n", generation, target.prf, target.ref, time.Now().UTC().Format(time.RFC3339))
	if err := keys.WriteFileAtomic(rekeyedFile(c), []byte(line)); err != nil {
		logger.Error("rekey: cannot record completion", slog.String("component", "rekey"), slog.String("error", err.Error()))
	}
}
