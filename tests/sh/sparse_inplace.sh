#!/bin/sh
# sparse_inplace.sh -- a sparse process is written in place, by a thread.
#
# Simulates a job with a large, mostly untouched address space: 1 GiB mapped
# and read all through (its page tables map the zero page everywhere), 8 MiB
# of it written in 64 KiB pieces spread over it, and a second thread that
# stores a counter into two pages, one after the other, without pause.
# A kernel without the shared zero page (pvm_no_zero_page=1: a read fault
# gives a zeroed page of its own) would make that GiB resident anonymous
# memory; there the GiB is a MAP_PRIVATE mapping of a sparse 1 GiB file in
# the test's dir instead (MADV_NOHUGEPAGE: mapped page by page), read all
# through: page-cache pages, the same page tables, and the 8 MiB written are
# the only anonymous pages.  A probe at run time picks one; a `#` line says which.
# Copying its page tables (a fork) would cost more than writing its few
# pages, so libckpt writes the image itself, from a thread of its own, and
# lets the program go on once the pages are in the file.
#   A  SIGUSR2 with CKPT_VERBOSE=1: libckpt says the image was written in
#      place; the image restores, with both threads; the restored program
#      finds its 8 MiB and zeros elsewhere.
#   B  the program raises SIGUSR2 itself, then at once changes a byte of
#      each piece and writes into the pages after it and before the next,
#      which held nothing, and returns from main: the image is complete all
#      the same (exit waits for the writer thread) and restores as it was at
#      the checkpoint.
#   C  the program raises SIGUSR2 and forks at once; the child (which has no
#      writer thread, though its copy of libckpt's memory says one runs) takes
#      a tsetjmp() image and exits; the parent's image is complete.
#   D  (root: a userfaultfd) B and C again with CKPT_SNAPSHOT=uffd, which
#      write-protects only the pages with data: what B writes after the
#      checkpoint is not in the image, with data or without; C's child has
#      no fault handler either, and does not wait for one.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the program (its environment is saved with it) is told
# to expect a wrong byte after restore.

set -u
. "$(dirname "$0")/lib.sh"
workdir sparse_inplace
pid=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null'
need_cc

# check_restore X WHAT: restore $W/X.img; the program must check itself out
check_restore() {
	(cd "$W" && exec timeout -k 1 30 "$ROOT/restorer" "$W/$1.img") >"$W/$1.1.out" 2>"$W/$1.1.err" </dev/null
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^restored ok" "$W/$1.1.out"; then
		ok "$2"
	else
		not_ok "$2: restore exit $rc: $(tr '\n' '|' <"$W/$1.1.out") $(tr '\n' '|' <"$W/$1.1.err")"
	fi
}

cat >"$W/sp.c" <<'EOF2'
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SIZE	(1ul << 30)
#define PIECE	(64u << 10)
#define PIECES	128			/* 8 MiB */
static unsigned char *mem;
static volatile uint64_t pair[2 * 512];	/* two pages */
static volatile int started;
static int brk_byte;

static void *count(void *a)
{
	for (uint64_t n = 1;; n++) {
		pair[0] = n;
		pair[512] = n;
		started = 1;
	}
	return a;
}

static unsigned char at(size_t k, size_t i) { return (unsigned char)(k * 31 + i * 7 + 1); }

static long rss_anon_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "RssAnon:", 8))
			kb = atol(line + 8);
	if (f)
		fclose(f);
	return kb;
}

/* "probe": does a read fault on fresh anonymous memory map the shared zero
 * page (RssAnon stays) or allocate a page (RssAnon grows)? */
static int probe(void)
{
	size_t len = 4u << 20;
	volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long before = rss_anon_kb();

	if (p == MAP_FAILED || before < 0)
		return 2;
	for (size_t o = 0; o < len; o += 4096)
		(void)p[o];		/* volatile: each read is a fault */
	puts(rss_anon_kb() - before >= (long)(len >> 11) ? "no-zero-page" : "zero-page");
	return 0;
}

