#!/bin/sh
# snapshot.sh -- CKPT_SNAPSHOT (issue 20): the uffd snapshot (write protection,
# the program going on at once) gives the image of the instant it was taken,
# as the fork does, while the program writes every page of its memory.
#
# The program stamps each page of 128 MiB with the sweep's number, in order,
# over and over: a CPU store in one word and, every 64th page, a read() from
# a pipe into another (a write by the kernel, which must wait for the
# snapshot's handler as the program's own stores do).  A third of the way
# through the second sweep it checkpoints itself (raise(SIGUSR2)) and sweeps
# on; a later checkpoint waits for the image before it and for its writer to
# be gone (one asked for meanwhile would be skipped).  Once restored, it checks the whole memory: the pages before its place
# hold the sweep's number, those after it the one before, and a 64 MiB region
# it never wrote again is whole.  The live program checks each sweep, so a
# snapshot that disturbed its memory is seen too.  Checks:
#   1  (root) CKPT_SNAPSHOT=uffd: the live program's memory as it wrote it,
#      CKPT_VERBOSE counting write faults (> 0) and pages copied aside, the
#      image mode 0600
#   2  (root) that image restored: the memory of the instant, eagerly
#   3  (root) and with --lazy
#   4  (root) the program unmaps memory while the snapshot is written: the
#      checkpoint is abandoned in one line naming it, no image, no temp file
#   5  (root) CKPT_SNAPSHOT unset (auto): three checkpoints, the first by fork,
#      the second by uffd write protection (each measured, CKPT_VERBOSE), the
#      third by whichever cost less per kB; the last image restores right
#      (ordinary user: by fork each time, uffd not tried)
#   5b (root) the same, the program unmapping memory during the second (the
#      uffd snapshot): abandoned, taken again by fork at once, fork after
#   6  (user) CKPT_SNAPSHOT=uffd: one line at start saying the userfaultfd it
#      needs is root's (vm.unprivileged_userfaultfd=0) and that a forked
#      child writes; the image restores right
#   7  CKPT_SNAPSHOT=fork: the same image's instant, restored
#   8  CKPT_SNAPSHOT=lots: one line naming it, chosen automatically
# CKPT_TEST_BREAK=1: the restored program is expected at another sweep.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer"
workdir snapshot

cat >"$W/sweep.c" <<'EOF'
#include "writer_busy.h"
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static uint64_t *pg(uint8_t *m, size_t p) { return (uint64_t *)(m + p * 4096); }
/* a writer of libckpt's is still at work (the program has no thread of its
 * own besides main); a checkpoint asked for meanwhile would be skipped */
