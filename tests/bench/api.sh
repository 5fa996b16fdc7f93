#!/bin/sh
# api.sh -- make bench, the user-directed API: tsetjmp and tlongjmp latency
# for a 100 MiB process, on disk and with CKPT_STORE=memory, next to memcpy
# and fork of the same bytes in the same run (tests/bench/api_bench.c says how
# each figure is taken).  The table goes to stdout and bench-out/api.txt.
#
# Environment: CC, QUICK=1 (3 runs instead of 7), API_BENCH_MIB (default 100),
# BENCH_DIR (scratch for the disk images; default bench-out/tmp-api: it must
# not be tmpfs for the disk figures to mean anything).

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out
TMP=${BENCH_DIR:-$OUT/tmp-api}
CC=${CC:-gcc}
RUNS=7
[ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ] && RUNS=3

[ -e "$ROOT/libckpt.so" ] && [ -e "$ROOT/restorer" ] ||
	{ echo "api bench: libckpt.so or restorer missing: run make first" >&2; exit 1; }
mkdir -p "$OUT/bin" || exit 1
$CC -std=gnu11 -O2 -g -Wall -Wextra -I"$ROOT/include" -o "$OUT/bin/api_bench" \
	"$ROOT/tests/bench/api_bench.c" -L"$ROOT" -lckpt -Wl,-rpath,"$ROOT" || exit 1
fs=$(mkdir -p "$TMP" && df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 }')
echo "api bench: $(uname -r), $(nproc) cpus, disk images in $TMP ($fs)"
case $fs in tmpfs*) echo "api bench: NOTE: scratch is tmpfs: the disk figures are memory figures" ;; esac
"$OUT/bin/api_bench" "${API_BENCH_MIB:-100}" "$RUNS" "$TMP" > "$OUT/api.txt"
rc=$?
cat "$OUT/api.txt"
rm -rf "$TMP"
exit $rc
