/* api_fds.c -- what a roll-back does to descriptors, signals and a few
 * process attributes.
 *
 * Simulates a program with a pipe, a regular file, a socket pair, signal
 * handlers and a blocked mask, which then changes all of them and rolls back.
 * The policy checked (libckpt(3), DESCRIPTORS):
 *  - a pipe open at tsetjmp and still open works on; bytes read from it after
 *    tsetjmp stay read, bytes written stay written;
 *  - a regular file's offset goes back to its value at tsetjmp; what was
 *    written into the file stays;
 *  - a socket open at tsetjmp keeps working, its data stays consumed;
 *  - a descriptor opened after tsetjmp stays open (same file); one closed
 *    after tsetjmp stays closed;
 *  - the signal mask and every disposition come back as at tsetjmp;
 *  - the working directory and the umask come back;
 *  - CKPT_SIGTYPE is the signal whose handler called tlongjmp (SIGUSR1 here).
 * Runs on disk and in memory.
 */
#include "api_lib.h"

#include <sys/socket.h>
#include <sys/syscall.h>

struct ksigaction { unsigned long handler, flags, restorer, mask; };

static struct {
	int phase;
	int late_fd;			/* opened after tsetjmp */
	ino_t late_ino;
} P;					/* persist()ed */

static void on_hup_a(int s) { (void)s; }
static void on_hup_b(int s) { (void)s; }
static void on_usr1(int s) { (void)s; tlongjmp(0); _exit(3); }

static void get_all(struct ksigaction *k)
{
	for (int s = 1; s <= 64; s++)
		if (syscall(SYS_rt_sigaction, s, NULL, &k[s], 8))
			memset(&k[s], 0xff, sizeof k[s]);
}

static void set(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(sig, &sa, NULL);
}

static int body(void)
{
	static struct ksigaction before[65], after[65];
	sigset_t m0, m1, s;
	char buf[16], path[4200], sub[4200], cwd0[4200], cwd1[4200];
	int pfd[2], sv[2], fd, closing, d, same;
	struct stat st;
	ssize_t n;

	if (persist(&P, sizeof P))
		a_fatal("persist: %s", strerror(errno));
	if (pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		a_fatal("pipe/socketpair: %s", strerror(errno));
	if (write(pfd[1], "abcdef", 6) != 6 || write(sv[0], "123456", 6) != 6)
		a_fatal("write: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/file.%d", a_dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "0123456789ABCDEFGHIJ", 20) != 20 || lseek(fd, 5, SEEK_SET) != 5)
		a_fatal("%s: %s", path, strerror(errno));
	closing = open("/dev/null", O_RDONLY);
	snprintf(sub, sizeof sub, "%s/sub.%d", a_dir, (int)getpid());
	mkdir(sub, 0700);
	if (!getcwd(cwd0, sizeof cwd0))
		a_fatal("getcwd");
	umask(022);
	/* signals as saved: SIGHUP -> a, SIGINT ignored, SIGUSR1 -> the roll-back
	 * handler, SIGPIPE and SIGWINCH blocked */
	set(SIGHUP, on_hup_a, SA_RESTART);
	set(SIGINT, SIG_IGN, 0);
	set(SIGUSR1, on_usr1, 0);
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	sigaddset(&s, SIGWINCH);
	sigprocmask(SIG_BLOCK, &s, NULL);
	sigprocmask(SIG_SETMASK, NULL, &m0);
	get_all(before);

	d = tsetjmp();
	if (d != 1)
		a_fatal("tsetjmp: %d %s", d, strerror(errno));
	if (P.phase == 0) {
		/* change everything, then roll back from the SIGUSR1 handler */
		n = read(pfd[0], buf, 3);
		a_ok(n == 3 && !memcmp(buf, "abc", 3), "read abc from the pipe after tsetjmp");
		write(pfd[1], "XY", 2);
		n = read(sv[1], buf, 2);
		a_ok(n == 2, "read 12 from the socket after tsetjmp");
		n = read(fd, buf, 10);
		a_ok(n == 10 && lseek(fd, 0, SEEK_CUR) == 15, "file offset 5 -> 15 after tsetjmp");
		pwrite(fd, "zz", 2, 0);			/* a change in the file itself */
		P.late_fd = open(path, O_RDONLY);
		fstat(P.late_fd, &st);
		P.late_ino = st.st_ino;
		close(closing);
		chdir(sub);
		umask(077);
		set(SIGHUP, on_hup_b, 0);
		set(SIGINT, SIG_DFL, 0);
		set(SIGQUIT, on_hup_b, SA_NODEFER);
		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		sigaddset(&s, SIGTERM);
		sigaddset(&s, SIGALRM);
		sigprocmask(SIG_BLOCK, &s, NULL);
		P.phase = 1;
		raise(SIGUSR1);				/* on_usr1: tlongjmp(0) */
		a_fatal("raise(SIGUSR1) came back: %s", strerror(errno));
	}
	/* after the roll-back */
	a_eq("tsetjmp returns 1 again", d, 1);
	a_eq("CKPT_SIGTYPE: the signal whose handler called tlongjmp", chkpt_status(CKPT_SIGTYPE), SIGUSR1);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	n = read(pfd[0], buf, sizeof buf);
	a_ok(n == 5 && !memcmp(buf, "defXY", 5),
	     "pipe: bytes read after tsetjmp stay read, bytes written stay (\"%.*s\", want \"defXY\")",
	     n > 0 ? (int)n : 0, buf);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	n = read(sv[1], buf, sizeof buf);
	a_ok(n == 4 && !memcmp(buf, "3456", 4), "socket: the same kernel object, data read stays read");
	a_eq("regular file: the offset is back at 5", lseek(fd, 0, SEEK_CUR), 5 + a_break());
	n = pread(fd, buf, 2, 0);
	a_ok(n == 2 && !memcmp(buf, "zz", 2), "regular file: what was written after tsetjmp stays");
	a_ok(fstat(P.late_fd, &st) == 0 && st.st_ino == P.late_ino,
	     "a descriptor opened after tsetjmp stays open, the same file (fd %d)", P.late_fd);
	a_ok(fcntl(closing, F_GETFD) == -1 && errno == EBADF,
	     "a descriptor closed after tsetjmp stays closed (fd %d)", closing);
	sigprocmask(SIG_SETMASK, NULL, &m1);
	a_ok(!memcmp(&m0, &m1, 8), "the signal mask is as at tsetjmp (SIGPIPE, SIGWINCH; "
	     "not SIGTERM, SIGALRM, nor SIGUSR1 of the handler): %#lx, want %#lx",
	     *(unsigned long *)&m1, *(unsigned long *)&m0);
	get_all(after);
	same = 1;
	for (int sg = 1; sg <= 64; sg++)
		if (memcmp(&before[sg], &after[sg], sizeof before[sg])) {
			a_ok(0, "signal %d: disposition handler %#lx flags %#lx mask %#lx, want %#lx %#lx %#lx",
			     sg, after[sg].handler, after[sg].flags, after[sg].mask, before[sg].handler,
			     before[sg].flags, before[sg].mask);
			same = 0;
		}
	a_ok(same, "all 64 signal dispositions are as at tsetjmp (SIGHUP a, SIGINT ignored, SIGQUIT default)");
	a_ok(getcwd(cwd1, sizeof cwd1) && !strcmp(cwd0, cwd1), "the working directory is back (%s)", cwd1);
	a_eq("the umask is back", umask(022), 022);
	close(P.late_fd);
	unlink(path);
	rmdir(sub);
	a_done();
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
