/* fds.c -- make the image's descriptors again.
 *
 * Two phases.  rst_prepare_fds() runs before anything is torn down: it opens,
 * creates and fills every object (files, pipes with their buffered bytes,
 * memfds, eventfds ...) and parks each at a staging number above every number
 * the image uses, so a refusal (file gone, shorter than its offset, a kind we
 * cannot make) still leaves the caller's process as it was.  rst_install_fds()
 * runs once the image file is closed: dup3 from the staging numbers to the
 * image's numbers, then everything else above 2 is closed.
 * Fds 0, 1, 2 stay the caller's unless --stdio=image.
 *
 * Nothing the image names is opened, read or written before its type is
 * known (rst_pin): a FIFO record must name a FIFO, a file a regular file, a
 * device the same device.  The one write into an existing object, a FIFO's
 * buffered bytes, waits until every descriptor is made (fill_fifos).
 */
#include "rst.h"
#include "ckpt_sys.h"

#define F_DUPFD_CLOEXEC	1030
#define F_SETFL		4
#define F_SETPIPE_SZ	1031
#define F_ADD_SEALS	1033
#define TFD_IOC_SET_TICKS 0x40085400	/* _IOW('T', 0, uint64_t) */
#define O_TMPFILE_RW	(020000000 | O_DIRECTORY | O_RDWR)
#define SETFL_MASK	(02000 | 04000 | 020000 | 040000 | 01000000)	/* APPEND NONBLOCK ASYNC DIRECT NOATIME */
#define OPEN_MASK	(~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_NOFOLLOW))	/* NOFOLLOW: rst_reopen follows */

#define MAX_WATCHES	16384
#define MAX_INOTIFY_WATCHES 4096
#define IN_ONLYDIR	0x01000000u
#define IN_DONT_FOLLOW	0x02000000u

static int stage[CKPT_MAX_FDS];		/* per fd record: staging descriptor, or -1 */
static uint8_t from_copy[CKPT_MAX_FDS / 8];	/* per fd record: made from its stored content */
static uint8_t in_repair[CKPT_MAX_FDS / 8];	/* per fd record: a TCP connection in repair mode */
static int path_gone;			/* pin_recorded: the path is not there (ENOENT, ENOTDIR) */
static struct ckpt_epoll_watch watches[MAX_WATCHES];	/* every epoll instance's, in record order */
static uint32_t nwatches;
static struct ckpt_inotify_watch inotify_watches[MAX_INOTIFY_WATCHES];	/* every instance's, in record order */
static struct ckpt_fanotify_mark fanotify_marks[CKPT_FANOTIFY_MARKS_MAX];	/* every fanotify's, likewise */
static uint32_t nfanotify_marks;
static struct ckpt_uffd_range uffd_ranges[CKPT_UFFD_RANGES_MAX];	/* the program's userfaultfd's */
static uint32_t nuffd_ranges;
static uint32_t ninotify_watches;
static int stage_min;			/* staging numbers start here */
#define MAX_TTYS 16
static struct ckpt_tty ttys[MAX_TTYS];	/* terminals' modes, read before the point of no return */
static uint32_t tty_record[MAX_TTYS];	/* ... the fd record each one is of */
static uint32_t nttys;
static char copy_buf[1 << 20];

/* Paths the image names are opened in two steps, so that nothing is opened,
 * read or written before we know what the path names now.  rst_pin: an O_PATH
 * handle, which opens nothing (a FIFO cannot block us, a device sees no open),
 * without following a final symlink (recorded paths are resolved ones), and
 * its fstat; a handle of another type than `type` is closed and
 * RST_WRONG_TYPE returned, with st->st_mode saying what it is.  Then
 * rst_reopen: the real open, through /proc/self/fd of the handle so that it is
 * the very file checked, non-blocking (the recorded status flags are set once
 * it is made) and never as a controlling terminal. */
long rst_pin(const char *path, uint32_t type, struct ksys_stat *st)
{
	long h = sys_open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);

	st->st_mode = 0;
	if (!sys_failed(h) && (sys_failed(sys_fstat((int)h, st)) || (st->st_mode & S_IFMT) != type)) {
		sys_close((int)h);
		return RST_WRONG_TYPE;
	}
	return h;
}

long rst_reopen(int pinned, int flags)
{
	char link[32];

	img_fmt(link, sizeof(link), "/proc/self/fd/%d", pinned);
	return sys_open(link, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
}

const char *rst_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFIFO: return "FIFO";
	case S_IFCHR: return "character device";
	case S_IFLNK: return "symbolic link";
	case S_IFSOCK: return "socket file";
	case S_IFBLK: return "block device";
	default: return "special file";
	}
}

/* a record's stored bytes, all f->data_len of them (checked to fit buf when
 * the image was read), into buf, checked against data_crc; what names them */
static int read_stored(const struct img *img, const struct ckpt_fd *f, void *buf, const char *what,
		       struct img_err *e)
{
	if (f->data_len && sys_pread(img->fd, buf, f->data_len, (int64_t)f->data_off) != (long)f->data_len)
		return img_fail(e, "fd %d: reading its %s failed", f->fd, what);
	if (ckpt_crc32c(0, buf, f->data_len) != f->data_crc)
		return img_fail(e, "fd %d: stored bytes checksum mismatch: image corrupted", f->fd);
	return 0;
}

/* copy len bytes at the image's off into fd (fd -1: only check them), checking the crc */
static int copy_in(const struct img *img, int fd, uint64_t off, uint64_t len, uint32_t crc_want,
		   const struct ckpt_fd *f, struct img_err *e)
{
	uint32_t crc = 0;

	for (uint64_t done = 0; done < len; ) {
		uint64_t n = len - done > sizeof(copy_buf) ? sizeof(copy_buf) : len - done;
		long r = sys_pread(img->fd, copy_buf, n, off + done);

		if (r <= 0)
			return img_fail(e, "fd %d: reading its stored bytes failed", f->fd);
		crc = ckpt_crc32c(crc, copy_buf, r);
		for (long w = 0; fd >= 0 && w < r; ) {
			long k = sys_write(fd, copy_buf + w, r - w);

			if (k <= 0)
				return img_fail(e, "fd %d: refilling %s: errno %d", f->fd,
						img_str(img, f->path_off), (int)-k);
			w += k;
		}
		done += r;
	}
	if (crc != crc_want)
		return img_fail(e, "fd %d: stored bytes checksum mismatch: image corrupted", f->fd);
	return 0;
}

/* "/memfd:NAME (deleted)" -> NAME; "/a/b (deleted)" -> "/a/b" */
static void strip(const char *path, const char *prefix, char *out, size_t cap)
{
	size_t pl = rst_strlen(prefix), n;

	if (!memcmp(path, prefix, pl))
		path += pl;
	n = rst_strlen(path);
	if (n >= 10 && !memcmp(path + n - 10, " (deleted)", 10))
		n -= 10;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

static long make_deleted(const struct img *img, const struct ckpt_fd *f, struct img_err *e)
{
	static char name[RST_PATH_MAX], mapped[RST_PATH_MAX], dir[RST_PATH_MAX];
	const char *path;
	char link[64];
	long fd, re;

	strip(img_str(img, f->path_off), "", name, sizeof(name));
	if (!(path = rst_map_path(name, mapped, e)))	/* --map-path */
		return -1;
	rst_dir_of(path, dir);
	fd = sys_open(dir, O_TMPFILE_RW | O_NOFOLLOW | O_CLOEXEC, f->mode & 07777);	/* makes no name */
	if (sys_failed(fd))
		fd = sys_open("/tmp", O_TMPFILE_RW | O_CLOEXEC, f->mode & 07777);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: cannot make a file for deleted %s: errno %d", f->fd,
				img_str(img, f->path_off), (int)-fd);
	if (copy_in(img, (int)fd, f->data_off, f->data_len, f->data_crc, f, e))
		return -1;
	/* opened again through /proc: the program's flags, not O_TMPFILE's */
	img_fmt(link, sizeof(link), "/proc/self/fd/%d", (int)fd);
	re = sys_open(link, (f->flags & OPEN_MASK) | O_CLOEXEC, 0);
	sys_close((int)fd);
	return sys_failed(re) ? img_fail(e, "fd %d: reopening deleted file: errno %d", f->fd, (int)-re) : re;
}

static const uint32_t kind_type[CKPT_FD_KIND_MAX] = {
	[CKPT_FD_REG] = S_IFREG, [CKPT_FD_DIR] = S_IFDIR, [CKPT_FD_FIFO] = S_IFIFO, [CKPT_FD_CHR] = S_IFCHR,
};

uint32_t rst_proc_pid;

/* The number after "/proc/" at *p (moved past it) when a '/' or the end
 * follows, else 0 */
static uint32_t proc_number(const char **p)
{
	const char *s = *p;
	uint64_t n = img_parse_num(p, 10);

	return *p != s && n < (1u << 31) && (**p == '/' || !**p) ? (uint32_t)n : 0;
}

/* The path to open for a record: the recorded one as --map-path maps it,
 * except under the process's own /proc/PID (and its main thread's task/PID),
 * which becomes the same file of this process, /proc/rst_proc_pid.  /proc of
 * any other pid, or of another thread of the process (its new id is not known
 * yet), is refused: it is some other process's now.  0 after img_fail. */
static const char *open_path(const struct img *img, const struct ckpt_fd *f, char *buf, size_t size,
			     struct img_err *e)
{
	static char mapped[RST_PATH_MAX];
	const char *path = rst_map_path(img_str(img, f->path_off), mapped, e), *rest;
	uint32_t old = img->proc->pid, task = 0, n;

	if (!path)
		return 0;
	rest = path + 6;
	/* memcmp stops at the first difference: never past the NUL */
	if (memcmp(path, "/proc/", 6) || !(n = proc_number(&rest)))
		return path;
	if (!memcmp(rest, "/task/", 6)) {
		const char *tid = rest + 6;

		if ((task = proc_number(&tid)))
			rest = tid;
	}
	if (n == old && (!task || task == old) && rst_proc_pid &&
	    (task ? img_fmt(buf, size, "/proc/%u/task/%u%s", rst_proc_pid, rst_proc_pid, rest)
		  : img_fmt(buf, size, "/proc/%u%s", rst_proc_pid, rest)) < size - 1)
		return buf;
	img_fail(e, "fd %d: %s: only the process's own /proc/%u/ is reopened (not with --same-pid)", f->fd,
		 path, old);
	return 0;
}

/* the record's path (open_path, into *used) pinned (rst_pin), if it is of
 * the record's kind (an O_PATH record: of its mode's type), and a device the
 * same device (aux[0], st_rdev, when the image has it) */
