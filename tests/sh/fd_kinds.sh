#!/bin/sh
# timeout: 150
# fd_kinds.sh -- pidfds, O_PATH descriptors and netlink sockets come back;
# io_uring, bpf, perf, other processes' pidfds and packet sockets are named
# at checkpoint time and refused (issue 17).
#
# Simulates a daemon (a C program compiled here) that holds a pidfd of itself
# (PIDFD_NONBLOCK), O_PATH descriptors of a regular file, a directory, a
# symbolic link (O_NOFOLLOW), /dev/null and a socket file, a NETLINK_ROUTE
# socket (NETLINK_EXT_ACK set, bound to RTMGRP_LINK, group 33 joined with
# NETLINK_ADD_MEMBERSHIP) and a NETLINK_KOBJECT_UEVENT socket bound to its
# group, and checkpoints itself with raise(SIGUSR2).  Checks:
#   1  the checkpoint says nothing is lost; the image holds a pidfd, the O_PATH
#      records and two netlink sockets, none UNSUPPORTED (readckpt)
#   2  restored (eager, then --lazy): the pidfd is one of the restored process
#      (poll: not exited, pidfd_send_signal 0 works, fdinfo Pid: is the new
#      pid, O_NONBLOCK kept); each O_PATH descriptor is O_PATH (fdinfo flags)
#      on the same file (inode), read() on it fails EBADF, the link is the
#      link, the directory serves openat; the route socket answers an
#      RTM_GETLINK dump naming "lo", has its groups and option; the uevent
#      socket is bound to group 1
#      (--same-pid: the pidfd is refused in one line; the O_PATH file
#      replaced by a directory: refused in one line)
#   3  a netlink socket with a dump answer queued: the checkpoint names the
#      queued bytes in one line; it comes back empty; its record with
#      protocol 5 (NETLINK_NFLOG, gone from kernels) is refused in one line
#      naming it, with protocol 40 refused as a bad image
#   4  each refused kind (io_uring, a bpf map, a perf event, a pidfd of a
#      child, a pidfd of a reaped child, a packet socket) is named at
#      checkpoint time in one line with its reason; the restorer refuses it
#      in one line with the reason, exit non-zero; with --close-unsupported
#      the program runs on with it closed
# (fanotify comes back: fanotify.sh; the program's userfaultfd:
# userfaultfd.sh.)  bpf and packet sockets need privilege: the ordinary
# user's pass notes them, untried; perf too where perf_event_paranoid
# forbids it.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored pidfd's Pid: is expected to be the old pid.

set -u
. "$(dirname "$0")/lib.sh"
workdir fd_kinds
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"

cat >"$W/kinds.c" <<'PROG'
/* kinds DIR IMAGE MODE: MODE keep holds what comes back and checks it after
 * the checkpoint; queued: a netlink socket with an answer unread; else one
 * kind that is refused (io_uring bpf perf pidfd-child
 * pidfd-gone packet), then says whether it is still open. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/rtnetlink.h>

extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static const char *img;

/* checkpoint now; in the original process, wait for the image */
static void checkpoint(void)
{
	struct stat st;

	fflush(stdout);
	raise(SIGUSR2);
	for (int i = 0; !ckpt_restore_count() && i < 600 && stat(img, &st); i++)
		usleep(50000);
}

/* the value of "key:" in /proc/self/fdinfo/FD, or -2 */
static long info(int fd, const char *key, int base)
{
	char path[64], line[256];
	long v = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (!(f = fopen(path, "r")))
		return -2;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), 0, base);
	fclose(f);
	return v;
}

static int route_dump(int s)
{
	struct { struct nlmsghdr h; struct rtgenmsg g; } req = {
		{ sizeof(req), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 7, 0 }, { AF_UNSPEC } };

	return send(s, &req, sizeof(req), 0) == sizeof(req) ? 0 : -1;
}

/* the dump's answers: 1 when one names "lo" */
static int names_lo(int s)
{
	static char buf[65536];

	for (;;) {
		struct pollfd p = { s, POLLIN, 0 };
		long n;

		if (poll(&p, 1, 3000) != 1 || (n = recv(s, buf, sizeof(buf), 0)) <= 0)
			return 0;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			long len = IFLA_PAYLOAD(h);

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return 0;
			for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == IFLA_IFNAME && !strcmp(RTA_DATA(a), "lo"))
					return 1;
		}
	}
}

