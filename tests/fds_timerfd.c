/* fds_timerfd.c -- timerfds come back armed, with the expirations nobody has
 * read yet still there to read.
 *
 * Simulates an event loop holding five timerfds (all O_NONBLOCK):
 *   - a 20 ms interval timer that fired several times while the loop was busy,
 *     nothing read (the kernel re-arms it only when asked: /proc fdinfo then
 *     shows it_value 0);
 *   - a one-shot 1 ms timer that fired, not read;
 *   - a CLOCK_REALTIME timer at an absolute time (TFD_TIMER_ABSTIME) an hour
 *     ahead;
 *   - a CLOCK_BOOTTIME timer 30 s ahead;
 *   - a CLOCK_MONOTONIC timer 12.345678901 s ahead, interval 3.000000005 s
 *     (seconds and nanoseconds both set).
 * After restore: each is armed with no more time left than before and not
 * 10 s less, with its interval to the nanosecond and its clock; the interval
 * timer reads at least the expirations counted before the checkpoint; the
 * one-shot reads 1 and is disarmed.
 */
#include "lib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

enum { TICKING, FIRED, REALTIME, BOOTTIME, EXACT, NT };
static const char *const names[NT] = {
	"interval timer with expirations unread", "one-shot timer fired, unread",
	"CLOCK_REALTIME TFD_TIMER_ABSTIME", "CLOCK_BOOTTIME", "12.345678901 s, interval 3.000000005 s",
};
static const int clocks[NT] = { CLOCK_MONOTONIC, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME,
				CLOCK_MONOTONIC };
static int fd[NT];
static struct itimerspec before[NT];

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000ll + t->tv_nsec;
}

static void arm(int i, int flags, struct itimerspec its)
{
	fd[i] = timerfd_create(clocks[i], TFD_NONBLOCK);
	if (fd[i] < 0 || timerfd_settime(fd[i], flags, &its, NULL))
		t_fatal("timerfd %s: %s", names[i], strerror(errno));
}

static int subject(void)
{
	struct timespec now;
	uint64_t ticks = 0, pending;

	arm(TICKING, 0, (struct itimerspec){ { 0, 20000000 }, { 0, 20000000 } });
	arm(FIRED, 0, (struct itimerspec){ { 0, 0 }, { 0, 1000000 } });
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec += 3600;
	arm(REALTIME, TFD_TIMER_ABSTIME, (struct itimerspec){ { 0, 0 }, now });
	arm(BOOTTIME, 0, (struct itimerspec){ { 0, 0 }, { 30, 0 } });
	arm(EXACT, 0, (struct itimerspec){ { 3, 5 }, { 12, 345678901 } });
	usleep(150000);		/* busy: the first two fire, nobody reads */

	for (int i = 0; i < NT; i++)
		if (i != TICKING && i != FIRED)
			timerfd_gettime(fd[i], &before[i]);
	t_wait();

	/* the interval timer: still armed, the expirations of before the checkpoint
	 * (at least 150 ms / 20 ms - 1) still there */
	for (int i = 0; i < NT; i++) {
		struct itimerspec it;
		char what[160];

		if (timerfd_gettime(fd[i], &it)) {
			t_ok(0, "%s: timerfd_gettime: %s", names[i], strerror(errno));
			continue;
		}
		if (i == FIRED) {
			t_ok(!ns(&it.it_value) && !ns(&it.it_interval), "%s: disarmed", names[i]);
			continue;
		}
		if (t_break() && i == EXACT)
			it.it_interval.tv_nsec ^= 1;
		t_ok(ns(&it.it_value) > 0, "%s: still armed (%lld ns left)", names[i], ns(&it.it_value));
		if (i == TICKING) {
			t_ok(ns(&it.it_interval) == 20000000, "%s: interval 20 ms (%lld ns)", names[i],
			     ns(&it.it_interval));
			continue;
		}
		t_ok(ns(&it.it_value) <= ns(&before[i].it_value) &&
		     ns(&it.it_value) > ns(&before[i].it_value) - 10000000000ll,
		     "%s: %lld ms left, no more than the %lld ms before and not 10 s less", names[i],
		     ns(&it.it_value) / 1000000, ns(&before[i].it_value) / 1000000);
		snprintf(what, sizeof what, "%s: interval (ns)", names[i]);
		t_eq64(what, (uint64_t)ns(&it.it_interval), (uint64_t)ns(&before[i].it_interval));
	}
	errno = 0;
	t_ok(read(fd[FIRED], &ticks, 8) == 8 && ticks == 1, "%s: reads 1 expiration (got %llu, %s)",
	     names[FIRED], (unsigned long long)ticks, strerror(errno));
	pending = 0;
	t_ok(read(fd[TICKING], &pending, 8) == 8 && pending >= 6,
	     "%s: reads the expirations of before the checkpoint (%llu, want >= 6)", names[TICKING],
	     (unsigned long long)pending);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