static long pin_recorded(const struct img *img, const struct ckpt_fd *f, struct ksys_stat *st,
			 const char **used, struct img_err *e)
{
	static char buf[4096];		/* a recorded path, 4095 bytes at most, with a pid changed */
	static char dir[RST_PATH_MAX];
	const char *path = *used = open_path(img, f, buf, sizeof(buf), e);
	uint32_t type = f->flags & O_PATH ? f->mode & S_IFMT : kind_type[f->kind];
	long h;

	path_gone = 0;
	if (!path)
		return -1;
	h = rst_pin(path, type, st);

	path_gone = h == -2 || h == -20;	/* ENOENT, ENOTDIR */
	if (path_gone)
		return img_fail(e, "fd %d: file %s is gone (--map-path %s=NEW maps it)", f->fd, path,
				rst_dir_of(img_str(img, f->path_off), dir));
	if (h == RST_WRONG_TYPE)
		return img_fail(e, "fd %d: %s is now a %s, not a %s", f->fd, path, rst_type_name(st->st_mode),
				rst_type_name(type));
	if (sys_failed(h))
		return img_fail(e, "fd %d: cannot open %s: errno %d", f->fd, path, (int)-h);
	if ((type == S_IFCHR || type == S_IFBLK) && f->aux[0] && st->st_rdev != f->aux[0]) {
		sys_close((int)h);
		return img_fail(e, "fd %d: %s is now device 0x%lx, not 0x%lx", f->fd, path, st->st_rdev, f->aux[0]);
	}
	return h;
}

/* open a file again and check it can serve the saved offset */
static long reopen(const struct img *img, const struct ckpt_fd *f, int verbose, struct img_err *e)
{
	const char *path;
	struct ksys_stat st;
	long h = pin_recorded(img, f, &st, &path, e), fd;

	if (h < 0)
		return -1;
	fd = rst_reopen((int)h, (int)(f->flags & OPEN_MASK));
	sys_close((int)h);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: cannot open %s: errno %d", f->fd, path, (int)-fd);
	if (f->kind == CKPT_FD_REG && !st.st_size && !memcmp(path, "/proc/", 6))
		return fd;			/* proc files are all of size 0 */
	if (f->kind == CKPT_FD_REG) {
		if ((uint64_t)st.st_size < f->pos && !(f->flags & 02000))
			return img_fail(e, "fd %d: file %s is now %ld bytes, shorter than its offset %lu",
					f->fd, path, st.st_size, f->pos);
		if (verbose && (st.st_size != f->size || (int64_t)st.st_mtime_sec != f->mtime_sec ||
				st.st_mtime_nsec != f->mtime_nsec || st.st_ino != f->ino))
			img_say(2, "restorer: notice: fd %d: %s changed since the checkpoint; opened as it is now\n",
				f->fd, path);
	}
	return fd;
}

/* A path descriptor (O_PATH) again: the pinned file opened O_PATH by its
 * path, with the recorded flags (O_NOFOLLOW: a symbolic link itself), which
 * opens nothing; it must be the pinned file still (device and inode). */
static long reopen_path(const struct img *img, const struct ckpt_fd *f, struct img_err *e)
{
	const char *path;
	struct ksys_stat pinned, now;
	long h = pin_recorded(img, f, &pinned, &path, e), fd;

	if (h < 0)
		return -1;
	sys_close((int)h);
	fd = sys_open(path, (int)(f->flags & (O_PATH | O_NOFOLLOW | O_DIRECTORY)) | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: cannot open %s O_PATH: errno %d", f->fd, path, (int)-fd);
	if (sys_failed(sys_fstat((int)fd, &now)) || now.st_ino != pinned.st_ino || now.st_dev != pinned.st_dev)
		return img_fail(e, "fd %d: %s changed while it was opened", f->fd, path);
	return fd;
}

/* A FIFO opened for writing only needs a reader to open without blocking:
 * hold one open for the moment of the open.  Its buffered bytes are checked
 * here, with a writer of ours opened once to see that one can be; they go in
 * with fill_fifos, once every descriptor is made. */
static long reopen_fifo(const struct img *img, const struct ckpt_fd *f, struct img_err *e)
{
	const char *path;
	struct ksys_stat st;
	long h = pin_recorded(img, f, &st, &path, e), hold, fd, w = 0;

	if (h < 0)
		return -1;
	hold = rst_reopen((int)h, O_RDWR);
	fd = rst_reopen((int)h, (int)(f->flags & OPEN_MASK));
	if (!sys_failed(fd) && f->data_len && !sys_failed(w = rst_reopen((int)h, O_WRONLY)))
		sys_close((int)w);
	if (!sys_failed(hold))
		sys_close((int)hold);
	sys_close((int)h);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: FIFO %s: errno %d", f->fd, path, (int)-fd);
	if (sys_failed(w))
		return img_fail(e, "fd %d: FIFO %s: no writer to refill it: errno %d", f->fd, path, (int)-w);
	if (f->data_len && copy_in(img, -1, f->data_off, f->data_len, f->data_crc, f, e))
		return -1;
	return fd;
}

/* The last step before the point of no return that writes: each FIFO's
 * buffered bytes, through a writer of our own (the record's descriptor, the
 * reader, is open: the open does not block, nor fail).  The write sets the
 * FIFO's mtime: its times are put back as they were before it (not possible
 * on another user's FIFO: a notice). */
static int fill_fifos(const struct img *img, struct img_err *e)
{
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		struct ksys_stat st;
		long w, r;
		int bad;

		if (f->kind != CKPT_FD_FIFO || stage[i] < 0 || !f->data_len)
			continue;
		w = rst_reopen(stage[i], O_WRONLY);
		if (sys_failed(w))
			return img_fail(e, "fd %d: FIFO %s: no writer to refill it: errno %d", f->fd,
					img_str(img, f->path_off), (int)-w);
		r = sys_fstat((int)w, &st);
		bad = copy_in(img, (int)w, f->data_off, f->data_len, f->data_crc, f, e);
		if (!bad && !sys_failed(r))	/* st_atime and st_mtime: timespec[2] as they lie */
			r = sys_futimens((int)w, &st.st_atime_sec);
		if (!bad && sys_failed(r))
			img_say(2, "restorer: notice: fd %d: FIFO %s: the refill changed its mtime: errno %d\n",
				f->fd, img_str(img, f->path_off), (int)-r);
		sys_close((int)w);
		if (bad)
			return -1;
	}
	return 0;
}

/* the read end of a pipe pair among the records, and its partner */
static long make_pipe(const struct img *img, uint32_t i, struct img_err *e)
{
	const struct ckpt_fd *f = &img->fds[i], *g = &img->fds[img->fds[f->peer].share];
	const struct ckpt_fd *rd = (f->flags & 3) == O_RDONLY ? f : g, *wr = rd == f ? g : f;
	int p[2];
	long r = sys_pipe2(p, O_CLOEXEC | 04000);	/* non-blocking while we fill it */

	if (sys_failed(r))
		return img_fail(e, "fd %d: pipe: errno %d", f->fd, (int)-r);
	if (f->aux[0])
		sys_fcntl(p[1], F_SETPIPE_SZ, (long)f->aux[0]);
	if (rd->data_len && copy_in(img, p[1], rd->data_off, rd->data_len, rd->data_crc, rd, e))
		return -1;
	stage[rd - img->fds] = p[0];
	stage[wr - img->fds] = p[1];
	return 0;
}

/* A UNIX pair end's queue, refilled: each stored record (a uint32_t length,
 * then its bytes) is sent through the other end, so that a datagram stays
 * one datagram.  The sockets are non-blocking here: a queue the new
 * sockets cannot hold is refused, never waited for. */
static int refill_queue(const struct img *img, const struct ckpt_fd *f, int through, struct img_err *e)
{
	uint32_t crc = 0, len = 0;

	for (uint64_t at = 0; at < f->data_len; at += 4 + len) {
		long r;

		if (f->data_len - at < 4 || sys_pread(img->fd, &len, 4, (int64_t)(f->data_off + at)) != 4 ||
		    len > CKPT_SOCK_RECORD_MAX || len > f->data_len - at - 4 ||
		    sys_pread(img->fd, copy_buf, len, (int64_t)(f->data_off + at + 4)) != (long)len)
			return img_fail(e, "fd %d: its stored queue is cut short: image corrupted", f->fd);
		crc = ckpt_crc32c(crc, &len, 4);
		crc = ckpt_crc32c(crc, copy_buf, len);
		r = sys_sendto(through, copy_buf, len, KSYS_MSG_NOSIGNAL, 0, 0);
		if (r != (long)len)
			return img_fail(e, "fd %d: its %lu queued bytes do not fit in a new socket's buffer: errno %d",
					f->fd, f->data_len, r < 0 ? (int)-r : 0);
	}
	if (crc != f->data_crc)
		return img_fail(e, "fd %d: stored bytes checksum mismatch: image corrupted", f->fd);
	return 0;
}

/* One end of a UNIX connection (record f): its buffer sizes, SO_PASSCRED,
 * SO_PEEK_OFF and shutdown as they were: 0, or a refusal in e. */
static int set_unix_end(int sock, const struct ckpt_fd *f, struct img_err *e)
{
	uint32_t rcv = (uint32_t)f->aux[5] / 2, snd = (uint32_t)(f->aux[5] >> 32) / 2;	/* it doubles them */
	int peek = (int)f->aux[4], shut = (int)(f->aux[2] & (CKPT_UP_SHUT_RD | CKPT_UP_SHUT_WR)) >> 1, one = 1;

	if ((rcv && sys_failed(sys_setsockopt(sock, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF, &rcv, 4))) ||
	    (snd && sys_failed(sys_setsockopt(sock, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF, &snd, 4))) ||
	    ((f->aux[2] & CKPT_UP_PASSCRED) && sys_failed(sys_setsockopt(sock, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED, &one, 4))) ||
	    (peek >= 0 && sys_failed(sys_setsockopt(sock, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &peek, 4))) ||
	    (shut && sys_failed(sys_shutdown(sock, shut - 1))))	/* 1, 2, 3 -> SHUT_RD, _WR, _RDWR */
		return img_fail(e, "fd %d: the options or shutdown of its UNIX socket could not be set", f->fd);
	return 0;
}

/* A connected pair of UNIX sockets (a socketpair, or a connection accepted
 * from one of the program's listeners), made again with socketpair: each
 * end's queue refilled through the other while both have all the buffer
 * room allowed, then each end's options and shutdown as they were
 * (set_unix_end).  An end whose other end was closed gets one that is
 * closed once its queue is in. */
static int make_unix_pair(const struct img *img, uint32_t i, struct img_err *e)
{
	const struct ckpt_fd *end[2] = { &img->fds[i], &img->fds[img->fds[i].peer] };
	int sv[2], most = 1 << 30, ends = end[1] == end[0] ? 1 : 2;
	long r = sys_socketpair(KSYS_AF_UNIX, (int)end[0]->aux[0] | KSYS_SOCK_CLOEXEC | KSYS_SOCK_NONBLOCK, 0, sv);

	if (sys_failed(r))
		return img_fail(e, "fd %d: socketpair: errno %d", end[0]->fd, (int)-r);
	for (int k = 0; k < 2; k++)		/* the kernel lowers it to net.core.wmem_max */
		sys_setsockopt(sv[k], KSYS_SOL_SOCKET, KSYS_SO_SNDBUF, &most, 4);
	for (int k = 0; k < ends; k++)
		if (refill_queue(img, end[k], sv[1 - k], e))
			return -1;
	for (int k = 0; k < ends; k++) {
		if (set_unix_end(sv[k], end[k], e))
			return -1;
		stage[end[k] - img->fds] = sv[k];
	}
	if (ends == 1)
		sys_close(sv[1]);
	return 0;
}

/* A pty pair's master (CKPT_FD_PTY) made again from /dev/ptmx, with the
 * pair's mode and window size (set through the master, they are the
 * slave's), packet mode, and its slave unlocked so that the slaves can be
 * opened; relock_ptys() locks again one that was locked. */
