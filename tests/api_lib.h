/* api_lib.h -- the harness of the tests/api_*.c programs (the user-directed API:
 * tsetjmp/tlongjmp, persist, cache, chkpt_status, chkpt_history).
 *
 * These programs link with -lckpt (rpath $ORIGIN/../..: tests/bin/NAME -> the tree's
 * libckpt.so) and run under tests/run.sh like every other test, which also preloads
 * the same file: the loader matches the preloaded object by soname and inode, so
 * the library is mapped once (a_main checks that: two copies would keep two
 * registries, and tlongjmp would carry the wrong one).
 *
 *   a_main (the test program)                    body (forked child, once per store)
 *   -------------------------                    ------------------------------------
 *   pipe; fork ------------------------------->   stdout and stderr = the pipe
 *                                                 CKPT_DIR=<its temp dir>, or
 *                                                 CKPT_STORE=memory
 *                                                 tsetjmp, tlongjmp, ... a_ok(...)
 *   reads lines: "ok - X" -> "ok N [store] X"     writes "ok - X" / "not ok - X"
 *   counts them, passes others on as "# ..."      a_done(): "#done"; exit 0, 4 (skip)
 *   waitpid: the exit status, a signal death
 *
 * Why a child writing into a pipe: a roll-back sends regular-file offsets back
 * to where they were at tsetjmp, so a test writing its lines straight into
 * run.sh's output file would write its later lines over its earlier ones.  A
 * pipe is a kernel object that lives on: what went in stays.  And a check's
 * number or a failure count kept in the child's memory would roll back; the
 * parent keeps them.  Output is one write(2) per line, never stdio buffers
 * (a buffered byte would be in the image and come out twice).
 *
 * The body must end with a_done(): a child that exits before it (a roll-back
 * that went somewhere unexpected and fell out of main) fails the test.
 * CKPT_TEST_BREAK=1 makes a_break() true: each test then corrupts one value it
 * checks and must fail (make check-break).
 */
#ifndef TESTS_API_LIB_H
#define TESTS_API_LIB_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckpt.h"

#define A_STORE_DISK	1
#define A_STORE_MEMORY	2
#define A_STORE_BOTH	3

static const char *a_store = "disk";	/* the store this child runs with */
static char a_dir[4096];		/* the test's private temp dir (cwd) */

/* one line on fd 1, one write(2) */
static void a_vline(const char *pre, const char *fmt, va_list ap)
{
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%s", pre);

	n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0)
		return;
}

static __attribute__((format(printf, 1, 2), unused)) void a_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	a_vline("# ", fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 2, 3), unused)) int a_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	a_vline(cond ? "ok - " : "not ok - ", fmt, ap);
	va_end(ap);
	return cond;
}

static __attribute__((unused)) int a_eq(const char *what, long got, long want)
{
	if (got == want)
		return a_ok(1, "%s (%ld)", what, got);
	return a_ok(0, "%s: got %ld, want %ld", what, got, want);
}

/* a call that must fail with errno want */
static __attribute__((unused)) int a_err(const char *what, int r, int err, int want)
{
	if (r == -1 && err == want)
		return a_ok(1, "%s: -1, %s", what, strerror(want));
	return a_ok(0, "%s: got %d errno %d (%s), want -1 errno %d (%s)", what, r,
		    r == -1 ? err : 0, r == -1 ? strerror(err) : "-", want, strerror(want));
}

static __attribute__((format(printf, 1, 2), noreturn, unused)) void a_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	a_vline("not ok - ", fmt, ap);
	va_end(ap);
	exit(1);
}

static __attribute__((format(printf, 1, 2), noreturn, unused)) void a_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	a_vline("# SKIP ", fmt, ap);
	va_end(ap);
	exit(4);
}

static __attribute__((unused)) int a_break(void)
{
	const char *b = getenv("CKPT_TEST_BREAK");

	return b && *b && strcmp(b, "0");
}

static __attribute__((noreturn, unused)) void a_done(void)
{
	static const char d[] = "#done\n";

	if (write(1, d, sizeof d - 1) < 0)
		_exit(1);
	_exit(0);
}

/* Run fn(arg) with fd 2 going into a pipe; returns fn's value, the captured
 * text in out (NUL-terminated). */
static __attribute__((unused)) int a_capture_stderr(int (*fn)(void *), void *arg, char *out, size_t cap)
{
	int p[2], saved, r;
	ssize_t n, len = 0;

	out[0] = 0;
	if (pipe2(p, O_CLOEXEC) || (saved = fcntl(2, F_DUPFD_CLOEXEC, 10)) < 0)
		a_fatal("harness: pipe/dup: %s", strerror(errno));
	dup2(p[1], 2);
	close(p[1]);
	r = fn(arg);
	dup2(saved, 2);
	close(saved);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while ((size_t)len < cap - 1 && (n = read(p[0], out + len, cap - 1 - len)) > 0)
		len += n;
	out[len] = 0;
	close(p[0]);
	return r;
}

