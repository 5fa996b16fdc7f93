#!/bin/sh
# snap.sh -- make bench, the snapshot methods (issue 20): a program that
# writes its memory flat out, checkpointed by fork, by uffd write protection
# and in place (CKPT_SNAPSHOT), at 64 MiB, 256 MiB and 1 GiB (QUICK=1: 64 and
# 256) of 4 KiB pages, and at 1 GiB in huge pages (MADV_HUGEPAGE), fork and
# uffd.  Each figure is the program's own (tests/bench/snap.c): its pause
# beside a bare fork() of itself, its longest stall until the image is in
# place, its throughput meanwhile against its own before, and the checkpoint
# time.  Medians of BENCH_RUNS (default 3).  The uffd snapshot needs root
# here (vm.unprivileged_userfaultfd=0): as another user its rows say so.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out
RUNS=${BENCH_RUNS:-3}
SIZES="64 256 1024"
[ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ] && SIZES="64 256"
mkdir -p "$OUT"
T=$(mktemp -d "$OUT/snap.XXXXXX")
trap 'rm -rf "$T"' EXIT
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -o "$T/snap" "$ROOT/tests/bench/snap.c"

# one METHOD MIB [huge]: RUNS lines of snap.c's key=value into $T/runs
one() {
	for r in $(seq $RUNS); do
		if ! line=$(cd "$T" && CKPT_SNAPSHOT=$1 CKPT_FILE="$T/img" timeout 300 env LD_PRELOAD="$ROOT/libckpt.so" \
			./snap "$2" ${3:-} 2>"$T/err"); then
			echo "snap: $1 $2 MiB ${3:-}: failed: $(head -c 300 "$T/err")" >&2
			return 1
		fi
		if grep -q "no userfaultfd" "$T/err"; then
			echo "method=$1 $line nouffd=1" >>"$T/runs"
			return 0
		fi
		echo "method=$1 $line" >>"$T/runs"
		rm -f "$T/img"
	done
}

: >"$T/runs"
for s in $SIZES; do
	for m in fork uffd inplace; do
		one $m $s
	done
done
if [ -z "${QUICK:-}" ] || [ "${QUICK:-}" = 0 ]; then
	one fork 1024 huge
	one uffd 1024 huge
fi
cp "$T/runs" "$OUT/snap-runs.txt"

huge() { if [ "$1" = 1 ]; then echo " huge"; fi; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print -1 }'; }
# per METHOD MIB HUGE EXPR: EXPR (awk, over the line's fields) of each run, their median
per() {
	awk -v m="$1" -v s="$2" -v h="$3" '
	{ delete v; for (i = 1; i <= NF; i++) { p = index($i, "="); v[substr($i, 1, p - 1)] = substr($i, p + 1) } }
	v["method"] == m && v["mib"] == s && v["huge"] == h && !v["nouffd"] { print '"$4"' }' "$T/runs" | median
}
# target WHAT X OP LIMIT UNIT
target() {
	awk -v w="$1" -v x="$2" -v op="$3" -v l="$4" -v u="$5" 'BEGIN {
		m = op == "<=" ? x <= l : x >= l
		printf "  %-44s %8.2f%s  target %s %s%s  %s\n", w, x, u, op, l, u, m ? "met" : "NOT MET"
	}'
}

echo
echo "snapshot methods: a program writing one word of every page in turn, flat out (medians of $RUNS)"
printf "  %-19s %9s %9s %10s %11s %11s %11s\n" "method, MiB" pause "fork()" pause/fork longest throughput checkpoint
cases=$(awk '{ print $1, $2, $3 }' "$T/runs" | uniq)
echo "$cases" | while read -r m s h; do
	m=${m#method=} s=${s#mib=} h=${h#huge=}
	name="$m $s$(huge "$h")"
	if grep -q "^method=$m mib=$s huge=$h .*nouffd=1" "$T/runs"; then
		printf "  %-19s  not measured: no userfaultfd that waits on the kernel's writes (not root)\n" "$name"
		continue
	fi
	awk -v n="$name" -v p="$(per $m $s $h 'v["pause_ns"] / 1e6')" -v f="$(per $m $s $h 'v["fork_ns"] / 1e6')" \
	    -v r="$(per $m $s $h 'v["pause_ns"] / v["fork_ns"]')" -v g="$(per $m $s $h 'v["gap_ns"] / 1e6')" \
	    -v t="$(per $m $s $h 'v["during"] * 100 / v["rate"]')" -v c="$(per $m $s $h 'v["ckpt_ns"] / 1e6')" 'BEGIN {
		printf "  %-19s %6.1f ms %6.1f ms %9.2fx %8.1f ms %10.1f%% %8.0f ms\n", n, p, f, r, g, t, c
	}'
done
echo "  (longest: the longest stall from the pause to the image in place; throughput: pages"
echo "   written per second meanwhile, against before)"
echo "$cases" | while read -r m s h; do
	m=${m#method=} s=${s#mib=} h=${h#huge=}
	name="$m $s MiB$(huge "$h")"
	if grep -q "^method=$m mib=$s huge=$h .*nouffd=1" "$T/runs"; then
		continue
	fi
	case $m$h in
	fork0) target "$name: pause / fork" "$(per $m $s $h 'v["pause_ns"] / v["fork_ns"]')" "<=" 1.2 x ;;
	uffd*)	target "$name: pause / fork" "$(per $m $s $h 'v["pause_ns"] / v["fork_ns"]')" "<=" 0.3 x
		target "$name: throughput while written" "$(per $m $s $h 'v["during"] * 100 / v["rate"]')" ">=" 80 % ;;
	esac
done
