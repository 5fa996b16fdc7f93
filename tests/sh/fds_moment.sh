#!/bin/sh
# fds_moment.sh -- descriptors are saved as they were at the checkpoint.
#
# The writer that libckpt forks shares the program's open files: a file
# offset, the bytes in a pipe and an eventfd's counter move on as soon as the
# program does.  A program takes a checkpoint with raise(SIGUSR2) (the image
# is written while it runs on) with a file at offset 4096, 100 bytes in a
# pipe, an eventfd at 7 and a directory at fd 20, then at once reads 60 bytes
# from the pipe and writes 10 other ones, adds 5 to the eventfd, sets
# O_APPEND and close-on-exec on the file, puts the file at fd 20 in the
# directory's place, writes 4 MiB more to the file, and waits for the image.
# Restored, it must find offset 4096, the 100 original bytes, the counter 7,
# the file's flags as they were and the directory at fd 20 (the forked
# writer reads a plain file's name and flags from its own copy of the
# descriptor table, the offset and status flags are read in the pause).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored offset is expected one byte further.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir fds_moment

cat >"$W/moment.c" <<'EOF2'
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(int argc, char **argv)
{
	static char block[4096], more[4 << 20];
	char got[128];
	int p[2], file, efd;
	uint64_t one;
	struct stat st;

	if (!ckpt_restore_count || argc < 3) { puts("usage: moment FILE IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	file = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0 || pipe(p) || (efd = eventfd(7, 0)) < 0) { perror("setup"); return 3; }
	if (dup2(open(".", O_RDONLY | O_DIRECTORY), 20) != 20) { perror("dup2"); return 3; }
	memset(block, 'a', sizeof(block));
	memset(more, 'b', sizeof(more));	/* its pages faulted in before, not after */
	memset(got, 'p', 100);
	if (write(file, block, sizeof(block)) != sizeof(block) || write(p[1], got, 100) != 100) return 3;
	raise(SIGUSR2);
	if (ckpt_restore_count() > 0) {
		ssize_t n = read(p[0], got, sizeof(got));
		int same = n == 100;

		for (int i = 0; i < n; i++)
			same &= got[i] == 'p';
		if (read(efd, &one, 8) != 8) one = 0;
		printf("restored: offset %ld, pipe %zd bytes%s, eventfd %lu, file %s, %s, fd 20 %s\n",
		       (long)lseek(file, 0, SEEK_CUR), n, same ? " as they were" : " changed", (unsigned long)one,
		       fcntl(file, F_GETFL) & O_APPEND ? "O_APPEND" : "not O_APPEND",
		       fcntl(file, F_GETFD) & FD_CLOEXEC ? "close-on-exec" : "not close-on-exec",
		       fstat(20, &st) ? "closed" : S_ISDIR(st.st_mode) ? "the directory" : "not the directory");
		return 0;
	}
	if (read(p[0], got, 60) != 60 || write(p[1], "qqqqqqqqqq", 10) != 10) return 3;
	one = 5;
	if (write(efd, &one, 8) != 8) return 3;
	if (fcntl(file, F_SETFL, O_APPEND) || fcntl(file, F_SETFD, FD_CLOEXEC) || dup2(file, 20) != 20) return 3;
	for (size_t at = 0; at < sizeof(more); at += 4096)
		if (write(file, more + at, 4096) != 4096) return 3;
	for (int i = 0; i < 600 && stat(argv[2], &st); i++)
		usleep(50000);
	printf("written: offset %ld\n", (long)lseek(file, 0, SEEK_CUR));
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/moment" "$W/moment.c"
under_libckpt ./moment "$W/data" "$W/img"
# the writer may still be finishing after the program saw the image appear
wait_for 30 test -s "$W/img"
if grep -q '^written: offset 4198400$' "$W/orig.out" && [ -s "$W/img" ]; then
	ok "the program ran on past its checkpoint: $(oneline "$W/orig.out")"
else
	not_ok "the program failed: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
want=4096
[ "$BRK" = 1 ] && want=4097
expect_restore "$W/img" "restored: offset $want, pipe 100 bytes as they were, eventfd 7, file not O_APPEND, not close-on-exec, fd 20 the directory" \
	"offset, pipe bytes, counter, flags and fd 20 as at the checkpoint"
finish
