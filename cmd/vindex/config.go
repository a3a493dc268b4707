package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vindex-nl/vindex/matcher"
)

// config is the configuration of `vindex serve` (and of the commands that
// read the same files: keys, tokens). Every setting is a YAML key in the
// --config file, a flag (the key with dashes) and an environment variable
// (VINDEX_ and the key in capitals). Flags win over the environment, the
// environment over the file, the file over the defaults.
type config struct {
	Listen          string        `yaml:"listen"`
	MetricsListen   string        `yaml:"metrics_listen"`
	Data            string        `yaml:"data"`
	Covenant        string        `yaml:"covenant"`
	TLSCert         string        `yaml:"tls_cert"`
	TLSKey          string        `yaml:"tls_key"`
	ClientCA        string        `yaml:"client_ca"`
	Tokens          string        `yaml:"tokens"`
	Keyset          string        `yaml:"keyset"`
	RefKeyset       string        `yaml:"ref_keyset"`
	KEK             string        `yaml:"kek"`
	KEKFile         string        `yaml:"kek_file"`
	VaultAddr       string        `yaml:"vault_addr"`
	VaultKeyPath    string        `yaml:"vault_key_path"`
	VaultCACert     string        `yaml:"vault_ca_cert"`
	VaultTokenFile  string        `yaml:"vault_token_file"`
	VaultRoleID     string        `yaml:"vault_role_id"`
	VaultSecretID   string        `yaml:"vault_secret_id_file"`
	VaultWrapped    bool          `yaml:"vault_secret_id_wrapped"`
	Deployment      string        `yaml:"deployment"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	LogLevel        string        `yaml:"log_level"`
	ExpireInterval  time.Duration `yaml:"expire_interval"`
	CompactInterval time.Duration `yaml:"compact_interval"`
	EventsPerHour   int           `yaml:"events_per_hour"`
	RefreshWindow   time.Duration `yaml:"refresh_window"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	TokenReload     time.Duration `yaml:"token_reload_interval"`
	CacheSize       int64         `yaml:"cache_size"`
	MinFreeDisk     int64         `yaml:"min_free_disk"`
	SMTPAddr        string        `yaml:"smtp_addr"`
	SMTPFrom        string        `yaml:"smtp_from"`
	SMTPUsername    string        `yaml:"smtp_username"`
	SMTPPassword    string        `yaml:"smtp_password_file"`
	SMTPTLS         string        `yaml:"smtp_tls"`
	SMTPCA          string        `yaml:"smtp_ca"`
	MailLanguage    string        `yaml:"mail_language"`
	MailTemplates   string        `yaml:"mail_templates"`
	Webhooks        string        `yaml:"webhooks"`
	WebhookCA       string        `yaml:"webhook_ca"`
	NotifyPoll      time.Duration `yaml:"notify_poll"`
	NotifyMaxAge    time.Duration `yaml:"notify_max_age"`
	AuditKey        string        `yaml:"audit_key"`
	AuditInterval   time.Duration `yaml:"audit_checkpoint_interval"`
	AuditFile       string        `yaml:"audit_checkpoint_file"`
	Replication     string        `yaml:"replication"`
	Node            string        `yaml:"node"`
	ReplicationCA   string        `yaml:"replication_ca"`
	ReplicationCert string        `yaml:"replication_cert"`
	ReplicationKey  string        `yaml:"replication_key"`
	LeaseTTL        time.Duration `yaml:"replication_lease_ttl"`

	// Notify is the nested form of the delivery settings in a --config
	// file (notify.smtp.address, …); see notifySection.
	Notify *notifySection `yaml:"notify"`

	// Dev is set by --dev only.
	Dev bool `yaml:"-"`
}

// notifySection is the notify: section of a --config file, the nested
// spelling of the delivery settings: notify.smtp.address is smtp_addr
// (--smtp-addr, VINDEX_SMTP_ADDR), and so on. A setting may be written
// either way in one file, not both.
type notifySection struct {
	SMTP struct {
		Address      *string `yaml:"address"`
		From         *string `yaml:"from"`
		Username     *string `yaml:"username"`
		PasswordFile *string `yaml:"password_file"`
		TLS          *string `yaml:"tls"`
		CA           *string `yaml:"ca"`
	} `yaml:"smtp"`
	Language  *string        `yaml:"language"`
	Templates *string        `yaml:"templates"`
	Webhooks  *string        `yaml:"webhooks"`
	WebhookCA *string        `yaml:"webhook_ca"`
	Poll      *time.Duration `yaml:"poll"`
	MaxAge    *time.Duration `yaml:"max_age"`
}

