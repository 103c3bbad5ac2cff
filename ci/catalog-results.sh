#!/bin/bash
# Regenerates docs/catalog-results.md from a real run of the tool catalog:
# every spec under expectations/catalog on this machine's kernel, in
# Debian 6.1 and 6.12 guests (this machine's bpftrace, bcc and perf-tools)
# and in a Debian 13 guest (trixie's own kernel and tools), and the
# SystemTap scripts under expectations/systemtap in the guests (stap builds
# its module for a guest's kernel; on the host there is none to build for;
# debian-13 is skipped: its kernel needs gcc-14, which Debian 12 lacks).
#
#   bash ci/catalog-results.sh             # everything (about an hour on a 2-core TCG host)
#   bash ci/catalog-results.sh SPEC_DIR... # run these specs again, keep the rest's records
#   TRACECHECK_RESULTS_ENVS=debian-13 bash ci/catalog-results.sh   # one environment again
#   TRACECHECK_RESULTS_CARDS_ONLY=1 TRACECHECK_RESULTS_GUEST_CARDS=1 bash ci/catalog-results.sh
#                                           # report cards only, the checks' records kept
#
# Each spec's records go to $TRACECHECK_RESULTS_DIR/ENV/NAME.jsonl (default
# /var/tmp/tracecheck/catalog-results), so a run that stopped halfway, or
# one spec run again, still makes the whole document from the records at
# hand. Report cards are measured on the host for every spec, and in the
# guests too with TRACECHECK_RESULTS_GUEST_CARDS=1. Keep the machine otherwise idle: guests run under TCG, and a busy
# host starves them (an interval tool then loses an interval's rows).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TRACECHECK_RESULTS_DIR:-/var/tmp/tracecheck/catalog-results}
envs=${TRACECHECK_RESULTS_ENVS:-host debian-6.1 debian-6.12 debian-13}
# The binary runs from a copy named tracecheck in a directory of its own,
# so that a build during the run cannot replace it under a guest (a guest
# that lost its binary vanishes). TRACECHECK_BIN: a binary to copy instead
# of building one.
if [ -n "${TRACECHECK_BIN:-}" ]; then
    src=$TRACECHECK_BIN
    unset TRACECHECK_BIN
else
    cargo build --release -p tracecheck
    src=$PWD/target/release/tracecheck
fi
bindir=$(mktemp -d /var/tmp/tracecheck-results-bin.XXXXXX)
trap 'rm -rf "$bindir"' EXIT
cp "$src" "$bindir/tracecheck"
tc=$bindir/tracecheck

if [ $# -gt 0 ]; then
    specs=("$@")
else
    mapfile -t specs < <(find expectations/catalog expectations/systemtap -name spec.toml -printf '%h\n' | sort)
fi

start=$(date +%s)
for env in $envs; do
    mkdir -p "$out/$env"
    for spec in "${specs[@]}"; do
        spec=${spec%/spec.toml}
        name=$(echo "$spec" | sed 's|^expectations/||; s|/|-|g')
        vm=()
        if [ "$env" != host ]; then
            vm=(--vm "$env")
        elif [[ $spec == expectations/systemtap/* ]]; then
            continue
        fi
        if [ "$env" = debian-13 ] && [[ $spec == expectations/systemtap/* ]]; then
            continue
        fi
        echo "== $env: $spec ($(( $(date +%s) - start )) s so far)" >&2
        if [ -z "${TRACECHECK_RESULTS_CARDS_ONLY:-}" ]; then
            rm -f "$out/$env/$name.jsonl"
            # A failed claim exits 1 and an unestablished truth 2: both are
            # results to record, not reasons to stop.
            "$tc" check "$spec" "${vm[@]}" --record "$out/$env/$name.jsonl" --format matrix --quiet || true
        fi
        # The report card: on the host always (seconds each); in guests on
        # request (a guest boot each).
        if [ "$env" = host ] || [ -n "${TRACECHECK_RESULTS_GUEST_CARDS:-}" ]; then
            mkdir -p "$out/cards"
            "$tc" card "$spec" "${vm[@]}" --format json > "$out/cards/$env-$name.json" || rm -f "$out/cards/$env-$name.json"
        fi
    done
done
echo "== all runs: $(( $(date +%s) - start )) s" >&2

cards=()
for c in "$out"/cards/*.json; do
    [ -e "$c" ] && cards+=(--card "$c")
done
"$tc" results "$out"/*/*.jsonl "${cards[@]}" > docs/catalog-results.md
echo "wrote docs/catalog-results.md" >&2
