/* snap.c -- CKPT_SNAPSHOT=uffd: a snapshot by write protection.
 *
 * Instead of forking, the checkpoint write-protects the pages of the
 * process's private anonymous memory that the image takes with a
 * userfaultfd (sync mode, as QEMU's background snapshot does) and lets the
 * program go on at once.  A thread of libckpt's
 * writes the pages out from the process itself.  When the program writes a
 * page before the writer has it, the write faults to a second thread, the
 * handler, which copies the page aside and lifts the protection; the writer
 * takes that copy instead of the page.  Private memory that userfaultfd
 * cannot protect (a private file mapping's written pages) is copied aside
 * during the pause; shared memory is read as it is when written, as the
 * fork's writer reads it.
 *
 * Each page of a covered region has a state byte:
 *   0  untouched: still write-protected, the bytes in memory are the snapshot's
 *   1  the handler is copying it aside
 *   2  the writer read it while it was 0: its read is the snapshot
 *   3  its copy aside is the snapshot
 * The writer reads a piece (/proc/self/mem), then moves each page 0 -> 2; a
 * page it finds at 1 or 3 is taken from the copy.  The handler moves 0 -> 1,
 * copies, stores 3 and only then lifts the protection.  A page is therefore
 * never written by the program while its state is 0.
 *
 * The kernel makes a fault taken inside a system call (read() into the page,
 * an rseq update) wait for the handler too, unless the userfaultfd is
 * UFFD_USER_MODE_ONLY, where it fails with EFAULT: that is all an ordinary
 * user gets when vm.unprivileged_userfaultfd is 0, so there the snapshot is
 * not used (preload.c says so and forks).
 *
 * munmap, mremap and MADV_DONTNEED of protected memory are reported only as
 * they happen, too late to save what they drop: any such event before the
 * pages are out abandons the image (the previous one stays).
 */
#include "cap.h"

#define UFFD_FEATURE_EVENT_REMAP	(1u << 2)
#define UFFD_FEATURE_EVENT_REMOVE	(1u << 3)
#define UFFD_FEATURE_EVENT_UNMAP	(1u << 6)
#define UFFD_EVENT_PAGEFAULT		0x12
#define UFFD_EVENT_REMAP		0x14
#define UFFD_EVENT_REMOVE		0x15
#define UFFD_EVENT_UNMAP		0x16
#define UFFD_PAGEFAULT_FLAG_WP		(1u << 1)

#define HANDLER_STACK	(256u << 10)
#define BLOCK_PAGES	16u		/* a fault copies aside this many pages around it, */
#define BLOCK_MAX_PAGES	512u		/* and up to this many after others just before it */

enum { PAGE_UNTOUCHED, PAGE_COPYING, PAGE_READ, PAGE_COPIED };

struct uffd_msg_raw {
	uint8_t event, r1;
	uint16_t r2;
	uint32_t r3;
	uint64_t a, b, c;		/* pagefault: flags, address; remove/unmap: start, end */
};

static struct cap_snap *const snap = &ckpt_scratch.snap;
int cap_snap_abandoned;			/* one did not hold (CKPT_SNAPSHOT=auto tries no more) */

static int registered(const struct ckpt_vma *v)
{
	return (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP || v->kind == CKPT_VMA_STACK) &&
	       !(v->flags & (CKPT_MAP_SHARED | CKPT_MAP_JOB_SHARED));
}

/* The regions the pause itself writes in after the protection is on: the
 * stack it runs on, the signal's alternate stack and libckpt's own
 * variables (the region of this file's).  Each write there would wait for a
 * round trip through the handler, inside the pause; their pages are copied
 * aside in the pause instead, as an unregistered region's are, and left
 * unprotected.  So are those of the stack the trigger interrupted, which the
 * program writes first when the pause returns (each of its first faults
 * waited 0.1-2 ms for the handler here, with the writer just started beside
 * it), when that stack is a region of its own (at most STACK_REGION: the main
 * thread's, or a thread's mapping; one inside a larger region is protected
 * as the rest of it). */
#define STACK_REGION	(16u << 20)

uint64_t cap_signal_sp;
static uint64_t pause_writes[3];

static int written_by_pause(const struct ckpt_vma *v)
{
	for (int i = 0; i < 3; i++)
		if (pause_writes[i] >= v->start && pause_writes[i] < v->end)
			return 1;
	return cap_signal_sp >= v->start && cap_signal_sp < v->end && v->end - v->start <= STACK_REGION;
}

