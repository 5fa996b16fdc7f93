/* mem_advice.c -- what a program told the kernel about its memory survives:
 * madvise() flags and mlock (protection keys: mem_pkey.c).
 *
 * Simulates a program that tuned its mappings: a buffer not inherited by children
 * (MADV_DONTFORK), one zeroed in children (MADV_WIPEONFORK), one left out of core
 * dumps (MADV_DONTDUMP), huge-page hints (MADV_HUGEPAGE / MADV_NOHUGEPAGE), access
 * pattern hints (MADV_SEQUENTIAL / MADV_RANDOM) and a locked buffer (mlock).
 * After restore each region's /proc/self/smaps VmFlags are what they were (all of
 * them, not only the advised one), the data is kept, and the fork behaviours still
 * hold (checked in children).  Advice the kernel refuses before the checkpoint is
 * left out with a note.
 */
#include "lib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PG	4096
#define LEN	(4 * PG)

struct region {
	const char *what;
	int advice;		/* -1: mlock */
	const char *flag;	/* in VmFlags */
	unsigned char *p;
	int ok;			/* set up before the checkpoint */
	char flags0[256];	/* VmFlags before */
};

static struct region rg[] = {
	{ .what = "MADV_DONTFORK", .advice = MADV_DONTFORK, .flag = "dc" },
	{ .what = "MADV_WIPEONFORK", .advice = MADV_WIPEONFORK, .flag = "wf" },
	{ .what = "MADV_DONTDUMP", .advice = MADV_DONTDUMP, .flag = "dd" },
	{ .what = "MADV_HUGEPAGE", .advice = MADV_HUGEPAGE, .flag = "hg" },
	{ .what = "MADV_NOHUGEPAGE", .advice = MADV_NOHUGEPAGE, .flag = "nh" },
	{ .what = "MADV_SEQUENTIAL", .advice = MADV_SEQUENTIAL, .flag = "sr" },
	{ .what = "MADV_RANDOM", .advice = MADV_RANDOM, .flag = "rr" },
	{ .what = "mlock", .advice = -1, .flag = "lo" },
};
#define NR (sizeof rg / sizeof rg[0])

/* VmFlags of the smaps block holding addr; 0 if found */
static int smaps_of(void *addr, char *flags, size_t n)
{
	const char *vf = t_smaps_field(addr, "VmFlags:");

	snprintf(flags, n, "%s", vf ? vf : "");
	return flags[0] ? 0 : -1;
}

static int has_flag(const char *flags, const char *f)
{
	char pat[8], all[300];

	snprintf(pat, sizeof pat, " %s ", f);
	snprintf(all, sizeof all, " %s ", flags);
	return strstr(all, pat) != NULL;
}

static int child_reads(void *p)	/* exit 0: zero, 1: data; dies if unmapped */
{
	return *(volatile unsigned char *)p != 0;
}

static int subject(void)
{
	int st;
	char flags[256];

	for (size_t i = 0; i < NR; i++) {
		struct region *r = &rg[i];

		r->p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (r->p == MAP_FAILED)
			t_fatal("mmap");
		t_fill(r->p, LEN, 4000 + i);
		if (r->advice >= 0)
			r->ok = madvise(r->p, LEN, r->advice) == 0;
		else
			r->ok = mlock(r->p, LEN) == 0;
		if (!r->ok) {
			t_diag("%s refused before the checkpoint (%s): not checked", r->what,
			       strerror(errno));
			continue;
		}
		if (smaps_of(r->p, r->flags0, sizeof r->flags0))
			t_fatal("no smaps entry for %s", r->what);
		if (!has_flag(r->flags0, r->flag))
			t_fatal("%s: VmFlags \"%s\" lack \"%s\"", r->what, r->flags0, r->flag);
	}

	t_wait();
	for (size_t i = 0; i < NR; i++) {
		struct region *r = &rg[i];

		if (!r->ok)
			continue;
		smaps_of(r->p, flags, sizeof flags);
		if (t_break() && i == 0)
			flags[0] = 0;
		t_ok(!strcmp(flags, r->flags0), "%s: VmFlags \"%s\" (want \"%s\")", r->what,
		     flags, r->flags0);
		snprintf(flags, sizeof flags, "%s: contents", r->what);
		t_check_fill(flags, r->p, LEN, 4000 + i);
	}
	if (rg[0].ok) {
		st = t_fork_wait(child_reads, rg[0].p);
		t_ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		     "MADV_DONTFORK region is not in a child (status 0x%x)", st);
	}
	if (rg[1].ok) {
		st = t_fork_wait(child_reads, rg[1].p);
		t_ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		     "MADV_WIPEONFORK region reads zero in a child (status 0x%x)", st);
	}
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
