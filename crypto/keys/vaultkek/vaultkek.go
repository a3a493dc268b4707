// Package vaultkek gives vindex its key-encryption key in HashiCorp Vault:
// the PRF keyset is wrapped with Tink's KMS envelope, a fresh AES-256-GCM
// data key per wrapping, and only that data key is encrypted by Vault's
// transit engine. Vault never sees the PRF keyset; the key that wraps the
// data key never leaves Vault.
//
// # Policy
//
// The transit key is aes256-gcm96, derived=false and not exportable. The
// vindex server needs only update on transit/encrypt/KEY and
// transit/decrypt/KEY and read on transit/keys/KEY (docs/vault/vindex-policy.hcl).
// Open checks those capabilities before anything else, so that a missing
// one is named in the error rather than found at the first decryption.
//
// # Authentication
//
// With a token (development), or with AppRole (production): a role-id and a
// secret-id read from a file, which may hold a response-wrapping token
// instead of the secret-id itself. The token is renewed in the background
// for as long as Vault allows (a failed renewal is tried again every 30
// seconds until the token expires, and counted in Metrics); vindex needs
// Vault only at start-up and when the keyset is rewrapped, so an expired
// token or an unreachable Vault does not stop matching.
//
// # Client configuration
//
// The Vault client is built from Config alone: the VAULT_* environment
// variables that HashiCorp's client library reads (VAULT_ADDR,
// VAULT_AGENT_ADDR, VAULT_CACERT, VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_HEADERS, VAULT_WRAP_TTL, VAULT_MAX_RETRIES, …) change nothing, and
// neither do the HTTP(S)_PROXY variables: vindex talks to Vault directly.
// (The library still parses them when it makes a client, so one it cannot
// parse, such as a VAULT_CACERT file that does not exist, stops start-up.)
// Vault's certificate is always verified (TLS 1.2 or later, against CACert
// or the system's roots); Open refuses to start when VAULT_SKIP_VERIFY is
// set to anything but a false value, so that nobody believes it took effect.
//
// # What is never logged
//
// Tokens, secret-ids, the data key and the keyset. Errors name the address,
// the path and the capability, never a credential.
package vaultkek

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Errors.
var (
	ErrConfig      = errors.New("vaultkek: configuration")
	ErrUnreachable = errors.New("vaultkek: Vault unreachable")
	ErrSealed      = errors.New("vaultkek: Vault is sealed")
	ErrAuth        = errors.New("vaultkek: Vault login failed")
	ErrPermission  = errors.New("vaultkek: permission denied")
	// ErrSkipVerify is returned by Open while VAULT_SKIP_VERIFY is set in
	// the environment to anything but a false value.
	ErrSkipVerify = errors.New("vaultkek: VAULT_SKIP_VERIFY is set; vindex always verifies Vault's certificate")
)

// Config says how to reach Vault and which key to use.
type Config struct {
	// Address of Vault, e.g. https://vault.example:8200.
	Address string
	// KeyPath is the transit key: MOUNT/keys/NAME, e.g. transit/keys/vindex-kek.
	KeyPath string
	// CACert is a PEM file of the CA that signs Vault's certificate; if
	// empty, the system's roots.
	CACert string

	// Token authenticates with a token (development). TokenFile reads it
	// from a file instead.
	Token     string
	TokenFile string

	// RoleID and SecretIDFile authenticate with AppRole. With
	// SecretIDWrapped, the file holds a response-wrapping token that is
	// unwrapped to get the secret-id (it works once).
	RoleID          string
	SecretIDFile    string
	SecretIDWrapped bool
	// AppRoleMount is where AppRole is mounted; if empty, "approle".
	AppRoleMount string

	// Timeout bounds each request to Vault; if zero, 10 seconds.
	Timeout time.Duration
	// Logger receives renewal messages; if nil, they are discarded.
	Logger *slog.Logger
	// Metrics count the token's renewals; if nil, they are not counted.
	Metrics *Metrics
}

// KEK is an open key-encryption key in Vault.
type KEK struct {
	client   *api.Client
	cfg      Config
	mount    string
	name     string
	envelope tink.AEAD
	log      *slog.Logger
	stop     context.CancelFunc
	done     chan struct{}
}

// Open authenticates to Vault, checks that the key can be used, and
// returns the key-encryption key. ctx bounds the start-up only.
func Open(ctx context.Context, c Config) (*KEK, error) {
	mount, name, err := splitKeyPath(c.KeyPath)
	if err != nil {
		return nil, err
	}
	if c.Address == "" {
		return nil, fmt.Errorf("%w: no Vault address", ErrConfig)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.AppRoleMount == "" {
		c.AppRoleMount = "approle"
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client, err := newClient(c)
	if err != nil {
		return nil, err
	}

	seal, err := client.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.Address, redact(err))
	}
	if seal.Sealed {
		return nil, fmt.Errorf("%w at %s", ErrSealed, c.Address)
	}

	k := &KEK{client: client, cfg: c, mount: mount, name: name, log: log}
	secret, err := k.login(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.checkCapabilities(ctx); err != nil {
		return nil, err
	}
	remote, err := hcvault.NewAEAD("/"+mount+"/keys/"+name, client.Logical())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	k.envelope = aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), remote)
	k.watch(secret)
	return k, nil
}

