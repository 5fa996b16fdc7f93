/* config.c -- the ground floor of libckpt: what every other file of capture/
 * uses and nothing here calls up.
 *
 * The floors, each calling only into its own floor or the ones below:
 *   4  api.c (the user-directed API) over preload.c (constructor, trigger
 *      signal, the checkpoint and the way back after a restore)
 *   3  dump.c: lays out and writes one image (with image/write.c)
 *   2  the readers of the process: maps.c (regions and pages), track.c
 *      (pages written since the last image), state.c (descriptors, signals,
 *      timers, limits), threads.c (the other threads)
 *   1  config.c: the settings, the scratch tables, messages, the hooks
 * A lower floor that must reach an upper one goes through cap_hooks, which
 * the upper one fills in.
 */
#include <stdlib.h>
#include "cap.h"

struct cap_config ckpt_cfg;
struct cap_scratch ckpt_scratch CAP_COLD __attribute__((aligned(4096)));

/* ---- the pages a pause writes, present before the first one ----
 * A pause writes a few dozen pages of libckpt's own: its variables, the
 * state it collects, the first entries of some scratch tables, the stacks
 * it runs on (altstack.c).  Each one not yet present and writable costs a
 * fault in the pause, 10 to 15 us on the 2026-12-08 test guest: the first
 * pause of a program that never forked took 17 before its fork.  The
 * large buffers are CAP_COLD, in .lbss, so from .data to the end of .bss
 * are the variables, about 60 KiB, between cap_hot_start and cap_hot_end
 * (libckpt.ld): packed, a pause touches fewer pages of them, and they are
 * made present here with MADV_POPULATE_WRITE (Linux 5.14; refused before,
 * and they fault in as they did), 0.7 us a page.  Then that pause took 1.
 * A fork write-protects them again (the writer's too): the next pause
 * faults on those it writes, fewer than before they were packed.  The
 * scratch is out of the images: a restored process faults its pages in
 * again at its first pause. */
extern char cap_hot_start[] __attribute__((visibility("hidden")));
extern char cap_hot_end[] __attribute__((visibility("hidden")));

#define PAGE_MASK	((uint64_t)CKPT_PAGE_SIZE - 1)

/* every page that holds a byte of [from, from + len) */
void cap_warm_range(const void *from, uint64_t len)
{
	uint64_t s = (uint64_t)from & ~PAGE_MASK, e = ((uint64_t)from + len + PAGE_MASK) & ~PAGE_MASK;

	if (len)
		sys_madvise(s, e - s, 23 /* MADV_POPULATE_WRITE */);
}

void cap_warm(void)
{
	/* from the first page wholly .data's: the one before may be read-only */
	uint64_t hot = ((uint64_t)cap_hot_start + PAGE_MASK) & ~PAGE_MASK;

	if ((uint64_t)cap_hot_end > hot)
		cap_warm_range((void *)hot, (uint64_t)cap_hot_end - hot);
	cap_warm_range(ckpt_scratch.strings, CKPT_PAGE_SIZE);
	cap_warm_range(ckpt_scratch.iobuf, CKPT_PAGE_SIZE);
	cap_warm_range(ckpt_scratch.fds, 2 * CKPT_PAGE_SIZE);	/* the first 25 descriptors' */
	cap_warm_range(ckpt_scratch.fd_later, sizeof(ckpt_scratch.fd_later));
}

static void no_rollback(int carry_fd)
{
}

static void no_restore(void)
{
}

static int none_ours(int fd)
{
	return 0;
}

struct cap_hooks cap_hooks = {
	.after_rollback = no_rollback,
	.after_fresh_restore = no_restore,
	.fd_is_ours = none_ours,
};

struct cap_job_state ckpt_job = { .fds = { -1, -1, -1, -1, -1 } };

int cap_is_job_fd(int fd)
{
	for (int i = 0; ckpt_job.role && fd >= 0 && i < 5; i++)
		if (fd == ckpt_job.fds[i])
			return 1;
	return 0;
}

/* Is fd the settings memfd preload.c published?  The program may have
 * closed it and put a file of its own at that number (closefrom, dup2):
 * the inode tells. */
int cap_is_settings_fd(int fd)
{
	struct ksys_stat st;

	return ckpt_cfg.settings_ino && fd == ckpt_cfg.settings_fd && !sys_failed(sys_fstat(fd, &st)) &&
	       st.st_ino == ckpt_cfg.settings_ino && st.st_dev == ckpt_cfg.settings_dev;
}

