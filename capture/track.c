/* track.c -- which pages were written since the last checkpoint.
 *
 * userfaultfd in write-protect mode with UFFD_FEATURE_WP_ASYNC: after a
 * checkpoint every private anonymous region is registered and write-protected;
 * a write to a protected page is resolved by the kernel itself (no fault
 * reaches anyone, no signal, nothing the program can observe), which only
 * clears the page's protection.  At the next checkpoint PAGEMAP_SCAN with
 * PAGE_IS_WRITTEN lists the pages written since, and PM_SCAN_WP_MATCHING
 * protects them again in the same walk.  Regions that appeared since (not
 * registered: no "uw" in VmFlags) and regions userfaultfd cannot protect
 * (file-backed, shared) are stored whole, marked CKPT_MAP_FRESH.
 * An ordinary user gets userfaultfd with UFFD_USER_MODE_ONLY (which is all
 * write-protect needs) when vm.unprivileged_userfaultfd is 0.
 */
#include <stdlib.h>
#include "cap.h"

/* uapi constants newer than Debian 12's 6.1 headers */
#define UFFD_FEATURE_WP_UNPOPULATED	(1ull << 13)
#define UFFD_FEATURE_WP_ASYNC		(1ull << 15)

struct track_state ckpt_track = { .uffd = -1 };
static int uffd_init(void);

/* ---- the fallback: page hashes ----
 * Where userfaultfd write-protect is not to be had (an older kernel, seccomp,
 * a program using userfaultfd itself) or CKPT_TRACK=hash asks for it, the
 * writer compares a CRC-32C of every present page of each private anonymous
 * region with the one recorded when the parent image was written, in a shared
 * store of the library's own (left out of images), and stores what changed.
 * Slower than the kernel's tracking (every page is read at each checkpoint)
 * but needs nothing from the kernel beyond /proc/self/pagemap.
 *
 * The store holds two tables: `base`, the hashes of the last image written
 * whole and linked in (named by its id), and the other, rebuilt by each
 * writer from nothing.  A writer compares only against the base table and
 * only when that table belongs to its parent image; it becomes the base only
 * once its image is in place (cap_track_commit).  So a region unmapped and
 * mapped again, a writer that failed half-way or an image that was never
 * linked can never make a page look unchanged when the chain lacks it. */
#define HASH_STORE	(1ull << 30)	/* virtual; pages come as hashes are written */
#define HASH_HALF	(HASH_STORE / 2)	/* table i's hashes lie in half i */
#define HASH_REGIONS	4096

struct hash_table {
	uint8_t image_id[16];		/* the image these hashes went into */
	uint32_t n;
	uint32_t pad;
	uint64_t next;			/* next free byte of hashes */
	struct { uint64_t start, end, off; } r[HASH_REGIONS];
};

struct hash_store {
	uint32_t base;			/* 0 or 1: the table of the last image linked in */
	uint32_t pad;
	struct hash_table t[2];
};

static uint64_t hash_table_first(uint32_t i)
{
	return i ? HASH_HALF : (sizeof(struct hash_store) + 4095) & ~4095ull;
}

