#!/bin/sh
# timeout: 150
# bad_image.sh -- the restorer refuses every bad image cleanly.
#
# Simulates a user pointing ./restorer at something that is not a good image:
# nothing there, a directory, an empty or truncated file, flipped bits, another
# format version, an image from a CPU with more features, an image whose memory
# claims the restorer's own addresses, a file the user cannot read, a bad option.
# DESIGN.md: each is refused before anything is torn down, with one line
# `restorer: IMAGE: reason` on stderr and exit status 2.  For every input this
# checks: status exactly 2 (so no signal death and no timeout), stderr exactly
# one line that starts with "restorer: " and names the image, nothing on stdout
# (the restorer did not turn into the program), and done within 1 s.
#
# It first makes one good image of the demo in its temp dir and checks that it
# restores, so that the refusals below are refusals of the damage, not of an
# image the restorer would refuse anyway.  When the restorer has --lazy (page
# data mapped, page checksums not checked), truncations and header and table
# flips are tried with it as well.  Edits that must get past the
# checksums go through tests/bin/imgedit, which fixes hdr_crc and tables_crc.
#
# Environment (tests/run.sh sets them): ROOT, the built tree; TMPDIR, a private
# temp dir; CKPT_FILE, where to write the good image.
# Output: `ok N desc` / `not ok N desc`, `# ...` notes.  Exit 0 pass, 1 fail.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
DEMO=$ROOT/demo
IE=$ROOT/tests/bin/imgedit
workdir bad_image
GOOD=${CKPT_FILE:-$W/good.img}
BAD=$W/bad.img
LIMIT_MS=1000			# a refusal must take at most this long

slowest=0			# ms, the slowest refusal that passed
# CKPT_TEST_BREAK=1 (make check-break): expect the wrong exit status, so that
# every refusal check must fail and the script with it
want_rc=2
[ $BRK = 1 ] && want_rc=3
demo_pid=
at_exit '[ -z "$demo_pid" ] || kill "$demo_pid" 2>/dev/null'

# ---- refuse DESC PATH [ARGS...] -- run the restorer on PATH, expect a refusal.
# Sets $why to the first problem found (empty: refused correctly), $line to
# its stderr line; prints nothing but a note when a slow run passes on a
# second try.  ARGS go before PATH; PATH "" means no path
# argument at all (the restorer's default), then NAME_IN_MSG is what the line
# must name.
NAME_IN_MSG=
run_refuse() {
	run_refuse_once "$@"
	case $why in
	took*)
		# a refusal reads a few pages: one slow run is the machine (other
		# tests on 2 cores), a second one is the restorer
		first_ms=$ms
		run_refuse_once "$@"
		if [ -n "$why" ]; then
			why="$why, and $first_ms ms on the first try"
		else
			note "slow once: $first_ms ms, then $ms ms: ${path:-restorer $*}"
		fi
		;;
	esac
}
run_refuse_once() {
	path=$1
	shift
	t0=$(now_ms)
	if [ -n "$path" ]; then
		timeout -k 1 5 "$RST" "$@" "$path" >"$W/out" 2>"$W/err" </dev/null
	else
		timeout -k 1 5 "$RST" "$@" >"$W/out" 2>"$W/err" </dev/null
	fi
	rc=$?
	ms=$(($(now_ms) - t0))
	line=$(head -n 1 "$W/err")
	nl=$(wc -l <"$W/err")
	last=$(tail -c 1 "$W/err" | od -An -tx1 | tr -d ' ')
	want=${NAME_IN_MSG:-$path}
	why=
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="still running after 5 s, killed by timeout"
	elif [ "$rc" -gt 128 ]; then
		why="died of signal $((rc - 128))"
	elif [ "$rc" -ne "$want_rc" ]; then
		why="exit status $rc, want $want_rc"
	elif [ -s "$W/out" ]; then
		why="wrote to stdout: $(head -c 60 "$W/out" | tr '\n' ' ')"
	elif [ ! -s "$W/err" ]; then
		why="nothing on stderr"
	elif [ "$nl" -ne 1 ] || [ "$last" != 0a ]; then
		why="stderr is not exactly one line ($nl newlines): $(head -c 160 "$W/err" | tr '\n' '|')"
	elif [ "${line#restorer: }" = "$line" ]; then
		why="stderr line does not start with 'restorer: ': $line"
	elif [ -n "$want" ] && [ "${line#*"$want"}" = "$line" ]; then
		why="stderr line does not name $want: $line"
	elif [ "$ms" -gt "$LIMIT_MS" ]; then
		why="took $ms ms (limit $LIMIT_MS)"
	fi
	[ -n "$why" ] || [ "$ms" -le "$slowest" ] || slowest=$ms
}

