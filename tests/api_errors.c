/* api_errors.c -- every API call's errors, and a refused tlongjmp leaves the
 * process as it was.
 *
 * Simulates a program that gets its checkpoint descriptors or its images
 * wrong: tlongjmp with nothing to roll back to, with a descriptor that does
 * not exist, to an image that was deleted (disk store), to an image with one
 * flipped byte in its page data or its header, with no restorer binary, with
 * the restorer's address range taken; then bad arguments to persist, cache,
 * chkpt_status, chkpt_history.  After each refused tlongjmp: -1 with the right
 * errno, a value written after tsetjmp is still there (no roll-back happened),
 * the signal mask is the same, and a later good tlongjmp still works.  A
 * corrupted image must also say why on stderr.  Runs on disk and in memory.
 */
#include "api_lib.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "ckpt_image.h"
#include "ckpt_layout.h"	/* CKPT_ZONE_START: where the restorer goes */

static struct { int phase; } P;		/* persist()ed */
static volatile int canary;

/* an image: its fd, opened read-write (disk: by name; memory: the library's memfd) */
static int image_fd(int n, char *path, size_t cap)
{
	char comm[17] = { 0 }, name[64], link[256], fdp[300];
	struct dirent *e;
	DIR *d;
	int fd = -1;

	prctl(PR_GET_NAME, comm);
	if (strcmp(a_store, "memory")) {
		snprintf(path, cap, "%s/%s.%d.%d", a_dir, comm, (int)getpid(), n);
		return open(path, O_RDWR | O_CLOEXEC);
	}
	snprintf(name, sizeof name, "/memfd:ckpt:%d.%d ", (int)getpid(), n);
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d))) {
		ssize_t l;

		snprintf(fdp, sizeof fdp, "/proc/self/fd/%s", e->d_name);
		l = readlink(fdp, link, sizeof link - 1);
		if (l > 0 && (link[l] = 0, !strncmp(link, name, strlen(name)))) {
			fd = atoi(e->d_name);
			snprintf(path, cap, "%s", fdp);
		}
	}
	if (d)
		closedir(d);
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 100);
}

static sigset_t mask_now(void)
{
	sigset_t s;

	sigprocmask(SIG_SETMASK, NULL, &s);
	return s;
}

static int same_mask(sigset_t a, sigset_t b)
{
	return !memcmp(&a, &b, 8);	/* the kernel's 64 signals; glibc's sigset_t is bigger */
}

struct jump { int d, r, err; };

static int do_jump(void *arg)
{
	struct jump *j = arg;

	errno = 0;
	j->r = tlongjmp(j->d);
	j->err = errno;
	return j->r;
}

/* tlongjmp(d) must be refused with errno want; stderr captured into msg */
static void refused(const char *what, int d, int want, char *msg, size_t cap)
{
	struct jump j = { d, 0, 0 };
	sigset_t before = mask_now();
	char buf[4096];
	pid_t pid = getpid();

	canary = 1234;
	a_capture_stderr(do_jump, &j, msg ? msg : buf, msg ? cap : sizeof buf);
	a_err(what, j.r, j.err, want);
	a_ok(canary == 1234 && getpid() == pid && same_mask(before, mask_now()),
	     "%s: the process is as it was (canary %d, mask kept)", what, canary);
}

