/* job.c -- a job: the process that takes the trigger (the root) and every
 * descendant that carries libckpt, checkpointed at one moment (DESIGN.md
 * "Jobs"; the format is ckpt_image.h's "a job").
 *
 * The root lists its descendants down the tree (/proc/PID/task/TID/children)
 * and refuses at once, naming the pid, when one cannot take part (no libckpt,
 * stopped, not ours to read).  Else it makes the job's order (a memfd: the
 * job id, the image names, the numbers of two pipes, ctl and go) and sends
 * each live descendant the trigger signal with a cookie naming the memfd.
 * Each opens the order and the pipes through /proc/ROOT/fd/N, stops its
 * threads, saves its registers and reads its state (preload.c, as for one
 * process), says "ready" on ctl and waits on go.  When every one is ready
 * (and no new child appeared meanwhile), nothing of the job runs: the root
 * reads which descriptors of which processes are one open file (kcmp) and
 * the bytes in each pipe between them (tee: not taken), forks its writer,
 * and lets the others go: each forks its own writer, which writes its image
 * ".NAME.JOBID.PID" beside the table and says "done" on ctl.  The root's
 * writer waits for every "done", writes the job table and renames it in:
 * the previous job (or image) stays until the new one is whole.  A
 * descendant that does not answer in CKPT_JOB_WAIT seconds (default 10)
 * cancels the checkpoint, named; everyone goes on.
 *
 * Floor 3 (beside dump.c): called by preload.c, uses procfs.c, config.c and
 * image/.  Runs in signal handlers: raw system calls only, state in
 * ckpt_scratch.job (left out of images) and ckpt_job (config.c).
 */
#include "cap.h"
#include "signame.h"

#define JOB_ORDER_MAGIC	0x726f626aul		/* "jbor" */
#define MSG_READY	1u
#define MSG_DONE	2u
#define CAP_JOB_PIPE_MAX (4u << 20)		/* sizeof(ckpt_scratch.job.data) */

struct job_order {			/* the memfd's content */
	uint32_t magic;
	int32_t root;
	int32_t ctl, go;		/* the root's descriptor numbers of the pipes */
	uint8_t job_id[16];
	char prefix[4200];		/* a member's image is prefix + its pid */
	char table[4096];		/* the table's path */
	uint32_t nstopped;
	int32_t stopped[64];		/* processes that were stopped: continued for the
					 * checkpoint, they stop again after it (and after a restore) */
};
static struct job_order order CAP_COLD;

struct job_msg {			/* on ctl: one write each, atomic (< PIPE_BUF) */
	int32_t pid;
	uint32_t what;			/* MSG_READY, MSG_DONE */
	int32_t result;			/* 0, or -errno: not ready / not written */
	uint32_t nown;
	int32_t own[12];		/* ready: libckpt's own descriptors, left out */
};

/* the root's view of each process of the job, by table index */
static struct member {
	int32_t pid, ppid, pgid, sid, exit_code;
	char state;			/* /proc/PID/stat's */
	int32_t parent;			/* index */
	int ready, done, result;
	uint32_t nown;
	int32_t own[12];
	char comm[16];
} members[CKPT_JOB_MAX_PROCS] CAP_COLD;
static uint32_t nmembers;
static int ctl_pipe[2] = { -1, -1 }, go_pipe[2] = { -1, -1 };
static char table_path[4096] CAP_COLD;
static char name_prefix[88];
static int released;			/* the root told the members to go on */		/* ".NAME.JOBID.": a member's image name is this and its pid */

static uint64_t num(const char **s) { return img_parse_num(s, 10); }