# refuse DESC PATH [ARGS...] -- one test line
refuse() {
	desc=$1
	shift
	run_refuse "$@"
	if [ -z "$why" ]; then
		ok "$desc"
	else
		not_ok "$desc: $why"
	fi
}

# refuse_semantic DESC PATH -- as refuse, and show the reason given
refuse_semantic() {
	refuse "$@"
	note "  said: $line"
}

need_built "$RST" "$LIB" "$DEMO" "$IE"

# ---- inputs that need no image ----
refuse "missing file" "$W/no-such-image"
mkdir "$W/dir"
refuse "a directory" "$W/dir"
: >"$W/empty.img"
refuse "an empty file" "$W/empty.img"
refuse "/dev/null" /dev/null
mkdir "$W/cwd"
# (no subshell: some shells run the EXIT trap when one ends)
cd "$W/cwd" || exit 1
NAME_IN_MSG=myckpt
run_refuse ""
cd - >/dev/null || exit 1
NAME_IN_MSG=
if [ -z "$why" ]; then ok "no argument, no ./myckpt"; else not_ok "no argument, no ./myckpt: $why"; fi
NAME_IN_MSG=restorer
refuse "bad option --no-such-option" "" --no-such-option
refuse "bad option -Z" "" -Z
refuse "two image paths" "$W/no-such-image" "$W/empty.img"
NAME_IN_MSG=

# ---- one good image: the demo counting to 40 every 50 ms ----
make_good() {
	rm -f "$GOOD"
	: >"$W/orig.out"
	LD_PRELOAD=$LIB CKPT_FILE=$GOOD "$DEMO" 40 50 >"$W/orig.out" 2>"$W/orig.err" </dev/null &
	demo_pid=$!
	i=0
	while [ "$(wc -l <"$W/orig.out")" -lt 3 ]; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			note "demo printed $(wc -l <"$W/orig.out") lines in 5 s"
			return 1
		fi
		sleep 0.1
	done
	kill -USR2 "$demo_pid" || return 1
	i=0
	while [ ! -e "$GOOD" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$demo_pid" 2>/dev/null; then
			note "no image at $GOOD after SIGUSR2; demo stderr: $(head -c 300 "$W/orig.err" | tr '\n' '|')"
			return 1
		fi
		sleep 0.1
	done
	kill "$demo_pid" 2>/dev/null
	wait "$demo_pid" 2>/dev/null
	demo_pid=
	return 0
}

if ! make_good; then
	not_ok "good image: the demo under libckpt.so wrote no image"
	echo "# the remaining checks need an image"
	exit 1
fi
ok "good image written ($(wc -c <"$GOOD") bytes)"

if "$IE" "$GOOD" check >"$W/check" 2>&1; then
	ok "good image: imgedit agrees with its checksums"
else
	not_ok "good image: imgedit finds bad checksums: $(tr '\n' '|' <"$W/check")"
fi

# restore_good [OPTIONS] -- the good image restores and counts on to 40
# (restorer stdout to a file, the demo ends by itself)
restore_good() {
	t0=$(now_ms)
	timeout -k 1 10 "$RST" "$@" "$GOOD" >"$W/rst.out" 2>"$W/rst.err" </dev/null
	rc=$?
	ms=$(($(now_ms) - t0))
	first=$(head -n 1 "$W/rst.out")
	lastl=$(tail -n 1 "$W/rst.out")
	k=${first#count }
	consecutive=yes
	case $k in
	''|*[!0-9]*) consecutive=no ;;
	*)
		j=$k
		while read -r w num; do
			[ "$w $num" = "count $j" ] || { consecutive=no; break; }
			j=$((j + 1))
		done <"$W/rst.out"
		;;
	esac
	if [ "$rc" -eq 0 ] && [ "$lastl" = "count 40" ] && [ "$consecutive" = yes ] && [ "$k" -gt 1 ]; then
		ok "good image restores${1:+ with $*}: counted from $k to 40 in $ms ms"
	else
		not_ok "good image restores${1:+ with $*}: status $rc, stdout '$first' .. '$lastl', consecutive=$consecutive"
		note "restorer stderr: $(head -c 400 "$W/rst.err" | tr '\n' '|')"
	fi
	[ -s "$W/rst.err" ] && note "restorer/libckpt said on stderr: $(head -c 200 "$W/rst.err" | tr '\n' '|')"
}
restore_good
# --lazy maps page data instead of reading it, and does not check page
# checksums: everything else must still be refused with it
LAZY=
if "$RST" --help 2>&1 | grep -q -e '--lazy'; then
	LAZY=--lazy
	restore_good --lazy
