/* lib.c -- the test harness: parent (checkpoint, restore, timeouts) and subject
 * (spin, checks, output) sides.  See lib.h for the scheme. */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define T_TIMEOUT_MS	10000	/* any wait of the parent */
/* A restored subject whose checks all passed exits with this, not 0: a restorer
 * that exits 0 without ever running the program must not look like a pass. */
#define T_EXIT_RESTORED_OK 42

/* ------------------------------------------------------------------ output */

static void t_vwrite(int fd, const char *pre, const char *fmt, va_list ap)
{
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%s", pre);

	n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(fd, buf, n) < 0)
		return;
}

void t_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_vwrite(1, "", fmt, ap);
	va_end(ap);
}

void t_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_vwrite(2, "# ", fmt, ap);
	va_end(ap);
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_vwrite(1, "# SKIP ", fmt, ap);
	va_end(ap);
	exit(4);
}

void t_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_vwrite(1, "not ok - ", fmt, ap);
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------------------------ subject */

void *volatile t_target;
void *volatile t_exit;
volatile uint64_t t_seq;
volatile uint64_t t_seq_tag;
uint64_t t_seq_next;
uint64_t t_seq_tag_next;
volatile int t_go = -1;

static int t_value;		/* the last go value */
static int t_n;			/* checks printed so far (numbering) */
static int t_fails;

void t_go_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	t_go = si->si_value.sival_int & 0x7fffffff;
	t_target = t_exit;
}

int t_after_spin(void)
{
	t_value = t_go;
	return t_gen();
}

int t_wait(void)
{
	if (t_fails)
		exit(1);
	/* T_ARM_ASM + spin, written out: extended asm wants "%%" */
	__asm__ volatile(
		"	lea	1f(%%rip), %%rax\n"
		"	mov	%%rax, t_target(%%rip)\n"
		"	lea	2f(%%rip), %%rax\n"
		"	mov	%%rax, t_exit(%%rip)\n"
		"	movl	$-1, t_go(%%rip)\n"
		"	mov	t_seq(%%rip), %%rax\n"	/* not T_READY_ASM: red zone */
		"	inc	%%rax\n"
		"	mov	%%rax, %%rdx\n"
		"	xor	$" T_STR(T_SEQ_XOR) ", %%rdx\n"
		"	not	%%rdx\n"
		"	mov	%%rdx, t_seq_tag(%%rip)\n"
		"	mov	%%rax, t_seq(%%rip)\n"
		"1:	jmp	*t_target(%%rip)\n"
		"2:\n"
		::: "rax", "rdx", "memory", "cc");
	return t_after_spin();
}

int t_gen(void)   { return t_value & T_GO_GEN_MASK; }
int t_run(void)   { return (t_value & T_GO_RUN_MASK) >> T_GO_RUN_SHIFT; }
int t_break(void) { return t_gen() > 0 && (t_value & T_GO_BREAK); }
int t_last(void)  { return !!(t_value & T_GO_LAST); }
int t_result(void) { return t_fails ? 1 : 0; }

/* "[gen 2] " / "[restore 2] " when there is more than one of them */
static void t_prefix(char *buf, size_t n)
{
	buf[0] = 0;
	if (t_gen() > 1 && t_run() > 1)
		snprintf(buf, n, "[gen %d restore %d] ", t_gen(), t_run());
	else if (t_gen() > 1)
		snprintf(buf, n, "[gen %d] ", t_gen());
	else if (t_run() > 1)
		snprintf(buf, n, "[restore %d] ", t_run());
}

int t_ok(int cond, const char *fmt, ...)
{
	char msg[1536], pre[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!cond)
		t_fails++;
	if (t_gen() == 0) {
		/* the original process after its checkpoint: only say what is wrong */
		if (!cond)
			t_diag("self-check of the original process after its checkpoint: "
			       "not ok %s", msg);
		return cond;
	}
	t_prefix(pre, sizeof pre);
	t_n++;
	t_printf("%s %d %s%s", cond ? "ok" : "not ok", t_n, pre, msg);
	return cond;
}

int t_eq64(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return t_ok(1, "%s", what);
	return t_ok(0, "%s (got 0x%llx want 0x%llx)", what,
		    (unsigned long long)got, (unsigned long long)want);
}

