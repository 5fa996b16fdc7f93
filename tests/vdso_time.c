/* vdso_time.c -- time still works after restore, through the vDSO.
 *
 * Simulates a program restored 1.5 s after its checkpoint that asks for the time
 * the usual way: glibc's clock_gettime() and gettimeofday() read the vDSO and its
 * vvar data page, never entering the kernel.  If the restored program kept the old
 * vDSO or vvar (or none), they return stale or wrong times, or crash.  Each is
 * compared with the raw syscall (within 100 ms), REALTIME must have advanced by
 * >= 1 s since before the checkpoint, and the [vdso] mapping must be where the
 * auxiliary vector (AT_SYSINFO_EHDR) says.
 */
#include "lib.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define MS 1000000ll

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000ll + t->tv_nsec;
}

static void compare_clock(const char *name, clockid_t id, long long *now)
{
	struct timespec v = { 0, 0 }, s = { 0, 0 };
	long long d;
	int rv = clock_gettime(id, &v);
	int rs = syscall(SYS_clock_gettime, id, &s);

	d = ns(&v) - ns(&s);
	t_ok(rv == 0 && rs == 0 && d > -100 * MS && d < 100 * MS,
	     "clock_gettime(%s) via glibc/vDSO agrees with the syscall "
	     "(vdso %lld.%09ld, syscall %lld.%09ld)", name, (long long)v.tv_sec,
	     v.tv_nsec, (long long)s.tv_sec, s.tv_nsec);
	if (now)
		*now = ns(&v);
}

static int subject(void)
{
	struct timespec t0;
	struct timeval tv = { 0, 0 }, ts = { 0, 0 };
	long long now = 0, d;
	unsigned long ehdr;
	char perms[5], line[256] = "";
	uintptr_t start = 0;

	clock_gettime(CLOCK_REALTIME, &t0);
	t_wait();

	compare_clock("CLOCK_REALTIME", CLOCK_REALTIME, &now);
	if (t_break())
		now -= 2000 * MS;
	compare_clock("CLOCK_MONOTONIC", CLOCK_MONOTONIC, NULL);
	compare_clock("CLOCK_BOOTTIME", CLOCK_BOOTTIME, NULL);

	gettimeofday(&tv, NULL);
	syscall(SYS_gettimeofday, &ts, NULL);
	d = (tv.tv_sec - ts.tv_sec) * 1000000ll + (tv.tv_usec - ts.tv_usec);
	t_ok(d > -100000 && d < 100000,
	     "gettimeofday via glibc/vDSO agrees with the syscall (%lld.%06ld vs %lld.%06ld)",
	     (long long)tv.tv_sec, tv.tv_usec, (long long)ts.tv_sec, ts.tv_usec);

	d = now - ns(&t0);
	t_ok(d >= 1000 * MS, "CLOCK_REALTIME advanced %lld ms since before the checkpoint "
	     "(want >= 1000)", d / MS);

	ehdr = getauxval(AT_SYSINFO_EHDR);
	t_ok(ehdr && t_maps_find(ehdr, &start, NULL, perms, line, sizeof line) == 1 &&
	     start == ehdr && strstr(line, "[vdso]"),
	     "[vdso] is at AT_SYSINFO_EHDR 0x%lx (maps: %s)", ehdr, line);
	return t_result();
}

int main(void)
{
	struct t_opts o = { .delay_ms = 1500 };

	return t_main(subject, &o);
}
