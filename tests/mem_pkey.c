/* mem_pkey.c -- memory protection keys survive: the key on a region and the live
 * PKRU register that says what each key may do.
 *
 * Simulates a program that isolates a secret with a protection key (pkey_alloc,
 * pkey_mprotect) and has write access to that key disabled in PKRU (pkey_set)
 * at the moment it is checkpointed.  After restore the region still carries the
 * key (ProtectionKey in /proc/self/smaps) and its data, PKRU is the same, a write
 * to the region faults (in a child) and reads work.
 * Skips when the CPU or kernel has no protection keys (pkey_alloc fails).
 */
#include "lib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define LEN (4 * 4096)

/* ProtectionKey of the smaps block holding addr, -1 if none */
static int smaps_pkey(void *addr)
{
	const char *k = t_smaps_field(addr, "ProtectionKey:");

	return k ? atoi(k) : -1;
}

static uint32_t rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static int child_writes(void *p)	/* dies of SIGSEGV if PKRU denies */
{
	*(volatile unsigned char *)p = 1;
	return 0;
}

static int pkey;

static int subject(void)
{
	unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t pkru0, pkru;
	int st;

	if (p == MAP_FAILED)
		t_fatal("mmap");
	t_fill(p, LEN, 0x9e4);
	if (pkey_mprotect(p, LEN, PROT_READ | PROT_WRITE, pkey))
		t_fatal("pkey_mprotect: %s", strerror(errno));
	if (smaps_pkey(p) != pkey)
		t_fatal("smaps ProtectionKey %d, want %d", smaps_pkey(p), pkey);
	pkey_set(pkey, PKEY_DISABLE_WRITE);
	pkru0 = rdpkru();

	t_wait();
	pkru = rdpkru();
	if (t_break())
		pkru ^= 1u << (2 * pkey + 1);	/* as if write access came back */

	t_eq64("PKRU", pkru, pkru0);
	t_eq64("ProtectionKey of the region (smaps)", smaps_pkey(p), pkey);
	t_check_fill("region contents (readable)", p, LEN, 0x9e4);
	st = t_fork_wait(child_writes, p);
	t_ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	     "write to the region faults (child status 0x%x)", st);
	return t_result();
}

int main(void)
{
	pkey = pkey_alloc(0, 0);
	if (pkey < 0)
		t_skip("no protection keys: pkey_alloc: %s", strerror(errno));
	return t_main(subject, NULL);
}
