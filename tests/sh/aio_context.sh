#!/bin/sh
# aio_context.sh -- a Linux AIO context (io_setup) is not restored, and both
# the checkpoint and the restore say so; the restored program does not crash.
#
# Simulates a program using kernel AIO (as databases and libaio users do): it
# makes a context with io_setup, which maps the kernel's completion ring into
# it ("/[aio] (deleted)" in /proc/self/maps), and takes a checkpoint with
# raise(SIGUSR2).  The kernel's context cannot be made again at the same
# address, so libckpt writes one line naming it at checkpoint time
# ("libckpt: IMAGE: not restored: Linux AIO contexts (io_setup; a ring at
# 0x...) ..."), the restorer one notice ("restorer: notice: not restored:
# Linux AIO contexts"), and the restored program runs on: io_getevents on the
# old context fails with EINVAL instead of crashing it.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored program's io_getevents is expected to work.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir aio_context

cat >"$W/aio.c" <<'EOF2'
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(int argc, char **argv)
{
	aio_context_t ctx = 0;
	struct io_event ev;
	struct timespec none = { 0, 0 };
	struct stat st;
	long r;

	if (!ckpt_restore_count || argc < 2) { puts("usage: aio IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	if (syscall(SYS_io_setup, 8, &ctx)) { perror("io_setup"); return 4; }
	printf("ring 0x%llx\n", (unsigned long long)ctx);
	fflush(stdout);
	raise(SIGUSR2);
	r = syscall(SYS_io_getevents, ctx, 0, 1, &ev, &none);
	if (ckpt_restore_count() > 0) {
		printf("restored: io_getevents %ld errno %d\n", r, r < 0 ? errno : 0);
		return 0;
	}
	for (int i = 0; i < 600 && stat(argv[1], &st); i++)
		usleep(50000);
	return r == 0 ? 0 : 3;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/aio" "$W/aio.c"
under_libckpt ./aio "$W/img"
[ $rc -eq 4 ] && skip "io_setup is not available here: $(oneline "$W/orig.err")"
wait_for 30 test -s "$W/img"
ring=$(sed -n 's/^ring //p' "$W/orig.out")
if [ $rc -eq 0 ] && [ -n "$ring" ] && [ -s "$W/img" ]; then
	ok "the program made an AIO context and a checkpoint: $(oneline "$W/orig.out")"
else
	not_ok "the program failed (exit $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
want="libckpt: $W/img: not restored: Linux AIO contexts (io_setup; a ring at $ring): io_submit and io_getevents on them fail with EINVAL after a restore"
if [ "$(grep 'not restored' "$W/orig.err")" = "$want" ]; then
	ok "at checkpoint time one line names the AIO context"
else
	not_ok "checkpoint said: $(oneline "$W/orig.err") (want: $want)"
fi
got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" 2>"$W/restore.err")
rc=$?
if [ "$(grep 'not restored' "$W/restore.err")" = "restorer: notice: not restored: Linux AIO contexts" ]; then
	ok "at restore time one notice names it"
else
	not_ok "restorer said: $(oneline "$W/restore.err")"
fi
want="restored: io_getevents -1 errno 22"
[ "$BRK" = 1 ] && want="restored: io_getevents 0 errno 0"
if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
	ok "the restored program runs on, its old context refused: $got"
else
	not_ok "restored program (exit $rc): '$got' (want '$want') $(oneline "$W/restore.err")"
fi
finish
