#!/bin/sh
# hash_remap.sh -- page hashes compare against the parent image only.
#
# With page hashes (CKPT_TRACK=hash) an incremental image stores only the
# pages whose hash differs from the one recorded when its parent was written.
# Hashes recorded for an older image must never count: a program maps a
# region and fills it (image 1, full), unmaps it (image 2), takes image 3
# (full: CKPT_FULL_EVERY=2), maps the same range again with the same bytes
# and takes image 4.  Image 4's chain is 3 <- 4 and image 3 lacks the region,
# so image 4 must hold all of it: restored, the region reads back the bytes
# written (a store that kept image 1's hashes leaves it all zeros).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored region is expected to hold other bytes.

set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/hash_remap.XXXXXX") || exit 1
n=0
failed=0
trap 'rm -rf "$W"' EXIT
ok() { n=$((n + 1)); echo "ok $n $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $*"; }
command -v cc >/dev/null 2>&1 || { echo "# SKIP no C compiler"; exit 4; }
want=90
[ "${CKPT_TEST_BREAK:-0}" = 1 ] && want=91

cat >"$W/remap.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
extern int ckpt_checkpoint(void) __attribute__((weak));
#define LEN (64 * 4096)
static char *map_at(void *hint, int fill)
{
	char *r = mmap(hint, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (hint ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (r == MAP_FAILED) { perror("mmap"); exit(3); }
	memset(r, fill, LEN);
	return r;
}
/* a restored process prints what its region holds and exits */
static void take(const char *what, char *r)
{
	int got = ckpt_checkpoint();

	if (got == 1) {
		size_t bad = 0;
		for (size_t i = 0; i < LEN; i++)
			bad += r[i] != 90;
		printf("restored %s: %zu of %d bytes differ from 90, first byte %d\n", what, bad, LEN, r[0]);
		exit(0);
	}
	printf("%s: %d\n", what, got);
	fflush(stdout);
}
int main(void)
{
	char *r, *keep;

	if (!ckpt_checkpoint) { puts("libckpt.so is not loaded"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	r = map_at(0, 90);
	keep = map_at(0, 90);
	take("one", keep);			/* full */
	munmap(r, LEN);
	take("two", keep);			/* incremental */
	take("three", keep);			/* full */
	map_at(r, 90);
	take("four", r);			/* incremental: must hold the whole region */
	return 0;
}
EOF2
cc -O2 -o "$W/remap" "$W/remap.c" || { not_ok "cannot build the program"; exit 1; }
(cd "$W" && CKPT_TRACK=hash CKPT_INCREMENTAL=1 CKPT_FULL_EVERY=2 CKPT_KEEP=10 CKPT_FILE="$W/img" \
	LD_PRELOAD="$ROOT/libckpt.so" timeout 60 ./remap) >"$W/orig.out" 2>"$W/orig.err"
if grep -q '^four: 0$' "$W/orig.out"; then
	ok "four checkpoints taken"
else
	not_ok "the program failed: $(tr '\n' '|' <"$W/orig.out") $(tr '\n' '|' <"$W/orig.err")"
	exit 1
fi
depth=$("$ROOT/readckpt" "$W/img" | awk '/  id /{ print ($3 == "full") ? 0 : $4 }')
[ "$depth" = 1 ] && ok "the last image is incremental (depth 1)" || not_ok "the last image has depth '$depth', not 1"
got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" 2>"$W/restore.err")
case $got in
"restored four: 0 of 262144 bytes differ from $want, first byte $want")
	ok "the region mapped again restores whole: $got" ;;
*)	not_ok "restored: '$got' $(tr '\n' '|' <"$W/restore.err")" ;;
esac
[ $failed -eq 0 ] || exit 1
exit 0