static long make_pty_master(const struct img *img, const struct ckpt_fd *m, struct img_err *e)
{
	struct ckpt_tty t;
	int off = 0, on = 1;
	long fd, r;

	if (m->data_len && read_stored(img, m, &t, "pty's mode", e))	/* 64 bytes: read.c */
		return -1;
	fd = sys_open("/dev/ptmx", (int)(m->flags & 3) | O_NOCTTY | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: open /dev/ptmx for a new pty pair: errno %d", m->fd, (int)-fd);
	if (sys_failed(r = sys_ioctl((int)fd, KSYS_TIOCSPTLCK, &off)) ||
	    ((m->aux[2] & CKPT_PTY_PACKET) && sys_failed(r = sys_ioctl((int)fd, KSYS_TIOCPKT, &on))) ||
	    (m->data_len && (sys_failed(r = sys_ioctl((int)fd, KSYS_TCSETS2, &t)) ||
			     sys_failed(r = sys_ioctl((int)fd, KSYS_TIOCSWINSZ, &t.rows)))))
		return img_fail(e, "fd %d: the new pty's lock, packet mode, mode or size could not be set: errno %d",
				m->fd, (int)-r);
	return fd;
}

/* A pty record: a master, or a slave opened through its master (made first
 * when its record comes later), which needs no path: the new pair has
 * another number.  A master among fds 0-2 that the caller's replace is not
 * made, so its slave cannot be. */
static long make_pty(const struct img *img, uint32_t i, int stdio_image, struct img_err *e)
{
	const struct ckpt_fd *f = &img->fds[i], *m = &img->fds[f->peer];
	long fd;

	if (f->aux[0] == CKPT_PTY_MASTER)
		return make_pty_master(img, f, e);
	if (m->fd <= 2 && !stdio_image)
		return img_fail(e, "fd %d: its pty's master is fd %d, which the caller's replaces (--stdio=image "
				"restores it)", f->fd, m->fd);
	if (stage[f->peer] < 0 && (stage[f->peer] = (int)make_pty_master(img, m, e)) < 0)
		return -1;
	fd = sys_ioctl(stage[f->peer], KSYS_TIOCGPTPEER, (void *)(long)((f->flags & 3) | O_NOCTTY | O_CLOEXEC));
	return sys_failed(fd) ? img_fail(e, "fd %d: TIOCGPTPEER, opening the new pty's slave: errno %d", f->fd,
					 (int)-fd) : fd;
}

/* a socket address in words: 127.0.0.1:80, [0:0:0:0:0:0:0:1]:80, /run/x.sock,
 * @name (abstract).  Names from the image: %s escapes them. */
static void sockaddr_name(char *out, size_t cap, const uint8_t *a, uint32_t len)
{
	uint32_t port = (uint32_t)a[2] << 8 | a[3];

	if (a[0] == KSYS_AF_INET) {
		img_fmt(out, cap, "%u.%u.%u.%u:%u", a[4], a[5], a[6], a[7], port);
	} else if (a[0] == KSYS_AF_INET6 && len >= 24) {
		size_t n = img_fmt(out, cap, "[");

		for (int g = 0; g < 8; g++)
			n += img_fmt(out + n, cap - n, g ? ":%x" : "%x", (uint32_t)a[8 + 2 * g] << 8 | a[9 + 2 * g]);
		img_fmt(out + n, cap - n, "]:%u", port);
	} else {
		img_fmt(out, cap, a[2] ? "%s" : "@%s", (const char *)a + (a[2] ? 2 : 3));
	}
}

/* bind fd to a UNIX path: a socket file left by the checkpointed process
 * (same owner as us, nobody answering there) is replaced; anything else at
 * the path is an error (-98, EADDRINUSE) and stays as it is */
static long bind_unix_path(int fd, const uint8_t *addr, uint32_t len, int type)
{
	struct ksys_stat st;
	long r = sys_bind(fd, addr, len), probe;

	if (r != -98)
		return r;
	if (sys_failed(SC4(__NR_newfstatat, AT_FDCWD, (const char *)addr + 2, &st, 0x100 /* AT_SYMLINK_NOFOLLOW */)) ||
	    (st.st_mode & S_IFMT) != S_IFSOCK || st.st_uid != (uint32_t)SC0(__NR_geteuid))
		return -98;
	probe = sys_socket(KSYS_AF_UNIX, type | KSYS_SOCK_CLOEXEC, 0);
	if (sys_failed(probe))
		return probe;
	r = sys_connect((int)probe, addr, len);
	sys_close((int)probe);
	if (r != -111)				/* ECONNREFUSED: a socket file nobody serves */
		return -98;
	sys_unlink((const char *)addr + 2);
	return sys_bind(fd, addr, len);
}

/* A TCP connection of the image: its peer and the kernel's state of it are
 * not here, so it comes back as a connection its peer has closed: one end
 * of a socket pair whose other end is gone (reads give end of file, writes
 * EPIPE), which a server handles as a client that left.  Said in a notice. */
static long closed_connection(const struct ckpt_fd *f, const uint8_t *addr, uint32_t len, int nb,
			      int repair_errno, struct img_err *e)
{
	char self[CKPT_SOCKADDR_MAX * 2 + 64], peer[CKPT_SOCKADDR_MAX * 2 + 64];
	int sv[2];
	long r = sys_socketpair(KSYS_AF_UNIX, KSYS_SOCK_STREAM | KSYS_SOCK_CLOEXEC | nb, 0, sv);

	if (sys_failed(r))
		return img_fail(e, "fd %d: socketpair: errno %d", f->fd, (int)-r);
	sys_close(sv[1]);
	sockaddr_name(self, sizeof(self), addr, len / 2);
	sockaddr_name(peer, sizeof(peer), addr + len / 2, len / 2);
	if (repair_errno)		/* EPERM: no CAP_NET_ADMIN over this network namespace */
		img_say(2, "restorer: notice: fd %d (TCP %S to %S): TCP_REPAIR refused (errno %d): the "
			   "connection is not restored; it reads as closed by its peer\n", f->fd, self, peer,
			repair_errno);
	else
		img_say(2, "restorer: notice: fd %d (TCP %S to %S): the connection is not restored; "
			   "it reads as closed by its peer\n", f->fd, self, peer);
	return sv[0];
}

/* A netlink socket again (CKPT_FD_NETLINK): its options and buffer sizes,
 * bound when it was (to its port id, or to 0: the kernel chooses a new one),
 * its multicast groups joined.  A protocol or group the kernel does not let
 * this user have is refused, named. */
static long make_netlink(const struct img *img, const struct ckpt_fd *f, int nb, struct img_err *e)
{
	static uint32_t groups[CKPT_NETLINK_GROUPS_MAX / 4];
	struct { uint16_t family, pad; uint32_t port, groups; } at = { KSYS_AF_NETLINK, 0, (uint32_t)f->aux[2], 0 };
	const char *name = img_netlink_name(f->aux[0]);
	uint32_t rcv = (uint32_t)f->aux[5] / 2, snd = (uint32_t)(f->aux[5] >> 32) / 2;	/* reported doubled */
	int one = 1;
	long fd, r;

	if (read_stored(img, f, groups, "netlink groups", e))
		return -1;
	fd = sys_socket(KSYS_AF_NETLINK, (int)f->aux[1] | KSYS_SOCK_CLOEXEC | nb, (int)f->aux[0]);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: a netlink socket of protocol %lu (%s) cannot be made here: errno %d",
				f->fd, f->aux[0], name, (int)-fd);
	for (int k = 0; k < 32; k++)
		if ((f->aux[4] & (1u << k)) &&
		    sys_failed(r = sys_setsockopt((int)fd, KSYS_SOL_NETLINK, k, &one, sizeof(one))))
			return img_fail(e, "fd %d: netlink (%s) option %d cannot be set: errno %d", f->fd, name, k,
					(int)-r);
	if ((rcv && sys_failed(sys_setsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF, &rcv, 4))) ||
	    (snd && sys_failed(sys_setsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF, &snd, 4))))
		return img_fail(e, "fd %d: socket buffer sizes could not be set", f->fd);
	if (f->aux[3] && sys_failed(r = sys_bind((int)fd, &at, sizeof(at))))
		return img_fail(e, "fd %d: netlink (%s): cannot bind to port id %u: %s", f->fd, name, at.port,
				r == -98 ? "in use" : "refused");
	for (uint32_t g = 0; g < f->data_len * 8; g++) {
		uint32_t group = g + 1;

		if ((groups[g / 32] & (1u << (g % 32))) &&
		    sys_failed(r = sys_setsockopt((int)fd, KSYS_SOL_NETLINK, KSYS_NETLINK_ADD_MEMBERSHIP, &group, 4)))
			return img_fail(e, "fd %d: netlink (%s): cannot join multicast group %u: errno %d", f->fd,
					name, group, (int)-r);
	}
	return fd;
}

/* TCP_REPAIR_QUEUE: which queue the next TCP_QUEUE_SEQ, write and read mean */
static int repair_queue(int fd, int queue)
{
	return (int)sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR_QUEUE, &queue, sizeof(queue));
}

/* len of the image's bytes at off into a queue of a socket in repair mode:
 * the receive queue's as received and acknowledged, the send queue's as sent
 * and waiting for their acknowledgement (the kernel sends them again until
 * the peer has them).  Never waits: a queue that does not fit is an error. */
static int refill_repair_queue(const struct img *img, int fd, int queue, uint64_t off, uint32_t len)
{
	if (repair_queue(fd, queue))
		return -1;
	for (uint32_t done = 0; done < len; ) {
		uint32_t n = len - done > sizeof(copy_buf) ? sizeof(copy_buf) : len - done;
		long r = sys_pread(img->fd, copy_buf, n, (int64_t)(off + done));

		for (long w = 0, k; r > 0 && w < r; w += k)
			if ((k = sys_send(fd, copy_buf + w, (uint64_t)(r - w), KSYS_MSG_DONTWAIT)) <= 0)
				return -1;
		if (r <= 0)
			return -1;
		done += (uint32_t)r;
	}
	return 0;
}

/* A socket buffer as big as it was, when a queue is to go in and the new
 * socket's is smaller (the kernel reports twice what is asked) */
static void grow_buffer(int fd, int name, uint32_t was, uint32_t queued)
{
	int now = 0;
	uint32_t len = sizeof(now), half = was / 2;

	if (queued && !sys_getsockopt(fd, KSYS_SOL_SOCKET, name, &now, &len) && (uint32_t)now < was)
		sys_setsockopt(fd, KSYS_SOL_SOCKET, name, &half, sizeof(half));
}

/* A TCP connection recorded with its kernel state (CKPT_SO_TCP_REPAIR),
 * made again so that its peer never notices, in repair mode (TCP_REPAIR:
 * CAP_NET_ADMIN over this network namespace; refused, it comes back as
 * closed): the sequence numbers where its queues start, bound to its
 * address and connected to its peer's (in repair mode no SYN goes out), the
 * options agreed at its start (MSS, window scaling, SACK, timestamps) and
 * its timestamp clock, its unread and unacknowledged bytes, its windows.
 * Repair mode ends once the descriptors are in place (rst_install_fds): a
 * restore refused before that closes it without a word to the peer.
 * fd is the new socket, its options set; the stored bytes' checksum was
 * checked (make_socket). */
