#!/bin/sh
# jobs.sh -- make bench, jobs (issue 16): a job of 1, 4 and 16 processes of
# 64 MiB each (QUICK=1: 16 MiB), checkpointed whole with `ckpt dump` of its
# root.  Reports, as medians of 3 runs each:
#   pause        the longest stall any process of the job saw in its own
#                loop of 1 ms sleeps (tests/bench/jobs.c), against a fork of
#                one such process timed by itself, and against the same loop's
#                longest stall in a run with no checkpoint (the machine's noise)
#   checkpoint   `ckpt dump` from the trigger to the job table renamed in
#                (every image written and fsync'd), against write+fsync of
#                the same bytes (dd conv=fsync of N x MIB MiB)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out
MIB=64
[ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ] && MIB=16
RUNS=3
mkdir -p "$OUT"
T=$(mktemp -d "$OUT/jobs.XXXXXX")
trap 'rm -rf "$T"' EXIT
${CC:-cc} -O2 -o "$T/jobs" "$ROOT/tests/bench/jobs.c"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { date +%s%3N; }

# one N DUMP: the job's lines in $T/lines; the dump's ms in $T/dump_ms
one() {
	rm -f "$T"/img* "$T"/.img* "$T/ready"
	(cd "$T" && CKPT_FILE="$T/img" LD_PRELOAD="$ROOT/libckpt.so" ./jobs "$1" $MIB 2 "$T/ready" >"$T/lines") &
	pid=$!
	while [ ! -e "$T/ready" ]; do sleep 0.05; done
	sleep 0.3
	if [ "$2" = 1 ]; then
		t0=$(ms)
		"$ROOT/ckpt" dump "$pid" >/dev/null
		echo $(( $(ms) - t0 )) >"$T/dump_ms"
	fi
	wait "$pid"
}

echo
echo "jobs: N processes of $MIB MiB each, checkpointed whole (medians of $RUNS)"
printf "  %3s  %9s %8s %7s %9s  %11s %11s %6s\n" N pause fork ratio noise checkpoint write+fsync ratio
for n in 1 4 16; do
	: >"$T/p" ; : >"$T/f" ; : >"$T/c" ; : >"$T/q" ; : >"$T/w"
	for r in $(seq $RUNS); do
		one $n 1
		awk '{ if ($3 > m) m = $3 } END { print m }' "$T/lines" >>"$T/p"
		awk '{ print $2 }' "$T/lines" | median >>"$T/f"
		cat "$T/dump_ms" >>"$T/c"
		one $n 0
		awk '{ if ($3 > m) m = $3 } END { print m }' "$T/lines" >>"$T/q"
		t0=$(ms)
		dd if=/dev/zero of="$T/wf" bs=1M count=$((n * MIB)) conv=fsync 2>/dev/null
		echo $(( $(ms) - t0 )) >>"$T/w"
		rm -f "$T/wf"
	done
	p=$(median <"$T/p") f=$(median <"$T/f") c=$(median <"$T/c") q=$(median <"$T/q") w=$(median <"$T/w")
	awk -v n=$n -v p="$p" -v f="$f" -v c="$c" -v q="$q" -v w="$w" 'BEGIN {
		printf "  %3d  %6.1f ms %5.1f ms %6.2fx %6.1f ms  %8d ms %8d ms %5.2fx\n", n, p, f, p / f, q, c, w, c / w
	}'
done
