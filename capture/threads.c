/* threads.c -- the other threads of the process, while one takes a checkpoint.
 *
 * The thread that takes the checkpoint sends every other thread the stop
 * signal (CKPT_STOP_SIGNAL, default 63 = SIGRTMAX-1: a real-time signal, so
 * it is queued and never merged, and one programs rarely claim; libckpt keeps
 * it as it keeps the trigger signal, giving the program its own view).  Each
 * saves its own registers, FPU state, mask, alternate stack, rseq area, tid
 * address and robust list with the same routines as the first thread, says
 * so, and waits on a futex until the image's snapshot exists (the fork of the
 * writer, or the write itself).  A thread in a system call comes back from it
 * as after any handled signal: restarted or EINTR, by its SA_RESTART rules
 * (the stop handler sets SA_RESTART).
 *
 * A thread that blocks the stop signal (Node.js has one that blocks all it
 * can) is sent signal 33 instead.  glibc keeps 32 and 33 for itself
 * (SIGCANCEL, SIGSETXID) and its pthread_sigmask and sigprocmask refuse to
 * block them, so a thread that blocked "everything" through libc still takes
 * them.  For the few milliseconds of the stop 33's handler is ours: it is
 * sent with rt_tgsigqueueinfo as SI_QUEUE with a cookie, our handler passes
 * anything else on to glibc's (set*id's broadcast uses SI_TKILL), and glibc's
 * handler ignores what is not SI_TKILL, should a late one reach it after
 * ours is gone.  The image keeps glibc's disposition (read before the stop).
 *
 * After a restore each of them resumes here, in its handler, counts itself
 * in and waits again, as it did at the checkpoint: the first thread waits
 * for all of them before it unmaps the restorer, whose code they ran last,
 * and points /proc/self/exe at the program again, and only then lets them
 * go.  So no thread runs the program's code while the restorer is still
 * mapped or named as the executable (a thread's brk() could also race with
 * the first thread's PR_SET_MM_MAP, which sets the brk it read).
 */
#include <stddef.h>
#include <signal.h>
#include <ucontext.h>
#include "cap.h"

#define FUTEX_WAIT_PRIVATE	128
#define FUTEX_WAKE_PRIVATE	129

struct cap_thread_slot ckpt_slots[CAP_MAX_THREADS - 1] CAP_COLD;
uint32_t ckpt_nslots;
int ckpt_stop_sig = 63;
static volatile int32_t stopped;	/* threads that saved themselves */
static volatile int32_t release;	/* bumped to let them go (after a restore too) */
static volatile int32_t arrived;	/* after a restore: threads out of the restorer's code */

#define SIG_SETXID	33		/* glibc's, never blocked through libc */
#define STOP_COOKIE	0x636b7074u	/* "ckpt" in si_value */
static struct ckpt_sigaction setxid_prog;	/* glibc's 33 while ours is in */
static int setxid_ours;

static void futex_wait(volatile int32_t *addr, int32_t val, int64_t ms)
{
	struct ksys_timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	SC4(__NR_futex, addr, FUTEX_WAIT_PRIVATE, val, ms >= 0 ? &t : 0);
}