fi

# ---- the image's layout ----
eval "$("$IE" "$GOOD" info | sed -n 's/^\([a-z0-9_]*\)=\([0-9]*\)$/H_\1=\2/p')"
if [ -z "${H_file_size:-}" ] || [ "$H_file_size" -ne "$H_actual_size" ] ||
   [ "$H_data_off" -le "$H_tables_off" ] || [ "$H_tables_off" -ne 4096 ]; then
	not_ok "good image layout: file_size=${H_file_size:-?} actual=${H_actual_size:-?} tables_off=${H_tables_off:-?} data_off=${H_data_off:-?}"
	exit 1
fi
note "image: $H_file_size bytes, tables $H_tables_off+$H_tables_size, data $H_data_off+$H_data_size, $H_nvmas vmas, $H_nruns runs"
fresh() { cp "$GOOD" "$BAD" && chmod 600 "$BAD"; }

# ---- truncated ----
tab_mid=$((H_tables_off + H_tables_size / 2))
data_mid=$((H_data_off + H_data_size / 2))
for cut in 0 1 100 4095 4096 4097 $tab_mid $((H_data_off - 1)) $H_data_off \
	   $data_mid $((H_file_size - 4096)) $((H_file_size - 1)); do
	[ "$cut" -ge 0 ] && [ "$cut" -lt "$H_file_size" ] || continue
	fresh
	truncate -s "$cut" "$BAD"
	refuse "truncated to $cut bytes" "$BAD"
	[ -z "$LAZY" ] || refuse "truncated to $cut bytes, $LAZY" "$BAD" $LAZY
done
# one byte too many is as bad as one too few
fresh
printf 'x' >>"$BAD"
refuse "one byte appended" "$BAD"

# ---- single-bit flips: header fields, spread over tables and data, last byte ----
fresh
FLIP_ARGS=
flips() {	# flips REGION OFFSET... ($FLIP_ARGS: restorer options)
	region=$1
	shift
	total=0
	bad=0
	for off; do
		bit=$((total % 8))
		total=$((total + 1))
		"$IE" "$BAD" flip "$off" "$bit" || { bad=$((bad + 1)); continue; }
		run_refuse "$BAD" $FLIP_ARGS
		"$IE" "$BAD" flip "$off" "$bit"
		if [ -n "$why" ]; then
			bad=$((bad + 1))
			note "  flip bit $bit of byte $off: $why"
		fi
	done
	if [ "$bad" -eq 0 ]; then
		ok "$total single-bit flips in the $region refused${FLIP_ARGS:+, $FLIP_ARGS}"
	else
		not_ok "$bad of $total single-bit flips in the $region${FLIP_ARGS:+ ($FLIP_ARGS)} not refused cleanly"
	fi
}
spread() {	# spread FROM TO COUNT -- COUNT offsets from FROM to TO, both included
	i=0
	while [ $i -lt "$3" ]; do
		echo $(($1 + ($2 - $1) * i / ($3 - 1)))
		i=$((i + 1))
	done
}
# every header field's first byte or so, both checksums, reserved bytes, the end
hdr_offs="0 1 2 3 4 7 8 12 15 16 23 24 31 32 40 48 52 56 64 72 76 80 84 88 96 104 112
	120 128 132 136 144 152 160 164 168 172 176 184 192 200 216 288 352 356 360 368
	376 384 392 2048 4095"
