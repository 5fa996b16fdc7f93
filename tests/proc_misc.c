/* proc_misc.c -- the small per-process state survives: umask, the program name,
 * brk, the rseq registration, /proc/self/exe, and libckpt's restore count.
 *
 * Simulates a program that set a restrictive umask, renamed itself (PR_SET_NAME,
 * what ps and top show), grew its brk heap, runs with glibc's rseq registration
 * (glibc >= 2.35 registers one per thread), and asks libckpt how often it was
 * restored.  After restore: the same umask and name; sbrk(0) the same and the heap
 * still grows; rseq still registered with the kernel (registering the same area
 * again says EBUSY); /proc/self/exe the program, not the restorer (root only:
 * PR_SET_MM_EXE_FILE needs a capability); ckpt_restore_count() is one more.
 */
#include "lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define UMASK_PAT	0027
#define NAME_PAT	"ckpt-misc-tst"
#define RSEQ_SIG	0x53053053	/* glibc's x86 signature */

extern __attribute__((weak)) const ptrdiff_t __rseq_offset;
extern __attribute__((weak)) const unsigned int __rseq_size;

static unsigned long (*restore_count)(void);

/* 1: registered (the kernel says EBUSY), 0: was not registered, -1: cannot tell */
static int rseq_registered(void)
{
	void *area;
	long r;

	if (!&__rseq_size || !&__rseq_offset || !__rseq_size)
		return -1;
	area = (char *)__builtin_thread_pointer() + __rseq_offset;
	r = syscall(SYS_rseq, area, 32, 0, RSEQ_SIG);
	if (r == 0) {
		syscall(SYS_rseq, area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG);
		return 0;
	}
	return errno == EBUSY ? 1 : -1;
}

static int subject(void)
{
	char name[17] = "", exe0[PATH_MAX] = "", exe[PATH_MAX] = "";
	void *brk0, *brk1;
	unsigned long count0 = 0;
	int rseq0 = rseq_registered();
	mode_t um;

	restore_count = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	if (restore_count)
		count0 = restore_count();
	umask(UMASK_PAT);
	prctl(PR_SET_NAME, NAME_PAT);
	if (sbrk(64 * 1024) == (void *)-1)
		t_fatal("sbrk");
	memset((char *)sbrk(0) - 64 * 1024, 0x5b, 64 * 1024);
	brk0 = sbrk(0);
	if (readlink("/proc/self/exe", exe0, sizeof exe0 - 1) < 0)
		t_fatal("readlink /proc/self/exe");

	t_wait();
	um = umask(UMASK_PAT);
	if (t_break())
		um ^= 1;

	t_eq64("umask", um, UMASK_PAT);
	prctl(PR_GET_NAME, name);
	t_ok(!strcmp(name, NAME_PAT), "name (PR_GET_NAME) \"%s\" (want \"%s\")", name, NAME_PAT);
	brk1 = sbrk(0);
	t_eq64("brk (sbrk(0))", (uintptr_t)brk1, (uintptr_t)brk0);
	t_ok(sbrk(8192) == brk1 && ((volatile char *)brk1)[8191] == 0,
	     "brk heap still grows (sbrk(8192) at 0x%lx)", (unsigned long)brk1);
	t_ok(((volatile unsigned char *)brk0)[-1] == 0x5b, "brk heap contents kept");
	if (rseq0 == 1)
		t_ok(rseq_registered() == 1, "rseq area still registered with the kernel");
	else if (t_gen() > 0)
		t_diag("glibc registered no rseq area before the checkpoint: not checked");
	if (geteuid() == 0) {
		if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0)
			strcpy(exe, "(readlink failed)");
		t_ok(!strcmp(exe, exe0), "/proc/self/exe is \"%s\" (want \"%s\")", exe, exe0);
	} else if (t_gen() > 0) {
		t_diag("not root: /proc/self/exe not checked (PR_SET_MM_EXE_FILE needs "
		       "CAP_CHECKPOINT_RESTORE)");
	}
	if (restore_count)
		t_eq64("ckpt_restore_count()", restore_count(), count0 + (t_gen() > 0));
	else
		t_ok(0, "ckpt_restore_count is exported by libckpt.so");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
