#!/bin/sh
# vdso_redirect.sh -- an image restores on a kernel whose vDSO is not its own.
#
# This machine has one kernel, so the other-kernel path is forced: a program
# that reads the time through glibc (clock_gettime REALTIME and MONOTONIC,
# gettimeofday, time(): glibc keeps the vDSO addresses it resolved at start-up)
# checkpoints itself; `imgedit vdso-differ` makes the vDSO the image carries
# another kernel's (a byte of its padding, which no code reads, changes, and
# vdso_crc with it), so it no longer matches this kernel's.
#   A  the image stores the vDSO's bytes (readckpt says so); `ckpt check`
#      says its vDSO will be redirected
#   B  restored, eagerly and with --lazy: the restorer says (-v) it redirected
#      the old vDSO's functions to this kernel's vDSO; the program's clock
#      calls agree with the raw system calls; the page at its old vDSO
#      address (AT_SYSINFO_EHDR) is not this kernel's [vdso] any more, which
#      sits elsewhere
#   C  the same image without the stored bytes (an image from before they
#      were stored): restores while its vDSO is this kernel's; once it is not,
#      refused, exit 2, one line saying the image predates them (`ckpt
#      check` says it does not restore, exit 1)
#   D  a thread stopped inside the old vDSO (its saved rip), or interrupted
#      there by the checkpoint's signal (sig_rip, which the image records):
#      refused, exit 2, one line
#   E  an incremental image (depth 1), and the one `ckpt merge` makes of its
#      chain, redirected the same way (each carries the newest vDSO bytes)
#   F  the redirected image with its clocks 10 days ahead of this boot's: the
#      restorer continues them in a time namespace (whose vvar pages move to
#      the gap with the vDSO); the clocks still agree with the system calls
#   G  crafted vDSO bytes (their crc fixed: imgedit vdso-craft): a huge
#      program header count, DT_SYMTAB past the end, a huge DT_STRSZ, a huge
#      DT_HASH count, a function's name outside the strings, a function with
#      no room for its jump: each refused, exit 2, one line; a vDSO whose only
#      symbol count is DT_GNU_HASH's: redirected, and the clocks agree
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the program shifts its CLOCK_REALTIME reading by 2 s.

set -u
. "$(dirname "$0")/lib.sh"
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/ckpt" "$ROOT/tests/bin/imgedit"
workdir vdso_redirect
ED=$ROOT/tests/bin/imgedit

cat >"$W/clocks.c" <<'EOF2'
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
extern unsigned long ckpt_restore_count(void) __attribute__((weak));
#define MS 1000000ll
static int bad;

static void agree(const char *what, long long got, long long want, long long tol)
{
	int good = got - want > -tol && got - want < tol;

	printf("%s %s (%lld, syscall %lld)\n", what, good ? "agrees" : "DIFFERS", got, want);
	bad |= !good;
}

static long long ns(struct timespec t)
{
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* the /proc/self/maps line holding addr: its start and name ("-": none);
 * and where [vdso] is */
static void maps(unsigned long addr, unsigned long *start, char *name, size_t cap, unsigned long *vdso)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	snprintf(name, cap, "?");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		char path[256] = "-";

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, path) < 2)
			continue;
		if (addr >= s && addr < e) {
			*start = s;
			snprintf(name, cap, "%s", path);
		}
		if (!strcmp(path, "[vdso]"))
			*vdso = s;
	}
	if (f)
		fclose(f);
}

