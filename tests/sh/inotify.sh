#!/bin/sh
# timeout: 120
# inotify.sh -- an inotify descriptor comes back with its watches (issue 17).
#
# Simulates a program that follows a directory and a file with inotify, as a
# build tool or a file manager does.  A C program (compiled here) watches
# DIR/d (IN_CREATE|IN_DELETE), DIR/f through a relative path (IN_MODIFY), DIR/x
# (the watch removed again: a hole in the numbers) and DIR/e
# (IN_CREATE|IN_ONESHOT), prints its watch numbers, checkpoints itself with
# raise(SIGUSR2), and then (restored, or going on once the image is there)
# makes events, adds one more watch and prints every event read with its wd.
# Checks:
#   1  the program ran and took a checkpoint; nothing was named as lost
#   2  readckpt shows the instance with watches 1, 2 and 4 and their paths
#   3  restored, it prints what the uninterrupted run printed after the
#      checkpoint: the same events under the same wds, the next watch is 5,
#      O_NONBLOCK and FD_CLOEXEC as they were
#   4  the same with --lazy
#   5  a watched directory removed before the restore: refused in one line
#      naming it and --map-path, exit status 2
#   5a the directory moved and --map-path given: the watches follow it
#   5b crafted records (a watch numbered past the last handed out, a last
#      one past INT_MAX) are refused in one line, exit status 2
#   6  an event pending at the checkpoint is kept by libckpt: the program
#      going on and the restored one (eager, lazy) find the descriptor
#      readable with poll(), read that event first, then the others, the next
#      watch is still 5, libckpt's own event (an IN_IGNORED) never shows, and
#      once all is read poll() finds nothing; nothing is named lost
#   6a the same with a blocking descriptor: one read() gives the kept event,
#      and poll() then finds nothing (libckpt took its own event along)
#   6b a descriptor made by the raw system call (libckpt does not read it for
#      the program): its pending event is named in one line by libckpt and
#      by the restorer, and the restored program runs on without it
#   7  a watch added by the raw system call (libckpt never saw its path): as
#      root found through its file handle and restored under its number; as
#      an ordinary user named at checkpoint time and refused at restore
#   8  a fanotify descriptor beside the watches is not named lost at
#      checkpoint time (fanotify.sh tests its marks; noted, not tried, where
#      fanotify_init is not allowed)
# Root and the ordinary user alike.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored run is expected to print one event more.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
workdir inotify
rc=0	# under_libckpt's