/* the GiB: anonymous, or (SPARSE_FILE) a private mapping of a sparse file */
static unsigned char *map_gib(void)
{
	const char *file = getenv("SPARSE_FILE");
	unsigned char *m;
	int fd;

	if (!file)
		return mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return MAP_FAILED;
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	close(fd);
	if (m != MAP_FAILED && madvise(m, SIZE, MADV_NOHUGEPAGE))
		return MAP_FAILED;		/* PMD-mapped folios would leave no page tables */
	return m;
}

int main(int argc, char **argv)
{
	pid_t pid0 = getpid();
	size_t step = SIZE / PIECES;
	volatile unsigned long sum = 0;
	pthread_t t;

	if (argc > 1 && !strcmp(argv[1], "probe"))
		return probe();
	syscall(SYS_close_range, 3, ~0u, 0);
	brk_byte = getenv("BRK") != NULL;
	mem = map_gib();
	if (mem == MAP_FAILED)
		return 2;
	for (size_t o = 0; o < SIZE; o += 4096)
		sum += mem[o];			/* the zero page everywhere, or the file's holes */
	for (size_t k = 0; k < PIECES; k++)
		for (size_t i = 0; i < PIECE; i++)
			mem[k * step + i] = at(k, i);
	pthread_create(&t, NULL, count, NULL);
	while (!started)
		usleep(1000);
	if (argc > 1 && !strcmp(argv[1], "fork")) {	/* C */
		int (*tsj)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "tsetjmp");
		pid_t kid;
		int st = -1;

		raise(SIGUSR2);
		if (getpid() != pid0)
			return 0;		/* (restored: not asked for here) */
		kid = fork();
		if (kid == 0) {		/* (gone with its parent, should timeout end a hang) */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != pid0)
				_exit(3);
			_exit(tsj && tsj() >= 0 ? 0 : 3);
		}
		waitpid(kid, &st, 0);
		printf("child %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
		return 0;
	} else if (argc > 1) {			/* B: checkpoint, write, and leave at once */
		raise(SIGUSR2);
		if (getpid() == pid0) {
			for (size_t k = 0; k < PIECES; k++) {
				mem[k * step] ^= 0xff;		/* a page of data */
				mem[k * step + PIECE] = 0xee;	/* pages that held nothing */
				mem[k * step + step - 1] = 0xee;
			}
			return 0;
		}
	} else {
		puts("ready");
		fflush(stdout);
		while (getpid() == pid0)
			usleep(1000);
	}
	/* restored (with the counter thread) */
	for (size_t k = 0; k < PIECES; k++)
		for (size_t i = 0; i < PIECE; i += 509)
			if (mem[k * step + i] != (unsigned char)(at(k, i) + brk_byte)) {
				printf("bad byte at piece %zu offset %zu\n", k, i);
				return 1;
			}
	for (size_t k = 0; k < PIECES; k++)
		if (mem[k * step + PIECE] || mem[k * step + step - 1]) {
			printf("not zero after piece %zu\n", k);
			return 1;
		}
	printf("restored ok\n");
	return 0;
}
EOF2
compile_or_fail build cc -O1 -pthread -o "$W/sp" "$W/sp.c"
brk=
[ $BRK = 1 ] && brk=1
sparse=
case $("$W/sp" probe) in
zero-page)
	echo "# simulation: 1 GiB of anonymous memory read through (the kernel maps the zero page)" ;;
no-zero-page)
	sparse=$W/sparse.1g
	if ! truncate -s 1G "$sparse"; then
		not_ok "truncate -s 1G $sparse"
		exit 1
	fi
	echo "# simulation: a private mapping of a sparse 1 GiB file read through (this kernel has no zero page: a read fault allocates)" ;;
*)
	not_ok "probe of the kernel's zero page failed"
	exit 1 ;;
esac

