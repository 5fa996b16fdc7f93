#!/bin/bash
# real_programs.sh -- programs nobody here wrote, checkpointed mid-work and
# restored, carry on as if nothing happened.
#
# Simulates a user checkpointing the interpreters they run every day (issue 4,
# "real programs"; node for issue 9): a python3 script, a perl script, a
# Node.js script (several threads, epoll) and a bash loop, each
# writing numbered lines to a file it holds open for appending and to its
# stdout, a pipe read by cat, while keeping a running sum of squares; and a bash
# script that, after the same loop, runs external commands: date, sleep, wc.
# Each is started with no descriptor above 2, gets SIGUSR2 from this script
# once it has written 10 lines, and is killed (SIGKILL) once the image is
# complete.  Bash installs a handler of its own for SIGUSR2 (as for every
# signal that terminates), which replaces libckpt's and then kills bash: the
# bash loop keeps the default trigger, as a user would, and fails while a
# program can take libckpt's trigger away; the bash script with external
# commands runs with CKPT_SIGNAL=40, a real-time signal bash leaves alone, so
# what happens after its restore is tested either way.  Then `restorer IMAGE | cat > out2` restores it: fd 1 of the
# restored program is the restorer's, a new pipe this script reads.
#
# Checks, per program: the restorer's status is the program's, 0; the restored
# output goes on from the checkpoint, c+1 .. 60, consecutively, where c is at
# least the lines seen before SIGUSR2 and at most the lines the original wrote
# before it was killed; it ends with "done" and the right sum (interpreter
# state intact); the file holds 1 .. k (the original run until the kill) then
# c+1 .. 60 (the restored run): lines c+1 .. k appear twice, which is expected,
# since the original wrote them after its checkpoint.  For the external
# commands: date prints a time between the start of the test and now, sleep
# exits 0, and wc counts the lines the file holds at the end.
#
# The interpreters are /usr/bin/python3, /usr/bin/perl, /usr/bin/node and /bin/bash, never
# the ones first on PATH (a pyenv shim under /root, which the ordinary-user pass
# cannot read).  A missing interpreter skips its program; all missing: exit 4.
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR, a private
# temp dir.  Output: `ok N desc` / `not ok N desc`, `# ...`.  Exit 0, 1, or 4.
# CKPT_TEST_BREAK=1: one check compares against a wrong sum and must fail.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
PY=/usr/bin/python3
PERL=/usr/bin/perl
NODE=/usr/bin/node
BASH_BIN=/bin/bash
workdir real_programs
LAST=60			# lines each program writes
AT=10			# lines seen before SIGUSR2
T0=$(date +%s)

ran=0
pid=
sig=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null'

need_built "$RST" "$LIB"

# ---- the programs: each writes "P i" to FILE and stdout, i = 1..LAST, one
# every 50 ms, keeping s = sum of i*i, then prints "P done s" and exits 0 ----
cat >"$W/count.py" <<'EOF'
import sys, time
path, last = sys.argv[1], int(sys.argv[2])
s = 0
with open(path, "a") as f:
    for i in range(1, last + 1):
        f.write("py %d\n" % i)
        f.flush()
        print("py %d" % i, flush=True)
        s += i * i
        time.sleep(0.05)
print("py done %d" % s, flush=True)
sys.exit(0)
EOF
cat >"$W/count.pl" <<'EOF'
use strict;
use warnings;
my ($path, $last) = @ARGV;
open(my $f, ">>", $path) or die "open $path: $!";
select((select($f), $| = 1)[0]);
$| = 1;
my $s = 0;
for my $i (1 .. $last) {
	print $f "pl $i\n";
	print "pl $i\n";
	$s += $i * $i;
	select(undef, undef, undef, 0.05);
}
print "pl done $s\n";
close($f);
exit 0;
EOF
# node: single-threaded JavaScript over libuv's threads (a pool for file
# I/O, V8's platform workers, one that blocks every signal it can).  Each line
# goes to the file through the pool (fs.write), then to stdout; the delay is
# a timer: epoll, eventfds and pipes all carry over (tests/sh/count.js)
# bash: the delay is `read -t` on a FIFO nobody writes (a builtin: the loop
# runs no child, so the checkpoint never lands in a wait for one).  MODE ext:
# after the loop, external commands.  LD_PRELOAD is for bash only.
cat >"$W/count.sh" <<'EOF'
unset LD_PRELOAD CKPT_FILE
path=$1 last=$2 fifo=$3 mode=$4
exec 3>>"$path" 4<>"$fifo"
s=0
for ((i = 1; i <= last; i++)); do
	echo "sh $i" >&3
	echo "sh $i"
	s=$((s + i * i))
	read -r -t 0.05 -u 4 _