static long repaired_connection(const struct img *img, const struct ckpt_fd *f, int fd, const uint8_t *addr,
				uint32_t len, int nb, struct img_err *e)
{
	struct ckpt_tcp_repair r;
	struct { uint32_t code, val; } opt[4];	/* struct tcp_repair_opt; TCPOPT_* codes */
	uint32_t n = 0, seq;
	uint64_t queues = f->data_off + len + sizeof(r);
	int on = 1;
	long err = sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR, &on, sizeof(on));
	char self[CKPT_SOCKADDR_MAX * 2 + 64], peer[CKPT_SOCKADDR_MAX * 2 + 64];

	if (sys_failed(err)) {
		sys_close(fd);
		return closed_connection(f, addr, len, nb, (int)-err, e);
	}
	sockaddr_name(self, sizeof(self), addr, len / 2);
	sockaddr_name(peer, sizeof(peer), addr + len / 2, len / 2);
	if (sys_pread(img->fd, &r, sizeof(r), (int64_t)(f->data_off + len)) != (long)sizeof(r))
		return img_fail(e, "fd %d: reading its TCP state failed", f->fd);
	opt[n].code = 2, opt[n++].val = r.mss;			/* TCPOPT_MAXSEG */
	if (r.options & 4)
		opt[n].code = 3, opt[n++].val = r.wscale;	/* TCPOPT_WINDOW */
	if (r.options & 2)
		opt[n].code = 4, opt[n++].val = 0;		/* TCPOPT_SACK_PERM */
	if (r.options & 1)
		opt[n].code = 8, opt[n++].val = 0;		/* TCPOPT_TIMESTAMP */
	grow_buffer(fd, KSYS_SO_SNDBUF, r.sndbuf, r.snd_len);
	grow_buffer(fd, KSYS_SO_RCVBUF, r.rcvbuf, r.rcv_len);
	/* a queue's sequence number is set where it starts: its bytes move it on */
	seq = r.snd_seq - r.snd_len;
	if (repair_queue(fd, KSYS_TCP_SEND_QUEUE) ||
	    sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_QUEUE_SEQ, &seq, sizeof(seq)))
		return img_fail(e, "fd %d: TCP_REPAIR: its send sequence number could not be set", f->fd);
	seq = r.rcv_seq - r.rcv_len;
	if (repair_queue(fd, KSYS_TCP_RECV_QUEUE) ||
	    sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_QUEUE_SEQ, &seq, sizeof(seq)))
		return img_fail(e, "fd %d: TCP_REPAIR: its receive sequence number could not be set", f->fd);
	/* in repair mode the address may be in use by others (a listener) */
	if (sys_bind(fd, addr, len / 2) || sys_connect(fd, addr + len / 2, len / 2))
		return img_fail(e, "fd %d: TCP_REPAIR: %S to %S: address not available here", f->fd, self, peer);
	if (sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR_OPTIONS, opt, n * sizeof(opt[0])) ||
	    ((r.options & 1) && sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_TIMESTAMP, &r.timestamp, 4)))
		return img_fail(e, "fd %d: TCP_REPAIR: its options could not be set", f->fd);
	if (refill_repair_queue(img, fd, KSYS_TCP_RECV_QUEUE, queues, r.rcv_len) ||
	    refill_repair_queue(img, fd, KSYS_TCP_SEND_QUEUE, queues + r.rcv_len, r.snd_len))
		return img_fail(e, "fd %d: TCP_REPAIR: its queued bytes (%u received, %u to send) do not fit its "
				"buffers here (net.core.rmem_max, wmem_max)", f->fd, r.rcv_len, r.snd_len);
	if (sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR_WINDOW, r.window, sizeof(r.window)))
		return img_fail(e, "fd %d: TCP_REPAIR: its window could not be set", f->fd);
	in_repair[(f - img->fds) / 8] |= (uint8_t)(1u << ((f - img->fds) % 8));
	img_say(2, "restorer: notice: fd %d: TCP %S -> %S restored as it was (TCP_REPAIR)\n", f->fd, self, peer);
	return fd;
}

/* Datagram sockets whose queue came back with something changed, said once
 * every check has passed: how many datagrams come from another address (their
 * sender's could not be bound), and how many the new socket did not take. */
#define MAX_DGRAM_NOTES 64
static struct { uint32_t record, moved, missing; } dgram_notes[MAX_DGRAM_NOTES];
static uint32_t ndgram_notes;

/* Where a datagram for socket own (its address, olen bytes) is sent to reach
 * it: its address, with a wildcard one made loopback (::ffff:127.0.0.1 for
 * an IPv4 sender to an IPv6 socket).  Returns the length, 0 for a UNIX
 * socket with no address. */
static uint32_t queue_target(uint8_t *to, const uint8_t *own, uint32_t olen, const uint8_t *from, uint32_t flen)
{
	static const uint8_t zero[16];
	uint16_t family;

	memcpy(to, own, olen);
	memcpy(&family, own, 2);
	if (family == KSYS_AF_INET && !memcmp(own + 4, zero, 4)) {
		to[4] = 127, to[7] = 1;			/* 127.0.0.1 */
	} else if (family == KSYS_AF_INET6 && !memcmp(own + 8, zero, 16)) {
		if (flen >= 24 && !memcmp(from + 8, zero, 10) && from[18] == 0xff && from[19] == 0xff)
			to[18] = to[19] = 0xff, to[20] = 127, to[23] = 1;	/* ::ffff:127.0.0.1 */
		else
			to[23] = 1;			/* ::1 */
	}
	return family == KSYS_AF_UNIX && olen <= 2 ? 0 : olen;
}

/* One queued datagram sent again from its sender's address, where a new
 * socket may be bound to it: any IP address with IP_FREEBIND, a port free
 * and not privileged; a UNIX sender's abstract name when free, none when it
 * had none (a path would be a new file: not bound).  Returns 1 when it went
 * from its sender's address, 0 from another, -errno when it was not sent. */
static long send_queued(int family, const uint8_t *from, uint32_t flen, const void *buf, uint32_t len,
			const uint8_t *to, uint32_t tolen)
{
	long s = sys_socket(family, KSYS_SOCK_DGRAM | KSYS_SOCK_CLOEXEC | KSYS_SOCK_NONBLOCK, 0), r, as_sender;
	int one = 1;

	if (sys_failed(s))
		return s;
	if (family == KSYS_AF_UNIX) {
		as_sender = flen <= 2 || (!from[2] && !sys_failed(sys_bind((int)s, from, flen)));
	} else {
		sys_setsockopt((int)s, family == KSYS_AF_INET ? KSYS_IPPROTO_IP : KSYS_IPPROTO_IPV6,
			       family == KSYS_AF_INET ? KSYS_IP_FREEBIND : KSYS_IPV6_FREEBIND, &one, 4);
		sys_setsockopt((int)s, KSYS_SOL_SOCKET, KSYS_SO_REUSEADDR, &one, 4);
		as_sender = flen >= 2 && !sys_failed(sys_bind((int)s, from, flen));
	}
	r = sys_sendto((int)s, buf, len, KSYS_MSG_NOSIGNAL, to, tolen);
	sys_close((int)s);
	return r != (long)len ? (r < 0 ? r : -90 /* EMSGSIZE */) : as_sender;
}

/* A datagram socket's stored queue (CKPT_SO_DGRAM_QUEUE) sent to it again,
 * in order, before it is connected (a connected socket takes only its
 * peer's).  Then its queue is counted (MSG_PEEK from offset 0): what it did
 * not take, and what came from another address, is said once every check
 * has passed (dgram_notes). */
static int fill_datagrams(const struct img *img, const struct ckpt_fd *f, int fd, const uint8_t *own, uint32_t olen,
			  struct img_err *e)
{
	uint8_t from[CKPT_SOCKADDR_MAX], to[CKPT_SOCKADDR_MAX];
	uint32_t hdr[2], n = 0, moved = 0, tolen;
	int zero = 0, off = -1;
	long r;

	for (uint64_t at = f->aux[3]; at < f->data_len; at += 8 + hdr[1] + hdr[0], n++) {
		if (f->data_len - at < 8 || sys_pread(img->fd, hdr, 8, (int64_t)(f->data_off + at)) != 8 ||
		    hdr[1] > CKPT_SOCKADDR_MAX || hdr[0] > CKPT_SOCK_RECORD_MAX ||
		    hdr[0] + hdr[1] > f->data_len - at - 8 ||
		    sys_pread(img->fd, from, hdr[1], (int64_t)(f->data_off + at + 8)) != (long)hdr[1] ||
		    sys_pread(img->fd, copy_buf, hdr[0], (int64_t)(f->data_off + at + 8 + hdr[1])) != (long)hdr[0])
			return img_fail(e, "fd %d: its stored datagrams are cut short: image corrupted", f->fd);
		if (!(tolen = queue_target(to, own, olen, from, hdr[1])))
			return img_fail(e, "fd %d: datagrams queued for a UNIX socket with no address", f->fd);
		r = send_queued((int)f->aux[0], from, hdr[1], copy_buf, hdr[0], to, tolen);
		if (sys_failed(r))
			return img_fail(e, "fd %d: datagram %u of %ld could not be queued again: errno %d", f->fd, n + 1,
					f->size, (int)-r);
		moved += !r;
	}
	if (n != f->size)
		return img_fail(e, "fd %d: %u datagrams stored, %ld counted: image corrupted", f->fd, n, f->size);
	sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &zero, 4);
	for (n = 0; !sys_failed(sys_recv(fd, copy_buf, sizeof(copy_buf), KSYS_MSG_PEEK | KSYS_MSG_DONTWAIT)); n++)
		;
	sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &off, 4);
	if ((moved || n < f->size) && ndgram_notes < MAX_DGRAM_NOTES) {
		dgram_notes[ndgram_notes].record = (uint32_t)(f - img->fds);
		dgram_notes[ndgram_notes].moved = moved;
		dgram_notes[ndgram_notes++].missing = n < f->size ? (uint32_t)f->size - n : 0;
	}
	return 0;
}

/* fd (a socket made for record f, or -1 after img_fail) with the peek offset
 * the program had set (CKPT_SO_PEEK_OFF), else as it is */
static long with_peek_off(const struct ckpt_fd *f, long fd, struct img_err *e)
{
	long r;

	if (fd < 0 || !(f->aux[4] & CKPT_SO_PEEK_OFF))
		return fd;
	r = sys_setsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &f->sock_peek_off, 4);
	return sys_failed(r) ? img_fail(e, "fd %d: SO_PEEK_OFF %d could not be set: errno %d", f->fd, f->sock_peek_off,
					(int)-r) : fd;
}

/* A socket connected to nothing, made again: its options, its address (a
 * port of 0, an unbound UNIX socket: none), listening with its backlog.
 * Connections that waited in its accept queue at the checkpoint are gone. */
