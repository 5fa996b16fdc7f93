#!/bin/sh
# bench.sh -- make bench: what a checkpoint and a restore cost, each figure
# beside what the machine does with the same bytes in the same run.
#
# Cases: dense random data of 64 MiB, 256 MiB, 1 GiB, 2 GiB (QUICK=1: 64 and
# 256 MiB only), and sparse: 1 GiB mapped and fully read, 10 MiB written (as
# auto takes it, in place, and as root again with CKPT_SNAPSHOT=uffd:
# "sparse:uffd").
# Threaded (case "threads", issue 9): the same dense program at 1 GiB (QUICK=1:
# 256 MiB) with 15 more threads, 16 in all (BENCH_THREADS; 0 or 1: no such
# case).  Each extra thread walks its own slice of the memory, page by page,
# reading it and storing a word back, and takes its own pause; the main thread
# measures its pause as in the single-threaded case, and fork is timed in the
# threaded process, so pause/fork compares with a fork of that same process.
# Their figures are printed beside the single-threaded ones of that size
# (see tests/bench/work.c for the workers).  Unless BENCH_BUSY=1 the workers,
# like the main thread, slow to a page a millisecond after their pause, so
# that the checkpoint time measures ckpt and not 15 busy loops.
# Compression (issue 20): "text" (16-byte records that the zstd command makes
# about 3:1, tests/bench/gen.h) at 1 GiB (QUICK=1: 256 MiB), uncompressed and
# with CKPT_COMPRESS=zstd, and the dense random data of that size with it
# (it does not compress: what the attempt costs); their restores go through
# `ckpt restore`, which unpacks the image into memory first.
# Each run is one tests/bench/run1 (see its header for every figure and how it
# is taken; tests/bench/work.c is the program checkpointed).  The pause is
# set beside two forks of the same process: back to back, as a fork costs
# right after another, and "cold", each after the memcpy baseline and 2 ms
# of the spin, the state in which the checkpoint's own fork meets the page
# tables (issue 20's target is taken against that one).  Per case: the
# median of BENCH_RUNS runs (default 5; BENCH_RUNS_2G, default 3, for 2 GiB).
# Ratios are medians of the per-run ratios (figure / baseline of that run).
#
# Output under bench-out/: runs.txt (every run, key=value), bench.csv (the
# medians), bench.png (gnuplot; skipped with a notice when gnuplot is missing:
# Debian package `gnuplot-nox`), run1.log (stderr of the runs).
#
# BENCH_HOG=1: a busy loop runs beside every case, on a machine so loaded the
# fixed costs (thread stops, walks, scheduling) show.
# Environment: QUICK=1, BENCH_RUNS, BENCH_RUNS_2G, BENCH_BUSY=1 (see work.c), BENCH_HOG=1,
# BENCH_THREADS (default 16), CC, BENCH_DIR (scratch
# directory for images; default bench-out/tmp: it must not be tmpfs if the
# write+fsync figures are to mean anything).

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench-out
TMP=${BENCH_DIR:-$OUT/tmp}
CC=${CC:-gcc}
RUNS=${BENCH_RUNS:-5}
RUNS_2G=${BENCH_RUNS_2G:-3}
THREADS=${BENCH_THREADS:-16}
MiB=1048576

if [ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ]; then
	SIZES="64 256"
	THREADS_MIB=256
	ZIP_MIB=256
else
	SIZES="64 256 1024 2048"
	THREADS_MIB=1024
	ZIP_MIB=1024
fi
case $THREADS in
''|*[!0-9]*) echo "bench: BENCH_THREADS=$THREADS: not a number" >&2; exit 1 ;;
esac
[ "$THREADS" -le 64 ] || { echo "bench: BENCH_THREADS=$THREADS: libckpt takes 64 at most" >&2; exit 1; }

