/* inotify.c -- inotify and fanotify descriptors: the path of every watch or
 * mark, and the record.
 *
 * The kernel shows an inotify instance's watches in its fdinfo ("inotify
 * wd:N ino:I sdev:D mask:M ... f_handle:H") with the watched inode but not
 * the path it was added by, and only a root process (CAP_DAC_READ_SEARCH)
 * may open a file handle.  So libckpt keeps the path of each
 * inotify_add_watch call the program makes through libc (the wrappers
 * below; a relative path is made absolute against the cwd of that moment),
 * and at checkpoint each watch takes the newest path recorded for its number
 * that still names its inode.  A watch with no such path (added before libckpt
 * was loaded, by a raw system call, or its file renamed since) is looked up
 * by its file handle where that is allowed; otherwise the descriptor is
 * recorded as not restorable (CKPT_WHY_INOTIFY_PATH) and named.
 *
 * The wrappers run in the program; the records are read in the checkpoint's
 * signal handler, which takes no lock: a record counts once `live` is set,
 * after its other fields are written.  A watch added in the instant between
 * the kernel's answer and its record is not found, and named as unknown.
 *
 * fanotify is read the same way: its fdinfo shows each mark's inode (a
 * mount's id, a file system's device) and masks; libckpt keeps the path of
 * each fanotify_mark call, and a mount or file system mark takes a mount
 * point from /proc/self/mountinfo.
 *
 * Events pending at a checkpoint.  An instance's queue can be seen only by
 * reading it, which takes the events.  So the checkpoint takes them into
 * libckpt's keeping (keep_pending), and libckpt's read() gives them to the
 * program before anything the kernel queued after them.  They are in the
 * process's memory: an image holds them and the restored program gets them
 * the same way.  For poll, select and epoll to see the descriptor readable
 * while events are kept, libckpt queues one event of its own behind them
 * (queue_token): the IN_IGNORED of a watch it adds (IN_MASK_CREATE, on a
 * directory the instance does not watch) and removes at once, under the
 * number the kernel hands out next; INOTIFY_IOC_SETNEXTWD gives that number
 * back, so the program's next watch gets the one it would have had.  read()
 * takes that event out of what it returns; when the program has read the
 * last kept event and the token is all the kernel holds, read() takes the
 * token too, so that a blocking descriptor is not left readable for nothing.
 * This is done for an instance the program made through libc (it reads it
 * through libc too; a Go program makes and reads its own with raw system
 * calls) and holds by one descriptor, where the kernel has
 * INOTIFY_IOC_SETNEXTWD; otherwise the events stay in the kernel, and the
 * checkpoint names them as not restored.  An event queued between the
 * taking and the snapshot (the same pause) stays in the kernel: the program
 * going on reads it, the image does not hold it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include "cap.h"

#define CKPT_API __attribute__((visibility("default")))

#define NRECORDS	4096u		/* watches remembered at once */
#define ARENA		(512u << 10)	/* their paths */
#define NFDS		1024u		/* inotify descriptors whose last wd is kept */
#define IN_ONLYDIR	0x01000000u
#define IN_DONT_FOLLOW	0x02000000u
#define AT_SYMLINK_NOFOLLOW 0x100
#define KERNEL_KEEPS	0x84000fffu	/* of a watch's mask: IN_ALL_EVENTS, IN_EXCL_UNLINK, IN_ONESHOT */
#define FANOTIFY_WD	(-1)		/* the records' key for a fanotify mark's path */
#define FAN_MARK_KEPT	0x640u		/* of fdinfo's mflags: IGNORED_SURV_MODIFY, EVICTABLE, IGNORE */

struct record {
	int32_t fd, wd;			/* inotify descriptor and watch number */
	uint32_t off, room;		/* its path in arena[], and the bytes there */
	int live;			/* set last (release): the fields above are whole */
};

static struct record records[NRECORDS] CAP_COLD;
static uint32_t nrecords;
static char arena[ARENA] CAP_COLD;
static uint32_t arena_used;
static int32_t last_wd[NFDS] CAP_COLD;		/* per inotify descriptor: the highest wd handed out */
static int lock;			/* between threads of the program, never in the handler */

