#!/bin/sh
# small_stack.sh -- a checkpoint taken on a small stack leaves the stack alone.
#
# libckpt's handlers run on an alternate signal stack of libckpt's own
# (SA_ONSTACK), so a thread with a 16 KiB stack, or a coroutine on a 16 KiB
# makecontext stack, can take the trigger.  For each of
#   thread  a pthread with a PTHREAD_STACK_MIN (16 KiB) stack takes CKPT_SIGNAL
#           (the main thread blocks it; the thread sends it to itself);
#   coro    the main thread, running a makecontext coroutine on a 16 KiB
#           stack (guard page below), takes CKPT_SIGNAL;
#   stopped a pthread with a 16 KiB stack spins while the main thread takes
#           CKPT_SIGNAL: libckpt's stop handler runs in it;
#   alt     the main thread has a 16 KiB alternate signal stack of its own
#           (guard page below), which the kernel then uses for libckpt's
#           handler too: only the signal frame and the handler's first
#           frame may land there, the checkpoint runs on a stack of
#           libckpt's; the program's sigaltstack is the same after the
#           checkpoint and after the restore;
# and each writer (the forked default and CKPT_FORK=0): the program fills its
# small stack (below the current frame; for alt, all of it) with a pattern,
# takes the checkpoint, and counts the bytes of the pattern overwritten:
# libckpt's use of the program's stack, which must stay under 512 bytes (for
# alt: the kernel's frame, AT_MINSIGSTKSZ, and 512).  The original must live
# and its image must restore: the restored program checks the values it kept
# on the small stack and comes back to the main thread.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the restored program expects a wrong value.

set -u
. "$(dirname "$0")/lib.sh"
workdir small_stack
need_cc
need_built "$ROOT/libckpt.so" "$ROOT/restorer"

cat >"$W/small.c" <<'PROG'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define PATTERN	0xa5
#define MARGIN	1024		/* below the frame: fill's and the syscall's frames */
#define CORO_STACK (16 * 1024)
#define ALT_STACK (16 * 1024)

static unsigned long (*restores)(void);
static char *lo, *hi;		/* the filled part of the small stack */
static long depth = -1;		/* bytes of it written during the checkpoint */
static int state_ok, want_wrong, alt, stopped;
static volatile int ready, go;
static ucontext_t main_ctx, coro_ctx;

static __attribute__((noinline)) void fill(char *from, char *to)
{
	for (volatile char *p = from; p < to; p++)
		*p = (char)PATTERN;
}

static __attribute__((noinline)) long used(void)
{
	for (volatile char *p = lo; p < hi; p++)
		if ((unsigned char)*p != PATTERN)
			return hi - (char *)p;
	return 0;
}

/* on the small stack: values here, the pattern below, the trigger, checks */
static __attribute__((noinline)) void on_small_stack(void)
{
	volatile unsigned long keep[16];
	int restored;

	for (int i = 0; i < 16; i++)
		keep[i] = 0x1000u * (unsigned)i + 7;
	if (!alt)
		hi = (char *)__builtin_frame_address(0) - MARGIN;
	fill(lo, hi);
	if (stopped) {			/* the main thread takes it meanwhile */
		ready = 1;
		while (!go)
			;
	} else {
		syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR2);
	}
	depth = used();
	restored = restores() > 0;
	state_ok = 1;
	for (int i = 0; i < 16; i++)
		if (keep[i] != 0x1000u * (unsigned)i + 7 + (unsigned)(restored && want_wrong && i == 3))
			state_ok = 0;
	if (alt) {			/* the program's sigaltstack, as it set it */
		stack_t now;

		if (sigaltstack(NULL, &now) || now.ss_sp != lo || now.ss_size != ALT_STACK || now.ss_flags)
			state_ok = 0;
	}
}

