/* work.c -- the benchmark's workload: N bytes of memory, checkpointed once,
 * restored eagerly and lazily.  Runs under LD_PRELOAD=libckpt.so, started by
 * tests/bench/run1.c (which measures everything seen from outside).
 *
 *   work dense  BYTES FD [THREADS]   BYTES of dense random data
 *   work text   BYTES FD    BYTES of records that compress about 3:1 (gen.h)
 *   work sparse BYTES FD    BYTES mapped and fully read (so every page maps
 *                           the shared zero page), WRITTEN bytes written in
 *                           64 KiB pieces spread evenly over it
 *
 * THREADS (default 1; sparse takes only 1: the workers' stores would fill in
 * its zero pages): the main thread and THREADS - 1 workers.  The
 * workers start once the memory is filled and summed, so fork_ns,
 * fork_cold_ns and memcpy_ns below are taken while they run (fork_ns is the fork of the
 * threaded process).  Each owns a slice of the memory (BYTES / (THREADS -
 * 1), whole pages) and walks it over and over, page by page: it reads every
 * word of the page and writes the page's first word back unchanged (a store,
 * so that after the snapshot's fork every page it reaches costs the program
 * a copy-on-write fault, as a program writing its memory pays; the same
 * value, so that the sums below still hold).  Between two pages it reads
 * CLOCK_MONOTONIC and logs the gaps of 20 us or more that end after run1's
 * send time (the first WGAPS of them).  Its pause is the longest of those
 * that overlaps the main thread's pause (below): the main thread stops the
 * workers from its handler, inside its own pause, which can begin well after
 * the send time when there are more threads than cores (it waits for one).
 * The workers block SIGUSR1 and SIGUSR2, so the main thread is the one that
 * takes the checkpoint and stops the others.
 *
 * Before the checkpoint it measures the machine on its own memory and writes
 * one line to FD (a pipe from run1):
 *   fill_ns sum_ns fork_ns fork_cold_ns memcpy_ns
 *                                         fork_ns: median of 3 fork() calls of
 *                                         this very process, back to back, call
 *                                         to return in the parent; fork_cold_ns:
 *                                         the same, each after a memcpy and 2 ms
 *                                         of spin, as the checkpoint comes
 *                                         (time_fork_cold); memcpy_ns: N bytes
 *                                         (the written bytes when sparse) into
 *                                         fresh memory, page faults included
 * It then spins reading CLOCK_MONOTONIC and logs every gap of 20 us or more
 * between two readings; a little later it closes FD (run1 sees EOF: the spin
 * is running).  run1 writes the time it is about to send SIGUSR2 into
 * sig_sent_ns[0] (process_vm_writev; its address is in the line above),
 * sends it, and writes the time kill() returned into sig_sent_ns[1].
 * libckpt's handler interrupts the spin: its whole run, fork included, is
 * one gap.  The pause is the longest gap that ends after the send time and
 * starts at most 5 ms after kill() returned (the signal reaches a running
 * process at once; a preemption that straddles the send time holds the
 * handler too; a short interrupt between the send time and the delivery
 * does not hide the handler's gap).  Two times, not one: when the program's
 * threads keep every core busy, run1 itself can wait many ms for a core
 * between the two, and the signal goes out only at the end of that wait.
 * The pause is picked from the log once the program has been told to stop.
 *
 * Once the spin reads a time 5 ms past kill()'s return it has had its pause
 * (running again means the signal was delivered).  From then on it sleeps
 * (1 ms steps) instead of spinning, so that on a small machine the image
 * writer does not fight a busy loop for the CPU: the checkpoint time then
 * measures ckpt, not the scheduler.
 * BENCH_BUSY=1 keeps it spinning (a program that keeps a core busy).  The
 * workers do the same: once the main thread's pause is over they sleep 1 ms
 * after each page (so they still write their slices while the image is
 * written, slowly), and with BENCH_BUSY=1 they keep going flat out.
 *
 * The original process: run1 sends SIGUSR1 once the image is in place.  It
 * writes RESDIR/res.PID, one line "pause_ns=... other_gap_ns=... gaps=...
 * thr_pause_ns=... thr_nopause=..." (other_gap: the longest gap of the spin
 * besides the pause; thr_pause: the longest of the workers' pauses, 0
 * without workers; thr_nopause: workers with no gap over the main thread's
 * pause, which should be 0), exits 0.
 *
 * A restored process: it comes back inside the spin, sees ckpt_restore_count()
 * move, takes the time (running again), sums every word of its memory and
 * compares with the sum taken before the checkpoint (every page verified),
 * writes "run_ns=... ver_ns=... ok=1|0" to res.PID (its new pid), exits 0 or 3.
 * Restored workers see the count move too, check in and stop walking (so the
 * verifying sum measures the restore, not a share of the CPU); ok is 0 also
 * when a worker has not checked in 10 s after the sum (its thread was not
 * restored, or does not run).
 * CLOCK_MONOTONIC is one clock for the whole machine, so run1 subtracts its
 * own start time.
 *
 * No stdio before the checkpoint: buffered bytes would be in the image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "gen.h"

#define PG		4096ul
#define PIECE		(64ul << 10)
#define GAP_MIN_NS	20000
#define MAX_GAPS	8192
#define PAUSE_WINDOW_NS	5000000
#define MAX_THREADS	64		/* libckpt's limit */
#define WGAPS		64

