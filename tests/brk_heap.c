/* brk_heap.c -- the brk heap keeps growing where it was after restore.
 *
 * Simulates a long-running program whose malloc lives on the brk heap: it grew
 * the heap with sbrk (256 KiB, filled with a pattern) and with malloc (small
 * blocks, M_MMAP_THRESHOLD raised so that none comes from mmap).  After restore
 * (as root and as an ordinary user: PR_SET_MM_MAP needs no privilege for brk):
 * sbrk(0) is the saved brk; the [heap] line in /proc/self/maps still ends there;
 * the old heap bytes are intact; sbrk(1 MiB) returns the saved brk and moves the
 * break by 1 MiB, the [heap] line grows with it and the new bytes are writable;
 * then 4 MiB more of small malloc blocks land inside [heap], which has grown again.
 */
#include "lib.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SBRK_LEN	(256 * 1024)
#define GROW		(1024 * 1024)
#define NSMALL		4096		/* blocks of 1 KiB */

/* the [heap] line of /proc/self/maps: 1 found */
static int heap_line(uintptr_t *start, uintptr_t *end)
{
	static char maps[1 << 18];
	char *p;

	if (t_read_file("/proc/self/maps", maps, sizeof maps) < 0)
		return 0;
	p = strstr(maps, "[heap]");
	if (!p)
		return 0;
	while (p > maps && p[-1] != '\n')
		p--;
	return sscanf(p, "%lx-%lx", start, end) == 2;
}

static int subject(void)
{
	uintptr_t hs0 = 0, he0 = 0, hs, he, hs2, he2, page = 4096;
	char *area, *brk0, *brk1, *grown, *m, *lo = NULL, *hi = NULL;
	int inside = 0;

	mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 0);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	for (int i = 0; i < 64; i++)		/* some heap made by malloc */
		if (!malloc(1000))
			t_fatal("malloc");
	area = sbrk(SBRK_LEN);
	if (area == (void *)-1)
		t_fatal("sbrk: %s", strerror(errno));
	t_fill(area, SBRK_LEN, 0xb7c0);
	brk0 = sbrk(0);
	if (!heap_line(&hs0, &he0))
		t_fatal("no [heap] line in /proc/self/maps");

	t_wait();
	brk1 = sbrk(0);
	if (t_break())
		brk1 += page;
	t_eq64("sbrk(0) is the saved brk", (uintptr_t)brk1, (uintptr_t)brk0);
	hs = he = 0;
	heap_line(&hs, &he);
	t_ok(hs == hs0 && he == he0, "[heap] is 0x%lx-0x%lx (was 0x%lx-0x%lx)",
	     (unsigned long)hs, (unsigned long)he, (unsigned long)hs0, (unsigned long)he0);
	t_check_fill("the sbrk area's bytes are intact", area, SBRK_LEN, 0xb7c0);

	grown = sbrk(GROW);
	t_ok(grown == brk0, "sbrk(1 MiB) returns the saved brk %p (got %p%s%s)", (void *)brk0,
	     (void *)grown, grown == (void *)-1 ? ": " : "",
	     grown == (void *)-1 ? strerror(errno) : "");
	t_eq64("the break moved by 1 MiB", (uintptr_t)sbrk(0), (uintptr_t)brk0 + GROW);
	hs2 = he2 = 0;
	heap_line(&hs2, &he2);
	t_ok(hs2 == hs0 && he2 >= (((uintptr_t)brk0 + GROW + page - 1) & ~(page - 1)),
	     "[heap] grew to 0x%lx-0x%lx, covering the new break 0x%lx", (unsigned long)hs2,
	     (unsigned long)he2, (unsigned long)brk0 + GROW);
	if (grown != (void *)-1) {
		memset(grown, 0x5a, GROW);
		t_ok(grown[0] == 0x5a && grown[GROW - 1] == 0x5a, "the new 1 MiB is writable");
	}

	for (int i = 0; i < NSMALL; i++) {
		m = malloc(1024);
		if (!m)
			break;
		m[0] = 1;
		if (!lo || m < lo)
			lo = m;
		if (!hi || m > hi)
			hi = m;
	}
	hs = he = 0;
	heap_line(&hs, &he);
	inside = lo && (uintptr_t)lo >= hs && (uintptr_t)hi + 1024 <= he;
	t_ok(inside, "4 MiB of 1 KiB malloc blocks (%p..%p) all inside [heap] 0x%lx-0x%lx",
	     (void *)lo, (void *)hi, (unsigned long)hs, (unsigned long)he);
	t_ok(he >= he2 + (uintptr_t)NSMALL * 1024 - GROW,
	     "[heap] grew with malloc to end 0x%lx (was 0x%lx)", (unsigned long)he,
	     (unsigned long)he2);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
