/* state.c -- what the kernel holds for the process besides memory and
 * registers: descriptors, pending signals, POSIX and interval timers, resource
 * limits, personality.  Runs in the signal handler: raw syscalls, static storage.
 */
#include <linux/wait.h>
#include "cap.h"

#define F_GETFD		1
#define F_GETPIPE_SZ	1032
#define F_GET_SEALS	1034
#define KCMP_FILE	0
#define SPLICE_F_NONBLOCK 2
#define TFD_IOC_SET_TICKS 0x40085400	/* _IOW('T', 0, uint64_t) */

static uint64_t num(const char **s, unsigned base)
{
	return img_parse_num(s, base);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* just past the next "key" in text and the blanks after it, or 0 */
static const char *after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (p)
		for (p += strlen(key); *p == ' ' || *p == '\t'; p++)
			;
	return p;
}

/* An epoll instance's watches, from its fdinfo lines
 * "tfd: N events: HEX data: HEX pos:.. ino:.. sdev:..", into fdbuf (written
 * as its stored bytes, like a pipe's). */
static int epoll_watches(struct cap_walk *w, struct ckpt_fd *f)
{
	static char text[1 << 16] CAP_COLD;
	char fdinfo[64];
	struct ckpt_epoll_watch *out = (struct ckpt_epoll_watch *)(ckpt_scratch.fdbuf + w->fdbuf_used);
	uint64_t room = (CAP_FDBUF - w->fdbuf_used) / sizeof(*out), n = 0;
	long len;

	img_fmt(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", f->fd);
	len = cap_read_small(fdinfo, text, sizeof(text));
	if (len <= 0 || len >= (long)sizeof(text) - 1) {
		cap_say("fd %d: epoll: %s unreadable or too long: recorded as not restorable", f->fd, fdinfo);
		return -7;
	}
	for (const char *p = text; (p = strstr(p, "tfd:")); ) {
		const char *v;

		if (n >= room) {
			cap_say("fd %d: epoll: more watches than a checkpoint keeps", f->fd);
			return -7;
		}
		p = after(p, "tfd:");
		out[n].fd = (int32_t)num(&p, 10);
		if (!(v = after(p, "events:")))
			return -5;
		out[n].events = (uint32_t)num(&v, 16);
		if (!(v = after(v, "data:")))
			return -5;
		out[n].data = num(&v, 16);
		p = v;
		n++;
	}
	f->aux[1] = w->fdbuf_used;		/* where in fdbuf, until write time */
	f->data_len = n * sizeof(*out);
	w->fdbuf_used += f->data_len;
	return 0;
}

/* Can expirations be set on a timerfd (TFD_IOC_SET_TICKS, the kernel's
 * CONFIG_CHECKPOINT_RESTORE)?  Tried on one of our own. */
static int timerfd_ticks_settable(void)
{
	uint64_t one = 1;
	long t = sys_timerfd_create(1 /* CLOCK_MONOTONIC */, O_CLOEXEC), r;

	if (sys_failed(t))
		return 0;
	r = sys_ioctl((int)t, TFD_IOC_SET_TICKS, &one);
	sys_close((int)t);
	return !r;
}

/* A timerfd's times and its expirations not read yet (aux[1..5]).  The
 * times come from timerfd_gettime, not fdinfo: an interval timer that fired
 * with nobody reading is re-armed only when asked, and until then fdinfo
 * shows it_value 0 (it would come back disarmed).  timerfd_gettime re-arms it
 * and counts the periods it missed into "ticks:", read from fdinfo after. */
static void describe_timerfd(struct ckpt_fd *f, const char *fdinfo, char *info, size_t size)
{
	int64_t its[4];
	const char *v;

	if (!sys_failed(sys_timerfd_gettime(f->fd, its)))
		for (int i = 0; i < 4; i++)
			f->aux[1 + i] = (uint64_t)its[i];
	if (cap_read_small(fdinfo, info, size) <= 0)
		return;
	if ((v = cap_field(info, "ticks:")))
		f->aux[5] = num(&v, 10);
	if (f->aux[5] && !timerfd_ticks_settable())
		cap_say("fd %d: timerfd: %lu expirations not read yet are lost at restore (this kernel "
			"cannot set them again: no TFD_IOC_SET_TICKS)", f->fd, f->aux[5]);
	/* armed for a wall-clock time: that time, not the time left, is set again
	 * (a monotonic clock starts again at boot: its time left is what holds) */
	if ((v = cap_field(info, "settime flags:")) && (num(&v, 8) & 1) &&
	    (f->aux[0] == 0 || f->aux[0] == 8) && (f->aux[3] || f->aux[4])) {	/* REALTIME(_ALARM) */
		struct ksys_timespec now;

		v = cap_field(info, "settime flags:");
		f->tfd_flags = (uint32_t)num(&v, 8) & 3;	/* TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET */
		sys_clock_gettime(0, &now);
		f->tfd_deadline_ns = (now.tv_sec + (int64_t)f->aux[3]) * 1000000000 + now.tv_nsec + (int64_t)f->aux[4];
	}
}

/* The locks and leases held through descriptor record `index` (a share
 * lead: its dups show the same ones), from the "lock:" lines of its fdinfo,
 * which the kernel prints for this open file description and, for POSIX
 * locks, this process only (a forked child sees none: this runs in the
 * program, phase 1):
 *   lock:	1: POSIX  ADVISORY  WRITE 1234 fe:00:567 0 9
 *   lock:	2: OFDLCK ADVISORY  READ -1 fe:00:567 20 EOF
 *   lock:	3: FLOCK  ADVISORY  WRITE 1234 fe:00:568 0 EOF
 *   lock:	4: LEASE  ACTIVE    READ 1234 fe:00:569 0 EOF
 * Each goes to the lock table when the descriptor is reopened by path;
 * otherwise (or a lease being broken, a full table) its kind is named as not
 * restored (w->lost). */
static void collect_locks(struct cap_walk *w, uint32_t index)
{
	static const char kinds[][8] = { "POSIX ", "FLOCK ", "OFDLCK ", "LEASE " };
	static const uint16_t kind_of[4] = { CKPT_LOCK_POSIX, CKPT_LOCK_FLOCK, CKPT_LOCK_OFD, CKPT_LOCK_LEASE };
	const struct ckpt_fd *f = &ckpt_scratch.fds[index];
	char *info = ckpt_scratch.iobuf, path[64];	/* free here: the timers' text is read */
	int by_path = f->kind == CKPT_FD_REG || f->kind == CKPT_FD_DIR || f->kind == CKPT_FD_CHR ||
		      f->kind == CKPT_FD_FIFO;
	const char *v;
	long n;

	img_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", f->fd);
	n = cap_read_small(path, info, CAP_IOBUF);
	if (n >= (long)CAP_IOBUF - 1)
		by_path = 0;			/* cut short: the rest cannot be seen */
	for (const char *l = n > 0 ? info : ""; (v = cap_field(l, "lock:")); l = v) {
		struct ckpt_lock rec;
		int k;

		while ((*v >= '0' && *v <= '9') || *v == ':' || *v == ' ')
			v++;
		for (k = 0; k < 4 && strncmp(v, kinds[k], strlen(kinds[k])); k++)
			;
		if (k == 4)
			continue;		/* DELEG and the like: not a program's */
		v += strlen(kinds[k]);
		while (*v == ' ')
			v++;
		memset(&rec, 0, sizeof(rec));
		rec.fd_index = index;
		rec.kind = kind_of[k];
		if (!strncmp(v, "ADVISORY ", 9) || !strncmp(v, "ACTIVE ", 7)) {
			while (*v != ' ')
				v++;
			while (*v == ' ')
				v++;
			rec.type = !strncmp(v, "WRITE", 5) ? CKPT_LOCK_WRITE : CKPT_LOCK_READ;
			if (strncmp(v, "WRITE", 5) && strncmp(v, "READ", 4))
				rec.kind = 0;	/* UNLCK: a lease given up */
			for (int field = 0; field < 3 && *v && *v != '\n'; field++) {	/* type, pid, dev:ino */
				while (*v && *v != ' ' && *v != '\n')
					v++;
				while (*v == ' ')
					v++;
			}
			rec.start = (int64_t)num(&v, 10);
			while (*v == ' ')
				v++;
			if ((rec.kind == CKPT_LOCK_POSIX || rec.kind == CKPT_LOCK_OFD) && *v >= '0' && *v <= '9')
				rec.len = (int64_t)num(&v, 10) - rec.start + 1;
			if (rec.kind != CKPT_LOCK_POSIX && rec.kind != CKPT_LOCK_OFD)
				rec.start = 0;
		} else {
			rec.kind = 0;		/* a lease being broken */
		}
		if (rec.kind == CKPT_LOCK_LEASE) {	/* F_GETSIG: its breaks' signal, 0 for SIGIO */
			long sig = sys_fcntl(f->fd, 11, 0);

			rec.sig = sys_failed(sig) ? 0 : (int32_t)sig;
		}
		if (rec.kind && by_path && (rec.kind != CKPT_LOCK_LEASE || f->kind == CKPT_FD_REG) &&
		    w->nlocks < CAP_MAX_LOCKS) {
			ckpt_scratch.locks[w->nlocks++] = rec;
		} else if (!(w->lost & (CKPT_PROC_POSIX_LOCKS_LOST << k))) {
			w->lost |= CKPT_PROC_POSIX_LOCKS_LOST << k;
			w->lost_fd[k + 1] = f->fd;
		}
	}
}

/* An int socket option, or -1 when the socket has none such. */
static int sockopt(int fd, int level, int name)
{
	int v = 0;
	uint32_t len = sizeof(v);

	return sys_failed(sys_getsockopt(fd, level, name, &v, &len)) ? -1 : v;
}

/* The buffer sizes of socket FD (domain, type, protocol) where the program
 * set them: each differing from a new socket's of the same kind goes into
 * *aux5 (SO_RCVBUF low half, SO_SNDBUF high half), as the restorer reads it. */
static void set_buffers(uint64_t *aux5, int fd, int dom, int type, int proto)
{
	int probe = (int)sys_socket(dom, type | KSYS_SOCK_CLOEXEC, proto);
	int rcv, snd;

	if (probe < 0)
		return;
	rcv = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF);
	snd = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF);
	if (rcv > 0 && rcv != sockopt(probe, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF))
		*aux5 |= (uint32_t)rcv;
	if (snd > 0 && snd != sockopt(probe, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF))
		*aux5 |= (uint64_t)(uint32_t)snd << 32;
	sys_close(probe);
}

