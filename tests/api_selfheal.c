/* api_selfheal.c -- the paper's first scenario: a program corrupts itself,
 * crashes, and recovers through tlongjmp(0) in its SIGSEGV handler.
 *
 * Simulates a C program with an unchecked copy: an overlong input overruns a
 * 32-byte name into the pointer beside it, after a stray memset has already
 * wiped 1 MiB of its data; the next use of the pointer faults.  The handler
 * calls tlongjmp(0); the program comes out of tsetjmp again with its data and
 * pointer as they were, sees chkpt_status(CKPT_RECOVERED) = 1 and
 * CKPT_SIGTYPE = SIGSEGV, takes the input the careful way and finishes with
 * the right result.  Then the same with a real SIGBUS (a mapping past the end
 * of its file).  A persist()ed counter says how many crashes there were.
 */
#include "api_lib.h"

#include <sys/mman.h>

#define DATA (1 << 20)

struct record {
	char name[32];
	long *total;		/* an overrun of name lands here */
};

static long totals[4];
static struct record rec = { "start", &totals[1] };
static unsigned char data[DATA];
static struct { int segv, bus; } P;	/* persist()ed */

static void on_fault(int sig)
{
	(void)sig;
	tlongjmp(0);
	/* only when the roll-back was refused */
	a_ok(0, "tlongjmp(0) in the handler of signal %d returned: %s", sig, strerror(errno));
	_exit(1);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 12));
}

static int check_fill(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed + (i >> 12)))
			return 0;
	return 1;
}

/* the bug: no bounds check (written byte by byte so no fortified strcpy
 * catches it first) */
static void set_name_unchecked(struct record *r, const char *in)
{
	volatile char *p = (volatile char *)r;

	for (size_t i = 0; in[i]; i++)
		p[i] = in[i];
}

static void set_name_checked(struct record *r, const char *in)
{
	snprintf(r->name, sizeof r->name, "%.31s", in);
}

static int body(void)
{
	static const char input[] = "a name far longer than thirty-two bytes: AAAAAAAAAAAAAAAA";
	struct sigaction sa;
	struct ckpt_jump h[4];
	long page = sysconf(_SC_PAGESIZE);
	char path[4200];
	unsigned char *map;
	int d, fd;

	if (persist(&P, sizeof P))
		a_fatal("persist: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL))
		a_fatal("sigaction: %s", strerror(errno));
	fill(data, DATA, 7);

	d = tsetjmp();
	if (d < 0)
		a_fatal("tsetjmp: %s", strerror(errno));
	if (P.segv == 0) {
		a_eq("tsetjmp returns 1", d, 1);
		a_eq("CKPT_RECOVERED before the crash", chkpt_status(CKPT_RECOVERED), 0);
		memset(data, 0xee, DATA);		/* a stray write over the data */
		set_name_unchecked(&rec, input);	/* overruns into rec.total */
		P.segv++;
		*rec.total += 1;			/* 0x4141...: SIGSEGV */
		a_fatal("the corrupted pointer did not fault (%p)", (void *)rec.total);
	}
	a_eq("back from the SIGSEGV handler: tsetjmp returns 1 again", d, 1);
	a_eq("persist()ed crash count", P.segv, 1);
	a_eq("CKPT_RECOVERED", chkpt_status(CKPT_RECOVERED), 1);
	a_eq("CKPT_SIGTYPE is SIGSEGV", chkpt_status(CKPT_SIGTYPE), SIGSEGV);
	a_eq("CKPT_FROM_STATE", chkpt_status(CKPT_FROM_STATE), 1);
	a_eq("CKPT_TO_STATE", chkpt_status(CKPT_TO_STATE), 1);
	if (a_break())
		data[DATA / 2] ^= 1;
	a_ok(check_fill(data, DATA, 7), "1 MiB of data wiped before the crash is back");
	a_ok(rec.total == &totals[1], "the overwritten pointer is back (%p)", (void *)rec.total);
	a_ok(!strcmp(rec.name, "start"), "the overrun name is back (\"%.32s\")", rec.name);
	/* carry on, correctly this time */
	set_name_checked(&rec, input);
	*rec.total += 5;
	a_ok(totals[1] == 5 && totals[0] == 0 && totals[2] == 0, "the work done after recovery is right");
	a_ok(!strncmp(rec.name, input, 31) && rec.name[31] == 0, "the input taken with a bound");

	/* SIGBUS: the second page of a mapping of a one-page file */
	snprintf(path, sizeof path, "%s/bus.%d", a_dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, page))
		a_fatal("%s: %s", path, strerror(errno));
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		a_fatal("mmap: %s", strerror(errno));
	map[0] = 'x';
	d = tsetjmp();
	if (d < 0)
		a_fatal("tsetjmp 2: %s", strerror(errno));
	if (P.bus == 0) {
		a_eq("second tsetjmp returns 2", d, 2);
		P.bus++;
		map[page] = 1;				/* past the file's end: SIGBUS */
		a_fatal("no SIGBUS past the end of the file");
	}
	a_eq("back from the SIGBUS handler: tsetjmp returns 2 again", d, 2);
	a_eq("CKPT_SIGTYPE is SIGBUS", chkpt_status(CKPT_SIGTYPE), SIGBUS);
	a_eq("persist()ed: one SIGSEGV, one SIGBUS", P.segv * 10 + P.bus, 11);
	a_ok(map[0] == 'x', "the shared file page still reads 'x'");
	a_eq("chkpt_history: two jumps", chkpt_history(h, 4), 2);
	a_ok(h[0].signal == SIGSEGV && h[1].signal == SIGBUS && h[0].to == 1 && h[1].to == 2,
	     "history: SIGSEGV -> 1, SIGBUS -> 2 (got %d -> %d, %d -> %d)", h[0].signal, h[0].to,
	     h[1].signal, h[1].to);
	unlink(path);
	a_done();
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
