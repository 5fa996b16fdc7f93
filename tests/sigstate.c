/* sigstate.c -- signal dispositions, the blocked mask and the alternate stack
 * survive.
 *
 * Simulates a daemon that set up its signals: SIGUSR1 (the harness's "go"), SIGTERM
 * and SIGHUP handled with SA_SIGINFO / SA_RESTART / SA_ONSTACK / SA_NODEFER and
 * their own sa_mask, SIGINT ignored, SIGPIPE and SIGWINCH blocked, and an
 * alternate signal stack.  After restore every disposition (handler, flags,
 * restorer, mask, all 64 signals, read with rt_sigaction) must be what it was, the
 * mask must be the same, sigaltstack the same, and the handlers must still run:
 * SIGHUP on the alternate stack, SIGTERM with its siginfo.  A second thread
 * blocks every signal glibc lets it block, so libckpt stops it through
 * glibc's signal 33 with its own handler in for the while: the image must
 * still hold glibc's (its writer reads the dispositions after the stop).
 */
#include "lib.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

struct ksigaction {		/* what rt_sigaction(2) reads and writes */
	uint64_t handler, flags, restorer, mask;
};

#define ALTSZ (64 * 1024)

static struct ksigaction before[65], after[65];
static volatile uintptr_t hup_sp;
static volatile int term_signo, term_code;

static void on_hup(int sig, siginfo_t *si, void *uc)	/* no SA_SIGINFO: sig only */
{
	char here;

	(void)sig;
	(void)si;
	(void)uc;
	hup_sp = (uintptr_t)&here;
}

static void on_term(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	term_signo = si->si_signo;
	term_code = si->si_code;
}

static void *blocker(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);	/* glibc keeps 32 and 33 open */
	for (;;)
		pause();
	return arg;
}

static void snapshot(struct ksigaction *k)
{
	for (int s = 1; s <= 64; s++)
		if (syscall(SYS_rt_sigaction, s, NULL, &k[s], 8) != 0)
			memset(&k[s], 0xff, sizeof k[s]);
}

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags,
		    int m1, int m2)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (m1)
		sigaddset(&sa.sa_mask, m1);
	if (m2)
		sigaddset(&sa.sa_mask, m2);
	if (sigaction(sig, &sa, NULL))
		t_fatal("sigaction %d", sig);
}

static int subject(void)
{
	sigset_t block, mask0, mask;
	stack_t ss = { 0 }, ss1 = { 0 };
	char *alt = malloc(ALTSZ);
	int same = 1;
	pthread_t other;

	if (!alt)
		t_fatal("malloc");
	ss.ss_sp = alt;
	ss.ss_size = ALTSZ;
	if (sigaltstack(&ss, NULL))
		t_fatal("sigaltstack");
	install(SIGUSR1, t_go_handler, SA_SIGINFO | SA_RESTART | SA_ONSTACK, SIGHUP, SIGALRM);
	install(SIGTERM, on_term, SA_SIGINFO | SA_RESTART, SIGINT, SIGQUIT);
	install(SIGHUP, on_hup, SA_ONSTACK | SA_NODEFER,
		SIGCHLD, 0);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigprocmask(SIG_BLOCK, NULL, &mask0);
	if (pthread_create(&other, NULL, blocker, NULL))
		t_fatal("pthread_create");
	snapshot(before);

	t_wait();
	snapshot(after);
	sigprocmask(SIG_BLOCK, NULL, &mask);
	sigaltstack(NULL, &ss1);
	if (t_break())
		after[SIGTERM].flags ^= SA_RESTART;

	for (int s = 1; s <= 64; s++) {
		if (!memcmp(&before[s], &after[s], sizeof before[s]))
			continue;
		same = 0;
		t_diag("signal %d: handler 0x%llx flags 0x%llx restorer 0x%llx mask 0x%llx, "
		       "was 0x%llx 0x%llx 0x%llx 0x%llx", s,
		       (unsigned long long)after[s].handler, (unsigned long long)after[s].flags,
		       (unsigned long long)after[s].restorer, (unsigned long long)after[s].mask,
		       (unsigned long long)before[s].handler, (unsigned long long)before[s].flags,
		       (unsigned long long)before[s].restorer, (unsigned long long)before[s].mask);
	}
	t_ok(same, "all 64 dispositions (handler, flags, restorer, sa_mask) kept");
	t_ok(sigismember(&mask, SIGPIPE) && sigismember(&mask, SIGWINCH),
	     "SIGPIPE and SIGWINCH still blocked");
	t_eq64("blocked mask", *(uint64_t *)&mask, *(uint64_t *)&mask0);
	t_eq64("sigaltstack ss_sp", (uintptr_t)ss1.ss_sp, (uintptr_t)alt);
	t_eq64("sigaltstack ss_size", ss1.ss_size, ALTSZ);
	t_eq64("sigaltstack ss_flags", ss1.ss_flags, 0);

	kill(getpid(), SIGHUP);
	t_ok(hup_sp >= (uintptr_t)alt && hup_sp < (uintptr_t)alt + ALTSZ,
	     "SIGHUP handler runs on the alternate stack (sp 0x%lx)", (unsigned long)hup_sp);
	kill(getpid(), SIGTERM);
	t_ok(term_signo == SIGTERM && term_code == SI_USER,
	     "SIGTERM handler runs with its siginfo (signo %d code %d)", term_signo, term_code);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
