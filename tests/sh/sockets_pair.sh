#!/bin/sh
# sockets_pair.sh -- connected UNIX sockets inside the process come back
# connected, with what was queued on them (issue 17, second part).
#
# A C program (compiled here) holds a stream socketpair with 200000 bytes
# queued one way and 11 the other (one end shut down for writing, the other
# O_NONBLOCK, with SO_PASSCRED and a dup), a seqpacket pair and a datagram
# pair with records of several sizes queued (an empty one among them), and a
# stream connection accepted from its own listener with bytes both ways.  It
# checkpoints itself (raise SIGUSR2), then reads every queue and prints what
# it got: record sizes and checksums, how each read ends, its flags.
# Checks:
#   1  the uninterrupted run read everything as sent (the checkpoint took
#      nothing away), the image records the ends as unix-pair (readckpt),
#      and the checkpoint named only the accepted connection's address
#   2  restored (the program gone): its output is the uninterrupted run's
#   3  the same with --lazy
#   4  a seqpacket pair with a descriptor in flight (SCM_RIGHTS) is named at
#      checkpoint time, both ends; the restorer refuses it in one line
#   5  a bound UNIX datagram socket with 3 datagrams queued: they come back
#      (the restored program reads what the uninterrupted run read), and
#      neither the checkpoint nor the restorer names a loss
# Root and the ordinary user alike (abstract socket names, no files).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the eager restore is expected to print one more byte.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
workdir sockets_pair

cat >"$W/pairs.c" <<'EOF2'
/* pairs MODE IMAGE: holds connected UNIX sockets with data queued, takes a
 * checkpoint (raise SIGUSR2), then (the original once IMAGE is there, or the
 * restored program) reads every queue and prints what it got.
 * MODE main: a stream socketpair (bytes both ways, 200000 one way, one end
 * shut down for writing, one O_NONBLOCK, one dup'd, one with SO_PASSCRED), a
 * seqpacket pair and a datagram pair (records of several sizes, an empty
 * one), and a connection accepted from the program's own listener.
 * MODE rights: a seqpacket pair with a descriptor in flight (SCM_RIGHTS).
 * MODE bound: a bound UNIX datagram socket with 3 datagrams queued. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static char big[200000], buf[300000];

static void fill(char *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
}

static unsigned sum(const char *p, size_t n)
{
	unsigned h = 5381;

	for (size_t i = 0; i < n; i++)
		h = h * 33 + (unsigned char)p[i];
	return h;
}

/* every message queued for fd, then how a read ends: "eof" or an errno */
static void drain(const char *name, int fd, int stream)
{
	size_t total = 0;
	int n = 0;
	ssize_t r;

	printf("%s:", name);
	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (stream && r == 0)
			break;
		if (stream) {
			total += r;
			n++;
			continue;
		}
		printf(" [%zd %.8s %08x]", r, r < 40 ? buf : "", sum(buf, r));
		if (++n > 50)
			break;
	}
	if (stream)
		printf(" %zu bytes", total);
	printf(" then %s\n", r == 0 ? "eof" : strerror(errno));
}

/* the checkpoint; the original waits for its image (written while it runs on) */
static void checkpoint(const char *image)
{
	struct stat st;

	raise(SIGUSR2);
	if (ckpt_restore_count() == 0)
		for (int i = 0; i < 600 && stat(image, &st); i++)
			usleep(50000);
}

static void sendrec(int fd, const char *s, size_t n)
{
	if (send(fd, s, n, 0) != (ssize_t)n) { perror("send"); exit(3); }
}

