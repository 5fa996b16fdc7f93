#!/bin/sh
# many_regions.sh -- a process with tens of thousands of regions.
#
# A JVM or a browser maps tens of thousands of regions; the kernel allows
# 65530 (vm.max_map_count).  A program makes 40,000 (20,000 one-page
# regions with data, each followed by a read-only one), checkpoints itself
# and goes on; restored, every data page holds its own byte.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: one page is expected to hold another byte.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir many_regions

cat >"$W/many.c" <<'EOF2'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, regions = 0, bad = 0;
	char *p = mmap(0, n * 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), line[256];
	FILE *maps;

	if (!ckpt_restore_count || p == MAP_FAILED) { puts("not under libckpt.so, or no memory"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	for (long i = 0; i < n; i++) {
		p[i * 8192] = (char)(i * 7);
		mprotect(p + i * 8192 + 4096, 4096, PROT_READ);
	}
	raise(SIGUSR2);
	maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(line, sizeof(line), maps))
		regions++;
	for (long i = 0; i < n; i++)
		bad += p[i * 8192] != (char)(i * 7);
	printf("%s: %ld regions, %ld pages wrong\n", ckpt_restore_count() ? "restored" : "taken", regions, bad);
	fflush(stdout);
	if (!ckpt_restore_count())
		sleep(3);			/* the writer finishes */
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/many" "$W/many.c"
under_libckpt ./many 20000
wait_for 30 test -s "$W/img"
regions=$(sed -n 's/^taken: \([0-9]*\) regions, 0 pages wrong$/\1/p' "$W/orig.out")
if [ -n "$regions" ] && [ "$regions" -gt 40000 ] && [ -s "$W/img" ] && [ ! -s "$W/orig.err" ]; then
	ok "checkpointed with $regions regions, nothing said: $(lines "$W/orig.err") stderr lines"
else
	not_ok "checkpoint: $(oneline "$W/orig.out") stderr: $(oneline "$W/orig.err")"
	finish
fi
wrong=0
[ "$BRK" = 1 ] && wrong=1
expect_restore "$W/img" "restored: $regions regions, $wrong pages wrong" "every region and page back"
finish
