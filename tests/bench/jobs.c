/* jobs.c -- make bench, jobs (issue 16): N processes of MIB MiB each (the
 * first forks the others), each with its memory written, each measuring
 * (a) how long a fork of itself takes and (b) its own longest stall while
 * it runs a loop of 1 ms sleeps for SECS seconds (the checkpoint comes
 * meanwhile).  Each process prints one line, "pid fork_ms stall_ms", the
 * stall being the longest gap between two turns of its loop less the 1 ms it
 * asked to sleep.  The first writes "ready" to READY once all are set up.
 *   jobs N MIB SECS READY */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static unsigned char *m;
static size_t bytes;
static double fork_ms;

/* the memory written, then one fork of this process timed */
static void set_up(void)
{
	double t;
	pid_t p;

	m = malloc(bytes);
	if (!m)
		exit(1);
	for (size_t i = 0; i < bytes; i += 4096)
		m[i] = (unsigned char)(i >> 12);
	t = now_ms();
	p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	fork_ms = now_ms() - t;
}

/* 1 ms sleeps for secs, writing a page each turn: the longest stall */
static void loop(double secs)
{
	struct timespec ms = { 0, 1000000 };
	double end, worst = 0, prev = now_ms();
	char line[96];
	size_t at = 0;

	end = prev + secs * 1e3;
	while (prev < end) {
		double n;

		nanosleep(&ms, NULL);
		m[at] ^= 1;
		at = (at + 4096) % bytes;
		n = now_ms();
		if (n - prev - 1.0 > worst)
			worst = n - prev - 1.0;
		prev = n;
	}
	snprintf(line, sizeof(line), "%d %.3f %.3f\n", (int)getpid(), fork_ms, worst);
	if (write(1, line, strlen(line)) < 0)
		exit(1);
}

int main(int argc, char **argv)
{
	int n = argc > 4 ? atoi(argv[1]) : 0, ready[2];
	double secs = argc > 4 ? atof(argv[3]) : 0;
	char c = 0;
	FILE *f;

	bytes = argc > 4 ? (size_t)atoi(argv[2]) << 20 : 0;
	if (n < 1 || !bytes || secs <= 0 || pipe(ready)) {
		fprintf(stderr, "usage: jobs N MIB SECS READY\n");
		return 2;
	}
	for (int i = 1; i < n; i++)
		if (fork() == 0) {
			close(ready[0]);
			set_up();
			if (write(ready[1], &c, 1) != 1)
				return 1;
			close(ready[1]);
			loop(secs);
			return 0;
		}
	close(ready[1]);
	set_up();
	for (int i = 1; i < n; i++)
		if (read(ready[0], &c, 1) != 1)
			return 1;
	close(ready[0]);
	f = fopen(argv[4], "w");
	if (f)
		fclose(f);
	loop(secs);
	while (wait(NULL) > 0)
		;
	return 0;
}
