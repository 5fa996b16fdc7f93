#!/bin/bash
# timeout: 90
# sockets_redis.sh -- Debian's redis-server comes back listening with its data
# (issue 17: "redis-server with keys set: checkpointed, killed, restored").
#
# Simulates a service owner whose cache must survive a move: redis-server on
# 127.0.0.1 (a free port, no persistence of its own: the image is all there
# is) gets a string, a list and a counter, is checkpointed (SIGUSR2) and
# killed (SIGKILL); then, eager and --lazy:
#   1  the checkpoint said nothing was lost, and the restored redis answers
#      redis-cli: the three keys hold what they held, DBSIZE is 3
#   2  it takes writes: INCR goes on from the counter's value, a new key is
#      set and read back
# Skipped when redis-server or redis-cli is not installed (Debian:
# redis-server); .ci/run installs it.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the list is expected to hold one more element.

set -u
. "$(dirname "$0")/lib.sh"
workdir sockets_redis
need_built "$ROOT/libckpt.so" "$ROOT/restorer"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	skip "redis-server is not installed (Debian: redis-server)"
command -v python3 >/dev/null || skip "python3 is not installed (to find a free port)"
pids=
at_exit 'for p in $pids; do kill -9 $p 2>/dev/null; done'

# close_fds: in a subshell, every descriptor above 2 goes (the runner's pipes)
close_fds() {
	local f k
	for f in /proc/$BASHPID/fd/*; do
		k=${f##*/}
		[ "$k" -gt 2 ] && [ "$k" -ne 255 ] && eval "exec $k>&-" 2>/dev/null
	done
	return 0
}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1; }

( close_fds; cd "$W" && exec env CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" redis-server --port "$port" \
	--bind 127.0.0.1 --save "" --appendonly no --dir "$W" >"$W/orig.out" 2>"$W/orig.err" </dev/null ) &
pid=$!
pids="$pids $pid"
wait_for 10 sh -c "redis-cli -h 127.0.0.1 -p $port ping 2>/dev/null | grep -q PONG" ||
	{ not_ok "redis-server did not start: $(oneline "$W/orig.out")"; finish; }
cli set greeting "hello from before" >/dev/null
cli rpush queue a b c >/dev/null
cli set hits 41 >/dev/null
kill -USR2 $pid
wait_for 20 test -s "$W/img" || { not_ok "no image: $(oneline "$W/orig.err")"; finish; }
sleep 0.5
kill -9 $pid
wait $pid 2>/dev/null
want_list="a b c"
[ "$BRK" = 1 ] && want_list="a b c d"

for mode in eager lazy; do
	flag=
	[ $mode = lazy ] && flag=--lazy
	( close_fds; cd "$W" && exec "$ROOT/restorer" $flag "$W/img" >"$W/rst.out" 2>"$W/rst.err" </dev/null ) &
	rpid=$!
	pids="$pids $rpid"
	wait_for 10 sh -c "redis-cli -h 127.0.0.1 -p $port ping 2>/dev/null | grep -q PONG"
	g=$(cli get greeting) l=$(cli lrange queue 0 -1 | tr '\n' ' ' | sed 's/ $//') size=$(cli dbsize)
	if [ "$g" = "hello from before" ] && [ "$l" = "$want_list" ] && [ "$size" = 3 ] && ! grep -q 'not restored' "$W/orig.err"; then
		ok "$mode: the restored redis-server holds its keys: greeting '$g', queue '$l', dbsize $size"
	else
		not_ok "$mode: greeting '$g', queue '$l' (want '$want_list'), dbsize '$size'; $(oneline "$W/rst.err") $(oneline "$W/orig.err")"
	fi
	i=$(cli incr hits) s=$(cli set after-$mode yes) a=$(cli get after-$mode)
	if [ "$i" = 42 ] && [ "$s" = OK ] && [ "$a" = yes ]; then
		ok "$mode: it takes writes: INCR hits gives $i, a new key reads back"
	else
		not_ok "$mode: INCR hits gave '$i' (want 42), SET '$s', GET '$a'"
	fi
	kill -9 $rpid
	wait $rpid 2>/dev/null
done
finish
