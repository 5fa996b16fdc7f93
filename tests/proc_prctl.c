/* proc_prctl.c -- process-wide prctl settings survive a restore:
 * PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG and PR_SET_MDWE.
 *
 * Simulates a supervisor (a job runner, a container's init) that made itself
 * the subreaper of its descendants, asked for SIGTERM when its parent dies,
 * and hardened itself with memory-deny-write-execute (as systemd's
 * MemoryDenyWriteExecute= does, Linux 6.3).  A restore that drops them leaves
 * orphans to init, outlives its parent, and lets an attacker map W+X memory.
 *
 * After restore: PR_GET_CHILD_SUBREAPER is 1, PR_GET_PDEATHSIG is SIGTERM,
 * PR_GET_MDWE is PR_MDWE_REFUSE_EXEC_GAIN, and an mmap of PROT_WRITE|PROT_EXEC
 * memory is refused (EACCES).  Where the kernel has no PR_SET_MDWE (before
 * 6.3) that part is left out, with a note.
 */
#include "lib.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

static int subject(void)
{
	int reaper = 0, deathsig = 0, have_mdwe;
	void *m;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0))
		t_fatal("prctl: %s", strerror(errno));
	have_mdwe = prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0;
	if (!have_mdwe)
		t_diag("no PR_SET_MDWE here (%s): that part is left out", strerror(errno));
	t_wait();
	prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0);
	prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0);
	if (t_break())
		deathsig++;
	t_eq64("PR_GET_CHILD_SUBREAPER", (uint64_t)reaper, 1);
	t_eq64("PR_GET_PDEATHSIG", (uint64_t)deathsig, SIGTERM);
	if (have_mdwe) {
		t_eq64("PR_GET_MDWE", (uint64_t)prctl(PR_GET_MDWE, 0, 0, 0, 0), PR_MDWE_REFUSE_EXEC_GAIN);
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t_eq64("mmap PROT_WRITE|PROT_EXEC refused", m == MAP_FAILED ? (uint64_t)errno : 0, EACCES);
	}
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