static void t_hex(char *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

int t_eqmem(const char *what, const void *got, const void *want, size_t n)
{
	const unsigned char *g = got, *w = want;
	char gh[40], wh[40];
	size_t i, k;

	for (i = 0; i < n && g[i] == w[i]; i++)
		;
	if (i == n)
		return t_ok(1, "%s", what);
	k = n - i < 16 ? n - i : 16;
	t_hex(gh, g + i, k);
	t_hex(wh, w + i, k);
	return t_ok(0, "%s (at +0x%zx of 0x%zx: got 0x%s want 0x%s)", what, i, n, gh, wh);
}

static uint64_t t_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned char t_byte(uint64_t seed, size_t i)
{
	return (unsigned char)(t_mix(seed + (i >> 3)) >> ((i & 7) * 8));
}

void t_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		c[i] = t_byte(seed, i);
}

int t_check_fill(const char *what, const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n && c[i] == t_byte(seed, i); i++)
		;
	if (i == n)
		return t_ok(1, "%s", what);
	return t_ok(0, "%s (at +0x%zx of 0x%zx: got 0x%02x want 0x%02x)", what, i, n,
		    c[i], t_byte(seed, i));
}

int t_fork_wait(int (*fn)(void *), void *arg)
{
	int st;
	pid_t p = fork();

	if (p < 0)
		return -1;
	if (p == 0)
		_exit(fn(arg));
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* ------------------------------------------------------------------ maps */

long t_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (len < size - 1 && (r = read(fd, buf + len, size - 1 - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += r;
	}
	close(fd);
	buf[len] = 0;
	return len;
}

int t_maps_find(uintptr_t addr, uintptr_t *start, uintptr_t *end, char perms[5],
		char *line, size_t linesz)
{
	static char maps[1 << 18];
	char *p, *nl;

	if (t_read_file("/proc/self/maps", maps, sizeof maps) < 0)
		return -1;
	for (p = maps; *p; p = nl + 1) {
		unsigned long s, e;
		char pr[5];

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		if (sscanf(p, "%lx-%lx %4s", &s, &e, pr) != 3)
			return -1;
		if (addr >= s && addr < e) {
			if (start)
				*start = s;
			if (end)
				*end = e;
			if (perms)
				memcpy(perms, pr, 5);
			if (line && linesz) {
				size_t n = nl - p < (long)linesz - 1 ? (size_t)(nl - p) : linesz - 1;
				memcpy(line, p, n);
				line[n] = 0;
			}
			return 1;
		}
	}
	return 0;
}

static size_t t_linelen(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? (size_t)(nl - p) : strlen(p);
}

/* start address of a maps line (or ~0 past the end, so the other side drains) */
static unsigned long t_line_start(const char *p)
{
	return *p ? strtoul(p, NULL, 16) : ~0ul;
}

/* Maps lines are sorted by address: walk both like a merge, so one extra or
 * missing line shows as that line, not as every line after it shifted. */
int t_maps_diff(const char *a, const char *b)
{
	int shown = 0;

	while (*a || *b) {
		size_t la = t_linelen(a), lb = t_linelen(b);
		unsigned long sa = t_line_start(a), sb = t_line_start(b);

		if (la == lb && !memcmp(a, b, la)) {
			a += la + (a[la] == '\n');
			b += lb + (b[lb] == '\n');
			continue;
		}
		if (shown++ < 16) {
			if (sa <= sb)
				t_diag("maps before: %.*s", (int)la, a);
			if (sb <= sa)
				t_diag("maps after:  %.*s", (int)lb, b);
		}
		if (sa <= sb)
			a += la + (a[la] == '\n');
		if (sb <= sa)
			b += lb + (b[lb] == '\n');
	}
	return shown;
}

const char *t_tmpdir(void)
{
	static char dir[PATH_MAX];
	const char *f = getenv("CKPT_FILE");
	char *slash;

	if (dir[0])
		return dir;
	if (!f || !*f)
		t_fatal("CKPT_FILE is not set: run the tests through tests/run.sh");
	snprintf(dir, sizeof dir, "%s", f);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	return dir;
}

/* ------------------------------------------------------------------ parent */

static const char *t_image;
static char t_restorer[PATH_MAX];
static pid_t t_kids[8];

static void t_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void t_kill_kids(void)
{
	for (unsigned i = 0; i < sizeof t_kids / sizeof t_kids[0]; i++)
		if (t_kids[i] > 0) {
			kill(t_kids[i], SIGKILL);
			waitpid(t_kids[i], NULL, 0);
			t_kids[i] = 0;
		}
}

static void t_track(pid_t p, int on)
{
	for (unsigned i = 0; i < sizeof t_kids / sizeof t_kids[0]; i++)
		if (on ? t_kids[i] == 0 : t_kids[i] == p) {
			t_kids[i] = on ? p : 0;
			return;
		}
}

static pid_t t_orig_pid;	/* the original subject: 2/126/127 mean nothing there */

static const char *t_status_str(int st, pid_t pid)
{
	static char buf[128];
	int restored = pid != t_orig_pid;

	if (WIFEXITED(st)) {
		int c = WEXITSTATUS(st);

		if (c == 1)
			return "exited 1: checks failed (see above)";
		if (restored && c == 2)
			return "exited 2: the restorer refused the image (see its message above)";
		if (restored && c == 126)
			return "exited 126: could not run the restorer";
		if (restored && c == 127)
			return "exited 127: the restorer failed after the point of no return";
		snprintf(buf, sizeof buf, "exited %d", c);
	} else if (WIFSIGNALED(st)) {
		snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	} else {
		snprintf(buf, sizeof buf, "wait status 0x%x", st);
	}
	return buf;
}

/* Wait for pid to end, T_TIMEOUT_MS at most; returns its status, or -1 on timeout
 * (then it is killed).  A 0 timeout only polls. */
static int t_reap(pid_t pid, int timeout_ms)
{
	int st;

	for (int waited = 0;; waited += 5) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			t_track(pid, 0);
			return st;
		}
		if (r < 0 && errno != EINTR)
			t_fatal("harness: waitpid %d: %s", pid, strerror(errno));
		if (waited >= timeout_ms) {
			if (timeout_ms == 0)
				return -2;
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			t_track(pid, 0);
			return -1;
		}
		t_sleep_ms(5);
	}
}