/* libckpt.so (LD_PRELOAD) defines it; 0 in the original run */
extern unsigned long ckpt_restore_count(void) __attribute__((weak));

static volatile sig_atomic_t done;
/* run1 writes [0] before SIGUSR2 is sent, [1] once kill() has returned */
volatile uint64_t sig_sent_ns[2] __attribute__((aligned(16)));
static struct { uint64_t at, len; } gaps[MAX_GAPS];
static unsigned ngaps;

static uint8_t *mem;
static size_t size;				/* mapped */
static uint64_t sum_before;

static int nthreads = 1, busy;
static unsigned long seen;			/* ckpt_restore_count() before the spin */
static int back;				/* workers that saw a restore */
static int slow;				/* the main thread is past its pause */
static struct wlog {				/* a worker's gaps after the send time */
	uint64_t at[WGAPS], len[WGAPS];
	unsigned n;
} wlog[MAX_THREADS];

static void die(const char *what)
{
	char b[256];
	int n = snprintf(b, sizeof b, "work: %s: %s\n", what, strerror(errno));

	if (write(2, b, n) < 0)
		_exit(1);
	_exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < n / 8; i++)
		w[i] = mix(seed + i);
}

/* every word, xor its index: a page put back at the wrong address, or not at
 * all, changes the sum; vectorises to memory speed */
static uint64_t sum_all(const uint8_t *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t s = 0;

	for (size_t i = 0; i < n / 8; i++)
		s += w[i] ^ i;
	return s;
}

static void on_usr1(int sig)
{
	(void)sig;
	done = 1;
}

static void put_result(const char *line)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "res.%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	if (write(fd, line, strlen(line)) < 0)
		die("write result");
	close(fd);
}

static void restored(void)
{
	uint64_t run = now_ns(), ver, s;
	char line[160];

	s = sum_all(mem, size);
	ver = now_ns();
	/* not a time limit on ckpt: a worker that never runs again is a failure */
	while (__atomic_load_n(&back, __ATOMIC_SEQ_CST) < nthreads - 1 && now_ns() - ver < 10000000000ull)
		sched_yield();
	if (__atomic_load_n(&back, __ATOMIC_SEQ_CST) < nthreads - 1)
		s = ~sum_before;
	snprintf(line, sizeof line, "run_ns=%llu ver_ns=%llu ok=%d\n", (unsigned long long)run,
		 (unsigned long long)ver, s == sum_before);
	put_result(line);
	exit(s == sum_before ? 0 : 3);
}

static uint64_t pause_ns, pause_at;

static void finished(void)
{
	uint64_t other = 0, thr = 0, t0 = sig_sent_ns[0], t1 = sig_sent_ns[1];
	char line[200];
	int found = 0, missing = 0;

	/* the pause: see the header */
	for (unsigned i = 0; i < ngaps; i++)
		if (t0 && gaps[i].at + gaps[i].len >= t0 && gaps[i].at <= (t1 ? t1 : t0) + PAUSE_WINDOW_NS &&
		    gaps[i].len > pause_ns) {
			pause_ns = gaps[i].len;
			pause_at = gaps[i].at;
		}
	for (unsigned i = 0; i < ngaps; i++) {
		if (gaps[i].len == pause_ns && !found) {
			found = 1;
			continue;
		}
		if (gaps[i].len > other)
			other = gaps[i].len;
	}
	/* each worker's pause: its longest gap over the main thread's */
	for (int i = 1; i < nthreads; i++) {
		unsigned n = __atomic_load_n(&wlog[i].n, __ATOMIC_ACQUIRE);
		uint64_t p = 0;

		for (unsigned j = 0; j < n; j++)
			if (wlog[i].at[j] < pause_at + pause_ns && wlog[i].at[j] + wlog[i].len[j] > pause_at &&
			    wlog[i].len[j] > p)
				p = wlog[i].len[j];
		if (!p)
			missing++;
		if (p > thr)
			thr = p;
	}
	snprintf(line, sizeof line, "pause_ns=%llu other_gap_ns=%llu gaps=%u thr_pause_ns=%llu "
		 "thr_nopause=%d\n", (unsigned long long)pause_ns, (unsigned long long)other, ngaps,
		 (unsigned long long)thr, missing);
	put_result(line);
	exit(pause_ns ? 0 : 4);
}