static int hash_init(void)
{
	long m = sys_mmap(0, HASH_STORE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (sys_failed(m))
		return (int)m;
	sys_prctl(CKPT_PR_SET_VMA, CKPT_PR_SET_VMA_ANON_NAME, (uint64_t)m, HASH_STORE, (uint64_t)"ckpt page hashes");
	for (uint32_t i = 0; i < 2; i++)
		((struct hash_store *)m)->t[i].next = hash_table_first(i);
	ckpt_track.hash_map = (uint64_t)m;
	ckpt_track.method = TRACK_HASH;
	return 0;
}

/* In the writer, before the page scan of an image of the chain: the table
 * that is not the base starts empty. */
void cap_hash_begin(void)
{
	struct hash_store *hs = (struct hash_store *)ckpt_track.hash_map;
	struct hash_table *t;

	if (ckpt_track.method != TRACK_HASH)
		return;
	t = &hs->t[!__atomic_load_n(&hs->base, __ATOMIC_ACQUIRE)];
	memset(t->image_id, 0, sizeof(t->image_id));
	t->n = 0;
	t->next = hash_table_first((uint32_t)(t - hs->t));
}

/* In the writer, once the image of the chain is in place: its hashes become
 * the ones the next image compares against. */
void cap_track_commit(const struct cap_walk *w)
{
	struct hash_store *hs = (struct hash_store *)ckpt_track.hash_map;
	uint32_t next;

	if (ckpt_track.method != TRACK_HASH || !w->chain)
		return;
	next = !__atomic_load_n(&hs->base, __ATOMIC_ACQUIRE);
	memcpy(hs->t[next].image_id, w->image_id, sizeof(w->image_id));
	__atomic_store_n(&hs->base, next, __ATOMIC_RELEASE);
}

/* The table of the parent image's scan, or 0 when the base table belongs to
 * another image (or this one is not incremental). */
static const struct hash_table *parent_table(const struct cap_walk *w)
{
	struct hash_store *hs = (struct hash_store *)ckpt_track.hash_map;
	const struct hash_table *t = &hs->t[__atomic_load_n(&hs->base, __ATOMIC_ACQUIRE)];

	if (!w->incremental || memcmp(t->image_id, w->parent_id, sizeof(t->image_id)))
		return 0;
	return t;
}

/* The hash the parent scan recorded for the page at addr, or 0 when no
 * region of that scan held it.  *at is where the search starts: regions are
 * in address order and the pages are asked for in address order. */
static const uint32_t *parent_hash_at(const struct hash_table *t, uint64_t addr, uint32_t *at)
{
	while (*at < t->n && t->r[*at].end <= addr)
		(*at)++;
	if (*at >= t->n || t->r[*at].start > addr)
		return 0;
	return (const uint32_t *)(ckpt_track.hash_map + t->r[*at].off) + (addr - t->r[*at].start) / CKPT_PAGE_SIZE;
}

/* Room in the table being built for this region's hashes, or 0. */
static uint32_t *new_hashes(const struct ckpt_vma *v)
{
	struct hash_store *hs = (struct hash_store *)ckpt_track.hash_map;
	uint32_t i = !__atomic_load_n(&hs->base, __ATOMIC_ACQUIRE);
	struct hash_table *t = &hs->t[i];
	uint64_t bytes = ((v->end - v->start) / CKPT_PAGE_SIZE * 4 + 4095) & ~4095ull;

	if (t->n >= HASH_REGIONS || t->next + bytes > (i ? HASH_STORE : HASH_HALF))
		return 0;
	t->r[t->n].start = v->start;
	t->r[t->n].end = v->end;
	t->r[t->n].off = t->next;
	t->next += bytes;
	return (uint32_t *)(ckpt_track.hash_map + t->r[t->n++].off);
}

/* One region in the writer.  With the parent image's scan at hand, pages
 * are compared by address, whatever regions held them then (regions merge
 * and split between images): a page whose hash changed is stored, one gone
 * since becomes a zero run, and one the parent scan did not see is stored
 * or, all zeros, a zero run, so that nothing an older image had at that
 * address shows through.  Without it every page with data is stored and the
 * region is FRESH.  The hashes are recorded for the next image either way. */
int cap_scan_hashed(struct cap_walk *w, int pm, uint32_t vi)
{
	struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t *words = (uint64_t *)ckpt_scratch.iobuf;
	static const uint8_t zeros[CKPT_PAGE_SIZE];
	uint32_t zero_crc = ckpt_crc32c(0, zeros, sizeof(zeros)) | 1, at = 0;
	const struct hash_table *parent = parent_table(w);
	uint32_t *hash = new_hashes(v);

	if (!hash) {
		w->fail_what = "page-hash store full";
		return -28;			/* ENOSPC: the writer fails, the next image is full */
	}
	if (!parent && w->incremental)
		v->flags |= CKPT_MAP_FRESH;
	for (uint64_t a = v->start; a < v->end; ) {
		uint64_t n = (v->end - a) / CKPT_PAGE_SIZE;
		long r;

		if (n > CAP_IOBUF / 8)
			n = CAP_IOBUF / 8;
		r = sys_pread(pm, words, n * 8, (a / CKPT_PAGE_SIZE) * 8);
		if (sys_failed(r) || r == 0)
			return r ? (int)r : -5;
		n = r / 8;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t page = a + i * CKPT_PAGE_SIZE;
			const uint32_t *old = parent ? parent_hash_at(parent, page, &at) : 0;
			uint32_t h = 0;
			int err = 0;

			if ((words[i] >> 63 & 1) || (words[i] >> 62 & 1)) {
				h = ckpt_crc32c(0, (const void *)page, CKPT_PAGE_SIZE) | 1;
				if (h == zero_crc)
					h = 0;		/* all zeros: nothing to store */
			}
			hash[(page - v->start) / CKPT_PAGE_SIZE] = h;
			if (old && h == *old)
				continue;		/* as the parent image has it */
			if (h)
				err = cap_add_run_as(w, vi, page, page + CKPT_PAGE_SIZE, 0);
			else if (parent)		/* zero now: older data must not show */
				err = cap_add_run_as(w, vi, page, page + CKPT_PAGE_SIZE, 1);
			if (err)
				return err;
		}
		a += n * CKPT_PAGE_SIZE;
	}
	return 0;
}

/* Open the userfaultfd, or fall back to page hashes; 0, or -errno with the
 * method left "none". */
