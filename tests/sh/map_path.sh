#!/bin/sh
# map_path.sh -- an image restores after the program's directory moved:
# restorer --cwd DIR and --map-path OLD=NEW (issue 18, "Self-contained images
# and path mapping"), and a CKPT_COPY_FILES=1 image after its file is deleted.
#
# A program (mp, compiled here) lives in D1 with its data file D1/data/in.txt:
# its cwd is D1, it holds the file open at offset 1000 (fd 3) and maps it
# MAP_PRIVATE and MAP_SHARED, read-only, then checkpoints itself
# (ckpt_checkpoint).  The test moves D1 to D2 (mv), then:
#   a  a plain restore is refused in one line naming D1 and --cwd; with --cwd
#      D2 alone, in one line naming a file under D1 and --map-path; a mapping
#      of a prefix that is not a whole component (D1 less its last letter)
#      maps nothing
#   b  --cwd D2 --map-path D1=D2 restores it (restorer and ckpt restore): the
#      program finds its cwd is D2 (getcwd), reads the right bytes at offset
#      1000 through its descriptor, finds the right bytes in both mappings and
#      D2/data/in.txt named for them in /proc/self/maps, and (as root: setting
#      it needs CAP_SYS_RESOURCE) /proc/self/exe naming D2/mp; -v prints the
#      mapping
#   c  bad option values (no '=', relative OLD, NEW or DIR, 17 mappings, a
#      path of 5000 bytes, a missing value, through ckpt restore too): exit 2,
#      one line naming the option, nothing run
#   d  with CKPT_COPY_FILES=1 at checkpoint, and the data file deleted after
#      the move: --cwd D2 alone restores a program that only maps it (the
#      mapping holds its bytes, now anonymous memory); one that also holds it
#      open is refused in one line naming the descriptor's file and
#      --map-path: CKPT_COPY_FILES=1 stores mappings, not open files
#   f  with CKPT_COPY_FILES=all it stores the open file too: the same restores,
#      the descriptor reads the right bytes at offset 1000 from an unlinked
#      copy, and the restorer says so in a notice naming the file
#   e  ckpt dump --portable of a program started without CKPT_COPY_FILES gives
#      an image that restores as in d
# Root and ordinary user (tests/run.sh runs both).
# CKPT_TEST_BREAK=1: b expects the old cwd D1.

set -u
. "$(dirname "$0")/lib.sh"
RST=$ROOT/restorer
LIB=$ROOT/libckpt.so
CKPT=$ROOT/ckpt
need_built "$RST" "$LIB" "$CKPT"
need_cc
workdir map_path

cat >"$W/mp.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern int ckpt_checkpoint(void) __attribute__((weak));
extern unsigned long ckpt_restore_count(void) __attribute__((weak));

#define LEN 8192
#define POS 1000

/* the path /proc/self/maps names for the mapping at addr, or "-" */
static const char *maps_path(const void *addr)
{
	static char line[4096 + 256], found[4096 + 256];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a = (unsigned long)addr;

	strcpy(found, "-");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		char *p;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || a < s || a >= e)
			continue;
		line[strcspn(line, "\n")] = 0;
		if ((p = strchr(line, '/')))
			strcpy(found, p);
		break;
	}
	if (f)
		fclose(f);
	return found;
}

/* mp FILE full|fd|private|wait: FILE open at POS (not for private and wait),
 * mapped private (and shared for full); checkpoint (wait: print "ready" and
 * wait for one from outside); once restored, say what it finds */