done
echo "sh done $s"
if [ "$mode" = ext ]; then
	echo "ext date $(date +%s)"
	sleep 0.1
	echo "ext sleep $?"
	echo "ext wc $(wc -l <"$path")"
fi
exit 0
EOF
mkfifo "$W/sh.fifo" || { not_ok "mkfifo"; exit 1; }

# close_fds -- in a subshell: close every descriptor above 2 (not 255, bash's
# own script descriptor, which is close-on-exec)
close_fds() {
	local f k
	for f in /proc/$BASHPID/fd/*; do
		k=${f##*/}
		[ "$k" -gt 2 ] && [ "$k" -ne 255 ] && eval "exec $k>&-" 2>/dev/null
	done
	return 0
}

# run_one NAME PREFIX EXTRA_CHECKS CMD... -- the whole cycle for one program
run_one() {
	local name=$1 pre=$2 extra=$3 img out1 out2 file i seen k1 kf c rc first last good num w rest
	local st why sigcgt
	shift 3
	img=$W/$name.img
	file=$W/$name.file
	out1=$W/$name.out1
	out2=$W/$name.out2
	rm -f "$img" "$W/$name.pid"
	ran=$((ran + 1))

	# the original: no descriptor above 2, stdout a pipe into cat
	rm -f "$W/$name.status"
	(
		close_fds
		env LD_PRELOAD="$LIB" CKPT_FILE="$img" ${sig:+CKPT_SIGNAL=$sig} "$@" \
			2>"$W/$name.err1" </dev/null &
		echo "$!" >"$W/$name.pid"
		{ wait "$!"; } 2>/dev/null	# no "Killed" line: the kill is ours
		echo "$?" >"$W/$name.status"
	) | cat >"$out1" &
	for ((i = 0; i < 100; i++)); do
		[ -s "$W/$name.pid" ] && break
		sleep 0.05
	done
	pid=$(cat "$W/$name.pid" 2>/dev/null)
	for ((i = 0; i < 200; i++)); do
		[ "$(lines "$file")" -ge $AT ] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	seen=$(lines "$file")
	if [ "$seen" -lt $AT ]; then
		not_ok "$name: the original wrote $seen lines in 10 s: $(oneline "$W/$name.err1")"
		kill -9 "$pid" 2>/dev/null
		pid=
		wait
		return
	fi
	note "$name: pid $pid, fds: $(ls /proc/"$pid"/fd 2>/dev/null | tr '\n' ' ')"
	sigcgt=$(sed -n 's/^SigCgt:[[:space:]]*0*//p' /proc/"$pid"/status 2>/dev/null)
	kill -"${sig:-USR2}" "$pid"
	# libckpt's writer is a child of its own and may finish after the program:
	# once the program is gone, 2 s more
	local gone=0
	for ((i = 0; i < 200; i++)); do
		[ -e "$img" ] && break
		if [ $gone -eq 0 ] && ! kill -0 "$pid" 2>/dev/null; then
			gone=$i
		fi
		[ $gone -gt 0 ] && [ $i -gt $((gone + 40)) ] && break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait
	pid=
	if [ ! -e "$img" ]; then
		st=$(cat "$W/$name.status" 2>/dev/null)
		why=
		[ -n "$st" ] && [ "$st" -gt 128 ] && why=", killed by signal $((st - 128))"
		[ "$st" = $((128 + 12)) ] && why="$why: it replaced libckpt's SIGUSR2 handler with its own (SigCgt 0x$sigcgt)"
		not_ok "$name: no image after ${sig:-SIGUSR2}; the original ended with status ${st:-?}$why $(oneline "$W/$name.err1")"
		return
	fi
	k1=$(grep -c "^$pre [0-9]" "$out1")
	kf=$(lines "$file")

	# the restore: its stdout a pipe this script reads
	timeout -k 1 30 "$RST" "$img" 2>"$W/$name.err2" </dev/null | cat >"$out2"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		ok "$name: restored, exited 0"
	else
		not_ok "$name: restored, exited $rc: $(oneline "$W/$name.err2")"
	fi
	[ -s "$W/$name.err2" ] && note "$name: stderr after restore: $(oneline "$W/$name.err2")"

	# the restored output: "P c+1" .. "P LAST", "P done SUM"
	first= last= good=1
	while read -r w num rest; do
		[ "$w" = "$pre" ] || continue
		case $num in done) break ;; esac
		[ -n "$last" ] && [ "$num" -ne $((last + 1)) ] && good=0
		[ -n "$first" ] || first=$num
		last=$num
	done <"$out2"
	c=$((${first:-1} - 1))
	if [ "$good" -eq 1 ] && [ -n "$first" ] && [ "$last" -eq $LAST ] && [ "$c" -ge "$seen" ] &&
	   [ "$c" -le "$k1" ]; then
		ok "$name: the output goes on from the checkpoint: $first..$LAST (seen $seen before ${sig:-SIGUSR2}, $k1 before the kill)"
	else
		not_ok "$name: the restored output is not c+1..$LAST with $seen <= c <= $k1: $(oneline "$out2")"
	fi
	local sum=$((LAST * (LAST + 1) * (2 * LAST + 1) / 6))
	[ $BRK -eq 1 ] && sum=$((sum + 1))
	if grep -qx "$pre done $sum" "$out2"; then
		ok "$name: it finished with the right sum of squares ($sum): its state is intact"
	else
		not_ok "$name: no '$pre done $sum' line: $(grep done "$out2" | tr '\n' '|')"
	fi

	# the file: 1..kf, then c+1..LAST
	{
		for ((i = 1; i <= kf; i++)); do echo "$pre $i"; done
		for ((i = c + 1; i <= LAST; i++)); do echo "$pre $i"; done
	} >"$W/$name.expect"
	if cmp -s "$file" "$W/$name.expect"; then
		ok "$name: the file holds 1..$kf then $((c + 1))..$LAST (lines $((c + 1))..$kf twice: the original wrote them after its checkpoint)"
	else
		not_ok "$name: the file is not 1..$kf then $((c + 1))..$LAST"
		diff "$W/$name.expect" "$file" | head -n 10 | sed 's/^/# /'
	fi

	if [ "$extra" = ext ]; then
		local d now wcn
		d=$(sed -n 's/^ext date //p' "$out2")
		now=$(date +%s)
		if [ -n "$d" ] && [ "$d" -ge "$T0" ] && [ "$d" -le "$now" ]; then
			ok "$name: after restore, date ran and printed a time of this test ($d)"
		else
			not_ok "$name: after restore, date printed '${d}' (test ran $T0..$now)"
		fi
		if grep -qx "ext sleep 0" "$out2"; then
			ok "$name: after restore, sleep 0.1 ran and exited 0"
		else
			not_ok "$name: after restore, sleep: $(grep '^ext sleep' "$out2")"
		fi
		wcn=$(sed -n 's/^ext wc //p' "$out2")
		if [ "$wcn" = "$(lines "$file")" ]; then
			ok "$name: after restore, wc -l counted the file's $wcn lines"
		else
			not_ok "$name: after restore, wc -l said '$wcn', the file has $(lines "$file") lines"
		fi
	fi
}

