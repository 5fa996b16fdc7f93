/* maps.c -- the address space after restore is the one before, line for line.
 *
 * Simulates any program: /proc/self/maps read just before the checkpoint must be
 * identical to /proc/self/maps read after restore (addresses, permissions, offset,
 * device, inode, path, [heap]/[stack]/[vdso]/[vvar] names, anon names).  Nothing
 * of the restorer may be left, nothing may move.  No difference is tolerated: one
 * that is legitimate belongs in a report, not a mask.
 */
#include "lib.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif

static char before[1 << 18], after[1 << 18];

static int subject(void)
{
	long n;
	char *named;

	/* A named anonymous mapping too, so its name is part of the text.  Without
	 * CONFIG_ANON_VMA_NAME it stays unnamed; made here, in a forked child, beside
	 * a vma inherited through fork, it is still its own line (the kernel does not
	 * merge into a vma whose anon_vma chain came from fork).  A restore has no
	 * fork, so the restorer must keep such twins apart itself. */
	named = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (named != MAP_FAILED) {
		named[0] = 1;
		prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, named, 8192, "ckpt-test-named");
	}
	memset(after, 0, sizeof after);	/* fault its pages in now, not after */
	if (t_read_file("/proc/self/maps", before, sizeof before) < 0)
		t_fatal("read /proc/self/maps");

	t_wait();
	n = t_read_file("/proc/self/maps", after, sizeof after);
	if (t_break())
		after[0] ^= 1;

	t_ok(n > 0, "read /proc/self/maps after restore");
	t_ok(!t_maps_diff(before, after), "/proc/self/maps identical to before the checkpoint");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
