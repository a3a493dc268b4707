package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vindex-nl/vindex/replication"
)

const clusterUsage = `Usage: vindex cluster status --replication URLS [flags]
       vindex cluster status --config FILE [flags]
       vindex cluster trim --keep-from N (--replication URLS | --config FILE) [flags]
       vindex cluster trim --backup DIR2 [--backup DIR2...] (--replication URLS | --config FILE) [flags]

Shows a replicated index (vindex serve --replication) as its NATS
JetStream cluster tells it: which node leads (holds the leader lease), the
log's first and last positions and the NATS servers that hold it (the
stream's leader first; a server that is not current or is offline says
so), and each node's last applied position and lag behind the log's last
position, as the node last reported it (every two seconds while it runs:
an old "updated" time is a node that is down or cut off).

It connects to the NATS servers with the same settings as vindex serve
(--replication, --replication-ca, --replication-cert, --replication-key,
or the same keys of the --config file; flags win). It reads only: it
changes nothing, and shows no record (the log holds pseudonyms only, and
it reads none of them).

  --json   the same as one JSON object

vindex cluster trim removes the log's entries before position N, so that
the log keeps only what the nodes and their backups still need, and forgets
what the stores have destroyed since (destroyed means destroyed, also in
the log): run it after each day's verified backups of the nodes, with N one
after the lowest "last applied" position among the backups you keep (vindex
backup verify prints it as "replication position"; a node restored from an
older backup could not catch up). It refuses while a node that has reported
its position has not applied every entry before N, and an N beyond the
log's last entry, which always stays. It prints how many entries it removed.
Instead of N, give the backups you keep (--backup, once for each): N is
then one after the lowest replication position their manifests name (read
from each manifest.json alone: run vindex backup verify on them first, as
a daily job does: vindex backup ... && vindex backup verify DIR2 && vindex
cluster trim --backup OLDEST ...). A backup without a replication position
(of a store that is not replicated) is refused.
`

// backupDirs is the repeated --backup flag of vindex cluster trim.
type backupDirs []string

func (b *backupDirs) String() string { return strings.Join(*b, ",") }

func (b *backupDirs) Set(s string) error {
	*b = append(*b, s)
	return nil
}

// keepFromBackups is the first log position the backups in dirs need: one
// after the lowest replication position their manifests name.
func keepFromBackups(dirs []string) (uint64, error) {
	var keep uint64
	for _, d := range dirs {
		m, err := readManifest(d)
		if err != nil {
			return 0, err
		}
		if m.ReplicationPosition == 0 {
			return 0, fmt.Errorf("%w: %s names no replication position: it is not a backup of a replicated node", errBadBackup, d)
		}
		if keep == 0 || m.ReplicationPosition+1 < keep {
			keep = m.ReplicationPosition + 1
		}
	}
	return keep, nil
}

