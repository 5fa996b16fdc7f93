#!/bin/sh
# threads.sh -- multi-threaded programs checkpointed and restored.
#
# Simulates a pthread program and a Python program with threads, saved while
# they work:
#   A  a C program with 8 threads (5 spinning, one waiting on a condition
#      variable, one in a 30 s nanosleep, one taking a mutex in a loop), each
#      with its own TLS value, checkpointed and restored three
#      generations deep (each restored process checkpoints again).  After each
#      restore: every thread runs (its counter moves), kept its TLS value, and
#      is reached by pthread_kill (its SIGUSR1 handler sees its own TLS); the
#      waiter wakes; in the end every thread is joined.
#   B  python3 with 4 threading.Thread workers appending to a list, saved with
#      SIGUSR2 mid-work, restored: the workers finish and the total is right.
#   D  Node.js, checkpointed while it writes through libuv's threads, restored
#      and checkpointed again three generations deep (the third with --lazy);
#      the last image runs to the end with the right sum.
#   C  a thread holds a recursive and a robust error-checking mutex (glibc
#      records its owner's tid in both) at the checkpoint; restored with
#      --same-pid (as root: CAP_CHECKPOINT_RESTORE; as an ordinary user: in new
#      user and PID namespaces) every thread has its old tid and unlocks them.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the C program is told to expect a wrong TLS value.

set -u
. "$(dirname "$0")/lib.sh"
workdir threads
need_cc

cat >"$W/mt.c" <<'EOF'
/* 8 threads under libckpt; each run checks the threads, then checkpoints and exits;
 * the run restored from the third image joins them all.  Output: "stage N ok" */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static __thread int me = -1;
static volatile int stop, woke, bad, got[8];
static volatile unsigned long count[8];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, rmu;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t th[8];
static int tls_delta;

static void on_usr1(int sig) { if (me >= 0 && me < 8) got[me] = 1; (void)sig; }
static void check_tls(int i) { if (me != i + tls_delta) bad = 1; }
static void *spin(void *a) { int i = (int)(long)a; me = i; while (!stop) { count[i]++; check_tls(i); } return 0; }
static void *waiter(void *a)
{
	int i = (int)(long)a;
	me = i;
	pthread_mutex_lock(&mu);
	while (!stop) { pthread_cond_wait(&cv, &mu); woke++; count[i]++; check_tls(i); }
	pthread_mutex_unlock(&mu);
	return 0;
}
static void *sleeper(void *a)
{
	int i = (int)(long)a;
	struct timespec t = { 30, 0 };
	me = i;
	while (!stop) { nanosleep(&t, 0); count[i]++; check_tls(i); }
	return 0;
}
static void *locker(void *a)
{
	int i = (int)(long)a;
	me = i;
	while (!stop) { pthread_mutex_lock(&rmu); count[i]++; check_tls(i); pthread_mutex_unlock(&rmu); }
	return 0;
}

static int check(int stage)
{
	unsigned long before[8];
	int w0 = woke;

	memcpy(before, (void *)count, sizeof(before));
	usleep(200000);
	for (int i = 0; i < 8; i++)
		if (i != 5 && i != 6 && count[i] == before[i]) { printf("stage %d: thread %d does not run\n", stage, i); return 1; }
	pthread_mutex_lock(&mu); pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
	for (int i = 0; i < 8; i++) { got[i] = 0; pthread_kill(th[i], SIGUSR1); }
	usleep(200000);
	for (int i = 0; i < 8; i++)
		if (!got[i]) { printf("stage %d: pthread_kill did not reach thread %d as itself\n", stage, i); return 1; }
	if (woke == w0) { printf("stage %d: the waiter did not wake\n", stage); return 1; }
	if (bad) { printf("stage %d: a thread lost its TLS value\n", stage); return 1; }
	printf("stage %d ok\n", stage);
	fflush(stdout);
	return 0;
}

