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
#define UFFD_USER_MODE_ONLY		1
#define UFFD_API			0xaaull
#define UFFD_FEATURE_WP_UNPOPULATED	(1ull << 13)
#define UFFD_FEATURE_WP_ASYNC		(1ull << 15)
#define UFFDIO_API			0xc018aa3ful	/* _IOWR(0xaa, 0x3f, struct uffdio_api) */
#define UFFDIO_REGISTER			0xc020aa00ul	/* _IOWR(0xaa, 0x00, struct uffdio_register) */
#define UFFDIO_WRITEPROTECT		0xc018aa06ul	/* _IOWR(0xaa, 0x06, struct uffdio_writeprotect) */
#define UFFDIO_REGISTER_MODE_WP		2
#define UFFDIO_WRITEPROTECT_MODE_WP	1

struct track_state ckpt_track = { .uffd = -1 };
static int uffd_init(void);

/* ---- the fallback: page hashes ----
 * Where userfaultfd write-protect is not to be had (an older kernel, seccomp,
 * a program using userfaultfd itself) or CKPT_TRACK=hash asks for it, the
 * writer compares a CRC-32C of every present page of each private anonymous
 * region with the one it recorded at the last checkpoint, in a shared store
 * of the library's own (left out of images), and stores what changed.
 * Slower than the kernel's tracking (every page is read at each checkpoint)
 * but needs nothing from the kernel beyond /proc/self/pagemap. */
#define HASH_STORE	(1ull << 30)	/* virtual; pages come as hashes are written */
#define HASH_REGIONS	4096

struct hash_store {
	uint32_t n;
	uint32_t pad;
	uint64_t next;			/* next free byte of hashes */
	struct { uint64_t start, end, off; } r[HASH_REGIONS];
};

static int hash_init(void)
{
	long m = sys_mmap(0, HASH_STORE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (sys_failed(m))
		return (int)m;
	sys_prctl(CKPT_PR_SET_VMA, CKPT_PR_SET_VMA_ANON_NAME, (uint64_t)m, HASH_STORE, (uint64_t)"ckpt page hashes");
	((struct hash_store *)m)->next = (sizeof(struct hash_store) + 4095) & ~4095ull;
	ckpt_track.hash_map = (uint64_t)m;
	ckpt_track.method = TRACK_HASH;
	return 0;
}

/* One region in the writer: with `compare` (an incremental image and the
 * same region hashed last time) only pages whose hash changed are stored,
 * and pages gone since become zero runs; otherwise every page with data is
 * stored and the region is FRESH.  The hashes are recorded either way. */
int cap_scan_hashed(struct cap_walk *w, int pm, uint32_t vi)
{
	struct hash_store *hs = (struct hash_store *)ckpt_track.hash_map;
	struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t npages = (v->end - v->start) / CKPT_PAGE_SIZE, *words = (uint64_t *)ckpt_scratch.iobuf;
	static const uint8_t zeros[CKPT_PAGE_SIZE];
	uint32_t *hash = 0, zero_crc = ckpt_crc32c(0, zeros, sizeof(zeros)) | 1;
	int compare = 0;

	for (uint32_t i = 0; i < hs->n; i++)
		if (hs->r[i].start == v->start && hs->r[i].end == v->end) {
			hash = (uint32_t *)(ckpt_track.hash_map + hs->r[i].off);
			compare = w->incremental;
		}
	if (!hash) {				/* a region new to the store */
		if (hs->n >= HASH_REGIONS || hs->next + npages * 4 > HASH_STORE) {
			w->fail_what = "page-hash store full";
			return -28;		/* ENOSPC: the writer fails, the next image is full */
		}
		hs->r[hs->n].start = v->start;
		hs->r[hs->n].end = v->end;
		hs->r[hs->n].off = hs->next;
		hash = (uint32_t *)(ckpt_track.hash_map + hs->next);
		hs->next += (npages * 4 + 4095) & ~4095ull;
		hs->n++;
	}
	if (!compare && w->incremental)
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
			uint64_t page = a + i * CKPT_PAGE_SIZE, k = (page - v->start) / CKPT_PAGE_SIZE;
			uint32_t h = 0;
			int err = 0;

			if ((words[i] >> 63 & 1) || (words[i] >> 62 & 1)) {
				h = ckpt_crc32c(0, (const void *)page, CKPT_PAGE_SIZE) | 1;
				if (h == zero_crc)
					h = 0;		/* all zeros: nothing to store */
			}
			if (compare && h == hash[k])
				continue;
			if (h)
				err = cap_add_run_as(w, vi, page, page + CKPT_PAGE_SIZE, 0);
			else if (compare && hash[k])
				err = cap_add_run_as(w, vi, page, page + CKPT_PAGE_SIZE, 1);
			hash[k] = h;
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

/* Regions whose writes can be tracked: private anonymous memory. */
int cap_trackable(const struct ckpt_vma *v)
{
	return !(v->flags & CKPT_MAP_SHARED) && (v->prot & PROT_WRITE) &&
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
