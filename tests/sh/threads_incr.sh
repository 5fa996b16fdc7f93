#!/bin/sh
# timeout: 180
# threads_incr.sh -- periodic incremental checkpoints of a multi-threaded job
# (issue 9: "incremental and periodic checkpoints work with threads").
#
# Simulates a long multi-threaded computation run with CKPT_INTERVAL=0.3 and
# CKPT_INCREMENTAL=1: 6 worker threads, each owning a slice of a 64 MiB heap
# buffer, write one page of their slice per iteration (a pattern made of the
# thread's number and its iteration counter) and add to a shared total and
# checksum under a mutex.  Only a few MiB change between checkpoints.  For
# each write-tracking method, the default (userfaultfd write-protect; an
# ordinary user gets UFFD_USER_MODE_ONLY or the library falls back) and
# CKPT_TRACK=hash:
#   1  while the threads run, periodic images form one chain: CKPT_FILE is the
#      newest, incremental, depth >= 3, with the program's 7 threads; every
#      parent is there back to one full image, and the incremental images are
#      under 1/5 of the 64 MiB buffer (but the first one, which may hold the
#      end of the job's setup)
#   2  the program is killed (SIGKILL) and CKPT_FILE restored: the program
#      checks, with every thread's lock held, that each thread's slice holds
#      exactly what its iteration counter implies (every page) and that the
#      shared total and checksum match the counters; then that every thread
#      moves on
#   3  the restored process goes on taking periodic images: a new chain, from
#      a new full image; the first chain's files are left as they were
#   4  it is killed too and its newest image restored: the same checks, and
#      the job runs to its end with the right total and checksum (exit 0)
#   5  the first chain's newest image still restores (the same checks)
# Timing only paces the job; nothing asserts how long anything took.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the program is told a wrong final checksum to expect.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
RDR=$ROOT/readckpt
workdir threads_incr
ONELINE_MAX=400
pids=
# strays: processes working in $W (a restored job's image writer may outlive it)
strays() {
	for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$W" | "$W"/*) echo "${p#/proc/}" ;; esac
	done
}
at_exit 'for p in $pids $(strays); do kill -9 "$p" 2>/dev/null; done
for _ in $(seq 1 50); do [ -z "$(strays)" ] && break; sleep 0.1; done'
need_cc
need_built "$RST" "$ROOT/libckpt.so" "$RDR"

cat >"$W/job.c" <<'EOF'
/* job ITERS [BREAK]: 6 threads, ITERS iterations each.  Prints "started",
 * "restored R ok ..." after each restore (state checked, every thread moved),
 * and "done ... ok" when all threads are joined and the result is right. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NT	6
#define PG	4096ul
#define TOTAL	(64ul << 20)
#define NPG	(TOTAL / NT / PG)	/* pages per thread: 2730 */
#define STEP	1031ul			/* prime, not a factor of NPG: a permutation */

static unsigned char *buf;
static volatile unsigned long it[NT];	/* iterations done, under lk[i] */
static pthread_mutex_t lk[NT], shared = PTHREAD_MUTEX_INITIALIZER;
static unsigned long total;		/* under shared */
static uint64_t csum;			/* under shared */
static unsigned long iters;
static unsigned long want_page[NPG];

static uint64_t val(int i, unsigned long k) { return ((uint64_t)(i + 1) << 56) ^ (k * 0x9e3779b97f4a7c15ull); }
static uint64_t *page_of(int i, unsigned long k) { return (uint64_t *)(buf + (i * NPG + (k * STEP) % NPG) * PG); }

static void *work(void *a)
{
	int i = (int)(long)a;

	for (;;) {
		unsigned long k;
		uint64_t *p, v;

		pthread_mutex_lock(&lk[i]);
		k = it[i] + 1;
		if (k > iters) {
			pthread_mutex_unlock(&lk[i]);
			return 0;
		}
		p = page_of(i, k);
		v = val(i, k);
		for (unsigned w = 0; w < PG / 8; w++)
			p[w] = v ^ w;
		it[i] = k;
		pthread_mutex_lock(&shared);
		total++;
		csum += v;
		pthread_mutex_unlock(&shared);
		pthread_mutex_unlock(&lk[i]);
		usleep(4000);
	}
}

/* With every lock held: each slice holds what its counter implies, the shared
 * total and checksum match the counters.  0 or a message. */
static const char *check(unsigned long *at)
{
	static char why[200];
	unsigned long t = 0;
	uint64_t c = 0;
	const char *bad = 0;

	for (int i = 0; i < NT; i++)
		pthread_mutex_lock(&lk[i]);
	pthread_mutex_lock(&shared);
	for (int i = 0; i < NT && !bad; i++) {
		at[i] = it[i];
		memset(want_page, 0, sizeof(want_page));
		for (unsigned long k = 1; k <= it[i]; k++) {
			want_page[(k * STEP) % NPG] = k;
			c += val(i, k);
		}
		t += it[i];
		for (unsigned long j = 0; j < NPG && !bad; j++) {
			const uint64_t *p = (const uint64_t *)(buf + (i * NPG + j) * PG);
			uint64_t v = val(i, want_page[j]);

			for (unsigned w = 0; w < PG / 8; w++)
				if (p[w] != (v ^ w)) {
					snprintf(why, sizeof(why), "thread %d at iteration %lu: page %lu word %u is "
						 "%016llx, want %016llx (iteration %lu's)", i, it[i], j, w,
						 (unsigned long long)p[w], (unsigned long long)(v ^ w), want_page[j]);
					bad = why;
					break;
				}
		}
	}
	if (!bad && (t != total || c != csum)) {
		snprintf(why, sizeof(why), "shared total %lu checksum %016llx, the counters imply %lu %016llx",
			 total, (unsigned long long)csum, t, (unsigned long long)c);
		bad = why;
	}
	pthread_mutex_unlock(&shared);
	for (int i = NT - 1; i >= 0; i--)
		pthread_mutex_unlock(&lk[i]);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long (*restores)(void) = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	unsigned long seen = 0, at[NT], now[NT];
	pthread_t th[NT];
	const char *why;
	uint64_t want = 0;
	sigset_t setup;

	/* descriptors inherited from the runner (a pipe to another process would
	 * make the image refused); libckpt's own userfaultfd stays */
	for (int fd = 3; fd < 1024; fd++) {
		char l[64], t[64];
		ssize_t k;

		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		k = readlink(l, t, sizeof(t) - 1);
		if (k > 0 && (!strncmp(t, "pipe:", 5) || !strncmp(t, "socket:", 7)))
			close(fd);
	}
	if (!restores || argc < 2) { printf("usage: job ITERS under libckpt.so\n"); return 2; }
	iters = strtoul(argv[1], 0, 10);
	if (iters >= NPG) { printf("ITERS must be < %lu\n", NPG); return 2; }
	buf = aligned_alloc(PG, TOTAL);	/* one iteration writes one page, not two halves */
	if (!buf) return 2;
	/* no periodic checkpoint while the buffer is filled (slow where page
	 * faults are): the first image then holds all of it */
	sigemptyset(&setup);
	sigaddset(&setup, SIGUSR2);
	sigprocmask(SIG_BLOCK, &setup, 0);
	for (int i = 0; i < NT; i++)	/* every page has data: the full image holds 64 MiB */
		for (unsigned long j = 0; j < NPG; j++)
			for (unsigned w = 0; w < PG / 8; w++)
				((uint64_t *)(buf + (i * NPG + j) * PG))[w] = val(i, 0) ^ w;
	sigprocmask(SIG_UNBLOCK, &setup, 0);
	for (long i = 0; i < NT; i++) {
		pthread_mutex_init(&lk[i], 0);
		pthread_create(&th[i], 0, work, (void *)i);
	}
	printf("started %d threads\n", NT);
	fflush(stdout);
	for (;;) {
		int all = 1;

		usleep(100000);
		if (restores() != seen) {
			seen = restores();
			if ((why = check(at))) { printf("restored %lu: BAD %s\n", seen, why); fflush(stdout); return 1; }
			for (int moved = 0, tries = 0; !moved; tries++) {
				if (tries == 300) {	/* 30 s */
					printf("restored %lu: BAD a thread does not move\n", seen);
					fflush(stdout);
					return 1;
				}
				usleep(100000);
				moved = 1;
				for (int i = 0; i < NT; i++)
					if (it[i] == at[i] && at[i] < iters)
						moved = 0;
			}
			if ((why = check(now))) { printf("restored %lu: BAD after resuming: %s\n", seen, why); fflush(stdout); return 1; }
			printf("restored %lu ok: state consistent at iterations", seen);
			for (int i = 0; i < NT; i++) printf(" %lu", at[i]);
			printf(", every thread moved on\n");
			fflush(stdout);
		}
		for (int i = 0; i < NT; i++)
			if (it[i] < iters)
				all = 0;
		if (all)
			break;
	}
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], 0);
	if ((why = check(at))) { printf("done: BAD %s\n", why); return 1; }
	for (int i = 0; i < NT; i++)	/* what the result must be, from ITERS alone */
		for (unsigned long k = 1; k <= iters; k++)
			want += val(i, k);
	if (argc > 2) want++;		/* CKPT_TEST_BREAK */
	printf("done total %lu checksum %016llx: %s\n", total, (unsigned long long)csum,
	       total == NT * iters && csum == want ? "ok" : "BAD, want another checksum");
	return total == NT * iters && csum == want ? 0 : 1;
}
EOF
compile_or_fail "cannot build the threaded job" cc -O2 -pthread -o "$W/job" "$W/job.c" -ldl
ITERS=1500
brk=
[ $BRK = 1 ] && brk=break

