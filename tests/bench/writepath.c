/* writepath.c -- which way of writing an image's page data is fastest here.
 *
 *   writepath MIB FILE RUNS
 *
 * The writer (capture/dump.c) puts page data into the image with pwrite() in
 * 8 MiB pieces and starts each piece's writeback with sync_file_range(), then
 * fsyncs.  Issue 5 asks whether splice/vmsplice or O_DIRECT would do better.
 * This program fills MIB MiB of random data and writes it to a new FILE each
 * of three ways, RUNS times in turn, each followed by fsync:
 *   pwrite      8 MiB pwrite()s, sync_file_range(SYNC_FILE_RANGE_WRITE) after each
 *   o_direct    the same pwrite()s through O_DIRECT (the buffer is page-aligned)
 *   vmsplice    vmsplice() of 1 MiB at a time into a pipe, splice() into the file
 * and prints the median time of each, and its ratio to pwrite's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define PIECE	(8u << 20)
#define SPLICED	(1u << 20)
#define MAXRUNS	15

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* one write of n bytes at p to a new file, by mode; -1 on failure */
static double write_once(int mode, const char *path, const unsigned char *p, size_t n)
{
	double t0;
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | (mode == 1 ? O_DIRECT : 0), 0600);
	if (fd < 0)
		return -1;
	t0 = now_ms();
	if (mode < 2) {
		for (size_t off = 0; off < n; off += PIECE) {
			size_t k = n - off < PIECE ? n - off : PIECE;

			if (pwrite(fd, p + off, k, (off_t)off) != (ssize_t)k)
				return close(fd), -1;
			if (mode == 0)
				sync_file_range(fd, (off_t)off, (off_t)k, SYNC_FILE_RANGE_WRITE);
		}
	} else {
		int pp[2];

		if (pipe(pp) < 0)
			return close(fd), -1;
		fcntl(pp[1], F_SETPIPE_SZ, SPLICED);
		for (size_t off = 0; off < n; ) {
			struct iovec v = { (void *)(p + off), n - off < SPLICED ? n - off : SPLICED };
			ssize_t k = vmsplice(pp[1], &v, 1, 0);

			if (k <= 0)
				return close(fd), close(pp[0]), close(pp[1]), -1;
			for (ssize_t left = k; left > 0; ) {
				ssize_t s = splice(pp[0], NULL, fd, NULL, (size_t)left, SPLICE_F_MOVE);

				if (s <= 0)
					return close(fd), close(pp[0]), close(pp[1]), -1;
				left -= s;
			}
			off += (size_t)k;
		}
		close(pp[0]);
		close(pp[1]);
	}
	if (fsync(fd) < 0)
		return close(fd), -1;
	close(fd);
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	static const char *const names[3] = { "pwrite", "o_direct", "vmsplice" };
	double t[3][MAXRUNS];
	unsigned char *p;
	uint64_t x = 88172645463325252ull;
	size_t n;
	int runs;

	if (argc != 4 || atol(argv[1]) <= 0 || atoi(argv[3]) < 1 || atoi(argv[3]) > MAXRUNS) {
		fprintf(stderr, "usage: writepath MIB FILE RUNS (1-%d)\n", MAXRUNS);
		return 2;
	}
	n = (size_t)atol(argv[1]) << 20;
	runs = atoi(argv[3]);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("writepath: mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i += 8) {	/* xorshift: nothing for a disk to compress */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (int r = 0; r < runs; r++)		/* in turn, so drift hits all three alike */
		for (int m = 0; m < 3; m++)
			if ((t[m][r] = write_once(m, argv[2], p, n)) < 0) {
				fprintf(stderr, "writepath: %s to %s failed\n", names[m], argv[2]);
				unlink(argv[2]);
				return 1;
			}
	unlink(argv[2]);
	printf("write paths, %s MiB of random data + fsync, median of %d (tests/bench/writepath.c)\n", argv[1], runs);
	for (int m = 0; m < 3; m++)
		qsort(t[m], (size_t)runs, sizeof(double), cmp);
	for (int m = 0; m < 3; m++)
		printf("  %-9s %9.1f ms  %5.2fx pwrite\n", names[m], t[m][runs / 2], t[m][runs / 2] / t[0][runs / 2]);
	return 0;
}
