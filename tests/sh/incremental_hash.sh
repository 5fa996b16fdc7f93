#!/bin/sh
# incremental_hash.sh -- incremental images without userfaultfd (the fallback).
#
# Simulates a kernel or program where userfaultfd write-protect cannot be used
# (CKPT_TRACK=hash forces the fallback): the writer compares a hash of every
# page with the one it recorded at the last checkpoint.  A 64 MiB program
# writes 1% of its pages per round, maps, zaps (MADV_DONTNEED), mprotects and
# partly unmaps regions between rounds, and checkpoints every round (7 images,
# one chain).  Every image restores to the checksum the program printed at its
# round, and the images of rounds without layout changes are small.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: every expected checksum is made wrong.

set -u
. "$(dirname "$0")/lib.sh"
workdir incremental_hash
need_cc

cat >"$W/rounds.c" <<'EOF2'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void)
{
	size_t n = 64 << 20;
	unsigned char *p = malloc(n), *q = 0;

	syscall(436, 3, ~0U, 0);		/* a runner's stray pipe is not ours */
	memset(p, 1, n);
	for (int round = 0; round < 7; round++) {
		unsigned long sum = 0;

		for (size_t i = round * 4096; i < n; i += 4096 * 97)
			p[i] += round;
		if (round == 2) { q = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); memset(q, 7, 1 << 20); }
		if (round == 4) { madvise(p + 4096 * 10, 4096 * 50, MADV_DONTNEED); mprotect(q, 4096, PROT_READ); }
		if (round == 5) munmap(q + (512 << 10), 512 << 10);
		raise(SIGUSR2);
		for (size_t i = 0; i < n; i++) sum = sum * 31 + p[i];
		if (q) for (size_t i = 0; i < (512 << 10); i++) sum = sum * 31 + q[i];
		printf("round %d sum %lx\n", round, sum);
		fflush(stdout);
		usleep(200000);
	}
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/rounds" "$W/rounds.c"
(cd "$W" && CKPT_TRACK=hash CKPT_INCREMENTAL=1 CKPT_KEEP=10 CKPT_FILE="$W/img" \
	timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./rounds) >"$W/orig.out" 2>"$W/orig.err"
# the last image's writer (the program's child) may still be writing it
for _ in $(seq 1 300); do
	ls -a "$W" | grep -q '\.tmp\.' || break
	sleep 0.1
done
[ "$(grep -c '^round' "$W/orig.out")" -eq 7 ] || { not_ok "the program did not finish: $(tr '\n' '|' <"$W/orig.err")"; exit 1; }
# (every round's: which rounds the images hold depends on timing)
[ $BRK = 1 ] && sed -i 's/^round \([0-9]*\) sum .*/round \1 sum 0/' "$W/orig.out"
full=$(stat -c %s "$(ls "$W"/img.* | head -1)")
small=0
for f in "$W"/img.*; do
	depth=$("$ROOT/readckpt" "$f" | awk '/  id /{ print ($3 == "full") ? 0 : $4 }')
	size=$(stat -c %s "$f")
	[ "$depth" -gt 0 ] && [ "$size" -lt 4000000 ] && small=$((small + 1))
	got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$f" 2>"$W/restore.err" | head -n 1)
	round=${got#round }
	round=${round%% *}
	want=$(grep "^round $round " "$W/orig.out")
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "image at depth $depth ($size bytes) restores round $round: $got"
	else
		not_ok "image at depth $depth: got '$got', want '$want'"
	fi
done
if [ $small -ge 3 ]; then
	ok "$small incremental images under 4 MB (the full one is $full bytes)"
else
	not_ok "only $small incremental images under 4 MB (the full one is $full bytes)"
fi
finish