/* a gap between two clock readings of the main thread's spin: log it */
static void gap(uint64_t prev, uint64_t now)
{
	if (now - prev < GAP_MIN_NS)
		return;
	if (ngaps < MAX_GAPS) {
		gaps[ngaps].at = prev;
		gaps[ngaps].len = now - prev;
		ngaps++;
	}
}

/* a worker: see the header.  Its slice is [lo, hi), whole pages. */
struct slice { int id; size_t lo, hi; };

static void *worker(void *arg)
{
	const struct slice *sl = arg;
	struct wlog *lg = &wlog[sl->id];
	uint64_t prev = now_ns(), now, t;
	volatile uint64_t keep = 0;

	for (size_t off = sl->lo; ; off = off + PG < sl->hi ? off + PG : sl->lo) {
		volatile uint64_t *w = (volatile uint64_t *)(mem + off);
		uint64_t x = 0;

		for (size_t i = 0; i < PG / 8; i++)
			x += w[i];
		w[0] = w[0];		/* a store of the same value: see the header */
		keep = x;
		if (ckpt_restore_count() != seen) {
			__atomic_add_fetch(&back, 1, __ATOMIC_SEQ_CST);
			for (;;)
				pause();	/* the exit of the main thread ends it */
		}
		now = now_ns();
		t = sig_sent_ns[0];
		if (now - prev >= GAP_MIN_NS && t && now >= t && lg->n < WGAPS) {
			lg->at[lg->n] = prev;
			lg->len[lg->n] = now - prev;
			__atomic_store_n(&lg->n, lg->n + 1, __ATOMIC_RELEASE);
		}
		prev = now;
		if (!busy && __atomic_load_n(&slow, __ATOMIC_ACQUIRE)) {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
			prev = now_ns();
		}
	}
	(void)keep;
	return NULL;
}

