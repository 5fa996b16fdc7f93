#!/bin/sh
# slurm_ckpt.sh -- `ckpt run --slurm` in a real (private) Slurm: a job warned
# of its end checkpoints, is requeued, and resumes from its image.
# timeout: 400
#
# Simulates an ordinary user (ckpt-test) whose sbatch script is
#   exec ckpt run --slurm count LAST MS MIB
# (tests/sh/slurm/count.c: "count 1".."count LAST" on stdout, then "memory ok"
# when its MIB MiB kept their pattern).  Slurm's warning (--signal=B:USR1) is
# delivered with scancel --signal=USR1 --batch, as Slurm checks --signal
# times only every 30 s.
#   A  signalled mid-way: checkpointed, requeued, resumed from its image:
#      1 stdout equals an uninterrupted run's, 2 Restarts=1 and the job
#      COMPLETED with exit 0, 3 the job's stderr says checkpoint complete
#      and resuming from the image
#   B  the newest image corrupted while the job waits to run again: 4 it
#      resumes from the previous one (CKPT_INTERVAL's) and says so, and 5
#      finishes with every line of an uninterrupted run, in order
#   C  preempted by a job in partition high (GraceTime 10 s): 6 checkpointed
#      within the grace time, resumed after the high job ended, output right
#   D  scancel: 7 no checkpoint, no requeue, the job ends CANCELLED
#   F  the whole batch script as the job (`ckpt run --slurm bash pipe.sh`, a
#      loop piped into awk): 9 checkpointed whole (a job table of 4 or more
#      processes), requeued, resumed: stdout equals an uninterrupted run's
#   E  1 GiB (CKPT_SLURM_MIB, default 1024; 0 leaves it out): 8 resumes with
#      its memory intact; notes the time from the signal to the image being
#      complete and from the requeued job's start to the program running
# Skipped (exit 4) where the daemons cannot start or there is no cc.
# CKPT_TEST_BREAK=1: check 1 compares with a run that counts one further.

set -u
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/sh/slurm_lib.sh"
MIB=${CKPT_SLURM_MIB:-1024}

need_cc
slurm_start
cc -O2 -o "$BIN/count" "$ROOT/tests/sh/slurm/count.c" || skip "cc cannot build tests/sh/slurm/count.c"
chmod 755 "$BIN/count"

cat >"$JOB_DIR/job.sh" <<EOF
#!/bin/sh
echo "start restart=\${SLURM_RESTART_COUNT:-0} \$(date +%s%3N)" >&2
exec "$BIN/ckpt" run --slurm "$BIN/count" "\$@"
EOF
chmod 755 "$JOB_DIR/job.sh"
chown "$JOB_USER:" "$JOB_DIR/job.sh"

# submit NAME EXTRA_SBATCH_ARGS... -- COUNT_ARGS...; prints the job id
submit() {
	name=$1
	shift
	args=
	while [ "$1" != -- ]; do args="$args $1"; shift; done
	shift
	# shellcheck disable=SC2086
	sbatch_user --requeue --open-mode=append --signal=B:USR1@60 -J "$name" \
		-o "$JOB_DIR/$name.out" -e "$JOB_DIR/$name.err" $args "$JOB_DIR/job.sh" "$@"
}