# the first byte of each table (an empty one may start where the data does)
tab_offs=
for off in $H_threads_off $H_proc_off $H_vmas_off $H_runs_off $H_strings_off \
	   ${H_fds_off:-} ${H_sigs_off:-} ${H_timers_off:-}; do
	[ "$off" -ge "$H_tables_off" ] && [ "$off" -lt "$H_data_off" ] && tab_offs="$tab_offs $off"
done
tab_offs="$tab_offs $(spread "$H_tables_off" $((H_data_off - 1)) 25)"
flips header $hdr_offs
flips tables $tab_offs
flips data $(spread "$H_data_off" $((H_file_size - 1)) 30)
if [ -n "$LAZY" ]; then
	FLIP_ARGS=$LAZY
	flips header $hdr_offs
	flips tables $tab_offs
	FLIP_ARGS=
fi
if cmp -s "$GOOD" "$BAD"; then :; else not_ok "imgedit flip did not undo itself"; fi

# ---- semantic damage, checksums fixed so only the semantic check can see it ----
fresh
"$IE" -n "$BAD" set-hdr magic 0x12345678
refuse_semantic "wrong magic" "$BAD"
fresh
"$IE" "$BAD" set-hdr magic 0x464c457f
refuse_semantic "ELF magic, checksums fixed" "$BAD"
refuse_semantic "the restorer itself as an image" "$RST"
for v in 0 2 0xffffffff; do
	fresh
	"$IE" "$BAD" set-hdr version $v
	refuse_semantic "version $v, checksums fixed" "$BAD"
done
fresh
"$IE" "$BAD" set-hdr page_size 16384
refuse_semantic "page_size 16384, checksums fixed" "$BAD"
fresh
"$IE" "$BAD" set-hdr file_size $((H_file_size + 4096))
refuse_semantic "file_size one page more than the file, checksums fixed" "$BAD"
fresh
"$IE" "$BAD" set-hdr nthreads 0
refuse_semantic "no threads, checksums fixed" "$BAD"

