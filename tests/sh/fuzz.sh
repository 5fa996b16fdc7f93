#!/bin/sh
# timeout: 120
# fuzz.sh -- a short `make fuzz` pass: the restorer's reader and checks under
# libFuzzer with ASan and UBSan (tests/fuzz/, docs/fuzz.md), issue 13.
#
#   1  the fuzz target builds (clang; the product's build never needs it)
#   2- each seed in tests/fuzz/corpus passes every check as it is, so that
#      mutants start from images that reach the deepest checks
#   N  CKPT_FUZZ_SECONDS (default 40; the build takes up to a minute on a loaded machine, hence 120 s) of fuzzing
#      find no crash and no oracle finding beyond the Makefile's FUZZ_KNOWN list;
#      executions and coverage are printed as `#` lines
# Skipped without clang or libFuzzer (Debian: clang, libclang-rt-14-dev), and
# in tests/run.sh's ordinary-user pass, whose copy of the tree has no sources.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the first seed says it is format version 2.

set -u
. "$(dirname "$0")/lib.sh"
workdir fuzz
SECS=${CKPT_FUZZ_SECONDS:-40}

[ -f "$ROOT/restore/main.c" ] && [ -d "$ROOT/tests/fuzz/corpus" ] ||
	skip "no sources in $ROOT (the ordinary-user pass copies only the built tree)"
command -v clang >/dev/null 2>&1 || skip "no clang (Debian package clang)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$W/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$W/probe" "$W/probe.c" >/dev/null 2>&1 ||
	skip "clang cannot link -fsanitize=fuzzer (Debian package libclang-rt-14-dev)"

T=$W/b/fuzz/target
if make -s -C "$ROOT" B="$W/b" "$T" >"$W/build.log" 2>&1; then
	ok "the fuzz target builds"
else
	not_ok "the fuzz target builds"
	sed 's/^/# /' "$W/build.log" | tail -n 20
	exit 1
fi

first=1
for seed in "$ROOT"/tests/fuzz/corpus/*; do
	name=$(basename "$seed")
	cp "$seed" "$W/seed"
	if [ $BRK = 1 ] && [ $first = 1 ]; then
		printf '\002' | dd of="$W/seed" bs=1 seek=4 conv=notrunc 2>/dev/null	# hdr.version 2
	fi
	first=0
	verdict=$(cd "$W" && CKPT_FUZZ_SAY=1 "$T" -runs=1 "$W/seed" 2>&1 | sed -n 's/^fuzz: //p' | head -n 1)
	if [ "$verdict" = "accepted " ]; then
		ok "seed $name passes every check before the point of no return"
	else
		not_ok "seed $name passes every check before the point of no return: ${verdict:-no verdict}"
	fi
done

make -s -C "$ROOT" B="$W/b" SECONDS="$SECS" fuzz >"$W/out" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/b/fuzz/log")
cov=$(grep -o 'cov: [0-9]*' "$W/b/fuzz/log" | tail -n 1)
echo "# ${execs:-0} executions in $SECS s, $cov edges; $(sed -n 's/^stat::average_exec_per_sec: *//p' "$W/b/fuzz/log") exec/s"
sed -n 's/^\(fuzz: known finding .*\)/# \1/p' "$W/b/fuzz/log"
if [ $status -eq 0 ] && [ "${execs:-0}" -ge 1000 ]; then
	ok "$SECS s of fuzzing: no crash, no oracle finding (${execs} executions)"
else
	not_ok "$SECS s of fuzzing: no crash, no oracle finding (${execs:-0} executions)"
	grep -E 'FINDING|ERROR|SUMMARY|runtime error|^    #[0-9] ' "$W/b/fuzz/log" | head -n 20 | sed 's/^/# /'
	for c in "$W"/b/fuzz/crash-* "$W"/b/fuzz/timeout-*; do
		[ -e "$c" ] && echo "# input: $(od -An -tx1 -N64 "$c" | tr -s ' \n' ' ') ... ($(wc -c <"$c") bytes)"
	done
fi
finish