static long make_socket(const struct img *img, const struct ckpt_fd *f, int nb, struct img_err *e)
{
	static const struct { uint32_t flag; int level, name; } opts[] = {
		{ CKPT_SO_REUSEADDR, KSYS_SOL_SOCKET, KSYS_SO_REUSEADDR },
		{ CKPT_SO_REUSEPORT, KSYS_SOL_SOCKET, KSYS_SO_REUSEPORT },
		{ CKPT_SO_KEEPALIVE, KSYS_SOL_SOCKET, KSYS_SO_KEEPALIVE },
		{ CKPT_SO_TCP_NODELAY, KSYS_IPPROTO_TCP, KSYS_TCP_NODELAY },
		{ CKPT_SO_V6ONLY, KSYS_IPPROTO_IPV6, KSYS_IPV6_V6ONLY },
	};
	uint8_t addr[CKPT_SOCKADDR_MAX + 1] = { 0 };	/* + 1: a UNIX path ends in a 0 */
	uint32_t len = (uint32_t)f->data_len, rcv = (uint32_t)f->aux[5], snd = (uint32_t)(f->aux[5] >> 32);
	int one = 1, bound;
	long fd, r;

	if (f->aux[4] & (CKPT_SO_TCP_REPAIR | CKPT_SO_DGRAM_QUEUE)) {	/* addresses, then more: checked here */
		if (copy_in(img, -1, f->data_off, f->data_len, f->data_crc, f, e))
			return -1;
		len = f->aux[4] & CKPT_SO_DGRAM_QUEUE ? (uint32_t)f->aux[3] : f->aux[0] == KSYS_AF_INET ? 32 : 56;
	}
	if (sys_pread(img->fd, addr, len, (int64_t)f->data_off) != (long)len)
		return img_fail(e, "fd %d: reading its socket address failed", f->fd);
	if (!(f->aux[4] & (CKPT_SO_TCP_REPAIR | CKPT_SO_DGRAM_QUEUE)) && ckpt_crc32c(0, addr, len) != f->data_crc)
		return img_fail(e, "fd %d: stored bytes checksum mismatch: image corrupted", f->fd);
	if ((f->aux[4] & CKPT_SO_WAS_CONNECTED) && !(f->aux[4] & CKPT_SO_TCP_REPAIR))
		return closed_connection(f, addr, len, nb, 0, e);
	fd = sys_socket((int)f->aux[0], (int)f->aux[1] | KSYS_SOCK_CLOEXEC | nb, (int)f->aux[2]);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: socket(%lu, %lu, %lu): errno %d", f->fd, f->aux[0], f->aux[1], f->aux[2],
				(int)-fd);
	for (uint32_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		if ((f->aux[4] & opts[k].flag) &&
		    sys_failed(sys_setsockopt((int)fd, opts[k].level, opts[k].name, &one, sizeof(one))))
			return img_fail(e, "fd %d: socket option 0x%x could not be set", f->fd, opts[k].flag);
	rcv /= 2, snd /= 2;			/* the kernel reports twice what was asked */
	if ((rcv && sys_failed(sys_setsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF, &rcv, 4))) ||
	    (snd && sys_failed(sys_setsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF, &snd, 4))))
		return img_fail(e, "fd %d: socket buffer sizes could not be set", f->fd);
	if (f->aux[4] & CKPT_SO_TCP_REPAIR)
		return with_peek_off(f, repaired_connection(img, f, (int)fd, addr, len, nb, e), e);
	if (f->aux[4] & CKPT_SO_DGRAM_PEER)	/* its address, then its peer's */
		len /= 2;
	/* bound: an IPv4/IPv6 port (bytes 2-3), a UNIX path or abstract name */
	bound = f->aux[0] == KSYS_AF_UNIX ? len > 2 : (addr[2] | addr[3]) != 0;
	r = 0;
	if (bound && f->aux[0] == KSYS_AF_UNIX && addr[2])
		r = addr[2] == '/' ? bind_unix_path((int)fd, addr, len, (int)f->aux[1]) : -22;
	else if (bound)
		r = sys_bind((int)fd, addr, len);
	if (sys_failed(r)) {
		char where[CKPT_SOCKADDR_MAX * 4 + 64];

		sockaddr_name(where, sizeof(where), addr, len);
		return img_fail(e, "fd %d: cannot bind a socket to %S: %s", f->fd, where,
				r == -98 && f->aux[1] == KSYS_SOCK_STREAM && f->aux[0] != KSYS_AF_UNIX &&
				!(f->aux[4] & CKPT_SO_REUSEADDR) ?
				"in use (or held by old connections in TIME_WAIT for up to a minute: the "
				"program did not set SO_REUSEADDR)" :
				r == -98 ? "in use" : r == -22 ? "a relative path" : "refused");
	}
	if (!(f->aux[4] & CKPT_SO_DGRAM_QUEUE) && f->aux[3] && sys_failed(r = sys_listen((int)fd, (int)f->aux[3])))
		return img_fail(e, "fd %d: listen: errno %d", f->fd, (int)-r);
	if ((f->aux[4] & CKPT_SO_DGRAM_QUEUE) && fill_datagrams(img, f, (int)fd, addr, len, e))
		return -1;
	if ((f->aux[4] & CKPT_SO_DGRAM_PEER) && sys_failed(r = sys_connect((int)fd, addr + len, len))) {
		char peer[CKPT_SOCKADDR_MAX * 4 + 64];

		sockaddr_name(peer, sizeof(peer), addr + len, len);
		return img_fail(e, "fd %d: cannot connect a UDP socket to %S: errno %d", f->fd, peer, (int)-r);
	}
	return with_peek_off(f, fd, e);
}

/* The path an inotify watch or fanotify mark (what, number num) recorded, as
 * --map-path maps it: there now (without following a last symbolic link
 * when nofollow), a directory still when onlydir.  0, or -1 after img_fail
 * naming it (one gone with the --map-path that maps it). */
static int check_watched(const struct img *img, const struct ckpt_fd *f, const char *what, uint64_t num,
			 uint32_t path_off, int nofollow, int onlydir, struct img_err *e)
{
	static char mapped[RST_PATH_MAX], dir[RST_PATH_MAX];
	const char *path = rst_map_path(img_str(img, path_off), mapped, e);
	struct ksys_stat st;
	long r;

	if (!path)
		return -1;
	r = SC4(__NR_newfstatat, AT_FDCWD, path, &st, nofollow ? 0x100 /* AT_SYMLINK_NOFOLLOW */ : 0);
	if (r == -2 || r == -20)	/* ENOENT, ENOTDIR */
		return img_fail(e, "fd %d: %s %lu: %s is gone (--map-path %s=NEW maps it)", f->fd, what, num, path,
				rst_dir_of(img_str(img, path_off), dir));
	if (sys_failed(r))
		return img_fail(e, "fd %d: %s %lu: %s: errno %d", f->fd, what, num, path, (int)-r);
	if (onlydir && (st.st_mode & S_IFMT) != S_IFDIR)
		return img_fail(e, "fd %d: %s %lu: %s is now a %s, not a directory", f->fd, what, num, path,
				rst_type_name(st.st_mode));
	return 0;
}

/* Are an inotify instance's n watches numbered 1 .. n, with n the last
 * handed out, as a new instance numbers them?  Else each number is set
 * (INOTIFY_IOC_SETNEXTWD) before its watch is added. */
static int numbered_plainly(const struct ckpt_fd *f, const struct ckpt_inotify_watch *w, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		if ((uint64_t)w[k].wd != k + 1)
			return 0;
	return f->aux[0] == n;
}

/* An inotify instance, empty: its watches go in once every fd is back and
 * the image is closed (add_inotify_watches), so that nothing the restorer
 * does reaches its queue.  Here each watch is checked: its record, its path
 * (through --map-path) there and of its type, and the kernel's way to set
 * its number where a new instance would not give it the same one. */
static long make_inotify(const struct img *img, const struct ckpt_fd *f, int nb, struct img_err *e)
{
	struct ckpt_inotify_watch *w = &inotify_watches[ninotify_watches];
	uint64_t n = f->data_len / sizeof(*w);
	long fd;

	if (n > MAX_INOTIFY_WATCHES - ninotify_watches)
		return img_fail(e, "fd %d: more inotify watches than this restorer keeps (%u)", f->fd,
				MAX_INOTIFY_WATCHES);
	if (read_stored(img, f, w, "inotify watches", e))
		return -1;
	for (uint64_t k = 0; k < n; k++)
		if (img_inotify_watch_ok(img, f, k ? w[k - 1].wd : 0, &w[k], e) ||
		    check_watched(img, f, "inotify watch", (uint64_t)w[k].wd, w[k].path_off,
				  (w[k].mask & IN_DONT_FOLLOW) != 0, (w[k].mask & IN_ONLYDIR) != 0, e))
			return -1;
	fd = SC1(__NR_inotify_init1, O_CLOEXEC | nb);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: inotify_init1: errno %d", f->fd, (int)-fd);
	if (!numbered_plainly(f, w, n) && sys_failed(sys_ioctl((int)fd, INOTIFY_IOC_SETNEXTWD, (void *)1)))
		return img_fail(e, "fd %d: its inotify watch numbers cannot be given again: this kernel has no "
				"INOTIFY_IOC_SETNEXTWD (CONFIG_CHECKPOINT_RESTORE)", f->fd);
	ninotify_watches += (uint32_t)n;
	return fd;
}

/* fanotify_mark's flags to add mark m's events, or (ignored) those it
 * ignores: its type and kept flags; the ignored ones with FAN_MARK_IGNORE
 * where the mark had it, else FAN_MARK_IGNORED_MASK */
static unsigned fan_mark_flags(const struct ckpt_fanotify_mark *m, int ignored)
{
	unsigned flags = KSYS_FAN_MARK_ADD | (m->flags & ~KSYS_FAN_MARK_IGNORE);

	if (ignored)
		flags |= m->flags & KSYS_FAN_MARK_IGNORE ? KSYS_FAN_MARK_IGNORE : KSYS_FAN_MARK_IGNORED_MASK;
	if (m->type == CKPT_FAN_MOUNT)
		flags |= KSYS_FAN_MARK_MOUNT;
	else if (m->type == CKPT_FAN_FS)
		flags |= KSYS_FAN_MARK_FILESYSTEM;
	return flags;
}

/* Add marks m[0..n) to fanotify instance fd: each with its events, then
 * those it ignores.  0, or the first failure's -errno and *bad its index. */
static long add_marks(int fd, const struct ckpt_fanotify_mark *m, uint64_t n, const struct img *img, uint64_t *bad)
{
	static char mapped[RST_PATH_MAX];
	struct img_err e;

	for (*bad = 0; *bad < n; ++*bad, m++) {
		const char *path = rst_map_path(img_str(img, m->path_off), mapped, &e);
		long r = path ? 0 : -36;	/* ENAMETOOLONG */

		if (!r && m->mask)
			r = SC5(__NR_fanotify_mark, fd, fan_mark_flags(m, 0), m->mask, AT_FDCWD, path);
		if (!r && m->ignored_mask)
			r = SC5(__NR_fanotify_mark, fd, fan_mark_flags(m, 1), m->ignored_mask, AT_FDCWD, path);
		if (sys_failed(r))
			return r;
	}
	return 0;
}

/* A fanotify instance (CKPT_FD_FANOTIFY), made with its fanotify_init flags.
 * Its marks are checked now: an inode mark's path must name a file of the
 * same type, and all of them must go onto a scratch instance made the same
 * way (what this user may mark); the instance itself gets them once every
 * descriptor is back and the image is closed, so that nothing the restorer
 * reads queues an event (add_fanotify_marks). */
