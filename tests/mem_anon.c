/* mem_anon.c -- a program with the usual kinds of anonymous memory, checkpointed
 * and restored: every byte and every protection must come back.
 *
 * Simulates: malloc'd buffers (small ones on the brk heap, large ones that glibc
 * mmaps), arrays on the stack, an anonymous mapping with a hole punched in the
 * middle, PROT_NONE guard pages, a read-only region holding data, and a shared
 * anonymous region (MAP_SHARED|MAP_ANONYMOUS) that must still be shared after
 * restore: a child forked after restore writes it, the restored process sees it.
 */
#include "lib.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PG 4096
static const size_t heap_sizes[] = { 16, 4000, 100000, 1 << 20, 3 << 20 };
#define NHEAP (sizeof heap_sizes / sizeof heap_sizes[0])

static unsigned char *heap[NHEAP];
static unsigned char *holes;	/* 16 pages, 4..7 unmapped */
static unsigned char *guard;	/* 3 pages, the middle one PROT_NONE */
static unsigned char *ro;	/* 2 pages, PROT_READ */
static unsigned char *shared;	/* 2 pages, MAP_SHARED|MAP_ANONYMOUS */

static void *map(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fatal("mmap %zu bytes failed", len);
	return p;
}

/* the maps line of addr must have these permissions */
static void check_perms(const char *what, void *addr, const char *want)
{
	char perms[5] = "", line[256] = "";
	int r = t_maps_find((uintptr_t)addr, NULL, NULL, perms, line, sizeof line);

	if (r == 1)
		t_ok(!strcmp(perms, want), "%s mapped %s (maps: %s)", what, want, line);
	else
		t_ok(0, "%s mapped %s (not in /proc/self/maps)", what, want);
}

static int touch(void *p)
{
	return *(volatile unsigned char *)p;	/* must die of SIGSEGV first */
}

static int write_shared(void *p)
{
	memcpy((unsigned char *)p + PG, "written by a child", 19);
	return 0;
}

static int subject(void)
{
	unsigned char stack[64 * 1024];
	char name[64];
	int st;

	for (size_t i = 0; i < NHEAP; i++) {
		heap[i] = malloc(heap_sizes[i]);
		if (!heap[i])
			t_fatal("malloc %zu", heap_sizes[i]);
		t_fill(heap[i], heap_sizes[i], 100 + i);
	}
	t_fill(stack, sizeof stack, 200);

	holes = map(16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	t_fill(holes, 16 * PG, 300);
	if (munmap(holes + 4 * PG, 4 * PG))
		t_fatal("munmap the hole");

	guard = map(3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	t_fill(guard, 3 * PG, 400);
	if (mprotect(guard + PG, PG, PROT_NONE))
		t_fatal("mprotect guard");

	ro = map(2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	t_fill(ro, 2 * PG, 500);
	if (mprotect(ro, 2 * PG, PROT_READ))
		t_fatal("mprotect ro");

	shared = map(2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	t_fill(shared, PG, 600);

	t_wait();
	if (t_break())
		heap[2][12345] ^= 0x40;

	for (size_t i = 0; i < NHEAP; i++) {
		snprintf(name, sizeof name, "malloc(%zu) contents", heap_sizes[i]);
		t_check_fill(name, heap[i], heap_sizes[i], 100 + i);
	}
	t_check_fill("stack array contents", stack, sizeof stack, 200);

	t_check_fill("mapping before the hole", holes, 4 * PG, 300);
	t_check_fill("mapping after the hole", holes + 8 * PG, 8 * PG, 300 + 8 * PG / 8);
	t_ok(t_maps_find((uintptr_t)(holes + 4 * PG), NULL, NULL, NULL, NULL, 0) == 0 &&
	     t_maps_find((uintptr_t)(holes + 8 * PG - 1), NULL, NULL, NULL, NULL, 0) == 0,
	     "hole (4 munmap'ed pages) still unmapped");

	check_perms("guard page", guard + PG, "---p");
	check_perms("page below the guard", guard, "rw-p");
	check_perms("page above the guard", guard + 2 * PG, "rw-p");
	t_check_fill("page below the guard", guard, PG, 400);
	t_check_fill("page above the guard", guard + 2 * PG, PG, 400 + 2 * PG / 8);
	st = t_fork_wait(touch, guard + PG);
	t_ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	     "touching the guard page faults (child status 0x%x)", st);

	check_perms("read-only region", ro, "r--p");
	t_check_fill("read-only region contents", ro, 2 * PG, 500);

	check_perms("shared anonymous region", shared, "rw-s");
	t_check_fill("shared anonymous region contents", shared, PG, 600);
	st = t_fork_wait(write_shared, shared);
	t_ok(st == 0 && !memcmp(shared + PG, "written by a child", 19),
	     "shared anonymous region still shared with a child forked after restore");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
