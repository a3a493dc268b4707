#!/usr/bin/env bash
# Normal traffic beside a trickle of uninvolved lookups of one youth that an
# attacker has registered and ended ENDED times, on an old and a new server.
#
# Usage: docs/bench/hotyouth.sh OLD_BINARY NEW_BINARY [ENDED]   (needs curl and python3)
#
# For each server, two runs, each on a fresh --dev data directory (mail goes
# to a closed port, so every event stays undelivered, as in scrape-traffic.sh):
#   control: `vindex bench --workload hotyouth --hot-ended 1`, which shows
#            what the lookups and the mixed traffic's own drift over the run
#            cost without the history;
#   attack:  the same with --hot-ended ENDED (default 20000): the attacker
#            registers and ends the youth ENDED times, one cycle after
#            another, as fast as the server answers.
# Each run then measures the `mixed` workload over HTTPS (closed loop, 16
# connections, 10,000 youths) for PHASE alone and PHASE beside RATE lookups
# a second of the hot youth, and reads the victim's events about it with
# GET /v1/events. The load generator is NEW_BINARY's in every run. The
# servers run one after the other, never at once, so that neither takes CPU
# from the other's measurement.
set -euo pipefail
old=$1 new=$2 ended=${3:-20000}
phase=${PHASE:-15s} rate=${RATE:-42}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# serve DIR BINARY: starts a server on a free loopback port in DIR, sets
# $addr when it serves.
serve() {
	local dir=$1 bin=$2 metrics=()
	mkdir -p "$dir"
	# A new server has a metrics listener of its own; keep it off, so that
	# the run needs no fixed port on a shared machine.
	if "$bin" serve --help 2>&1 | grep -q 'off: no metrics'; then metrics=(--metrics-listen off); fi
	(cd "$dir" && exec "$bin" serve --dev --listen 127.0.0.1:0 "${metrics[@]}" \
		--smtp-addr 127.0.0.1:1 --smtp-tls none --log-level warn >serve.out 2>serve.err) &
	for _ in $(seq 600); do
		addr=$(sed -n 's|^vindex (development mode) on https://\([^,]*\),.*|\1|p' "$dir/serve.out" 2>/dev/null)
		if [ -n "$addr" ] && curl -sf --cacert "$dir/vindex-data/dev-tls.crt" "https://$addr/healthz" >/dev/null 2>&1; then
			return
		fi
		sleep 0.1
	done
	echo "$dir: the server did not start" >&2
	cat "$dir/serve.err" >&2
	exit 1
}

# run NAME BINARY N: a fresh server from BINARY, the hotyouth workload with
# N cycles against it, one line of figures.
run() {
	local name=$1 bin=$2 n=$3 dir=$work/$1
	serve "$dir" "$bin"
	"$new" bench --workload hotyouth --hot-ended "$n" --hot-phase "$phase" --hot-rate "$rate" \
		--ops 40000 --concurrency 16 --targets https --url "https://$addr" \
		--tokens "$dir/vindex-data/dev-tokens.txt" --cacert "$dir/vindex-data/dev-tls.crt" \
		--out "$dir/report" >/dev/null 2>"$dir/bench.err" || { cat "$dir/bench.err" >&2; exit 1; }
	python3 - "$dir/report/report.json" "$name" <<-'EOF'
		import json, sys
		r = json.load(open(sys.argv[1]))["results"][0]
		h = r["hot"]
		kv = lambda d: ", ".join("%s %d" % x for x in sorted((d or {}).items())) or "none"
		lat = h["lookup_latency"]
		print("%s: %d cycles in %.1f s (%s; failed calls: %s); normal %.0f ops/s alone, %.0f beside the lookups: ratio %.3f; "
		      "%d lookups, p50 %.1f ms, p99 %.1f ms, max %.1f ms (failed: %s); victim holds %d events (%s); normal ops failed: %d"
		      % (sys.argv[2], h["ended"], h["prepare_s"], kv(h["prepare_outcomes"]), kv(h.get("prepare_errors")),
		         h["without_ops_per_s"], h["with_ops_per_s"], h["ratio"], h["lookups"], lat.get("p50_ms", 0),
		         lat.get("p99_ms", 0), lat.get("max_ms", 0), kv(h.get("lookup_errors")), h["victim_events"],
		         kv(h.get("victim_event_types")), sum((r.get("errors") or {}).values())))
	EOF
	kill %1
	wait %1 2>/dev/null || true
	sleep 1
}

echo "# phases of $phase, $rate lookups/s of the hot youth, the attack with $ended cycles"
run "old control" "$old" 1
run "old attack" "$old" "$ended"
run "new control" "$new" 1
run "new attack" "$new" "$ended"
