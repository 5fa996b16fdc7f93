#!/bin/sh
# dump_mntns.sh -- `ckpt dump` of a process in a mount namespace of its own.
#
# A program started in its own mount namespace (unshare -m; as an ordinary
# user inside a user namespace, unshare -r -m), with a tmpfs over the image's
# directory there, writes its image where only it sees it.  `ckpt dump PID`
# from outside finds it through /proc/PID/root and says where (before, it
# looked at the path in its own view and said no image was written).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the image is expected in the caller's view of the path.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/ckpt" "$ROOT/libckpt.so"
command -v unshare >/dev/null 2>&1 || skip "no unshare (util-linux)"
workdir dump_mntns
pid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null'

cat >"$W/idle.c" <<'EOF2'
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	printf("%d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/idle" "$W/idle.c"
mkdir "$W/images"
ns=-m
[ "$(id -u)" -eq 0 ] || ns="-r -m"
# shellcheck disable=SC2086	# the options
unshare $ns sh -c 'mount -t tmpfs none "$1" || exit 4
	CKPT_FILE="$1/img" LD_PRELOAD="$2/libckpt.so" exec "$3"' sh "$W/images" "$ROOT" "$W/idle" \
	>"$W/pid" 2>"$W/ns.err" &
wait_for 10 test -s "$W/pid"
pid=$(cat "$W/pid")
[ -n "$pid" ] || skip "cannot start a program in a mount namespace of its own: $(oneline "$W/ns.err")"
wait_for 10 grep -q libckpt "/proc/$pid/maps"
timeout 60 "$ROOT/ckpt" dump "$pid" >"$W/out" 2>"$W/err"
rc=$?
where="/proc/$pid/root$W/images/img"
[ "$BRK" = 1 ] && where="$W/images/img"
if [ $rc -eq 0 ] && grep -q "^$where: [0-9]* bytes" "$W/out" && [ -s "/proc/$pid/root$W/images/img" ] &&
   [ ! -e "$W/images/img" ]; then
	ok "dumped through its own view of the path: $(oneline "$W/out")"
else
	not_ok "ckpt dump exit $rc: $(oneline "$W/out") $(oneline "$W/err") (want $where)"
fi
finish