int main(void)
{
	int (*checkpoint)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ckpt_checkpoint");
	unsigned long (*restores)(void) = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	pthread_mutexattr_t ra;
	struct sigaction sa;

	if (!checkpoint || !restores) { printf("libckpt.so not loaded\n"); return 1; }
	syscall(436 /* close_range */, 3, ~0U, 0);	/* a runner's stray pipe is not ours */
	tls_delta = getenv("BREAK_TLS") ? 1 : 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, 0);
	/* a normal mutex: glibc keeps no owner tid in it.  A recursive, error-checking
	 * or robust one held at the checkpoint names its owner by the old tid, which a
	 * restored thread no longer has (see restorer(1), --same-pid) */
	pthread_mutexattr_init(&ra);
	pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_NORMAL);
	pthread_mutex_init(&rmu, &ra);
	for (long i = 0; i < 5; i++) pthread_create(&th[i], 0, spin, (void *)i);
	pthread_create(&th[5], 0, waiter, (void *)5L);
	pthread_create(&th[6], 0, sleeper, (void *)6L);
	pthread_create(&th[7], 0, locker, (void *)7L);
	usleep(200000);
	for (;;) {
		unsigned long stage = restores();

		if (check((int)stage))
			return 1;
		if (stage == 3)
			break;
		if (checkpoint() == 0) {	/* this generation's image is written */
			printf("saved %lu\n", stage + 1);
			fflush(stdout);
			_exit(0);
		}
	}
	stop = 1;
	pthread_mutex_lock(&mu); pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
	pthread_kill(th[6], SIGUSR1);		/* out of its nanosleep */
	for (int i = 0; i < 8; i++) pthread_join(th[i], 0);
	printf("joined 8\n");
	return 0;
}
EOF
compile_or_fail "cannot build the threaded program" cc -O1 -pthread -o "$W/mt" "$W/mt.c" -ldl

