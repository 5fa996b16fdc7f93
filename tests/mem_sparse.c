/* mem_sparse.c -- a huge, mostly untouched mapping costs nothing in the image.
 *
 * Simulates a program that reserved 1 GiB of anonymous memory (an arena, a hash
 * table), wrote a few pages and read all of it once, so every page is mapped to
 * the zero page.  The image must store only the written pages (its size is checked
 * by the parent: < 64 MiB); after restore the written pages hold their patterns
 * and every other byte of the GiB reads zero.
 */
#include "lib.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PG	4096ul
#define SIZE	(1ul << 30)
#define MAX_IMAGE (64ul << 20)

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
	for (off = 0; off < SIZE; off += PG)		/* read it all once */
		sum += *(volatile uint64_t *)(m + off);
	(void)sum;

	t_wait();
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
	return t_result();
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
	return 0;
}

int main(void)
{
	struct t_opts o = { .after_ckpt = image_size };

	return t_main(subject, &o);
}
