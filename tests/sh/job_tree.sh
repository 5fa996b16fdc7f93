#!/bin/sh
# job_tree.sh -- a job of a parent and its children: a prefork-style server
# whose workers share its task and result pipes, two zombies not reaped yet,
# an idle child; checkpointed whole, killed, restored eager and --lazy.
#
# Simulates a small prefork server (the parent hands numbers to two workers
# through one pipe and reads their squares from another) that also has
# children it has not waited for yet.  Checks:
#   1  `ckpt dump` of the parent: a job table of 6 processes, two of them
#      zombies (exit status 7; killed by SIGTERM), the two pipes shared, and a
#      SOCK_SEQPACKET socketpair whose parent end has the workers' greetings
#      queued, SO_PASSCRED, its own buffer sizes and is shut down for writing
#      (libckpt says once that the greetings come back with the credentials
#      of the process that makes the pair again)
#   2  restored eagerly: the server carries on where it was (the sum of all
#      squares is right: no task lost or done twice), wait() in the parent
#      finds both zombies with their statuses and each worker under the pid
#      it had before the checkpoint; its pidfd of a worker is that worker's;
#      its end of the socketpair has the options it had (SO_PASSCRED,
#      SO_RCVBUF, SO_SNDBUF) and a send on it still fails with EPIPE
#   3  the same with --lazy; CKPT_KEEP=2: a second dump keeps the first
#      table as img.1 with its images, and it restores the same way
#   4  a stopped child (SIGSTOP): continued for the checkpoint, it stops
#      again after it, and is stopped after the restore, eager and --lazy
#      (the parent sees it in /proc), the server's work right
# Root and the ordinary user.  CKPT_TEST_BREAK=1: the expected sum is off by one.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
need_cc
command -v setsid >/dev/null || skip "no setsid"
workdir jobtree

cat >"$W/tree.c" <<'EOF'
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 2000

