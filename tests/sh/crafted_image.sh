#!/bin/sh
# crafted_image.sh -- images with valid checksums and one field aimed at the
# restorer (issue 13): each must be refused before anything is torn down.
#
# bad_image.sh covers damage (truncation, flipped bits, wrong versions); this
# covers edits an attacker makes on purpose and re-seals with tests/bin/imgedit:
#   - a data run past the end of its region, aimed at the restorer's own stack
#     (and the same image through readckpt, `ckpt info`, `ckpt merge`);
#   - the resume block in a writable [vvar] or [vdso];
#   - a memfd of size -1 (the refusal must give a reason);
#   - a UNIX pair of no socket type, or paired with a descriptor of another kind;
#   - a descriptor on /proc of another pid, or of another thread's tid;
#   - faults mmap(2) would meet after the point of no return: a region below
#     vm.mmap_min_addr, a file offset of 2^64-1, unaligned, or 2^63, stored
#     pages past the end of the mapped file, a shared region that grows down;
#   - strings with a newline and an escape sequence (a path, comm): printed
#     escaped by the restorer, readckpt and `ckpt info --json`; a changed data
#     file's notice does not come before a refusal;
#   - --in-process=FD,ADDR from a command line;
#   - an XSAVE area too small for the components its header says it holds.
# A refusal is: exit status 2, exactly one line on stderr that starts with
# "restorer: IMAGE: " and gives a reason, nothing on stdout, no ESC byte.
#
# Environment (tests/run.sh): ROOT, the built tree; TMPDIR, a private dir.
# CKPT_TEST_BREAK=1 expects exit status 3 instead of 2, so every refusal fails.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
IE=$ROOT/tests/bin/imgedit
workdir crafted
GOOD=$W/good.img
BAD=$W/bad.img
want_rc=2
[ $BRK = 1 ] && want_rc=3
demo_pid=
at_exit '[ -z "$demo_pid" ] || kill "$demo_pid" 2>/dev/null'
esc_byte=$(printf '\033')