RUN1=
HOG=
cleanup() {
	[ -n "$HOG" ] && kill "$HOG" 2>/dev/null
	if [ -n "$RUN1" ]; then
		kill "$RUN1" 2>/dev/null	# run1 kills and reaps its own children
		wait "$RUN1" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for f in libckpt.so restorer ckpt; do
	[ -e "$ROOT/$f" ] || { echo "bench: $ROOT/$f missing: run make first" >&2; exit 1; }
done
mkdir -p "$OUT/bin" "$TMP" || exit 1
$CC -std=gnu11 -O2 -g -Wall -Wextra -pthread -o "$OUT/bin/work" "$ROOT/tests/bench/work.c" &&
$CC -std=gnu11 -O2 -g -Wall -Wextra -o "$OUT/bin/run1" "$ROOT/tests/bench/run1.c" || exit 1
# run1 finds work at DIR/../bin/work
if [ "$(cd "$TMP/.." && pwd)" != "$OUT" ]; then
	mkdir -p "$TMP/../bin" && cp "$OUT/bin/work" "$TMP/../bin/work" || exit 1
fi
# measure a snapshot: a rebuild in the tree during the run must not change
# (or break) the library and restorer between two runs
cp "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/ckpt" "$OUT/bin/" || exit 1

: > "$OUT/runs.txt"
: > "$OUT/run1.log"
fs=$(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 }')
echo "bench: $(uname -r), $(nproc) cpus, scratch $TMP ($fs)"
case $fs in tmpfs*) echo "bench: NOTE: scratch is tmpfs: write+fsync and checkpoint times mean little" ;; esac
[ "$(id -u)" = 0 ] || echo "bench: not root: the cold read() baseline is skipped"

if [ "${BENCH_HOG:-0}" = 1 ]; then
	sh -c 'while :; do :; done' &
	HOG=$!
	echo "bench: BENCH_HOG=1: a busy loop (pid $HOG) runs beside every case"
fi
start=$(date +%s)
failed=0
# one_case MODE MIB RUNS [THREADS]; ZIP=1: with CKPT_COMPRESS=zstd; SNAP: CKPT_SNAPSHOT
ZIP=0
SNAP=
one_case() {
	i=1
	if [ "${4:-1}" -gt 1 ]; then
		printf 'bench: %-10s %5s MiB, %s threads:' threads "$2" "$4"
	else
		printf 'bench: %-14s %5s MiB:' "$1$([ $ZIP = 1 ] && echo +zstd)${SNAP:+:$SNAP}" "$2"
	fi
	while [ "$i" -le "$3" ]; do
		env ${SNAP:+CKPT_SNAPSHOT=$SNAP} BENCH_COMPRESS=$ZIP "$OUT/bin/run1" "$1" $(($2 * MiB)) "$TMP" "$OUT/bin" "${4:-1}" \
			> "$OUT/run.out" 2>> "$OUT/run1.log" &
		RUN1=$!
		wait "$RUN1"
		rc=$?
		RUN1=
		if [ $rc -ne 0 ]; then
			echo " run $i FAILED (exit $rc):"
			grep '^run1:' "$OUT/run1.log" | tail -3 | sed 's/^/    /'
			failed=$((failed + 1))
			return
		fi
		sed "s/\$/${SNAP:+ snapshot=$SNAP}/" "$OUT/run.out" >> "$OUT/runs.txt"
		printf ' %s' "$i"
		i=$((i + 1))
	done
	echo " ($(($(date +%s) - start)) s so far)"
}

for s in $SIZES; do
	n=$RUNS
	[ "$s" -ge 2048 ] && [ "$RUNS_2G" -lt "$RUNS" ] && n=$RUNS_2G
	one_case dense "$s" "$n"
	[ "$s" = "$THREADS_MIB" ] && [ "$THREADS" -gt 1 ] && one_case dense "$s" "$n" "$THREADS"