// apply copies the section's settings to their flat fields in c. flat
// holds the file's top-level keys, so that a setting written both ways is
// an error rather than a silent choice.
func (n *notifySection) apply(c *config, flat map[string]any) error {
	var errs []error
	str := func(nested, key string, v, dst *string) { takeSetting(&errs, flat, nested, key, v, dst) }
	dur := func(nested, key string, v, dst *time.Duration) { takeSetting(&errs, flat, nested, key, v, dst) }
	str("smtp.address", "smtp_addr", n.SMTP.Address, &c.SMTPAddr)
	str("smtp.from", "smtp_from", n.SMTP.From, &c.SMTPFrom)
	str("smtp.username", "smtp_username", n.SMTP.Username, &c.SMTPUsername)
	str("smtp.password_file", "smtp_password_file", n.SMTP.PasswordFile, &c.SMTPPassword)
	str("smtp.tls", "smtp_tls", n.SMTP.TLS, &c.SMTPTLS)
	str("smtp.ca", "smtp_ca", n.SMTP.CA, &c.SMTPCA)
	str("language", "mail_language", n.Language, &c.MailLanguage)
	str("templates", "mail_templates", n.Templates, &c.MailTemplates)
	str("webhooks", "webhooks", n.Webhooks, &c.Webhooks)
	str("webhook_ca", "webhook_ca", n.WebhookCA, &c.WebhookCA)
	dur("poll", "notify_poll", n.Poll, &c.NotifyPoll)
	dur("max_age", "notify_max_age", n.MaxAge, &c.NotifyMaxAge)
	return errors.Join(errs...)
}

// takeSetting copies the nested setting v (nil: not in the file) to dst,
// unless the file also has its flat key.
func takeSetting[T any](errs *[]error, flat map[string]any, nested, key string, v, dst *T) {
	if v == nil {
		return
	}
	if _, both := flat[key]; both {
		*errs = append(*errs, fmt.Errorf("notify.%s and %s are the same setting: write one", nested, key))
		return
	}
	*dst = *v
}

// storeDir is where the store lives.
func (c config) storeDir() string { return filepath.Join(c.Data, "store") }

func defaults(dev bool) config {
	c := config{
		Listen:          ":8443",
		MetricsListen:   defaultMetricsListen,
		Data:            "/var/lib/vindex",
		Deployment:      "vindex",
		KEK:             "vault",
		VaultKeyPath:    "transit/keys/vindex-kek",
		MaxBodyBytes:    16 << 10,
		LogLevel:        "info",
		ExpireInterval:  time.Hour,
		CompactInterval: 24 * time.Hour,
		EventsPerHour:   matcher.DefaultEventsPerHour,
		RefreshWindow:   matcher.DefaultRefreshWindow,
		ShutdownTimeout: 30 * time.Second,
		TokenReload:     5 * time.Second,
		CacheSize:       64 << 20,
		MinFreeDisk:     256 << 20,
		SMTPFrom:        "Verwijsindex <noreply@localhost>",
		SMTPTLS:         "required",
		MailLanguage:    "nl",
		NotifyPoll:      time.Second,
		NotifyMaxAge:    72 * time.Hour,
		AuditInterval:   time.Minute,
		LeaseTTL:        4 * time.Second,
	}
	if dev {
		c.Listen = "127.0.0.1:8443"
		c.Data = "vindex-data"
		c.KEK = "file"
		c.Dev = true
	}
	return c
}

