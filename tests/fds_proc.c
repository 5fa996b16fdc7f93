/* fds_proc.c -- a descriptor open on the process's own /proc directory comes
 * back open on the restored process's.
 *
 * Simulates a monitor that keeps /proc/self/status, /proc/self/stat and the
 * directory /proc/self open to re-read them (the kernel names them
 * /proc/<pid>/...), and one of its thread's task file /proc/self/task/<tid>/comm.
 * After restore: each is open again, names /proc/<getpid()>/... of the restored
 * process, and a pread from offset 0 reads that process's own status ("Pid:" its
 * pid now); the offsets are those recorded.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

enum { STATUS, STAT, DIR_, COMM, NFD };
static const char *const names[NFD] = { "status", "stat", "", "comm" };
static int fd[NFD];

/* "Pid:" of the status text read through f from offset 0, or -1 */
static long pid_in(int f)
{
	char text[4096], *p;
	ssize_t n = pread(f, text, sizeof text - 1, 0);

	if (n <= 0)
		return -1;
	text[n] = 0;
	p = strstr(text, "\nPid:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

static void want_link(int i, const char *suffix)
{
	char link[PATH_MAX], want[PATH_MAX];
	int pid = getpid();

	t_fdlink(fd[i], link);
	if (i == DIR_)
		snprintf(want, sizeof want, "/proc/%d", pid);
	else if (i == COMM)
		snprintf(want, sizeof want, "/proc/%d/task/%d/comm", pid, pid);
	else
		snprintf(want, sizeof want, "/proc/%d/%s", pid, suffix);
	if (t_break())
		want[6] ^= 1;
	t_ok(!strcmp(link, want), "fd %d is %s (want %s)", fd[i], link, want);
}

static int subject(void)
{
	char path[64], buf[16];
	long tid = syscall(SYS_gettid);

	fd[STATUS] = open("/proc/self/status", O_RDONLY);
	fd[STAT] = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	fd[DIR_] = open("/proc/self", O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
	fd[COMM] = open(path, O_RDONLY);
	for (int i = 0; i < NFD; i++)
		if (fd[i] < 0)
			t_fatal("open /proc/self/%s: %s", names[i], strerror(errno));
	if (read(fd[STAT], buf, 5) != 5)
		t_fatal("read stat");

	t_wait();
	for (int i = 0; i < NFD; i++)
		want_link(i, names[i]);
	t_eq64("pid in status read through the old descriptor", (uint64_t)pid_in(fd[STATUS]),
	       (uint64_t)getpid());
	t_eq64("stat offset", (uint64_t)lseek(fd[STAT], 0, SEEK_CUR), 5);
	t_ok(fcntl(fd[STAT], F_GETFD) == FD_CLOEXEC, "stat keeps FD_CLOEXEC");
	t_ok(faccessat(fd[DIR_], "maps", R_OK, 0) == 0, "the directory reaches maps: %s",
	     strerror(errno));
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