static int writer_busy(void)
{
	return threads() > 1 || live_child();
}
static ino_t image_ino(const char *img)
{
	struct stat st;

	return stat(img, &st) ? 0 : st.st_ino;
}
int main(int argc, char **argv)
{
	size_t n = (size_t)atoi(argv[1]) << 8, bad = 0, xlen = 64 << 20;
	const char *mode = argv[2], *img = argv[3];
	int want = !strncmp(mode, "three", 5) ? 3 : 1, raised = 0, images = 0;
	int unmap_at = !strcmp(mode, "unmap") ? 1 : !strcmp(mode, "three-unmap") ? 2 : 0, unmapped = 0;
	uint8_t *m = mmap(0, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *extra = mmap(0, xlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ino_t last = 0;
	int pfd[2];
	uint64_t gen, after = 0, quiet = 3;

	if (m == MAP_FAILED || extra == MAP_FAILED || pipe(pfd))
		return 2;
	memset(extra, 7, xlen);
	for (size_t p = 0; p < n; p++)
		pg(m, p)[0] = pg(m, p)[1] = 1;
	for (gen = 2; gen < 2000; gen++) {
		for (size_t p = 0; p < n; p++) {
			pg(m, p)[0] = gen;
			if (p % 64 == 0) {	/* the kernel writes this word */
				if (write(pfd[1], &gen, 8) != 8 || read(pfd[0], &pg(m, p)[1], 8) != 8)
					return 2;
			} else {
				pg(m, p)[1] = gen;
			}
			if (p == n / 3 && raised < want && images == raised && quiet >= 3 && !writer_busy()) {
				raised++;		/* the next waits for this one's image */
				quiet = 0;
				raise(SIGUSR2);
				if (raised == unmap_at && !unmapped) {
					munmap(extra, xlen);	/* (once: libckpt may map there later) */
					unmapped = 1;
				}
			}
			if (ckpt_restore_count()) {	/* restored: the instant of the raise */
				for (size_t q = 0; q < n; q++) {
					uint64_t w = q <= p ? gen : gen - 1;

					if ((pg(m, q)[0] != w || pg(m, q)[1] != w) && !bad++)
						printf("restored: page %zu of %zu holds %lu/%lu, want %lu (at page %zu of sweep %lu)\n",
						       q, n, pg(m, q)[0], pg(m, q)[1], w, p, gen);
				}
				if ((!unmap_at || raised < unmap_at) && (memchr(extra, 0, xlen) || extra[0] != 7))
					printf("restored: the 64 MiB region is not whole\n"), bad++;
				if (!bad)
					printf("restored: consistent at page %zu of sweep %s\n", p,
					       gen == 2 ? "2" : "N");
				return bad ? 1 : 0;
			}
		}
		for (size_t q = 0; q < n; q++)	/* the live program: memory as it wrote it */
			if (pg(m, q)[0] != gen || pg(m, q)[1] != gen) {
				printf("live: page %zu holds %lu/%lu after sweep %lu\n", q, pg(m, q)[0], pg(m, q)[1], gen);
				return 1;
			}
		if (image_ino(img) != last) {	/* a new image is in place */
			last = image_ino(img);
			images++;
			quiet = 0;
		} else {
			quiet++;
		}
		if (raised == want && (images == want || unmap_at == 1) && ++after == 5) {
			printf("live: each page as written\n");
			return 0;
		}
	}
	printf("live: no image after %lu sweeps\n", gen);
	return 1;
}
EOF
compile_or_fail "compile the sweeping program" cc -O2 -I"$ROOT/tests/sh" -o "$W/sweep" "$W/sweep.c"

MIB=128
ROOTUSER=0
[ "$(id -u)" -eq 0 ] && ROOTUSER=1
want2="restored: consistent at page $((MIB * 256 / 3)) of sweep 2"
wantN="restored: consistent at page $((MIB * 256 / 3)) of sweep N"
if [ "$BRK" -eq 1 ]; then
	want2="restored: consistent at page $((MIB * 256 / 3)) of sweep 3"
	wantN="restored: consistent at page 0 of sweep N"
fi

# sweep MODE [VAR=VALUE...]: the program under libckpt, image $W/img
sweep() {
	s_mode=$1
	shift
	rm -f "$W/img"
	(cd "$W" && env CKPT_FILE="$W/img" CKPT_VERBOSE=1 "$@" timeout 120 env LD_PRELOAD="$ROOT/libckpt.so" \
		./sweep $MIB "$s_mode" "$W/img") >"$W/orig.out" 2>"$W/orig.err"
	rc=$?
}

# restored DESC WANT [--lazy]
restored() {
	r_d=$1 r_want=$2
	shift 2
	(cd "$W" && timeout 60 "$ROOT/restorer" "$@" "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	r_rc=$?
	if [ $r_rc -eq 0 ] && [ "$(cat "$W/rst.out")" = "$r_want" ]; then
		ok "$r_d: $r_want"
	else
		not_ok "$r_d: exit $r_rc, '$(oneline "$W/rst.out")' (want '$r_want'); stderr: $(oneline "$W/rst.err")"
	fi
}

if [ $ROOTUSER -eq 1 ]; then
	# 1-3: the uffd snapshot
	sweep once CKPT_SNAPSHOT=uffd
	faults=$(sed -n 's/.*uffd snapshot: \([0-9]*\) write faults, \([0-9]*\) pages copied aside.*/\1 \2/p' "$W/orig.err")
	mode=$(stat -c %a "$W/img" 2>/dev/null)
	if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] && [ -n "$faults" ] &&
	   [ "${faults%% *}" -gt 0 ] && [ "${faults#* }" -gt 0 ] && [ "$mode" = 600 ]; then
		ok "CKPT_SNAPSHOT=uffd: the live program's memory as written; $faults (write faults, pages copied aside); image 0600"
	else
		not_ok "CKPT_SNAPSHOT=uffd: exit $rc, '$(oneline "$W/orig.out")', mode '$mode'; libckpt: $(oneline "$W/orig.err")"
	fi
	restored "the uffd snapshot, restored" "$want2"
	restored "the uffd snapshot, restored --lazy" "$want2" --lazy

	# 4: memory unmapped while the pages are written
	sweep unmap CKPT_SNAPSHOT=uffd
	if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] && [ ! -e "$W/img" ] &&
	   grep -q "checkpoint abandoned: the program unmapped memory at 0x[0-9a-f]* while the uffd snapshot was written" "$W/orig.err" &&
	   [ -z "$(find "$W" -name '.img.tmp.*')" ]; then
		ok "memory unmapped during the uffd snapshot: $(grep -m1 abandoned "$W/orig.err")"
	else
		not_ok "unmapped during the snapshot: exit $rc, '$(oneline "$W/orig.out")', image $(ls "$W/img" 2>&1); libckpt: $(oneline "$W/orig.err")"
	fi
	how2=uffd
else
	note "1-4: root only (an ordinary user gets no userfaultfd that waits on the kernel's writes here)"
	how2=fork
fi

# 5: auto, three checkpoints
sweep three
methods=$(sed -n 's/.*snapshot by \(fork\|uffd\).*/\1/p' "$W/orig.err" | tr '\n' ' ')
case $methods in
"fork $how2 fork " | "fork $how2 uffd ") good=1 ;;
*) good=0 ;;
esac
if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] && [ $good -eq 1 ] &&
   ! grep -q "abandoned\|failed" "$W/orig.err"; then
	ok "CKPT_SNAPSHOT unset: three checkpoints by $methods($(grep -o 'snapshot by [a-z ]*: [0-9]* us' "$W/orig.err" | tr '\n' ',' ))"