/* a runner's stray pipe is not ours (libckpt's own descriptors stay) */
static void close_stray_pipes(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[64], to[64];

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t n;

		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, to, sizeof to - 1);
		if (fd > 2 && fd != dirfd(d) && n > 5 && !strncmp(to, "pipe:", 5))
			close(fd);
	}
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	int times = argc > 1 ? atoi(argv[1]) : 1;	/* checkpoints, a second apart */
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR), start = 0, vdso = 0;
	const char *brk = getenv("CKPT_TEST_BREAK");
	long long shift = brk && *brk && strcmp(brk, "0") ? 2000 * MS : 0;
	struct timespec v, s;
	struct timeval tv, stv;
	char name[256];
	long t, st;

	if (!ckpt_restore_count) {
		puts("not under libckpt.so");
		return 3;
	}
	close_stray_pipes();
	clock_gettime(CLOCK_MONOTONIC, &v);
	for (int i = 0; i < times && !ckpt_restore_count(); i++) {
		raise(SIGUSR2);			/* the checkpoint: this thread is in raise, not in the vDSO */
		if (!ckpt_restore_count())
			sleep(1);		/* the writer finishes */
	}
	if (!ckpt_restore_count()) {
		puts("ran");
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &v);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &s);
	agree("clock_gettime(CLOCK_REALTIME)", ns(v) - shift, ns(s), 100 * MS);
	clock_gettime(CLOCK_MONOTONIC, &v);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
	agree("clock_gettime(CLOCK_MONOTONIC)", ns(v), ns(s), 100 * MS);
	gettimeofday(&tv, NULL);
	syscall(SYS_gettimeofday, &stv, NULL);
	agree("gettimeofday", tv.tv_sec * 1000000ll + tv.tv_usec, stv.tv_sec * 1000000ll + stv.tv_usec, 100000);
	t = time(NULL);
	st = syscall(SYS_time, NULL);
	agree("time", t, st, 2);
	maps(ehdr, &start, name, sizeof name, &vdso);
	printf("old-vDSO 0x%lx mapping %s from 0x%lx vdso 0x%lx\n", ehdr, name, start, vdso);
	puts(bad ? "restored: clocks differ" : "restored: clocks agree");
	return bad;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -o "$W/clocks" "$W/clocks.c"

under_libckpt ./clocks
if [ "$rc" -ne 0 ] || [ ! -s "$W/img" ]; then
	not_ok "checkpoint: exit $rc, out: $(oneline "$W/orig.out") err: $(oneline "$W/orig.err")"
	finish
fi
ehdr_line() { grep "^old-vDSO" "$1"; }

# ---- A: the vDSO's bytes are in the image ----
if "$ROOT/readckpt" "$W/img" | grep -q "^  vdso .*its bytes stored at"; then
	ok "A: readckpt: the image stores the vDSO's bytes"
else
	not_ok "A: readckpt: $("$ROOT/readckpt" "$W/img" 2>&1 | grep '^  vdso' | tr '\n' '|')"
fi
cp "$W/img" "$W/old.img"
if ! "$ED" "$W/img" vdso-differ 2>"$W/ed.err"; then
	not_ok "imgedit vdso-differ: $(oneline "$W/ed.err")"
	finish
fi

"$ROOT/ckpt" check "$W/img" >"$W/check.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "vDSO: kernel .*, not this kernel's: the restorer redirects" "$W/check.out"; then
	ok "A: ckpt check says the vDSO will be redirected"
else
	not_ok "A: ckpt check: exit $rc: $(oneline "$W/check.out")"
fi

