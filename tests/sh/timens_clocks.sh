#!/bin/sh
# timens_clocks.sh -- CLOCK_MONOTONIC and CLOCK_BOOTTIME continue from the
# image's values when the image comes from another boot.
#
# A reboot is simulated: the program is checkpointed inside a time namespace
# whose clocks run 10 days (864000 s) ahead of this boot's (unshare --time; as
# the ordinary user inside a user namespace of its own), and restored outside
# it.  The program reads both clocks through glibc (the vDSO) and through the
# system call just before it checkpoints itself, and again once restored, and
# prints the differences; then it sleeps until an absolute CLOCK_MONOTONIC
# deadline 0.5 s after its reading, and checkpoints itself a second time.
#   A  by default: all four readings after >= before (no jump back by 10
#      days) and less than 3 s plus the real time between checkpoint and
#      restore later; the absolute sleep ends within 2 s; -v says a time
#      namespace was made.  (Where no time namespace can be had, the user
#      pass included: the restorer's one-line notice, and the clocks are this
#      boot's.)
#   B  ckpt restore --clocks=host: the clocks are this boot's, ~10 days
#      back: the option turns it off
#   C  the same image with the clocks taken out of its header (imgedit):
#      restored as before this existed, this boot's clocks, no namespace
#   D  restoring twice: the image the program wrote from A's time namespace
#      restores outside it, continuing from its own checkpoint
#   E  the restorer inside another time namespace (1 h ahead): the new
#      offsets are computed against the clocks it sees; continues
#   F  with --same-pid (as the ordinary user: its user and PID namespaces
#      inside the clocks' user namespace): continues
#   G  no user namespace may be made (user.max_user_namespaces 0 in one of
#      ours) and no capability: a one-line notice naming the clocks, the
#      program runs with this boot's clocks
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: A is restored with --clocks=host, and fails.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/restorer" "$ROOT/ckpt" "$ROOT/readckpt" "$ROOT/libckpt.so" "$ROOT/tests/bin/imgedit"
workdir timens
ED=$ROOT/tests/bin/imgedit
AHEAD=864000				# seconds: the image's clocks ahead of this boot's