// bind registers every setting of c as a flag of fs.
func bind(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "`address` of the HTTPS API (--dev: 127.0.0.1:8443)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "`address` of the plain-HTTP listener for /metrics, never the API's (keep it on loopback or an internal network); off: no metrics")
	fs.StringVar(&c.Data, "data", c.Data, "`directory` of the store (DIR/store) and, with --dev, of the development files (--dev: vindex-data)")
	fs.StringVar(&c.Covenant, "covenant", c.Covenant, "covenant YAML `file` (institutions, coordinator rules, limits, client certificate pins); with --dev, empty: the example covenant")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "server certificate chain, PEM `file`; with --dev, empty: a self-signed certificate in DIR")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "server private key, PEM `file`")
	fs.StringVar(&c.ClientCA, "client-ca", c.ClientCA, "CA certificates, PEM `file`, that issue institutions' client certificates; empty: no mutual TLS")
	fs.StringVar(&c.Tokens, "tokens", c.Tokens, "token `file` (institution-id sha256:HASH per line; reread when it changes); empty: no bearer tokens; with --dev: DIR/tokens")
	fs.StringVar(&c.Keyset, "keyset", c.Keyset, "wrapped PRF keyset `file` (vindex keys init); empty: DIR/keyset.tink")
	fs.StringVar(&c.RefKeyset, "ref-keyset", c.RefKeyset, "wrapped reference keyset `file` that seals client references (vindex keys init); empty: DIR/refkeys.tink")
	fs.StringVar(&c.KEK, "kek", c.KEK, "where the key-encryption key that wraps the keyset is: `vault` (Vault transit) or file (a local development key file; insecure) (--dev: file)")
	fs.StringVar(&c.KEKFile, "kek-file", c.KEKFile, "with --kek file: the development key-encryption key `file`; with --dev, empty: DIR/dev-kek.json")
	fs.StringVar(&c.VaultAddr, "vault-addr", c.VaultAddr, "with --kek vault: Vault's `address`, e.g. https://vault.example:8200")
	fs.StringVar(&c.VaultKeyPath, "vault-key-path", c.VaultKeyPath, "with --kek vault: the transit key, MOUNT/keys/NAME (aes256-gcm96, derived=false, not exportable)")
	fs.StringVar(&c.VaultCACert, "vault-ca-cert", c.VaultCACert, "with --kek vault: PEM `file` of the CA of Vault's certificate; empty: the system's roots")
	fs.StringVar(&c.VaultTokenFile, "vault-token-file", c.VaultTokenFile, "with --kek vault: `file` holding a Vault token (development); or use an AppRole")
	fs.StringVar(&c.VaultRoleID, "vault-role-id", c.VaultRoleID, "with --kek vault: the AppRole's role-id")
	fs.StringVar(&c.VaultSecretID, "vault-secret-id-file", c.VaultSecretID, "with --kek vault: `file` holding the AppRole's secret-id")
	fs.BoolVar(&c.VaultWrapped, "vault-secret-id-wrapped", c.VaultWrapped, "with --kek vault: the secret-id file holds a response-wrapping token (usable once)")
	fs.StringVar(&c.Deployment, "deployment", c.Deployment, "deployment `name` the keyset is bound to (associated data of its wrapping)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body in `bytes`")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "`level` of the JSON log on standard error: debug, info, warn or error")
	fs.DurationVar(&c.ExpireInterval, "expire-interval", c.ExpireInterval, "how often registrations past their end day are ended, the archive past its term and everything of youths of 23 destroyed (1m to 1h)")
	fs.DurationVar(&c.CompactInterval, "compact-interval", c.CompactInterval, "how often the store's files are rewritten so that destroyed records are gone from the disk too (1h to 168h)")
	fs.IntVar(&c.EventsPerHour, "events-per-hour", c.EventsPerHour, "most `events` about one youth an institution is told in an hour; the rest are summed up in one summary event when the hour is over")
	fs.DurationVar(&c.RefreshWindow, "refresh-window", c.RefreshWindow, "how long after an institution ended its own registration a new report of it revives that registration (a refresh, not a new match); 0: never")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish on SIGINT or SIGTERM")
	fs.DurationVar(&c.TokenReload, "token-reload-interval", c.TokenReload, "how often the token file is checked for changes (it is also reread on SIGHUP)")
	fs.Int64Var(&c.CacheSize, "cache-size", c.CacheSize, "store block cache in `bytes`")
	fs.StringVar(&c.SMTPAddr, "smtp-addr", c.SMTPAddr, "SMTP server `host:port` that mails the events; empty: no mail (with --dev: .eml files in DIR/mail)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", c.SMTPFrom, "sender `address` of the mails")
	fs.StringVar(&c.SMTPUsername, "smtp-username", c.SMTPUsername, "SMTP user name (PLAIN authentication, over TLS only); empty: no authentication")
	fs.StringVar(&c.SMTPPassword, "smtp-password-file", c.SMTPPassword, "`file` holding the SMTP password")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "STARTTLS `policy`: required, opportunistic, or none (only to a server on a loopback address)")
	fs.StringVar(&c.SMTPCA, "smtp-ca", c.SMTPCA, "PEM `file` of the CA of the SMTP server's certificate; empty: the system's roots")
	fs.StringVar(&c.MailLanguage, "mail-language", c.MailLanguage, "`language` of the mails: nl or en")
	fs.StringVar(&c.MailTemplates, "mail-templates", c.MailTemplates, "`directory` of the operator's own subject.tmpl, text.tmpl and html.tmpl; empty: the built-in ones")
	fs.StringVar(&c.Webhooks, "webhooks", c.Webhooks, "`file` of webhooks, a line each: institution-id https-URL whsec_SECRET (kept private like the token file)")
	fs.StringVar(&c.WebhookCA, "webhook-ca", c.WebhookCA, "PEM `file` of the CAs that issue the webhook receivers' certificates (e.g. a private government root); empty: the system's roots")
	fs.DurationVar(&c.NotifyPoll, "notify-poll", c.NotifyPoll, "how often the outbox is looked at for events to deliver")
	fs.DurationVar(&c.NotifyMaxAge, "notify-max-age", c.NotifyMaxAge, "how long an event is tried before it is given up (dead; vindex outbox retry)")
	fs.StringVar(&c.AuditKey, "audit-key", c.AuditKey, "wrapped signing key `file` of the audit log's checkpoints (vindex keys init); its public key is beside it, .pub for .key; empty: DIR/audit.key")
	fs.DurationVar(&c.AuditInterval, "audit-checkpoint-interval", c.AuditInterval, "how often the audit log's new entries are sealed into its Merkle tree and a checkpoint signed (1s to 1h)")
	fs.StringVar(&c.AuditFile, "audit-checkpoint-file", c.AuditFile, "`file` the newest signed audit checkpoint is written to (also served at GET /v1/audit/checkpoint); empty: DIR/audit-checkpoint")
	fs.StringVar(&c.Replication, "replication", c.Replication, "comma-separated `URLs` of the NATS servers (nats:// or tls://) of a replicated index: this server is one node of it (see above); empty: a single server")
	fs.StringVar(&c.Node, "node", c.Node, "with --replication: this node's `name`, unique in the cluster (letters, digits, - and _)")
	fs.StringVar(&c.ReplicationCA, "replication-ca", c.ReplicationCA, "with --replication: PEM `file` of the CA of the NATS servers' certificates; empty: the system's roots (with tls:// URLs or a client certificate)")
	fs.StringVar(&c.ReplicationCert, "replication-cert", c.ReplicationCert, "with --replication: this node's client certificate for the NATS servers, PEM `file`")
	fs.StringVar(&c.ReplicationKey, "replication-key", c.ReplicationKey, "with --replication: the client certificate's private key, PEM `file`")
	fs.DurationVar(&c.LeaseTTL, "replication-lease-ttl", c.LeaseTTL, "with --replication: how long the leader's lease lasts unrenewed; a dead leader is replaced within about 1.25 times it (the same on every node; 1s to 1m)")
	fs.Int64Var(&c.MinFreeDisk, "min-free-disk", c.MinFreeDisk, "free `bytes` on the data directory's file system below which writes are refused (503 storage_unavailable, /readyz not ready) until space is freed; -1: no check")
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "VINDEX_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig parses args (after the command name) into a config: defaults,
// then the --config file, then VINDEX_* variables, then the flags given.
// usage describes the command for --help.
func loadConfig(name, usage string, args []string, extra func(*flag.FlagSet)) (config, *flag.FlagSet, error) {
	probe := flag.NewFlagSet(name, flag.ContinueOnError)
	var scratch config = defaults(false)
	bind(probe, &scratch)
	configFile := probe.String("config", "", "YAML configuration `file`")
	dev := probe.Bool("dev", false, "development mode: everything in --data, made on first start (see above)")
	if extra != nil {
		extra(probe)
	}
	// The usage is printed for --help only; a bad flag is one line
	// (flagError).
	probe.SetOutput(io.Discard)
	probe.Usage = func() {}
	if err := probe.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			w := os.Stderr
			fmt.Fprint(w, usage)
			fmt.Fprintf(w, "\nSettings (each is also a key of the --config file with _ for -, and an\nenvironment variable VINDEX_NAME; flags win over the environment, the\nenvironment over the file, the file over the defaults). In the file the\ndelivery settings may instead be written as a notify: section\n(notify.smtp.address for smtp_addr; see examples/vindex.yaml):\n\n")
			probe.SetOutput(w)
			probe.PrintDefaults()
			return config{}, nil, err
		}
		return config{}, nil, flagError{cmd: name, err: err}
	}

	// The layers, weakest first: defaults, the file, the environment, the
	// flags given.
	c := defaults(*dev)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	bind(fs, &c)
	fs.String("config", "", "")
	fs.Bool("dev", false, "")
	if *configFile != "" {
		if err := readConfigFile(*configFile, &c); err != nil {
			return config{}, nil, err
		}
	}
	if err := errors.Join(setFromEnv(fs), setFromFlags(fs, probe)); err != nil {
		return config{}, nil, err
	}
	c.derivePaths()
	return c, fs, c.validate()
}

