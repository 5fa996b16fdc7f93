/* state.c -- what the kernel holds for the process besides memory and
 * registers: descriptors, pending signals, POSIX and interval timers, resource
 * limits, personality.  Runs in the signal handler: raw syscalls, static storage.
 */
#include "cap.h"

#define F_GETFD		1
#define F_GETPIPE_SZ	1032
#define F_GET_SEALS	1034
#define FIONREAD	0x541b
#define KCMP_FILE	0
#define SPLICE_F_NONBLOCK 2
#define TFD_IOC_SET_TICKS 0x40085400	/* _IOW('T', 0, uint64_t) */

static uint64_t num(const char **s, unsigned base)
{
	return img_parse_num(s, base);
}

/* value of "key:\t..." at the start of a line of a small /proc text, or 0
 * when absent */
const char *cap_field(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; ) {
		if (!strncmp(p, key, kl)) {
			p += kl;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

long cap_read_small(const char *path, char *buf, size_t cap)
{
	long fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0), n;

	if (sys_failed(fd))
		return fd;
	n = sys_read((int)fd, buf, cap - 1);
	sys_close((int)fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
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
	static char text[1 << 16];
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

/* one descriptor -> its record; stored bytes for pipes go to fdbuf */
/* fdinfo's "lock:" lines: the locks and leases held through this descriptor
 * ("lock:\t1: POSIX  ADVISORY  WRITE 1234 fe:00:567 0 EOF"), none restored */
static void note_locks(struct cap_walk *w, const char *info, int fd)
{
	static const char kinds[][8] = { "POSIX ", "FLOCK ", "OFDLCK ", "LEASE " };
	const char *v;

	for (const char *l = info; (v = cap_field(l, "lock:")); l = v) {
		while (*v >= '0' && *v <= '9')
			v++;
		while (*v == ':' || *v == ' ')
			v++;
		for (int k = 0; k < 4; k++) {
			uint32_t bit = CKPT_PROC_POSIX_LOCKS_LOST << k;

			if (!strncmp(v, kinds[k], strlen(kinds[k])) && !(w->lost & bit)) {
				w->lost |= bit;
				w->lost_fd[k + 1] = fd;
			}
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
static int peek_queue(int fd, int queue, uint32_t *seq, uint32_t len, uint64_t at)
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
	sys_ioctl(fd, FIONREAD, &inq);		/* SIOCINQ: bytes not read */
	sys_ioctl(fd, 0x5411, &outq);		/* SIOCOUTQ: bytes not acknowledged */
	need = sizeof(*r) + (uint64_t)(inq > 0 ? inq : 0) + (uint64_t)(outq > 0 ? outq : 0);
	ok = inq >= 0 && outq >= 0 && need <= room && (uint32_t)inq <= CKPT_TCP_QUEUE_MAX &&
	     (uint32_t)outq <= CKPT_TCP_QUEUE_MAX;
	if (ok) {
		r->rcv_len = (uint32_t)inq;
		r->snd_len = (uint32_t)outq;
		ok = !peek_queue(fd, KSYS_TCP_RECV_QUEUE, &r->rcv_seq, r->rcv_len, at + sizeof(*r)) &&
		     !peek_queue(fd, KSYS_TCP_SEND_QUEUE, &r->snd_seq, r->snd_len, at + sizeof(*r) + r->rcv_len) &&
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
	int proto = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_PROTOCOL), probe;
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
	if (connected && (dom == KSYS_AF_UNIX || type != KSYS_SOCK_STREAM))
		return;
	f->aux[0] = CKPT_WHY_SOCKET_KIND;
	if (sys_failed(sys_getsockname(fd, addr, &alen)) || alen < 2 || alen + plen > sizeof(addr) ||
	    alen + plen > CAP_FDBUF - w->fdbuf_used || (connected && plen != alen))
		return;
	if (connected) {		/* a TCP connection: its peer is not ours to bring back */
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
		f->aux[4] |= CKPT_SO_WAS_CONNECTED;
	f->aux[5] = 0;
	probe = (int)sys_socket(dom, type | KSYS_SOCK_CLOEXEC, proto);
	if (probe >= 0) {
		int rcv = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF), snd = sockopt(fd, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF);

		if (rcv > 0 && rcv != sockopt(probe, KSYS_SOL_SOCKET, KSYS_SO_RCVBUF))
			f->aux[5] |= (uint32_t)rcv;
		if (snd > 0 && snd != sockopt(probe, KSYS_SOL_SOCKET, KSYS_SO_SNDBUF))
			f->aux[5] |= (uint64_t)(uint32_t)snd << 32;
		sys_close(probe);
	}
	memcpy(ckpt_scratch.fdbuf + w->fdbuf_used, addr, alen);
	if (connected && (repaired = repair_state(fd, w->fdbuf_used + alen))) {
		f->aux[4] |= CKPT_SO_TCP_REPAIR;
		alen += (uint32_t)repaired;
	}
	f->data_len = alen;
	f->pos = w->fdbuf_used;			/* where in fdbuf, until write time */
	w->fdbuf_used += alen;
}

static int describe_fd(struct cap_walk *w, struct ckpt_fd *f, int fd)
{
	char path[64], link[4096], info[1024];
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
	if (sys_fcntl(fd, F_GETFD, 0) & 1)
		f->fd_flags = CKPT_FD_CLOEXEC;
	img_fmt(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = sys_readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	f->path_off = cap_add_string(w, link);
	img_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (cap_read_small(path, info, sizeof(info)) <= 0)
		return -5;
	if ((v = cap_field(info, "pos:")))
		f->pos = num(&v, 10);
	if ((v = cap_field(info, "flags:")))
		f->flags = (uint32_t)num(&v, 8);
	note_locks(w, info, fd);

	switch (st.st_mode & S_IFMT) {
	case S_IFREG: {
		struct ksys_stat now;

		if (!strncmp(link, "/memfd:", 7)) {
			f->kind = CKPT_FD_MEMFD;
			f->aux[0] = (uint64_t)sys_fcntl(fd, F_GET_SEALS, 0);
		} else if (ends_with(link, " (deleted)") || sys_failed(sys_stat(link, &now)) ||
			   now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
			f->kind = CKPT_FD_DELETED;
		} else {
			f->kind = CKPT_FD_REG;
		}
		if (f->kind == CKPT_FD_REG && ckpt_cfg.copy_files == 2 && fd > 2 && strncmp(link, "/proc/", 6)) {
			/* CKPT_COPY_FILES=all; not 0, 1, 2 (the caller's at restore, as a
			 * rule) nor /proc's files (the restorer opens the new process's) */
			if (st.st_size > (int64_t)CAP_MAX_FD_STORE) {
				cap_say("notice: fd %d (%s): %ld bytes exceed the %u-byte limit of CKPT_COPY_FILES=all: "
					"not stored, the image needs the file", fd, link, st.st_size, CAP_MAX_FD_STORE);
			} else {
				f->fd_flags |= CKPT_FD_STORED;
				f->data_len = st.st_size;	/* copied at write time */
			}
		} else if (f->kind != CKPT_FD_REG) {
			if (st.st_size > (int64_t)CAP_MAX_FD_COPY) {
				cap_say("fd %d (%s): %ld bytes exceed the %u-byte copy limit: recorded as "
					"not restorable", fd, link, st.st_size, CAP_MAX_FD_COPY);
				f->kind = CKPT_FD_UNSUPPORTED;
				f->aux[0] = CKPT_WHY_TOO_BIG;
			} else {
				f->data_len = st.st_size;	/* copied at write time */
			}
		}
		break;
	}
	case S_IFDIR:
		f->kind = CKPT_FD_DIR;
		break;
	case S_IFCHR:
		f->kind = CKPT_FD_CHR;
		f->aux[0] = st.st_rdev;		/* the restorer opens only this device again */
		break;
	case S_IFIFO:
		f->kind = strncmp(link, "pipe:[", 6) ? CKPT_FD_FIFO : CKPT_FD_PIPE;
		f->aux[0] = (uint64_t)sys_fcntl(fd, F_GETPIPE_SZ, 0);
		break;
	case S_IFSOCK:
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
			describe_timerfd(f, path, info, sizeof(info));
		} else if (!strcmp(link, "anon_inode:[signalfd]")) {
			f->kind = CKPT_FD_SIGNALFD;
			if ((v = cap_field(info, "sigmask:")))
				f->aux[0] = num(&v, 16);
		} else if (!strcmp(link, "anon_inode:[eventpoll]")) {
			f->kind = CKPT_FD_EPOLL;	/* its watches: epoll_watches() */
		} else {
			f->kind = CKPT_FD_UNSUPPORTED;	/* inotify, pidfd ... */
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

	if (sys_failed(sys_ioctl(rd->fd, FIONREAD, &avail)) || avail <= 0)
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

int cap_collect_fds(struct cap_walk *w)
{
	static char dents[32768];
	long dir = sys_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int32_t nums[CAP_MAX_FDS];
	uint32_t n = 0;
	int pid = (int)sys_getpid();

	w->nfds = 0;
	w->fdbuf_used = 0;
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
			if (fd == dir || fd == ckpt_track.uffd || cap_hooks.fd_is_ours((int)fd) ||
			    cap_is_settings_fd((int)fd))
				continue;	/* libckpt's own: the reader, the API's stores, the settings */
			if (n >= CAP_MAX_FDS) {
				sys_close((int)dir);
				w->fail_what = "too many descriptors";
				return -24;
			}
			nums[n++] = (int32_t)fd;
		}
	}
	sys_close((int)dir);
	for (uint32_t i = 1; i < n; i++)	/* ascending, as the format wants */
		for (uint32_t j = i; j > 0 && nums[j - 1] > nums[j]; j--) {
			int32_t t = nums[j];

			nums[j] = nums[j - 1];
			nums[j - 1] = t;
		}

	for (uint32_t i = 0; i < n; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[w->nfds];

		if (describe_fd(w, f, nums[i]))
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
		if (f->share != w->nfds && (f->fd_flags & CKPT_FD_STORED)) {
			f->fd_flags &= ~CKPT_FD_STORED;	/* a dup: its lead's copy serves */
			f->data_len = 0;
		}
		w->nfds++;
	}
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
	/* epoll instances: what each watches */
	for (uint32_t i = 0; i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_EPOLL && f->share == i && epoll_watches(w, f)) {
			f->kind = CKPT_FD_UNSUPPORTED;
			f->aux[0] = CKPT_WHY_EPOLL;
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

/* Signals pending now: taken with rt_sigtimedwait and queued again at once, so
 * the running program still gets them; the restorer queues them once more. */
int cap_collect_signals(struct cap_walk *w)
{
	char status[4096];
	const char *v;
	uint64_t shared = 0, all = ~0ull & ~((1ull << 8) | (1ull << 18));	/* not KILL, STOP */
	struct ksys_timespec zero = { 0, 0 };
	int pid = (int)sys_getpid(), tid = (int)sys_gettid();

	w->nsigs = 0;
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

/* resource limits, interval timers, personality, prctl flags, oom_score_adj,
 * supplementary groups */
void cap_collect_limits(struct ckpt_proc *p)
{
	char adj[16];
	long r;

	for (int r = 0; r < 16; r++)
		if (sys_failed(sys_prlimit(r, 0, &p->rlimit[r])))
			p->rlimit[r].cur = p->rlimit[r].max = ~0ull;
	for (int i = 0; i < 3; i++)
		sys_getitimer(i, &p->itimer[i]);
	p->personality = (uint32_t)sys_personality(0xffffffffu);
	if (sys_prctl(CKPT_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		p->attrs |= CKPT_PROC_NO_NEW_PRIVS;
	r = sys_prctl(CKPT_PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (!sys_failed(r) && r)
		p->attrs |= CKPT_PROC_THP_DISABLE | (r & 2 ? CKPT_PROC_THP_EXCEPT_ADVISED : 0);
	if (cap_read_small("/proc/self/oom_score_adj", adj, sizeof(adj)) > 0) {	/* -1000 .. 1000 */
		const char *v = adj + (adj[0] == '-');

		p->oom_score_adj = (int32_t)num(&v, 10);
		if (adj[0] == '-')
			p->oom_score_adj = -p->oom_score_adj;
		p->attrs |= CKPT_PROC_OOM_SCORE_ADJ;
	}
	r = SC2(__NR_getgroups, CKPT_MAX_GROUPS, p->groups);
	if (!sys_failed(r)) {
		p->ngroups = (uint32_t)r;
		p->attrs |= CKPT_PROC_GROUPS;
	} else {
		p->attrs |= CKPT_PROC_GROUPS_LOST;	/* EINVAL: more than fit */
	}
}

/* one line on stderr for each state the image records as not restored */
void cap_say_not_restored(const char *path, const struct ckpt_proc *p, const struct cap_walk *w)
{
	if (p->attrs & CKPT_PROC_GROUPS_LOST)
		cap_say("%s: not restored: supplementary groups (more than %d)", path, CKPT_MAX_GROUPS);
	for (int i = 1; i <= 4; i++)		/* the locks and leases */
		if (p->attrs & (CKPT_PROC_GROUPS_LOST << i))
			cap_say("%s: not restored: %s (held through fd %d)", path, img_lost_names[i], w->lost_fd[i]);
	if (p->attrs & CKPT_PROC_AIO_LOST)
		cap_say("%s: not restored: Linux AIO contexts (io_setup; a ring at 0x%lx): io_submit and "
			"io_getevents on them fail with EINVAL after a restore", path, w->aio_ring);
	cap_say_vmflags_lost(path, w);
	/* descriptors: in an image to restore (CKPT_FILE's); a tsetjmp image is
	 * for tlongjmp, which leaves the process its descriptors */
	for (uint32_t i = 0; path == ckpt_cfg.path && i < w->nfds; i++) {	/* 0-2: the restorer's */
		const struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_UNSUPPORTED && f->fd > 2)
			cap_say("%s: not restored: fd %d (%s): %s", path, f->fd, ckpt_scratch.strings + f->path_off,
				img_fd_why(f));
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
			"a userfaultfd registration", "MAP_SYNC",
		};

		if (w->vmflags_lost & (1u << i))
			cap_say("%s: not restored: mapping flag %s: %s (first at 0x%lx)", path,
				cap_vmflags_lost[i], what[i], w->vmflags_lost_at[i]);
	}
}
