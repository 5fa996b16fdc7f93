#!/bin/bash
# timeout: 150
# sockets_listen.sh -- servers come back listening (issue 17, first part).
#
# Simulates a service owner checkpointing a server and bringing it back after
# it was killed.  A C server (compiled here) listens on TCP 127.0.0.1 (backlog
# 77, SO_REUSEADDR, TCP_NODELAY), TCP [::1] (IPV6_V6ONLY), UDP 127.0.0.1, a
# UNIX stream socket at a path and a UNIX seqpacket socket with an abstract
# name, all in one epoll loop; every answer counts the requests served so far
# and, for TCP, says the listener's options as it sees them (getsockopt; the
# backlog through TCP_INFO).  Checks:
#   1  the image records the five sockets as sockets (readckpt), none
#      "UNSUPPORTED", and the checkpoint said nothing was lost
#   2  killed (SIGKILL, the UNIX path's socket file left behind) and restored:
#      every socket answers, the count goes on from the checkpoint's, the TCP
#      listener's options are the ones it had
#   3  a second restore while the first runs is refused in one line naming the
#      address in use, exit non-zero; the first goes on serving
#   4  the same with --lazy
#   5  a program holding a UNIX connection to another process (a child of
#      its holds the other end) is told at checkpoint time, in one line, that
#      it will not be restored and why; the restorer refuses it naming the
#      reason, and with --close-unsupported restores it closed (its epoll
#      watch named with that reason) and serves
#   6  a TCP connection open at the checkpoint (a client holds it; the server
#      waits for its end of file) is named at checkpoint time and comes back
#      as closed by its peer, with a notice: the server sees the client leave
#      and serves on
#   7  python3 -m http.server, checkpointed, killed and restored, serves a file
#      (noted, not tried, without python3)
# Root and the ordinary user alike (ports are chosen by the kernel or free).
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the count after the restore is expected one higher.

set -u
. "$(dirname "$0")/lib.sh"
workdir sockets_listen
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
pids=
at_exit 'for p in $pids; do kill -9 $p 2>/dev/null; done'

cat >"$W/srv.c" <<'PROG'
/* srv DIR [pair]: serves on five sockets (see the test); prints
 * "ports TCP4 TCP6 UDP4" once listening.  With pair: holds a UNIX connection
 * to a child of its too (which dies with it). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int served;

static int opt(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(s, level, name, &v, &l);
	return v;
}

static int port_of(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof(a);

	getsockname(s, (struct sockaddr *)&a, &l);
	return ntohs(a.sin6_port);	/* same place in sockaddr_in */
}

