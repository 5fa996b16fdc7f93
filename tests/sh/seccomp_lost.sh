#!/bin/sh
# seccomp_lost.sh -- seccomp filters, which the image cannot hold, are named at
# checkpoint time and at restore; a process without them gets no such line.
#
# Simulates a service that sandboxed itself (no_new_privs, then a seccomp
# filter, as OpenSSH's privilege separation or a systemd unit's
# SystemCallFilter= do) and is checkpointed with raise(SIGUSR2).  An
# unprivileged process cannot read its filters back, and the restorer is a
# new process without them, so the restored program would run unsandboxed:
#   1  libckpt says so at checkpoint time ("not restored: seccomp filters")
#   2  the restorer says so ("notice: not restored: seccomp filters"), the
#      program runs on (its output after the restore is there)
#   3  the same program without the filter: no line about seccomp at either end
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: check 3 wants the line.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer"
workdir seccomp_lost

cat >"$W/sandboxed.c" <<'EOF2'
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(int argc, char **argv)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { 1, &allow };

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	if (argc > 1 && !strcmp(argv[1], "filter") &&
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))) {
		perror("seccomp");
		return 3;
	}
	raise(SIGUSR2);
	printf("%s %lu\n", ckpt_restore_count() ? "restored" : "checkpointed", ckpt_restore_count());
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/sandboxed" "$W/sandboxed.c"

# run MODE -- checkpoint, then restore; stderr of both in $W/MODE.ckpt, MODE.rst
run() {
	rm -f "$W/img"
	(cd "$W" && CKPT_FILE="$W/img" timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" "$W/sandboxed" "$1" \
		>"$W/$1.out" 2>"$W/$1.ckpt")
	wait_for 10 test -s "$W/img"
	sleep 0.2
	(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" >"$W/$1.rout" 2>"$W/$1.rst" </dev/null)
}

run filter
if grep -q "libckpt: .*img: not restored: seccomp filters" "$W/filter.ckpt"; then
	ok "libckpt names the seccomp filters at checkpoint time"
else
	not_ok "libckpt's line about seccomp: $(oneline "$W/filter.ckpt")"
fi
if grep -q "restorer: notice: not restored: seccomp filters" "$W/filter.rst" && grep -q "^restored 1$" "$W/filter.rout"; then
	ok "the restorer names them and the program runs on"
else
	not_ok "restorer: $(oneline "$W/filter.rst"), program: $(oneline "$W/filter.rout")"
fi
run none
want=0
[ "$BRK" -eq 1 ] && want=1
lines=$(cat "$W/none.ckpt" "$W/none.rst" | grep -c seccomp)
got=0
[ "$lines" -gt 0 ] && got=1
if grep -q "^restored 1$" "$W/none.rout" && [ "$got" -eq "$want" ]; then
	ok "without a filter: no line about seccomp"
else
	not_ok "without a filter: $lines lines about seccomp, program: $(oneline "$W/none.rout")"
fi
finish
