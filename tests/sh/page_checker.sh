#!/bin/sh
# timeout: 150
# page_checker.sh -- an eager restore has its pages made present on a second
# CPU while it reads and sums them, and still refuses a corrupted page
# (issue 20: eager restore against read()).
#
# The restorer reads each region's pages into place; where the process may
# run on two CPUs or more and the image holds 16 MiB of pages or more, a
# thread of its own makes a long run's pages present (MADV_POPULATE_WRITE)
# a few MiB ahead of the main thread, which reads each piece once that
# thread is past it and takes its CRC-32C; the main thread has waited for
# every piece by the end of the run, before it moves a region built apart
# (mremap) or takes read access away.  Simulates a program (a C program
# compiled here) with 48 MiB of data in three shapes: one plain region, two
# twin regions (adjacent, alike: built apart and moved in), and a region
# made PROT_NONE after it was filled.  It checkpoints itself
# (raise(SIGUSR2)) and, restored, sums each one and prints the sums; the
# run that went on prints them too.
# Checks:
#   1  the program ran and took a checkpoint
#   2  restored with -v: the restorer says the pages were made present
#      ahead by a second thread (where nproc says 2 or more; else noted),
#      and the program prints the sums of the run that went on
#   3  the same pinned to one CPU (taskset): made present inline, same sums
#   4  one bit flipped in a page of the first region, of the last piece of
#      the twins, of the PROT_NONE region: each refused, exit status 2, one
#      line "page data checksum mismatch at 0x...: image corrupted" naming
#      the run's address, nothing printed by the program; and pinned to one
#      CPU the same
# Root and the ordinary user alike.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: a flipped bit is expected to restore.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/tests/bin/imgedit"
workdir page_checker
rc=0	# under_libckpt's
IE=$ROOT/tests/bin/imgedit

cat >"$W/fill.c" <<'EOF2'
/* fill IMAGE: 48 MiB in a plain region (32 MiB), twin regions (2 x 4 MiB)
 * and a region made PROT_NONE (8 MiB); checkpoint; print each one's sum */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
