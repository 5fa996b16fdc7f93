/* snap.c -- make bench, issue 20's snapshot methods: what the program itself
 * sees of a checkpoint taken by fork, by uffd write protection and in place
 * (CKPT_SNAPSHOT), while it writes its memory flat out.
 *
 *   snap MIB [huge]   (under LD_PRELOAD=libckpt.so, CKPT_FILE=IMAGE set)
 *
 * MIB of memory, every page written (huge: MADV_HUGEPAGE first, so the
 * kernel backs it with 2 MiB pages where it can).  Then, all in this one
 * thread:
 *   fork_ns    median of 3 bare fork() calls of this process (call to return),
 *              each right after a sweep that wrote every page, as the
 *              checkpoint finds them (a fork of pages a fork already made
 *              read-only costs a third of that here)
 *   rate       pages written per second, one word each, reading the clock
 *              between pages, for 300 ms: the program's normal throughput
 *   pause_ns   how long raise(SIGUSR2) held the program: libckpt's handler
 *              runs inside it, so this is the checkpoint's pause
 *   gap_ns     the longest stall between two pages from the raise until the
 *              image is in place (the pause, or a fault on a page after it)
 *   during     pages written per second from the raise's return until the
 *              image is in place (stat every 256 pages): throughput while it
 *              is written, against rate
 *   ckpt_ns    raise() to the image in place
 * One line of key=value on stdout; exit 0, or 1 with the reason on stderr.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t pages = argc > 1 ? (size_t)atoi(argv[1]) << 8 : 0, p = 0;
	const char *img = getenv("CKPT_FILE");
	uint64_t forks[3], t, t0, last, gap = 0, n = 0, seed = 0x9e3779b97f4a7c15ull, pause, rate, during;
	struct stat st;
	uint8_t *m;

	if (!pages || !img) {
		fprintf(stderr, "snap: usage: CKPT_FILE=IMAGE snap MIB [huge]\n");
		return 1;
	}
	m = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	if (argc > 2 && !strcmp(argv[2], "huge"))
		madvise(m, pages * 4096, MADV_HUGEPAGE);
	for (size_t i = 0; i < pages * 512; i++) {	/* dense: random words */
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		((uint64_t *)m)[i] = seed;
	}
	for (int k = 0; k < 3; k++) {
		pid_t c;

		for (size_t i = 0; i < pages; i++)
			((volatile uint64_t *)(m + i * 4096))[1]++;
		t = now_ns();
		if ((c = fork()) == 0)
			_exit(0);
		forks[k] = now_ns() - t;
		waitpid(c, NULL, 0);
	}
	qsort(forks, 3, sizeof(forks[0]), cmp);
	for (size_t i = 0; i < pages; i++)	/* the forks left every page copy-on-write */
		((volatile uint64_t *)(m + i * 4096))[1]++;
	t0 = now_ns();				/* the normal rate */
	do {
		((volatile uint64_t *)(m + p * 4096))[1]++;
		p = p + 1 == pages ? 0 : p + 1;
		n++;
	} while ((t = now_ns()) - t0 < 300000000ull);
	rate = n * 1000000000ull / (t - t0);
	unlink(img);
	t0 = now_ns();
	raise(SIGUSR2);
	last = now_ns();
	pause = last - t0;
	gap = pause;
	n = 0;
	for (;;) {
		((volatile uint64_t *)(m + p * 4096))[1]++;
		p = p + 1 == pages ? 0 : p + 1;
		n++;
		t = now_ns();
		if (t - last > gap)
			gap = t - last;
		last = t;
		if (n % 256 == 0 && stat(img, &st) == 0)
			break;
		if (t - t0 > 120000000000ull) {
			fprintf(stderr, "snap: no image after 120 s\n");
			return 1;
		}
	}
	during = n * 1000000000ull / (t - t0 - pause);
	printf("mib=%zu huge=%d fork_ns=%lu pause_ns=%lu gap_ns=%lu rate=%lu during=%lu ckpt_ns=%lu\n",
	       pages >> 8, argc > 2, forks[1], pause, gap, rate, during, t - t0);
	return 0;
}