/* struct msghdr, struct iovec */
struct kmsghdr {
	void *name;
	uint32_t namelen;
	void *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	int32_t flags;
};
struct kiovec {
	void *base;
	uint64_t len;
};

/* What is queued for a socket to read, read without taking it: MSG_PEEK from
 * an offset (SO_PEEK_OFF, from 0) that each peek moves past what it returned.
 * Written at out as records (a uint32_t length, then the bytes), room bytes
 * at most; *used says how many, *count how many records.  A UNIX socket has
 * SO_PASSCRED on for the walk: every message then comes with its sender's
 * credentials, which tells an empty datagram from a seqpacket's end of file
 * (both read 0 bytes).  The control buffer has room for those credentials
 * only, so descriptors in flight (SCM_RIGHTS) are never installed here: they
 * set MSG_CTRUNC.  SO_PEEK_OFF and SO_PASSCRED are put back as they were.
 * Returns 0, -1: descriptors in flight, -2: more than room or than a record
 * holds (CKPT_SOCK_RECORD_MAX), or its queue cannot be walked. */
int cap_peek_queue(int fd, int unix_, int type, int with_from, char *out, uint64_t room, uint64_t *used,
		      uint64_t *count)
{
	int peek_was = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF);
	int cred_was = unix_ ? sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED) : 0, zero = 0, one = 1, err = 0;
	uint64_t at = 0, head = with_from ? 8 + CKPT_SOCKADDR_MAX : 4;
	char ctl[32];			/* CMSG_SPACE(sizeof(struct ucred)) */
	uint8_t from[CKPT_SOCKADDR_MAX];

	*count = 0;
	if (sys_failed(sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &zero, 4)))
		return -2;
	if (unix_)
		sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED, &one, 4);
	for (;;) {
		uint64_t avail = room - at <= head ? 0 : room - at - head;
		struct kiovec io = { out + at + head, avail < CKPT_SOCK_RECORD_MAX ? avail : CKPT_SOCK_RECORD_MAX };
		struct kmsghdr m = { with_from ? from : 0, with_from ? sizeof(from) : 0, &io, 1, ctl, sizeof(ctl), 0 };
		long r;
		uint32_t len, flen;

		if (!avail) {
			err = -2;
			break;
		}
		r = sys_recvmsg(fd, &m, KSYS_MSG_PEEK | KSYS_MSG_DONTWAIT);
		if (r < 0 || (r == 0 && (type == KSYS_SOCK_STREAM || (unix_ && !m.controllen))))
			break;			/* the end of the queue (EAGAIN), or of the stream */
		if (m.flags & (KSYS_MSG_CTRUNC | KSYS_MSG_TRUNC)) {
			err = m.flags & KSYS_MSG_CTRUNC ? -1 : -2;
			break;
		}
		len = (uint32_t)r;
		memcpy(out + at, &len, 4);
		if (with_from) {		/* the sender's address, then the bytes right after it */
			flen = m.namelen < sizeof(from) ? m.namelen : sizeof(from);
			memcpy(out + at + 4, &flen, 4);
			memcpy(out + at + 8, from, flen);
			memmove(out + at + 8 + flen, out + at + head, len);
			at += 8 + flen + len;
		} else {
			at += 4 + len;
		}
		++*count;
	}
	sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF, &peek_was, 4);
	if (unix_)
		sys_setsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED, &cred_was, 4);
	*used = at;
	return err;
}

/* The datagrams queued for a datagram socket (UDP, UNIX) whose addresses,
 * alen bytes, are at fdbuf's free room: each with its sender's address,
 * after them (CKPT_SO_DGRAM_QUEUE's records), and counted in f->size.
 * Returns the bytes the records take; 0 when there are none or they do not
 * all fit, f->size then counting them as lost (named at checkpoint). */
static uint64_t store_datagrams(struct cap_walk *w, struct ckpt_fd *f, int fd, int dom, uint32_t alen)
{
	uint64_t used, n;
	int err = cap_peek_queue(fd, dom == KSYS_AF_UNIX, KSYS_SOCK_DGRAM, 1, ckpt_scratch.fdbuf + w->fdbuf_used + alen,
			     CAP_FDBUF - w->fdbuf_used - alen, &used, &n);

	f->size = (int64_t)n + (err != 0);	/* a refusal: at least one more */
	if (err || !n)
		return 0;
	f->aux[4] |= CKPT_SO_DGRAM_QUEUE;
	f->aux[3] = alen;
	return used;
}

/* The other end of a connected UNIX socket and how this one is shut down,
 * from the kernel's socket diagnostics (NETLINK_SOCK_DIAG asked for this
 * inode with UDIAG_SHOW_PEER, open to every user): *peer = the other end's
 * inode (0: it is closed), *shut = RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2.  0, or
 * -errno when the kernel does not tell. */
int cap_unix_peer_of(uint64_t ino, uint64_t *peer, uint32_t *shut)
{
	struct {
		uint32_t len;		/* struct nlmsghdr */
		uint16_t type, flags;
		uint32_t seq, pid;
		uint8_t family, protocol;	/* struct unix_diag_req */
		uint16_t pad;
		uint32_t states, ino, show, cookie[2];
	} req = { sizeof(req), 20 /* SOCK_DIAG_BY_FAMILY */, 1 /* NLM_F_REQUEST */, 1, 0, KSYS_AF_UNIX, 0, 0,
		  ~0u, (uint32_t)ino, 4 /* UDIAG_SHOW_PEER */, { ~0u, ~0u } /* no cookie */ };
	static uint8_t answer[4096] CAP_COLD;
	long nl = sys_socket(16 /* AF_NETLINK */, KSYS_SOCK_DGRAM | KSYS_SOCK_CLOEXEC, 4 /* NETLINK_SOCK_DIAG */), n;
	uint32_t got_ino, len;
	uint16_t type;

	if (sys_failed(nl))
		return (int)nl;
	n = sys_sendto((int)nl, &req, sizeof(req), 0, 0, 0);
	if (!sys_failed(n))
		n = sys_read((int)nl, answer, sizeof(answer));
	sys_close((int)nl);
	if (sys_failed(n))
		return (int)n;
	memcpy(&len, answer, 4);
	memcpy(&type, answer + 4, 2);
	memcpy(&got_ino, answer + 20, 4);	/* struct unix_diag_msg after the header: udiag_ino */
	if (n < 32 || len > n || type != 20 || got_ino != (uint32_t)ino)
		return -61;			/* ENODATA: an error, or not the answer asked for */
	*peer = 0;
	*shut = 0;
	for (uint32_t at = 32; at + 4 <= len; ) {	/* its attributes: uint16_t length, type, data */
		uint16_t alen, atype;
		uint32_t v = 0;

		memcpy(&alen, answer + at, 2);
		memcpy(&atype, answer + at + 2, 2);
		if (alen < 5 || alen > len - at)
			break;
		memcpy(&v, answer + at + 4, alen - 4 < 4 ? alen - 4 : 4);
		if (atype == 2)			/* UNIX_DIAG_PEER: uint32_t */
			*peer = v;
		if (atype == 6)			/* UNIX_DIAG_SHUTDOWN: uint8_t */
			*shut = v & 0xff & 3;
		at += (alen + 3u) & ~3u;
	}
	return 0;
}

/* A connected UNIX socket: a CKPT_FD_UNIX_PAIR end when the kernel names its
 * other end (link_unix_pairs finds it among the process's and reads the
 * queue), else it stays CKPT_WHY_CONNECTED.  named: its peer had an address. */
static void describe_unix_pair(struct ckpt_fd *f, int fd, int type, int named)
{
	uint8_t addr[CKPT_SOCKADDR_MAX];
	uint32_t alen = sizeof(addr), shut;
	uint64_t peer;

	if (cap_unix_peer_of(f->ino, &peer, &shut))
		return;
	if (!sys_failed(sys_getsockname(fd, addr, &alen)) && alen > 2)
		named = 1;
	f->kind = CKPT_FD_UNIX_PAIR;
	f->aux[0] = (uint64_t)type;
	f->aux[2] = (sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED) > 0 ? CKPT_UP_PASSCRED : 0) |
		    (shut & 1 ? CKPT_UP_SHUT_RD : 0) | (shut & 2 ? CKPT_UP_SHUT_WR : 0) | (named ? CKPT_UP_NAMED : 0);
	f->aux[3] = peer;
	f->aux[4] = (uint64_t)(int64_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF);
	f->aux[5] = (uint32_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF) |
		    (uint64_t)(uint32_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF) << 32;
}

/* Is an out-of-band byte (send MSG_OOB, UNIX stream) waiting on fd?  The
 * kernel says so with POLLPRI. */
int cap_oob_queued(int fd)
{
	struct { int32_t fd; int16_t events, revents; } p = { fd, 2 /* POLLPRI */, 0 };

	return SC3(__NR_poll, &p, 1, 0) == 1 && (p.revents & 2);
}

/* UNIX pairs: the first record of each end finds the other end's among the
 * process's (the inode the kernel named as its peer, which names this one
 * back); an end whose other end is in another process is refused, one whose
 * other end is closed stays alone (peer = itself).  Each end's queue is read
 * (peek_queue) into fdbuf.  An end refused takes its other end and its dups
 * along: half a pair would come back connected to nothing. */