/* a region whose pages with data are write-protected (the rest of the
 * covered ones are copied aside in the pause) */
static int protected_region(const struct ckpt_vma *v)
{
	return registered(v) && !written_by_pause(v);
}

/* a region whose stored pages the snapshot keeps: private ones */
static int covered(const struct ckpt_vma *v)
{
	return v->pages_stored && !(v->flags & (CKPT_MAP_SHARED | CKPT_MAP_JOB_SHARED)) &&
	       v->kind != CKPT_VMA_SHMEM;
}

int cap_snap_covers(uint32_t vi)
{
	return snap->active && snap->vma_base[vi] != ~0ull;
}

/* a registered region's range, less libckpt's scratch (the writer and the
 * handler write there: never protected); two pieces at most */
static int pieces(const struct ckpt_vma *v, uint64_t out[2][2])
{
	uint64_t hs = snap->hole_start, he = snap->hole_end;
	int n = 0;

	if (he <= v->start || hs >= v->end) {
		out[0][0] = v->start, out[0][1] = v->end;
		return 1;
	}
	if (hs > v->start)
		out[n][0] = v->start, out[n++][1] = hs;
	if (he < v->end)
		out[n][0] = he, out[n++][1] = v->end;
	return n;
}

static long protect(uint64_t start, uint64_t len, int on)
{
	struct { uint64_t start, len, mode; } wp = { start, len, on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };

	return sys_ioctl(snap->uffd, UFFDIO_WRITEPROTECT, &wp);
}

/* The handler lifts the protection of [start, start + len), around the page
 * at addr the program wrote, and so wakes the thread that wrote it.  The
 * kernel refuses protection changes (EAGAIN) from the moment the handler has
 * read an unmap, remap or remove event until the thread that caused it goes
 * on (the munmap caller, which under load may wait for a CPU): then only the
 * writing thread is woken, its write faults again, and the handler tries
 * once more, reading whatever came meanwhile.  A block of which a piece is
 * no longer registered (unmapped since) is lifted at the page alone. */
static void lift(uint64_t start, uint64_t len, uint64_t addr)
{
	struct { uint64_t start, len; } page = { addr & ~(uint64_t)(CKPT_PAGE_SIZE - 1), CKPT_PAGE_SIZE };
	long r = protect(start, len, 0);

	if (sys_failed(r) && r != -11)
		r = protect(page.start, page.len, 0);
	if (r == -11)
		sys_ioctl(snap->uffd, UFFDIO_WAKE, &page);
}

/* the region holding addr (the table is in address order), or -1 */
static int32_t region_of(uint64_t addr)
{
	uint32_t lo = 0, hi = snap->nvmas;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		const struct ckpt_vma *v = &ckpt_scratch.vmas[mid];

		if (addr < v->start)
			hi = mid;
		else if (addr >= v->end)
			lo = mid + 1;
		else
			return (int32_t)mid;
	}
	return -1;
}

/* The first reason stays, but an event (unmap, remove, remap) names why a
 * page could not be read better than the failed read that came before it. */
