#!/bin/sh
# dump_setuid.sh -- a program that changed its uid (setresuid) is not
# dumpable: its /proc/self files belong to root and it can no longer read
# them.  A checkpoint is refused in one line naming that cause, nothing is
# written, and the program is not made dumpable (which would let every
# process of its new uid ptrace it) (issue 15: "cannot read the mm fields:
# errno 13").
#
# A small C program (compiled here with cc) started as root under libckpt.so,
# its image directory owned by uid 65534:
#   - drop:    setresuid(65534, 65534, 65534), then waits ->
#              `ckpt dump PID` exits 1 at once with one line saying it is not
#              dumpable, sends nothing (the program is alive, SigPnd clear);
#              the trigger sent by hand: libckpt says in one line on the
#              program's stderr that it is not dumpable, no image and no
#              temporary file are left, the program is alive and still not
#              dumpable (PR_GET_DUMPABLE 0, it prints it when asked: SIGUSR1)
#   - api:     the same, then calls ckpt_checkpoint() -> -1, errno EACCES,
#              one libckpt line, no file
#   - nodump:  stays root and calls PR_SET_DUMPABLE 0 -> root can still read
#              its /proc/self: dump succeeds (no needless refusal)
# Needs root (to change uid); as the ordinary user it is skipped.
# Environment (tests/run.sh): ROOT.  Output `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: dump of the drop program is expected to succeed.

set -u
. "$(dirname "$0")/lib.sh"
pid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null'
[ "$(id -u)" -eq 0 ] || skip "needs root to start a program that changes its uid (the root pass runs it)"
need_built "$ROOT/ckpt" "$ROOT/libckpt.so"
CC=${CC:-cc}
need_cc "$CC"
workdir dumpsetuid /tmp
chmod 755 "$W"
mkdir "$W/img" && chown 65534 "$W/img" && chmod 700 "$W/img"

cat >"$W/drop.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

static volatile sig_atomic_t asked;
static void ask(int sig) { (void)sig; asked = 1; }

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char line[64];

	if (!strcmp(mode, "nodump")) {
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
			return 2;
	} else if (setresuid(65534, 65534, 65534)) {
		return 2;
	}
	if (!strcmp(mode, "api")) {
		int (*ck)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ckpt_checkpoint");
		int r = ck ? ck() : -2, e = errno;

		snprintf(line, sizeof(line), "api %d %s\n", r, r == -1 && e == EACCES ? "EACCES" : "other");
		write(1, line, strlen(line));
		return 0;
	}
	signal(SIGUSR1, ask);
	write(1, "ready\n", 6);
	for (;;) {
		pause();
		if (asked) {
			asked = 0;
			snprintf(line, sizeof(line), "dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
			write(1, line, strlen(line));
		}
	}
}
EOF
compile_or_fail "build the test program" "$CC" -O -o "$W/drop" "$W/drop.c" -ldl

start() {
	rm -f "$W/out" "$W/prog.err"
	LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/img/img "$W/drop" "$1" >"$W/out" 2>"$W/prog.err" </dev/null &
	pid=$!
}
stop() { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }
leftovers() { ls -A "$W/img" | tr '\n' ' '; }

# ---- drop: ckpt dump refuses ----
start drop
wait_for 5 grep -q ready "$W/out" || { not_ok "drop: the program never became ready: $(oneline "$W/prog.err")"; finish; }
"$ROOT/ckpt" dump --timeout 10 "$pid" >"$W/dout" 2>"$W/derr" </dev/null
rc=$?
want=1
[ "$BRK" = 1 ] && want=0
pnd=$(awk '/^(SigPnd|ShdPnd):/ { print $2 }' "/proc/$pid/status" | tr '\n' ' ')
if [ $rc -eq $want ] && [ "$(lines "$W/derr")" = 1 ] && grep -q "is not dumpable (it changed its uid" "$W/derr" &&
	[ -z "$(leftovers)" ] && [ "$pnd" = "0000000000000000 0000000000000000 " ] && kill -0 "$pid"; then
	ok "drop: dump refused, nothing sent: $(oneline "$W/derr")"
else
	not_ok "drop: dump exit $rc (want $want), stderr '$(oneline "$W/derr")', pending '$pnd', in the directory '$(leftovers)'"
fi

# ---- drop: the trigger by hand ----
kill -USR2 "$pid"
wait_for 5 grep -q "not dumpable" "$W/prog.err"
kill -USR1 "$pid"
wait_for 5 grep -q dumpable "$W/out"
if [ "$(lines "$W/prog.err")" = 1 ] &&
	grep -qx "libckpt: $W/img/img: the process is not dumpable (it changed its uid or called PR_SET_DUMPABLE 0): /proc/self is unreadable; no checkpoint" "$W/prog.err" &&
	[ -z "$(leftovers)" ] && grep -qx "dumpable 0" "$W/out"; then
	ok "drop: the trigger refused in one line, nothing written, still not dumpable"
else
	not_ok "drop: program stderr '$(oneline "$W/prog.err")', stdout '$(oneline "$W/out")', in the directory '$(leftovers)'"
fi
stop

# ---- api ----
start api
wait "$pid"
pid=
if grep -qx "api -1 EACCES" "$W/out" && [ "$(lines "$W/prog.err")" = 1 ] && grep -q "not dumpable" "$W/prog.err" &&
	[ -z "$(leftovers)" ]; then
	ok "api: ckpt_checkpoint() -1 EACCES, one line, nothing written"
else
	not_ok "api: stdout '$(oneline "$W/out")', stderr '$(oneline "$W/prog.err")', in the directory '$(leftovers)'"
fi

# ---- nodump: root can still read its /proc/self ----
start nodump
wait_for 5 grep -q ready "$W/out"
"$ROOT/ckpt" dump --timeout 30 "$pid" >"$W/dout" 2>"$W/derr" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ -s "$W/img/img" ] && [ ! -s "$W/derr" ]; then
	ok "nodump: root with PR_SET_DUMPABLE 0 is checkpointed: $(oneline "$W/dout")"
else
	not_ok "nodump: exit $rc, stderr '$(oneline "$W/derr")', program's '$(oneline "$W/prog.err")'"
fi
stop

finish