cat >"$W/ino.c" <<'EOF2'
/* ino DIR IMAGE [pending|pendblock|pendraw|raw|fan]: the watches of
 * inotify.sh; pending: a file made in DIR/d before the checkpoint, its event
 * left unread (pendblock: the descriptor blocking; pendraw: made by the raw
 * system call); raw: DIR/r watched through the raw system call too; fan: a
 * fanotify descriptor too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static char dir[4000];
static const char *in(const char *name)
{
	static char path[4][4096];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, 4096, "%s/%s", dir, name);
	return p;
}
static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			perror("write");
		close(fd);
	}
}
int main(int argc, char **argv)
{
	const char *mode = argc > 3 ? argv[3] : "";
	int fd, wd[6], raw = !strcmp(mode, "raw"), fan = -1, pending = !strncmp(mode, "pend", 4);
	int blocking = !strcmp(mode, "pendblock");
	struct pollfd pf;
	char buf[4096] __attribute__((aligned(8)));
	struct stat st;

	if (!ckpt_restore_count || argc < 3) { puts("usage: ino DIR IMAGE [pending|raw|fan] under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	snprintf(dir, sizeof dir, "%s", argv[1]);
	if (!strcmp(mode, "pendraw"))
		fd = (int)syscall(SYS_inotify_init1, IN_NONBLOCK | IN_CLOEXEC);
	else
		fd = inotify_init1((blocking ? 0 : IN_NONBLOCK) | IN_CLOEXEC);
	if (fd < 0 || chdir(dir)) { perror("inotify_init1/chdir"); return 3; }
	wd[0] = inotify_add_watch(fd, in("d"), IN_CREATE | IN_DELETE);
	wd[1] = inotify_add_watch(fd, "f", IN_MODIFY);
	wd[2] = inotify_add_watch(fd, in("x"), IN_ATTRIB);
	if (inotify_rm_watch(fd, wd[2]) || read(fd, buf, sizeof buf) <= 0) { perror("rm_watch"); return 3; }
	wd[3] = inotify_add_watch(fd, in("e"), IN_CREATE | IN_ONESHOT);
	wd[4] = raw ? (int)syscall(SYS_inotify_add_watch, fd, in("r"), IN_CREATE) : 0;
	if (wd[0] < 0 || wd[1] < 0 || wd[3] < 0 || wd[4] < 0) { perror("inotify_add_watch"); return 3; }
	if (pending)
		touch(in("d/early"));
	if (!strcmp(mode, "fan") && (fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY)) < 0)
		puts("no fanotify");
	printf("fd %d wds %d %d %d %d fanotify %d\n", fd, wd[0], wd[1], wd[3], wd[4], fan);
	fflush(stdout);
	raise(SIGUSR2);
	if (ckpt_restore_count() == 0)
		for (int i = 0; i < 600 && stat(argv[2], &st); i++)
			usleep(50000);
	printf("after the checkpoint: nonblock %d cloexec %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
	       !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	pf.fd = fd;
	pf.events = POLLIN;
	if (pending)
		printf("poll: %s\n", poll(&pf, 1, 2000) == 1 ? "readable" : "nothing");
	if (blocking) {				/* one read, then is anything left? */
		ssize_t n = read(fd, buf, sizeof buf);

		for (char *p = buf; n > 0 && p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;

			printf("event wd %d mask 0x%x %s\n", ev->wd, ev->mask, ev->len ? ev->name : "-");
			p += sizeof(*ev) + ev->len;
		}
		printf("then poll: %s\n", poll(&pf, 1, 0) == 1 ? "readable" : "nothing");
		unlink(in("d/early"));
		return 0;
	}
	touch(in("d/a"));
	unlink(in("d/a"));
	touch("f");
	touch(in("e/b"));
	touch(in("e/c"));			/* IN_ONESHOT: no event */
	if (raw)
		touch(in("r/s"));
	wd[5] = inotify_add_watch(fd, in("g"), IN_DELETE_SELF);
	printf("new watch %d\n", wd[5]);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;

			printf("event wd %d mask 0x%x %s\n", ev->wd, ev->mask, ev->len ? ev->name : "-");
			p += sizeof(*ev) + ev->len;
		}
	}
	if (pending)
		printf("then poll: %s\n", poll(&pf, 1, 0) == 1 ? "readable" : "nothing");
	unlink(in("e/b"));
	unlink(in("e/c"));
	unlink(in("r/s"));
	unlink(in("d/early"));
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -Wall -o "$W/ino" "$W/ino.c"

# run MODE: a fresh DIR=$W/run-MODE, the program under libckpt (its image: $W/img, made anew)
run() {
	D=$W/run-$1
	I=$W/img
	rm -f "$I"
	mkdir -p "$D/d" "$D/e" "$D/x" "$D/g" "$D/r" && : >"$D/f"
	under_libckpt ./ino "$D" "$I" "$1"
	[ -s "$I" ] && [ "$rc" -eq 0 ]
}

# 1-4: the watches come back
if run plain && grep -q '^fd [0-9]* wds 1 2 4 0 ' "$W/orig.out" && ! grep -q 'not restored' "$W/orig.err"; then
	ok "the program watched with a hole in its wds and took a checkpoint: $(head -1 "$W/orig.out")"
else
	not_ok "the program failed (status $rc): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
sed 1d "$W/orig.out" >"$W/want"
[ "$BRK" = 1 ] && echo "event wd 9 mask 0x100 ghost" >>"$W/want"
"$ROOT/readckpt" "$I" >"$W/readckpt.out" 2>&1
if grep -q ' inotify .*anon_inode:inotify' "$W/readckpt.out" &&
   grep -q "watch 1: mask 0x1000300, .*, $D/d\$" "$W/readckpt.out" &&
   grep -q "watch 2: mask 0x2, .*, $D/f\$" "$W/readckpt.out" &&
   grep -q "watch 4: mask 0x81000100, .*, $D/e\$" "$W/readckpt.out" &&
   grep -q "last wd handed out 4, 0 bytes" "$W/readckpt.out"; then
	ok "readckpt shows watches 1, 2, 4 with their masks and absolute paths"
else
	not_ok "readckpt: $(grep -A4 ' inotify ' "$W/readckpt.out" | tr '\n' '|')"
fi
for how in eager lazy; do
	opt=
	[ $how = lazy ] && opt=--lazy
	# shellcheck disable=SC2086	# no option or one
	restore_got "$I" $opt
	if [ "$rrc" -eq 0 ] && cmp -s "$W/got" "$W/want"; then
		ok "restored ($how): the same events under the same wds as the run that went on: $(tr '\n' '|' <"$W/got")"
	else
		not_ok "restored ($how), status $rrc: got '$(tr '\n' '|' <"$W/got")', want '$(tr '\n' '|' <"$W/want")'; $(oneline "$W/restore.err")"
	fi
