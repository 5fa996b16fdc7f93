/* mem_scattered.c -- thousands of written pages scattered over a big mapping.
 *
 * Simulates a program whose writes land all over a 1 GiB arena (a hash table):
 * 3000 single pages, 97 pages apart, with the rest only read.  The page scan
 * then answers in several PAGEMAP_SCAN calls, and this kernel can end one call
 * with walk_end below the last region it returned (the next call repeats some
 * pages): the image must still list each page once, in order, and restore.
 * After restore every written page holds its pattern and a sample of the pages
 * between them reads zero.
 */
#include "lib.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PG	4096ul
#define SIZE	(1ul << 30)
#define NPAGES	3000ul
#define STRIDE	97ul

static int subject(void)
{
	unsigned char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t sum = 0;
	size_t bad = 0, zero_bad = 0;

	if (m == MAP_FAILED)
		t_fatal("mmap 1 GiB");
	for (size_t off = 0; off < SIZE; off += PG)	/* read it all: the zero page */
		sum += *(volatile uint64_t *)(m + off);
	(void)sum;
	for (size_t i = 0; i < NPAGES; i++)
		t_fill(m + (i * STRIDE % (SIZE / PG)) * PG, 64, 5000 + i);

	t_wait();
	if (t_break())
		m[(7 * STRIDE) * PG + 3] ^= 0xff;

	for (size_t i = 0; i < NPAGES; i++) {
		unsigned char want[64];

		t_fill(want, 64, 5000 + i);
		if (memcmp(m + (i * STRIDE % (SIZE / PG)) * PG, want, 64))
			bad++;
	}
	t_ok(bad == 0, "%zu scattered written pages hold their patterns (%zu differ)", NPAGES, bad);
	for (size_t i = 0; i < NPAGES; i++) {		/* the page after each written one */
		const uint64_t *w = (const uint64_t *)(m + ((i * STRIDE + 1) % (SIZE / PG)) * PG);

		for (size_t k = 0; k < PG / 8; k++)
			if (w[k])
				zero_bad++;
	}
	t_ok(zero_bad == 0, "the pages between them read zero (%zu nonzero words)", zero_bad);
	return t_result();
}

int main(void)
{
	return t_main(subject, 0);
}
