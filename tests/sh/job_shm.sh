#!/bin/sh
# timeout: 150
# job_shm.sh -- memory a job's processes share (issue 16): a parent and three
# workers counting together in MAP_SHARED anonymous memory, a memfd mapped
# shared and a SysV segment, with a sparse 1 GiB shared mapping beside
# (16 pages written), checkpointed mid-way, killed, restored eager and
# --lazy.
#
# The workers take numbers from one shared counter until it reaches the
# target; each also writes how many it took into its own slot of each of the
# three shared objects, and checks at the end that the three slots hold what
# it counted in its own (private) memory, and that the sparse mapping has
# its 16 pages and zeros between.  The parent sums the slots.  Checks:
#   1  `ckpt dump` of the parent: a job of 4 processes and 4 shared memory
#      objects, each mapped by all 4; the sparse one stores its 16 pages, not
#      its 1 GiB
#   2  restored eagerly: the slots agree with each worker's own count (the
#      shared memory is of the checkpoint's moment, not read later) and
#      the sum is the target exactly (the counter is shared again: a copy
#      for each process would count the target three times)
#   3  the same with --lazy
#   4  `ckpt merge` of the table (which checks every page's CRC, those of the
#      shared regions each process's image also holds, written while the
#      workers ran on) writes a table of full images and the shared memory
#      beside it, which restores the same way
#   5  a shared memory object's content damaged (one byte): the restore is
#      refused in one line naming its file, exit 2, nothing of the job runs
# Root and the ordinary user; as root the job runs in an IPC namespace of its
# own, so its SysV segment has shmid 0 (the first on a freshly booted
# machine, which the dump once took for no inode and left out).
# CKPT_TEST_BREAK=1: the expected sum is off by one.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
need_cc
command -v setsid >/dev/null || skip "no setsid"
workdir jobshm

