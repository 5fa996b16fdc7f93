#!/bin/sh
# file_locks.sh -- file locks and leases come back held after a restore, and a
# restore is refused when another process holds one of them.
#
# A program holds, each through a descriptor of its own, POSIX record locks
# (fcntl F_SETLK, as SQLite takes them: a write lock on bytes 0-9 and a read
# lock from byte 20 to the end), an flock() lock (as a pid file guard), an OFD
# lock (F_OFD_SETLK) and a read lease (F_SETLEASE, its breaks told with
# SIGUSR1 by F_SETSIG), plus an flock lock on a
# memfd, which is not reopened by path: that one is still named as not
# restored.  It takes a checkpoint with raise(SIGUSR2) and exits.
#   - the checkpoint names only the memfd's lock as not restored;
#   - readckpt and `ckpt info --json` list the five locks the restorer takes
#     again;
#   - a crafted lock table (a record out of range, an unknown kind, an flock
#     lock with a range, no CKPT_HDR_LOCKS flag) is refused in one line; an
#     OFD lock moved onto the POSIX file makes the late step (POSIX locks,
#     after the rebuild) refuse in one line with exit 127;
#   - the restored program holds them: a second program sees them from
#     outside (F_GETLK names the restored pid as the POSIX holder and finds
#     bytes 10-19 free; flock LOCK_NB, F_OFD_SETLK and an O_NONBLOCK open for
#     writing against the lease fail with EAGAIN, and the program gets its
#     SIGUSR1); the restorer names the memfd's lock in a notice;
#   - the same with --same-pid, where the lease is set before the fork of the
#     program's process: its break still reaches the program;
#   - with another process holding a conflicting lock (a POSIX lock on the
#     POSIX range, an OFD lock, an flock lock, the lease file open for
#     writing), the restore is refused in one line naming the descriptor, the
#     file, the lock and the holder, exit 2, and nothing of the program runs.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: bytes 10-19 of the POSIX file, which the program never
# locked, are wanted held.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/tests/bin/imgedit"
workdir file_locks

cat >"$W/locks.c" <<'EOF2'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static volatile sig_atomic_t breaks;
static void on_break(int sig)
{
	(void)sig;
	breaks++;
}
static int open_in(const char *dir, const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, flags | O_CREAT, 0600);
}
int main(int argc, char **argv)
{
	struct flock rec = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct flock tail = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 0 };
	struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	char done[4096];
	struct stat st;
	int posix, fl, od, lease, mem;

	if (!ckpt_restore_count || argc < 3) { puts("usage: locks DIR IMAGE under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	signal(SIGIO, SIG_IGN);			/* a lease break is told with SIGIO, */
	signal(SIGUSR1, on_break);		/* or here with F_SETSIG */
	posix = open_in(argv[1], "posix", O_RDWR);
	fl = open_in(argv[1], "flock", O_RDWR);
	od = open_in(argv[1], "ofd", O_RDWR);
	lease = open_in(argv[1], "lease", O_RDONLY);
	mem = memfd_create("guard", 0);
	if (posix < 0 || fl < 0 || od < 0 || lease < 0 || mem < 0) { perror("open"); return 3; }
	if (fcntl(posix, F_SETLK, &rec) || fcntl(posix, F_SETLK, &tail) || flock(fl, LOCK_EX) ||
	    fcntl(od, F_OFD_SETLK, &ofd) || fcntl(lease, F_SETLEASE, F_RDLCK) || fcntl(lease, F_SETSIG, SIGUSR1) ||
	    flock(mem, LOCK_EX)) {
		perror("lock");
		return 3;
	}
	printf("fds %d %d %d %d %d\n", posix, fl, od, lease, mem);
	fflush(stdout);
	raise(SIGUSR2);
	if (ckpt_restore_count() > 0) {		/* hold them until the probe is done */
		printf("restored %d\n", (int)getpid());
		fflush(stdout);
		snprintf(done, sizeof done, "%s/probed", argv[1]);
		for (int i = 0; i < 600 && stat(done, &st); i++)
			usleep(50000);
		usleep(100000);
		printf("lease breaks told: %d\n", (int)breaks);
		return 0;
	}
	for (int i = 0; i < 600 && stat(argv[2], &st); i++)
		usleep(50000);
	return 0;
}
EOF2
cat >"$W/probe.c" <<'EOF2'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
static int open_in(const char *dir, const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, flags);
}
/* who holds a lock that conflicts with a write lock on [start, start + len) */
static const char *holder(int fd, int cmd, off_t start, off_t len)
{
	static char buf[64];
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &q))
		return strerror(errno);
	if (q.l_type == F_UNLCK)
		return "free";
	snprintf(buf, sizeof buf, "held by %d", (int)q.l_pid);
	return buf;
}
/* probe DIR: what another process sees of the locks on DIR's files
 * hold DIR KIND: take a lock that conflicts with the program's, until DIR/release */
