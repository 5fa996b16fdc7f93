/* proc_sched.c -- each thread's scheduling survives a restore: policy and
 * nice, CPU affinity, I/O priority, timer slack.
 *
 * Simulates a batch job started as `nice -n 5 taskset -c 0 ionice -c 3 job`
 * whose worker thread moved itself to SCHED_IDLE on another CPU with a lower
 * I/O priority and a coarser timer slack (what HPC users and backup tools do).
 * A restore that drops these runs the job at full priority on every CPU: it
 * competes with the work the user meant to leave room for.
 *
 * After restore, each thread reads its own values: the main thread
 * SCHED_BATCH nice 5, CPU 0 only, I/O class idle, slack 123456 ns; the worker
 * SCHED_IDLE (its nice, 5, inherited), the last CPU granted only, I/O best-effort level 7, slack
 * 654321 ns.  Needs two CPUs for the affinity part (noted, else only CPU 0).
 */
#include "lib.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

struct attr {			/* struct sched_attr, SCHED_ATTR_SIZE_VER0 */
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

struct seen {
	uint32_t policy;
	int32_t nice;
	long ioprio, slack;
	int cpu_count, cpu;	/* CPUs allowed, and the first of them */
};

static volatile int check_now, worker_ready, worker_done;
static struct seen worker_seen;
static int last_cpu;

static void look(struct seen *s)
{
	struct attr a = { .size = sizeof(a) };
	cpu_set_t set;

	memset(s, 0, sizeof(*s));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) == 0) {
		s->policy = a.policy;
		s->nice = a.nice;
	}
	s->ioprio = syscall(SYS_ioprio_get, 1, 0);
	s->slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	s->cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		s->cpu_count = CPU_COUNT(&set);
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &set))
				s->cpu = c;
	}
}

static void set(uint32_t policy, int nice, int cpu, long ioprio, long slack)
{
	struct attr a = { .size = sizeof(a), .policy = policy, .nice = nice };
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (syscall(SYS_sched_setattr, 0, &a, 0) || sched_setaffinity(0, sizeof(one), &one) ||
	    syscall(SYS_ioprio_set, 1, 0, ioprio) || prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0))
		t_fatal("setting the thread's scheduling");
}

static void *worker(void *arg)
{
	set(SCHED_IDLE, 0, last_cpu, 2 << 13 | 7, 654321);
	worker_ready = 1;
	while (!check_now)
		usleep(1000);
	look(&worker_seen);
	worker_done = 1;
	for (;;)
		pause();
	return arg;
}

static void expect(const char *who, const struct seen *s, uint32_t policy, int nice, int cpu, long ioprio,
		   long slack)
{
	char what[64];

#define EQ(field, want) do { snprintf(what, sizeof(what), "%s: " #field, who); \
			     t_eq64(what, (uint64_t)(s->field), (uint64_t)(want)); } while (0)
	EQ(policy, policy);
	EQ(nice, nice);
	EQ(cpu_count, 1);
	EQ(cpu, cpu);
	EQ(ioprio, ioprio);
	EQ(slack, slack);
#undef EQ
}

static int subject(void)
{
	struct seen main_seen;
	pthread_t t;
	int b;

	set(SCHED_BATCH, 5, 0, 3 << 13, 123456);
	if (pthread_create(&t, NULL, worker, NULL))
		t_fatal("pthread_create");
	while (!worker_ready)
		usleep(1000);
	t_wait();
	check_now = 1;
	while (!worker_done)
		usleep(1000);
	look(&main_seen);
	b = t_break();
	expect("main", &main_seen, SCHED_BATCH, 5 + b, 0, 3 << 13, 123456);
	expect("worker", &worker_seen, SCHED_IDLE, 5, last_cpu, 2 << 13 | 7, 654321);
	return t_result();
}

int main(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			last_cpu = c;	/* the worker's: another than the main thread's where there are two */
	return t_main(subject, NULL);
}
