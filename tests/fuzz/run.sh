#!/bin/sh
# run.sh -- what `make fuzz` runs: the fuzz target on the seeds for SECONDS.
#
#   sh tests/fuzz/run.sh TARGET SECONDS [JOBS]
#
# New inputs go to corpus/ beside TARGET (build/fuzz/corpus; the seeds in
# tests/fuzz/corpus stay as they are), a crash to crash-* there, the log to log.  JOBS > 1 runs that many workers
# (libFuzzer -fork).  The last lines say executions, exec/s and coverage
# ("cov" in libFuzzer's words: edges of the instrumented code reached).
# Exit 0 when no crash was found, 1 otherwise.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SECS=${2:-60}
JOBS=${3:-1}
OUT=$(dirname "$TARGET")
mkdir -p "$OUT/corpus"
LOG=$OUT/log
fork=
[ "$JOBS" -gt 1 ] && fork="-fork=$JOBS"

# -max_len: the seeds are below 64 KiB.  -timeout: a FIFO that would block
# is an oracle finding (sys.c), anything slower than this is a finding too.
# ASan's options: __asan_default_options() in target.c.
# shellcheck disable=SC2086
"$TARGET" $fork -max_total_time="$SECS" -max_len=131072 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus" "$ROOT/tests/fuzz/corpus" >"$LOG" 2>&1
status=$?
grep -E '^#[0-9]+.*(DONE|pulse)|^stat::|^fuzz: known|FINDING|ERROR|SUMMARY|^artifact|Test unit written' "$LOG" | tail -n 25
if [ $status -ne 0 ]; then
	echo "fuzz: FAILED (exit $status), full log in $LOG"
	exit 1
fi
echo "fuzz: no crash in $SECS s, full log in $LOG"
