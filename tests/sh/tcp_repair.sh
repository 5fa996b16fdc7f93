#!/bin/bash
# timeout: 120
# tcp_repair.sh -- a TCP connection to the outside world survives a checkpoint
# that ends the program and a restore, its peer never noticing (issue 17).
#
# Inside a user and network namespace of its own (unshare -Urn; root: unshare
# -n), where TCP_REPAIR is allowed, with lo up, all steps in one shell: a C
# server (compiled here) under libckpt accepts one client (compiled here,
# not under libckpt).  The client sends 1000 bytes the server leaves unread;
# the server sends 150000 bytes the client does not read yet (its receive
# buffer is small: most of them wait in the server's send queue, not sent).
# A final checkpoint (the trigger with CKPT_FINAL_COOKIE: the program stops
# once the image is written) is taken, the server killed, then restored.
# Checks, on 127.0.0.1 then on [::1]:
#   1  the checkpoint recorded the connection with TCP_REPAIR (readckpt shows
#      option 0x200 and the 1000 bytes unread) and the restorer said, in one
#      line, it restored it so
#   2  the conversation goes on: the client reads the 150000 bytes and 50 more
#      sent after the restore, then end of file; the server reads the 1000
#      bytes once, then 500 more sent after the restore: both byte streams
#      exactly those of an uninterrupted run
# and, on the IPv4 image:
#   3  a record that lies (TCP_REPAIR on a socket that was not connected, a
#      queue longer than the stored bytes) is refused in one line
#   4  (ordinary user) the same image restored outside the namespace, where
#      TCP_REPAIR is refused: the connection reads as closed by its peer, in
#      one line naming the refusal.  (A connection open at an ordinary
#      checkpoint comes back closed too: sockets_listen.sh check 6.)
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the IPv4 client expects one byte more than the server sends.

set -u
. "$(dirname "$0")/lib.sh"
workdir tcp_repair
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
command -v unshare >/dev/null 2>&1 || skip "no unshare (util-linux)"
command -v ip >/dev/null 2>&1 || skip "no ip (iproute2) to bring lo up"

cat >"$W/peer.c" <<'CEOF'
/* srv DIR: listen on 127.0.0.1, or [::1] with PEER_FAMILY=6 (a port the kernel picks, written to DIR/port),
 *   accept one, send 150000 bytes (byte k is k*7+1 mod 251) without reading,
 *   say "ready", wait for DIR/go, then read 1500 bytes (byte k: k*3 mod 256),
 *   check them, send 50 more bytes of its stream, close.
 * cli DIR PORT EXTRA: connect with a small receive buffer, send 1000 bytes,
 *   say "sent", wait for DIR/go, send 500 more, read to end of file, check
 *   150050 + EXTRA bytes of the stream came. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void wait_go(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/go", dir);
	while (access(p, F_OK))
		usleep(20000);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int v6 = getenv("PEER_FAMILY") && !strcmp(getenv("PEER_FAMILY"), "6"), fam = v6 ? AF_INET6 : AF_INET;
	void *a = v6 ? (void *)&a6 : (void *)&a4;
	in_port_t *port = v6 ? &a6.sin6_port : &a4.sin_port;
	socklen_t alen = v6 ? sizeof(a6) : sizeof(a4);
	static unsigned char buf[200000];
	int one = 1;

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setvbuf(stdout, 0, _IONBF, 0);
	if (!strcmp(argv[1], "srv")) {
		int l = socket(fam, SOCK_STREAM, 0), s, got = 0, bad = 0;
		socklen_t al = alen;
		char p[4096];
		FILE *f;

		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l, a, alen) || listen(l, 4) || getsockname(l, a, &al))
			return perror("srv: listen"), 1;
		snprintf(p, sizeof(p), "%s/port", argv[2]);
		f = fopen(p, "w");
		fprintf(f, "%d\n", ntohs(*port));
		fclose(f);
		if ((s = accept(l, 0, 0)) < 0)
			return perror("srv: accept"), 1;
		for (int k = 0; k < 150050; k++)
			buf[k] = (unsigned char)((k * 7 + 1) % 251);
		for (int sent = 0; sent < 150000; ) {
			int n = send(s, buf + sent, 150000 - sent, MSG_DONTWAIT);

			if (n <= 0)
				return printf("srv: send queue full at %d\n", sent), 1;
			sent += n;
		}
		printf("ready\n");
		wait_go(argv[2]);
		while (got < 1500) {
			int n = read(s, buf + 150050 + got, 1500 - got);

			if (n <= 0)
				return printf("srv: read %d after %d bytes\n", n, got), 1;
			got += n;
		}
		for (int k = 0; k < 1500; k++)
			bad += buf[150050 + k] != (unsigned char)(k * 3);
		if (write(s, buf + 150000, 50) != 50)
			return perror("srv: write"), 1;
		close(s);
		printf("srv: got %d bytes, %d out of place\n", got, bad);
		return bad != 0;
	} else {
		int s = socket(fam, SOCK_STREAM, 0), small = 4096, want = 150050 + atoi(argv[4]), got = 0, n, bad = 0;
		static unsigned char in[200000];

		for (int k = 0; k < 1500; k++)
			buf[k] = (unsigned char)(k * 3);
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		*port = htons(atoi(argv[3]));
		if (connect(s, a, alen) || write(s, buf, 1000) != 1000)
			return perror("cli: connect"), 1;
		printf("sent\n");
		wait_go(argv[2]);
		if (write(s, buf + 1000, 500) != 500)
			return perror("cli: write"), 1;
		while (got < (int)sizeof(in) && (n = read(s, in + got, sizeof(in) - got)) > 0)
			got += n;
		for (int k = 0; k < got && k < 150050; k++)
			bad += in[k] != (unsigned char)((k * 7 + 1) % 251);
		printf("cli: got %d bytes (want %d), %d out of place, then %s\n", got, want, bad,
		       n == 0 ? "end of file" : "an error");
		return got != want || bad || n != 0;
	}
}
CEOF
cat >"$W/final.c" <<'CEOF'
/* final PID SIG: the final-checkpoint trigger (libckpt's CKPT_FINAL_COOKIE) */
#include <signal.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	union sigval v = { .sival_ptr = (void *)0x636b7074656e6400ull };

	return sigqueue(atoi(argv[1]), atoi(argv[2]), v) != 0;
}
CEOF
compile_or_fail "compile the peers" cc -O -o "$W/peer" "$W/peer.c"
compile_or_fail "compile the trigger" cc -O -o "$W/final" "$W/final.c"