int main(int argc, char **argv)
{
	int one = 1, ep = epoll_create1(0), s[5];
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un up = { .sun_family = AF_UNIX }, ua = { .sun_family = AF_UNIX };
	socklen_t ualen;
	int pair[2];

	if (argc < 2) return 2;
	snprintf(up.sun_path, sizeof(up.sun_path), "%s/s.sock", argv[1]);
	snprintf(ua.sun_path + 1, sizeof(ua.sun_path) - 1, "ckpt-test-%d", getpid());
	ualen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ua.sun_path + 1);
	s[0] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(s[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s[1] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(s[1], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	s[2] = socket(AF_INET, SOCK_DGRAM, 0);
	s[3] = socket(AF_UNIX, SOCK_STREAM, 0);
	s[4] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	if (bind(s[0], (void *)&a4, sizeof(a4)) || listen(s[0], 77) ||
	    bind(s[1], (void *)&a6, sizeof(a6)) || listen(s[1], 5) ||
	    bind(s[2], (void *)&a4, sizeof(a4)) ||
	    bind(s[3], (void *)&up, sizeof(up)) || listen(s[3], 5) ||
	    bind(s[4], (void *)&ua, ualen) || listen(s[4], 5)) {
		perror("bind/listen");
		return 2;
	}
	if (argc > 2) {		/* the other end in another process: a child */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) return 2;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (int i = 0; i < 5; i++)
				close(s[i]);
			close(pair[0]);
			pause();
			_exit(0);
		}
		close(pair[1]);
	}
	for (int i = 0; i < 5; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		epoll_ctl(ep, EPOLL_CTL_ADD, s[i], &ev);
	}
	if (argc > 2) {		/* watched too: restored closed, its watch is named */
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 9 };

		epoll_ctl(ep, EPOLL_CTL_ADD, pair[0], &ev);
	}
	printf("ports %d %d %d\n", port_of(s[0]), port_of(s[1]), port_of(s[2]));
	fflush(stdout);
	for (;;) {
		struct epoll_event ev;
		char msg[200], in[64];
		int n, c;

		if (epoll_wait(ep, &ev, 1, -1) != 1)
			continue;
		if (ev.data.u32 == 9) {		/* the child went: nothing to serve there */
			epoll_ctl(ep, EPOLL_CTL_DEL, pair[0], NULL);
			continue;
		}
		if (ev.data.u32 == 2) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);

			if (recvfrom(s[2], in, sizeof(in), 0, (void *)&from, &fl) < 0) continue;
			n = snprintf(msg, sizeof(msg), "udp4 served %d\n", served++);
			sendto(s[2], msg, n, 0, (void *)&from, fl);
			continue;
		}
		if ((c = accept4(s[ev.data.u32], 0, 0, 0)) < 0)
			continue;
		if (ev.data.u32 == 0) {
			struct tcp_info ti;
			socklen_t tl = sizeof(ti);

			getsockopt(s[0], IPPROTO_TCP, TCP_INFO, &ti, &tl);
			n = snprintf(msg, sizeof(msg), "tcp4 served %d reuseaddr %d nodelay %d backlog %u nonblock %d\n",
				     served++, opt(s[0], SOL_SOCKET, SO_REUSEADDR), opt(s[0], IPPROTO_TCP, TCP_NODELAY),
				     ti.tcpi_sacked, !!(fcntl(s[0], F_GETFL) & O_NONBLOCK));
		} else if (ev.data.u32 == 1) {
			n = snprintf(msg, sizeof(msg), "tcp6 served %d v6only %d\n", served++,
				     opt(s[1], IPPROTO_IPV6, IPV6_V6ONLY));
		} else {
			n = snprintf(msg, sizeof(msg), "%s served %d\n", ev.data.u32 == 3 ? "unix" : "abstract",
				     served++);
		}
		write(c, msg, n);
		/* the client closes first: the TIME_WAIT is on its side, and the
		 * v6 listener (no SO_REUSEADDR) can be bound again at once */
		while (read(c, in, sizeof(in)) > 0)
			;
		close(c);
	}
}
PROG
cat >"$W/cli.c" <<'PROG'
/* cli KIND WHERE [hold]: one request; prints the answer.  KIND: tcp4 PORT,
 * tcp6 PORT, udp4 PORT, unix PATH, abstract NAME.  hold: then keeps the
 * connection open for a minute. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	struct pollfd p;
	char buf[256];
	socklen_t len;
	void *a;
	int s, n;

	if (argc < 3) return 2;
	if (!strcmp(argv[1], "tcp4") || !strcmp(argv[1], "udp4")) {
		a4.sin_port = htons(atoi(argv[2]));
		a = &a4, len = sizeof(a4);
		s = socket(AF_INET, argv[1][0] == 'u' ? SOCK_DGRAM : SOCK_STREAM, 0);
	} else if (!strcmp(argv[1], "tcp6")) {
		a6.sin6_port = htons(atoi(argv[2]));
		a = &a6, len = sizeof(a6);
		s = socket(AF_INET6, SOCK_STREAM, 0);
	} else {
		int abs = !strcmp(argv[1], "abstract");

		strncpy(u.sun_path + abs, argv[2], sizeof(u.sun_path) - 2);
		a = &u, len = offsetof(struct sockaddr_un, sun_path) + abs + strlen(argv[2]) + !abs;
		s = socket(AF_UNIX, abs ? SOCK_SEQPACKET : SOCK_STREAM, 0);
	}
	if (connect(s, a, len)) { printf("connect failed\n"); return 1; }
	if (argv[1][0] == 'u' && argv[1][1] == 'd')
		send(s, "hi", 2, 0);
	p.fd = s, p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1) { printf("no answer\n"); return 1; }
	n = read(s, buf, sizeof(buf) - 1);
	if (n <= 0) { printf("empty answer\n"); return 1; }
	buf[n] = 0;
	fputs(buf, stdout);
	fflush(stdout);
	if (argc > 3)			/* hold: the connection stays open */
		sleep(60);
	return 0;
}
PROG
sed -i 's/#include <netinet\/tcp.h>/#include <netinet\/tcp.h>\n#include <fcntl.h>\n#include <stddef.h>/' "$W/srv.c"
sed -i 's/#include <poll.h>/#include <poll.h>\n#include <stddef.h>/' "$W/cli.c"
compile_or_fail "cannot build the server" cc -O2 -o "$W/srv" "$W/srv.c"
compile_or_fail "cannot build the client" cc -O2 -o "$W/cli" "$W/cli.c"