done

# 5: a watched path gone
rmdir "$D/e"
restore_got "$I"
want="restorer: $I: fd 3: inotify watch 4: $D/e is gone (--map-path $D=NEW maps it)"
if [ "$rrc" -eq 2 ] && [ "$(cat "$W/restore.err")" = "$want" ] && [ ! -s "$W/got" ]; then
	ok "a watched directory removed: refused in one line: $want"
else
	not_ok "watched directory removed: status $rrc, '$(oneline "$W/restore.err")', want '$want'"
fi

# 5a: the watch paths go through --map-path: the directory moved, its watches follow
# (the program's own absolute paths are gone: only f, relative to its mapped cwd, is found)
mkdir "$D/e" && mv "$D" "$D.moved"
restore_got "$I" --map-path "$D=$D.moved"
want="after the checkpoint: nonblock 1 cloexec 1|new watch -1|event wd 2 mask 0x2 -|"
if [ "$rrc" -eq 0 ] && [ "$(tr '\n' '|' <"$W/got")" = "$want" ]; then
	ok "--map-path moves the watches with the directory: $want"
else
	not_ok "--map-path: status $rrc, got '$(tr '\n' '|' <"$W/got")', want '$want'; $(oneline "$W/restore.err")"
fi
mv "$D.moved" "$D"

# 6: crafted records: a watch numbered past the last handed out, a last one past INT_MAX
ED=$ROOT/tests/bin/imgedit
if [ -x "$ED" ]; then
	cp "$I" "$W/crafted"
	rec=$("$ED" "$W/crafted" fds | awk '$2 == 3 { print $1 }')
	"$ED" "$W/crafted" set-fd "$rec" aux0 1 >/dev/null
	restore_got "$W/crafted"
	e1=$(cat "$W/restore.err")
	r1=$rrc
	"$ED" "$W/crafted" set-fd "$rec" aux0 2147483648 >/dev/null
	restore_got "$W/crafted"
	e2=$(cat "$W/restore.err")
	if [ "$r1" -eq 2 ] && [ "$e1" = "restorer: $W/crafted: fd 3: inotify watch record (wd 2) out of range" ] &&
	   [ "$rrc" -eq 2 ] && [ "$e2" = "restorer: $W/crafted: fd 3: inotify record out of range" ]; then
		ok "crafted inotify records are refused in one line: $e1 / $e2"
	else
		not_ok "crafted inotify records: status $r1 '$e1', status $rrc '$e2'"
	fi
else
	note "no tests/bin/imgedit: crafted records not tried"
fi

# 6: events pending at the checkpoint, kept by libckpt
if run pending; then
	said=$(grep 'not restored' "$W/orig.err")
	sed 1d "$W/orig.out" >"$W/want"
	[ "$BRK" = 1 ] && echo "event wd 9 mask 0x100 ghost" >>"$W/want"
	first=$(grep -m1 '^event' "$W/want")
	good=1
	if [ -n "$said" ] || [ "$first" != "event wd 1 mask 0x100 early" ] || ! grep -qx 'poll: readable' "$W/want" ||
	   ! grep -qx 'new watch 5' "$W/want" || ! grep -qx 'then poll: nothing' "$W/want" || grep -q 'wd 5 mask 0x8000' "$W/want"; then
		not_ok "pending event, the program going on: libckpt '$said', printed '$(tr '\n' '|' <"$W/want")'"
		good=0
	fi
	for how in eager lazy; do
		opt=
		[ $how = lazy ] && opt=--lazy
		# shellcheck disable=SC2086	# no option or one
		restore_got "$I" $opt
		if [ "$rrc" -ne 0 ] || ! cmp -s "$W/got" "$W/want" || grep -q inotify "$W/restore.err"; then
			not_ok "pending event, restored ($how), status $rrc: got '$(tr '\n' '|' <"$W/got")', want '$(tr '\n' '|' <"$W/want")'; $(oneline "$W/restore.err")"
			good=0
		fi
	done
	[ $good = 1 ] && ok "a pending event is kept: readable, read first, no event of libckpt's, next watch 5, live and restored eager and lazy: $(tr '\n' '|' <"$W/got")"
else
	not_ok "the program failed (pending): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
fi

