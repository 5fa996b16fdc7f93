#!/bin/sh
# setuid.sh -- an ordinary user cannot make a setuid-root program linked with
# libckpt write, read or run anything they could not.
#
# Simulates the attack of issue 13: root installs a setuid-root program linked
# with libckpt (tests/tools/setuid_victim.c, built here, chown root, chmod
# 4755); the ordinary user ckpt-test starts it with an environment of their
# choosing and sends it the trigger signal (the kernel lets them: they started
# it), then the program uses the API (ckpt_checkpoint, tsetjmp, tlongjmp).
#   run 1: CKPT_FILE=a root-only file, CKPT_DIR=the user's directory,
#          CKPT_RESTORER=the user's own binary (tests/tools/setuid_evil.c,
#          which would leave a file with its euid if it ever ran)
#          -> the root-only file is unchanged, the user's binary never ran,
#             nothing is written into the user's directory, one line says the
#             CKPT_* variables were ignored; tsetjmp/tlongjmp still work (the
#             program rolls back) and ckpt_checkpoint's image belongs to root,
#             0600, in root's private store
#   run 2: no CKPT_* variable, started in the user's directory
#          -> the trigger writes no image there, /tmp/ckpt-<user's uid> is not
#             made root-owned (which locked the user out), nothing is said
# Needs root (to make a setuid-root file) and a C compiler; as the ordinary
# user, or where the setuid bit is not honoured (nosuid), it is skipped.
# Environment (tests/run.sh sets them): ROOT.  Output `ok N` / `not ok N`;
# exit 0, 1, 4.  CKPT_TEST_BREAK=1: the root-only file is compared with wrong
# contents.

set -u
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
U=ckpt-test
vpid=
at_exit '[ -z "$vpid" ] || kill -9 "$vpid" 2>/dev/null'

[ "$(id -u)" -eq 0 ] || skip "needs root to make a setuid-root program (the root pass runs it)"
need_cc "$CC"
[ -f "$ROOT/tests/tools/setuid_victim.c" ] || skip "no sources under $ROOT/tests/tools"
if ! id -u "$U" >/dev/null 2>&1; then
	useradd -M -d /nonexistent -s /usr/sbin/nologin "$U" >/dev/null 2>&1 || skip "cannot create user $U"
fi
uid=$(id -u "$U")
as_user() { setpriv --reuid="$U" --regid="$U" --init-groups --reset-env "$@"; }

# /tmp, not the test's 0700 TMPDIR: the user must reach it
workdir ckpt-setuid /tmp
chmod 755 "$W"
mkdir -p "$W/lib" "$W/udir"
cp "$ROOT/libckpt.so" "$ROOT/restorer" "$W/lib/" && chmod 755 "$W/lib" "$W/lib/libckpt.so" "$W/lib/restorer"
# secure-execution mode ignores LD_LIBRARY_PATH and $ORIGIN: an absolute rpath
compile_or_fail "build the setuid program" "$CC" -O1 -I"$ROOT/include" -o "$W/setuid_victim" \
	"$ROOT/tests/tools/setuid_victim.c" -L"$W/lib" -lckpt -Wl,-rpath,"$W/lib"
chown root:root "$W/setuid_victim" && chmod 4755 "$W/setuid_victim"
# the user's binary goes where the restorer goes (include/ckpt_layout.h)
zone=$(nm "$ROOT/restorer" | awk '$3 == "rst_zone_start" { print "0x" $1 }')
[ -n "$zone" ] || { not_ok "no rst_zone_start in nm $ROOT/restorer"; finish; }
compile_or_fail "build the user's program" "$CC" -O1 -static -nostdlib -ffreestanding -fpie -no-pie \
	-fno-stack-protector -fcf-protection=none -Wl,-Ttext-segment="$zone" -Wl,--build-id=none \
	-DEVIL_OUT="\"$W/evil-ran\"" -o "$W/udir/evil" "$ROOT/tests/tools/setuid_evil.c"
chown -R "$U:" "$W/udir" && chmod 700 "$W/udir" && chmod 755 "$W/udir/evil"
printf 'root only\n' >"$W/secret" && chmod 600 "$W/secret"
printf 'root only\n' >"$W/secret.orig"
[ $BRK = 1 ] && printf 'changed\n' >"$W/secret.orig"

