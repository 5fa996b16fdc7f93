# slurm_lib.sh -- a private single-node Slurm cluster for one test (sourced,
# after lib.sh: it uses skip and at_exit).
#
# Debian 12's slurmctld/slurmd 22.05 and munged, started by the test without
# systemd, everything under one mktemp -d dir (S) that the EXIT trap removes:
#   S/munge/      munged: a key of its own (mungekey or dd), its socket, log, pid
#   S/slurm.conf  ClusterName ckpttest, this host (hostname -s) as controller
#                 and the one node, on ports that are free now; no accounting,
#                 proctrack/linuxproc, task/none; partitions `low` (default,
#                 PriorityTier=1, GraceTime=SLURM_GRACE) and `high`
#                 (PriorityTier=10) with preempt/partition_prio and REQUEUE
#   S/state S/spool S/log  slurmctld's state, slurmd's spool, both logs
#   S/job/        owned by JOB_USER (ckpt-test): where jobs run and write
#   S/bin/        ckpt, libckpt.so, restorer, readckpt, demo copied from ROOT,
#                 so the job's user can read them wherever the checkout is
# The daemons run in the foreground (-D) as background jobs of the test with
# SLURM_CONF exported; slurm_start returns when sinfo shows the node idle.
#
# Anything that cannot be set up (not root, a binary missing, a daemon that
# does not come up) is a skip (lib.sh's): `# SKIP reason` and exit 4, never a
# pass.
# In tests/run.sh's ordinary-user pass the test skips at once: slurmd needs
# root; the root pass already submits every job as the ordinary user.
#
# Slurm's knobs that make a test take seconds instead of minutes:
#   AuthInfo=cred_expire=N   a requeued job may not start again for N+1 s
#                            (default 120; 22.05 refuses N < 5): with 5 a
#                            requeued job runs again ~7 s after the requeue
#   SchedulerParameters=sched_interval, sched_min_interval  the main loop
#   SlurmctldParameters=preempt_send_user_signal  a job preempted within
#                            GraceTime gets its --signal (B:USR1 to ckpt),
#                            not only the SIGTERM every task gets
#   KillWait                 SIGTERM to SIGKILL at the end of a job
#   MinJobAge                how long a finished job stays in scontrol show job
# Slurm checks time limits and --signal times only every 30 s or so, so tests
# send the warning signal themselves: scancel --signal=USR1 --batch JOBID.
#
# Provides: slurm_start, as_user CMD..., sbatch_user ARGS..., job_field ID FIELD,
# wait_job_state ID STATE... SECONDS, slurm_log.  Sets S, JOB_DIR, BIN, SLURM_CONF.

JOB_USER=${JOB_USER:-ckpt-test}
SLURM_GRACE=${SLURM_GRACE:-10}
S=
JOB_DIR=
BIN=
slurm_pids=

