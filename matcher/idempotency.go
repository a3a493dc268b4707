package matcher

import (
	"encoding/binary"
	"fmt"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
)

// idempotencyDomain is the pseudonym domain of idempotency keys: the store
// keeps a report's idempotency record under the keyed hash
// "vindex:v1:idempotency:" + len(institution) institution len(key) key
// (lengths as uvarints, so that no institution and key read as another),
// never under the key itself, which a client may have made of anything.
const idempotencyDomain pseudonym.Domain = "idempotency"

// idempotencyKeys returns the keyed hashes of institution's idempotency key
// under every enabled key, primary first. A record is written under the
// primary key's hash and looked up under every one, as a youth's records
// are, so that a retry after a key rotation is still answered with the
// first result; one made under a key that has since been retired is no
// longer found, and the retry is then answered as a new report (a refresh
// of the live registration it made).
func (m *Matcher) idempotencyKeys(institution, key string) (pseudonym.Set, error) {
	in := make([]byte, 0, 2*binary.MaxVarintLen64+len(institution)+len(key))
	in = binary.AppendUvarint(in, uint64(len(institution)))
	in = append(in, institution...)
	in = binary.AppendUvarint(in, uint64(len(key)))
	in = append(in, key...)
	set, err := m.ps.Of(idempotencyDomain, in)
	if err != nil {
		return pseudonym.Set{}, fmt.Errorf("matcher: idempotency key: %w", err)
	}
	if len(set.All) == 0 {
		return pseudonym.Set{}, fmt.Errorf("matcher: idempotency key: %w", pseudonym.ErrNoKey)
	}
	return set, nil
}