# A
(cd "$W" && exec env ${brk:+BRK=1} ${sparse:+SPARSE_FILE=$sparse} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/a.img" CKPT_VERBOSE=1 ./sp) \
	>"$W/a0.out" 2>"$W/a0.err" </dev/null &
pid=$!
wait_for 30 grep -q ready "$W/a0.out" 2>/dev/null
kill -USR2 $pid
wait_for 10 test -s "$W/a.img"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
pid=
if grep -q "written in place" "$W/a0.err"; then
	ok "libckpt wrote the image of the sparse process in place: $(grep 'in place' "$W/a0.err" | head -n 1)"
else
	not_ok "not written in place (image $(stat -c %s "$W/a.img" 2>/dev/null) bytes): $(tr '\n' '|' <"$W/a0.err")"
fi
check_restore a "restored: its 8 MiB are there, zeros elsewhere"

# B
(cd "$W" && exec env ${brk:+BRK=1} ${sparse:+SPARSE_FILE=$sparse} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/b.img" ./sp now) >"$W/b0.out" 2>"$W/b0.err" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ -s "$W/b.img" ] && ! ls "$W"/.b.img.tmp.* >/dev/null 2>&1; then
	ok "a program that returns from main right after its checkpoint leaves a complete image, no temp file"
else
	not_ok "exit right after the checkpoint: exit $rc, image $(stat -c %s "$W/b.img" 2>/dev/null), $(ls -a "$W" | tr '\n' ' ') $(tr '\n' '|' <"$W/b0.err")"
fi
check_restore b "that image restores"

# C
mkdir -p "$W/store"
(cd "$W" && exec env ${sparse:+SPARSE_FILE=$sparse} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/c.img" CKPT_DIR="$W/store" \
	timeout -k 1 30 ./sp fork) >"$W/c0.out" 2>"$W/c0.err" </dev/null
rc=$?
if [ $rc -eq 0 ] && grep -qx "child ok" "$W/c0.out" && [ -s "$W/c.img" ]; then
	ok "fork right after the checkpoint: the child's tsetjmp() works (no wait for a thread it lacks), the image is complete"
else
	not_ok "fork right after the checkpoint: exit $rc: $(tr '\n' '|' <"$W/c0.out") $(tr '\n' '|' <"$W/c0.err")"
fi

# D
if [ "$(id -u)" != 0 ]; then
	note "D skipped: CKPT_SNAPSHOT=uffd needs a userfaultfd that waits in the kernel (root here)"
	finish
fi
(cd "$W" && exec env ${brk:+BRK=1} ${sparse:+SPARSE_FILE=$sparse} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/d.img" \
	CKPT_SNAPSHOT=uffd CKPT_VERBOSE=1 timeout -k 1 30 ./sp now) >"$W/d0.out" 2>"$W/d0.err" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ -s "$W/d.img" ] && grep -q "uffd snapshot: [0-9]* write faults" "$W/d0.err"; then
	ok "CKPT_SNAPSHOT=uffd, writes right after the checkpoint: $(grep -m1 -o 'uffd snapshot: .*' "$W/d0.err")"
else
	not_ok "CKPT_SNAPSHOT=uffd, writes right after the checkpoint: exit $rc, image $(stat -c %s "$W/d.img" 2>/dev/null): $(tr '\n' '|' <"$W/d0.err")"
fi
check_restore d "CKPT_SNAPSHOT=uffd: the image is the checkpoint's, without what was written after it"
mkdir -p "$W/store.d"
(cd "$W" && exec env ${sparse:+SPARSE_FILE=$sparse} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/e.img" CKPT_DIR="$W/store.d" \
	CKPT_SNAPSHOT=uffd timeout -k 1 30 ./sp fork) >"$W/e0.out" 2>"$W/e0.err" </dev/null
rc=$?
if [ $rc -eq 0 ] && grep -qx "child ok" "$W/e0.out" && [ -s "$W/e.img" ]; then
	ok "CKPT_SNAPSHOT=uffd, fork right after the checkpoint: the child's tsetjmp() does not wait for the parent's fault handler"
else
	not_ok "CKPT_SNAPSHOT=uffd, fork right after the checkpoint: exit $rc: $(tr '\n' '|' <"$W/e0.out") $(tr '\n' '|' <"$W/e0.err")"
fi
finish
