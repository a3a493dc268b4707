package main

// vindex keyholder: the blind mode's key holder as its own process (package
// keyholder), with its own data directory, its own key wrapped by a
// key-encryption key as vindex's keysets are, and its own token file. It
// never opens vindex's store or reads vindex's configuration.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/bufferedlog"
	"github.com/vindex-nl/vindex/keyholder"
)

const keyholderUsage = `Usage:
  vindex keyholder init [--dev] [flags]          make the key holder's key
  vindex keyholder serve [--dev] [flags]         run the key holder over HTTPS
  vindex keyholder rotate --rotation-out FILE [--dev] [flags]
                                                 make the next key and the rotation to it
  vindex keyholder rotate --finish [--dev] [flags]
                                                 make the next key the current one
  vindex keyholder public-key [--next] [--dev] [flags]
                                                 print the public key (or the next one)
  vindex keyholder token new CLIENT [flags]      issue a bearer token

The key holder of the blind mode (docs/blind.md, "Running a key holder"):
a process of its own, which another organisation than the index's may run.
It evaluates blinded elements under its private key for clients holding one
of its tokens (POST /v1/evaluate) and publishes its public key (GET
/v1/public-key). It never sees a BSN, stores nothing about its inputs, logs
only counts, and never opens vindex's store: it has its own data directory
(--data) and its own settings (flags only; no configuration file).

  init        makes a random key (a 32-byte ristretto255 scalar), wraps it
              with the key-encryption key (--kek: Vault transit, or with
              --dev a development key file), bound to --deployment, into
              --key (default DIR/keyholder.key), and writes the public key
              in the clear beside it (.pub for .key). It refuses to replace
              a key: elements made under it would no longer match.
  serve       unwraps the key once at start (Vault is not needed again),
              and serves over TLS (--tls-cert, --tls-key) to the clients of
              --tokens. With --dev it needs nothing else: in
              ./vindex-keyholder-data it makes a development KEK, the key, a
              self-signed certificate for 127.0.0.1 and localhost and a
              token for the client "dev", listens on 127.0.0.1:8444 and
              prints the token and the public key. SIGHUP rereads the token
              file, not the key: a serve keeps the key it unwrapped at start
              until it is restarted. It logs the key ID of a next key that
              waits for "rotate --finish". SIGINT or SIGTERM stops it.
  rotate      replaces the key without any BSN (docs/blind.md, "Rotating a
              key holder's key"), in two steps:
              --rotation-out FILE unwraps the key, makes a random next key,
              wraps it as init does into DIR/keyholder.next.key (public key
              in .next.pub) and writes the rotation (both key IDs and the
              ratio that re-keys every element) to FILE, mode 0600. FILE is
              secret: hand it to the index's operator over a confidential
              channel (vindex keys rotate --blind --keyholder-rotation FILE),
              then delete your copy; give the clients the next public key.
              --finish, once the index has taken the rotation, unwraps the
              next key and renames it over the key (and its .pub): the old
              wrapped key is gone from DIR; destroy its backups too. Restart
              serve afterwards. rotate refuses while a next key waits, and
              never replaces FILE.
  public-key  prints the public key (base64) from the .pub file, to give
              to the clients that trust this key holder; with --next, the
              next key's, from the .next.pub file.
  token new   adds a token for CLIENT (a name of the operator's choosing)
              to --tokens, as its hash, and prints the token once.

Run "vindex keyholder COMMAND --help" for a command's settings.
`

// khConfig are the key holder's settings.
type khConfig struct {
	Data, Key, Deployment, Tokens string
	KEK                           config // its key-encryption key settings only
	Listen, MetricsListen         string
	TLSCert, TLSKey               string
	ElementsPerSecond             float64
	LogLevel                      string
	ShutdownTimeout               time.Duration
	Dev                           bool
	RotationOut                   string // rotate: where the rotation file is written
	Finish                        bool   // rotate --finish
	Next                          bool   // public-key --next
	cmd                           string // the subcommand whose settings were bound
}

