/* proc_oom.c -- /proc/self/oom_score_adj survives a restore.
 *
 * Simulates a service that set how willing the OOM killer should be to pick
 * it: a cache volunteers (raises it, anyone may), a database protects itself
 * (lowers it below 0, which needs CAP_SYS_RESOURCE: root).  The restored
 * process would otherwise inherit the restorer's value.  After restore: the
 * same oom_score_adj (-300 with CAP_SYS_RESOURCE; without it, as in a
 * container or as an ordinary user, 100 above the value the test started with).
 */
#include "lib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int read_adj(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
		t_fatal("read /proc/self/oom_score_adj");
	close(fd);
	return atoi(buf);
}

/* 0, or -1 when the kernel refused */
static int write_adj(int v)
{
	char buf[16];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY), n = snprintf(buf, sizeof buf, "%d", v), r;

	if (fd < 0)
		t_fatal("open /proc/self/oom_score_adj for writing");
	r = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return r;
}

static int subject(void)
{
	int start = read_adj(), want, got;

	want = -300;
	if (start == want || write_adj(want)) {	/* not root, or no CAP_SYS_RESOURCE */
		want = start <= 900 ? start + 100 : start - 100;
		if (write_adj(want))
			t_fatal("write %d to /proc/self/oom_score_adj", want);
	}
	t_wait();
	got = read_adj();
	if (t_break())
		got++;
	t_eq64("oom_score_adj", (uint64_t)(int64_t)got, (uint64_t)(int64_t)want);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
