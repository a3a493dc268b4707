package extsort

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// A run file is a sequence of blocks. The records of the run, each framed
// as uvarint(len(key)) uvarint(len(value)) key value, form one stream of
// bytes that is cut into blocks of blockSize bytes (the last one shorter,
// maybe empty); a record may cross blocks. On disk a block is
//
//	flag (1 byte: 1 on the run's final block, else 0)
//	n    (4 bytes, big-endian: the plaintext length)
//	AES-256-GCM(plaintext) with its 16-byte tag
//
// sealed with the nonce run (4 bytes) || index (8 bytes), big-endian, and
// the additional data run || index || flag || n. The key is fresh for each
// Sorter and run numbers and indexes count up, so no nonce repeats. A
// reader checks the block's place (its run and index), its length, and
// whether it is the last: a block altered, moved or cut off, and a run cut
// short or extended, do not authenticate.
const (
	blockSize = 64 << 10
	hdrSize   = 5
	tagSize   = 16
	nonceSize = 12
	adSize    = 4 + 8 + hdrSize
)

func nonceAndAD(run uint32, block uint64, hdr []byte) (nonce [nonceSize]byte, ad [adSize]byte) {
	binary.BigEndian.PutUint32(nonce[:4], run)
	binary.BigEndian.PutUint64(nonce[4:], block)
	copy(ad[:], nonce[:])
	copy(ad[nonceSize:], hdr)
	return nonce, ad
}

// blockWriter writes one run: it frames records into blocks and seals and
// writes each block when it is full. Its buffer is reused across runs.
type blockWriter struct {
	f       *os.File
	aead    cipher.AEAD
	run     uint32
	block   uint64
	buf     []byte // header, plaintext (sealed in place), tag
	n       int    // plaintext bytes in buf
	written int64
}

func (w *blockWriter) reset(f *os.File, aead cipher.AEAD, run uint32) {
	if w.buf == nil {
		w.buf = make([]byte, hdrSize+blockSize+tagSize)
	}
	w.f, w.aead, w.run, w.block, w.n, w.written = f, aead, run, 0, 0, 0
}

