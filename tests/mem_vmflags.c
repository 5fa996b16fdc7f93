/* mem_vmflags.c -- mapping flags that mmap, mlock2 and mseal set survive a
 * restore, as /proc/self/smaps VmFlags show them (madvise flags and plain
 * mlock: mem_advice.c).
 *
 * Simulates a program that reserved address space without committing memory
 * (MAP_NORESERVE: a read-only private reservation, a shared anonymous arena and
 * a writable private file mapping), locked a buffer only as it is touched
 * (mlock2 MLOCK_ONFAULT: "lo lf", no page brought in), locked one with
 * MAP_LOCKED, and sealed a read-only table against change (mseal, Linux 6.10).
 * A restore that maps them plainly gives back memory the kernel accounts
 * (overcommit refuses it), pins all of an on-fault buffer, or lets the sealed
 * table be unmapped.  After restore each region's VmFlags are what they were,
 * its data is kept, and the sealed region still refuses munmap (EPERM).
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PG	4096
#define LEN	(4 * PG)

struct region {
	const char *what;
	const char *flag;	/* in VmFlags */
	unsigned char *p;
	int ok;			/* set up before the checkpoint */
	char flags0[256];	/* VmFlags before */
};

enum { RO_NORESERVE, SHARED_NORESERVE, FILE_NORESERVE, ONFAULT, MAPLOCKED, SEALED, NR };
static struct region rg[NR] = {
	[RO_NORESERVE] = { "read-only private MAP_NORESERVE", "nr" },
	[SHARED_NORESERVE] = { "shared anonymous MAP_NORESERVE", "nr" },
	[FILE_NORESERVE] = { "writable private file MAP_NORESERVE", "nr" },
	[ONFAULT] = { "mlock2 MLOCK_ONFAULT", "lf" },
	[MAPLOCKED] = { "MAP_LOCKED", "lo" },
	[SEALED] = { "mseal", "sl" },
};

static int has_flag(const char *flags, const char *f)
{
	char pat[8], all[300];

	snprintf(pat, sizeof pat, " %s ", f);
	snprintf(all, sizeof all, " %s ", flags);
	return strstr(all, pat) != NULL;
}

static unsigned char *map(int prot, int flags, int fd)
{
	unsigned char *p = mmap(NULL, LEN, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		t_fatal("mmap: %s", strerror(errno));
	return p;
}

static int subject(void)
{
	int rw = PROT_READ | PROT_WRITE, fd;
	char buf[256];

	rg[RO_NORESERVE].p = map(PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	rg[RO_NORESERVE].ok = 1;
	rg[SHARED_NORESERVE].p = map(rw, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	t_fill(rg[SHARED_NORESERVE].p, LEN, 5001);
	rg[SHARED_NORESERVE].ok = 1;
	fd = open("vmflags.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, LEN))
		t_fatal("vmflags.dat: %s", strerror(errno));
	rg[FILE_NORESERVE].p = map(rw, MAP_PRIVATE | MAP_NORESERVE, fd);
	close(fd);
	t_fill(rg[FILE_NORESERVE].p, PG, 5002);
	rg[FILE_NORESERVE].ok = 1;
	rg[ONFAULT].p = map(rw, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t_fill(rg[ONFAULT].p, PG, 5003);
	rg[ONFAULT].ok = mlock2(rg[ONFAULT].p, LEN, MLOCK_ONFAULT) == 0;
	rg[MAPLOCKED].p = mmap(NULL, LEN, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	rg[MAPLOCKED].ok = rg[MAPLOCKED].p != MAP_FAILED;
	if (rg[MAPLOCKED].ok)
		t_fill(rg[MAPLOCKED].p, LEN, 5004);
	rg[SEALED].p = map(rw, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t_fill(rg[SEALED].p, LEN, 5005);
	mprotect(rg[SEALED].p, LEN, PROT_READ);
	rg[SEALED].ok = syscall(462 /* mseal */, rg[SEALED].p, LEN, 0) == 0;

	for (int i = 0; i < NR; i++) {
		struct region *r = &rg[i];
		const char *vf;

		if (!r->ok) {
			t_diag("%s refused before the checkpoint (%s): not checked", r->what, strerror(errno));
			continue;
		}
		vf = t_smaps_field(r->p, "VmFlags:");
		snprintf(r->flags0, sizeof r->flags0, "%s", vf ? vf : "");
		if (!has_flag(r->flags0, r->flag))
			t_fatal("%s: VmFlags \"%s\" lack \"%s\"", r->what, r->flags0, r->flag);
	}

	t_wait();
	for (int i = 0; i < NR; i++) {
		struct region *r = &rg[i];
		const char *vf;

		if (!r->ok)
			continue;
		vf = t_smaps_field(r->p, "VmFlags:");
		snprintf(buf, sizeof buf, "%s", vf ? vf : "");
		if (t_break() && i == 0)
			buf[0] = 0;
		t_ok(!strcmp(buf, r->flags0), "%s: VmFlags \"%s\" (want \"%s\")", r->what, buf, r->flags0);
	}
	t_check_fill("shared MAP_NORESERVE contents", rg[SHARED_NORESERVE].p, LEN, 5001);
	t_check_fill("private file MAP_NORESERVE contents", rg[FILE_NORESERVE].p, PG, 5002);
	t_check_fill("MLOCK_ONFAULT contents", rg[ONFAULT].p, PG, 5003);
	if (rg[MAPLOCKED].ok)
		t_check_fill("MAP_LOCKED contents", rg[MAPLOCKED].p, LEN, 5004);
	if (rg[SEALED].ok) {
		int r, err;

		t_check_fill("sealed contents", rg[SEALED].p, LEN, 5005);
		r = munmap(rg[SEALED].p, LEN);
		err = errno;
		t_ok(r == -1 && err == EPERM, "sealed region refuses munmap (%d, errno %d)", r, err);
	}
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
