/* altstack.c -- an alternate signal stack of libckpt's for each thread.
 *
 * libckpt's handlers (the trigger's in preload.c, the stop signal's in
 * threads.c) are installed with SA_ONSTACK.  A checkpoint takes about 30 KiB
 * of stack, more with CKPT_FORK=0, and the kernel's signal frame (with the
 * XSAVE area) comes on top: on the interrupted thread's stack that overflows
 * a PTHREAD_STACK_MIN thread or a 16 KiB coroutine.  So each thread that has
 * no alternate stack gets one of ours: the main thread when the library
 * starts, every thread made by pthread_create (wrapped here) before its start
 * routine runs.  A thread that sets its own (the program's, or Go's) replaces
 * ours, and the kernel then uses the program's, as the program asked.
 *
 * Our stacks are ordinary anonymous mappings: an image holds them (a thread
 * stopped in our handler is on one) and the restorer sets each thread's
 * sigaltstack back from the image, as for the program's own.  A thread's
 * stack goes away at its exit (a pthread key's destructor), unless the thread
 * put another in its place, or is running on it.
 *
 * A program's own alternate stack may be small (SIGSTKSZ, MINSIGSTKSZ): the
 * trigger's handler does the checkpoint itself on one more stack of ours,
 * the take stack, which one checkpoint at a time holds.  On the stack the
 * kernel chose stay its signal frame and a few hundred bytes of the handler.
 */
#include <pthread.h>
#include <stdlib.h>
#include <dlfcn.h>
#include "cap.h"

#define CKPT_API __attribute__((visibility("default")))

#define ALT_GUARD	4096u			/* below it: an overflow faults */
#define ALT_SIZE	(128u << 10)		/* a CKPT_FORK=0 checkpoint takes ~45 KiB */
#define ALT_WARM	(32u << 10)		/* a pause's depth, made present (cap_warm) */
#define KSS_ONSTACK	1
#define KSS_DISABLE	2

static int altstacks_on;			/* cap_altstack_init ran */
static uint64_t take_top;			/* the take stack's top, 0 if none */
static int take_busy;				/* a handler runs on it (atomic) */
static pthread_key_t alt_key;			/* each thread's mapping, for its exit */

/* the calling thread gets a stack of ours unless it has one: the mapping, or 0 */
static uint64_t give_altstack(void)
{
	struct ksys_stack cur, ss = { 0 };
	long m;

	if (sys_failed(sys_sigaltstack(0, &cur)) || !(cur.ss_flags & KSS_DISABLE))
		return 0;			/* it has one (the program's): the kernel uses that */
	m = sys_mmap(0, ALT_GUARD + ALT_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | 0x20000 /* MAP_STACK */, -1, 0);
	if (sys_failed(m))
		return 0;
	sys_mprotect((uint64_t)m, ALT_GUARD, PROT_NONE);
	ss.ss_sp = (uint64_t)m + ALT_GUARD;
	ss.ss_size = ALT_SIZE;
	if (sys_failed(sys_sigaltstack(&ss, 0))) {
		sys_munmap((uint64_t)m, ALT_GUARD + ALT_SIZE);
		return 0;
	}
	return (uint64_t)m;
}

/* at a thread's exit: its stack of ours goes, if the kernel no longer uses it */
static void drop_altstack(void *mapping)
{
	uint64_t m = (uint64_t)mapping;
	struct ksys_stack cur, off = { .ss_flags = KSS_DISABLE };

	if (sys_failed(sys_sigaltstack(0, &cur)))
		return;
	if (cur.ss_sp == m + ALT_GUARD) {
		if (cur.ss_flags & KSS_ONSTACK)
			return;			/* on it now: it stays */
		if (sys_failed(sys_sigaltstack(&off, 0)))
			return;
	}
	sys_munmap(m, ALT_GUARD + ALT_SIZE);
}

/* the main thread's, when libckpt has installed a handler; and the take stack */
void cap_altstack_init(void)
{
	long m;

	if (altstacks_on)
		return;
	m = sys_mmap(0, ALT_GUARD + ALT_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | 0x20000 /* MAP_STACK */, -1, 0);
	if (!sys_failed(m)) {
		sys_mprotect((uint64_t)m, ALT_GUARD, PROT_NONE);
		take_top = (uint64_t)m + ALT_GUARD + ALT_SIZE;
		cap_warm_range((void *)(take_top - ALT_WARM), ALT_WARM);
	}
	if (pthread_key_create(&alt_key, drop_altstack))
		return;				/* then no thread but this one gets one */
	altstacks_on = 1;
	m = (long)give_altstack();		/* the main thread's lives as long as the process; */
	if (m)					/* the trigger's handler starts on it */
		cap_warm_range((void *)(m + ALT_GUARD + ALT_SIZE - ALT_WARM), ALT_WARM);
}

/* fn(arg) on the take stack: 0; -16 (EBUSY) when there is none or it is in
 * use (another thread's checkpoint): the caller runs fn where it is */
int cap_on_take_stack(void (*fn)(void *), void *arg)
{
	if (!take_top || __atomic_exchange_n(&take_busy, 1, __ATOMIC_SEQ_CST))
		return -16;
	ckpt_call_on_stack(fn, arg, take_top);
	__atomic_store_n(&take_busy, 0, __ATOMIC_SEQ_CST);
	return 0;
}

struct start {
	void *(*fn)(void *);
	void *arg;
};

static void *start_on_altstack(void *p)
{
	struct start s = *(struct start *)p;
	uint64_t m;

	free(p);
	m = give_altstack();
	if (m)
		pthread_setspecific(alt_key, (void *)m);
	return s.fn(s.arg);
}

CKPT_API int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	struct start *s;
	int r;

	if (!real)
		real = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))
			dlsym(RTLD_NEXT, "pthread_create");
	if (!altstacks_on || !(s = malloc(sizeof(*s))))
		return real(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	r = real(t, attr, start_on_altstack, s);
	if (r)
		free(s);
	return r;
}