static void link_unix_pairs(struct cap_walk *w)
{
	struct ckpt_fd *fds = ckpt_scratch.fds;

	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &fds[i];

		if (f->kind != CKPT_FD_UNIX_PAIR || f->share != i)
			continue;
		for (uint32_t j = 0; j < w->nfds && f->aux[3]; j++)
			if (fds[j].kind == CKPT_FD_UNIX_PAIR && fds[j].share == j && fds[j].ino == f->aux[3] &&
			    fds[j].dev == f->dev && fds[j].aux[3] == f->ino)
				f->peer = j;
		if (f->peer == i && f->aux[3]) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_UNIX_OUTSIDE;
		}
	}
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &fds[i];
		uint64_t used, n;
		int err;

		if (f->kind != CKPT_FD_UNIX_PAIR || f->share != i)
			continue;
		if (cap_oob_queued(f->fd)) {	/* a peek reads it in line: its mark would be lost */
			cap_say("fd %d: an out-of-band byte (MSG_OOB) is queued on its UNIX connection", f->fd);
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_KIND;
			f->peer = i;
			continue;
		}
		err = cap_peek_queue(f->fd, 1, (int)f->aux[0], 0, ckpt_scratch.fdbuf + w->fdbuf_used,
				 CAP_FDBUF - w->fdbuf_used, &used, &n);
		if (err) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = err == -1 ? CKPT_WHY_SCM_RIGHTS : CKPT_WHY_TOO_BIG;
			f->peer = i;
			continue;
		}
		f->aux[1] = w->fdbuf_used;	/* where in fdbuf, until write time */
		f->data_len = used;
		w->fdbuf_used += used;
	}
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &fds[i];
		const struct ckpt_fd *lead = &fds[f->share], *other = &fds[lead->peer];

		if (f->kind != CKPT_FD_UNIX_PAIR)
			continue;
		f->peer = lead->peer;
		if (lead->kind == CKPT_FD_UNSUPPORTED || other->kind == CKPT_FD_UNSUPPORTED) {
			f->aux[0] = lead->kind == CKPT_FD_UNSUPPORTED ? lead->aux[0] : other->aux[0];
			f->kind = CKPT_FD_UNSUPPORTED;
			f->peer = i;
			f->data_len = 0;
		}
	}
}

int cap_final_take;
static int in_repair[64];		/* connections left in repair mode by a final checkpoint */
static uint32_t nin_repair;

void cap_repair_release(void)
{
	int off = -1;			/* TCP_REPAIR_OFF_NO_WP: no window probe */

	for (uint32_t i = 0; i < nin_repair; i++)
		sys_setsockopt(in_repair[i], KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR, &off, sizeof(off));
	nin_repair = 0;
}

/* One queue of a connection in repair mode: its sequence number and its bytes
 * (a peek: the kernel gives them without taking them), at fdbuf + at.
 * 0, or -1 when they are not all there. */
static int repair_peek_queue(int fd, int queue, uint32_t *seq, uint32_t len, uint64_t at)
{
	uint32_t slen = sizeof(*seq);

	return sys_failed(sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR_QUEUE, &queue, sizeof(queue))) ||
	       sys_failed(sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_QUEUE_SEQ, seq, &slen)) ||
	       (len && sys_recv(fd, ckpt_scratch.fdbuf + at, len, KSYS_MSG_PEEK | KSYS_MSG_DONTWAIT) != (long)len) ? -1 : 0;
}

/* An established TCP connection's kernel state, read in repair mode
 * (TCP_REPAIR, which needs CAP_NET_ADMIN over the socket's network
 * namespace), after its two addresses in fdbuf: a struct ckpt_tcp_repair,
 * the receive queue's bytes, the send queue's.  Only for a final checkpoint,
 * the one that ends the program: after any other the connection goes on (or
 * the kill that ends the program closes it and tells the peer), and its state
 * in the image is stale.  The threads are stopped: the program cannot read or
 * write it meanwhile.  It stays in repair mode, so that closing it at the
 * kill sends the peer nothing (no FIN, no RST); cap_repair_release() lets it
 * go if the program is continued instead.  Returns the bytes added, 0 when
 * repair mode was refused or the state could not all be read (then the
 * connection comes back as closed, as without). */
static uint64_t repair_state(int fd, uint64_t at)
{
	struct ckpt_tcp_repair *r = (struct ckpt_tcp_repair *)(ckpt_scratch.fdbuf + at);
	uint32_t tcp_info[8] = { 0 }, len = sizeof(tcp_info), wlen = sizeof(r->window), ilen = 4;
	int on = 1, off = -1, inq = 0, outq = 0, ok;
	uint64_t room = CAP_FDBUF - at, need;

	if (!cap_final_take || nin_repair >= sizeof(in_repair) / sizeof(in_repair[0]) || room < sizeof(*r) ||
	    sys_failed(sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR, &on, sizeof(on))))
		return 0;
	memset(r, 0, sizeof(*r));
	sys_ioctl(fd, KSYS_FIONREAD, &inq);		/* SIOCINQ: bytes not read */
	sys_ioctl(fd, 0x5411, &outq);		/* SIOCOUTQ: bytes not acknowledged */
	need = sizeof(*r) + (uint64_t)(inq > 0 ? inq : 0) + (uint64_t)(outq > 0 ? outq : 0);
	ok = inq >= 0 && outq >= 0 && need <= room && (uint32_t)inq <= CKPT_TCP_QUEUE_MAX &&
	     (uint32_t)outq <= CKPT_TCP_QUEUE_MAX;
	if (ok) {
		r->rcv_len = (uint32_t)inq;
		r->snd_len = (uint32_t)outq;
		ok = !repair_peek_queue(fd, KSYS_TCP_RECV_QUEUE, &r->rcv_seq, r->rcv_len, at + sizeof(*r)) &&
		     !repair_peek_queue(fd, KSYS_TCP_SEND_QUEUE, &r->snd_seq, r->snd_len, at + sizeof(*r) + r->rcv_len) &&
		     !sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_INFO, tcp_info, &len) && len >= 8 &&
		     !sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_MAXSEG, &r->mss, &ilen) &&
		     !sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR_WINDOW, r->window, &wlen) &&
		     wlen == sizeof(r->window);
		ilen = 4;
		if (ok && sys_failed(sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_TIMESTAMP, &r->timestamp, &ilen)))
			ok = 0;
	}
	/* struct tcp_info: state, ca_state, retransmits, probes, backoff,
	 * options, then snd_wscale:4 | rcv_wscale:4 in one byte */
	r->options = ((const uint8_t *)tcp_info)[5] & 7;
	r->wscale = (((const uint8_t *)tcp_info)[6] & 15) | (uint32_t)(((const uint8_t *)tcp_info)[6] >> 4) << 16;
	r->sndbuf = (uint32_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF);
	r->rcvbuf = (uint32_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF);
	if (ok)
		in_repair[nin_repair++] = fd;
	else
		sys_setsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_REPAIR, &off, sizeof(off));
	return ok ? need : 0;
}

/* A socket comes back when a program alone could make it so: listening, or
 * bound or fresh and connected to nothing; over IPv4, IPv6 (TCP, UDP) or
 * UNIX (stream, datagram, seqpacket).  A TCP connection comes back as one
 * its peer has closed (CKPT_SO_WAS_CONNECTED), named at checkpoint time.  Its address is its stored bytes.  A
 * buffer size counts only where it differs from a new socket's (setting it
 * turns the kernel's autotuning off).  Anything else is CKPT_FD_UNSUPPORTED
 * with aux[0] saying why (CKPT_WHY_*). */
static void describe_socket(struct cap_walk *w, struct ckpt_fd *f, int fd)
{
	int dom = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_DOMAIN), type = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_TYPE);
	int proto = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PROTOCOL);
	int listening = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_ACCEPTCONN) == 1;
	uint8_t addr[CKPT_SOCKADDR_MAX], peer[CKPT_SOCKADDR_MAX / 2];
	uint32_t alen = sizeof(addr) / 2, plen = sizeof(peer);
	int connected;
	uint64_t repaired;
	uint32_t tcp_info[8] = { 0 }, tlen = sizeof(tcp_info);

	f->kind = CKPT_FD_UNSUPPORTED;
	f->aux[0] = CKPT_WHY_SOCKET_KIND;
	if ((dom != KSYS_AF_INET && dom != KSYS_AF_INET6 && dom != KSYS_AF_UNIX) ||
	    (type != KSYS_SOCK_STREAM && type != KSYS_SOCK_DGRAM && type != KSYS_SOCK_SEQPACKET))
		return;
	f->aux[0] = CKPT_WHY_CONNECTED;
	connected = !listening && !sys_failed(sys_getpeername(fd, peer, &plen));
	if (connected && dom == KSYS_AF_UNIX) {
		describe_unix_pair(f, fd, type, plen > 2);
		return;
	}
	if (connected && type != KSYS_SOCK_STREAM && type != KSYS_SOCK_DGRAM)
		return;
	f->aux[0] = CKPT_WHY_SOCKET_KIND;
	if (sys_failed(sys_getsockname(fd, addr, &alen)) || alen < 2 || alen + plen > sizeof(addr) ||
	    alen + plen > CAP_FDBUF - w->fdbuf_used || (connected && plen != alen))
		return;
	if (connected) {		/* TCP: closed by its peer (or TCP_REPAIR); UDP: connected again */
		memcpy(addr + alen, peer, plen);
		alen += plen;
	}
	f->kind = CKPT_FD_SOCKET;
	f->aux[0] = (uint64_t)dom;
	f->aux[1] = (uint64_t)type;
	f->aux[2] = (uint64_t)proto;
	f->aux[3] = 0;
	if (listening)				/* a TCP listener's tcpi_sacked is its backlog */
		f->aux[3] = dom != KSYS_AF_UNIX && type == KSYS_SOCK_STREAM &&
			    !sys_failed(sys_getsockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_INFO, tcp_info, &tlen)) &&
			    tlen >= 32 && tcp_info[7] ? tcp_info[7] : KSYS_SOMAXCONN;
	f->aux[4] = (sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_REUSEADDR) > 0 ? CKPT_SO_REUSEADDR : 0) |
		    (sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_REUSEPORT) > 0 ? CKPT_SO_REUSEPORT : 0) |
		    (sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_KEEPALIVE) > 0 ? CKPT_SO_KEEPALIVE : 0);
	if (dom != KSYS_AF_UNIX && type == KSYS_SOCK_STREAM && sockopt(fd, KSYS_IPPROTO_TCP, KSYS_TCP_NODELAY) > 0)
		f->aux[4] |= CKPT_SO_TCP_NODELAY;
	if (dom == KSYS_AF_INET6 && sockopt(fd, KSYS_IPPROTO_IPV6, KSYS_IPV6_V6ONLY) > 0)
		f->aux[4] |= CKPT_SO_V6ONLY;
	if (connected)
		f->aux[4] |= type == KSYS_SOCK_DGRAM ? CKPT_SO_DGRAM_PEER : CKPT_SO_WAS_CONNECTED;
	f->sock_peek_off = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PEEK_OFF);	/* before the queue's walk */
	if (f->sock_peek_off >= 0)
		f->aux[4] |= CKPT_SO_PEEK_OFF;
	else
		f->sock_peek_off = 0;
	f->aux[5] = 0;
	set_buffers(&f->aux[5], fd, dom, type, proto);
	memcpy(ckpt_scratch.fdbuf + w->fdbuf_used, addr, alen);
	if (connected && type == KSYS_SOCK_STREAM && (repaired = repair_state(fd, w->fdbuf_used + alen))) {
		f->aux[4] |= CKPT_SO_TCP_REPAIR;
		alen += (uint32_t)repaired;
	}
	if (type == KSYS_SOCK_DGRAM)		/* its queue, after its addresses */
		alen += (uint32_t)store_datagrams(w, f, fd, dom, alen);
	f->data_len = alen;
	f->pos = w->fdbuf_used;			/* where in fdbuf, until write time */
	w->fdbuf_used += alen;
}