if [ -x "$PY" ]; then
	run_one python3 py - "$PY" "$W/count.py" "$W/python3.file" $LAST
else
	note "no $PY: the python3 program is skipped"
fi
if [ -x "$PERL" ]; then
	run_one perl pl - "$PERL" "$W/count.pl" "$W/perl.file" $LAST
else
	note "no $PERL: the perl program is skipped"
fi
if [ -x "$NODE" ]; then
	run_one node js - "$NODE" "$ROOT/tests/sh/count.js" "$W/node.file" $LAST
else
	note "no $NODE: the node program is skipped (apt-get install nodejs)"
fi
if [ -x "$BASH_BIN" ]; then
	run_one bash-loop sh - "$BASH_BIN" "$W/count.sh" "$W/bash-loop.file" $LAST "$W/sh.fifo" loop
	# bash catches SIGUSR2 (as every terminating signal) with a handler of its
	# own, which then kills bash: this one checkpoints with a real-time signal
	# bash leaves alone, so the commands after restore are tested either way
	sig=40 run_one bash-ext sh ext "$BASH_BIN" "$W/count.sh" "$W/bash-ext.file" $LAST "$W/sh.fifo" ext
else
	note "no $BASH_BIN: the bash programs are skipped"
fi

[ "$ran" -gt 0 ] || skip "none of $PY, $PERL, $NODE, $BASH_BIN is installed"
finish