/* THREADS - 1 workers over the memory, with SIGUSR1 and SIGUSR2 blocked */
static void start_workers(void)
{
	static struct slice sl[MAX_THREADS];
	size_t pages = size / PG, per = pages / (nthreads - 1);
	sigset_t block, old;
	pthread_t t;
	int e;

	if (per == 0) {
		errno = EINVAL;
		die("fewer pages than workers");
	}
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 1; i < nthreads; i++) {
		sl[i].id = i;
		sl[i].lo = (i - 1) * per * PG;
		sl[i].hi = i == nthreads - 1 ? pages * PG : i * per * PG;
		e = pthread_create(&t, NULL, worker, &sl[i]);
		if (e) {
			errno = e;
			die("pthread_create");
		}
		pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* one fork() of this process, call to return in the parent; the child exits
 * at once and is reaped */
static uint64_t fork_once(void)
{
	uint64_t t0 = now_ns(), t;
	pid_t p = fork();

	t = now_ns() - t0;
	if (p < 0)
		die("fork");
	if (p == 0)
		_exit(0);
	while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
		;
	return t;
}

/* fork() of this process: median of 3, back to back */
static uint64_t time_fork(void)
{
	uint64_t t[3];

	for (int i = 0; i < 3; i++)
		t[i] = fork_once();
	qsort(t, 3, sizeof t[0], cmp64);
	return t[1];
}

/* memcpy of n bytes from src into memory mapped just now */
static uint64_t time_memcpy(const uint8_t *src, size_t n)
{
	uint8_t *dst = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0, t;

	if (dst == MAP_FAILED)
		die("mmap (memcpy baseline)");
	t0 = now_ns();
	memcpy(dst, src, n);
	t = now_ns() - t0;
	__asm__ volatile("" : : "r"(dst) : "memory");
	munmap(dst, n);
	return t;
}

/* One fork() in the state the checkpoint meets: after the memcpy baseline
 * (n bytes through the caches) and 2 ms of the spin, as run1 sends its
 * signal then.  Back-to-back forks (time_fork) find the page tables and the
 * pages' counts in the cache the fork before left them in; this one does
 * not, nor does the checkpoint's.  Each of the 3 is preceded by a memcpy,
 * and one more follows the last, so that the checkpoint too comes after a
 * memcpy; *memcpy_ns: the median of the 4.  Median of the 3 forks. */
static uint64_t time_fork_cold(const uint8_t *src, size_t n, uint64_t *memcpy_ns)
{
	uint64_t t[3], m[4];

	for (int i = 0; i < 3; i++) {
		m[i] = time_memcpy(src, n);
		for (uint64_t t0 = now_ns(); now_ns() - t0 < 2000000; )
			;
		t[i] = fork_once();
	}
	m[3] = time_memcpy(src, n);
	qsort(t, 3, sizeof t[0], cmp64);
	qsort(m, 4, sizeof m[0], cmp64);
	*memcpy_ns = (m[1] + m[2]) / 2;
	return t[1];
}

int main(int argc, char **argv)
{
	uint64_t t0, fill_ns, sum_ns, fork_ns, fork_cold_ns, memcpy_ns, prev, now;
	struct sigaction sa;
	size_t written = 0;
	int sparse, fd, closed = 0;
	char line[256];

	if ((argc != 4 && argc != 5) || (strcmp(argv[1], "dense") && strcmp(argv[1], "sparse") &&
					  strcmp(argv[1], "text"))) {
		fprintf(stderr, "usage: work dense|sparse|text BYTES FD [THREADS]\n");
		return 2;
	}
	if (argc == 5)
		nthreads = atoi(argv[4]);
	if (nthreads < 1 || nthreads > MAX_THREADS || (nthreads > 1 && strcmp(argv[1], "dense"))) {
		fprintf(stderr, "work: THREADS must be 1 to %d, and 1 for sparse and text\n", MAX_THREADS);
		return 2;
	}
	if (!ckpt_restore_count) {
		fprintf(stderr, "work: libckpt.so is not loaded (run under LD_PRELOAD)\n");
		return 2;
	}
	sparse = !strcmp(argv[1], "sparse");
	size = strtoull(argv[2], NULL, 0) & ~(PG - 1);
	fd = atoi(argv[3]);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	t0 = now_ns();
	if (!strcmp(argv[1], "text")) {
		fill_text(mem, size, 1);
		written = size;
	} else if (!sparse) {
		fill(mem, size, 1);
		written = size;
	} else {
		size_t pieces = (10ul << 20) / PIECE, stride = (size / pieces) & ~(PG - 1);
		volatile uint64_t x = 0;

		for (size_t off = 0; off < size; off += PG)	/* map the zero page everywhere */
			x += *(volatile uint64_t *)(mem + off);
		(void)x;
		for (size_t i = 0; i < pieces; i++)
			fill(mem + i * stride, PIECE, 1 + i * stride / 8);
		written = pieces * PIECE;
	}
	fill_ns = now_ns() - t0;
	t0 = now_ns();
	sum_before = sum_all(mem, size);
	sum_ns = now_ns() - t0;
	busy = getenv("BENCH_BUSY") && !strcmp(getenv("BENCH_BUSY"), "1");
	seen = ckpt_restore_count();
	if (nthreads > 1)
		start_workers();
	fork_ns = time_fork();
	fork_cold_ns = time_fork_cold(mem, written, &memcpy_ns);

	snprintf(line, sizeof line, "fill_ns=%llu sum_ns=%llu fork_ns=%llu fork_cold_ns=%llu memcpy_ns=%llu "
		 "written=%zu addr=%llu\n", (unsigned long long)fill_ns, (unsigned long long)sum_ns,
		 (unsigned long long)fork_ns, (unsigned long long)fork_cold_ns, (unsigned long long)memcpy_ns, written,
		 (unsigned long long)(uintptr_t)sig_sent_ns);
	if (write(fd, line, strlen(line)) < 0)
		die("write to run1");

	/* the spin: the handler runs inside one of these gaps */
	t0 = prev = now_ns();
	while (!done) {
		now = now_ns();
		if (ckpt_restore_count() != seen)
			restored();
		gap(prev, now);
		prev = now;
		/* spinning: tell run1.  prev stays: run1 may send its signal
		 * before this thread runs again (it has to wait for a core when
		 * the workers keep them all busy), and the gap must hold the
		 * handler */
		if (!closed && now - t0 > 2000000) {
			close(fd);
			closed = 1;
		}
		if (!slow && sig_sent_ns[1] && now > sig_sent_ns[1] + PAUSE_WINDOW_NS)
			__atomic_store_n(&slow, 1, __ATOMIC_RELEASE);
		if (slow && !busy) {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
			prev = now_ns();
		}
	}
	gap(prev, now_ns());		/* SIGUSR2 and SIGUSR1 back to back */
	finished();
	return 0;
}
