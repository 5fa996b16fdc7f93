#!/bin/sh
# go_programs.sh -- Go programs, dynamically linked (issue 15): with cgo they
# checkpoint and restore, eager and lazy; without cgo they are refused up front.
#
# One Go program (standard library only) builds twice: with cgo (import "C",
# CGO_ENABLED=1) and without, linked by the system linker so that it is still
# dynamically linked (-ldflags=-linkmode=external: libc, ld.so, LD_PRELOAD
# works, but the Go runtime makes its own raw system calls).  It runs 16
# goroutines a round that build linked lists with deep recursion (stack
# growth, garbage collection), keeps them in a map under a mutex, and prints
# "round sum twice(round)" every 30 ms for 60 rounds.
#
# Checks: libckpt's trigger and stop handlers run on the thread's signal
# stack (SA_ONSTACK, as Go requires) and use at most 8 KiB of it (Go's are
# 32 KiB; the checkpoint itself runs on a stack of libckpt's own), measured
# with a C program.  The cgo build under ckpt run gets three `ckpt dump`s while it runs
# (the issue's crashes came after a checkpoint: libckpt's handler ran on a
# goroutine's 8 KiB stack) and still prints exactly what it prints without
# libckpt; its last image, restored eager and then --lazy, prints the rest of
# that output to the end; restored again and checkpointed while it runs, its
# new image restored (--lazy) does too.  The build without cgo: `ckpt run` exits 1 without
# starting it and says why in one line; started with LD_PRELOAD, libckpt
# says so at start in one line and `ckpt dump` refuses it in one line.
#
# GOCACHE and GOPATH live under the work dir; no network is needed (the
# standard library only).  Skips when go (Debian: golang-go), bash or gcc is
# missing.
# CKPT_TEST_BREAK=1: the restored output is compared with a wrong last line.

set -u
. "$(dirname "$0")/lib.sh"
CKPT=$ROOT/ckpt
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
pid=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null'

command -v go >/dev/null 2>&1 || skip "no go compiler (Debian: golang-go)"
command -v bash >/dev/null 2>&1 || skip "no bash"
need_cc gcc
need_built "$CKPT" "$RST" "$LIB"
workdir go_programs
export GOCACHE="$W/gocache" GOPATH="$W/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
WHY="a Go program without cgo, whose runtime sets its own signal handlers with raw system calls over libckpt's"

# no_fds CMD...: CMD with every descriptor above 2 closed, in the same
# process (the pid of a background no_fds is CMD's); bash, since dash takes
# a one-digit descriptor only in a redirection
no_fds() {
	exec bash -c 'for f in $(ls /proc/$$/fd); do [ "$f" -gt 2 ] && eval "exec $f>&-"; done; exec "$@"' \
		bash "$@"
}

mkdir "$W/cgo" "$W/nocgo" || exit 1
cat >"$W/nocgo/main.go" <<'EOF2'
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

type node struct {
	next *node
	val  []int
}

func deep(d int) int {
	var pad [64]int
	pad[d%64] = d
	if d == 0 {
		return pad[0]
	}
	return deep(d-1) + pad[d%64]
}

func main() {
	m := map[int]*node{}
	var mu sync.Mutex
	for n := 0; n < 60; n++ {
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				var l *node
				for k := 0; k < 200; k++ {
					l = &node{next: l, val: make([]int, 64)}
					l.val[0] = deep(k % 20)
				}
				mu.Lock()
				m[(n*16+g)%512] = l
				mu.Unlock()
			}(g)
		}
		wg.Wait()
		sum := 0
		for _, l := range m {
			for ; l != nil; l = l.next {
				sum += l.val[0]
			}
		}
		fmt.Printf("%d %d %d\n", n, sum, twice(n))
		time.Sleep(30 * time.Millisecond)
	}
	os.Exit(0)
}
EOF2
cp "$W/nocgo/main.go" "$W/cgo/main.go"
printf 'package main\n\nfunc twice(n int) int { return 2 * n }\n' >"$W/nocgo/twice.go"
printf 'package main\n\n// int twice(int x) { return 2 * x; }\nimport "C"\n\nfunc twice(n int) int { return int(C.twice(C.int(n))) }\n' >"$W/cgo/twice.go"
printf 'module goprog\n\ngo 1.19\n' >"$W/cgo/go.mod"
cp "$W/cgo/go.mod" "$W/nocgo/go.mod"
(cd "$W/cgo" && CGO_ENABLED=1 go build -o "$W/go_cgo" .) >"$W/build.err" 2>&1 ||
	{ not_ok "go build (cgo): $(oneline "$W/build.err")"; finish; }
