#!/bin/sh
# compress.sh -- CKPT_COMPRESS=zstd: a compressed image, restored by `ckpt
# restore` eagerly and --lazy, refused by the restorer itself and when it is
# damaged (issue 20, "compression").
#
# Simulates a long job whose memory is mostly text-like records (they compress
# about 3:1) with some random bytes (they do not).  The program fills its
# memory, prints a checksum of it, checkpoints itself (raise(SIGUSR2)), then
# checks the checksum again and prints it with ckpt_restore_count().  Checks:
#   1  the image is compressed (ckpt info: "compressed zstd"), mode 0600,
#      its file at most 60% of the image it holds (48 MiB of records, 8 MiB
#      random); ckpt info --json agrees
#   2  `ckpt restore IMG`: the memory checksum is the same, restored once
#   3  `ckpt restore --lazy IMG`: the same
#   4  `restorer IMG` refuses it in one line naming `ckpt restore`, exit 2
#   5  a byte of a frame flipped: `ckpt restore` refuses in one line (frame
#      checksum), exit 2, the program not started
#      (readckpt, which unpacks no page data, still shows its tables)
#   6  the file cut short: refused in one line, exit 2
#   7  random memory only (32 MiB): frames stored as they are, the file no
#      bigger than the image + 1%; restored, same checksum
#   8  CKPT_COMPRESS=lz4: one line at start naming it; the image is written
#      uncompressed and restores
#   9  (root) the compressed image of another uid: `ckpt restore` as root
#      hands the restorer the unpacked image with the file's owner, and the
#      restorer refuses to run it as root; group-writable: refused
# Root and the ordinary user (9: root only).  CKPT_TEST_BREAK=1: the
# restores are expected to report a second restore.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/ckpt"
workdir compress

cat >"$W/fill.c" <<'EOF2'
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
static unsigned long long s = 88172645463325252ull;
static unsigned long long next(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static unsigned long long sum(const unsigned char *b, size_t n)
{
	unsigned long long h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}
int main(int argc, char **argv)
{
	static const char *w[] = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
				   "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi" };
	size_t text = (size_t)atoi(argv[1]) << 20, rnd = (size_t)atoi(argv[2]) << 20, i = 0;
	unsigned char *b = malloc(text + rnd + 64);
	unsigned long long before;

	if (!ckpt_restore_count) { puts("run it under libckpt.so"); return 3; }
	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	while (i < text) {			/* records: "name=number;name " */
		unsigned long long r = next();

		i += (size_t)sprintf((char *)b + i, "%s=%llu;%s ", w[r & 15], (r >> 8) % 1000000, w[(r >> 4) & 15]);
	}
	for (i = text; i < text + rnd; i += 8) {
		unsigned long long r = next();

		memcpy(b + i, &r, 8);
	}
	before = sum(b, text + rnd);
	printf("sum %llx\n", before);
	fflush(stdout);
	raise(SIGUSR2);
	printf("after: sum %s, restored %lu\n", sum(b, text + rnd) == before ? "same" : "CHANGED",
	       ckpt_restore_count());
	return 0;
}
EOF2
compile_or_fail "build the test program" cc -O2 -o "$W/fill" "$W/fill.c"

# run TEXT_MiB RANDOM_MiB [env...]: the program writes $W/img and goes on
run() {
	rm -f "$W/img"
	t=$1 r=$2
	shift 2
	(cd "$W" && timeout 60 env CKPT_FILE="$W/img" "$@" LD_PRELOAD="$ROOT/libckpt.so" "$W/fill" "$t" "$r" \
		>"$W/orig.out" 2>"$W/orig.err" </dev/null)
	rc=$?
}

want="after: sum same, restored 1"
[ "$BRK" -eq 1 ] && want="after: sum same, restored 2"