int main(int argc, char **argv)
{
	int posix, fl, od, lease;

	if (argc < 3 || (!strcmp(argv[1], "hold") && argc < 4))
		return 3;
	if (!strcmp(argv[1], "hold")) {
		struct flock w = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1 };
		char rel[4096];
		int r = -1;

		if (!strcmp(argv[3], "posix"))
			r = fcntl(open_in(argv[2], "posix", O_RDWR), F_SETLK, &w);
		else if (!strcmp(argv[3], "ofd"))
			r = fcntl(open_in(argv[2], "ofd", O_RDWR), F_OFD_SETLK, &w);
		else if (!strcmp(argv[3], "flock"))
			r = flock(open_in(argv[2], "flock", O_RDWR), LOCK_SH | LOCK_NB);
		else if (!strcmp(argv[3], "lease"))
			r = open_in(argv[2], "lease", O_WRONLY) < 0;
		if (r) {
			perror(argv[3]);
			return 3;
		}
		printf("holding %d\n", (int)getpid());
		fflush(stdout);
		snprintf(rel, sizeof rel, "%s/release", argv[2]);
		for (int i = 0; i < 600 && access(rel, F_OK); i++)
			usleep(50000);
		return 0;
	}
	posix = open_in(argv[2], "posix", O_RDWR);
	fl = open_in(argv[2], "flock", O_RDWR);
	od = open_in(argv[2], "ofd", O_RDWR);
	if (posix < 0 || fl < 0 || od < 0) {
		perror("open");
		return 3;
	}
	printf("posix 0-9: %s\n", holder(posix, F_GETLK, 0, 10));
	printf("posix 20-: %s\n", holder(posix, F_GETLK, 20, 0));
	printf("posix 10-19: %s\n", holder(posix, F_GETLK, 10, 10));
	printf("flock: %s\n", flock(fl, LOCK_SH | LOCK_NB) ? strerror(errno) : "taken");
	printf("ofd: %s, %s\n", fcntl(od, F_OFD_SETLK, &(struct flock){ .l_type = F_RDLCK }) ? strerror(errno)
			: "taken", holder(od, F_OFD_GETLK, 0, 0));
	lease = open_in(argv[2], "lease", O_WRONLY | O_NONBLOCK);
	printf("lease: %s\n", lease < 0 ? strerror(errno) : "opened for writing");
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/locks" "$W/locks.c"
compile_or_fail "cannot build the probe" cc -O2 -o "$W/probe" "$W/probe.c"
under_libckpt ./locks "$W" "$W/img"
# shellcheck disable=SC2046	# five numbers
set -- $(sed -n 's/^fds //p' "$W/orig.out")
if [ $# -eq 5 ] && [ -s "$W/img" ]; then
	ok "the program took its locks and a checkpoint: $(oneline "$W/orig.out")"
else
	not_ok "the program failed: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
fd_posix=$1 fd_flock=$2 fd_ofd=$3 fd_lease=$4 fd_mem=$5

want="libckpt: $W/img: not restored: flock locks (held through fd $fd_mem)"
if [ "$(grep 'not restored' "$W/orig.err")" = "$want" ]; then
	ok "at checkpoint time only the memfd's lock is named as not restored"
else
	not_ok "checkpoint said: $(oneline "$W/orig.err") (want: $want)"
fi

"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
want=$(printf '%s\n' "locks 5 (taken again at restore)" \
	"$fd_posix POSIX write lock bytes 0-9 $W/posix" "$fd_posix POSIX read lock bytes 20 to EOF $W/posix" \
	"$fd_flock flock LOCK_EX $W/flock" "$fd_ofd OFD write lock bytes 0 to EOF $W/ofd" \
	"$fd_lease read lease (breaks told with signal 10) $W/lease")
got=$(sed -n '/^locks /,/^regions /p' "$W/read.out" | sed '$d' | tr -s ' ' | sed 's/^ //')
if [ "$got" = "$want" ]; then
	ok "readckpt lists the five locks"
else
	not_ok "readckpt: $(printf '%s' "$got" | tr '\n' '|') (want: $(printf '%s' "$want" | tr '\n' '|'))"
fi

"$ROOT/ckpt" info --json "$W/img" >"$W/info.json" 2>&1
got=$(python3 -c 'import json, sys
for l in json.load(open(sys.argv[1]))["locks"]: print(l["fd"], l["lock"], l["start"], l["len"])' "$W/info.json" 2>&1)
want=$(printf '%s\n' "$fd_posix POSIX write lock 0 10" "$fd_posix POSIX read lock 20 0" "$fd_flock flock LOCK_EX 0 0" \
	"$fd_ofd OFD write lock 0 0" "$fd_lease read lease 0 0")
if ! command -v python3 >/dev/null; then
	note "no python3: ckpt info --json not read"
elif [ "$got" = "$want" ]; then
	ok "ckpt info --json lists them too"
else
	not_ok "ckpt info --json locks: $(printf '%s' "$got" | tr '\n' '|')"
fi

# the validator: a lock on a descriptor record that is not there, a kind
# unknown, an flock lock with a range, a break signal on a lock that is not a
# lease, a lock table the header's flag does not
# announce (as an older libckpt's image would not have it): one line, exit 2
for edit in "set-lock 0 fd_index 99" "set-lock 4 kind 9" "set-lock 2 start 5" "set-lock 0 sig 10" "set-hdr flags 0"; do
	cp "$W/img" "$W/bad.img"
	# shellcheck disable=SC2086	# the edit's words
	"$ROOT/tests/bin/imgedit" "$W/bad.img" $edit
	got=$(cd "$W" && timeout 10 "$ROOT/restorer" "$W/bad.img" 2>"$W/bad.err")
	rrc=$?
	line=$(cat "$W/bad.err")
	case $line in
	"restorer: $W/bad.img: "*lock*) ;;
	*) line= ;;
	esac
	if [ "$rrc" = 2 ] && [ -z "$got" ] && [ -n "$line" ] && [ "$(lines "$W/bad.err")" = 1 ]; then
		ok "image edited ($edit): refused: ${line#"restorer: $W/bad.img: "}"
	else
		not_ok "image edited ($edit): exit $rrc, output '$got', stderr: $(oneline "$W/bad.err")"
	fi