/* the parent's end of the socketpair: its options, and what a send gets */
static void hello_options(int fd)
{
	int cred = -1, rcv = -1, snd = -1;
	socklen_t l = sizeof(int);
	ssize_t r;

	getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &cred, &l);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &l);
	r = send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	printf("hello options: passcred %d rcvbuf %d sndbuf %d send %s\n", cred, rcv, snd,
	       r < 0 && errno == EPIPE ? "EPIPE" : "did not fail with EPIPE");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "normal";
	int tasks[2], results[2], hello[2], st, i, pidfd;
	pid_t w[2], z1, z2, idle, got;
	long sum = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(tasks) || pipe(results) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, hello))
		return 1;
	for (i = 0; i < 2; i++)
		if ((w[i] = fork()) == 0) {
			char hi[16];
			int n;
			long r;

			close(tasks[1]);
			close(results[0]);
			close(hello[0]);
			snprintf(hi, sizeof(hi), "hello %d", i + 1);
			if (send(hello[1], hi, strlen(hi), 0) < 0)	/* read by the parent at the end */
				_exit(4);
			while (read(tasks[0], &n, sizeof(n)) == sizeof(n) && n >= 0) {
				r = (long)n * n;
				if (write(results[1], &r, sizeof(r)) != sizeof(r))
					_exit(3);
			}
			_exit(0);
		}
	if ((z1 = fork()) == 0)
		_exit(7);
	if ((z2 = fork()) == 0) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		_exit(9);
	}
	if ((idle = fork()) == 0)
		for (;;)
			pause();
	if (!strcmp(mode, "stop"))
		kill(idle, SIGSTOP);
	close(tasks[0]);
	close(results[1]);
	close(hello[1]);
	{
		int one = 1, rcv = 40000, snd = 60000;

		if (setsockopt(hello[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
		    setsockopt(hello[0], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) ||
		    setsockopt(hello[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) || shutdown(hello[0], SHUT_WR))
			return 1;
		hello_options(hello[0]);
	}
	pidfd = syscall(SYS_pidfd_open, w[0], 0);
	printf("ready workers %d %d\n", (int)w[0], (int)w[1]);
	for (i = 1; i <= N; i++) {
		long r;

		if (write(tasks[1], &i, sizeof(i)) != sizeof(i) || read(results[0], &r, sizeof(r)) != sizeof(r))
			return 2;
		sum += r;
		usleep(1000);
		if (i % 250 == 0)
			printf("at %d\n", i);
	}
	{
		char path[64], info[1024], *p;
		int fd, n;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : (int)read(fd, info, sizeof(info) - 1);
		info[n > 0 ? n : 0] = 0;
		p = strstr(info, "Pid:");
		printf("pidfd of %d\n", p ? atoi(p + 4) : -1);
	}
	for (int k = 0; k < 2; k++) {		/* queued since the start, on a socketpair */
		char hi[16];
		ssize_t n = recv(hello[0], hi, sizeof(hi) - 1, MSG_DONTWAIT);

		hi[n > 0 ? n : 0] = 0;
		printf("got %s\n", n > 0 ? hi : "nothing");
	}
	hello_options(hello[0]);
	got = waitpid(z1, &st, 0);
	printf("z1 %s %d\n", got == z1 && WIFEXITED(st) ? "exit" : "?", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	got = waitpid(z2, &st, 0);
	printf("z2 %s %d\n", got == z2 && WIFSIGNALED(st) ? "signal" : "?", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	i = -1;
	for (int k = 0; k < 2; k++)
		if (write(tasks[1], &i, sizeof(i)) != sizeof(i))
			return 2;
	for (int k = 0; k < 2; k++) {
		got = waitpid(w[k], &st, 0);
		printf("worker %d %s %d\n", (int)w[k], got == w[k] ? "status" : "lost",
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	{
		char path[64], stat[512], *p;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)idle);
		f = fopen(path, "r");
		stat[0] = 0;
		if (f && !fgets(stat, sizeof(stat), f))
			stat[0] = 0;
		if (f)
			fclose(f);
		p = strrchr(stat, ')');
		printf("idle %c\n", p && p[1] ? p[2] : '?');
	}
	kill(idle, SIGKILL);
	waitpid(idle, &st, 0);
	printf("sum %ld\n", sum);
	return 0;
}
EOF
compile_or_fail "build the test program" cc -O -o "$W/tree" "$W/tree.c"

# start MODE: the server in a session of its own under libckpt.so, pid in pgid
start() {
	rm -f "$W/img" "$W/img.1" "$W/.img."*
	(cd "$W" && CKPT_KEEP=2 CKPT_FILE="$W/img" exec setsid env LD_PRELOAD="$ROOT/libckpt.so" ./tree "$1" \
		>"$W/prog.out" 2>"$W/prog.err" </dev/null) &
	pgid=$!
	wait_for 10 grep -q "^ready" "$W/prog.out"
}

start normal || { not_ok "the server did not start: $(oneline "$W/prog.err")"; finish; }
wait_for 20 grep -q "^at 250" "$W/prog.out"
"$ROOT/ckpt" dump "$pgid" >"$W/dump1.out" 2>"$W/dump1.err"
rc1=$?
wait_for 20 grep -q "^at 500" "$W/prog.out"
"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
kill -9 "-$pgid"
pgid=
"$ROOT/readckpt" "$W/img.1" >"$W/read1.out" 2>&1
images=$(ls -A "$W" | grep -c '^\.img\.')
if [ $rc1 -eq 0 ] && [ $rc -eq 0 ] && grep -q "^processes 6" "$W/read1.out" && [ "$images" -eq 8 ] &&
   ! cmp -s "$W/img" "$W/img.1"; then
	ok "CKPT_KEEP=2: a second dump keeps the first table as img.1, each table with its 4 images"
else
	not_ok "CKPT_KEEP=2: dumps rc $rc1 and $rc, $images images: $(ls -A "$W" | tr '\n' ' '); img.1: $(head -n 5 "$W/read1.out" | tr '\n' '|')"
fi
"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
workers=$(sed -n 's/^ready workers //p' "$W/prog.out")
if [ $rc -eq 0 ] && grep -q "^processes 6" "$W/read.out" && grep -q "zombie, exit status 7" "$W/read.out" &&
   grep -q "zombie, killed by signal 15" "$W/read.out" && [ "$(grep -c ' pipe, ' "$W/read.out")" -eq 2 ] &&
   grep -q "UNIX seqpacket connection, [1-9][0-9]* + 0 bytes queued" "$W/read.out" &&
   [ "$(grep -c "fd [0-9]*: what is queued on its UNIX connection (SO_PASSCRED) comes back with the credentials" "$W/prog.err")" -eq 2 ]; then
	ok "dump of the server: 6 processes, 2 of them zombies with their statuses, 2 shared pipes, a socketpair with its queue (its SO_PASSCRED named at each dump)"
else
	not_ok "dump: rc $rc: $(oneline "$W/dump.err"); readckpt: $(sed -n '5,18p' "$W/read.out" | tr '\n' '|')"
fi

want=$((2000 * 2001 * 4001 / 6))
[ "$BRK" -eq 1 ] && want=$((want + 1))
set -- $workers
hello=$(grep -m1 '^hello options' "$W/prog.out")
case $hello in
"hello options: passcred 1 rcvbuf "*" send EPIPE") ;;
*) not_ok "the program's socketpair end before the checkpoint: '$hello'" ;;
esac
restore() {
	(cd "$W" && timeout 60 "$ROOT/restorer" $1 "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	rc=$?
	w0=$2 w1=$3
	if [ $rc -eq 0 ] && grep -qx "sum $want" "$W/rst.out" && grep -qx "$hello" "$W/rst.out" && grep -qx "z1 exit 7" "$W/rst.out" &&
	   grep -qx "z2 signal 15" "$W/rst.out" && grep -qx "worker $w0 status 0" "$W/rst.out" &&
	   grep -qx "worker $w1 status 0" "$W/rst.out" && grep -qx "pidfd of $w0" "$W/rst.out" &&
	   grep -qx "got hello 1" "$W/rst.out" && grep -qx "got hello 2" "$W/rst.out"; then
		ok "restored ${1:-eagerly}: every task done once (sum $want), both zombies reaped with their statuses, workers $w0 and $w1 waited for by pid, the pidfd of $w0 is its, the workers' two messages queued on a socketpair are there, its end as it was ($hello)"
	else
		not_ok "restored ${1:-eagerly}: rc $rc: $(oneline "$W/rst.out"); stderr $(oneline "$W/rst.err")"
	fi
}
restore "" "$@"
restore --lazy "$@"
rm "$W/img"				# the older table, which a corrupt newest one falls back to
mv "$W/img.1" "$W/img"
restore "" "$@"

# 4: a stopped child: continued for the checkpoint, stopped again after it
# and after the restore
start stop || { not_ok "stop: the server did not start: $(oneline "$W/prog.err")"; finish; }
wait_for 20 grep -q "^at 250" "$W/prog.out"
"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
sleep 0.2
idle=$(pgrep -P "$pgid" tree | while read -r c; do [ "$(awk '{ print $3 }' /proc/$c/stat)" = T ] && echo "$c"; done)
kill -9 "-$pgid"
pgid=
for how in "" --lazy; do
	(cd "$W" && timeout 60 "$ROOT/restorer" $how "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	rrc=$?
	if [ $rc -eq 0 ] && [ -n "$idle" ] && [ $rrc -eq 0 ] && grep -qx "idle T" "$W/rst.out" && grep -qx "sum $want" "$W/rst.out"; then
		ok "a stopped child: checkpointed with the job, stopped again after it (pid $idle) and after the restore (${how:-eager})"
	else
		not_ok "a stopped child (${how:-eager}): dump rc $rc, stopped after it: '${idle:-none}', restore rc $rrc: $(oneline "$W/rst.out"); $(oneline "$W/rst.err"); libckpt: $(oneline "$W/prog.err")"
	fi
done
finish
