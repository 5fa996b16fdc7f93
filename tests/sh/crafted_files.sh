#!/bin/sh
# crafted_files.sh -- the restorer opens the paths an image names safely, and a
# privileged restorer runs only images of its own uid (issue 13, items 2-3 and
# "Root restoring an image made by an ordinary user").
#
# Simulates someone who can change the files an image names, or edit the image
# itself (checksums re-sealed with tests/bin/imgedit), against a user who
# restores it; and root restoring an image an ordinary user made.  The program
# is a small C helper compiled here (hold DATA FIFO LAST MS): it holds DATA at
# fd 3 (read-only), the FIFO at fd 4 (O_RDWR, 12 bytes written into it, not
# read), /dev/null at fd 5, runs from its own copy in the temp dir (a mapped
# file we can replace) with a working directory of its own, and prints
# "tick I uid U" LAST times, MS ms apart.  Checks, each on a fresh copy of one
# image and of its files:
#   A  the FIFO's path is now a regular file: refused, the file unchanged
#   B  the FIFO record edited to name the data file: refused, the file unchanged
#   C  a later record refused (fd 5's path gone): the FIFO's stored bytes were
#      not written into the FIFO (nothing is written before every check passed)
#   D  the data file is now a FIFO: refused at once (it used to block forever)
#   E  the program's own binary (a mapped file) is now a FIFO: refused at once
#   F  the data file is now a symbolic link to a copy: refused
#   G  the fd 3 record edited to say directory, or character device: refused
#   H  fd 5 (/dev/null) recorded as another device (its rdev edited): refused
#   I  the working directory is now a symbolic link to a copy: refused
# As root (skipped as an ordinary user), with an image made by another uid:
#   R1 restored by root without options: refused, naming the owner's uid
#   R2 with --as-owner: restored, and the program runs with that uid
#   R3 with --as-owner, its data file now a root-only 0600 file: refused
#      (errno 13), the program does not get it
#   R4 root's own image made group-writable: refused
# Every refusal: status exactly 2, one stderr line "restorer: ...", nothing on
# stdout, within 2 s (a timeout of 5 s catches a hang).
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR, a private
# temp dir.  Output: `ok N desc` / `not ok N desc`, `# ...`.  Exit 0, 1, or 4.
# CKPT_TEST_BREAK=1: every refusal expects status 3 instead of 2, and fails.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
IE=$ROOT/tests/bin/imgedit
workdir crafted_files
U=				# root part: a directory the other uid owns
want_rc=2
[ $BRK = 1 ] && want_rc=3
LIMIT_MS=2000

pid=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null
[ -z "$U" ] || rm -rf "$U"'

need_built "$RST" "$LIB" "$IE"
need_cc

cat >"$W/hold.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long last, ms;
	char buf[64];

	syscall(SYS_close_range, 3, ~0U, 0);	/* nothing inherited above 2 */
	if (argc != 5)
		return 2;
	last = atol(argv[3]);
	ms = atol(argv[4]);
	if (open(argv[1], O_RDONLY) != 3 || open(argv[2], O_RDWR) != 4 ||
	    open("/dev/null", O_RDONLY) != 5 || write(4, "stored bytes", 12) != 12)
		return 2;
	for (long i = 1; i <= last; i++) {
		struct timespec t = { ms / 1000, ms % 1000 * 1000000L };
		int len = snprintf(buf, sizeof buf, "tick %ld uid %d\n", i, (int)getuid());

		if (write(1, buf, (size_t)len) != len)
			return 3;
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			;
	}
	return 0;
}
EOF
if ! cc -O1 -o "$W/hold.bin" "$W/hold.c" 2>"$W/cc.err"; then
	skip "the helper program does not compile: $(oneline "$W/cc.err")"
fi

# world DIR -- (re)make the files the program uses in DIR; its binary and
# working directory are put back, not made again (a new inode is a new file)
world() {
	rm -rf "$1/data" "$1/fifo" "$1/data.copy"
	if [ -e "$1/hold.real" ]; then rm -f "$1/hold" && mv "$1/hold.real" "$1/hold"; fi
	if [ -e "$1/cwd.real" ]; then rm -f "$1/cwd" && mv "$1/cwd.real" "$1/cwd"; fi
	printf 'data file\n' >"$1/data" &&
	mkfifo "$1/fifo" &&
	{ [ -e "$1/hold" ] || cp "$W/hold.bin" "$1/hold"; } &&
	{ [ -d "$1/cwd" ] || mkdir "$1/cwd"; }
}