/* A netlink socket (CKPT_FD_NETLINK, the fields there): its protocol and
 * type, whether it is bound and to which port id, the multicast groups it
 * joined, its SOL_NETLINK options and buffer sizes.  A port id the kernel
 * chose (autobind or bind to 0: the pid then, or a negative number when the
 * pid's was taken) is left to the kernel again; one the program chose is
 * kept.  One connected to a peer (connect: a port id or group to send to)
 * is refused.  The bytes queued for reading are counted in f->size: they are
 * lost, and said so at checkpoint time. */
static void describe_netlink(struct cap_walk *w, struct ckpt_fd *f, int fd)
{
	struct { uint16_t family, pad; uint32_t port, groups; } self = { 0 }, peer = { 0 };
	uint32_t len = sizeof(self), plen = sizeof(peer), glen = CKPT_NETLINK_GROUPS_MAX, mem[9] = { 0 };
	uint32_t mlen = sizeof(mem), *groups = (uint32_t *)(ckpt_scratch.fdbuf + w->fdbuf_used);

	f->kind = CKPT_FD_UNSUPPORTED;
	f->aux[0] = CKPT_WHY_CONNECTED;
	if (sys_failed(sys_getsockname(fd, &self, &len)) || sys_failed(sys_getpeername(fd, &peer, &plen)) ||
	    peer.port || peer.groups)
		return;
	f->aux[0] = CKPT_WHY_SOCKET_KIND;	/* more groups than an image keeps */
	if (CKPT_NETLINK_GROUPS_MAX > CAP_FDBUF - w->fdbuf_used ||
	    sys_failed(sys_getsockopt(fd, KSYS_SOL_NETLINK, KSYS_NETLINK_LIST_MEMBERSHIPS, groups, &glen)) ||
	    glen > CKPT_NETLINK_GROUPS_MAX)
		return;
	while (glen >= 4 && !groups[glen / 4 - 1])	/* the words up to the last group joined */
		glen -= 4;
	f->kind = CKPT_FD_NETLINK;
	f->aux[0] = (uint64_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PROTOCOL);
	f->aux[1] = (uint64_t)sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_TYPE);
	f->aux[3] = self.port != 0;
	f->aux[2] = self.port == (uint32_t)sys_getpid() || (int32_t)self.port < 0 ? 0 : self.port;
	for (int k = 0; k < 32; k++)
		if ((CKPT_NETLINK_OPTIONS & (1u << k)) && sockopt(fd, KSYS_SOL_NETLINK, k) > 0)
			f->aux[4] |= 1u << k;
	set_buffers(&f->aux[5], fd, KSYS_AF_NETLINK, (int)f->aux[1], (int)f->aux[0]);
	if (!sys_failed(sys_getsockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_MEMINFO, mem, &mlen)))
		f->size = mem[0];		/* queued for reading: lost */
	if (glen) {
		f->data_len = glen;
		f->pos = w->fdbuf_used;		/* where in fdbuf, until write time */
		w->fdbuf_used += glen;
	}
}

/* A pidfd (pidfd_open, clone's CLONE_PIDFD): its fdinfo's "Pid:" says whose.
 * The process's own comes back as CKPT_FD_PIDFD; any other process's is
 * refused (process trees are not restored), and so is one of a process that
 * has exited and been reaped (Pid: -1): it was another process's too, and
 * ckpt does not make pidfds of processes that are gone. */
static void describe_pidfd(struct ckpt_fd *f, const char *info)
{
	const char *v = cap_field(info, "Pid:");

	f->kind = CKPT_FD_UNSUPPORTED;
	f->aux[0] = CKPT_WHY_PIDFD_OTHER;
	if (v && *v >= '0' && *v <= '9') {
		f->aux[1] = num(&v, 10);	/* another's: made again where it is in the job */
		if (f->aux[1] == (uint64_t)sys_getpid()) {
			f->kind = CKPT_FD_PIDFD;
			f->aux[0] = f->aux[1] = 0;
		}
	}
}

/* Could this process make a userfaultfd that also takes faults met inside
 * the kernel (the system call without UFFD_USER_MODE_ONLY, or
 * /dev/userfaultfd)?  If not, the program's own is one of user mode only. */
