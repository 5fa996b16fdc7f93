#!/bin/sh
# job_pipeline.sh -- a job: a bash script running a three-stage pipeline,
# checkpointed whole mid-way, killed, and restored, eager and --lazy.
# timeout: 180
#
# Simulates a user's batch script, `seq | awk | sed` over 20 million lines
# into a file, run under libckpt.so (the script and every stage carry it):
#   1  `ckpt dump PID` of the script: exit 0, the image is a job table of 4
#      processes (bash, seq, awk, sed) with 2 pipes, bytes in them
#      (readckpt; ckpt info --json agrees), each process's image beside it.
#      sed is stopped (SIGSTOP) before the dump until awk blocks on its full
#      pipe: which pipes hold bytes when the job stops would otherwise be the
#      scheduler's choice (under load each reader emptied its pipe while the
#      stages upstream of it were already stopped)
#   2  the whole job is killed mid-way (its output cut short); `restorer
#      IMG` brings back the four with their pids, the pipes with their bytes,
#      sed stopped as it was; once it is continued the output file is exactly
#      what an uninterrupted run writes, the script's own last line is
#      printed, and the restorer exits 0
#   3  the same with --lazy, from the same image and the same cut output
#   4  CKPT_INTERVAL at the script: the whole job is checkpointed each time,
#      a new table each time, the last table's images removed
#   5  a job with a process that does not carry libckpt (a child started
#      with LD_PRELOAD removed): dump refuses, naming its pid, and the
#      previous image stays as it was
# Root (pids in the system's PID namespace, or a new one where taken) and
# the ordinary user (new user and PID namespaces).  CKPT_TEST_BREAK=1: the
# reference output is computed over one line more.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
command -v bash >/dev/null || skip "no bash"
command -v setsid >/dev/null || skip "no setsid"
workdir jobpipe

N=20000000
cat >"$W/job.sh" <<EOF
#!/bin/bash
echo started
seq 1 $N | awk '{ print \$1 * 3 }' | sed -e 's/7/seven/' >"$W/out"
echo "finished: \$?"
EOF
extra=0
[ "$BRK" -eq 1 ] && extra=1
seq 1 $((N + extra)) | awk '{ print $1 * 3 }' | sed -e 's/7/seven/' | md5sum | cut -d' ' -f1 >"$W/want.md5"

