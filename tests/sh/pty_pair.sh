#!/bin/sh
# pty_pair.sh -- what a pty pair the program holds cannot bring back is named.
#
# The program (a terminal emulator in miniature) opens a pty, puts the slave
# in raw mode, and leaves 7 bytes waiting at the slave (typed, not read) and
# 3 at the master (printed, not read), then checkpoints itself with
# raise(SIGUSR2) and keeps the pair open for a while, so that the restored
# pair cannot get the same /dev/pts number:
#   1  libckpt names both queues at checkpoint time, with their bytes
#   2  readckpt shows the master and the slave as one pair of that number,
#      `ckpt info --json` the same
#   3  the restorer says the pair came back under a new number and that the
#      queued bytes are not restored; the program runs on with a connected
#      pair whose queues are empty
#   4  a crafted image whose slave names another number than its master is
#      refused in one line, exit 2, before the program runs
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: check 3 wants 1 byte
# queued.  Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/ckpt" "$ROOT/tests/bin/imgedit"
workdir pty_pair
IE="$ROOT/tests/bin/imgedit"

cat >"$W/term.c" <<'EOF2'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
int main(void)
{
	struct termios t;
	int m, s, in_s = -1, in_m = -1;
	char buf[16];

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || (s = open(ptsname(m), O_RDWR | O_NOCTTY)) < 0) {
		perror("pty");
		return 3;
	}
	tcgetattr(s, &t);
	cfmakeraw(&t);
	tcsetattr(s, TCSANOW, &t);
	if (write(m, "typed!!", 7) != 7 || write(s, "out", 3) != 3)
		return 3;
	usleep(100000);				/* the bytes through the line discipline */
	raise(SIGUSR2);
	if (!ckpt_restore_count()) {
		printf("checkpointed %s\n", ptsname(m));
		fflush(stdout);
		sleep(8);			/* the number stays taken meanwhile */
		return 0;
	}
	ioctl(s, FIONREAD, &in_s);
	ioctl(m, FIONREAD, &in_m);
	if (getenv("BRK_PTY") && *getenv("BRK_PTY"))
		in_s++;
	if (write(m, "x", 1) != 1 || (usleep(50000), read(s, buf, sizeof(buf))) != 1 || buf[0] != 'x')
		return printf("restored, not connected\n"), 1;
	printf("restored %s queued %d %d\n", ptsname(m), in_s, in_m);
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/term" "$W/term.c"

brk=
[ "$BRK" -eq 1 ] && brk=1
(cd "$W" && CKPT_FILE="$W/img" BRK_PTY=$brk timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" "$W/term" \
	>"$W/orig.out" 2>"$W/orig.err") &
orig=$!
wait_for 10 test -s "$W/orig.out"
sleep 0.3
old=$(sed -n 's/^checkpointed //p' "$W/orig.out")

if grep -q "fd 3 (/dev/ptmx): 3 bytes waiting to be read at this end of a pty" "$W/orig.err" &&
   grep -q "fd 4 (/dev/pts/[0-9]*): 7 bytes waiting to be read at this end of a pty" "$W/orig.err"; then
	ok "libckpt names the 3 and the 7 bytes waiting at the master and the slave"
else
	not_ok "libckpt said: $(oneline "$W/orig.err")"
fi

"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
"$ROOT/ckpt" info --json "$W/img" >"$W/info.json" 2>&1
num=${old#/dev/pts/}
if grep -q "pty master of $old at the checkpoint" "$W/read.out" &&
   grep -q "pty slave of $old at the checkpoint" "$W/read.out" &&
   grep -q "\"pty\": {\"side\": \"master\", \"number\": $num, \"locked\": false, \"packet\": false, \"queued_lost\": 3}" "$W/info.json" &&
   grep -q "\"pty\": {\"side\": \"slave\", \"number\": $num, \"locked\": false, \"packet\": false, \"queued_lost\": 7}" "$W/info.json"; then
	ok "readckpt and ckpt info show the pair of $old"
else
	not_ok "readckpt: $(grep pty "$W/read.out" | tr '\n' '|'); info: $(grep '"pty"' "$W/info.json" | tr '\n' '|')"
fi

(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
rc=$?
new=$(sed -n 's/^restored \([^ ]*\) .*/\1/p' "$W/rst.out")
if [ $rc -eq 0 ] && [ -n "$new" ] && [ "$new" != "$old" ] &&
   grep -q "queued 0 0$" "$W/rst.out" &&
   grep -q "restorer: notice: fd 3: pty $old comes back as a new pair, $new" "$W/rst.err" &&
   grep -q "restorer: notice: fd 4: 7 bytes waiting to be read at this end of its pty at the checkpoint are not restored" "$W/rst.err"; then
	ok "restored as $new (the checkpoint's $old still taken), connected, its queues empty and said so"
else
	not_ok "rc $rc; program: $(oneline "$W/rst.out"); restorer: $(oneline "$W/rst.err")"
fi

slave=$("$IE" "$W/img" fds | awk '$2 == 4 { print $1 }')
cp "$W/img" "$W/bad"
"$IE" "$W/bad" set-fd "$slave" aux1 $((num + 1)) >/dev/null
expect_refused "$W/bad" "fd 4: pty record out of range" "a slave naming another number than its master: refused in one line"
kill "$orig" 2>/dev/null
wait "$orig" 2>/dev/null
finish
