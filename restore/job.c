/* job.c -- a job's table (ckpt_image.h "a job") restored: the tree made
 * again with its pids, each live process then restoring its own image as
 * main.c does for one, and the descriptors the job's processes share handed
 * from the one that makes each to the others -- all of it before any
 * process passes its point of no return.
 *
 * main.c makes the job's root (with its old pid: --same-pid's way) and calls
 * rst_job_make_tree() there.  That maps a page shared by the whole job (the
 * barriers and the table of shared descriptors; unmapped with everything
 * else in step 4) and forks the tree: each process makes its own children
 * with clone3(set_tid = the child's old pid), a session or group leader
 * becomes one first, so its children are born into it.  A zombie exits with
 * its status once everyone is past the last barrier.  Each live process then
 * reads and checks its own image (steps 2 and 3).  rst_job_share() then:
 *   - the owner of each shared object publishes it: a FILE object is the
 *     owner's own descriptor, made in step 3 (or the caller's 0, 1, 2); a
 *     PIPE object is made here, with the bytes that were in it; shared
 *     memory is a memfd filled here from its file beside the table
 *   - barrier 1: every process checked, every object published
 *   - the others take theirs with pidfd_getfd (the same open file
 *     description, its offset and flags shared as before); shared memory's
 *     memfd goes to step 4, which maps each piece from it and none from the
 *     process's own image; a process joins a group another process leads
 *   - barrier 2: every descriptor taken; parents wait until their zombie
 *     children have exited, and take the SIGCHLD back
 * A refusal anywhere (its one line said by the process that refused) marks
 * the job failed: every process exits 2 before its point of no return.
 */
#include "rst.h"
#include "ckpt_sys.h"

#define JOB_WAIT_SEC	60		/* a barrier no process reaches in this long: refused */

struct job_sync {
	uint32_t arrived[2];		/* processes at barrier 1, 2 */
	uint32_t failed;		/* a process refused: everyone exits 2 */
	uint32_t pad;
	struct { int32_t pid, fd[2]; } obj[CKPT_JOB_MAX_OBJS];	/* where each object is published */
};

int rst_in_job;				/* a job's table is being restored */
static struct img_job job;
static struct job_sync *sync;
static int32_t me;			/* this process's index in the table */
static char member_path[IMG_PATH_MAX];

static void __attribute__((noreturn)) job_exit(int status)
{
	if (sync) {
		__atomic_store_n(&sync->failed, 1, __ATOMIC_SEQ_CST);
		for (int b = 0; b < 2; b++)
			SC6(__NR_futex, &sync->arrived[b], 1 /* FUTEX_WAKE */, 0x7fffffff, 0, 0, 0);
	}
	sys_exit_group(status);
}

/* a process of the job refused (its line is said): the others exit too */
void rst_job_failed(void)
{
	if (rst_in_job)
		job_exit(2);
}

static void __attribute__((noreturn)) job_refuse(const char *path, const char *fmt, long a, long b)
{
	char why[200];

	img_fmt(why, sizeof(why), fmt, a, b);
	img_say(2, "restorer: %S: %S\n", path, why);
	job_exit(2);
}

/* Step 2 for a job: its table read and checked (image/job.c) */
int rst_job_open(const char *path, struct img_err *e)
{
	rst_in_job = 1;
	return img_job_open(&job, path, e);
}

int rst_job_fd(void) { return job.fd; }
const struct ckpt_job_proc *rst_job_proc(uint32_t i) { return &job.procs[i]; }
int rst_job_me(void) { return me; }
uint32_t rst_job_nprocs(void) { return job.hdr.nprocs; }

/* Wait until all nprocs processes have arrived at barrier b */
static void barrier(const char *path, int b)
{
	uint32_t n = job.hdr.nprocs, v;
	struct ksys_timespec wait = { 1, 0 };
	int waited = 0;

	__atomic_add_fetch(&sync->arrived[b], 1, __ATOMIC_SEQ_CST);
	SC6(__NR_futex, &sync->arrived[b], 1 /* FUTEX_WAKE */, 0x7fffffff, 0, 0, 0);
	while ((v = __atomic_load_n(&sync->arrived[b], __ATOMIC_SEQ_CST)) < n) {
		if (__atomic_load_n(&sync->failed, __ATOMIC_SEQ_CST))
			sys_exit_group(2);	/* the one that refused said why */
		if (waited++ == JOB_WAIT_SEC)
			job_refuse(path, "pid %ld: the job's other processes did not get ready in %ld s",
				   job.procs[me].pid, JOB_WAIT_SEC);
		SC6(__NR_futex, &sync->arrived[b], 0 /* FUTEX_WAIT */, v, &wait, 0, 0);
	}
	if (__atomic_load_n(&sync->failed, __ATOMIC_SEQ_CST))
		sys_exit_group(2);
}