static long make_fanotify(const struct img *img, const struct ckpt_fd *f, int nb, struct img_err *e)
{
	struct ckpt_fanotify_mark *m = &fanotify_marks[nfanotify_marks];
	uint64_t n = f->data_len / sizeof(*m), bad;
	unsigned flags = ((unsigned)f->aux[0] & ~(KSYS_FAN_CLOEXEC | KSYS_FAN_NONBLOCK)) | KSYS_FAN_CLOEXEC |
			 (nb ? KSYS_FAN_NONBLOCK : 0);
	long fd, scratch, r;

	if (n > CKPT_FANOTIFY_MARKS_MAX - nfanotify_marks)
		return img_fail(e, "fd %d: more fanotify marks than this restorer keeps (%u)", f->fd,
				CKPT_FANOTIFY_MARKS_MAX);
	if (read_stored(img, f, m, "fanotify marks", e))
		return -1;
	for (uint64_t k = 0; k < n; k++)
		if (img_fanotify_mark_ok(img, f, &m[k], e) ||
		    check_watched(img, f, "fanotify mark", k + 1, m[k].path_off,
				  (m[k].flags & KSYS_FAN_MARK_DONT_FOLLOW) != 0, (m[k].flags & KSYS_FAN_MARK_ONLYDIR) != 0, e))
			return -1;
	scratch = SC2(__NR_fanotify_init, flags, f->aux[1]);
	if (sys_failed(scratch))
		return img_fail(e, "fd %d: fanotify_init(0x%lx): errno %d%s", f->fd, f->aux[0], (int)-scratch,
				scratch == -1 ? " (an ordinary user gets fanotify only with FAN_REPORT_FID and inode marks)" : "");
	r = add_marks((int)scratch, m, n, img, &bad);
	sys_close((int)scratch);
	if (sys_failed(r))
		return img_fail(e, "fd %d: fanotify mark %lu (%s) cannot be added here: errno %d", f->fd, bad + 1,
				img_str(img, m[bad].path_off), (int)-r);
	fd = SC2(__NR_fanotify_init, flags, f->aux[1]);
	if (sys_failed(fd))
		return img_fail(e, "fd %d: fanotify_init(0x%lx): errno %d", f->fd, f->aux[0], (int)-fd);
	nfanotify_marks += (uint32_t)n;
	return fd;
}

/* The program's userfaultfd (CKPT_FD_USERFAULTFD), made again: of user mode
 * only when the program's could only be that, else one that also takes
 * faults met inside the kernel where this user may make one (else one of
 * user mode, in a notice), with the features the program gave UFFDIO_API.
 * Its write-protected ranges are read now; the regions are registered and
 * the ranges protected once memory and descriptors are back
 * (register_userfaultfd). */
static long make_userfaultfd(const struct img *img, const struct ckpt_fd *f, int nb, struct img_err *e)
{
	struct { uint64_t api, features, ioctls; } api = { UFFD_API, f->aux[0] & ~(1ull << 31), 0 };
	int flags = O_CLOEXEC | nb;
	long fd, r;

	if (read_stored(img, f, uffd_ranges, "write-protected ranges", e))
		return -1;
	nuffd_ranges = (uint32_t)(f->data_len / sizeof(struct ckpt_uffd_range));
	fd = SC1(__NR_userfaultfd, flags | (f->aux[1] & CKPT_UFFD_USER_MODE ? UFFD_USER_MODE_ONLY : 0));
	if (fd == -1 && !(f->aux[1] & CKPT_UFFD_USER_MODE)) {	/* EPERM: user mode only, here */
		fd = SC1(__NR_userfaultfd, flags | UFFD_USER_MODE_ONLY);
		if (!sys_failed(fd))
			img_say(2, "restorer: notice: fd %d: the program's userfaultfd comes back of user mode only "
				"(this user may not make one that takes faults inside the kernel): a system call "
				"that meets a missing page now fails with EFAULT\n", f->fd);
	}
	if (sys_failed(fd))
		return img_fail(e, "fd %d: userfaultfd: errno %d", f->fd, (int)-fd);
	if ((f->aux[0] & (1ull << 31)) && sys_failed(r = sys_ioctl((int)fd, UFFDIO_API, &api))) {
		sys_close((int)fd);
		return img_fail(e, "fd %d: a userfaultfd with features 0x%lx cannot be made here (UFFDIO_API errno %d%s)",
				f->fd, api.features, (int)-r,
				r == -1 && (api.features & 2) ? ": UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE" : "");
	}
	return fd;
}

/* Record i is of the program's controlling terminal (a CKPT_FD_CHR record's
 * stored mode says so; read_terminals read them) */
static int of_ctty(uint32_t i)
{
	for (uint32_t k = 0; k < nttys; k++)
		if (tty_record[k] == i)
			return (ttys[k].flags & CKPT_TTY_CTTY) != 0;
	return 0;
}

/* A descriptor of the program's controlling terminal (less's /dev/tty, fd
 * 0 of a job's process) is opened on the restorer's, which is the program's
 * now, never by the old terminal's name: that one, if it is still there, is
 * another session's.  With no controlling terminal here, /dev/null, said. */
static long open_ctty(const struct img *img, const struct ckpt_fd *f, struct img_err *e)
{
	int flags = (int)(f->flags & OPEN_MASK) | O_CLOEXEC | O_NOCTTY;
	long fd = sys_open("/dev/tty", flags, 0);

	if (!sys_failed(fd))
		return fd;
	img_say(2, "restorer: notice: fd %d: %s, the program's controlling terminal at the checkpoint; the "
		   "restorer has none: /dev/null is in its place\n", f->fd, img_str(img, f->path_off));
	fd = sys_open("/dev/null", flags, 0);
	return sys_failed(fd) ? img_fail(e, "fd %d: cannot open /dev/null: errno %d", f->fd, (int)-fd) : fd;
}

static long make_one(const struct img *img, uint32_t i, int close_unsupported, int verbose,
		     struct img_err *e)
{
	const struct ckpt_fd *f = &img->fds[i];
	const char *path = img_str(img, f->path_off);
	int nb = f->flags & 04000 ? 04000 : 0;
	char name[256];
	long fd;

	if ((f->flags & O_PATH) && f->kind != CKPT_FD_UNSUPPORTED)	/* REG, DIR, CHR: read.c checks */
		return reopen_path(img, f, e);
	switch (f->kind) {
	case CKPT_FD_REG: case CKPT_FD_DIR: case CKPT_FD_CHR:
		if (f->kind == CKPT_FD_CHR && of_ctty(i))
			return open_ctty(img, f, e);
		fd = reopen(img, f, verbose, e);
		if (fd < 0 && path_gone && (f->fd_flags & CKPT_FD_STORED)) {	/* CKPT_COPY_FILES=all */
			from_copy[i / 8] |= (uint8_t)(1u << (i % 8));
			fd = make_deleted(img, f, e);
		}
		if (fd >= 0 && f->kind != CKPT_FD_CHR && sys_failed(sys_lseek((int)fd, (int64_t)f->pos, 0)))
			return img_fail(e, "fd %d: cannot seek %s to %lu", f->fd, path, f->pos);
		return fd;
	case CKPT_FD_FIFO:
		return reopen_fifo(img, f, e);
	case CKPT_FD_MEMFD:
		strip(path, "/memfd:", name, sizeof(name));
		fd = sys_memfd_create(name, 1 | 2);	/* MFD_CLOEXEC | MFD_ALLOW_SEALING */
		if (sys_failed(fd))
			return img_fail(e, "fd %d: memfd_create: errno %d", f->fd, (int)-fd);
		if (copy_in(img, (int)fd, f->data_off, f->data_len, f->data_crc, f, e))
			return -1;
		if (sys_failed(sys_ftruncate((int)fd, f->size)))
			return img_fail(e, "fd %d: memfd cannot have %ld bytes", f->fd, f->size);
		sys_lseek((int)fd, (int64_t)f->pos, 0);
		if (f->mode)			/* its fchmod; before F_SEAL_EXEC may forbid it */
			sys_fchmod((int)fd, (int)(f->mode & 07777));
		if (f->aux[0] && sys_failed(sys_fcntl((int)fd, F_ADD_SEALS, (long)f->aux[0])))
			return img_fail(e, "fd %d: memfd seals 0x%lx could not be set", f->fd, f->aux[0]);
		return fd;
	case CKPT_FD_DELETED:
		fd = make_deleted(img, f, e);
		if (fd >= 0)
			sys_lseek((int)fd, (int64_t)f->pos, 0);
		return fd;
	case CKPT_FD_EVENTFD:
		fd = sys_eventfd2(0, O_CLOEXEC | nb | (f->aux[1] ? 1 : 0));	/* EFD_SEMAPHORE */
		if (!sys_failed(fd) && f->aux[0])
			sys_write((int)fd, &f->aux[0], 8);
		return sys_failed(fd) ? img_fail(e, "fd %d: eventfd: errno %d", f->fd, (int)-fd) : fd;
	case CKPT_FD_TIMERFD: {
		int64_t its[4] = { (int64_t)f->aux[1], (int64_t)f->aux[2], (int64_t)f->aux[3], (int64_t)f->aux[4] };

		fd = sys_timerfd_create((int)f->aux[0], O_CLOEXEC | nb);
		if (sys_failed(fd))
			return img_fail(e, "fd %d: timerfd_create: errno %d", f->fd, (int)-fd);
		if (f->tfd_flags & 1) {		/* TFD_TIMER_ABSTIME: at its wall-clock time */
			its[2] = f->tfd_deadline_ns / 1000000000;
			its[3] = f->tfd_deadline_ns % 1000000000;
		}
		if ((its[2] || its[3]) && sys_failed(sys_timerfd_settime((int)fd, (int)(f->tfd_flags & 3), its, 0)))
			return img_fail(e, "fd %d: timerfd_settime failed", f->fd);
		/* expirations not read yet: after settime, which clears them */
		if (f->aux[5] && sys_ioctl((int)fd, TFD_IOC_SET_TICKS, (void *)&f->aux[5]))
			img_say(2, "restorer: notice: fd %d: timerfd: %lu expirations not read yet are lost\n",
				f->fd, f->aux[5]);
		return fd;
	}
	case CKPT_FD_SIGNALFD:
		fd = sys_signalfd4(-1, &f->aux[0], O_CLOEXEC | nb);
		return sys_failed(fd) ? img_fail(e, "fd %d: signalfd: errno %d", f->fd, (int)-fd) : fd;
	case CKPT_FD_EPOLL: {		/* empty now; its watches go in once every fd is back */
		uint64_t n = f->data_len / sizeof(struct ckpt_epoll_watch);
		uint32_t crc;

		if (n > MAX_WATCHES - nwatches)
			return img_fail(e, "fd %d: more epoll watches than this restorer keeps (%u)", f->fd,
					MAX_WATCHES);
		if (n && sys_pread(img->fd, &watches[nwatches], f->data_len, (int64_t)f->data_off) !=
			 (long)f->data_len)
			return img_fail(e, "fd %d: reading its epoll watches failed", f->fd);
		crc = ckpt_crc32c(0, &watches[nwatches], f->data_len);
		if (crc != f->data_crc)
			return img_fail(e, "fd %d: stored bytes checksum mismatch: image corrupted", f->fd);
		nwatches += (uint32_t)n;
		fd = sys_epoll_create1(O_CLOEXEC);
		return sys_failed(fd) ? img_fail(e, "fd %d: epoll_create1: errno %d", f->fd, (int)-fd) : fd;
	}
	case CKPT_FD_SOCKET:
		return make_socket(img, f, nb, e);
	case CKPT_FD_NETLINK:
		return make_netlink(img, f, nb, e);
	case CKPT_FD_PIDFD:		/* of this process, which becomes the program's */
		if (!rst_proc_pid)
			return img_fail(e, "fd %d: a pidfd of the process itself is not made with --same-pid", f->fd);
		fd = SC2(__NR_pidfd_open, rst_proc_pid, f->flags & (04000 | 0200));	/* NONBLOCK, PIDFD_THREAD */
		return sys_failed(fd) ? img_fail(e, "fd %d: pidfd_open: errno %d", f->fd, (int)-fd) : fd;
	case CKPT_FD_INOTIFY:
		return make_inotify(img, f, nb, e);
	case CKPT_FD_FANOTIFY:
		return make_fanotify(img, f, nb, e);
	case CKPT_FD_USERFAULTFD:
		return make_userfaultfd(img, f, nb, e);
	default:				/* CKPT_FD_UNSUPPORTED */
		if (!close_unsupported)
			return img_fail(e, "fd %d (%s: %s) cannot be restored (--close-unsupported restores it closed)",
					f->fd, path, img_fd_why(f));
		img_say(2, "restorer: notice: fd %d (%s: %s) restored closed\n", f->fd, path, img_fd_why(f));
		return -2;
	}
}