// clusterCmd runs vindex cluster SUBCOMMAND.
func clusterCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "trim") {
		return printUsage(stderr, clusterUsage, args)
	}
	sub := args[0]
	cmd := "cluster " + sub
	args = args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config
	configFile := fs.String("config", "", "YAML configuration `file` of vindex serve: its replication settings are used")
	urls := fs.String("replication", "", "comma-separated `URLs` of the NATS servers (nats:// or tls://)")
	ca := fs.String("replication-ca", "", "PEM `file` of the CA of the NATS servers' certificates")
	cert := fs.String("replication-cert", "", "client certificate, PEM `file`")
	key := fs.String("replication-key", "", "the client certificate's private key, PEM `file`")
	asJSON := fs.Bool("json", false, "print one JSON object")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this `duration`")
	keepFrom := fs.Uint64("keep-from", 0, "trim: the first log `position` to keep (or --backup)")
	var backups backupDirs
	fs.Var(&backups, "backup", "trim: a backup `DIR2` kept (repeat for each): keep what the oldest needs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, clusterUsage+"\nFlags:\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return flagError{cmd: cmd, err: err}
	}
	if fs.NArg() > 0 {
		return flagError{cmd: cmd, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case sub != "trim" && (*keepFrom != 0 || len(backups) > 0):
		return flagError{cmd: cmd, err: errors.New("--keep-from and --backup are for cluster trim")}
	case sub == "trim" && *keepFrom != 0 && len(backups) > 0:
		return flagError{cmd: cmd, err: errors.New("--keep-from N or --backup DIR2, not both")}
	case sub == "trim" && *keepFrom == 0 && len(backups) == 0:
		return flagError{cmd: cmd, err: errors.New("--keep-from N (the first log position to keep) or --backup DIR2 (each backup kept) is required")}
	}
	if len(backups) > 0 {
		n, err := keepFromBackups(backups)
		if err != nil {
			return err
		}
		*keepFrom = n
	}
	if *configFile != "" {
		if err := readConfigFile(*configFile, &c); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "replication":
			c.Replication = *urls
		case "replication-ca":
			c.ReplicationCA = *ca
		case "replication-cert":
			c.ReplicationCert = *cert
		case "replication-key":
			c.ReplicationKey = *key
		}
	})
	if c.Replication == "" {
		return flagError{cmd: cmd, err: errors.New("--replication (or replication in --config) is required")}
	}
	t, err := natsTLS(c.ReplicationCA, c.ReplicationCert, c.ReplicationKey)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rc := replication.Config{URLs: natsURLs(c.Replication), TLS: t}
	if sub == "trim" {
		n, err := replication.Trim(ctx, rc, *keepFrom)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %d entries: the log keeps its entries from position %d on\n", n, *keepFrom)
		return nil
	}
	st, err := replication.ReadStatus(ctx, rc)
	if err != nil {
		return err
	}
	if *asJSON {
		return printClusterJSON(stdout, st)
	}
	printCluster(stdout, st)
	return nil
}

// clusterJSON is the --json form of a replication.Status.
type clusterJSON struct {
	Leader   string              `json:"leader"`
	FirstSeq uint64              `json:"first_seq"`
	LastSeq  uint64              `json:"last_seq"`
	Servers  []clusterServerJSON `json:"servers"`
	Nodes    []clusterNodeJSON   `json:"nodes"`
}

type clusterServerJSON struct {
	Name    string `json:"name"`
	Leader  bool   `json:"leader"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline"`
	Lag     uint64 `json:"lag"`
}

type clusterNodeJSON struct {
	Name    string    `json:"name"`
	Applied uint64    `json:"applied"`
	Lag     uint64    `json:"lag"`
	Leading bool      `json:"leading"`
	Updated time.Time `json:"updated"`
}

func printClusterJSON(w io.Writer, st *replication.Status) error {
	out := clusterJSON{Leader: st.Leader, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq,
		Servers: []clusterServerJSON{}, Nodes: []clusterNodeJSON{}}
	for _, s := range st.Servers {
		out.Servers = append(out.Servers, clusterServerJSON(s))
	}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, clusterNodeJSON{Name: n.Name, Applied: n.Applied, Lag: n.Lag, Leading: n.Leading, Updated: n.Updated})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printCluster(w io.Writer, st *replication.Status) {
	leader := st.Leader
	if leader == "" {
		leader = "(none: no node holds the lease)"
	}
	fmt.Fprintf(w, "leader: %s\n", leader)
	fmt.Fprintf(w, "log:    first %d, last %d\n", st.FirstSeq, st.LastSeq)
	var servers []string
	for _, s := range st.Servers {
		var what []string
		switch {
		case s.Leader:
			what = append(what, "stream leader")
		case s.Offline:
			what = append(what, "offline")
		case s.Current:
			what = append(what, "current")
		default:
			what = append(what, "behind")
		}
		if s.Lag > 0 {
			what = append(what, fmt.Sprintf("lag %d", s.Lag))
		}
		servers = append(servers, fmt.Sprintf("%s (%s)", s.Name, strings.Join(what, ", ")))
	}
	fmt.Fprintf(w, "nats:   %s\n", strings.Join(servers, "; "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tAPPLIED\tLAG\tLEADING\tUPDATED")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%s\n", n.Name, n.Applied, n.Lag, n.Leading, n.Updated.UTC().Format(time.RFC3339))
	}
	tw.Flush()
}
