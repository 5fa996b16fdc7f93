/* fds_timerfd_abs.c -- a timerfd set for a wall-clock time (CLOCK_REALTIME,
 * TFD_TIMER_ABSTIME) fires at that time after a restore, not later.
 *
 * Simulates a scheduler that arms a timerfd for "today at 12:00:00" (here: 4 s
 * ahead).  /proc fdinfo and timerfd_gettime show only the time left; a restore
 * that arms the timer with it, relative, fires it late by as long as the image
 * lay on disk (at least the 1 s this test waits between checkpoint and
 * restore).  A CLOCK_MONOTONIC absolute timer, whose clock starts again at a
 * reboot, keeps its time left.  After restore: the realtime timer's deadline,
 * now + timerfd_gettime, is the one set (within 300 ms); it is still absolute
 * in the kernel's eyes (fdinfo "settime flags: 01"); the monotonic one has
 * no more time left than before the checkpoint.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000ll + t->tv_nsec;
}

static unsigned settime_flags(int fd)
{
	char path[64], buf[512];
	const char *v;
	unsigned flags = ~0u;
	int f;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	n = f < 0 ? -1 : read(f, buf, sizeof buf - 1);
	if (f >= 0)
		close(f);
	if (n <= 0)
		return flags;
	buf[n] = 0;
	if ((v = strstr(buf, "settime flags:")))
		sscanf(v + 14, "%o", &flags);
	return flags;
}

static int subject(void)
{
	struct timespec now;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } }, left;
	long long deadline, mono_left0, off;
	int rt = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK), mono = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);

	if (rt < 0 || mono < 0)
		t_fatal("timerfd_create: %s", strerror(errno));
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value.tv_sec = now.tv_sec + 4;
	its.it_value.tv_nsec = 500000000;
	deadline = ns(&its.it_value);
	if (timerfd_settime(rt, TFD_TIMER_ABSTIME, &its, NULL))
		t_fatal("timerfd_settime realtime: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &now);
	its.it_value.tv_sec = now.tv_sec + 3600;
	its.it_value.tv_nsec = now.tv_nsec;
	if (timerfd_settime(mono, TFD_TIMER_ABSTIME, &its, NULL))
		t_fatal("timerfd_settime monotonic: %s", strerror(errno));
	timerfd_gettime(mono, &left);
	mono_left0 = ns(&left.it_value);

	t_wait();
	timerfd_gettime(rt, &left);
	clock_gettime(CLOCK_REALTIME, &now);
	off = ns(&now) + ns(&left.it_value) - deadline;
	if (t_break())
		off += 1000000000;
	t_ok(ns(&left.it_value) > 0 && off > -300000000 && off < 300000000,
	     "CLOCK_REALTIME absolute timer: deadline off by %lld ms (time left %lld ms)", off / 1000000,
	     ns(&left.it_value) / 1000000);
	t_eq64("CLOCK_REALTIME timer: fdinfo settime flags", settime_flags(rt), 1);
	timerfd_gettime(mono, &left);
	t_ok(ns(&left.it_value) > 0 && ns(&left.it_value) <= mono_left0,
	     "CLOCK_MONOTONIC absolute timer: %lld ms left (%lld before)", ns(&left.it_value) / 1000000,
	     mono_left0 / 1000000);
	return t_result();
}

int main(void)
{
	struct t_opts o = { .delay_ms = 1000 };

	return t_main(subject, &o);
}