# start SCRIPT: a session of its own under libckpt.so; its pid in pgid
start() {
	rm -f "$W/out" "$W/prog.out"
	(cd "$W" && CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" exec setsid bash "$1" \
		>"$W/prog.out" 2>"$W/prog.err" </dev/null) &
	pgid=$!			# setsid execs bash in place: the script's pid, its session's and group's
	wait_for 10 grep -q started "$W/prog.out"
}

stop_job() {
	kill -9 "-$pgid" 2>/dev/null
	wait_for 10 sh -c "! pgrep -s $pgid >/dev/null"
	pgid=
}

start "$W/job.sh" || { not_ok "the job did not start: $(oneline "$W/prog.err")"; finish; }
wait_for 20 sh -c "[ \$(stat -c %s '$W/out' 2>/dev/null || echo 0) -gt 2000000 ]"
sed_pid=$(pgrep -s "$pgid" -x sed)
awk_pid=$(pgrep -s "$pgid" -x awk)
kill -STOP "$sed_pid"
wait_for 10 grep -qx anon_pipe_write "/proc/$awk_pid/wchan" || note "awk ($awk_pid) not seen blocked on its pipe: $(cat "/proc/$awk_pid/wchan")"
t0=$(now_ms)
"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
note "ckpt dump of the job took $(( $(now_ms) - t0 )) ms; $(stat -c %s "$W/out") bytes of output then"
kill -STOP "-$pgid"		# the cut comes before the job can finish
"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
"$ROOT/ckpt" info --json "$W/img" >"$W/info.json" 2>&1
members=$(ls -A "$W" | grep -c '^\.img\.')
if [ $rc -eq 0 ] && grep -q "^processes 4" "$W/read.out" &&
   [ "$(grep -c ' pipe, [0-9]* bytes in it' "$W/read.out")" -eq 2 ] &&
   grep -q ' pipe, [1-9][0-9]* bytes in it' "$W/read.out" &&
   [ "$(grep -c '"kind": "pipe"' "$W/info.json")" -eq 2 ] && [ "$members" -eq 4 ] &&
   grep -q " seq " "$W/read.out" && grep -q " awk " "$W/read.out" && grep -q " sed " "$W/read.out"; then
	ok "dump of the script: a job of 4 processes, 2 pipes with bytes in them, 4 images beside the table"
else
	not_ok "dump: rc $rc, $members images: $(oneline "$W/dump.err"); readckpt: $(sed -n '5,20p' "$W/read.out" | tr '\n' '|')"
fi
stop_job
cp "$W/out" "$W/cut"
full=$(seq 1 $N | awk '{ print $1 * 3 }' | sed -e 's/7/seven/' | wc -c)
[ "$(stat -c %s "$W/cut")" -lt "$full" ] || note "the job had finished before it was killed ($(stat -c %s "$W/cut") of $full bytes): the check is weaker"

# restore [--lazy]: the job from the cut output; check 2 or 3
restore() {
	cp "$W/cut" "$W/out"
	(cd "$W" && exec timeout 60 "$ROOT/restorer" $1 "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null) &
	rpid=$!
	# the restored sed, stopped as it was at the dump: continued
	if wait_for 20 sh -c "pgrep -x sed | xargs -r ps -o stat= -p | grep -q '^T'"; then
		pkill -CONT -x sed
	else
		note "no stopped sed after the restore: $(pgrep -a -x sed | tr '\n' ' ')"
	fi
	wait $rpid
	rc=$?
	got=$(md5sum <"$W/out" | cut -d' ' -f1)
	if [ $rc -eq 0 ] && [ "$got" = "$(cat "$W/want.md5")" ] && grep -qx "finished: 0" "$W/rst.out"; then
		ok "restored ${1:-eagerly}: the pipeline's output is exactly an uninterrupted run's, the script ends"
	else
		not_ok "restored ${1:-eagerly}: rc $rc, output $(wc -l <"$W/out") lines (md5 $got), stdout $(oneline "$W/rst.out"); stderr $(oneline "$W/rst.err")"
	fi
}
restore ""
restore --lazy

# 4: periodic: CKPT_INTERVAL at the script checkpoints the whole job each
# time; each new table's images replace the last one's
rm -f "$W/img" "$W/.img."*
(cd "$W" && CKPT_INTERVAL=0.4 CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" exec setsid bash "$W/job.sh" \
	>"$W/prog.out" 2>"$W/prog.err" </dev/null) &
pgid=$!
sleep 2
"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
ids=$(sed -n 's/^  id  *//p' "$W/read.out" | head -n 1)
sleep 0.5
"$ROOT/readckpt" "$W/img" >"$W/read2.out" 2>&1
ids2=$(sed -n 's/^  id  *//p' "$W/read2.out" | head -n 1)
images=$(ls -A "$W" | grep -Ec '^\.img\.[0-9a-f]{16}\.[0-9]+$')	# not a temp file being written
stop_job
if grep -q "^processes 4" "$W/read.out" && grep -q "^processes 4" "$W/read2.out" && [ -n "$ids" ] &&
   [ "$ids" != "$ids2" ] && [ "$images" -le 8 ]; then
	ok "CKPT_INTERVAL: the whole job checkpointed again and again (tables $ids, $ids2), $images images beside"
else
	not_ok "CKPT_INTERVAL: tables '$ids' '$ids2', $images images; $(head -n 6 "$W/read2.out" | tr '\n' '|'); libckpt: $(oneline "$W/prog.err")"
fi

# 5: a process of the job without libckpt
cat >"$W/mixed.sh" <<'EOF'
#!/bin/bash
echo started
env -u LD_PRELOAD sleep 60 &
wait
EOF
cp "$W/img" "$W/img.before"
start "$W/mixed.sh" || { not_ok "the mixed job did not start: $(oneline "$W/prog.err")"; finish; }
sleep 0.3
spid=$(pgrep -P "$pgid" sleep | head -n 1)
"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
if [ $rc -ne 0 ] && [ -n "$spid" ] && grep -q "pid $spid (sleep).*does not carry libckpt" "$W/prog.err" &&
   cmp -s "$W/img" "$W/img.before"; then
	ok "a process without libckpt: no checkpoint, pid $spid named, the previous image kept"
else
	not_ok "a process without libckpt: dump rc $rc; libckpt said: $(oneline "$W/prog.err"); dump: $(oneline "$W/dump.err")"
fi
stop_job
finish