# restore DESC [--lazy]: `ckpt restore` of $W/img, its output $want
restore() {
	d=$1
	shift
	(cd "$W" && timeout 60 "$ROOT/ckpt" restore "$@" "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	got=$?
	if [ $got -eq 0 ] && [ "$(cat "$W/rst.out")" = "$want" ]; then
		ok "$d: $want"
	else
		not_ok "$d: exit $got, '$(oneline "$W/rst.out")' (want '$want'); stderr: $(oneline "$W/rst.err")"
	fi
}

# refused DESC TEXT CMD...: exit 2, one line holding TEXT, the program not run
refused() {
	d=$1 text=$2
	shift 2
	(cd "$W" && timeout 60 "$@" >"$W/ref.out" 2>"$W/ref.err" </dev/null)
	got=$?
	if [ $got -eq 2 ] && [ "$(lines "$W/ref.err")" -eq 1 ] && grep -q "$text" "$W/ref.err" && [ ! -s "$W/ref.out" ]; then
		ok "$d: $(oneline "$W/ref.err")"
	else
		not_ok "$d: exit $got; stderr: $(oneline "$W/ref.err"); stdout: $(oneline "$W/ref.out")"
	fi
}

# 1: the image
run 48 8 CKPT_COMPRESS=zstd
"$ROOT/ckpt" info "$W/img" >"$W/info" 2>&1
"$ROOT/ckpt" info --json "$W/img" >"$W/info.json" 2>&1
stored=$(stat -c %s "$W/img" 2>/dev/null || echo 0)
raw=$(sed -n 's/^  format .*, \([0-9]*\) bytes (tables.*/\1/p' "$W/info")
mode=$(stat -c %a "$W/img" 2>/dev/null)
if [ $rc -eq 0 ] && grep -q "^after: sum same, restored 0" "$W/orig.out" && [ -n "$raw" ] &&
   grep -q "^  compressed  zstd, $stored bytes in the file" "$W/info" && [ "$mode" = 600 ] &&
   [ $((stored * 100)) -le $((raw * 60)) ] && grep -q "\"stored_size\": $stored," "$W/info.json"; then
	ok "a compressed image: $stored bytes in the file for an image of $raw ($((stored * 100 / raw))%), mode 0600"
else
	not_ok "the image: program exit $rc ($(oneline "$W/orig.err")), mode $mode, $stored bytes for '$raw'; info: $(sed -n 2,3p "$W/info" | tr '\n' '|')"
fi

# 2, 3: restored
restore "ckpt restore of the compressed image"
restore "ckpt restore --lazy of the compressed image" --lazy

# 4: the restorer reads raw images only
refused "the restorer itself refuses a compressed image" "ckpt restore" "$ROOT/restorer" "$W/img"

# 5, 6: damaged
cp "$W/img" "$W/img.good"
size=$(stat -c %s "$W/img")
printf '\377' | dd of="$W/img" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$W/img" "$W/img.good" || printf '\000' | dd of="$W/img" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
refused "a frame's byte changed: refused" "frame [0-9]* checksum mismatch" "$ROOT/ckpt" restore "$W/img"
# readckpt reads no page data: it unpacks only the tables and the bytes
# after the pages, and so shows the image whose page frame is damaged
if "$ROOT/readckpt" "$W/img" >"$W/read" 2>&1 && grep -q "^  compressed  zstd" "$W/read" &&
   grep -q "^threads 1" "$W/read"; then
	ok "readckpt unpacks only what it shows: the tables of the damaged image, not its pages"
else
	not_ok "readckpt of the image with a damaged page frame: $(head -n 3 "$W/read" | tr '\n' '|')"
fi
cp "$W/img.good" "$W/img"
truncate -s $((size - 100)) "$W/img"
refused "the file cut short: refused" "compressed image: header out of range" "$ROOT/ckpt" restore "$W/img"

# 7: random memory: stored as it is
run 0 32 CKPT_COMPRESS=zstd
"$ROOT/ckpt" info "$W/img" >"$W/info" 2>&1
stored=$(stat -c %s "$W/img" 2>/dev/null || echo 0)
raw=$(sed -n 's/^  format .*, \([0-9]*\) bytes (tables.*/\1/p' "$W/info")
if [ $rc -eq 0 ] && [ -n "$raw" ] && grep -q "^  compressed  zstd" "$W/info" && [ "$stored" -ge $((raw * 9 / 10)) ] &&
   [ $((stored * 100)) -le $((raw * 101)) ]; then
	ok "random memory: $stored bytes in the file for an image of $raw"
else
	not_ok "random memory: program exit $rc, $stored bytes for '$raw'; info: $(sed -n 2,3p "$W/info" | tr '\n' '|')"
fi
restore "ckpt restore of the random memory's image"

# 8: a codec we do not have
run 4 0 CKPT_COMPRESS=lz4
if [ $rc -eq 0 ] && grep -q "CKPT_COMPRESS=lz4: not zstd" "$W/orig.err" && [ "$(lines "$W/orig.err")" -eq 1 ] &&
   "$ROOT/readckpt" "$W/img" >"$W/read" 2>&1 && ! grep -q "compressed" "$W/read"; then
	ok "CKPT_COMPRESS=lz4: said at start ($(oneline "$W/orig.err")), the image written uncompressed"
else
	not_ok "CKPT_COMPRESS=lz4: exit $rc; libckpt: $(oneline "$W/orig.err"); readckpt: $(sed -n 2,3p "$W/read" | tr '\n' '|')"
fi
restore "ckpt restore of the uncompressed image"

# 9: root and another uid's image
if [ "$(id -u)" -eq 0 ]; then
	run 4 0 CKPT_COMPRESS=zstd
	chown 4242:4242 "$W/img"
	refused "root, another uid's compressed image: the restorer sees its owner and refuses" \
		"belongs to uid 4242, not to you" "$ROOT/ckpt" restore "$W/img"
	chown 0:0 "$W/img"
	chmod 620 "$W/img"
	refused "root, a group-writable compressed image: refused" "writable by group or others" \
		"$ROOT/ckpt" restore "$W/img"
else
	note "12-13: root only (the root pass runs them)"
fi
finish
