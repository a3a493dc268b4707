// Independent recomputation of crypto/oprf/testdata/vectors.json with @noble/curves.
import { readFileSync } from 'node:fs';
import { ristretto255, ristretto255_hasher, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const f = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const P = ristretto255.Point;
const le = (hex) => { const b = hexToBytes(hex); let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };
const enc = new TextEncoder();
const DST = hexToBytes(f.hashToGroupDST);
if (new TextDecoder().decode(DST) !== 'HashToGroup-OPRFV1-\x01-ristretto255-SHA512') throw 'DST';
const kA = le(f.keyA.skS), kB = le(f.keyB.skS);
if (bytesToHex(P.BASE.multiply(kA).toBytes()) !== f.keyA.pkS) throw 'pkA';
if (bytesToHex(P.BASE.multiply(kB).toBytes()) !== f.keyB.pkS) throw 'pkB';
const finalizeHash = (input, y) => {
  const m = new Uint8Array(2 + input.length + 2 + y.length + 8);
  m.set([input.length >> 8, input.length & 255], 0); m.set(input, 2);
  m.set([0, y.length], 2 + input.length); m.set(y, 4 + input.length);
  m.set(enc.encode('Finalize'), 4 + input.length + y.length);
  return bytesToHex(sha512(m));
};
let n = 0;
for (const v of f.vectors) {
  const items = { A: [], B: [] };
  v.input.forEach((input, i) => {
    if (input !== 'vindex:v1:youth-bsn:' + v.bsn[i]) throw 'input';
    const x = enc.encode(input);
    const H = ristretto255_hasher.hashToCurve(x, { DST });
    if (bytesToHex(H.toBytes()) !== v.hashToGroup[i]) throw 'H(x)';
    const yA = H.multiply(kA), yB = yA.multiply(kB);
    if (bytesToHex(yA.toBytes()) !== v.keyHolderA.y[i]) throw 'Y_A';
    if (bytesToHex(yB.toBytes()) !== v.keyHolderB.y[i]) throw 'Y';
    for (const [step, point, k] of [['A', H, kA], ['B', yA, kB]]) {
      const s = step === 'A' ? v.keyHolderA : v.keyHolderB;
      const blinded = point.multiply(le(s.blind[i]));
      if (bytesToHex(blinded.toBytes()) !== s.blinded[i]) throw 'blinded';
      if (bytesToHex(blinded.multiply(k).toBytes()) !== s.evaluated[i]) throw 'evaluated';
      items[step].push({ input: step === 'A' ? x : point.toBytes(), blind: hexToBytes(s.blind[i]),
        evaluated: hexToBytes(s.evaluated[i]), blinded: hexToBytes(s.blinded[i]) });
    }
    n++;
  });
  // noble verifies the batched proof (RFC 9497 VerifyProof) and applies the RFC's Finalize;
  // its outputs must be Finalize(Y) of the vectors' Y.
  for (const [step, pk] of [['A', f.keyA.pkS], ['B', f.keyB.pkS]]) {
    const s = step === 'A' ? v.keyHolderA : v.keyHolderB;
    const out = ristretto255_oprf.voprf.finalizeBatch(items[step], hexToBytes(pk), hexToBytes(s.proof));
    out.forEach((o, i) => { if (bytesToHex(o) !== finalizeHash(items[step][i].input, hexToBytes(s.y[i]))) throw 'output ' + step; });
    const req = JSON.parse(s.request), resp = JSON.parse(s.response);
    req.blinded.forEach((b, i) => { if (bytesToHex(Buffer.from(b, 'base64')) !== s.blinded[i]) throw 'request'; });
    resp.evaluated.forEach((b, i) => { if (bytesToHex(Buffer.from(b, 'base64')) !== s.evaluated[i]) throw 'response'; });
    if (bytesToHex(Buffer.from(resp.proof, 'base64')) !== s.proof) throw 'proof';
  }
}
console.log(`ok: ${n} inputs, ${f.vectors.length} vectors`);
