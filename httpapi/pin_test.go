package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/rules"
)

// A pin is the covenant's form, names the key (it survives renewal of the
// certificate with the same key), and finds the institution that pins it.
func TestCertificatePin(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(serial int64, k *ecdsa.PrivateKey) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "wij"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, renewed := cert(1, key), cert(2, key)
	pin := CertificatePin(first)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(pin) {
		t.Fatalf("pin %q is not in the covenant's form", pin)
	}
	if CertificatePin(renewed) != pin {
		t.Fatal("a renewed certificate with the same key has another pin")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if CertificatePin(cert(3, other)) == pin {
		t.Fatal("another key has the same pin")
	}

	cov, err := rules.Load(strings.NewReader(`name: t
institutions:
  - {id: wij, name: WIJ, type: wij-team, may_coordinate: true, client_certificates: ["`+pin+`"]}
  - {id: ggd, name: GGD, type: ggd}
rules:
  - {name: any, assign: {any: true}}
`), "covenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pins := pinsOf(cov)
	if inst, ok := pins.institution(renewed); !ok || inst != "wij" {
		t.Fatalf("institution(renewed) = %q, %v; want wij", inst, ok)
	}
	if inst, ok := pins.institution(cert(4, other)); ok {
		t.Fatalf("an unpinned certificate authenticated as %q", inst)
	}
}