# judge PREFIX -- $rc, $W/out, $W/err of a run that must be a refusal whose
# line starts with PREFIX and goes on with a reason; sets $why ("" = good)
judge() {
	line=$(head -n 1 "$W/err")
	nl=$(wc -l <"$W/err")
	why=
	if [ "$rc" -ge 124 ]; then
		why="exit status $rc (timeout or signal)"
	elif [ "$rc" -ne "$want_rc" ]; then
		why="exit status $rc, want $want_rc"
	elif [ -s "$W/out" ]; then
		why="wrote to stdout: $(head -c 60 "$W/out" | tr '\n' ' ')"
	elif [ "$nl" -ne 1 ] || [ "$(tail -c 1 "$W/err" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		why="stderr is not one line ($nl newlines): $(head -c 200 "$W/err" | tr '\n' '|')"
	elif [ "${line#"$1"}" = "$line" ]; then
		why="stderr line does not start with '$1': $line"
	elif [ -z "${line#"$1"}" ]; then
		why="no reason after '$1'"
	elif grep -q "$esc_byte" "$W/err"; then
		why="an ESC byte on stderr"
	fi
}

# refuse DESC [RESTORER ARGS...] -- the restorer on $BAD refuses it (its
# line starts with $PREFIX when set)
PREFIX=
refuse() {
	desc=$1
	shift
	timeout -k 1 10 "$RST" "$@" "$BAD" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	judge "${PREFIX:-restorer: $BAD: }"
	if [ -z "$why" ]; then
		ok "$desc"
		note "  said: $line"
	else
		not_ok "$desc: $why"
	fi
}

# refuse_tool DESC PREFIX CMD... -- a reader (readckpt, ckpt) refuses
refuse_tool() {
	desc=$1
	prefix=$2
	shift 2
	timeout -k 1 10 "$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	judge "$prefix"
	if [ -z "$why" ]; then ok "$desc"; else not_ok "$desc: $why"; fi
}

need_built "$RST" "$ROOT/libckpt.so" "$ROOT/demo" "$IE" "$ROOT/readckpt" "$ROOT/ckpt"

# ---- one good image of the demo counting to 40 every 50 ms ----
: >"$W/orig.out"
LD_PRELOAD=$ROOT/libckpt.so CKPT_FILE=$GOOD "$ROOT/demo" 40 50 >"$W/orig.out" 2>"$W/orig.err" </dev/null &
demo_pid=$!
i=0
while [ "$(wc -l <"$W/orig.out")" -lt 3 ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
kill -USR2 "$demo_pid" 2>/dev/null
i=0
while [ ! -e "$GOOD" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
kill "$demo_pid" 2>/dev/null
wait "$demo_pid" 2>/dev/null
demo_pid=
if [ ! -s "$GOOD" ]; then
	not_ok "good image: the demo under libckpt.so wrote none: $(head -c 300 "$W/orig.err" | tr '\n' '|')"
	exit 1
fi
timeout -k 1 10 "$RST" "$GOOD" >"$W/out" 2>"$W/err" </dev/null
rc=$?
if [ $rc -eq 0 ] && [ "$(tail -n 1 "$W/out")" = "count 40" ]; then
	ok "good image restores"
else
	not_ok "good image restores: status $rc, $(head -c 200 "$W/err" | tr '\n' '|')"
	exit 1
fi
fresh() { cp "$GOOD" "$BAD" && chmod 600 "$BAD"; }
"$IE" "$GOOD" vmas >"$W/vmas"
"$IE" "$GOOD" runs >"$W/runs"
# vma_of KIND [PROT] -- index of the first vma of that kind (and protection)
vma_of() { awk -v k="$1" -v p="${2:-}" '$4 == k && (p == "" || $5 == p) { print $1; exit }' "$W/vmas"; }
vfield() { "$IE" "$GOOD" get-vma "$1" "$2"; }

# ---- 1. a data run past its region's end, aimed at the restorer's stack ----
# The first region (the demo's first page, no stored pages) moves below the
# restorer's zone and takes over the first run, whose address becomes the top
# page of the restorer's own stack: addr > end, so end - addr wraps.
stack_top=$(nm "$RST" | awk '$3 == "rst_stack" { print "0x" $1 }')
r0_vma=$("$IE" "$GOOD" get-run 0 vma)
if [ -z "$stack_top" ] || [ "$(vfield 0 run_count)" != 0 ] || [ "$r0_vma" = 0 ]; then
	not_ok "run at the restorer's stack: no rst_stack symbol, or vma 0 already holds pages"
else
	target=$(((stack_top + 65536 - 4096) / 4096 * 4096))
	fresh
	"$IE" "$BAD" set-vma 0 start 0x100000
	"$IE" "$BAD" set-vma 0 end 0x101000
	"$IE" "$BAD" set-vma 0 run_count 1
	"$IE" "$BAD" set-vma 0 pages_stored "$("$IE" "$GOOD" get-run 0 npages)"
	i=1
	while [ $i -le "$r0_vma" ]; do
		"$IE" "$BAD" set-vma $i run_first 1
		i=$((i + 1))
	done
	"$IE" "$BAD" set-vma "$r0_vma" run_count $(($(vfield "$r0_vma" run_count) - 1))
	"$IE" "$BAD" set-vma "$r0_vma" pages_stored $(($(vfield "$r0_vma" pages_stored) - $("$IE" "$GOOD" get-run 0 npages)))
	"$IE" "$BAD" set-run 0 vma 0
	"$IE" "$BAD" set-run 0 addr "$target"
	refuse "a run past its region's end, at the restorer's stack $(printf '0x%x' "$target")"
	refuse "the same, --lazy (would map image pages there)" --lazy
	refuse_tool "readckpt refuses it" "readckpt: $BAD: " "$ROOT/readckpt" "$BAD"
	refuse_tool "ckpt info refuses it" "readckpt: $BAD: " "$ROOT/ckpt" info "$BAD"
	refuse_tool "ckpt info --json refuses it" "ckpt: info: $BAD: " "$ROOT/ckpt" info --json "$BAD"
	refuse_tool "ckpt merge refuses it" "ckpt: merge: $BAD: " "$ROOT/ckpt" merge "$BAD" "$W/merged.img"
	if [ -e "$W/merged.img" ]; then not_ok "ckpt merge wrote $W/merged.img"; fi
fi
# the last run of a region moved one page past the region's end
last=$(awk 'END { print $1 }' "$W/runs")
lv=$("$IE" "$GOOD" get-run "$last" vma)
fresh
"$IE" "$BAD" set-run "$last" addr $(($(vfield "$lv" end) + 4096))
refuse "run $last one page past the end of its region (vma $lv)"

# ---- 4. the resume block in a writable [vvar] / [vdso] ----
for k in 8:vvar 7:vdso; do
	v=$(vma_of "${k%%:*}")
	[ -n "$v" ] || { note "no [${k#*:}] in the image"; continue; }
	fresh
	"$IE" "$BAD" set-vma "$v" prot 3
	"$IE" "$BAD" set-proc resume_addr "$(vfield "$v" start)"
	refuse "resume block in a writable [${k#*:}]"
done

# ---- 5. a memfd of size -1 (descriptor 0 made one, --stdio=image) ----
fresh
"$IE" "$BAD" set-fd 0 kind 6
"$IE" "$BAD" set-fd 0 size -1
refuse "a memfd of size -1 is refused with a reason" --stdio=image

# ---- 5a. UNIX pair records: a socket type that is none, a pair end whose
# other end is a descriptor of another kind (descriptor 0 made one) ----
fresh
"$IE" "$BAD" set-fd 0 kind 14
"$IE" "$BAD" set-fd 0 aux0 3
refuse "a UNIX pair of socket type 3 is refused" --stdio=image
fresh
"$IE" "$BAD" set-fd 0 kind 14
"$IE" "$BAD" set-fd 0 aux0 1
"$IE" "$BAD" set-fd 0 peer 1
refuse "a UNIX pair end whose other end is not one is refused" --stdio=image

# ---- 5b. a descriptor on /proc of another process, or of another thread of
# its own (whose id changes): only /proc/<the image's pid> is reopened, as the
# restored process's (tests/fds_proc.c); read-only, so that it could be opened
for p in /proc/1/status "/proc/$("$IE" "$GOOD" get-proc pid)/task/$(($("$IE" "$GOOD" get-proc pid) + 1))/comm"; do
	fresh
	"$IE" "$BAD" set-fd-path 1 "$p"
	"$IE" "$BAD" set-fd 1 flags 0
	"$IE" "$BAD" set-fd 1 pos 0
	refuse "a read-only descriptor on $p, --stdio=image" --stdio=image
	case $line in
	*"only the process's own /proc/"*) ok "  ... for that reason" ;;
	*) not_ok "  ... for another reason: $line" ;;
	esac
done

# ---- 6. what mmap would refuse after the point of no return ----
fresh
"$IE" "$BAD" set-vma 0 start 0
"$IE" "$BAD" set-vma 0 end 0x1000
refuse "a region at address 0, below vm.mmap_min_addr"
for off in 0xffffffffffffffff 1 0x8000000000000000; do
	fresh
	"$IE" "$BAD" set-vma 0 pgoff $off
	refuse "a file region at offset $off"
done
wv=$(awk '$4 == 4 && $6 > 0 { print $1; exit }' "$W/vmas")	# a file region holding pages
fresh
"$IE" "$BAD" set-vma "$wv" pgoff 0x100000000
refuse "stored pages at offset 4 GiB of a small mapped file"
sv=$(vma_of 3)
fresh
"$IE" "$BAD" set-vma "$sv" flags $(($(vfield "$sv" flags) | 1))
refuse "a shared [stack] that grows down"

# ---- 7. one line, escaped ----
# a changed data file (vma 0: read-only, no code) and a changed code file
fresh
"$IE" "$BAD" set-vma 0 mtime_sec 1
"$IE" "$BAD" set-vma 1 mtime_sec 1
refuse "a changed data file and a changed code file: only the refusal"
fresh
"$IE" "$BAD" set-vma 0 mtime_sec 1
timeout -k 1 10 "$RST" "$BAD" >"$W/out" 2>"$W/err" </dev/null
rc=$?
if [ $rc -eq $((want_rc - 2)) ] && [ "$(grep -c '^restorer: ' "$W/err")" -eq 1 ] &&
   grep -q "^restorer: notice: .* changed since the checkpoint" "$W/err"; then
	ok "a changed data file alone: restored, with its one notice"
else
	not_ok "a changed data file alone: status $rc, stderr $(head -c 200 "$W/err" | tr '\n' '|')"
fi
# control bytes in a descriptor's path, the process's comm, a mapped file's path
fresh
"$IE" "$BAD" set-str "$("$IE" "$GOOD" get-fd 1 path_off)" '/n/a\nb\e[7m\\'
"$IE" "$BAD" set-comm 'x\ny\e[7m'
refuse "a descriptor path with a newline and ESC, --stdio=image" --stdio=image
if grep -qF '/n/a\nb\x1b[7m\\' "$W/err"; then ok "  ... printed escaped"; else not_ok "  ... not printed escaped: $(cat "$W/err")"; fi
cp "$BAD" "$W/strings.img"
"$IE" "$BAD" set-str "$(vfield 2 path_off)" '/n/\n\e]0;t\x07'
refuse "a mapped file path with a newline, ESC and BEL"
cp "$W/strings.img" "$BAD"
"$ROOT/readckpt" "$BAD" >"$W/out" 2>"$W/err"
rc=$?
if [ $rc -eq $((want_rc - 2)) ] && ! grep -q "$esc_byte" "$W/out" && grep -qF 'comm x\ny\x1b[7m ' "$W/out" &&
   grep -qF '/n/a\nb\x1b[7m\\' "$W/out" && ! grep -q '^y' "$W/out"; then
	ok "readckpt prints the strings escaped"
else
	not_ok "readckpt: status $rc; comm line: $(grep comm "$W/out" | head -c 100)"
fi
"$ROOT/ckpt" info --json "$BAD" >"$W/out" 2>"$W/err"
rc=$?
if [ $rc -eq $((want_rc - 2)) ] && ! grep -q "$esc_byte" "$W/out" && grep -qF '"comm": "x\\ny\\x1b[7m"' "$W/out"; then
	ok "ckpt info --json gives the strings escaped"
else
	not_ok "ckpt info --json: status $rc; comm: $(grep -o '"comm": "[^"]*"' "$W/out")"
fi

# ---- 8. --in-process from a command line ----
PREFIX="restorer: "
fresh
"$IE" "$BAD" set-hdr version 99
refuse "--in-process=3,1000 given on a command line, bad image (would jump through 0x1000)" --in-process=3,1000
cp "$GOOD" "$BAD"
refuse "--in-process=3,1000 given on a command line, good image" --in-process=3,1000
PREFIX=

# ---- XRSTOR reads what the XSAVE header names: the area must hold it ----
xoff=$(($("$IE" "$GOOD" get-hdr threads_off) + 248))	# thread 0's xsave_off
xsave_off=$(od -An -tu8 -j "$xoff" -N 8 "$GOOD" | tr -d ' ')
xstate_bv=$(od -An -tu8 -j $((xsave_off + 512)) -N 8 "$GOOD" | tr -d ' ')
if [ $((xstate_bv >> 2)) -ne 0 ]; then
	fresh
	"$IE" "$BAD" set-thread 0 xsave_size 576
	refuse "an XSAVE area of 576 bytes whose header holds AVX or AVX-512 state"
else
	ok "# SKIP the image's XSAVE header holds no AVX state (xstate_bv $xstate_bv)"
fi

finish