static void futex_wake(volatile int32_t *addr)
{
	SC3(__NR_futex, addr, FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

/* Wait until *count reaches n, at most ms by the clock: 1 when it did.  One
 * read of the count serves the test and the wait (read again for the wait,
 * it could be the last thread's, whose wake-up came in between), and a wait
 * that returns at once (the count moved meanwhile) takes nothing off ms. */
static int wait_for_count(volatile int32_t *count, int32_t n, int64_t ms)
{
	uint64_t until = cap_mono_ns() / 1000000 + (uint64_t)ms;

	for (int32_t seen; (seen = __atomic_load_n(count, __ATOMIC_ACQUIRE)) < n; ) {
		int64_t left = (int64_t)(until - cap_mono_ns() / 1000000);

		if (left <= 0)
			return 0;
		futex_wait(count, seen, left < 100 ? left : 100);
	}
	return 1;
}

/* the stop signal's handler, in each thread but the one taking the checkpoint */
void cap_on_stop(int sig, void *si, void *ucv)
{
	int32_t tid = (int32_t)sys_gettid(), gen;
	struct cap_thread_slot *slot = 0;
	uint64_t mask;

	for (uint32_t i = 0; i < __atomic_load_n(&ckpt_nslots, __ATOMIC_SEQ_CST); i++)
		if (ckpt_slots[i].tid == tid)
			slot = &ckpt_slots[i];
	if (!slot)
		return;				/* not asked for: nothing to do */
	memcpy(&mask, (char *)ucv + offsetof(ucontext_t, uc_sigmask), sizeof(mask));
	cap_fill_thread(&slot->rec, mask);
	slot->rec.sig_rip = (uint64_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP];
	gen = release;
	if (ckpt_save_context(&slot->rec.regs, slot->fpu, ckpt_cfg.ctx_flags) == 0) {
		/* only the last one wakes the stopper: on few cores, every wake-up
		 * would make it queue for one again */
		if (__atomic_add_fetch(&stopped, 1, __ATOMIC_SEQ_CST) >=
		    (int32_t)__atomic_load_n(&ckpt_nslots, __ATOMIC_SEQ_CST))
			futex_wake(&stopped);
	} else if (__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST) >= (int32_t)ckpt_nslots) {
		futex_wake(&arrived);		/* restored: out of the restorer's code */
	}
	/* until the snapshot exists, or after a restore until the process is
	 * whole again (gen, on this stack, came back with it) */
	while (__atomic_load_n(&release, __ATOMIC_SEQ_CST) == gen)
		futex_wait(&release, gen, -1);
	(void)sig;
	(void)si;
}

/* signal 33 while threads are being stopped: ours when it carries the cookie */
static void on_setxid(int sig, siginfo_t *si, void *ucv)
{
	if (si && si->si_code == SI_QUEUE && si->si_value.sival_int == (int)STOP_COOKIE) {
		cap_on_stop(sig, si, ucv);
		return;
	}
	if (setxid_prog.handler > 1) {		/* not SIG_DFL or SIG_IGN */
		if (setxid_prog.flags & SA_SIGINFO)
			((void (*)(int, siginfo_t *, void *))setxid_prog.handler)(sig, si, ucv);
		else
			((void (*)(int))setxid_prog.handler)(sig);
	}
}

/* the signal mask of thread tid, from /proc; 0 when unknown */
static uint64_t blocked_of(int32_t tid)
{
	char path[64], buf[4096];
	const char *v;

	img_fmt(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (cap_read_small(path, buf, sizeof(buf)) <= 0 || !(v = cap_field(buf, "SigBlk:")))
		return 0;
	return img_parse_num(&v, 16);
}

/* send thread tid the stop signal, or 33 (with our handler in) if it blocks that */
static long send_stop(int32_t pid, int32_t tid)
{
	uint64_t blocked = blocked_of(tid);
	siginfo_t si;

	if (!(blocked >> (ckpt_stop_sig - 1) & 1) || (blocked >> (SIG_SETXID - 1) & 1))
		return SC3(__NR_tgkill, pid, tid, ckpt_stop_sig);
	if (!setxid_ours) {
		struct ckpt_sigaction ours;

		/* the same flags and return trampoline as the stop signal's */
		if (sys_failed(sys_rt_sigaction(ckpt_stop_sig, 0, &ours)) ||
		    sys_failed(sys_rt_sigaction(SIG_SETXID, 0, &setxid_prog)))
			return SC3(__NR_tgkill, pid, tid, ckpt_stop_sig);
		ours.handler = (uint64_t)on_setxid;
		ours.mask = ~0ull;
		if (sys_failed(sys_rt_sigaction(SIG_SETXID, &ours, 0)))
			return SC3(__NR_tgkill, pid, tid, ckpt_stop_sig);
		setxid_ours = 1;
	}
	memset(&si, 0, sizeof(si));
	si.si_signo = SIG_SETXID;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = (uid_t)SC0(__NR_getuid);
	si.si_value.sival_int = (int)STOP_COOKIE;
	return SC4(__NR_rt_tgsigqueueinfo, pid, tid, SIG_SETXID, &si);
}

/* 1 when this thread is the process's only one: then no other can appear
 * either, and there is nothing to stop or list.  unshare(CLONE_THREAD) does
 * nothing and succeeds in a thread group of one, and fails (EINVAL) in a
 * larger one.  Asked only without a seccomp filter, which could refuse the
 * call or kill the process for it. */
static int only_thread(void)
{
	if (sys_prctl(21 /* PR_GET_SECCOMP */, 0, 0, 0, 0) != 0)
		return 0;
	return SC1(__NR_unshare, 0x10000 /* CLONE_THREAD */) == 0;
}

/* Stop every other thread.  New threads may appear while we do: list again
 * until a round finds none.  0, or -errno with every stopped thread let go. */
int cap_stop_threads(const char *path)
{
	static char dents[16384] CAP_COLD;
	int32_t self = (int32_t)sys_gettid(), pid = (int32_t)sys_getpid();
	int fresh = 1;

	ckpt_nslots = 0;
	stopped = 0;
	arrived = 0;
	if (only_thread())
		return 0;
	for (int round = 0; fresh && round < 8; round++) {
		long dir = sys_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

		fresh = 0;
		if (sys_failed(dir))
			break;
		for (;;) {
			long len = sys_getdents64((int)dir, dents, sizeof(dents));

			if (len <= 0)
				break;
			for (long at = 0; at < len; ) {
				const char *p = dents + at + 19;
				uint16_t reclen;
				int32_t tid, known = 0;

				memcpy(&reclen, dents + at + 16, 2);
				at += reclen;
				if (*p < '0' || *p > '9')
					continue;
				tid = (int32_t)img_parse_num(&p, 10);
				for (uint32_t i = 0; i < ckpt_nslots; i++)
					known |= ckpt_slots[i].tid == tid;
				if (tid == self || known)
					continue;
				if (ckpt_nslots >= CAP_MAX_THREADS - 1) {
					sys_close((int)dir);
					cap_say("%s: more than %u threads: checkpoint skipped", path, CAP_MAX_THREADS);
					cap_release_threads();
					return -7;
				}
				/* its slot must be visible before the signal lands:
				 * the handler may run on another CPU at once */
				ckpt_slots[ckpt_nslots].tid = tid;
				__atomic_store_n(&ckpt_nslots, ckpt_nslots + 1, __ATOMIC_SEQ_CST);
				if (sys_failed(send_stop(pid, tid))) {
					ckpt_slots[--ckpt_nslots].tid = 0;	/* it ended meanwhile */
					continue;
				}
				fresh = 1;
			}
		}
		sys_close((int)dir);
		if (!wait_for_count(&stopped, (int32_t)ckpt_nslots, 3000)) {
			cap_say("%s: %d of %u threads did not stop (stop signal %d and signal %d blocked?): "
				"checkpoint skipped", path, (int)ckpt_nslots - stopped, ckpt_nslots, ckpt_stop_sig,
				SIG_SETXID);
			cap_release_threads();
			return -16;
		}
	}
	/* A round that found no thread it had not stopped ends the loop: every
	 * thread is then stopped, and none can make another. */
	if (fresh) {
		cap_say("%s: threads kept appearing through %d rounds of stopping them: checkpoint skipped",
			path, 8);
		cap_release_threads();
		return -16;
	}
	return 0;
}

/* Let the stopped threads go.  The slots are emptied too: a thread whose stop
 * signal lands only now (it had it blocked) finds none and returns at once. */
void cap_release_threads(void)
{
	if (setxid_ours) {		/* they are in our handler already: glibc's goes back */
		sys_rt_sigaction(SIG_SETXID, &setxid_prog, 0);
		setxid_ours = 0;
	}
	if (!ckpt_nslots)
		return;
	__atomic_store_n(&ckpt_nslots, 0, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&release, 1, __ATOMIC_SEQ_CST);
	futex_wake(&release);
}

/* The disposition of 33 as the program has it: glibc's while ours is in for
 * the stop (a writer forked in the pause reads the dispositions it copied). */
void cap_program_setxid(struct ckpt_sigaction sigact[CKPT_NSIG])
{
	if (setxid_ours)
		sigact[SIG_SETXID - 1] = setxid_prog;
}

/* after a restore: every restored thread has left the restorer's code (they
 * then wait until cap_release_threads lets them go) */
void cap_wait_arrivals(void)
{
	setxid_ours = 0;		/* the image holds glibc's handler for 33 */
	if (!wait_for_count(&arrived, (int32_t)ckpt_nslots, 10000))
		cap_say("notice: %d of %u restored threads did not come back", (int)ckpt_nslots - arrived,
			ckpt_nslots);
}



/* Parse a CPU list ("0-3,8\n") into mask (128 bytes); how many CPUs it names */
static uint32_t cpu_list(const char *p, uint8_t *mask)
{
	uint32_t count = 0;

	while (*p >= '0' && *p <= '9') {
		uint64_t lo = img_parse_num(&p, 10), hi = lo;

		if (*p == '-') {
			p++;
			hi = img_parse_num(&p, 10);
		}
		for (uint64_t c = lo; c <= hi && c < 1024; c++, count++)
			mask[c / 8] |= (uint8_t)(1u << (c % 8));
		p += *p == ',';
	}
	return count;
}

/* The CPUs the machine grants this process: its cgroup's cpuset (cgroup v2:
 * cpuset.cpus.effective of its cgroup, or of the nearest parent that has the
 * file), else the online CPUs.  An affinity narrower than that was chosen
 * (taskset, sched_setaffinity): it goes in the image; one equal to it is the
 * machine's, and a restore on another machine or cgroup takes that one's. */
static void granted_cpus(uint8_t *mask)
{
	char cg[512], path[640], list[512];	/* on the handler's own stack: threads run this at once */
	long n = cap_read_small("/proc/self/cgroup", cg, sizeof(cg));
	char *rel = n > 0 ? (char *)cap_field(cg, "0::") : 0;

	for (char *end = rel ? strchr(rel, '\n') : 0; end; ) {
		*end = 0;
		img_fmt(path, sizeof(path), "/sys/fs/cgroup%s/cpuset.cpus.effective", rel);
		if (cap_read_small(path, list, sizeof(list)) > 0 && cpu_list(list, mask))
			return;
		end = strrchr(rel, '/');	/* up one level; "" is the root */
	}
	if (cap_read_small("/sys/devices/system/cpu/online", list, sizeof(list)) > 0)
		cpu_list(list, mask);
}

/* Phase 2 (the writer): which threads chose their CPUs.  Each thread's
 * affinity was read in the pause (fill_sched); the granted set, which takes
 * two to four file reads, is read here once for them all, by the writer,
 * which is in the process's cgroup.  An affinity equal to it is dropped. */
void cap_mark_affinity(struct cap_state *st)
{
	uint8_t granted[128] = { 0 };

	granted_cpus(granted);
	for (uint32_t i = 0; i < st->nthreads; i++) {
		struct ckpt_sched *s = &st->thr[i]->sched;

		if (!(s->flags & CKPT_SCHED_AFFINITY))
			continue;
		if (!memcmp(s->cpus, granted, sizeof(granted))) {
			s->flags &= ~CKPT_SCHED_AFFINITY;
			memset(s->cpus, 0, sizeof(s->cpus));
		}
	}
}

/* The calling thread's scheduling, where it differs from a new process's
 * (the affinity: as cap_mark_affinity finds) */
static void fill_sched(struct ckpt_sched *s)
{
	long r;

	if (!sys_failed(sys_sched_getattr(0, &s->attr, sizeof(s->attr))) &&
	    (s->attr.policy || s->attr.nice || s->attr.flags))
		s->flags |= CKPT_SCHED_ATTR;
	s->attr.size = sizeof(s->attr);
	r = sys_sched_getaffinity(0, sizeof(s->cpus), s->cpus);
	if (!sys_failed(r))
		s->flags |= CKPT_SCHED_AFFINITY;
	r = sys_ioprio_get(CKPT_IOPRIO_WHO_PROCESS, 0);
	if (!sys_failed(r) && r) {
		s->ioprio = (uint32_t)r;
		s->flags |= CKPT_SCHED_IOPRIO;
	}
	r = sys_prctl(CKPT_PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (!sys_failed(r) && r != CKPT_TIMERSLACK_DEFAULT && r) {
		s->timerslack_ns = (uint64_t)r;
		s->flags |= CKPT_SCHED_TIMERSLACK;
	}
	if (!(s->flags & CKPT_SCHED_ATTR))
		memset(&s->attr, 0, sizeof(s->attr));
	if (!(s->flags & CKPT_SCHED_AFFINITY))
		memset(s->cpus, 0, sizeof(s->cpus));
}

static struct { uint32_t version; int32_t pid; } caps_v3 = { 0x20080522, 0 };	/* capget: this thread */

/* the calling thread's record, but its registers (ckpt_save_context's job) */
void cap_fill_thread(struct ckpt_thread *t, uint64_t program_mask)
{
	struct ksys_stack ss;

	memset(t, 0, sizeof(*t));
	t->tid = (uint32_t)SC0(__NR_gettid);
	t->flags = ckpt_cfg.ctx_flags & CKPT_CTX_XSAVE;
	t->xfeatures = ckpt_cfg.xcr0;
	t->sigmask = program_mask;
	if (!sys_sigaltstack(0, &ss)) {
		t->ss_sp = ss.ss_sp;
		t->ss_size = ss.ss_size;
		t->ss_flags = (uint32_t)ss.ss_flags;
	}
	sys_prctl(CKPT_PR_GET_TID_ADDRESS, (uint64_t)&t->clear_child_tid, 0, 0, 0);
	sys_get_robust_list(&t->robust_list, &t->robust_len);
	cap_rseq_probe(&t->rseq_addr, &t->rseq_len);
	if (t->rseq_len)
		t->rseq_sig = CKPT_RSEQ_SIG;
	fill_sched(&t->sched);
	if (!SC2(__NR_capget, &caps_v3, t->caps))
		t->flags |= CKPT_CTX_CAPS;
}
