#!/bin/sh
# cov.sh -- what `make fuzz-cov` runs: source coverage of the checks by a corpus.
#
#   sh tests/fuzz/cov.sh OUTDIR CORPUS...
#
# Builds the fuzz target with clang's source coverage (no sanitizers), runs
# every input of the CORPUS directories once, and prints llvm-cov's regions
# and branches for each function the restorer runs before its point of no
# return, then their sum.  The rebuild and the process state after it are
# not fuzzed (they change the process): they are left out.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1
shift
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LLVM_COV=${LLVM_COV:-llvm-cov}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
cd "$ROOT"
clang -std=gnu11 -g -O1 -Iinclude -Iimage -Irestore -D_GNU_SOURCE -msse4.2 -fPIE -pie \
	-fno-direct-access-external-data -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	-Wno-unused-parameter -o "$OUT/cov-target" tests/fuzz/target.c tests/fuzz/sys.c image/read.c image/chain.c image/fmt.c image/crc32c.c \
	restore/vma.c restore/fds.c
dirs=
for d in "$@"; do dirs="$dirs $(cd "$d" && pwd)"; done
rm -f "$OUT/cov.profraw"
# every oracle label: the inputs are replayed for coverage, not judged here
# shellcheck disable=SC2086
CKPT_FUZZ_KNOWN=run-outside,fault-after,vvar-resume,empty-reason,raw-string,fifo-block,write-existing,creat \
LLVM_PROFILE_FILE="$OUT/cov.profraw" "$OUT/cov-target" -runs=0 $dirs >"$OUT/cov.log" 2>&1
"$LLVM_PROFDATA" merge -o "$OUT/cov.profdata" "$OUT/cov.profraw"
"$LLVM_COV" report "$OUT/cov-target" -instr-profile="$OUT/cov.profdata" -show-functions restore/*.c |
awk '
	BEGIN {
		n = split("img_open read_at check_header plain_name table_ok table_at check_threads " \
			  "check_proc str_ok check_vmas check_fds img_str img_kind_name " \
			  "check_image open_chain cpuid check_cpu check_fpu_area check_process check_limits " \
			  "rst_find_specials rst_check_vdso rst_open_files rst_verify_runs rst_alloc_pkeys " \
			  "rst_prepare_fds make_pipe copy_in make_one reopen reopen_fifo strip make_deleted " \
			  "rst_vfmt img_fmt img_fail put_num rst_parse_num rst_say", f, " ")
		for (i = 1; i <= n; i++) want[f[i]] = 1
		printf "%-22s %8s %8s %8s %8s\n", "function", "regions", "missed", "branches", "missed"
	}
	{ name = $1; sub(/^.*:/, "", name) }
	(name in want) && $2 ~ /^[0-9]+$/ {
		printf "%-22s %8d %8d %8d %8d\n", name, $2, $3, $8, $9
		r += $2; rm += $3; b += $8; bm += $9
	}
	END {
		printf "%-22s %8d %8d %8d %8d\n", "all checks", r, rm, b, bm
		printf "coverage of the checks: regions %.1f%%, branches %.1f%%\n", 100 * (r - rm) / r, 100 * (b - bm) / b
	}'
