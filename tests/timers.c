/* timers.c -- armed timers survive: the interval timer and POSIX timers.
 *
 * Simulates a program driven by timers: setitimer(ITIMER_REAL) armed for 30 s with
 * a 20 s interval (SIGALRM handled), and a POSIX timer (timer_create on
 * CLOCK_MONOTONIC, SIGRTMIN+1) armed for 40 s with a 25 s interval.  After restore
 * both are still armed, with the same intervals and no more time left than before
 * the checkpoint; the POSIX timer has the same id.  The values are long enough
 * that neither fires during the test.
 */
#include "lib.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

static volatile int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000ll + t->tv_nsec;
}

static int subject(void)
{
	struct itimerval it = { { 20, 0 }, { 30, 0 } }, it0, it1;
	struct itimerspec ts = { { 25, 0 }, { 40, 0 } }, ts0, ts1;
	struct sigevent sev;
	timer_t tid;

	signal(SIGALRM, on_alarm);
	signal(SIGRTMIN + 1, on_alarm);
	if (setitimer(ITIMER_REAL, &it, NULL))
		t_fatal("setitimer");
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) || timer_settime(tid, 0, &ts, NULL))
		t_fatal("timer_create/settime: %s", strerror(errno));
	getitimer(ITIMER_REAL, &it0);
	timer_gettime(tid, &ts0);

	t_wait();
	getitimer(ITIMER_REAL, &it1);
	if (t_break())
		it1.it_interval.tv_sec++;

	t_ok(it1.it_value.tv_sec || it1.it_value.tv_usec, "ITIMER_REAL still armed");
	t_ok(it1.it_value.tv_sec <= it0.it_value.tv_sec,
	     "ITIMER_REAL: %ld s left, no more than the %ld s before the checkpoint",
	     (long)it1.it_value.tv_sec, (long)it0.it_value.tv_sec);
	t_eq64("ITIMER_REAL interval (s)", it1.it_interval.tv_sec, 20);
	if (timer_gettime(tid, &ts1)) {
		t_ok(0, "POSIX timer id %p still exists (timer_gettime: %s)", (void *)tid,
		     strerror(errno));
	} else {
		t_ok(ns(&ts1.it_value) > 0, "POSIX timer still armed");
		t_ok(ns(&ts1.it_value) <= ns(&ts0.it_value),
		     "POSIX timer: %lld ms left, no more than the %lld ms before",
		     ns(&ts1.it_value) / 1000000, ns(&ts0.it_value) / 1000000);
		t_eq64("POSIX timer interval (s)", ts1.it_interval.tv_sec, 25);
	}
	t_eq64("no timer fired", alarms, 0);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
