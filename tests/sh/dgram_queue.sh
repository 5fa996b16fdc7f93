#!/bin/sh
# dgram_queue.sh -- datagrams queued for a datagram socket at the checkpoint
# are there to read after a restore, in order, each from its sender.
#
# Simulates a UDP or UNIX datagram server that had not read its last
# requests when it was checkpointed: a server socket, and datagrams of 3, 0
# and 5 bytes (and one of 60,000) sent to it from a client socket that is
# closed before the checkpoint (raise(SIGUSR2)).  After the restore the
# program reads the queue and compares each datagram and its sender's
# address with what was sent (the comparison is in the program's memory,
# which the image holds), then answers a new datagram.  Modes:
#   ip4     a server bound to 127.0.0.1, the client's port ephemeral
#   ip6     a server bound to [::] (answered through ::1), client on ::1
#   unix    a server on an abstract name; one client on an abstract name of
#           its own, one unnamed
#   peer    a UDP server connected to its client (CKPT_SO_DGRAM_PEER), its
#           peek offset (SO_PEEK_OFF) past the first datagram: 3 after
#   held    ip4, with the client's port taken by another process when the
#           restore runs: it cannot be bound, the datagrams come from
#           another port, and the restorer says so
# Checks:
#   1-4  ip4, ip6, unix, peer: no "not restored" line at checkpoint;
#        readckpt says the datagrams are stored; restored eagerly and with
#        --lazy, every datagram is there from its sender
#   5    held: the data are there, the restorer names the 4 datagrams as
#        coming from another address
#   6    a crafted image whose datagram count disagrees with its records is
#        refused in one line, exit 2, before the program runs
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: the program expects
# another first byte.  Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` /
# `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/tests/bin/imgedit"
workdir dgram_queue
IE="$ROOT/tests/bin/imgedit"

cat >"$W/dg.c" <<'EOF2'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));

static char big[60000];
static const struct { const char *data; size_t len; } msgs[4] = { { "one", 3 }, { "", 0 }, { "three", 5 }, { big, 60000 } };
static struct sockaddr_storage sender[4];
static socklen_t sender_len[4];

