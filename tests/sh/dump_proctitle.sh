#!/bin/sh
# dump_proctitle.sh -- `ckpt dump PID` finds where the process writes its
# image without trusting its memory: libckpt publishes the image path and the
# trigger signal in a sealed memfd "ckpt" at startup, which the program does
# not write (issue 15: redis rewrites its process title, and so its environ).
#
# A small C program (compiled here with cc; skipped without one) under
# libckpt.so with CKPT_FILE relative and CKPT_SIGNAL=SIGUSR1:
#   - title:    chdir()s elsewhere, then overwrites its whole argv+environ area
#               with 'x' (what setproctitle does) -> dump exits 0, prints the
#               real path (the directory it started in), the image is there,
#               nothing on stderr; the image holds no descriptor of libckpt's
#               (ckpt info --json lists the program's own); restored in the
#               background (--close-unsupported: the test runner's pipes),
#               the restored process is dumped again the same way
#               (libckpt made the memfd anew: it is not in the image)
#   - closeall: closes every descriptor above 2 (close_range), libckpt's too
#               -> dump falls back to the environment and succeeds, silently
#   - both:     closes them and overwrites its environ, default signal -> dump
#               fails (it looks in the wrong place) in one line that says the
#               path came from the environment; the image is where libckpt
#               writes it all the same
# Environment (tests/run.sh): ROOT, the built tree; TMPDIR, a private dir.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail,
# 4 skip.  CKPT_TEST_BREAK=1: the title program's image is looked for where
# the old dump looked (the current directory).

set -u
. "$(dirname "$0")/lib.sh"
pid=
rpid=
at_exit '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; [ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer"
CC=${CC:-cc}
need_cc "$CC"
workdir dumptitle

cat >"$W/title.c" <<'EOF'
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

extern char **environ;

int main(int argc, char **argv)
{
	char mode[16];		/* argv[1] is overwritten below */
	volatile unsigned long ticks = 0;

	snprintf(mode, sizeof(mode), "%s", argc > 1 ? argv[1] : "");
	if (!strcmp(mode, "title") || !strcmp(mode, "both")) {
		char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;

		for (char **e = environ; *e; e++)
			if (*e + strlen(*e) + 1 > end)
				end = *e + strlen(*e) + 1;
		if (chdir(argv[2]))
			return 2;
		memset(argv[0], 'x', (size_t)(end - argv[0]) - 1);	/* setproctitle */
	}
	if (!strcmp(mode, "closeall") || !strcmp(mode, "both")) {
		if (syscall(SYS_close_range, 3, ~0u, 0))
			return 2;
	}
	write(1, "ready\n", 6);
	for (;;) {
		ticks++;
		usleep(20000);
	}
}
EOF
compile_or_fail "build the test program" "$CC" -O -o "$W/title" "$W/title.c"
mkdir "$W/run" "$W/elsewhere"

# start MODE [SIGNAL] -- the program under libckpt.so in $W/run, pid in $pid,
# ready
start() {
	rm -f "$W/run/img" "$W/elsewhere/img" "$W/prog.out"
	(cd "$W/run" && LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=img CKPT_SIGNAL=${2:-SIGUSR1} \
		exec "$W/title" "$1" "$W/elsewhere" >"$W/prog.out" 2>"$W/prog.err" </dev/null) &
	pid=$!
	wait_for 5 grep -q ready "$W/prog.out"
}
stop() { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

want=$W/run/img
[ "$BRK" = 1 ] && want=$W/elsewhere/img
start title
if tr '\0' '\n' <"/proc/$pid/environ" | grep -q CKPT_; then
	not_ok "title: the program did not overwrite its environ"
else
	ok "title: the program overwrote its environ (no CKPT_ left in /proc/PID/environ)"
fi
# its descriptors but the memfd: what the image must hold
had=$(for f in "/proc/$pid/fd/"*; do
	[ "$(readlink "$f")" = "/memfd:ckpt (deleted)" ] || printf '%s\n' "${f##*/}"
done | sort -n | tr '\n' ' ')
"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
rc=$?
case $(cat "$W/out") in "$want: "*) named=1 ;; *) named=0 ;; esac
if [ $rc -eq 0 ] && [ $named = 1 ] && [ -s "$want" ] && [ ! -s "$W/err" ]; then
	ok "title: dumped to the real path: $(cat "$W/out")"
else
	not_ok "title: exit $rc, stdout '$(oneline "$W/out")', stderr '$(oneline "$W/err")'"
fi
stop
fds=$("$ROOT/ckpt" info --json "$W/run/img" 2>&1 | tr ',{}' '\n' | sed -n 's/.*"fd": *\([0-9]*\).*/\1/p' | tr '\n' ' ')
if [ "$fds" = "$had" ]; then
	ok "title: the image holds the program's descriptors ($fds), not libckpt's settings memfd"
else
	not_ok "title: the image's descriptors are '$fds', want '$had'"
fi

# the restored process publishes its settings again
mv "$W/run/img" "$W/saved"
(cd "$W/elsewhere" && exec "$ROOT/restorer" --close-unsupported "$W/saved" >"$W/rest.out" 2>"$W/rest.err" </dev/null) &
rpid=$!
sleep 0.5
has_memfd=0
for f in "/proc/$rpid/fd/"*; do
	[ "$(readlink "$f")" = "/memfd:ckpt (deleted)" ] && has_memfd=1
done
if [ $has_memfd = 1 ]; then
	ok "restored: libckpt's settings memfd is there again"
else
	not_ok "restored: no memfd:ckpt among its descriptors: $(oneline "$W/rest.err")"
fi
"$ROOT/ckpt" dump --timeout 20 "$rpid" >"$W/out" 2>"$W/err" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ -s "$W/run/img" ] && [ ! -s "$W/err" ]; then
	ok "restored: dumped again to the real path: $(cat "$W/out")"
else
	not_ok "restored: exit $rc, stdout '$(oneline "$W/out")', stderr '$(oneline "$W/err")'"
fi
kill -KILL "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
rpid=

start closeall
"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ -s "$W/run/img" ] && [ ! -s "$W/err" ]; then
	ok "closeall: dumped from its environment: $(cat "$W/out")"
else
	not_ok "closeall: exit $rc, stdout '$(oneline "$W/out")', stderr '$(oneline "$W/err")'"
fi
stop

start both SIGUSR2
"$ROOT/ckpt" dump --timeout 20 "$pid" >"$W/out" 2>"$W/err" </dev/null
rc=$?
if [ $rc -eq 1 ] && [ "$(lines "$W/err")" = 1 ] && [ ! -s "$W/out" ] &&
	grep -q "read from its environment, which the program may have rewritten" "$W/err" &&
	wait_for 5 test -s "$W/run/img"; then
	ok "both: one line says where the path came from: $(oneline "$W/err")"
else
	not_ok "both: exit $rc, stdout '$(oneline "$W/out")', stderr '$(oneline "$W/err")'"
fi
stop

finish