/* "libckpt: <message>\n" on stderr with one write */
void cap_say(const char *fmt, ...)
{
	char line[600];
	size_t n;
	va_list ap;

	memcpy(line, "libckpt: ", 9);
	va_start(ap, fmt);
	n = 9 + img_vfmt(line + 9, sizeof(line) - 10, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	sys_write(2, line, n);
}

/* glibc registers an rseq area per thread at fs_base + __rseq_offset.  The
 * kernel answers EBUSY to a registration that matches the current one
 * exactly: that tells which length glibc used.  len = 0: none registered. */
void cap_rseq_probe(uint64_t *addr, uint32_t *len)
{
	extern __attribute__((weak)) const ptrdiff_t __rseq_offset;
	extern __attribute__((weak)) const unsigned int __rseq_size;
	uint64_t tp, area;

	*addr = 0;
	*len = 0;
	if (!&__rseq_size || !&__rseq_offset || !__rseq_size)
		return;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	area = tp + __rseq_offset;
	for (uint32_t l = 32; ; l = __rseq_size) {
		long r = sys_rseq(area, l, 0, CKPT_RSEQ_SIG);

		if (r == -16) {			/* EBUSY: that is the registration */
			*addr = area;
			*len = l;
			return;
		}
		if (r == 0)			/* it was not registered: undo ours */
			sys_rseq(area, l, CKPT_RSEQ_UNREGISTER, CKPT_RSEQ_SIG);
		if (l == __rseq_size)
			return;
	}
}

/* A setting from the environment, or 0.  In a privileged program (setuid, setgid, file
 * capabilities: the kernel sets AT_SECURE) the environment belongs to whoever
 * started it, so no setting is read: no path, store, restorer or signal of
 * theirs can reach a process with more rights than they have. */
const char *cap_env(const char *name)
{
	return ckpt_cfg.secure ? 0 : getenv(name);
}

/* ---- libckpt's helper threads (CLONE_VM, a stack of their own) ---- */

/* ---- libckpt's own helper threads ----
 * A thread of the process (CLONE_VM, CLONE_THREAD) with a descriptor table of
 * its own (no CLONE_FILES: what it opens is never among the descriptors an
 * image saves), on [stack, stack + len).  *tid holds its tid from the clone
 * until it exits (fn ends in the exit system call), when the kernel clears
 * it and wakes it.  tid or -errno. */
long cap_spawn_helper(uint64_t stack, uint64_t len, volatile int32_t *tid, void (*fn)(void *), void *arg)
{
	struct ksys_clone_args ca = {
		.flags = (KSYS_CLONE_THREAD & ~0x400ul /* CLONE_FILES */) |
			 0x00100000 | 0x00200000,	/* CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID */
		.parent_tid = (uint64_t)tid, .child_tid = (uint64_t)tid,
		.stack = stack, .stack_size = len,
	};

	return sys_clone3_on_stack(&ca, sizeof(ca), fn, arg);
}

uint64_t cap_mono_ns(void)
{
	struct ksys_timespec t;

	sys_clock_gettime(1 /* CLOCK_MONOTONIC */, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* 1 once that helper has exited; 0 if it still runs and wait is 0.  The
 * kernel clears *tid early in the thread's exit, and the thread stays in the
 * process (in /proc/self/task, a target for signals) until its exit is
 * done, which on a loaded machine may wait for a CPU: one that waits, waits
 * for that too (up to a second), so that a checkpoint taken next does not
 * count it, signal it and wait for it to stop. */
int cap_join_helper(volatile int32_t *tid, int wait)
{
	int32_t t, last = 0;
	struct ksys_timespec nap = { 0, 1000000 };	/* 1 ms */

	while ((t = __atomic_load_n(tid, __ATOMIC_ACQUIRE)) != 0) {
		if (!wait)
			return 0;
		last = t;
		SC4(__NR_futex, tid, 0 /* FUTEX_WAIT: the kernel's wake at exit is shared */, t, 0);
	}
	for (int i = 0; last && i < 1000 && SC3(__NR_tgkill, sys_getpid(), last, 0) == 0; i++)
		SC2(__NR_nanosleep, &nap, 0);
	return 1;
}

/* ---- the scratch tables a walk fills ---- */

/* copy s[0..n) into the string table; returns its offset, 0 when full or empty */
uint32_t cap_add_stringn(struct cap_walk *w, const char *s, size_t n)
{
	uint32_t off = w->strings_used;

	if (!n || off + n + 1 > CAP_STRINGS)
		return 0;
	memcpy(ckpt_scratch.strings + off, s, n);
	ckpt_scratch.strings[off + n] = 0;
	w->strings_used += n + 1;
	return off;
}

uint32_t cap_add_string(struct cap_walk *w, const char *s)
{
	return cap_add_stringn(w, s, strlen(s));
}

/* b[0..n) as 2n lowercase hex digits at out, not terminated (an image id
 * or a job id in a file name) */
void cap_hex(char *out, const uint8_t *b, int n)
{
	for (int i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
}

#define ZERO_RUN	IMG_NO_DATA	/* a run of zero pages: img_place_data stores nothing */

int cap_add_run_as(struct cap_walk *w, uint32_t vma, uint64_t start, uint64_t end, int zero)
{
	uint64_t skip_s = (uint64_t)&ckpt_scratch;
	uint64_t skip_e = (skip_s + sizeof(ckpt_scratch)) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);	/* whole pages only */
	struct ckpt_run *last = w->nruns ? &ckpt_scratch.runs[w->nruns - 1] : 0;

	/* the capture's own scratch is never worth storing */
	if (start < skip_e && end > skip_s) {
		int r = 0;

		if (start < skip_s)
			r = cap_add_run_as(w, vma, start, skip_s, zero);
		if (!r && end > skip_e)
			r = cap_add_run_as(w, vma, skip_e, end, zero);
		return r;
	}
	if (last && last->vma == vma && last->addr + last->npages * CKPT_PAGE_SIZE == start &&
	    (last->data_off == ZERO_RUN) == zero) {
		last->npages += (end - start) / CKPT_PAGE_SIZE;
		return 0;
	}
	if (w->nruns >= CAP_MAX_RUNS) {
		w->fail_what = "too many page runs";
		w->fail_addr = start;
		return -7;
	}
	last = &ckpt_scratch.runs[w->nruns++];
	memset(last, 0, sizeof(*last));
	last->addr = start;
	last->npages = (end - start) / CKPT_PAGE_SIZE;
	last->vma = vma;
	last->data_off = zero ? ZERO_RUN : 0;
	return 0;
}