/* Each terminal's mode and window size (a CKPT_FD_CHR record's stored
 * bytes), read and checked now; set_terminals() puts them back on whatever
 * terminal is at that number once the descriptors are in place */
static int read_terminals(const struct img *img, struct img_err *e)
{
	nttys = 0;
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];

		if (f->kind != CKPT_FD_CHR || !f->data_len)
			continue;
		if (nttys == MAX_TTYS)
			return img_fail(e, "fd %d: more terminal descriptors than this restorer keeps (%u)", f->fd,
					MAX_TTYS);
		if (read_stored(img, f, &ttys[nttys], "terminal's mode", e))	/* 64 bytes: read.c */
			return -1;
		tty_record[nttys++] = i;
	}
	return 0;
}

/* A pty master made again: its slave locked again if it was at the
 * checkpoint (once its slaves are open), and its new number said; the
 * bytes that were waiting at either end are said lost. */
static void finish_pty(const struct ckpt_fd *f, int fd)
{
	uint32_t n = 0;
	int on = 1;

	if (f->aux[0] == CKPT_PTY_MASTER && (f->aux[2] & CKPT_PTY_LOCKED))
		sys_ioctl(fd, KSYS_TIOCSPTLCK, &on);
	if (f->aux[0] == CKPT_PTY_MASTER && !sys_failed(sys_ioctl(fd, KSYS_TIOCGPTN, &n)) && n != f->aux[1])
		img_say(2, "restorer: notice: fd %d: pty /dev/pts/%lu comes back as a new pair, /dev/pts/%u\n", f->fd,
			f->aux[1], n);
	if (f->aux[3])
		img_say(2, "restorer: notice: fd %d: %lu bytes waiting to be read at this end of its pty at the "
			   "checkpoint are not restored\n", f->fd, f->aux[3]);
}

int rst_prepare_fds(const struct img *img, int stdio_image, int close_unsupported, int verbose,
		    const uint8_t *later, struct img_err *e)
{
	uint32_t n = img->hdr.nfds;
	int top = 2;

	if (n > CKPT_MAX_FDS)
		return img_fail(e, "%u descriptors: more than this restorer makes", n);
	for (uint32_t i = 0; i < n; i++) {
		stage[i] = -1;
		from_copy[i / 8] = 0;
		in_repair[i / 8] = 0;
		if (img->fds[i].fd > top)
			top = img->fds[i].fd;
	}
	stage_min = top + 1;
	nwatches = 0;
	ninotify_watches = 0;
	nfanotify_marks = 0;
	ndgram_notes = 0;
	if (read_terminals(img, e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		long fd;

		if ((f->fd <= 2 && !stdio_image) || f->share != i || stage[i] >= 0)
			continue;
		if (later && (later[i / 8] >> (i % 8) & 1))
			continue;		/* a job's, taken or made later (job.c) */
		if (f->kind == CKPT_FD_PIPE) {
			if (make_pipe(img, i, e))
				return -1;
			continue;
		}
		if (f->kind == CKPT_FD_UNIX_PAIR) {
			if (make_unix_pair(img, i, e))
				return -1;
			continue;
		}
		fd = f->kind == CKPT_FD_PTY ? make_pty(img, i, stdio_image, e) :
					      make_one(img, i, close_unsupported, verbose, e);
		if (fd == -2)
			continue;		/* restored closed, as asked */
		if (fd < 0)
			return -1;
		stage[i] = (int)fd;
	}
	/* status flags, then up out of the way of every image number */
	for (uint32_t i = 0; i < n; i++) {
		long moved;

		if (stage[i] < 0)
			continue;
		sys_fcntl(stage[i], F_SETFL, img->fds[i].flags & SETFL_MASK);
		moved = sys_fcntl(stage[i], F_DUPFD_CLOEXEC, stage_min);
		if (sys_failed(moved))
			return img_fail(e, "no descriptor above %d for fd %d (RLIMIT_NOFILE?): errno %d",
					stage_min, img->fds[i].fd, (int)-moved);
		sys_close(stage[i]);
		stage[i] = (int)moved;
	}
	if (fill_fifos(img, e) || rst_take_locks(img, stage, stdio_image, e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {	/* every check passed: a refusal stays one line */
		const struct ckpt_fd *f = &img->fds[i];

		if (from_copy[i / 8] & (1u << (i % 8)))
			img_say(2, "restorer: notice: fd %d: %s is gone: made again from the image's copy, "
				"unlinked\n", f->fd, img_str(img, f->path_off));
		if (stage[i] >= 0 && f->kind == CKPT_FD_SOCKET && f->size && !(f->aux[4] & CKPT_SO_DGRAM_QUEUE))
			img_say(2, "restorer: notice: fd %d: %ld datagrams queued for it at the checkpoint are not "
				   "restored\n", f->fd, f->size);
		if (stage[i] >= 0 && f->kind == CKPT_FD_PTY)
			finish_pty(f, stage[i]);
		if (stage[i] >= 0 && f->kind == CKPT_FD_UNIX_PAIR && (f->aux[2] & CKPT_UP_NAMED))
			img_say(2, "restorer: notice: fd %d: its UNIX connection (accepted from a listener) comes "
				   "back unnamed\n", f->fd);
	}
	for (uint32_t k = 0; k < ndgram_notes; k++) {
		const struct ckpt_fd *f = &img->fds[dgram_notes[k].record];

		if (dgram_notes[k].moved)
			img_say(2, "restorer: notice: fd %d: %u of its %ld queued datagrams come from another address "
				   "now (their senders' could not be bound here)\n", f->fd, dgram_notes[k].moved, f->size);
		if (dgram_notes[k].missing)
			img_say(2, "restorer: notice: fd %d: %u of its %ld queued datagrams did not fit in the new "
				   "socket's buffer: lost\n", f->fd, dgram_notes[k].missing, f->size);
	}
	return 0;
}

/* A job (job.c): the descriptor this process made for its image's fd, to
 * hand to the job's other processes: its staging number, or the caller's
 * own 0, 1, 2 kept for the image's; -1 when there is none */
int rst_staged_fd(const struct img *img, int32_t fd, int stdio_image)
{
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];

		if (f->fd != fd)
			continue;
		if (stage[f->share] >= 0)
			return stage[f->share];
		return img->fds[f->share].fd <= 2 && !stdio_image ? img->fds[f->share].fd : -1;
	}
	return -1;
}

/* A job: the descriptor newfd, taken from another process, becomes the
 * image's fd (and every dup of it in the image): its status flags as the
 * image says (they are the shared description's: the same in each holder's
 * image), an end of a UNIX connection its options and shutdown as this
 * image's record of it says (a record with its other end in another
 * process), above every image number */
int rst_stage_job_fd(const struct img *img, int32_t fd, int newfd, struct img_err *e)
{
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		long moved;

		if (f->fd != fd)
			continue;
		if (f->share != i || stage[i] >= 0)
			break;			/* a dup: its lead's serves */
		sys_fcntl(newfd, F_SETFL, f->flags & SETFL_MASK);	/* a pipe or connection the job made */
		if (f->kind == CKPT_FD_UNSUPPORTED && f->aux[0] == CKPT_WHY_UNIX_OUTSIDE && set_unix_end(newfd, f, e)) {
			sys_close(newfd);	/* (this end's record holds its options: job.c made the pair) */
			return -1;
		}
		moved = sys_fcntl(newfd, F_DUPFD_CLOEXEC, stage_min);
		if (sys_failed(moved))
			return img_fail(e, "no descriptor above %d for fd %d (RLIMIT_NOFILE?): errno %d", stage_min, fd,
					(int)-moved);
		sys_close(newfd);
		stage[i] = (int)moved;
		return 0;
	}
	sys_close(newfd);
	return 0;
}

/* tlongjmp: the descriptors stay as they are (the kernel objects live on, as
 * the program left them); a regular file still open at its old number goes
 * back to its saved offset -- except 0, 1 and 2, which belong to whoever
 * started the program (a log it writes to must not be overwritten). */
void rst_rewind_fds(const struct img *img)
{
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		struct ksys_stat st;

		if (f->fd > 2 && f->kind == CKPT_FD_REG && f->share == i && !sys_fstat(f->fd, &st) && st.st_ino == f->ino &&
		    ksys_major(st.st_dev) == (f->dev >> 32) && ksys_minor(st.st_dev) == (uint32_t)f->dev)
			sys_lseek(f->fd, (int64_t)f->pos, 0);
	}
}

/* Every descriptor has its number again: each epoll instance gets back what
 * it watched, under the numbers it was given (the kernel keys a watch by file
 * and number).  A watched number that was not restored is left out. */
/* An epoll watch that could not be added again: of a descriptor restored
 * closed (--close-unsupported), named with the reason it was, else errno */
static void say_watch_lost(const struct img *img, int32_t epfd, int32_t fd, long err)
{
	for (uint32_t j = 0; j < img->hdr.nfds; j++)
		if (img->fds[j].fd == fd && img->fds[j].kind == CKPT_FD_UNSUPPORTED) {
			img_say(2, "restorer: notice: fd %d: epoll watch of fd %d (%S) not restored: that descriptor "
				"was restored closed (%s)\n", epfd, fd, img_str(img, img->fds[j].path_off),
				img_fd_why(&img->fds[j]));
			return;
		}
	img_say(2, "restorer: notice: fd %d: epoll watch of fd %d not restored: errno %d\n", epfd, fd, (int)-err);
}

