#!/bin/sh
# dump_trigger.sh -- `ckpt dump PID` of a program that took the trigger signal
# (SIGUSR2) for itself says so at once, in one line naming the reason, exit 1,
# and sends nothing.
#
# Simulates programs built around signals, each under libckpt.so (a small C
# program compiled here with cc; skipped without one):
#   - signalfd: blocks SIGUSR2 and reads it from a signalfd;
#   - sigwait:  blocks it and waits in sigwaitinfo;
#   - pending:  blocks it and polls sigpending;
#   - rawign:   sets SIG_IGN with the raw rt_sigaction system call;
#   - rawdfl:   sets SIG_DFL the same way;
#   - thread:   blocks it in the main thread, but a second thread does not
#               (a checkpoint can start there: dump must succeed).
# For each refusal: exit status 1 within 3 s (not the --timeout of 20), one
# line on stderr starting "ckpt: " with the reason (every thread blocks it /
# ignores it / no handler), nothing on stdout, no image, the program alive and
# never signalled (it says "took" when it gets SIGUSR2; SigPnd stays clear).
#
# Environment (tests/run.sh): ROOT, the built tree; TMPDIR, a private dir.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail, 4 skip.

set -u
. "$(dirname "$0")/lib.sh"
pid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so"
CC=${CC:-cc}
need_cc "$CC"
workdir dumptrig

cat >"$W/sigprog.c" <<'EOF'
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

static void say(const char *s) { write(1, s, strlen(s)); }
static void *spin(void *a) { (void)a; for (;;) pause(); }

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	sigset_t set;
	struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } ka = { 0 };

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (!strcmp(mode, "rawign") || !strcmp(mode, "rawdfl")) {
		ka.handler = (void *)(long)(!strcmp(mode, "rawign") ? 1 : 0);	/* SIG_IGN, SIG_DFL */
		if (syscall(SYS_rt_sigaction, SIGUSR2, &ka, NULL, 8))
			return 2;
		say("ready\n");
		for (;;) pause();
	}
	if (!strcmp(mode, "thread")) {
		pthread_t t;

		pthread_create(&t, NULL, spin, NULL);	/* before the block: it keeps SIGUSR2 */
	}
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	say("ready\n");
	if (!strcmp(mode, "signalfd")) {
		struct signalfd_siginfo si;
		int fd = signalfd(-1, &set, 0);

		while (read(fd, &si, sizeof si) == sizeof si)
			say("took\n");
	} else if (!strcmp(mode, "sigwait")) {
		for (;;)
			if (sigwaitinfo(&set, NULL) == SIGUSR2)
				say("took\n");
	} else {
		for (;;) {
			sigset_t p;

			sigpending(&p);
			if (sigismember(&p, SIGUSR2))
				say("took\n");
			usleep(10000);
		}
	}
	return 0;
}
EOF
compile_or_fail "build the test program" "$CC" -O -pthread -o "$W/sigprog" "$W/sigprog.c"

# start MODE -- the program under libckpt.so, pid in $pid, ready (its handler
# installed, its signal set up)
start() {
	rm -f "$W/img" "$W/prog.out"
	LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/img "$W/sigprog" "$1" >"$W/prog.out" 2>"$W/prog.err" </dev/null &
	pid=$!
	i=0
	while ! grep -q ready "$W/prog.out" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
}
stop() { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

# refused MODE REASON -- ckpt dump refuses the program at once, for REASON
refused() {
	start "$1"
	t0=$(date +%s)
	"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	secs=$(($(date +%s) - t0))
	line=$(head -n 1 "$W/err")
	sleep 0.2
	pnd=$(awk '/^(SigPnd|ShdPnd):/ { print $2 }' "/proc/$pid/status" 2>/dev/null | tr '\n' ' ')
	why=
	if [ $rc -ne 1 ]; then why="exit $rc, want 1"
	elif [ $secs -gt 3 ]; then why="took $secs s: it waited"
	elif [ "$(wc -l <"$W/err")" -ne 1 ] || [ "${line#ckpt: }" = "$line" ]; then why="stderr not one 'ckpt: ' line"
	elif [ -s "$W/out" ]; then why="wrote to stdout"
	else
		case $line in *"$2"*) ;; *) why="the line does not say '$2'" ;; esac
	fi
	[ -z "$why" ] && [ -e "$W/img" ] && why="an image was written"
	[ -z "$why" ] && ! kill -0 "$pid" 2>/dev/null && why="the program died"
	[ -z "$why" ] && grep -q took "$W/prog.out" && why="the program got the signal"
	[ -z "$why" ] && case " $pnd" in *" 0000000000000800 "* | *"800 "*) why="SIGUSR2 pending: signalled ($pnd)" ;; esac
	if [ -z "$why" ]; then
		ok "$1: refused at once: $line"
	else
		not_ok "$1: $why: $(oneline "$W/err")"
	fi
	stop
}

refused signalfd "blocks SIGUSR2 in every thread"
refused sigwait "blocks SIGUSR2 in every thread"
refused pending "blocks SIGUSR2 in every thread"
refused rawign "ignores SIGUSR2"
refused rawdfl "no handler for SIGUSR2"

# one thread still takes it: the checkpoint starts there
start thread
"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
rc=$?
want=0
[ "$BRK" = 1 ] && want=1
if [ $rc -eq $want ] && [ -s "$W/img" ] && [ ! -s "$W/err" ]; then
	ok "thread: blocked in the main thread only: dumped ($(cat "$W/out"))"
else
	not_ok "thread: exit $rc (want $want), image $( [ -s "$W/img" ] && echo yes || echo no): $(oneline "$W/err")"
fi
stop

finish