/* Wait until the subject pid has started waiting for the seq-th time (t_seq).
 * A restored subject is the restorer for a while, with its own memory at
 * t_seq's address (once it read 0x020000002c000000 there): only a count whose
 * tag matches is the subject's. */
static void t_wait_ready(pid_t pid, uint64_t seq, const char *who)
{
	for (int waited = 0; waited < T_TIMEOUT_MS; waited += 2) {
		uint64_t tag = 0, v = 0;
		struct iovec l[2] = { { &tag, sizeof tag }, { &v, sizeof v } };
		struct iovec r[2] = { { (void *)&t_seq_tag, sizeof tag }, { (void *)&t_seq, sizeof v } };
		int st = t_reap(pid, 0);

		if (st != -2)
			t_fatal("%s ended before it was ready to be checkpointed: %s", who,
				t_status_str(st, pid));
		/* EFAULT: still the restorer, nothing mapped there yet */
		if (process_vm_readv(pid, l, 2, r, 2, 0) != sizeof tag + sizeof v && errno != EFAULT)
			t_fatal("harness: process_vm_readv %s (pid %d): %s", who, pid,
				strerror(errno));
		if (v >= seq && tag == T_SEQ_TAG(v))
			return;
		t_sleep_ms(2);
	}
	t_kill_kids();
	t_fatal("%s (pid %d) not ready after %d ms", who, pid, T_TIMEOUT_MS);
}

struct t_stamp { int exists; dev_t dev; ino_t ino; struct timespec mtime; off_t size; };

static void t_stamp(const char *path, struct t_stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof *s);
	if (stat(path, &st) == 0) {
		s->exists = 1;
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->mtime = st.st_mtim;
		s->size = st.st_size;
	}
}

