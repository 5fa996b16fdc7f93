#!/bin/sh
# job_refused.sh -- a job table or a job's image that is damaged, missing or
# not the job's: one line, exit 2, and no process of the job runs.
#
# Simulates a user restoring a job whose files were damaged or mixed up.
# The job: a bash script printing a line a second through `cat`.  Each case
# restores it with the restorer and wants exit 2, one line on stderr naming
# the reason, nothing on stdout (no process of the job ran):
#   1  a byte of the table flipped: checksum mismatch
#   2  the table cut short
#   3  one process's image missing (not the root's)
#   4  one process's image replaced by the same process's image of another
#      checkpoint of the job: not an image of this job
#   5  as root only: a table others may write: refused by a privileged restorer
# and 6: the untouched table then restores (the script prints on); 7: `ckpt
# merge` of a damaged table: one line, exit 2, nothing written.
# Root and the ordinary user.  CKPT_TEST_BREAK=1: case 1 flips no byte.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.

set -u
. "$(dirname "$0")/lib.sh"
pgid=
at_exit '[ -n "$pgid" ] && kill -9 "-$pgid" 2>/dev/null'
need_built "$ROOT/ckpt" "$ROOT/libckpt.so" "$ROOT/restorer"
command -v bash >/dev/null || skip "no bash"
command -v setsid >/dev/null || skip "no setsid"
workdir jobbad

cat >"$W/job.sh" <<'EOF'
#!/bin/bash
echo started >&2
for i in $(seq 1 600); do echo "tick $i"; sleep 1; done | cat
EOF
(cd "$W" && CKPT_FILE="$W/img" LD_PRELOAD="$ROOT/libckpt.so" exec setsid bash "$W/job.sh" \
	>"$W/prog.out" 2>"$W/prog.err" </dev/null) &
pgid=$!
wait_for 10 grep -q started "$W/prog.err" || { not_ok "the job did not start"; finish; }
sleep 0.5
"$ROOT/ckpt" dump "$pgid" >/dev/null 2>"$W/dump1.err" && cp "$W/img" "$W/first.img" &&
	for f in "$W"/.img.*; do cp "$f" "$W/first$(basename "$f")"; done
"$ROOT/ckpt" dump "$pgid" >/dev/null 2>"$W/dump.err"
rc=$?
kill -9 "-$pgid"
pgid=
[ $rc -eq 0 ] && [ -s "$W/first.img" ] || { not_ok "dump of the job: rc $rc: $(oneline "$W/dump.err")"; finish; }
mkdir "$W/good"
cp "$W/img" "$W"/.img.* "$W/good/"
# the table's last process (not the root); the previous table's images may
# still be going (ckpt dump returns once the new table is in)
member=$("$ROOT/readckpt" "$W/img" | sed -n 's/.*live, image //p' | tail -n 1)
pid=${member##*.}
reset() { rm -f "$W/img" "$W"/.img.*; cp "$W/good/img" "$W"/good/.img.* "$W/"; }

# refused DESC PATTERN: the restorer on img, one line matching PATTERN
refused() {
	(cd "$W" && exec setsid "$ROOT/restorer" "$W/img" >"$W/r.out" 2>"$W/r.err" </dev/null) &
	pgid=$!
	t=0			# a refusal comes at once; a job that runs is killed after 5 s
	while [ $t -lt 50 ] && [ -e "/proc/$pgid" ] && [ "$(awk '{ print $3 }' "/proc/$pgid/stat" 2>/dev/null)" != Z ]; do
		sleep 0.1
		t=$((t + 1))
	done
	kill -9 "-$pgid" 2>/dev/null
	wait "$pgid"
	r=$?
	pgid=
	if [ $r -eq 2 ] && [ "$(lines "$W/r.err")" -eq 1 ] && grep -q "$2" "$W/r.err" && [ ! -s "$W/r.out" ]; then
		ok "$1: exit 2, one line: $(cat "$W/r.err")"
	else
		not_ok "$1: exit $r, stderr: $(oneline "$W/r.err"), stdout: $(oneline "$W/r.out")"
	fi
	reset
}

[ "$BRK" -eq 1 ] || printf '\377' | dd of="$W/img" bs=1 seek=300 conv=notrunc 2>/dev/null
refused "a byte of the table flipped" "job table checksum mismatch: image corrupted"
truncate -s 200 "$W/img"
refused "the table cut short" "a job table of 200 bytes: out of range"
rm "$W/$member"
refused "pid $pid's image missing" "$member: no such file"
old=$(ls -A "$W" | grep "^first\.img\..*\.$pid\$" | head -n 1)
[ -n "$old" ] && cp "$W/$old" "$W/$member"
refused "pid $pid's image from another checkpoint" "$member: not an image of this job"
if [ "$(id -u)" -eq 0 ]; then
	chmod 0606 "$W/img"
	refused "a table others may write, as root" "writable by group or others: refused by a privileged restorer"
fi
(cd "$W" && exec setsid "$ROOT/restorer" "$W/img" >"$W/r.out" 2>"$W/r.err" </dev/null) &
pgid=$!
wait_for 10 grep -q "^tick" "$W/r.out"
kill -9 "-$pgid"
pgid=
if grep -q "^tick" "$W/r.out"; then
	ok "the untouched table restores: $(head -n 1 "$W/r.out")"
else
	not_ok "the untouched table: stdout $(oneline "$W/r.out"); stderr $(oneline "$W/r.err")"
fi
cp "$W/good/img" "$W/bad.img"
[ "$BRK" -eq 1 ] || printf '\377' | dd of="$W/bad.img" bs=1 seek=300 conv=notrunc 2>/dev/null
"$ROOT/ckpt" merge "$W/bad.img" "$W/merged" >"$W/m.out" 2>"$W/m.err"
r=$?
if [ $r -eq 2 ] && [ -z "$(ls -A "$W" | grep merged)" ] && [ "$(grep -c . "$W/m.err")" -eq 1 ] &&
   grep -q "job table checksum mismatch" "$W/m.err"; then
	ok "ckpt merge of a damaged job table: exit 2, nothing written: $(cat "$W/m.err")"
else
	not_ok "ckpt merge of a damaged job table: exit $r, $(oneline "$W/m.err"), written: $(ls -A "$W" | grep merged | tr '\n' ' ')"
fi
finish
