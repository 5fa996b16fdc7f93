#!/bin/sh
# timeout: 120
# terminal.sh -- a program on a terminal comes back on the restorer's terminal
# with its mode (raw, no echo), and redraws there (issue 16, terminals).
#
# A program puts its terminal (a pseudo-terminal of 24 x 80 rows and
# columns, its controlling terminal, made by python3's pty module) in raw
# mode without echo, VTIME 7, and checkpoints itself:
#   1  readckpt shows the terminal's mode, size and that it was the
#      controlling terminal
#   2  restored on a fresh terminal of 40 x 100 (cooked, echoing): the program
#      finds raw mode, no echo, VTIME 7, the new size, and one SIGWINCH
#   3  the same with --lazy on a terminal of the old size: mode and SIGWINCH
#   4  restored with no terminal (stdin /dev/null, output to a file): one line
#      names fds 0 1 2 as terminals whose mode is not set; the program runs on
#   5  restored on a terminal that is not the restorer's controlling one: one
#      line says ^C, ^Z and hangups from it do not reach the program
#   6  less(1) in tmux (a real full-screen program on a real terminal
#      multiplexer), checkpointed by `ckpt dump`, killed and restored in a
#      new tmux session of another size: it redraws its page there, and a
#      single key (j, no Enter: raw mode) scrolls it by one line; q ends it
#      and the restorer exits 0.  Skipped without tmux or less.
#   7  a job on a terminal: an interactive bash (job control) in tmux runs
#      `sh -c 'seq | less'` under libckpt, so sh, seq and less are one process
#      group in the terminal's foreground, less reading keys from /dev/tty.
#      Checkpointed by `ckpt dump`, killed, restored (eager, then lazy) from
#      another interactive bash in a new tmux session of another size: the job
#      takes the terminal's foreground again and less its keys from the new
#      terminal (not the old one, which is still there): it redraws, j scrolls,
#      G shows the last of seq's 200000 lines (the pipe and seq came back), q
#      ends the job and the restorer exits 0.
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: check 2 wants no SIGWINCH.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/ckpt"
workdir terminal
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "no python3 (Debian package python3) to make a pseudo-terminal"

cat >"$W/raw.c" <<'EOF2'
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static volatile sig_atomic_t winch;
static void on_winch(int s) { winch++; }
int main(void)
{
	struct termios t;
	struct winsize ws = { 0 };

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	if (tcgetattr(0, &t)) { puts("stdin is no terminal"); return 3; }
	t.c_lflag &= ~(ECHO | ICANON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 7;
	if (tcsetattr(0, TCSANOW, &t)) { perror("tcsetattr"); return 3; }
	signal(SIGWINCH, on_winch);
	raise(SIGUSR2);
	if (!ckpt_restore_count()) {
		puts("checkpointed");
		return 0;
	}
	usleep(100000);
	if (tcgetattr(0, &t)) {
		printf("restored notty winch=%d\n", (int)winch);
		return 0;
	}
	ioctl(0, TIOCGWINSZ, &ws);
	printf("restored echo=%d icanon=%d vtime=%d winch=%d size=%dx%d\n", !!(t.c_lflag & ECHO),
	       !!(t.c_lflag & ICANON), t.c_cc[VTIME], (int)winch, ws.ws_row, ws.ws_col);
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/raw" "$W/raw.c"

# pty.py ROWS COLS OUT CMD...: CMD on a new pseudo-terminal of that size, its
# controlling terminal (in cooked mode with echo, as any new one); what it
# and the restorer write there goes to OUT (\r\n made \n; the checks pick
# the program's line); exit status: CMD's.
# pty.py - - OUT CMD...: the same terminal, but not CMD's controlling one.
cat >"$W/pty.py" <<'EOF2'
import fcntl, os, struct, subprocess, sys, termios
rows, cols, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if rows == "-":
    master, slave = os.openpty()
    pid = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True).pid
    os.close(slave)
else:
    pid, master = os.forkpty()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", int(rows), int(cols), 0, 0))
        os.execvp(cmd[0], cmd)
data = b""
while True:
    try:
        b = os.read(master, 4096)
    except OSError:
        break
    if not b:
        break
    data += b
open(out, "wb").write(data.replace(b"\r\n", b"\n"))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 255)
EOF2

(cd "$W" && CKPT_FILE="$W/img" timeout 30 "$PY" "$W/pty.py" 24 80 "$W/ckpt.out" \
	env LD_PRELOAD="$ROOT/libckpt.so" "$W/raw")