#define MiB (1ul << 20)
static uint64_t x = 88172645463325252ull;
static void fill(uint64_t *p, size_t n)
{
	for (size_t i = 0; i < n / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
}
static uint64_t sum(const uint64_t *p, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n / 8; i++)
		s = s * 31 + p[i];
	return s;
}
int main(void)
{
	uint64_t *plain = mmap(0, 32 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* twins: one mapping of 8 MiB split into two regions by a name */
	char *t = mmap(0, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *none = mmap(0, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (!ckpt_restore_count) { puts("usage: fill under libckpt.so"); return 3; }
	fill(plain, 32 * MiB);
	fill((uint64_t *)t, 8 * MiB);
	fill(none, 8 * MiB);
	/* separate anon_vmas: the second half remapped from a mapping of its own */
	void *half = mmap(0, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(half, 4 * MiB);
	mremap(half, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, t + 4 * MiB);
	uint64_t s_none = sum(none, 8 * MiB);
	mprotect(none, 8 * MiB, PROT_NONE);
	printf("regions %p %p %p\n", (void *)plain, (void *)t, (void *)none);
	fflush(stdout);
	raise(SIGUSR2);
	mprotect(none, 8 * MiB, PROT_READ);
	printf("sums %lx %lx %lx (none was %lx)\n", (unsigned long)sum(plain, 32 * MiB),
	       (unsigned long)sum((uint64_t *)t, 8 * MiB), (unsigned long)sum(none, 8 * MiB), (unsigned long)s_none);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -Wall -o "$W/fill" "$W/fill.c"

under_libckpt ./fill
if [ "$rc" -eq 0 ] && [ -s "$W/img" ] && grep -q '^sums ' "$W/orig.out"; then
	ok "the program filled 48 MiB and took a checkpoint: $(tr '\n' '|' <"$W/orig.out")"
else
	not_ok "the program failed (status $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
want=$(grep '^sums ' "$W/orig.out")

# restore [one] IMAGE [-v]: the restorer (one: pinned to one CPU it may use);
# stdout in got, stderr in rst.err, status rrc
restore() {
	pin=
	if [ "$1" = one ]; then
		pin="taskset -c $(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')"
		shift
	fi
	# shellcheck disable=SC2086	# pin: a command and its arguments, or nothing
	(cd "$W" && timeout 60 $pin "$ROOT/restorer" ${2:-} "$1") >"$W/got" 2>"$W/rst.err"
	rrc=$?
}

ncpu=$(nproc)
restore "$W/img" -v
if [ "$ncpu" -ge 2 ]; then said="pages made present ahead by a second thread"; else said="pages made present inline"; fi
if [ "$rrc" -eq 0 ] && [ "$(cat "$W/got")" = "$want" ] && grep -q "^restorer: $W/img: $said" "$W/rst.err"; then
	ok "restored ($ncpu CPUs): $said; the sums of the run that went on: $want"
else
	not_ok "restored ($ncpu CPUs): status $rrc, got '$(oneline "$W/got")', want '$want'; $(grep 'made present' "$W/rst.err")"
fi
[ "$ncpu" -ge 2 ] || note "one CPU here: the second thread is not tried"
restore one "$W/img" -v
if [ "$rrc" -eq 0 ] && [ "$(cat "$W/got")" = "$want" ] &&
   grep -q "^restorer: $W/img: pages made present inline: one CPU" "$W/rst.err"; then
	ok "restored on one CPU: made present inline, the same sums"
else
	not_ok "restored on one CPU: status $rrc, got '$(oneline "$W/got")', want '$want'; $(grep 'made present' "$W/rst.err")"
fi

# 4: a bit flipped in a page of each shape; the run holding it is named.
# locate ADDRESS (hex, without 0x): the run holding it, as run (its address)
# and off (the file offset of the byte at ADDRESS); 1 if no run holds it
"$IE" "$W/img" runs >"$W/runs"
locate() {
	a=$((0x$1))
	# shellcheck disable=SC2034	# idx and vma: fields not used
	while read -r idx raddr npages doff vma; do
		r=$((raddr))
		if [ "$a" -ge "$r" ] && [ "$a" -lt $((r + npages * 4096)) ]; then
			off=$((doff + a - r))
			run=$(printf '0x%x' "$r")
			return 0
		fi
	done <"$W/runs"
	return 1
}
set -- $(sed -n 's/^regions 0x\([0-9a-f]*\) 0x\([0-9a-f]*\) 0x\([0-9a-f]*\)$/\1 \2 \3/p' "$W/orig.out")
plain=$1 twins=$2 none=$3
for what in "plain $(printf '%x' $((0x$plain + 5 * 1048576 + 123)))" \
	    "twins $(printf '%x' $((0x$twins + 8 * 1048576 - 4096 + 7)))" \
	    "none $(printf '%x' $((0x$none + 3 * 1048576)))"; do
	name=${what% *}
	if ! locate "${what#* }"; then
		not_ok "$name: no run holds 0x${what#* } ($(tr '\n' '|' <"$W/runs"))"
		continue
	fi
	cp "$W/img" "$W/bad"
	"$IE" "$W/bad" flip "$off" 3
	for cpus in all one; do
		if [ $cpus = one ]; then restore one "$W/bad"; else restore "$W/bad"; fi
		if [ "$cpus" = one ]; then cpus="one CPU"; else cpus="every CPU"; fi
		errs=$(cat "$W/rst.err")
		wantrc=2
		[ "$BRK" = 1 ] && wantrc=0
		if [ "$rrc" -eq "$wantrc" ] && [ ! -s "$W/got" ] &&
		   [ "$errs" = "restorer: $W/bad: page data checksum mismatch at $run: image corrupted" ]; then
			ok "$name, a bit flipped at file offset $off ($cpus): refused, the run at $run named"
		else
			not_ok "$name, bit flipped at $off ($cpus): status $rrc, program '$(oneline "$W/got")', restorer '$(printf '%s' "$errs" | tr '\n' '|')'"
		fi
	done
done
finish
