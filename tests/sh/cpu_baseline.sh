#!/bin/sh
# cpu_baseline.sh -- images that restore on any CPU of an x86-64 level.
#
# A program started with `ckpt run --cpu-baseline x86-64-v2` gets glibc told
# to pick no code above that level, and its images record the level:
#   A  `ckpt check --cpu x86-64-v2 IMAGE` says it restores on such a CPU
#      (exit 0), readckpt names the level, and it restores here
#   B  the same image with a CPUID bit no CPU has (cpuid 7 ebx bit 22,
#      pcommit) added to its record, as if it came from a richer CPU, still
#      restores: only the level's features count; with the level taken out
#      of it, the restorer refuses it (exit 2) and `ckpt check IMAGE` names
#      pcommit (exit 1)
#   C  a thread's saved XSAVE mask naming a component this CPU lacks
#      (TILEDATA, bit 18) while its state does not use it: restores
#   D  started without the baseline on a CPU with AVX2, `ckpt check --cpu
#      x86-64-v2 IMAGE` says no (exit 1) and names avx2
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: A expects the level-2 image not to restore on x86-64-v2.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/ckpt" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/tests/bin/imgedit"
workdir cpu_baseline

cat >"$W/work.c" <<'EOF2'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(void)
{
	static char a[1 << 20], b[1 << 20];
	unsigned long sum = 0;

	if (!ckpt_restore_count) { puts("not under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	for (int r = 0; r < 2; r++) {
		memset(a, 'x' + r, sizeof(a) - 1);	/* glibc's string code, by level */
		memcpy(b, a, sizeof(a));
		sum += strlen(b);
		if (r == 0)
			raise(SIGUSR2);
	}
	printf("%s: sum %lu\n", ckpt_restore_count() ? "restored" : "ran", sum);
	fflush(stdout);
	if (!ckpt_restore_count())
		sleep(1);			/* the writer finishes */
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/work" "$W/work.c"
want="restored: sum 2097150"
ED=$ROOT/tests/bin/imgedit

# ---- A: started for x86-64-v2 ----
(cd "$W" && "$ROOT/ckpt" run --cpu-baseline x86-64-v2 --file "$W/v2.img" ./work) >"$W/a.out" 2>"$W/a.err"
wait_for 30 test -s "$W/v2.img"
"$ROOT/ckpt" check --cpu x86-64-v2 "$W/v2.img" >"$W/a.check" 2>&1
rc=$?
wantrc=0
[ "$BRK" = 1 ] && wantrc=1
if [ $rc -eq $wantrc ] && grep -q "restores on any CPU of x86-64-v2" "$W/a.check"; then
	ok "A: ckpt check --cpu x86-64-v2: $(oneline "$W/a.check")"
else
	not_ok "A: ckpt check --cpu x86-64-v2 exit $rc (want $wantrc): $(oneline "$W/a.check") run: $(oneline "$W/a.err")"
fi
if "$ROOT/readckpt" "$W/v2.img" | grep -q "cpu level   x86-64-v2"; then
	ok "A: readckpt names the level"
else
	not_ok "A: readckpt does not name x86-64-v2: $("$ROOT/readckpt" "$W/v2.img" 2>&1 | grep cpu | tr '\n' '|')"
fi
expect_restore "$W/v2.img" "$want" "A: the level-2 image restores here"

# ---- B: a feature outside the level, from a richer CPU ----
cp "$W/v2.img" "$W/rich.img"
b7=$("$ED" "$W/rich.img" get-hdr cpuid7_ebx)
"$ED" "$W/rich.img" set-hdr cpuid7_ebx $((b7 | (1 << 22)))
expect_restore "$W/rich.img" "$want" "B: with pcommit recorded, outside the level, it still restores"
cp "$W/rich.img" "$W/nolevel.img"
"$ED" "$W/nolevel.img" set-hdr cpu_level 0
(cd "$W" && timeout 30 "$ROOT/restorer" "$W/nolevel.img") >"$W/b.out" 2>"$W/b.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(lines "$W/b.err")" = 1 ] && grep -q "cpuid 7 ebx 0x400000" "$W/b.err" && [ ! -s "$W/b.out" ]; then
	ok "B: without the level it is refused: $(oneline "$W/b.err")"
else
	not_ok "B: without the level: exit $rc (want 2): $(oneline "$W/b.err") $(oneline "$W/b.out")"
fi
"$ROOT/ckpt" check "$W/nolevel.img" >"$W/b.check" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "does not restore on this CPU: it needs pcommit (" "$W/b.check"; then
	ok "B: ckpt check names what this CPU lacks: $(oneline "$W/b.check")"
else
	not_ok "B: ckpt check exit $rc (want 1): $(oneline "$W/b.check")"
fi

# ---- C: an XSAVE component saved in its first state, lacking here ----
cp "$W/v2.img" "$W/tile.img"
xf=$("$ED" "$W/tile.img" get-thread 0 xfeatures)
if [ -z "$xf" ] || [ "$xf" = 0 ]; then
	note "C: skipped: the image's thread has no XSAVE mask (FXSAVE here)"
else
	"$ED" "$W/tile.img" set-thread 0 xfeatures $((xf | (1 << 18)))
	expect_restore "$W/tile.img" "$want" "C: a saved mask naming TILEDATA, unused, restores"
fi

# ---- D: no baseline ----
if grep -qw avx2 /proc/cpuinfo; then
	(cd "$W" && "$ROOT/ckpt" run --file "$W/any.img" ./work) >"$W/d.out" 2>"$W/d.err"
	wait_for 30 test -s "$W/any.img"
	"$ROOT/ckpt" check --cpu x86-64-v2 "$W/any.img" >"$W/d.check" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "does not restore on any CPU of x86-64-v2: it needs.* avx2 " "$W/d.check"; then
		ok "D: without the baseline, not on x86-64-v2: $(head -c 160 "$W/d.check")..."
	else
		not_ok "D: ckpt check --cpu x86-64-v2 exit $rc (want 1, naming avx2): $(oneline "$W/d.check")"
	fi
else
	note "D: skipped: this CPU has no AVX2, so an image without the baseline needs no more than v2"
fi
finish
