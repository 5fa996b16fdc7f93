#!/bin/sh
# run.sh -- run the test suite: every tests/bin/* (except imgedit) under
# LD_PRELOAD=libckpt.so, and every tests/sh/*.sh.
#
# Each test gets a fresh private temp dir as its cwd and TMPDIR, CKPT_FILE=$dir/img,
# ROOT=the built tree, and a timeout; what it leaves running there (a process
# whose working directory is in that dir) is killed after it, in a `#` line.  A test exits 0 (pass), 1 (fail) or 4 (skip)
# and prints `ok N ...` / `not ok N ...` / `# ...` lines; they are shown for a
# failure (always) and for everything with -v.
#
# As root, the whole suite then runs again as the ordinary user ckpt-test (created
# if missing) from a copy of the built tree under a fresh mktemp -d dir, since the
# checkout may sit where that user cannot read (/root); those lines say [user].
#
# The last line is always `N passed, N failed, N skipped` (read by CI); the exit
# status is 0 iff nothing failed.
#
# usage: sh tests/run.sh [-v] [--expect-fail] [TEST...]
#   --expect-fail  for `make check-break` (CKPT_TEST_BREAK=1): every test must
#                  fail on one of its checks (a `not ok N` line); that counts as
#                  passed, a pass or any other failure as failed, a skip stays a skip.
#   TEST...        names to run (regs_gpr, bad_image), default all.
# Environment: CKPT_TEST_TIMEOUT seconds per test (default 60; a script may ask
# for more with a `# timeout: N` line among its first 10), KEEP=1 keeps the
# temp dirs.  tests/sh/*lib.sh are sourced by tests, not run (tests/sh/lib.sh:
# ok/not_ok/note/skip, the work dir and its cleanup, finish).

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIMEOUT=${CKPT_TEST_TIMEOUT:-60}
USER_NAME=ckpt-test
expect_fail=0
verbose=0
user_pass=0
only=

for a in "$@"; do
	case $a in
	--expect-fail) expect_fail=1 ;;
	--user-pass) user_pass=1 ;;	# internal: this is the ordinary-user pass
	-v) verbose=1 ;;
	-*) echo "usage: sh tests/run.sh [-v] [--expect-fail] [TEST...]" >&2; exit 2 ;;
	*) only="$only $a" ;;
	esac
done

label=
[ $user_pass -eq 1 ] && label="[user] "
passed=0
failed=0
skipped=0

# wanted NAME -- is NAME selected on the command line (or nothing was)?
wanted() {
	[ -z "$only" ] && return 0
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}

# show FILE -- the test's output, indented
show() {
	sed 's/^/    /' "$1"
}

# kill_leftovers DIR: the processes a test left running (their working
# directory in its temp dir DIR), killed and named, so that none runs on
# into the next test or a benchmark (a hung child once kept a CPU busy)
kill_leftovers() {
	left=
	for p in /proc/[0-9]*; do
		c=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $c in
		"$1" | "$1"/*) left="$left ${p#/proc/}($(cat "$p/comm" 2>/dev/null))" ;;
		esac
	done
	[ -n "$left" ] || return 0
	for p in $left; do
		kill -9 "${p%%(*}" 2>/dev/null
	done
	echo "    # $name left running, killed:$left"
}

# run_one NAME KIND CMD... -- KIND is c (LD_PRELOAD) or sh
run_one() {
	name=$1
	kind=$2
	shift 2
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-$name.XXXXXX") || {
		echo "${label}FAIL  $name: mktemp -d failed"
		failed=$((failed + 1))
		return
	}
	out=$(mktemp "${TMPDIR:-/tmp}/ckpt-$name.out.XXXXXX") || out=$dir.out
	if [ "$kind" = c ]; then
		limit=$TIMEOUT
		(cd "$dir" && ROOT=$ROOT TMPDIR=$dir CKPT_FILE=$dir/img \
			timeout -k 5 "$TIMEOUT" env LD_PRELOAD="$ROOT/libckpt.so" "$@") \
			</dev/null >"$out" 2>&1
	else
		limit=$(head -n 10 "$2" | sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' | head -n 1)
		[ -n "$limit" ] && [ "$limit" -gt "$TIMEOUT" ] || limit=$TIMEOUT
		(cd "$dir" && ROOT=$ROOT TMPDIR=$dir CKPT_FILE=$dir/img \
			timeout -k 5 "$limit" "$@") </dev/null >"$out" 2>&1
	fi
	rc=$?
	kill_leftovers "$dir"
	case $rc in
	0) res=pass why= ;;
	4) res=skip why=$(sed -n 's/^.*# SKIP *//p' "$out" | head -n 1) ;;
	124|137) res=fail why="timed out after ${limit:-$TIMEOUT}s" ;;
	*) res=fail why="exit $rc" ;;
	esac
	if [ $expect_fail -eq 1 ]; then
		case $res in
		pass) res=fail why="passed with CKPT_TEST_BREAK=1: its checks do not bite" ;;
		fail)
			# it must fail on a check of its own, not on a crash or refusal
			if grep -q '^not ok [0-9]' "$out"; then
				res=pass why="broke as expected: $(grep -m 1 '^not ok [0-9]' "$out")"
			else
				why="failed, but no check of its own failed ($why): fix that first"
			fi
			;;
		esac
	fi
	case $res in
	pass)
		passed=$((passed + 1))
		echo "${label}PASS  $name${why:+ ($why)}"
		[ $verbose -eq 1 ] && show "$out"
		;;
	skip)
		skipped=$((skipped + 1))
		echo "${label}SKIP  $name: ${why:-no reason given}"
		[ $verbose -eq 1 ] && show "$out"
		;;
	fail)
		failed=$((failed + 1))
		echo "${label}FAIL  $name: $why"
		show "$out"
		;;
	esac
	rm -f "$out"
	if [ "${KEEP:-0}" = 1 ]; then
		echo "    # kept $dir"
	else
		rm -rf "$dir"
	fi
}

