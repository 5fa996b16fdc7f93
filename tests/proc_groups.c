/* proc_groups.c -- the supplementary groups survive a restore.
 *
 * Simulates a root service that took supplementary groups of its own
 * (setgroups, as a daemon does before it gives up root, or an ssh server for
 * a session) and relies on them for file access.  The restored process would
 * otherwise run with the restorer's groups.  As root: after restore
 * getgroups() gives the same set (4242, 4343, 4444).  As an ordinary user the
 * groups cannot be changed: they are checked to be the ones the subject had.
 */
#include "lib.h"

#include <grp.h>
#include <string.h>
#include <unistd.h>

#define MAXG 64

static int subject(void)
{
	static const gid_t mine[] = { 4242, 4343, 4444 };
	gid_t want[MAXG], got[MAXG];
	int nwant, ngot;

	if (geteuid() == 0 && setgroups(3, mine))
		t_fatal("setgroups");
	nwant = getgroups(MAXG, want);
	if (nwant < 0)
		t_fatal("getgroups");
	t_wait();
	ngot = getgroups(MAXG, got);
	if (t_break())
		got[0] ^= 1, ngot += !ngot;
	t_eq64("number of supplementary groups", (uint64_t)ngot, (uint64_t)nwant);
	t_ok(ngot == nwant && !memcmp(got, want, sizeof(gid_t) * (size_t)nwant),
	     "the same supplementary groups (first %d, want %d)", ngot > 0 ? (int)got[0] : -1,
	     nwant > 0 ? (int)want[0] : -1);
	if (geteuid() != 0 && t_gen() > 0)
		t_diag("not root: the groups could not be changed, only compared");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
