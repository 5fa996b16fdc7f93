/* writer_busy.h -- for the programs tests/sh/*.sh compile (-I tests/sh): is
 * a writer of libckpt's still at work in this process?  Its forked writer is
 * a child of the thread that took the checkpoint, alive until it has written
 * the image (then a zombie until libckpt reaps it); its in-place and
 * snapshot writers are threads of the process. */
#ifndef WRITER_BUSY_H
#define WRITER_BUSY_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* gettid */
#endif
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* a child of the calling thread that has not exited */
static int live_child(void)
{
	char path[64], st[512];
	int c, busy = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", gettid());
	if (!(f = fopen(path, "r")))
		return 0;
	while (fscanf(f, "%d", &c) == 1) {
		FILE *s;
		char *p;

		snprintf(path, sizeof(path), "/proc/%d/stat", c);
		if (!(s = fopen(path, "r")))
			continue;
		if (fgets(st, sizeof(st), s) && (p = strrchr(st, ')')) && p[2] != 'Z')
			busy = 1;
		fclose(s);
	}
	fclose(f);
	return busy;
}

/* the threads of the process */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}
#endif