/* SIGUSR2 to pid, then wait for a new complete image at CKPT_FILE. */
static void t_checkpoint(pid_t pid, const char *who)
{
	struct t_stamp before, now;

	t_stamp(t_image, &before);
	if (kill(pid, SIGUSR2) < 0)
		t_fatal("harness: kill %s SIGUSR2: %s", who, strerror(errno));
	for (int waited = 0; waited < T_TIMEOUT_MS; waited += 5) {
		int st;

		t_sleep_ms(5);
		t_stamp(t_image, &now);
		if (now.exists && (!before.exists || now.ino != before.ino ||
				   now.dev != before.dev || now.size != before.size ||
				   now.mtime.tv_sec != before.mtime.tv_sec ||
				   now.mtime.tv_nsec != before.mtime.tv_nsec))
			return;
		st = t_reap(pid, 0);
		if (st != -2)
			t_fatal("%s died while being checkpointed: %s", who, t_status_str(st, pid));
	}
	t_kill_kids();
	t_fatal("no new image at %s %d ms after SIGUSR2 to %s", t_image, T_TIMEOUT_MS, who);
}

static void t_send_go(pid_t pid, int value, const char *who)
{
	union sigval v = { .sival_int = value };

	if (sigqueue(pid, SIGUSR1, v) < 0)
		t_fatal("harness: sigqueue %s SIGUSR1: %s", who, strerror(errno));
}

/* Does this process catch sig, in the kernel's books (/proc/self/status SigCgt)? */
static int t_catches(int sig)
{
	char buf[4096], *p;
	unsigned long long mask = 0;
	int fd = open("/proc/self/status", O_RDONLY);	/* no stdio: no heap use */
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "SigCgt:");
	if (!p || sscanf(p, "SigCgt: %llx", &mask) != 1)
		return 0;
	return (mask >> (sig - 1)) & 1;
}

/* Fork and exec the restorer with every signal blocked; returns its pid. */
static pid_t t_restore(void)
{
	sigset_t all, old;
	pid_t pid;

	/* blocked before fork: a signal sent right after fork must stay pending */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		t_fatal("harness: fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "restorer", (char *)t_image, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(t_restorer, argv);
		t_diag("harness: execv %s: %s", t_restorer, strerror(errno));
		_exit(126);
	}
	t_track(pid, 1);
	return pid;
}

static void t_find_restorer(void)
{
	const char *root = getenv("ROOT");
	char exe[PATH_MAX];
	ssize_t n;

	if (root && *root) {
		snprintf(t_restorer, sizeof t_restorer, "%s/restorer", root);
	} else {
		/* tests/bin/NAME -> ../../restorer */
		n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n < 0)
			t_fatal("harness: readlink /proc/self/exe: %s", strerror(errno));
		exe[n] = 0;
		snprintf(t_restorer, sizeof t_restorer, "%s/../../restorer", dirname(exe));
	}
	if (access(t_restorer, X_OK) < 0)
		t_fatal("harness: no restorer at %s (set ROOT)", t_restorer);
}

static int t_subject_main(int (*subject)(void))
{
	struct sigaction sa;
	sigset_t s;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = t_go_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		t_fatal("harness: sigaction SIGUSR1: %s", strerror(errno));
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	r = subject();
	exit(r == 0 && t_gen() > 0 ? T_EXIT_RESTORED_OK : r);
}

/* Check one process's end: 0 if it exited with want (0 for the original,
 * T_EXIT_RESTORED_OK for a restored one). */
