/* pending_signals.c -- signals pending at the checkpoint are delivered after
 * restore, once each, with their siginfo.
 *
 * Simulates a program that was busy with SIGHUP, SIGTERM and SIGRTMIN+2 blocked
 * when the checkpoint came: SIGHUP sent to the process (kill: pending for the
 * process), SIGTERM sent to the thread (raise: pending for the thread), and
 * SIGRTMIN+2 queued twice with sigqueue values 0x1111 and 0x2222 (real-time
 * signals queue every instance).  After restore, before anything is unblocked,
 * sigpending() shows all three; unblocking them runs the handlers: SIGHUP once
 * (si_code SI_USER, si_pid ours), SIGTERM once (SI_TKILL), SIGRTMIN+2 exactly
 * twice, first with 0x1111 then with 0x2222 (SI_QUEUE).
 */
#include "lib.h"

#include <string.h>
#include <unistd.h>

#define MAXREC 16

static struct rec { int signo, code, value, pid; } recs[MAXREC];
static volatile int nrec;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nrec < MAXREC)
		recs[nrec] = (struct rec){ sig, si->si_code, si->si_value.sival_int, si->si_pid };
	nrec++;
}

static int count(int sig)
{
	int n = 0;

	for (int i = 0; i < nrec && i < MAXREC; i++)
		n += recs[i].signo == sig;
	return n;
}

static const struct rec *nth(int sig, int k)
{
	for (int i = 0; i < nrec && i < MAXREC; i++)
		if (recs[i].signo == sig && k-- == 0)
			return &recs[i];
	return NULL;
}

static int subject(void)
{
	const int rt = SIGRTMIN + 2;
	struct sigaction sa;
	sigset_t set, pend;
	union sigval v;
	const struct rec *r;
	pid_t pid = getpid();

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, rt);
	if (sigaction(SIGHUP, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) || sigaction(rt, &sa, NULL))
		t_fatal("sigaction");
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(pid, SIGHUP);
	raise(SIGTERM);
	v.sival_int = 0x1111;
	if (sigqueue(pid, rt, v))
		t_fatal("sigqueue");
	v.sival_int = 0x2222;
	if (sigqueue(pid, rt, v))
		t_fatal("sigqueue");

	t_wait();
	pid = getpid();			/* the restored process has the restorer's pid */
	sigpending(&pend);
	t_ok(sigismember(&pend, SIGHUP) && sigismember(&pend, SIGTERM) && sigismember(&pend, rt),
	     "SIGHUP, SIGTERM and SIGRTMIN+2 pending after restore (pending %d %d %d)",
	     sigismember(&pend, SIGHUP), sigismember(&pend, SIGTERM), sigismember(&pend, rt));
	t_eq64("nothing delivered while blocked", nrec, 0);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (t_break() && nrec > 0)
		recs[0].signo = 0;

	t_eq64("SIGHUP delivered once", count(SIGHUP), 1);
	r = nth(SIGHUP, 0);
	t_ok(r && r->code == SI_USER, "SIGHUP: si_code SI_USER (got %d)", r ? r->code : -999);
	t_eq64("SIGTERM delivered once", count(SIGTERM), 1);
	r = nth(SIGTERM, 0);
	t_ok(r && r->code == SI_TKILL, "SIGTERM: si_code SI_TKILL (got %d)", r ? r->code : -999);
	t_eq64("SIGRTMIN+2 delivered twice", count(rt), 2);
	r = nth(rt, 0);
	t_ok(r && r->code == SI_QUEUE && r->value == 0x1111,
	     "SIGRTMIN+2 first: SI_QUEUE, si_value 0x1111 (got code %d value 0x%x)",
	     r ? r->code : -999, r ? r->value : 0);
	r = nth(rt, 1);
	t_ok(r && r->code == SI_QUEUE && r->value == 0x2222,
	     "SIGRTMIN+2 second: SI_QUEUE, si_value 0x2222 (got code %d value 0x%x)",
	     r ? r->code : -999, r ? r->value : 0);
	t_eq64("no other signal delivered", nrec, 4);
	sigpending(&pend);
	t_ok(!sigismember(&pend, SIGHUP) && !sigismember(&pend, SIGTERM) && !sigismember(&pend, rt),
	     "nothing left pending");
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
