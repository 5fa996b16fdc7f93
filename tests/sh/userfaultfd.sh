#!/bin/sh
# timeout: 120
# userfaultfd.sh -- a program's own userfaultfd comes back with its
# registrations, its pages and its write protection (issue 17).
#
# Simulates a program that serves part of its memory itself, as a garbage
# collector, a VM monitor or a lazy loader does: a C program (compiled here)
# registers region A for missing pages (its handler thread fills them, and
# maps three of them as zero pages) and region B for write protection (four
# pages protected; a write there is one event, which the handler lifts).  It
# reads 13 pages of A, writes one, checkpoints itself with raise(SIGUSR2),
# and then (restored, or going on) reads all 16 pages of A and writes three
# pages of B, printing what A holds and how many events of each sort the
# handler saw.  A page A held at the checkpoint (the zero pages too) must not
# be asked for again; a page it did not hold must be; a protected page must
# still be protected.
# Checks:
#   1  the program ran and took a checkpoint; nothing was named as lost
#   2  readckpt shows the userfaultfd with its features and its one range
#      of four write-protected pages, and each region's registration
#   3  restored, it prints what the uninterrupted run printed after the
#      checkpoint: the same pages, 3 more missing-page events, 2 write
#      protection events
#   4  the same with --lazy
#   5  a userfaultfd that reports forks (UFFD_FEATURE_EVENT_FORK, which
#      needs CAP_SYS_PTRACE: root's pass only): the checkpoint is written
#      without a fork (a fork would wait for the program to read the event)
#      and the restore prints what the run that went on printed
#   6  two instances: each named at checkpoint time, with the registration
#      they cannot be told apart by; the restorer refuses in one line
#   7  a crafted record (features without the bit UFFDIO_API sets) is
#      refused in one line, exit status 2
# Root and the ordinary user alike (each with a userfaultfd of user mode
# only, all an ordinary user gets while vm.unprivileged_userfaultfd is 0;
# the image says "user mode only" where the process could make no other).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored run is expected to see one event more.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
workdir userfaultfd
rc=0	# under_libckpt's

cat >"$W/uf.c" <<'EOF2'
/* uf IMAGE [plain|fork|two]: a program that serves its own memory through
 * userfaultfd (userfaultfd.sh).  Region A (16 pages) is registered for
 * missing pages: a handler thread fills page i with 'a' + i, except pages
 * 10-12, which it maps as zero pages (UFFDIO_ZEROPAGE).  Region B (16
 * pages, written first) is registered for write protection, pages 4-7
 * protected; a write there is one "wp" event, which the handler lifts.
 * Before the checkpoint pages 0-12 of A are read and page 3 written.  After
 * it (restored, or going on), every line printed: what pages 0-15 of A
 * hold, how many faults each sort the handler saw.  fork: UFFDIO_API with
 * UFFD_FEATURE_EVENT_FORK too (root only); two: a second instance. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
#define PG 4096
static int uffd;
static volatile char *A, *B;	/* (volatile: every access is the program's, in order) */
static volatile int missing, zero, wp;
static char page[PG] __attribute__((aligned(PG)));

