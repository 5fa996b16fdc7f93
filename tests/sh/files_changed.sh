#!/bin/sh
# files_changed.sh -- what the restorer does when the world changed after the
# checkpoint: files, the cwd, limits, descriptors it cannot make, stdio.
#
# Simulates a user who checkpointed a program that writes a file, and restores
# the image later, after things moved on (issue 4, "Files that changed since the
# checkpoint" and "Bad input"):
#   A  the program appends to a log (O_APPEND); the image is restored, that run
#      appends more, and the same image is restored again: both restores run
#      to the end and append their lines
#   B  the file it had open was deleted: refused, exit 2, one line naming it
#   C  the file was truncated below the saved offset: refused, exit 2
#   D  the file grew: restored, writes land at the saved offset, and
#      `restorer -v` prints a notice naming the file
#   E  its working directory was removed: refused, exit 2, naming it
#   F  RLIMIT_NOFILE is lower than its highest descriptor (ulimit -n in a
#      subshell): refused, exit 2; the same image restores with the usual limit
#   G  it holds sockets (a socketpair and a TCP socket listening on 127.0.0.1):
#      restored by default (issue 17: both made again), the program finds all
#      three sockets again, runs to the end, and the restorer says nothing
#      about them
#   H  its stdout was a file: restored by default, its output goes to the
#      restorer's stdout; with --stdio=image it goes on in that file at its
#      offset, and nothing reaches the restorer's stdout
# Every refusal: status exactly 2, exactly one stderr line starting with
# "restorer: ", nothing on stdout.
#
# The program is a small C helper compiled here from the text below (it is not
# a property test itself): fprog FILE LAST MS [append] [hi=N] [sock] [cwd=DIR]
# writes "line i" to FILE (fd 3) and "tick i" to stdout for i = 1..LAST, one
# every MS ms, then exits 0.  Without a C compiler the test is skipped.
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR, a private
# temp dir.  Output: `ok N desc` / `not ok N desc`, `# ...`.  Exit 0, 1, or 4.
# CKPT_TEST_BREAK=1: one check compares against a wrong value and must fail.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
workdir files_changed
pid=
at_exit '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null'

need_built "$RST" "$LIB"

# ---- the helper program ----
cat >"$W/fprog.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void out(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t w = write(fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(3);
		s += w;
		len -= w;
	}
}

int main(int argc, char **argv)
{
	int append = 0, hi = -1, sock = 0, socks[3] = { -1, -1, -1 }, said[3] = { 0, 0, 0 };
	long last, ms;
	char buf[128];

	syscall(SYS_close_range, 3, ~0U, 0);	/* nothing inherited above 2 */
	if (argc < 4) {
		out(2, "usage: fprog FILE LAST MS [append] [hi=N] [sock] [cwd=DIR]\n");
		return 2;
	}
	last = atol(argv[2]);
	ms = atol(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "append"))
			append = 1;
		else if (!strncmp(argv[i], "hi=", 3))
			hi = atoi(argv[i] + 3);
		else if (!strcmp(argv[i], "sock"))
			sock = 1;
		else if (!strncmp(argv[i], "cwd=", 4) && chdir(argv[i] + 4))
			return 2;
	}
	if (open(argv[1], append ? O_WRONLY | O_APPEND | O_CREAT : O_RDWR | O_CREAT | O_TRUNC,
		 0644) != 3)
		return 2;
	if (hi > 3 && dup2(3, hi) != hi)
		return 2;
	if (sock) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int sp[2];

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
			return 2;
		socks[0] = sp[0];
		socks[1] = sp[1];
		socks[2] = socket(AF_INET, SOCK_STREAM, 0);
		if (socks[2] < 0 || bind(socks[2], (struct sockaddr *)&a, sizeof a) ||
		    listen(socks[2], 4))
			return 2;
		snprintf(buf, sizeof buf, "sockets at fds %d %d %d\n", socks[0], socks[1], socks[2]);
		out(1, buf);
	}
	for (long i = 1; i <= last; i++) {
		struct timespec t = { ms / 1000, ms % 1000 * 1000000L };

		snprintf(buf, sizeof buf, "line %ld\n", i);
		out(3, buf);
		for (int s = 0; s < 3; s++) {
			struct stat st;

			if (socks[s] < 0 || said[s])
				continue;
			if (fstat(socks[s], &st) < 0 && errno == EBADF) {
				snprintf(buf, sizeof buf, "socket fd %d: EBADF\n", socks[s]);
				out(1, buf);
				said[s] = 1;
			} else if (!S_ISSOCK(st.st_mode)) {
				snprintf(buf, sizeof buf, "socket fd %d: not a socket\n", socks[s]);
				out(1, buf);
				said[s] = 1;
			}
		}
		snprintf(buf, sizeof buf, "tick %ld\n", i);
		out(1, buf);
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			;
	}
	return 0;
}
EOF
need_cc
compile_or_fail "the helper program does not compile" cc -O1 -o "$W/fprog" "$W/fprog.c"
FPROG=$W/fprog
LAST=40			# each program writes 40 lines, one every 50 ms: 2 s
MS=50