# A: three generations
brk=
[ $BRK = 1 ] && brk=1
(cd "$W" && exec env ${brk:+BREAK_TLS=1} LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/mt.img" \
	timeout 30 ./mt) >"$W/gen0.out" 2>"$W/gen0.err"
if grep -q "^stage 0 ok" "$W/gen0.out" && grep -q "^saved 1" "$W/gen0.out"; then
	ok "original: 8 threads checked, image 1 written"
else
	not_ok "original: $(tr '\n' '|' <"$W/gen0.out") $(tr '\n' '|' <"$W/gen0.err")"
fi
for g in 1 2 3; do
	(cd "$W" && timeout 30 "$ROOT/restorer" "$W/mt.img") >"$W/gen$g.out" 2>"$W/gen$g.err"
	rc=$?
	if [ $g -lt 3 ]; then want="saved $((g + 1))"; else want="joined 8"; fi
	if [ $rc -eq 0 ] && grep -q "^stage $g ok" "$W/gen$g.out" && grep -q "^$want" "$W/gen$g.out"; then
		ok "restored generation $g: every thread runs, kept its TLS, takes pthread_kill; $want"
	else
		not_ok "generation $g: exit $rc: $(tr '\n' '|' <"$W/gen$g.out") $(tr '\n' '|' <"$W/gen$g.err")"
	fi
done

# C: --same-pid gives every thread its old tid (with CAP_CHECKPOINT_RESTORE
# in the system's PID namespace, else in new user and PID namespaces), so a
# recursive and a robust mutex a thread held at the checkpoint are still its own
eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
how="CAP_CHECKPOINT_RESTORE"
[ $(( (0x$eff >> 40) & 1 )) -eq 0 ] && how="user and PID namespaces (ordinary user)"
{
	cat >"$W/rm.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static pthread_mutex_t m, rb;
static volatile int go, held, result = -1;
static void *holder(void *a)
{
	pthread_mutex_lock(&m); pthread_mutex_lock(&m); pthread_mutex_lock(&rb); held = 1;
	while (!go) usleep(1000);
	/* EPERM if glibc does not see this thread as the owner */
	result = pthread_mutex_unlock(&m) | pthread_mutex_unlock(&m) | pthread_mutex_unlock(&rb);
	return a;
}
int main(void)
{
	int (*checkpoint)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ckpt_checkpoint");
	pthread_mutexattr_t ra;
	pthread_t t;

	syscall(436, 3, ~0U, 0);
	pthread_mutexattr_init(&ra);
	pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m, &ra);
	pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutexattr_setrobust(&ra, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&rb, &ra);
	pthread_create(&t, 0, holder, 0);
	while (!held) usleep(1000);
	if (!checkpoint || checkpoint() == 0) { puts("saved"); fflush(stdout); _exit(0); }
	go = 1;
	pthread_join(t, 0);
	printf("unlock %s\n", result ? "failed" : "ok");
	printf("relock %s\n", pthread_mutex_trylock(&m) == 0 && pthread_mutex_trylock(&rb) == 0 ? "ok" : "failed");
	return 0;
}
EOF
	if cc -O1 -pthread -o "$W/rm" "$W/rm.c" -ldl 2>"$W/cc.err" &&
	   (cd "$W" && exec env CKPT_FILE="$W/rm.img" timeout 30 env LD_PRELOAD="$ROOT/libckpt.so" ./rm) >"$W/rm0.out" 2>&1 &&
	   grep -q saved "$W/rm0.out"; then
		(cd "$W" && timeout 30 "$ROOT/restorer" --same-pid "$W/rm.img") >"$W/rm1.out" 2>&1
		want="unlock ok"
		[ $BRK = 1 ] && want="unlock failed"
		if grep -q "^restorer: .*--same-pid: .*user namespace" "$W/rm1.out"; then
			note "SKIP C: no CAP_CHECKPOINT_RESTORE and no user namespaces here: $(head -n 1 "$W/rm1.out")"
		elif grep -q "^$want" "$W/rm1.out" && grep -q "^relock ok" "$W/rm1.out"; then
			ok "--same-pid through $how: a recursive and a robust mutex held at the checkpoint are unlocked by their thread"
		else
			not_ok "--same-pid ($how) recursive and robust mutex: $(tr '\n' '|' <"$W/rm1.out")"
		fi
	else
		not_ok "mutex program: $(tr '\n' '|' <"$W/rm0.out") $(head -c 200 "$W/cc.err")"
	fi
}

# B: python3 threading
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
	note "SKIP B: no /usr/bin/python3"
else
	cat >"$W/t.py" <<'EOF'
import os, threading, time, sys
os.closerange(3, 65536)   # a runner's stray pipe is not ours
out = []
lock = threading.Lock()
def work(k):
    for i in range(60):
        with lock:
            out.append(k * 1000 + i)
        time.sleep(0.02)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts: t.start()