# everything below in one shell (bash: its script is fd 255) inside the namespaces
cat >"$W/inside.sh" <<'SEOF'
W=$1 ROOT=$2 EXTRA=$3 D=$W/v$4
export PEER_FAMILY=$4
mkdir -p "$D" || exit 3
ip link set lo up || exit 3
cd "$D" || exit 3
( for f in /proc/self/fd/*; do		# what the runner left open is not the server's
	k=${f##*/}
	[ "$k" -gt 2 ] && [ "$k" -ne 255 ] && eval "exec $k>&-" 2>/dev/null
  done
  exec env CKPT_FILE="$D/srv.img" LD_PRELOAD="$ROOT/libckpt.so" "$W/peer" srv "$D" >"$D/srv.out" 2>"$D/srv.err" </dev/null ) &
spid=$!
i=0; while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$W/peer" cli "$D" "$(cat port)" "$EXTRA" >"$D/cli.out" 2>&1 &
cpid=$!
i=0; while ! grep -qs ready srv.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
"$W/final" $spid 12 || exit 5
i=0; while [ "$(awk '{print $3}' /proc/$spid/stat 2>/dev/null)" != T ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
{ kill -9 $spid; wait $spid; } 2>/dev/null
"$ROOT/readckpt" "$D/srv.img" >"$D/readckpt.out" 2>&1
"$ROOT/restorer" "$D/srv.img" >"$D/rst.out" 2>"$D/rst.err" </dev/null &
rpid=$!
sleep 0.5
touch "$D/go"
i=0; while kill -0 $cpid 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
wait $cpid; echo "client $?" >"$D/cli.rc"
wait $rpid; echo "server $?" >"$D/rst.rc"
SEOF
if [ "$(id -u)" = 0 ]; then ns="unshare -n"; else ns="unshare -Urn"; fi
$ns true 2>/dev/null || skip "no network namespace of our own here ($ns refused)"
extra=0
[ "$BRK" = 1 ] && extra=1
# IPv4 (checks 1, 2), then IPv6 (5, 6), one shell in one namespace
timeout 90 $ns bash -c 'bash "$1" "$2" "$3" "$4" 4; bash "$1" "$2" "$3" 0 6' sh "$W/inside.sh" "$W" "$ROOT" "$extra"
# repaired FAMILY ADDRESS: checks 1 and 2 (5 and 6) on $W/vFAMILY
repaired() {
	local D=$W/v$1 a=$2
	note "IPv$1: server: $(oneline "$D/srv.out") $(oneline "$D/srv.err")"
	note "IPv$1: restorer: $(oneline "$D/rst.err")"
	note "IPv$1: client: $(oneline "$D/cli.out")"
	note "IPv$1: readckpt: $(grep "TCP_REPAIR:" "$D/readckpt.out")"
	if grep -q 'options 0x3..,' "$D/readckpt.out" &&
	   grep -q 'TCP_REPAIR: send seq [0-9]* ([0-9]* bytes queued), receive seq [0-9]* (1000 bytes unread)' "$D/readckpt.out" &&
	   [ "$(grep -c "notice: fd [0-9]*: TCP $a:[0-9]* -> $a:[0-9]* restored as it was (TCP_REPAIR)\$" "$D/rst.err")" = 1 ]; then
		ok "IPv$1: the connection was recorded and restored with TCP_REPAIR: $(grep TCP_REPAIR "$D/rst.err")"
	else
		not_ok "IPv$1: TCP_REPAIR: readckpt $(grep options "$D/readckpt.out" | tr '\n' '|'); restorer: $(oneline "$D/rst.err")"
	fi
	if grep -q '^cli: got 150050 bytes (want 150050), 0 out of place, then end of file$' "$D/cli.out" &&
	   grep -q '^srv: got 1500 bytes, 0 out of place$' "$D/rst.out" && grep -qx 'client 0' "$D/cli.rc" &&
	   grep -qx 'server 0' "$D/rst.rc"; then
		ok "IPv$1: the conversation went on: both byte streams whole and in order"
	else
		not_ok "IPv$1: conversation: client $(oneline "$D/cli.out") ($(oneline "$D/cli.rc")); restored server $(oneline "$D/rst.out") ($(oneline "$D/rst.rc"))"
	fi
}
repaired 4 '127\.0\.0\.1'
# 3: a record that lies is refused in one line, before anything is made:
# TCP_REPAIR state on a socket that was no connection, and a send queue
# longer than the stored bytes
IE=$ROOT/tests/bin/imgedit
idx=$("$IE" "$W/v4/srv.img" fds | awk '$2 == 4 { print $1 }')
cp "$W/v4/srv.img" "$W/bad1.img"
cp "$W/v4/srv.img" "$W/bad2.img"
"$IE" "$W/bad1.img" set-fd "$idx" aux4 0x200 >/dev/null
off=$(( $("$IE" "$W/v4/srv.img" get-fd "$idx" data_off) + 32 + 8 ))
printf '\377\377\377\177' | dd of="$W/bad2.img" bs=1 seek=$off conv=notrunc 2>/dev/null
timeout 20 "$ROOT/restorer" "$W/bad1.img" >/dev/null 2>"$W/bad1.err" </dev/null; rc1=$?
timeout 20 "$ROOT/restorer" "$W/bad2.img" >/dev/null 2>"$W/bad2.err" </dev/null; rc2=$?
if [ -n "$idx" ] && [ $rc1 != 0 ] && [ $rc2 != 0 ] && [ "$(lines "$W/bad1.err")" = 1 ] && [ "$(lines "$W/bad2.err")" = 1 ] &&
   grep -q 'fd 4: socket record out of range$' "$W/bad1.err" && grep -q 'fd 4: TCP repair state out of range$' "$W/bad2.err"; then
	ok "lying TCP_REPAIR records are refused: $(oneline "$W/bad1.err") $(oneline "$W/bad2.err")"
else
	not_ok "lying records: record $idx, exits $rc1 $rc2: $(oneline "$W/bad1.err") / $(oneline "$W/bad2.err")"
fi

# 4: the same image restored where TCP_REPAIR is refused (the ordinary user
# outside any namespace of its own): the connection reads as closed by its
# peer, said in one line; the server sees end of file at once
if [ "$(id -u)" != 0 ]; then
	rm -f "$W/v4/rst2.out"
	timeout 20 "$ROOT/restorer" "$W/v4/srv.img" >"$W/v4/rst2.out" 2>"$W/rst2.err" </dev/null
	rc=$?
	if [ "$(grep -c 'notice: fd [0-9]* (TCP 127.0.0.1:[0-9]* to 127.0.0.1:[0-9]*): TCP_REPAIR refused (errno 1): the connection is not restored; it reads as closed by its peer$' "$W/rst2.err")" = 1 ] &&
	   grep -q '^srv: read 0 after 0 bytes$' "$W/v4/rst2.out" && [ $rc = 1 ]; then
		ok "without CAP_NET_ADMIN the connection comes back closed by its peer: $(grep refused "$W/rst2.err")"
	else
		not_ok "without CAP_NET_ADMIN: restorer exit $rc, $(oneline "$W/rst2.err"); server $(oneline "$W/v4/rst2.out")"
	fi
fi
repaired 6 '\[0:0:0:0:0:0:0:1\]'
finish
