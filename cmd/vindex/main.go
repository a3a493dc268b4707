// Command vindex runs the vindex index and the tools around it.
//
//	vindex serve [--dev] [--config FILE]       run the HTTPS API
//	vindex keys init|status|rotate|retire|rewrap manage the PRF and reference keysets
//	vindex tokens new INSTITUTION               issue a bearer token
//	vindex import FILE                          import registrations from CSV
//	vindex objection --scope S [flags] < YOUTH  carry out an upheld objection
//	vindex bench [flags]                        load generator and report
//	vindex outbox status|retry                  delivery of events
//	vindex subject-access [flags] < YOUTH       a youth's registrations and the access letter
//	vindex stats --year YEAR [flags]            the region's management figures
//	vindex backup --out DIR2 [flags]            a consistent copy of the data directory
//	vindex backup verify DIR2                   check a backup, read-only
//	vindex restore DIR2 --data DIR              restore a backup
//	vindex cluster status --replication URLS    a replicated index's leader and nodes
//	vindex audit verify|prove SEQ [flags]       check the audit log, prove one entry
//	vindex audit extract [flags] < YOUTH        who accessed a youth, from the audit log
//	vindex keyholder init|serve|rotate|public-key|token
//	                                            the blind mode's key holder
//	vindex covenant check FILE                  validate a covenant
//	vindex covenant test FILE SCENARIOS...      run covenant scenario files
//	vindex covenant blind-addresses [flags]     the excluded addresses' elements
//	                                            (blind mode, with the key holders)
//	vindex version                              print the version
//
// Every command explains itself with --help.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
)

const usage = `vindex: pseudonymised matching of institutions involved with the same youth.

Usage:
  vindex serve [--dev] [--config FILE] [flags]   run the HTTPS API
  vindex keys init|status|rotate|retire|rewrap    manage the PRF and reference keysets
  vindex tokens new INSTITUTION [flags]           issue a bearer token
  vindex import FILE [flags]                      import registrations from CSV
  vindex objection --scope S [flags] < YOUTH      carry out an upheld objection
  vindex bench [flags]                            measure: load, report, baselines
  vindex outbox status|retry [INSTITUTION]        delivery of events (mail, webhooks)
  vindex subject-access [flags] < YOUTH           a youth's registrations, and the letter
                                                  that answers a request for access
  vindex audit verify|prove SEQ|extract [flags]   check the audit log against its signed
                                                  checkpoints, prove one entry; who
                                                  accessed a youth (extract < YOUTH)
  vindex stats --year YEAR [flags]                the region's management figures
  vindex backup --out DIR2 [flags]                a consistent copy of the data directory,
                                                  also while vindex serve runs
  vindex backup verify DIR2                       check a backup (read-only): every record,
                                                  the indexes, the counts
  vindex restore DIR2 --data DIR                  verify a backup and restore it into DIR
  vindex cluster status --replication URLS        a replicated index: the leader, the log,
                                                  each node's position and lag
  vindex keyholder init|serve|rotate|public-key|token
                                                  the blind mode's key holder, a process of its own
  vindex covenant check FILE                      validate a covenant
  vindex covenant test FILE SCENARIOS...          run covenant scenario files
  vindex covenant blind-addresses [flags]         the covenant's excluded addresses as
                                                  elements, made with the key holders
                                                  (blind mode; not run by the index)
  vindex version                                  print the version

YOUTH is the line "BSN BIRTH_DATE", on standard input or in --input FILE.
Run "vindex COMMAND --help" for a command's settings.
Start with: vindex serve --dev
`

// errUsage marks an error whose message is the usage already printed.
var errUsage = errors.New("usage")

// printUsage prints a command's usage text and returns flag.ErrHelp if help was
// asked for (exit status 0), errUsage otherwise (exit status 2).
func printUsage(stderr io.Writer, text string, args []string) error {
	fmt.Fprint(stderr, text)
	if slices.ContainsFunc(args, isHelp) {
		return flag.ErrHelp
	}
	return errUsage
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// flagError is a bad flag or flag value of a command (exit status 2):
// printed as one line that points at the command's --help, not as the
// whole usage.
type flagError struct {
	cmd string // "serve", "keys status", …
	err error
}

func (e flagError) Error() string {
	return fmt.Sprintf("%s: %v (vindex %s --help lists them)", e.cmd, e.err, e.cmd)
}

func (e flagError) Unwrap() error { return e.err }

// exitError carries an exit status other than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	err := vindex(os.Args[1:], os.Stdout, os.Stderr)
	var ee exitError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.As(err, new(flagError)):
		fmt.Fprintln(os.Stderr, "vindex", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "vindex:", err)
		os.Exit(1)
	}
}

func vindex(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "keys":
		return keysCmd(args[1:], stdout, stderr)
	case "tokens":
		return tokensCmd(args[1:], stdout, stderr)
	case "import":
		return importCmd(args[1:], stdout, stderr)
	case "objection":
		return objectionCmd(args[1:], os.Stdin, stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "outbox":
		return outboxCmd(args[1:], stdout, stderr)
	case "covenant":
		return covenantCmd(args[1:], stdout, stderr)
	case "subject-access":
		return subjectAccessCmd(args[1:], os.Stdin, stdout, stderr)
	case "audit":
		return auditCmd(args[1:], os.Stdin, stdout, stderr)
	case "stats":
		return statsCmd(args[1:], stdout, stderr)
	case "keyholder":
		return keyholderCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "cluster":
		return clusterCmd(args[1:], stdout, stderr)
	case "version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "vindex: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

const versionUsage = `Usage: vindex version

Prints the module version and the VCS revision the binary was built from
("(modified)" if the work tree had changes), and the Go release. A binary
built by go install github.com/vindex-nl/vindex/cmd/vindex@VERSION knows its
version; one built in a clone knows its revision when built with VCS
information (go build -buildvcs=true -o vindex ./cmd/vindex; it is the
default unless GOFLAGS says -buildvcs=false).
`

// versionCmd prints the version; it takes no arguments.
func versionCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return printUsage(stderr, versionUsage, args)
	}
	fmt.Fprintln(stdout, version())
	return nil
}

// version returns the module version and VCS revision the binary was built
// from, and the Go version; a build without either says how to get them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "vindex (unknown version)"
	}
	v := "vindex " + bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev != "" {
		v += " " + rev + modified
	}
	v += " " + bi.GoVersion
	if rev == "" && (bi.Main.Version == "" || bi.Main.Version == "(devel)") {
		v += " (built without version or VCS information: see vindex version --help)"
	}
	return v
}

// scanFields calls fn with the whitespace-separated fields of each line of
// r that is neither empty nor a # comment, and its line number: the form of
// vindex's token and webhook files.
func scanFields(r io.Reader, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := fn(line, strings.Fields(t)); err != nil {
			return err
		}
	}
	return sc.Err()
}