int main(int argc, char **argv)
{
	static char orig[LEN], buf[LEN], cwd[4096], exe[4096] = "?";
	char *priv, *shr = 0;
	int fd, with_fd, with_shared;
	ssize_t r;

	syscall(SYS_close_range, 3, ~0U, 0);	/* nothing inherited: the file is fd 3 */
	if (!ckpt_checkpoint || argc < 3) {
		fprintf(stderr, "usage: mp FILE full|fd|private, under libckpt.so\n");
		return 3;
	}
	with_fd = strcmp(argv[2], "private") && strcmp(argv[2], "wait");
	with_shared = strcmp(argv[2], "full") == 0;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || read(fd, orig, LEN) != LEN || lseek(fd, POS, SEEK_SET) != POS) {
		perror(argv[1]);
		return 3;
	}
	priv = mmap(0, LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	if (with_shared)
		shr = mmap(0, LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (priv == MAP_FAILED || shr == MAP_FAILED) {
		perror("mmap");
		return 3;
	}
	if (!with_fd)
		close(fd);
	if (!strcmp(argv[2], "wait")) {		/* ckpt dump: until restored, 60 s at most */
		printf("ready\n");
		fflush(stdout);
		for (int i = 0; i < 6000 && !ckpt_restore_count(); i++)
			usleep(10000);
		if (!ckpt_restore_count())
			return 3;
	} else switch (ckpt_checkpoint()) {
	case 0:
		printf("saved\n");
		return 0;
	case 1:
		break;
	default:
		perror("ckpt_checkpoint");
		return 3;
	}
	if ((r = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0)
		exe[r] = 0;
	printf("exe %s\n", exe);
	printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
	if (with_fd) {
		off_t at = lseek(fd, 0, SEEK_CUR);

		r = read(fd, buf, LEN - POS);

		printf("fd 3 at %ld: %s\n", (long)at,
		       r == LEN - POS && !memcmp(buf, orig + POS, LEN - POS) ? "right bytes" : "WRONG bytes");
	}
	printf("private: %s\n", memcmp(priv, orig, LEN) ? "WRONG bytes" : "right bytes");
	printf("private maps %s\n", maps_path(priv));
	if (with_shared) {
		printf("shared: %s\n", memcmp(shr, orig, LEN) ? "WRONG bytes" : "right bytes");
		printf("shared maps %s\n", maps_path(shr));
	}
	return 0;
}
EOF
compile_or_fail "the program does not compile" cc -O1 -o "$W/mp" "$W/mp.c"
head -c 8192 /dev/urandom >"$W/in.txt"
D1=$W/D1
D2=$W/D2

# checkpoint IMG MODE [VAR=VALUE...] -- a fresh D1 (the program, its data
# file), mp MODE run there under libckpt until its image is written; then D1
# moves to D2.  1 (with a not ok) when no image came.
checkpoint() {
	img=$1
	mode=$2
	shift 2
	rm -rf "$D1" "$D2" "$img"
	mkdir -p "$D1/data" && cp "$W/mp" "$D1/mp" && cp "$W/in.txt" "$D1/data/in.txt" || exit 1
	(cd "$D1" && env CKPT_FILE="$img" "$@" timeout 60 env LD_PRELOAD="$LIB" ./mp "$D1/data/in.txt" "$mode") \
		>"$W/orig.out" 2>"$W/orig.err" </dev/null
	if [ "$(cat "$W/orig.out")" != saved ] || [ ! -s "$img" ]; then
		not_ok "mp $mode $*: no image: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
		return 1
	fi
	mv "$D1" "$D2"
}

# restore OUT CMD... -- run CMD (10 s at most) from W; status in rc, stderr in OUT.err
restore() {
	rout=$1
	shift
	(cd "$W" && timeout -k 1 10 "$@") >"$rout" 2>"$rout.err" </dev/null
	rc=$?
}

# refused DESC OUT WORD... -- after `restore OUT ...`: status 2, nothing on
# stdout, one stderr line starting "restorer: " holding each WORD
refused() {
	desc=$1
	rout=$2
	shift 2
	why=
	line=$(head -n 1 "$rout.err")
	if [ "$rc" -ne 2 ]; then
		why="exit status $rc, want 2"
	elif [ -s "$rout" ]; then
		why="wrote to stdout (the program ran?): $(oneline "$rout")"
	elif [ "$(wc -l <"$rout.err")" -ne 1 ]; then
		why="stderr is not one line: $(oneline "$rout.err")"
	elif [ "${line#restorer: }" = "$line" ]; then
		why="stderr line does not start with 'restorer: ': $line"
	fi
	for word in "$@"; do
		[ -n "$why" ] || [ "${line#*"$word"}" != "$line" ] || why="does not name '$word': $line"
	done
	if [ -z "$why" ]; then
		ok "$desc"
		note "  said: $line"
	else
		not_ok "$desc: $why"
	fi
}

# ---- a, b: the program with its file open and mapped twice ----
if checkpoint "$W/full.img" full; then
	restore "$W/a1" "$RST" "$W/full.img"
	refused "a: D1 moved: a plain restore is refused, naming the cwd and --cwd" "$W/a1" \
		"working directory $D1 is gone" "--cwd DIR"
	restore "$W/a2" "$RST" --cwd "$D2" "$W/full.img"
	refused "a: with --cwd D2 alone: refused, naming a file under D1 and --map-path" "$W/a2" \
		"$D1/" "is gone" "--map-path $D1"
	restore "$W/a3" "$RST" --cwd "$D2" --map-path "${D1%1}=$D2" "$W/full.img"
	refused "a: --map-path ${D1%1}=D2 does not map D1 (whole components only)" "$W/a3" "$D1/" "is gone"

	want="cwd $D2
fd 3 at 1000: right bytes
private: right bytes
private maps $D2/data/in.txt
shared: right bytes
shared maps $D2/data/in.txt"
	[ $BRK -eq 1 ] && want=$(printf '%s\n' "$want" | sed "s|^cwd .*|cwd $D1|")
	restore "$W/b1" "$RST" -v --cwd "$D2" --map-path "$D1=$D2" "$W/full.img"
	if [ "$rc" -eq 0 ] && [ "$(grep -v '^exe ' "$W/b1")" = "$want" ]; then
		ok "b: --cwd D2 --map-path D1=D2: cwd, descriptor at its offset, both mappings and their /proc/self/maps names are D2's"
	else
		not_ok "b: --cwd D2 --map-path D1=D2: status $rc, the program said $(oneline "$W/b1"), want $(printf '%s' "$want" | tr '\n' '|'); stderr $(oneline "$W/b1.err")"
	fi
	exe=$(sed -n 's/^exe //p' "$W/b1")
	if [ "$(id -u)" -ne 0 ]; then
		note "b: /proc/self/exe names $exe (an ordinary user cannot set it: $(grep exe "$W/b1.err" | head -n 1))"
	elif [ "$exe" = "$D2/mp" ]; then
		ok "b: /proc/self/exe names D2/mp: the restorer opened it there for libckpt"
	else
		not_ok "b: /proc/self/exe names $exe, not $D2/mp: $(oneline "$W/b1.err")"
	fi
	if grep -qF "restorer: --map-path: $D1/... is $D2/... here" "$W/b1.err" &&
	   grep -qF "restorer: --cwd: working directory $D2" "$W/b1.err"; then
		ok "b: -v prints the mapping and the cwd"
	else
		not_ok "b: -v does not print the mapping and the cwd: $(oneline "$W/b1.err")"
	fi
	restore "$W/b2" "$CKPT" restore --cwd "$D2" --map-path "$D1=$D2" "$W/full.img"
	if [ "$rc" -eq 0 ] && [ "$(grep -v '^exe ' "$W/b2")" = "$want" ]; then
		ok "b: ckpt restore --cwd D2 --map-path D1=D2 passes them on: the same"
	else
		not_ok "b: ckpt restore --cwd D2 --map-path D1=D2: status $rc: $(oneline "$W/b2") $(oneline "$W/b2.err")"
	fi

	# ---- c: bad option values: before the image is read ----
	long=/$(head -c 5000 /dev/zero | tr '\0' x)
	many=
	i=0
	while [ $i -le 16 ]; do
		many="$many --map-path /old$i=/new$i"
		i=$((i + 1))
	done
	for case in "no '=':--map-path $D1" "relative OLD:--map-path D1=$D2" "relative NEW:--map-path $D1=D2" \
		    "relative DIR:--cwd D2" "17 mappings:$many" "a path of 5000 bytes:--map-path $long=$D2" \
		    "--cwd DIR of 5000 bytes:--cwd $long" "no value:--cwd"; do
		desc=${case%%:*}
		# shellcheck disable=SC2086	# the options, split on purpose
		restore "$W/c" "$RST" ${case#*:} -- "$W/full.img"
		[ "$desc" = "no value" ] && restore "$W/c" "$RST" "$W/full.img" --cwd
		opt=--map-path
		case ${case#*:} in --cwd*) opt=--cwd ;; esac
		ONELINE_MAX=120 refused "c: $desc ($opt): exit 2, one line" "$W/c" "$opt"
	done
	restore "$W/c" "$CKPT" restore --map-path "$D1" "$W/full.img"
	refused "c: ckpt restore --map-path without '=': the restorer's one line" "$W/c" "--map-path" "no '='"
	if [ -d "$D2/data" ] && [ ! -e "$D1" ] && cmp -s "$D2/data/in.txt" "$W/in.txt"; then
		ok "c: nothing changed on disk"
	else
		not_ok "c: the files moved or changed"
	fi
fi

# ---- d: CKPT_COPY_FILES=1, the data file deleted ----
if checkpoint "$W/copied.img" private CKPT_COPY_FILES=1; then
	rm "$D2/data/in.txt"
	want="cwd $D2
private: right bytes
private maps -"
	restore "$W/d1" "$RST" --cwd "$D2" "$W/copied.img"
	if [ "$rc" -eq 0 ] && [ "$(grep -v '^exe ' "$W/d1")" = "$want" ]; then
		ok "d: CKPT_COPY_FILES=1, D1 moved and its mapped file deleted: --cwd D2 alone restores the mapping's bytes (now anonymous)"
	else
		not_ok "d: CKPT_COPY_FILES=1, file deleted, --cwd D2: status $rc: $(oneline "$W/d1"), want $(printf '%s' "$want" | tr '\n' '|'); $(oneline "$W/d1.err")"
	fi
fi
if checkpoint "$W/copied_fd.img" fd CKPT_COPY_FILES=1; then
	rm "$D2/data/in.txt"
	restore "$W/d2" "$RST" --cwd "$D2" "$W/copied_fd.img"
	refused "d: CKPT_COPY_FILES=1 and the file still open (fd 3): refused, naming the file and --map-path" "$W/d2" \
		"fd 3: file $D1/data/in.txt is gone" "--map-path $D1/data=NEW"
fi

# ---- f: CKPT_COPY_FILES=all stores the open file too ----
if checkpoint "$W/all.img" fd CKPT_COPY_FILES=all; then
	rm "$D2/data/in.txt"
	restore "$W/f1" "$RST" --cwd "$D2" "$W/all.img"
	want="cwd $D2
fd 3 at 1000: right bytes
private: right bytes
private maps -"
	if [ "$rc" -eq 0 ] && [ "$(grep -v '^exe ' "$W/f1")" = "$want" ]; then
		ok "f: CKPT_COPY_FILES=all, file deleted, --cwd D2: fd 3 reads the right bytes at 1000, the mapping holds them"
	else
		not_ok "f: CKPT_COPY_FILES=all, file deleted, --cwd D2: status $rc: $(oneline "$W/f1"), want $(printf '%s' "$want" | tr '\n' '|'); $(oneline "$W/f1.err")"
	fi
	if grep -qF "restorer: notice: fd 3: $D1/data/in.txt is gone: made again from the image's copy" "$W/f1.err"; then
		ok "f: the restorer says fd 3 was made from the image's copy"
	else
		not_ok "f: no notice naming fd 3's file: $(oneline "$W/f1.err")"
	fi
	mkdir -p "$D1/data" && cp "$W/in.txt" "$D1/data/in.txt"
	restore "$W/f2" "$RST" --cwd "$D2" "$W/all.img"
	if [ "$rc" -eq 0 ] && grep -q "^fd 3 at 1000: right bytes" "$W/f2" && ! grep -q "restorer: notice: fd 3" "$W/f2.err"; then
		ok "f: where the file is there, it is reopened, not copied (no notice)"
	else
		not_ok "f: the file there: status $rc: $(oneline "$W/f2") $(oneline "$W/f2.err")"
	fi
	rm -rf "$D1"
fi

# ---- e: ckpt dump --portable: the same without CKPT_COPY_FILES at the start ----
rm -rf "$D1" "$D2" "$W/dumped.img"
mkdir -p "$D1/data" && cp "$W/mp" "$D1/mp" && cp "$W/in.txt" "$D1/data/in.txt" || exit 1
(cd "$D1" && exec env CKPT_FILE="$W/dumped.img" LD_PRELOAD="$LIB" ./mp "$D1/data/in.txt" wait) \
	>"$W/e.out" 2>"$W/e.err" </dev/null &
pid=$!
at_exit 'kill -9 $pid 2>/dev/null'
if wait_for 10 grep -q ready "$W/e.out"; then
	"$CKPT" dump --portable "$pid" >"$W/e.dump" 2>"$W/e.dump.err"
	rc=$?
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ "$rc" -eq 0 ] && [ -s "$W/dumped.img" ]; then
		ok "e: ckpt dump --portable: $(oneline "$W/e.dump") $(oneline "$W/e.dump.err")"
	else
		not_ok "e: ckpt dump --portable: status $rc: $(oneline "$W/e.dump") $(oneline "$W/e.dump.err")"
	fi
	mv "$D1" "$D2" && rm "$D2/data/in.txt"
	restore "$W/e1" "$RST" --cwd "$D2" "$W/dumped.img"
	want="cwd $D2
private: right bytes
private maps -"
	if [ "$rc" -eq 0 ] && [ "$(grep -v '^exe ' "$W/e1")" = "$want" ]; then
		ok "e: its image restores with --cwd D2 alone after D1 moved and the mapped file was deleted"
	else
		not_ok "e: the --portable image, file deleted, --cwd D2: status $rc: $(oneline "$W/e1"); $(oneline "$W/e1.err")"
	fi
else
	not_ok "e: mp wait did not start: $(oneline "$W/e.out") $(oneline "$W/e.err")"
fi

finish
