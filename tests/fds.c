/* fds.c -- open descriptors survive, with their offsets, flags and contents.
 *
 * Simulates a program in the middle of its I/O: a data file open read-write at
 * offset 1234, a log open O_WRONLY|O_APPEND, a directory open for openat(), a pipe
 * with 100 bytes written and not yet read, /dev/null, and one descriptor marked
 * FD_CLOEXEC.  After restore each descriptor number refers to the same file
 * (/proc/self/fd; the pipe is a new one, but both ends still share it), with the
 * same offset, status flags (F_GETFL) and FD_CLOEXEC;
 * the pipe still holds its 100 bytes, a write lands at the offset, openat through
 * the directory works.
 */
#include "lib.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { DATA, LOG, DIRFD, PIPE_R, PIPE_W, DEVNULL, NFD };
static const char *const names[NFD] = {
	"data file (O_RDWR, offset 1234)", "log (O_WRONLY|O_APPEND)", "directory",
	"pipe read end", "pipe write end (FD_CLOEXEC)", "/dev/null",
};

static int fd[NFD];
static char link0[NFD][PATH_MAX];
static int fl0[NFD], fdfl0[NFD];
static off_t off0[NFD];

static int subject(void)
{
	char path[PATH_MAX], buf[200], want[100], link[PATH_MAX], what[64];
	int p[2], f;
	ssize_t n;

	snprintf(path, sizeof path, "%s/data", t_tmpdir());
	fd[DATA] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	t_fill(buf, sizeof buf, 0xda7a);
	if (fd[DATA] < 0 || write(fd[DATA], buf, sizeof buf) != sizeof buf ||
	    ftruncate(fd[DATA], 4096) || lseek(fd[DATA], 1234, SEEK_SET) != 1234)
		t_fatal("data file");
	snprintf(path, sizeof path, "%s/log", t_tmpdir());
	fd[LOG] = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
	if (fd[LOG] < 0 || write(fd[LOG], "line 1\n", 7) != 7)
		t_fatal("log");
	fd[DIRFD] = open(t_tmpdir(), O_RDONLY | O_DIRECTORY);
	if (pipe(p))
		t_fatal("pipe");
	fd[PIPE_R] = p[0];
	fd[PIPE_W] = p[1];
	fcntl(fd[PIPE_W], F_SETFD, FD_CLOEXEC);
	t_fill(want, sizeof want, 0x919e);
	if (write(fd[PIPE_W], want, sizeof want) != sizeof want)
		t_fatal("pipe write");
	fd[DEVNULL] = open("/dev/null", O_RDWR);
	for (int i = 0; i < NFD; i++) {
		if (fd[i] < 0)
			t_fatal("open %s", names[i]);
		t_fdlink(fd[i], link0[i]);
		fl0[i] = fcntl(fd[i], F_GETFL);
		fdfl0[i] = fcntl(fd[i], F_GETFD);
		off0[i] = lseek(fd[i], 0, SEEK_CUR);
	}

	t_wait();
	for (int i = 0; i < NFD; i++) {
		t_fdlink(fd[i], link);
		if (t_break() && i == DATA)
			link[strlen(link) - 1] ^= 1;
		if (i == PIPE_R || i == PIPE_W) {
			/* a new pipe: a new inode, but both ends on the same one */
			char other[PATH_MAX];

			t_fdlink(fd[i == PIPE_R ? PIPE_W : PIPE_R], other);
			t_ok(!strncmp(link, "pipe:[", 6) && !strcmp(link, other),
			     "fd %d %s: is \"%s\", the same pipe as fd %d (\"%s\")", fd[i],
			     names[i], link, fd[i == PIPE_R ? PIPE_W : PIPE_R], other);
		} else {
			t_ok(!strcmp(link, link0[i]), "fd %d %s: is \"%s\" (want \"%s\")",
			     fd[i], names[i], link, link0[i]);
		}
		snprintf(what, sizeof what, "fd %d status flags (F_GETFL)", fd[i]);
		t_eq64(what, fcntl(fd[i], F_GETFL), fl0[i]);
		snprintf(what, sizeof what, "fd %d descriptor flags (F_GETFD)", fd[i]);
		t_eq64(what, fcntl(fd[i], F_GETFD), fdfl0[i]);
		snprintf(what, sizeof what, "fd %d offset", fd[i]);
		if (off0[i] >= 0)
			t_eq64(what, lseek(fd[i], 0, SEEK_CUR), off0[i]);
	}
	n = read(fd[PIPE_R], buf, sizeof buf);
	t_ok(n == sizeof want && !memcmp(buf, want, sizeof want),
	     "pipe still holds its 100 unread bytes (read %zd)", n);
	t_ok(write(fd[DATA], "X", 1) == 1 && pread(fd[DATA], buf, 1, 1234) == 1 && buf[0] == 'X',
	     "a write on the data file lands at offset 1234");
	t_ok(write(fd[LOG], "line 2\n", 7) == 7 && pread(fd[LOG], buf, 1, 0) < 0,
	     "the log is still write-only and appends");
	f = openat(fd[DIRFD], "data", O_RDONLY);
	t_ok(f >= 0, "openat(directory fd, \"data\") works");
	if (f >= 0)
		close(f);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