// pubPath is where the public key is written: the key's path with .pub for
// .key.
func (c khConfig) pubPath() string { return strings.TrimSuffix(c.Key, ".key") + ".pub" }

// nextKeyPath is where rotate writes the next key, wrapped: the key's path
// with .next.key for .key.
func (c khConfig) nextKeyPath() string { return strings.TrimSuffix(c.Key, ".key") + ".next.key" }

// nextPubPath is where rotate writes the next key's public key.
func (c khConfig) nextPubPath() string { return strings.TrimSuffix(c.Key, ".key") + ".next.pub" }

// keyholderFlags binds the settings of the key holder's command cmd to fs:
// the shared ones, and serve's, rotate's and public-key's own.
func keyholderFlags(fs *flag.FlagSet, c *khConfig, cmd string) {
	c.cmd = cmd
	fs.StringVar(&c.Data, "data", "/var/lib/vindex-keyholder", "`directory` of the key holder's files (--dev: vindex-keyholder-data); never vindex's")
	fs.StringVar(&c.Key, "key", "", "wrapped key `file`; its public key is beside it, .pub for .key; empty: DIR/keyholder.key")
	fs.StringVar(&c.Deployment, "deployment", "keyholder", "deployment `name` the key is bound to (associated data of its wrapping)")
	fs.StringVar(&c.Tokens, "tokens", "", "token `file`: a \"client-name sha256:HEX\" line per token; empty: DIR/tokens")
	fs.BoolVar(&c.Dev, "dev", false, "development mode: everything in --data, made on first use (a development KEK; with serve a certificate and a token)")
	k := &c.KEK
	fs.StringVar(&k.KEK, "kek", "vault", "where the key-encryption key is: `vault` (Vault transit) or file (a local development key file; insecure) (--dev: file)")
	fs.StringVar(&k.KEKFile, "kek-file", "", "with --kek file: the development key-encryption key `file`; with --dev, empty: DIR/dev-kek.json")
	fs.StringVar(&k.VaultAddr, "vault-addr", "", "with --kek vault: Vault's `address`")
	fs.StringVar(&k.VaultKeyPath, "vault-key-path", "transit/keys/vindex-keyholder-kek", "with --kek vault: the transit key, MOUNT/keys/NAME")
	fs.StringVar(&k.VaultCACert, "vault-ca-cert", "", "with --kek vault: PEM `file` of the CA of Vault's certificate; empty: the system's roots")
	fs.StringVar(&k.VaultTokenFile, "vault-token-file", "", "with --kek vault: `file` holding a Vault token; or use an AppRole")
	fs.StringVar(&k.VaultRoleID, "vault-role-id", "", "with --kek vault: the AppRole's role-id")
	fs.StringVar(&k.VaultSecretID, "vault-secret-id-file", "", "with --kek vault: `file` holding the AppRole's secret-id")
	fs.BoolVar(&k.VaultWrapped, "vault-secret-id-wrapped", false, "with --kek vault: the secret-id file holds a response-wrapping token (usable once)")
	switch cmd {
	case "rotate":
		fs.StringVar(&c.RotationOut, "rotation-out", "", "new `file` for the rotation to the next key (secret; mode 0600; never replaced), for the index's operator")
		fs.BoolVar(&c.Finish, "finish", false, "make the next key the current one, once the index has taken the rotation; the old wrapped key is gone from DIR; restart serve afterwards")
		return
	case "public-key":
		fs.BoolVar(&c.Next, "next", false, "print the next key's public key (made by rotate, waiting for rotate --finish)")
		return
	}
	if cmd != "serve" {
		return
	}
	fs.StringVar(&c.Listen, "listen", ":8444", "`address` of the HTTPS service (--dev: 127.0.0.1:8444)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "127.0.0.1:9465", "`address` of the plain-HTTP listener for /metrics, never the service's; off: no metrics")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "server certificate chain, PEM `file`; with --dev, empty: a self-signed certificate in DIR")
	fs.StringVar(&c.TLSKey, "tls-key", "", "server private key, PEM `file`")
	fs.Float64Var(&c.ElementsPerSecond, "elements-per-second", keyholder.DefaultElementsPerSecond, "each client's sustained `rate` in evaluated elements (a batch of 64 counts 64); a full batch may always pass after a pause")
	fs.StringVar(&c.LogLevel, "log-level", "info", "`level` of the JSON log on standard error: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGINT or SIGTERM")
}

// parseKeyholder parses a subcommand's flags (and positional arguments,
// returned) and fills in the defaults that depend on --data and --dev.
func parseKeyholder(name string, args []string, stderr io.Writer) (khConfig, []string, error) {
	var c khConfig
	serve := name == "serve"
	fs := flag.NewFlagSet("keyholder "+name, flag.ContinueOnError)
	keyholderFlags(fs, &c, name)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, keyholderUsage+"\nSettings of vindex keyholder "+name+":\n\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return c, nil, err
		}
		return c, nil, flagError{cmd: "keyholder " + name, err: err}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if c.Dev {
		if !given["data"] {
			c.Data = "vindex-keyholder-data"
		}
		if !given["kek"] {
			c.KEK.KEK = "file"
		}
		if c.KEK.KEK == "file" && c.KEK.KEKFile == "" {
			c.KEK.KEKFile = filepath.Join(c.Data, "dev-kek.json")
		}
		if serve && !given["listen"] {
			c.Listen = "127.0.0.1:8444"
		}
		if serve && c.TLSCert == "" && c.TLSKey == "" {
			c.TLSCert, c.TLSKey = filepath.Join(c.Data, "dev-tls.crt"), filepath.Join(c.Data, "dev-tls.key")
		}
	}
	if c.Key == "" {
		c.Key = filepath.Join(c.Data, "keyholder.key")
	}
	if c.Tokens == "" {
		c.Tokens = filepath.Join(c.Data, "tokens")
	}
	c.KEK.Data, c.KEK.Dev = c.Data, c.Dev
	return c, fs.Args(), c.validate()
}