static int t_expect_exit(pid_t pid, int want, const char *who)
{
	int st = t_reap(pid, T_TIMEOUT_MS);

	if (st == -1) {
		t_printf("not ok - %s (pid %d) still running after %d ms: killed", who, pid,
			 T_TIMEOUT_MS);
		return 1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == want)
		return 0;
	if (want && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		t_printf("not ok - %s exited 0 without running the program's checks "
			 "(the restorer gave up quietly?)", who);
	else
		t_printf("not ok - %s %s", who, t_status_str(st, pid));
	return 1;
}

int t_main(int (*subject)(void), const struct t_opts *opts)
{
	struct t_opts o = { .restores = 1, .generations = 1 };
	struct sigaction cur;
	const char *brk = getenv("CKPT_TEST_BREAK");
	int bflag = brk && *brk && strcmp(brk, "0") ? T_GO_BREAK : 0;
	int fails = 0, gen;
	uint64_t seq = 1;
	pid_t pid;
	char who[64];

	if (opts)
		o = *opts;
	if (o.restores < 1)
		o.restores = 1;
	if (o.generations < 1)
		o.generations = 1;
	setvbuf(stdout, NULL, _IONBF, 0);
	t_image = getenv("CKPT_FILE");
	if (!t_image || !*t_image)
		t_fatal("CKPT_FILE is not set: run the tests through tests/run.sh");
	/* the kernel's view: libckpt keeps the program's own view of its
	 * trigger signal, so sigaction() would say SIG_DFL here */
	(void)cur;
	if (!t_catches(SIGUSR2))
		t_fatal("libckpt.so is not loaded (no SIGUSR2 handler): run under "
			"LD_PRELOAD=libckpt.so, through tests/run.sh");
	t_find_restorer();
	atexit(t_kill_kids);
	/* Descriptors inherited from whoever ran us (a CI runner, a terminal's
	 * helpers) are not the test's: a pipe whose other end is outside would be
	 * refused at restore, as it should be.  Start clean. */
	syscall(436 /* close_range */, 3, ~0U, 0);

	/* generation 0: the original process */
	pid = fork();
	if (pid < 0)
		t_fatal("harness: fork: %s", strerror(errno));
	if (pid == 0)
		t_subject_main(subject);
	t_orig_pid = pid;
	t_track(pid, 1);
	t_wait_ready(pid, seq, "original subject");
	t_checkpoint(pid, "original subject");
	if (o.after_ckpt && o.after_ckpt(t_image, 0))
		fails++;
	if (o.delay_ms)
		t_sleep_ms(o.delay_ms);
	t_send_go(pid, T_GO_LAST, "original subject");
	if (t_expect_exit(pid, 0, "original process, checking itself after its checkpoint,")) {
		t_printf("not ok - the test is broken: its state is wrong before any restore");
		t_kill_kids();
		return 1;
	}

	/* the same image, restores times */
	for (int run = 1; run <= o.restores; run++) {
		if (o.restores > 1)
			snprintf(who, sizeof who, "restore %d of the same image", run);
		else
			snprintf(who, sizeof who, "restored process (generation 1)");
		pid = t_restore();
		t_send_go(pid, 1 | run << T_GO_RUN_SHIFT | bflag |
			  (o.generations == 1 ? T_GO_LAST : 0), who);
		if (o.generations > 1)
			break;
		fails += t_expect_exit(pid, T_EXIT_RESTORED_OK, who);
	}

	/* generations: checkpoint the restored process, kill it, restore that image */
	for (gen = 2; gen <= o.generations; gen++) {
		snprintf(who, sizeof who, "restored process (generation %d)", gen - 1);
		t_wait_ready(pid, ++seq, who);
		t_checkpoint(pid, who);
		kill(pid, SIGKILL);
		t_reap(pid, T_TIMEOUT_MS);
		if (o.after_ckpt && o.after_ckpt(t_image, gen - 1))
			fails++;
		if (o.delay_ms)
			t_sleep_ms(o.delay_ms);
		snprintf(who, sizeof who, "restored process (generation %d)", gen);
		pid = t_restore();
		t_send_go(pid, gen | 1 << T_GO_RUN_SHIFT | bflag |
			  (gen == o.generations ? T_GO_LAST : 0), who);
	}
	if (o.generations > 1)
		fails += t_expect_exit(pid, T_EXIT_RESTORED_OK, who);
	t_kill_kids();
	return fails ? 1 : 0;
}

void t_fdlink(int f, char *buf)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof p, "/proc/self/fd/%d", f);
	n = readlink(p, buf, PATH_MAX - 1);
	if (n < 0)
		n = snprintf(buf, PATH_MAX, "(not open)");
	buf[n] = 0;
}

const char *t_smaps_field(const void *addr, const char *key)
{
	static char buf[1 << 20], val[512];
	size_t kl = strlen(key);
	char *p;
	int in = 0;

	if (t_read_file("/proc/self/smaps", buf, sizeof buf) < 0)
		return NULL;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long s, e;

		if (sscanf(p, "%lx-%lx ", &s, &e) == 2 && strchr(p, '-') < strchr(p, ' ')) {
			if (in)
				break;
			in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
		} else if (in && !strncmp(p, key, kl)) {
			p += kl;
			while (*p == ' ')
				p++;
			snprintf(val, sizeof val, "%.*s", (int)strcspn(p, "\n"), p);
			return val;
		}
	}
	return NULL;
}
