/* incr.c -- the incremental-image workload for make bench (tests/bench/incr.sh).
 *
 * Run under libckpt.so with CKPT_INCREMENTAL set to 1 or 0.  Maps SIZE MiB of
 * dense data and takes a first checkpoint (full either way), writes 1% of the
 * pages, takes a second (incremental with CKPT_INCREMENTAL=1), then times its
 * own loop over all of its memory (tracking armed by that checkpoint, or not).
 * Prints: "first_ms second_ms loop_ms" on one line.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int (*checkpoint)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ckpt_checkpoint");
	size_t n = (size_t)(argc > 1 ? atol(argv[1]) : 1024) << 20;
	unsigned char *p = malloc(n);
	double t, first, second, loop;

	if (!checkpoint || !p) {
		fprintf(stderr, "incr: run under libckpt.so, with memory to spare\n");
		return 1;
	}
	for (size_t i = 0; i < n; i += 8)
		*(unsigned long *)(p + i) = i * 2654435761u;
	t = now_ms();
	if (checkpoint() < 0)
		return 1;
	first = now_ms() - t;
	for (size_t i = 0; i < n; i += 4096 * 100)	/* 1% of the pages */
		p[i]++;
	t = now_ms();
	if (checkpoint() < 0)
		return 1;
	second = now_ms() - t;
	t = now_ms();
	for (int r = 0; r < 4; r++)			/* the program's own work */
		for (size_t i = r; i < n; i += 64)
			p[i]++;
	loop = now_ms() - t;
	printf("%.1f %.1f %.1f\n", first, second, loop);
	return 0;
}