# run_victim NAME VAR=VALUE... -- start the program as the user from their
# directory, send it the user's SIGUSR2, let it go on; stdout NAME.out (through
# a pipe: a roll-back puts a regular file's offset back), stderr NAME.err
# victim_err NAME: NAME.err is what the program said but the notice that a
# pipe of the test runner's, inherited, is not restored
victim_err() {
	grep -v '^libckpt: .*: not restored: fd [0-9]* (pipe:\[[0-9]*\]): a pipe whose other end is in another process$' \
		"$W/$1.err.all" >"$W/$1.err" 2>/dev/null
	return 0
}
run_victim() {
	name=$1
	shift
	as_user env "$@" sh -c "cd '$W/udir' && exec '$W/setuid_victim' '$W/go.$name'" \
		2>"$W/$name.err.all" | cat >"$W/$name.out" &
	wait_for 10 grep -q '^ready' "$W/$name.out" 2>/dev/null
	victim_err "$name"
	set -- $(grep '^ready' "$W/$name.out")
	vpid=${2:-}
	veuid=${3:-}
	[ -n "$vpid" ] || { not_ok "$name: the program did not start: $(cat "$W/$name.err")"; exit 1; }
	[ "$veuid" = 0 ] || skip "the setuid bit is not honoured under /tmp here (nosuid?): euid $veuid"
	as_user kill -USR2 "$vpid" || not_ok "$name: the user could not signal the program"
	sleep 1					# time for a writer, if the trigger made one
	touch "$W/go.$name"
	t=0
	while kill -0 "$vpid" 2>/dev/null && [ $t -lt 200 ]; do sleep 0.1; t=$((t + 1)); done
	wait
	victim_err "$name"
	vpid=
}

only_evil() {	# the user's directory holds only their own program
	[ "$(ls -A "$W/udir")" = evil ]
}

# ---- run 1: the user's CKPT_FILE, CKPT_DIR, CKPT_RESTORER
run_victim one CKPT_FILE="$W/secret" CKPT_DIR="$W/udir" CKPT_RESTORER="$W/udir/evil"
if cmp -s "$W/secret" "$W/secret.orig" && [ "$(stat -c '%U %a %h' "$W/secret")" = "root 600 1" ]; then
	ok "the root-only file named by CKPT_FILE is unchanged"
else
	not_ok "the root-only file changed: $(stat -c '%U %a %s' "$W/secret"): $(head -c 40 "$W/secret" | tr -c '[:print:]' .)"
fi
[ ! -e "$W/evil-ran" ] && ok "the user's CKPT_RESTORER never ran" ||
	not_ok "the user's CKPT_RESTORER ran with euid $(cat "$W/evil-ran")"
only_evil && ok "nothing written into the user's CKPT_DIR" ||
	not_ok "written into the user's directory: $(ls -lA "$W/udir" | tr '\n' '|')"
line=$(grep -c . "$W/one.err")
if [ "$line" -eq 1 ] && grep -q '^libckpt: a privileged program .*ignored' "$W/one.err" &&
   grep -q CKPT_FILE "$W/one.err" && grep -q CKPT_DIR "$W/one.err" && grep -q CKPT_RESTORER "$W/one.err"; then
	ok "one line says the CKPT_* variables were ignored: $(cat "$W/one.err")"
else
	not_ok "stderr is not that one line: $(tr '\n' '|' <"$W/one.err")"
fi
grep -q '^rolled back 1$' "$W/one.out" && ok "tsetjmp and tlongjmp still work (rolled back)" ||
	not_ok "no roll-back: $(tr '\n' '|' <"$W/one.out")"
set -- $(sed -n 's/^ready \([0-9]*\).*/\1/p' "$W/one.out")
img=
for d in /tmp/ckpt-0 /tmp/ckpt-0.*; do
	[ -f "$d/setuid_victim.$1.myckpt" ] && img=$d/setuid_victim.$1.myckpt
done
if grep -q '^checkpoint 0 0$' "$W/one.out" && [ -n "$img" ] &&
   [ "$(stat -c '%U %a' "$img")" = "root 600" ] && [ "$(stat -c '%U %a' "${img%/*}")" = "root 700" ]; then
	ok "ckpt_checkpoint wrote $img (root, 0600, in a 0700 directory of root's)"
else
	not_ok "ckpt_checkpoint: $(grep '^checkpoint' "$W/one.out"), image '${img}'"
fi
[ -n "$img" ] && rm -f "$img"

# ---- run 2: no CKPT_* at all, started in the user's directory
store=/tmp/ckpt-$uid
if [ -e "$store" ] && [ "$(stat -c %u "$store")" = 0 ]; then
	echo "# $store was root-owned (left by an older libckpt): removed"
	rm -rf "$store"
fi
run_victim two
only_evil && ok "the trigger wrote no image into the user's working directory" ||
	not_ok "written into the user's directory: $(ls -lA "$W/udir" | tr '\n' '|')"
if [ ! -e "$store" ] || [ "$(stat -c %u "$store")" = "$uid" ]; then
	ok "$store is not made root-owned"
else
	not_ok "$store belongs to uid $(stat -c %u "$store"): the user is locked out of it"
	rm -rf "$store"
fi
[ ! -s "$W/two.err" ] && ok "nothing said without CKPT_* variables" ||
	not_ok "stderr: $(tr '\n' '|' <"$W/two.err")"
grep -q '^rolled back 1$' "$W/two.out" && ok "run 2: the program rolled back" ||
	not_ok "run 2: no roll-back: $(tr '\n' '|' <"$W/two.out")"
set -- $(sed -n 's/^ready \([0-9]*\).*/\1/p' "$W/two.out")
rm -f /tmp/ckpt-0/setuid_victim."$1".myckpt /tmp/ckpt-0.*/setuid_victim."$1".myckpt
finish
