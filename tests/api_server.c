/* api_server.c -- the paper's second scenario: a server that rolls back over
 * poisonous requests and learns to refuse them.
 *
 * Simulates a daemon reading requests from a pipe.  The test (the client)
 * writes 40 requests "ID VERB ARG\n"; two different poisonous ones, each sent
 * three times (an attacker retrying), overrun a buffer in the parser into a
 * pointer, and the server dies of SIGSEGV.  The server took one tsetjmp before
 * its loop; its SIGSEGV handler calls tlongjmp(0).  After a roll-back it reads
 * chkpt_history (the last jump: which signal) and its persist()ed memory (the
 * request in flight, the crash count, the list of refused payloads): it
 * answers the request that crashed it "CRASHED", adds its payload to the list,
 * and from then on answers that payload "REJECTED" without parsing it.
 *
 * Checks: every request gets exactly one response, the right one (normal:
 * "OK id UPPERCASED"); each poisonous payload crashes the server once only;
 * the persist()ed crash count and chkpt_history agree (2 jumps, SIGSEGV, to
 * state 1); the pipe bytes read after tsetjmp stay read (no request served
 * twice), and the server exits 0 at end of input.
 */
#include "api_lib.h"

#include <ctype.h>

#define NREQ		40
#define MAXBAD		8
#define PAYLOAD		64

struct parsed {
	char arg[16];
	char *out;		/* where the reply is built: an overrun lands here */
};

static struct {
	int crashes;
	int served;
	int inflight_id;		/* request being handled, 0 if none */
	char inflight[PAYLOAD];		/* its payload */
	int nbad;
	char bad[MAXBAD][PAYLOAD];	/* payloads that crashed us */
} P;					/* persist()ed */

static void on_segv(int sig)
{
	(void)sig;
	tlongjmp(0);
	_exit(3);			/* the roll-back was refused */
}

/* read one line with 1-byte reads: nothing read ahead sits in memory a
 * roll-back would take away */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;
	ssize_t r;

	while ((r = read(fd, &c, 1)) == 1 && c != '\n')
		if (n < cap - 1)
			buf[n++] = c;
	buf[n] = 0;
	return r == 1 || n ? (int)n : -1;
}

static void reply(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	if (write(fd, buf, n) != n)
		_exit(4);
}

/* the bug: the argument is copied without a bound */
static void serve(int out, int id, const char *arg)
{
	char reply_buf[PAYLOAD];
	struct parsed p;
	volatile char *dst = (volatile char *)&p;
	size_t i;

	p.out = reply_buf;
	for (i = 0; arg[i]; i++)
		dst[i] = arg[i];		/* > 15 bytes: into p.out */
	dst[i] = 0;
	for (i = 0; p.arg[i]; i++)
		p.out[i] = (char)toupper((unsigned char)p.arg[i]);
	p.out[i] = 0;
	reply(out, "OK %d %s", id, reply_buf);
}

static int server(int in, int out)
{
	struct sigaction sa;
	struct ckpt_jump h[4];
	char line[PAYLOAD + 32], *sp;
	int d, id, n;

	if (persist(&P, sizeof P))
		return 10;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	if (sigaction(SIGSEGV, &sa, NULL))
		return 11;
	d = tsetjmp();
	if (d < 0)
		return 12;
	if (chkpt_status(CKPT_RECOVERED) && P.inflight_id) {
		/* what killed us: the last jump's signal, the request in flight */
		n = chkpt_history(h, 4);
		if (n > 0 && h[(n < 4 ? n : 4) - 1].signal == SIGSEGV && P.nbad < MAXBAD) {
			memcpy(P.bad[P.nbad++], P.inflight, PAYLOAD);
			P.crashes++;
		}
		reply(out, "CRASHED %d", P.inflight_id);
		P.inflight_id = 0;
	}
	while (read_line(in, line, sizeof line) >= 0) {
		int refused = 0;

		if (sscanf(line, "%d", &id) != 1 || !(sp = strchr(line, ' ')))
			continue;
		sp++;
		for (int i = 0; i < P.nbad; i++)
			if (!strncmp(P.bad[i], sp, PAYLOAD - 1))	/* as kept: cut to 63 */
				refused = 1;
		if (refused) {
			reply(out, "REJECTED %d", id);
			continue;
		}
		P.inflight_id = id;
		snprintf(P.inflight, PAYLOAD, "%s", sp);
		serve(out, id, sp);
		P.inflight_id = 0;
		P.served++;
	}
	reply(out, "STATS served=%d crashes=%d checkpoints=%d jumps=%d", P.served, P.crashes,
	      chkpt_status(CKPT_NUMCHKPTS), chkpt_history(NULL, 0));
	return 0;
}

