/* proc_membarrier.c -- membarrier(2) registrations survive a restore.
 *
 * Simulates a user-space RCU library or a JIT (liburcu, a managed runtime)
 * that registered its process for private expedited memory barriers (and the
 * sync-core and global expedited kinds) at start, and issues one on every
 * grace period.  The registration is the address space's, kept by the kernel:
 * a restore that drops it makes the next MEMBARRIER_CMD_PRIVATE_EXPEDITED fail
 * with EPERM, which such programs treat as fatal.  After restore: the private
 * expedited and sync-core barriers succeed, and, where the kernel can say
 * (MEMBARRIER_CMD_GET_REGISTRATIONS, Linux 6.3), the registrations are the
 * ones made before.
 */
#include "lib.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>

static long mb(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static int subject(void)
{
	long before;

	if (mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) || mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ||
	    mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE))
		t_fatal("membarrier register");
	before = mb(0x200);			/* MEMBARRIER_CMD_GET_REGISTRATIONS */
	t_wait();
	if (t_break())
		mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);	/* one more: the set differs */
	t_eq64("MEMBARRIER_CMD_PRIVATE_EXPEDITED", (uint64_t)mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED), 0);
	t_eq64("MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE",
	       (uint64_t)mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE), 0);
	if (before >= 0)
		t_eq64("MEMBARRIER_CMD_GET_REGISTRATIONS", (uint64_t)mb(0x200), (uint64_t)before);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
