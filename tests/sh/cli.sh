#!/bin/sh
# cli.sh -- the ckpt command, as installed by `make install`, used from elsewhere.
#
# Simulates a user who ran `make install PREFIX=...` and now works in some other
# directory with only PREFIX/bin on PATH: every ckpt subcommand on its success
# and failure paths, a program built against the installed ckpt.h with
# `pkg-config --cflags --libs ckpt` that calls ckpt_checkpoint(), and the
# installed manual pages.  Checks, for a failure: the documented exit status
# (1 failed, 2 usage error or refused image), exactly one line on stderr that
# starts with "ckpt: " (or "restorer: " for the restorer's own refusals), and
# nothing on stdout.  ckpt dump must never signal a process that does not catch
# its trigger signal: such a process must still be alive afterwards.
#
# Everything happens under a private temp dir (run both as root and as an
# ordinary user by tests/run.sh).  In the ordinary-user pass ROOT is a copy of
# the built tree without sources; there `make -o FILE` keeps make from trying
# to rebuild what was copied.
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail.

set -u
. "$(dirname "$0")/lib.sh"
workdir cli
W=$(cd "$W" && pwd -P)
P=$W/prefix			# the install PREFIX
HERE=$W/elsewhere		# the directory every command runs from
pids=
at_exit 'for p in $pids; do
	kill -CONT "$p" 2>/dev/null
	kill -KILL "$p" 2>/dev/null
done'

