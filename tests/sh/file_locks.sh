#!/bin/sh
# file_locks.sh -- file locks and leases are not restored, and both the
# checkpoint and the restore say so.
#
# Simulates a program that holds a POSIX record lock (fcntl F_SETLK, as
# SQLite takes them), an flock() lock (as a pid file guard), an OFD lock
# (F_OFD_SETLK) and a read lease (F_SETLEASE), each through a descriptor of
# its own, and takes a checkpoint with raise(SIGUSR2).  The restored process
# gets its descriptors back but none of the locks: the kernel would have to
# take them again for a process that may be racing others for them.  So at
# checkpoint time libckpt writes one line per kind, naming the descriptor
# ("libckpt: IMAGE: not restored: POSIX record locks (held through fd N)"),
# and the restorer one line per kind ("restorer: notice: not restored: ...");
# the restored program runs on.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: a fifth kind that nobody holds is looked for too.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir file_locks

cat >"$W/locks.c" <<'EOF2'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static int open_in(const char *dir, const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, flags | O_CREAT, 0600);
}
int main(int argc, char **argv)
{
	struct flock rec = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	struct stat st;
	int posix, fl, od, lease;

	if (!ckpt_restore_count || argc < 3) { puts("usage: locks DIR IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	posix = open_in(argv[1], "posix", O_RDWR);
	fl = open_in(argv[1], "flock", O_RDWR);
	od = open_in(argv[1], "ofd", O_RDWR);
	lease = open_in(argv[1], "lease", O_RDONLY);
	if (posix < 0 || fl < 0 || od < 0 || lease < 0) { perror("open"); return 3; }
	if (fcntl(posix, F_SETLK, &rec) || flock(fl, LOCK_EX) || fcntl(od, F_OFD_SETLK, &ofd) ||
	    fcntl(lease, F_SETLEASE, F_RDLCK)) { perror("lock"); return 3; }
	printf("fds %d %d %d %d\n", posix, fl, od, lease);
	fflush(stdout);
	raise(SIGUSR2);
	if (ckpt_restore_count() > 0) {
		printf("restored\n");
		return 0;
	}
	for (int i = 0; i < 600 && stat(argv[2], &st); i++)
		usleep(50000);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/locks" "$W/locks.c"
under_libckpt ./locks "$W" "$W/img"
wait_for 30 test -s "$W/img"
# shellcheck disable=SC2046	# four numbers
set -- $(sed -n 's/^fds //p' "$W/orig.out")
if [ $# -eq 4 ] && [ -s "$W/img" ]; then
	ok "the program took its locks and a checkpoint: $(oneline "$W/orig.out")"
else
	not_ok "the program failed: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
kinds="POSIX record locks:$1
flock locks:$2
OFD locks:$3
leases:$4"
[ "$BRK" = 1 ] && kinds="$kinds
ghost locks:9"
want=$(printf '%s\n' "$kinds" | while IFS=: read -r kind fd; do
	printf 'libckpt: %s: not restored: %s (held through fd %s)\n' "$W/img" "$kind" "$fd"; done)
if [ "$(grep 'not restored' "$W/orig.err")" = "$want" ]; then
	ok "at checkpoint time one line per kind, naming its descriptor"
else
	not_ok "checkpoint said: $(oneline "$W/orig.err") (want: $(printf "%s" "$want" | tr '\n' '|'))"
fi
got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" 2>"$W/restore.err")
want=$(printf '%s\n' "$kinds" | while IFS=: read -r kind fd; do
	printf 'restorer: notice: not restored: %s\n' "$kind"; done)
if [ "$(grep 'not restored' "$W/restore.err")" = "$want" ]; then
	ok "at restore time one notice per kind"
else
	not_ok "restorer said: $(oneline "$W/restore.err") (want: $(printf "%s" "$want" | tr '\n' '|'))"
fi
if [ "$got" = restored ]; then
	ok "the restored program runs on"
else
	not_ok "restored program: '$got' $(oneline "$W/restore.err")"
fi
finish