(cd "$W/nocgo" && CGO_ENABLED=1 go build -ldflags=-linkmode=external -o "$W/go_nocgo" .) \
	>"$W/build.err" 2>&1 || { not_ok "go build (no cgo): $(oneline "$W/build.err")"; finish; }
for b in go_cgo go_nocgo; do
	if readelf -lW "$W/$b" | grep -q 'Requesting program interpreter'; then
		ok "$b is dynamically linked"
	else
		not_ok "$b is not dynamically linked: $(file "$W/$b")"
	fi
done

# ---- libckpt's handlers on the signal stack, and little of it (C) ----
# Go runs foreign handlers only on its signal stacks (SA_ONSTACK), 32 KiB
# each; a checkpoint needs more.  A C program with a 64 KiB sigaltstack filled
# with 0xAA on two threads triggers a checkpoint from its main thread (the
# worker takes the stop signal) and measures how much of each was written.
cat >"$W/altdepth.c" <<'EOF2'
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char alt_main[65536], alt_worker[65536];

static void set_alt(char *p)
{
	stack_t ss = { .ss_sp = p, .ss_size = 65536 };

	memset(p, 0xAA, 65536);
	sigaltstack(&ss, 0);
}

static size_t used(const char *p)
{
	size_t i = 0;

	while (i < 65536 && (unsigned char)p[i] == 0xAA)
		i++;
	return 65536 - i;
}

static void *worker(void *arg)
{
	set_alt(alt_worker);
	for (;;)
		pause();
	return arg;
}

int main(void)
{
	pthread_t t;

	set_alt(alt_main);
	pthread_create(&t, 0, worker, 0);
	usleep(200000);
	raise(SIGUSR2);
	usleep(500000);
	printf("%zu %zu\n", used(alt_main), used(alt_worker));
	return 0;
}
EOF2
compile_or_fail "cc altdepth.c" gcc -O2 -pthread -o "$W/altdepth" "$W/altdepth.c"
LD_PRELOAD=$LIB CKPT_FILE=$W/img0 "$W/altdepth" >"$W/alt.out" 2>"$W/alt.err" </dev/null
read -r trig stop <"$W/alt.out"
lim=8192
[ "$BRK" = 1 ] && lim=1
if [ -s "$W/img0" ] && [ "${trig:-0}" -gt 0 ] && [ "$trig" -le $lim ] && [ "${stop:-0}" -gt 0 ] &&
   [ "$stop" -le $lim ]; then
	ok "handlers on the sigaltstack, trigger $trig bytes, stop $stop bytes (at most $lim)"
else
	not_ok "sigaltstack used by the trigger '${trig:-}' and the stop handler '${stop:-}' bytes, want 1..$lim, image $(ls "$W/img0" 2>&1); stderr: $(oneline "$W/alt.err")"
fi

# ---- cgo: three checkpoints while it runs, then its last image restored ----
"$W/go_cgo" >"$W/ref.out" 2>"$W/ref.err" || { not_ok "go_cgo alone: $(oneline "$W/ref.err")"; finish; }
# started with no descriptor above 2: the restorer refuses what it cannot reopen
no_fds "$CKPT" run -f "$W/img" "$W/go_cgo" >"$W/run.out" 2>"$W/run.err" </dev/null &
pid=$!
dumps=0
for i in 1 2 3; do
	wait_for 20 sh -c "[ \$(cat '$W/run.out' 2>/dev/null | wc -l) -ge $((i * 10)) ]" || break
	"$CKPT" dump "$pid" >"$W/dump.out" 2>"$W/dump.err" || break
	dumps=$i
	cp "$W/img" "$W/img.last"
done
[ "$dumps" -eq 3 ] && ok "ckpt dump of the cgo build, 3 times" ||
	not_ok "ckpt dump of the cgo build: $dumps of 3: $(oneline "$W/dump.err") $(oneline "$W/run.err")"
wait "$pid"
st=$?
pid=
if [ "$st" -eq 0 ] && cmp -s "$W/run.out" "$W/ref.out"; then
	ok "the cgo build ran on after its checkpoints, output unchanged ($(lines "$W/run.out") lines)"
else
	not_ok "the cgo build after its checkpoints: status $st, $(lines "$W/run.out") lines; stderr: $(oneline "$W/run.err")"