static void unix_name(struct sockaddr_un *u, socklen_t *l, const char *name)
{
	memset(u, 0, sizeof(*u));
	u->sun_family = AF_UNIX;
	strcpy(u->sun_path + 1, name);		/* abstract: a 0 byte, then the name */
	*l = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

int main(int argc, char **argv)
{
	const char *mode = argv[1];
	int ip6 = !strcmp(mode, "ip6"), unx = !strcmp(mode, "unix"), fam = ip6 ? AF_INET6 : unx ? AF_UNIX : AF_INET;
	struct sockaddr_storage at = { 0 };
	socklen_t alen = ip6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int srv, cli[2], bad = 0;
	char buf[65536], name[64];

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	memset(big, 'b', sizeof(big));
	srv = socket(fam, SOCK_DGRAM, 0);
	at.ss_family = fam;
	if (unx) {
		snprintf(name, sizeof(name), "ckpt-dgram-%d", getpid());
		unix_name((void *)&at, &alen, name);
	} else if (!ip6) {
		((struct sockaddr_in *)&at)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}				/* ip6: [::], the wildcard */
	if (bind(srv, (void *)&at, alen) || getsockname(srv, (void *)&at, &alen))
		return perror("bind"), 3;
	if (ip6)
		((struct sockaddr_in6 *)&at)->sin6_addr = in6addr_loopback;
	for (int k = 0; k < 2; k++) {		/* bound as the server sees them: 127.0.0.1, ::1 */
		struct sockaddr_storage c = at;
		socklen_t l = alen;

		cli[k] = socket(fam, SOCK_DGRAM, 0);
		if (unx) {
			snprintf(name, sizeof(name), "ckpt-dgram-client-%d", getpid());
			unix_name((void *)&c, &l, name);
		} else {
			((struct sockaddr_in *)&c)->sin_port = 0;	/* sin6_port is at the same place */
		}
		if ((!unx || !k) && bind(cli[k], (void *)&c, l))
			return perror("bind client"), 3;
	}
	for (int i = 0; i < 4; i++) {		/* unix: the 2nd and 4th from the unnamed client */
		int c = cli[unx ? i % 2 : 0];

		if (sendto(c, msgs[i].data, msgs[i].len, 0, (void *)&at, alen) != (ssize_t)msgs[i].len)
			return perror("sendto"), 3;
		sender_len[i] = sizeof(sender[i]);
		getsockname(c, (void *)&sender[i], &sender_len[i]);
	}
	if (!strcmp(mode, "peer") && connect(srv, (void *)&sender[0], sender_len[0]))
		return perror("connect"), 3;
	if (!strcmp(mode, "peer") &&		/* a peek offset past the first datagram: 3 */
	    (setsockopt(srv, SOL_SOCKET, SO_PEEK_OFF, &(int){ 0 }, sizeof(int)) ||
	     recv(srv, buf, sizeof(buf), MSG_PEEK) != 3))
		return perror("SO_PEEK_OFF"), 3;
	close(cli[0]);
	close(cli[1]);
	raise(SIGUSR2);
	if (!ckpt_restore_count()) {
		printf("checkpointed %d\n", ntohs(((struct sockaddr_in *)&sender[0])->sin_port));
		return 0;
	}
	if (!strcmp(mode, "peer")) {
		int off = -2;
		socklen_t ol = sizeof(off);

		if (getsockopt(srv, SOL_SOCKET, SO_PEEK_OFF, &off, &ol) || off != 3)
			printf("peek offset %d, want 3\n", off), bad = 1;
	}
	for (int i = 0; i < 4; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(srv, buf, sizeof(buf), MSG_DONTWAIT, (void *)&from, &flen);

		if (getenv("BRK_DGRAM") && *getenv("BRK_DGRAM") && n > 0)
			buf[0] ^= 1;
		if (n != (ssize_t)msgs[i].len || memcmp(buf, msgs[i].data, msgs[i].len)) {
			printf("datagram %d: %zd bytes, want %zu\n", i + 1, n, msgs[i].len);
			bad = 1;
		} else if (sender_len[i] <= 2 ? flen > 2 :	/* unnamed (UNIX): 0 or 2 bytes */
			   flen != sender_len[i] || memcmp(&from, &sender[i], flen)) {
			printf("datagram %d: from another address\n", i + 1);
			bad = 2;
		}
	}
	if (recv(srv, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		printf("a datagram more\n"), bad = 1;
	printf("restored: %s\n", bad == 1 ? "data differ" : bad ? "data, other senders" : "every datagram from its sender");
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/dg" "$W/dg.c"

brk=
[ "$BRK" -eq 1 ] && brk=1

# checkpoint MODE -- run the program until its image is written; $orig is its pid
checkpoint() {
	rm -f "$W/img"
	(cd "$W" && CKPT_FILE="$W/img" BRK_DGRAM=$brk timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" "$W/dg" "$1" \
		>"$W/$1.out" 2>"$W/$1.ckpt") &
	orig=$!
	wait_for 10 grep -q checkpointed "$W/$1.out"
}

# restore MODE [--lazy] -- the program's last line in $got, the restorer's stderr in $W/MODE.rst
restore() {
	got=$(cd "$W" && timeout 30 "$ROOT/restorer" ${2:-} "$W/img" 2>"$W/$1.rst" </dev/null | tail -n 1)
}

for mode in ip4 ip6 unix peer; do
	checkpoint $mode
	wait "$orig"
	"$ROOT/readckpt" "$W/img" >"$W/$mode.read"
	restore $mode
	eager=$got
	restore $mode --lazy
	if ! grep -q "not restored" "$W/$mode.ckpt" && grep -q "4 datagrams queued at the checkpoint: stored" "$W/$mode.read" &&
	   [ "$eager" = "restored: every datagram from its sender" ] && [ "$got" = "$eager" ] && ! grep -q datagram "$W/$mode.rst"; then
		ok "$mode: 4 queued datagrams (3, 0, 5 and 60,000 bytes) back from their senders, eager and lazy"
	else
		not_ok "$mode: eager '$eager', lazy '$got'; libckpt: $(oneline "$W/$mode.ckpt"); restorer: $(oneline "$W/$mode.rst")"
	fi
done

checkpoint held
wait "$orig"
port=$(sed -n 's/^checkpointed //p' "$W/held.out")
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("held", flush=True)
time.sleep(20)' "$port" >"$W/holder.out" 2>&1 &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_for 10 grep -q held "$W/holder.out"
restore held
kill "$holder" 2>/dev/null
if [ "$got" = "restored: data, other senders" ] &&
   grep -q "restorer: notice: fd 3: 4 of its 4 queued datagrams come from another address now" "$W/held.rst"; then
	ok "held: the sender's port taken: the data back from another port, and said so"
else
	not_ok "held: '$got'; restorer: $(oneline "$W/held.rst")"
fi

checkpoint ip4
wait "$orig"
rec=$("$IE" "$W/img" fds | awk '$2 == 3 { print $1 }')
cp "$W/img" "$W/bad"
"$IE" "$W/bad" set-fd "$rec" size 5 >/dev/null
expect_refused "$W/bad" "fd 3: 4 datagrams stored, 5 counted: image corrupted" \
	"a datagram count that disagrees with the records: refused in one line"
finish
