/* setuid_victim.c -- a privileged program linked with libckpt, for
 * tests/sh/setuid.sh, which builds it, makes it setuid root and runs it as an
 * ordinary user with that user's environment.
 *
 * It ignores SIGUSR2 itself (the test sends the user's trigger meanwhile),
 * says "ready PID EUID", waits until the file argv[1] exists, then uses the
 * API: ckpt_checkpoint(), tsetjmp() and tlongjmp() back to it.  One line per
 * result on stdout, each one write(2) (no stdio buffer to come back twice):
 *   checkpoint R ERRNO
 *   rolled back N          (tlongjmp came back into tsetjmp)
 *   tsetjmp -1 ERRNO | tlongjmp R ERRNO
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "ckpt.h"

int main(int argc, char **argv)
{
	int n, r;

	if (argc < 2)
		return 2;
	signal(SIGUSR2, SIG_IGN);
	dprintf(1, "ready %d %d\n", (int)getpid(), (int)geteuid());
	for (int i = 0; access(argv[1], F_OK) && i < 400; i++)
		usleep(50000);
	r = ckpt_checkpoint();
	dprintf(1, "checkpoint %d %d\n", r, r < 0 ? errno : 0);
	n = tsetjmp();
	if (n < 0) {
		dprintf(1, "tsetjmp -1 %d\n", errno);
		return 0;
	}
	if (chkpt_status(CKPT_RECOVERED)) {
		dprintf(1, "rolled back %d\n", n);
		return 0;
	}
	r = tlongjmp(n);
	dprintf(1, "tlongjmp %d %d\n", r, errno);
	return 0;
}