/* how many distinct files named *libckpt* are mapped (by device and inode) */
static int a_libckpt_copies(void)
{
	char line[4096];
	unsigned long seen[8][2];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long dmaj, dmin, ino, k;
		int i;

		if (!strstr(line, "libckpt") ||
		    sscanf(line, "%*s %*s %*s %lx:%lx %lu", &dmaj, &dmin, &ino) != 3)
			continue;
		k = dmaj << 20 | dmin;
		for (i = 0; i < n; i++)
			if (seen[i][0] == k && seen[i][1] == ino)
				break;
		if (i == n && n < 8) {
			seen[n][0] = k;
			seen[n][1] = ino;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* parent: relay the child's lines; returns 0 pass, 1 fail, 4 skip */
static int a_run_child(int (*body)(void), int store, int *num)
{
	char buf[8192], line[2100];
	size_t ll = 0;
	int p[2], st, fails = 0, oks = 0, done = 0, skipped = 0;
	const char *name = store == A_STORE_MEMORY ? "memory" : "disk";
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		return printf("not ok %d harness: pipe: %s\n", ++*num, strerror(errno)), 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return printf("not ok %d harness: fork: %s\n", ++*num, strerror(errno)), 1;
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[1]);
		a_store = name;
		if (store == A_STORE_MEMORY) {
			setenv("CKPT_STORE", "memory", 1);
			unsetenv("CKPT_DIR");
		} else {
			unsetenv("CKPT_STORE");
			setenv("CKPT_DIR", a_dir, 1);
		}
		exit(body());
	}
	close(p[1]);
	for (;;) {
		n = read(p[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n' && ll < sizeof line - 1) {
				line[ll++] = buf[i];
				continue;
			}
			if (buf[i] != '\n')
				continue;	/* overlong: cut */
			line[ll] = 0;
			ll = 0;
			if (!strncmp(line, "ok - ", 5)) {
				oks++;
				printf("ok %d [%s] %s\n", ++*num, name, line + 5);
			} else if (!strncmp(line, "not ok - ", 9)) {
				fails++;
				printf("not ok %d [%s] %s\n", ++*num, name, line + 9);
			} else if (!strcmp(line, "#done")) {
				done = 1;
			} else if (!strncmp(line, "# SKIP", 6)) {
				skipped = 1;
				printf("%s [%s]\n", line, name);
			} else {
				printf("%s%s\n", line[0] == '#' ? "" : "# ", line);
			}
		}
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			printf("not ok %d harness: waitpid: %s\n", ++*num, strerror(errno));
			return 1;
		}
	if (WIFSIGNALED(st)) {
		printf("not ok %d [%s] the test program was killed by signal %d (%s)\n", ++*num, name,
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
		return 1;
	}
	if (WEXITSTATUS(st) == 4 && skipped && !fails)
		return 4;
	if (WEXITSTATUS(st) != 0 && !fails) {
		printf("not ok %d [%s] the test program exited %d\n", ++*num, name, WEXITSTATUS(st));
		return 1;
	}
	if (!fails && !done) {
		printf("not ok %d [%s] the test program ended before its last check (no a_done)\n", ++*num,
		       name);
		return 1;
	}
	if (!fails && !oks) {
		printf("not ok %d [%s] no check ran\n", ++*num, name);
		return 1;
	}
	return fails ? 1 : 0;
}

/* main() of an api test: body runs in a child per store; exit code for main */
static __attribute__((unused)) int a_main(int (*body)(void), int stores)
{
	int num = 0, r, worst = 0, skips = 0, runs = 0, copies;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getcwd(a_dir, sizeof a_dir))
		snprintf(a_dir, sizeof a_dir, "/tmp");
	copies = a_libckpt_copies();
	if (copies == 1)
		printf("ok %d libckpt.so is mapped once (linked%s)\n", ++num,
		       getenv("LD_PRELOAD") ? " and preloaded" : "");
	else {
		printf("not ok %d libckpt.so mapped from %d files: two registries\n", ++num, copies);
		worst = 1;
	}
	for (int s = A_STORE_DISK; s <= A_STORE_MEMORY; s <<= 1) {
		if (!(stores & s))
			continue;
		runs++;
		r = a_run_child(body, s, &num);
		if (r == 4)
			skips++;
		else if (r)
			worst = 1;
	}
	fflush(stdout);
	if (worst)
		return 1;
	return skips == runs ? 4 : 0;
}

#endif
