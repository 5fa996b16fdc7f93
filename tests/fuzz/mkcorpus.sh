#!/bin/sh
# mkcorpus.sh -- make the fuzz seeds in tests/fuzz/corpus/ from real images.
#
#   sh tests/fuzz/mkcorpus.sh     (from the top of a built tree; needs cc)
#
# A small program compiled here opens one descriptor of every kind the
# restorer makes again (pipe and FIFO with buffered bytes, file, directory,
# memfd, eventfd, timerfd, signalfd, epoll), starts a second thread when
# asked, and checkpoints itself (SIGUSR2) once or, incremental, twice.  Seeds:
#   fds       one thread, every descriptor kind
#   threads   two threads
#   vdso      fds, its stored vDSO bytes another kernel's (imgedit vdso-differ):
#             the restorer redirects them
#   chain     an incremental image and its parent, newest first (one input)
#   kinds     fds, and the kinds of issue 17: an inotify watch, a socket pair
#             with bytes queued, a TCP listener, a connected UDP socket, a
#             netlink socket, an O_PATH descriptor, a pidfd of itself, and an
#             flock and a POSIX lock on the file, a pty pair (master and slave),
#             a bound UDP socket with a datagram queued, a fanotify mark
# Each image goes through tests/fuzz/prep.c (page data zeroed, paths and inodes
# of the fuzz sandbox, checksums re-sealed).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/fuzz/corpus
W=$(mktemp -d "${TMPDIR:-/tmp}/mkcorpus.XXXXXX")
trap 'rm -rf "$W"' EXIT
CC=${CC:-cc}

cat >"$W/seed.c" <<'PROG'
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

static void *idle(void *a) { for (;;) pause(); return a; }

int main(int argc, char **argv)
{
	int p[2], ep, times = atoi(argv[2]);
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its = { { 5, 0 }, { 5, 0 } };
	sigset_t set;
	pthread_t t;

	for (int fd = 3; fd < 1024; fd++) {	/* what the caller left open, not libckpt's */
		char link[64], to[64] = "";

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if (readlink(link, to, sizeof(to) - 1) > 0 && !strstr(to, "userfaultfd"))
			close(fd);
	}
	if (pipe(p) || write(p[1], "hello", 5) != 5)
		return 1;
	open("file", O_RDWR | O_CREAT, 0600);
	open(".", O_RDONLY | O_DIRECTORY);
	mkfifo("fifo", 0600);
	if (write(open("fifo", O_RDWR), "fifo", 4) != 4)	/* a FIFO with bytes stored */
		return 1;
	if (write(memfd_create("seed", 0), "xyz", 3) != 3)
		return 1;
	eventfd(3, 0);
	timerfd_settime(timerfd_create(CLOCK_MONOTONIC, 0), 0, &its, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	signalfd(-1, &set, 0);
	ep = epoll_create1(0);
	ev.data.fd = p[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	if (!strcmp(argv[1], "threads"))
		pthread_create(&t, 0, idle, 0);
	if (!strcmp(argv[1], "kinds")) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		int in = inotify_init1(0), sv[2], tcp, udp, dg, pm, fan, file = open("file2", O_RDWR | O_CREAT, 0600);
		socklen_t al = sizeof(a);

		if (in < 0 || inotify_add_watch(in, ".", IN_CREATE | IN_ONLYDIR) < 0 ||
		    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || write(sv[0], "queued", 6) != 6 ||
		    (tcp = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(tcp, (void *)&a, sizeof(a)) || listen(tcp, 4) ||
		    (udp = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || getsockname(tcp, (void *)&a, &al) ||
		    connect(udp, (void *)&a, sizeof(a)) || socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) < 0 ||
		    open(".", O_PATH) < 0 || syscall(SYS_pidfd_open, getpid(), 0) < 0 || file < 0 ||
		    flock(file, LOCK_SH) || fcntl(open("file", O_RDWR), F_SETLK, &l))
			return 1;
		a.sin_port = 0;				/* a bound UDP socket, a datagram queued */
		al = sizeof(a);
		if ((dg = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || bind(dg, (void *)&a, sizeof(a)) ||
		    getsockname(dg, (void *)&a, &al) || sendto(udp, "dgram", 5, 0, (void *)&a, al) != 5)
			return 1;
		fan = fanotify_init(FAN_CLOEXEC | FAN_REPORT_DFID_NAME, O_RDONLY);	/* any user may */
		if (fan < 0 || fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR, AT_FDCWD, "."))
			return 1;
		pm = posix_openpt(O_RDWR | O_NOCTTY);	/* a pty pair, with its slave */
		if (pm < 0 || grantpt(pm) || unlockpt(pm) || open(ptsname(pm), O_RDWR | O_NOCTTY) < 0)
			return 1;
	}
	for (int i = 0; i < times; i++) {
		memset(malloc(4096), i, 4096);
		raise(SIGUSR2);
		sleep(1);	/* the image is written by a helper thread */
	}
	return 0;
}
PROG
$CC -O1 -pthread -o "$W/seed" "$W/seed.c"
$CC -O1 -Wall -I"$ROOT/include" -I"$ROOT/image" -msse4.2 -o "$W/prep" "$ROOT/tests/fuzz/prep.c" "$ROOT/image/crc32c.c"
mkdir -p "$OUT"
cd "$W"
for kind in fds threads kinds; do
	rm -f img* file file2 fifo
	CKPT_FILE=$W/img LD_PRELOAD=$ROOT/libckpt.so ./seed "$kind" 1 </dev/null
	./prep img "$OUT/$kind"
done
# the fds seed with another kernel's vDSO: the restorer's redirect
cp "$OUT/fds" "$OUT/vdso"
"$ROOT/tests/bin/imgedit" "$OUT/vdso" vdso-differ
rm -f img* file fifo
CKPT_FILE=$W/img CKPT_INCREMENTAL=1 LD_PRELOAD=$ROOT/libckpt.so ./seed fds 2 </dev/null
parent=$(dd if=img bs=1 skip=432 count=256 2>/dev/null | tr -d '\000')	# hdr.parent_name
./prep img new
./prep "$parent" old
cat new old >"$OUT/chain"
ls -l "$OUT"
