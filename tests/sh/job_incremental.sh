#!/bin/sh
# timeout: 150
# job_incremental.sh -- CKPT_INCREMENTAL for a job (issue 16): each process
# of the job keeps a chain of its own images, named by the job's checkpoints.
#
# A parent and two workers it forked, 64 MiB each, rewrite one MiB of their
# memory every 100 ms, 70 times, and each its own MiB of a shared mapping
# (MAP_SHARED anonymous, the job's shared memory), where it also wrote
# another MiB once at the start; at the end each checks that every MiB
# holds the last value written to it.  Three `ckpt dump`s of the parent with
# CKPT_INCREMENTAL=1 CKPT_KEEP=2, then it is killed.  Checks:
#   1  the first checkpoint's images are full (the workers' tracking is their
#      own, not their parent's); the next ones are a chain: each image names
#      the process's previous one as its parent and holds less than a third
#      of a full one
#   2  restored eagerly from the last table: every process's memory checks
#   3  the same with --lazy
#   4  the older table (img.1) restores too: its chains were kept
#   5  `ckpt merge img merged`: a table of 3 full images beside it, which
#      restores the same way; img's files unchanged
# Root and the ordinary user.  CKPT_TEST_BREAK=1: the workers expect a wrong value.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
need_cc
command -v setsid >/dev/null || skip "no setsid"
workdir jobincr

cat >"$W/rewrite.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#define MIB (1 << 20)
#define ROUNDS 70
static int off;				/* CKPT_TEST_BREAK: expect one more */
static unsigned char *shared;		/* a MiB of it each */
static int work(const char *who, int slot)
{
	unsigned char *m = malloc(64 * MIB), *mine = shared + slot * (size_t)MIB;
	unsigned char *once = shared + (slot + 3) * (size_t)MIB;	/* written before the checkpoints only */

	if (!m)
		return 2;
	memset(m, 1, 64 * MIB);
	memset(once, 0x40 + slot, MIB);
	for (int t = 1; t <= ROUNDS; t++) {
		memset(m + (t % 64) * (size_t)MIB, t & 0xff, MIB);
		memset(mine, (t * 3) & 0xff, MIB);
		if (t == 5)
			printf("%s ready\n", who);
		usleep(100000);
	}
	for (int k = 0; k < 64; k++) {
		int want = 1;

		for (int t = 1; t <= ROUNDS; t++)
			if (t % 64 == k)
				want = t & 0xff;
		for (size_t b = 0; b < MIB; b++)
			if (m[k * (size_t)MIB + b] != ((want + off) & 0xff)) {
				printf("%s bad at MiB %d\n", who, k);
				return 1;
			}
	}
	for (size_t b = 0; b < MIB; b++)
		if (mine[b] != ((ROUNDS * 3 + off) & 0xff) || once[b] != 0x40 + slot) {
			printf("%s bad in its shared MiB\n", who);
			return 1;
		}
	printf("%s ok\n", who);
	return 0;
}
int main(int argc, char **argv)
{
	pid_t w1, w2;
	int s1, s2, r;

	off = argc > 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	shared = mmap(NULL, 6 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 2;
	if ((w1 = fork()) == 0)
		return work("w1", 1);
	if ((w2 = fork()) == 0)
		return work("w2", 2);
	r = work("parent", 0);
	waitpid(w1, &s1, 0);
	waitpid(w2, &s2, 0);
	printf("workers %d %d\n", WEXITSTATUS(s1), WEXITSTATUS(s2));
	return r;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/rewrite" "$W/rewrite.c"
brk=
[ "$BRK" -eq 1 ] && brk=break

(cd "$W" && CKPT_INCREMENTAL=1 CKPT_KEEP=2 CKPT_FILE="$W/img" exec setsid env LD_PRELOAD="$ROOT/libckpt.so" \
	./rewrite $brk >"$W/prog.out" 2>"$W/prog.err" </dev/null) &
pgid=$!
wait_for 20 sh -c "[ \$(grep -c ready '$W/prog.out') -eq 3 ]"
rcs=
for n in 1 2 3; do
	"$ROOT/ckpt" dump "$pgid" >"$W/dump$n.out" 2>&1
	rcs="$rcs$?"
	ls -A "$W" | grep '^\.img\.[0-9a-f]*\.[0-9]*$' | sort >"$W/after$n"
	sleep 0.7
done
kill -9 "-$pgid"
pgid=
first=$(cat "$W/after1")
later=$(comm -13 "$W/after1" "$W/after3")
full=0 small=0 chained=0
for f in $first; do
	[ "$(stat -c %s "$W/$f")" -gt $((60 << 20)) ] && full=$((full + 1))
done
for f in $later; do
	[ "$(stat -c %s "$W/$f")" -lt $((22 << 20)) ] && small=$((small + 1))
	"$ROOT/readckpt" "$W/$f" 2>/dev/null | grep -q "^  parent  *\.img\.[0-9a-f]*\.${f##*.} " && chained=$((chained + 1))
done
if [ "$rcs" = 000 ] && [ $full -eq 3 ] && [ "$(echo $later | wc -w)" -eq 6 ] && [ $small -eq 6 ] && [ $chained -eq 6 ]; then
	ok "3 dumps: 3 full images, then 6 that each name the process's previous image as parent and hold under 22 MiB"
else
	not_ok "dumps rc $rcs: $full full of $(echo $first | wc -w), $small small and $chained chained of $(echo $later | wc -w): $(ls -lA "$W" | grep ' \.img\.' | awk '{ print $5, $9 }' | tr '\n' ' '); libckpt: $(oneline "$W/prog.err")"
fi

restore() {
	(cd "$W" && timeout 60 "$ROOT/restorer" $1 "$W/$2" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	rc=$?
	if [ $rc -eq 0 ] && grep -qx "parent ok" "$W/rst.out" && grep -qx "w1 ok" "$W/rst.out" &&
	   grep -qx "w2 ok" "$W/rst.out" && grep -qx "workers 0 0" "$W/rst.out"; then
		ok "$2 restored ${1:-eagerly}: every MiB of the 3 processes holds its last value"
	else
		not_ok "$2 restored ${1:-eagerly}: rc $rc: $(oneline "$W/rst.out"); stderr $(oneline "$W/rst.err")"
	fi
}
restore "" img
restore --lazy img
restore "" img.1

sums() { (cd "$W" && cat img $(ls -A | grep '^\.img\.' | sort) | md5sum); }
before=$(sums)
"$ROOT/ckpt" merge "$W/img" "$W/merged" >"$W/merge.out" 2>&1
mrc=$?
depths=$(for f in $(ls -A "$W" | grep '^\.merged\.[0-9a-f]*\.[0-9]*$'); do "$ROOT/readckpt" "$W/$f" | grep -c '^  parent '; done | tr '\n' ' ')
if [ $mrc -eq 0 ] && [ "$depths" = "0 0 0 " ] && [ "$(sums)" = "$before" ]; then
	ok "ckpt merge: 3 full images beside the merged table; img's files unchanged"
else
	not_ok "ckpt merge: rc $mrc: $(oneline "$W/merge.out"); parents per image: $depths"
fi
restore "" merged
finish
