/* fds_kinds.c -- every descriptor kind the image format names comes back as
 * what it was.
 *
 * Simulates a daemon holding one of each: a memfd with content, size and seals
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) at offset 100; an eventfd with
 * counter 5 and an EFD_SEMAPHORE|EFD_NONBLOCK one with counter 3; a timerfd armed
 * for 30 s with a 7 s interval (O_NONBLOCK); a signalfd for SIGWINCH and
 * SIGRTMIN+3 (blocked); a file unlinked after open (content and offset 1000);
 * /dev/null, /dev/zero and
 * /dev/urandom; a data file opened once and dup'd (one FD_CLOEXEC, one not) at
 * offset 500; a log with O_APPEND; and gaps: numbers 30 and 32..39 closed between
 * open ones at 31 and 40.
 *
 * After restore: the set of open numbers is exactly the one before (closed numbers
 * stay closed, EBADF; no staging descriptor leaked); each descriptor has the same
 * F_GETFL (O_APPEND, O_NONBLOCK, access mode) and F_GETFD (FD_CLOEXEC); each
 * kind behaves as it did: the memfd's bytes, size, seals and offset; the eventfd
 * counters (the semaphore one reads 1, 1, 1, then EAGAIN); the timerfd still armed
 * with no more time left and the same interval; the signalfd's mask, and it reads
 * a SIGWINCH raised after restore; the deleted file's bytes, offset and zero link
 * count; the devices; the dup'd pair shares one offset (a read on one moves the
 * other); the log appends.  (FIFOs have their own test, fds_fifo.c.)
 */
#include "lib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#define MEMFD_LEN	8192	/* size; content written: the first MEMFD_DATA bytes */
#define MEMFD_DATA	5000
#define MEMFD_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define DEL_LEN		3000
#define DATA_LEN	2000

enum { MEMFD, EVFD, EVSEM, TIMERFD, SIGFD, DELETED, DEVNULL, DEVZERO,
       URANDOM, DATA, DATA_DUP, LOG, GAP_LO, GAP_HI, NFD };
static const char *const names[NFD] = {
	"memfd", "eventfd", "eventfd (EFD_SEMAPHORE|EFD_NONBLOCK)", "timerfd (O_NONBLOCK)",
	"signalfd", "deleted file",
	"/dev/null", "/dev/zero", "/dev/urandom (FD_CLOEXEC)", "data file",
	"dup of the data file (FD_CLOEXEC)", "log (O_APPEND)", "/dev/null at 31",
	"/dev/null at 40",
};

static int fd[NFD];
static int fl0[NFD], fdfl0[NFD];
static char link0[NFD][PATH_MAX];
static unsigned char openset0[1024];	/* 1: number open before the checkpoint */

/* the open descriptor numbers below 1024, from /proc/self/fd */
static void openset(unsigned char *set)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self;

	memset(set, 0, 1024);
	if (!d)
		t_fatal("opendir /proc/self/fd");
	self = dirfd(d);
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
			int n = atoi(e->d_name);

			if (n != self && n < 1024)
				set[n] = 1;
		}
	closedir(d);
}

