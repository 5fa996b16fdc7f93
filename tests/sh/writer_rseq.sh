#!/bin/sh
# timeout: 300
# writer_rseq.sh -- a writer does not let the kernel or the program change
# the pages it writes while it writes them.
#
# glibc registers an rseq area in each thread's TLS, and a fork keeps the
# registration: a writer forked by a thread would have the kernel write its
# CPU number into that thread's TLS (a page of the image) each time it comes
# back to user space on another CPU.  A page that changes between the moment
# its crc is taken and the moment it is written makes an image the restorer
# refuses as corrupted.  (Seen once in CI: "page data checksum mismatch".)
# A writer inside the process (in place: CKPT_SNAPSHOT=inplace, which auto
# picks for a sparse process; also CKPT_FORK=0) shares the memory with the
# program's threads, stopped in libckpt or waiting for the pages: the kernel
# writes their rseq areas when they come back to user space on another CPU,
# and the thread waiting pushes return addresses on its stack.  (Seen in
# make bench, about one sparse run in 16: "page data checksum mismatch".)
#
# The program makes that likely: a thread whose stack (and so its TLS, at
# the top) is a region of the program's, holding only a few pages of data (a
# small run, whose crc is taken when it is gathered and which is written
# later with the others), above which a 32 MiB region has every other page
# written (8192 small runs gathered after it).  The thread sends itself the
# trigger N times, so the handler runs on libckpt's stacks, not on the
# thread's (which would be read through a bounce buffer); each image is kept.
#   1  forked writers: meanwhile a helper moves each writer from CPU to CPU
#      as fast as it can (sched_setaffinity, which the owner of a process may
#      do); every image is complete and all N restore: the restored program
#      says the data of both regions is as it was (the restorer checks every
#      crc before it changes anything);
#   2  written in place (CKPT_SNAPSHOT=inplace): while a writer thread is at
#      work, a helper stops the process, moves each of its threads to the
#      other CPU and lets it go on, over and over (each thread comes back to
#      user space, restarting its system call, on another CPU); all N restore.
# Needs 2 CPUs (else skipped: a writer cannot be moved).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored program expects another pattern.

set -u
. "$(dirname "$0")/lib.sh"
workdir writer_rseq
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer"
[ "$(nproc)" -ge 2 ] || skip "one CPU: a writer cannot be moved between CPUs"
N=16
brk=
[ "$BRK" = 1 ] && brk=break

cat >"$W/prog.c" <<'PROG'
/* prog N [BREAK]: a thread on a stack of ours takes N checkpoints, each kept
 * as img.K; restored, it checks its data and prints "restored K ok". */
#define _GNU_SOURCE
#include "writer_busy.h"
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPARSE	(72ul << 20)
#define WRITTEN(p)	((p) % 17 != 16)	/* runs of 16 pages: the longest gathered */
#define STACK	(16ul << 20)
static char *sparse;
static int brk_test, n;
static unsigned long (*restores)(void);

static uint64_t want(uint64_t page, uint64_t word) { return page * 0x9e3779b97f4a7c15ull ^ word ^ (brk_test ? 1 : 0); }

static const char *check(void)
{
	for (uint64_t p = 0; p < SPARSE / 4096; p++)
		for (uint64_t w = 0; w < 512 && WRITTEN(p); w++)
			if (((uint64_t *)(sparse + p * 4096))[w] != want(p, w))
				return "sparse region changed";
	return 0;
}