static int full_uffd_allowed(void)
{
	long fd = SC1(__NR_userfaultfd, O_CLOEXEC);

	if (sys_failed(fd))
		fd = sys_open("/dev/userfaultfd", O_RDWR | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return 0;
	sys_close((int)fd);
	return 1;
}

/* The program's own userfaultfd (libckpt's are not listed): the features
 * UFFDIO_API took (fdinfo "API:\taa:FEATURES:IOCTLS", FEATURES with bit 31
 * once it was called), whether it can only be of user mode, and whether
 * events wait in it.  Every thread of the program is stopped in libckpt's
 * handler now, and a signal takes a faulting thread out of its wait (it
 * faults again on its way back): a readable descriptor holds events of
 * another sort (fork, remap, remove, unmap), which are not restored.  Its
 * registrations are regions' VmFlags (parse_vmflags), its write-protected
 * pages read once the regions are known (cap_collect_uffd_wp). */
static void describe_userfaultfd(struct ckpt_fd *f, int fd, const char *info)
{
	struct { int32_t fd; int16_t events, revents; } pfd = { fd, 1 /* POLLIN */, 0 };
	struct ksys_timespec now = { 0, 0 };
	const char *v = cap_field(info, "API:");
	uint64_t features = 0;

	f->kind = CKPT_FD_USERFAULTFD;
	if (v && num(&v, 16) == 0xaa && *v == ':') {
		v++;
		features = num(&v, 16);
	}
	f->aux[0] = features & (1u << 31) ? features & CKPT_UFFD_FEATURES : 0;	/* (bit 31 kept) */
	f->aux[1] = full_uffd_allowed() ? 0 : CKPT_UFFD_USER_MODE;
	f->aux[2] = SC4(__NR_ppoll, &pfd, 1, &now, 0) == 1 && (pfd.revents & 1);
}

/* Descriptors of kernel objects that ckpt refuses: why, from the link's
 * name (0: none of these: CKPT_WHY_KIND) */
static uint32_t anon_inode_why(const char *link)
{
	static const struct { const char *name; uint32_t why; } known[] = {
		{ "anon_inode:[io_uring]", CKPT_WHY_IO_URING },
		{ "anon_inode:bpf", CKPT_WHY_BPF },	/* bpf-map, bpf-prog, bpf_link, bpf_iter ... */
		{ "anon_inode:[perf_event]", CKPT_WHY_PERF },
	};

	for (uint32_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (!strncmp(link, known[k].name, strlen(known[k].name)))
			return known[k].why;
	return CKPT_WHY_KIND;
}

/* A path descriptor (O_PATH) opens nothing: it comes back as one of the
 * same path, checked to be of the same type (a device: the same device) --
 * CKPT_FD_DIR for a directory, CKPT_FD_CHR for a character device,
 * CKPT_FD_REG for any other type, f->mode saying which.  One whose file was
 * deleted or replaced since, or that names no file of a path (an anon
 * inode, a pipe), has no path to come back by: refused. */
static void describe_path_fd(struct ckpt_fd *f, const struct ksys_stat *st, const char *link)
{
	struct ksys_stat now;
	uint32_t type = st->st_mode & S_IFMT;

	f->kind = type == S_IFDIR ? CKPT_FD_DIR : type == S_IFCHR ? CKPT_FD_CHR : CKPT_FD_REG;
	if (type == S_IFCHR || type == S_IFBLK)
		f->aux[0] = st->st_rdev;	/* the restorer takes only this device again */
	if (link[0] != '/' || ends_with(link, " (deleted)") ||
	    sys_failed(SC4(__NR_newfstatat, AT_FDCWD, link, &now, 0x100 /* AT_SYMLINK_NOFOLLOW */)) ||
	    now.st_ino != st->st_ino || now.st_dev != st->st_dev ||
	    (type != S_IFREG && type != S_IFDIR && type != S_IFCHR && type != S_IFLNK && type != S_IFSOCK &&
	     type != S_IFIFO && type != S_IFBLK)) {
		f->kind = CKPT_FD_UNSUPPORTED;
		f->aux[0] = CKPT_WHY_KIND;
	}
}

/* A terminal (TCGETS2 answers): its mode and window size, and whether it is
 * the process's controlling terminal (/proc/self/stat's tty_nr, encoded as
 * fstat's st_rdev is) with the process's group in the foreground,
 * as a struct ckpt_tty into fdbuf; the restorer puts the mode back on the
 * terminal it finds at this descriptor.  Any other device has no bytes. */
static void describe_tty(struct cap_walk *w, struct ckpt_fd *f, int fd, const struct ksys_stat *st)
{
	struct ckpt_tty *t = (struct ckpt_tty *)(ckpt_scratch.fdbuf + w->fdbuf_used);
	uint64_t tty_nr = 0;
	int pgrp = 0;

	if (sizeof(*t) > CAP_FDBUF - w->fdbuf_used) {
		cap_say("notice: fd %d (%s): no room left to record this terminal's mode", fd,
			ckpt_scratch.strings + f->path_off);
		return;
	}
	memset(t, 0, sizeof(*t));
	if (sys_failed(sys_ioctl(fd, KSYS_TCGETS2, t)))
		return;			/* not a terminal */
	sys_ioctl(fd, KSYS_TIOCGWINSZ, &t->rows);
	if (w->tty_nr < 0)			/* once a checkpoint: 0 when it cannot be read */
		w->tty_nr = cap_stat_field("/proc/self/stat", 7, &tty_nr) ? 0 : (int64_t)tty_nr;
	if (w->tty_nr && (uint64_t)w->tty_nr == st->st_rdev) {
		t->flags |= CKPT_TTY_CTTY;
		if (!sys_ioctl(fd, KSYS_TIOCGPGRP, &pgrp) && pgrp == SC0(__NR_getpgrp))
			t->flags |= CKPT_TTY_FOREGROUND;
	}
	f->pos = w->fdbuf_used;			/* where in fdbuf, until write time */
	f->data_len = sizeof(*t);
	w->fdbuf_used += sizeof(*t);
}

/* A descriptor whose record a forked writer can finish from its own copy of
 * the table, the process's at the fork (cap_describe_fds_late): a regular
 * file that is no pidfd, a directory, a memory device (/dev/null, /dev/zero
 * and the like, major 1), not O_PATH, with no lock.  What of it moves once
 * the program runs on (offset and status flags) is in its fdinfo, read in
 * the pause; its name, close-on-exec flag and kind are the writer's to read. */
static int quiet_fd(const struct ksys_stat *st, uint32_t flags, const char *info, int has_locks)
{
	uint32_t type = st->st_mode & S_IFMT;

	if (has_locks || (flags & O_PATH) || cap_field(info, "Pid:"))
		return 0;
	return type == S_IFREG || type == S_IFDIR || (type == S_IFCHR && ksys_major(st->st_rdev) == 1);
}

static int describe_kind(struct cap_walk *w, struct ckpt_fd *f, struct ksys_stat *st, const char *fdinfo,
			 char *info, size_t info_size);

/* one descriptor -> its record; stored bytes for pipes go to fdbuf.  later:
 * a quiet_fd gets only what moves, its index set in ckpt_scratch.fd_later
 * (cap_describe_fds_late finishes it in the writer). */
static int describe_fd(struct cap_walk *w, struct ckpt_fd *f, int fd, int later)
{
	char path[64], info[1024];
	struct ksys_stat st;
	const char *v;
	long n;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	if (sys_failed(sys_fstat(fd, &st)))
		return -9;
	f->mode = st.st_mode;
	f->dev = (uint64_t)ksys_major(st.st_dev) << 32 | ksys_minor(st.st_dev);
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime_sec = st.st_mtime_sec;
	f->mtime_nsec = (uint32_t)st.st_mtime_nsec;
	img_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if ((n = cap_read_small(path, info, sizeof(info))) <= 0)
		return -5;
	w->fd_has_locks = cap_field(info, "lock:") || n >= (long)sizeof(info) - 1;	/* (or cut short) */
	if ((v = cap_field(info, "pos:")))
		f->pos = num(&v, 10);
	if ((v = cap_field(info, "flags:")))
		f->flags = (uint32_t)num(&v, 8);
	if (later && quiet_fd(&st, f->flags, info, w->fd_has_locks)) {
		uint32_t type = st.st_mode & S_IFMT;

		/* the kind for now (a regular file may turn out deleted or a memfd) */
		f->kind = type == S_IFREG ? CKPT_FD_REG : type == S_IFDIR ? CKPT_FD_DIR : CKPT_FD_CHR;
		ckpt_scratch.fd_later[w->nfds / 64] |= 1ull << (w->nfds % 64);
		return 0;
	}
	return describe_kind(w, f, &st, path, info, sizeof(info));
}

/* The rest of a record, from fstat's st and the fdinfo text read into info
 * (from the file fdinfo names): its name, close-on-exec flag and kind, and
 * what that kind holds.  0, or -errno. */
static int describe_kind(struct cap_walk *w, struct ckpt_fd *f, struct ksys_stat *st, const char *fdinfo,
			 char *info, size_t info_size)
{
	int fd = f->fd;
	char path[64], link[4096];
	const char *v;
	long n;

	if (sys_fcntl(fd, F_GETFD, 0) & 1)
		f->fd_flags = CKPT_FD_CLOEXEC;
	img_fmt(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = sys_readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	f->path_off = cap_add_string(w, link);
	if (f->flags & O_PATH) {
		describe_path_fd(f, st, link);
		return 0;
	}
	if (!strcmp(link, "anon_inode:[pidfd]") || !strncmp(link, "pidfd:", 6)) {
		describe_pidfd(f, info);	/* pidfs's may be "pidfd:[...]", of any file type */
		return 0;
	}

	switch (st->st_mode & S_IFMT) {
	case S_IFREG: {
		struct ksys_stat now;

		if (!strncmp(link, "/memfd:", 7)) {
			f->kind = CKPT_FD_MEMFD;
			f->aux[0] = (uint64_t)sys_fcntl(fd, F_GET_SEALS, 0);
		} else if (ends_with(link, " (deleted)") || sys_failed(sys_stat(link, &now)) ||
			   now.st_ino != st->st_ino || now.st_dev != st->st_dev) {
			f->kind = CKPT_FD_DELETED;
		} else {
			f->kind = CKPT_FD_REG;
		}
		if (f->kind == CKPT_FD_REG && ckpt_cfg.copy_files == 2 && fd > 2 && strncmp(link, "/proc/", 6)) {
			/* CKPT_COPY_FILES=all; not 0, 1, 2 (the caller's at restore, as a
			 * rule) nor /proc's files (the restorer opens the new process's) */
			if (st->st_size > (int64_t)CAP_MAX_FD_STORE) {
				cap_say("notice: fd %d (%s): %ld bytes exceed the %u-byte limit of CKPT_COPY_FILES=all: "
					"not stored, the image needs the file", fd, link, st->st_size, CAP_MAX_FD_STORE);
			} else {
				f->fd_flags |= CKPT_FD_STORED;
				f->data_len = st->st_size;	/* copied at write time */
			}
		} else if (f->kind != CKPT_FD_REG) {
			if (st->st_size > (int64_t)CAP_MAX_FD_COPY) {
				cap_say("fd %d (%s): %ld bytes exceed the %u-byte copy limit: recorded as "
					"not restorable", fd, link, st->st_size, CAP_MAX_FD_COPY);
				f->kind = CKPT_FD_UNSUPPORTED;
				f->aux[0] = CKPT_WHY_TOO_BIG;
			} else {
				f->data_len = st->st_size;	/* copied at write time */
			}
		}
		break;
	}
	case S_IFDIR:
		f->kind = CKPT_FD_DIR;
		break;
	case S_IFCHR:
		f->kind = CKPT_FD_CHR;
		f->aux[0] = st->st_rdev;		/* the restorer opens only this device again */
		describe_tty(w, f, fd, st);
		break;
	case S_IFIFO:
		f->kind = strncmp(link, "pipe:[", 6) ? CKPT_FD_FIFO : CKPT_FD_PIPE;
		f->aux[0] = (uint64_t)sys_fcntl(fd, F_GETPIPE_SZ, 0);
		break;
	case S_IFSOCK:
		if (sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_DOMAIN) == KSYS_AF_NETLINK)
			describe_netlink(w, f, fd);
		else
			describe_socket(w, f, fd);
		break;
	default:
		if (!strcmp(link, "anon_inode:[eventfd]")) {
			f->kind = CKPT_FD_EVENTFD;
			if ((v = cap_field(info, "eventfd-count:")))
				f->aux[0] = num(&v, 16);
			if ((v = cap_field(info, "eventfd-semaphore:")))
				f->aux[1] = num(&v, 10);
		} else if (!strcmp(link, "anon_inode:[timerfd]")) {
			f->kind = CKPT_FD_TIMERFD;
			if ((v = cap_field(info, "clockid:")))
				f->aux[0] = num(&v, 10);
			describe_timerfd(f, fdinfo, info, info_size);
		} else if (!strcmp(link, "anon_inode:[signalfd]")) {
			f->kind = CKPT_FD_SIGNALFD;
			if ((v = cap_field(info, "sigmask:")))
				f->aux[0] = num(&v, 16);
		} else if (!strcmp(link, "anon_inode:[eventpoll]")) {
			f->kind = CKPT_FD_EPOLL;	/* its watches: epoll_watches() */
		} else if (!strcmp(link, "anon_inode:inotify")) {
			f->kind = CKPT_FD_INOTIFY;	/* its watches: cap_describe_inotify() */
		} else if (!strcmp(link, "anon_inode:[fanotify]")) {
			f->kind = CKPT_FD_FANOTIFY;	/* its marks: cap_describe_fanotify() */
		} else if (!strcmp(link, "anon_inode:[userfaultfd]")) {
			describe_userfaultfd(f, fd, info);
		} else {
			f->kind = CKPT_FD_UNSUPPORTED;	/* by its name: anon_inode_why */
			f->aux[0] = anon_inode_why(link);
		}
	}
	return 0;
}

/* Bytes buffered in a pipe, read without taking them: tee(2) into a pipe of
 * our own, then read that.  Needs the read end. */
static int peek_pipe(struct cap_walk *w, struct ckpt_fd *rd)
{
	int tmp[2];
	int avail = 0;
	long n;

	if (sys_failed(sys_ioctl(rd->fd, KSYS_FIONREAD, &avail)) || avail <= 0)
		return 0;
	if ((uint64_t)avail > CAP_FDBUF - w->fdbuf_used) {
		cap_say("fd %d: %d buffered pipe bytes exceed what a checkpoint keeps", rd->fd, avail);
		return -7;
	}
	if (sys_failed(sys_pipe2(tmp, O_CLOEXEC)))
		return -24;
	sys_fcntl(tmp[1], 1031, avail);		/* F_SETPIPE_SZ: room for all of it */
	n = sys_tee(rd->fd, tmp[1], avail, SPLICE_F_NONBLOCK);
	if (n > 0)
		n = sys_read(tmp[0], ckpt_scratch.fdbuf + w->fdbuf_used, n);
	sys_close(tmp[0]);
	sys_close(tmp[1]);
	if (n < 0)
		return (int)n;
	rd->aux[1] = w->fdbuf_used;		/* where in fdbuf, until write time */
	rd->data_len = n;
	w->fdbuf_used += n;
	return 0;
}

/* a descriptor of libckpt's own: the tracker's userfaultfd, the API's
 * stores, the settings, a job checkpoint's pipes */
static int libckpts(int fd)
{
	return fd == ckpt_track.uffd || cap_hooks.fd_is_ours(fd) || cap_is_settings_fd(fd) || cap_is_job_fd(fd);
}

/* libckpt's own descriptors now open, for the root of a job (which lists
 * this process's descriptors itself and must leave them out): up to max of
 * them into out; how many */
uint32_t cap_own_fds(int32_t *out, uint32_t max)
{
	uint32_t n = 0;

	for (int fd = 0; fd < 1024 && n < max; fd++)
		if (libckpts(fd))
			out[n++] = fd;
	return n;
}

/* The program's descriptor numbers (/proc/self/fd, less libckpt's own: the
 * reader, the tracker's userfaultfd, the API's stores, the settings) into
 * nums, ascending as the format wants; *n of them.  0, or -errno with
 * w->fail_what. */
static int list_fds(struct cap_walk *w, int32_t *nums, uint32_t *n)
{
	static char dents[32768] CAP_COLD;
	long dir = sys_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	*n = 0;
	if (sys_failed(dir)) {
		w->fail_what = "open /proc/self/fd";
		return (int)dir;
	}
	for (;;) {
		long len = sys_getdents64((int)dir, dents, sizeof(dents));

		if (len <= 0)
			break;
		for (long at = 0; at < len; ) {
			const char *name = dents + at + 19;	/* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
			uint16_t reclen;
			const char *p = name;
			int64_t fd;

			memcpy(&reclen, dents + at + 16, 2);
			at += reclen;
			if (*p < '0' || *p > '9')
				continue;
			fd = (int64_t)num(&p, 10);
			if (fd == dir || libckpts((int)fd))
				continue;
			if (*n >= CAP_MAX_FDS) {
				sys_close((int)dir);
				w->fail_what = "too many descriptors";
				return -24;
			}
			nums[(*n)++] = (int32_t)fd;
		}
	}
	sys_close((int)dir);
	for (uint32_t i = 1; i < *n; i++)
		for (uint32_t j = i; j > 0 && nums[j - 1] > nums[j]; j--) {
			int32_t t = nums[j];

			nums[j] = nums[j - 1];
			nums[j - 1] = t;
		}
	return 0;
}

/* The program's userfaultfd instances: one is restored (w->program_uffd,
 * its record + 1) with the regions registered with it.  Of several, which
 * instance registered which region cannot be read: all are refused.  One
 * that reports forks (UFFD_FEATURE_EVENT_FORK) would hold a fork of the
 * process until the program read the event, and the program waits for the
 * checkpoint: its image is written without a fork (w->no_fork). */
static void one_userfaultfd(struct cap_walk *w)
{
	uint32_t leads = 0;

	w->program_uffd = 0;
	w->no_fork = 0;
	for (uint32_t i = 0; i < w->nfds; i++)
		if (ckpt_scratch.fds[i].kind == CKPT_FD_USERFAULTFD && ckpt_scratch.fds[i].share == i) {
			leads++;
			w->program_uffd = i + 1;
			w->no_fork = (ckpt_scratch.fds[i].aux[0] & 2 /* UFFD_FEATURE_EVENT_FORK */) != 0;
		}
	if (leads < 2)
		return;
	w->program_uffd = 0;
	w->no_fork = 0;
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_USERFAULTFD) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_USERFAULTFD;
			f->aux[1] = f->aux[2] = 0;
		}
	}
}

int cap_collect_fds(struct cap_walk *w, int later)
{
	int32_t nums[CAP_MAX_FDS];
	uint32_t n;
	int pid = (int)sys_getpid(), err;

	w->nfds = 0;
	w->nlocks = 0;
	w->fdbuf_used = 0;
	w->tty_nr = -1;
	memset(ckpt_scratch.fd_later, 0, sizeof(ckpt_scratch.fd_later));
	if ((err = list_fds(w, nums, &n)))
		return err;
	for (uint32_t i = 0; i < n; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[w->nfds];

		if (describe_fd(w, f, nums[i], later))
			continue;		/* closed meanwhile */
		f->share = w->nfds;
		f->peer = w->nfds;
		for (uint32_t j = 0; j < w->nfds; j++) {
			struct ckpt_fd *g = &ckpt_scratch.fds[j];

			if (g->ino != f->ino || g->dev != f->dev || g->kind != f->kind)
				continue;
			if (g->share == j && sys_kcmp(pid, pid, KCMP_FILE, g->fd, f->fd) == 0) {
				f->share = j;	/* dup of the same open file description */
				break;
			}
			if (f->kind == CKPT_FD_PIPE && (g->flags & 3) != (f->flags & 3))
				f->peer = j, g->peer = w->nfds;	/* the other end */
		}
		if (f->share == w->nfds && w->fd_has_locks)
			collect_locks(w, w->nfds);
		if (f->share != w->nfds && (f->fd_flags & CKPT_FD_STORED)) {
			f->fd_flags &= ~CKPT_FD_STORED;	/* a dup: its lead's copy serves */
			f->data_len = 0;
		}
		w->nfds++;
	}
	one_userfaultfd(w);
	/* pipes: the buffered bytes, read through a read end */
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];
		int err;

		if ((f->kind != CKPT_FD_PIPE && f->kind != CKPT_FD_FIFO) || f->share != i || (f->flags & 3) == O_WRONLY)
			continue;
		if (f->kind == CKPT_FD_PIPE && f->peer == i)
			continue;		/* other end elsewhere: restored per policy */
		err = peek_pipe(w, f);
		if (err) {
			w->fail_what = "pipe contents";
			w->fail_addr = (uint64_t)f->fd;
			return err;
		}
	}
	link_unix_pairs(w);
	cap_link_ptys(w);
	/* epoll instances: what each watches */
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_EPOLL && f->share == i && epoll_watches(w, f)) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_EPOLL;
		}
	}
	/* inotify and fanotify instances: what each watches, by which path */
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];
		int fan = f->kind == CKPT_FD_FANOTIFY;

		if ((f->kind == CKPT_FD_INOTIFY || fan) && f->share == i &&
		    (fan ? cap_describe_fanotify(w, f, i) : cap_describe_inotify(w, f, i))) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = fan ? CKPT_WHY_FANOTIFY : CKPT_WHY_INOTIFY_PATH;
			f->aux[1] = f->aux[2] = 0;	/* no one watch: none could be read */
			f->data_len = 0;
		}
	}
	/* a pipe whose other end is outside the process cannot be made again */
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_PIPE && f->peer == i && ckpt_scratch.fds[f->share].peer == f->share) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_PIPE_OUTSIDE;
		}
	}
	return 0;
}