else
	not_ok "auto: exit $rc, '$(oneline "$W/orig.out")', methods '$methods' (want fork $how2 then either); libckpt: $(oneline "$W/orig.err")"
fi
restored "the third image, restored" "$wantN"

# 5b: auto, and the program unmaps memory during the uffd snapshot
if [ $ROOTUSER -eq 1 ]; then
	sweep three-unmap
	methods=$(sed -n 's/.*snapshot by \(fork\|uffd\).*/\1/p' "$W/orig.err" | tr '\n' ' ')
	if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] && [ "$methods" = "fork uffd fork fork " ] &&
	   grep -q "checkpoint abandoned: the program unmapped memory at 0x[0-9a-f]* while the uffd snapshot was written (it is taken again, by a fork)$" "$W/orig.err" &&
	   ! grep -q "failed" "$W/orig.err"; then
		ok "auto, memory unmapped during the uffd snapshot: taken again by fork, fork from then on ($methods)"
	else
		not_ok "auto with an unmap: exit $rc, '$(oneline "$W/orig.out")', methods '$methods' (want fork uffd fork fork); libckpt: $(oneline "$W/orig.err")"
	fi
	restored "its last image, restored" "$wantN"
fi

# 6: the ordinary user asks for uffd
if [ $ROOTUSER -eq 0 ]; then
	sweep once CKPT_SNAPSHOT=uffd
	if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] &&
	   grep -q "^libckpt: CKPT_SNAPSHOT=uffd: no userfaultfd that also waits on the kernel's writes (errno 1; an ordinary user needs vm.unprivileged_userfaultfd=1): images are written by a forked child$" "$W/orig.err" &&
	   [ "$(grep -c CKPT_SNAPSHOT "$W/orig.err")" -eq 1 ]; then
		ok "an ordinary user asking for uffd: $(grep -m1 CKPT_SNAPSHOT "$W/orig.err")"
	else
		not_ok "ordinary user, CKPT_SNAPSHOT=uffd: exit $rc, '$(oneline "$W/orig.out")'; libckpt: $(oneline "$W/orig.err")"
	fi
	restored "its image, written by fork, restored" "$want2"
else
	note "6: the ordinary user's pass runs it"
fi

# 7: fork, the same instant
sweep once CKPT_SNAPSHOT=fork
if [ $rc -eq 0 ] && [ "$(cat "$W/orig.out")" = "live: each page as written" ] && ! grep -q "uffd" "$W/orig.err"; then
	restored "CKPT_SNAPSHOT=fork, restored" "$want2"
else
	not_ok "CKPT_SNAPSHOT=fork: exit $rc, '$(oneline "$W/orig.out")'; libckpt: $(oneline "$W/orig.err")"
fi

# 8: a word it does not know
sweep once CKPT_SNAPSHOT=lots
if [ $rc -eq 0 ] && grep -q "^libckpt: CKPT_SNAPSHOT=lots: not fork, uffd, inplace or auto: chosen automatically$" "$W/orig.err" &&
   [ "$(grep -c CKPT_SNAPSHOT "$W/orig.err")" -eq 1 ] && [ -e "$W/img" ]; then
	ok "CKPT_SNAPSHOT=lots: $(grep -m1 CKPT_SNAPSHOT "$W/orig.err")"
else
	not_ok "CKPT_SNAPSHOT=lots: exit $rc; libckpt: $(oneline "$W/orig.err")"
fi
finish
