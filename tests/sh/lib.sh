# shellcheck shell=sh
# lib.sh -- what every tests/sh/*.sh shares (sourced, not run: tests/run.sh
# passes over tests/sh/*lib.sh).  A script starts with
#     set -u
#     . "$(dirname "$0")/lib.sh"
# and ends with `finish`.
#
# The contract (tests/run.sh): lines `ok N desc` / `not ok N desc` numbered
# from 1, notes `# ...`; exit 0 pass, 1 fail, 4 skip (a `# SKIP reason` line).
#
# Provides
#   ROOT             the built tree (tests/run.sh sets it; else two levels up)
#   BRK              1 when CKPT_TEST_BREAK is set, not empty and not 0 (make
#                    check-break: each script then makes one check of its own
#                    fail), else 0; the C tests read it the same way
#   n, failed        checks so far, and how many failed
#   ok DESC          `ok N DESC`
#   not_ok DESC      `not ok N DESC`, counted as failed
#   note TEXT        `# TEXT`
#   skip REASON      `# SKIP REASON`, exit 4
#   need_cc [CC]     skip unless the C compiler CC (default cc) is on PATH
#   need_built FILE...  `not ok` and exit 1 unless each FILE is there (run make)
#   compile_or_fail DESC CMD...  run the compiler command CMD; if it fails,
#                    `not ok DESC: its first errors` and exit 1 (needs W)
#   workdir NAME [PARENT]  W=a new private dir NAME.XXXXXX under PARENT
#                    (default TMPDIR or /tmp), removed at exit; exit 1 if none
#                    (one a script)
#   at_exit CMD      run the shell text CMD at exit, before W goes; several
#                    run in the order given
#   finish           `# N checks, F failed`; exit 0 if none failed, else 1
#   oneline FILE     FILE's first ONELINE_MAX (300) bytes, newlines as |
#   lines FILE       FILE's line count, 0 when there is no FILE
#   now_ms           milliseconds since the epoch
#   wait_for SECONDS CMD...  run CMD every 0.1 s until it succeeds; 1 if it
#                    never did within SECONDS
#   under_libckpt PROG [ARG...]  run PROG in W under libckpt.so, CKPT_FILE=$W/img,
#                    60 s at most: stdout to $W/orig.out, stderr to $W/orig.err,
#                    its exit status in rc
#   restore_got IMAGE [OPTION...]  run the restorer with OPTIONs on IMAGE
#                    (cwd W, 30 s, no stdin): stdout to $W/got, stderr to
#                    $W/restore.err, its exit status in rrc
#   expect_restore IMAGE WANT DESC  run the restorer on IMAGE (cwd W, 30 s):
#                    `ok DESC` when its stdout is exactly WANT, else `not_ok`
#   expect_refused IMAGE TEXT DESC  run the restorer on IMAGE (cwd W, 30 s):
#                    `ok DESC` when it exits 2 with one line on stderr that
#                    holds TEXT (grep) and the program printed nothing
#                    with what it printed
# Sourcing it sets the EXIT trap (at_exit's commands, then W made writable and
# removed) and makes INT, TERM and HUP exit 1 through it: a script sets no
# trap of its own.  Strings go out through printf, not echo: descriptions may
# hold backslashes.

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BRK=0
# shellcheck disable=SC2034	# read by the scripts
case ${CKPT_TEST_BREAK:-} in '' | 0) ;; *) BRK=1 ;; esac
n=0
failed=0
W=
lib_exit_cmds=
lib_dir=

ok() {
	n=$((n + 1))
	printf 'ok %s %s\n' "$n" "$*"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	printf 'not ok %s %s\n' "$n" "$*"
}

note() {
	printf '# %s\n' "$*"
}

skip() {
	printf '# SKIP %s\n' "$*"
	exit 4
}

need_cc() {
	command -v "${1:-cc}" >/dev/null 2>&1 || skip "no C compiler (${1:-cc})"
}

need_built() {
	for lib_f in "$@"; do
		[ -f "$lib_f" ] || { not_ok "build: $lib_f is missing (run make)"; exit 1; }
	done
}

compile_or_fail() {
	lib_desc=$1
	shift
	"$@" 2>"$W/cc.err" && return 0
	not_ok "$lib_desc: $(oneline "$W/cc.err")"
	exit 1
}

workdir() {
	W=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/$1.XXXXXX") || exit 1
	lib_dir=$W
}

at_exit() {
	lib_exit_cmds="$lib_exit_cmds
$1"
}

# the EXIT trap: the script's commands, then its work dir (made writable
# first: a test may have taken its own permissions away); the exit status
# stays the script's
lib_at_exit() {
	eval "$lib_exit_cmds"
	if [ -n "$lib_dir" ]; then
		chmod -R u+rwx "$lib_dir" 2>/dev/null
		rm -rf "$lib_dir"
	fi
}
trap lib_at_exit EXIT
trap 'exit 1' INT TERM HUP

finish() {
	note "$n checks, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

oneline() {
	head -c "${ONELINE_MAX:-300}" "$1" 2>/dev/null | tr '\n' '|'
}

lines() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

under_libckpt() {
	(cd "$W" && CKPT_FILE="$W/img" timeout 60 env LD_PRELOAD="$ROOT/libckpt.so" "$@") >"$W/orig.out" 2>"$W/orig.err"
	rc=$?
}

restore_got() {
	lib_img=$1
	shift
	(cd "$W" && timeout 30 "$ROOT/restorer" "$@" "$lib_img") >"$W/got" 2>"$W/restore.err" </dev/null
	rrc=$?
}

expect_restore() {
	lib_got=$(cd "$W" && timeout 30 "$ROOT/restorer" "$1" 2>"$W/restore.err")
	if [ "$lib_got" = "$2" ]; then
		ok "$3: $lib_got"
	else
		not_ok "$3: restored '$lib_got', want '$2'; stderr: $(oneline "$W/restore.err")"
	fi
}

expect_refused() {
	(cd "$W" && timeout 30 "$ROOT/restorer" "$1" >"$W/refused.out" 2>"$W/refused.err" </dev/null)
	lib_rc=$?
	if [ $lib_rc -eq 2 ] && [ "$(lines "$W/refused.err")" -eq 1 ] && grep -q "$2" "$W/refused.err" &&
	   [ ! -s "$W/refused.out" ]; then
		ok "$3"
	else
		not_ok "$3: exit $lib_rc; restorer: $(oneline "$W/refused.err"); program: $(oneline "$W/refused.out")"
	fi
}

wait_for() {
	lib_t=$(($1 * 10))
	shift
	while ! "$@"; do
		lib_t=$((lib_t - 1))
		[ $lib_t -gt 0 ] || return 1
		sleep 0.1
	done
}