done

# the late step: POSIX locks are taken after the address space is rebuilt
# (closing any descriptor of their file drops them, and the restorer closes
# some until then).  An image whose OFD lock (taken in step 3) is moved onto
# the POSIX file conflicts with the POSIX lock there: the restore stops at
# that late step, in one line, exit 127, before the program runs.
cp "$W/img" "$W/bad.img"
"$ROOT/tests/bin/imgedit" "$W/bad.img" set-lock 3 fd_index "$("$ROOT/tests/bin/imgedit" "$W/img" get-lock 0 fd_index)"
got=$(cd "$W" && timeout 10 "$ROOT/restorer" "$W/bad.img" 2>"$W/bad.err")
rrc=$?
want="restorer: $W/bad.img: fd $fd_posix ($W/posix): POSIX write lock on bytes 0-9 cannot be taken again: held by an OFD lock of another process"
if [ "$rrc" = 127 ] && [ -z "$got" ] && [ "$(tail -n 1 "$W/bad.err")" = "$want" ] &&
	[ "$(grep -vc 'notice: not restored: flock locks' "$W/bad.err")" = 1 ]; then
	ok "a POSIX lock that cannot be taken in step 5: one line, exit 127, nothing ran"
else
	not_ok "late POSIX lock: exit $rrc, output '$got', stderr: $(oneline "$W/bad.err") (want: $want)"
fi