enum { REG, DIR_, LNK, DEV, SOCKF, NPATH };
static const char *const pname[NPATH] = { "file", "dir", "link", "/dev/null", "socket-file" };

static int keep(const char *dir)
{
	char p[NPATH][4096];
	struct stat st0[NPATH];
	int pf, path[NPATH], nl, ue, one = 1, g33 = 33, bad = 0;
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	struct sockaddr_nl ua = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	int us = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(p[REG], 4096, "%s/file", dir);
	snprintf(p[DIR_], 4096, "%s", dir);
	snprintf(p[LNK], 4096, "%s/link", dir);
	snprintf(p[DEV], 4096, "/dev/null");
	snprintf(p[SOCKF], 4096, "%s/s.sock", dir);
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", p[SOCKF]);
	close(open(p[REG], O_WRONLY | O_CREAT, 0600));
	if (symlink("file", p[LNK]) || bind(us, (void *)&su, sizeof(su)))
		return perror("setup"), 3;
	close(us);			/* the socket file stays */
	pf = syscall(SYS_pidfd_open, getpid(), O_NONBLOCK);	/* PIDFD_NONBLOCK */
	for (int i = 0; i < NPATH; i++) {
		path[i] = open(p[i], O_PATH | (i == LNK ? O_NOFOLLOW : 0));
		if (path[i] < 0 || fstat(path[i], &st0[i]))
			return perror(p[i]), 3;
	}
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ue = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	if (pf < 0 || nl < 0 || ue < 0 || setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, 4) ||
	    bind(nl, (void *)&a, sizeof(a)) || setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g33, 4) ||
	    bind(ue, (void *)&ua, sizeof(ua)))
		return perror("pidfd/netlink"), 3;
	printf("pid %d\n", getpid());
	checkpoint();
	if (!ckpt_restore_count())
		return 0;
	printf("restored pid %d\n", getpid());

	/* the pidfd */
	{
		struct pollfd q = { pf, POLLIN, 0 };

		if (poll(&q, 1, 0) != 0 || syscall(SYS_pidfd_send_signal, pf, 0, 0, 0) ||
		    !(fcntl(pf, F_GETFL) & O_NONBLOCK))
			printf("pidfd FAIL: poll %d, send_signal %m, flags 0%o\n", q.revents, fcntl(pf, F_GETFL)), bad++;
		printf("pidfd Pid %ld\n", info(pf, "Pid:", 10));
	}
	/* the O_PATH descriptors */
	for (int i = 0; i < NPATH; i++) {
		struct stat st;
		char c, l[64] = "";
		long fl = info(path[i], "flags:", 8);
		int r = read(path[i], &c, 1), e = errno, sub = i == DIR_ ? openat(path[i], "file", O_RDONLY) : 0;

		if (fstat(path[i], &st) || st.st_ino != st0[i].st_ino || st.st_dev != st0[i].st_dev ||
		    (st.st_mode & S_IFMT) != (st0[i].st_mode & S_IFMT) || fl < 0 || !(fl & O_PATH) ||
		    r != -1 || e != EBADF || sub < 0 ||
		    (i == LNK && (readlinkat(path[i], "", l, sizeof(l)) != 4 || memcmp(l, "file", 4))))
			printf("O_PATH %s FAIL: ino %lu/%lu flags 0%lo read %d errno %d openat %d link '%s'\n", pname[i],
			       (unsigned long)st.st_ino, (unsigned long)st0[i].st_ino, fl, r, e, sub, l), bad++;
	}
	/* the netlink sockets */
	{
		struct sockaddr_nl got;
		socklen_t gl = sizeof(got);
		uint32_t groups[4] = { 0 };
		socklen_t ml = sizeof(groups);
		int ext = 0;
		socklen_t el = 4;

		getsockopt(nl, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &ml);
		getsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &ext, &el);
		if (getsockname(nl, (void *)&got, &gl) || !got.nl_pid || got.nl_groups != RTMGRP_LINK ||
		    groups[0] != RTMGRP_LINK || groups[1] != 1 || ext != 1 || route_dump(nl) || !names_lo(nl))
			printf("netlink route FAIL: port %u groups %x list %x %x ext_ack %d\n", got.nl_pid,
			       got.nl_groups, groups[0], groups[1], ext), bad++;
		gl = sizeof(got);
		if (getsockname(ue, (void *)&got, &gl) || got.nl_groups != 1)
			printf("netlink uevent FAIL: groups %x\n", got.nl_groups), bad++;
	}
	printf("checks %s\n", bad ? "FAILED" : "passed");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 3 ? argv[3] : "";
	int fd = -1;

	if (!ckpt_restore_count || argc < 4)
		return puts("usage: kinds DIR IMAGE MODE under libckpt.so"), 3;
	img = argv[2];
	syscall(SYS_close_range, 3, ~0U, 0);	/* a runner's stray pipe is not ours */
	if (!strcmp(mode, "keep"))
		return keep(argv[1]);
	if (!strcmp(mode, "queued")) {
		fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		if (fd < 0 || route_dump(fd))
			return perror("netlink"), 3;
		usleep(100000);		/* the answer is queued */
	} else if (!strcmp(mode, "io_uring")) {
		struct io_uring_params up = { 0 };

		fd = syscall(SYS_io_uring_setup, 4, &up);
	} else if (!strcmp(mode, "bpf")) {
		union bpf_attr ba;

		memset(&ba, 0, sizeof(ba));
		ba.map_type = BPF_MAP_TYPE_ARRAY, ba.key_size = 4, ba.value_size = 4, ba.max_entries = 1;
		fd = syscall(SYS_bpf, BPF_MAP_CREATE, &ba, sizeof(ba));
	} else if (!strcmp(mode, "perf")) {
		struct perf_event_attr pa = { .size = sizeof(pa), .type = PERF_TYPE_SOFTWARE,
					      .config = PERF_COUNT_SW_TASK_CLOCK, .exclude_kernel = 1, .exclude_hv = 1 };

		fd = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
	} else if (!strcmp(mode, "pidfd-child") || !strcmp(mode, "pidfd-gone")) {
		pid_t c = fork();

		if (!c) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (!strcmp(mode, "pidfd-child"))
				pause();
			_exit(0);
		}
		fd = syscall(SYS_pidfd_open, c, 0);
		if (!strcmp(mode, "pidfd-gone"))
			waitpid(c, 0, 0);
	} else if (!strcmp(mode, "packet")) {
		fd = socket(AF_PACKET, SOCK_RAW, 0);
	}
	if (fd < 0) {
		printf("unavailable: %m\n");
		return 0;
	}
	printf("fd %d\n", fd);
	checkpoint();
	if (!ckpt_restore_count())
		return 0;
	if (!strcmp(mode, "queued")) {
		char c;

		printf("%s\n", recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN ? "empty" : "not empty");
		return 0;
	}
	printf("%s\n", fcntl(fd, F_GETFD) < 0 && errno == EBADF ? "closed" : "open");
	return 0;
}
PROG
compile_or_fail "cannot build the program" cc -O2 -o "$W/kinds" "$W/kinds.c"