/* /proc/PID/stat: state, ppid, pgrp, session, exit_signal (38), exit_code (52), comm */
static int read_stat(int32_t pid, struct member *m, int *exit_signal)
{
	char buf[1024];
	const char *p, *open;
	long r;
	int field = 2;

	img_fmt(buf, sizeof(buf), "/proc/%d/stat", pid);
	r = cap_read_small(buf, buf, sizeof(buf));
	if (r <= 0 || !(open = strchr(buf, '(')) || !(p = strrchr(buf, ')')))
		return -3;
	memset(m->comm, 0, sizeof(m->comm));
	memcpy(m->comm, open + 1, (size_t)(p - open - 1) < sizeof(m->comm) - 1 ? (size_t)(p - open - 1) :
									    sizeof(m->comm) - 1);
	m->pid = pid;
	m->exit_code = 0;
	*exit_signal = -1;
	for (p++; *p; ) {
		while (*p == ' ')
			p++;
		field++;
		if (field == 3)
			m->state = *p;
		else if (field == 4)
			m->ppid = (int32_t)num(&p);
		else if (field == 5)
			m->pgid = (int32_t)num(&p);
		else if (field == 6)
			m->sid = (int32_t)num(&p);
		else if (field == 38)
			*exit_signal = (int)num(&p);
		else if (field == 52)
			m->exit_code = (int32_t)num(&p);
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

static int32_t find(int32_t pid)
{
	for (uint32_t i = 0; i < nmembers; i++)
		if (members[i].pid == pid)
			return (int32_t)i;
	return -1;
}

/* does pid catch sig?  (SigCgt of /proc/PID/status) */
static int catches(int32_t pid, int sig)
{
	char path[48], buf[2048];
	const char *v;
	uint64_t mask;

	img_fmt(path, sizeof(path), "/proc/%d/status", pid);
	if (cap_read_small(path, buf, sizeof(buf)) <= 0 || !(v = cap_field(buf, "SigCgt:")))
		return 0;
	mask = img_parse_num(&v, 16);
	return sig > 0 && sig <= 64 && (mask >> (sig - 1) & 1);
}

/* Why pid cannot take part in a job checkpoint, or 0.  One that does not
 * catch libckpt's signals may be exec'ing (its handlers are reset until the
 * new program's libckpt sets them): it gets up to 300 ms to do so; one that
 * exits meanwhile is a zombie, or gone ('X'), and takes part as such. */
static const char *cannot_take_part(struct member *m)
{
	struct ksys_timespec ms10 = { 0, 10000000 };
	int exit_signal;

	for (int tries = 0; m->state != 'Z' && m->state != 'X'; tries++) {
		if (m->state == 't')
			return "it is stopped by a tracer (ptrace): not checkpointed";
		if (m->state == 'T') {		/* SIGSTOP, job control: continued for the checkpoint */
			if (order.nstopped == sizeof(order.stopped) / sizeof(order.stopped[0]))
				return "it is stopped, and so are 64 others of the job: more than ckpt continues";
			if (catches(m->pid, ckpt_cfg.sig) && catches(m->pid, ckpt_stop_sig)) {
				order.stopped[order.nstopped++] = m->pid;
				return 0;
			}
		}
		if (catches(m->pid, ckpt_cfg.sig) && catches(m->pid, ckpt_stop_sig))
			return 0;
		if (tries == 30)
			return "it does not carry libckpt (a static program, or started without LD_PRELOAD)";
		SC2(__NR_nanosleep, &ms10, 0);
		if (read_stat(m->pid, m, &exit_signal))
			m->state = 'X';
	}
	return 0;
}

/* Add the children of every live process of the list (from index `from`) that
 * are not in it yet; writers (a raw clone, exit signal 0) are libckpt's, not
 * the job's.  The list stays in tree order: a parent before its children. */
static int list_descendants(uint32_t from, const char *path)
{
	static char dents[4096] CAP_COLD;
	char where[64], kids[2048];

	for (uint32_t i = from; i < nmembers; i++) {
		long dir, len;

		if (members[i].state == 'Z')
			continue;
		img_fmt(where, sizeof(where), "/proc/%d/task", members[i].pid);
		dir = sys_open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		while (!sys_failed(dir) && (len = sys_getdents64((int)dir, dents, sizeof(dents))) > 0)
			for (long at = 0; at < len; ) {
				const char *name = dents + at + 19;
				uint16_t reclen;

				memcpy(&reclen, dents + at + 16, 2);
				at += reclen;
				if (*name < '0' || *name > '9')
					continue;
				img_fmt(where, sizeof(where), "/proc/%d/task/%s/children", members[i].pid, name);
				if (cap_read_small(where, kids, sizeof(kids)) <= 0)
					continue;
				for (const char *p = kids; *p >= '0' && *p <= '9'; p += *p == ' ') {
					int32_t pid = (int32_t)num(&p);
					struct member m;
					int exit_signal;

					if (find(pid) >= 0 || read_stat(pid, &m, &exit_signal) || exit_signal == 0)
						continue;
					if (nmembers == CKPT_JOB_MAX_PROCS) {
						sys_close((int)dir);
						cap_say("%s: no checkpoint: the job has more than %u processes", path,
							CKPT_JOB_MAX_PROCS);
						return -7;
					}
					m.parent = (int32_t)i;
					m.ready = m.done = m.result = 0;
					m.nown = 0;
					members[nmembers++] = m;
				}
			}
		if (!sys_failed(dir))
			sys_close((int)dir);
	}
	return 0;
}

static int send_order(const struct member *m, int order_fd)
{
	int r;
	struct {
		int32_t signo, err, code, pad;
		int32_t pid;
		uint32_t uid;
		uint64_t value;
		uint8_t rest[96];
	} si;

	memset(&si, 0, sizeof(si));
	si.signo = ckpt_cfg.sig;
	si.code = -1;				/* SI_QUEUE */
	si.pid = (int32_t)sys_getpid();
	si.uid = (uint32_t)SC0(__NR_getuid);
	si.value = CKPT_JOB_COOKIE | (uint32_t)order_fd;
	r = (int)sys_rt_sigqueueinfo(m->pid, ckpt_cfg.sig, &si);
	for (uint32_t k = 0; !r && k < order.nstopped; k++)
		if (order.stopped[k] == m->pid)		/* it takes the order once continued */
			SC2(__NR_kill, m->pid, 18 /* SIGCONT */);
	return r;
}

/* the order memfd and the pipes: 0, or -errno */
static int make_order(const char *path)
{
	struct job_order *op = &order, o;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t dir = (size_t)(base - path);
	char id[33];
	long fd;

	if (sys_failed(sys_getrandom(ckpt_job.job_id, sizeof(ckpt_job.job_id))))
		return -5;
	cap_hex(id, ckpt_job.job_id, 8);
	id[16] = 0;
	o = *op;				/* the stopped ones, listed already */
	o.magic = JOB_ORDER_MAGIC;
	o.root = (int32_t)sys_getpid();
	memcpy(o.job_id, ckpt_job.job_id, sizeof(o.job_id));
	if (strlen(base) + 30 > sizeof(name_prefix))
		base = "job";			/* too long a name for the table: ".job.ID.PID" */
	img_fmt(name_prefix, sizeof(name_prefix), ".%S.%S.", base, id);
	img_fmt(o.table, sizeof(o.table), "%S", path);
	memcpy(ckpt_job.table, o.table, sizeof(o.table));
	memcpy(o.prefix, path, dir);
	img_fmt(o.prefix + dir, sizeof(o.prefix) - dir, "%S", name_prefix);
	if (sys_failed(sys_pipe2(ctl_pipe, O_CLOEXEC)) || sys_failed(sys_pipe2(go_pipe, O_CLOEXEC)))
		return -24;
	ckpt_job.fds[0] = ctl_pipe[0];		/* libckpt's, not the program's: left out */
	ckpt_job.fds[1] = ctl_pipe[1];
	ckpt_job.fds[2] = go_pipe[0];
	ckpt_job.fds[3] = go_pipe[1];
	o.ctl = ctl_pipe[1];
	o.go = go_pipe[0];
	fd = sys_memfd_create("ckpt-job", 1 /* MFD_CLOEXEC */);
	if (sys_failed(fd))
		return (int)fd;
	ckpt_job.fds[4] = (int)fd;
	*op = o;
	if (sys_write((int)fd, &o, sizeof(o)) != sizeof(o))
		return -5;
	img_fmt(ckpt_job.path, sizeof(ckpt_job.path), "%S%d", o.prefix, o.root);
	return 0;
}

/* The end of this process's part, whatever happened: its job descriptors
 * closed (a writer forked before keeps its copies) */
void cap_job_release(int commit);

void cap_job_end(void)
{
	if (ckpt_job.role == CAP_JOB_ROOT && !released)
		cap_job_release(0);
	for (int i = 0; i < 5; i++) {
		if (ckpt_job.fds[i] >= 0)
			sys_close(ckpt_job.fds[i]);
		ckpt_job.fds[i] = -1;
	}
	ctl_pipe[0] = ctl_pipe[1] = go_pipe[0] = go_pipe[1] = -1;
	ckpt_job.role = 0;
}

/* The root, at the trigger: 0 this process alone (no descendant, or
 * CKPT_JOB=0), 1 a job checkpoint begun (its members told; ckpt_job.path is
 * this process's image in it), -errno refused (said; nothing changed). */
int cap_job_begin(const char *path, int final)
{
	const char *alone = cap_env("CKPT_JOB");
	int r, exit_signal;

	if (alone && !strcmp(alone, "0"))
		return 0;
	nmembers = 1;
	order.nstopped = 0;
	if (cap_childless())
		return 0;
	if (read_stat((int32_t)sys_getpid(), &members[0], &exit_signal))
		return 0;
	members[0].parent = -1;
	members[0].ready = 1;
	if ((r = list_descendants(0, path)))
		return r;
	if (nmembers == 1)
		return 0;
	for (uint32_t i = 1; i < nmembers; i++) {
		const char *why = members[i].state == 'Z' ? 0 : cannot_take_part(&members[i]);

		if (why) {
			cap_say("%s: no checkpoint: pid %d (%s), of the job: %s; the previous image stays "
				"(CKPT_JOB=0 checkpoints this process alone)", path, members[i].pid, members[i].comm,
				why);
			return -1;
		}
	}
	ckpt_job.role = CAP_JOB_ROOT;
	ckpt_job.final = final;
	released = 0;
	memcpy(table_path, path, strlen(path) + 1);
	if ((r = make_order(path))) {
		cap_say("%s: no checkpoint: cannot make the job's order: errno %d", path, -r);
		cap_job_end();
		return r;
	}
	for (uint32_t i = 1; i < nmembers; i++)
		if (members[i].state != 'Z' && send_order(&members[i], ckpt_job.fds[4]) == -3)
			members[i].state = 'X';		/* gone meanwhile: looked at again below */
	return 1;
}

/* ---- a member ---- */

/* The trigger with a job cookie, from the root (an ancestor: preload.c
 * checked): open its order and pipes.
 * 0, or -errno (said: this process then takes no part, and the root,
 * hearing nothing, cancels the checkpoint). */
int cap_job_join(int32_t root, int order_fd)
{
	static struct job_order o CAP_COLD;
	char p[64];
	long fd, ctl, go;

	img_fmt(p, sizeof(p), "/proc/%d/fd/%d", root, order_fd);
	fd = sys_open(p, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(fd) || sys_pread((int)fd, &o, sizeof(o), 0) != sizeof(o) || o.magic != JOB_ORDER_MAGIC ||
	    o.root != root || !memchr(o.prefix, 0, sizeof(o.prefix)) || !memchr(o.table, 0, sizeof(o.table))) {
		cap_say("pid %d's job order cannot be read (%s): no part in its checkpoint", root, p);
		if (!sys_failed(fd))
			sys_close((int)fd);
		return -5;
	}
	img_fmt(p, sizeof(p), "/proc/%d/fd/%d", root, o.ctl);
	ctl = sys_open(p, O_WRONLY | O_CLOEXEC, 0);
	img_fmt(p, sizeof(p), "/proc/%d/fd/%d", root, o.go);
	go = sys_open(p, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(ctl) || sys_failed(go)) {
		cap_say("pid %d's job pipes cannot be opened: no part in its checkpoint", root);
		if (!sys_failed(ctl))
			sys_close((int)ctl);
		if (!sys_failed(go))
			sys_close((int)go);
		sys_close((int)fd);
		return -5;
	}
	ckpt_job.role = CAP_JOB_MEMBER;
	ckpt_job.fds[0] = (int)ctl;
	ckpt_job.fds[1] = (int)go;
	ckpt_job.fds[4] = (int)fd;		/* the order: the shared memory's pieces come after */
	ckpt_job.answered = 0;
	memcpy(ckpt_job.job_id, o.job_id, sizeof(o.job_id));
	memcpy(ckpt_job.table, o.table, sizeof(o.table));
	for (uint32_t k = 0; k < o.nstopped && k < sizeof(o.stopped) / sizeof(o.stopped[0]); k++)
		if (o.stopped[k] == (int32_t)sys_getpid())
			ckpt_job.stop_again = 1;	/* in the image too: a restored one stops again */
	img_fmt(ckpt_job.path, sizeof(ckpt_job.path), "%s%d", o.prefix, (int)sys_getpid());
	return 0;
}

static void tell_root(uint32_t what, int result)
{
	struct job_msg m;

	memset(&m, 0, sizeof(m));
	m.pid = (int32_t)sys_getpid();
	m.what = what;
	m.result = result;
	if (what == MSG_READY)
		m.nown = cap_own_fds(m.own, 12);
	if (ckpt_job.fds[0] >= 0)
		sys_write(ckpt_job.fds[0], &m, sizeof(m));
}

/* A member whose checkpoint ended before it was ready: the root is told why */
void cap_job_not_ready(int err)
{
	if (ckpt_job.role == CAP_JOB_MEMBER && !ckpt_job.answered)
		tell_root(MSG_READY, err ? err : -5);
	ckpt_job.answered = 1;
}

/* Ready (frozen, state read): tell the root, wait for its word.  1: write
 * the image now; 0: the checkpoint was cancelled; (final: 'F') */
static int member_wait(void)
{
	char c = 0;
	long n;

	tell_root(MSG_READY, 0);
	ckpt_job.answered = 1;
	do
		n = sys_read(ckpt_job.fds[1], &c, 1);
	while (n == -4);
	ckpt_job.final = c == 'F';
	return n == 1 && (c == 'G' || c == 'F');
}

/* ---- the root, everyone frozen ---- */

/* wait (up to the deadline) until every live member has said ready */
static int gather_ready(const char *path, int64_t deadline_ms)
{
	struct job_msg m;
	struct { int fd; short events, revents; } pfd = { ctl_pipe[0], 1 /* POLLIN */, 0 };

	for (;;) {
		uint32_t waiting = 0;

		for (uint32_t i = 1; i < nmembers; i++) {
			struct member *x = &members[i];
			int exit_signal;

			if (x->ready || x->state == 'Z')
				continue;
			if (x->state == 'X' || read_stat(x->pid, x, &exit_signal)) {
				x->state = 'X';		/* gone: left out */
				continue;
			}
			if (x->state != 'Z')
				waiting++;
		}
		if (!waiting)
			return 0;
		if ((int64_t)(cap_mono_ns() / 1000000) > deadline_ms) {
			for (uint32_t i = 1; i < nmembers; i++)
				if (!members[i].ready && members[i].state != 'Z' && members[i].state != 'X')
					cap_say("%s: no checkpoint: pid %d (%s), of the job, did not answer in time "
						"(CKPT_JOB_WAIT)", path, members[i].pid, members[i].comm);
			return -62;			/* ETIME */
		}
		if (SC3(__NR_poll, &pfd, 1, 100) <= 0)
			continue;
		if (sys_read(ctl_pipe[0], &m, sizeof(m)) != sizeof(m) || m.what != MSG_READY)
			continue;
		for (uint32_t i = 1; i < nmembers; i++)
			if (members[i].pid == m.pid) {
				if (m.result) {
					cap_say("%s: no checkpoint: pid %d (%s), of the job, could not take part (errno "
						"%d, said above)", path, m.pid, members[i].comm, -m.result);
					return m.result;
				}
				members[i].ready = 1;
				members[i].nown = m.nown < 12 ? m.nown : 12;
				memcpy(members[i].own, m.own, sizeof(m.own));
			}
	}
}

/* every descendant frozen and ready, none new: 0, or -errno */
static int freeze_all(const char *path)
{
	const char *w = cap_env("CKPT_JOB_WAIT");
	int64_t wait_ms = 10000;

	if (w && *w) {
		const char *p = w;
		uint64_t s = img_parse_num(&p, 10);

		if (!*p && s > 0 && s <= 3600)
			wait_ms = (int64_t)s * 1000;
	}
	wait_ms += (int64_t)(cap_mono_ns() / 1000000);
	members[0].nown = cap_own_fds(members[0].own, 12);
	for (int round = 0; round < 8; round++) {
		uint32_t before = nmembers;
		int r = gather_ready(path, wait_ms);

		if (r)
			return r;
		if ((r = list_descendants(0, path)))
			return r;
		if (nmembers == before)
			return 0;
		for (uint32_t i = before; i < nmembers; i++) {	/* forked before their parent froze */
			const char *why = members[i].state == 'Z' ? 0 : cannot_take_part(&members[i]);

			if (why) {
				cap_say("%s: no checkpoint: pid %d (%s), of the job: %s", path, members[i].pid,
					members[i].comm, why);
				return -1;
			}
			if (members[i].state != 'Z' &&
			    sys_pwrite(ckpt_job.fds[4], &order, sizeof(order), 0) == sizeof(order) &&
			    send_order(&members[i], ckpt_job.fds[4]) == -3)
				members[i].state = 'X';
		}
	}
	cap_say("%s: no checkpoint: the job kept making processes while it was being stopped", path);
	return -11;
}

static int is_own(const struct member *m, int32_t fd)
{
	for (uint32_t k = 0; k < m->nown; k++)
		if (m->own[k] == fd)
			return 1;
	return 0;
}

/* every descriptor of every live member into job.fds, by process then fd */
static int list_job_fds(const char *path, uint32_t *n)
{
	static char dents[16384] CAP_COLD;
	struct cap_job_work *J = &ckpt_scratch.job;

	*n = 0;
	for (uint32_t i = 0; i < nmembers; i++) {
		char where[64], info[1024];
		uint32_t first = *n;
		long dir, len;

		if (members[i].state == 'Z' || members[i].state == 'X')
			continue;
		img_fmt(where, sizeof(where), "/proc/%d/fd", members[i].pid);
		dir = sys_open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (sys_failed(dir)) {
			cap_say("%s: no checkpoint: pid %d (%s): cannot read its descriptors (errno %d)", path,
				members[i].pid, members[i].comm, (int)-dir);
			return (int)dir;
		}
		while ((len = sys_getdents64((int)dir, dents, sizeof(dents))) > 0)
			for (long at = 0; at < len; ) {
				const char *name = dents + at + 19, *p = name;
				struct cap_job_fd *f = &J->fds[*n];
				struct ksys_stat st;
				uint16_t reclen;
				char link[32];
				long l;

				memcpy(&reclen, dents + at + 16, 2);
				at += reclen;
				if (*name < '0' || *name > '9')
					continue;
				f->fd = (int32_t)num(&p);
				if ((i == 0 && f->fd == (int32_t)dir) || is_own(&members[i], f->fd))
					continue;
				img_fmt(where, sizeof(where), "/proc/%d/fd/%d", members[i].pid, f->fd);
				if (sys_failed(sys_stat(where, &st)))
					continue;	/* closed meanwhile, or a file we may not stat */
				l = sys_readlink(where, link, sizeof(link) - 1);
				link[l > 0 ? l : 0] = 0;
				f->pipe = !strncmp(link, "pipe:[", 6);
				f->sock = !strncmp(link, "socket:[", 8);
				f->dev = st.st_dev;
				f->ino = st.st_ino;
				f->proc = i;
				f->group = -1;
				img_fmt(where, sizeof(where), "/proc/%d/fdinfo/%d", members[i].pid, f->fd);
				f->flags = 0;
				f->pidfd_of = 0;
				if (cap_read_small(where, info, sizeof(info)) > 0 && (p = cap_field(info, "flags:")))
					f->flags = (uint32_t)img_parse_num(&p, 8);
				if (!strcmp(link, "anon_inode:[pidfd]"))
					f->pidfd_of = (p = cap_field(info, "Pid:")) && *p != '-' ? (int32_t)num(&p) : -1;
				if (++*n == CKPT_JOB_MAX_REFS) {
					sys_close((int)dir);
					cap_say("%s: no checkpoint: the job holds more than %u descriptors", path,
						CKPT_JOB_MAX_REFS);
					return -24;
				}
			}
		sys_close((int)dir);
		for (uint32_t a = first + 1; a < *n; a++)	/* by fd */
			for (uint32_t b = a; b > first && J->fds[b - 1].fd > J->fds[b].fd; b--) {
				struct cap_job_fd t = J->fds[b];

				J->fds[b] = J->fds[b - 1];
				J->fds[b - 1] = t;
			}
	}
	return 0;
}

/* the bytes in a pipe, read through a new description of its read end
 * (/proc/PID/fd/N) with tee: the program's pipe keeps them */
static int peek_job_pipe(const struct cap_job_fd *rd, struct ckpt_job_obj *o, uint64_t *used)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	char where[64];
	int tmp[2];
	long fd, n = 0, avail = 0, got = 0;

	img_fmt(where, sizeof(where), "/proc/%d/fd/%d", members[rd->proc].pid, rd->fd);
	fd = sys_open(where, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return (int)fd;
	o->pipe_size = (uint32_t)sys_fcntl((int)fd, 1032 /* F_GETPIPE_SZ */, 0);
	if (sys_failed(sys_ioctl((int)fd, 0x541B /* FIONREAD */, &avail)) || (uint64_t)avail > CAP_JOB_PIPE_MAX - *used) {
		sys_close((int)fd);
		return -28;
	}
	o->data_len = 0;
	if (avail > 0) {
		if (sys_failed(sys_pipe2(tmp, O_CLOEXEC | O_NONBLOCK))) {
			sys_close((int)fd);
			return -24;
		}
		sys_fcntl(tmp[1], 1031 /* F_SETPIPE_SZ */, avail);
		n = sys_tee((int)fd, tmp[1], (size_t)avail, 2 /* SPLICE_F_NONBLOCK */);
		while (n > 0 && got < n) {
			long r = sys_read(tmp[0], J->data + *used + got, (size_t)(n - got));

			if (r <= 0)
				break;
			got += r;
		}
		sys_close(tmp[0]);
		sys_close(tmp[1]);
		if (n < 0 || got != avail) {
			sys_close((int)fd);
			return n < 0 ? (int)n : -5;
		}
	}
	sys_close((int)fd);
	o->data_off = *used;			/* relative to data[]: placed when written */
	o->data_len = (uint64_t)got;
	o->data_crc = ckpt_crc32c(0, J->data + *used, (uint64_t)got);
	*used += (uint64_t)got;
	return 0;
}

/* Is the other end of f's pipe closed everywhere (make's stdin for its jobs,
 * a pipe whose writer has exited)?  poll on f's own description (taken
 * with pidfd_getfd: one opened anew would not say) gives POLLHUP on a read
 * end without writers, POLLERR on a write end without readers. */
/* f's own open file description, in this process (pidfd_getfd): an fd, or -errno */
static long take(const struct cap_job_fd *f)
{
	long pidfd = SC2(__NR_pidfd_open, members[f->proc].pid, 0), fd;

	if (sys_failed(pidfd))
		return pidfd;
	fd = SC3(__NR_pidfd_getfd, pidfd, f->fd, 0);	/* close-on-exec already */
	sys_close((int)pidfd);
	return fd;
}

static int other_end_closed(const struct cap_job_fd *f)
{
	struct { int fd; short events, revents; } pfd = { -1, 0, 0 };
	long fd = take(f);

	if (sys_failed(fd))
		return 0;
	pfd.fd = (int)fd;
	SC3(__NR_poll, &pfd, 1, 0);
	sys_close((int)fd);
	return (f->flags & 3) == O_WRONLY ? (pfd.revents & 8 /* POLLERR */) != 0 : (pfd.revents & 16 /* POLLHUP */) != 0;
}

/* The queue of the UNIX socket f (the bytes its holders would read next),
 * appended to job.data as records; its length into *len.  0, or -errno
 * (said): an out-of-band byte, descriptors in flight, too much.  The
 * restorer queues those bytes again from the process that makes the pair:
 * read with SO_PASSCRED, they come with its credentials (said). */
static int peek_unix(const char *path, const struct cap_job_fd *f, int type, uint64_t *used, uint64_t *len)
{
	long fd = take(f);
	uint64_t count;
	uint32_t tl = 4;
	int err, cred = 0;

	if (sys_failed(fd))
		return (int)fd;
	sys_getsockopt((int)fd, KSYS_SOL_SOCKET, KSYS_SO_PASSCRED, &cred, &tl);
	err = cap_oob_queued((int)fd) ? -95 :
	      cap_peek_queue((int)fd, 1, type, 0, (char *)ckpt_scratch.job.data + *used, CAP_JOB_PIPE_MAX - *used,
			     len, &count);
	sys_close((int)fd);
	if (!err && cred && count)
		cap_say("%s: notice: pid %d (%s) fd %d: what is queued on its UNIX connection (SO_PASSCRED) comes "
			"back with the credentials of the process of the job that makes the connection again, not "
			"its senders'", path, members[f->proc].pid, members[f->proc].comm, f->fd);
	if (err)
		cap_say("%s: no checkpoint: pid %d (%s) fd %d: its UNIX connection to another process of the job "
			"has %s queued", path, members[f->proc].pid, members[f->proc].comm, f->fd,
			err == -95 ? "an out-of-band byte" : err == -1 ? "descriptors (SCM_RIGHTS)" :
								 "more than the job's queues may hold");
	*used += err ? 0 : *len;
	return err ? -1 : 0;
}

/* A UNIX connection whose ends the job's processes hold, and not one of them
 * alone: a UNIX_PAIR object (-1: none), -errno refused */
static int unix_pair(const char *path, uint32_t n, uint32_t a, uint32_t nobjs, uint64_t *used)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	struct cap_job_fd *f = &J->fds[a];
	struct ckpt_job_obj *o = &J->objs[nobjs];
	uint64_t peer = 0, back = 0, len0 = 0, len1 = 0, at = *used;
	uint32_t shut = 0, other = n, others = 0;
	int type = 0;
	uint32_t tl = 4;
	long fd;

	if (!f->sock || cap_unix_peer_of(f->ino, &peer, &shut) || !peer)
		return -1;
	for (uint32_t b = 0; b < n; b++) {
		const struct cap_job_fd *g = &J->fds[b];

		if (!g->sock || g->dev != f->dev || (g->ino != f->ino && g->ino != peer))
			continue;
		if (g->ino == peer && other == n)
			other = b;
		others |= g->proc != f->proc;
	}
	if (other == n || !others)
		return -1;		/* its peer is outside the job, or both ends are in one process */
	if (nobjs == CKPT_JOB_MAX_OBJS)
		return -24;
	fd = take(f);
	if (!sys_failed(fd)) {
		sys_getsockopt((int)fd, KSYS_SOL_SOCKET, 3 /* SO_TYPE */, &type, &tl);
		sys_close((int)fd);
	}
	if (type != KSYS_SOCK_STREAM && type != KSYS_SOCK_DGRAM && type != KSYS_SOCK_SEQPACKET)
		return -1;
	if (cap_unix_peer_of(peer, &back, &shut) || back != f->ino)
		return -1;		/* (its other end went meanwhile) */
	if (peek_unix(path, f, type, used, &len0) || peek_unix(path, &J->fds[other], type, used, &len1))
		return -5;
	memset(o, 0, sizeof(*o));
	o->kind = CKPT_JOB_UNIX_PAIR;
	o->owner = f->proc;
	o->owner_fd = -1;
	o->pipe_size = (uint32_t)type;
	o->data_off = at;
	o->data_len = len0 + len1;
	o->split = (uint32_t)len0;
	o->data_crc = ckpt_crc32c(0, J->data + at, o->data_len);
	for (uint32_t b = 0; b < n; b++) {
		struct cap_job_fd *g = &J->fds[b];

		if (g->sock && g->dev == f->dev && (g->ino == f->ino || g->ino == peer)) {
			g->group = (int32_t)nobjs;
			g->pair_end = g->ino == peer;
			if (g->proc < o->owner)
				o->owner = g->proc;
		}
	}
	return 0;
}

static int same_file(const struct cap_job_fd *a, const struct cap_job_fd *b)
{
	return a->dev == b->dev && a->ino == b->ino &&
	       sys_kcmp(members[a->proc].pid, members[b->proc].pid, 0 /* KCMP_FILE */, a->fd, b->fd) == 0;
}

/* is f a UNIX socket connected to one no process of the job holds? */
static int unix_peer_outside(uint32_t n, const struct cap_job_fd *f)
{
	uint64_t peer = 0;
	uint32_t shut;

	if (cap_unix_peer_of(f->ino, &peer, &shut) || !peer)
		return 0;
	for (uint32_t b = 0; b < n; b++)
		if (ckpt_scratch.job.fds[b].sock && ckpt_scratch.job.fds[b].ino == peer)
			return 0;
	return 1;
}

/* does a process of the job hold the other end of f's pipe? */
static int other_end_here(uint32_t n, const struct cap_job_fd *f)
{
	const struct cap_job_fd *fds = ckpt_scratch.job.fds;

	for (uint32_t b = 0; b < n; b++)
		if (fds[b].pipe && fds[b].ino == f->ino && fds[b].dev == f->dev &&
		    ((fds[b].flags & 3) == O_WRONLY) != ((f->flags & 3) == O_WRONLY))
			return 1;
	return 0;
}

/* The pipes whose two ends are in the job, and the open files two processes
 * share, as objects; each descriptor of them as a ref. */
static int find_shared(const char *path, uint32_t n)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	uint64_t used = 0;
	uint32_t nobjs = 0;

	for (uint32_t a = 0; a < n; a++) {
		struct cap_job_fd *f = &J->fds[a];
		int procs = 0, reads = 0, writes = 0, r;
		int32_t rd = -1;

		if (f->group >= 0)
			continue;
		for (uint32_t b = a; b < n; b++) {	/* a pipe: everyone holding either end */
			struct cap_job_fd *g = &J->fds[b];

			if (!f->pipe || !g->pipe || g->ino != f->ino || g->dev != f->dev)
				continue;
			procs |= g->proc != f->proc;
			if ((g->flags & 3) == O_WRONLY)
				writes++;
			else if (rd < 0)
				rd = (int32_t)b, reads++;
		}
		if (f->pipe && (procs ? reads && writes : 0))
			;
		else if (f->pipe && !(reads && writes) && other_end_closed(&J->fds[reads ? rd : (int32_t)a]))
			procs = 1;		/* one end only, the other closed everywhere: made so */
		else
			procs = 0;
		if (f->pipe && procs) {
			struct ckpt_job_obj *o = &J->objs[nobjs];

			if (nobjs == CKPT_JOB_MAX_OBJS)
				return -24;
			memset(o, 0, sizeof(*o));
			o->kind = CKPT_JOB_PIPE;
			o->owner = f->proc;
			o->owner_fd = -1;
			if ((r = peek_job_pipe(&J->fds[rd], o, &used))) {
				cap_say("%s: no checkpoint: pid %d (%s) fd %d: the bytes in its pipe cannot be read "
					"(errno %d; the job's pipes may hold %u bytes at most)", path,
					members[J->fds[rd].proc].pid, members[J->fds[rd].proc].comm, J->fds[rd].fd, -r,
					CAP_JOB_PIPE_MAX);
				return r;
			}
			for (uint32_t b = a; b < n; b++)
				if (J->fds[b].pipe && J->fds[b].ino == f->ino && J->fds[b].dev == f->dev)
					J->fds[b].group = (int32_t)nobjs;
			nobjs++;
			continue;
		}
		r = f->pipe ? -1 : unix_pair(path, n, a, nobjs, &used);
		if (r >= 0) {
			nobjs++;
			continue;
		}
		if (r < -1)
			return r;
		/* one open file description in two or more processes */
		f->group = -2;
		procs = 0;
		for (uint32_t b = a + 1; b < n; b++)
			if (J->fds[b].group == -1 && same_file(f, &J->fds[b])) {
				J->fds[b].group = -3;	/* this one, for now */
				procs |= J->fds[b].proc != f->proc;
			}
		if (!procs) {
			for (uint32_t b = a + 1; b < n; b++)
				if (J->fds[b].group == -3)
					J->fds[b].group = -1;	/* a dup inside one process: its image has it */
			continue;
		}
		if (nobjs == CKPT_JOB_MAX_OBJS)
			return -24;
		memset(&J->objs[nobjs], 0, sizeof(J->objs[nobjs]));
		J->objs[nobjs].kind = CKPT_JOB_FILE;
		J->objs[nobjs].owner = f->proc;
		J->objs[nobjs].owner_fd = f->fd;
		f->group = (int32_t)nobjs;
		for (uint32_t b = a + 1; b < n; b++)
			if (J->fds[b].group == -3)
				J->fds[b].group = (int32_t)nobjs;
		nobjs++;
	}
	J->hdr.nobjs = nobjs;
	J->hdr.nrefs = 0;
	for (uint32_t a = 0; a < n; a++) {
		const struct cap_job_fd *f = &J->fds[a];
		struct ckpt_job_ref *r = &J->refs[J->hdr.nrefs];

		if (f->pidfd_of && f->pidfd_of != members[f->proc].pid &&
		    (f->pidfd_of < 0 || find(f->pidfd_of) < 0 || members[find(f->pidfd_of)].state == 'X'))
			cap_say("%s: not restored: pid %d (%s) fd %d: a pidfd of %s", path, members[f->proc].pid,
				members[f->proc].comm, f->fd, f->pidfd_of < 0 ? "a process gone" :
				"a process outside the job");
		if (f->group < 0 && f->sock && unix_peer_outside(n, f))
			cap_say("%s: not restored: pid %d (%s) fd %d: a UNIX connection to a process outside the job",
				path, members[f->proc].pid, members[f->proc].comm, f->fd);
		if (f->group < 0) {
			if (f->pipe && (f->fd > 2 || f->proc) && !other_end_here(n, f))
				cap_say("%s: not restored: pid %d (%s) fd %d (pipe): its other end is outside the job",
					path, members[f->proc].pid, members[f->proc].comm, f->fd);
			continue;
		}
		r->proc = f->proc;
		r->fd = f->fd;
		r->obj = (uint32_t)f->group;
		r->end = J->objs[f->group].kind == CKPT_JOB_PIPE ? (f->flags & 3) == O_WRONLY :
			 J->objs[f->group].kind == CKPT_JOB_UNIX_PAIR ? f->pair_end : 0;
		J->hdr.nrefs++;
	}
	J->hdr.data_off = used;			/* for now: the bytes used */
	return 0;
}

