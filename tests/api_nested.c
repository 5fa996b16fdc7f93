/* api_nested.c -- nested checkpoints: tsetjmp 1, 2, 3, then tlongjmp(2), then
 * tlongjmp(1), then forward again to 3, then a new tsetjmp.
 *
 * Simulates a program that saves a state at each of three stages of its work
 * and rolls back over more than one of them.  Each tsetjmp must return its own
 * descriptor again after a roll-back to it; memory must be what it was at that
 * tsetjmp (a plain global), persist()ed memory what it was just before the
 * jump; chkpt_status and chkpt_history must follow every jump (from, to,
 * signal 0: none of these is made from a signal handler); CKPT_NUMCHKPTS
 * survives; a later tsetjmp numbers on (4).  Runs on disk and in memory.
 */
#include "api_lib.h"

static struct {
	int phase;
	int back1, back2, back3;	/* returns from tsetjmp 1, 2, 3 */
} P;					/* persist()ed */
static volatile int plain;		/* rolls back */

static void expect_jump(const char *what, int from, int to)
{
	a_eq("CKPT_RECOVERED after a jump", chkpt_status(CKPT_RECOVERED), 1);
	a_eq("CKPT_FROM_STATE", chkpt_status(CKPT_FROM_STATE), from);
	a_eq("CKPT_TO_STATE", chkpt_status(CKPT_TO_STATE), to);
	a_eq("CKPT_SIGTYPE: not from a handler", chkpt_status(CKPT_SIGTYPE), 0);
	a_note("%s checked", what);
}

static int body(void)
{
	struct ckpt_jump h[8];
	int d1, d2, d3, d4, n, r;

	if (persist(&P, sizeof P))
		a_fatal("persist: %s", strerror(errno));
	a_eq("CKPT_NUMCHKPTS before any tsetjmp", chkpt_status(CKPT_NUMCHKPTS), 0);
	a_eq("CKPT_RECOVERED before any tsetjmp", chkpt_status(CKPT_RECOVERED), 0);
	plain = 1;
	d1 = tsetjmp();
	if (d1 < 0)
		a_fatal("tsetjmp 1: %s", strerror(errno));
	P.back1++;
	if (P.phase == 0) {
		a_eq("first tsetjmp returns 1", d1, 1);
		plain = 2;
		d2 = tsetjmp();
		if (d2 < 0)
			a_fatal("tsetjmp 2: %s", strerror(errno));
		P.back2++;
		if (P.phase == 0) {
			a_eq("second tsetjmp returns 2", d2, 2);
			plain = 3;
			d3 = tsetjmp();
			if (d3 < 0)
				a_fatal("tsetjmp 3: %s", strerror(errno));
			P.back3++;
			if (P.phase == 0) {
				a_eq("third tsetjmp returns 3", d3, 3);
				a_eq("CKPT_NUMCHKPTS after three", chkpt_status(CKPT_NUMCHKPTS), 3);
				errno = 0;
				r = chkpt_status(CKPT_FROM_STATE);
				a_err("CKPT_FROM_STATE before any roll-back", r, errno, EINVAL);
				errno = 0;
				r = chkpt_status(CKPT_TO_STATE);
				a_err("CKPT_TO_STATE before any roll-back", r, errno, EINVAL);
				plain = 99;
				P.phase = 1;
				tlongjmp(2);
				a_fatal("tlongjmp(2) returned: %s", strerror(errno));
			}
			if (P.phase != 3)
				a_fatal("tsetjmp 3 returned again in phase %d", P.phase);
			a_eq("tlongjmp(3) after rolling back past it: tsetjmp 3 returns 3", d3, 3);
			a_eq("memory is as at tsetjmp 3", plain, 3);
			expect_jump("1 -> 3", 1, 3);
			a_eq("persist()ed: tsetjmp 1 returned twice", P.back1, 2);
			a_eq("persist()ed: tsetjmp 3 returned twice", P.back3, 2);
			P.phase = 4;
			d4 = tsetjmp();
			if (d4 < 0)
				a_fatal("tsetjmp 4: %s", strerror(errno));
			if (P.phase == 4) {
				a_eq("a tsetjmp after roll-backs numbers on", d4, 4);
				a_eq("CKPT_NUMCHKPTS", chkpt_status(CKPT_NUMCHKPTS), 4);
				P.phase = 5;
				tlongjmp(0);
				a_fatal("tlongjmp(0) returned: %s", strerror(errno));
			}
			a_eq("tlongjmp(0) goes to the latest, 4", d4, 4);
			expect_jump("4 -> 4 (0 = the latest)", 4, 4);
			a_eq("chkpt_history(NULL, 0) counts the jumps", chkpt_history(NULL, 0), 4);
			a_done();
		}
		if (P.phase != 1)
			a_fatal("tsetjmp 2 returned again in phase %d", P.phase);
		/* back in tsetjmp 2: tsetjmp 3 has not happened in this state */
		a_eq("tlongjmp(2): tsetjmp 2 returns 2 again", d2, 2);
		a_eq("memory is as at tsetjmp 2 (a plain global)", plain, 2 + a_break());
		a_eq("persist()ed: tsetjmp 2 returned twice", P.back2, 2);
		a_eq("persist()ed: tsetjmp 3 returned once", P.back3, 1);
		expect_jump("3 -> 2", 3, 2);
		a_eq("CKPT_NUMCHKPTS still 3", chkpt_status(CKPT_NUMCHKPTS), 3);
		P.phase = 2;
		tlongjmp(1);
		a_fatal("tlongjmp(1) returned: %s", strerror(errno));
	}
	if (P.phase != 2)
		a_fatal("tsetjmp 1 returned again in phase %d", P.phase);
	a_eq("tlongjmp(1): tsetjmp 1 returns 1 again", d1, 1);
	a_eq("memory is as at tsetjmp 1", plain, 1);
	expect_jump("2 -> 1", 2, 1);
	n = chkpt_history(h, 8);
	a_eq("chkpt_history: two jumps", n, 2);
	if (n == 2) {
		a_ok(h[0].from == 3 && h[0].to == 2 && h[0].signal == 0,
		     "history[0] = 3 -> 2 signal 0 (got %d -> %d signal %d)", h[0].from, h[0].to, h[0].signal);
		a_ok(h[1].from == 2 && h[1].to == 1 && h[1].signal == 0,
		     "history[1] = 2 -> 1 signal 0 (got %d -> %d signal %d)", h[1].from, h[1].to, h[1].signal);
		a_ok(h[0].time_ns && h[1].time_ns >= h[0].time_ns, "history times in order");
	}
	P.phase = 3;
	tlongjmp(3);			/* forward: image 3 is still there */
	a_fatal("tlongjmp(3) returned: %s", strerror(errno));
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
