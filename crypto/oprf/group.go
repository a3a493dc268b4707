package oprf

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"sync"

	r255 "github.com/gtank/ristretto255"
)

// The group arithmetic of the suite, on github.com/gtank/ristretto255.
//
// Constant time: every multiplication by a secret scalar (a private key, a
// ratio, a blind or its inverse, the proof's nonce) is ScalarMult or
// ScalarBaseMult, which do not depend on the scalar's value; so are the
// scalar inversions. The variable-time VarTimeMultiScalarMult and
// VarTimeDoubleScalarBaseMult are used only on public values: the proof's
// composites (public elements with scalars hashed from them) and the
// proof's verification (s·G + c·pkS and s·M + c·Z, all public).

// point is a ristretto255 element with its canonical encoding, computed
// once, when first asked for (the proof's transcript and the wire both
// need it). A point is not changed once made, so Elements may share it.
type point struct {
	p    r255.Element
	once sync.Once
	enc  [ElementSize]byte
}

// newPoint wraps p, which the caller does not change afterwards.
func newPoint(p *r255.Element) *point {
	return &point{p: *p}
}

// bytes returns the canonical 32-byte encoding (RFC 9496).
func (x *point) bytes() []byte {
	x.once.Do(func() { x.p.Encode(x.enc[:0]) })
	return x.enc[:]
}

// identityElement is the identity, for comparisons.
var identityElement = r255.NewElement()

// isIdentity reports whether p is the identity.
func isIdentity(p *r255.Element) bool { return p.Equal(identityElement) == 1 }

// decodePoint decodes the canonical encoding of an element other than the
// identity: Decode refuses a non-canonical field element, a negative s and
// anything that is not an encoding of a point.
func decodePoint(b []byte) (*point, bool) {
	if len(b) != ElementSize {
		return nil, false
	}
	x := new(point)
	if err := x.p.Decode(b); err != nil || isIdentity(&x.p) {
		return nil, false
	}
	// Canonical: the one encoding of this element, whatever the decoder
	// forgives. It is also the cached encoding.
	x.p.Encode(x.enc[:0])
	x.once.Do(func() {})
	if string(x.enc[:]) != string(b) {
		return nil, false
	}
	return x, true
}

var zeroScalar = r255.NewScalar()

// isZeroScalar reports whether s is zero, in constant time.
func isZeroScalar(s *r255.Scalar) bool { return s.Equal(zeroScalar) == 1 }

// decodeScalar decodes RFC 9497's SerializeScalar: 32 bytes little-endian,
// below the group order.
func decodeScalar(b []byte) (*r255.Scalar, bool) {
	if len(b) != ScalarSize {
		return nil, false
	}
	s := r255.NewScalar()
	if err := s.Decode(b); err != nil {
		return nil, false
	}
	return s, true
}

// randomScalar is RFC 9497's RandomScalar: 64 bytes of crypto/rand reduced
// modulo the order (a bias below 2^-250), never zero if nonZero.
func randomScalar(nonZero bool) *r255.Scalar {
	var b [64]byte
	s := r255.NewScalar()
	for {
		rand.Read(b[:])
		s.FromUniformBytes(b[:])
		clear(b[:])
		if !nonZero || !isZeroScalar(s) {
			return s
		}
	}
}

// expandXMD is RFC 9380's expand_message_xmd with SHA-512 for 64 bytes of
// output (one block: ell = 1), as RFC 9497 uses it for ristretto255. The
// DSTs of this package are all shorter than 256 bytes.
func expandXMD(msg, dst []byte) [64]byte {
	if len(dst) > 255 {
		panic("oprf: DST longer than 255 bytes")
	}
	var zpad [128]byte // Z_pad: the input block size of SHA-512
	h := sha512.New()
	h.Write(zpad[:])
	h.Write(msg)
	h.Write([]byte{0, 64, 0}) // I2OSP(len_in_bytes, 2) || I2OSP(0, 1)
	h.Write(dst)
	h.Write([]byte{byte(len(dst))})
	var b0, b1 [64]byte
	h.Sum(b0[:0])
	h.Reset()
	h.Write(b0[:])
	h.Write([]byte{1})
	h.Write(dst)
	h.Write([]byte{byte(len(dst))})
	h.Sum(b1[:0])
	return b1
}

// hashToGroupDST and hashToScalarDST are "HashToGroup-" || contextString
// and "HashToScalar-" || contextString, per mode.
var (
	hashToGroupDST  = [2][]byte{dstOf("HashToGroup-", modeOPRF), dstOf("HashToGroup-", modeVOPRF)}
	hashToScalarDST = [2][]byte{dstOf("HashToScalar-", modeOPRF), dstOf("HashToScalar-", modeVOPRF)}
	seedDST         = [2][]byte{dstOf("Seed-", modeOPRF), dstOf("Seed-", modeVOPRF)}
)

func dstOf(prefix string, m mode) []byte {
	return append([]byte(prefix), contextString(m)...)
}

// hashToGroup is the RFC's HashToGroup: hash_to_ristretto255 of RFC 9380
// (expand_message_xmd with SHA-512, 64 bytes, the one-way map of RFC 9496
// §4.3.4) under the DST "HashToGroup-" || contextString.
func hashToGroup(m mode, input []byte) *r255.Element {
	u := expandXMD(input, hashToGroupDST[m])
	return r255.NewElement().FromUniformBytes(u[:])
}

// hashToScalarWith is RFC 9380's hash_to_field for ristretto255's scalars
// under dst: expand_message_xmd with SHA-512 to 64 bytes, read
// little-endian and reduced modulo the order.
func hashToScalarWith(msg, dst []byte) *r255.Scalar {
	u := expandXMD(msg, dst)
	return r255.NewScalar().FromUniformBytes(u[:])
}

// hashToScalar is the RFC's HashToScalar under the DST "HashToScalar-" ||
// contextString.
func hashToScalar(m mode, msg []byte) *r255.Scalar {
	return hashToScalarWith(msg, hashToScalarDST[m])
}

// appendLP appends I2OSP(len(b), 2) || b.
func appendLP(dst, b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(b))), b...)
}