/* This process is process i of the table, just forked: its session or group,
 * when it leads one (a member of another's group joins it later) */
static void become(const char *path, int32_t i)
{
	const struct ckpt_job_proc *p = &job.procs[i];
	long r = 0;

	me = i;
	if (p->sid == p->pid)
		r = SC0(__NR_setsid);
	else if (p->pgid == p->pid)
		r = SC2(__NR_setpgid, 0, 0);
	if (sys_failed(r))
		job_refuse(path, "pid %ld: cannot lead its session or process group again: errno %ld", p->pid, -r);
}

/* Fork the tree below the job's root, which is this process (its pid the
 * root's).  Returns in each live process of the job with the path of its
 * image; a zombie exits, once the job is past its last barrier, with its
 * status. */
const char *rst_job_make_tree(const char *path)
{
	long r = sys_mmap(0, sizeof(struct job_sync), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sys_failed(r))
		job_refuse(path, "no memory for the job's barriers: errno %ld", -r, 0);
	sync = (struct job_sync *)r;
	become(path, 0);
	for (uint32_t k = 1; k < job.hdr.nprocs; k++) {
		const struct ckpt_job_proc *p = &job.procs[k];
		struct ksys_clone_args ca = { .exit_signal = 17 /* SIGCHLD */ };
		int32_t want = p->pid;
		long pid;

		if (p->parent != me)
			continue;
		ca.set_tid = (uint64_t)&want;
		ca.set_tid_size = 1;
		pid = SC2(__NR_clone3, &ca, sizeof(ca));
		if (sys_failed(pid))
			job_refuse(path, "pid %ld: cannot be had for the job: errno %ld", want, -pid);
		if (pid == 0) {
			become(path, (int32_t)k);
			k = 0;			/* now this process's own children */
		}
	}
	if (job.procs[me].state == CKPT_JOB_ZOMBIE) {
		int status = job.procs[me].status;

		barrier(path, 0);
		barrier(path, 1);
		if (status & 0x7f) {		/* killed: by the same signal, without a core */
			uint64_t one = 1ull << ((status & 0x7f) - 1);
			struct ckpt_sigaction dfl = { 0 };
			uint64_t nocore[2] = { 0, 0 };

			sys_prlimit(4 /* RLIMIT_CORE */, nocore, 0);
			sys_rt_sigaction(status & 0x7f, &dfl, 0);
			SC2(__NR_kill, sys_getpid(), status & 0x7f);
			sys_rt_sigprocmask(1 /* SIG_UNBLOCK */, &one, 0);
		}
		sys_exit_group((status >> 8) & 0xff);
	}
	if (!img_job_member_path(path, &job.procs[me], member_path, sizeof(member_path)))
		job_refuse(path, "pid %ld: its image's path is too long", job.procs[me].pid, 0);
	return member_path;
}

/* Step 2: the image is the one the table names for this process */
int rst_job_member_ok(const struct img *img, struct img_err *e)
{
	const struct ckpt_job_proc *p = &job.procs[me];

	if (!(img->hdr.flags & CKPT_HDR_JOB_MEMBER) || memcmp(img->hdr.job_id, job.hdr.job_id, 16))
		return img_fail(e, "not an image of this job (another checkpoint's?)");
	if ((int32_t)img->proc->pid != p->pid)
		return img_fail(e, "the image of pid %u, where the job table names pid %d", img->proc->pid, p->pid);
	return 0;
}

/* What the job says of this process's descriptor f: 0 its own (made from
 * its record), 1 made from its record and handed to others (it owns the
 * FILE object), 2 taken from the job after barrier 1, 3 a pidfd of another
 * process of the job, opened once they all exist */