# 6a: the same, the descriptor blocking
if run pendblock; then
	sed 1d "$W/orig.out" >"$W/want"
	restore_got "$I"
	want="after the checkpoint: nonblock 0 cloexec 1|poll: readable|event wd 1 mask 0x100 early|then poll: nothing|"
	if [ "$(tr '\n' '|' <"$W/want")" = "$want" ] && [ "$rrc" -eq 0 ] && cmp -s "$W/got" "$W/want" &&
	   ! grep -q 'not restored' "$W/orig.err"; then
		ok "blocking descriptor: the kept event in one read, then nothing readable, live and restored: $want"
	else
		not_ok "blocking descriptor: live '$(tr '\n' '|' <"$W/want")', restored (status $rrc) '$(tr '\n' '|' <"$W/got")', want '$want'; $(oneline "$W/orig.err") $(oneline "$W/restore.err")"
	fi
else
	not_ok "the program failed (pendblock): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
fi

# 6b: a descriptor libckpt did not see made: its pending event is named
if run pendraw; then
	said=$(grep 'not restored' "$W/orig.err")
	restore_got "$I"
	want="libckpt: $I: not restored: fd 3 (anon_inode:inotify): 32 bytes of inotify events pending that the image does not hold (libckpt keeps them only for an instance the program made through libc and holds by one descriptor)"
	wantr="restorer: notice: fd 3: 32 bytes of inotify events pending at checkpoint are not restored"
	if [ "$said" = "$want" ] && [ "$rrc" -eq 0 ] && [ "$(grep inotify "$W/restore.err")" = "$wantr" ] &&
	   grep -q 'event wd 1 mask 0x100 early' "$W/orig.out" && ! grep -q early "$W/got" &&
	   grep -q 'event wd 2 mask 0x2 -' "$W/got"; then
		ok "a pending event on a descriptor made by the raw system call is named by libckpt and the restorer, and the program runs on"
	else
		not_ok "pending event (raw descriptor): libckpt '$said', restorer (status $rrc) '$(oneline "$W/restore.err")', got '$(tr '\n' '|' <"$W/got")'"
	fi
else
	not_ok "the program failed (pendraw): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
fi

# 7: a watch libckpt did not see
if run raw; then
	said=$(grep 'not restored' "$W/orig.err")
	restore_got "$I"
	if [ "$(id -u)" -eq 0 ]; then
		sed 1d "$W/orig.out" >"$W/want"
		if [ -z "$said" ] && [ "$rrc" -eq 0 ] && cmp -s "$W/got" "$W/want" && grep -q 'event wd 5 mask 0x100 s' "$W/got"; then
			ok "root: a watch added by the raw system call is found by its file handle and comes back as wd 5"
		else
			not_ok "root, raw watch: libckpt '$said', restorer (status $rrc) '$(oneline "$W/restore.err")', got '$(tr '\n' '|' <"$W/got")'"
		fi
	else
		case $said in
		"libckpt: $I: not restored: fd 3 (anon_inode:inotify): an inotify watch whose path is not known: watch 5, inode "*) c1=1 ;;
		*) c1=0 ;;
		esac
		if [ $c1 = 1 ] && [ "$rrc" -eq 2 ] && [ ! -s "$W/got" ] &&
		   [ "$(cat "$W/restore.err")" = "restorer: $I: fd 3 (anon_inode:inotify: an inotify watch whose path is not known) cannot be restored (--close-unsupported restores it closed)" ]; then
			ok "user: a watch added by the raw system call is named at checkpoint time and refused at restore"
		else
			not_ok "user, raw watch: libckpt '$said', restorer (status $rrc) '$(oneline "$W/restore.err")'"
		fi
	fi
else
	not_ok "the program failed (raw): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
fi

# 8: fanotify beside the watches: nothing named lost
if ! run fan; then
	not_ok "the program failed (fan): $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
elif grep -q 'no fanotify' "$W/orig.out"; then
	note "fanotify_init is not allowed here: its naming not tried"
else
	fan=$(sed -n 's/.* fanotify \([0-9]*\)$/\1/p' "$W/orig.out" | head -1)
	"$ROOT/readckpt" "$I" >"$W/read.out" 2>&1
	if [ -n "$fan" ] && ! grep -q 'not restored' "$W/orig.err" && grep -q "^ *$fan fanotify" "$W/read.out"; then
		ok "a fanotify descriptor (fd $fan) beside the watches: recorded as fanotify, nothing named lost"
	else
		not_ok "fanotify (fd $fan): '$(oneline "$W/orig.err")'; readckpt: $(grep fanotify "$W/read.out" | tr '\n' '|')"
	fi
fi
finish
