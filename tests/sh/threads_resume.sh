#!/bin/sh
# threads_resume.sh -- after a restore no thread runs the program's code
# before the process is whole again.
#
# Simulates a program whose worker threads act the moment they can: four
# threads spin on ckpt_restore_count() while the main thread checkpoints
# itself (raise(SIGUSR2)).  Restored, each worker, as its first act after it
# sees the count move, reads /proc/self/maps and /proc/self/exe.  The
# restorer's code must be gone from the address space by then, and (as root,
# where libckpt may point /proc/self/exe back at the program:
# CAP_CHECKPOINT_RESTORE) the executable must be the program's.  Before
# libckpt held the restored threads until then, the first of them to come
# back read both while the main thread still waited for the others.
# Checks (each eager and with --lazy):
#   1  restored: every worker saw no restorer mapping (and, as root, the
#      program as /proc/self/exe) at its first look, and the program ends well
# Root and the ordinary user alike.  Environment (tests/run.sh): ROOT, TMPDIR.
# `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the workers count a mapping of the program itself as
# the restorer's.

set -u
. "$(dirname "$0")/lib.sh"

need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer"
workdir threads_resume

cat >"$W/resume.c" <<'EOF2'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NW 4

static unsigned long (*count)(void);
static unsigned long seen;
static char exe0[PATH_MAX], *watch;	/* watch: the path whose mapping is the restorer's */
static volatile int looked[NW], mapped[NW], exe_moved[NW], ready;

/* 1 when a line of /proc/self/maps names the watched path */
static int watched_mapped(void)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;
	size_t n = strlen(watch);

	if (!f)
		return 1;
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\n");

		if (len >= n && !strncmp(line + len - n, watch, n))
			found = 1;
	}
	fclose(f);
	return found;
}

static void *worker(void *arg)
{
	int i = (int)(long)arg;
	char exe[PATH_MAX] = "";
	ssize_t n;

	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (count() == seen)
		;
	/* the first thing after the restore */
	mapped[i] = watched_mapped();
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe_moved[i] = n < 0 || strcmp(exe, exe0) != 0;
	looked[i] = 1;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[NW];
	int bad_map = 0, bad_exe = 0;
	ssize_t n;

	count = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	if (!count || argc < 2) {
		printf("no ckpt_restore_count, or no path to watch\n");
		return 2;
	}
	watch = argv[1];
	n = readlink("/proc/self/exe", exe0, sizeof exe0 - 1);
	if (n < 0)
		return 2;
	seen = count();
	for (long i = 0; i < NW; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < NW)
		;
	raise(SIGUSR2);
	if (count() == seen) {		/* the original: the image is written */
		printf("checkpointed\n");
		exit(0);		/* libckpt waits for its writer at exit */
	}
	for (int i = 0; i < NW; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NW; i++) {
		bad_map += mapped[i];
		bad_exe += exe_moved[i];
	}
	printf("restorer mapped at a worker's first look: %d of %d; /proc/self/exe not the program: %d of %d\n",
	       bad_map, NW, bad_exe, NW);
	return 0;
}
EOF2
compile_or_fail "cannot build the program" cc -O2 -Wall -pthread -o "$W/resume" "$W/resume.c"

watch=$ROOT/restorer
[ "$BRK" = 1 ] && watch=$W/resume
under_libckpt ./resume "$watch"
if [ "$rc" -ne 0 ] || ! grep -q '^checkpointed$' "$W/orig.out" || [ ! -s "$W/img" ]; then
	not_ok "checkpoint: status $rc: $(oneline "$W/orig.out") $(oneline "$W/orig.err")"
	finish
fi
want_exe=0
if [ "$(id -u)" != 0 ]; then
	note "not root: /proc/self/exe is not checked (pointing it back needs CAP_CHECKPOINT_RESTORE)"
	want_exe='[0-9]'
fi
for how in eager lazy; do
	if [ $how = lazy ]; then
		restore_got "$W/img" --lazy
	else
		restore_got "$W/img"
	fi
	if [ "$rrc" -eq 0 ] &&
	   grep -q "^restorer mapped at a worker's first look: 0 of 4; /proc/self/exe not the program: $want_exe of 4\$" "$W/got"; then
		ok "$how restore: no worker ran before the process was whole: $(oneline "$W/got")"
	else
		not_ok "$how restore: status $rrc: $(oneline "$W/got"); stderr: $(oneline "$W/restore.err")"
	fi
done
finish
