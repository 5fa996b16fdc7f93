/* fork_exec.c -- a restored program can fork and exec, and its child sees a sane
 * process.
 *
 * Simulates a program that, after restore, runs a shell command the way system()
 * does: pipe, fork, the child checks itself and execs /bin/sh -c 'echo ok; echo
 * $PPID', the parent reads the pipe and waits.  Checks: getpid() in the restored
 * process is the pid the kernel shows it under (/proc/self/stat; it took over the
 * restorer's); fork works; in the child,
 * getppid() is the restored pid and getpid() is the pid fork returned (glibc's
 * cached tid was fixed up, so the child is not confused about who it is); the
 * child's malloc works; the shell prints "ok" and its $PPID is the restored pid;
 * waitpid reaps the child with exit status 0 and nothing else is left to reap.
 */
#include "lib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int subject(void)
{
	char buf[256], stat[512], want[64];
	pid_t me, kid, w;
	int p[2], st = -1, sane[3] = { 0, 0, 0 };
	ssize_t n, len = 0;

	t_wait();
	me = getpid();
	t_read_file("/proc/self/stat", stat, sizeof stat);
	t_ok(atoi(stat) == me && syscall(SYS_gettid) == me,
	     "getpid() %d is the pid the kernel shows (/proc/self/stat %d, gettid %ld)", (int)me,
	     atoi(stat), (long)syscall(SYS_gettid));
	if (pipe(p))
		t_fatal("pipe: %s", strerror(errno));
	kid = fork();
	if (kid == 0) {
		/* the child: report what it sees as three bytes, then exec the shell */
		char *x = malloc(100000);
		char r[3] = { getppid() == me, syscall(SYS_getpid) == getpid(), x != NULL };

		if (x)
			memset(x, 1, 100000);
		close(p[0]);
		dup2(p[1], 1);
		close(p[1]);
		if (write(1, r, 3) != 3)
			_exit(3);
		execl("/bin/sh", "sh", "-c", "echo ok; echo $PPID", (char *)NULL);
		_exit(127);
	}
	t_ok(kid > 0, "fork works (returned %d%s%s)", (int)kid, kid < 0 ? ": " : "",
	     kid < 0 ? strerror(errno) : "");
	if (kid < 0)
		return t_result();
	close(p[1]);
	while (len < (ssize_t)sizeof buf - 1 && (n = read(p[0], buf + len, sizeof buf - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += n;
	}
	close(p[0]);
	buf[len] = 0;
	while ((w = waitpid(kid, &st, 0)) < 0 && errno == EINTR)
		;
	if (len >= 3)
		for (int i = 0; i < 3; i++)
			sane[i] = buf[i];
	t_ok(sane[0], "in the child, getppid() is the restored pid %d", (int)me);
	t_ok(sane[1], "in the child, getpid() is its own pid (the raw syscall agrees)");
	t_ok(sane[2], "in the child, malloc works");
	snprintf(want, sizeof want, "ok\n%d\n", (int)me);
	if (t_break())
		want[0] = 'K';
	{
		char shown[256];
		int k = 0;

		for (ssize_t i = 3; i < len && k < (int)sizeof shown - 1; i++)
			shown[k++] = buf[i] == '\n' ? '|' : buf[i];
		shown[k] = 0;
		t_ok(len > 3 && !strcmp(buf + 3, want),
		     "/bin/sh -c 'echo ok; echo $PPID' printed \"ok\", %d (got \"%s\")", (int)me, shown);
	}
	t_ok(w == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	     "waitpid reaps the child: exit status 0 (wait status 0x%x)", st);
	errno = 0;
	t_ok(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "no other child to reap");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