static int fd_role(const struct ckpt_fd *f)
{
	if (!rst_in_job)
		return 0;
	for (uint32_t r = 0; r < job.hdr.nrefs; r++) {
		const struct ckpt_job_ref *x = &job.refs[r];
		const struct ckpt_job_obj *o = &job.objs[x->obj];

		if ((int32_t)x->proc != me || x->fd != f->fd)
			continue;
		return o->kind == CKPT_JOB_FILE && (int32_t)o->owner == me && o->owner_fd == f->fd ? 1 : 2;
	}
	if (f->kind == CKPT_FD_UNSUPPORTED && f->aux[0] == CKPT_WHY_PIDFD_OTHER && f->aux[1])
		for (uint32_t k = 0; k < job.hdr.nprocs; k++)
			if ((uint64_t)job.procs[k].pid == f->aux[1])
				return 3;
	return 0;
}

/* The records of img rst_prepare_fds leaves to the job (roles 2 and 3): a
 * bit each in later (CKPT_MAX_FDS bits), cleared outside a job */
void rst_job_later_fds(const struct img *img, uint8_t *later)
{
	for (uint32_t i = 0; i < img->hdr.nfds && i < CKPT_MAX_FDS; i++)
		if (fd_role(&img->fds[i]) >= 2)
			later[i / 8] |= (uint8_t)(1u << (i % 8));
		else
			later[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* role 3: a pidfd of another process of the job, whose pid it has again */
static int open_job_pidfds(const struct img *img, struct img_err *e)
{
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];
		long fd;

		if (f->share != i || fd_role(f) != 3)
			continue;
		fd = SC2(__NR_pidfd_open, f->aux[1], f->flags & (O_NONBLOCK | O_EXCL));	/* O_EXCL: PIDFD_THREAD */
		if (sys_failed(fd))
			return img_fail(e, "fd %d: a pidfd of pid %lu of the job: pidfd_open: errno %d", f->fd, f->aux[1],
					(int)-fd);
		if (rst_stage_job_fd(img, f->fd, (int)fd, e))
			return -1;
	}
	return 0;
}

/* a pipe of the job made again, with its bytes, and published */
static int make_job_pipe(uint32_t k, struct img_err *e)
{
	const struct ckpt_job_obj *o = &job.objs[k];
	int p[2];
	long r = sys_pipe2(p, O_CLOEXEC | O_NONBLOCK);

	if (sys_failed(r))
		return img_fail(e, "job pipe %u: pipe: errno %d", k, (int)-r);
	if (o->pipe_size)
		sys_fcntl(p[1], 1031 /* F_SETPIPE_SZ */, (long)o->pipe_size);
	if (o->data_len && sys_write(p[1], job.base + o->data_off, o->data_len) != (long)o->data_len)
		return img_fail(e, "job pipe %u: its %lu bytes do not fit in a new pipe", k, o->data_len);
	sys_fcntl(p[0], 4 /* F_SETFL */, 0);
	sys_fcntl(p[1], 4 /* F_SETFL */, 0);
	for (int end = 0; end < 2; end++) {	/* an end no process held was closed everywhere */
		int held = 0;

		for (uint32_t r = 0; r < job.hdr.nrefs; r++)
			held |= job.refs[r].obj == k && (int)job.refs[r].end == end;
		if (!held) {
			sys_close(p[end]);
			p[end] = -1;
		}
	}
	sync->obj[k].pid = (int32_t)sys_getpid();
	sync->obj[k].fd[0] = p[0];
	sync->obj[k].fd[1] = p[1];
	return 0;
}

/* records of a uint32_t length then the bytes, len bytes at q, sent one
 * record a message through fd (what its peer then reads): 0, or -1 */
static int refill(int fd, const uint8_t *q, uint64_t len)
{
	for (uint64_t at = 0; at + 4 <= len; ) {
		uint32_t n;

		memcpy(&n, q + at, 4);
		if (n > len - at - 4 || sys_sendto(fd, q + at + 4, n, KSYS_MSG_NOSIGNAL, 0, 0) != (long)n)
			return -1;
		at += 4 + n;
	}
	return 0;
}

/* a UNIX connection of the job made again with what was queued each way,
 * and published */