# CKPT_TEST_BREAK=1 (make check-break): success checks expect the wrong status
ok_rc=0
[ $BRK = 1 ] && ok_rc=1
check() {	# check DESC COND... -- ok if the command COND succeeds
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# ---- run_cmd CMD... -- run with stdout/stderr to $W/out, $W/err; $rc
run_cmd() {
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
}

# ---- expect_fail DESC STATUS PREFIX CMD... -- a clean one-line failure
expect_fail() {
	desc=$1
	want=$2
	prefix=$3
	shift 3
	run_cmd "$@"
	nl=$(wc -l <"$W/err")
	line=$(head -n 1 "$W/err")
	why=
	if [ "$rc" -ne "$want" ]; then
		why="exit $rc, want $want"
	elif [ -s "$W/out" ]; then
		why="wrote to stdout: $(oneline "$W/out")"
	elif [ "$nl" -ne 1 ]; then
		why="stderr has $nl lines: $(oneline "$W/err")"
	elif [ "${line#"$prefix"}" = "$line" ]; then
		why="stderr does not start with '$prefix': $line"
	fi
	if [ -z "$why" ]; then
		ok "$desc"
		note "  said: $line"
	else
		not_ok "$desc: $why"
	fi
}

# ---- expect_ok DESC CMD... -- exit 0, something on stdout, nothing on stderr
expect_ok() {
	desc=$1
	shift
	run_cmd "$@"
	if [ "$rc" -eq "$ok_rc" ] && [ -s "$W/out" ] && [ ! -s "$W/err" ]; then
		ok "$desc"
	else
		not_ok "$desc: exit $rc, stdout $(wc -c <"$W/out") bytes, stderr: $(oneline "$W/err")"
	fi
}

lines_at_least() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
end_process() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# catches_usr2 PID -- its SigCgt has SIGUSR2 (bit 11): libckpt's constructor ran
catches_usr2() {
	m=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$m" ] && [ $(( 0x$m & 0x800 )) -ne 0 ]
}

need_built "$ROOT/ckpt" "$ROOT/restorer" "$ROOT/readckpt" "$ROOT/libckpt.so" "$ROOT/demo" \
	"$ROOT/Makefile" "$ROOT/ckpt.pc.in" "$ROOT/include/ckpt.h"

# ---- make install ----
mk() {	# make in ROOT; without sources (the user-pass copy), rebuild nothing
	if [ -f "$ROOT/tools/ckpt/main.c" ]; then
		make -s -C "$ROOT" "$@"
	else
		make -s -C "$ROOT" -o ckpt -o restorer -o readckpt -o libckpt.so "$@"
	fi
}
if mk install PREFIX="$P" >"$W/make.out" 2>&1; then
	ok "make install PREFIX=$P"
else
	not_ok "make install PREFIX=$P: $(oneline "$W/make.out")"
	exit 1
fi
missing=
for f in bin/ckpt bin/restorer bin/readckpt lib/libckpt.so include/ckpt.h lib/pkgconfig/ckpt.pc \
	 share/man/man1/ckpt.1 share/man/man1/restorer.1 share/man/man1/readckpt.1 \
	 share/man/man3/libckpt.3 share/man/man5/ckpt-image.5; do
	[ -f "$P/$f" ] || missing="$missing $f"
done
for f in bin/ckpt bin/restorer bin/readckpt; do
	[ -x "$P/$f" ] || missing="$missing $f(not executable)"
done
check "installed: bin, lib, include, pkgconfig, man1/3/5${missing:+ -- missing:$missing}" [ -z "$missing" ]
check "ckpt.pc has prefix=$P" grep -qx "prefix=$P" "$P/lib/pkgconfig/ckpt.pc"

# DESTDIR stages under another root, with the final prefix inside ckpt.pc
if mk install DESTDIR="$W/stage" PREFIX=/opt/ckpt >"$W/make.out" 2>&1 &&
   [ -x "$W/stage/opt/ckpt/bin/ckpt" ] && [ -f "$W/stage/opt/ckpt/lib/libckpt.so" ] &&
   grep -qx "prefix=/opt/ckpt" "$W/stage/opt/ckpt/lib/pkgconfig/ckpt.pc"; then
	ok "make install DESTDIR=... PREFIX=/opt/ckpt stages under DESTDIR"
else
	not_ok "make install DESTDIR: $(oneline "$W/make.out") $(find "$W/stage" -type f 2>/dev/null | head -3 | tr '\n' ' ')"
fi

# ---- from another directory, the installed copy first on PATH ----
mkdir -p "$HERE" "$W/pbin" || exit 1
cp "$ROOT/demo" "$W/pbin/demo" || exit 1
cd "$HERE" || exit 1
PATH=$P/bin:$W/pbin:$PATH
export PATH
check "ckpt on PATH is the installed one" [ "$(command -v ckpt)" = "$P/bin/ckpt" ]

# --help and --version, everywhere
for c in "" run dump restore info check; do
	expect_ok "ckpt $c --help exits 0 on stdout" ckpt $c --help
	expect_ok "ckpt $c --version exits 0 on stdout" ckpt $c --version
done
expect_ok "ckpt help dump" ckpt help dump
grep -q "usage: ckpt dump" "$W/out" || not_ok "ckpt help dump: not dump's help: $(oneline "$W/out")"

# usage errors: status 2, one line, with a hint
expect_fail "no command: usage error" 2 "ckpt: " ckpt
expect_fail "unknown command: usage error" 2 "ckpt: " ckpt frobnicate
grep -q -- "--help" "$W/err" || not_ok "unknown command: no hint to --help: $(oneline "$W/err")"
expect_fail "unknown option before the command" 2 "ckpt: " ckpt --frob
for c in run dump restore info check; do
	expect_fail "ckpt $c --no-such-option: usage error" 2 "ckpt: " ckpt $c --no-such-option x
done
expect_fail "ckpt run without a program" 2 "ckpt: " ckpt run
expect_fail "ckpt run --signal KILL" 2 "ckpt: " ckpt run --signal KILL -- demo
expect_fail "ckpt run --signal BOGUS" 2 "ckpt: " ckpt run --signal BOGUS -- demo
expect_fail "ckpt run of a program not on PATH: 127" 127 "ckpt: " ckpt run -- no-such-program-here
expect_fail "ckpt dump without a pid" 2 "ckpt: " ckpt dump
expect_fail "ckpt dump abc" 2 "ckpt: " ckpt dump abc
expect_fail "ckpt dump --timeout x" 2 "ckpt: " ckpt dump --timeout x 1
expect_fail "ckpt info with two images" 2 "ckpt: " ckpt info a b
expect_fail "ckpt check with an argument" 2 "ckpt: " ckpt check extra

# ---- ckpt check ----
run_cmd ckpt check
missing=
for cap in fsgsbase xsave userfaultfd "write-protect" "write-protect async" pagemap_scan \
	   pr_set_mm_map cap_checkpoint_restore cap_sys_resource "time namespace" "user namespace"; do
	grep -Eq "^ *$cap +(yes|no) +[^ ]" "$W/out" || missing="$missing '$cap'"
done
if [ "$rc" -eq 0 ] && [ -z "$missing" ] && [ ! -s "$W/err" ]; then
	ok "ckpt check: one yes/no line with a reason per capability"
	sed 's/^/#   /' "$W/out"
else
	not_ok "ckpt check: exit $rc, lines missing:$missing; stderr: $(oneline "$W/err")"
fi

# ---- ckpt run: library, absolute CKPT_FILE, program from PATH ----
ckpt run --file job.img -- demo 100 40 >"$W/demo.out" 2>"$W/demo.err" </dev/null &
demo=$!
pids="$pids $demo"
if wait_for 5 lines_at_least "$W/demo.out" 3; then
	ok "ckpt run -- demo: demo found on PATH, counting"
else
	not_ok "ckpt run -- demo: no output in 5 s: $(oneline "$W/demo.err")"
fi
envf=$(tr '\0' '\n' <"/proc/$demo/environ" 2>/dev/null)
lib=$(readlink -f "$P/lib/libckpt.so")
check "ckpt run: CKPT_FILE made absolute ($HERE/job.img)" \
	sh -c 'printf "%s\n" "$1" | grep -qx "CKPT_FILE=$2"' - "$envf" "$HERE/job.img"
check "ckpt run: LD_PRELOAD is the installed library ($lib)" \
	sh -c 'printf "%s\n" "$1" | grep -qx "LD_PRELOAD=$2"' - "$envf" "$lib"
check "ckpt run: the process maps the installed libckpt.so" grep -q "$lib" "/proc/$demo/maps"
check "ckpt run --interval 0.2 writes images on its own" \
	sh -c 'ckpt run --interval 0.2 --file "$1" -- sleep 1 && test -s "$1"' - "$W/interval.img"

# ---- ckpt dump ----
run_cmd ckpt dump "$demo"
line=$(cat "$W/out")
if [ "$rc" -eq 0 ] && [ "${line#"$HERE/job.img: "}" != "$line" ] && [ -f job.img ] &&
   [ ! -s "$W/err" ]; then
	ok "ckpt dump PID: $line"
else
	not_ok "ckpt dump PID: exit $rc, stdout '$line', stderr $(oneline "$W/err")"
fi
check "the image has mode 0600" [ "$(stat -c %a job.img 2>/dev/null)" = 600 ]
ino1=$(stat -c %i job.img 2>/dev/null)
run_cmd ckpt dump --timeout 10 "$demo"
ino2=$(stat -c %i job.img 2>/dev/null)
check "a second ckpt dump waits for a new image (inode $ino1 -> $ino2; exit $rc $(oneline "$W/err"))" \
	[ "$rc" -eq 0 ] && [ -n "$ino2" ] && [ "$ino1" != "$ino2" ]
cp job.img kept.img
end_process "$demo"

# failures: no such process, no library (left alive), a failing checkpoint
expect_fail "ckpt dump of a pid that does not exist: 1" 1 "ckpt: " ckpt dump 99999999
sleep 30 &
plain=$!
pids="$pids $plain"
expect_fail "ckpt dump of a process without libckpt.so: 1" 1 "ckpt: " ckpt dump "$plain"
sleep 0.2
check "  ... and that process was not signalled (still alive)" alive "$plain"
end_process "$plain"

# sh asks to ignore SIGUSR2; libckpt keeps its trigger and gives sh its own view
# (it waits in open() of a FIFO nobody writes: a child, sleep, would be named
# by dump as not restored)
mkfifo "$W/never"
ckpt run --file "$W/ign.img" -- sh -c 'trap "" USR2; read x <"$0"' "$W/never" >/dev/null 2>&1 </dev/null &
ign=$!
pids="$pids $ign"
wait_for 5 catches_usr2 "$ign"
sleep 0.2
expect_ok "ckpt dump of a process that set SIGUSR2 to ignored: the library kept its trigger" ckpt dump "$ign"
check "  ... and it is still alive" alive "$ign"
end_process "$ign"

ckpt run --file /proc/no-such-dir-for-ckpt.img -- demo 100 40 >/dev/null 2>"$W/bad.err" </dev/null &
bad=$!
pids="$pids $bad"
wait_for 5 catches_usr2 "$bad"
expect_fail "ckpt dump when the checkpoint fails (no new image): 1" 1 "ckpt: " ckpt dump --timeout 10 "$bad"
check "  ... the program said why and kept running" \
	sh -c 'alive() { kill -0 "$1" && ! grep -q "^State:.*Z" /proc/$1/status; }; alive $1 && grep -q "^libckpt: " "$2"' - "$bad" "$W/bad.err"
end_process "$bad"

ckpt run --file stopped.img -- demo 100 40 >/dev/null 2>&1 </dev/null &
stp=$!
pids="$pids $stp"
wait_for 5 catches_usr2 "$stp"
kill -STOP "$stp"
expect_fail "ckpt dump --timeout 0.5 of a stopped process: 1, says so" 1 "ckpt: " ckpt dump --timeout 0.5 "$stp"
grep -q "stopped" "$W/err" || not_ok "timeout message does not say the process is stopped: $(oneline "$W/err")"
kill -CONT "$stp"
end_process "$stp"

# ---- ckpt info ----
run_cmd ckpt info kept.img
check "ckpt info IMAGE: readckpt's text" [ "$rc" -eq 0 ] && grep -q "^image kept.img" "$W/out" && grep -q "^regions" "$W/out"
run_cmd ckpt info --json kept.img
if [ "$rc" -ne 0 ] || [ -s "$W/err" ]; then
	not_ok "ckpt info --json: exit $rc: $(oneline "$W/err")"
elif command -v python3 >/dev/null 2>&1; then
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format_version"] >= 1 and d["file_size"] > 0, "header"
assert d["threads"] and d["threads"][0]["regs"]["rip"].startswith("0x"), "threads"
assert any(r["kind"] == "stack" for r in d["regions"]), "no stack region"
assert d["process"]["comm"] == "demo", d["process"]["comm"]
assert [f["fd"] for f in d["fds"]][:3] == [0, 1, 2], "fds"
' "$W/out" 2>"$W/py.err"; then
		ok "ckpt info --json: valid JSON with header, threads, process, regions"
	else
		not_ok "ckpt info --json: $(oneline "$W/py.err")"
	fi
else
	check "ckpt info --json: an object with regions (no python3 to parse it)" \
		sh -c 'head -c 1 "$1" | grep -q "{" && grep -q "\"regions\": \[" "$1"' - "$W/out"
fi
expect_fail "ckpt info of a missing image: 2" 2 "readckpt: " ckpt info nothere.img
expect_fail "ckpt info --json of a missing image: 2" 2 "ckpt: " ckpt info --json nothere.img
head -c 5000 kept.img >trunc.img
expect_fail "ckpt info --json of a truncated image: 2" 2 "ckpt: " ckpt info --json trunc.img

# ---- ckpt restore ----
timeout -k 1 20 ckpt restore kept.img >"$W/rst.out" 2>"$W/rst.err" </dev/null
rc=$?
last=$(tail -n 1 "$W/rst.out")
first=$(head -n 1 "$W/rst.out")
if [ "$rc" -eq 0 ] && [ "$last" = "count 100" ] && [ "$first" != "count 1" ]; then
	ok "ckpt restore IMAGE: the demo went on ($first .. $last)"
else
	not_ok "ckpt restore IMAGE: exit $rc, '$first' .. '$last'; stderr $(oneline "$W/rst.err")"
fi
expect_fail "ckpt restore of a missing image: 2 (restorer's refusal)" 2 "restorer: " ckpt restore nothere.img
expect_fail "ckpt restore of a truncated image: 2" 2 "restorer: " ckpt restore trunc.img
expect_fail "ckpt restore with two images: 2" 2 "ckpt: " ckpt restore a.img b.img
if restorer --help 2>&1 | grep -q -- "--lazy"; then
	ok "ckpt restore --lazy # SKIP the restorer supports --lazy now: not a refusal any more"
else
	expect_fail "ckpt restore --lazy before the restorer has it: 2" 2 "ckpt: " ckpt restore --lazy kept.img
fi

# ---- a program built against the installed header, with pkg-config ----
cat >"$W/api.c" <<'EOF'
#include <stdio.h>
#include <ckpt.h>

int main(void)
{
	int r = ckpt_checkpoint();

	if (r < 0) {
		perror("ckpt_checkpoint");
		return 1;
	}
	printf("%s r=%d restores=%lu\n", r ? "restored" : "saved", r, ckpt_restore_count());
	return 0;
}
EOF
if ! command -v pkg-config >/dev/null 2>&1; then
	ok "program built with pkg-config --cflags --libs ckpt # SKIP pkg-config is not installed (Debian: pkgconf)"
else
	# (pkg-config leaves a trailing space: let the shell split and join)
	# shellcheck disable=SC2046,SC2116
	flags=$(echo $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs ckpt 2>"$W/pc.err"))
	check "pkg-config --cflags --libs ckpt: $flags" \
		[ "$flags" = "-I$P/include -L$P/lib -lckpt" ]
	# shellcheck disable=SC2086
	if ${CC:-cc} -o "$W/api" "$W/api.c" $flags 2>"$W/cc.err"; then
		ok "cc api.c \$(pkg-config --cflags --libs ckpt)"
		run_cmd env LD_LIBRARY_PATH="$P/lib" CKPT_FILE="$HERE/api.img" "$W/api"
		check "the program's ckpt_checkpoint() wrote an image: $(cat "$W/out")" \
			[ "$rc" -eq 0 ] && [ "$(cat "$W/out")" = "saved r=0 restores=0" ] && [ -f api.img ]
		check "  ... and its image maps the installed library" \
			sh -c 'ckpt info "$1" | grep -q "$2"' - api.img "$lib"
		# (--close-unsupported, which ckpt passes on: a descriptor the harness
		# leaked to this script may be a pipe whose other end is not ours)
		timeout -k 1 10 ckpt restore --close-unsupported api.img >"$W/out" 2>"$W/err" </dev/null
		rc=$?
		check "  ... restored, ckpt_checkpoint() returns 1: $(cat "$W/out") $(oneline "$W/err")" \
			[ "$rc" -eq 0 ] && [ "$(cat "$W/out")" = "restored r=1 restores=1" ]
	else
		not_ok "cc api.c with the installed ckpt.h: $(oneline "$W/cc.err")"
	fi