# ---- running, checkpointing, restoring ----

# start IMG OUT ARGS... -- fprog under libckpt in the background, stdout to OUT
start() {
	img=$1
	sout=$2
	shift 2
	rm -f "$img"
	LD_PRELOAD=$LIB CKPT_FILE=$img "$FPROG" "$@" >"$sout" 2>"$sout.err" </dev/null &
	pid=$!
}

# lines FILE -- its line count (0 if missing)

# ckpt IMG FILE K -- wait until FILE has K lines, SIGUSR2, wait for IMG, kill.
# Sets $seen (lines seen before the signal).  Returns 1 (with a not ok) on failure.
ckpt() {
	img=$1
	i=0
	while [ "$(lines "$2")" -lt "$3" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			not_ok "the program wrote $(lines "$2") lines of $2 in 5 s: $(oneline "$sout.err")"
			kill -9 "$pid" 2>/dev/null
			pid=
			return 1
		fi
		sleep 0.05
	done
	seen=$(lines "$2")
	kill -USR2 "$pid"
	i=0
	gone=0
	while [ ! -e "$img" ]; do
		i=$((i + 1))
		# libckpt's writer is a child of its own: it may finish after the
		# program did, so the program's end only shortens the wait to 2 s
		if [ $gone -eq 0 ] && ! kill -0 "$pid" 2>/dev/null; then
			gone=$i
		fi
		if [ $i -gt 200 ] || { [ $gone -gt 0 ] && [ $i -gt $((gone + 40)) ]; }; then
			wait "$pid" 2>/dev/null
			st=$?
			[ $gone -gt 0 ] || st="still running"
			not_ok "no image at $img $((i / 20)) s after SIGUSR2 (program: $st): $(oneline "$sout.err")"
			kill -9 "$pid" 2>/dev/null
			pid=
			return 1
		fi
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	return 0
}

# restore OUT ARGS... -- run the restorer (10 s at most); status in $rc, stderr in OUT.err
restore() {
	rout=$1
	shift
	timeout -k 1 10 "$RST" "$@" >"$rout" 2>"$rout.err" </dev/null
	rc=$?
}

# refused DESC NAME OUT -- after `restore OUT ...`: a clean refusal naming NAME?
refused() {
	why=
	nl=$(wc -l <"$3.err" | tr -d ' ')
	line=$(head -n 1 "$3.err")
	if [ "$rc" -ne 2 ]; then
		why="exit status $rc, want 2"
	elif [ -s "$3" ]; then
		why="wrote to stdout (the program ran?): $(oneline "$3")"
	elif [ "$nl" -ne 1 ]; then
		why="stderr is not one line ($nl lines): $(oneline "$3.err")"
	elif [ "${line#restorer: }" = "$line" ]; then
		why="stderr line does not start with 'restorer: ': $line"
	elif [ -n "$2" ] && [ "${line#*"$2"}" = "$line" ]; then
		why="stderr line does not name $2: $line"
	fi
	if [ -z "$why" ]; then
		ok "$1"
		note "  said: $line"
	else
		not_ok "$1: $why"
	fi
}

# ticks FILE -- "tick i" lines consecutive to the end?  Sets $first, $last.
ticks() {
	first=
	last=
	good=1
	while read -r w num; do
		case $w in
		tick) ;;
		*) continue ;;
		esac
		if [ -n "$last" ] && [ "$num" -ne $((last + 1)) ]; then
			good=0
		fi
		[ -n "$first" ] || first=$num
		last=$num
	done <"$1"
	[ -n "$first" ] && [ "$good" -eq 1 ]
}

# seqfile FILE FROM TO -- FILE holds exactly "line FROM" .. "line TO"
seqfile() {
	i=$2
	while [ "$i" -le "$3" ]; do
		echo "line $i"
		i=$((i + 1))
	done >"$W/expect"
	cmp -s "$1" "$W/expect"
}