# the restore: the program holds its locks until the probe has looked
(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" >"$W/restored.out" 2>"$W/restore.err") &
rpid=$!
if wait_for 20 grep -qs '^restored ' "$W/restored.out"; then
	pid=$(sed -n 's/^restored //p' "$W/restored.out")
	"$W/probe" probe "$W" >"$W/probe.out" 2>&1
	: >"$W/probed"
else
	pid=none
fi
wait $rpid
rrc=$?
gap=free
[ "$BRK" = 1 ] && gap="held by $pid"	# CKPT_TEST_BREAK: bytes the program never locked, wanted held
want=$(printf '%s\n' "posix 0-9: held by $pid" "posix 20-: held by $pid" "posix 10-19: $gap")
want="$want
flock: Resource temporarily unavailable
ofd: Resource temporarily unavailable, held by -1
lease: Resource temporarily unavailable"
if [ "$rrc" = 0 ] && [ "$(cat "$W/probe.out")" = "$want" ] && grep -q '^lease breaks told: 1$' "$W/restored.out"; then
	ok "another process sees the restored program (pid $pid) hold every lock and the lease, and its opening tells the program (SIGUSR1, its F_SETSIG)"
else
	not_ok "restorer exit $rrc, pid $pid; probe saw: $(oneline "$W/probe.out") (want: $(printf '%s' "$want" |
		tr '\n' '|')); program: $(oneline "$W/restored.out"); restorer: $(oneline "$W/restore.err")"
fi
if [ "$(grep 'not restored' "$W/restore.err")" = "restorer: notice: not restored: flock locks" ]; then
	ok "the restorer names the memfd's lock as not restored, and nothing else"
else
	not_ok "restorer said: $(oneline "$W/restore.err")"
fi

# --same-pid: the lease was set in step 3 by the restorer that then forks the
# program's process; set again in step 5, its break signal goes to the program
rm -f "$W/probed"
(cd "$W" && timeout 30 "$ROOT/restorer" --same-pid "$W/img" >"$W/same.out" 2>"$W/same.err") &
rpid=$!
if wait_for 20 grep -qs '^restored ' "$W/same.out"; then
	"$W/probe" probe "$W" >"$W/probe.out" 2>&1
	: >"$W/probed"
fi
wait $rpid
rrc=$?
want="flock: Resource temporarily unavailable
ofd: Resource temporarily unavailable, held by -1
lease: Resource temporarily unavailable"
if [ "$rrc" = 0 ] && [ "$(tail -n 3 "$W/probe.out")" = "$want" ] && grep -q '^posix 0-9: held by [0-9]' "$W/probe.out" &&
	grep -q '^lease breaks told: 1$' "$W/same.out"; then
	ok "--same-pid: the locks are held and the lease's break is told to the program"
else
	not_ok "--same-pid: exit $rrc; probe saw: $(oneline "$W/probe.out"); program: $(oneline "$W/same.out"); restorer: $(oneline "$W/same.err")"
fi

# refused while another process holds a conflicting lock
for kind in posix ofd flock lease; do
	rm -f "$W/release"
	"$W/probe" hold "$W" "$kind" >"$W/hold.out" 2>&1 &
	hpid=$!
	if ! wait_for 10 grep -qs '^holding' "$W/hold.out"; then
		not_ok "$kind: the holder failed: $(oneline "$W/hold.out")"
		: >"$W/release"
		wait $hpid
		continue
	fi
	case $kind in
	posix) want="fd $fd_posix ($W/posix): POSIX write lock on bytes 0-9 cannot be taken again: held by pid $hpid" ;;
	ofd) want="fd $fd_ofd ($W/ofd): OFD write lock on bytes 0 to EOF cannot be taken again: held by an OFD lock of another process" ;;
	flock) want="fd $fd_flock ($W/flock): flock LOCK_EX cannot be taken again: held by pid $hpid" ;;
	lease) want="fd $fd_lease ($W/lease): read lease cannot be taken again: the file is open for writing elsewhere" ;;
	esac
	want="restorer: $W/img: $want"
	got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$W/img" 2>"$W/refused.err")
	rrc=$?
	: >"$W/release"
	wait $hpid
	if [ "$rrc" = 2 ] && [ -z "$got" ] && [ "$(cat "$W/refused.err")" = "$want" ]; then
		ok "$kind held elsewhere: refused in one line, exit 2, nothing ran"
	else
		not_ok "$kind held elsewhere: exit $rrc, output '$got', stderr: $(oneline "$W/refused.err") (want: $want)"
	fi
done
finish
