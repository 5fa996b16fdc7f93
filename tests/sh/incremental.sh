#!/bin/sh
# incremental.sh -- incremental images (CKPT_INCREMENTAL=1), issue 6.
#
# Simulates a long job checkpointed again and again, whose memory changes
# shape between checkpoints:
#   A  chains of 1, 2 and 10 images restore to exactly the memory of their own
#      checkpoint; so does an image from the middle of the chain.  Between
#      checkpoints regions are created, unmapped, mprotect'ed, grown and shrunk
#      (mremap, brk), zapped with MADV_DONTNEED, and mapped again where an old
#      one was
#   B  a missing parent, and a parent replaced by another image with the same
#      name (another run's image of the same depth), are refused: exit 2, one
#      line `restorer: IMAGE: ...`, nothing on stdout
#   C  1% of the pages of 64 MiB written: the incremental image is < 10% of the
#      full one
#   D  CKPT_KEEP=N: the newest N images restore, every file they need is there,
#      and no other chain file is left
#   E  CKPT_INTERVAL=0.5 over ~3 s makes 4 to 8 images, and the newest restores
#   F  a process killed (SIGKILL, with its writer) right after SIGUSR2 leaves
#      CKPT_FILE restorable to its last complete checkpoint; a writer killed
#      alone fails that checkpoint only, and the next one restores
#   G  `ckpt merge` folds the chain of 10 into one full image that restores to
#      the same memory, and readckpt calls it a full image
#
# The subject is a small C program compiled here from the text below: it
# prints `ck I SUM` (a checksum of all its data regions, their protections
# included) before checkpoint I and `img I INODE` after it; a restored one
# prints `restored I SUM` from the same point and exits 0.  Comparing SUMs
# compares memory.  Without a C compiler the test is skipped.
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR, a private
# temp dir.  Output: `ok N desc` / `not ok N desc`, `# ...`.  Exit 0, 1, or 4.
# CKPT_TEST_BREAK=1: one expected checksum is corrupted, and that check fails.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
RDR=$ROOT/readckpt
CKPT=$ROOT/ckpt
workdir incremental
pids=
at_exit 'for p in $pids; do kill -9 "$p" 2>/dev/null; done'

need_built "$RST" "$LIB" "$RDR"

# ---- the subject ----
cat >"$W/incsub.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern int ckpt_checkpoint(void) __attribute__((weak));

#define MIB (1ul << 20)
#define PG 4096ul
static struct { char *p; size_t len; } reg[8];	/* data regions checked */
static char gbuf[256 * 1024];
static char maps[1 << 16];

static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(1, line, k) != k)
		_exit(3);
}

static void fill(char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v = (seed + i) * 0x9e3779b97f4a7c15ull;
		memcpy(p + i, &v, 8);
	}
}

/* every `every`-th page of [p, p+len) gets new content */
static void touch(char *p, size_t len, size_t every, uint64_t seed)
{
	for (size_t o = 0; o < len; o += every * PG)
		fill(p + o, PG, seed + o);
}

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const uint64_t *q = p;

	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ q[i]) * 0x100000001b3ull;
	return h;
}

/* all regions' bytes, and each region's protections as maps shows them */
static uint64_t sum(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int fd = open("/proc/self/maps", O_RDONLY), m = 0, k;

	while (fd >= 0 && (k = read(fd, maps + m, sizeof(maps) - 1 - m)) > 0)
		m += k;
	if (fd >= 0)
		close(fd);
	maps[m] = 0;
	h = mix(h, gbuf, sizeof(gbuf));
	for (int i = 0; i < 8; i++) {
		char *l;

		if (!reg[i].len)
			continue;
		h = mix(h, &reg[i], sizeof(reg[i]));
		h = mix(h, reg[i].p, reg[i].len);
		for (l = maps; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
			unsigned long s, e;
			char perm[5];

			if (sscanf(l, "%lx-%lx %4s", &s, &e, perm) == 3 && s <= (unsigned long)reg[i].p &&
			    (unsigned long)reg[i].p < e) {
				h = mix(h, perm, 4);
				break;
			}
		}
	}
	return h;
}

static char *map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		say("mmap failed\n");
		_exit(3);
	}
	return p;
}