/* an image to restore (CKPT_FILE's, a job's): not a tsetjmp store, for
 * tlongjmp, which leaves the process its descriptors and children */
static int to_be_restored(const char *path)
{
	return path == ckpt_cfg.path || path == ckpt_job.path;
}

/* One line for a descriptor recorded as not restorable (not 0, 1, 2: the
 * restorer's); path as cap_said_path gives it. */
static void say_fd_unsupported(const char *path, const struct ckpt_fd *f)
{
	if (f->kind != CKPT_FD_UNSUPPORTED || f->fd <= 2)
		return;
	if (f->aux[0] == CKPT_WHY_INOTIFY_PATH && f->aux[1])
		cap_say("%s: not restored: fd %d (%s): %s: watch %lu, inode %lu on device %lu:%lu (added "
			"before libckpt was loaded or by a raw system call, or renamed since)", path, f->fd,
			ckpt_scratch.strings + f->path_off, img_fd_why(f), f->aux[1], f->aux[3],
			f->aux[2] >> 32, f->aux[2] & 0xffffffff);
	else
		cap_say("%s: not restored: fd %d (%s): %s", path, f->fd, ckpt_scratch.strings + f->path_off,
			img_fd_why(f));
}

/* In a forked writer: the records cap_collect_fds(w, 1) left to it
 * (quiet_fd), finished from this process's copy of the descriptor table,
 * which is the program's as it was at the fork.  What is not restored is
 * named here, as cap_say_not_restored names it in the pause for the rest.
 * No-op when none was left.  0, or -errno (said). */
int cap_describe_fds_late(struct cap_walk *w, const char *path)
{
	int to_restore = to_be_restored(path);
	char info[1] = "";

	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];
		struct ksys_stat st;

		if (!(ckpt_scratch.fd_later[i / 64] & (1ull << (i % 64))))
			continue;
		ckpt_scratch.fd_later[i / 64] &= ~(1ull << (i % 64));
		if (sys_failed(sys_fstat(f->fd, &st)) || st.st_ino != f->ino) {
			cap_say("%s: checkpoint failed: fd %d is not the writer's copy of the program's", path, f->fd);
			return -9;
		}
		st.st_size = f->size;		/* as the pause saw it */
		describe_kind(w, f, &st, "", info, sizeof(info));
		if (f->share != i && (f->fd_flags & CKPT_FD_STORED)) {
			f->fd_flags &= ~CKPT_FD_STORED;	/* a dup: its lead's copy serves */
			f->data_len = 0;
		}
		if (to_restore)
			say_fd_unsupported(cap_said_path(path), f);
	}
	return 0;
}

