#!/bin/sh
# fanotify.sh -- a fanotify instance comes back with its marks (issue 17).
#
# Simulates a file watcher (a C program compiled here) that holds a fanotify
# instance and checkpoints itself with raise(SIGUSR2).  Modes:
#   fid     FAN_REPORT_DFID_NAME (what an ordinary user may have), O_NONBLOCK;
#           marks: D for FAN_CREATE|FAN_ONDIR, D/sub given relative to a
#           directory descriptor, D/f ignoring FAN_CLOSE_WRITE (surviving
#           modification)
#   pending fid, with an event queued and unread at the checkpoint
#   mount   (root) FAN_CLASS_NOTIF without FID: a mount mark and a file
#           system mark on the mount of D, for FAN_CLOSE_WRITE
#   gone    fid, with a mark added by the raw system call on a file that is
#           then deleted: no path names it
# After a restore the program prints its fanotify fdinfo lines (the marks:
# inode, masks, flags) and the events it reads for files it creates.  Checks:
#   1  fid: nothing named at checkpoint; readckpt shows the three marks;
#      restored eager and --lazy, the marks are the checkpoint's (fdinfo) and
#      a file made in D and a directory made in D/sub are reported with
#      their names
#   2  pending: the queued event is named lost at checkpoint time and by the
#      restorer; the marks come back
#   3  mount (root; the ordinary user's pass notes it): the mount and file
#      system marks come back, and a file closed after writing in D is
#      reported
#   4  gone: named at checkpoint time in one line; the restorer refuses the
#      image in one line
#   5  fid with D/sub removed before the restore: refused in one line naming
#      the path and --map-path
# CKPT_TEST_BREAK=1: the program expects another name for the file it makes.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
workdir fanotify

cat >"$W/fw.c" <<'EOF2'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));

/* fanotify's fdinfo lines but the first ("fanotify flags:" stays), one string */
static void marks(int fd, char *out, size_t size)
{
	char path[64], text[8192];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	out[0] = 0;
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(text, sizeof(text), f))
		if (!strncmp(text, "fanotify ", 9) && strlen(out) + strlen(text) < size)
			strcat(out, text);
	fclose(f);
}

/* the names (FID mode) or the count (without) of the events queued now */
static void events(int fd, int fid, char *out, size_t size)
{
	char buf[8192];
	ssize_t n;

	out[0] = 0;
	usleep(20000);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			struct fanotify_event_info_fid *i = (void *)(m + 1);
			const char *name = "";

			if (fid) {		/* the directory's handle, then the name */
				struct file_handle *h = (void *)i->handle;

				name = (const char *)h->f_handle + h->handle_bytes;
			} else if (m->fd >= 0) {
				close(m->fd);
			}
			if (strlen(out) + strlen(name) + 24 < size)
				snprintf(out + strlen(out), size - strlen(out), "%s0x%llx %s", *out ? ", " : "",
					 (unsigned long long)m->mask, fid ? name : "(fd)");
		}
}

int main(int argc, char **argv)
{
	const char *d = argv[1], *mode = argv[2];
	int fid = strcmp(mode, "mount"), fd, dir, keep = -1;
	char before[8192], after[8192], got[8192], p[4096];

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	fd = fanotify_init(FAN_CLOEXEC | FAN_NONBLOCK | (fid ? FAN_REPORT_DFID_NAME : FAN_CLASS_NOTIF), O_RDONLY);
	if (fd < 0)
		return printf("unavailable: fanotify_init: %m\n"), 0;
	dir = open(d, O_RDONLY | O_DIRECTORY);
	if (!strcmp(mode, "gone")) {		/* kept open: its mark lives on */
		snprintf(p, sizeof(p), "%s/victim", d);
		keep = open(p, O_CREAT | O_WRONLY, 0600);
	}
	snprintf(p, sizeof(p), "%s/f", d);
	if (fid && (fanotify_mark(fd, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR, AT_FDCWD, d) ||
		    fanotify_mark(fd, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR, dir, "sub") ||
		    fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
				  FAN_CLOSE_WRITE, AT_FDCWD, p)))
		return printf("unavailable: fanotify_mark: %m\n"), 0;
	if (!fid && (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, d) ||
		     fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD, d)))
		return printf("unavailable: fanotify_mark: %m\n"), 0;
	if (!strcmp(mode, "gone")) {
		snprintf(p, sizeof(p), "%s/victim", d);
		syscall(SYS_fanotify_mark, fd, FAN_MARK_ADD, (unsigned long long)FAN_CLOSE_WRITE, AT_FDCWD, p);
		unlink(p);
	}
	if (!strcmp(mode, "pending")) {
		snprintf(p, sizeof(p), "%s/queued", d);
		close(open(p, O_CREAT | O_WRONLY, 0600));
		usleep(20000);
	}
	close(dir);
	marks(fd, before, sizeof(before));
	raise(SIGUSR2);
	if (!ckpt_restore_count())
		return printf("checkpointed fd %d\n", fd), keep < 0 ? 0 : close(keep);
	marks(fd, after, sizeof(after));
	if (!strcmp(mode, "pending"))
		events(fd, fid, got, sizeof(got));	/* the event of before, if it came back */
	snprintf(p, sizeof(p), "%s/%s", d, getenv("BRK_FAN") && *getenv("BRK_FAN") ? "made2" : "made");
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/sub/dir", d);
	if (fid)
		mkdir(p, 0700);
	events(fd, fid, got, sizeof(got));
	printf("marks %s; events: %s\n", strcmp(before, after) ? "differ" : "as before", got);
	if (strcmp(before, after))
		printf("before:\n%safter:\n%s", before, after);
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/fw" "$W/fw.c"