/* checkpoint i: 0 go on, exits when restored */
static void checkpoint(int i)
{
	struct stat st;
	uint64_t s = sum();
	int r;

	say("ck %d %016llx\n", i, (unsigned long long)s);
	if (!ckpt_checkpoint) {
		say("libckpt.so is not loaded\n");
		_exit(3);
	}
	r = ckpt_checkpoint();
	if (r == 1) {
		say("restored %d %016llx\n", i, (unsigned long long)sum());
		_exit(0);
	}
	if (r != 0) {
		say("checkpoint %d failed\n", i);
		_exit(3);
	}
	if (stat(getenv("CKPT_FILE"), &st) == 0)
		say("img %d %lu\n", i, (unsigned long)st.st_ino);
}

/* the steps of scenario A: the address space changes shape between checkpoints */
static void steps(int n)
{
	char *a = map(8 * MIB), *d = map(2 * MIB), *c = NULL, *oldc = NULL, *h = NULL;

	fill(a, 8 * MIB, 1);
	fill(d, 2 * MIB, 11);
	reg[0].p = a, reg[0].len = 8 * MIB;
	reg[1].p = d, reg[1].len = 2 * MIB;
	for (int i = 1; i <= n; i++) {
		fill(gbuf + (i % 64) * 4096, 4096, 100 + i);
		switch (i) {
		case 2:		/* 1% of A written; C created */
			touch(a, 8 * MIB, 100, 2);
			c = map(1 * MIB);
			fill(c, 1 * MIB, 2);
			reg[2].p = c, reg[2].len = 1 * MIB;
			break;
		case 3:		/* C unmapped; A's first half read-only */
			munmap(c, 1 * MIB);
			oldc = c;
			reg[2].len = 0;
			mprotect(a, 4 * MIB, PROT_READ);
			break;
		case 4:		/* D grown with mremap (it may move); the heap grown with brk */
			d = mremap(d, 2 * MIB, 6 * MIB, MREMAP_MAYMOVE);
			if (d == MAP_FAILED)
				_exit(3);
			fill(d + 2 * MIB, 4 * MIB, 4);
			reg[1].p = d, reg[1].len = 6 * MIB;
			h = sbrk(1 * MIB);
			if (h == (void *)-1)
				_exit(3);
			fill(h, 1 * MIB, 44);
			reg[3].p = h, reg[3].len = 1 * MIB;
			break;
		case 5:		/* pages zapped with MADV_DONTNEED: they read as zero now */
			madvise(a + 5 * MIB, 1 * MIB, MADV_DONTNEED);
			madvise(d + 64 * 1024, 256 * 1024, MADV_DONTNEED);
			break;
		case 6:		/* D shrunk with mremap; the heap grown again */
			d = mremap(d, 6 * MIB, 1 * MIB, 0);
			if (d == MAP_FAILED)
				_exit(3);
			reg[1].len = 1 * MIB;
			if (sbrk(1 * MIB) == (void *)-1)
				_exit(3);
			fill(h + 1 * MIB, 1 * MIB, 66);
			reg[3].len = 2 * MIB;
			break;
		case 7:		/* a new region where C was (other content) */
			c = mmap(oldc, 1 * MIB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (c == MAP_FAILED)
				c = map(1 * MIB);
			touch(c, 1 * MIB, 3, 7);
			reg[2].p = c, reg[2].len = 1 * MIB;
			break;
		case 8:		/* A's first half writable again, and written */
			mprotect(a, 4 * MIB, PROT_READ | PROT_WRITE);
			touch(a, 4 * MIB, 7, 8);
			break;
		case 9:		/* the heap shrunk; D read-only */
			sbrk(-(long)(512 * 1024));
			reg[3].len = 2 * MIB - 512 * 1024;
			mprotect(d, 1 * MIB, PROT_READ);
			break;
		case 10:	/* zapped pages written again */
			touch(a + 5 * MIB, 1 * MIB, 2, 10);
			break;
		default:
			if (i > 1)
				touch(a + 4 * MIB, 4 * MIB, 97, i);
		}
		checkpoint(i);
	}
}

/* scenario C: MIB touched, then 1 page in `every` written */
static void big(size_t mib, int every)
{
	char *a = map(mib * MIB);

	fill(a, mib * MIB, 5);
	reg[0].p = a, reg[0].len = mib * MIB;
	checkpoint(1);
	touch(a, mib * MIB, every, 6);
	checkpoint(2);
}

/* scenario E: write memory for secs seconds, then exit */
static void spin(double secs)
{
	char *a = map(4 * MIB);
	struct timespec t0, t;
	uint64_t k = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		fill(a + (k++ % 1024) * PG, PG, k);
		if (k % 64 == 0)
			usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	say("done\n");
}

/* scenario F: 3 checkpoints, then a big write and SIGUSR2 to itself; waits
 * for the file GO, then checkpoint 5 */
static void killme(const char *go)
{
	char *a = map(192 * MIB);

	fill(a, 192 * MIB, 9);
	reg[0].p = a, reg[0].len = 192 * MIB;
	for (int i = 1; i <= 3; i++) {
		touch(a, 192 * MIB, 50, i);
		checkpoint(i);
	}
	touch(a, 192 * MIB, 1, 4);
	say("ck 4 %016llx\n", (unsigned long long)sum());
	kill(getpid(), SIGUSR2);	/* the writer is forked when this returns */
	say("sent\n");
	while (access(go, F_OK))
		usleep(10000);
	touch(a, 192 * MIB, 30, 5);
	checkpoint(5);
}

int main(int argc, char **argv)
{
	/* pipes inherited above fd 2 would make the image refused; libckpt's own
	 * userfaultfd (anon_inode) must stay open, or nothing is tracked */
	for (int fd = 3; fd < 1024; fd++) {
		char l[64], t[64];
		ssize_t k;

		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		k = readlink(l, t, sizeof(t) - 1);
		if (k > 0 && (!strncmp(t, "pipe:", 5) || !strncmp(t, "socket:", 7)))
			close(fd);
	}
	if (argc > 2 && !strcmp(argv[1], "steps"))
		steps(atoi(argv[2]));
	else if (argc > 3 && !strcmp(argv[1], "big"))
		big(atol(argv[2]), atoi(argv[3]));
	else if (argc > 2 && !strcmp(argv[1], "spin"))
		spin(atof(argv[2]));
	else if (argc > 2 && !strcmp(argv[1], "kill"))
		killme(argv[2]);
	else
		return 2;
	say("done\n");
	return 0;
}
EOF
need_cc
compile_or_fail "the subject does not compile" cc -O2 -o "$W/incsub" "$W/incsub.c"
SUB=$W/incsub

# run_sub DIR ENV... -- ARGS: the subject in DIR with CKPT_FILE=DIR/img, output DIR/out
run_sub() {
	d=$1
	shift
	mkdir -p "$d"
	(cd "$d" && env CKPT_FILE="$d/img" CKPT_INCREMENTAL=1 "$@" >"$d/out" 2>"$d/err")
}
# sum_of DIR I: the checksum the subject printed before checkpoint I
sum_of() { sed -n "s/^ck $2 //p" "$1/out" | head -n 1; }
# file_of DIR I: the chain file written by checkpoint I (same inode as CKPT_FILE then)
file_of() {
	ino=$(sed -n "s/^img $2 //p" "$1/out" | head -n 1)
	[ -n "$ino" ] || return
	for f in "$1"/img.*; do
		[ "$(stat -c %i "$f" 2>/dev/null)" = "$ino" ] && { echo "$f"; return; }
	done
}
# restore_check DESC FILE I [WANT]: FILE restores and prints `restored I SUM`
restore_check() {
	desc=$1 f=$2 i=$3
	want=${4:-$(sum_of "$(dirname "$f")" "$i")}
	if [ -z "$f" ] || [ ! -f "$f" ]; then
		not_ok "$desc: no image file for checkpoint $i"
		return
	fi
	timeout 20 "$RST" "$f" >"$W/r.out" 2>"$W/r.err"
	rc=$?
	got=$(sed -n "s/^restored $i //p" "$W/r.out")
	if [ $rc -eq 0 ] && [ -n "$got" ] && [ "$got" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc: exit $rc, restored sum '${got}' want '$want'; out: $(oneline "$W/r.out") err: $(oneline "$W/r.err")"
	fi
}
# depth_of FILE: readckpt's depth (0 for a full image)
depth_of() {
	"$RDR" "$1" 2>/dev/null | sed -n 's/.*incremental, \([0-9]*\) image.*/\1/p; s/.*full image.*/0/p' | head -n 1
}
# parent_of FILE: the parent's file name readckpt shows, or nothing
parent_of() { "$RDR" "$1" 2>/dev/null | sed -n 's/^  parent  *\([^ ]*\) (id.*/\1/p' | head -n 1; }
# refused DESC FILE: exit 2, one stderr line "restorer: FILE: ...", no stdout
refused() {
	timeout 20 "$RST" "$2" >"$W/x.out" 2>"$W/x.err"
	rc=$?
	lines=$(wc -l <"$W/x.err")
	if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "^restorer: $2: " "$W/x.err" && [ ! -s "$W/x.out" ]; then
		ok "$1 ($(oneline "$W/x.err"))"
	else
		not_ok "$1: exit $rc, $lines stderr lines: $(oneline "$W/x.err") stdout: $(oneline "$W/x.out")"
	fi
}

# ---- A: chains of 1, 2, 10, and the middle of one ----
A=$W/a
run_sub "$A" CKPT_FULL_EVERY=100 LD_PRELOAD="$LIB" "$SUB" steps 10
rc=$?
if [ $rc -ne 0 ] || ! grep -q '^done' "$A/out" || [ "$(grep -c '^img ' "$A/out")" -ne 10 ]; then
	not_ok "A: the subject took 10 checkpoints (exit $rc): $(oneline "$A/out") $(oneline "$A/err")"
else
	ok "A: the subject took 10 incremental checkpoints"
	f10=$(file_of "$A" 10)
	d=$(depth_of "$A/img")
	if [ "$d" = 9 ] && [ -n "$f10" ] && [ "$A/img" -ef "$f10" ]; then
		ok "A: CKPT_FILE is a link to the newest image ($(basename "$f10")), depth 9"
	else
		not_ok "A: CKPT_FILE has depth '$d' (want 9), newest file '$f10'"
	fi
	restore_check "A: chain of 1 (the full image) restores checkpoint 1's memory" "$(file_of "$A" 1)" 1
	restore_check "A: chain of 2 restores checkpoint 2's memory" "$(file_of "$A" 2)" 2
	restore_check "A: a middle image (5 of 10) restores its memory (mremap, brk, MADV_DONTNEED before it)" \
		"$(file_of "$A" 5)" 5
	want=$(sum_of "$A" 10)
	[ $BRK -eq 1 ] && want=0000000000000bad
	restore_check "A: chain of 10 (CKPT_FILE) restores checkpoint 10's memory" "$A/img" 10 "$want"
	restore_check "A: the same chain restores a second time" "$A/img" 10
fi

# ---- B: missing and mismatched parents ----
if [ -n "${f10:-}" ]; then
	A2=$W/a2
	run_sub "$A2" CKPT_FULL_EVERY=100 LD_PRELOAD="$LIB" "$SUB" steps 4
	B=$W/b
	mkdir -p "$B"
	cp "$A"/img.* "$B"/
	f4=$(basename "$(file_of "$A" 4)")
	p4=$(parent_of "$B/$f4")
	rm -f "$B/$p4"
	refused "B: a missing parent is refused" "$B/$f4"
	o3=$(file_of "$A2" 3)
	if [ -n "$o3" ] && [ -n "$p4" ]; then
		cp "$o3" "$B/$p4"
		refused "B: a parent replaced by another image (same name and depth, other id) is refused" "$B/$f4"
	else
		not_ok "B: the second run made no image 3 to swap in: $(oneline "$A2/out") $(oneline "$A2/err")"
	fi
	cp "$A/$p4" "$B/$p4"
	restore_check "B: with its own parent back, the same image restores" "$B/$f4" 4 "$(sum_of "$A" 4)"
fi

# ---- C: size ----
C=$W/c
run_sub "$C" CKPT_FULL_EVERY=100 LD_PRELOAD="$LIB" "$SUB" big 64 100
full=$(stat -c %s "$(file_of "$C" 1)" 2>/dev/null || echo 0)
incr=$(stat -c %s "$(file_of "$C" 2)" 2>/dev/null || echo 0)
if [ "$full" -gt $((64 << 20)) ] && [ "$incr" -gt 0 ] && [ $((incr * 10)) -lt "$full" ]; then
	ok "C: 1% of 64 MiB written: incremental image $incr bytes, full $full ($((incr * 1000 / full))/1000)"
else
	not_ok "C: incremental image $incr bytes, full $full (want < 10%): $(oneline "$C/err")"
fi
restore_check "C: the incremental image restores" "$C/img" 2

# ---- D: CKPT_KEEP ----
D=$W/d
run_sub "$D" CKPT_FULL_EVERY=4 CKPT_KEEP=3 LD_PRELOAD="$LIB" "$SUB" steps 13
need=
for i in 11 12 13; do
	f=$(file_of "$D" $i)
	restore_check "D: CKPT_KEEP=3, 13 checkpoints: image $i is kept and restores" "$f" $i
	while [ -n "$f" ] && [ -f "$f" ]; do
		need="$need $(basename "$f")"
		p=$(parent_of "$f")
		[ -n "$p" ] || break
		f=$D/$p
		[ -f "$f" ] || { need="$need MISSING:$p"; break; }
	done
done
need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
have=$(cd "$D" && ls -A | grep -v '^out$\|^err$\|^img$' | sort -u | tr '\n' ' ')
if [ -n "$need" ] && [ "$need" = "$have" ]; then
	ok "D: exactly the files the kept images need are left: $have"
else
	not_ok "D: files needed: '$need'; files left: '$have'"
fi

# ---- E: CKPT_INTERVAL ----
E=$W/e
run_sub "$E" CKPT_FULL_EVERY=100 CKPT_INTERVAL=0.5 LD_PRELOAD="$LIB" "$SUB" spin 3.2
cnt=$(ls "$E" | grep -c '^img\.')
if [ "$cnt" -ge 4 ] && [ "$cnt" -le 8 ] && grep -q '^done' "$E/out"; then
	ok "E: CKPT_INTERVAL=0.5 over 3.2 s made $cnt images"
else
	not_ok "E: CKPT_INTERVAL=0.5 over 3.2 s made $cnt images (want 4..8): $(oneline "$E/out") $(oneline "$E/err")"
fi
timeout 20 "$RST" "$E/img" >"$W/r.out" 2>"$W/r.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^done' "$W/r.out"; then
	ok "E: the newest periodic image restores and runs to its end"
else
	not_ok "E: restoring the newest periodic image: exit $rc: $(oneline "$W/r.out") $(oneline "$W/r.err")"
fi

# ---- F: killed in the middle of a checkpoint ----
F=$W/f
mkdir -p "$F"
(cd "$F" && exec env CKPT_FILE="$F/img" CKPT_INCREMENTAL=1 CKPT_FULL_EVERY=100 LD_PRELOAD="$LIB" \
	"$SUB" kill "$F/go" >"$F/out" 2>"$F/err") &
spid=$!
pids="$pids $spid"
for _ in $(seq 1 300); do
	grep -q '^sent' "$F/out" 2>/dev/null && break
	sleep 0.02
done
# the subshell exec'ed env, which exec'ed the subject: $spid; its writer is its child
sub=$spid
wr=$(cat /proc/$sub/task/$sub/children 2>/dev/null)
tmpf=$(ls -A "$F" | grep -c '\.tmp\.')
if [ -n "$wr" ]; then
	kill -9 $wr "$sub" 2>/dev/null
	note "F: killed the subject and its writer $wr ($tmpf temp file(s) being written)"
else
	kill -9 "$sub" 2>/dev/null
	note "F: no writer left to kill: the checkpoint was complete already"
fi
wait "$spid" 2>/dev/null
timeout 20 "$RST" "$F/img" >"$W/r.out" 2>"$W/r.err"
rc=$?
ri=$(sed -n 's/^restored \([0-9]*\) .*/\1/p' "$W/r.out")
got=$(sed -n 's/^restored [0-9]* //p' "$W/r.out")
if [ $rc -eq 0 ] && [ -n "$ri" ] && [ "$got" = "$(sum_of "$F" "$ri")" ] && { [ "$ri" = 3 ] || { [ "$ri" = 4 ] && [ -z "$wr" ]; }; }; then
	ok "F: killed in the middle of checkpoint 4: CKPT_FILE restores checkpoint $ri's memory"
else
	not_ok "F: after the kill CKPT_FILE restores: exit $rc, '$(oneline "$W/r.out")' (want checkpoint 3): $(oneline "$W/r.err")"
fi
# the writer alone killed: that checkpoint fails, the program goes on, the next one restores
F2=$W/f2
mkdir -p "$F2"
(cd "$F2" && exec env CKPT_FILE="$F2/img" CKPT_INCREMENTAL=1 CKPT_FULL_EVERY=100 LD_PRELOAD="$LIB" \
	"$SUB" kill "$F2/go" >"$F2/out" 2>"$F2/err") &
spid=$!
pids="$pids $spid"
for _ in $(seq 1 300); do
	grep -q '^sent' "$F2/out" 2>/dev/null && break
	sleep 0.02
done
wr=$(cat /proc/$spid/task/$spid/children 2>/dev/null)
[ -n "$wr" ] && kill -9 $wr
restore_check "F: writer killed: CKPT_FILE still restores the last complete checkpoint" "$F2/img" 3
: >"$F2/go"
wait "$spid"
rc=$?
if [ $rc -eq 0 ] && grep -q '^img 5 ' "$F2/out"; then
	ok "F: writer killed: the program went on and took checkpoint 5"
	restore_check "F: writer killed: the next checkpoint restores" "$F2/img" 5
else
	not_ok "F: writer killed: the program exit $rc: $(oneline "$F2/out") $(oneline "$F2/err")"
fi

# ---- G: ckpt merge ----
if [ -x "$CKPT" ] && "$CKPT" --help 2>/dev/null | grep -q '^  merge'; then
	if [ -n "${f10:-}" ]; then
		G=$W/g
		mkdir -p "$G"
		"$CKPT" merge "$A/img" "$G/merged" >/dev/null 2>"$W/g.err"
		rc=$?
		if [ $rc -eq 0 ] && [ -f "$G/merged" ]; then
			ok "G: ckpt merge folded the chain of 10 into $(stat -c %s "$G/merged") bytes"
		else
			not_ok "G: ckpt merge: exit $rc: $(oneline "$W/g.err")"
		fi
		if "$RDR" "$G/merged" 2>&1 | grep -q 'full image'; then
			ok "G: readckpt calls the merged image a full image"
		else
			not_ok "G: readckpt on the merged image: $("$RDR" "$G/merged" 2>&1 | sed -n 4p)"
		fi
		m=$(stat -c %a "$G/merged" 2>/dev/null)
		if [ "$m" = 600 ] && [ -z "$(ls -A "$G" | grep -v '^merged$')" ]; then
			ok "G: the merged image is mode 0600 and nothing else is left beside it"
		else
			not_ok "G: merged image mode '$m', directory: $(ls -A "$G" | tr '\n' ' ')"
		fi
		mv "$G/merged" "$G/alone"	# alone: no parent beside it
		restore_check "G: the merged image alone restores checkpoint 10's memory" "$G/alone" 10 \
			"$(sum_of "$A" 10)"
		"$CKPT" merge "$(file_of "$A" 4)" "$G/m4" >/dev/null 2>&1
		restore_check "G: merging a middle image (4) restores checkpoint 4's memory" "$G/m4" 4 \
			"$(sum_of "$A" 4)"
		rm -f "$B/$p4"
		"$CKPT" merge "$B/$f4" "$G/m4b" 2>"$W/g.err"
		rc=$?
		if [ $rc -ne 0 ] && [ ! -e "$G/m4b" ] && [ -s "$W/g.err" ]; then
			ok "G: merge of a chain with a missing parent fails, writes nothing ($(oneline "$W/g.err"))"
		else
			not_ok "G: merge with a missing parent: exit $rc, output exists: $([ -e "$G/m4b" ] && echo yes)"
		fi
	fi
else
	note "G: ckpt has no merge command: not tested"
fi

finish