static int body(void)
{
	static const char *poison[2] = {
		"ECHO this-argument-is-far-too-long-AAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"ECHO BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
	};
	int kind[NREQ + 1], got[NREQ + 1], req[2], rsp[2], st, bad = 0, stats_ok = 0;
	char line[256], want[128];
	FILE *f;
	pid_t pid;

	if (pipe(req) || pipe(rsp))
		a_fatal("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		a_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(req[1]);
		close(rsp[0]);
		_exit(server(req[0], rsp[1]));
	}
	close(req[0]);
	close(rsp[1]);
	/* requests 7, 15, 30 carry poison 0; 11, 22, 37 poison 1 */
	for (int id = 1; id <= NREQ; id++) {
		int k = (id == 7 || id == 15 || id == 30) ? 1 : (id == 11 || id == 22 || id == 37) ? 2 : 0;
		int len;

		kind[id] = k;
		got[id] = 0;
		if (k)
			len = snprintf(line, sizeof line, "%d %s\n", id, poison[k - 1]);
		else
			len = snprintf(line, sizeof line, "%d word%d\n", id, id);
		if (write(req[1], line, len) != len)
			a_fatal("write request %d: %s", id, strerror(errno));
	}
	close(req[1]);
	f = fdopen(rsp[0], "r");
	while (f && fgets(line, sizeof line, f)) {
		int id = 0;

		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "STATS ", 6)) {
			stats_ok = !strcmp(line, "STATS served=34 crashes=2 checkpoints=1 jumps=2");
			a_ok(stats_ok, "server's persist()ed stats: \"%s\" (want served=34 crashes=2 "
			     "checkpoints=1 jumps=2)", line);
			continue;
		}
		if (sscanf(line, "%*s %d", &id) != 1 || id < 1 || id > NREQ) {
			a_ok(0, "a response that names no request: \"%s\"", line);
			bad++;
			continue;
		}
		got[id]++;
		if (kind[id] == 0)
			snprintf(want, sizeof want, "OK %d WORD%d", id, id);
		else if (id == 7 || id == 11)
			snprintf(want, sizeof want, "CRASHED %d", id);
		else
			snprintf(want, sizeof want, "REJECTED %d", id);
		if (a_break() && id == 5)
			want[0] = '?';
		if (strcmp(line, want)) {
			a_ok(0, "response to request %d: \"%s\", want \"%s\"", id, line, want);
			bad++;
		}
	}
	if (f)
		fclose(f);
	if (waitpid(pid, &st, 0) != pid)
		a_fatal("waitpid: %s", strerror(errno));
	a_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the server ran to the end of its input (status 0x%x)", st);
	a_ok(!bad, "every response is the right one (%d wrong)", bad);
	for (int id = 1; id <= NREQ; id++)
		if (got[id] != 1) {
			a_ok(0, "request %d answered %d times", id, got[id]);
			bad++;
		}
	a_ok(!bad, "all %d requests answered exactly once: 34 OK, 2 CRASHED, 4 REJECTED", NREQ);
	a_ok(stats_ok, "the server's stats line came");
	a_done();
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
