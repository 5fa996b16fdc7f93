/* fds_fifo.c -- a named pipe (FIFO) comes back with the bytes buffered in it.
 *
 * Simulates a program that talks to itself through a FIFO in its directory, two
 * ways programs open one: fifo-a with a read end (O_RDONLY|O_NONBLOCK, since a
 * blocking one would wait for a writer) and a write end, 77 bytes written and not
 * yet read; fifo-b opened once O_RDWR (the usual way to open a FIFO without
 * blocking), 55 bytes written to itself.  After restore: each descriptor is the
 * same FIFO path with the same status flags, both ends of fifo-a are one FIFO,
 * each FIFO still holds its bytes, and a write on one end reads back on the other.
 * (Split from fds_kinds.c so that a FIFO the restorer refuses does not hide the
 * other kinds' results.)
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define A_LEN	77
#define B_LEN	55

static int ra, wa, rwb;
static int flra, flwa, flrwb;
static char pa[PATH_MAX], pb[PATH_MAX];

static int subject(void)
{
	char buf[128], want[128], la[PATH_MAX], lw[PATH_MAX], lb[PATH_MAX];
	struct stat sr, sw;
	ssize_t n;

	snprintf(pa, sizeof pa, "%s/fifo-a", t_tmpdir());
	snprintf(pb, sizeof pb, "%s/fifo-b", t_tmpdir());
	if (mkfifo(pa, 0600) || mkfifo(pb, 0600))
		t_fatal("mkfifo: %s", strerror(errno));
	ra = open(pa, O_RDONLY | O_NONBLOCK);
	wa = open(pa, O_WRONLY);
	rwb = open(pb, O_RDWR);
	if (ra < 0 || wa < 0 || rwb < 0)
		t_fatal("open the FIFOs: %s", strerror(errno));
	t_fill(buf, A_LEN, 0xf1f0);
	if (write(wa, buf, A_LEN) != A_LEN)
		t_fatal("write fifo-a");
	t_fill(buf, B_LEN, 0xf1f1);
	if (write(rwb, buf, B_LEN) != B_LEN)
		t_fatal("write fifo-b");
	flra = fcntl(ra, F_GETFL);
	flwa = fcntl(wa, F_GETFL);
	flrwb = fcntl(rwb, F_GETFL);

	t_wait();
	t_fdlink(ra, la);
	t_fdlink(wa, lw);
	t_fdlink(rwb, lb);
	t_ok(!strcmp(la, pa) && !strcmp(lw, pa), "fifo-a: fds %d and %d are %s (\"%s\", \"%s\")",
	     ra, wa, pa, la, lw);
	t_ok(!strcmp(lb, pb), "fifo-b: fd %d is %s (\"%s\")", rwb, pb, lb);
	t_eq64("fifo-a read end: status flags (O_RDONLY|O_NONBLOCK)", fcntl(ra, F_GETFL), flra);
	t_eq64("fifo-a write end: status flags (O_WRONLY)", fcntl(wa, F_GETFL), flwa);
	t_eq64("fifo-b: status flags (O_RDWR)", fcntl(rwb, F_GETFL), flrwb);
	memset(&sr, 0, sizeof sr);
	memset(&sw, 0, sizeof sw);
	fstat(ra, &sr);
	fstat(wa, &sw);
	t_ok(S_ISFIFO(sr.st_mode) && sr.st_ino == sw.st_ino && sr.st_dev == sw.st_dev,
	     "fifo-a: both ends on one FIFO");

	t_fill(want, A_LEN, 0xf1f0);
	if (t_break())
		want[0] ^= 1;
	memset(buf, 0, sizeof buf);
	n = read(ra, buf, sizeof buf);
	t_ok(n == A_LEN && !memcmp(buf, want, A_LEN),
	     "fifo-a: its %d buffered bytes are there (read %zd)", A_LEN, n);
	t_fill(want, B_LEN, 0xf1f1);
	fcntl(rwb, F_SETFL, flrwb | O_NONBLOCK);	/* an empty one must not hang the test */
	memset(buf, 0, sizeof buf);
	n = read(rwb, buf, sizeof buf);
	fcntl(rwb, F_SETFL, flrwb);
	t_ok(n == B_LEN && !memcmp(buf, want, B_LEN),
	     "fifo-b (O_RDWR): its %d buffered bytes are there (read %zd)", B_LEN, n);
	n = write(wa, "abc", 3);
	t_ok(n == 3 && read(ra, buf, sizeof buf) == 3 && !memcmp(buf, "abc", 3),
	     "fifo-a: a write on the write end reads back on the read end");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
