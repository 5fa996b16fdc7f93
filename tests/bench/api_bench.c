/* api_bench.c -- what tsetjmp and tlongjmp cost for a 100 MiB process, on
 * disk and in memory, beside what the machine does with the same bytes in the
 * same run: memcpy of the 100 MiB and fork of the process holding them.
 *
 * The parent fills SIZE bytes of dense data (no zero page, nothing shared),
 * times memcpy of them into a second buffer (then drops it) and fork + _exit
 * + waitpid of itself, RUNS times each.  Then per store it forks a child that
 * rewrites the data (its own pages, not the parent's copy-on-write ones) and
 * RUNS times: times tsetjmp() (the image complete: written, on disk fsync'd),
 * then tlongjmp to it and times until that tsetjmp returns again; the start
 * time and the results ride in persist()ed memory.  Each image is deleted
 * after its run (disk); the memory store keeps them, RUNS x SIZE of RAM.
 * Every figure is a median; ratios are figure / baseline of this run.
 *
 * usage: api_bench [MiB [RUNS [DIR]]]   (defaults 100, 5, ./api-bench.tmp)
 * Build: cc -O2 -Iinclude tests/bench/api_bench.c -L. -lckpt -Wl,-rpath,$PWD
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckpt.h"

#define MAXRUNS 32

static struct {
	int rolled;
	double t0;
	double set[MAXRUNS], jump[MAXRUNS];
} P;					/* persist()ed */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[MAXRUNS];

	memcpy(t, v, n * sizeof *v);
	qsort(t, n, sizeof *t, cmp);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;	/* xorshift: dense, no zero pages */
		memcpy(p + i, &x, 8);
	}
}

/* child: RUNS x (tsetjmp, tlongjmp) with one store; results to fd */
static int store_run(const char *store, const char *dir, unsigned char *data, size_t size, int runs, int fd)
{
	char comm[17] = { 0 }, path[4200];
	volatile int i;
	int d;

	if (!strcmp(store, "memory"))
		setenv("CKPT_STORE", "memory", 1);
	else
		setenv("CKPT_DIR", dir, 1);
	prctl(PR_GET_NAME, comm);
	fill(data, size, 2);			/* this child's own pages */
	if (persist(&P, sizeof P))
		return 2;
	for (i = 0; i < runs; i++) {
		double t = now();

		d = tsetjmp();
		if (d < 0) {
			fprintf(stderr, "api_bench: tsetjmp (%s): %s\n", store, strerror(errno));
			return 1;
		}
		if (!P.rolled) {
			P.set[i] = now() - t;
			P.rolled = 1;
			P.t0 = now();
			tlongjmp(d);
			fprintf(stderr, "api_bench: tlongjmp (%s): %s\n", store, strerror(errno));
			return 1;
		}
		P.jump[i] = now() - P.t0;
		P.rolled = 0;
		if (strcmp(store, "memory")) {
			snprintf(path, sizeof path, "%s/%s.%d.%d", dir, comm, (int)getpid(), d);
			unlink(path);
		}
	}
	if (write(fd, &P, sizeof P) != sizeof P)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 100, size = mib << 20;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	const char *dir = argc > 3 ? argv[3] : "api-bench.tmp";
	static const char *stores[2] = { "disk", "memory" };
	double cp[MAXRUNS], fk[MAXRUNS], set[2], jump[2], mc, fo;
	unsigned char *data, *dst;

	if (runs < 1 || runs > MAXRUNS || !mib)
		return fprintf(stderr, "usage: api_bench [MiB [RUNS(1-%d) [DIR]]]\n", MAXRUNS), 2;
	mkdir(dir, 0700);
	data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED || dst == MAP_FAILED)
		return perror("api_bench: mmap"), 1;
	fill(data, size, 1);
	memset(dst, 1, size);
	for (int i = 0; i < runs; i++) {
		double t = now();

		memcpy(dst, data, size);
		cp[i] = now() - t;
	}
	munmap(dst, size);
	for (int i = 0; i < runs; i++) {
		double t = now();
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
		fk[i] = now() - t;
	}
	mc = median(cp, runs);
	fo = median(fk, runs);
	for (int s = 0; s < 2; s++) {
		int pfd[2], st;
		pid_t p;

		if (pipe(pfd))
			return perror("api_bench: pipe"), 1;
		p = fork();
		if (p == 0) {
			close(pfd[0]);
			_exit(store_run(stores[s], dir, data, size, runs, pfd[1]));
		}
		close(pfd[1]);
		if (read(pfd[0], &P, sizeof P) != sizeof P || waitpid(p, &st, 0) != p || st) {
			fprintf(stderr, "api_bench: the %s run failed (status 0x%x)\n", stores[s], st);
			return 1;
		}
		close(pfd[0]);
		set[s] = median(P.set, runs);
		jump[s] = median(P.jump, runs);
	}
	rmdir(dir);
	printf("api bench: %zu MiB of dense data, median of %d runs, images in %s\n", mib, runs, dir);
	printf("%-28s %10s %10s %10s %10s\n", "", "ms", "x memcpy", "x fork", "GB/s");
	printf("%-28s %10.2f %10.2f %10.2f %10.2f\n", "memcpy", mc * 1e3, 1.0, mc / fo, size / mc / 1e9);
	printf("%-28s %10.2f %10.2f %10.2f %10s\n", "fork + exit + wait", fo * 1e3, fo / mc, 1.0, "-");
	for (int s = 0; s < 2; s++) {
		char n1[64], n2[64];

		snprintf(n1, sizeof n1, "tsetjmp  (%s)", stores[s]);
		snprintf(n2, sizeof n2, "tlongjmp (%s)", stores[s]);
		printf("%-28s %10.2f %10.2f %10.2f %10.2f\n", n1, set[s] * 1e3, set[s] / mc, set[s] / fo,
		       size / set[s] / 1e9);
		printf("%-28s %10.2f %10.2f %10.2f %10.2f\n", n2, jump[s] * 1e3, jump[s] / mc, jump[s] / fo,
		       size / jump[s] / 1e9);
	}
	return 0;
}
