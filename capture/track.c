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

/* Open the userfaultfd; 0, or -errno with the method left "none". */
int cap_track_init(void)
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
	rst_fmt(link, sizeof(link), "/proc/self/fd/%d", ckpt_track.uffd);
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
