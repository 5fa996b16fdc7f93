/* mem_file.c -- file mappings come back with the right backing.
 *
 * Simulates a program that mapped two data files: one MAP_PRIVATE and patched in
 * memory (copy-on-write: the file on disk never changes), one MAP_SHARED and
 * PROT_WRITE used as a persistent store.  After restore the private mapping still
 * shows the patch over the file's other pages and the file is unchanged; the
 * shared mapping still shows what was written, and a write after restore reaches
 * the file (pread sees it), so it is the file again, not a private copy.
 * The original process does not write the shared file after its checkpoint: the
 * restorer may refuse a file changed since the checkpoint.
 */
#include "lib.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define PG 4096

static unsigned char *map_file(const char *name, size_t len, int flags, uint64_t seed,
			       char *path)
{
	static unsigned char buf[4 * PG];
	void *p;
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", t_tmpdir(), name);
	t_fill(buf, len, seed);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		t_fatal("create %s", path);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		t_fatal("mmap %s", path);
	close(fd);		/* the mapping alone keeps the file */
	return p;
}

/* pread len bytes at off of path, and compare with a fill of seed */
static void check_disk(const char *what, const char *path, off_t off, size_t len,
		       uint64_t seed)
{
	static unsigned char buf[4 * PG];
	int fd = open(path, O_RDONLY);

	if (fd < 0 || pread(fd, buf, len, off) != (ssize_t)len) {
		t_ok(0, "%s (cannot read %s)", what, path);
	} else {
		t_check_fill(what, buf, len, seed);
	}
	if (fd >= 0)
		close(fd);
}

static void check_perms(const char *what, void *addr, const char *want)
{
	char perms[5] = "", line[512] = "";

	if (t_maps_find((uintptr_t)addr, NULL, NULL, perms, line, sizeof line) == 1)
		t_ok(!strcmp(perms, want), "%s mapped %s (maps: %s)", what, want, line);
	else
		t_ok(0, "%s mapped %s (not in /proc/self/maps)", what, want);
}

static int subject(void)
{
	char priv_path[PATH_MAX], shr_path[PATH_MAX];
	unsigned char *priv = map_file("private.dat", 3 * PG, MAP_PRIVATE, 700, priv_path);
	unsigned char *shr = map_file("shared.dat", 2 * PG, MAP_SHARED, 800, shr_path);

	t_fill(priv + PG, PG, 701);		/* the in-memory patch */
	t_fill(shr, PG, 801);			/* goes to the file */

	t_wait();
	if (t_break())
		priv[PG + 77] ^= 0x08;

	check_perms("private file mapping", priv, "rw-p");
	t_check_fill("private mapping page 0 (from the file)", priv, PG, 700);
	t_check_fill("private mapping page 1 (patched in memory)", priv + PG, PG, 701);
	t_check_fill("private mapping page 2 (from the file)", priv + 2 * PG, PG,
		     700 + 2 * PG / 8);
	check_disk("private file unchanged on disk", priv_path, 0, 3 * PG, 700);

	check_perms("shared file mapping", shr, "rw-s");
	t_check_fill("shared mapping page 0 (written before the checkpoint)", shr, PG, 801);
	t_check_fill("shared mapping page 1 (from the file)", shr + PG, PG, 800 + PG / 8);
	check_disk("shared file page 0 on disk", shr_path, 0, PG, 801);
	if (t_gen() > 0) {
		t_fill(shr + PG, PG, 900);
		check_disk("write to the shared mapping after restore reaches the file",
			   shr_path, PG, PG, 900);
	}
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