# ---- B: restored through the redirect, eager and lazy ----
for mode in eager lazy; do
	opt=
	[ $mode = lazy ] && opt=--lazy
	(cd "$W" && timeout 30 "$ROOT/restorer" -v $opt "$W/img") >"$W/$mode.out" 2>"$W/$mode.err"
	rc=$?
	line=$(grep "vDSO of kernel .* redirected" "$W/$mode.err")
	if [ -n "$line" ] && grep -q "redirected to this one's at 0x[0-9a-f]*: [1-9][0-9]* functions" "$W/$mode.err"; then
		ok "B $mode: the restorer took the redirect path: ${line#restorer: }"
	else
		not_ok "B $mode: no redirect line (exit $rc): $(oneline "$W/$mode.err")"
	fi
	if [ $rc -eq 0 ] && grep -q "^restored: clocks agree" "$W/$mode.out" &&
	   [ "$(grep -c " agrees (" "$W/$mode.out")" -eq 4 ]; then
		ok "B $mode: clock_gettime (REALTIME, MONOTONIC), gettimeofday, time agree with the system calls"
	else
		not_ok "B $mode: exit $rc: $(oneline "$W/$mode.out") err: $(oneline "$W/$mode.err")"
	fi
	# "old-vDSO AT_SYSINFO_EHDR mapping NAME-OF-ITS-MAPPING from ITS-START vdso WHERE-[vdso]-IS"
	set -- $(ehdr_line "$W/$mode.out")
	if [ $# -eq 8 ] && [ "$4" != "[vdso]" ] && [ "$6" = "$2" ] && [ "$8" != "0x0" ] && [ "$8" != "$2" ]; then
		ok "B $mode: the old vDSO address $2 holds the redirect, not [vdso]; this kernel's [vdso] is at $8"
	else
		not_ok "B $mode: $(ehdr_line "$W/$mode.out")"
	fi
done

# ---- C: an image from before the bytes were stored ----
cp "$W/old.img" "$W/unstored.img"
"$ED" "$W/unstored.img" vdso-unstore 2>"$W/ed.err" || not_ok "imgedit vdso-unstore: $(oneline "$W/ed.err")"
(cd "$W" && timeout 30 "$ROOT/restorer" "$W/unstored.img") >"$W/c.out" 2>"$W/c.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^restored: clocks agree" "$W/c.out"; then
	ok "C: without stored bytes, on its own kernel: restores"
else
	not_ok "C: without stored bytes, on its own kernel: exit $rc: $(oneline "$W/c.out") $(oneline "$W/c.err")"
fi
"$ED" "$W/unstored.img" set-hdr vdso_crc $(( $("$ED" "$W/unstored.img" get-hdr vdso_crc) ^ 1 ))
(cd "$W" && timeout 30 "$ROOT/restorer" "$W/unstored.img") >"$W/c2.out" 2>"$W/c2.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(lines "$W/c2.err")" -eq 1 ] && [ ! -s "$W/c2.out" ] &&
   grep -q "vDSO differs from this kernel's .*predates stored vDSO bytes" "$W/c2.err"; then
	ok "C: without stored bytes, another kernel's vDSO: refused: $(cat "$W/c2.err")"
else
	not_ok "C: without stored bytes, another kernel's vDSO: exit $rc: $(oneline "$W/c2.err")"
fi
"$ROOT/ckpt" check "$W/unstored.img" >"$W/check.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "does not restore on this kernel: its vDSO" "$W/check.out"; then
	ok "C: ckpt check says so too (exit 1)"
else
	not_ok "C: ckpt check: exit $rc: $(oneline "$W/check.out")"
fi

# ---- D: a thread stopped inside the old vDSO, or its signal came there ----
vdso_at=$("$ED" "$W/img" vmas | awk '$4 == 7 { print $2 }')	# CKPT_VMA_VDSO
if "$ROOT/readckpt" "$W/img" | grep -q "^    signal at  0x"; then
	ok "D: the image records where the checkpoint's signal interrupted the program"
else
	not_ok "D: readckpt shows no 'signal at' line for the thread that raised the signal"
fi
for field in rip sig_rip; do
	cp "$W/img" "$W/inside.img"
	"$ED" "$W/inside.img" set-thread 0 $field $((vdso_at + 16))
	(cd "$W" && timeout 30 "$ROOT/restorer" "$W/inside.img") >"$W/d.out" 2>"$W/d.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(lines "$W/d.err")" -eq 1 ] && grep -q "was inside the vDSO at the checkpoint" "$W/d.err"; then
		ok "D: $field inside the old vDSO: refused: $(cat "$W/d.err")"
	else
		not_ok "D: $field inside the old vDSO: exit $rc: $(oneline "$W/d.err")"
	fi
done

