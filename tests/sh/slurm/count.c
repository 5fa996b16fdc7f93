/* count.c -- the job of tests/sh/slurm_ckpt.sh: a counter with memory.
 *
 * Usage: count LAST INTERVAL_MS MIB
 * Fills MIB MiB with a pattern (every page written: a dense process), then
 * prints "count 1" .. "count LAST" on stdout, INTERVAL_MS apart, and at the
 * end "memory ok" when the pattern is intact (else "memory bad at N").  stdout
 * is the same for every run, interrupted or not; stderr gets "tick N MS" (N,
 * and the wall clock in ms) for the timings.  Like demo.c it closes every
 * descriptor but 0, 1, 2 and sleeps with relative nanosleep restarted on EINTR.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(3);
		s += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	long last = argc > 1 ? atol(argv[1]) : 30, ms = argc > 2 ? atol(argv[2]) : 100;
	size_t mib = argc > 3 ? (size_t)atol(argv[3]) : 16, words = mib << 17;
	uint64_t *mem = malloc(words * 8 + 8);
	char line[128];

	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (!mem)
		return 4;
	for (size_t i = 0; i < words; i++)
		mem[i] = i * 0x9e3779b97f4a7c15ull;
	for (long k = 1; k <= last; k++) {
		struct timespec d = { ms / 1000, (ms % 1000) * 1000000 }, now;

		while (nanosleep(&d, &d) && errno == EINTR)
			;
		snprintf(line, sizeof(line), "count %ld\n", k);
		say(1, line);
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(line, sizeof(line), "tick %ld %lld\n", k, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
		say(2, line);
	}
	for (size_t i = 0; i < words; i++)
		if (mem[i] != i * 0x9e3779b97f4a7c15ull) {
			snprintf(line, sizeof(line), "memory bad at %zu\n", i);
			say(1, line);
			return 1;
		}
	say(1, "memory ok\n");
	return 0;
}