static void *taker(void *arg)
{
	char img[64];
	struct stat st;
	unsigned long seen = restores();
	(void)arg;

	for (int k = 0; k < n; k++) {
		unlink("img");
		pthread_kill(pthread_self(), SIGUSR2);	/* the trigger, on this thread */
		if (restores() != seen) {		/* restored from image k */
			const char *why = check();

			printf("restored %d %s\n", k, why ? why : "ok");
			fflush(stdout);
			_exit(why ? 1 : 0);
		}
		for (int t = 0; (stat("img", &st) || live_child() || threads() > 2) && t < 3000; t++)
			usleep(10000);			/* img is linked, the writer gone */
		snprintf(img, sizeof(img), "img.%d", k);
		if (rename("img", img)) { printf("no image %d\n", k); return 0; }
	}
	printf("took %d\n", n);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_attr_t a;
	pthread_t t;
	char *stack;

	if (argc < 2) return 2;
	n = atoi(argv[1]);
	/* a pipe inherited from the test runner would make the image refused */
	for (int fd = 3; fd < 1024; fd++) {
		char l[64], to[64];
		ssize_t k;

		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		k = readlink(l, to, sizeof(to) - 1);
		if (k > 0 && (!strncmp(to, "pipe:", 5) || !strncmp(to, "socket:", 7)))
			close(fd);
	}
	restores = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	if (!restores) { printf("not under libckpt.so\n"); return 2; }
	/* the sparse region first: mmap goes down, so the stack is below it and
	 * its runs come first in the image */
	sparse = mmap(0, SPARSE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack = mmap(0, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sparse == MAP_FAILED || stack == MAP_FAILED) return 2;
	madvise(sparse, SPARSE, MADV_NOHUGEPAGE);
	for (uint64_t p = 0; p < SPARSE / 4096; p++)
		for (uint64_t w = 0; w < 512 && WRITTEN(p); w++)
			((uint64_t *)(sparse + p * 4096))[w] = want(p, w) ^ (brk_test ? 1 : 0);
	brk_test = argc > 2;
	pthread_attr_init(&a);
	pthread_attr_setstack(&a, stack, STACK);	/* glibc puts the TLS at its top */
	if (pthread_create(&t, &a, taker, 0)) return 2;
	pthread_join(t, 0);
	return 0;
}
PROG
cat >"$W/mover.c" <<'PROG'
/* mover PID SECONDS: move every child of PID's threads (libckpt's writers)
 * from CPU to CPU, as fast as it can, until SECONDS are up or PID is gone.
 * mover PID SECONDS stop: whenever PID has more than 2 threads (an in-place
 * writer is at work), stop PID, move each of its threads to the other CPU,
 * let it go on.  Prints how many moves (or stops) it made. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int flip;

static int to_other_cpu(int tid)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(flip++ & 1, &s);
	return sched_setaffinity(tid, sizeof(s), &s) == 0;
}

int main(int argc, char **argv)
{
	int pid = atoi(argv[1]), stop = argc > 3 && !strcmp(argv[3], "stop");
	time_t end = time(0) + atoi(argv[2]);
	long moved = 0;
	char path[64];

	while (time(0) < end && kill(pid, 0) == 0) {
		int tids[64], n = 0;
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		if (!(d = opendir(path)))
			break;
		while ((e = readdir(d)) && n < 64)
			if (e->d_name[0] != '.')
				tids[n++] = atoi(e->d_name);
		closedir(d);
		if (stop) {
			if (n <= 2)
				continue;
			kill(pid, SIGSTOP);
			for (int i = 0; i < n; i++)
				to_other_cpu(tids[i]);
			flip++;
			kill(pid, SIGCONT);
			moved++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			char cp[128];
			FILE *f;
			int c;

			snprintf(cp, sizeof(cp), "/proc/%d/task/%d/children", pid, tids[i]);
			if (!(f = fopen(cp, "r")))
				continue;
			while (fscanf(f, "%d", &c) == 1)
				for (int k = 0; k < 50; k++)
					moved += to_other_cpu(c);
			fclose(f);
		}
	}
	printf("%ld\n", moved);
	return 0;
}
PROG
compile_or_fail "cannot build the program" cc -O2 -pthread -I"$ROOT/tests/sh" -o "$W/prog" "$W/prog.c" -ldl
compile_or_fail "cannot build the mover" cc -O2 -o "$W/mover" "$W/mover.c"

# take WHAT ENV...: the program takes N images under ENV while the mover
# (MOVER_ARGS) works, then each must restore
take() {
	what=$1
	shift
	rm -f "$W"/img "$W"/img.*
	(cd "$W" && exec env CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" "$@" "$W/prog" $N $brk) \
		>"$W/orig.out" 2>"$W/orig.err" &
	pid=$!
	"$W/mover" $pid 60 $MOVER_ARGS >"$W/mover.out" 2>&1
	wait $pid
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q "^took $N" "$W/orig.out"; then
		not_ok "$what: the program took no $N images (exit $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
		return
	fi
	note "$what: the mover made $(cat "$W/mover.out") moves"
	good=0 bad=
	for k in $(seq 0 $((N - 1))); do
		got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img.$k" 2>"$W/restore.$k.err")
		if [ "$got" = "restored $k ok" ]; then
			good=$((good + 1))
		else
			bad="$bad img.$k: '$got' $(oneline "$W/restore.$k.err");"
		fi
	done
	if [ $good -eq $N ]; then
		ok "all $N images $what restore with their data"
	else
		not_ok "$what: $good of $N images restore:$bad"
	fi
}
at_exit 'kill -9 $pid 2>/dev/null'

MOVER_ARGS=
take "taken while their writers were moved" env
MOVER_ARGS=stop
take "written in place while the program was stopped and moved" env CKPT_SNAPSHOT=inplace
finish