static int opt(int fd, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, SOL_SOCKET, name, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	int s[2], q[2], d[2], dup_, lis, cli, acc, one = 1;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t alen;

	if (!ckpt_restore_count || argc < 3) { puts("usage: pairs MODE IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	fill(big, sizeof(big), 3);
	if (!strcmp(argv[1], "rights")) {
		char cb[CMSG_SPACE(sizeof(int))];
		struct iovec io = { "r", 1 };
		struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q)) return 3;
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &q[0], sizeof(int));
		sendrec(q[0], "before", 6);
		if (sendmsg(q[0], &m, 0) != 1) return 3;
		checkpoint(argv[2]);
		drain("rights", q[1], 0);
		return 0;
	}
	if (!strcmp(argv[1], "bound")) {
		a.sun_path[0] = 0;
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ckpt-pairs-%d", getpid());
		alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
		d[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
		d[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (bind(d[0], (void *)&a, alen)) return 3;
		for (int i = 0; i < 3; i++)
			if (sendto(d[1], "queued", 6, 0, (void *)&a, alen) != 6) return 3;
		checkpoint(argv[2]);
		drain("bound", d[0], 0);
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d)) return 3;
	/* stream: 200000 bytes one way in pieces, 11 the other; then s[0] shuts
	 * its writing down; s[1] non-blocking and with SO_PASSCRED; a dup of s[1] */
	for (size_t at = 0; at < sizeof(big); at += 50000)
		sendrec(s[0], big + at, 50000);
	sendrec(s[1], "hello there", 11);
	shutdown(s[0], SHUT_WR);
	fcntl(s[1], F_SETFL, O_NONBLOCK);
	setsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	dup_ = dup(s[1]);
	/* seqpacket and datagram: records of several sizes, an empty one among them */
	sendrec(q[0], "first", 5);
	sendrec(q[0], "", 0);
	sendrec(q[0], big, 3000);
	sendrec(q[0], "last", 4);
	sendrec(q[1], "back", 4);
	sendrec(d[1], "one", 3);
	sendrec(d[1], big + 7, 60000);
	sendrec(d[1], "", 0);
	sendrec(d[1], "three", 5);
	sendrec(d[0], "to d1", 5);
	/* a connection accepted from the program's own listener (abstract name) */
	a.sun_path[0] = 0;
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ckpt-pairs-%d", getpid());
	alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	lis = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(lis, (void *)&a, alen) || listen(lis, 4) || connect(cli, (void *)&a, alen) ||
	    (acc = accept(lis, 0, 0)) < 0) return 3;
	sendrec(cli, "from the client", 15);
	sendrec(acc, "from the server", 15);

	checkpoint(argv[2]);
	printf("s1 nonblock %d passcred %d, s0 nonblock %d, d0 cloexec %d\n", !!(fcntl(s[1], F_GETFL) & O_NONBLOCK),
	       opt(s[1], SO_PASSCRED), !!(fcntl(s[0], F_GETFL) & O_NONBLOCK), !!(fcntl(d[0], F_GETFD) & FD_CLOEXEC));
	drain("stream s1", dup_, 1);
	drain("stream s0", s[0], 1);
	printf("s0 write after SHUT_WR: %s\n", send(s[0], "x", 1, MSG_NOSIGNAL) < 0 ? strerror(errno) : "written");
	drain("seqpacket q1", q[1], 0);
	drain("seqpacket q0", q[0], 0);
	drain("dgram d0", d[0], 0);
	drain("dgram d1", d[1], 0);
	sendrec(q[1], "still connected", 15);
	drain("seqpacket q0 again", q[0], 0);
	drain("accepted", acc, 1);
	drain("client", cli, 1);
	sendrec(cli, "more", 4);
	drain("accepted again", acc, 1);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/pairs" "$W/pairs.c"

# take MODE: run the program under libckpt (image $W/MODE.img); its output
# in $W/MODE.out, its stderr (what the checkpoint said) in $W/MODE.err
take() {
	(cd "$W" && CKPT_FILE="$W/$1.img" timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./pairs "$1" "$W/$1.img") \
		>"$W/$1.out" 2>"$W/$1.err"
	rc=$?
	wait_for 30 test -s "$W/$1.img"
}
# restore IMAGE [FLAG]: the restorer, stdout in $W/rst.out, stderr in $W/rst.err
restore() {
	(cd "$W" && timeout 30 "$ROOT/restorer" ${2:-} "$1") >"$W/rst.out" 2>"$W/rst.err"
	rrc=$?
}