static void mark_broken(int why, uint64_t at)
{
	int32_t was = 0;

	if (__atomic_compare_exchange_n(&snap->broken, &was, why, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
	    (was == SNAP_BROKEN_READ && why != SNAP_BROKEN_READ &&
	     __atomic_compare_exchange_n(&snap->broken, &was, why, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)))
		snap->broken_at = at;
}

/* Read the pages [start, end) of region v into their copies' places and
 * mark them copied; a page that cannot be read (unmapped since) breaks the
 * snapshot. */
static void copy_aside(const struct ckpt_vma *v, uint64_t start, uint64_t end)
{
	uint64_t i = snap->vma_base[v - ckpt_scratch.vmas] + (start - v->start) / CKPT_PAGE_SIZE;
	uint8_t *to = snap->side + i * CKPT_PAGE_SIZE;
	long r = sys_pread(snap->mem, to, end - start, (int64_t)start);

	if ((uint64_t)r != end - start) {
		mark_broken(SNAP_BROKEN_READ, start);
		memset(to, 0, end - start);
	}
	for (uint64_t n = (end - start) / CKPT_PAGE_SIZE; n--; i++) {
		__atomic_store_n(&snap->state[i], PAGE_COPIED, __ATOMIC_RELEASE);
		snap->copied++;
	}
}

/* The program wrote the page at addr: copy aside the untouched pages of its
 * block (within the region and outside the scratch), then lift the block's
 * protection, which also wakes the writing thread.  Each fault costs a round
 * trip through this thread (50-150 us here, far more than the copy of a few
 * pages), so a program that writes on where the last block ended gets a
 * block twice as large each time, up to BLOCK_MAX_PAGES (as readahead grows
 * its window); elsewhere the block is BLOCK_PAGES again. */
static void on_write_fault(uint64_t addr)
{
	uint64_t block = snap->block;
	int32_t vi = region_of(addr);
	const struct ckpt_vma *v;
	uint64_t start, end, base, run = 0;	/* run: the first of the pages claimed so far, 0: none */

	if (vi < 0) {
		lift(addr & ~(uint64_t)(CKPT_PAGE_SIZE - 1), CKPT_PAGE_SIZE, addr);
		return;
	}
	v = &ckpt_scratch.vmas[vi];
	base = snap->vma_base[vi];
	if (!(addr >= snap->block_end && addr < snap->block_end + block))	/* not on from the last */
		block = BLOCK_PAGES * CKPT_PAGE_SIZE;
	else if (block < BLOCK_MAX_PAGES * CKPT_PAGE_SIZE)
		block *= 2;
	snap->block = block;
	start = addr & ~(block - 1);
	end = start + block;
	if (start < v->start)
		start = v->start;
	if (end > v->end)
		end = v->end;
	if (start < snap->hole_end && end > snap->hole_start) {	/* just the page */
		start = addr & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
		end = start + CKPT_PAGE_SIZE;
	}
	snap->block_end = end;
	for (uint64_t a = start; base != ~0ull && a <= end; a += CKPT_PAGE_SIZE) {
		uint8_t s = PAGE_UNTOUCHED;

		if (a < end && __atomic_compare_exchange_n(&snap->state[base + (a - v->start) / CKPT_PAGE_SIZE], &s,
							   PAGE_COPYING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			if (!run)
				run = a;
			continue;
		}
		if (run)
			copy_aside(v, run, a);
		run = 0;
	}
	snap->faults++;
	lift(start, end - start, addr);
}

/* Every message waiting. */
static void drain(void)
{
	struct uffd_msg_raw m[32];
	long r;

	while ((r = sys_read(snap->uffd, m, sizeof(m))) > 0) {
		for (long i = 0; i < r / (long)sizeof(m[0]); i++) {
			switch (m[i].event) {
			case UFFD_EVENT_PAGEFAULT:
				if (m[i].a & UFFD_PAGEFAULT_FLAG_WP)
					on_write_fault(m[i].b);
				break;
			case UFFD_EVENT_REMOVE:
				mark_broken(SNAP_BROKEN_REMOVE, m[i].a);
				break;
			case UFFD_EVENT_UNMAP:
				mark_broken(SNAP_BROKEN_UNMAP, m[i].a);
				break;
			case UFFD_EVENT_REMAP:
				mark_broken(SNAP_BROKEN_REMAP, m[i].a);
				break;
			}
		}
	}
}

/* The protection is shared out.  Write-protecting a page table entry costs
 * what forking it does (about 40 ns here), so a GiB of data takes about 10 ms
 * from one thread: the pausing thread and the fault handler, which has
 * nothing to handle until the pause ends, each take shares from one list
 * until none is left (each protection holds the address space's lock for
 * reading only, and two ranges' page tables are their own).  The shares are
 * a sixteenth of the whole, 8 MiB at least: each protection ends in a TLB
 * flush that interrupts the other CPU, which costs more than it saves on
 * smaller ones (at 1 GiB, shares of 8 MiB took 6-10 ms, of 64 MiB 5.4-7.8).
 * A busy machine that leaves the handler no CPU costs nothing: the pausing
 * thread then takes every share. */
#define PROTECT_SHARE_MIN	(8u << 20)
#define PROTECT_SHARES		16u

static void add_share(uint64_t start, uint64_t end)
{
	while (start < end) {
		uint64_t to = end - start > snap->share_len ? start + snap->share_len : end;

		snap->shares[snap->nshares][0] = start;
		snap->shares[snap->nshares++][1] = to;
		start = to;
	}
}

/* [from, to) of registered region v, less libckpt's scratch */
static void share_range(const struct ckpt_vma *v, uint64_t from, uint64_t to)
{
	uint64_t p[2][2];

	for (int n = pieces(v, p), k = 0; k < n; k++) {
		uint64_t start = from > p[k][0] ? from : p[k][0], end = to < p[k][1] ? to : p[k][1];

		if (start < end)
			add_share(start, end);
	}
}

/* Most shares the list can hold: two pieces of each run at most, and one more
 * for each PROTECT_SHARE_MIN of the pages. */
static uint64_t shares_at_most(const struct cap_walk *w, uint64_t npages)
{
	return 2ull * w->nruns + npages / (PROTECT_SHARE_MIN / CKPT_PAGE_SIZE) + 1;
}

/* List the pages the image takes from the registered regions: its runs
 * with data, each joined to the next of its region when at most JOIN_GAP
 * lies between them (one call for both costs less than two).  The rest of a
 * region holds nothing the image takes (pages never written, the shared
 * zero page): the writer never reads them, so the program may write them
 * unhindered.  A sparse process (a GiB of the zero page, a few MiB of data)
 * pays for its data, not for its address space. */
#define JOIN_GAP	(64u * CKPT_PAGE_SIZE)

static void list_protection(const struct cap_walk *w)
{
	uint64_t from = 0, to = 0, data = 0;
	int64_t in = -1;			/* the region of [from, to), -1: none yet */

	for (uint32_t k = 0; k < w->nruns; k++)
		if (ckpt_scratch.runs[k].data_off != IMG_NO_DATA)
			data += ckpt_scratch.runs[k].npages * CKPT_PAGE_SIZE;
	snap->share_len = data / PROTECT_SHARES > PROTECT_SHARE_MIN ?
			  (data / PROTECT_SHARES + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1) : PROTECT_SHARE_MIN;
	snap->nshares = snap->ngaps = 0;
	for (uint32_t k = 0; k < w->nruns; k++) {
		const struct ckpt_run *run = &ckpt_scratch.runs[k];
		const struct ckpt_vma *v = &ckpt_scratch.vmas[run->vma];
		uint64_t end = run->addr + run->npages * CKPT_PAGE_SIZE;

		if (run->data_off == IMG_NO_DATA || !covered(v) || !protected_region(v))
			continue;
		if (in == (int64_t)run->vma && run->addr >= to && run->addr - to <= JOIN_GAP) {
			if (run->addr > to) {	/* protected, but never written: lifted at the end */
				snap->gaps[snap->ngaps][0] = to;
				snap->gaps[snap->ngaps++][1] = run->addr;
			}
			to = end;
			continue;
		}
		if (in >= 0)
			share_range(&ckpt_scratch.vmas[in], from, to);
		in = run->vma;
		from = run->addr;
		to = end;
	}
	if (in >= 0)
		share_range(&ckpt_scratch.vmas[in], from, to);
}

/* Take shares until none is left; after a failure the rest are not taken. */
static void protect_shares(void)
{
	uint32_t i;

	while ((i = __atomic_fetch_add(&snap->next_share, 1, __ATOMIC_SEQ_CST)) < snap->nshares) {
		long r = protect(snap->shares[i][0], snap->shares[i][1] - snap->shares[i][0], 1);

		if (sys_failed(r)) {
			int32_t none = 0;

			__atomic_compare_exchange_n(&snap->protect_err, &none, (int32_t)r, 0, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			__atomic_store_n(&snap->next_share, snap->nshares, __ATOMIC_SEQ_CST);
		}
	}
}

/* The handler's part, as it starts.  It says it is sharing before it takes
 * a share, so the pausing thread, once it found none left, sees it busy
 * with any it took. */
static void help_protect(void)
{
	__atomic_store_n(&snap->sharing, 1, __ATOMIC_SEQ_CST);
	protect_shares();
	__atomic_store_n(&snap->sharing, 0, __ATOMIC_SEQ_CST);
	SC3(__NR_futex, &snap->sharing, 129 /* FUTEX_WAKE_PRIVATE */, 1);
}

/* The pausing thread's part: 0 once every share is protected, or -errno. */
static long protect_listed(void)
{
	protect_shares();
	while (__atomic_load_n(&snap->sharing, __ATOMIC_SEQ_CST))
		SC4(__NR_futex, &snap->sharing, 128 /* FUTEX_WAIT_PRIVATE */, 1, 0);
	return __atomic_load_n(&snap->protect_err, __ATOMIC_SEQ_CST);
}

/* The handler: waits on the userfaultfd and on the writer's word to stop,
 * then drains what is left and exits.  It writes only libckpt's scratch and
 * its own mapping. */
static void handler(void *arg)
{
	struct { int32_t fd; int16_t events, revents; } pf[2] = {
		{ snap->uffd, 1 /* POLLIN */, 0 }, { snap->wake, 1, 0 },
	};

	(void)arg;
	help_protect();
	for (;;) {
		pf[0].revents = pf[1].revents = 0;
		if (SC3(__NR_poll, pf, 2, -1) < 0)
			continue;
		drain();
		if (pf[1].revents)
			break;
	}
	drain();
	SC1(__NR_exit, 0);
}

/* the state of no snapshot: nothing held, no descriptor */
static void no_snapshot(void)
{
	memset(snap, 0, sizeof(*snap));
	snap->uffd = snap->wake = snap->mem = -1;
}

static void undo(void)
{
	if (snap->uffd >= 0)
		sys_close(snap->uffd);	/* unregisters every range it holds */
	if (snap->wake >= 0)
		sys_close(snap->wake);
	if (snap->mem >= 0)
		sys_close(snap->mem);
	cap_snap_forget();
}

static int fail(const char **why, const char *what, long err)
{
	*why = what;
	undo();
	return (int)err;
}

/* Open a userfaultfd that also waits on faults taken in the kernel: 0, or
 * -errno (EPERM for an ordinary user while vm.unprivileged_userfaultfd=0). */
static int open_uffd(void)
{
	struct { uint64_t api, features, ioctls; } api = {
		UFFD_API, UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP, 0
	};
	long fd = SC1(__NR_userfaultfd, O_CLOEXEC | 04000 /* O_NONBLOCK */);

	if (sys_failed(fd))
		return (int)fd;
	if (sys_failed(sys_ioctl((int)fd, UFFDIO_API, &api))) {
		sys_close((int)fd);
		return -95;
	}
	return (int)fd;
}

int cap_snap_possible(void)
{
	int fd = open_uffd();

	if (fd < 0)
		return fd;
	sys_close(fd);
	return 0;
}

/* In the pause: scan which pages the image holds, copy aside what cannot be
 * protected, protect the rest, start the handler.  The writer may start once
 * this returns 0; on an error nothing is left protected and *why says what
 * failed. */
int cap_snap_begin(struct cap_walk *w, const char **why)
{
	uint64_t npages = 0, tables, shares_at, side_at, off;
	struct ksys_stack alt;
	long r;
	int err;

	no_snapshot();
	pause_writes[0] = (uint64_t)__builtin_frame_address(0);
	pause_writes[1] = sys_failed(sys_sigaltstack(0, &alt)) ? 0 : alt.ss_sp;
	pause_writes[2] = (uint64_t)&cap_snap_abandoned;
	if ((err = cap_scan_pages(w))) {	/* every page present: the snapshot's */
		*why = "page scan";
		return err;
	}
	w->scanned = 1;
	for (uint32_t i = 0; i < w->nvmas; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];

		if (covered(v))
			npages += (v->end - v->start) / CKPT_PAGE_SIZE;
	}
	if (npages > (1ull << 32))		/* 16 TiB of copies' address space */
		return fail(why, "address space too large", -27);
	tables = ((uint64_t)w->nvmas * 8 + npages + 15) & ~15ull;
	shares_at = tables;
	tables = (tables + (shares_at_most(w, npages) + w->nruns) * 16 + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	side_at = HANDLER_STACK + tables;
	snap->area_len = side_at + npages * CKPT_PAGE_SIZE;
	r = sys_mmap(0, snap->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sys_failed(r))
		return fail(why, "mmap of the copies' area", r);
	snap->area = (uint64_t)r;
	snap->vma_base = (uint64_t *)(snap->area + HANDLER_STACK);
	snap->state = (uint8_t *)(snap->vma_base + w->nvmas);
	snap->side = (uint8_t *)(snap->area + side_at);
	snap->shares = (uint64_t (*)[2])(snap->area + HANDLER_STACK + shares_at);
	snap->gaps = snap->shares + shares_at_most(w, npages);
	snap->nvmas = w->nvmas;
	snap->block = BLOCK_PAGES * CKPT_PAGE_SIZE;
	snap->hole_start = (uint64_t)&ckpt_scratch;
	snap->hole_end = snap->hole_start + sizeof(ckpt_scratch);
	off = 0;
	for (uint32_t i = 0; i < w->nvmas; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];

		snap->vma_base[i] = covered(v) ? off : ~0ull;
		if (covered(v))
			off += (v->end - v->start) / CKPT_PAGE_SIZE;
	}
	if ((r = open_uffd()) < 0)
		return fail(why, "userfaultfd", r);
	snap->uffd = (int)r;
	if (sys_failed(r = sys_eventfd2(0, O_CLOEXEC | 04000)))
		return fail(why, "eventfd", r);
	snap->wake = (int)r;
	if (sys_failed(r = sys_open("/proc/self/mem", O_RDONLY | O_CLOEXEC, 0)))
		return fail(why, "open /proc/self/mem", r);
	snap->mem = (int)r;
	/* what cannot be protected is copied aside now */
	for (uint32_t k = 0; k < w->nruns; k++) {
		const struct ckpt_run *run = &ckpt_scratch.runs[k];
		const struct ckpt_vma *v = &ckpt_scratch.vmas[run->vma];
		uint64_t i = snap->vma_base[run->vma] + (run->addr - v->start) / CKPT_PAGE_SIZE;
		uint64_t len = run->npages * CKPT_PAGE_SIZE;

		if (run->data_off == IMG_NO_DATA || !covered(v) || protected_region(v))
			continue;
		for (uint64_t done = 0; done < len; ) {
			r = sys_pread(snap->mem, snap->side + i * CKPT_PAGE_SIZE + done, len - done,
				      (int64_t)(run->addr + done));
			if (r <= 0)		/* EIO: past a deleted file's end: zeros */
				r = CKPT_PAGE_SIZE;
			done += ((uint64_t)r + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
		}
		memset(snap->state + i, PAGE_COPIED, run->npages);
		snap->precopied += run->npages;
	}
	for (uint32_t i = 0; i < w->nvmas; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		uint64_t p[2][2];

		if (!covered(v) || !registered(v))
			continue;
		for (int n = pieces(v, p), k = 0; k < n; k++) {
			struct { uint64_t start, len, mode, ioctls; } reg = { p[k][0], p[k][1] - p[k][0], UFFDIO_REGISTER_MODE_WP, 0 };

			if (sys_failed(r = sys_ioctl(snap->uffd, UFFDIO_REGISTER, &reg)))	/* EBUSY: another */
				return fail(why, "register with userfaultfd", r);			/* userfaultfd has it */
		}
	}
	list_protection(w);
	r = cap_spawn_helper(snap->area, HANDLER_STACK, &snap->handler_tid, handler, 0);
	if (sys_failed(r))
		return fail(why, "start the fault handler", r);
	snap->active = 1;
	if ((r = protect_listed())) {
		cap_snap_end(0);
		*why = "write-protect";
		return (int)r;
	}
	return 0;
}

/* The writer read the pages [addr, addr + n) of region vi into buf: keep
 * each page read while it was untouched, take the copy of any other. */
void cap_snap_claim(uint32_t vi, uint64_t addr, uint8_t *buf, uint64_t n)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t base = snap->vma_base[vi];

	for (uint64_t off = 0; off < n; off += CKPT_PAGE_SIZE) {
		uint64_t i = base + (addr + off - v->start) / CKPT_PAGE_SIZE;
		uint8_t s = PAGE_UNTOUCHED;

		if (__atomic_compare_exchange_n(&snap->state[i], &s, PAGE_READ, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		while ((s = __atomic_load_n(&snap->state[i], __ATOMIC_ACQUIRE)) == PAGE_COPYING)
			SC0(__NR_sched_yield);
		if (s == PAGE_COPIED)
			memcpy(buf + off, snap->side + i * CKPT_PAGE_SIZE, CKPT_PAGE_SIZE);
	}
}

/* The writer found the page at addr gone: protected memory is unmapped only
 * by the program (its event may still be on its way to the handler). */
void cap_snap_gone(uint32_t vi, uint64_t addr)
{
	if (registered(&ckpt_scratch.vmas[vi]))
		mark_broken(SNAP_BROKEN_READ, addr);
}

/* Those pages are in the file: the program may write them without a fault. */
void cap_snap_written(uint32_t vi, uint64_t addr, uint64_t n)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t end = addr + n;

	if (!registered(v))
		return;
	if (addr < snap->hole_end && end > snap->hole_start) {
		if (addr < snap->hole_start)
			protect(addr, snap->hole_start - addr, 0);
		if (end > snap->hole_end)
			protect(snap->hole_end, end - snap->hole_end, 0);
		return;
	}
	protect(addr, n, 0);
}

static const char *const broken_what[] = {
	[SNAP_BROKEN_READ] = "a page could not be read",
	[SNAP_BROKEN_REMOVE] = "the program dropped pages (MADV_DONTNEED or MADV_REMOVE)",
	[SNAP_BROKEN_UNMAP] = "the program unmapped memory",
	[SNAP_BROKEN_REMAP] = "the program moved memory (mremap)",
};

/* Every page protected that the writer did not write (gaps between runs
 * protected as one) is lifted: 0, or -errno. */
static long lift_gaps(void)
{
	long r = 0;

	for (uint32_t i = 0; i < snap->ngaps && !r; i++)
		r = protect(snap->gaps[i][0], snap->gaps[i][1] - snap->gaps[i][0], 0);
	return sys_failed(r) ? r : 0;
}

/* The pages are out (or the image failed): stop the handler, drop the
 * protection.  0, or -EAGAIN when the snapshot did not hold (said, naming
 * path).  Closing the userfaultfd makes the kernel walk every page table
 * entry of the registered regions (about 7 ms for a GiB of the zero page
 * here) and unmapping the copies frees them: after an image whose pages are
 * all out (path set), once nothing is left protected, both are put off
 * until it is in place; the writer's cap_snap_end(0) then does them.
 * Nothing to do when no snapshot runs. */
int cap_snap_end(const char *path)
{
	uint64_t one = 1;
	int why;

	if (!snap->active) {
		if (snap->area)
			undo();		/* put off until the image was in place */
		return 0;
	}
	sys_write(snap->wake, &one, sizeof(one));
	cap_join_helper(&snap->handler_tid, 1);
	why = snap->broken;
	if (path && why)
		cap_say("%s: checkpoint abandoned: %s at 0x%lx while the uffd snapshot was written (%s)", path,
			broken_what[why], snap->broken_at,
			ckpt_cfg.snapshot ? "CKPT_SNAPSHOT=fork does not mind" : "it is taken again, by a fork");
	else if (path && cap_env("CKPT_VERBOSE"))
		cap_say("%s: uffd snapshot: %lu write faults, %lu pages copied aside, %lu copied in the pause",
			path, snap->faults, snap->copied, snap->precopied);
	snap->active = 0;
	if (!path || why || lift_gaps())
		undo();
	if (why)
		cap_snap_abandoned = 1;
	return why ? -11 : 0;
}

/* The thread that began it, once the writer is started (it waits for
 * cap_snap_go): its own copies of the descriptors go, the handler and the
 * writer have theirs (libckpt's helpers have descriptor tables of their own). */
void cap_snap_forget_fds(void)
{
	sys_close(snap->uffd);
	sys_close(snap->wake);
	sys_close(snap->mem);
}

/* The area unmapped, nothing else held: undo's last step once the
 * descriptors are closed, and all there is to do in the child of the
 * program's fork() while a snapshot is written (the handler and the writer
 * are threads of the parent, the descriptors were closed before the fork,
 * and the copies are the parent's business): the child's copy of the area
 * goes, and its next checkpoint starts afresh (it waited for a handler that
 * is not there). */
void cap_snap_forget(void)
{
	if (snap->area)
		sys_munmap(snap->area, snap->area_len);
	no_snapshot();
}

void cap_snap_go(void)
{
	__atomic_store_n(&snap->go, 1, __ATOMIC_RELEASE);
	SC3(__NR_futex, &snap->go, 129 /* FUTEX_WAKE_PRIVATE */, 1);
}

void cap_snap_wait_go(void)
{
	while (!__atomic_load_n(&snap->go, __ATOMIC_ACQUIRE))
		SC4(__NR_futex, &snap->go, 128 /* FUTEX_WAIT_PRIVATE */, 0, 0);
}