# ---- E: an incremental image, and the image ckpt merge makes of its chain ----
mkdir "$W/inc"
(cd "$W/inc" && CKPT_FILE="$W/inc/img" CKPT_INCREMENTAL=1 timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" "$W/clocks" 2) \
	>"$W/inc.out" 2>"$W/inc.err"
if [ "$("$ED" "$W/inc/img" get-hdr depth 2>/dev/null)" = 1 ] &&
   "$ROOT/ckpt" merge "$W/inc/img" "$W/merged.img" >"$W/merge.out" 2>&1; then
	for im in "$W/inc/img" "$W/merged.img"; do
		name=incremental
		[ "$im" = "$W/merged.img" ] && name=merged
		"$ED" "$im" vdso-differ
		(cd "$W" && timeout 30 "$ROOT/restorer" -v "$im") >"$W/f.out" 2>"$W/f.err"
		rc=$?
		if [ $rc -eq 0 ] && grep -q "^restored: clocks agree" "$W/f.out" && grep -q "redirected to this one's" "$W/f.err"; then
			ok "E: $name image: the vDSO redirected, clocks agree"
		else
			not_ok "E: $name image: exit $rc: $(oneline "$W/f.out") err: $(oneline "$W/f.err")"
		fi
	done
else
	not_ok "E: no incremental image of depth 1, or ckpt merge failed: $(oneline "$W/inc.err") $(oneline "$W/merge.out")"
fi

# ---- F: and with the clocks continued in a time namespace (10 days ahead) ----
cp "$W/img" "$W/ahead.img"
for f in clock_mono_ns clock_boot_ns; do
	"$ED" "$W/ahead.img" set-hdr $f $(( $("$ED" "$W/ahead.img" get-hdr $f) + 864000000000000 ))
done
(cd "$W" && timeout 30 "$ROOT/restorer" -v "$W/ahead.img") >"$W/g.out" 2>"$W/g.err"
rc=$?
how=$(grep -o "clocks: monotonic and boottime continue\|clocks not continued" "$W/g.err")
if [ $rc -eq 0 ] && grep -q "^restored: clocks agree" "$W/g.out" && grep -q "redirected to this one's" "$W/g.err"; then
	ok "F: 10 days ahead (${how:-?}), the vDSO redirected: the clocks agree with the system calls"
else
	not_ok "F: 10 days ahead: exit $rc: $(oneline "$W/g.out") err: $(oneline "$W/g.err")"
fi

# ---- G: crafted vDSO bytes (vdso_crc matching them) ----
for what in phnum symtab strsz nchain name tail; do
	cp "$W/old.img" "$W/e.img"
	"$ED" "$W/e.img" vdso-craft $what 2>"$W/ed.err" || { not_ok "G: imgedit vdso-craft $what: $(oneline "$W/ed.err")"; continue; }
	(cd "$W" && timeout 30 "$ROOT/restorer" "$W/e.img") >"$W/e.out" 2>"$W/e.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(lines "$W/e.err")" -eq 1 ] && [ ! -s "$W/e.out" ] && grep -q "vDSO" "$W/e.err"; then
		ok "G: crafted vDSO ($what): refused: $(sed 's/.*img: //' "$W/e.err")"
	else
		not_ok "G: crafted vDSO ($what): exit $rc: $(oneline "$W/e.err") out: $(oneline "$W/e.out")"
	fi
done
cp "$W/old.img" "$W/e.img"
"$ED" "$W/e.img" vdso-craft gnu-hash
(cd "$W" && timeout 30 "$ROOT/restorer" -v "$W/e.img") >"$W/e.out" 2>"$W/e.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^restored: clocks agree" "$W/e.out" && grep -q "redirected .*: [1-9][0-9]* functions" "$W/e.err"; then
	ok "G: a vDSO without DT_HASH (symbols counted from DT_GNU_HASH): redirected, clocks agree"
else
	not_ok "G: a vDSO without DT_HASH: exit $rc: $(oneline "$W/e.out") err: $(oneline "$W/e.err")"
fi
finish
