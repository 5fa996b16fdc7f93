/* proc_prctl.c -- process-wide prctl settings survive a restore:
 * PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, PR_SET_MDWE, the core dump
 * filter, SECBIT_KEEP_CAPS (PR_SET_KEEPCAPS), PR_SET_TSC and, where the
 * kernel leaves it to the process, PR_SET_SPECULATION_CTRL.
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
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
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
	int reaper = 0, deathsig = 0, have_mdwe, tsc = 0, spec_own;
	char filter[32] = "";
	void *m;
	int fd;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0))
		t_fatal("prctl: %s", strerror(errno));
	have_mdwe = prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0;
	if (!have_mdwe)
		t_diag("no PR_SET_MDWE here (%s): that part is left out", strerror(errno));
	fd = open("/proc/self/coredump_filter", O_WRONLY);
	if (fd < 0 || write(fd, "0x7f", 4) != 4 || close(fd))
		t_fatal("coredump_filter: %s", strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0))
		t_fatal("PR_SET_KEEPCAPS / PR_SET_TSC: %s", strerror(errno));
	spec_own = prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0) & PR_SPEC_PRCTL;
	if (spec_own && prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0))
		t_fatal("PR_SET_SPECULATION_CTRL: %s", strerror(errno));
	if (!spec_own)
		t_diag("the kernel does not leave store bypass to the process here: that part is left out");
	t_wait();
	fd = open("/proc/self/coredump_filter", O_RDONLY);
	if (fd >= 0) {
		if (read(fd, filter, sizeof(filter) - 1) < 0)
			filter[0] = 0;
		close(fd);
	}
	prctl(PR_GET_TSC, &tsc, 0, 0, 0);
	t_eq64("coredump_filter 7f", strtoul(filter, NULL, 16), 0x7f);
	t_eq64("PR_GET_KEEPCAPS", (uint64_t)prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);
	t_eq64("PR_GET_TSC", (uint64_t)tsc, PR_TSC_SIGSEGV);
	if (spec_own)
		t_eq64("store bypass disabled", (uint64_t)prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0) &
		       PR_SPEC_DISABLE, PR_SPEC_DISABLE);
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