# make_image DIR IMG [AS...] -- run the program in DIR (as AS... : a setpriv
# prefix), checkpoint it after 3 ticks, kill it
make_image() {
	d=$1 img=$2
	shift 2
	: >"$d/orig.out"
	(cd "$d/cwd" && exec "$@" env LD_PRELOAD="$d/libckpt.so" CKPT_FILE="$img" \
		"$d/hold" "$d/data" "$d/fifo" 40 50 >"$d/orig.out" 2>"$d/orig.err" </dev/null) &
	pid=$!
	i=0
	while [ "$(wc -l <"$d/orig.out")" -lt 3 ]; do
		i=$((i + 1))
		[ $i -le 50 ] && kill -0 "$pid" 2>/dev/null || { note "program: $(oneline "$d/orig.err")"; return 1; }
		sleep 0.1
	done
	kill -USR2 "$pid"
	i=0
	while [ ! -e "$img" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || { note "no image: $(oneline "$d/orig.err")"; return 1; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	return 0
}

# restore IMG [OPTIONS] -- run the restorer, set rc, ms, $W/r.out, $W/r.err
restore() {
	img=$1
	shift
	t0=$(now_ms)
	timeout -k 1 5 "$RST" "$@" "$img" >"$W/r.out" 2>"$W/r.err" </dev/null
	rc=$?
	ms=$(($(now_ms) - t0))
}

# refused DESC WORD IMG [OPTIONS] -- the restorer refuses IMG cleanly, with a
# line that holds WORD
refused() {
	desc=$1 word=$2
	shift 2
	restore "$@"
	line=$(head -n 1 "$W/r.err")
	why=
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="still running after 5 s, killed by timeout"
	elif [ "$rc" -ne "$want_rc" ]; then
		why="exit status $rc, want $want_rc"
	elif [ -s "$W/r.out" ]; then
		why="wrote to stdout: $(oneline "$W/r.out")"
	elif [ "$(wc -l <"$W/r.err")" -ne 1 ] || [ "${line#restorer: }" = "$line" ]; then
		why="stderr is not one 'restorer: ' line"
	elif [ "${line#*"$word"}" = "$line" ]; then
		why="the line does not say '$word'"
	elif [ "$ms" -gt "$LIMIT_MS" ]; then
		why="took $ms ms"
	fi
	if [ -z "$why" ]; then ok "$desc ($ms ms)"; else not_ok "$desc: $why"; fi
	note "  said: $(oneline "$W/r.err")"
}

cp "$LIB" "$W/libckpt.so"
world "$W" || { not_ok "setting up the program's files"; exit 1; }
if ! make_image "$W" "$W/good.img"; then
	not_ok "image of the helper program"
	exit 1
fi
ok "image of the helper program written"
# the records: fd 3 data, 4 fifo, 5 /dev/null, in that order after 0-2
"$IE" "$W/good.img" fds >"$W/fds"
i3=$(awk '$2 == 3 { print $1 }' "$W/fds")
i4=$(awk '$2 == 4 { print $1 }' "$W/fds")
i5=$(awk '$2 == 5 { print $1 }' "$W/fds")
if [ -z "$i3" ] || [ -z "$i4" ] || [ -z "$i5" ] || [ "$(awk '$2 == 4 { print $3 }' "$W/fds")" != 4 ]; then
	not_ok "the image's fd records are not the program's: $(tr '\n' '|' <"$W/fds")"
	exit 1
fi
BAD=$W/bad.img
fresh() { world "$W" && cp "$W/good.img" "$BAD" && chmod 600 "$BAD"; }

fresh
restore "$BAD"
if [ "$rc" -eq 0 ] && [ "$(tail -n 1 "$W/r.out" | cut -d' ' -f1-2)" = "tick 40" ]; then
	ok "the image restores with its files in place"
else
	not_ok "the image restores with its files in place: status $rc, $(oneline "$W/r.err")"
fi

# A
fresh
rm "$W/fifo"
printf 'keep this text\n' >"$W/fifo"
refused "A: FIFO's path is now a regular file" "fifo" "$BAD"
if [ "$(cat "$W/fifo")" = "keep this text" ]; then ok "A: that file is unchanged"; else not_ok "A: that file now reads '$(head -c 40 "$W/fifo")'"; fi

# B
fresh
"$IE" "$BAD" set-fd-path "$i4" "$W/data"
refused "B: FIFO record edited to name the data file" "data" "$BAD"
if [ "$(cat "$W/data")" = "data file" ]; then ok "B: the data file is unchanged"; else not_ok "B: the data file now reads '$(head -c 40 "$W/data")'"; fi

# C: hold the FIFO open meanwhile, so that bytes written into it stay there
fresh
"$IE" "$BAD" set-fd-path "$i5" /dev/nul
exec 7<>"$W/fifo"
refused "C: fd 5's file gone" "/dev/nul" "$BAD"
printf 'END' >&7
got=$(timeout 2 head -c 3 <&7)
exec 7>&-
if [ "$got" = END ]; then ok "C: no stored byte went into the FIFO before the refusal"; else not_ok "C: the FIFO held '$got...' after the refusal"; fi

# D
fresh
rm "$W/data"
mkfifo "$W/data"
refused "D: the data file is now a FIFO" "data" "$BAD"

# E
fresh
mv "$W/hold" "$W/hold.real"
mkfifo "$W/hold"
refused "E: the program's binary is now a FIFO" "hold" "$BAD"

# F
fresh
mv "$W/data" "$W/data.copy"
ln -s data.copy "$W/data"
refused "F: the data file is now a symbolic link" "symbolic link" "$BAD"

# G
fresh
"$IE" "$BAD" set-fd "$i3" kind 2	# CKPT_FD_DIR
refused "G: a regular file recorded as a directory" "not a directory" "$BAD"
fresh
"$IE" "$BAD" set-fd "$i3" kind 5	# CKPT_FD_CHR
refused "G: a regular file recorded as a character device" "not a character device" "$BAD"

# H
fresh
rdev=$("$IE" "$BAD" get-fd "$i5" aux0)
if [ "$rdev" = 0 ]; then
	not_ok "H: the image does not record /dev/null's device number"
else
	"$IE" "$BAD" set-fd "$i5" aux0 $((rdev + 1))
	refused "H: /dev/null recorded as another device" "device" "$BAD"
fi

# I
fresh
mv "$W/cwd" "$W/cwd.real"
ln -s cwd.real "$W/cwd"
refused "I: the working directory is now a symbolic link" "working directory" "$BAD"

# ---- root restoring images ----
if [ "$(id -u)" -ne 0 ]; then
	ok "R: root restoring another uid's image # SKIP not root (checked in the root pass)"
elif ! command -v setpriv >/dev/null 2>&1; then
	ok "R: root restoring another uid's image # SKIP no setpriv"
else
	ouid=$(id -u ckpt-test 2>/dev/null) || ouid=64321
	U=$(mktemp -d /tmp/crafted_files_uid.XXXXXX) && chmod 755 "$U" &&
	cp "$LIB" "$U/libckpt.so" && world "$U" && chown -R "$ouid:$ouid" "$U" ||
		{ not_ok "R: setting up a directory for uid $ouid"; exit 1; }
	if ! make_image "$U" "$U/img" setpriv --reuid="$ouid" --regid="$ouid" --clear-groups; then
		not_ok "R: image made by uid $ouid"
	else
		ok "R: image made by uid $ouid ($(stat -c '%U %a' "$U/img"))"
		refused "R1: root restores uid $ouid's image: refused" "uid $ouid" "$U/img"
		restore "$U/img" --as-owner
		last=$(tail -n 1 "$W/r.out")
		if [ "$rc" -eq 0 ] && [ "$last" = "tick 40 uid $ouid" ]; then
			ok "R2: --as-owner: restored, runs as uid $ouid ($last)"
		else
			not_ok "R2: --as-owner: status $rc, last line '$last', $(oneline "$W/r.err")"
		fi
		rm -f "$U/data"
		printf 'root secret\n' >"$U/data"
		chmod 600 "$U/data"
		refused "R3: --as-owner, its data file now root's 0600 file: refused" "errno 13" "$U/img" --as-owner
	fi
	cp "$W/good.img" "$BAD"
	world "$W"
	chmod 620 "$BAD"
	refused "R4: root's own image, group-writable: refused" "writable" "$BAD"
fi

finish