// newClient builds the Vault client from c alone (see "Client
// configuration" in the package doc). It keeps what api.DefaultConfig sets
// up that vindex wants, constructed here instead of read from the
// environment: a pooled transport with TLS 1.2 at least, a 10-second TLS
// handshake limit, HTTP/2, redirects left to the client library, and one
// retry with its jittered back-off.
func newClient(c Config) (*api.Client, error) {
	if v, ok := os.LookupEnv(api.EnvVaultSkipVerify); ok && v != "" {
		if off, err := strconv.ParseBool(v); err != nil || off {
			return nil, fmt.Errorf("%w (against vault_ca_cert, or the system's roots) and reads no VAULT_* "+
				"variable: unset it", ErrSkipVerify)
		}
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("%w: CA certificate: %v", ErrConfig, err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA certificate %s holds no PEM certificate", ErrConfig, c.CACert)
		}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:               nil, // directly to Vault, whatever HTTPS_PROXY says
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	vc := &api.Config{
		Address: c.Address,
		HttpClient: &http.Client{
			Transport: transport,
			// The client library follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:      c.Timeout,
		MinRetryWait: time.Second,
		MaxRetryWait: 1500 * time.Millisecond,
		MaxRetries:   1,
	}
	// NewClient makes the library's default configuration, from the
	// environment, even though vc replaces it; it fails if that does.
	if def := api.DefaultConfig(); def.Error != nil {
		return nil, fmt.Errorf("%w: %v (vindex ignores VAULT_* variables, but the Vault client library "+
			"refuses one it cannot parse: unset it)", ErrConfig, redact(def.Error))
	}
	client, err := api.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, redact(err))
	}
	// NewClient still takes a token, a namespace and headers from the
	// environment, and requests would be response-wrapped under
	// VAULT_WRAP_TTL: undo all four.
	client.ClearToken()
	client.ClearNamespace()
	client.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	client.SetWrappingLookupFunc(func(operation, path string) string { return "" })
	return client, nil
}

// AEAD returns the envelope AEAD that wraps and unwraps keysets: use it
// with keys.SaveFile and keys.LoadFile.
func (k *KEK) AEAD() tink.AEAD { return k.envelope }

// Address returns Vault's address.
func (k *KEK) Address() string { return k.cfg.Address }

// KeyPath returns the transit key's path.
func (k *KEK) KeyPath() string { return k.mount + "/keys/" + k.name }

// Close stops the token renewal.
func (k *KEK) Close() {
	if k.stop != nil {
		k.stop()
		<-k.done
	}
}

// KeyVersions returns the transit key's latest version and the lowest
// version it still decrypts with.
func (k *KEK) KeyVersions(ctx context.Context) (latest, minDecryption int, err error) {
	s, err := k.client.Logical().ReadWithContext(ctx, k.KeyPath())
	if err != nil {
		return 0, 0, k.explain(err, "read", k.KeyPath())
	}
	if s == nil {
		return 0, 0, fmt.Errorf("vaultkek: no transit key at %s on %s", k.KeyPath(), k.cfg.Address)
	}
	return intOf(s.Data["latest_version"]), intOf(s.Data["min_decryption_version"]), nil
}

func intOf(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return int(i)
	}
	return 0
}

func (k *KEK) login(ctx context.Context) (*api.Secret, error) {
	c := k.cfg
	switch {
	case c.Token != "" || c.TokenFile != "":
		tok := c.Token
		if c.TokenFile != "" {
			b, err := os.ReadFile(c.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("%w: token file: %v", ErrAuth, err)
			}
			tok = strings.TrimSpace(string(b))
		}
		k.client.SetToken(tok)
		s, err := k.client.Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w at %s with a token: %v", ErrAuth, c.Address, redact(err))
		}
		return s, nil
	case c.RoleID != "" && c.SecretIDFile != "":
		b, err := os.ReadFile(c.SecretIDFile)
		if err != nil {
			return nil, fmt.Errorf("%w: secret-id file: %v", ErrAuth, err)
		}
		secretID := strings.TrimSpace(string(b))
		if c.SecretIDWrapped {
			w, err := k.client.Logical().UnwrapWithContext(ctx, secretID)
			if err != nil || w == nil {
				return nil, fmt.Errorf("%w at %s: cannot unwrap the secret-id (a wrapping token works once): %v", ErrAuth, c.Address, redact(err))
			}
			secretID, _ = w.Data["secret_id"].(string)
		}
		path := "auth/" + c.AppRoleMount + "/login"
		s, err := k.client.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": c.RoleID, "secret_id": secretID})
		if err != nil {
			return nil, fmt.Errorf("%w at %s (%s): %v", ErrAuth, c.Address, path, redact(err))
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return nil, fmt.Errorf("%w at %s (%s): no token in the answer", ErrAuth, c.Address, path)
		}
		k.client.SetToken(s.Auth.ClientToken)
		return s, nil
	}
	return nil, fmt.Errorf("%w: give a token (vault_token_file) or an AppRole (vault_role_id and vault_secret_id_file)", ErrConfig)
}

