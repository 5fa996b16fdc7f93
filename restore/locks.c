/* locks.c -- the image's file locks and leases, taken again (struct ckpt_lock).
 *
 * Twice, both times non-blocking.  Early, from rst_prepare_fds, before
 * anything of the process changed: an OFD lock, an flock lock and a lease
 * belong to the open file description, so they are taken on its staging
 * descriptor and stay with it when it moves to its own number.  A POSIX lock
 * belongs to the process, and any close of a descriptor of its file drops it
 * (the staging numbers, the mapped files are closed later), so early it is
 * only tested, with F_GETLK.  Late, once every descriptor has its number and
 * nothing more is closed, just before the threads start: the POSIX locks; and
 * each lease's file is given this process as its owner (F_SETOWN), the one
 * its break signal goes to, as F_SETLEASE did in the program (with --same-pid
 * the lease was set by the parent, and setting it again would not move it),
 * with the signal F_SETSIG had chosen for its breaks.
 * A lock another process holds is a refusal: one line naming the descriptor,
 * the file, the lock and, where F_GETLK / F_OFD_GETLK or /proc/locks (for
 * flock) tells, who holds it.
 */
#include "rst.h"
#include "ckpt_sys.h"

#define F_GETLK		5
#define F_SETLK		6
#define F_OFD_GETLK	36
#define F_OFD_SETLK	37
#define F_SETOWN	8
#define F_SETSIG	10
#define F_SETLEASE	1024
#define F_UNLCK		2
#define LOCK_SH		1
#define LOCK_EX		2
#define LOCK_NB		4

struct rst_flock {			/* the kernel's struct flock on x86-64 */
	int16_t l_type, l_whence;
	int32_t pad0;
	int64_t l_start, l_len;
	int32_t l_pid, pad1;
};

/* the lock's range as fcntl takes it (SEEK_SET) */
static void range_of(const struct ckpt_lock *l, struct rst_flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = (int16_t)l->type;	/* F_RDLCK 0, F_WRLCK 1 */
	fl->l_start = l->start;
	fl->l_len = l->len;
}

