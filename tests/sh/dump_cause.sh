#!/bin/sh
# dump_cause.sh -- when a checkpoint cannot be taken, `ckpt dump` and libckpt
# name the real cause in one line (issue 15).
#
#   - static:  a statically linked program (LD_PRELOAD has no effect on it) ->
#              dump exits 1 at once with one line saying it is statically
#              linked, not "start it with ckpt run" (skipped without a static
#              libc)
#   - writer:  a program with 256 MiB of data under libckpt.so; while its forked
#              writer writes the image the test kills that writer (SIGKILL,
#              as the OOM killer would) -> dump exits 1 with one line saying
#              the writer died of signal 9 (SIGKILL); the next dump succeeds
#              and libckpt has said on the program's stderr "checkpoint
#              failed: the writer died of signal 9 (SIGKILL)"
# Environment (tests/run.sh): ROOT, the built tree; TMPDIR, a private dir.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail,
# 4 skip.  CKPT_TEST_BREAK=1: the writer's signal is expected to be SIGSEGV.

set -u
. "$(dirname "$0")/lib.sh"
pid=
dpid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; [ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so"
CC=${CC:-cc}
need_cc "$CC"
workdir dumpcause

cat >"$W/big.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = (size_t)atoi(argc > 1 ? argv[1] : "1") << 20;
	unsigned char *p = malloc(len);

	if (!p)
		return 2;
	for (size_t i = 0; i < len; i++)	/* not zero: every page is written */
		p[i] = (unsigned char)(i * 2654435761u >> 13);
	write(1, "ready\n", 6);
	for (;;)
		pause();
}
EOF
compile_or_fail "build the test program" "$CC" -O -o "$W/big" "$W/big.c"

# one_line_fail DESC WANT -- the last dump ($rc, $W/out, $W/err) exited 1 with
# one line on stderr holding WANT
one_line_fail() {
	if [ "$rc" -eq 1 ] && [ "$(lines "$W/err")" = 1 ] && [ ! -s "$W/out" ] && grep -qF "$2" "$W/err"; then
		ok "$1: $(oneline "$W/err")"
	else
		not_ok "$1: exit $rc (want 1), stdout '$(oneline "$W/out")', stderr '$(oneline "$W/err")' (want one line with '$2')"
	fi
}

# ---- static ----
if "$CC" -O -static -o "$W/static" "$W/big.c" 2>/dev/null; then
	LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/static.img "$W/static" 1 >"$W/static.out" 2>&1 </dev/null &
	pid=$!
	wait_for 5 grep -q ready "$W/static.out"
	"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	one_line_fail "static: refused" "is statically linked: libckpt.so cannot be preloaded"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
else
	note "no static libc: the static case is not tried"
fi

# ---- the writer dies of a signal ----
LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/big.img "$W/big" 256 >"$W/big.out" 2>"$W/big.err" </dev/null &
pid=$!
wait_for 60 grep -q ready "$W/big.out" || { not_ok "writer: the program never became ready"; finish; }
"$ROOT/ckpt" dump --timeout 60 "$pid" >"$W/out" 2>"$W/err" </dev/null &
dpid=$!
# libckpt's writer: the child of the program (it starts none of its own)
writer=
i=0
while [ -z "$writer" ] && [ $i -lt 20000 ] && kill -0 "$dpid" 2>/dev/null; do
	writer=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
	i=$((i + 1))
done
writer=${writer%% *}
if [ -n "$writer" ]; then
	kill -KILL "$writer"
	wait "$dpid"
	rc=$?
	dpid=
	sig="signal 9 (SIGKILL)"
	[ "$BRK" = 1 ] && sig="signal 11 (SIGSEGV)"
	one_line_fail "writer killed: dump names it" "its writer (pid $writer) died of $sig"
	[ -e "$W/big.img" ] && not_ok "writer killed: an image is there all the same"
	"$ROOT/ckpt" dump --timeout 60 "$pid" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	if [ $rc -eq 0 ] && [ -s "$W/big.img" ] && grep -qF "libckpt: $W/big.img: checkpoint failed: the writer died of $sig" "$W/big.err"; then
		ok "writer killed: libckpt said so at the next checkpoint, which worked: $(grep -F 'died of' "$W/big.err")"
	else
		not_ok "writer killed, next dump: exit $rc, stderr '$(oneline "$W/err")', program's stderr '$(oneline "$W/big.err")'"
	fi
else
	wait "$dpid"
	dpid=
	not_ok "writer: never saw libckpt's writer (the checkpoint was too quick?): $(oneline "$W/out")"
fi
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=

finish