cat >"$W/clk.c" <<'EOF2'
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static long long via_vdso(int c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static long long via_syscall(int c)
{
	struct timespec t;

	syscall(SYS_clock_gettime, c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void read_clocks(long long v[4])
{
	v[0] = via_vdso(CLOCK_MONOTONIC);
	v[1] = via_vdso(CLOCK_BOOTTIME);
	v[2] = via_syscall(CLOCK_MONOTONIC);
	v[3] = via_syscall(CLOCK_BOOTTIME);
}
/* "WHAT d0 d1 d2 d3 slept_ms": after - before in ns; then, if the monotonic
 * clock did not go back, a sleep to before + 0.5 s on it, in real ms */
static void report(const char *what, const long long before[4])
{
	long long after[4], t0, t1 = 0;

	read_clocks(after);
	t0 = via_vdso(CLOCK_REALTIME);
	if (after[0] >= before[0]) {
		long long end = before[0] + 500000000LL;
		struct timespec ts = { end / 1000000000LL, end % 1000000000LL };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, 0);
		t1 = via_vdso(CLOCK_REALTIME);
	}
	printf("%s %lld %lld %lld %lld %lld\n", what, after[0] - before[0], after[1] - before[1],
	       after[2] - before[2], after[3] - before[3], t1 ? (t1 - t0) / 1000000 : -1);
	fflush(stdout);
}
int main(void)
{
	long long before[4];

	if (!ckpt_restore_count) { puts("not under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	read_clocks(before);
	raise(SIGUSR2);				/* checkpoint 1 */
	if (!ckpt_restore_count()) {
		puts("ran");
		sleep(1);			/* the writer finishes */
		return 0;
	}
	report("restored", before);
	read_clocks(before);
	raise(SIGUSR2);				/* checkpoint 2, from the restored program */
	if (ckpt_restore_count() == 1) {
		sleep(1);
		return 0;
	}
	report("again", before);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/clk" "$W/clk.c"

# a time namespace for the program: as root directly, else in a user namespace
if [ "$(id -u)" = 0 ]; then
	ns="unshare --time"
elif unshare --help 2>&1 | grep -q -e --map-current-user; then
	ns="unshare --user --map-current-user --time"
else
	ns="unshare --user --map-root-user --time"
fi
timens=1
$ns true 2>"$W/ns.err" || timens=0

# the image, 10 days ahead: written in such a time namespace, or (no namespace
# for this user here) written plainly and its recorded clocks moved by imgedit
if [ $timens = 1 ]; then
	(cd "$W" && $ns --monotonic $AHEAD --boottime $AHEAD env LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/img" \
		timeout 60 ./clk) >"$W/orig.out" 2>"$W/orig.err"
else
	note "no time namespace for this user here ($(oneline "$W/ns.err")): the image's clocks are moved by imgedit"
	(cd "$W" && CKPT_FILE="$W/img" timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./clk) >"$W/orig.out" 2>"$W/orig.err"
fi
made_ms=$(now_ms)
if [ ! -s "$W/img" ] || [ "$(cat "$W/orig.out")" != ran ]; then
	not_ok "no image: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
if [ $timens = 0 ]; then
	for f in clock_mono_ns clock_boot_ns; do
		"$ED" "$W/img" set-hdr $f $(($("$ED" "$W/img" get-hdr $f) + AHEAD * 1000000000))
	done
fi
cp "$W/img" "$W/one.img"
mono=$("$ED" "$W/one.img" get-hdr clock_mono_ns)
boot=$("$ED" "$W/one.img" get-hdr clock_boot_ns)
up=$(cut -d. -f1 /proc/uptime)
if [ "$((mono / 1000000000))" -ge $((up + AHEAD - 60)) ] && [ "$((boot / 1000000000))" -ge $((up + AHEAD - 60)) ] &&
   "$ROOT/readckpt" "$W/one.img" | grep -q "^  clocks      monotonic $((mono / 1000000000))\."; then
	ok "the image records the clocks 10 days ahead of this boot's: monotonic $mono ns, boottime $boot ns"
else
	not_ok "the image's clocks: monotonic $mono, boottime $boot ns (this boot: $up s); readckpt: $("$ROOT/readckpt" "$W/one.img" | grep clocks)"
fi

# restore IMAGE NAME [RESTORER-OPTION...]: NAME.out, NAME.err, rc; the
# restored program's first line split into d0..d3 (ns), slept (ms)
restore() {
	r_img=$1 r_name=$2
	shift 2
	r_start=$(now_ms)
	# shellcheck disable=SC2086	# via: a command and its first word
	(cd "$W" && timeout 30 ${via:-"$ROOT/restorer"} -v "$@" "$r_img") >"$W/$r_name.out" 2>"$W/$r_name.err"
	rc=$?
	r_gap=$((r_start - made_ms))
	# shellcheck disable=SC2034	# what and slept are read by the callers
	read -r what d0 d1 d2 d3 slept <"$W/$r_name.out" || what=
}
# continued LABEL WHAT: the four clocks after >= before, and less than 3 s
# plus the real time since the image was made later
continued() {
	c_max=$(((r_gap + 3000) * 1000000))
	if [ "$rc" = 0 ] && [ "$what" = "$2" ] && [ "$d0" -ge 0 ] && [ "$d1" -ge 0 ] && [ "$d2" -ge 0 ] &&
	   [ "$d3" -ge 0 ] && [ "$d0" -lt $c_max ] && [ "$d1" -lt $c_max ] && [ "$d2" -lt $c_max ] && [ "$d3" -lt $c_max ]; then
		ok "$1: monotonic and boottime continue (vDSO and syscall): +$((d0 / 1000000)) ms +$((d1 / 1000000)) ms +$((d2 / 1000000)) ms +$((d3 / 1000000)) ms, $r_gap ms after the checkpoint"
	else
		not_ok "$1: exit $rc, '$(oneline "$W/$r_name.out")' (want $2, 0 <= each < $c_max ns); stderr: $(oneline "$W/$r_name.err")"
	fi
}
# this_boot LABEL: all four clocks ~10 days back
this_boot() {
	b_min=$(((AHEAD - 3600) * 1000000000))
	if [ "$rc" = 0 ] && [ "$what" = restored ] && [ $((-d0)) -gt $b_min ] && [ $((-d1)) -gt $b_min ] &&
	   [ $((-d2)) -gt $b_min ] && [ $((-d3)) -gt $b_min ]; then
		ok "$1: the clocks are this boot's, $((-d0 / 1000000000)) s back"
	else
		not_ok "$1: exit $rc, '$(oneline "$W/$r_name.out")' (want ~$AHEAD s back); stderr: $(oneline "$W/$r_name.err")"
	fi
}
notices() {
	grep -c "^restorer: notice: .*clocks not continued" "$W/$1.err"
}

# ---- A: by default ----
sleep 1					# some real time between checkpoint and restore
if [ "$BRK" = 1 ]; then restore "$W/one.img" a --clocks=host; else restore "$W/one.img" a; fi
if [ $timens = 1 ]; then
	continued A restored
	if [ "$rc" = 0 ] && [ "$slept" -ge 0 ] && [ "$slept" -lt 2000 ]; then
		ok "A: an absolute CLOCK_MONOTONIC sleep to 0.5 s after the reading ended after $slept ms"
	else
		not_ok "A: the absolute sleep: '$(oneline "$W/a.out")'"
	fi
	if grep -q "^restorer: .*clocks: monotonic and boottime continue from the image's" "$W/a.err" &&
	   [ "$(notices a)" = 0 ]; then
		ok "A: -v: $(grep ": clocks:" "$W/a.err")"
	else
		not_ok "A: -v says nothing of a time namespace: $(oneline "$W/a.err")"
	fi
	cp "$W/img" "$W/two.img"	# the program's checkpoint 2, in A's namespace
else
	this_boot "A (no time namespace here)"
	if [ "$(notices a)" = 1 ]; then
		ok "A: the notice: $(grep "clocks not continued" "$W/a.err")"
	else
		not_ok "A: no one-line notice that the clocks are not continued: $(oneline "$W/a.err")"
	fi
fi

# ---- B: --clocks=host (through ckpt restore, which passes it on) ----
via="$ROOT/ckpt restore" restore "$W/one.img" b --clocks=host
this_boot "B: ckpt restore --clocks=host"
if grep -q "clocks: --clocks=host" "$W/b.err" && [ "$(notices b)" = 0 ]; then
	ok "B: -v: $(grep ": clocks:" "$W/b.err")"
else
	not_ok "B: -v does not name --clocks=host: $(oneline "$W/b.err")"
fi

# ---- C: an image without the clocks ----
cp "$W/one.img" "$W/none.img"
"$ED" "$W/none.img" set-hdr clock_mono_ns 0 && "$ED" "$W/none.img" set-hdr clock_boot_ns 0
restore "$W/none.img" c
this_boot "C: clocks not recorded"
if grep -q "clocks: the image has none recorded" "$W/c.err" && [ "$(notices c)" = 0 ] &&
   "$ROOT/readckpt" "$W/none.img" | grep -q "^  clocks      not recorded"; then
	ok "C: no namespace and no notice; readckpt: clocks not recorded"
else
	not_ok "C: $(oneline "$W/c.err")"
fi

[ $timens = 1 ] || { note "D to G need a time namespace"; finish; }

# ---- D: restoring twice ----
restore "$W/two.img" d
continued "D: the image the restored program wrote" again

# ---- E: the restorer in a time namespace of another offset ----
r_start=$(now_ms)
# shellcheck disable=SC2086	# ns: a command and its options
(cd "$W" && timeout 30 $ns --monotonic 3600 --boottime 7200 "$ROOT/restorer" -v "$W/one.img") >"$W/e.out" 2>"$W/e.err"
rc=$?
r_gap=$((r_start - made_ms))
r_name=e
read -r what d0 d1 d2 d3 slept <"$W/e.out" || what=
continued "E: restored inside a time namespace 1 h ahead" restored

# ---- F: with --same-pid, which needs namespaces too (the user's are nested) ----
restore "$W/one.img" f --same-pid
continued "F: --same-pid" restored

# ---- G: no namespace may be made: a notice ----
(cd "$W" && timeout 30 unshare --user --map-root-user sh -c 'echo 0 >/proc/sys/user/max_user_namespaces &&
	exec setpriv --inh-caps=-all --bounding-set=-all "$@"' sh "$ROOT/restorer" "$W/one.img") >"$W/g.out" 2>"$W/g.err"
rc=$?
r_name=g
read -r what d0 d1 d2 d3 slept <"$W/g.out" || what=
if grep -q "max_user_namespaces" "$W/g.err"; then
	note "G not tried: cannot lower user.max_user_namespaces here: $(oneline "$W/g.err")"
else
	this_boot "G: no user namespace allowed"
	if [ "$(notices g)" = 1 ] && [ "$(grep -c ": clocks" "$W/g.err")" = 1 ]; then
		ok "G: one line: $(grep ": clocks" "$W/g.err")"
	else
		not_ok "G: want one notice line naming the clocks: $(oneline "$W/g.err")"
	fi
fi
finish
