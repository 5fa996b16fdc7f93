#!/bin/sh
# vmflags_lost.sh -- mapping flags the restorer cannot set again are named at
# checkpoint time and at restore time, and a locked region the restorer may not
# lock is one notice, not one per region.
#
# Simulates a program that fenced a buffer with guard pages (MADV_GUARD_INSTALL,
# Linux 6.13: VmFlags "gu") and locked three buffers (mlock), then took a
# checkpoint with raise(SIGUSR2).  Guard pages are page-table markers the image
# does not record, so libckpt writes one line naming the flag ("libckpt: IMAGE:
# not restored: mapping flag gu: guard pages (MADV_GUARD_INSTALL) (first at
# 0x...)") and the restorer one notice ("restorer: notice: not restored: some
# mapping VmFlags").  As the ordinary user, the restore runs with RLIMIT_MEMLOCK
# 0: the three regions stay unlocked and the restorer says so in exactly one line.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the program installs no guard page (nothing to name).

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir vmflags_lost

cat >"$W/guard.c" <<'EOF2'
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(int argc, char **argv)
{
	char *g = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *l[3];
	struct stat st;

	if (!ckpt_restore_count || argc < 2) { puts("usage: guard IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	memset(g, 7, 4 * 4096);
	if (!getenv("BRK") && madvise(g + 3 * 4096, 4096, 102 /* MADV_GUARD_INSTALL */)) {
		printf("guard refused: errno %d\n", errno);
		return 4;
	}
	for (int i = 0; i < 3; i++) {
		l[i] = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(l[i], i + 1, 4 * 4096);
		mprotect(l[i], 4096, PROT_READ);	/* three regions of their own */
		if (mlock(l[i], 4 * 4096)) { printf("mlock: errno %d\n", errno); return 3; }
	}
	printf("guard %p\n", (void *)(g + 3 * 4096));
	fflush(stdout);
	raise(SIGUSR2);
	if (ckpt_restore_count() > 0) {
		printf("restored: %d %d %d %d\n", g[0], l[0][5], l[1][5], l[2][4 * 4096 - 1]);
		return 0;
	}
	for (int i = 0; i < 600 && stat(argv[1], &st); i++)
		usleep(50000);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/guard" "$W/guard.c"
(cd "$W" && [ "$BRK" = 1 ] && export BRK=1; CKPT_FILE="$W/img" timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./guard "$W/img") \
	>"$W/orig.out" 2>"$W/orig.err"
rc=$?
[ $rc -eq 4 ] && skip "MADV_GUARD_INSTALL is not available here: $(oneline "$W/orig.out")"
wait_for 30 test -s "$W/img"
at=$(sed -n 's/^guard 0x//p' "$W/orig.out" | sed 's/^0*//')
if [ $rc -eq 0 ] && [ -n "$at" ] && [ -s "$W/img" ]; then
	ok "the program installed a guard page and made a checkpoint: $(oneline "$W/orig.out")"
else
	not_ok "the program failed (exit $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
want="libckpt: $W/img: not restored: mapping flag gu: guard pages (MADV_GUARD_INSTALL) (first at 0x"
got=$(grep 'not restored' "$W/orig.err")
case $got in
"$want"*")") ok "at checkpoint time one line names the guard pages: $got" ;;
*) not_ok "checkpoint said: $(oneline "$W/orig.err") (want: $want...)" ;;
esac
limit=
[ "$(id -u)" != 0 ] && limit=0
got=$(cd "$W" && { [ -z "$limit" ] || ulimit -l 0; } && timeout 30 "$ROOT/restorer" "$W/img" 2>"$W/restore.err")
rc=$?
if [ "$(grep 'not restored' "$W/restore.err")" = "restorer: notice: not restored: some mapping VmFlags" ]; then
	ok "at restore time one notice names them"
else
	not_ok "restorer said: $(oneline "$W/restore.err")"
fi
if [ "$limit" = 0 ]; then
	nl=$(grep -c 'unlocked' "$W/restore.err")
	if [ "$nl" = 1 ]; then
		ok "RLIMIT_MEMLOCK 0: one notice for the three locked regions: $(grep unlocked "$W/restore.err")"
	else
		not_ok "RLIMIT_MEMLOCK 0: $nl notices about locking (want 1): $(oneline "$W/restore.err")"
	fi
else
	note "as root mlock is not limited: the one-notice check runs as the ordinary user"
fi
if [ $rc -eq 0 ] && [ "$got" = "restored: 7 1 2 3" ]; then
	ok "the restored program runs on: $got"
else
	not_ok "restored program (exit $rc): '$got' $(oneline "$W/restore.err")"
fi
finish