if grep -q "^checkpointed$" "$W/ckpt.out" &&
	"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1 &&
	grep -q "terminal: raw (no ICANON), echo off, .* window 24x80, the controlling terminal" "$W/read.out"; then
	ok "readckpt: the terminal's mode (raw, no echo), its size and that it was the controlling terminal"
else
	not_ok "checkpoint on a terminal: $(oneline "$W/ckpt.out"); readckpt: $(grep -m1 terminal "$W/read.out")"
fi

want="restored echo=0 icanon=0 vtime=7 winch=1 size=40x100"
[ "$BRK" -eq 1 ] && want="restored echo=0 icanon=0 vtime=7 winch=0 size=40x100"
(cd "$W" && timeout 30 "$PY" "$W/pty.py" 40 100 "$W/r1.out" "$ROOT/restorer" "$W/img")
if [ "$(grep '^restored' "$W/r1.out")" = "$want" ]; then
	ok "restored on a new 40x100 terminal: raw, no echo, VTIME 7, one SIGWINCH, the new size"
else
	not_ok "restored on a new terminal: '$(oneline "$W/r1.out")', want '$want'"
fi

(cd "$W" && timeout 30 "$PY" "$W/pty.py" 24 80 "$W/r2.out" "$ROOT/restorer" --lazy "$W/img")
if [ "$(grep '^restored' "$W/r2.out")" = "restored echo=0 icanon=0 vtime=7 winch=1 size=24x80" ]; then
	ok "--lazy, on a terminal of the old size: the mode, and a SIGWINCH to redraw"
else
	not_ok "--lazy: '$(oneline "$W/r2.out")'"
fi

