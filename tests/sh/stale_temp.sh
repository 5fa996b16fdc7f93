#!/bin/sh
# stale_temp.sh -- a checkpoint removes the temp files that dead writers left
# beside its image, and nothing else.
#
# Simulates a program killed with kill -9 while its image was being written:
# its writer dies with it and leaves ".img.tmp.PID.START.RANDOM" (the name
# tells the writer's pid and start time, field 22 of /proc/PID/stat).  The next
# checkpoint of img (the demo under libckpt.so, SIGUSR2) must remove
#   - one whose writer pid is gone,
#   - one whose pid is alive but started at another time (the pid was reused),
# and keep
#   - one of a live writer (a running process, its real start time),
#   - a symlink with a dead writer's name (and not touch its target),
#   - names not exactly of that form (another image's, an old-style
#     ".img.tmp.HEX", a non-hex tail),
#   - as root: a dead writer's file owned by another user.
# Environment (tests/run.sh sets them): ROOT, TMPDIR.  Output `ok N` / `not ok
# N`; exit 0, 1.  CKPT_TEST_BREAK=1: the dead writer's file is expected to stay.

set -u
. "$(dirname "$0")/lib.sh"
workdir stale_temp
pid=
live=
at_exit 'for p in $pid $live; do kill -9 "$p" 2>/dev/null; done'

# start_of PID -- field 22 of /proc/PID/stat (after "pid (comm) ", field 3 on)
start_of() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $20 }'
}

dead=$(sh -c 'echo $$')			# a pid whose process has exited
sleep 30 &
live=$!
live_start=$(start_of "$live")
echo partial >"$W/.img.tmp.$dead.$live_start.1a2b3c" 	# dead writer
echo partial >"$W/.img.tmp.$live.1.4d5e6f"		# pid reused: another start
echo partial >"$W/.img.tmp.$live.$live_start.778899"	# live writer
echo keep >"$W/target"
ln -s "$W/target" "$W/.img.tmp.$dead.7.abcdef"		# a symlink
echo partial >"$W/.other.tmp.$dead.7.abcdef"		# another image's
echo partial >"$W/.img.tmp.abcdef0123"			# old-style name
echo partial >"$W/.img.tmp.$dead.7.xyz"			# not hex
foreign=
if [ "$(id -u)" -eq 0 ]; then
	foreign=$W/.img.tmp.$dead.8.aaaa
	echo partial >"$foreign"
	chown 12345 "$foreign"
fi

LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/img "$ROOT/demo" 40 100 >"$W/out" 2>&1 &
pid=$!
sleep 0.3
kill -USR2 "$pid"
wait_for 10 test -s "$W/img"
sleep 0.3				# let the writer finish its rename and exit
[ -s "$W/img" ] && ok "the checkpoint wrote img" || not_ok "no image after SIGUSR2: $(cat "$W/out")"

gone() {	# gone FILE WHAT
	if [ ! -e "$1" ] && [ ! -L "$1" ]; then ok "removed: $2"; else not_ok "still there: $2 ($1)"; fi
}
kept() {	# kept FILE WHAT
	if [ -e "$1" ] || [ -L "$1" ]; then ok "kept: $2"; else not_ok "removed: $2 ($1)"; fi
}
if [ $BRK = 1 ]; then
	kept "$W/.img.tmp.$dead.$live_start.1a2b3c" "the dead writer's temp file (BREAK)"
else
	gone "$W/.img.tmp.$dead.$live_start.1a2b3c" "the dead writer's temp file"
fi
gone "$W/.img.tmp.$live.1.4d5e6f" "a temp file whose pid lives on in a process started later"
kept "$W/.img.tmp.$live.$live_start.778899" "the live writer's temp file"
kept "$W/.img.tmp.$dead.7.abcdef" "a symlink with a dead writer's name"
[ "$(cat "$W/target")" = keep ] && ok "its target untouched" || not_ok "its target changed"
kept "$W/.other.tmp.$dead.7.abcdef" "another image's temp file"
kept "$W/.img.tmp.abcdef0123" "an old-style name (no writer pid)"
kept "$W/.img.tmp.$dead.7.xyz" "a name that does not end in hex"
[ -n "$foreign" ] && kept "$foreign" "a dead writer's file owned by another user"
left=$(ls -A "$W" | grep -c '^\.img\.tmp\.[0-9]*\.[0-9]*\.[0-9a-f]*$')
want=2
[ -n "$foreign" ] && want=3
[ "$left" -eq "$want" ] && ok "no temp file of this checkpoint's own left behind ($left of that form)" ||
	not_ok "$left temp files of that form left, want $want: $(ls -A "$W" | tr '\n' ' ')"
finish