# ---- A: the same image twice, after the first restored run appended ----
start "$W/a.img" "$W/a.out" "$W/a.log" $LAST $MS append
if ckpt "$W/a.img" "$W/a.log" 5; then
	k=$(lines "$W/a.log")
	restore "$W/a.r1" "$W/a.img"
	if [ "$rc" -eq 0 ] && ticks "$W/a.r1" && [ "$last" -eq $LAST ] && [ "$first" -gt "$seen" ] &&
	   [ "$first" -le $((k + 1)) ]; then
		ok "A: first restore runs on: ticks $first..$LAST (checkpoint after line $seen, killed after $k)"
	else
		not_ok "A: first restore: status $rc, ticks ${first:-?}..${last:-?}: $(oneline "$W/a.r1") $(oneline "$W/a.r1.err")"
	fi
	c=$((${first:-1} - 1))
	after1=$(lines "$W/a.log")
	restore "$W/a.r2" "$W/a.img"
	first2=
	if ticks "$W/a.r2"; then first2=$first; fi
	if [ "$rc" -eq 0 ] && [ "$first2" = $((c + 1)) ] && [ "$last" -eq $LAST ]; then
		ok "A: the same image restores again after the first run appended (ticks $first2..$LAST)"
	else
		not_ok "A: second restore: status $rc, ticks ${first2:-?}..${last:-?}: $(oneline "$W/a.r2.err")"
	fi
	# the log: 1..k from the original run, then c+1..LAST twice
	{
		i=1
		while [ $i -le "$k" ]; do echo "line $i"; i=$((i + 1)); done
		for r in 1 2; do
			i=$((c + 1))
			while [ $i -le $LAST ]; do echo "line $i"; i=$((i + 1)); done
		done
	} >"$W/a.expect"
	[ $BRK -eq 1 ] && echo "line 0" >>"$W/a.expect"
	if cmp -s "$W/a.log" "$W/a.expect"; then
		ok "A: the log holds 1..$k, then $((c + 1))..$LAST from each restore (lines $((c + 1))..$k repeat: the original wrote them between checkpoint and kill)"
	else
		not_ok "A: the log is not 1..$k, $((c + 1))..$LAST, $((c + 1))..$LAST ($(lines "$W/a.log") lines, $after1 after the first restore)"
		diff "$W/a.expect" "$W/a.log" | head -n 10 | sed 's/^/# /'
	fi
fi

# ---- B: the file is gone ----
start "$W/b.img" "$W/b.out" "$W/b.data" $LAST $MS
if ckpt "$W/b.img" "$W/b.data" 3; then
	rm -f "$W/b.data"
	restore "$W/b.r" "$W/b.img"
	refused "B: its file deleted: refused" "$W/b.data" "$W/b.r"
fi

# ---- C: the file is shorter than the saved offset ----
start "$W/c.img" "$W/c.out" "$W/c.data" $LAST $MS
if ckpt "$W/c.img" "$W/c.data" 3; then
	truncate -s 3 "$W/c.data"
	restore "$W/c.r" "$W/c.img"
	refused "C: its file truncated to 3 bytes, below its offset: refused" "$W/c.data" "$W/c.r"
fi

# ---- D: the file grew ----
start "$W/d.img" "$W/d.out" "$W/d.data" $LAST $MS
if ckpt "$W/d.img" "$W/d.data" 3; then
	echo "JUNK" >>"$W/d.data"
	restore "$W/d.r" -v "$W/d.img"
	if [ "$rc" -eq 0 ] && ticks "$W/d.r" && [ "$last" -eq $LAST ]; then
		ok "D: its file grew: restored, ran to the end (ticks $first..$LAST)"
	else
		not_ok "D: its file grew: status $rc: $(oneline "$W/d.r.err")"
	fi
	if grep -i notice "$W/d.r.err" | grep -q "$W/d.data"; then
		ok "D: restorer -v says the file changed: $(grep -i notice "$W/d.r.err" | grep "$W/d.data" | head -n 1)"
	else
		not_ok "D: restorer -v printed no notice naming $W/d.data: $(oneline "$W/d.r.err")"
	fi
	if seqfile "$W/d.data" 1 $LAST; then
		ok "D: the restored writes landed at the saved offset (file is line 1..$LAST, JUNK overwritten)"
	else
		not_ok "D: the file is not line 1..$LAST: $(head -c 200 "$W/d.data" | tr '\n' '|') .. $(tail -n 3 "$W/d.data" | tr '\n' '|')"
	fi
