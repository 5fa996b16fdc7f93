/* fds_memfd_mode.c -- a memfd's file mode survives a restore.
 *
 * Simulates a program that shares a memfd with a less trusted peer through
 * /proc/PID/fd/N and first narrows its mode with fchmod (0600, or 0400 for a
 * read-only view): memfd_create makes it 0777 (0666 with noexec), and a restore
 * that makes it again without the fchmod silently widens who may open it.  A
 * second memfd, sealed after its fchmod (F_SEAL_WRITE), keeps its mode too.
 * After restore: fstat's permission bits are 0600 and 0440.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int make(const char *name, mode_t mode, unsigned seals)
{
	int fd = memfd_create(name, MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, "secret", 6) != 6 || fchmod(fd, mode) ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals)))
		t_fatal("memfd %s setup: %s", name, strerror(errno));
	return fd;
}

static unsigned perm(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return ~0u;
	return st.st_mode & 07777;
}

static int subject(void)
{
	int a = make("ckpt-mode-a", 0600, 0), b = make("ckpt-mode-b", 0440, F_SEAL_WRITE | F_SEAL_SEAL);
	unsigned pa, pb;

	t_wait();
	pa = perm(a);
	pb = perm(b);
	if (t_break())
		pa ^= 0100;
	t_eq64("memfd 0600 mode", pa, 0600);
	t_eq64("sealed memfd 0440 mode", pb, 0440);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
