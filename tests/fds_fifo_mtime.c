/* fds_fifo_mtime.c -- a restore leaves the times of the files it reopens as
 * they were: a named pipe refilled with its buffered bytes keeps its mtime.
 *
 * Simulates a program fed through a FIFO in its directory (a job queue, a log
 * pipe) whose writer left 40 bytes not read yet, next to a data file it holds
 * open.  Tools that watch the FIFO or the file (make, a backup, a sync agent)
 * go by the mtime; the restorer writes the buffered bytes back into the FIFO
 * through a writer of its own, and a write into a FIFO sets its mtime, so a
 * restore that did nothing about it would make the FIFO look written at restore
 * time.  Both times are set to a fixed moment in 2001 before the checkpoint.
 * After restore: stat of the FIFO and of the file show that mtime (to the
 * nanosecond) and atime, and the FIFO still holds its bytes.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define LEN	40
#define T_SEC	1000000000	/* 2001-09-09 */
#define T_NSEC	123456789

static int check_times(const char *path, const char *what)
{
	struct stat st;
	int brk = t_break() && what[0] == 'F';

	if (stat(path, &st))
		return t_ok(0, "%s: stat: %s", what, strerror(errno));
	if (brk)
		st.st_mtim.tv_sec++;
	t_ok(st.st_mtim.tv_sec == T_SEC && st.st_mtim.tv_nsec == T_NSEC, "%s: mtime %ld.%09ld (want %d.%09d)",
	     what, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, T_SEC, T_NSEC);
	return t_ok(st.st_atim.tv_sec == T_SEC, "%s: atime %ld (want %d)", what, (long)st.st_atim.tv_sec, T_SEC);
}

static int subject(void)
{
	static char fifo[PATH_MAX], file[PATH_MAX + 8], buf[LEN + 1];
	struct timespec ts[2] = { { T_SEC, T_NSEC }, { T_SEC, T_NSEC } };
	int rd, wr, fd;
	ssize_t n;

	if (!getcwd(fifo, sizeof fifo - 16))
		t_fatal("getcwd");
	snprintf(file, sizeof file, "%s/data", fifo);
	strcat(fifo, "/queue");
	if (mkfifo(fifo, 0600))
		t_fatal("mkfifo: %s", strerror(errno));
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	wr = open(fifo, O_WRONLY);
	fd = open(file, O_RDWR | O_CREAT, 0600);
	if (rd < 0 || wr < 0 || fd < 0 || write(wr, "0123456789012345678901234567890123456789", LEN) != LEN ||
	    write(fd, "data", 4) != 4)
		t_fatal("setup: %s", strerror(errno));
	close(wr);			/* the bytes stay; only the reader is open */
	if (utimensat(AT_FDCWD, fifo, ts, 0) || utimensat(AT_FDCWD, file, ts, 0))
		t_fatal("utimensat: %s", strerror(errno));

	t_wait();
	check_times(fifo, "FIFO");
	check_times(file, "file");
	if (!t_gen())			/* the original: a read would set the FIFO's atime */
		return t_result();
	n = read(rd, buf, LEN + 1);
	t_ok(n == LEN && !memcmp(buf, "0123456789", 10), "FIFO holds its %d bytes (read %zd)", LEN, n);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