// checkCapabilities asks Vault what the token may do on the paths vindex
// uses, and names what is missing.
func (k *KEK) checkCapabilities(ctx context.Context) error {
	for _, need := range []struct{ path, capability string }{
		{k.mount + "/encrypt/" + k.name, "update"},
		{k.mount + "/decrypt/" + k.name, "update"},
	} {
		caps, err := k.client.Sys().CapabilitiesSelfWithContext(ctx, need.path)
		if err != nil {
			return k.explain(err, need.capability, need.path)
		}
		if !slices.Contains(caps, need.capability) && !slices.Contains(caps, "root") {
			return fmt.Errorf("%w at %s: the token lacks %q on %s (it has %v); see docs/vault/vindex-policy.hcl",
				ErrPermission, k.cfg.Address, need.capability, need.path, caps)
		}
	}
	return nil
}

func (k *KEK) explain(err error, capability, path string) error {
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 403 {
		return fmt.Errorf("%w at %s: %q on %s", ErrPermission, k.cfg.Address, capability, path)
	}
	return fmt.Errorf("%w at %s (%s): %v", ErrUnreachable, k.cfg.Address, path, redact(err))
}

// renewRetry is how long the renewal waits after a failed attempt.
const renewRetry = 30 * time.Second

// watch renews the token in the background while Vault allows it: after a
// failed renewal it tries again every renewRetry until the token expires.
func (k *KEK) watch(s *api.Secret) {
	renewable, _ := s.TokenIsRenewable()
	if !renewable {
		return
	}
	k.cfg.Metrics.leased(time.Now(), s)
	ctx, cancel := context.WithCancel(context.Background())
	k.stop, k.done = cancel, make(chan struct{})
	go func() {
		defer close(k.done)
		ttl, _ := s.TokenTTL()
		expires := time.Now().Add(ttl)
		for {
			err := k.renew(ctx, s, &expires)
			if err == nil {
				return
			}
			k.cfg.Metrics.renewal(false)
			k.log.Warn("vault token renewal failed; trying again in "+renewRetry.String(), slog.String("vault", k.cfg.Address),
				slog.String("error", redact(err).Error()), slog.Time("token_expires", expires))
			select {
			case <-ctx.Done():
				return
			case <-time.After(renewRetry):
			}
			if time.Now().After(expires) {
				k.log.Warn("vault token expired without renewal; Vault is needed again only to rewrap the keyset or restart",
					slog.String("vault", k.cfg.Address))
				return
			}
		}
	}()
}

// renew renews the token of s until ctx is done or the token reaches its
// maximum lifetime (nil), or a renewal fails (its error). It keeps expires
// up to date.
func (k *KEK) renew(ctx context.Context, s *api.Secret, expires *time.Time) error {
	w, err := k.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: s, RenewBehavior: api.RenewBehaviorErrorOnErrors})
	if err != nil {
		return err
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.DoneCh():
			msg := "vault token reached its maximum lifetime"
			switch {
			case errors.Is(err, api.ErrLifetimeWatcherNotRenewable):
				msg = "vault token can no longer be renewed"
			case err != nil:
				return err
			}
			k.log.Warn(msg+"; Vault is needed again only to rewrap the keyset or restart", slog.String("vault", k.cfg.Address))
			return nil
		case r := <-w.RenewCh():
			k.cfg.Metrics.renewal(true)
			k.cfg.Metrics.leased(r.RenewedAt, r.Secret)
			if ttl, err := r.Secret.TokenTTL(); err == nil {
				*expires = r.RenewedAt.Add(ttl)
			}
			k.log.Debug("vault token renewed", slog.Time("at", r.RenewedAt))
		}
	}
}

func splitKeyPath(p string) (mount, name string, err error) {
	p = strings.Trim(p, "/")
	i := strings.LastIndex(p, "/keys/")
	if i <= 0 || i+len("/keys/") >= len(p) || strings.Contains(p[i+len("/keys/"):], "/") {
		return "", "", fmt.Errorf("%w: key path %q is not MOUNT/keys/NAME", ErrConfig, p)
	}
	return p[:i], p[i+len("/keys/"):], nil
}

// tokenPattern matches Vault tokens (service, batch and legacy forms).
var tokenPattern = regexp.MustCompile(`\b(hvs|hvb|s)\.[A-Za-z0-9_-]{20,}`)

// redact drops anything that looks like a Vault token from an error text.
func redact(err error) error {
	if err == nil {
		return errors.New("no answer")
	}
	return errors.New(tokenPattern.ReplaceAllString(err.Error(), "[token]"))
}
