#!/bin/sh
# make-image.sh -- what `make image` runs once everything is built.
#
# Starts ./demo under libckpt.so with CKPT_FILE=$PWD/myckpt, lets it print a few
# numbers on the terminal, sends it SIGUSR2, waits until a new complete image
# is at ./myckpt (one that was not there before: another inode, mtime or size),
# stops the demo and says how to restore.  The image only appears at its path
# once it is complete (written beside it, fsync'd, renamed over), so "a new file
# at the path" means "a complete image"; the header's file_size is checked too.
# Exit 0 with the image in place, 1 with one line on stderr otherwise.
#
# Environment: WAIT (seconds to wait for the image, default 10).

set -u
PROG=make-image
IMG="$PWD/myckpt"
LIB="$PWD/libckpt.so"
WAIT=${WAIT:-10}
pid=

fail() {
	echo "$PROG: $*" >&2
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	exit 1
}

# identity of the file at $IMG: inode, mtime with nanoseconds, size; empty if none
ident() {
	stat -c '%i %y %s' "$IMG" 2>/dev/null
}

for f in ./demo "$LIB"; do
	[ -e "$f" ] || fail "$f is missing: run make first"
done

before=$(ident)

LD_PRELOAD="$LIB" CKPT_FILE="$IMG" ./demo &
pid=$!

sleep 1					# "count 1" .. "count 4"
kill -0 "$pid" 2>/dev/null || fail "the demo exited before the checkpoint (see its output above)"
kill -USR2 "$pid" || fail "cannot send SIGUSR2 to the demo (pid $pid)"

# wait for a new image, in steps of 0.1 s
ticks=0
while :; do
	now=$(ident)
	if [ -n "$now" ] && [ "$now" != "$before" ]; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		rc=$?
		pid=
		if [ "$rc" -gt 128 ]; then
			fail "the demo was killed by signal $((rc - 128)) before writing $IMG (is libckpt.so catching SIGUSR2? CKPT_SIGNAL=${CKPT_SIGNAL:-unset})"
		fi
		fail "the demo exited (status $rc) before writing $IMG"
	fi
	ticks=$((ticks + 1))
	[ "$ticks" -le $((WAIT * 10)) ] ||
		fail "no new image at $IMG ${WAIT} s after SIGUSR2 (libckpt's messages, if any, are above)"
	sleep 0.1
done

# the header's file_size (offset 16, u64 little-endian) must match the file
size=${now##* }
want=$(od -An -tu8 -j16 -N8 "$IMG" 2>/dev/null | tr -d ' ')
[ "$want" = "$size" ] || fail "$IMG is $size bytes but its header says ${want:-nothing}"

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=

echo
echo "$PROG: checkpoint written to ./myckpt ($size bytes); the demo was stopped."
echo "$PROG: now run: ./restorer myckpt"
exit 0