/* Memory the job's processes map shared from one object that a restore
 * would otherwise make once for each (MAP_SHARED anonymous, SysV shm, a
 * memfd): each such mapping of a live process, read from /proc/PID/maps
 * while the job is stopped.  A shared mapping of a file on disk or in
 * /dev/shm is mapped again from that file by each, and stays shared. */
#define MAX_SHM_PIECES	1024u
#define MAX_SHM_OBJS	64u
static struct shm_piece {
	uint32_t proc;			/* member index */
	int32_t obj;			/* its object's index in the table, -1 none (yet) */
	int memfd;			/* a memfd's mapping ("/memfd:") */
	int sysv;			/* a SysV segment ("/SYSV"): ino is its shmid, not an inode's */
	uint64_t ino, start, end, offset;
} pieces[MAX_SHM_PIECES] CAP_COLD;
static uint32_t npieces;
static struct shadow {			/* an object's content, copied while the job is stopped */
	uint64_t copy, size;		/* a private mapping of the root's (0: none) */
	uint64_t *has;			/* a bit per page copied (a mapping of size / 4096 bits) */
	uint32_t obj;
} shadows[MAX_SHM_OBJS] CAP_COLD;
static uint32_t nshadows;

static uint64_t has_bytes(uint64_t size)		/* the bitmap's, in whole pages */
{
	return (CKPT_JOB_SHM_BITMAP(size) + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
}

static void drop_shadows(void)
{
	for (uint32_t k = 0; k < nshadows; k++) {
		if (shadows[k].copy)
			sys_munmap(shadows[k].copy, shadows[k].size);
		if (shadows[k].has)
			sys_munmap((uint64_t)shadows[k].has, has_bytes(shadows[k].size));
	}
	nshadows = 0;
}

/* one line of /proc/PID/maps: a piece when it maps shared memory of that kind */
static int add_piece(const char *path, uint32_t proc, const char *p)
{
	uint64_t start, end, offset, ino;
	int shared;

	start = img_parse_num(&p, 16);
	p++;
	end = img_parse_num(&p, 16);
	shared = p[4] == 's';
	p += 6;					/* " rwxs " */
	offset = img_parse_num(&p, 16);
	while (*p == ' ')
		p++;
	while (*p && *p != ' ')			/* the device */
		p++;
	while (*p == ' ')
		p++;
	ino = img_parse_num(&p, 10);
	while (*p == ' ')
		p++;
	/* a SysV segment's "inode" is its shmid, and the first one made on a
	 * machine is 0 */
	if (!shared || (!ino && strncmp(p, "/SYSV", 5)) ||
	    (strncmp(p, "/dev/zero", 9) && strncmp(p, "/SYSV", 5) && strncmp(p, "/memfd:", 7) &&
	     strncmp(p, "[anon_shmem:", 12)) || !strcmp(p, "[anon_shmem:ckpt page hashes]"))
		return 0;			/* (libckpt's own store: a forked child drops it) */
	if (npieces == MAX_SHM_PIECES) {
		cap_say("%s: no checkpoint: the job maps shared memory in more than %u pieces", path,
			MAX_SHM_PIECES);
		return -1;
	}
	pieces[npieces++] = (struct shm_piece){ proc, -1, !strncmp(p, "/memfd:", 7), !strncmp(p, "/SYSV", 5), ino,
						start, end, offset };
	return 0;
}

static int same_object(const struct shm_piece *a, const struct shm_piece *b)
{
	return a->ino == b->ino && a->sysv == b->sysv && a->memfd == b->memfd;
}

static int list_shared_memory(const char *path)
{
	static char buf[65536] CAP_COLD;

	npieces = 0;
	for (uint32_t i = 0; i < nmembers; i++) {
		char where[48];
		long fd, n, have = 0;

		if (members[i].state == 'Z' || members[i].state == 'X')
			continue;
		img_fmt(where, sizeof(where), "/proc/%d/maps", members[i].pid);
		fd = sys_open(where, O_RDONLY | O_CLOEXEC, 0);
		if (sys_failed(fd))
			continue;
		while ((n = sys_read((int)fd, buf + have, sizeof(buf) - 1 - (size_t)have)) > 0 || have) {
			char *line = buf, *nl;

			have += n > 0 ? n : 0;
			buf[have] = 0;
			while ((nl = strchr(line, '\n'))) {
				*nl = 0;
				if (add_piece(path, i, line)) {
					sys_close((int)fd);
					return -1;
				}
				line = nl + 1;
			}
			have -= line - buf;
			memmove(buf, line, (size_t)have);
			if (n <= 0 || have == (long)sizeof(buf) - 1)
				break;
		}
		sys_close((int)fd);
	}
	return 0;
}

/* Does the machine swap?  Without swap, a page of shared anonymous or SysV
 * memory exists only where some process has it in its page tables (its
 * pagemap says present); with swap, one swapped out is in none. */
static int machine_swaps(void)
{
	char text[4096];
	const char *v;

	if (cap_read_small("/proc/meminfo", text, sizeof(text)) <= 0 || !(v = cap_field(text, "SwapTotal")))
		return 1;
	while (*v == ' ')
		v++;
	return img_parse_num(&v, 10) != 0;
}

/* Bytes [at, at + len) of process pid's memory into the copy at off */
static int copy_range(long mem, const struct shm_piece *q, uint64_t at, uint64_t len, struct shadow *sh)
{
	for (uint64_t done = 0; done < len; ) {
		long r = sys_pread((int)mem, (void *)(sh->copy + q->offset + (at - q->start) + done), len - done,
				   (int64_t)(at + done));

		if (r <= 0)
			return r ? (int)r : -5;
		done += (uint64_t)r;
	}
	for (uint64_t pg = (q->offset + (at - q->start)) / CKPT_PAGE_SIZE, n = len / CKPT_PAGE_SIZE; n--; pg++)
		sh->has[pg / 64] |= 1ull << (pg % 64);
	return 0;
}

/* One piece: every page of it (dense), or the pages its process has in its
 * page tables (present or swapped, pagemap bits 63 and 62) that no piece
 * before gave: reading a hole of shared memory through /proc/PID/mem would
 * make it a page, and a large sparse mapping would cost its whole size */
static int copy_piece(const struct shm_piece *q, struct shadow *sh, int dense)
{
	static uint64_t ent[512] CAP_COLD;
	char where[48];
	long mem, pm = -1;
	int r = 0;

	img_fmt(where, sizeof(where), "/proc/%d/mem", members[q->proc].pid);
	mem = sys_open(where, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(mem))
		return (int)mem;
	if (dense) {
		r = copy_range(mem, q, q->start, q->end - q->start, sh);
		sys_close((int)mem);
		return r;
	}
	img_fmt(where, sizeof(where), "/proc/%d/pagemap", members[q->proc].pid);
	pm = sys_open(where, O_RDONLY | O_CLOEXEC, 0);
	for (uint64_t a = q->start; !r && a < q->end; ) {
		uint64_t n = (q->end - a) / CKPT_PAGE_SIZE, run = 0;
		long got;

		n = n > 512 ? 512 : n;
		got = sys_failed(pm) ? pm : sys_pread((int)pm, ent, n * 8, (int64_t)(a / CKPT_PAGE_SIZE * 8));
		if (got != (long)(n * 8)) {
			r = got < 0 ? (int)got : -5;
			break;
		}
		for (uint64_t i = 0; i <= n && !r; i++) {	/* runs of pages to take, then one past */
			uint64_t pg = (q->offset + (a - q->start)) / CKPT_PAGE_SIZE + i;
			int take = i < n && (ent[i] >> 62) && !(sh->has[pg / 64] >> (pg % 64) & 1);

			if (take) {
				run++;
				continue;
			}
			if (run)
				r = copy_range(mem, q, a + (i - run) * CKPT_PAGE_SIZE, run * CKPT_PAGE_SIZE, sh);
			run = 0;
		}
		a += n * CKPT_PAGE_SIZE;
	}
	if (!sys_failed(pm))
		sys_close((int)pm);
	sys_close((int)mem);
	return r;
}

/* pieces[first..] of one object: its content copied, a piece another one
 * before it covers skipped.  A memfd (whose pages a write() may have made
 * without any mapping) and any object on a machine that swaps are read whole;
 * shared anonymous and SysV memory otherwise by the pages the processes
 * have (swaps: machine_swaps()).  0, or -errno. */
static int copy_object(struct shadow *sh, uint32_t first, int swaps)
{
	int dense = pieces[first].memfd || swaps;
	long r = sys_mmap(0, sh->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long h = sys_mmap(0, has_bytes(sh->size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	sh->copy = sys_failed(r) ? 0 : (uint64_t)r;
	sh->has = sys_failed(h) ? 0 : (uint64_t *)h;
	if (!sh->copy || !sh->has)
		return sys_failed(r) ? (int)r : (int)h;
	for (uint32_t j = first; j < npieces; j++) {
		const struct shm_piece *q = &pieces[j];
		int covered = 0;

		if (q->obj != (int32_t)sh->obj)
			continue;
		for (uint32_t k = first; k < j && !covered && dense; k++)
			covered = pieces[k].obj == q->obj && pieces[k].offset <= q->offset &&
				  pieces[k].offset + (pieces[k].end - pieces[k].start) >= q->offset + (q->end - q->start);
		if (!covered && (r = copy_piece(q, sh, dense)))
			return (int)r;
	}
	return 0;
}

/* After the order, in its memfd: the pieces of the job's shared memory
 * (each process then stores none of their pages in its own image) */
struct piece_list {
	uint32_t magic, n;
	struct { int32_t pid; uint32_t pad; uint64_t start, end; } p[MAX_SHM_PIECES];
};
#define PIECES_MAGIC	0x65636970u		/* "pice" */

static void publish_pieces(void)
{
	static struct piece_list l CAP_COLD;

	l.magic = PIECES_MAGIC;
	l.n = 0;
	for (uint32_t i = 0; i < npieces; i++)
		if (pieces[i].obj >= 0) {
			l.p[l.n].pid = members[pieces[i].proc].pid;
			l.p[l.n].pad = 0;
			l.p[l.n].start = pieces[i].start;
			l.p[l.n++].end = pieces[i].end;
		}
	sys_pwrite(ckpt_job.fds[4], &l, 8 + l.n * sizeof(l.p[0]), sizeof(struct job_order));
}

/* This process, the job read and let go (cap_job_barrier): each region of
 * its that is a piece of the job's shared memory loses its runs (the table's
 * object has the pages, of the moment the job stopped) and is marked so. */
void cap_job_drop_shared(struct cap_walk *w)
{
	static struct piece_list l CAP_COLD;
	int32_t me = (int32_t)sys_getpid();
	uint32_t out = 0;

	if (sys_pread(ckpt_job.fds[4], &l, sizeof(l), sizeof(struct job_order)) < 8 || l.magic != PIECES_MAGIC ||
	    l.n > MAX_SHM_PIECES)
		return;
	for (uint32_t vi = 0; vi < w->nvmas; vi++) {
		struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
		uint32_t first = v->run_first, n = v->run_count, shared = 0;

		for (uint32_t k = 0; k < l.n && !shared && (v->flags & CKPT_MAP_SHARED); k++)
			shared = l.p[k].pid == me && l.p[k].start == v->start && l.p[k].end == v->end;
		v->run_first = out;
		if (shared) {
			v->flags |= CKPT_MAP_JOB_SHARED;
			v->run_count = 0;
			v->pages_stored = 0;
			continue;
		}
		memmove(&ckpt_scratch.runs[out], &ckpt_scratch.runs[first], n * sizeof(ckpt_scratch.runs[0]));
		out += n;
	}
	w->nruns = out;
}

/* Each object two or more live processes map (pieces of one inode): a
 * CKPT_JOB_SHM object, its struct ckpt_job_shm and maps in the table's data
 * (processes as table indices: index[]), its content copied now, while
 * nothing of the job runs; the writer writes it beside the table. */
static int add_shared_memory(const char *path, const int32_t *index)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	uint64_t used = J->hdr.data_off;
	int r, swaps = -1;

	for (uint32_t i = 0; i < npieces; i++) {
		struct ckpt_job_obj *o = &J->objs[J->hdr.nobjs];
		struct ckpt_job_shm *m = (struct ckpt_job_shm *)(J->data + used);
		struct ckpt_job_shm_map *map = (struct ckpt_job_shm_map *)(m + 1);
		struct shadow *sh = &shadows[nshadows];
		int others = 0;

		if (pieces[i].obj >= 0)
			continue;
		for (uint32_t j = i + 1; j < npieces; j++)
			others |= same_object(&pieces[j], &pieces[i]) && pieces[j].proc != pieces[i].proc;
		if (!others)
			continue;		/* one process's own: its image has it */
		if (J->hdr.nobjs == CKPT_JOB_MAX_OBJS || nshadows == MAX_SHM_OBJS ||
		    used + sizeof(*m) + (uint64_t)npieces * sizeof(*map) > sizeof(J->data)) {
			cap_say("%s: no checkpoint: the job shares memory between its processes through more objects "
				"than a table holds (%u)", path, MAX_SHM_OBJS);
			return -1;
		}
		memset(o, 0, sizeof(*o));
		memset(m, 0, sizeof(*m));
		o->kind = CKPT_JOB_SHM;
		o->owner = (uint32_t)index[pieces[i].proc];
		o->owner_fd = -1;
		o->data_off = used;
		img_fmt(m->file, sizeof(m->file), "%Sm%u", name_prefix, J->hdr.nobjs);
		for (uint32_t j = i; j < npieces; j++) {
			struct shm_piece *q = &pieces[j];

			if (!same_object(q, &pieces[i]))
				continue;
			q->obj = (int32_t)J->hdr.nobjs;
			if (q->offset + (q->end - q->start) > m->size)
				m->size = q->offset + (q->end - q->start);
			memset(&map[m->nmaps], 0, sizeof(*map));
			map[m->nmaps].proc = (uint32_t)index[q->proc];
			map[m->nmaps].start = q->start;
			map[m->nmaps].end = q->end;
			map[m->nmaps++].offset = q->offset;
		}
		o->data_len = sizeof(*m) + (uint64_t)m->nmaps * sizeof(*map);
		sh->size = m->size;
		sh->obj = J->hdr.nobjs;
		sh->copy = 0;
		sh->has = 0;
		nshadows++;
		if (swaps < 0)
			swaps = machine_swaps();	/* (once a checkpoint) */
		if ((r = copy_object(sh, i, swaps))) {
			cap_say("%s: no checkpoint: pid %d (%s): its memory shared with the job's other processes (0x%lx) "
				"cannot be read: errno %d", path, members[pieces[i].proc].pid, members[pieces[i].proc].comm,
				pieces[i].start, -r);
			drop_shadows();
			return -1;
		}
		used += o->data_len;
		J->hdr.nobjs++;
	}
	J->hdr.data_off = used;
	publish_pieces();
	return 0;
}

/* the table in ckpt_scratch.job, but for the data's place in the file */
static int build_table(const char *path)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	uint32_t n, k = 0;
	int32_t index[CKPT_JOB_MAX_PROCS];
	int r;

	if (list_shared_memory(path))
		return -1;
	if ((r = list_job_fds(path, &n)) || (r = find_shared(path, n)))
		return r;
	/* the processes that stay: live ones and zombies, in tree order */
	for (uint32_t i = 0; i < nmembers; i++) {
		struct member *m = &members[i];
		struct ckpt_job_proc *p = &J->procs[k];
		int exit_signal;

		index[i] = -1;
		if (m->state == 'Z' && (read_stat(m->pid, m, &exit_signal) || m->state != 'Z' ||
					m->ppid != members[m->parent].pid))
			m->state = 'X';		/* reaped before its parent stopped: not the job's now */
		if (m->state == 'X' || (i && (m->parent < 0 || index[m->parent] < 0)))
			continue;
		memset(p, 0, sizeof(*p));
		p->pid = m->pid;
		p->parent = i ? index[m->parent] : -1;
		p->pgid = m->pgid;
		p->sid = m->sid;
		p->state = m->state == 'Z' ? CKPT_JOB_ZOMBIE : CKPT_JOB_LIVE;
		p->status = m->state == 'Z' ? m->exit_code & 0xffff : 0;
		memcpy(p->comm, m->comm, sizeof(p->comm) - 1);
		if (p->state == CKPT_JOB_LIVE)
			img_fmt(p->image, sizeof(p->image), "%S%d", name_prefix, m->pid);
		index[i] = (int32_t)k++;
	}
	J->hdr.nprocs = k;
	for (uint32_t r2 = 0; r2 < J->hdr.nrefs; r2++)		/* member index -> table index */
		J->refs[r2].proc = (uint32_t)index[J->refs[r2].proc];
	for (uint32_t o = 0; o < J->hdr.nobjs; o++)
		J->objs[o].owner = (uint32_t)index[J->objs[o].owner];
	return add_shared_memory(path, index);
}

/* The root, frozen with its own state read: every member frozen too, the
 * table built.  0, or -errno (said): the checkpoint is cancelled. */
int cap_job_gather(void)
{
	int r = freeze_all(table_path);

	if (!r)
		r = build_table(table_path);
	return r;
}

/* The root, once its writer is forked (commit) or the checkpoint cancelled:
 * every member goes on (writing its image first when commit). */
void cap_job_release(int commit)
{
	char c = !commit ? 'A' : ckpt_job.final ? 'F' : 'G';

	if (!commit)
		drop_shadows();

	released = 1;
	for (uint32_t i = 1; i < nmembers; i++)
		if (go_pipe[1] >= 0 && members[i].ready)
			sys_write(go_pipe[1], &c, 1);
}

/* In a member, after its state is read: 1 go on and write, 0 cancelled.  In
 * the root: the whole job frozen and read (cap_job_gather). */
int cap_job_barrier(void)
{
	if (ckpt_job.role == CAP_JOB_MEMBER)
		return member_wait() ? 0 : -125;	/* ECANCELED */
	return cap_job_gather();
}

/* The root, its writer forked: the copies of the job's shared memory are
 * the writer's now; the program's memory is as it was. */
void cap_job_forked(void)
{
	drop_shadows();
}

/* ---- the root's writer, once its own image is written ---- */

/* the member images the job table at path names (none if it is not one),
 * appended to names[n..max); the new count */
static uint32_t members_of(const char *path, char (*names)[88], uint32_t n, uint32_t max)
{
	struct img_job t;
	struct img_err e;

	if (!img_job_is(path))
		return n;
	if (!img_job_open(&t, path, &e)) {
		for (uint32_t i = 0; i < t.hdr.nprocs && n < max; i++)
			if (t.procs[i].state == CKPT_JOB_LIVE)
				memcpy(names[n++], t.procs[i].image, 88);
		for (uint32_t k = 0; k < t.hdr.nobjs && n < max; k++)	/* shared memory's content */
			if (t.objs[k].kind == CKPT_JOB_SHM)
				memcpy(names[n++], ((const struct ckpt_job_shm *)(t.base + t.objs[k].data_off))->file, 88);
	}
	img_job_close(&t);
	return n;
}

/* CKPT_KEEP=N: the tables at path.1 .. path.(N-1) move one up, the newest
 * becomes path.1 (a second name); as dump.c does for one image */
static void rotate_tables(int keep)
{
	char from[4200], to[4200];

	for (int k = keep - 1; k >= 2; k--) {
		img_fmt(from, sizeof(from), "%S.%d", table_path, k - 1);
		img_fmt(to, sizeof(to), "%S.%d", table_path, k);
		sys_rename(from, to);
	}
	img_fmt(to, sizeof(to), "%S.1", table_path);
	sys_unlink(to);
	SC5(__NR_linkat, AT_FDCWD, table_path, AT_FDCWD, to, 0);
}

static void unlink_member(const char *name)
{
	char p[4200];
	struct ckpt_job_proc tmp;

	memset(&tmp, 0, sizeof(tmp));
	memcpy(tmp.image, name, sizeof(tmp.image) - 1);
	if (img_job_member_path(table_path, &tmp, p, sizeof(p)))
		sys_unlink(p);
}

/* name's process, the digits after its last dot ("" for a shared memory's) */
static const char *pid_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && dot[1] >= '0' && dot[1] <= '9' ? dot + 1 : "";
}

/* After the new table is in: the images of the table that dropped out,
 * less those a kept table still names, are removed.  With CKPT_INCREMENTAL
 * a process's image may be the parent of its newer ones: while a kept table
 * has that pid, its own chain removes it when no kept image needs it. */
static void drop_members(char (*drop)[88], uint32_t ndrop, int keep)
{
	static char kept[CKPT_JOB_MAX_PROCS][88] CAP_COLD;
	static uint8_t still[CKPT_JOB_MAX_PROCS];
	char t[4200];

	memset(still, 0, sizeof(still));
	for (int k = 0; k < keep; k++) {
		uint32_t n;

		if (k)
			img_fmt(t, sizeof(t), "%S.%d", table_path, k);
		n = members_of(k ? t : table_path, kept, 0, CKPT_JOB_MAX_PROCS);
		for (uint32_t i = 0; i < ndrop; i++)
			for (uint32_t m = 0; m < n; m++)
				still[i] |= !strncmp(drop[i], kept[m], 88) ||
					    (ckpt_cfg.incremental && *pid_of(drop[i]) && !strcmp(pid_of(drop[i]), pid_of(kept[m])));
	}
	for (uint32_t i = 0; i < ndrop; i++)
		if (!still[i])
			unlink_member(drop[i]);
}


/* Each shared memory object's content, from the root's copy, to its file
 * beside the table (a temp file renamed in: the bitmap of the pages copied,
 * then those pages), its CRC and page count into its record.  0, or -errno
 * (cap_job_done removes the files if the table fails). */
static int write_shared_memory(void)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	char tmp[4200], to[4200];
	uint64_t started;

	if (cap_stat_field("/proc/self/stat", 22, &started))
		started = 0;
	for (uint32_t k = 0; k < nshadows; k++) {
		struct ckpt_job_obj *o = &J->objs[shadows[k].obj];
		struct ckpt_job_shm *m = (struct ckpt_job_shm *)(J->data + o->data_off);
		long fd = img_create_beside(table_path, tmp, sizeof(tmp), (int)sys_getpid(), started), w;
		uint64_t bits = CKPT_JOB_SHM_BITMAP(m->size), at = bits;

		if (sys_failed(fd))
			return (int)fd;
		m->stored = 0;			/* the bitmap, then each page copied, in order */
		m->crc = ckpt_crc32c(0, shadows[k].has, bits);
		w = sys_pwrite((int)fd, shadows[k].has, bits, 0);
		w = w == (long)bits ? 0 : w < 0 ? w : -5;
		for (uint64_t pg = 0, n = m->size / CKPT_PAGE_SIZE; pg < n && w >= 0; ) {
			const uint8_t *from = (const uint8_t *)(shadows[k].copy + pg * CKPT_PAGE_SIZE);
			uint64_t run = img_bits_run(shadows[k].has, pg, n), len;

			if (!run) {
				pg++;
				continue;
			}
			len = run * CKPT_PAGE_SIZE;
			m->crc = ckpt_crc32c(m->crc, from, len);
			for (uint64_t done = 0; done < len && w >= 0; done += (uint64_t)w)
				w = sys_pwrite((int)fd, from + done, len - done, (int64_t)(at + done));
			at += len;
			m->stored += run;
			pg += run;
		}
		if (w < 0 || sys_fsync((int)fd) || !img_job_beside(table_path, m->file, to, sizeof(to)) ||
		    sys_rename(tmp, to)) {
			sys_close((int)fd);
			sys_unlink(tmp);
			return w < 0 ? (int)w : -5;
		}
		sys_close((int)fd);
		o->data_crc = ckpt_crc32c(0, J->data + o->data_off, o->data_len);
	}
	return 0;
}