# CPU features this CPU lacks: a CPUID.7 EBX feature bit, and XCR0 state components
cpu_lacks() { ! grep -qw "$1" /proc/cpuinfo; }
bit=
for cand in 26:avx512pf 27:avx512er 16:avx512f 14:mpx 31:avx512vl 29:sha_ni 11:rtm 4:hle 2:sgx; do
	b=${cand%%:*}
	if [ $((H_cpuid7_ebx >> b & 1)) -eq 0 ] && cpu_lacks "${cand#*:}"; then
		bit=$b
		name=${cand#*:}
		break
	fi
done
if [ -n "$bit" ]; then
	fresh
	"$IE" "$BAD" set-hdr cpuid7_ebx $((H_cpuid7_ebx | 1 << bit))
	refuse_semantic "image needs CPUID.7 EBX bit $bit ($name), this CPU lacks it" "$BAD"
else
	ok "cpuid7_ebx feature check # SKIP this CPU has every candidate feature"
fi
xmask=
for cand in 0xe0:avx512f 0x60000:amx_tile 0x200:pku; do
	m=$((${cand%%:*}))
	if [ $((H_xcr0 & m)) -eq 0 ] && cpu_lacks "${cand#*:}"; then
		xmask=$m
		name=${cand#*:}
		break
	fi
done
if [ -n "$xmask" ]; then
	fresh
	"$IE" "$BAD" set-hdr xcr0 $((H_xcr0 | xmask))
	refuse_semantic "image saved with XCR0 $(printf '0x%x' $((H_xcr0 | xmask))) ($name), this CPU lacks it" "$BAD"
	# a saved mask naming it is fine while the state does not use it
	# (cpu_baseline.sh); state in use (XSTATE_BV, 8 bytes at +512 of the
	# thread's XSAVE area) is not
	fresh
	"$IE" "$BAD" set-thread 0 xfeatures $((H_xcr0 | xmask))
	xo=$("$IE" "$BAD" get-thread 0 xsave_off)
	for b in $(seq 0 23); do
		[ $((xmask >> b & 1)) -eq 1 ] && "$IE" -n "$BAD" flip $((xo + 512 + b / 8)) $((b % 8))
	done
	"$IE" "$BAD" fix-crc -a
	refuse_semantic "thread state using $name (XSTATE_BV), this CPU lacks it" "$BAD"
else
	ok "xcr0 feature check # SKIP this CPU has every candidate state component"
fi

# ---- a region in the restorer's own address range ----
# linker.ld.in gives the whole zone as rst_zone_start/rst_zone_end; without those
# symbols, the span of the restorer's ELF LOAD segments is the range.
zs=$(nm "$RST" 2>/dev/null | awk '$3 == "rst_zone_start" { print "0x" $1 }')
ze=$(nm "$RST" 2>/dev/null | awk '$3 == "rst_zone_end" { print "0x" $1 }')
if [ -z "$zs" ] || [ -z "$ze" ]; then
	zs=
	ze=
	zone=$(readelf -lW "$RST" 2>/dev/null | awk '$1 == "LOAD" { print $3, $6 }')
	while read -r va msz; do
		[ -n "$va" ] || continue
		s=$((va))
		e=$((va + msz))
		if [ -z "$zs" ] || [ "$s" -lt "$zs" ]; then zs=$s; fi
		if [ -z "$ze" ] || [ "$e" -gt "$ze" ]; then ze=$e; fi
	done <<EOF
$zone
EOF
fi
if [ -z "$zs" ]; then
	not_ok "restorer address range: no rst_zone_start in nm, no LOAD segment in readelf -l $RST"
else
	zs=$((zs / 4096 * 4096))
	ze=$(((ze + 4095) / 4096 * 4096))
	note "restorer's range: $(printf '0x%x-0x%x' "$zs" "$ze")"
	# the vmas around that range: $below ends at or before it, $above starts at or after
	"$IE" "$GOOD" vmas >"$W/vmas"
	below=
	above=
	inside=
	while read -r idx vs vend _kind _prot runs; do
		vs=$((vs))
		vend=$((vend))
		if [ "$vend" -le "$zs" ]; then
			below=$idx below_s=$vs below_e=$vend below_runs=$runs
		elif [ "$vs" -ge "$ze" ]; then
			[ -n "$above" ] || above=$idx above_s=$vs above_e=$vend above_runs=$runs
		else
			inside=$idx
		fi
	done <"$W/vmas"
	if [ -n "$inside" ]; then
		not_ok "the good image already has vma $inside inside the restorer's range"
	fi
	if [ -n "$below" ]; then
		fresh
		"$IE" "$BAD" set-vma "$below" end $((zs + 4096))
		refuse_semantic "vma $below extended into the restorer's first page, checksums fixed" "$BAD"
	fi
	if [ -n "$above" ]; then
		fresh
		"$IE" "$BAD" set-vma "$above" start $((ze - 4096))
		refuse_semantic "vma $above extended down into the restorer's last page, checksums fixed" "$BAD"
	fi
	# a whole region moved into the middle of the range: a vma without stored
	# pages next to the range (its runs would be outside it otherwise)
	mid=$(((zs + (ze - zs) / 2) / 4096 * 4096))
	idx=
	if [ -n "$above" ] && [ "$above_runs" = 0 ]; then
		idx=$above vs=$above_s vend=$above_e
	elif [ -n "$below" ] && [ "$below_runs" = 0 ]; then
		idx=$below vs=$below_s vend=$below_e
	fi
	if [ -n "$idx" ]; then
		len=$((vend - vs))
		[ "$len" -le $((ze - mid)) ] || len=4096
		fresh
		"$IE" "$BAD" set-vma "$idx" start "$mid"
		"$IE" "$BAD" set-vma "$idx" end $((mid + len))
		refuse_semantic "vma $idx moved to $(printf '0x%x' "$mid") inside the restorer's range, checksums fixed" "$BAD"
	else
		note "no vma without stored pages next to the range: the move-inside check is not done"
	fi
fi

# ---- a file the user cannot read ----
if [ "$(id -u)" -eq 0 ]; then
	ok "unreadable image # SKIP running as root, which reads any file (checked when run as a user)"
else
	fresh
	chmod 000 "$BAD"
	refuse "unreadable image (mode 000)" "$BAD"
	chmod 600 "$BAD"
fi

# ---- a bad option does not restore a good image ----
NAME_IN_MSG=restorer
refuse "bad option before a good image" "$GOOD" --no-such-option
NAME_IN_MSG=

note "slowest refusal $slowest ms"
finish