int cap_track_init(void)
{
	const char *want = cap_env("CKPT_TRACK");
	int r;

	ckpt_track.pid = (int32_t)sys_getpid();	/* a child forked from here starts over */
	if (want && !strcmp(want, "hash"))
		return hash_init();
	r = uffd_init();
	if (r) {
		if (!hash_init()) {
			cap_say("incremental images: userfaultfd write-protect not available (errno %d): "
				"comparing page hashes instead", -r);
			return 0;
		}
	}
	return r;
}

/* userfaultfd with write-protect in async mode; 0, or -errno */
static int uffd_init(void)
{
	struct { uint64_t api, features, ioctls; } api = {
		.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	long fd = SC1(__NR_userfaultfd, O_CLOEXEC | 04000);

	if (fd == -1 || fd == -13)		/* EPERM/EACCES: vm.unprivileged_userfaultfd = 0 */
		fd = SC1(__NR_userfaultfd, O_CLOEXEC | 04000 | UFFD_USER_MODE_ONLY);
	if (sys_failed(fd))
		return (int)fd;
	if (sys_failed(sys_ioctl((int)fd, UFFDIO_API, &api))) {
		api.features = UFFD_FEATURE_WP_ASYNC;		/* without unpopulated markers */
		sys_close((int)fd);
		fd = SC1(__NR_userfaultfd, O_CLOEXEC | 04000 | UFFD_USER_MODE_ONLY);
		if (sys_failed(fd) || sys_failed(sys_ioctl((int)fd, UFFDIO_API, &api))) {
			if (!sys_failed(fd))
				sys_close((int)fd);
			return -95;			/* EOPNOTSUPP */
		}
	}
	ckpt_track.uffd = (int)fd;
	ckpt_track.method = TRACK_UFFD;
	return 0;
}

/* Is our userfaultfd still ours?  A program that closes every descriptor it
 * did not open (close_range(3, ~0U)) closes it too, and the number may name
 * another file since.  Then tracking starts over: a full image, a notice. */
void cap_track_check(void)
{
	char link[64], target[64];
	long n;

	if (ckpt_track.uffd < 0)
		return;
	img_fmt(link, sizeof(link), "/proc/self/fd/%d", ckpt_track.uffd);
	n = sys_readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	if (n > 0 && !strcmp(target, "anon_inode:[userfaultfd]"))
		return;
	cap_say("notice: the program closed libckpt's userfaultfd: the next image is full, tracking starts over");
	ckpt_track.uffd = -1;
	ckpt_track.valid = 0;
	cap_track_init();
}

/* In a child forked since the last image (a job's worker): the userfaultfd
 * and the page-hash store are its parent's (a userfaultfd acts on the mm that
 * made it; the store is shared), and so is the chain.  Let go of both, start
 * tracking of its own; its next image is full. */
void cap_track_restart(void)
{
	if (ckpt_track.uffd >= 0)
		sys_close(ckpt_track.uffd);
	if (ckpt_track.hash_map)
		sys_munmap(ckpt_track.hash_map, HASH_STORE);
	memset(&ckpt_track, 0, sizeof(ckpt_track));
	ckpt_track.uffd = -1;
	cap_track_init();
}

/* Regions whose writes can be tracked: private anonymous memory, not
 * registered with the program's userfaultfd (a region takes one). */
int cap_trackable(const struct ckpt_vma *v)
{
	return !(v->flags & (CKPT_MAP_SHARED | CKPT_MAP_UFFD)) && (v->prot & PROT_WRITE) &&
	       (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP || v->kind == CKPT_VMA_STACK);
}

/* After a checkpoint (in the process, after the writer forked): register the
 * regions not tracked yet and protect everything, so the next checkpoint sees
 * only what is written from now on.  Regions already tracked were protected
 * again by the scan itself, unless this was a full image. */
void cap_track_arm(const struct cap_walk *w, int full)
{
	for (uint32_t i = 0; i < w->nvmas && ckpt_track.uffd >= 0; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		struct { uint64_t start, len, mode, ioctls; } reg = { v->start, v->end - v->start, UFFDIO_REGISTER_MODE_WP, 0 };
		struct { uint64_t start, len, mode; } wp = { v->start, v->end - v->start, UFFDIO_WRITEPROTECT_MODE_WP };

		if (!cap_trackable(v))
			continue;
		if (!(v->flags & CKPT_MAP_TRACKED) &&
		    sys_failed(sys_ioctl(ckpt_track.uffd, UFFDIO_REGISTER, &reg)))
			continue;			/* stays untracked: stored whole each time */
		if (full || !(v->flags & CKPT_MAP_TRACKED))
			sys_ioctl(ckpt_track.uffd, UFFDIO_WRITEPROTECT, &wp);
	}
}