take main
pairs=$("$ROOT/readckpt" "$W/main.img" 2>&1 | grep -c ' unix-pair ')
if [ $rc -eq 0 ] && grep -q '^stream s1: 200000 bytes then eof$' "$W/main.out" &&
   grep -q '^dgram d0: \[3 one[^]]*\] \[60000 [^]]*\] \[0 [^]]*\] \[5 three[^]]*\] then Resource' "$W/main.out" &&
   grep -q '^seqpacket q1: \[5 first[^]]*\] \[0 [^]]*\] \[3000 [^]]*\] \[4 last[^]]*\] then Resource' "$W/main.out" &&
   [ "$pairs" = 9 ] && [ "$(lines "$W/main.err")" = 2 ] &&
   [ "$(grep -c 'not restored: fd [0-9]* (socket:\[[0-9]*\]): the address of its UNIX connection (accepted from a listener): it comes back connected, unnamed$' "$W/main.err")" = 2 ]; then
	ok "the program read its queues whole after the checkpoint; the image holds 9 unix-pair ends"
else
	not_ok "uninterrupted run: exit $rc, $(oneline "$W/main.out"); unix-pair records: $pairs (want 9); checkpoint said: $(oneline "$W/main.err")"
	finish
fi

want=$(cat "$W/main.out")
[ "$BRK" = 1 ] && want=$(echo "$want" | sed 's/^stream s1: 200000 bytes/stream s1: 200001 bytes/')
for flag in "" --lazy; do
	restore "$W/main.img" $flag
	if [ $rrc -eq 0 ] && [ "$(cat "$W/rst.out")" = "$want" ] &&
	   [ "$(grep -c 'notice: fd [0-9]*: its UNIX connection (accepted from a listener) comes back unnamed$' "$W/rst.err")" = 2 ]; then
		ok "restored ${flag:-eager}: every queue read as the uninterrupted run read it ($(grep -c . "$W/rst.out") lines)"
	else
		not_ok "restored ${flag:-eager}: exit $rrc; $(diff "$W/main.out" "$W/rst.out" | head -n 6 | tr '\n' '|'); $(oneline "$W/rst.err")"
	fi
done

take rights
restore "$W/rights.img"
if [ "$(grep -c 'not restored: fd [34] (socket:\[[0-9]*\]): descriptors in flight (SCM_RIGHTS) queued on its connection$' "$W/rights.err")" = 2 ] &&
   [ $rrc -ne 0 ] && [ "$(lines "$W/rst.err")" = 1 ] &&
   grep -q '^restorer: .*: fd 3 (socket:\[[0-9]*\]: descriptors in flight (SCM_RIGHTS) queued on its connection) cannot be restored' "$W/rst.err"; then
	ok "a pair with a descriptor in flight is named at checkpoint time and refused in one line: $(oneline "$W/rst.err")"
else
	not_ok "SCM_RIGHTS: checkpoint said $(oneline "$W/rights.err"); restorer exit $rrc: $(oneline "$W/rst.err")"
fi

take bound
restore "$W/bound.img"
if ! grep -q 'datagram' "$W/bound.err" "$W/rst.err" && [ $rrc -eq 0 ] &&
   grep -q '^bound: \[6 queued.*\] \[6 queued.*\] \[6 queued.*\] then Resource' "$W/bound.out" &&
   [ "$(grep '^bound:' "$W/rst.out")" = "$(grep '^bound:' "$W/bound.out")" ]; then
	ok "a bound datagram socket's 3 queued datagrams come back, nothing named lost"
else
	not_ok "bound datagram socket: checkpoint said $(oneline "$W/bound.err"); restorer exit $rrc: $(oneline "$W/rst.err"); printed $(oneline "$W/rst.out")"
fi
finish