/* value of "key:" in /proc/self/fdinfo/N, as text */
static int fdinfo(int f, const char *key, char *out, size_t n)
{
	char path[64], text[4096], *p;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", f);
	if (t_read_file(path, text, sizeof text) < 0)
		return -1;
	for (p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		size_t kl = strlen(key);

		if (!strncmp(p, key, kl)) {
			p += kl;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
	}
	return -1;
}

static void put(int idx, int f)
{
	if (f < 0)
		t_fatal("open %s: %s", names[idx], strerror(errno));
	fd[idx] = f;
}

static void setup(void)
{
	char path[PATH_MAX], buf[DATA_LEN];
	uint64_t one;
	struct itimerspec its = { { 7, 0 }, { 30, 0 } };
	sigset_t sigs;
	int f;

	/* memfd: 5000 bytes of pattern, size 8192, sealed, offset 100 */
	f = memfd_create("ckpt-kinds", MFD_ALLOW_SEALING);
	put(MEMFD, f);
	{
		static char mbuf[MEMFD_DATA];

		t_fill(mbuf, sizeof mbuf, 0x3e3f);
		if (write(f, mbuf, sizeof mbuf) != sizeof mbuf || ftruncate(f, MEMFD_LEN) ||
		    fcntl(f, F_ADD_SEALS, MEMFD_SEALS) || lseek(f, 100, SEEK_SET) != 100)
			t_fatal("memfd setup: %s", strerror(errno));
	}

	/* eventfds */
	put(EVFD, eventfd(5, 0));
	put(EVSEM, eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK));
	one = 3;
	if (write(fd[EVSEM], &one, 8) != 8)
		t_fatal("eventfd write");

	/* timerfd */
	put(TIMERFD, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	if (timerfd_settime(fd[TIMERFD], 0, &its, NULL))
		t_fatal("timerfd_settime: %s", strerror(errno));

	/* signalfd: SIGWINCH and SIGRTMIN+3, both blocked so the fd gets them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGWINCH);
	sigaddset(&sigs, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	put(SIGFD, signalfd(-1, &sigs, 0));

	/* deleted file: 3000 bytes, offset 1000, unlinked */
	snprintf(path, sizeof path, "%s/deleted-file", t_tmpdir());
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	put(DELETED, f);
	{
		static char dbuf[DEL_LEN];

		t_fill(dbuf, sizeof dbuf, 0xde1e);
		if (write(f, dbuf, sizeof dbuf) != sizeof dbuf || lseek(f, 1000, SEEK_SET) != 1000 ||
		    unlink(path))
			t_fatal("deleted file setup: %s", strerror(errno));
	}

	/* devices */
	put(DEVNULL, open("/dev/null", O_RDWR));
	put(DEVZERO, open("/dev/zero", O_RDONLY));
	put(URANDOM, open("/dev/urandom", O_RDONLY | O_CLOEXEC));

	/* one open file description at two numbers, offset 500 */
	snprintf(path, sizeof path, "%s/data", t_tmpdir());
	put(DATA, open(path, O_RDWR | O_CREAT | O_TRUNC, 0600));
	t_fill(buf, DATA_LEN, 0xda7a);
	if (write(fd[DATA], buf, DATA_LEN) != DATA_LEN || lseek(fd[DATA], 500, SEEK_SET) != 500)
		t_fatal("data file");
	put(DATA_DUP, fcntl(fd[DATA], F_DUPFD_CLOEXEC, 0));

	/* a log with O_APPEND */
	snprintf(path, sizeof path, "%s/log", t_tmpdir());
	put(LOG, open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600));
	if (write(fd[LOG], "one\n", 4) != 4)
		t_fatal("log");

	/* gaps: 31 and 40 open, 30 and 32..39 closed */
	put(GAP_LO, dup2(fd[DEVNULL], 31));
	put(GAP_HI, dup2(fd[DEVNULL], 40));
	for (int n = 30; n < 40; n++)
		if (n != 31)
			close(n);

	for (int i = 0; i < NFD; i++) {
		fl0[i] = fcntl(fd[i], F_GETFL);
		fdfl0[i] = fcntl(fd[i], F_GETFD);
		t_fdlink(fd[i], link0[i]);
	}
	openset(openset0);
}

static void check_generic(void)
{
	unsigned char now[1024];
	char link[PATH_MAX], what[128];
	int same = 1;

	openset(now);
	for (int n = 0; n < 1024; n++) {
		if (now[n] == openset0[n])
			continue;
		same = 0;
		t_fdlink(n, link);
		t_diag("fd %d: %s now (%s), %s before", n, now[n] ? "open" : "closed", link,
		       openset0[n] ? "open" : "closed");
	}
	t_ok(same, "the open descriptor numbers are exactly those before (none extra, none missing)");
	errno = 0;
	t_ok(fcntl(30, F_GETFD) < 0 && errno == EBADF, "fd 30, closed before, is closed (EBADF)");
	errno = 0;
	t_ok(fcntl(35, F_GETFD) < 0 && errno == EBADF, "fd 35, closed before, is closed (EBADF)");
	for (int i = 0; i < NFD; i++) {
		int fl = fcntl(fd[i], F_GETFL);

		if (t_break() && i == TIMERFD)
			fl ^= O_NONBLOCK;
		snprintf(what, sizeof what, "fd %d %s: status flags (F_GETFL)", fd[i], names[i]);
		t_eq64(what, fl, fl0[i]);
		snprintf(what, sizeof what, "fd %d %s: FD_CLOEXEC (F_GETFD)", fd[i], names[i]);
		t_eq64(what, fcntl(fd[i], F_GETFD), fdfl0[i]);
	}
	/* anon inodes and devices name themselves the same way again */
	for (int i = 0; i < NFD; i++) {
		if (i == DELETED)
			continue;	/* checked with its kind */
		t_fdlink(fd[i], link);
		t_ok(!strcmp(link, link0[i]), "fd %d %s: is \"%s\" (want \"%s\")", fd[i], names[i],
		     link, link0[i]);
	}
}