# wait_line FILE PATTERN SECONDS -- until a line of FILE matches
wait_line() {
	end=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -le "$end" ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# show NAME -- the job's stdout and stderr as # lines
show() {
	sed 's/^/# out: /' "$JOB_DIR/$1.out" 2>/dev/null | tail -n 8
	grep -v '^tick' "$JOB_DIR/$1.err" 2>/dev/null | sed 's/^/# err: /'
}

# the uninterrupted run
"$BIN/count" 30 100 16 >"$S/ref.out" 2>/dev/null
want=$S/ref.out
if [ $BRK = 1 ]; then
	"$BIN/count" 31 100 16 >"$S/ref31.out" 2>/dev/null
	want=$S/ref31.out
fi

# ---- A: signalled mid-way
id=$(submit a -- 30 100 16)
if ! wait_line "$JOB_DIR/a.out" '^count 8$' 30; then
	not_ok "A: job $id did not reach count 8 ($(job_field "$id" JobState))"
	show a
	slurm_log
	exit 1
fi
scancel --signal=USR1 --batch "$id"
wait_job_state "$id" 90 COMPLETED FAILED CANCELLED TIMEOUT
show a
if cmp -s "$want" "$JOB_DIR/a.out"; then
	ok "A: stdout equals the uninterrupted run's ($(wc -l <"$want") lines)"
else
	not_ok "A: stdout differs from the uninterrupted run's: $(diff "$want" "$JOB_DIR/a.out" | head -n 4 | tr '\n' '|')"
fi
st=$(job_field "$id" JobState) rs=$(job_field "$id" Restarts) ec=$(job_field "$id" ExitCode)
if [ "$st" = COMPLETED ] && [ "$rs" = 1 ] && [ "$ec" = 0:0 ]; then
	ok "A: scontrol show job $id: JobState=$st Restarts=$rs ExitCode=$ec"
else
	not_ok "A: scontrol show job $id: JobState=$st Restarts=$rs ExitCode=$ec (want COMPLETED 1 0:0)"
fi
if grep -q "checkpoint complete: .*/ckpt-images/$id/img" "$JOB_DIR/a.err" &&
   grep -q "requeued" "$JOB_DIR/a.err" && grep -q "resuming from .*/$id/img " "$JOB_DIR/a.err"; then
	ok "A: the job's stderr says: checkpoint complete, requeued, resuming from the image"
else
	not_ok "A: the job's stderr lacks checkpoint complete / requeued / resuming lines"
fi

# ---- B: the newest image corrupted; the previous one (a periodic image) is used
id=$(submit b --export=ALL,CKPT_INTERVAL=0.5 -- 30 100 16)
wait_line "$JOB_DIR/b.out" '^count 10$' 30 || { not_ok "B: job $id did not reach count 10"; show b; exit 1; }
scancel --signal=USR1 --batch "$id"
img=$JOB_DIR/ckpt-images/$id/img
wait_line "$JOB_DIR/b.err" 'requeued' 30
# the image is there before the requeue; the job waits ~7 s to run again
if [ -f "$img" ] && [ -f "$img.1" ]; then
	data_off=$(od -An -t u8 -j 56 -N 8 "$img" | tr -d ' ')	# hdr.data_off: the first page's data
	printf '\377\377\377\377' | dd of="$img" bs=1 seek="$data_off" conv=notrunc 2>/dev/null
fi
wait_job_state "$id" 90 COMPLETED FAILED CANCELLED TIMEOUT
show b
if grep -q "$img: page data checksum mismatch.*skipped" "$JOB_DIR/b.err" &&
   grep -q "resuming from the previous image $img.1" "$JOB_DIR/b.err"; then
	ok "B: newest image refused (checksum), resumed from $img.1 and said so"
else
	not_ok "B: no 'skipped' + 'resuming from the previous image' lines in the job's stderr"
fi
if [ "$(job_field "$id" JobState)" = COMPLETED ] && awk '!seen[$0]++' "$JOB_DIR/b.out" | cmp -s - "$S/ref.out"; then
	ok "B: COMPLETED; stdout is the uninterrupted run's with the lines after $img.1 repeated"
else
	not_ok "B: $(job_field "$id" JobState); stdout without repeats differs from the uninterrupted run's"
fi

# ---- C: preemption by a job in partition high
id=$(submit c -c "$(nproc)" -- 60 100 16)
wait_line "$JOB_DIR/c.out" '^count 5$' 30 || { not_ok "C: job $id did not reach count 5"; show c; exit 1; }
t_pre=$(now_ms)
hi=$(sbatch_user -p high -c 1 -J high -o "$JOB_DIR/high.out" --wrap "echo high ran; sleep 3")
wait_line "$JOB_DIR/c.err" 'checkpoint complete' 30
t_img=$(now_ms)
wait_job_state "$id" 120 COMPLETED FAILED CANCELLED TIMEOUT
show c
"$BIN/count" 60 100 16 >"$S/ref60.out" 2>/dev/null
hs=$(job_field "$hi" JobState)
if grep -q 'checkpoint complete' "$JOB_DIR/c.err" && [ $((t_img - t_pre)) -le $((SLURM_GRACE * 1000)) ] &&
   cmp -s "$S/ref60.out" "$JOB_DIR/c.out" && [ "$(job_field "$id" JobState)" = COMPLETED ] && [ "$hs" = COMPLETED ]; then
	ok "C: preempted by job $hi: image $((t_img - t_pre)) ms after the high job's submission (GraceTime ${SLURM_GRACE} s), resumed after it, stdout right"
else
	not_ok "C: preemption: state $(job_field "$id" JobState), high $hs, image after $((t_img - t_pre)) ms, stdout $(cmp -s "$S/ref60.out" "$JOB_DIR/c.out" && echo right || echo wrong)"
fi

# ---- D: scancel: no checkpoint, no requeue
id=$(submit d -- 60 100 16)
wait_line "$JOB_DIR/d.out" '^count 3$' 30 || { not_ok "D: job $id did not reach count 3"; show d; exit 1; }
scancel "$id"
wait_job_state "$id" 60 CANCELLED COMPLETED FAILED
sleep 1
show d
if [ "$(job_field "$id" JobState)" = CANCELLED ] && [ "$(job_field "$id" Restarts)" = 0 ] &&
   [ ! -e "$JOB_DIR/ckpt-images/$id/img" ] && ! grep -q 'checkpoint complete' "$JOB_DIR/d.err"; then
	ok "D: scancel: CANCELLED, Restarts=0, no image"
else
	not_ok "D: scancel: $(job_field "$id" JobState) Restarts=$(job_field "$id" Restarts), image $(ls "$JOB_DIR/ckpt-images/$id" 2>/dev/null | tr '\n' ' ')"
fi

# ---- F: the whole batch script as the job: a pipeline of bash and awk
cat >"$JOB_DIR/pipe.sh" <<'EOF2'
#!/bin/bash
for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done | awk '{ print "got", $0 }'
echo "script done"
EOF2
cat >"$JOB_DIR/jobf.sh" <<EOF2
#!/bin/sh
exec "$BIN/ckpt" run --slurm bash "$JOB_DIR/pipe.sh"
EOF2
chmod 755 "$JOB_DIR/pipe.sh" "$JOB_DIR/jobf.sh"
chown "$JOB_USER:" "$JOB_DIR/pipe.sh" "$JOB_DIR/jobf.sh"
# the job: the script's bash, the loop's subshell and awk, and the loop's
# sleep when the checkpoint does not fall between two (3 or 4 processes)
bash "$JOB_DIR/pipe.sh" >"$S/reff.out"
[ $BRK = 1 ] && echo "got line 41" >>"$S/reff.out"
id=$(sbatch_user --requeue --open-mode=append --signal=B:USR1@60 -J f -o "$JOB_DIR/f.out" -e "$JOB_DIR/f.err" \
	"$JOB_DIR/jobf.sh")
wait_job_state "$id" 30 RUNNING COMPLETED FAILED
sleep 1.5				# about line 12 (awk's output waits in its buffer)
scancel --signal=USR1 --batch "$id"
wait_job_state "$id" 90 COMPLETED FAILED CANCELLED TIMEOUT
show f
if [ "$(job_field "$id" JobState)" = COMPLETED ] && [ "$(job_field "$id" Restarts)" = 1 ] &&
   cmp -s "$S/reff.out" "$JOB_DIR/f.out" && grep -q "checkpoint complete" "$JOB_DIR/f.err" &&
   "$BIN/readckpt" "$JOB_DIR/ckpt-images/$id/img" 2>/dev/null | grep -q "^processes [3-9]"; then
	ok "F: a bash pipeline as the job: checkpointed whole ($("$BIN/readckpt" "$JOB_DIR/ckpt-images/$id/img" | sed -n 's/^processes //p') processes), requeued, resumed; stdout equals an uninterrupted run's"
else
	not_ok "F: pipeline job: $(job_field "$id" JobState) Restarts=$(job_field "$id" Restarts); stdout $(diff "$S/reff.out" "$JOB_DIR/f.out" | head -n 4 | tr '\n' '|'); image: $("$BIN/readckpt" "$JOB_DIR/ckpt-images/$id/img" 2>&1 | grep -m 3 -e '^processes' -e '^readckpt' | tr '\n' '|')"
fi

# ---- E: 1 GiB
if [ "$MIB" -gt 0 ]; then
	id=$(submit e --mem=$((MIB * 3)) -- 12 100 "$MIB")
	if wait_line "$JOB_DIR/e.out" '^count 3$' 120; then
		t_sig=$(now_ms)
		scancel --signal=USR1 --batch "$id"
		wait_job_state "$id" 180 COMPLETED FAILED CANCELLED TIMEOUT
	fi
	show e
	"$BIN/count" 12 100 1 >"$S/ref12.out" 2>/dev/null
	if [ "$(job_field "$id" JobState)" = COMPLETED ] && cmp -s "$S/ref12.out" "$JOB_DIR/e.out"; then
		ok "E: $MIB MiB job checkpointed, requeued, resumed with its memory intact"
	else
		not_ok "E: $MIB MiB job: $(job_field "$id" JobState), stdout $(tail -n 1 "$JOB_DIR/e.out" 2>/dev/null)"
	fi
	ck=$(sed -n 's/.*checkpoint complete: .* \([0-9.]*\) s after .*/\1/p' "$JOB_DIR/e.err")
	vf=$(sed -n 's/.*resuming from .*(checked in \([0-9.]*\) s).*/\1/p' "$JOB_DIR/e.err")
	t_start=$(sed -n 's/^start restart=1 //p' "$JOB_DIR/e.err")
	last=$(sed -n 's/^tick \([0-9]*\) .*/\1/p' "$JOB_DIR/e.err" | sed -n '$p')
	# the first tick of the resumed run: the first tick line after the restart line
	t_tick=$(awk '/^start restart=1 / { r = 1; next } r && /^tick / { print $3; exit }' "$JOB_DIR/e.err")
	echo "# E: $MIB MiB: signal to image complete ${ck:-?} s (ckpt's own clock);" \
		"signal to requeued job start $(( ${t_start:-0} - ${t_sig:-0} )) ms;" \
		"requeued job start to the program's first line $(( ${t_tick:-0} - ${t_start:-0} )) ms" \
		"(image checked in ${vf:-?} s; lines are 100 ms apart); image $(stat -c %s "$JOB_DIR/ckpt-images/$id/img" 2>/dev/null) bytes; last tick $last"
fi
[ $failed -eq 0 ] || slurm_log
finish