brk=
[ "$BRK" -eq 1 ] && brk=1

# take MODE: a fresh D, the program run under libckpt until its checkpoint;
# its output in $W/MODE.out, what libckpt said in $W/MODE.err
take() {
	D=$W/d-$1
	rm -rf "$D" "$W/$1.img"
	mkdir -p "$D/sub" && : >"$D/f"
	(cd "$W" && CKPT_FILE="$W/$1.img" BRK_FAN=$brk timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" "$W/fw" "$D" "$1" \
		>"$W/$1.out" 2>"$W/$1.err")
}

# restore MODE [OPTION]: the program's output in $W/MODE.rout, the restorer's stderr in $W/MODE.rerr, status in rc
restore() {
	(cd "$W" && timeout 30 "$ROOT/restorer" ${2:-} "$W/$1.img" >"$W/$1.rout" 2>"$W/$1.rerr" </dev/null)
	rc=$?
}

want_fid="marks as before; events: 0x100 made, 0x40000100 dir"
take fid
if grep -q '^unavailable' "$W/fid.out"; then
	skip "fanotify is not available here: $(oneline "$W/fid.out")"
fi
"$ROOT/readckpt" "$W/fid.img" >"$W/fid.read" 2>&1
restore fid
eager=$(cat "$W/fid.rout")
rm -rf "$D/made" "$D/made2" "$D/sub/dir"		# made again by the next run
restore fid --lazy
if ! grep -q 'not restored' "$W/fid.err" && [ "$(grep -c '^         mark [123]: inode' "$W/fid.read")" = 3 ] &&
   [ "$eager" = "$want_fid" ] && [ "$(cat "$W/fid.rout")" = "$want_fid" ] && ! grep -q fanotify "$W/fid.rerr"; then
	ok "three marks (one given by a directory descriptor, one ignoring) back as they were; events reported, eager and lazy"
else
	not_ok "fid: libckpt '$(oneline "$W/fid.err")'; eager '$eager'; lazy '$(oneline "$W/fid.rout")'; restorer '$(oneline "$W/fid.rerr")'; readckpt: $(grep mark "$W/fid.read" | tr '\n' '|')"
fi

take pending
restore pending
if grep -q "not restored: fd [0-9]* (anon_inode:\[fanotify\]): [0-9]* bytes of fanotify events pending" "$W/pending.err" &&
   grep -q "restorer: notice: fd [0-9]*: [0-9]* bytes of fanotify events pending at checkpoint are not restored" "$W/pending.rerr" &&
   [ "$(cat "$W/pending.rout")" = "$want_fid" ]; then
	ok "an event queued at the checkpoint is named lost at both ends; the marks come back"
else
	not_ok "pending: libckpt '$(oneline "$W/pending.err")'; restorer '$(oneline "$W/pending.rerr")'; program '$(oneline "$W/pending.rout")'"
fi

if [ "$(id -u)" = 0 ]; then
	take mount
	restore mount
	case $(cat "$W/mount.rout") in
	"marks as before; events: "*"0x8 (fd)"*) c3=1 ;;
	*) c3=0 ;;
	esac
	if [ $c3 = 1 ] && ! grep -q 'not restored' "$W/mount.err"; then
		ok "root: a mount mark and a file system mark come back; a write in D is reported"
	else
		not_ok "mount: libckpt '$(oneline "$W/mount.err")'; program '$(oneline "$W/mount.rout")'; restorer '$(oneline "$W/mount.rerr")'"
	fi
else
	note "mount and file system marks need CAP_SYS_ADMIN: root's pass tries them"
fi

take gone
fd=$(sed -n 's/^checkpointed fd //p' "$W/gone.out")
restore gone
if [ "$(grep -c 'not restored' "$W/gone.err")" = 1 ] &&
   grep -q "not restored: fd $fd (anon_inode:\[fanotify\]): fanotify: a mark whose path is not known" "$W/gone.err" &&
   [ $rc -ne 0 ] && [ "$(lines "$W/gone.rerr")" = 1 ] && grep -q "fd $fd (anon_inode:\[fanotify\]: fanotify: a mark whose path is not known.*) cannot be restored" "$W/gone.rerr"; then
	ok "a mark on a deleted file: named at checkpoint time, refused in one line"
else
	not_ok "gone: libckpt '$(oneline "$W/gone.err")'; restorer (exit $rc) '$(oneline "$W/gone.rerr")'"
fi

take fid
rmdir "$W/d-fid/sub"
expect_refused "$W/fid.img" "fanotify mark 2: $W/d-fid/sub is gone (--map-path $W/d-fid=NEW maps it)" \
	"a marked directory gone: refused in one line naming it and --map-path"
finish