static void check_memfd(void)
{
	static char got[MEMFD_LEN], want[MEMFD_LEN];
	struct stat st;
	int f = fd[MEMFD];

	t_eq64("memfd: offset", lseek(f, 0, SEEK_CUR), 100);
	memset(&st, 0, sizeof st);
	fstat(f, &st);
	t_ok(st.st_size == MEMFD_LEN, "memfd: size %lld (want %d)", (long long)st.st_size, MEMFD_LEN);
	memset(want, 0, sizeof want);
	t_fill(want, MEMFD_DATA, 0x3e3f);
	memset(got, 0xee, sizeof got);
	t_ok(pread(f, got, sizeof got, 0) == MEMFD_LEN, "memfd: %d bytes readable", MEMFD_LEN);
	t_eqmem("memfd: content (5000 bytes of pattern, then zeros)", got, want, sizeof got);
	t_eq64("memfd: seals (F_GET_SEALS)", fcntl(f, F_GET_SEALS), MEMFD_SEALS);
	t_ok(ftruncate(f, MEMFD_LEN + 4096) < 0 && errno == EPERM,
	     "memfd: F_SEAL_GROW still refuses to grow it");
	t_ok(fcntl(f, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM,
	     "memfd: F_SEAL_SEAL still refuses another seal");
}

static void check_eventfds(void)
{
	uint64_t v = 0;
	int r[4];

	t_ok(read(fd[EVFD], &v, 8) == 8, "eventfd: readable");
	if (t_break())
		v++;
	t_eq64("eventfd: counter", v, 5);
	for (int i = 0; i < 4; i++) {
		v = 0;
		errno = 0;
		r[i] = read(fd[EVSEM], &v, 8) == 8 ? (int)v : -errno;
	}
	t_ok(r[0] == 1 && r[1] == 1 && r[2] == 1 && r[3] == -EAGAIN,
	     "eventfd semaphore: counter 3 reads 1, 1, 1, then EAGAIN (got %d, %d, %d, %d)",
	     r[0], r[1], r[2], r[3]);
}

static void check_timerfd(const struct itimerspec *before)
{
	struct itimerspec now;
	uint64_t ticks;
	long long left, left0;
	char clk[32] = "?";

	if (timerfd_gettime(fd[TIMERFD], &now)) {
		t_ok(0, "timerfd: timerfd_gettime: %s", strerror(errno));
		return;
	}
	left = now.it_value.tv_sec * 1000000000ll + now.it_value.tv_nsec;
	left0 = before->it_value.tv_sec * 1000000000ll + before->it_value.tv_nsec;
	t_ok(left > 0, "timerfd: still armed");
	t_ok(left <= left0 && left > left0 - 10000000000ll,
	     "timerfd: %lld ms left, no more than the %lld ms before, and not 10 s less",
	     left / 1000000, left0 / 1000000);
	t_ok(now.it_interval.tv_sec == 7 && now.it_interval.tv_nsec == 0,
	     "timerfd: interval 7 s (got %ld.%09ld)", (long)now.it_interval.tv_sec,
	     now.it_interval.tv_nsec);
	fdinfo(fd[TIMERFD], "clockid:", clk, sizeof clk);
	t_ok(atoi(clk) == CLOCK_MONOTONIC, "timerfd: clock CLOCK_MONOTONIC (fdinfo clockid %s)", clk);
	errno = 0;
	t_ok(read(fd[TIMERFD], &ticks, 8) < 0 && errno == EAGAIN, "timerfd: not expired yet (EAGAIN)");
}

static void check_signalfd(void)
{
	struct signalfd_siginfo si;
	char mask[64] = "", want[64];
	uint64_t m = 1ull << (SIGWINCH - 1) | 1ull << (SIGRTMIN + 3 - 1);
	ssize_t n;

	snprintf(want, sizeof want, "%016llx", (unsigned long long)m);
	fdinfo(fd[SIGFD], "sigmask:", mask, sizeof mask);
	t_ok(!strcmp(mask, want), "signalfd: mask %s (want %s)", mask, want);
	kill(getpid(), SIGWINCH);
	memset(&si, 0, sizeof si);
	n = read(fd[SIGFD], &si, sizeof si);
	t_ok(n == sizeof si && si.ssi_signo == SIGWINCH,
	     "signalfd: reads a SIGWINCH raised after restore (read %zd, signo %u)", n, si.ssi_signo);
}

static void check_deleted(void)
{
	static char got[DEL_LEN + 1], want[DEL_LEN];
	char link[PATH_MAX];
	struct stat st;
	size_t ll;

	t_fdlink(fd[DELETED], link);
	ll = strlen(link);
	t_ok(ll > 10 && !strcmp(link + ll - 10, " (deleted)"), "deleted file: still deleted (\"%s\")",
	     link);
	memset(&st, 0, sizeof st);
	fstat(fd[DELETED], &st);
	t_ok(st.st_nlink == 0 && S_ISREG(st.st_mode) && st.st_size == DEL_LEN,
	     "deleted file: regular, no link, %d bytes (nlink %lu size %lld)",
	     DEL_LEN, (unsigned long)st.st_nlink, (long long)st.st_size);
	t_eq64("deleted file: offset", lseek(fd[DELETED], 0, SEEK_CUR), 1000);
	t_fill(want, sizeof want, 0xde1e);
	t_ok(pread(fd[DELETED], got, sizeof got, 0) == DEL_LEN, "deleted file: %d bytes read", DEL_LEN);
	t_eqmem("deleted file: content", got, want, sizeof want);
}

static void check_devices(void)
{
	char buf[64], link[PATH_MAX];
	int zero = 1;
	ssize_t n;

	t_ok(write(fd[DEVNULL], "x", 1) == 1 && read(fd[DEVNULL], buf, 1) == 0,
	     "/dev/null: swallows writes, reads EOF");
	memset(buf, 0x55, sizeof buf);
	n = read(fd[DEVZERO], buf, sizeof buf);
	for (int i = 0; i < (int)sizeof buf; i++)
		zero &= buf[i] == 0;
	t_ok(n == sizeof buf && zero, "/dev/zero: reads zeros");
	n = read(fd[URANDOM], buf, 16);
	t_fdlink(fd[URANDOM], link);
	t_ok(n == 16 && !strcmp(link, "/dev/urandom"), "/dev/urandom: reads 16 bytes");
}

static void check_shared(void)
{
	char a[10], want[DATA_LEN];
	off_t o;

	t_eq64("data file: offset via the first number", lseek(fd[DATA], 0, SEEK_CUR), 500);
	t_eq64("data file: offset via the dup", lseek(fd[DATA_DUP], 0, SEEK_CUR), 500);
	t_fill(want, DATA_LEN, 0xda7a);
	t_ok(read(fd[DATA], a, sizeof a) == sizeof a && !memcmp(a, want + 500, sizeof a),
	     "data file: a read on the first number gets bytes 500..509");
	o = lseek(fd[DATA_DUP], 0, SEEK_CUR);
	t_ok(o == 510, "dup'd descriptors share one offset: the read moved the dup to %lld (want 510)",
	     (long long)o);
	{
		/* the original process ran these checks too: the log may hold its "two" */
		char path[PATH_MAX], text[64];
		struct stat st;
		off_t sz = fstat(fd[LOG], &st) ? -1 : st.st_size;

		snprintf(path, sizeof path, "%s/log", t_tmpdir());
		lseek(fd[LOG], 0, SEEK_SET);
		t_ok(sz >= 4 && write(fd[LOG], "two\n", 4) == 4 && fstat(fd[LOG], &st) == 0 &&
		     st.st_size == sz + 4 && t_read_file(path, text, sizeof text) == sz + 4 &&
		     !strncmp(text, "one\n", 4) && !strcmp(text + sz, "two\n"),
		     "log: a write after lseek 0 lands at the end (O_APPEND)");
	}
}

static int subject(void)
{
	struct itimerspec tbefore;

	setup();
	timerfd_gettime(fd[TIMERFD], &tbefore);

	t_wait();
	check_generic();
	check_memfd();
	check_eventfds();
	check_timerfd(&tbefore);
	check_signalfd();
	check_deleted();
	check_devices();
	check_shared();
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