static void *thread_main(void *a)
{
	pthread_attr_t at;
	sigset_t s;
	void *base;
	size_t size;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(stopped ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
	if (pthread_getattr_np(pthread_self(), &at) || pthread_attr_getstack(&at, &base, &size))
		return (void *)1;
	lo = base;
	on_small_stack();
	return a;
}

static void coro_main(void)
{
	on_small_stack();
	swapcontext(&coro_ctx, &main_ctx);
}

int main(int argc, char **argv)
{
	const char *img = getenv("CKPT_FILE");
	int coro = argc > 1 && !strcmp(argv[1], "coro");
	long limit = 512;

	syscall(436, 3, ~0U, 0);		/* close_range: a runner's stray pipe is not ours */
	want_wrong = getenv("SMALL_BREAK") != NULL;
	restores = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_restore_count");
	if (!restores || !img) {
		printf("libckpt.so not loaded\n");
		return 1;
	}
	unlink(img);
	alt = argc > 1 && !strcmp(argv[1], "alt");
	stopped = argc > 1 && !strcmp(argv[1], "stopped");
	if (alt) {
		char *m = mmap(NULL, ALT_STACK + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		stack_t ss = { 0 };

		if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE))
			return 1;
		lo = m + 4096;
		hi = lo + ALT_STACK;
		ss.ss_sp = lo;
		ss.ss_size = ALT_STACK;
		if (sigaltstack(&ss, NULL))
			return 1;
		limit += (long)getauxval(AT_MINSIGSTKSZ);
		on_small_stack();
	} else if (coro) {
		char *m = mmap(NULL, CORO_STACK + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE))
			return 1;
		lo = m + 4096;
		getcontext(&coro_ctx);
		coro_ctx.uc_stack.ss_sp = lo;
		coro_ctx.uc_stack.ss_size = CORO_STACK;
		coro_ctx.uc_link = &main_ctx;
		makecontext(&coro_ctx, coro_main, 0);
		swapcontext(&main_ctx, &coro_ctx);
	} else {
		pthread_attr_t at;
		pthread_t t;
		sigset_t s;
		void *r;

		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		if (!stopped)
			pthread_sigmask(SIG_BLOCK, &s, NULL);	/* only the small thread takes it */
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, PTHREAD_STACK_MIN);
		if (pthread_create(&t, &at, thread_main, NULL))
			return 1;
		if (stopped) {
			while (!ready)
				;
			syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR2);
			for (int i = 0; i < 300 && !restores() && access(img, F_OK); i++)
				usleep(50000);
			go = 1;
		}
		if (pthread_join(t, &r) || r)
			return 1;
	}
	if (restores() > 0) {
		printf("restored %s\n", state_ok && depth >= 0 && depth < limit ? "ok" : "bad");
		return 0;
	}
	for (int i = 0; i < 300 && access(img, F_OK); i++)
		usleep(50000);
	printf("original %s depth=%ld limit=%ld image=%s\n", state_ok ? "ok" : "bad", depth, limit,
	       access(img, F_OK) ? "none" : "yes");
	return 0;
}
PROG
# -z now: lazy binding of syscall() would take ~2 KiB of the stack itself
compile_or_fail "compile small.c" cc -O1 -Wl,-z,now -o "$W/small" "$W/small.c" -ldl -lpthread

for mode in thread stopped coro alt; do
	for fork in 1 0; do
		img="$W/$mode$fork.img"
		what="$mode, CKPT_FORK=$fork"
		brkenv=
		[ "$BRK" = 1 ] && brkenv=SMALL_BREAK=1
		(cd "$W" && exec timeout 60 env $brkenv \
			LD_PRELOAD="$ROOT/libckpt.so" CKPT_FILE="$img" CKPT_FORK=$fork \
			"$W/small" $mode) >"$W/out" 2>"$W/err"
		rc=$?
		out=$(cat "$W/out")
		case $out in
		"original ok depth="*" limit="*" image=yes")
			d=${out#original ok depth=}
			d=${d%% *}
			lim=${out#* limit=}
			lim=${lim%% *}
			if [ "$d" -ge 0 ] && [ "$d" -lt "$lim" ]; then
				ok "$what: the original lives, wrote its image, $d bytes of its stack used"
			else
				not_ok "$what: libckpt used $d bytes of the program's 16 KiB stack (limit $lim)"
			fi ;;
		*)
			not_ok "$what: exit $rc, '$out'; stderr: $(oneline "$W/err")"
			continue ;;
		esac
		expect_restore "$img" "restored ok" "$what: restored, its small stack's values kept"
	done
done
finish