/* write the table (data last) to a temp file, then rename it in (CKPT_KEEP:
 * the older tables move up, path.1 ...) */
static int write_table(void)
{
	static char olds[CKPT_JOB_MAX_PROCS][88] CAP_COLD;
	struct cap_job_work *J = &ckpt_scratch.job;
	struct ckpt_job_hdr *h = &J->hdr;
	uint64_t data_len = h->data_off;
	struct ksys_timespec t;
	char tmp[4200], drop[4200];
	uint32_t crc, ndrop = 0;
	uint64_t started;
	int keep = ckpt_cfg.keep > 1 ? ckpt_cfg.keep : 1, err = 0;
	long fd;

	h->magic = CKPT_JOB_MAGIC;
	h->version = CKPT_JOB_VERSION;
	memcpy(h->job_id, ckpt_job.job_id, sizeof(h->job_id));
	sys_clock_gettime(0, &t);
	h->created_ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	h->procs_off = sizeof(*h);
	h->objs_off = h->procs_off + h->nprocs * sizeof(struct ckpt_job_proc);
	h->refs_off = h->objs_off + h->nobjs * sizeof(struct ckpt_job_obj);
	h->data_off = h->refs_off + h->nrefs * sizeof(struct ckpt_job_ref);
	h->file_size = h->data_off + data_len;
	for (uint32_t o = 0; o < h->nobjs; o++)
		if (J->objs[o].kind != CKPT_JOB_FILE)
			J->objs[o].data_off += h->data_off;
	h->crc = 0;
	crc = ckpt_crc32c(0, h, sizeof(*h));
	crc = ckpt_crc32c(crc, J->procs, h->nprocs * sizeof(struct ckpt_job_proc));
	crc = ckpt_crc32c(crc, J->objs, h->nobjs * sizeof(struct ckpt_job_obj));
	crc = ckpt_crc32c(crc, J->refs, h->nrefs * sizeof(struct ckpt_job_ref));
	h->crc = ckpt_crc32c(crc, J->data, data_len);
	if (cap_stat_field("/proc/self/stat", 22, &started))
		started = 0;
	fd = img_create_beside(table_path, tmp, sizeof(tmp), (int)sys_getpid(), started);
	if (sys_failed(fd))
		return (int)fd;
	if (sys_write((int)fd, h, sizeof(*h)) != sizeof(*h) ||
	    sys_write((int)fd, J->procs, h->nprocs * sizeof(struct ckpt_job_proc)) !=
		    (long)(h->nprocs * sizeof(struct ckpt_job_proc)) ||
	    sys_write((int)fd, J->objs, h->nobjs * sizeof(struct ckpt_job_obj)) !=
		    (long)(h->nobjs * sizeof(struct ckpt_job_obj)) ||
	    sys_write((int)fd, J->refs, h->nrefs * sizeof(struct ckpt_job_ref)) !=
		    (long)(h->nrefs * sizeof(struct ckpt_job_ref)) ||
	    (data_len && sys_write((int)fd, J->data, data_len) != (long)data_len) || sys_fsync((int)fd))
		err = -5;
	sys_close((int)fd);
	if (!err) {			/* the table that drops out: its images may go */
		if (keep > 1)
			img_fmt(drop, sizeof(drop), "%S.%d", table_path, keep - 1);
		ndrop = members_of(keep > 1 ? drop : table_path, olds, 0, CKPT_JOB_MAX_PROCS);
		if (keep > 1)
			rotate_tables(keep);
		err = (int)sys_rename(tmp, table_path);
	}
	if (err) {
		sys_unlink(tmp);
		return err;
	}
	img_sync_dir(table_path);
	drop_members(olds, ndrop, keep);
	return 0;
}