fi

# ---- the manual pages ----
if ! command -v man >/dev/null 2>&1; then
	ok "man -l renders the pages # SKIP man is not installed (Debian: man-db)"
else
	for m in "$P"/share/man/man*/*; do
		name=${m##*/}
		MANWIDTH=80 man -l "$m" >"$W/out" 2>"$W/err"
		rc=$?
		check "man -l $name renders without a warning" \
			[ "$rc" -eq 0 ] && [ -s "$W/out" ] && [ ! -s "$W/err" ]
		[ -s "$W/err" ] && note "  $(oneline "$W/err")"
	done
	check "man finds ckpt(1) and libckpt(3) under PREFIX/share/man" \
		sh -c 'MANPATH=$1 man -w ckpt >/dev/null && MANPATH=$1 man -w 3 libckpt >/dev/null' - "$P/share/man"
fi
if command -v groff >/dev/null 2>&1; then
	bad=
	for m in "$P"/share/man/man*/*; do
		[ -z "$(groff -t -ww -man -z "$m" 2>&1)" ] || bad="$bad ${m##*/}"
	done
	check "groff -t -ww -man -z: no warning${bad:+ in$bad}" [ -z "$bad" ]
else
	ok "groff -ww # SKIP groff is not installed (Debian: groff-base)"
fi

# ---- make uninstall ----
mk uninstall PREFIX="$P" >"$W/make.out" 2>&1
left=$(find "$P" -type f | head -5 | tr '\n' ' ')
check "make uninstall removes every installed file${left:+ -- left: $left}" [ -z "$left" ]

finish