/* Signals pending now: taken with rt_sigtimedwait and queued again at once, so
 * the running program still gets them; the restorer queues them once more. */
int cap_collect_signals(struct cap_walk *w)
{
	char status[4096];
	const char *v;
	uint64_t shared = 0, pending, all = ~0ull & ~((1ull << 8) | (1ull << 18));	/* not KILL, STOP */
	struct ksys_timespec zero = { 0, 0 };
	int pid = (int)sys_getpid(), tid = (int)sys_gettid();

	w->nsigs = 0;
	if (!sys_failed(SC2(__NR_rt_sigpending, &pending, 8)) && !(pending & all))
		return 0;			/* none pending, to this thread or the process */
	if (cap_read_small("/proc/self/status", status, sizeof(status)) > 0 &&
	    (v = cap_field(status, "ShdPnd:")))
		shared = num(&v, 16);
	while (w->nsigs < CAP_MAX_SIGS) {
		struct ckpt_siginfo *s = &ckpt_scratch.sigs[w->nsigs];
		long sig = sys_rt_sigtimedwait(&all, s->info, &zero);

		if (sig <= 0)
			break;
		s->signo = (uint32_t)sig;
		s->shared = (shared >> (sig - 1)) & 1;
		w->nsigs++;
	}
	for (uint32_t i = 0; i < w->nsigs; i++) {
		const struct ckpt_siginfo *s = &ckpt_scratch.sigs[i];

		if (s->shared)
			sys_rt_sigqueueinfo(pid, (int)s->signo, s->info);
		else
			sys_rt_tgsigqueueinfo(pid, tid, (int)s->signo, s->info);
	}
	return 0;
}

/* POSIX timers, from /proc/self/timers, with their remaining time */
int cap_collect_timers(struct cap_walk *w)
{
	char *text = ckpt_scratch.iobuf;
	const char *p;

	w->ntimers = 0;
	if (cap_read_small("/proc/self/timers", text, CAP_IOBUF) <= 0)
		return 0;
	for (p = text; (p = cap_field(p, "ID:")) && w->ntimers < CAP_MAX_TIMERS; ) {
		struct ckpt_timer *t = &ckpt_scratch.timers[w->ntimers];
		int64_t its[4];
		const char *v;

		memset(t, 0, sizeof(*t));
		t->id = (int32_t)num(&p, 10);
		if ((v = cap_field(p, "signal:"))) {
			t->signo = (int32_t)num(&v, 10);
			v++;
			t->sigval = num(&v, 16);
		}
		if ((v = cap_field(p, "notify:"))) {	/* "signal/pid.N", "signal/tid.N", "none/pid.N" */
			t->notify = !strncmp(v, "none", 4) ? 1 : 0;	/* SIGEV_NONE, SIGEV_SIGNAL */
			while (*v && *v != '/' && *v != '\n')
				v++;
			if (!strncmp(v, "/tid.", 5))
				t->notify |= 4;		/* SIGEV_THREAD_ID: one thread's */
			while (*v && *v != '.' && *v != '\n')
				v++;
			if (*v == '.')
				v++, t->tid = (int32_t)num(&v, 10);
		}
		if ((v = cap_field(p, "ClockID:")))
			t->clockid = (int32_t)num(&v, 10);
		if (!sys_timer_gettime(t->id, its)) {
			t->interval_sec = its[0];
			t->interval_nsec = its[1];
			t->value_sec = its[2];
			t->value_nsec = its[3];
		}
		w->ntimers++;
	}
	return 0;
}

/* "Threads:" of /proc/self/status, or -errno */
int cap_count_threads(void)
{
	char status[4096];
	const char *v;
	long n = cap_read_small("/proc/self/status", status, sizeof(status));

	if (n <= 0)
		return n ? (int)n : -5;
	v = cap_field(status, "Threads:");
	return v ? (int)num(&v, 10) : 1;
}

/* 1 when no thread of the process has a child, running or a zombie not
 * yet waited for: waitid that waits for nothing and reaps nothing (WNOHANG,
 * WNOWAIT) fails with ECHILD only then.  One system call in the pause instead
 * of reading /proc. */
int cap_childless(void)
{
	uint8_t info[128];			/* siginfo_t: unused */

	return SC5(__NR_waitid, P_ALL, 0, info,
		   WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | __WALL, 0) == -10;	/* ECHILD */
}

/* The process's children, whichever thread made them (each thread's
 * /proc/self/task/TID/children).  They are not in the image: a restored
 * program has none, so its wait() gives ECHILD and its kill() of a kept pid
 * reaches nobody or somebody else.  Named, never dropped in silence. */
void cap_collect_children(struct cap_walk *w)
{
	static char dents[4096] CAP_COLD;
	char path[64], kids[1024];
	long dir, len;

	w->nchildren = 0;
	if (cap_childless())
		return;
	dir = sys_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	while (!sys_failed(dir) && (len = sys_getdents64((int)dir, dents, sizeof(dents))) > 0)
		for (long at = 0; at < len; ) {
			const char *name = dents + at + 19;	/* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
			uint16_t reclen;

			memcpy(&reclen, dents + at + 16, 2);
			at += reclen;
			if (*name < '0' || *name > '9')
				continue;
			img_fmt(path, sizeof(path), "/proc/self/task/%s/children", name);
			if (cap_read_small(path, kids, sizeof(kids)) <= 0)
				continue;		/* that thread is gone: it had none left */
			for (const char *p = kids; *p >= '0' && *p <= '9'; p += *p == ' ') {	/* "12 34 " */
				int32_t pid = (int32_t)num(&p, 10);

				if (w->nchildren < sizeof(w->children) / sizeof(w->children[0]))
					w->children[w->nchildren] = pid;
				w->nchildren++;
			}
		}
	if (!sys_failed(dir))
		sys_close((int)dir);
	if (w->nchildren)
		w->lost |= CKPT_PROC_CHILDREN_LOST;
}

/* What a fork's child does not have as the process had it (interval timers,
 * the subreaper flag, the parent-death signal, membarrier registrations) and
 * the prctl flags of the task and its mm; the rest, which a fork keeps, is
 * cap_collect_inherited's */
