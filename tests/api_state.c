/* api_state.c -- persist() across many roll-backs, cache() OUT and IN,
 * chkpt_status before and after recovery, chkpt_history's 64-entry ring.
 *
 * Simulates a program that rolls back 70 times to one checkpoint, keeping an
 * iteration count and a 3-page buffer in persist()ed memory (each roll-back
 * must carry the value it had just before the jump, not the checkpoint's), a
 * second region whose size grows with a second persist() of the same address,
 * and a snapshot in the cache store: cache(OUT) then a change then a roll-back
 * (the change is gone, the plain memory is the checkpoint's), then cache(IN)
 * gives back the snapshot; a cache(OUT) after the roll-back replaces it, also
 * with a bigger size.  chkpt_history keeps the last 64 of the 70 jumps, oldest
 * first, and returns how many it keeps (64).  Runs on disk and in memory.
 */
#include "api_lib.h"

#define ROUNDS	70
#define BUF	(3 * 4096 + 100)

static struct {
	int rounds;
	unsigned long sum;
} P;						/* persist()ed */
static unsigned char pbuf[BUF];			/* persist()ed, written each round */
static long grow[8];				/* persist()ed: 1 long, then all 8 */
static long plain = 7;				/* rolls back */
static long snap[4], snap2[16];			/* cache()d */

static int body(void)
{
	struct ckpt_jump h[70];
	int d, n, ok;

	a_eq("CKPT_RECOVERED before any roll-back", chkpt_status(CKPT_RECOVERED), 0);
	a_eq("CKPT_SIGTYPE before any roll-back", chkpt_status(CKPT_SIGTYPE), 0);
	a_eq("CKPT_NUMCHKPTS before any tsetjmp", chkpt_status(CKPT_NUMCHKPTS), 0);
	a_eq("chkpt_history before any roll-back", chkpt_history(h, 4), 0);
	if (persist(&P, sizeof P) || persist(pbuf, BUF) || persist(grow, sizeof grow[0]))
		a_fatal("persist: %s", strerror(errno));
	snap[0] = 100;
	snap[3] = 103;
	if (cache(CKPT_CACHE_OUT, snap, sizeof snap))
		a_fatal("cache OUT: %s", strerror(errno));
	d = tsetjmp();
	if (d != 1)
		a_fatal("tsetjmp: %d %s", d, strerror(errno));
	if (P.rounds == 0) {
		a_eq("CKPT_NUMCHKPTS after one tsetjmp", chkpt_status(CKPT_NUMCHKPTS), 1);
		a_eq("CKPT_RECOVERED after tsetjmp, before any tlongjmp", chkpt_status(CKPT_RECOVERED), 0);
	}
	if (P.rounds > 0) {
		/* the value each had just before the jump: round k wrote k */
		ok = pbuf[0] == P.rounds && pbuf[BUF - 1] == P.rounds && pbuf[4096 * 2 + 7] == P.rounds;
		if (!ok || P.sum != (unsigned long)P.rounds * (P.rounds + 1) / 2 || plain != 7)
			a_ok(0, "round %d: persist()ed buffer %d/%d, sum %lu, plain %ld", P.rounds, pbuf[0],
			     pbuf[BUF - 1], P.sum, plain);
	}
	if (P.rounds == 1) {
		a_eq("CKPT_RECOVERED after a roll-back", chkpt_status(CKPT_RECOVERED), 1);
		a_eq("CKPT_FROM_STATE", chkpt_status(CKPT_FROM_STATE), 1);
		a_eq("CKPT_TO_STATE", chkpt_status(CKPT_TO_STATE), 1);
		a_eq("CKPT_SIGTYPE: not from a handler", chkpt_status(CKPT_SIGTYPE), 0);
		a_eq("the persist()ed long as it was at the jump", grow[0], 11);
		a_eq("the long past the first persist()ed size: the checkpoint's", grow[1], 0);
		a_eq("cached memory changed after cache(OUT): rolled back", snap[0], 100);
		snap[0] = -1;
		a_ok(cache(CKPT_CACHE_IN, snap, sizeof snap) == 0, "cache(IN)");
		a_eq("cache(IN) gives back the value of cache(OUT) after the roll-back",
		     snap[0] + snap[3] * 1000, 200 + 103 * 1000);
		/* a bigger region at the same address, and a second one */
		if (persist(grow, sizeof grow))
			a_fatal("persist grow: %s", strerror(errno));
		for (int i = 0; i < 16; i++)
			snap2[i] = 1000 + i;
		a_ok(cache(CKPT_CACHE_OUT, snap2, sizeof snap2) == 0, "cache(OUT) of a second region");
		snap[1] = 55;
		a_ok(cache(CKPT_CACHE_OUT, snap, sizeof snap) == 0, "cache(OUT) of the first again");
	}
	if (P.rounds == 2) {
		a_eq("persist() again with a bigger size: the whole region kept", grow[7], 77);
		memset(snap, 0, sizeof snap);
		memset(snap2, 0, sizeof snap2);
		cache(CKPT_CACHE_IN, snap, sizeof snap);
		cache(CKPT_CACHE_IN, snap2, sizeof snap2);
		a_eq("cache(IN): the latest cache(OUT) of the first region", snap[0] + snap[1], 200 + 55);
		a_eq("cache(IN): the second region", snap2[15] + snap2[0], 2015);
		a_eq("cache(IN) with a smaller size copies that much", (memset(snap2, 0, sizeof snap2),
		     cache(CKPT_CACHE_IN, snap2, 8), snap2[0] * 10 + snap2[1]), 10000);
	}
	if (P.rounds == ROUNDS) {
		a_ok(1, "%d roll-backs, persist()ed buffer and sum right after each", ROUNDS);
		a_eq("persist()ed round count", P.rounds, ROUNDS + a_break());
		n = chkpt_history(h, 70);
		a_eq("chkpt_history keeps the last 64 jumps", n, 64);
		ok = 1;
		for (int i = 0; i < 64 && i < n; i++)
			ok &= h[i].from == 1 && h[i].to == 1 && h[i].signal == 0 &&
			      (i == 0 || h[i].time_ns >= h[i - 1].time_ns);
		a_ok(ok, "each is 1 -> 1, signal 0, oldest first");
		a_eq("chkpt_history(h, 3) fills 3, returns how many are kept", chkpt_history(h, 3), 64);
		a_done();
	}
	/* a round: change everything, then roll back */
	P.rounds++;
	P.sum += P.rounds;
	memset(pbuf, P.rounds, BUF);
	plain = 1000 + P.rounds;
	if (P.rounds == 1) {
		grow[0] = 11;
		grow[1] = 12;
		snap[0] = 200;
		a_ok(cache(CKPT_CACHE_OUT, snap, sizeof snap) == 0, "cache(OUT) after tsetjmp");
		snap[0] = 300;
	}
	if (P.rounds == 2)
		grow[7] = 77;
	tlongjmp(1);
	a_fatal("tlongjmp(1) in round %d: %s", P.rounds, strerror(errno));
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