fi
want_last=$(tail -n 1 "$W/ref.out")
[ "$BRK" = 1 ] && want_last="59 0 0"
# check_rest MODE DESC: rst.out (status $st) is the rest of ref.out, to its end
check_rest() {
	first=$(head -n 1 "$W/rst.out")
	# the rest of the reference output, from the restored program's first line
	awk -v f="$first" 'found || $0 == f { found = 1; print }' "$W/ref.out" >"$W/rst.want"
	if [ "$st" -eq 0 ] && [ -s "$W/rst.out" ] && cmp -s "$W/rst.out" "$W/rst.want" &&
	   [ "$(tail -n 1 "$W/rst.out")" = "$want_last" ]; then
		ok "$1: $(lines "$W/rst.out") lines from '$first' to '$want_last'"
	else
		not_ok "$1: status $st, first '$first', last '$(tail -n 1 "$W/rst.out")', want last '$want_last'; stderr: $(oneline "$W/rst.err")"
	fi
}
for mode in eager lazy; do
	opt=
	[ "$mode" = lazy ] && opt=--lazy
	(cd "$W" && timeout 60 "$RST" $opt img.last) >"$W/rst.out" 2>"$W/rst.err"
	st=$?
	check_rest "cgo build restored ($mode)"
done

# ---- a restored one checkpointed again (into img), and that image restored ----
rm -f "$W/img"
(cd "$W" && no_fds timeout 60 "$RST" img.last) >"$W/rst1.out" 2>"$W/rst1.err" </dev/null &
pid=$!
wait_for 20 sh -c "[ \$(cat '$W/rst1.out' 2>/dev/null | wc -l) -ge 3 ]"
# the restorer is the restored program (timeout's child): dump that pid
rpid=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | tr -d ' ')
"$CKPT" dump "${rpid:-$pid}" >"$W/dump3.out" 2>"$W/dump3.err"
dst=$?
wait "$pid"
pid=
(cd "$W" && timeout 60 "$RST" --lazy img) >"$W/rst.out" 2>"$W/rst.err"
st=$?
[ "$dst" -eq 0 ] || not_ok "ckpt dump of the restored cgo build: $(oneline "$W/dump3.err")"
check_rest "cgo build restored, checkpointed again, restored (lazy)"

# ---- no cgo: refused in one line, at run, at start and at dump ----
"$CKPT" run -f "$W/img2" "$W/go_nocgo" >"$W/run2.out" 2>"$W/run2.err" </dev/null
st=$?
if [ "$st" -eq 1 ] && [ ! -s "$W/run2.out" ] && [ "$(lines "$W/run2.err")" -eq 1 ] &&
   grep -qF "$WHY" "$W/run2.err"; then
	ok "ckpt run refuses the build without cgo: $(oneline "$W/run2.err")"
else
	not_ok "ckpt run of the build without cgo: status $st, $(lines "$W/run2.out") lines out; stderr: $(oneline "$W/run2.err")"
fi
LD_PRELOAD=$LIB CKPT_FILE=$W/img2 "$W/go_nocgo" >"$W/pre.out" 2>"$W/pre.err" </dev/null &
pid=$!
wait_for 20 sh -c "[ \$(cat '$W/pre.out' 2>/dev/null | wc -l) -ge 5 ]"
"$CKPT" dump "$pid" >"$W/dump2.out" 2>"$W/dump2.err"
st=$?
if [ "$st" -eq 1 ] && [ "$(lines "$W/dump2.err")" -eq 1 ] && grep -qF "$WHY" "$W/dump2.err" &&
   [ ! -e "$W/img2" ]; then
	ok "ckpt dump refuses the build without cgo: $(oneline "$W/dump2.err")"
else
	not_ok "ckpt dump of the build without cgo: status $st; stderr: $(oneline "$W/dump2.err")"
fi
wait "$pid"
st=$?
pid=
if [ "$st" -eq 0 ] && cmp -s "$W/pre.out" "$W/ref.out" && [ "$(lines "$W/pre.err")" -eq 1 ] &&
   grep -qF "libckpt: this is $WHY" "$W/pre.err"; then
	ok "libckpt says so once at start and the program runs on: $(oneline "$W/pre.err")"
else
	not_ok "the build without cgo under LD_PRELOAD: status $st, $(lines "$W/pre.out") lines; stderr: $(oneline "$W/pre.err")"
fi
finish
