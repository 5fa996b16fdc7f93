/* mem_sparse.c -- a huge, mostly untouched mapping costs nothing in the image.
 *
 * Simulates a program that reserved 1 GiB of anonymous memory (an arena, a hash
 * table), wrote a few pages and read all of it once, so every page is mapped to
 * the zero page -- or, on a kernel without the shared zero page (booted with
 * pvm_no_zero_page=1), is a zeroed page of its own, which the writer must find
 * all zero and leave out.  The image must store only the written pages (its
 * size is checked by the parent: < 64 MiB); after restore the written pages
 * hold their patterns and every other byte of the GiB reads zero.
 *
 * Beside it, a program that cleared what it wrote: a 64-page region filled
 * with data, then zeroed except page ZKEEP.  The image must store only that
 * page of it (read from the image by the parent), and after restore the region
 * reads zero but for that page.
 */
#include "lib.h"
#include "ckpt_image.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PG	4096ul
#define SIZE	(1ul << 30)
#define MAX_IMAGE (64ul << 20)
#define ZPAGES	64
#define ZKEEP	10

static unsigned char *zeroed;		/* mapped before the fork: the parent knows where */

static const size_t written[] = { 0, 1, 77777, SIZE / PG / 2, SIZE / PG - 1 };
#define NW (sizeof written / sizeof written[0])

static int is_written(size_t page)
{
	for (size_t i = 0; i < NW; i++)
		if (written[i] == page)
			return 1;
	return 0;
}

static int subject(void)
{
	unsigned char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t sum = 0;
	char name[80];
	size_t pg, off;

	if (m == MAP_FAILED)
		t_fatal("mmap 1 GiB");
	for (size_t i = 0; i < NW; i++)
		t_fill(m + written[i] * PG, PG, 1000 + i);
	/* read it all once: MADV_POPULATE_READ faults it all in one call (page by
	 * page, a GiB of allocating faults takes 15 s on a kernel without the
	 * zero page); before Linux 5.14, one load per page */
	if (madvise(m, SIZE, 22 /* MADV_POPULATE_READ */))
		for (off = 0; off < SIZE; off += PG)
			sum += *(volatile uint64_t *)(m + off);
	(void)sum;
	t_fill(zeroed, ZPAGES * PG, 77);
	memset(zeroed, 0, ZKEEP * PG);
	memset(zeroed + (ZKEEP + 1) * PG, 0, (ZPAGES - ZKEEP - 1) * PG);

	if (t_wait())			/* restored: fault the GiB in at once (see above) */
		madvise(m, SIZE, 22);
	if (t_break())
		m[123 * PG + 5] = 1;

	for (size_t i = 0; i < NW; i++) {
		snprintf(name, sizeof name, "written page %zu of the GiB", written[i]);
		t_check_fill(name, m + written[i] * PG, PG, 1000 + i);
	}
	for (pg = 0; pg < SIZE / PG; pg++) {
		const uint64_t *w = (const uint64_t *)(m + pg * PG);

		if (is_written(pg))
			continue;
		for (off = 0; off < PG / 8 && !w[off]; off++)
			;
		if (off < PG / 8)
			break;
	}
	if (pg < SIZE / PG)
		t_ok(0, "the rest of the GiB reads zero (page %zu: 0x%llx at +0x%zx)", pg,
		     (unsigned long long)((uint64_t *)(m + pg * PG))[off], off * 8);
	else
		t_ok(1, "the rest of the GiB reads zero");
	t_check_fill("the page kept in the zeroed region", zeroed + ZKEEP * PG, PG, 77 + ZKEEP * PG / 8);
	for (off = 0; off < ZPAGES * PG && (!zeroed[off] || off / PG == ZKEEP); off++)
		;
	t_ok(off == ZPAGES * PG, "the pages written with zeros read zero (zero up to +0x%zx of 0x%lx)", off,
	     ZPAGES * PG);
	return t_result();
}

/* the zeroed region's pages stored in the image: only ZKEEP's, as data */
static int zeroed_stored(const char *image, int gen)
{
	uint64_t lo = (uint64_t)zeroed, hi = lo + ZPAGES * PG, stored = 0, first = 0;
	struct ckpt_hdr h;
	struct ckpt_run r;
	int fd = open(image, O_RDONLY), bad = 0;

	if (fd < 0 || pread(fd, &h, sizeof h, 0) != sizeof h) {
		t_printf("not ok - read the header of %s", image);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	for (uint32_t i = 0; i < h.nruns && !bad; i++) {
		uint64_t s, e;

		if (pread(fd, &r, sizeof r, (off_t)(h.runs_off + i * sizeof r)) != sizeof r)
			bad = 1;
		s = r.addr > lo ? r.addr : lo;
		e = r.addr + r.npages * PG < hi ? r.addr + r.npages * PG : hi;
		if (bad || !r.data_off || e <= s)
			continue;
		if (!stored)
			first = s;
		stored += (e - s) / PG;
	}
	close(fd);
	if (bad || stored != 1 || first != lo + ZKEEP * PG) {
		t_printf("not ok - image of generation %d stores %lu pages of the zeroed region, the first at +0x%lx "
			 "(want 1, the kept page at +0x%lx)%s", gen, (unsigned long)stored, (unsigned long)(first - lo),
			 ZKEEP * PG, bad ? ": runs unreadable" : "");
		return 1;
	}
	t_printf("ok - image of generation %d stores only the kept page of the zeroed region", gen);
	return 0;
}

static int image_size(const char *image, int gen)
{
	struct stat st;

	if (stat(image, &st) < 0) {
		t_printf("not ok - stat %s", image);
		return 1;
	}
	if ((uint64_t)st.st_size >= MAX_IMAGE) {
		t_printf("not ok - image of generation %d is %lld bytes (want < %lu)", gen,
			 (long long)st.st_size, MAX_IMAGE);
		return 1;
	}
	t_printf("ok - image of generation %d is %lld bytes (< %lu)", gen,
		 (long long)st.st_size, MAX_IMAGE);
	return zeroed_stored(image, gen);
}

int main(void)
{
	struct t_opts o = { .after_ckpt = image_size };

	zeroed = mmap(NULL, ZPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (zeroed == MAP_FAILED)
		t_fatal("mmap the zeroed region");
	return t_main(subject, &o);
}
