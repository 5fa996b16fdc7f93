/* proc_thp.c -- PR_SET_THP_DISABLE survives a restore.
 *
 * Simulates a database or allocator that turned transparent huge pages off for
 * itself (prctl(PR_SET_THP_DISABLE), as Redis or jemalloc users advise) to keep
 * its latency and memory use predictable.  The setting is the process's, not
 * memory's: a restore that drops it lets the kernel back the program with huge
 * pages again.  After restore: PR_GET_THP_DISABLE is still 1.
 */
#include "lib.h"

#include <sys/prctl.h>

static int subject(void)
{
	int thp;

	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		t_fatal("prctl(PR_SET_THP_DISABLE)");
	t_wait();
	thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (t_break())
		thp ^= 1;
	t_eq64("PR_GET_THP_DISABLE", (uint64_t)thp, 1);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
