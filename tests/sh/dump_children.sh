#!/bin/sh
# dump_children.sh -- a process checkpointed alone (CKPT_JOB=0) while it
# has children: `ckpt dump` does not take them for a previous checkpoint's
# writer, and the children, which its image does not hold, are named at
# checkpoint time, by dump and at restore.  (Without CKPT_JOB=0 the process
# and its children are a job, checkpointed whole: tests/sh/job_*.sh.)
#
# Simulates a user dumping a job script: bash running `seq | awk` pipelines in
# a loop, under libckpt.so.  Checks:
#   1  `ckpt dump PID` of the script returns at once (under 5 s: before, it
#      waited up to 10 s for the script's children to end, took the finished
#      script for a failure, and said `kill SIGUSR2: No such process`), exit 0,
#      and says in one line that child processes are not restored
#   2  libckpt's line on the script's stderr names the children by pid and
#      name (seq, awk)
#   3  the restorer says so too: `notice: not restored: child processes`
#      (with --close-unsupported: the pipe to the children is theirs)
#   4  a process with no children gets no such line, at dump or at restore
# Root and the ordinary user alike.  CKPT_TEST_BREAK=1: check 4 wants the
# line from the childless process too.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer"
command -v bash >/dev/null || skip "no bash"
workdir dumpkids

cat >"$W/job.sh" <<'EOF'
#!/bin/bash
echo ready
for i in $(seq 1 400); do seq 1 2000000 | awk '{s+=$1} END {print "sum", s}'; done
EOF
mkfifo "$W/quiet"
cat >"$W/alone.sh" <<EOF
#!/bin/bash
exec 3<>"$W/quiet"	# a FIFO nobody writes: read waits, no child, no CPU
echo ready
while :; do read -t 1 x <&3; done
EOF

# start SCRIPT -- under libckpt.so in $W, pid in $pid, once it said ready
start() {
	rm -f "$W/img" "$W/prog.err"
	: >"$W/prog.out"
	(cd "$W" && CKPT_JOB=0 CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" exec bash "$1" >"$W/prog.out" 2>"$W/prog.err") &
	pid=$!
	wait_for 10 grep -q ready "$W/prog.out" || { not_ok "$1 did not start: $(oneline "$W/prog.err")"; finish; }
	sleep 0.3
}

start "$W/job.sh"
t0=$(now_ms)
"$ROOT/ckpt" dump "$pid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
t=$(( $(now_ms) - t0 ))
note "dump of the script with children took $t ms"
if [ "$rc" -eq 0 ] && [ "$t" -lt 5000 ] && [ -s "$W/img" ] &&
	grep -q "notice: .*img: not restored: child processes" "$W/dump.err"; then
	ok "dump of a script with children: at once, exit 0, names the children as not restored"
else
	not_ok "dump of a script with children: rc $rc, $t ms: $(oneline "$W/dump.err")"
fi
if wait_for 5 grep -Eq "not restored: [0-9]+ child process(es)?: [0-9]+ \((seq|awk)\)" "$W/prog.err"; then
	ok "libckpt names the children by pid and name at checkpoint time"
else
	not_ok "libckpt's line naming the children: $(oneline "$W/prog.err")"
fi
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
# the restored script is this pid (exec): killed below, loop and all (under
# a timeout it was the timeout's child, and ran on after the kill)
(cd "$W" && exec "$ROOT/restorer" --close-unsupported "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null) &
rpid=$!
wait_for 10 grep -q "not restored: child processes" "$W/rst.err"
kill -KILL "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
if grep -q "restorer: notice: not restored: child processes" "$W/rst.err"; then
	ok "the restorer says the children are not restored"
else
	not_ok "the restorer's notice: $(oneline "$W/rst.err")"
fi

start "$W/alone.sh"
"$ROOT/ckpt" dump "$pid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
(cd "$W" && timeout 2 "$ROOT/restorer" "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
want=0
[ "$BRK" -eq 1 ] && want=1
lines=$(cat "$W/dump.err" "$W/prog.err" "$W/rst.err" | grep -c "child process")
got=0
[ "$lines" -gt 0 ] && got=1
if [ "$rc" -eq 0 ] && [ "$got" -eq "$want" ]; then
	ok "a process without children: no line about children (dump, libckpt, restorer)"
else
	not_ok "a process without children: dump rc $rc, $lines lines about children: $(cat "$W/dump.err" "$W/prog.err" "$W/rst.err" | grep "child process" | head -n 2 | tr '\n' '|')"
fi
finish