void cap_collect_limits(struct ckpt_proc *p)
{
	int flag = 0;			/* what PR_GET_CHILD_SUBREAPER, PR_GET_PDEATHSIG write */
	long r;

	for (int i = 0; i < 3; i++)
		sys_getitimer(i, &p->itimer[i]);
	r = sys_prctl(CKPT_PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (!sys_failed(r) && r)
		p->attrs |= CKPT_PROC_THP_DISABLE | (r & 2 ? CKPT_PROC_THP_EXCEPT_ADVISED : 0);
	if (!sys_prctl(CKPT_PR_GET_CHILD_SUBREAPER, (uint64_t)&flag, 0, 0, 0) && flag)
		p->attrs |= CKPT_PROC_SUBREAPER;
	flag = 0;
	if (!sys_prctl(CKPT_PR_GET_PDEATHSIG, (uint64_t)&flag, 0, 0, 0) && flag > 0 && flag <= CKPT_NSIG)
		p->pdeathsig = (uint32_t)flag;
	r = sys_prctl(CKPT_PR_GET_MDWE, 0, 0, 0, 0);
	if (!sys_failed(r))
		p->mdwe = (uint32_t)r;
	for (uint32_t k = 0; k < 3; k++) {	/* PR_SPEC_STORE_BYPASS 0, INDIRECT_BRANCH 1, L1D_FLUSH 2 */
		r = sys_prctl(CKPT_PR_GET_SPECULATION_CTRL, k, 0, 0, 0);
		p->spec[k] = sys_failed(r) ? 0 : (uint32_t)r;
	}
	flag = 0;
	if (!sys_prctl(CKPT_PR_GET_TSC, (uint64_t)&flag, 0, 0, 0))
		p->tsc = (uint32_t)flag;
	p->attrs |= CKPT_PROC_MORE;
	/* membarrier: what the process registered for, in the kernel's words
	 * (Linux 6.3); before it, each private expedited barrier fails with EPERM
	 * unless registered for (GLOBAL_EXPEDITED's registration does not show) */
	r = sys_membarrier(CKPT_MEMBARRIER_CMD_GET_REGISTRATIONS, 0);
	if (!sys_failed(r))
		p->membarrier = (uint32_t)r & CKPT_MEMBARRIER_REGISTERS;
	else
		for (uint32_t cmd = CKPT_MEMBARRIER_CMD_PRIVATE_EXPEDITED; cmd <= 0x80; cmd <<= 2)
			if (sys_membarrier((int)cmd, 0) == 0)	/* 0x8, 0x20, 0x80: registered as 0x10, 0x40, 0x100 */
				p->membarrier |= cmd << 1;
}

/* What a fork's child shares with its parent as it was at the fork, and
 * costs a file read each: read by the forked writer, out of the pause (an
 * in-process writer reads it in the pause; preload.c's fill_inherited). */
void cap_collect_inherited(const char *path, struct ckpt_proc *p)
{
	char adj[16], status[4096];
	const char *seccomp;
	long r;

	/* the credentials and the signal struct's limits: a fork copies both */
	for (int r = 0; r < 16; r++)
		if (sys_failed(sys_prlimit(r, 0, &p->rlimit[r])))
			p->rlimit[r].cur = p->rlimit[r].max = ~0ull;
	p->personality = (uint32_t)sys_personality(0xffffffffu);
	if (sys_prctl(CKPT_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		p->attrs |= CKPT_PROC_NO_NEW_PRIVS;
	r = sys_prctl(CKPT_PR_GET_SECUREBITS, 0, 0, 0, 0);
	p->securebits = sys_failed(r) ? 0 : (uint32_t)r;
	/* the bounding set (PR_CAPBSET_READ: 1 or 0, EINVAL past the last
	 * capability the kernel knows) */
	for (int c = 0; (r = sys_prctl(CKPT_PR_CAPBSET_READ, (uint64_t)c, 0, 0, 0)) >= 0 && c < 64; c++)
		p->capbset |= (uint64_t)r << c;
	p->attrs |= CKPT_PROC_CAPBSET;
	r = SC2(__NR_getgroups, CKPT_MAX_GROUPS, p->groups);
	if (!sys_failed(r)) {
		p->ngroups = (uint32_t)r;
		p->attrs |= CKPT_PROC_GROUPS;
	} else {
		p->attrs |= CKPT_PROC_GROUPS_LOST;	/* EINVAL: more than fit */
	}

	if (cap_read_small("/proc/self/oom_score_adj", adj, sizeof(adj)) > 0) {	/* -1000 .. 1000 */
		const char *v = adj + (adj[0] == '-');

		p->oom_score_adj = (int32_t)num(&v, 10);
		if (adj[0] == '-')
			p->oom_score_adj = -p->oom_score_adj;
		p->attrs |= CKPT_PROC_OOM_SCORE_ADJ;
	}
	if (cap_read_small("/proc/self/status", status, sizeof(status)) > 0 && (seccomp = cap_field(status, "Seccomp:")) &&
	    *seccomp == '2') {			/* filter mode (1, strict mode, would not let libckpt run) */
		p->attrs |= CKPT_PROC_SECCOMP_LOST;
		cap_say("%s: not restored: seccomp filters (/proc/self/status Seccomp: 2): the restored process "
			"runs under the restorer's own filters, if any", cap_said_path(path));
	}
	/* what the process set of itself that a new one does not have */
	if (cap_read_small("/proc/self/coredump_filter", adj, sizeof(adj)) > 0) {
		const char *hex = adj;

		p->coredump_filter = (uint32_t)num(&hex, 16);
	}
}

/* one line on stderr for each state the image records as not restored */
/* path as messages name it: a job's image by its table and the process */
const char *cap_said_path(const char *path)
{
	static char in_job[4200] CAP_COLD;

	if (path != ckpt_job.path)
		return path;
	img_fmt(in_job, sizeof(in_job), "%S (pid %d of its job)", ckpt_job.table, (int)sys_getpid());
	return in_job;
}

void cap_say_aio_lost(const char *path, const struct cap_walk *w)
{
	cap_say("%s: not restored: Linux AIO contexts (io_setup; a ring at 0x%lx): io_submit and "
		"io_getevents on them fail with EINVAL after a restore", path, w->aio_ring);
}

void cap_say_not_restored(const char *path, const struct ckpt_proc *p, const struct cap_walk *w)
{
	int to_restore = to_be_restored(path);

	path = cap_said_path(path);
	if (p->attrs & CKPT_PROC_GROUPS_LOST)
		cap_say("%s: not restored: supplementary groups (more than %d)", path, CKPT_MAX_GROUPS);
	for (int i = 1; i <= 4; i++)		/* the locks and leases */
		if (p->attrs & (CKPT_PROC_GROUPS_LOST << i))
			cap_say("%s: not restored: %s (held through fd %d)", path, img_lost_names[i], w->lost_fd[i]);
	if (p->attrs & CKPT_PROC_AIO_LOST)
		cap_say_aio_lost(path, w);
	cap_say_vmflags_lost(path, w);
	if (p->attrs & CKPT_PROC_CHILDREN_LOST) {
		char list[256];
		size_t at = 0;

		list[0] = 0;
		for (uint32_t i = 0; i < w->nchildren && i < sizeof(w->children) / sizeof(w->children[0]); i++) {
			char comm_path[48], comm[17];
			long n;

			img_fmt(comm_path, sizeof(comm_path), "/proc/%d/comm", w->children[i]);
			n = cap_read_small(comm_path, comm, sizeof(comm));
			if (n > 0 && comm[n - 1] == '\n')
				comm[n - 1] = 0;
			at += img_fmt(list + at, sizeof(list) - at, "%s%d (%s)", i ? ", " : "", w->children[i],
				      n > 0 ? comm : "?");
		}
		cap_say("%s: not restored: %u child process%s: %s%s: ckpt does not checkpoint process trees yet; "
			"the restored program has no children (its wait() gives ECHILD)", path, w->nchildren,
			w->nchildren > 1 ? "es" : "", list, w->nchildren > sizeof(w->children) / sizeof(w->children[0]) ?
			", ..." : "");
	}
	/* descriptors: in an image to restore (CKPT_FILE's); a tsetjmp image is
	 * for tlongjmp, which leaves the process its descriptors */
	for (uint32_t i = 0; to_restore && i < w->nfds; i++) {
		const struct ckpt_fd *f = &ckpt_scratch.fds[i];	/* 0-2: the restorer's */

		if (ckpt_job.role && f->kind == CKPT_FD_UNSUPPORTED &&
		    (f->aux[0] == CKPT_WHY_PIPE_OUTSIDE || f->aux[0] == CKPT_WHY_PIDFD_OTHER ||
		     f->aux[0] == CKPT_WHY_UNIX_OUTSIDE))
			continue;		/* in a job: the root names those the job does not hold */

		say_fd_unsupported(path, f);
		if (f->kind == CKPT_FD_NETLINK && f->size)
			cap_say("%s: not restored: fd %d (%s): %ld bytes of netlink messages queued for reading "
				"(the socket comes back empty)", path, f->fd, ckpt_scratch.strings + f->path_off,
				f->size);
		if (f->kind == CKPT_FD_SOCKET && f->size > 0 && !(f->aux[4] & CKPT_SO_DGRAM_QUEUE))
			cap_say("%s: not restored: fd %d (%s): %ld datagrams queued for it: it comes back with "
				"an empty queue", path, f->fd, ckpt_scratch.strings + f->path_off, f->size);
		if (f->kind == CKPT_FD_UNIX_PAIR && (f->aux[2] & CKPT_UP_NAMED))
			cap_say("%s: not restored: fd %d (%s): the address of its UNIX connection (accepted from a "
				"listener): it comes back connected, unnamed", path, f->fd,
				ckpt_scratch.strings + f->path_off);
		if (f->kind == CKPT_FD_PTY && f->aux[3])
			cap_say("%s: not restored: fd %d (%s): %lu bytes waiting to be read at this end of a pty "
				"(they cannot be read without taking them from the program): the pair comes back "
				"empty", path, f->fd, ckpt_scratch.strings + f->path_off, f->aux[3]);
		if (f->kind == CKPT_FD_FANOTIFY && f->share == i && f->aux[2])
			cap_say("%s: not restored: fd %d (%s): %lu bytes of fanotify events pending (they cannot be "
				"read without taking them from the program)", path, f->fd,
				ckpt_scratch.strings + f->path_off, f->aux[2]);
		if (f->kind == CKPT_FD_USERFAULTFD && f->share == i && f->aux[2])
			cap_say("%s: not restored: fd %d (%s): events the program had not read (a fork, remap, remove "
				"or unmap; faults come again)", path, f->fd, ckpt_scratch.strings + f->path_off);
		if (f->kind == CKPT_FD_USERFAULTFD && f->share == i && w->uffd_wp_dropped)
			cap_say("%s: not restored: fd %d (%s): write protection of %lu pages past the first %u ranges",
				path, f->fd, ckpt_scratch.strings + f->path_off, w->uffd_wp_dropped, CKPT_UFFD_RANGES_MAX);
		if (f->kind == CKPT_FD_USERFAULTFD && f->share == i && ckpt_track.uffd >= 0)
			cap_say("%s: not restored: fd %d (%s): registrations for write protection alone, beside "
				"CKPT_INCREMENTAL's tracking (they cannot be told from libckpt's own)", path, f->fd,
				ckpt_scratch.strings + f->path_off);
		if (f->kind == CKPT_FD_INOTIFY && f->share == i && f->aux[1])
			cap_say("%s: not restored: fd %d (%s): %lu bytes of inotify events pending that the image "
				"does not hold (libckpt keeps them only for an instance the program made through "
				"libc and holds by one descriptor)", path, f->fd,
				ckpt_scratch.strings + f->path_off, f->aux[1]);
		if (f->kind == CKPT_FD_SOCKET && (f->aux[4] & CKPT_SO_TCP_REPAIR))
			cap_say("%s: notice: fd %d (%s): a TCP connection, recorded with TCP_REPAIR: it comes back "
				"as it is where the restorer may use TCP_REPAIR (CAP_NET_ADMIN in its network "
				"namespace), else as closed by its peer", path, f->fd, ckpt_scratch.strings + f->path_off);
		else if (f->kind == CKPT_FD_SOCKET && (f->aux[4] & CKPT_SO_WAS_CONNECTED))
			cap_say("%s: not restored: fd %d (%s): a TCP connection: it comes back as closed by its "
				"peer (reads give end of file; only a checkpoint that ends the program keeps it, "
				"with TCP_REPAIR)", path, f->fd, ckpt_scratch.strings + f->path_off);
	}
}

/* one line for each VmFlags flag the restorer does not set again */
void cap_say_vmflags_lost(const char *path, const struct cap_walk *w)
{
	for (int i = 0; i < CAP_VMFLAGS_NLOST; i++) {
		static const char *const what[CAP_VMFLAGS_NLOST] = {
			"guard pages (MADV_GUARD_INSTALL)", "a shadow stack", "hugetlb pages (MAP_HUGETLB)",
			"a registration with a userfaultfd the process does not hold alone", "MAP_SYNC",
			"a userfaultfd registration for minor faults",
		};

		if (w->vmflags_lost & (1u << i))
			cap_say("%s: not restored: mapping flag %s: %s (first at 0x%lx)", path,
				cap_vmflags_lost[i], what[i], w->vmflags_lost_at[i]);
	}
}