(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" </dev/null >"$W/r3.out" 2>"$W/r3.err")
if [ "$(grep '^restored' "$W/r3.out")" = "restored notty winch=0" ] &&
	[ "$(grep -c "notice: fds 0 1 2: a terminal at the checkpoint, and not one now" "$W/r3.err")" = 1 ]; then
	ok "restored without a terminal: one line names fds 0 1 2, the program runs on"
else
	not_ok "without a terminal: '$(oneline "$W/r3.out")', stderr: $(oneline "$W/r3.err")"
fi

(cd "$W" && timeout 30 "$PY" "$W/pty.py" - - "$W/r4.out" "$ROOT/restorer" "$W/img")
if grep -q "notice: fd 0: the program's controlling terminal at the checkpoint; the terminal there now is not the restorer's" "$W/r4.out" &&
	grep -q "^restored echo=0 icanon=0 vtime=7 " "$W/r4.out"; then
	ok "on a terminal that is not the restorer's controlling one: said in one line, the mode set"
else
	not_ok "not the controlling terminal: $(oneline "$W/r4.out")"
fi

# 6: less in tmux
if ! command -v tmux >/dev/null 2>&1 || ! command -v less >/dev/null 2>&1; then
	note "SKIP check 6: no tmux or less (Debian packages tmux, less)"
	finish
fi
TM="env SHELL=/bin/sh tmux -S $W/tmux.sock -f /dev/null"	# (the ordinary user's login shell may be nologin)
at_exit "$TM kill-server 2>/dev/null"
seq -f "line %g" 1 500 >"$W/text"
top() { $TM capture-pane -p -t "$1" 2>/dev/null | head -n 1; }
$TM new-session -d -s keep "sleep 600"	# the server stays up between the two sessions
$TM new-session -d -s first -x 80 -y 24 \
	"exec env CKPT_FILE=$W/limg LD_PRELOAD=$ROOT/libckpt.so LESSHISTFILE=- less $W/text"
wait_for 10 sh -c "[ \"\$($TM capture-pane -p -t first 2>/dev/null | head -n 1)\" = 'line 1' ]"
pid=$($TM list-panes -t first -F '#{pane_pid}')
"$ROOT/ckpt" dump "$pid" >"$W/dump.out" 2>&1
dumped=$?
kill -9 "$pid" 2>/dev/null
$TM new-session -d -s again -x 100 -y 30 "$ROOT/restorer $W/limg 2>$W/l.err; echo rc=\$? >$W/l.rc"
wait_for 10 sh -c "[ \"\$($TM capture-pane -p -t again 2>/dev/null | head -n 1)\" = 'line 1' ]"
redrawn=$(top again)
$TM send-keys -t again j
wait_for 5 sh -c "[ \"\$($TM capture-pane -p -t again 2>/dev/null | head -n 1)\" = 'line 2' ]"
scrolled=$(top again)
$TM send-keys -t again q
wait_for 10 test -s "$W/l.rc"
if [ $dumped -eq 0 ] && [ "$redrawn" = "line 1" ] && [ "$scrolled" = "line 2" ] &&
	[ "$(cat "$W/l.rc" 2>/dev/null)" = "rc=0" ]; then
	ok "less in tmux: redrawn on a 100x30 terminal, one key (raw mode) scrolls it, q ends it (exit 0)"
else
	not_ok "less in tmux: dump $dumped ($(oneline "$W/dump.out")), top line after restore '$redrawn', after j '$scrolled', $(cat "$W/l.rc" 2>/dev/null), restorer: $(oneline "$W/l.err")"
fi

# 7: a job (sh, seq, less) in the foreground of an interactive bash in tmux
BASH_I="env HISTFILE=/dev/null PS1=$ bash --norc --noprofile -i"
bottom() { $TM capture-pane -p -t "$1" 2>/dev/null | grep -v '^$' | tail -n 2 | head -n 1; }
$TM new-session -d -s jfirst -x 80 -y 24 "exec $BASH_I"
wait_for 10 sh -c "$TM capture-pane -p -t jfirst 2>/dev/null | grep -q '^\\$'"
# (the job's stderr to a file: the other processes' libckpt notices after a
# restore, such as the ordinary user's about /proc/self/exe, would land on
# less's screen after it redrew and scroll it)
$TM send-keys -t jfirst "env CKPT_FILE=$W/jimg LD_PRELOAD=$ROOT/libckpt.so LESSHISTFILE=- sh -c 'seq -f \"line %g\" 1 200000 | less' 2>$W/job.err" Enter
wait_for 10 sh -c "[ \"\$($TM capture-pane -p -t jfirst 2>/dev/null | head -n 1)\" = 'line 1' ]"
sh_pid=$(pgrep -P "$($TM list-panes -t jfirst -F '#{pane_pid}')" -x sh)
"$ROOT/ckpt" dump "$sh_pid" >"$W/jdump.out" 2>&1
dumped=$?
kill -9 -- "-$sh_pid" 2>/dev/null
for how in eager lazy; do
	flag=; [ $how = lazy ] && flag=--lazy
	s=j$how
	rm -f "$W/$s.rc"
	$TM new-session -d -s $s -x 100 -y 30 "exec $BASH_I"
	wait_for 10 sh -c "$TM capture-pane -p -t $s 2>/dev/null | grep -q '^\\$'"
	$TM send-keys -t $s "$ROOT/restorer $flag $W/jimg 2>$W/$s.err; echo rc=\$? >$W/$s.rc" Enter
	wait_for 10 sh -c "[ \"\$($TM capture-pane -p -t $s 2>/dev/null | head -n 1)\" = 'line 1' ]"
	redrawn=$(top $s)
	$TM send-keys -t $s j
	wait_for 5 sh -c "[ \"\$($TM capture-pane -p -t $s 2>/dev/null | head -n 1)\" = 'line 2' ]"
	scrolled=$(top $s)
	$TM send-keys -t $s G
	wait_for 10 sh -c "[ \"\$($TM capture-pane -p -t $s 2>/dev/null | grep -v '^\$' | tail -n 2 | head -n 1)\" = 'line 200000' ]"
	last=$(bottom $s)
	$TM send-keys -t $s q
	wait_for 10 test -s "$W/$s.rc"
	if [ $dumped -eq 0 ] && [ "$redrawn" = "line 1" ] && [ "$scrolled" = "line 2" ] && [ "$last" = "line 200000" ] &&
		[ "$(cat "$W/$s.rc" 2>/dev/null)" = "rc=0" ]; then
		ok "a job ($how) in tmux: sh, seq and less take the new terminal's foreground, j scrolls, G shows seq's last line, q ends it (exit 0)"
	else
		not_ok "a job ($how) in tmux: dump $dumped ($(oneline "$W/jdump.out")), top line '$redrawn', after j '$scrolled', after G '$last', $(cat "$W/$s.rc" 2>/dev/null), restorer: $(oneline "$W/$s.err")"
	fi
	$TM kill-session -t $s 2>/dev/null
done
finish