static int body(void)
{
	char msg[4096], path[4200];
	struct ckpt_hdr h;
	struct ckpt_jump hist[2];
	unsigned char b;
	sigset_t s;
	void *z;
	int d, fd, r, x = 0;

	if (persist(&P, sizeof P))
		a_fatal("persist: %s", strerror(errno));
	/* a mask that must survive every refusal */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGWINCH);
	sigprocmask(SIG_BLOCK, &s, NULL);

	refused("tlongjmp(0) before any tsetjmp: nothing to roll back to", 0, EINVAL, NULL, 0);
	refused("tlongjmp(1) before any tsetjmp", 1, EINVAL, NULL, 0);
	errno = 0;
	r = cache(CKPT_CACHE_IN, &x, sizeof x);
	a_err("cache(CKPT_CACHE_IN) before any CKPT_CACHE_OUT", r, errno, ENOENT);

	d = tsetjmp();
	if (d < 0)
		a_fatal("tsetjmp: %s", strerror(errno));
	if (P.phase == 1) {
		a_eq("the good tlongjmp after all the refusals lands in tsetjmp 1", d, 1);
		a_eq("CKPT_RECOVERED", chkpt_status(CKPT_RECOVERED), 1);
		a_eq("chkpt_history: refusals are not jumps", chkpt_history(hist, 2), 1);
		a_done();
	}
	a_eq("tsetjmp returns 1", d, 1);
	refused("tlongjmp(2): no such descriptor", 2, EINVAL, NULL, 0);
	refused("tlongjmp(-1)", -1, EINVAL, NULL, 0);
	refused("tlongjmp(1000000)", 1000000, EINVAL, NULL, 0);

	/* one flipped byte in the page data, then in the header */
	fd = image_fd(1, path, sizeof path);
	if (fd < 0)
		a_fatal("cannot open image 1 (%s): %s", path, strerror(errno));
	if (pread(fd, &h, sizeof h, 0) != sizeof h || h.magic != CKPT_MAGIC || h.data_size < 200)
		a_fatal("image 1 (%s): no header", path);
	a_ok(pread(fd, &b, 1, h.data_off + 100) == 1, "read a byte of page data");
	b ^= 0x40;
	pwrite(fd, &b, 1, h.data_off + 100);
	refused("tlongjmp(1) to an image with a flipped data byte", 1, EINVAL, msg, sizeof msg);
	a_ok(strstr(msg, "restorer: ") != NULL, "it says why on stderr: %.*s", (int)strcspn(msg, "\n"), msg);
	b ^= 0x40;
	pwrite(fd, &b, 1, h.data_off + 100);
	pread(fd, &b, 1, 200);
	b ^= 1;
	pwrite(fd, &b, 1, 200);
	refused("tlongjmp(1) to an image with a flipped header byte", 1, EINVAL, msg, sizeof msg);
	a_ok(strstr(msg, "restorer: ") != NULL, "it says why on stderr: %.*s", (int)strcspn(msg, "\n"), msg);
	b ^= 1;
	pwrite(fd, &b, 1, 200);

	/* no restorer binary */
	setenv("CKPT_RESTORER", "/nonexistent/restorer", 1);
	refused("tlongjmp(1) with no restorer binary", 1, ENOEXEC, NULL, 0);
	unsetenv("CKPT_RESTORER");

	/* the restorer's fixed range is taken */
	z = mmap((void *)CKPT_ZONE_START, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (z == (void *)CKPT_ZONE_START) {
		refused("tlongjmp(1) with the restorer's range in use", 1, EBUSY, NULL, 0);
		munmap(z, 4096);
	} else {
		a_note("cannot map the restorer's range (%s): EBUSY not tried", strerror(errno));
	}

	/* bad arguments */
	errno = 0;
	r = persist(NULL, 4);
	a_err("persist(NULL, 4)", r, errno, EINVAL);
	errno = 0;
	r = persist(&x, 0);
	a_err("persist(&x, 0)", r, errno, EINVAL);
	errno = 0;
	r = persist((void *)-8l, 16);
	a_err("persist: range wraps around", r, errno, EINVAL);
	errno = 0;
	r = cache(3, &x, sizeof x);
	a_err("cache(3, ...): no such direction", r, errno, EINVAL);
	errno = 0;
	r = cache(CKPT_CACHE_OUT, NULL, 4);
	a_err("cache(CKPT_CACHE_OUT, NULL, 4)", r, errno, EINVAL);
	errno = 0;
	r = cache(CKPT_CACHE_OUT, &x, 0);
	a_err("cache(CKPT_CACHE_OUT, &x, 0)", r, errno, EINVAL);
	cache(CKPT_CACHE_OUT, &x, sizeof x);
	errno = 0;
	r = cache(CKPT_CACHE_IN, &d, sizeof d);
	a_err("cache(CKPT_CACHE_IN) of an address never cached", r, errno, ENOENT);
	errno = 0;
	r = chkpt_status(0);
	a_err("chkpt_status(0)", r, errno, EINVAL);
	errno = 0;
	r = chkpt_status(99);
	a_err("chkpt_status(99)", r, errno, EINVAL);
	errno = 0;
	r = chkpt_history(NULL, 3);
	a_err("chkpt_history(NULL, 3)", r, errno, EINVAL);
	errno = 0;
	r = chkpt_history(hist, -1);
	a_err("chkpt_history(h, -1)", r, errno, EINVAL);
	a_eq("chkpt_status(CKPT_RECOVERED) after all the refusals", chkpt_status(CKPT_RECOVERED), a_break());

	/* an image deleted: ENOENT (disk only: a memfd cannot be deleted) */
	if (strcmp(a_store, "memory")) {
		if (tsetjmp() != 2)
			a_fatal("tsetjmp 2: %s", strerror(errno));
		if (P.phase == 0) {
			fd = image_fd(2, path, sizeof path);
			close(fd);
			a_ok(unlink(path) == 0, "unlink %s", path);
			refused("tlongjmp(2) after its image was deleted", 2, ENOENT, NULL, 0);
			refused("tlongjmp(0) after the latest image was deleted", 0, ENOENT, NULL, 0);
		}
	}
	P.phase = 1;
	tlongjmp(1);
	a_fatal("tlongjmp(1) after the refusals: %s", strerror(errno));
}

int main(void)
{
	return a_main(body, A_STORE_BOTH);
}
