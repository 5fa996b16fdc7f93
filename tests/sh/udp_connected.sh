#!/bin/sh
# udp_connected.sh -- a connected UDP socket comes back connected to the same
# peer, from the same address (issue 17: "UDP connected sockets re-connect").
#
# Simulates a client that connect()ed a UDP socket to its server (a DNS or
# statsd client does) and sends with send(), no address.  One program holds
# both: a server socket bound to 127.0.0.1 (or ::1) and a client connected to
# it; it checkpoints itself with raise(SIGUSR2), then the client sends
# "ping", the server answers to the address the datagram came from, and the
# client reads the answer with recv().  Checks, for IPv4 and IPv6:
#   1/3  the image records the client as a connected UDP socket (readckpt)
#   2/4  the restored program's output (the exchange, the client's local
#        port unchanged) is the uninterrupted run's, and the restorer said
#        nothing about the socket
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: the expected output
# names another port.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
workdir udp_connected

cat >"$W/udp.c" <<'EOF2'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static int port_of(int s)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	getsockname(s, (void *)&a, &l);
	return ntohs(((struct sockaddr_in *)&a)->sin_port);	/* sin6_port is at the same place */
}
int main(int argc, char **argv)
{
	int v6 = argc > 1 && !strcmp(argv[1], "6"), fam = v6 ? AF_INET6 : AF_INET;
	struct sockaddr_storage at = { 0 }, from;
	socklen_t alen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), flen = sizeof(from);
	int srv, cli;
	char buf[64];
	ssize_t n;

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	srv = socket(fam, SOCK_DGRAM, 0);
	cli = socket(fam, SOCK_DGRAM, 0);
	at.ss_family = fam;
	if (v6)
		((struct sockaddr_in6 *)&at)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&at)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv, (void *)&at, alen) || getsockname(srv, (void *)&at, &alen) || connect(cli, (void *)&at, alen)) {
		perror("udp setup");
		return 3;
	}
	printf("client port %d\n", port_of(cli));
	fflush(stdout);
	raise(SIGUSR2);
	if (send(cli, "ping", 4, 0) != 4 || (n = recvfrom(srv, buf, sizeof(buf), 0, (void *)&from, &flen)) != 4 ||
	    sendto(srv, "pong", 4, 0, (void *)&from, flen) != 4 || recv(cli, buf + 8, 8, 0) != 4) {
		perror("exchange");
		return 1;
	}
	printf("server got %.4s from port %d, client got %.4s, client port %d\n", buf,
	       ntohs(((struct sockaddr_in *)&from)->sin_port), buf + 8, port_of(cli));
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/udp" "$W/udp.c"

for v in 4 6; do
	rm -f "$W/img"
	(cd "$W" && CKPT_FILE="$W/img" timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" "$W/udp" $v >"$W/orig$v.out" 2>"$W/orig$v.err")
	if [ ! -s "$W/img" ] || ! grep -q "^server got ping" "$W/orig$v.out"; then
		not_ok "IPv$v: the uninterrupted run: $(oneline "$W/orig$v.out") $(oneline "$W/orig$v.err")"
		not_ok "IPv$v: not restored"
		continue
	fi
	"$ROOT/readckpt" "$W/img" >"$W/read$v" 2>&1
	if grep -q "a UDP socket connected to a peer" "$W/read$v"; then
		ok "IPv$v: the image records the connected UDP socket"
	else
		not_ok "IPv$v: readckpt does not show a connected UDP socket: $(grep -i udp "$W/read$v" | head -n 2 | tr '\n' '|')"
	fi
	want=$(sed -n 2p "$W/orig$v.out")
	[ "$BRK" -eq 1 ] && want=$(echo "$want" | sed 's/client port \([0-9]*\)$/client port 1\1/')
	(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" >"$W/rst$v.out" 2>"$W/rst$v.err" </dev/null)
	if [ "$(cat "$W/rst$v.out")" = "$want" ] && ! grep -q "fd [0-9]" "$W/rst$v.err"; then
		ok "IPv$v: restored, the client sends with send() and the answer reaches it: $want"
	else
		not_ok "IPv$v: restored: '$(oneline "$W/rst$v.out")' (want '$want'); restorer: $(oneline "$W/rst$v.err")"
	fi
done
finish