static void *handler(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = { uffd, POLLIN, 0 };
		struct uffd_msg m;

		if (poll(&p, 1, -1) != 1 || read(uffd, &m, sizeof(m)) != sizeof(m))
			continue;	/* EINTR: the checkpoint's signal */
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long a = m.arg.pagefault.address & ~(unsigned long)(PG - 1);
		if (m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			struct uffdio_writeprotect w = { { a, PG }, 0 };

			wp++;
			ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
		} else if ((a - (unsigned long)A) / PG >= 10 && (a - (unsigned long)A) / PG <= 12) {
			struct uffdio_zeropage z = { { a, PG }, 0, 0 };

			zero++;
			ioctl(uffd, UFFDIO_ZEROPAGE, &z);
		} else {
			struct uffdio_copy c = { a, (unsigned long)page, PG, 0, 0 };

			missing++;
			memset(page, 'a' + (int)((a - (unsigned long)A) / PG), PG);
			ioctl(uffd, UFFDIO_COPY, &c);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "plain";
	struct uffdio_api api = { UFFD_API, UFFD_FEATURE_THREAD_ID, 0 };
	pthread_t t;
	char line[64];

	if (!ckpt_restore_count || argc < 2) { puts("usage: uf IMAGE under libckpt.so"); return 3; }
	if (!strcmp(mode, "fork"))
		api.features |= UFFD_FEATURE_EVENT_FORK;
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | (strcmp(mode, "fork") ? UFFD_USER_MODE_ONLY : 0));
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("userfaultfd"); return 1; }
	if (!strcmp(mode, "two") && syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY) < 0) { perror("second"); return 1; }
	A = mmap(0, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	B = mmap(0, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset((void *)B, 'B', 16 * PG);
	struct uffdio_register ra = { { (unsigned long)A, 16 * PG }, UFFDIO_REGISTER_MODE_MISSING, 0 };
	struct uffdio_register rb = { { (unsigned long)B, 16 * PG }, UFFDIO_REGISTER_MODE_WP, 0 };
	struct uffdio_writeprotect w = { { (unsigned long)B + 4 * PG, 4 * PG }, UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &ra) || ioctl(uffd, UFFDIO_REGISTER, &rb) || ioctl(uffd, UFFDIO_WRITEPROTECT, &w)) {
		perror("register");
		return 1;
	}
	pthread_create(&t, 0, handler, 0);
	unsigned sum = 0;
	for (int i = 0; i <= 12; i++)
		sum += (unsigned char)A[i * PG];
	A[3 * PG + 1] = 'X';
	printf("before: missing %d zero %d wp %d sum %u\n", missing, zero, wp, sum);
	fflush(stdout);
	raise(SIGUSR2);
	printf("after the checkpoint (restore %lu)\n", ckpt_restore_count() ? 1ul : 0ul);
	for (int i = 0; i < 16; i++) {
		line[i] = A[i * PG] ? A[i * PG] : '0';
		if (A[i * PG + 1] == 'X')
			line[i] = 'X';
	}
	line[16] = 0;
	printf("A %s: missing %d zero %d\n", line, missing, zero);
	B[5 * PG] = 'w';
	B[9 * PG] = 'w';
	B[6 * PG + 7] = 'w';
	printf("B written: wp faults %d\n", wp);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -Wall -pthread -o "$W/uf" "$W/uf.c"

# 1-4: the plain program
rm -f "$W/img"
under_libckpt ./uf "$W/img" plain
if [ "$rc" -eq 0 ] && [ -s "$W/img" ] && grep -q '^before: missing 10 zero 3 wp 0 ' "$W/orig.out" &&
   grep -q '^B written: wp faults 2$' "$W/orig.out" && ! grep -q 'not restored' "$W/orig.err"; then
	ok "the program served its pages and took a checkpoint: $(head -1 "$W/orig.out")"
else
	not_ok "the program failed (status $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
sed -n '/^after the checkpoint/,$p' "$W/orig.out" | sed 's/(restore 0)/(restore 1)/' >"$W/want"
[ "$BRK" = 1 ] && sed -i 's/missing 13/missing 14/' "$W/want"
# user mode only: where this user could not have made any other kind
mode=", user mode only"
[ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 1 ] && mode=
"$ROOT/readckpt" "$W/img" >"$W/readckpt.out" 2>&1
if grep -q ' userfaultfd .*anon_inode:\[userfaultfd\]' "$W/readckpt.out" &&
   grep -q "features 0x100$mode, 1 write-protected ranges\$" "$W/readckpt.out" &&
   [ "$(grep -c 'write-protected 0x' "$W/readckpt.out")" = 1 ] &&
   range=$(sed -n 's/^ *write-protected 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)$/\2 - \1/p' "$W/readckpt.out") &&
   [ $((0x${range% - *} - 0x${range#* - })) = 16384 ] &&
   [ "$(grep -c '64K .*(userfaultfd: missing)$' "$W/readckpt.out")" = 1 ] &&
   [ "$(grep -c '64K .*(userfaultfd: write-protect)$' "$W/readckpt.out")" = 1 ]; then
	ok "readckpt shows the userfaultfd (features 0x100$mode), one range of 4 protected pages, both regions' registrations"
else
	not_ok "readckpt: $(grep -A3 'userfaultfd' "$W/readckpt.out" | tr '\n' '|')"
fi
for how in eager lazy; do
	opt=
	[ $how = lazy ] && opt=--lazy
	# shellcheck disable=SC2086	# no option or one
	restore_got "$W/img" $opt
	if [ "$rrc" -eq 0 ] && cmp -s "$W/got" "$W/want"; then
		ok "restored ($how): what the run that went on printed: $(tr '\n' '|' <"$W/got")"
	else
		not_ok "restored ($how), status $rrc: got '$(tr '\n' '|' <"$W/got")', want '$(tr '\n' '|' <"$W/want")'; $(oneline "$W/restore.err")"
	fi
done

# 5: UFFD_FEATURE_EVENT_FORK
if [ "$(id -u)" = 0 ]; then
	rm -f "$W/img"
	under_libckpt ./uf "$W/img" fork
	sed -n '/^after the checkpoint/,$p' "$W/orig.out" | sed 's/(restore 0)/(restore 1)/' >"$W/want"
	"$ROOT/readckpt" "$W/img" >"$W/readckpt.out" 2>&1
	restore_got "$W/img"
	if [ "$rc" -eq 0 ] && [ "$rrc" -eq 0 ] && cmp -s "$W/got" "$W/want" &&
	   grep -q 'features 0x102, 1 write-protected ranges$' "$W/readckpt.out"; then
		ok "a userfaultfd that reports forks: written without a fork, restored: $(tr '\n' '|' <"$W/got")"
	else
		not_ok "EVENT_FORK: program status $rc, restorer $rrc: got '$(tr '\n' '|' <"$W/got")', want '$(tr '\n' '|' <"$W/want")'; $(oneline "$W/orig.err") $(oneline "$W/restore.err")"
	fi
else
	note "UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE: root's pass tries it"
fi

# 6: two instances
rm -f "$W/img"
under_libckpt ./uf "$W/img" two
if [ "$rc" -eq 0 ] && [ "$(grep -c "^libckpt: $W/img: not restored: fd [34] (anon_inode:\[userfaultfd\]): one of several userfaultfd instances" "$W/orig.err")" = 2 ] &&
   grep -q "^libckpt: $W/img: not restored: mapping flag um: a registration with a userfaultfd the process does not hold alone" "$W/orig.err"; then
	ok "two instances: both named at checkpoint, and the registration"
else
	not_ok "two instances: status $rc: $(oneline "$W/orig.err")"
fi
expect_refused "$W/img" "fd 3 (anon_inode:\[userfaultfd\]: one of several userfaultfd instances" \
	"two instances: refused in one line"

# 7: a crafted record
ED=$ROOT/tests/bin/imgedit
rm -f "$W/img"
under_libckpt ./uf "$W/img" plain
if [ -x "$ED" ]; then
	rec=$("$ED" "$W/img" fds | awk '$2 == 3 { print $1 }')
	"$ED" "$W/img" set-fd "$rec" aux0 0x100 >/dev/null
	expect_refused "$W/img" "fd 3: userfaultfd record out of range" \
		"a record with features but not the bit UFFDIO_API sets: refused in one line"
else
	not_ok "tests/bin/imgedit is not built"
fi
finish
