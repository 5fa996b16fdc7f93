#!/bin/sh
# job_make.sh -- `make -j2` building a small C project, checkpointed whole
# mid-build, killed, restored: the build completes and the program runs.
# timeout: 240
#
# Simulates a user whose build is interrupted: `ckpt run make -j2` over six
# source files that each take the compiler a while.  The job is make, the
# `cc` drivers it forked and their `cc1` compilers (the jobserver pipe, the
# stdin make gives its jobs, a pipe whose write end is closed everywhere, and
# cc1's half-written assembly files in /tmp among what they hold):
#   1  `ckpt dump` of make while two compilers run: a job of make and at
#      least two more processes
#   2  the whole job killed, restored eagerly: make finishes (exit 0), every
#      object is there, and the program prints the sum its parts give
#   3  the same from a second build, restored with --lazy
# Root and the ordinary user.  CKPT_TEST_BREAK=1: the program's expected sum
# is off by one.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer" "$ROOT/readckpt"
need_cc
command -v make >/dev/null || skip "no make"
command -v setsid >/dev/null || skip "no setsid"
workdir jobmake

N=6
mkdir "$W/src"
i=1
while [ $i -le $N ]; do
	# many small functions: enough work for cc1 to be caught running
	awk -v i=$i 'BEGIN {
		for (j = 0; j < 900; j++)
			printf "int f%d_%d(int x) { int s = x; for (int k = 0; k < %d; k++) s = s * 31 + k; return s; }\n", i, j, j + 3
		printf "int part%d(void) { return %d; }\n", i, i
	}' >"$W/src/p$i.c"
	i=$((i + 1))
done
{
	echo '#include <stdio.h>'
	i=1; while [ $i -le $N ]; do echo "int part$i(void);"; i=$((i + 1)); done
	printf 'int main(void) { printf("sum %%d\\n", 0'
	i=1; while [ $i -le $N ]; do printf ' + part%d()' $i; i=$((i + 1)); done
	printf '); return 0; }\n'
} >"$W/src/main.c"
cat >"$W/src/Makefile" <<'EOF'
OBJ = main.o p1.o p2.o p3.o p4.o p5.o p6.o
prog: $(OBJ)
	cc -o $@ $(OBJ)
%.o: %.c
	cc -O2 -c -o $@ $<
EOF
want=$((N * (N + 1) / 2))
[ "$BRK" -eq 1 ] && want=$((want + 1))

# build IMG: a fresh copy of the project in $W/b, `ckpt run make -j2` there
# in a session of its own, checkpointed once two compilers run; then killed
build() {
	rm -rf "$W/b" "$W/$1" "$W/.$1."*
	cp -r "$W/src" "$W/b"
	(cd "$W/b" && CKPT_FILE="$W/$1" exec setsid "$ROOT/ckpt" run make -j2 \
		>"$W/make.out" 2>"$W/make.err" </dev/null) &
	pgid=$!
	wait_for 30 sh -c "[ \$(pgrep -s $pgid -x cc1 | wc -l) -ge 2 ]" || return 1
	sleep 0.3
	"$ROOT/ckpt" dump "$pgid" >"$W/dump.out" 2>"$W/dump.err"
	rc=$?
	kill -9 "-$pgid"
	wait_for 10 sh -c "! pgrep -s $pgid >/dev/null"
	pgid=
	return $rc
}

# restore IMG [--lazy]: make finishes, the program is right
restore() {
	(cd "$W/b" && timeout 120 "$ROOT/restorer" $2 "$W/$1" >"$W/rst.out" 2>"$W/rst.err" </dev/null)
	rc=$?
	objs=$(ls "$W/b"/*.o 2>/dev/null | wc -l)
	got=$("$W/b/prog" 2>&1)
	if [ $rc -eq 0 ] && [ "$objs" -eq $((N + 1)) ] && [ "$got" = "sum $want" ]; then
		ok "restored ${2:-eagerly}: make -j2 finished (exit 0), $objs objects, the program says '$got'"
	else
		not_ok "restored ${2:-eagerly}: rc $rc, $objs objects, program '$got'; restorer: $(oneline "$W/rst.err")"
	fi
}

if build img; then
	"$ROOT/readckpt" "$W/img" >"$W/read.out" 2>&1
	procs=$(sed -n 's/^processes //p' "$W/read.out")
	if [ "${procs:-0}" -ge 3 ] && grep -q " make " "$W/read.out" && grep -q " cc1 " "$W/read.out"; then
		ok "dump of make -j2 mid-build: a job of $procs processes (make, cc, cc1)"
	else
		not_ok "dump of make: $procs processes: $(sed -n '5,14p' "$W/read.out" | tr '\n' '|')"
	fi
	restore img ""
else
	not_ok "dump of make -j2: rc ${rc:-none}: $(oneline "$W/dump.err"); make: $(oneline "$W/make.err")"
fi
if build img2; then
	restore img2 --lazy
else
	not_ok "second build's dump: rc ${rc:-none}: $(oneline "$W/dump.err")"
fi
finish