cat >"$W/count.c" <<'EOF2'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#define WORKERS 3
int main(int argc, char **argv)
{
	unsigned long target = strtoul(argv[1], 0, 10), sum = 0;
	volatile unsigned long *anon, *mem, *sysv;
	volatile char *big;
	int fd, id, bad = 0, st;
	pid_t kid[WORKERS];

	setvbuf(stdout, NULL, _IOLBF, 0);
	anon = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("slots", 0);
	if (anon == MAP_FAILED || fd < 0 || ftruncate(fd, 8192))
		return 2;
	mem = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	sysv = id < 0 ? MAP_FAILED : shmat(id, 0, 0);
	if (mem == MAP_FAILED || sysv == (void *)-1)
		return 2;
	shmctl(id, IPC_RMID, 0);
	big = mmap(0, 1ul << 30, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		return 2;
	for (int i = 0; i < 16; i++)
		big[(size_t)i << 26] = (char)(i + 1);
	for (int w = 0; w < WORKERS; w++)
		if ((kid[w] = fork()) == 0) {
			unsigned long mine = 0;

			while (__atomic_add_fetch(&anon[0], 1, __ATOMIC_SEQ_CST) <= target) {
				mine++;
				anon[512 * (w + 1)] = mine;	/* a page of its own */
				mem[1 + w] = mine;
				sysv[1 + w] = mine;
			}
			bad = anon[512 * (w + 1)] != mine || mem[1 + w] != mine || sysv[1 + w] != mine;
			for (int i = 0; i < 16; i++)
				bad |= big[(size_t)i << 26] != (char)(i + 1) || big[((size_t)i << 26) + 4096];
			printf("worker %d %s\n", w, bad ? "torn" : "agrees");
			return bad;
		}
	printf("ready\n");
	while (anon[0] < target / 4)
		usleep(10000);
	printf("quarter\n");
	for (int w = 0; w < WORKERS; w++) {
		waitpid(kid[w], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
		sum += anon[512 * (w + 1)];
	}
	printf("sum %lu%s\n", sum, bad ? " (a worker failed)" : "");
	return bad;
}
EOF2
compile_or_fail "build the test program" cc -O -o "$W/count" "$W/count.c"

target=20000000
want=$target
[ "$BRK" -eq 1 ] && want=$((want + 1))
# as root, in an IPC namespace of its own: its SysV segment is the first
# there, shmid 0 (as on a freshly booted machine, which once hid it)
ipcns=
[ "$(id -u)" -eq 0 ] && unshare --ipc true 2>/dev/null && ipcns="unshare --ipc"
(cd "$W" && CKPT_FILE="$W/img" exec $ipcns setsid env LD_PRELOAD="$ROOT/libckpt.so" ./count $target \
	>"$W/prog.out" 2>"$W/prog.err" </dev/null) &
pgid=$!
wait_for 20 grep -q "^quarter" "$W/prog.out"
"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
rc=$?
kill -9 "-$pgid"
pgid=
"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
if [ $rc -eq 0 ] && grep -q "^processes 4" "$W/read.out" &&
   [ "$(grep -c ' shared memory, [0-9]* bytes ([0-9]* pages stored) in .*: [0-9]*/0x[0-9a-f]*-0x[0-9a-f]*@0 [0-9]*/0x[0-9a-f]*-0x[0-9a-f]*@0 [0-9]*/0x[0-9a-f]*-0x[0-9a-f]*@0 [0-9]*/' "$W/read.out")" -eq 4 ] &&
   grep -q ' shared memory, 1073741824 bytes (16 pages stored) in ' "$W/read.out"; then
	ok "dump: 4 processes, 4 shared memory objects (anonymous, memfd, SysV, sparse), each mapped by all 4; 16 pages of the sparse GiB stored"
else
	not_ok "dump: rc $rc: $(oneline "$W/dump.err"); libckpt: $(oneline "$W/prog.err"); readckpt: $(grep -E '^processes|shared' "$W/read.out" | cut -c1-120 | tr '\n' '|')"
fi

restore() {
	(cd "$W" && timeout 60 "$ROOT/restorer" $1 "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	rc=$?
	if [ $rc -eq 0 ] && grep -qx "sum $want" "$W/rst.out" && [ "$(grep -c '^worker [0-2] agrees$' "$W/rst.out")" -eq 3 ]; then
		ok "restored ${1:-eagerly}: each worker's slots agree with its own count, the sum is $want exactly"
	else
		not_ok "restored ${1:-eagerly}: rc $rc: $(oneline "$W/rst.out"); stderr $(oneline "$W/rst.err")"
	fi
}
restore ""
restore --lazy

# 4: merged
"$ROOT/ckpt" merge "$W/img" "$W/merged" >"$W/merge.out" 2>&1
mrc=$?
(cd "$W" && timeout 60 "$ROOT/restorer" "$W/merged" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
rc=$?
if [ $mrc -eq 0 ] && [ "$(ls -A "$W" | grep -c '^\.merged\.[0-9a-f]*\.m[0-9]*$')" -eq 4 ] && [ $rc -eq 0 ] &&
   grep -qx "sum $want" "$W/rst.out" && [ "$(grep -c '^worker [0-2] agrees$' "$W/rst.out")" -eq 3 ]; then
	ok "ckpt merge: a table of full images and its 4 shared memory files, which restores the same"
else
	not_ok "ckpt merge: rc $mrc: $(oneline "$W/merge.out"); restore rc $rc: $(oneline "$W/rst.out"); $(oneline "$W/rst.err")"
fi

# 5: damaged content
shmfile=$(ls -A "$W" | grep '^\.img\.[0-9a-f]*\.m[0-9]*$' | head -n 1)
if [ -n "$shmfile" ]; then
	printf 'X' | dd of="$W/$shmfile" bs=1 seek=100 conv=notrunc 2>/dev/null
	(cd "$W" && timeout 60 "$ROOT/restorer" "$W/img" >"$W/bad.out" 2>"$W/bad.err" </dev/null)
	rc=$?
	if [ $rc -eq 2 ] && [ ! -s "$W/bad.out" ] && [ "$(grep -c . "$W/bad.err")" -eq 1 ] &&
	   grep -q "$shmfile (the job's shared memory): corrupted" "$W/bad.err"; then
		ok "a damaged shared memory file: refused in one line naming it, exit 2, nothing ran"
	else
		not_ok "damaged $shmfile: rc $rc, out $(oneline "$W/bad.out"), err $(oneline "$W/bad.err")"
	fi
else
	not_ok "no shared memory file beside the table: $(ls -A "$W" | tr '\n' ' ')"
fi
finish