// readConfigFile decodes the YAML configuration file into c, refusing
// unknown keys; a notify: section is folded into the flat settings.
func readConfigFile(file string, c *config) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %v", file, err)
	}
	if c.Notify == nil {
		return nil
	}
	var flat map[string]any
	if err := yaml.Unmarshal(b, &flat); err != nil {
		return fmt.Errorf("config %s: %v", file, err)
	}
	if err := c.Notify.apply(c, flat); err != nil {
		return fmt.Errorf("config %s: %w", file, err)
	}
	c.Notify = nil
	return nil
}

// setFromEnv sets each setting of fs that has a VINDEX_NAME variable.
func setFromEnv(fs *flag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "dev" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// setFromFlags sets each setting of fs that was given as a flag to probe.
func setFromFlags(fs, probe *flag.FlagSet) error {
	var errs []error
	probe.Visit(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			return // a command's own flag, not a setting
		}
		if err := fs.Set(f.Name, f.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("-%s: %v", f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// derivePaths fills in the files that default to a place in the data
// directory: the keysets always, and with --dev the development KEK,
// the token file and the TLS certificate.
func (c *config) derivePaths() {
	if c.RefKeyset == "" {
		c.RefKeyset = filepath.Join(c.Data, "refkeys.tink")
	}
	if c.Keyset == "" {
		c.Keyset = filepath.Join(c.Data, "keyset.tink")
	}
	if c.AuditKey == "" {
		c.AuditKey = filepath.Join(c.Data, "audit.key")
	}
	if c.AuditFile == "" {
		c.AuditFile = filepath.Join(c.Data, "audit-checkpoint")
	}
	if !c.Dev {
		return
	}
	if c.KEK == "file" && c.KEKFile == "" {
		c.KEKFile = filepath.Join(c.Data, "dev-kek.json")
	}
	if c.Tokens == "" {
		c.Tokens = filepath.Join(c.Data, "tokens")
	}
	if c.TLSCert == "" && c.TLSKey == "" {
		c.TLSCert = filepath.Join(c.Data, "dev-tls.crt")
		c.TLSKey = filepath.Join(c.Data, "dev-tls.key")
	}
}

// validateKEK checks the key-encryption key's settings. Only the commands
// that unwrap or make a keyset need them (openKEK checks them first), so
// that, say, vindex tokens new --tokens FILE --covenant FILE works without.
func (c *config) validateKEK() error {
	var errs []error
	switch c.KEK {
	case "file":
		if c.KEKFile == "" {
			errs = append(errs, errors.New("kek file: kek_file is required"))
		}
	case "vault":
		if c.VaultAddr == "" {
			errs = append(errs, errors.New("kek vault: vault_addr is required"+c.devHint()))
		}
		if c.VaultTokenFile == "" && (c.VaultRoleID == "" || c.VaultSecretID == "") {
			errs = append(errs, errors.New("kek vault: give vault_token_file, or vault_role_id and vault_secret_id_file"))
		}
	default:
		errs = append(errs, fmt.Errorf("kek: %q is not vault or file", c.KEK))
	}
	return errors.Join(errs...)
}

// devHint says, for a command run without --dev, where a development
// set-up (the one vindex serve --dev makes) is found and how to use it; ""
// if there is none.
func (c *config) devHint() string {
	if c.Dev {
		return ""
	}
	for _, dir := range []string{c.Data, defaults(true).Data} {
		if _, err := os.Stat(filepath.Join(dir, "dev-kek.json")); err == nil {
			if dir == defaults(true).Data {
				return fmt.Sprintf(" (%s holds a development set-up: add --dev to use it)", dir)
			}
			return fmt.Sprintf(" (%s holds a development set-up: add --dev --data %s to use it)", dir, dir)
		}
	}
	return ""
}

// defaultMetricsListen is where /metrics is served unless metrics_listen
// says otherwise: loopback only, plain HTTP, never the API's listener.
const defaultMetricsListen = "127.0.0.1:9464"

// metricsOff is the metrics_listen value that serves no metrics.
const metricsOff = "off"

// validateMetricsListen: metrics_listen is "off" or an address of its own.
// /metrics is never served on the API's listener, where anyone who reaches
// the port could make the service work for free.
func (c *config) validateMetricsListen() error {
	if c.MetricsListen == metricsOff {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
		return fmt.Errorf("metrics_listen: %q is not host:port or %s (default %s)", c.MetricsListen, metricsOff, defaultMetricsListen)
	}
	if _, port, _ := net.SplitHostPort(c.MetricsListen); c.MetricsListen == c.Listen && port != "0" {
		return fmt.Errorf("metrics_listen: %s is the API's listen address; /metrics is never served on the API's listener: give it an address of its own, or %s", c.MetricsListen, metricsOff)
	}
	return nil
}

func (c *config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: an address is required"))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: a directory is required"))
	}
	if err := c.validateMetricsListen(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max_body_bytes: at least 1024"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.ExpireInterval < time.Minute || c.ExpireInterval > time.Hour {
		// At most an hour: what the law says must be destroyed on a day
		// (the 23rd birthday, the end of the archive term) is gone at
		// most one interval after that day began.
		errs = append(errs, errors.New("expire_interval: from 1m to 1h"))
	}
	if c.AuditInterval < time.Second || c.AuditInterval > time.Hour {
		// At most an hour: what no checkpoint covers can be rewritten
		// unseen, so the interval bounds that window.
		errs = append(errs, errors.New("audit_checkpoint_interval: from 1s to 1h"))
	}
	if c.CompactInterval < time.Hour || c.CompactInterval > 7*24*time.Hour {
		errs = append(errs, errors.New("compact_interval: from 1h to 168h"))
	}
	if c.EventsPerHour < 1 {
		errs = append(errs, errors.New("events_per_hour: at least 1"))
	}
	if c.RefreshWindow < 0 {
		errs = append(errs, errors.New("refresh_window: 0 (never) or more"))
	}
	if c.TokenReload < 100*time.Millisecond {
		errs = append(errs, errors.New("token_reload_interval: at least 100ms"))
	}
	switch c.SMTPTLS {
	case "required", "opportunistic", "none":
	default:
		errs = append(errs, fmt.Errorf("smtp_tls: %q is not required, opportunistic or none", c.SMTPTLS))
	}
	if c.MailLanguage != "nl" && c.MailLanguage != "en" {
		errs = append(errs, fmt.Errorf("mail_language: %q is not nl or en", c.MailLanguage))
	}
	if c.NotifyPoll < 10*time.Millisecond || c.NotifyMaxAge < time.Minute {
		errs = append(errs, errors.New("notify_poll: at least 10ms; notify_max_age: at least 1m"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key go together"))
	}
	errs = append(errs, c.validateReplication()...)
	return errors.Join(errs...)
}