static int make_job_pair(uint32_t k, struct img_err *e)
{
	const struct ckpt_job_obj *o = &job.objs[k];
	const uint8_t *q = job.base + o->data_off;
	int sv[2];
	long r = sys_socketpair(KSYS_AF_UNIX, (int)o->pipe_size | KSYS_SOCK_CLOEXEC | KSYS_SOCK_NONBLOCK, 0, sv);

	if (sys_failed(r))
		return img_fail(e, "job connection %u: socketpair: errno %d", k, (int)-r);
	if (refill(sv[1], q, o->split) || refill(sv[0], q + o->split, o->data_len - o->split))
		return img_fail(e, "job connection %u: its %lu queued bytes do not fit in a new socket's buffer", k,
				o->data_len);
	sys_fcntl(sv[0], 4 /* F_SETFL */, 0);
	sys_fcntl(sv[1], 4 /* F_SETFL */, 0);
	sync->obj[k].pid = (int32_t)sys_getpid();
	sync->obj[k].fd[0] = sv[0];
	sync->obj[k].fd[1] = sv[1];
	return 0;
}

static const struct ckpt_job_shm *job_shm(uint32_t k)
{
	return (const struct ckpt_job_shm *)(job.base + job.objs[k].data_off);
}

/* len bytes of fd at off into to, adding them to *crc: 0, or -errno */
static int read_in(int fd, uint8_t *to, uint64_t len, uint64_t off, uint32_t *crc)
{
	for (uint64_t done = 0; done < len; ) {
		long r = sys_pread(fd, to + done, len - done, (int64_t)(off + done));

		if (r <= 0)
			return r ? (int)r : -5;
		done += (uint64_t)r;
	}
	*crc = ckpt_crc32c(*crc, to, len);
	return 0;
}

/* The content file (ckpt_job_shm.file: its bitmap, then the pages it
 * marks) into to, a memfd's mapping of m->size bytes: only the pages
 * stored, so the rest stay holes.  Its CRC into *crc.  0, or -errno. */
