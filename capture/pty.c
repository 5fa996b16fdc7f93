/* pty.c -- pseudo-terminals whose master the process holds (a terminal
 * emulator, script(1), an expect-like driver of another program).
 *
 * Such a master is a CKPT_FD_CHR record of /dev/ptmx when state.c has read
 * it; here it becomes a CKPT_FD_PTY record with its number (TIOCGPTN), lock
 * and packet mode, and every slave of that number the process holds in
 * that master's devpts (/dev/pts/N) becomes one too, pointing at its
 * master.  The restorer makes a new pair and opens the slaves through the
 * master (TIOCGPTPEER), so they stay connected, under another number.  The bytes waiting to be read at
 * either end cannot be read without taking them from the program: they are
 * counted, and named as lost.  A slave whose master is elsewhere (the
 * program's own terminal) stays a terminal reopened by its path. */
#include "cap.h"

/* bytes waiting to be read at this end */
static uint64_t queued(int fd)
{
	int n = 0;

	return sys_failed(sys_ioctl(fd, KSYS_FIONREAD, &n)) || n < 0 ? 0 : (uint64_t)n;
}

/* the master's record (and its dups): number, state, queue */
static int take_master(struct cap_walk *w, uint32_t lead)
{
	struct ckpt_fd *f = &ckpt_scratch.fds[lead];
	uint32_t n = 0;
	int locked = 0, packet = 0;

	if (sys_failed(sys_ioctl(f->fd, KSYS_TIOCGPTN, &n)))
		return 0;			/* not a pty master after all: a device by path */
	sys_ioctl(f->fd, KSYS_TIOCGPTLCK, &locked);
	sys_ioctl(f->fd, KSYS_TIOCGPKT, &packet);
	for (uint32_t j = lead; j < w->nfds; j++) {
		struct ckpt_fd *g = &ckpt_scratch.fds[j];

		if (g->share != lead)
			continue;
		g->kind = CKPT_FD_PTY;
		g->aux[0] = CKPT_PTY_MASTER;
		g->aux[1] = n;
		g->aux[2] = (locked ? CKPT_PTY_LOCKED : 0) | (packet ? CKPT_PTY_PACKET : 0);
		g->aux[3] = j == lead ? queued(f->fd) : 0;
		g->peer = j;
	}
	return 1;
}

/* The devpts instance master g's slaves live in, as ckpt_fd.dev encodes a
 * device: its own for one opened as .../pts/ptmx, else dev_pts, /dev/pts's
 * (where /dev/ptmx leads) */
static uint64_t devpts_of(const struct ckpt_fd *g, uint64_t dev_pts)
{
	const char *path = ckpt_scratch.strings + g->path_off;
	size_t len = strlen(path);

	return len >= 9 && !strcmp(path + len - 9, "/pts/ptmx") ? g->dev : dev_pts;
}

/* Masters first, then the slaves of their numbers in their devpts. */
void cap_link_ptys(struct cap_walk *w)
{
	int masters = 0;
	uint64_t dev_pts = 0;
	struct ksys_stat st;

	for (uint32_t i = 0; i < w->nfds; i++) {
		const struct ckpt_fd *f = &ckpt_scratch.fds[i];

		if (f->kind == CKPT_FD_CHR && f->share == i && f->aux[0] == KSYS_PTMX_RDEV && !(f->flags & O_PATH))
			masters += take_master(w, i);
	}
	if (masters && !sys_failed(sys_stat("/dev/pts", &st)))
		dev_pts = (uint64_t)ksys_major(st.st_dev) << 32 | ksys_minor(st.st_dev);
	for (uint32_t i = 0; masters && i < w->nfds; i++) {
		struct ckpt_fd *f = &ckpt_scratch.fds[i];
		uint32_t n = ksys_minor(f->aux[0]), lead = f->share;

		if (f->kind != CKPT_FD_CHR || ksys_major(f->aux[0]) != KSYS_PTS_MAJOR || (f->flags & O_PATH) ||
		    strncmp(ckpt_scratch.strings + f->path_off, "/dev/pts/", 9))
			continue;
		for (uint32_t m = 0; m < w->nfds; m++) {
			const struct ckpt_fd *g = &ckpt_scratch.fds[m];

			if (g->kind != CKPT_FD_PTY || g->aux[0] != CKPT_PTY_MASTER || g->share != m || g->aux[1] != n ||
			    f->dev != devpts_of(g, dev_pts))
				continue;
			f->kind = CKPT_FD_PTY;
			f->aux[0] = CKPT_PTY_SLAVE;
			f->aux[1] = n;
			f->aux[3] = lead == i ? queued(f->fd) : 0;
			f->peer = m;
			break;
		}
	}
}
