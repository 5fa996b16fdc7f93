/* proc_caps.c -- capabilities a program dropped stay dropped after a restore.
 *
 * Simulates a daemon started as root that gives up what it does not need:
 * it drops CAP_NET_RAW and CAP_SYS_MODULE from its effective and permitted
 * sets and CAP_SYS_BOOT from its bounding set (as systemd's
 * CapabilityBoundingSet= or a privilege-separated server does).  A root
 * restorer has every capability; handing them back silently would undo the
 * program's own hardening.  After restore: capget gives the sets the program
 * had, and CAP_SYS_BOOT is still out of the bounding set.  As an ordinary
 * user (no capabilities, no CAP_SETPCAP to drop from the bounding set) the
 * program holds none before and after, and its bounding set is the one it had.
 */
#include "lib.h"

#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };

static uint64_t bounding(void)
{
	uint64_t set = 0;
	long r;

	for (int c = 0; c < 64 && (r = prctl(PR_CAPBSET_READ, c, 0, 0, 0)) >= 0; c++)
		set |= (uint64_t)r << c;
	return set;
}

static int subject(void)
{
	struct __user_cap_data_struct before[2], after[2];
	uint64_t bset_before, bset_after;

	if (geteuid() == 0) {
		if (syscall(SYS_capget, &hdr, before))
			t_fatal("capget");
		before[0].effective &= ~(1u << CAP_NET_RAW | 1u << CAP_SYS_MODULE);
		before[0].permitted &= ~(1u << CAP_NET_RAW | 1u << CAP_SYS_MODULE);
		if (syscall(SYS_capset, &hdr, before) || prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0))
			t_fatal("capset / PR_CAPBSET_DROP");
	}
	if (syscall(SYS_capget, &hdr, before))
		t_fatal("capget");
	bset_before = bounding();
	t_wait();
	syscall(SYS_capget, &hdr, after);
	bset_after = bounding();
	if (t_break())
		after[0].permitted ^= 1u << CAP_NET_RAW;
	t_eq64("effective", (uint64_t)after[1].effective << 32 | after[0].effective,
	       (uint64_t)before[1].effective << 32 | before[0].effective);
	t_eq64("permitted", (uint64_t)after[1].permitted << 32 | after[0].permitted,
	       (uint64_t)before[1].permitted << 32 | before[0].permitted);
	t_eq64("inheritable", (uint64_t)after[1].inheritable << 32 | after[0].inheritable,
	       (uint64_t)before[1].inheritable << 32 | before[0].inheritable);
	t_eq64("bounding set", bset_after, bset_before);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
