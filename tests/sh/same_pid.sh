#!/bin/sh
# same_pid.sh -- `restorer --same-pid` gives the program its old pid back.
#
# Simulates a user who restores a daemon whose pid is written in a pid file:
#   A  with CAP_CHECKPOINT_RESTORE (root here): the restored demo runs as the
#      pid it had at the checkpoint, prints on, and the restorer command ends
#      with the program's exit status
#   B  while that pid is still taken (the original still runs): refused before
#      anything changes, exit 2, one line that says the pid is in use
#   C  without the capability (the ordinary-user pass): the restorer makes new
#      user and PID namespaces; the demo runs there as its old pid, with no
#      capabilities, counts on, and the command ends with its status (skipped,
#      saying so, where this user may not create user namespaces)
# Environment (tests/run.sh sets them): ROOT, TMPDIR.  Output `ok N` / `not ok N`;
# exit 0, 1.  CKPT_TEST_BREAK=1: the pid is compared with a wrong value.

set -u
. "$(dirname "$0")/lib.sh"
workdir same_pid
pid=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null'

# a demo counting to 30, 100 ms apart, checkpointed after a few numbers
LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$W/img "$ROOT/demo" 30 100 >"$W/orig.out" 2>&1 &
pid=$!
sleep 0.4
kill -USR2 "$pid"
wait_for 10 test -s "$W/img"
[ -s "$W/img" ] || { not_ok "no image after SIGUSR2"; exit 1; }
sleep 0.3				# let the writer finish its rename and exit
old=$pid
eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
capable=$(( (0x$eff >> 40) & 1 ))	# CAP_CHECKPOINT_RESTORE is bit 40
want=$old
[ $BRK = 1 ] && want=$((old + 1))

if [ "$capable" -eq 1 ]; then
	# B: the pid is still the original's
	"$ROOT/restorer" --same-pid "$W/img" >"$W/b.out" 2>"$W/b.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$W/b.err")" -eq 1 ] && grep -q "^restorer: .*pid $old" "$W/b.err" &&
	   [ ! -s "$W/b.out" ]; then
		ok "pid $old still taken: refused, exit 2, one line: $(cat "$W/b.err")"
	else
		not_ok "pid still taken: exit $rc, stderr: $(tr '\n' '|' <"$W/b.err")"
	fi
fi
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=

if [ "$capable" -eq 0 ]; then
	# C: no capability (the ordinary-user pass): new user and PID namespaces
	"$ROOT/restorer" --same-pid "$W/img" >"$W/c.out" 2>"$W/c.err" &
	rpid=$!
	# the restorer waits for pid 1 of the new namespace, which waits for the demo
	prog= t=0
	while [ -z "$prog" ] && [ $t -lt 50 ]; do
		read -r init _ 2>/dev/null <"/proc/$rpid/task/$rpid/children"
		[ -n "${init:-}" ] && read -r prog _ 2>/dev/null <"/proc/$init/task/$init/children"
		[ -n "$prog" ] || sleep 0.1
		t=$((t + 1))
	done
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$prog/status" 2>/dev/null)
	capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$prog/status" 2>/dev/null)
	comm=$(cat "/proc/$prog/comm" 2>/dev/null)
	wait "$rpid"
	rc=$?
	last=$(tail -n 1 "$W/c.out")
	if [ $rc -eq 2 ] && grep -q "^restorer: .*--same-pid: .*user namespace" "$W/c.err"; then
		note "SKIP C: no user namespaces for this user here: $(head -n 1 "$W/c.err")"
		exit 0
	fi
	if [ "$comm" = demo ] && [ "$nspid" = "$want" ]; then
		ok "without CAP_CHECKPOINT_RESTORE: the demo runs as pid $want in a PID namespace of its own (pid $prog outside)"
	else
		not_ok "without the capability: process '$comm' with pid '$nspid' in its namespace, want demo $want: $(tr '\n' '|' <"$W/c.err")"
	fi
	if [ "$capeff" = 0000000000000000 ]; then
		ok "the restored program holds no capability, not even in its own user namespace"
	else
		not_ok "the restored program's CapEff is '$capeff'"
	fi
	if [ $rc -eq 0 ] && [ "$last" = "count 30" ]; then
		ok "it counted on to 30 and the restorer command ended with its status 0"
	else
		not_ok "restorer exit $rc, last line '$last': $(tr '\n' '|' <"$W/c.err")"
	fi
	finish
fi

# A: the old pid is free now; the restored program must run as it
"$ROOT/restorer" --same-pid "$W/img" >"$W/a.out" 2>"$W/a.err" &
rpid=$!
wait_for 5 test -r "/proc/$want/comm"
comm=$(cat "/proc/$want/comm" 2>/dev/null)
if [ "$comm" = demo ]; then
	ok "the restored demo runs as pid $want, its pid at the checkpoint"
else
	not_ok "no demo at pid $want (comm '$comm'); restorer stderr: $(tr '\n' '|' <"$W/a.err")"
fi
wait "$rpid"
rc=$?
last=$(tail -n 1 "$W/a.out")
if [ $rc -eq 0 ] && [ "$last" = "count 30" ]; then
	ok "it counted on to 30 and the restorer command ended with its status 0"
else
	not_ok "restorer exit $rc, last line '$last'"
fi
finish