print("started", flush=True)
for t in ts: t.join()
print("total", len(out), sum(out), flush=True)
EOF
	# no timeout(1) in between: SIGUSR2 must reach python itself (it is killed below)
	(cd "$W" && exec env LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$W/py.img" "$PY" "$W/t.py") \
		>"$W/py0.out" 2>"$W/py0.err" &
	pid=$!
	sleep 0.5
	kill -USR2 $pid
	wait_for 5 test -s "$W/py.img"
	sleep 0.2
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	if [ ! -s "$W/py.img" ]; then
		not_ok "python3: no image after SIGUSR2: $(tr '\n' '|' <"$W/py0.err")"
	else
		(cd "$W" && timeout 30 "$ROOT/restorer" "$W/py.img") >"$W/py1.out" 2>"$W/py1.err"
		rc=$?
		want="total 240 $(( (0 + 1000 + 2000 + 3000) * 60 + 4 * 1770 ))"
		if [ $rc -eq 0 ] && grep -q "^$want\$" "$W/py1.out"; then
			ok "python3 with 4 threads: restored, the workers finished: $want"
		else
			not_ok "python3: exit $rc, want '$want': $(tr '\n' '|' <"$W/py1.out") $(tr '\n' '|' <"$W/py1.err")"
		fi
	fi
fi
# D: Node.js (tests/sh/count.js: libuv's pool, V8's workers, a thread that
# blocks every signal it can, epoll), three generations: each restored process is checkpointed again
# once it has written 6 more lines, the third restore with --lazy; the last
# image then runs to the end and its sum must be right
NODE=/usr/bin/node
if [ ! -x "$NODE" ]; then
	note "SKIP D: no $NODE (apt-get install nodejs)"
else
	nlines() { if [ -f "$W/js.file" ]; then wc -l <"$W/js.file"; else echo 0; fi; }
	# wait_lines N PID: until the file has N lines, or PID is gone (10 s at most)
	wait_lines() {
		t=0
		while [ "$(nlines)" -lt "$1" ] && kill -0 "$2" 2>/dev/null && [ $t -lt 200 ]; do
			sleep 0.05
			t=$((t + 1))
		done
	}
	# save PID: SIGUSR2, wait for a new image at js.img, then SIGKILL
	save() {
		rm -f "$W/js.img"
		kill -USR2 "$1"
		wait_for 10 test -s "$W/js.img"
		sleep 0.2
		kill -9 "$1" 2>/dev/null
	}
	# bash closes what this script inherited (a runner's pipe would be refused
	# at restore), then becomes node
	(cd "$W" && exec /bin/bash -c 'for f in /proc/$$/fd/*; do k=${f##*/};
		[ "$k" -gt 2 ] && eval "exec $k>&-" 2>/dev/null; done
		exec env LD_PRELOAD="$1/libckpt.so" CKPT_FILE="$2/js.img" "$3" "$1/tests/sh/count.js" "$2/js.file" 60' \
		sh "$ROOT" "$W" "$NODE") >"$W/js0.out" 2>"$W/js0.err" </dev/null &
	pid=$!
	wait_lines 6 $pid
	save $pid
	wait $pid 2>/dev/null
	good=1
	for g in 1 2 3; do
		if [ ! -s "$W/js.img" ]; then
			not_ok "Node.js generation $g: no image to restore: $(tr '\n' '|' <"$W/js$((g - 1)).err")"
			good=0
			break
		fi
		mv "$W/js.img" "$W/js$((g - 1)).img"
		lazy=
		[ $g -eq 3 ] && lazy=--lazy
		(cd "$W" && exec "$ROOT/restorer" $lazy "$W/js$((g - 1)).img") >"$W/js$g.out" 2>"$W/js$g.err" </dev/null &
		pid=$!
		wait_lines $(($(nlines) + 6)) $pid
		first=$(head -n 1 "$W/js$g.out")
		if ! kill -0 $pid 2>/dev/null || [ -z "$first" ]; then
			not_ok "Node.js generation $g${lazy:+ ($lazy)}: not running on: $(tr '\n' '|' <"$W/js$g.out") $(tr '\n' '|' <"$W/js$g.err")"
			kill -9 $pid 2>/dev/null
			good=0
			break
		fi
		save $pid
		wait $pid 2>/dev/null
		ok "Node.js generation $g${lazy:+ ($lazy)}: restored, wrote on from '$first', checkpointed again"
	done
	if [ $good -eq 1 ]; then
		want="js done 73810"
		[ $BRK = 1 ] && want="js done 73811"
		(cd "$W" && timeout -k 1 30 "$ROOT/restorer" "$W/js.img") >"$W/js4.out" 2>"$W/js4.err" </dev/null
		rc=$?
		if [ $rc -eq 0 ] && grep -qx "$want" "$W/js4.out"; then
			ok "Node.js: the fourth image ran to its end with the right sum ($want)"
		else
			not_ok "Node.js: last restore exit $rc, want '$want': $(tail -n 2 "$W/js4.out" | tr '\n' '|') $(tr '\n' '|' <"$W/js4.err")"
		fi
	fi
fi
finish