# close_fds: in a subshell, every descriptor above 2 goes (the runner's pipes)
close_fds() {
	local f k
	for f in /proc/$BASHPID/fd/*; do
		k=${f##*/}
		[ "$k" -gt 2 ] && [ "$k" -ne 255 ] && eval "exec $k>&-" 2>/dev/null
	done
	return 0
}
# start_srv NAME ARGS...: the server under libckpt, checkpointed alone
# (CKPT_JOB=0: pair's child holds the other end, outside the image); sets pid
start_srv() {
	local name=$1
	shift
	( close_fds; cd "$W" && exec env CKPT_JOB=0 CKPT_FILE="$W/$name.img" LD_PRELOAD="$ROOT/libckpt.so" "$W/srv" "$W" "$@" \
		>"$W/$name.out" 2>"$W/$name.err" </dev/null ) &
	pid=$!
	pids="$pids $pid"
	wait_for 10 grep -qs '^ports' "$W/$name.out"
}
# ask: one request to each socket; the answers, one per line
ask() {
	set -- $(sed -n 's/^ports //p' "$W/srv.out")
	"$W/cli" tcp4 "$1"; "$W/cli" tcp6 "$2"; "$W/cli" udp4 "$3"
	"$W/cli" unix "$W/s.sock"; "$W/cli" abstract "ckpt-test-$spid"
}
# take NAME PID: checkpoint it (SIGUSR2) and wait for the image
take() {
	rm -f "$W/$1.img"
	kill -USR2 "$2"
	wait_for 20 test -s "$W/$1.img"
	sleep 0.3
}
# restore_bg IMAGE ARGS...: the restorer in the background, sets rpid
restore_bg() {
	local img=$1
	shift
	( close_fds; cd "$W" && exec "$ROOT/restorer" "$@" "$img" >"$W/rst.out" 2>"$W/rst.err" </dev/null ) &
	rpid=$!
	pids="$pids $rpid"
}
# served_from LINES N: each line says "served K" with K = N, N+1, ... in order
served_from() {
	echo "$1" | awk -v n="$2" '{ for (i = 1; i < NF; i++) if ($i == "served") { if ($(i + 1) != n) bad = 1; n++ } }
		END { exit bad || NR != 5 }'
}

start_srv srv || { not_ok "the server did not start: $(oneline "$W/srv.err")"; finish; }
spid=$pid
before=$(ask)
take srv $spid
nsock=$("$ROOT/readckpt" "$W/srv.img" 2>&1 | grep -c ' socket ')
if [ "$nsock" = 5 ] && ! "$ROOT/readckpt" "$W/srv.img" | grep -q UNSUPPORTED && ! grep -q 'not restored' "$W/srv.err" &&
   served_from "$before" 0; then
	ok "the image holds the server's 5 sockets as sockets, and nothing is said lost"
else
	not_ok "sockets in the image: $nsock (want 5); answers: $(echo "$before" | tr '\n' '|'); $(oneline "$W/srv.err")"
fi
tcp_opts=$(echo "$before" | sed -n 's/^tcp4 served [0-9]* //p')
kill -9 $spid
wait $spid 2>/dev/null
want=5
[ "$BRK" = 1 ] && want=6

for mode in eager lazy; do
	flag=
	[ $mode = lazy ] && flag=--lazy
	restore_bg "$W/srv.img" $flag
	sleep 0.5
	after=$(ask)
	if served_from "$after" $want && [ "$(echo "$after" | sed -n 's/^tcp4 served [0-9]* //p')" = "$tcp_opts" ]; then
		ok "$mode: restored, every socket answers and the count goes on: $(echo "$after" | head -n 1)"
	else
		not_ok "$mode: answers after the restore: $(echo "$after" | tr '\n' '|') (want served from $want, tcp4 $tcp_opts); $(oneline "$W/rst.err")"
	fi
	first=$rpid
	restore_bg "$W/srv.img" $flag
	wait $rpid
	rc=$?
	again=$("$W/cli" tcp4 "$(sed -n 's/^ports \([0-9]*\).*/\1/p' "$W/srv.out")")
	if [ $rc -ne 0 ] && [ "$(lines "$W/rst.err")" = 1 ] && grep -q 'cannot bind a socket to 127.0.0.1:[0-9]*: in use' "$W/rst.err" &&
	   echo "$again" | grep -q "^tcp4 served $((want + 5))"; then
		ok "$mode: a second restore is refused in one line, the first serves on: $(oneline "$W/rst.err")"
	else
		not_ok "$mode: second restore: exit $rc, $(oneline "$W/rst.err"); the first answered '$again'"
	fi
	kill -9 $first
	wait $first 2>/dev/null
done

