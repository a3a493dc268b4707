#!/usr/bin/env bash
# Normal traffic beside 20 unauthenticated scrapes of /metrics a second,
# before and after /metrics moved off the API's listener and stopped
# reading the outbox.
#
# Usage: docs/bench/scrape-traffic.sh OLD_BINARY NEW_BINARY [ROUNDS]   (needs curl and python3)
#
# Each server starts on a fresh --dev data directory whose outbox is first
# filled by a bulk load over HTTPS (every event stays undelivered: mail goes
# to a closed port), then runs the `mixed` workload over HTTPS, closed loop,
# 16 connections, alone and beside `--abuse scrape=20`: the old server is
# scraped where it served /metrics (the API's port), the new one on its
# metrics listener. The load generator is NEW_BINARY's in every run.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
preload=${PRELOAD_OPS:-200000} ops=${OPS:-40000} attacked_ops=${ATTACKED_OPS:-6000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# serve NAME BINARY: starts a server in $work/NAME with its default metrics
# setting, waits until it serves.
serve() {
	local name=$1 bin=$2 dir=$work/$1
	mkdir -p "$dir"
	(cd "$dir" && exec "$bin" serve --dev --listen 127.0.0.1:8443 \
		--smtp-addr 127.0.0.1:1 --smtp-tls none --log-level warn >serve.out 2>serve.err) &
	for _ in $(seq 600); do
		curl -sf --cacert "$dir/vindex-data/dev-tls.crt" https://127.0.0.1:8443/healthz >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "$name did not start" >&2
	cat "$dir/serve.err" >&2
	exit 1
}

# load NAME OPS OUT [ARGS...]: the workload against NAME's server.
load() {
	local name=$1 n=$2 out=$3
	shift 3
	local dir=$work/$name
	"$new" bench --targets https --url https://127.0.0.1:8443 --tokens "$dir/vindex-data/dev-tokens.txt" \
		--cacert "$dir/vindex-data/dev-tls.crt" --concurrency 16 --ops "$n" --out "$out" "$@" >/dev/null 2>&1
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]+"/report.json"))["results"][0]; a={x["kind"]:x for x in r.get("abuse") or []}.get("scrape",{}); print("%.0f ops/s, %d failed; scrapes served %d (mean %.1f ms), refused %d" % (r["ops_per_s"], sum((r.get("errors") or {}).values()), a.get("served",0), 1e3*a.get("mean_seconds",0), a.get("refused",0)))' "$out"
}

for name in old new; do
	bin=$old
	[ $name = new ] && bin=$new
	serve $name "$bin"
	load $name "$preload" "$work/$name-preload" --workload bulk | sed "s/^/$name preload: /"
	if [ $name = old ]; then url=https://127.0.0.1:8443/metrics; else url=http://127.0.0.1:9464/metrics; fi
	for r in $(seq "$rounds"); do
		load $name "$ops" "$work/$name-$r-quiet" --workload mixed --seed "$r" | sed "s/^/$name round $r alone: /"
		n=$ops
		[ $name = old ] && n=$attacked_ops
		load $name "$n" "$work/$name-$r-scraped" --workload mixed --seed "$r" --abuse scrape=20 --metrics-url "$url" |
			sed "s/^/$name round $r beside 20 scrapes\/s: /"
	done
	kill %1
	wait %1 2>/dev/null || true
	sleep 1
done
