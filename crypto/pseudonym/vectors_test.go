package pseudonym_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	commonpb "github.com/tink-crypto/tink-go/v2/proto/common_go_proto"
	hmacprfpb "github.com/tink-crypto/tink-go/v2/proto/hmac_prf_go_proto"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors/vectors.json from the test keys")

// The fixed test keys. TEST ONLY: published, so worthless for anything else.
var testKeys = []struct {
	id  uint32
	hex string
}{
	{1001, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
	{1002, "76696e6465782074657374206b657920322c206e6f7420666f7220757365210a"},
}

const testPrimary = 1002

// testKeyset builds the Tink keyset of the fixed test keys: raw HMAC-SHA256
// PRF keys (Tink's PRF keys add no output prefix).
func testKeyset(t testing.TB) *keyset.Handle {
	t.Helper()
	ks := &tinkpb.Keyset{PrimaryKeyId: testPrimary}
	for _, k := range testKeys {
		raw, _ := hex.DecodeString(k.hex)
		val, err := proto.Marshal(&hmacprfpb.HmacPrfKey{
			Params:   &hmacprfpb.HmacPrfParams{Hash: commonpb.HashType_SHA256},
			KeyValue: raw,
		})
		if err != nil {
			t.Fatal(err)
		}
		ks.Key = append(ks.Key, &tinkpb.Keyset_Key{
			KeyData: &tinkpb.KeyData{
				TypeUrl:         "type.googleapis.com/google.crypto.tink.HmacPrfKey",
				Value:           val,
				KeyMaterialType: tinkpb.KeyData_SYMMETRIC,
			},
			Status:           tinkpb.KeyStatusType_ENABLED,
			KeyId:            k.id,
			OutputPrefixType: tinkpb.OutputPrefixType_RAW,
		})
	}
	b, err := proto.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type vector struct {
	KeyID     uint32 `json:"key_id"`
	KeyHex    string `json:"key_hex"`
	Domain    string `json:"domain"`
	Value     string `json:"value"`
	Input     string `json:"input"`
	Pseudonym string `json:"pseudonym_hex"`
}

var vectorBSNs = []string{"111222333", "123456782", "999999990", "010000008", "000000012"}

func TestKnownAnswerVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors", "vectors.json")
	ps, err := pseudonym.New(testKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var vs []vector
		for _, s := range vectorBSNs {
			bsn, err := identity.ParseBSN(s)
			if err != nil {
				t.Fatalf("vector BSN %s: %v", s, err)
			}
			set, err := ps.Youth(bsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range set.All {
				vs = append(vs, vector{KeyID: p.KeyID, KeyHex: keyHex(p.KeyID), Domain: "youth-bsn", Value: s,
					Input: "vindex:v1:youth-bsn:" + s, Pseudonym: hex.EncodeToString(p.Sum[:])})
			}
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(vectorBSNs)*len(testKeys) {
		t.Fatalf("%d vectors, want %d", len(vs), len(vectorBSNs)*len(testKeys))
	}
	for _, v := range vs {
		// Independently: plain HMAC-SHA256 over the documented input.
		key, _ := hex.DecodeString(v.KeyHex)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(v.Input))
		if got := hex.EncodeToString(mac.Sum(nil)); got != v.Pseudonym {
			t.Errorf("HMAC-SHA256(%s, %q) = %s, vector says %s", v.KeyHex, v.Input, got, v.Pseudonym)
		}
		if v.Input != "vindex:v1:"+v.Domain+":"+v.Value {
			t.Errorf("input %q does not follow the recipe", v.Input)
		}
		// Through the Pseudonymiser.
		bsn, err := identity.ParseBSN(v.Value)
		if err != nil {
			t.Fatal(err)
		}
		set, err := ps.Youth(bsn)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range set.All {
			if p.KeyID == v.KeyID {
				found = true
				if got := hex.EncodeToString(p.Sum[:]); got != v.Pseudonym {
					t.Errorf("Pseudonymiser under key %d for %s = %s, vector says %s", v.KeyID, v.Value, got, v.Pseudonym)
				}
			}
		}
		if !found {
			t.Errorf("no pseudonym under key %d", v.KeyID)
		}
	}
}

func keyHex(id uint32) string {
	for _, k := range testKeys {
		if k.id == id {
			return k.hex
		}
	}
	return ""
}
