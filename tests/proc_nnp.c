/* proc_nnp.c -- PR_SET_NO_NEW_PRIVS survives a restore.
 *
 * Simulates a sandboxed program (as systemd's NoNewPrivileges= or a seccomp
 * filter setter leaves it) that set no_new_privs: an execve of a setuid program
 * then gains nothing.  The flag cannot be cleared once set, so a restore that
 * drops it silently hands the program back the privileges it gave up.  After
 * restore: PR_GET_NO_NEW_PRIVS is still 1.
 */
#include "lib.h"

#include <sys/prctl.h>

static int subject(void)
{
	int nnp;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		t_fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	t_wait();
	nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (t_break())
		nnp ^= 1;
	t_eq64("PR_GET_NO_NEW_PRIVS", (uint64_t)nnp, 1);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