# run MODE: the program under libckpt with its image $W/MODE.img; its stdout
# in $W/MODE.out, stderr (libckpt's lines) in $W/MODE.err.  It checkpoints
# itself alone (CKPT_JOB=0): pidfd-child's child is then outside the image
# (a pidfd of a process of a job comes back: job_tree.sh)
run() {
	mkdir -p "$W/$1"
	(cd "$W" && CKPT_JOB=0 CKPT_FILE="$W/$1.img" timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" ./kinds "$W/$1" "$W/$1.img" "$1") \
		>"$W/$1.out" 2>"$W/$1.err"
}
# restore MODE ARGS...: the restorer on $W/MODE.img; stdout in $W/MODE.rst,
# stderr in $W/MODE.rerr, exit status in rc
restore() {
	m=$1
	shift
	(cd "$W" && timeout 30 "$ROOT/restorer" "$@" "$W/$m.img") >"$W/$m.rst" 2>"$W/$m.rerr"
	rc=$?
}

# 1, 2: what comes back
run keep
if [ ! -s "$W/keep.img" ]; then
	not_ok "the program holding a pidfd, O_PATH and netlink descriptors was not checkpointed: $(oneline "$W/keep.out") $(oneline "$W/keep.err")"
	finish
fi
"$ROOT/readckpt" "$W/keep.img" >"$W/keep.read" 2>&1
npidfd=$(grep -c '^ *[0-9][0-9]* pidfd ' "$W/keep.read")
nnl=$(grep -c '^ *[0-9][0-9]* netlink ' "$W/keep.read")
npath=$(grep -c 'O_PATH' "$W/keep.read")
if [ "$npidfd" = 1 ] && [ "$nnl" = 2 ] && [ "$npath" = 5 ] && ! grep -q UNSUPPORTED "$W/keep.read" &&
   ! grep -q 'not restored' "$W/keep.err"; then
	ok "checkpointed: 1 pidfd, 2 netlink sockets, 5 O_PATH descriptors, nothing said lost"
else
	not_ok "image: $npidfd pidfd, $nnl netlink, $npath O_PATH (want 1, 2, 5): $(grep -E 'UNSUPPORTED|not restored' "$W/keep.read" | tr '\n' '|'); $(oneline "$W/keep.err")"
fi
old=$(sed -n 's/^pid //p' "$W/keep.out")
for mode in eager lazy; do
	flag=
	[ $mode = lazy ] && flag=--lazy
	restore keep $flag
	new=$(sed -n 's/^restored pid //p' "$W/keep.rst")
	want=$new
	[ "$BRK" = 1 ] && want=$old
	if [ $rc -eq 0 ] && grep -q '^checks passed$' "$W/keep.rst" && [ -n "$new" ] &&
	   [ "$(sed -n 's/^pidfd Pid //p' "$W/keep.rst")" = "$want" ]; then
		ok "$mode: the pidfd is the restored process's (Pid $new, was $old), the O_PATH descriptors are O_PATH on the same files, the route socket lists lo"
	else
		not_ok "$mode: exit $rc: $(oneline "$W/keep.rst") $(oneline "$W/keep.rerr") (want Pid $want)"
	fi
done
# --same-pid: the restorer's process is not the program's (it waits for a
# child with the old pid): the pidfd is refused, named
restore keep --same-pid
if [ $rc -ne 0 ] && [ "$(lines "$W/keep.rerr")" = 1 ] &&
   grep -q 'fd [0-9]*: a pidfd of the process itself is not made with --same-pid' "$W/keep.rerr"; then
	ok "--same-pid refuses the pidfd in one line: $(oneline "$W/keep.rerr")"
else
	not_ok "--same-pid: exit $rc: $(oneline "$W/keep.rst") $(oneline "$W/keep.rerr")"
fi
# the O_PATH descriptor's file replaced by a directory: refused, named
mv "$W/keep/file" "$W/keep/file.was"
mkdir "$W/keep/file"
restore keep
if [ $rc -ne 0 ] && [ "$(lines "$W/keep.rerr")" = 1 ] &&
   grep -q "fd [0-9]*: $W/keep/file is now a directory, not a regular file" "$W/keep.rerr"; then
	ok "an O_PATH descriptor's file now a directory: refused in one line: $(oneline "$W/keep.rerr")"
else
	not_ok "O_PATH file replaced by a directory: exit $rc: $(oneline "$W/keep.rst") $(oneline "$W/keep.rerr")"
fi

# 3: a netlink socket with messages queued
run queued
if [ "$(grep -c 'not restored' "$W/queued.err")" = 1 ] &&
   grep -q "not restored: fd [0-9]* (socket:\[[0-9]*\]): [0-9]* bytes of netlink messages queued for reading" "$W/queued.err"; then
	ok "queued netlink messages are named at checkpoint time: $(grep 'not restored' "$W/queued.err" | cut -c1-200)"
else
	not_ok "queued netlink messages: checkpoint said $(oneline "$W/queued.err"); $(oneline "$W/queued.out")"
fi
restore queued
if [ $rc -eq 0 ] && [ "$(cat "$W/queued.rst")" = empty ]; then
	ok "the netlink socket comes back empty"
else
	not_ok "queued netlink socket after the restore: exit $rc, $(oneline "$W/queued.rst") $(oneline "$W/queued.rerr")"
fi
# the same image, its protocol changed (imgedit keeps the checksums right):
# NETLINK_NFLOG (5), which kernels no longer make, is refused in one line
# naming it; protocol 40, past the kernel's 32, is a bad image
rec=$("$ROOT/tests/bin/imgedit" "$W/queued.img" fds | awk '$3 == 17 { print $1 }')
for proto in 5 40; do
	cp "$W/queued.img" "$W/p$proto.img"
	"$ROOT/tests/bin/imgedit" "$W/p$proto.img" set-fd "$rec" aux0 $proto
	restore p$proto
	if [ $proto = 5 ]; then
		want='fd [0-9]*: a netlink socket of protocol 5 (NETLINK_NFLOG) cannot be made here: errno'
	else
		want='fd [0-9]*: netlink record out of range'
	fi
	if [ -n "$rec" ] && [ $rc -ne 0 ] && [ "$(lines "$W/p$proto.rerr")" = 1 ] && grep -q "$want" "$W/p$proto.rerr"; then
		ok "netlink protocol $proto in the image: refused in one line: $(oneline "$W/p$proto.rerr")"
	else
		not_ok "netlink protocol $proto (record $rec): exit $rc: $(oneline "$W/p$proto.rst") $(oneline "$W/p$proto.rerr")"
	fi
done

# 4: refused kinds: MODE;link name (a grep pattern);reason in words
uid=$(id -u)
while IFS=';' read -r mode link why; do
	if [ "$uid" != 0 ] && { [ "$mode" = bpf ] || [ "$mode" = packet ]; }; then
		note "$mode: needs privilege to make (root's pass tries it), not tried as uid $uid"
		continue
	fi
	run "$mode"
	if grep -q '^unavailable' "$W/$mode.out"; then
		if [ "$uid" = 0 ]; then
			not_ok "$mode: root could not make one: $(oneline "$W/$mode.out")"
		else
			note "$mode: not available to uid $uid here ($(oneline "$W/$mode.out")): not tried"
		fi
		continue
	fi
	fd=$(sed -n 's/^fd //p' "$W/$mode.out")
	said=$(grep 'not restored' "$W/$mode.err" | grep -v ': not restored: [0-9]* child process')	# pidfd-child's child
	restore "$mode"
	refused=$(cat "$W/$mode.rerr")
	refused_rc=$rc
	restore "$mode" --close-unsupported
	if [ -n "$fd" ] && [ "$(printf '%s\n' "$said" | grep -c .)" = 1 ] &&
	   printf '%s\n' "$said" | grep -q "^libckpt: $W/$mode.img: not restored: fd $fd ($link): $why\$" &&
	   [ $refused_rc -ne 0 ] && [ "$(printf '%s\n' "$refused" | grep -c .)" = 1 ] &&
	   printf '%s\n' "$refused" | grep -q "fd $fd ($link: $why) cannot be restored" &&
	   [ $rc -eq 0 ] && [ "$(cat "$W/$mode.rst")" = closed ]; then
		ok "$mode: named at checkpoint ($(printf '%s' "$said" | sed 's/.*not restored: //')), refused in one line, closed with --close-unsupported"
	else
		not_ok "$mode (fd $fd): checkpoint said '$said'; restorer exit $refused_rc: '$refused'; --close-unsupported: exit $rc, $(oneline "$W/$mode.rst") $(oneline "$W/$mode.rerr")"
	fi
done <<'KINDS'
io_uring;anon_inode:\[io_uring\];io_uring: its rings and requests in flight are kernel state
bpf;anon_inode:bpf-map;a bpf object: kernel state
perf;anon_inode:\[perf_event\];a perf event: kernel state
pidfd-child;\(anon_inode:\[pidfd\]\|pidfd:\[[0-9]*\]\);a pidfd of another process
pidfd-gone;\(anon_inode:\[pidfd\]\|pidfd:\[[0-9]*\]\);a pidfd of another process
packet;socket:\[[0-9]*\];a socket of a family or type other than IPv4, IPv6 or UNIX stream, datagram, seqpacket, or netlink
KINDS
finish