slurm_cleanup() {
	set +e
	if [ -n "$S" ] && [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
		scancel --quiet --full --signal=KILL --user="$JOB_USER" >/dev/null 2>&1
	fi
	for p in $slurm_pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $slurm_pids; do
		t=0
		while kill -0 "$p" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# processes of jobs that outlived slurmd (linuxproc tracks, it does not contain)
	if [ -n "$S" ] && id -u "$JOB_USER" >/dev/null 2>&1; then
		for p in $(pgrep -u "$JOB_USER" 2>/dev/null); do
			case $(readlink "/proc/$p/cwd" 2>/dev/null) in "$S"/*) kill -KILL "$p" 2>/dev/null ;; esac
		done
	fi
	if [ -n "$S" ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$S"
	elif [ -n "$S" ]; then
		echo "# kept $S"
	fi
	S=
}

# free_port -- a TCP port nothing listens on now (from /proc/net/tcp{,6})
free_port() {
	while :; do
		port=$(( ($(od -An -N2 -tu2 /dev/urandom) % 20000) + 30000 ))
		hex=$(printf '%04X' "$port")
		if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h=":$hex" '$2 ~ h"$" { f = 1 } END { exit !f }'; then
			echo "$port"
			return
		fi
	done
}

# as_user CMD... -- run CMD as JOB_USER with SLURM_CONF and PATH
as_user() {
	setpriv --reuid="$JOB_USER" --regid="$JOB_USER" --init-groups --reset-env \
		env PATH="$BIN:/usr/bin:/bin:/usr/sbin:/sbin" SLURM_CONF="$SLURM_CONF" HOME="$JOB_DIR" "$@"
}

# sbatch_user ARGS... -- submit as JOB_USER from JOB_DIR; prints the job id
sbatch_user() {
	(cd "$JOB_DIR" && as_user sbatch --parsable --chdir="$JOB_DIR" "$@") | cut -d';' -f1
}

# job_field ID FIELD -- FIELD=value of `scontrol show job ID` (JobState, Restarts...)
job_field() {
	scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job_state ID SECONDS STATE... -- until JobState is one of STATE; 0 or 1
wait_job_state() {
	id=$1 limit=$2
	shift 2
	end=$(( $(date +%s) + limit ))
	while [ "$(date +%s)" -le $end ]; do
		st=$(job_field "$id" JobState)
		for slurm_want in "$@"; do
			[ "$st" = "$slurm_want" ] && return 0
		done
		sleep 0.2
	done
	return 1
}

# slurm_log -- the daemons' logs, as # lines (for a failure)
slurm_log() {
	for f in "$S"/log/slurmctld.log "$S"/log/slurmd.log; do
		[ -f "$f" ] || continue
		echo "# --- $f (last 30 lines)"
		tail -n 30 "$f" | sed 's/^/# /'
	done
}

slurm_start() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to start slurmd; the root pass submits as $JOB_USER"
	for c in munged slurmctld slurmd slurmstepd sbatch scontrol sinfo scancel squeue setpriv; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
			skip "$c not installed (apt-get install slurmctld slurmd slurm-client munge)"
	done
	PATH=$PATH:/usr/sbin:/sbin
	if ! id -u "$JOB_USER" >/dev/null 2>&1; then
		useradd -M -d /nonexistent -s /usr/sbin/nologin "$JOB_USER" >/dev/null 2>&1 ||
			skip "cannot create the user $JOB_USER"
	fi
	S=$(mktemp -d /tmp/ckpt-slurm.XXXXXX) || skip "mktemp -d failed"
	at_exit slurm_cleanup
	chmod 755 "$S"
	mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log" "$S/job" "$S/bin"
	chmod 700 "$S/state" "$S/spool" "$S/log"
	chmod 755 "$S/munge"
	JOB_DIR=$S/job
	BIN=$S/bin
	chown "$JOB_USER:" "$JOB_DIR"
	chmod 700 "$JOB_DIR"
	for f in ckpt libckpt.so restorer readckpt demo; do
		[ -e "$ROOT/$f" ] || skip "$ROOT/$f missing: run make first"
		cp -p "$ROOT/$f" "$BIN/"
	done
	chmod -R a+rX "$BIN"

	# ---- munged: a key and a socket of its own
	if command -v mungekey >/dev/null 2>&1 || [ -x /usr/sbin/mungekey ]; then
		mungekey --create --keyfile="$S/munge/munge.key" >/dev/null 2>&1 ||
			dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 2>/dev/null
	else
		dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 2>/dev/null
	fi
	chmod 400 "$S/munge/munge.key"
	MUNGE_SOCKET=$S/munge/munge.socket
	munged --force --socket="$MUNGE_SOCKET" --key-file="$S/munge/munge.key" \
		--log-file="$S/log/munged.log" --pid-file="$S/munge/munged.pid" \
		--seed-file="$S/munge/munged.seed" >"$S/log/munged.out" 2>&1 ||
		skip "munged does not start: $(tr '\n' ' ' <"$S/log/munged.out")"
	# munged forks: its pid comes from the pid file
	t=0
	while [ ! -S "$MUNGE_SOCKET" ] && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
	[ -S "$MUNGE_SOCKET" ] || skip "munged made no socket: $(tail -n 3 "$S/log/munged.log" 2>/dev/null | tr '\n' ' ')"
	slurm_pids="$slurm_pids $(cat "$S/munge/munged.pid")"
	munge --socket="$MUNGE_SOCKET" -n </dev/null | unmunge --socket="$MUNGE_SOCKET" >/dev/null 2>&1 ||
		skip "munge cannot encode and decode a credential with its own key"

	# ---- slurm.conf
	HOST=$(hostname -s)
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
	SLURM_CONF=$S/slurm.conf
	export SLURM_CONF
	cat >"$SLURM_CONF" <<EOF
# written by tests/sh/slurm_lib.sh for one test; removed with $S
ClusterName=ckpttest
SlurmctldHost=$HOST
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=5
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,sched_min_interval=100000,bf_interval=1
SlurmctldParameters=preempt_send_user_signal
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
JobRequeue=1
ReturnToService=2
KillWait=5
MinJobAge=600
MessageTimeout=10
InactiveLimit=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=low Nodes=$HOST Default=YES PriorityTier=1 GraceTime=$SLURM_GRACE PreemptMode=REQUEUE MaxTime=INFINITE State=UP
PartitionName=high Nodes=$HOST PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
EOF
	chmod 644 "$SLURM_CONF"

	# ---- the daemons, in the foreground of background jobs
	slurmctld -D -i -f "$SLURM_CONF" >"$S/log/slurmctld.out" 2>&1 &
	slurm_pids="$slurm_pids $!"
	ctld=$!
	slurmd -D -f "$SLURM_CONF" >"$S/log/slurmd.out" 2>&1 &
	slurm_pids="$slurm_pids $!"
	sd=$!
	end=$(( $(date +%s) + 30 ))
	while :; do
		kill -0 "$ctld" 2>/dev/null ||
			skip "slurmctld exited: $(tail -n 3 "$S/log/slurmctld.log" "$S/log/slurmctld.out" 2>/dev/null | tr '\n' ' ')"
		kill -0 "$sd" 2>/dev/null ||
			skip "slurmd exited: $(tail -n 3 "$S/log/slurmd.log" "$S/log/slurmd.out" 2>/dev/null | tr '\n' ' ')"
		st=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -n 1)
		case $st in idle|idle*) break ;; esac
		[ "$(date +%s)" -le $end ] ||
			skip "node $HOST not idle after 30 s (state '${st:-none}'): $(tail -n 2 "$S/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
		sleep 0.2
	done
	echo "# slurm: $(slurmctld -V) on $HOST, $cpus cpus, dir $S"
}