func (w *blockWriter) add(key, value []byte) error {
	var frame [2 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(frame[:0], uint64(len(key)))
	h = binary.AppendUvarint(h, uint64(len(value)))
	if err := w.write(h); err != nil {
		return err
	}
	if err := w.write(key); err != nil {
		return err
	}
	return w.write(value)
}

func (w *blockWriter) write(p []byte) error {
	for len(p) > 0 {
		m := copy(w.buf[hdrSize+w.n:hdrSize+blockSize], p)
		w.n += m
		p = p[m:]
		if w.n == blockSize {
			if err := w.flush(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish writes the final block.
func (w *blockWriter) finish() error { return w.flush(true) }

func (w *blockWriter) flush(final bool) error {
	hdr := w.buf[:hdrSize]
	hdr[0] = 0
	if final {
		hdr[0] = 1
	}
	binary.BigEndian.PutUint32(hdr[1:], uint32(w.n))
	nonce, ad := nonceAndAD(w.run, w.block, hdr)
	pt := w.buf[hdrSize : hdrSize+w.n]
	sealed := w.aead.Seal(pt[:0], nonce[:], pt, ad[:])
	out := w.buf[:hdrSize+len(sealed)]
	_, err := w.f.Write(out)
	w.written += int64(len(out))
	w.block++
	w.n = 0
	return err
}

// runReader reads the records of one run back, block by block, checking
// each block before it yields any of its records.
type runReader struct {
	f     *os.File
	aead  cipher.AEAD
	run   uint32
	block uint64 // index of the next block
	buf   []byte // ciphertext, opened in place, and the next block's header
	hdr   [hdrSize]byte
	read  bool // the first header was read
	final bool // the final block was loaded
	pt    []byte
	rec   []byte // a record that crosses blocks
	err   error  // sticky
	bErr  error  // the last error of ReadByte
}

func newRunReader(f *os.File, aead cipher.AEAD, run uint32) *runReader {
	return &runReader{f: f, aead: aead, run: run, buf: make([]byte, blockSize+tagSize+hdrSize)}
}

func (r *runReader) close() {
	r.f.Close()
	clear(r.buf)
	clear(r.rec)
	r.pt = nil
	r.err = ErrClosed
}

func (r *runReader) corrupt(what string) error {
	return fmt.Errorf("%w: run %d block %d: %s", ErrCorrupt, r.run, r.block, what)
}

// load reads and opens the next block; io.EOF after the final block.
func (r *runReader) load() error {
	if r.final {
		return io.EOF
	}
	if !r.read {
		if _, err := io.ReadFull(r.f, r.hdr[:]); err != nil {
			return r.readErr(err)
		}
		r.read = true
	}
	hdr := r.hdr
	flag, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	if flag > 1 || n > blockSize {
		return r.corrupt("bad block header")
	}
	final := flag == 1
	m := int(n) + tagSize
	want := m
	if !final {
		want += hdrSize
	}
	if _, err := io.ReadFull(r.f, r.buf[:want]); err != nil {
		return r.readErr(err)
	}
	if !final {
		copy(r.hdr[:], r.buf[m:want])
	}
	nonce, ad := nonceAndAD(r.run, r.block, hdr[:])
	pt, err := r.aead.Open(r.buf[:0], nonce[:], r.buf[:m], ad[:])
	if err != nil {
		return r.corrupt("block does not authenticate")
	}
	if final {
		var b [1]byte
		if _, err := io.ReadFull(r.f, b[:]); err == nil {
			return r.corrupt("data after the final block")
		} else if err != io.EOF {
			return r.readErr(err)
		}
	}
	r.final = final
	r.block++
	r.pt = pt
	return nil
}

func (r *runReader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.corrupt("run cut short")
	}
	return fmt.Errorf("extsort: reading run %d block %d: %w", r.run, r.block, err)
}

// next returns the run's next record: ok false at the run's end.
func (r *runReader) next() (key, value []byte, ok bool, err error) {
	if r.err != nil {
		return nil, nil, false, r.err
	}
	for len(r.pt) == 0 {
		if err := r.load(); err == io.EOF {
			return nil, nil, false, nil
		} else if err != nil {
			r.err = err
			return nil, nil, false, err
		}
	}
	// The common case: the whole record is in this block.
	if kl, a := binary.Uvarint(r.pt); a > 0 {
		if vl, b := binary.Uvarint(r.pt[a:]); b > 0 {
			h := a + b
			rest := uint64(len(r.pt) - h)
			if kl <= rest && vl <= rest-kl {
				k := h + int(kl)
				v := k + int(vl)
				key, value = r.pt[h:k:k], r.pt[k:v:v]
				r.pt = r.pt[v:]
				return key, value, true, nil
			}
		}
	}
	key, value, err = r.slow()
	if err != nil {
		r.err = err
		return nil, nil, false, err
	}
	return key, value, true, nil
}

// slow reads a record that crosses blocks into r.rec.
func (r *runReader) slow() (key, value []byte, err error) {
	kl, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, nil, r.cut(err)
	}
	vl, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, nil, r.cut(err)
	}
	if kl > math.MaxUint32 || vl > math.MaxUint32 || kl+vl > math.MaxInt {
		return nil, nil, r.corrupt("bad record length")
	}
	n := int(kl + vl)
	if cap(r.rec) < n {
		clear(r.rec)
		r.rec = make([]byte, n)
	}
	rec := r.rec[:n]
	for p := rec; len(p) > 0; {
		if len(r.pt) == 0 {
			if err := r.load(); err != nil {
				r.bErr = err
				return nil, nil, r.cut(err)
			}
		}
		m := copy(p, r.pt)
		p, r.pt = p[m:], r.pt[m:]
	}
	return rec[:kl:kl], rec[kl:], nil
}

// cut returns the error for a record that could not be read whole: the
// block's error, ErrCorrupt if the run ended inside the record or its
// length does not decode.
func (r *runReader) cut(err error) error {
	switch {
	case r.bErr != nil && r.bErr != io.EOF:
		return r.bErr
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return r.corrupt("record cut at the run's end")
	}
	return r.corrupt("bad record length")
}

// ReadByte reads one byte of the run's record stream (for
// binary.ReadUvarint).
func (r *runReader) ReadByte() (byte, error) {
	for len(r.pt) == 0 {
		if err := r.load(); err != nil {
			r.bErr = err
			return 0, err
		}
	}
	b := r.pt[0]
	r.pt = r.pt[1:]
	return b, nil
}
