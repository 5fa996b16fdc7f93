#!/bin/sh
# incr.sh -- make bench, incremental images (issue 6): 1 GiB of dense data
# (QUICK=1: 256 MiB), a first checkpoint, 1% of the pages written, a second.
# With CKPT_INCREMENTAL=1 the second image is incremental; without, full.
# Reports, as medians of 3 runs each: both images' bytes and times, and the
# program's own loop over its memory after the second checkpoint with write
# tracking armed (incremental) and without (full), as the cost of tracking.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out
SIZE=1024
[ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ] && SIZE=256
RUNS=3
mkdir -p "$OUT"
T=$(mktemp -d "$OUT/incr.XXXXXX")
trap 'rm -rf "$T"' EXIT
${CC:-cc} -O2 -o "$T/incr" "$ROOT/tests/bench/incr.c" -ldl

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for mode in 1 0; do
	for r in $(seq $RUNS); do
		rm -f "$T"/img*
		line=$(cd "$T" && CKPT_INCREMENTAL=$mode CKPT_FULL_EVERY=100 CKPT_KEEP=2 CKPT_FILE="$T/img" \
			LD_PRELOAD="$ROOT/libckpt.so" ./incr $SIZE)
		# the second image is the newest: img (a link to it, with CKPT_INCREMENTAL)
		bytes=$(stat -c %s "$T/img")
		echo "$line $bytes" >>"$T/mode$mode"
	done
done
col() { awk -v c="$1" '{ print $c }' "$2" | median; }
full_first=$(col 1 "$T/mode0"); full_second=$(col 2 "$T/mode0"); full_bytes=$(col 4 "$T/mode0")
inc_second=$(col 2 "$T/mode1"); inc_bytes=$(col 4 "$T/mode1")
loop_on=$(col 3 "$T/mode1"); loop_off=$(col 3 "$T/mode0")
echo
echo "incremental images, $SIZE MiB dense, 1% of pages written between checkpoints (medians of $RUNS)"
awk -v fb="$full_bytes" -v ib="$inc_bytes" -v fs="$full_second" -v is="$inc_second" \
    -v ff="$full_first" -v lon="$loop_on" -v loff="$loop_off" 'BEGIN {
	printf "  full image        %12d bytes  %8.1f ms (first %.1f ms)\n", fb, fs, ff
	printf "  incremental image %12d bytes  %8.1f ms\n", ib, is
	r1 = ib / fb * 100; r2 = is / fs * 100; r3 = (lon / loff - 1) * 100
	printf "  incremental / full bytes   %6.2f%%   target <= 1.1%%  %s\n", r1, r1 <= 1.1 ? "met" : "NOT MET"
	printf "  incremental / full time    %6.2f%%   target <= 10%%   %s\n", r2, r2 <= 10 ? "met" : "NOT MET"
	printf "  loop with tracking %.1f ms, without %.1f ms: %+.1f%%   target <= 5%%  %s\n", lon, loff, r3, r3 <= 5 ? "met" : "NOT MET"
}'