fi

# ---- E: the working directory is gone ----
mkdir "$W/e.wd"
start "$W/e.img" "$W/e.out" "$W/e.data" $LAST $MS "cwd=$W/e.wd"
if ckpt "$W/e.img" "$W/e.data" 3; then
	rmdir "$W/e.wd"
	restore "$W/e.r" "$W/e.img"
	refused "E: its cwd removed: refused" "$W/e.wd" "$W/e.r"
fi

# ---- F: RLIMIT_NOFILE below the highest descriptor (fd 60) ----
start "$W/f.img" "$W/f.out" "$W/f.data" $LAST $MS hi=60
if ckpt "$W/f.img" "$W/f.data" 3; then
	(ulimit -n 40 && exec timeout -k 1 10 "$RST" "$W/f.img") >"$W/f.r" 2>"$W/f.r.err" </dev/null
	rc=$?
	refused "F: RLIMIT_NOFILE 40, the image has fd 60: refused" "$W/f.img" "$W/f.r"
	restore "$W/f.r2" "$W/f.img"
	if [ "$rc" -eq 0 ] && ticks "$W/f.r2" && [ "$last" -eq $LAST ]; then
		ok "F: the same image restores under the usual limit ($(ulimit -n))"
	else
		not_ok "F: the same image under the usual limit: status $rc: $(oneline "$W/f.r2.err")"
	fi
fi

# ---- G: sockets ----
start "$W/g.img" "$W/g.out" "$W/g.data" $LAST $MS sock
if ckpt "$W/g.img" "$W/g.data" 3; then
	socks=$(sed -n 's/^sockets at fds //p' "$W/g.out")
	note "sockets at fds $socks"
	restore "$W/g.r" "$W/g.img"
	if [ "$rc" -eq 0 ] && ticks "$W/g.r" && [ "$last" -eq $LAST ]; then
		ok "G: restored by default, ran to the end (ticks $first..$LAST)"
	else
		not_ok "G: restored by default: status $rc: $(oneline "$W/g.r") $(oneline "$W/g.r.err")"
	fi
	set -- $socks
	if [ $# = 3 ] && ! grep -q "^socket fd" "$W/g.r"; then
		ok "G: the program finds the socketpair (fds $1 $2) and the listener (fd $3) sockets again"
	else
		not_ok "G: want fds $socks sockets: $(grep socket "$W/g.r" | tr '\n' '|')"
	fi
	if ! grep -i notice "$W/g.r.err" | grep -q socket; then
		ok "G: the restorer said nothing about them"
	else
		not_ok "G: the restorer printed a notice about a socket: $(oneline "$W/g.r.err")"
	fi
fi

# ---- H: stdout was a file ----
start "$W/h.img" "$W/h.stdout" "$W/h.data" $LAST $MS
if ckpt "$W/h.img" "$W/h.stdout" 3; then
	restore "$W/h.r" "$W/h.img"
	if [ "$rc" -eq 0 ] && ticks "$W/h.r" && [ "$last" -eq $LAST ] && [ "$first" -gt "$seen" ]; then
		ok "H: default stdio: the output goes to the restorer's stdout (ticks $first..$LAST)"
	else
		not_ok "H: default stdio: status $rc, stdout $(oneline "$W/h.r"): $(oneline "$W/h.r.err")"
	fi
	cp "$W/h.stdout" "$W/h.before"
	restore "$W/h.r2" --stdio=image "$W/h.img"
	[ $BRK -eq 1 ] && echo "tick 0" >>"$W/h.stdout"
	if [ "$rc" -eq 0 ] && [ ! -s "$W/h.r2" ]; then
		ok "H: --stdio=image: restored, nothing on the restorer's stdout"
	else
		not_ok "H: --stdio=image: status $rc, restorer stdout: $(oneline "$W/h.r2") $(oneline "$W/h.r2.err")"
	fi
	if ticks "$W/h.stdout" && [ "$first" -eq 1 ] && [ "$last" -eq $LAST ]; then
		ok "H: --stdio=image: the output went on in the file it had, at its offset (tick 1..$LAST)"
	else
		not_ok "H: --stdio=image: the file is not tick 1..$LAST: $(head -c 100 "$W/h.stdout" | tr '\n' '|') .. $(tail -n 3 "$W/h.stdout" | tr '\n' '|') (was $(lines "$W/h.before") lines)"
	fi
fi

finish