/* take lock l through fd; 0 or -errno */
static long take(int fd, const struct ckpt_lock *l)
{
	struct rst_flock fl;

	range_of(l, &fl);
	switch (l->kind) {
	case CKPT_LOCK_POSIX:
		return sys_fcntl(fd, F_SETLK, (long)&fl);
	case CKPT_LOCK_OFD:
		return sys_fcntl(fd, F_OFD_SETLK, (long)&fl);
	case CKPT_LOCK_FLOCK:
		return SC2(__NR_flock, fd, (l->type == CKPT_LOCK_WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB);
	default:				/* CKPT_LOCK_LEASE: F_RDLCK, F_WRLCK */
		return sys_fcntl(fd, F_SETLEASE, l->type);
	}
}

/* A POSIX or OFD lock through fd that conflicts with l: its holder's pid
 * (-1: an OFD lock, which has none), or 0 when nothing conflicts. */
static int32_t lock_holder(int fd, const struct ckpt_lock *l)
{
	struct rst_flock fl;

	range_of(l, &fl);
	if (sys_failed(sys_fcntl(fd, l->kind == CKPT_LOCK_POSIX ? F_GETLK : F_OFD_GETLK, (long)&fl)) ||
	    fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid ? fl.l_pid : -1;
}

/* where the n bytes at key first occur in [p, end), or 0 */
static const char *find(const char *p, const char *end, const char *key, size_t n)
{
	for (; p + n <= end; p++)
		if (!memcmp(p, key, n))
			return p;
	return 0;
}

/* flock has no F_GETLK: the holder of an flock lock on fd's file, from a
 * /proc/locks line "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO 0 EOF" of
 * another pid than ours; 0 when none is found */
static int32_t flock_holder(int fd)
{
	static char text[1 << 16];
	char key[64];
	struct ksys_stat st;
	uint32_t maj, min;
	long f, n = 0, r;
	size_t kn;

	if (sys_failed(sys_fstat(fd, &st)) || sys_failed(f = sys_open("/proc/locks", O_RDONLY | O_CLOEXEC, 0)))
		return 0;
	while (n < (long)sizeof(text) && (r = sys_read((int)f, text + n, sizeof(text) - n)) > 0)
		n += r;
	sys_close((int)f);
	maj = ksys_major(st.st_dev), min = ksys_minor(st.st_dev);	/* printed "%02x:%02x:%lu" */
	kn = img_fmt(key, sizeof(key), " %S%x:%S%x:%lu ", maj < 16 ? "0" : "", maj, min < 16 ? "0" : "", min,
		     st.st_ino);
	for (const char *line = text, *end; line < text + n; line = end + 1) {
		const char *at, *pid;

		for (end = line; end < text + n && *end != '\n'; end++)
			;
		if (!find(line, end, ": FLOCK ", 8) || !(at = find(line, end, key, kn)))
			continue;
		for (pid = at; pid > line && pid[-1] >= '0' && pid[-1] <= '9'; pid--)
			;
		if (pid > line && pid < at && pid[-1] == ' ' && (r = (long)img_parse_num(&pid, 10)) != sys_getpid())
			return (int32_t)r;
	}
	return 0;
}

/* "fd N (PATH): LOCK on bytes A-B cannot be taken again: WHY", into e */
static int refused(const struct img *img, int fd, const struct ckpt_lock *l, long err, struct img_err *e)
{
	const struct ckpt_fd *f = &img->fds[l->fd_index];
	int ranged = l->kind == CKPT_LOCK_POSIX || l->kind == CKPT_LOCK_OFD;
	int32_t pid = ranged ? lock_holder(fd, l) : l->kind == CKPT_LOCK_FLOCK ? flock_holder(fd) : 0;
	char range[64] = "", why[64];

	if (ranged && l->len)
		img_fmt(range, sizeof(range), " on bytes %ld-%ld", l->start, l->start + l->len - 1);
	else if (ranged)
		img_fmt(range, sizeof(range), " on bytes %ld to EOF", l->start);
	if (pid > 0)
		img_fmt(why, sizeof(why), "held by pid %d", pid);
	else if (pid < 0)
		img_fmt(why, sizeof(why), "held by an OFD lock of another process");
	else if (l->kind == CKPT_LOCK_LEASE && err == -11)	/* EAGAIN */
		img_fmt(why, sizeof(why), l->type == CKPT_LOCK_READ ? "the file is open for writing elsewhere"
								     : "the file is open elsewhere");
	else if (l->kind == CKPT_LOCK_LEASE && (err == -13 || err == -1))	/* EACCES, EPERM */
		img_fmt(why, sizeof(why), "not the file's owner (a lease needs that, or CAP_LEASE)");
	else if (err == -11 || err == -13)
		img_fmt(why, sizeof(why), "held by another process");
	else
		img_fmt(why, sizeof(why), "errno %d", (int)-err);
	return img_fail(e, "fd %d (%s): %S%S cannot be taken again: %S", f->fd, img_str(img, f->path_off),
			img_lock_name(l), range, why);
}

/* stage: the staging descriptor of each fd record (-1: not made, the
 * caller's 0-2), for the early pass; 0 for the late one, through the
 * records' own numbers.  0, or -1 with e filled in. */
int rst_take_locks(const struct img *img, const int *stage, int stdio_image, struct img_err *e)
{
	for (uint32_t i = 0; i < img->hdr.nlocks; i++) {
		const struct ckpt_lock *l = &img->locks[i];
		const struct ckpt_fd *f = &img->fds[l->fd_index];
		int fd = stage ? stage[l->fd_index] : f->fd, posix = l->kind == CKPT_LOCK_POSIX;
		long r = 0;

		if (f->fd <= 2 && !stdio_image) {	/* the caller's descriptor, not the image's */
			if (!stage)
				img_say(2, "restorer: notice: not restored: %S through fd %d (this command's)\n",
					img_lock_name(l), f->fd);
			continue;
		}
		if (stage && posix)
			r = lock_holder(fd, l) ? -11 : 0;
		else if (stage || posix)
			r = take(fd, l);
		else if (l->kind == CKPT_LOCK_LEASE && !sys_failed(r = sys_fcntl(fd, F_SETOWN, sys_getpid())))
			r = sys_fcntl(fd, F_SETSIG, l->sig);	/* its breaks' signal, 0: SIGIO */
		if (sys_failed(r))
			return refused(img, fd, l, r, e);
	}
	return 0;
}