done
one_case sparse 1024 "$RUNS"
# the method auto does not choose for it: only its pages with data
# write-protected (root: a userfaultfd), the program going on at once
if [ "$(id -u)" = 0 ]; then
	SNAP=uffd
	one_case sparse 1024 "$RUNS"
	SNAP=
fi
one_case text "$ZIP_MIB" "$RUNS"
ZIP=1
one_case text "$ZIP_MIB" "$RUNS"
one_case dense "$ZIP_MIB" "$RUNS"
ZIP=0
rm -f "$OUT/run.out"
grep -q 'cold read skipped' "$OUT/run1.log" &&
	echo "bench: cold read skipped: $(grep -m1 'cold read skipped' "$OUT/run1.log" | sed 's/.*drop_caches: //')"

# ---- medians, table, CSV ----
awk -v csv="$OUT/bench.csv" '
function kv(line,   n, i, f, p) {
	delete v
	n = split(line, f, " ")
	for (i = 1; i <= n; i++) {
		p = index(f[i], "=")
		if (p)
			v[substr(f[i], 1, p - 1)] = substr(f[i], p + 1)
	}
}
function add(c, k, x) { cnt[c, k]++; val[c, k, cnt[c, k]] = x }
function med(c, k,   n, i, j, t, a) {
	n = cnt[c, k]
	if (!n)
		return -1
	for (i = 1; i <= n; i++)
		a[i] = val[c, k, i]
	for (i = 2; i <= n; i++)	# insertion sort: mawk has no asort
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ms(x) { return x < 0 ? -1 : x / 1e6 }
function mib(x) { return x / 1048576 }
function f(x, d) { return x < 0 ? "-" : sprintf("%." d "f", x) }
function r(x) { return x < 0 ? "-" : sprintf("%.2fx", x) }
{
	kv($0)
	# the threaded program is its own case, "threads" (same data as dense)
	c = (v["threads"] > 1 ? "threads" : v["mode"]) (v["snapshot"] != "" ? ":" v["snapshot"] : "") " " v["bytes"]
	if (!(c in seen)) { seen[c] = 1; order[++ncase] = c }
	runs[c]++
	nthr[c] = v["threads"] > 1 ? v["threads"] : 1
	split("pause_ns fork_ns fork_cold_ns ckpt_ns write_ns img_size img_disk eager_run_ns eager_ver_ns lazy_run_ns lazy_ver_ns read_ns read_cold_ns memcpy_ns sum_ns other_gap_ns fill_ns written thr_pause_ns", keys, " ")
	for (i in keys)
		add(c, keys[i], v[keys[i]] + 0)
	add(c, "pause/fork", v["pause_ns"] / v["fork_ns"])
	add(c, "pause/forkcold", v["pause_ns"] / v["fork_cold_ns"])
	add(c, "ckpt/write", v["ckpt_ns"] / v["write_ns"])
	add(c, "eager/read", v["eager_ver_ns"] / v["read_ns"])
	add(c, "eagerrun/read", v["eager_run_ns"] / v["read_ns"])
	add(c, "lazy/read", v["lazy_ver_ns"] / v["read_ns"])
	add(c, "eager/readsum", v["eager_ver_ns"] / (v["read_ns"] + v["sum_ns"]))
	add(c, "memcpy/read", v["memcpy_ns"] / v["read_ns"])
}
END {
	print "case,size_mib,runs,pause_ms,fork_ms,pause_over_fork,ckpt_ms,write_fsync_ms,ckpt_over_write," \
	      "image_mib,image_disk_mib,eager_run_ms,eager_verified_ms,read_ms,eager_over_read," \
	      "eager_over_read_plus_sum,read_cold_ms,lazy_run_ms,lazy_verified_ms,lazy_over_read," \
	      "memcpy_ms,sum_pass_ms,other_gap_ms,written_mib,threads,thread_pause_ms,fork_cold_ms," \
	      "pause_over_fork_cold" > csv
	printf "\nmedians; ratios are medians of per-run ratios to the baseline measured in the same run\n"
	printf "\ncapture                        pause      fork   pause/   fork    pause/     ckpt  write+fsync  ckpt/     image   on disk\n"
	printf "case              MiB runs      ms        ms   fork     cold ms  cold        ms        ms     write      MiB       MiB\n"
	for (i = 1; i <= ncase; i++) {
		c = order[i]; split(c, cs, " ")
		printf "%-14s %6d %4d %8s %9s %7s %8s %7s %9s %9s %8s %9s %9s\n", cs[1], mib(cs[2]), runs[c],
		       f(ms(med(c, "pause_ns")), 2), f(ms(med(c, "fork_ns")), 2), r(med(c, "pause/fork")),
		       f(ms(med(c, "fork_cold_ns")), 2), r(med(c, "pause/forkcold")),
		       f(ms(med(c, "ckpt_ns")), 1), f(ms(med(c, "write_ns")), 1), r(med(c, "ckpt/write")),
		       f(mib(med(c, "img_size")), 2), f(mib(med(c, "img_disk")), 2)
	}
	printf "\nrestore                       eager     eager  read()   eager/   read()      lazy      lazy  lazy/   memcpy   sum\n"
	printf "case              MiB    running  verified    warm    read     cold   running  verified  read       ms  pass\n"
	for (i = 1; i <= ncase; i++) {
		c = order[i]; split(c, cs, " ")
		printf "%-14s %6d %10s %9s %7s %7s %8s %9s %9s %6s %8s %5s\n", cs[1], mib(cs[2]),
		       f(ms(med(c, "eager_run_ns")), 1), f(ms(med(c, "eager_ver_ns")), 1),
		       f(ms(med(c, "read_ns")), 1), r(cs[1] ~ /^sparse/ ? -1 : med(c, "eager/read")),
		       f(ms(med(c, "read_cold_ns")), 1), f(ms(med(c, "lazy_run_ns")), 2),
		       f(ms(med(c, "lazy_ver_ns")), 1), r(cs[1] ~ /^sparse/ ? -1 : med(c, "lazy/read")),
		       f(ms(med(c, "memcpy_ns")), 1), f(ms(med(c, "sum_ns")), 0)
		printf "%s,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%d,%.3f,%.3f,%.3f\n",
		       cs[1], mib(cs[2]), runs[c], ms(med(c, "pause_ns")), ms(med(c, "fork_ns")), med(c, "pause/fork"),
		       ms(med(c, "ckpt_ns")), ms(med(c, "write_ns")), med(c, "ckpt/write"),
		       mib(med(c, "img_size")), mib(med(c, "img_disk")), ms(med(c, "eager_run_ns")),
		       ms(med(c, "eager_ver_ns")), ms(med(c, "read_ns")), med(c, "eager/read"),
		       med(c, "eager/readsum"), ms(med(c, "read_cold_ns")), ms(med(c, "lazy_run_ns")),
		       ms(med(c, "lazy_ver_ns")), med(c, "lazy/read"), ms(med(c, "memcpy_ns")),
		       ms(med(c, "sum_ns")), ms(med(c, "other_gap_ns")), mib(med(c, "written")),
		       nthr[c], (nthr[c] > 1 ? ms(med(c, "thr_pause_ns")) : -1),
		       ms(med(c, "fork_cold_ns")), med(c, "pause/forkcold") > csv
	}
	printf "(sparse: write+fsync, read() and memcpy are of the 10 MiB written; fork and the sum pass\n"
	printf " are of the whole 1 GiB, whose zero pages the verifying sum faults in again after a restore,\n"
	printf " so its restore ratios are left out.  sum pass: that sum over resident memory, part of both\n"
	printf " \"verified\" times.  A cold read() follows echo 1 > /proc/sys/vm/drop_caches.  After its\n"
	printf " pause the program sleeps while the image is written; BENCH_BUSY=1: it spins on.\n"
	printf " threads: the dense program with more threads walking its memory; see below.\n"
	printf " fork: back to back, the second and third finding the page tables and page counts in\n"
	printf " the cache the one before left; fork cold: each after the memcpy and 2 ms of spin, the\n"
	printf " state the checkpoint meets (tests/bench/work.c))\n"

	# issue 9: each threaded case beside the single-threaded one of its size
	nt = 0
	for (i = 1; i <= ncase; i++) {
		c = order[i]; split(c, cs, " ")
		if (cs[1] != "threads")
			continue
		nt++
		d = "dense " cs[2]
		if (!(d in seen))
			d = ""
		printf "\nthreads (issue 9), dense %d MiB      1 thread %10s\n", mib(cs[2]), nthr[c] " threads"
		cmp("program pause, main thread (ms)", d, c, "pause_ns", 2, 0)
		cmp("fork of the same process (ms)", d, c, "fork_ns", 2, 0)
		cmp("pause / fork", d, c, "pause/fork", 2, 1)
		cmp("pause / fork cold", d, c, "pause/forkcold", 2, 1)
		cmp("longest pause of the other threads (ms)", "", c, "thr_pause_ns", 2, 0)
		cmp("checkpoint (ms)", d, c, "ckpt_ns", 1, 0)
		cmp("write+fsync of the same bytes (ms)", d, c, "write_ns", 1, 0)
		cmp("checkpoint / write+fsync", d, c, "ckpt/write", 2, 1)
		cmp("longest other gap of the main spin (ms)", d, c, "other_gap_ns", 2, 0)
	}
	if (nt)
		printf "(the workers run flat out until their pause: on a machine with fewer cores than\n" \
		       " threads every figure taken then, fork included, also waits for a core)\n"

	# targets (issue 5): 1 GiB dense, or the largest dense size measured
	big = ""; bigb = 0; found = 0
	for (i = 1; i <= ncase; i++) {
		split(order[i], cs, " ")
		if (cs[1] != "dense")
			continue
		if (cs[2] + 0 == 1073741824) {
			big = order[i]; bigb = cs[2] + 0; found = 1
		} else if (!found && cs[2] + 0 > bigb) {
			big = order[i]; bigb = cs[2] + 0
		}
	}
	sp = spi = ""
	for (i = 1; i <= ncase; i++)
		if (order[i] ~ /^sparse /)
			sp = order[i]
		else if (order[i] ~ /^sparse:uffd /)
			spi = order[i]
	printf "\ntargets (issue 5)%s\n", bigb == 1073741824 || big == "" ? ", dense 1 GiB" : \
	       sprintf(", dense %d MiB (no 1 GiB run: QUICK=1)", mib(bigb))
	if (big != "") {
		t("pause <= 1.5x fork of the same process", med(big, "pause/fork"), 1.5, "x", \
		  sprintf("%.2f ms vs %.2f ms", ms(med(big, "pause_ns")), ms(med(big, "fork_ns"))))
		t("pause <= 1.2x fork cold (issue 20)", med(big, "pause/forkcold"), 1.2, "x", \
		  sprintf("%.2f ms vs %.2f ms", ms(med(big, "pause_ns")), ms(med(big, "fork_cold_ns"))))
		t("checkpoint <= 1.25x write()+fsync", med(big, "ckpt/write"), 1.25, "x", \
		  sprintf("%.0f ms vs %.0f ms", ms(med(big, "ckpt_ns")), ms(med(big, "write_ns"))))
		t("eager restore, verified <= 1.5x read()", med(big, "eager/read"), 1.5, "x", \
		  sprintf("%.0f ms vs %.0f ms", ms(med(big, "eager_ver_ns")), ms(med(big, "read_ns"))))
		t("lazy restore to running < 10 ms", ms(med(big, "lazy_run_ns")), 10, " ms", "")
	}
	# issue 20: each compressed case beside the same data uncompressed
	for (i = 1; i <= ncase; i++) {
		c = order[i]; split(c, cs, " ")
		if (cs[1] !~ /\+zstd$/)
			continue
		u = substr(cs[1], 1, length(cs[1]) - 5) " " cs[2]
		if (!(u in seen))
			u = ""
		printf "\ncompression (issue 20), %s %d MiB   uncompressed   CKPT_COMPRESS=zstd\n", \
		       substr(cs[1], 1, length(cs[1]) - 5), mib(cs[2])
		zc("image (MiB, st_size)", u, c, "img_size", 2, 2)
		zc("checkpoint (ms)", u, c, "ckpt_ns", 1, 0)
		zc("checkpoint / write+fsync of the raw bytes", u, c, "ckpt/write", 2, 1)
		zc("program pause (ms)", u, c, "pause_ns", 2, 0)
		zc("eager restore, verified (ms)", u, c, "eager_ver_ns", 1, 0)
		zc("eager restore / read() of the raw bytes", u, c, "eager/read", 2, 1)
		zc("lazy restore, running (ms)", u, c, "lazy_run_ns", 2, 0)
		if (u == "")
			continue
		if (cs[1] == "text+zstd") {
			t("text: image <= 40% of the uncompressed one", 100 * med(c, "img_size") / med(u, "img_size"), 40, "%", "")
			t("text: checkpoint <= 0.6x write+fsync (raw)", med(c, "ckpt/write"), 0.6, "x", \
			  sprintf("%.0f ms vs %.0f ms", ms(med(c, "ckpt_ns")), ms(med(c, "write_ns"))))
		} else {
			t(cs[1] ": ckpt/write <= 1.05x uncompressed", med(c, "ckpt/write") / med(u, "ckpt/write"), 1.05, "x", \
			  sprintf("%.2fx vs %.2fx", med(c, "ckpt/write"), med(u, "ckpt/write")))
		}
	}

	if (sp != "") {
		t("sparse image <= 11 MiB (st_size)", mib(med(sp, "img_size")), 11, " MiB", \
		  sprintf("%.2f MiB on disk", mib(med(sp, "img_disk"))))
		t("sparse checkpoint < 50 ms", ms(med(sp, "ckpt_ns")), 50, " ms", "")
		printf "\ntargets (issue 20), sparse: 1 GiB mapped, 10 MiB written\n"
		t("checkpoint <= 1.5x write+fsync", med(sp, "ckpt/write"), 1.5, "x", \
		  sprintf("%.1f ms vs %.1f ms", ms(med(sp, "ckpt_ns")), ms(med(sp, "write_ns"))))
		t("pause <= 1.2x fork cold", med(sp, "pause/forkcold"), 1.2, "x", \
		  sprintf("%.2f ms vs %.2f ms", ms(med(sp, "pause_ns")), ms(med(sp, "fork_cold_ns"))))
		t("lazy restore to running < 2 ms", ms(med(sp, "lazy_run_ns")), 2, " ms", "")
	}
	if (spi != "") {
		printf "the same, CKPT_SNAPSHOT=uffd (the method not chosen: the data pages write-protected)\n"
		t("checkpoint <= 1.5x write+fsync", med(spi, "ckpt/write"), 1.5, "x", \
		  sprintf("%.1f ms vs %.1f ms", ms(med(spi, "ckpt_ns")), ms(med(spi, "write_ns"))))
		t("pause <= 1.2x fork cold", med(spi, "pause/forkcold"), 1.2, "x", \
		  sprintf("%.2f ms vs %.2f ms", ms(med(spi, "pause_ns")), ms(med(spi, "fork_cold_ns"))))
	}
}
# cmp LABEL DENSE THREADED KEY DECIMALS RATIO: one line of the issue 9 table
function cmp(what, d, c, k, dec, ratio,   a, b) {
	a = d == "" ? -1 : med(d, k)
	b = med(c, k)
	if (!ratio) {
		a = ms(a); b = ms(b)
	}
	printf "  %-42s %9s %10s\n", what, ratio ? r(a) : f(a, dec), ratio ? r(b) : f(b, dec)
}
# zc LABEL UNCOMPRESSED COMPRESSED KEY DECIMALS KIND (0 ns, 1 ratio, 2 bytes)
function zc(what, u, c, k, dec, kind,   a, b) {
	a = u == "" ? -1 : med(u, k)
	b = med(c, k)
	if (kind == 0) {
		a = ms(a); b = ms(b)
	} else if (kind == 2) {
		a = a < 0 ? -1 : mib(a); b = mib(b)
	}
	printf "  %-42s %12s %12s\n", what, kind == 1 ? r(a) : f(a, dec), kind == 1 ? r(b) : f(b, dec)
}
function t(what, x, lim, unit, note) {
	printf "  %-42s %9s  target %5s%-3s  %-7s %s\n", what, x < 0 ? "-" : sprintf("%.2f%s", x, unit == "x" || unit == "%" ? unit : ""),
	       lim, unit, x < 0 ? "n/a" : x <= lim ? "met" : "NOT MET", note
}
' "$OUT/runs.txt"
echo "bench: $OUT/bench.csv, $OUT/runs.txt"

# ---- plot ----
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "bench: gnuplot not found: no plot (Debian: apt-get install gnuplot-nox)"
elif [ "$(grep -c '^dense,' "$OUT/bench.csv")" -lt 1 ]; then
	echo "bench: no dense case measured: no plot"
else
	grep -e '^case' -e '^dense,' "$OUT/bench.csv" > "$OUT/dense.csv"
	# the status is tested after EOF: the here-document begins on the next
	# line, so an "|| { ... }" put there went to gnuplot as input
	gnuplot <<EOF 2> "$OUT/gnuplot.log"
set terminal pngcairo size 1400,560 noenhanced font ",10"
set output "$OUT/bench.png"
set datafile separator ","
set key top left
set grid
set logscale x 2
set xlabel "dense random data (MiB)"
set multiplot layout 1,2 title "ckpt: $(uname -r), $(nproc) cpus -- medians"
set logscale y
set ylabel "ms"
set title "time"
plot "$OUT/dense.csv" using 2:4 skip 1 with linespoints title "pause", \
     "" using 2:5 skip 1 with linespoints dt 2 title "fork()", \
     "" using 2:7 skip 1 with linespoints title "checkpoint", \
     "" using 2:8 skip 1 with linespoints dt 2 title "write()+fsync", \
     "" using 2:13 skip 1 with linespoints title "eager restore, verified", \
     "" using 2:14 skip 1 with linespoints dt 2 title "read() warm", \
     "" using 2:18 skip 1 with linespoints title "lazy restore, running"
unset logscale y
set ylabel "ratio to the machine (same run)"
set yrange [0:*]
set title "ratios; dashed: targets"
plot "$OUT/dense.csv" using 2:6 skip 1 with linespoints lc 1 title "pause / fork", \
     "" using 2:9 skip 1 with linespoints lc 2 title "checkpoint / write+fsync", \
     "" using 2:15 skip 1 with linespoints lc 3 title "eager verified / read()", \
     1.5 with lines dt 2 lc 1 title "1.5x (pause, eager)", \
     1.25 with lines dt 2 lc 2 title "1.25x (checkpoint)"
unset multiplot
EOF
	if [ $? -eq 0 ]; then
		echo "bench: $OUT/bench.png"
	else
		echo "bench: gnuplot failed:"
		sed 's/^/    /' "$OUT/gnuplot.log"
	fi
	rm -f "$OUT/dense.csv"
fi
[ $failed -eq 0 ] || { echo "bench: $failed case(s) failed: see $OUT/run1.log"; exit 1; }