static void add_epoll_watches(const struct img *img)
{
	const struct ckpt_epoll_watch *wt = watches;

	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		uint64_t n = f->data_len / sizeof(*wt);

		if (f->kind != CKPT_FD_EPOLL || f->share != i)
			continue;
		for (uint64_t k = 0; k < n; k++, wt++) {
			uint32_t ev[3] = { wt->events, (uint32_t)wt->data, (uint32_t)(wt->data >> 32) };
			long r = stage[i] < 0 ? 0 : sys_epoll_ctl(f->fd, 1 /* EPOLL_CTL_ADD */, wt->fd, ev);

			if (sys_failed(r))
				say_watch_lost(img, f->fd, wt->fd, r);
		}
	}
}

/* Every descriptor has its number and the image is closed: each inotify
 * instance gets its watches again, each under its own number, then the
 * number the next watch gets.  Checked before the point of no return; what
 * fails now is a notice.  Events pending at checkpoint are not here. */
static void add_inotify_watches(const struct img *img)
{
	static char mapped[RST_PATH_MAX];
	const struct ckpt_inotify_watch *w = inotify_watches;
	struct img_err e;

	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		uint64_t n = f->data_len / sizeof(*w);
		int plain;

		if (f->kind != CKPT_FD_INOTIFY || f->share != i || stage[i] < 0)
			continue;	/* (an instance not made had no watches read either) */
		plain = numbered_plainly(f, w, n);
		for (uint64_t k = 0; k < n; k++, w++) {
			const char *path = rst_map_path(img_str(img, w->path_off), mapped, &e);
			long r;

			if (!plain)
				sys_ioctl(f->fd, INOTIFY_IOC_SETNEXTWD, (void *)(long)w->wd);
			r = path ? SC3(__NR_inotify_add_watch, f->fd, path, w->mask) : -36;	/* ENAMETOOLONG */
			if (r != w->wd)
				img_say(2, "restorer: notice: fd %d: inotify watch %d (%s) not restored: %s %ld\n",
					f->fd, w->wd, img_str(img, w->path_off), sys_failed(r) ? "errno" : "it is wd",
					sys_failed(r) ? -r : r);
		}
		if (!plain && f->aux[0] < 0x7fffffff)
			sys_ioctl(f->fd, INOTIFY_IOC_SETNEXTWD, (void *)(long)(f->aux[0] + 1));
		if (f->aux[1])
			img_say(2, "restorer: notice: fd %d: %lu bytes of inotify events pending at checkpoint are "
				"not restored\n", f->fd, f->aux[1]);
	}
}

/* Memory is back and the program's userfaultfd has its number: each region
 * it had registered is registered again, missing pages and write protection
 * as each was, then its write-protected pages protected again (what fails
 * now is a notice; the kernel checked nothing of it before). */
static void register_userfaultfd(const struct img *img)
{
	int32_t fd = -1;

	for (uint32_t i = 0; i < img->hdr.nfds && fd < 0; i++)
		if (img->fds[i].kind == CKPT_FD_USERFAULTFD && stage[i] >= 0) {
			fd = img->fds[i].fd;
			if (img->fds[i].aux[2])
				img_say(2, "restorer: notice: fd %d: userfaultfd events the program had not read at "
					"checkpoint (a fork, remap, remove or unmap) are not restored\n", fd);
		}
	for (uint32_t i = 0; fd >= 0 && i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		struct { uint64_t start, len, mode, ioctls; } reg = {
			v->start, v->end - v->start,
			(v->flags & CKPT_MAP_UFFD_MISSING ? UFFDIO_REGISTER_MODE_MISSING : 0) |
			(v->flags & CKPT_MAP_UFFD_WP ? UFFDIO_REGISTER_MODE_WP : 0), 0
		};
		long r;

		if (reg.mode && sys_failed(r = sys_ioctl(fd, UFFDIO_REGISTER, &reg)))
			img_say(2, "restorer: notice: fd %d: region 0x%lx is not registered with the userfaultfd again: "
				"errno %d\n", fd, v->start, (int)-r);
	}
	for (uint32_t k = 0; fd >= 0 && k < nuffd_ranges; k++) {
		struct { uint64_t start, len, mode; } wp = {
			uffd_ranges[k].start, uffd_ranges[k].end - uffd_ranges[k].start, UFFDIO_WRITEPROTECT_MODE_WP
		};
		long r = sys_ioctl(fd, UFFDIO_WRITEPROTECT, &wp);

		if (sys_failed(r))
			img_say(2, "restorer: notice: fd %d: pages 0x%lx+0x%lx are not write-protected again: errno %d\n",
				fd, wp.start, wp.len, (int)-r);
	}
}

/* Each fanotify instance's marks, checked by make_fanotify, added now that the
 * image is closed; one that fails here is named in a notice. */
static void add_fanotify_marks(const struct img *img)
{
	const struct ckpt_fanotify_mark *m = fanotify_marks;

	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		uint64_t n = f->data_len / sizeof(*m), bad;
		long r;

		if (f->kind != CKPT_FD_FANOTIFY || f->share != i || stage[i] < 0)
			continue;	/* (an instance not made had no marks read either) */
		for (uint64_t done = 0; done < n; done += bad + 1)	/* past a failure, the others */
			if (sys_failed(r = add_marks(f->fd, m + done, n - done, img, &bad)))
				img_say(2, "restorer: notice: fd %d: fanotify mark %lu (%s) not restored: errno %ld\n",
					f->fd, done + bad + 1, img_str(img, m[done + bad].path_off), -r);
			else
				break;
		m += n;
		if (f->aux[2])
			img_say(2, "restorer: notice: fd %d: %lu bytes of fanotify events pending at checkpoint are "
				"not restored\n", f->fd, f->aux[2]);
	}
}

/* A job's restorer, before it makes the tree: JOB_FOREGROUND when its process
 * group has the foreground of its terminal (asked of fds 0, 1 and 2),
 * JOB_BACKGROUND when not; a single process is restored in the restorer's
 * own group and leaves the foreground where the caller's shell put it. */
enum { NOT_A_JOB, JOB_FOREGROUND, JOB_BACKGROUND };
static int job_started;

void rst_note_foreground(void)
{
	int pgrp;

	job_started = JOB_BACKGROUND;
	for (int fd = 0; fd <= 2; fd++)
		if (!sys_failed(sys_ioctl(fd, KSYS_TIOCGPGRP, &pgrp)) && pgrp == (int)SC0(__NR_getpgrp))
			job_started = JOB_FOREGROUND;
}

/* fd is this process's controlling terminal, now as at the checkpoint, when
 * its group had the foreground (fg_pgrp has it now).  A job's group takes it
 * back, as a shell gives it to the job it starts, when the restorer had it;
 * started in the background, the group's leader says the job stays there. */
static void take_foreground(int fd, int fg_pgrp)
{
	int mine = (int)SC0(__NR_getpgrp);
	long r;

	if (job_started == NOT_A_JOB || fg_pgrp == mine)
		return;
	if (job_started == JOB_BACKGROUND) {
		if (mine == (int)sys_getpid())
			img_say(2, "restorer: notice: pid %d: its process group had the terminal's foreground at the "
				   "checkpoint; the restorer was started in the background, and the job stays there "
				   "(it stops when it reads the terminal)\n", mine);
		return;
	}
	if (sys_failed(r = sys_ioctl(fd, KSYS_TIOCSPGRP, &mine)))
		img_say(2, "restorer: notice: fd %d: the terminal's foreground is not given to process group %d "
			   "again: errno %ld\n", fd, mine, -r);
}

/* Every descriptor is in place: each that was a terminal gets its mode back
 * (raw, no echo ...) on the terminal it is now, the caller's for 0, 1 and 2.
 * A program that had a controlling terminal gets a SIGWINCH (pending until it
 * runs: every signal is blocked here), as on a resize: the terminal it is on
 * now shows nothing of its old screen, and a full-screen program redraws on
 * it, at this terminal's size.  Said in one line each: descriptors that are
 * no terminal now, and a controlling terminal that is not the restorer's. */
static void set_terminals(const struct img *img, int stdio_image)
{
	char lost[64];
	size_t used = 0;
	int nlost = 0, winch = 0, ctty_lost = -1, foreground_asked = 0;

	for (uint32_t k = 0; k < nttys; k++) {
		const struct ckpt_fd *f = &img->fds[tty_record[k]], *lead = &img->fds[f->share];
		const struct ckpt_tty *t = &ttys[k];
		struct ckpt_tty now;
		int pgrp;
		long r;

		if (stage[f->share] < 0 && !(lead->fd <= 2 && !stdio_image))
			continue;		/* restored closed: said then */
		if (sys_failed(sys_ioctl(f->fd, KSYS_TCGETS2, &now))) {
			if (used < sizeof(lost) - 12)
				used += img_fmt(lost + used, sizeof(lost) - used, " %d", f->fd);
			nlost++;
			continue;
		}
		if (memcmp(&now, t, CKPT_TTY_TERMIOS_SIZE) &&
		    sys_failed(r = sys_ioctl(f->fd, KSYS_TCSETS2, (void *)t)))
			img_say(2, "restorer: notice: fd %d: its terminal's mode is not set again: errno %ld\n",
				f->fd, -r);
		if (t->flags & CKPT_TTY_CTTY) {
			winch = 1;
			if (sys_failed(sys_ioctl(f->fd, KSYS_TIOCGPGRP, &pgrp)))
				ctty_lost = ctty_lost < 0 ? f->fd : ctty_lost;
			else if ((t->flags & CKPT_TTY_FOREGROUND) && !foreground_asked++)
				take_foreground(f->fd, pgrp);
		}
	}
	if (nlost)
		img_say(2, "restorer: notice: fd%s%s: a terminal at the checkpoint, and not one now: its mode "
			   "(echo, raw ...) is not set\n", nlost > 1 ? "s" : "", lost);
	if (ctty_lost >= 0)
		img_say(2, "restorer: notice: fd %d: the program's controlling terminal at the checkpoint; "
			   "the terminal there now is not the restorer's: ^C, ^Z and hangups from it do not "
			   "reach the program\n", ctty_lost);
	if (winch)
		SC2(__NR_kill, sys_getpid(), 28 /* SIGWINCH */);
}

void rst_install_fds(const struct img *img, int stdio_image)
{
	int next = 3;

	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i], *lead = &img->fds[f->share];
		int src = stage[f->share];

		if (f->fd <= 2 && !stdio_image)
			continue;
		if (src < 0 && lead->fd <= 2 && !stdio_image)
			src = lead->fd;		/* a dup of the caller's stdio */
		if (f->fd >= next && f->fd > 2)
			sys_close_range((unsigned)next, (unsigned)f->fd);	/* numbers closed in the image */
		if (src >= 0 && src != f->fd)
			sys_dup3(src, f->fd, f->fd_flags & CKPT_FD_CLOEXEC ? O_CLOEXEC : 0);
		if (f->fd >= next)
			next = f->fd + 1;
	}
	sys_close_range((unsigned)(next > stage_min ? next : stage_min), ~0u);	/* staging, and the rest */
	if (next < stage_min)
		sys_close_range((unsigned)next, (unsigned)stage_min - 1);
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {	/* TCP connections: live again */
		int off = 0;			/* TCP_REPAIR_OFF: a window probe asks the peer its window */

		if (in_repair[i / 8] & (1u << (i % 8)))
			sys_setsockopt(img->fds[i].fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR, &off, sizeof(off));
	}
	add_epoll_watches(img);
	add_inotify_watches(img);
	add_fanotify_marks(img);
	register_userfaultfd(img);
	set_terminals(img, stdio_image);
}
