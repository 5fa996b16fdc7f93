#!/bin/sh
# hash_remap.sh -- page hashes: compared by address, against the parent only.
#
# With page hashes (CKPT_TRACK=hash) an incremental image stores only the
# pages whose hash differs from the one recorded when its parent was written.
# A program (CKPT_FULL_EVERY=3: images 1 and 4 are full) keeps a 16 MiB
# region of 90s and:
#   - maps a 256 KiB region R of 90s (image 1), unmaps it (images 2, 3, 4),
#     maps the same range again with the same bytes (image 5).  Image 5's
#     chain is 4 <- 5 and image 4 lacks R, so image 5 must hold all of R:
#     hashes recorded for image 1 must not count;
#   - maps 256 KiB of 91s right below the 16 MiB region, which the kernel
#     merges into it (image 6): compared page by page by address, image 6
#     holds the new 256 KiB, not the whole merged region.
# The newest image restores every byte of the three (a store that kept image
# 1's hashes leaves R all zeros) and is under 4 MiB.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: R is expected to differ in one byte.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
workdir hash_remap

cat >"$W/remap.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
extern int ckpt_checkpoint(void) __attribute__((weak));
#define SMALL (64 * 4096)
#define BIG (16 << 20)
static char *map_at(char *hint, size_t len, int fill)
{
	char *r = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (hint ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (r == MAP_FAILED || (hint && r != hint)) { perror("mmap"); exit(3); }
	memset(r, fill, len);
	return r;
}
static size_t differ(const char *p, size_t len, int want)
{
	size_t bad = 0;

	for (size_t i = 0; i < len; i++)
		bad += p[i] != want;
	return bad;
}
static char *r, *big, *below;
/* a restored process says what its regions hold and exits */
static void take(const char *what)
{
	int got = ckpt_checkpoint();

	if (got == 1) {
		printf("restored %s: R %zu, big %zu, below %zu bytes differ\n", what, differ(r, SMALL, 90),
		       differ(big, BIG, 90), below ? differ(below, SMALL, 91) : 0);
		exit(0);
	}
	printf("%s: %d\n", what, got);
	fflush(stdout);
}
int main(void)
{
	if (!ckpt_checkpoint) { puts("libckpt.so is not loaded"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	/* at addresses of their own, far below where the kernel and libckpt
	 * place mappings: nothing else takes the room left below `big` */
	big = map_at((char *)0x500000000000 + SMALL, BIG, 90);
	r = map_at((char *)0x500100000000, SMALL, 90);
	take("one");				/* full */
	munmap(r, SMALL);
	take("two");
	take("three");
	take("four");				/* full */
	map_at(r, SMALL, 90);
	take("five");				/* must hold the whole of R */
	below = map_at(big - SMALL, SMALL, 91);
	take("six");				/* the new pages only */
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/remap" "$W/remap.c"
(cd "$W" && CKPT_TRACK=hash CKPT_INCREMENTAL=1 CKPT_FULL_EVERY=3 CKPT_KEEP=10 CKPT_FILE="$W/img" \
	timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./remap) >"$W/orig.out" 2>"$W/orig.err"
if grep -q '^six: 0$' "$W/orig.out"; then
	ok "six checkpoints taken"
else
	not_ok "the program failed: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
depth=$("$ROOT/readckpt" "$W/img" | awk '/  id /{ print ($3 == "full") ? 0 : $4 }')
size=$(stat -c %s "$W/img")
if [ "$depth" = 2 ] && [ "$size" -lt $((4 << 20)) ]; then
	ok "the newest image is incremental (depth 2) and small: $size bytes"
else
	not_ok "the newest image has depth '$depth' (want 2) and $size bytes (want < 4 MiB)"
fi
want=0
[ "$BRK" = 1 ] && want=1
expect_restore "$W/img" "restored six: R $want, big 0, below 0 bytes differ" "every byte restored"
finish
