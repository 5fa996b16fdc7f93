/* tls_errno.c -- thread-local state survives: a __thread variable, errno and the
 * fs_base that locates them.
 *
 * Simulates a program that keeps state in thread-local storage (as glibc itself
 * does: errno, malloc arenas, stack protector canary) when it is checkpointed: a
 * __thread variable and errno hold patterns, fs_base (ARCH_GET_FS, and rdfsbase
 * when the kernel allows it) and gs_base must be what they were.
 */
#include "lib.h"

#include <errno.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#define TLS_PAT		0x7e57c0de13579bdfull
#define ERRNO_PAT	0x5eed

static __thread uint64_t tls_var;
static __thread char tls_buf[100];

static uint64_t arch_get(int code)
{
	uint64_t v = 0;

	if (syscall(SYS_arch_prctl, code, &v) != 0)
		t_fatal("arch_prctl 0x%x failed", code);
	return v;
}

static int subject(void)
{
	uint64_t fs0 = arch_get(ARCH_GET_FS), gs0 = arch_get(ARCH_GET_GS);
	uintptr_t addr0 = (uintptr_t)&tls_var;
	int have_rd = !!(getauxval(AT_HWCAP2) & 2);	/* HWCAP2_FSGSBASE */
	int e;

	tls_var = TLS_PAT;
	t_fill(tls_buf, sizeof tls_buf, 0x715);
	errno = ERRNO_PAT;
	t_wait();
	e = errno;			/* first thing: nothing ran to change it */
	if (t_break())
		tls_var ^= 1ull << 40;

	t_eq64("errno", e, ERRNO_PAT);
	t_eq64("__thread variable", tls_var, TLS_PAT);
	t_check_fill("__thread array", tls_buf, sizeof tls_buf, 0x715);
	t_eq64("address of the __thread variable", (uintptr_t)&tls_var, addr0);
	t_eq64("fs_base (ARCH_GET_FS)", arch_get(ARCH_GET_FS), fs0);
	t_eq64("gs_base (ARCH_GET_GS)", arch_get(ARCH_GET_GS), gs0);
	if (have_rd) {
		uint64_t fs;

		__asm__ volatile("rdfsbase %0" : "=r"(fs));
		t_eq64("fs_base (rdfsbase)", fs, fs0);
	} else {
		t_diag("no FSGSBASE in AT_HWCAP2: rdfsbase not checked");
	}
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