static int read_packed(int fd, uint8_t *to, const struct ckpt_job_shm *m, uint32_t *crc)
{
	uint64_t bits = CKPT_JOB_SHM_BITMAP(m->size), maplen = (bits + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	uint64_t at = bits, stored = 0, n = m->size / CKPT_PAGE_SIZE;
	long map = sys_mmap(0, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const uint64_t *has = (const uint64_t *)map;
	int r;

	if (sys_failed(map))
		return (int)map;
	*crc = 0;
	r = read_in(fd, (uint8_t *)map, bits, 0, crc);
	for (uint64_t w = 0; !r && w < bits / 8; w++)	/* its marks agree with its length */
		stored += (uint64_t)__builtin_popcountll(has[w]);
	if (!r && stored != m->stored)
		r = -5;
	stored = 0;
	for (uint64_t pg = 0; !r && pg < n; ) {
		uint64_t run = img_bits_run(has, pg, n);

		if (run && !(r = read_in(fd, to + pg * CKPT_PAGE_SIZE, run * CKPT_PAGE_SIZE, at, crc)))
			at += run * CKPT_PAGE_SIZE, stored += run;
		pg += run ? run : 1;
	}
	sys_munmap((uint64_t)map, maplen);
	return r ? r : stored == m->stored ? 0 : -5;
}

/* Shared memory this process owns: a memfd of its length holding the
 * content from its file beside the table (the table owner's, not writable
 * by others, its CRC checked), published before barrier 1, so that it is
 * whole before any process of the job runs */
static int make_job_shm(uint32_t k, const char *path, struct img_err *e)
{
	const struct ckpt_job_shm *m = job_shm(k);
	char file[IMG_PATH_MAX];
	struct ksys_stat st, table;
	long fd, mem, at, r = 0;
	uint32_t crc;

	if (!img_job_beside(path, m->file, file, sizeof(file)))
		return img_fail(e, "shared memory %u: the path of its content is too long", k);
	fd = sys_open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	if (sys_failed(fd))
		return img_fail(e, "%s (the job's shared memory) cannot be opened: errno %d", file, (int)-fd);
	if (sys_failed(sys_fstat((int)fd, &st)) || sys_failed(sys_fstat(job.fd, &table)) ||
	    (st.st_mode & S_IFMT) != S_IFREG || st.st_uid != table.st_uid ||
	    (uint64_t)st.st_size != CKPT_JOB_SHM_BITMAP(m->size) + m->stored * CKPT_PAGE_SIZE ||
	    (st.st_mode & 022)) {
		sys_close((int)fd);
		return img_fail(e, "%s (the job's shared memory): not the job's (its length, owner or mode)", file);
	}
	mem = sys_memfd_create("ckpt-job-shm", 1 /* MFD_CLOEXEC */);
	if (sys_failed(mem) || sys_failed(r = sys_ftruncate((int)mem, (int64_t)m->size)) ||
	    sys_failed(at = r = sys_mmap(0, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)mem, 0))) {
		sys_close((int)fd);
		return img_fail(e, "shared memory %u: no memfd of %lu bytes: errno %d", k, m->size,
				(int)-(sys_failed(mem) ? mem : r));
	}
	r = read_packed((int)fd, (uint8_t *)at, m, &crc);
	sys_munmap((uint64_t)at, m->size);
	sys_close((int)fd);
	if (r == -5 || (!r && crc != m->crc))
		return img_fail(e, "%s (the job's shared memory): corrupted (%s)", file, r ? "its page map" : "CRC");
	if (r)
		return img_fail(e, "%s (the job's shared memory): cannot be read: errno %d", file, -r);
	sync->obj[k].pid = (int32_t)sys_getpid();
	sync->obj[k].fd[0] = (int)mem;
	return 0;
}

/* Descriptor num of process pid of the job, taken with pidfd_getfd; the
 * pidfd of the last process asked stays in *c for the next: fd, or -errno */
struct pidfd_cache { int32_t pid; long fd; };

static long take_from(struct pidfd_cache *c, int32_t pid, int num)
{
	if (c->pid != pid) {
		if (c->fd >= 0)
			sys_close((int)c->fd);
		c->fd = SC2(__NR_pidfd_open, pid, 0);
		c->pid = pid;
	}
	return sys_failed(c->fd) ? c->fd : SC3(__NR_pidfd_getfd, c->fd, num, 0);
}

/* Does the table give this process's region v from a shared memory object? */
static int table_maps(const struct ckpt_vma *v)
{
	for (uint32_t k = 0; k < job.hdr.nobjs; k++) {
		const struct ckpt_job_shm *m = job_shm(k);
		const struct ckpt_job_shm_map *p = (const struct ckpt_job_shm_map *)(m + 1);

		for (uint32_t n = 0; job.objs[k].kind == CKPT_JOB_SHM && n < m->nmaps; n++)
			if ((int32_t)p[n].proc == me && p[n].start == v->start && p[n].end == v->end)
				return 1;
	}
	return 0;
}

/* After barrier 1: each piece of shared memory this process maps, its
 * object's memfd taken (or its own) and handed to step 4 (vma.c) for the
 * region of its image at the same place */
static int take_job_shm(const struct img *img, struct pidfd_cache *c, struct img_err *e)
{
	for (uint32_t k = 0; k < job.hdr.nobjs; k++) {
		const struct ckpt_job_shm *m = job_shm(k);
		const struct ckpt_job_shm_map *p = (const struct ckpt_job_shm_map *)(m + 1);
		long fd = -1;

		if (job.objs[k].kind != CKPT_JOB_SHM)
			continue;
		for (uint32_t n = 0; n < m->nmaps; n++) {
			uint32_t i = 0;

			if ((int32_t)p[n].proc != me)
				continue;
			if (fd < 0 && sync->obj[k].pid == (int32_t)sys_getpid())
				fd = sync->obj[k].fd[0];
			else if (fd < 0) {
				fd = take_from(c, sync->obj[k].pid, sync->obj[k].fd[0]);
				if (sys_failed(fd))
					return img_fail(e, "shared memory at 0x%lx: cannot take it from pid %u: errno %d",
							p[n].start, job.procs[job.objs[k].owner].pid, (int)-fd);
			}
			while (i < img->hdr.nvmas && (img->vmas[i].start != p[n].start || img->vmas[i].end != p[n].end ||
						      !(img->vmas[i].flags & CKPT_MAP_SHARED)))
				i++;
			if (i == img->hdr.nvmas)
				return img_fail(e, "its image has no shared region at 0x%lx-0x%lx, which the job table "
						"maps", p[n].start, p[n].end);
			if (rst_share_vma(i, (int)fd, p[n].offset))
				return img_fail(e, "more pieces of shared memory than the restorer maps (%d)",
						RST_MAX_SHARED_VMAS);
		}
	}
	for (uint32_t i = 0; i < img->hdr.nvmas; i++)	/* (its image has no pages of them) */
		if ((img->vmas[i].flags & CKPT_MAP_JOB_SHARED) && !table_maps(&img->vmas[i]))
			return img_fail(e, "its region 0x%lx-0x%lx is the job's shared memory, which the job table "
					"does not map", img->vmas[i].start, img->vmas[i].end);
	return 0;
}

/* The job's shared descriptors: published, then taken; groups joined;
 * zombie children waited for.  0, or a refusal in e. */
int rst_job_share(const struct img *img, int stdio_image, const char *path, struct img_err *e)
{
	const struct ckpt_job_proc *p = &job.procs[me];
	struct pidfd_cache c = { 0, -1 };
	int failed;

	for (uint32_t k = 0; k < job.hdr.nobjs; k++) {	/* 1. publish what this process owns */
		const struct ckpt_job_obj *o = &job.objs[k];

		if ((int32_t)o->owner != me)
			continue;
		if (o->kind == CKPT_JOB_PIPE || o->kind == CKPT_JOB_UNIX_PAIR) {
			if (o->kind == CKPT_JOB_PIPE ? make_job_pipe(k, e) : make_job_pair(k, e))
				return -1;
			continue;
		}
		if (o->kind == CKPT_JOB_SHM) {
			if (make_job_shm(k, path, e))
				return -1;
			continue;
		}
		sync->obj[k].pid = (int32_t)sys_getpid();
		sync->obj[k].fd[0] = rst_staged_fd(img, o->owner_fd, stdio_image);	/* -1: restored closed */
	}
	barrier(path, 0);
	for (uint32_t r = 0; r < job.hdr.nrefs; r++) {	/* 2. take the others' */
		const struct ckpt_job_ref *f = &job.refs[r];
		const struct ckpt_job_obj *o = &job.objs[f->obj];
		int32_t from = sync->obj[f->obj].pid, num = sync->obj[f->obj].fd[f->end];
		long fd;

		if ((int32_t)f->proc != me)
			continue;
		if (num < 0) {			/* its owner restored it closed (--close-unsupported) */
			if (from != (int32_t)sys_getpid())
				img_say(2, "restorer: notice: fd %d restored closed, as pid %u's fd %d is\n", f->fd,
					job.procs[o->owner].pid, o->owner_fd);
			continue;
		}
		fd = from == (int32_t)sys_getpid() ? sys_fcntl(num, 1030 /* F_DUPFD_CLOEXEC */, 3) :
						      take_from(&c, from, num);
		if (sys_failed(fd))
			return img_fail(e, "fd %d: cannot take it from pid %u (process %u of the job): errno %d", f->fd,
					job.procs[o->owner].pid, o->owner, (int)-fd);
		if (rst_stage_job_fd(img, f->fd, (int)fd, e))
			return -1;
	}
	failed = open_job_pidfds(img, e) || take_job_shm(img, &c, e);
	if (c.fd >= 0)
		sys_close((int)c.fd);
	if (failed)
		return -1;
	if (p->pgid != p->pid && p->parent >= 0 && p->pgid != job.procs[p->parent].pgid) {
		for (uint32_t k = 0; k < job.hdr.nprocs; k++)	/* 3. a group another leads */
			if (job.procs[k].pid == p->pgid) {
				long r = SC2(__NR_setpgid, 0, p->pgid);

				if (sys_failed(r))
					return img_fail(e, "cannot join process group %d again: errno %d", p->pgid,
							(int)-r);
			}
	}
	barrier(path, 1);
	for (uint32_t k = 0; k < job.hdr.nprocs; k++) {	/* 4. zombie children: dead, SIGCHLD taken */
		struct { int32_t signo, err, code, pad; uint8_t rest[112]; } si;

		if (job.procs[k].parent != me || job.procs[k].state != CKPT_JOB_ZOMBIE)
			continue;
		while (SC5(__NR_waitid, 1 /* P_PID */, job.procs[k].pid, &si, 4 | 0x01000000 /* WEXITED | WNOWAIT */,
			   0) == -4)
			;
	}
	{
		uint64_t chld = 1ull << (17 - 1);
		struct ksys_timespec none = { 0, 0 };

		while (sys_rt_sigtimedwait(&chld, 0, &none) == 17)
			;
	}
	return 0;
}
