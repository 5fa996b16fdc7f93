/* timers_thread.c -- a POSIX timer aimed at one thread still reaches it.
 *
 * Simulates a program that gives a worker thread its own periodic tick: a
 * POSIX timer with SIGEV_THREAD_ID aimed at the worker (every 20 ms,
 * SIGRTMIN+2), which the main thread blocks and a bystander thread does not
 * (a timer for the whole process would tick it too).  A restore gives the
 * worker a new tid (unless --same-pid), so the timer must be made again aimed
 * at the new one.
 *
 * After restore: the timer has the same id and interval; in 300 ms the worker
 * takes at least 5 ticks, in its own handler (pthread_self() is the worker),
 * and no other thread takes any; /proc/self/timers says it is aimed at the
 * worker's tid of now ("signal/tid.N"), not at the process.
 */
#include "lib.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#define TICK	(SIGRTMIN + 2)

static pthread_t worker, bystander;
static int bystander_tag;
static volatile int started, on_worker, elsewhere, worker_tid;
static timer_t timer;

static void on_tick(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), worker)) {
		on_worker++;
		worker_tid = (int)syscall(SYS_gettid);	/* its tid now */
	}
	else
		elsewhere++;
}

static void *work(void *arg)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, TICK);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	if (arg == NULL)
		started = (int)syscall(SYS_gettid);
	for (;;)
		pause();
	return arg;
}

static int subject(void)
{
	struct sigevent sev;
	struct itimerspec its = { { 0, 20000000 }, { 0, 20000000 } }, now;
	sigset_t s;
	int before;

	signal(TICK, on_tick);
	sigemptyset(&s);
	sigaddset(&s, TICK);
	pthread_sigmask(SIG_BLOCK, &s, NULL);	/* the main thread (the others unblock it) */
	if (pthread_create(&worker, NULL, work, NULL) || pthread_create(&bystander, NULL, work, &bystander_tag))
		t_fatal("pthread_create");
	while (!started)
		usleep(1000);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = TICK;
	sev._sigev_un._tid = started;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) || timer_settime(timer, 0, &its, NULL))
		t_fatal("timer_create/settime: %s", strerror(errno));

	t_wait();

	t_ok(timer_gettime(timer, &now) == 0 && now.it_interval.tv_nsec == 20000000,
	     "the timer has its id and its 20 ms interval (%s)", errno ? strerror(errno) : "ok");
	before = on_worker;
	elsewhere = 0;
	usleep(300000);
	if (t_break())
		before += 1000;
	t_ok(on_worker - before >= 5, "the worker took %d ticks in 300 ms (want >= 5)", on_worker - before);
	t_ok(elsewhere == 0, "no other thread took a tick (%d)", elsewhere);
	{	/* the kernel's word for whom it is aimed at: "notify: signal/tid.N" */
		char text[4096], want[64];
		const char *at;

		snprintf(want, sizeof want, "signal/tid.%d", worker_tid);
		if (t_read_file("/proc/self/timers", text, sizeof text) < 0)
			text[0] = 0;
		at = strstr(text, "notify:");
		t_ok(at && strstr(at, want) && (strchr(at, '\n') == NULL || strstr(at, want) < strchr(at, '\n')),
		     "/proc/self/timers: aimed at the worker's tid now (want %s: %.*s)", want,
		     at ? (int)strcspn(at, "\n") : 4, at ? at : "none");
	}

	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