# 5: a UNIX connection to another process: named at checkpoint time and by
# the restorer; restored closed when asked
rm -f "$W/s.sock"
start_srv pair pair || { not_ok "the server with a UNIX connection did not start: $(oneline "$W/pair.err")"; finish; }
spid=$pid
take pair $spid
kill -9 $spid
wait $spid 2>/dev/null
restore_bg "$W/pair.img"
wait $rpid
rc=$?
refused=$(oneline "$W/rst.err")
cp "$W/pair.out" "$W/srv.out"
restore_bg "$W/pair.img" --close-unsupported
sleep 0.5
after=$(ask)
why='a UNIX connection whose other end is in another process'
if [ "$(grep -c "not restored: fd [0-9]* (socket:\[[0-9]*\]): $why" "$W/pair.err")" = 1 ] &&
   [ $rc -ne 0 ] && [ "$(echo "$refused" | tr '|' '\n' | grep -c .)" = 1 ] && echo "$refused" | grep -q "$why) cannot be restored" &&
   grep -q "notice: fd [0-9]* (socket:\[[0-9]*\]: $why) restored closed" "$W/rst.err" &&
   grep -q "notice: fd [0-9]*: epoll watch of fd [0-9]* (socket:\[[0-9]*\]) not restored: that descriptor was restored closed ($why)" "$W/rst.err" &&
   served_from "$after" 0; then
	ok "a UNIX connection to another process is named at checkpoint time ($(grep -m1 'not restored' "$W/pair.err" | cut -c1-160)), refused in one line, and restored closed when asked (its epoll watch named)"
else
	not_ok "UNIX connection to another process: checkpoint said $(oneline "$W/pair.err"); restorer exit $rc: $refused; --close-unsupported: $(oneline "$W/rst.err"), answers $(echo "$after" | tr '\n' '|')"
fi
kill -9 $rpid 2>/dev/null
wait $rpid 2>/dev/null

# 6: a TCP connection open at the checkpoint comes back as closed by its
# peer: the server, waiting for the client's end of file, gets it and serves on
rm -f "$W/s.sock"
start_srv held || { not_ok "the server did not start again: $(oneline "$W/held.err")"; finish; }
spid=$pid
"$W/cli" tcp4 "$(sed -n 's/^ports \([0-9]*\).*/\1/p' "$W/held.out")" hold >"$W/hold.out" &
hpid=$!
pids="$pids $hpid"
wait_for 10 grep -qs served "$W/hold.out"
take held $spid
kill -9 $spid $hpid
wait $spid 2>/dev/null
cp "$W/held.out" "$W/srv.out"
restore_bg "$W/held.img"
sleep 0.5
after=$(ask)
if grep -q 'not restored: fd [0-9]* (socket:\[[0-9]*\]): a TCP connection: it comes back as closed by its peer' "$W/held.err" &&
   [ "$(grep -c 'notice: fd [0-9]* (TCP 127.0.0.1:[0-9]* to 127.0.0.1:[0-9]*): the connection is not restored; it reads as closed by its peer$' "$W/rst.err")" = 1 ] &&
   served_from "$after" 1; then
	ok "a TCP connection open at the checkpoint is named then, and comes back closed: $(grep 'connection is not' "$W/rst.err")"
else
	not_ok "held connection: checkpoint said $(oneline "$W/held.err"); restorer: $(oneline "$W/rst.err"); answers $(echo "$after" | tr '\n' '|')"
fi
kill -9 $rpid 2>/dev/null
wait $rpid 2>/dev/null

# 7: python3 -m http.server
if ! command -v python3 >/dev/null; then
	note "python3 is not installed: http.server not tried"
else
	echo "ckpt was here" >"$W/hello.txt"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	get='import sys, urllib.request; print(urllib.request.urlopen("http://127.0.0.1:%s/hello.txt" % sys.argv[1], timeout=5).read().decode().strip())'
	( close_fds; cd "$W" && exec env CKPT_FILE="$W/py.img" LD_PRELOAD="$ROOT/libckpt.so" \
		python3 -m http.server --bind 127.0.0.1 "$port" >"$W/py.out" 2>"$W/py.err" </dev/null ) &
	ppid_=$!
	pids="$pids $ppid_"
	wait_for 10 python3 -c "$get" "$port" >/dev/null 2>&1
	take py $ppid_
	kill -9 $ppid_
	wait $ppid_ 2>/dev/null
	restore_bg "$W/py.img"
	got=$(for _ in 1 2 3 4 5 6 7 8 9 10; do python3 -c "$get" "$port" 2>/dev/null && break; sleep 0.3; done)
	if [ "$got" = "ckpt was here" ] && [ ! -s "$W/py.err" -o -z "$(grep 'not restored' "$W/py.err")" ]; then
		ok "python3 -m http.server restored serves hello.txt on 127.0.0.1:$port"
	else
		not_ok "python3 http.server after the restore: got '$got'; $(oneline "$W/rst.err") $(oneline "$W/py.err")"
	fi
	kill -9 $rpid 2>/dev/null
fi
finish