# depth_of FILE: 0 for a full image, the depth of an incremental one, or nothing
depth_of() {
	"$RDR" "$1" 2>/dev/null | sed -n 's/.*incremental, \([0-9]*\) image.*/\1/p; s/.*full image.*/0/p' | head -n 1
}
parent_of() { "$RDR" "$1" 2>/dev/null | sed -n 's/^  parent  *\([^ ]*\) (id.*/\1/p' | head -n 1; }
threads_of() { "$RDR" "$1" 2>/dev/null | sed -n 's/^threads \([0-9]*\)$/\1/p' | head -n 1; }
# newest DIR: the name of the chain file DIR/img is a link to now (chain
# files never change; DIR/img may be replaced at any time)
newest() {
	ino=$(stat -c %i "$1/img" 2>/dev/null) || return
	for c in "$1"/img.*; do
		[ "$(stat -c %i "$c" 2>/dev/null)" = "$ino" ] && { basename "$c"; return; }
	done
}
# chain DIR NAME: the chain files from NAME back to the full one, newest
# first; "MISSING:name" where a parent is not there
chain() {
	f=$1/$2
	while [ -n "$2" ] && [ -f "$f" ]; do
		basename "$f"
		p=$(parent_of "$f")
		[ -n "$p" ] || break
		[ -f "$1/$p" ] || { echo "MISSING:$p"; break; }
		f=$1/$p
	done
}
# running PID: PID exists and is not a zombie
running() {
	st=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d ' ' -f 1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# wait_new_depth DIR PID OLD D: until DIR/img is an image of depth >= D whose
# chain does not go through the file OLD, PID still running; 0 or 1
wait_new_depth() {
	for _ in $(seq 1 300); do
		top=$(newest "$1")
		d=
		[ -n "$top" ] && d=$(depth_of "$1/$top")
		if [ -n "$d" ] && [ "$d" -ge "$4" ] && ! chain "$1" "$top" | grep -qx "$3"; then
			return 0
		fi
		running "$2" || return 1
		sleep 0.1
	done
	return 1
}
# stop_kill PID: stop the program (it forks no new writer), let a writer it
# has finish its image, then SIGKILL the program
stop_kill() {
	kill -STOP "$1" 2>/dev/null
	wr=$(cat /proc/"$1"/task/*/children 2>/dev/null)
	for _ in $(seq 1 300); do
		alive=
		for w in $wr; do running "$w" && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# check_chain LABEL DIR MIN SKIP: CKPT_FILE's chain: depth >= MIN, 7 threads,
# every parent there back to a full image; the full image and the first SKIP
# incremental ones hold the 64 MiB buffer, each later one is under 1/5 of it.
# (The job may still be setting up, writing its buffer, when the first
# periodic image is taken: then the first incremental image holds the rest.)
check_chain() {
	lab=$1 dir=$2 min=$3 skip=$4
	top=$(newest "$dir")
	d=$(depth_of "$dir/$top")
	t=$(threads_of "$dir/$top")
	files=$(chain "$dir" "$top" | tr '\n' ' ')
	root=$(chain "$dir" "$top" | tail -n 1)
	nf=$(echo $files | wc -w)
	if [ -n "$d" ] && [ "$d" -ge "$min" ] && [ "$t" = 7 ] && [ "$nf" -eq $((d + 1)) ] &&
	   [ "$(depth_of "$dir/$root")" = 0 ] && ! echo "$files" | grep -q MISSING; then
		ok "$lab: CKPT_FILE is incremental, depth $d, $t threads; its chain is there back to the full $root"
	else
		not_ok "$lab: CKPT_FILE depth '$d' (want >= $min), threads '$t' (want 7), chain: $files;" \
			"files: $(cd "$dir" && for f in img.*; do printf '%s:%s:%s ' "$f" "$(depth_of "$f")" "$(stat -c %s "$f")"; done)" \
			"stderr: $(cat "$dir"/gen*.err 2>/dev/null | oneline /dev/stdin)"
		return
	fi
	base=0 big=0 sizes=
	for f in $files; do
		s=$(stat -c %s "$dir/$f")
		fd=$(depth_of "$dir/$f")
		sizes="$fd:$s $sizes"
		if [ "$fd" -le "$skip" ]; then
			base=$((base + s))
		elif [ "$s" -gt "$big" ]; then
			big=$s
		fi
	done
	if [ "$base" -gt $((64 << 20)) ] && [ "$big" -gt 0 ] && [ $((big * 5)) -lt $((64 << 20)) ]; then
		ok "$lab: the incremental images are small: depth:bytes $sizes"
	else
		not_ok "$lab: want images of depth <= $skip to hold > 64 MiB, the others < 1/5 of that: depth:bytes $sizes"
	fi
}
# restored_ok LABEL OUT R: the restored program said its state was consistent
restored_ok() {
	if grep -q "^restored $3 ok" "$2"; then
		ok "$1: $(grep "^restored $3 ok" "$2" | head -n 1)"
	else
		not_ok "$1: $(oneline "$2") $(oneline "${2%.out}.err")"
	fi
}

for track in uffd hash; do
	D=$W/$track
	mkdir -p "$D"
	tenv=
	[ $track = hash ] && tenv=CKPT_TRACK=hash

	# 1: the job under periodic incremental checkpoints
	(cd "$D" && exec env $tenv CKPT_FILE="$D/img" CKPT_INTERVAL=0.3 CKPT_INCREMENTAL=1 \
		CKPT_FULL_EVERY=100 CKPT_VERBOSE=1 LD_PRELOAD="$ROOT/libckpt.so" \
		"$W/job" $ITERS $brk) >"$D/gen0.out" 2>"$D/gen0.err" </dev/null &
	pid=$!
	pids="$pids $pid"
	waited=0
	wait_new_depth "$D" $pid none 3 && waited=1
	stop_kill $pid
	how=$(sed -n 's/.*writes found by \(.*\); a full.*/\1/p' "$D/gen0.err" | head -n 1)
	uf=$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)
	[ $track = uffd ] && [ "$(id -u)" != 0 ] && [ "$uf" = 0 ] && [ "${how#userfaultfd}" != "$how" ] &&
		how="$how, so opened with UFFD_USER_MODE_ONLY (vm.unprivileged_userfaultfd=0)"
	note "$track: libckpt tracks writes by: ${how:-?} $(grep -v 'writes found by' "$D/gen0.err" | oneline /dev/stdin)"
	if [ $waited -eq 0 ]; then
		not_ok "$track: no chain of depth 3 while the job ran: $(oneline "$D/gen0.out") $(oneline "$D/gen0.err")"
		continue
	fi
	check_chain "$track, while the threads run" "$D" 3 1
	chain1=$(chain "$D" "$(newest "$D")")
	top1=$(echo "$chain1" | head -n 1)

	# 2: restore the newest image of the killed job
	: >"$D/gen1.out"
	(cd "$D" && exec "$RST" "$D/img") >"$D/gen1.out" 2>"$D/gen1.err" </dev/null &
	pid=$!
	pids="$pids $pid"
	for _ in $(seq 1 300); do
		grep -q '^restored 1 \|BAD' "$D/gen1.out" && break
		running $pid || break
		sleep 0.1
	done
	restored_ok "$track, first restore" "$D/gen1.out" 1

	# 3: the restored process takes periodic images again: a new chain
	waited=0
	wait_new_depth "$D" $pid "$top1" 2 && waited=1
	stop_kill $pid
	if [ $waited -eq 0 ]; then
		not_ok "$track: the restored job made no new chain of depth 2: $(oneline "$D/gen1.out") $(oneline "$D/gen1.err")"
		continue
	fi
	check_chain "$track, after the restore" "$D" 2 0
	chain2=$(chain "$D" "$(newest "$D")")
	common=$(printf '%s\n%s\n' "$chain1" "$chain2" | sort | uniq -d)
	gone=
	for f in $chain1; do [ -f "$D/$f" ] || gone="$gone $f"; done
	if [ -z "$common" ] && [ -z "$gone" ]; then
		ok "$track: the restored process began a new chain ($(echo $chain2 | wc -w) images); the first chain's files are all there"
	else
		not_ok "$track: the new chain shares '$common' with the first; first-chain files gone: '$gone'"
	fi

	# 4: restore the newest image again; the job runs to its end
	(cd "$D" && exec timeout -k 5 30 "$RST" "$D/img") >"$D/gen2.out" 2>"$D/gen2.err" </dev/null &
	pid=$!
	pids="$pids $pid"
	wait $pid		# in the background: a signal to this script is not held up
	rc=$?
	restored_ok "$track, second restore" "$D/gen2.out" 2
	if [ $rc -eq 0 ] && grep -q '^done .*: ok$' "$D/gen2.out"; then
		ok "$track: the twice-restored job ran to its end: $(grep '^done' "$D/gen2.out")"
	else
		not_ok "$track: the twice-restored job: exit $rc: $(oneline "$D/gen2.out") $(oneline "$D/gen2.err")"
	fi

	# 5: the first chain, which the restored process left alone, still restores
	: >"$D/gen1b.out"
	(cd "$D" && exec "$RST" "$D/$top1") >"$D/gen1b.out" 2>"$D/gen1b.err" </dev/null &
	pid=$!
	pids="$pids $pid"
	for _ in $(seq 1 300); do
		grep -q '^restored 1 \|BAD' "$D/gen1b.out" && break
		running $pid || break
		sleep 0.1
	done
	stop_kill $pid
	restored_ok "$track, the first chain's newest image ($top1) again" "$D/gen1b.out" 1
done
finish