static void take_lock(void)
{
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void drop_lock(void)
{
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

/* forget what fd's watch wd was (wd 0: every watch of fd) */
static void forget(int fd, int wd)
{
	for (uint32_t i = 0; i < nrecords; i++)
		if (records[i].live && records[i].fd == fd && (!wd || records[i].wd == wd))
			__atomic_store_n(&records[i].live, 0, __ATOMIC_RELEASE);
}

/* remember that fd's watch wd was added by path (relative: to the cwd now);
 * wd FANOTIFY_WD: a fanotify mark, which replaces no earlier record of fd */
static void remember(int fd, int wd, const char *path)
{
	char abs[4096];
	size_t len = 0, plen = strlen(path);
	struct record *r = 0;

	if (path[0] != '/') {
		if (!getcwd(abs, sizeof(abs)))
			return;
		len = strlen(abs);
		if (len > 1)
			abs[len++] = '/';
		else
			len = 1;
	}
	if (len + plen >= sizeof(abs))
		return;
	memcpy(abs + len, path, plen + 1);
	len += plen + 1;
	take_lock();
	if (fd >= 0 && (uint32_t)fd < NFDS && wd > last_wd[fd])
		last_wd[fd] = wd;
	if (wd != FANOTIFY_WD)
		forget(fd, wd);
	for (uint32_t i = 0; i < nrecords && !r; i++)	/* a free record with room for it */
		if (!records[i].live && records[i].room >= len)
			r = &records[i];
	if (!r && nrecords < NRECORDS && len <= ARENA - arena_used) {
		r = &records[nrecords];
		r->off = arena_used;
		r->room = (uint32_t)len;
		arena_used += (uint32_t)len;
		nrecords++;
	}
	if (r) {			/* else not recorded: the checkpoint names the watch */
		memcpy(arena + r->off, abs, len);
		r->fd = fd;
		r->wd = wd;
		__atomic_store_n(&r->live, 1, __ATOMIC_RELEASE);
	}
	drop_lock();
}

/* ---- events kept from a checkpoint (see the top) ---- */

#define NKEPT		16u		/* instances whose events are kept at once */
#define KEPT_MAX	(1u << 20)	/* bytes kept for one (some 30000 events) */
#define EVENT_HDR	16u		/* struct inotify_event: wd, mask, cookie, len; then the name */
#define IN_DELETE_SELF	0x400u
#define IN_IGNORED	0x8000u
#define IN_MASK_CREATE	0x10000000u

struct kept {
	int used;
	int32_t fd;
	int32_t busy;			/* a reader, or the checkpoint, is at it */
	int32_t next;			/* the wd the kernel hands out next, as the checkpoint found it */
	int32_t token_wd;		/* libckpt's IN_IGNORED is queued under this wd; 0: none */
	uint8_t *buf;			/* KEPT_MAX bytes of kept_area: events [off, len) not read yet */
	uint64_t off, len;
};

/* The kept events' room, mapped (MAP_NORESERVE: pages are taken as they are
 * written) when the program makes its first instance: a checkpoint walks the
 * address space before it takes events, so their room must be there before. */
static uint8_t *kept_area;
static struct kept kept[NKEPT] CAP_COLD;
static int kept_live;			/* slots used: read() looks only then */
static uint8_t by_libc[NFDS / 8];	/* inotify_init1 made the instance at this number */
static ssize_t (*libc_read)(int, void *, size_t);

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

static ssize_t next_read(int fd, void *buf, size_t n)
{
	if (!libc_read)
		libc_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	return libc_read(fd, buf, n);
}

static struct kept *kept_of(int fd)
{
	for (uint32_t i = 0; i < NKEPT; i++)
		if (kept[i].used && kept[i].fd == fd)
			return &kept[i];
	return 0;
}

static void hold(struct kept *k)
{
	while (__atomic_exchange_n(&k->busy, 1, __ATOMIC_ACQUIRE))
		SC0(__NR_sched_yield);
}

static void let_go(struct kept *k)
{
	__atomic_store_n(&k->busy, 0, __ATOMIC_RELEASE);
}

/* the slot is given up: nothing kept, no token queued (or the instance gone) */
static void drop_kept(struct kept *k)
{
	k->off = k->len = 0;
	k->token_wd = 0;
	k->used = 0;
	__atomic_fetch_sub(&kept_live, 1, __ATOMIC_RELEASE);
}

static void settle(struct kept *k)
{
	if (k->off == k->len && !k->token_wd)
		drop_kept(k);
}

/* the descriptor is an inotify instance still (the program may have closed
 * it and opened something else under its number) */
static int still_inotify(int fd)
{
	char link[40], to[32];
	long n;

	img_fmt(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = sys_readlink(link, to, sizeof(to) - 1);
	return n == 18 && !memcmp(to, "anon_inode:inotify", 18);
}

/* the bytes of the whole events at p[0, len) that fit in n */
static uint64_t whole_events(const uint8_t *p, uint64_t len, uint64_t n)
{
	uint64_t got = 0;

	while (got + EVENT_HDR <= len) {
		uint32_t name;
		uint64_t size;

		memcpy(&name, p + got + 12, 4);
		size = EVENT_HDR + name;
		if (got + size > len || got + size > n)
			break;
		got += size;
	}
	return got;
}

/* take the first IN_IGNORED of watch wd out of the events p[0, *len): 1 if found */
static int take_token(uint8_t *p, uint64_t *len, int32_t wd)
{
	for (uint64_t at = 0; at + EVENT_HDR <= *len; ) {
		int32_t w;
		uint32_t mask, name;

		memcpy(&w, p + at, 4);
		memcpy(&mask, p + at + 4, 4);
		memcpy(&name, p + at + 12, 4);
		if (w == wd && (mask & IN_IGNORED)) {
			memmove(p + at, p + at + EVENT_HDR + name, *len - at - EVENT_HDR - name);
			*len -= EVENT_HDR + name;
			return 1;
		}
		at += EVENT_HDR + name;
	}
	return 0;
}

/* Queue libckpt's event behind the kept ones (see the top): 0, or -errno. */
static int queue_token(struct kept *k)
{
	static const char *const spots[] = { "/", "/dev", "/proc", "/sys", "/tmp" };
	long t = -17;

	for (uint32_t i = 0; i < sizeof(spots) / sizeof(spots[0]) && t == -17; i++)	/* EEXIST: watched */
		t = SC3(__NR_inotify_add_watch, k->fd, spots[i], IN_DELETE_SELF | IN_MASK_CREATE);
	if (sys_failed(t))
		return (int)t;
	SC2(__NR_inotify_rm_watch, k->fd, t);
	sys_ioctl(k->fd, INOTIFY_IOC_SETNEXTWD, (void *)(long)k->next);
	k->token_wd = (int32_t)t;
	return 0;
}

/* Room for more bytes after what is kept: 0, or -E2BIG. */
static int make_room(struct kept *k, uint64_t more)
{
	if (k->len - k->off + more > KEPT_MAX)
		return -7;
	if (k->off) {				/* what was read goes */
		memmove(k->buf, k->buf + k->off, k->len - k->off);
		k->len -= k->off;
		k->off = 0;
	}
	return 0;
}

/* another descriptor of the process shares the instance described at lead */
static int shared(const struct cap_walk *w, uint32_t lead)
{
	for (uint32_t j = 0; j < w->nfds; j++)
		if (j != lead && ckpt_scratch.fds[j].share == lead)
			return 1;
	return 0;
}

/* In the checkpoint, the threads stopped: take the events pending on the
 * instance fd (the lead of its record, next the wd it hands out next) into
 * keeping.  Returns the bytes of events left in the kernel (not libckpt's
 * token): those the image does not hold. */
static uint64_t keep_pending(const struct cap_walk *w, uint32_t lead, int fd, int32_t next)
{
	struct kept *k = kept_of(fd);
	int pending = 0, fresh_slot = 0;
	uint64_t n;
	long r;

	if (sys_ioctl(fd, KSYS_FIONREAD, &pending) || pending <= 0)
		return 0;
	if (!w->keep_events || !kept_area || (uint32_t)fd >= NFDS || !(by_libc[fd / 8] & (1u << (fd % 8))) ||
	    shared(w, lead))
		return (uint64_t)pending;
	for (uint32_t i = 0; i < NKEPT && !k; i++)
		if (!kept[i].used) {
			k = &kept[i];
			memset(k, 0, sizeof(*k));
			k->buf = kept_area + (uint64_t)i * KEPT_MAX;
			k->fd = fd;
			k->used = fresh_slot = 1;
			__atomic_fetch_add(&kept_live, 1, __ATOMIC_RELEASE);
		}
	if (!k || __atomic_exchange_n(&k->busy, 1, __ATOMIC_ACQUIRE))
		return (uint64_t)pending;	/* (busy: a reader stopped in the middle of it) */
	k->next = next;
	if (sys_failed(sys_ioctl(fd, INOTIFY_IOC_SETNEXTWD, (void *)(long)next)) || make_room(k, (uint64_t)pending)) {
		if (fresh_slot)
			drop_kept(k);
		let_go(k);
		return (uint64_t)pending;
	}
	r = sys_read(fd, k->buf + k->len, (uint64_t)pending);
	n = r > 0 ? (uint64_t)r : 0;
	if (k->token_wd && take_token(k->buf + k->len, &n, k->token_wd))
		k->token_wd = 0;		/* ours, taken along */
	k->len += n;
	pending = 0;				/* (an event queued since: the image misses it) */
	sys_ioctl(fd, KSYS_FIONREAD, &pending);
	if (k->len > k->off && !k->token_wd && queue_token(k))
		cap_say("fd %d: inotify: %lu bytes of events pending are kept for the program's next read(), "
			"but poll() does not see them: no watch of libckpt's own could be added", fd,
			k->len - k->off);
	settle(k);
	let_go(k);
	return pending > 0 ? (uint64_t)pending : 0;
}

/* The kept events, then the kernel's less libckpt's token.  (A signal
 * handler of the program that reads the same descriptor while the code it
 * interrupted is in here would wait for it: only while events are kept.) */
static ssize_t read_kept(struct kept *k, int fd, void *buf, size_t n)
{
	uint64_t got;
	long r;

	hold(k);
	if (k->used && k->fd == fd && !still_inotify(fd))
		drop_kept(k);
	for (;;) {
		if (!k->used || k->fd != fd) {	/* given up (meanwhile) */
			let_go(k);
			return next_read(fd, buf, n);
		}
		if (k->off < k->len) {
			got = whole_events(k->buf + k->off, k->len - k->off, n);
			if (!got) {
				let_go(k);
				errno = EINVAL;		/* as the kernel: the next event does not fit */
				return -1;
			}
			memcpy(buf, k->buf + k->off, got);
			k->off += got;
			if (k->off == k->len && k->token_wd) {	/* the token alone is left: take it */
				int pending = 0;
				uint8_t ev[EVENT_HDR];

				if (!sys_ioctl(fd, KSYS_FIONREAD, &pending) && pending == EVENT_HDR &&
				    sys_read(fd, ev, EVENT_HDR) == EVENT_HDR)
					k->token_wd = 0;
			}
			settle(k);
			let_go(k);
			return (ssize_t)got;
		}
		let_go(k);
		r = next_read(fd, buf, n);	/* (may wait: the slot is not held) */
		if (r <= 0)
			return r;
		got = (uint64_t)r;
		hold(k);
		if (!k->used || k->fd != fd) {
			let_go(k);
			return (ssize_t)got;
		}
		if (k->token_wd && take_token(buf, &got, k->token_wd))
			k->token_wd = 0;
		if (k->off < k->len && got && !make_room(k, got)) {
			memcpy(k->buf + k->len, buf, got);	/* a checkpoint kept more meanwhile: */
			k->len += got;				/* these come after them */
			continue;
		}
		settle(k);
		let_go(k);
		if (got)
			return (ssize_t)got;
		if (sys_fcntl(fd, 3 /* F_GETFL */, 0) & O_NONBLOCK) {
			errno = EAGAIN;			/* only the token was there */
			return -1;
		}
		hold(k);				/* blocking: wait for the next event */
	}
}

CKPT_API ssize_t read(int fd, void *buf, size_t n)
{
	struct kept *k;

	if (__atomic_load_n(&kept_live, __ATOMIC_ACQUIRE) && (k = kept_of(fd)))
		return read_kept(k, fd, buf, n);
	return next_read(fd, buf, n);
}

/* read() compiled with _FORTIFY_SOURCE */
CKPT_API ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	static ssize_t (*real)(int, void *, size_t, size_t);
	struct kept *k;

	if (n <= buflen && __atomic_load_n(&kept_live, __ATOMIC_ACQUIRE) && (k = kept_of(fd)))
		return read_kept(k, fd, buf, n);
	if (!real)
		real = (ssize_t (*)(int, void *, size_t, size_t))dlsym(RTLD_NEXT, "__read_chk");
	return real(fd, buf, n, buflen);
}

/* After a restore the instances are new, their queues empty: each with
 * events kept gets libckpt's token again; a rollback's too (the token of
 * the moment rolled back to is not known to be there). */
void cap_inotify_after_restore(void)
{
	for (uint32_t i = 0; i < NKEPT; i++) {
		struct kept *k = &kept[i];

		if (!k->used || k->busy)	/* (a thread stopped in read() holds it: it runs on) */
			continue;
		k->token_wd = 0;
		if (!still_inotify(k->fd))
			drop_kept(k);
		else if (k->off < k->len && queue_token(k))
			cap_say("fd %d: inotify: %lu bytes of events pending at the checkpoint come with the "
				"next read(), but poll() does not see them: no watch of libckpt's own could be added",
				k->fd, k->len - k->off);
		else
			settle(k);
	}
}

/* a new instance at number fd: nothing recorded for that number holds */
static void fresh(int fd)
{
	struct kept *k;

	if (fd < 0)
		return;
	take_lock();
	forget(fd, 0);
	if ((uint32_t)fd < NFDS) {
		last_wd[fd] = 0;
		by_libc[fd / 8] &= (uint8_t)~(1u << (fd % 8));
	}
	drop_lock();
	if ((k = kept_of(fd))) {		/* the old instance's events */
		hold(k);
		drop_kept(k);
		let_go(k);
	}
}

CKPT_API int inotify_init1(int flags)
{
	static int (*real)(int);
	int fd;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "inotify_init1");
	fd = real(flags);
	fresh(fd);
	if (fd >= 0 && (uint32_t)fd < NFDS) {
		int err = errno;

		if (!__atomic_load_n(&kept_area, __ATOMIC_ACQUIRE)) {
			long m = sys_mmap(0, (uint64_t)NKEPT * KEPT_MAX, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			uint8_t *none = 0;

			if (!sys_failed(m) && !__atomic_compare_exchange_n(&kept_area, &none, (uint8_t *)m, 0,
									   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				sys_munmap((uint64_t)m, (uint64_t)NKEPT * KEPT_MAX);	/* another thread's won */
		}
		__atomic_fetch_or(&by_libc[fd / 8], (uint8_t)(1u << (fd % 8)), __ATOMIC_RELEASE);
		errno = err;
	}
	return fd;
}

CKPT_API int inotify_init(void)
{
	return inotify_init1(0);
}

CKPT_API int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	static int (*real)(int, const char *, uint32_t);
	int wd, err;

	if (!real)
		real = (int (*)(int, const char *, uint32_t))dlsym(RTLD_NEXT, "inotify_add_watch");
	wd = real(fd, path, mask);
	err = errno;
	if (wd > 0)
		remember(fd, wd, path);
	errno = err;
	return wd;
}

CKPT_API int inotify_rm_watch(int fd, int wd)
{
	static int (*real)(int, int);
	int r, err;

	if (!real)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "inotify_rm_watch");
	r = real(fd, wd);
	err = errno;
	if (!r) {
		take_lock();
		forget(fd, wd);
		drop_lock();
	}
	errno = err;
	return r;
}

CKPT_API int fanotify_init(unsigned int flags, unsigned int event_f_flags)
{
	static int (*real)(unsigned int, unsigned int);
	int fd;

	if (!real)
		real = (int (*)(unsigned int, unsigned int))dlsym(RTLD_NEXT, "fanotify_init");
	fd = real(flags, event_f_flags);
	fresh(fd);
	return fd;
}

/* A mark added: the path it names, made absolute (against dirfd, or the cwd),
 * or dirfd's own when path is NULL.  Marks removed are not forgotten: a
 * checkpoint takes only paths that name a marked inode still. */
CKPT_API int fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd, const char *path)
{
	static int (*real)(int, unsigned int, uint64_t, int, const char *);
	char abs[4096], link[64];
	int r, err;
	long n;

	if (!real)
		real = (int (*)(int, unsigned int, uint64_t, int, const char *))dlsym(RTLD_NEXT, "fanotify_mark");
	r = real(fd, flags, mask, dirfd, path);
	err = errno;
	if (!r && (flags & KSYS_FAN_MARK_ADD)) {
		if (path && (path[0] == '/' || dirfd == AT_FDCWD)) {
			remember(fd, FANOTIFY_WD, path);
		} else {
			img_fmt(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = sys_readlink(link, abs, sizeof(abs) - 1);
			if (n > 0 && abs[0] == '/' && (!path || (size_t)n + 1 + strlen(path) < sizeof(abs))) {
				abs[n] = 0;
				if (path)
					img_fmt(abs + n, sizeof(abs) - (size_t)n, "/%s", path);
				remember(fd, FANOTIFY_WD, abs);
			}
		}
	}
	errno = err;
	return r;
}

/* ---- at checkpoint, in the signal handler: raw system calls only ---- */

/* the mask bits path needs to name the inode (dev, ino) again: 0 when it
 * does (followed), IN_DONT_FOLLOW when it is a symbolic link watched
 * itself; IN_ONLYDIR is added for a directory.  -1: it names another. */
static int64_t names_inode(const char *path, uint64_t dev, uint64_t ino)
{
	struct ksys_stat st;

	for (int follow = 1; follow >= 0; follow--) {
		if (sys_failed(SC4(__NR_newfstatat, AT_FDCWD, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW)) ||
		    st.st_ino != ino || ((uint64_t)ksys_major(st.st_dev) << 32 | ksys_minor(st.st_dev)) != dev)
			continue;
		return (follow ? 0 : IN_DONT_FOLLOW) | ((st.st_mode & S_IFMT) == S_IFDIR ? IN_ONLYDIR : 0);
	}
	return -1;
}

/* does descriptor number fd share the open file description of lead? */
static int in_group(const struct cap_walk *w, uint32_t lead, int fd)
{
	for (uint32_t j = lead; j < w->nfds; j++)
		if (ckpt_scratch.fds[j].fd == fd)
			return ckpt_scratch.fds[j].share == lead;
	return 0;
}

/* A path for watch wd of inode (dev, ino): the newest recorded for wd by a
 * descriptor of this instance that still names it, else by any descriptor
 * (an instance closed and its number taken since).  *bits: names_inode's. */
static const char *recorded_path(const struct cap_walk *w, uint32_t lead, int wd, uint64_t dev, uint64_t ino,
				 int64_t *bits)
{
	const char *other = 0;
	int64_t other_bits = 0;

	for (uint32_t i = nrecords; i-- > 0; ) {
		const struct record *r = &records[i];
		int64_t b;

		if (!__atomic_load_n(&r->live, __ATOMIC_ACQUIRE) || r->wd != wd ||
		    (b = names_inode(arena + r->off, dev, ino)) < 0)
			continue;
		if (in_group(w, lead, r->fd)) {
			*bits = b;
			return arena + r->off;
		}
		if (!other)
			other = arena + r->off, other_bits = b;
	}
	*bits = other_bits;
	return other;
}

/* the highest wd recorded as handed out by a descriptor of this instance */
static int32_t recorded_last(const struct cap_walk *w, uint32_t lead)
{
	int32_t last = 0;

	for (uint32_t j = lead; j < w->nfds; j++) {
		int fd = ckpt_scratch.fds[j].fd;

		if (ckpt_scratch.fds[j].share == lead && (uint32_t)fd < NFDS && last_wd[fd] > last)
			last = last_wd[fd];
	}
	return last;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A mount point from /proc/self/mountinfo ("36 35 98:0 /mnt1 /mnt/parent rw
 * ...": mount id, parent id, device, root within the file system, mount
 * point): the mount numbered id, or with id < 0 the first of device dev that
 * opens as a directory (one with an escaped name, a space ..., is passed
 * over).  Into out; 0 when there is none. */
static int mount_point(int64_t id, uint64_t dev, char *out, size_t size)
{
	char *text = ckpt_scratch.iobuf + CAP_IOBUF / 2;
	const char *p;

	if (cap_read_small("/proc/self/mountinfo", text, CAP_IOBUF / 2) <= 0)
		return 0;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : 0) {
		const char *q = p;
		uint64_t this_id = img_parse_num(&q, 10), major, minor;
		size_t k = 0;
		long fd;

		while (*q == ' ')
			q++;
		while (*q && *q != ' ' && *q != '\n')	/* parent id */
			q++;
		while (*q == ' ')
			q++;
		major = img_parse_num(&q, 10);
		if (*q++ != ':')
			continue;
		minor = img_parse_num(&q, 10);
		if (id >= 0 ? this_id != (uint64_t)id : (major << 32 | minor) != dev)
			continue;
		while (*q == ' ')
			q++;
		while (*q && *q != ' ' && *q != '\n')	/* the root within the file system */
			q++;
		while (*q == ' ')
			q++;
		while (*q && *q != ' ' && *q != '\n' && k < size - 1)
			out[k++] = *q++;
		out[k] = 0;
		if (strchr(out, '\\') || out[0] != '/')
			continue;
		fd = sys_open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (sys_failed(fd))
			continue;
		sys_close((int)fd);
		return 1;
	}
	return 0;
}

/* Root's way to a path the program did not show us: the file handle fdinfo
 * prints, opened (open_by_handle_at, CAP_DAC_READ_SEARCH) relative to a
 * mount of its file system, and read back from /proc/self/fd.  Into out; 0
 * when any of it is not possible. */
static int path_by_handle(const char *line, uint64_t dev, char *out, size_t size)
{
	struct { uint32_t bytes; int32_t type; uint8_t h[128]; } fh;
	static char point[4096] CAP_COLD;
	char link[64];
	const char *v;
	long mnt, fd, n;
	size_t i = 0;

	if (!(v = strstr(line, "fhandle-bytes:")) || (v += 14, fh.bytes = (uint32_t)img_parse_num(&v, 16)) == 0 ||
	    fh.bytes > sizeof(fh.h) || !(v = strstr(v, "fhandle-type:")))
		return 0;
	v += 13;
	fh.type = (int32_t)img_parse_num(&v, 16);
	if (!(v = strstr(v, "f_handle:")))
		return 0;
	for (v += 9; i < fh.bytes; i++, v += 2) {
		int hi = hex_digit(v[0]), lo = hi < 0 ? -1 : hex_digit(v[1]);

		if (lo < 0)
			return 0;
		fh.h[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!mount_point(-1, dev, point, sizeof(point)) ||
	    sys_failed(mnt = sys_open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)))	/* not O_PATH: refused */
		return 0;
	fd = SC3(__NR_open_by_handle_at, mnt, &fh, O_PATH | O_CLOEXEC);
	sys_close((int)mnt);
	if (sys_failed(fd))
		return 0;
	img_fmt(link, sizeof(link), "/proc/self/fd/%d", (int)fd);
	n = sys_readlink(link, out, size - 1);
	sys_close((int)fd);
	if (n <= 0 || out[0] != '/')
		return 0;
	out[n] = 0;
	return 1;
}

/* fdinfo's hex after key in line, or -1 when it is not there */
static int64_t hex_after(const char *line, const char *key)
{
	const char *v = strstr(line, key);

	if (!v)
		return -1;
	v += strlen(key);
	return (int64_t)img_parse_num(&v, 16);
}

/* The record of inotify descriptor f (the lead of its sharers, index lead):
 * every watch with its number, mask and a path, ascending, as its stored
 * bytes in fdbuf (f->pos says where until write time); aux[0] the last wd
 * handed out, aux[1] the bytes of events pending.  A watch with no path
 * makes it CKPT_FD_UNSUPPORTED (CKPT_WHY_INOTIFY_PATH); aux[1..3] then say
 * which watch (wd, device, inode) for the message. */
int cap_describe_inotify(struct cap_walk *w, struct ckpt_fd *f, uint32_t lead)
{
	struct ckpt_inotify_watch *out = (struct ckpt_inotify_watch *)(ckpt_scratch.fdbuf + w->fdbuf_used);
	uint64_t room = (CAP_FDBUF - w->fdbuf_used) / sizeof(*out), n = 0;
	char *text = ckpt_scratch.iobuf, fdinfo[64];
	int64_t last = recorded_last(w, lead);
	long len;

	img_fmt(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", f->fd);
	len = cap_read_small(fdinfo, text, CAP_IOBUF / 2);
	if (len <= 0 || len >= (long)CAP_IOBUF / 2 - 1) {
		cap_say("fd %d: inotify: %s unreadable or too long", f->fd, fdinfo);
		return -7;
	}
	for (char *line = text; (line = strstr(line, "inotify wd:")); ) {
		char *end = strchr(line, '\n');
		int64_t wd = hex_after(line, "wd:"), ino = hex_after(line, "ino:"), sdev = hex_after(line, "sdev:");
		int64_t mask = hex_after(line, "mask:"), bits = -1;
		uint64_t dev = (uint64_t)sdev >> 20 << 32 | ((uint64_t)sdev & 0xfffff);	/* the kernel's MKDEV */
		const char *path;
		static char found[4096] CAP_COLD;

		if (end)
			*end = 0;
		if (wd <= 0 || wd > 0x7fffffff || ino < 0 || sdev < 0 || mask < 0)
			return -5;
		if (n >= room) {
			cap_say("fd %d: inotify: more watches than a checkpoint keeps", f->fd);
			return -7;
		}
		path = recorded_path(w, lead, (int)wd, dev, (uint64_t)ino, &bits);
		if (!path && path_by_handle(line, dev, found, sizeof(found)) &&
		    (bits = names_inode(found, dev, (uint64_t)ino)) >= 0)
			path = found;
		if (!path || !(out[n].path_off = cap_add_string(w, path))) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_INOTIFY_PATH;
			f->aux[1] = (uint64_t)wd;
			f->aux[2] = dev;
			f->aux[3] = (uint64_t)ino;
			f->data_len = 0;
			return 0;
		}
		out[n].wd = (int32_t)wd;
		out[n].mask = ((uint32_t)mask & KERNEL_KEEPS) | (uint32_t)bits;
		out[n].pad = 0;
		out[n].dev = dev;
		out[n].ino = (uint64_t)ino;
		if (wd > last)
			last = wd;
		for (uint64_t k = n; k > 0 && out[k - 1].wd > out[k].wd; k--) {	/* ascending wd */
			struct ckpt_inotify_watch t = out[k];

			out[k] = out[k - 1];
			out[k - 1] = t;
		}
		n++;
		if (!end)
			break;
		line = end + 1;
	}
	f->aux[0] = (uint64_t)last;
	f->aux[1] = keep_pending(w, lead, f->fd, last < 0x7fffffff ? (int32_t)last + 1 : 0x7fffffff);
	f->data_len = n * sizeof(*out);
	if (n) {
		f->pos = w->fdbuf_used;		/* where in fdbuf, until write time */
		w->fdbuf_used += f->data_len;
	}
	return 0;
}

/* The record of fanotify descriptor f (the lead of its sharers, index lead):
 * its fanotify_init flags (aux[0], aux[1]), the bytes of events pending
 * (aux[2]), and every mark with its type, flags, masks and a path, as its
 * stored bytes in fdbuf (f->pos says where until write time): an inode's
 * path as for an inotify watch, a mount's its mount point, a file system's
 * a mount point of it.  A mark with no path makes it CKPT_FD_UNSUPPORTED
 * (CKPT_WHY_FANOTIFY).  0, or -errno when fdinfo cannot be read. */
int cap_describe_fanotify(struct cap_walk *w, struct ckpt_fd *f, uint32_t lead)
{
	struct ckpt_fanotify_mark *out = (struct ckpt_fanotify_mark *)(ckpt_scratch.fdbuf + w->fdbuf_used);
	uint64_t room = (CAP_FDBUF - w->fdbuf_used) / sizeof(*out), n = 0;
	char *text = ckpt_scratch.iobuf, fdinfo[64], *line;
	int pending = 0;
	long len;

	img_fmt(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", f->fd);
	len = cap_read_small(fdinfo, text, CAP_IOBUF / 2);
	if (len <= 0 || len >= (long)CAP_IOBUF / 2 - 1 || !(line = strstr(text, "fanotify flags:")))
		return -5;
	f->aux[0] = (uint64_t)hex_after(line, "flags:");
	f->aux[1] = (uint64_t)hex_after(line, "event-flags:");
	if (f->aux[0] > 0xffffffffu || f->aux[1] > 0xffffffffu)
		return -5;
	while ((line = strstr(line + 1, "\nfanotify "))) {
		char *end = strchr(line + 1, '\n'), *kind = line + 10;
		int64_t sdev = hex_after(kind, "sdev:"), ino = hex_after(kind, "ino:"), bits = 0;
		uint64_t dev = (uint64_t)sdev >> 20 << 32 | ((uint64_t)sdev & 0xfffff);	/* the kernel's MKDEV */
		static char found[4096] CAP_COLD;
		const char *path = 0;

		if (end)
			*end = 0;
		if (n >= room || n >= CKPT_FANOTIFY_MARKS_MAX) {
			cap_say("fd %d: fanotify: more marks than a checkpoint keeps", f->fd);
			return -7;
		}
		memset(&out[n], 0, sizeof(out[n]));
		out[n].flags = (uint32_t)hex_after(kind, "mflags:") & FAN_MARK_KEPT;
		out[n].mask = (uint64_t)hex_after(kind, " mask:");
		out[n].ignored_mask = (uint64_t)hex_after(kind, "ignored_mask:");
		if (out[n].mask > 0xffffffffu || out[n].ignored_mask > 0xffffffffu)
			return -5;		/* a line not as this code knows it */
		if (!strncmp(kind, "ino:", 4)) {
			out[n].type = CKPT_FAN_INODE;
			out[n].dev = dev;
			out[n].ino = (uint64_t)ino;
			path = recorded_path(w, lead, FANOTIFY_WD, dev, (uint64_t)ino, &bits);
			if (!path && path_by_handle(kind, dev, found, sizeof(found)) &&
			    (bits = names_inode(found, dev, (uint64_t)ino)) >= 0)
				path = found;
			out[n].flags |= (bits & IN_DONT_FOLLOW ? KSYS_FAN_MARK_DONT_FOLLOW : 0) |
					(bits & IN_ONLYDIR ? KSYS_FAN_MARK_ONLYDIR : 0);
		} else {		/* "mnt_id:HEX" or "sdev:HEX" */
			int64_t mnt = hex_after(kind, "mnt_id:");

			out[n].type = mnt >= 0 ? CKPT_FAN_MOUNT : CKPT_FAN_FS;
			out[n].dev = mnt >= 0 ? 0 : dev;
			if (mount_point(mnt, dev, found, sizeof(found)))
				path = found;
		}
		if (!path || !(out[n].path_off = cap_add_string(w, path))) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_FANOTIFY;
			f->aux[1] = f->aux[2] = 0;
			f->data_len = 0;
			return 0;
		}
		n++;
		if (!end)
			break;
		*end = '\n';
		line = end - 1;
	}
	for (uint64_t k = 0; k < n / 2; k++) {	/* fdinfo lists the newest first: oldest first */
		struct ckpt_fanotify_mark t = out[k];

		out[k] = out[n - 1 - k];
		out[n - 1 - k] = t;
	}
	sys_ioctl(f->fd, KSYS_FIONREAD, &pending);
	f->aux[2] = pending > 0 ? (uint64_t)pending : 0;
	f->data_len = n * sizeof(*out);
	if (n) {
		f->pos = w->fdbuf_used;		/* where in fdbuf, until write time */
		w->fdbuf_used += f->data_len;
	}
	return 0;
}