# ---- the pass itself
ntests=0
for t in "$ROOT"/tests/bin/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=${t##*/}
	[ "$name" = imgedit ] && continue
	wanted "$name" || continue
	ntests=$((ntests + 1))
	run_one "$name" c "$t"
done
for t in "$ROOT"/tests/sh/*.sh; do
	[ -f "$t" ] || continue
	name=${t##*/}
	name=${name%.sh}
	case $name in *lib) continue ;; esac
	wanted "$name" || continue
	ntests=$((ntests + 1))
	first=$(head -n 1 "$t")
	case $first in
	'#!'*bash*) run_one "$name" sh bash "$t" ;;
	*) run_one "$name" sh sh "$t" ;;
	esac
done
if [ $ntests -eq 0 ]; then
	echo "${label}FAIL  (no tests found under $ROOT/tests/bin: run make first)"
	failed=$((failed + 1))
fi

if [ $user_pass -eq 1 ]; then
	# read by the root pass that started us
	echo "# user pass: $passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
	exit
fi

# ---- as root: everything again as an ordinary user
if [ "$(id -u)" -eq 0 ]; then
	echo "# ordinary-user pass (as $USER_NAME)"
	user_ok=1
	if ! id -u "$USER_NAME" >/dev/null 2>&1; then
		useradd -M -d /nonexistent -s /usr/sbin/nologin "$USER_NAME" 2>&1 ||
			{ echo "# cannot create user $USER_NAME"; user_ok=0; }
	fi
	tree=
	if [ $user_ok -eq 1 ]; then
		tree=$(mktemp -d /tmp/ckpt-user.XXXXXX) &&
		mkdir -p "$tree/tests" &&
		cp -p "$ROOT/libckpt.so" "$ROOT/restorer" "$tree/" &&
		for f in readckpt demo ckpt Makefile ckpt.pc.in; do
			[ -e "$ROOT/$f" ] && cp -p "$ROOT/$f" "$tree/"
			:
		done &&
		# what `make install` copies (tests/sh/cli.sh installs from this tree)
		{ [ ! -d "$ROOT/include" ] || cp -pR "$ROOT/include" "$tree/"; } &&
		{ [ ! -d "$ROOT/image" ] || cp -pR "$ROOT/image" "$tree/"; } &&
		{ [ ! -d "$ROOT/man" ] || cp -pR "$ROOT/man" "$tree/"; } &&
		cp -pR "$ROOT/tests/bin" "$tree/tests/" &&
		{ [ ! -d "$ROOT/tests/sh" ] || cp -pR "$ROOT/tests/sh" "$tree/tests/"; } &&
		cp -p "$ROOT/tests/run.sh" "$tree/tests/" &&
		chmod -R a+rX "$tree" || { echo "# cannot copy the built tree to $tree"; user_ok=0; }
	fi
	if [ $user_ok -eq 1 ]; then
		args=
		[ $expect_fail -eq 1 ] && args="$args --expect-fail"
		[ $verbose -eq 1 ] && args="$args -v"
		log=$(mktemp /tmp/ckpt-user-log.XXXXXX)
		# shellcheck disable=SC2086
		setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups --reset-env \
			env PATH="$PATH" CKPT_TEST_BREAK="${CKPT_TEST_BREAK:-}" \
			CKPT_TEST_TIMEOUT="$TIMEOUT" KEEP="${KEEP:-0}" \
			sh "$tree/tests/run.sh" --user-pass $args $only </dev/null 2>&1 |
			tee "$log" | grep -v '^# user pass: '
		counts=$(sed -n 's/^# user pass: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log")
		rm -f "$log"
		if [ -n "$counts" ]; then
			# shellcheck disable=SC2086
			set -- $counts
			passed=$((passed + $1))
			failed=$((failed + $2))
			skipped=$((skipped + $3))
		else
			echo "[user] FAIL  (the ordinary-user pass did not finish)"
			failed=$((failed + 1))
		fi
	else
		echo "[user] FAIL  (the ordinary-user pass could not be set up)"
		failed=$((failed + 1))
	fi
	[ -n "$tree" ] && rm -rf "$tree"
else
	echo "# NOTE not root: this ordinary-user ($(id -un)) pass is the only pass"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