func (c khConfig) validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("data: a directory is required"))
	}
	if !strings.HasSuffix(c.Key, ".key") {
		errs = append(errs, fmt.Errorf("key: %s must end in .key (the public key is written beside it as .pub)", c.Key))
	}
	if c.cmd == "rotate" {
		switch {
		case c.Finish && c.RotationOut != "":
			errs = append(errs, errors.New("rotation-out: --finish writes no rotation; it was written by rotate --rotation-out"))
		case !c.Finish && c.RotationOut == "":
			errs = append(errs, errors.New("rotation-out: a new file for the rotation is required (or --finish)"))
		}
	}
	if c.cmd == "serve" {
		if c.TLSCert == "" || c.TLSKey == "" {
			errs = append(errs, errors.New("tls_cert and tls_key are required (or --dev)"))
		}
		if !(c.ElementsPerSecond > 0) {
			errs = append(errs, errors.New("elements-per-second: more than 0"))
		}
		switch c.LogLevel {
		case "debug", "info", "warn", "error":
		default:
			errs = append(errs, fmt.Errorf("log-level: %q is not debug, info, warn or error", c.LogLevel))
		}
		if _, port, _ := net.SplitHostPort(c.MetricsListen); c.MetricsListen != metricsOff && c.MetricsListen == c.Listen && port != "0" {
			errs = append(errs, errors.New("metrics-listen: /metrics is never served on the service's listener"))
		}
	}
	return errors.Join(errs...)
}

func keyholderCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		return printUsage(stderr, keyholderUsage, args)
	}
	switch args[0] {
	case "init":
		return keyholderInit(args[1:], stdout, stderr)
	case "serve":
		return keyholderServe(args[1:], stdout, stderr)
	case "rotate":
		return keyholderRotate(args[1:], stdout, stderr)
	case "public-key":
		return keyholderPublicKey(args[1:], stdout, stderr)
	case "token":
		if len(args) < 3 || args[1] != "new" || strings.HasPrefix(args[2], "-") {
			return printUsage(stderr, keyholderUsage, args)
		}
		return keyholderToken(args[2], args[3:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vindex keyholder: unknown command %q\n\n", args[0])
	return printUsage(stderr, keyholderUsage, args)
}

// keyholderInit makes the key, wrapped, and its public key file.
func keyholderInit(args []string, stdout, stderr io.Writer) error {
	c, rest, err := parseKeyholder("init", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return flagError{cmd: "keyholder init", err: fmt.Errorf("unexpected argument %q", rest[0])}
	}
	logger := newLogger(stderr, "info")
	k, err := openKeyholderKEK(c, logger, true)
	if err != nil {
		return err
	}
	defer k.Close()
	pub, err := makeKeyholderKey(c, k)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %s wrapped with the %s\npublic key %s (key ID %s) in %s\n",
		c.Key, k.describe(c.KEK), pub, keyholder.KeyID(pub), c.pubPath())
	return nil
}

// openKeyholderKEK opens the key-encryption key; with --dev and create it
// makes the data directory and a development KEK first if they are
// missing.
func openKeyholderKEK(c khConfig, logger *slog.Logger, create bool) (*kek, error) {
	if err := c.KEK.validateKEK(); err != nil {
		return nil, err
	}
	if err := checkDataDir(c.Data); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	if c.Dev && c.KEK.KEK == "file" && !exists(c.KEK.KEKFile) {
		if !create {
			return nil, fmt.Errorf("no development key-encryption key at %s: the key holder's key was wrapped with it", c.KEK.KEKFile)
		}
		if err := insecurelocalkek.Create(c.KEK.KEKFile); err != nil {
			return nil, err
		}
		logger.Warn("made a development key-encryption key; never use it in production", slog.String("file", c.KEK.KEKFile))
	}
	return openKEK(c.KEK, logger)
}

// makeKeyholderKey makes a key, writes it wrapped with k and its public
// key in the clear. It never replaces a key.
func makeKeyholderKey(c khConfig, k *kek) (oprf.PublicKey, error) {
	if exists(c.Key) {
		return oprf.PublicKey{}, fmt.Errorf("%s exists: a key holder's key is never replaced by init (every element made under it would stop matching)", c.Key)
	}
	key := oprf.GenerateKey()
	return key.Public(), saveKeyholderKey(c, k, key, c.Key, c.pubPath())
}

// saveKeyholderKey writes key wrapped with k, bound to c's deployment, to
// keyPath, then its public key to pubPath, each atomically (a temporary
// file synced, renamed, the directory synced).
func saveKeyholderKey(c khConfig, k *kek, key *oprf.PrivateKey, keyPath, pubPath string) error {
	secret, err := key.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(secret)
	if err := keys.SaveSealed(keyPath, secret, k.aead, keys.KeyholderAssociatedData(c.Deployment)); err != nil {
		return err
	}
	return writePublicKey(pubPath, key.Public())
}

func writePublicKey(path string, pub oprf.PublicKey) error {
	return keys.WriteFileAtomic(path, []byte(pub.String()+"\n"))
}

// loadKeyholderKey unwraps the key with k and checks the public key file
// against it (writing it if it is missing).
func loadKeyholderKey(c khConfig, k *kek) (*oprf.PrivateKey, error) {
	key, err := unwrapKeyholderKey(c, k, c.Key)
	if errors.Is(err, keys.ErrNotFound) {
		return nil, fmt.Errorf("%w: the key holder's key; `vindex keyholder init` makes it", err)
	}
	if err != nil {
		return nil, err
	}
	pub, err := readPublicKey(c.pubPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return key, writePublicKey(c.pubPath(), key.Public())
	case err != nil:
		return nil, err
	case !pub.Equal(key.Public()) && exists(c.nextKeyPath()):
		return nil, fmt.Errorf("%s is not the public key of %s: an interrupted `vindex keyholder rotate --finish`? Run it again", c.pubPath(), c.Key)
	case !pub.Equal(key.Public()):
		return nil, fmt.Errorf("%s is not the public key of %s: clients would refuse every answer", c.pubPath(), c.Key)
	}
	return key, nil
}

// unwrapKeyholderKey unwraps the key at path with k, bound to c's
// deployment.
func unwrapKeyholderKey(c khConfig, k *kek, path string) (*oprf.PrivateKey, error) {
	secret, err := keys.LoadSealed(path, k.aead, keys.KeyholderAssociatedData(c.Deployment))
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	key, err := oprf.ParsePrivateKey(secret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// readPublicKey reads a public key file (one line of base64).
func readPublicKey(path string) (oprf.PublicKey, error) {
	var pub oprf.PublicKey
	b, err := os.ReadFile(path)
	if err != nil {
		return pub, err
	}
	if err := pub.UnmarshalText([]byte(strings.TrimSpace(string(b)))); err != nil {
		return pub, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// keyholderPublicKey prints the public key from the .pub file.
func keyholderPublicKey(args []string, stdout, stderr io.Writer) error {
	c, _, err := parseKeyholder("public-key", args, stderr)
	if err != nil {
		return err
	}
	if c.Next {
		pub, err := readPublicKey(c.nextPubPath())
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no next public key at %s: `vindex keyholder rotate --rotation-out FILE` makes the next key and it", c.nextPubPath())
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, pub)
		return nil
	}
	pub, err := readPublicKey(c.pubPath())
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no public key at %s: `vindex keyholder init` makes the key and it", c.pubPath())
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pub)
	return nil
}

// keyholderToken adds a token for client to the token file and prints it.
func keyholderToken(client string, args []string, stdout, stderr io.Writer) error {
	c, _, err := parseKeyholder("token new", args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.Tokens), 0o700); err != nil {
		return err
	}
	tok, err := appendToken(c.Tokens, client)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// appendToken adds a new token of client to the token file (made if
// missing) and returns it.
func appendToken(path, client string) (string, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok, line := keyholder.NewToken(client)
	if len(old) == 0 {
		old = []byte("# client-name sha256:HEX of its token (vindex keyholder token new CLIENT)\n")
	} else if old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	return tok, keys.WriteFileAtomic(path, append(old, line+"\n"...))
}

// keyholderServe runs the key holder until SIGINT or SIGTERM.
func keyholderServe(args []string, stdout, stderr io.Writer) error {
	c, rest, err := parseKeyholder("serve", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return flagError{cmd: "keyholder serve", err: fmt.Errorf("unexpected argument %q", rest[0])}
	}
	blog := bufferedlog.New(stderr, level(c.LogLevel), 200*time.Millisecond)
	defer blog.Close()
	logger := blog.Logger
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	key, devToken, err := keyholderStart(c, logger)
	if err != nil {
		return err
	}
	return runKeyholder(ctx, c, key, devToken, stdout, logger)
}

// keyholderStart unwraps the key (with --dev making what is missing
// first) and closes the key-encryption key: it is not needed again.
func keyholderStart(c khConfig, logger *slog.Logger) (*oprf.PrivateKey, string, error) {
	k, err := openKeyholderKEK(c, logger, true)
	if err != nil {
		return nil, "", err
	}
	defer k.Close()
	var devToken string
	if c.Dev {
		if devToken, err = keyholderDevSetup(c, k, logger); err != nil {
			return nil, "", err
		}
	}
	key, err := loadKeyholderKey(c, k)
	if err != nil {
		return nil, "", err
	}
	logger.Info("key unwrapped", slog.String("kek", k.describe(c.KEK)), slog.String("key_id", keyholder.KeyID(key.Public())))
	logNextKey(c, logger)
	return key, devToken, nil
}

// logNextKey logs the key ID of a next key that waits for `rotate
// --finish`, if there is one: serve goes on with the current key.
func logNextKey(c khConfig, logger *slog.Logger) {
	if !exists(c.nextKeyPath()) {
		return
	}
	id := "unknown (no " + filepath.Base(c.nextPubPath()) + ")"
	if pub, err := readPublicKey(c.nextPubPath()); err == nil {
		id = keyholder.KeyID(pub)
	}
	logger.Info("next key waiting; serving the current key until rotate --finish and a restart",
		slog.String("next_key_id", id), slog.String("file", c.nextKeyPath()))
}

// keyholderDevSetup makes what serve --dev needs and is missing: the key,
// a self-signed certificate, and a token for the client "dev" (in the
// clear in dev-tokens.txt, to print it again). It returns the token.
func keyholderDevSetup(c khConfig, k *kek, logger *slog.Logger) (string, error) {
	if !exists(c.Key) {
		if _, err := makeKeyholderKey(c, k); err != nil {
			return "", err
		}
		logger.Info("made the key holder's key", slog.String("file", c.Key))
	}
	if err := devCertificate(c.TLSCert, c.TLSKey, logger); err != nil {
		return "", err
	}
	clearFile := filepath.Join(c.Data, "dev-tokens.txt")
	if b, err := os.ReadFile(clearFile); err == nil && exists(c.Tokens) {
		return strings.TrimSpace(string(b)), nil
	}
	tok, err := appendToken(c.Tokens, "dev")
	if err != nil {
		return "", err
	}
	return tok, keys.WriteFileAtomic(clearFile, []byte(tok+"\n"))
}

// runKeyholder serves until ctx is done, then shuts down gracefully.
func runKeyholder(ctx context.Context, c khConfig, key *oprf.PrivateKey, devToken string, stdout io.Writer, logger *slog.Logger) error {
	tokens, err := keyholder.LoadTokens(c.Tokens)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	metrics := keyholder.NewMetrics()
	h, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens, ElementsPerSecond: c.ElementsPerSecond, Metrics: metrics, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	failed := make(chan error, 2)
	srv := httpapi.NewServer(c.Listen, h, httpapi.TLSConfig(cert, nil), logger)
	go func() { failed <- srv.ServeTLS(ln, "", "") }()
	msrv, err := serveKeyholderMetrics(c, metrics, failed, logger)
	if err != nil {
		srv.Close()
		return err
	}
	addr := ln.Addr().String()
	logger.Info("serving", slog.String("addr", addr), slog.String("key_id", keyholder.KeyID(key.Public())), slog.Int("tokens", tokens.Len()))
	if c.Dev {
		fmt.Fprintf(stdout, "vindex key holder (development mode) on https://%s, data in %s\ntoken dev %s\npublic key %s\n",
			addr, c.Data, devToken, key.Public())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-hup:
			if err := tokens.Reload(); err != nil {
				logger.Error("token file not reloaded; keeping the tokens in use", slog.String("error", err.Error()))
			} else {
				logger.Info("token file reloaded", slog.Int("tokens", tokens.Len()))
			}
		case <-ctx.Done():
			done = true
		case err := <-failed:
			logger.Error("server failed", slog.String("error", err.Error()))
			done = true
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// serveKeyholderMetrics serves the key holder's metrics and the Go
// runtime's on c.MetricsListen (nil server: off).
func serveKeyholderMetrics(c khConfig, m *keyholder.Metrics, failed chan<- error, logger *slog.Logger) (*http.Server, error) {
	if c.MetricsListen == metricsOff {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", c.MetricsListen, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { failed <- srv.Serve(ln) }()
	logger.Info("serving metrics", slog.String("addr", ln.Addr().String()))
	return srv, nil
}