/* The writer's last step: a member's says done; the root's waits for every
 * member's, then writes the table.  Returns the writer's result. */
int cap_job_done(int result)
{
	struct cap_job_work *J = &ckpt_scratch.job;
	uint32_t live = 0, done = 0;
	struct job_msg m;
	int failed = result;

	if (ckpt_job.role == CAP_JOB_MEMBER) {
		tell_root(MSG_DONE, result);
		return result;
	}
	sys_close(ctl_pipe[1]);			/* EOF once every member's writer is gone */
	sys_close(go_pipe[0]);
	sys_close(go_pipe[1]);
	for (uint32_t k = 1; k < J->hdr.nprocs; k++)
		live += J->procs[k].state == CKPT_JOB_LIVE;
	while (done < live) {
		long n = sys_read(ctl_pipe[0], &m, sizeof(m));

		if (n == -4)
			continue;
		if (n != sizeof(m))
			break;
		if (m.what != MSG_DONE)
			continue;
		done++;
		if (m.result && !failed) {
			failed = m.result;
			cap_say("%s: checkpoint failed: pid %d's image was not written (errno %d)", table_path, m.pid,
				-m.result);
		}
	}
	if (done < live && !failed) {
		cap_say("%s: checkpoint failed: %u of the job's %u other processes did not finish their images "
			"(a writer died)", table_path, live - done, live);
		failed = -5;
	}
	if (!failed && ((failed = write_shared_memory()) || (failed = write_table())))
		cap_say("%s: checkpoint failed: the job table cannot be written: errno %d", table_path, -failed);
	if (failed) {				/* the new images serve no table (with */
		for (uint32_t k = 0; k < J->hdr.nprocs && !ckpt_cfg.incremental; k++)	/* CKPT_INCREMENTAL, */
			if (J->procs[k].state == CKPT_JOB_LIVE)		/* each may be its next one's parent) */
				unlink_member(J->procs[k].image);
		for (uint32_t k = 0; k < nshadows; k++)
			unlink_member(((struct ckpt_job_shm *)(J->data + J->objs[shadows[k].obj].data_off))->file);
	}
	drop_shadows();
	return failed;
}
