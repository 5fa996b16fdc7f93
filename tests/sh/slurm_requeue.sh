#!/bin/sh
# slurm_requeue.sh -- the private Slurm of slurm_lib.sh requeues a job that
# asks for it, and starts it again within seconds.
# timeout: 120
#
# Simulates the batch-script half of checkpoint/resume with no ckpt in it:
# an ordinary user's job (--requeue --open-mode=append) prints
# SLURM_RESTART_COUNT and sleeps; the warning signal is delivered as Slurm
# would (scancel --signal=USR1 --batch, since Slurm itself checks --signal
# times only every 30 s); the script's trap calls `scontrol requeue
# $SLURM_JOB_ID`.  Then:
#   1  the first run printed SLURM_RESTART_COUNT=0 and saw the signal
#   2  scontrol show job says Restarts=1
#   3  the second run printed SLURM_RESTART_COUNT=1, and the job completed
#   4  the requeued job ran again within 30 s of the signal (the time is noted:
#      cred_expire in AuthInfo holds a requeued job back, 120 s by default)
# Skipped (exit 4) where the daemons cannot start.  CKPT_TEST_BREAK=1: check 2
# wants Restarts=2.

set -u
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/sh/slurm_lib.sh"

slurm_start

cat >"$JOB_DIR/job.sh" <<'EOF'
#!/bin/sh
on_usr1() {
	echo "signal USR1 at $(date +%s%3N)"
	scontrol requeue "$SLURM_JOB_ID"
	exit 0
}
trap on_usr1 USR1
echo "SLURM_RESTART_COUNT=${SLURM_RESTART_COUNT:-0} start $(date +%s%3N)"
[ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && { echo done; exit 0; }
echo ready >"$SLURM_SUBMIT_DIR/ready"
# sleep in the background: the shell runs the trap as soon as the signal comes
sleep 60 &
wait $!
echo "no signal came"
EOF
chmod 755 "$JOB_DIR/job.sh"
chown "$JOB_USER:" "$JOB_DIR/job.sh"

id=$(sbatch_user --requeue --open-mode=append -o "$JOB_DIR/out" -J requeue "$JOB_DIR/job.sh")
[ -n "$id" ] || { not_ok "sbatch gave no job id"; slurm_log; exit 1; }
wait_for 15 test -e "$JOB_DIR/ready"
[ -e "$JOB_DIR/ready" ] || { not_ok "job $id did not start in 15 s: $(job_field "$id" JobState)"; slurm_log; exit 1; }
t_sig=$(now_ms)
scancel --signal=USR1 --batch "$id" || not_ok "scancel --signal=USR1 --batch $id failed"
wait_job_state "$id" 60 COMPLETED FAILED CANCELLED TIMEOUT
t_end=$(now_ms)
out=$(cat "$JOB_DIR/out" 2>/dev/null)
echo "$out" | sed 's/^/# job: /'

if echo "$out" | grep -q '^SLURM_RESTART_COUNT=0 ' && echo "$out" | grep -q '^signal USR1'; then
	ok "first run: SLURM_RESTART_COUNT=0, got USR1 from scancel --signal --batch"
else
	not_ok "first run: no SLURM_RESTART_COUNT=0 line or no signal line"
fi
want=1
[ $BRK = 1 ] && want=2
restarts=$(job_field "$id" Restarts)
if [ "$restarts" = "$want" ]; then
	ok "scontrol show job $id: Restarts=$restarts"
else
	not_ok "scontrol show job $id: Restarts=${restarts:-none} (want $want)"
fi
state=$(job_field "$id" JobState)
if echo "$out" | grep -q '^SLURM_RESTART_COUNT=1 ' && echo "$out" | grep -q '^done$' && [ "$state" = COMPLETED ]; then
	ok "second run: SLURM_RESTART_COUNT=1, job $state"
else
	not_ok "second run: state ${state:-none}, no SLURM_RESTART_COUNT=1 + done lines"
fi
t_start2=$(echo "$out" | sed -n 's/^SLURM_RESTART_COUNT=1 start //p')
if [ -n "$t_start2" ] && [ $((t_start2 - t_sig)) -le 30000 ]; then
	ok "requeued job started again $((t_start2 - t_sig)) ms after the signal"
else
	not_ok "requeued job: started ${t_start2:+$((t_start2 - t_sig)) ms after the signal}${t_start2:-never} (want <= 30 s)"
fi
echo "# signal to job completed: $((t_end - t_sig)) ms"
[ $failed -eq 0 ] || slurm_log
finish
