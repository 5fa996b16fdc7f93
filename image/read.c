/* read.c -- read an image and check every byte of it that is not page data.
 *
 * The one reader and validator: the restorer calls it before it changes anything,
 * readckpt calls it before it prints anything.  After img_open() succeeds,
 * every offset, count and index in the tables is known to be in range, every
 * string is NUL-terminated, vmas are sorted and disjoint, and runs lie inside
 * their vma and inside the file's data area.  Page data is checked run by run
 * (ckpt_run.crc) by whoever reads it.
 */
#include "image.h"
#include "ckpt_sys.h"

static const char *const kind_names[CKPT_VMA_KIND_MAX] = {
	[CKPT_VMA_ANON] = "anon",
	[CKPT_VMA_HEAP] = "heap",
	[CKPT_VMA_STACK] = "stack",
	[CKPT_VMA_FILE] = "file",
	[CKPT_VMA_SHMEM] = "shmem",
	[CKPT_VMA_GONE] = "gone",
	[CKPT_VMA_VDSO] = "vdso",
	[CKPT_VMA_VVAR] = "vvar",
	[CKPT_VMA_VVAR_VCLOCK] = "vvar_vclock",
};

const char *img_fd_why(const struct ckpt_fd *f)
{
	static const char *const why[CKPT_WHY_MAX] = {
		[CKPT_WHY_KIND] = "a kind of descriptor ckpt does not make again",
		[CKPT_WHY_CONNECTED] = "a socket connected to a peer",
		[CKPT_WHY_SOCKET_KIND] = "a socket of a family or type other than IPv4, IPv6 or UNIX stream, "
					 "datagram, seqpacket, or netlink",
		[CKPT_WHY_TOO_BIG] = "its content is over the copy limit",
		[CKPT_WHY_EPOLL] = "an epoll instance whose watches could not be read",
		[CKPT_WHY_PIPE_OUTSIDE] = "a pipe whose other end is in another process",
		[CKPT_WHY_UNIX_OUTSIDE] = "a UNIX connection whose other end is in another process",
		[CKPT_WHY_SCM_RIGHTS] = "descriptors in flight (SCM_RIGHTS) queued on its connection",
		[CKPT_WHY_INOTIFY_PATH] = "an inotify watch whose path is not known",
		[CKPT_WHY_PIDFD_OTHER] = "a pidfd of another process",
		[CKPT_WHY_FANOTIFY] = "fanotify: a mark whose path is not known, or its marks unreadable",
		[CKPT_WHY_IO_URING] = "io_uring: its rings and requests in flight are kernel state",
		[CKPT_WHY_BPF] = "a bpf object: kernel state",
		[CKPT_WHY_PERF] = "a perf event: kernel state",
		[CKPT_WHY_USERFAULTFD] = "one of several userfaultfd instances of the program, whose "
					  "registrations cannot be told apart (ckpt restores one)",
	};

	return f->aux[0] < CKPT_WHY_MAX ? why[f->aux[0]] : why[CKPT_WHY_KIND];
}

/* a netlink protocol's name (linux/netlink.h), or "?" */
const char *img_netlink_name(uint64_t protocol)
{
	static const char *const names[] = {
		"NETLINK_ROUTE", 0, "NETLINK_USERSOCK", "NETLINK_FIREWALL", "NETLINK_SOCK_DIAG",
		"NETLINK_NFLOG", "NETLINK_XFRM", "NETLINK_SELINUX", "NETLINK_ISCSI", "NETLINK_AUDIT",
		"NETLINK_FIB_LOOKUP", "NETLINK_CONNECTOR", "NETLINK_NETFILTER", "NETLINK_IP6_FW",
		"NETLINK_DNRTMSG", "NETLINK_KOBJECT_UEVENT", "NETLINK_GENERIC", 0, "NETLINK_SCSITRANSPORT",
		"NETLINK_ECRYPTFS", "NETLINK_RDMA", "NETLINK_CRYPTO", "NETLINK_SMC",
	};

	return protocol < sizeof(names) / sizeof(names[0]) && names[protocol] ? names[protocol] : "?";
}

/* One watch of inotify descriptor f (its stored bytes are read by the
 * caller), after the watch numbered prev (0 for the first): its number in
 * order and at most the last handed out (aux[0]), a mask inotify_add_watch
 * takes, an absolute path in the strings.  0, or -1 after img_fail. */
int img_fanotify_mark_ok(const struct img *img, const struct ckpt_fd *f, const struct ckpt_fanotify_mark *m,
			 struct img_err *e)
{
	if (m->type > CKPT_FAN_FS || (m->flags & ~CKPT_FAN_MARK_FLAGS) || m->mask > 0xffffffffu ||
	    m->ignored_mask > 0xffffffffu || !m->path_off || m->path_off >= img->hdr.strings_size ||
	    img->strings[m->path_off] != '/' || m->pad)
		return img_fail(e, "fd %d: fanotify mark record out of range", f->fd);
	return 0;
}

int img_inotify_watch_ok(const struct img *img, const struct ckpt_fd *f, int32_t prev,
			 const struct ckpt_inotify_watch *w, struct img_err *e)
{
	if (w->wd <= prev || (uint64_t)w->wd > f->aux[0] || (w->mask & ~CKPT_INOTIFY_MASK) ||
	    !(w->mask & 0xfff) || !w->path_off || w->path_off >= img->hdr.strings_size ||
	    img->strings[w->path_off] != '/')
		return img_fail(e, "fd %d: inotify watch record (wd %d) out of range", f->fd, w->wd);
	return 0;
}

const char *img_lock_name(const struct ckpt_lock *l)
{
	static const char *const names[CKPT_LOCK_KIND_MAX][2] = {
		[CKPT_LOCK_POSIX] = { "POSIX read lock", "POSIX write lock" },
		[CKPT_LOCK_OFD] = { "OFD read lock", "OFD write lock" },
		[CKPT_LOCK_FLOCK] = { "flock LOCK_SH", "flock LOCK_EX" },
		[CKPT_LOCK_LEASE] = { "read lease", "write lease" },
	};

	return l->kind && l->kind < CKPT_LOCK_KIND_MAX && l->type <= 1 ? names[l->kind][l->type] : "?";
}

const char *img_kind_name(uint32_t kind)
{
	return kind && kind < CKPT_VMA_KIND_MAX ? kind_names[kind] : "?";
}

const char *img_str(const struct img *img, uint32_t off)
{
	return off ? img->strings + off : "";
}

/* pread exactly n bytes at off; a short file is an error of its own */
static int read_at(int fd, void *buf, uint64_t n, uint64_t off, struct img_err *e, const char *what)
{
	uint8_t *p = buf;

	while (n) {
		long r = sys_pread(fd, p, n > (1u << 30) ? (1u << 30) : n, off);

		if (r == -4)			/* EINTR */
			continue;
		if (sys_failed(r))
			return img_fail(e, "read %s at %lu: errno %d", what, off, (int)-r);
		if (r == 0)
			return img_fail(e, "truncated: %s ends at %lu", what, off);
		p += r, off += r, n -= r;
	}
	return 0;
}

/* a table [off, off + n * size) lies inside the tables and is 8-aligned */
static int table_ok(const struct ckpt_hdr *h, uint64_t off, uint64_t n, uint64_t size)
{
	uint64_t end = h->tables_off + h->tables_size;

	if (n == 0 && off == 0)
		return 1;			/* an empty table needs no place */
	return off >= h->tables_off && off <= end && (off & 7) == 0 &&
	       n <= (end - off) / size;
}

/* a table in memory; an empty one may have no place (offset 0, table_ok),
 * and the pointer then stays at the tables' start */
static void *table_at(const struct img *img, uint64_t off)
{
	return img->tables + (off ? off - img->hdr.tables_off : 0);
}

/* a file name, NUL-terminated inside n bytes, no '/', not "." or ".." */
static int plain_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		if (s[i] == '/')
			return 0;
	return i > 0 && i < n && !(s[0] == '.' && (i == 1 || (i == 2 && s[1] == '.')));
}

/* a NUL inside the n bytes at s */
static int terminated(const char *s, size_t n)
{
	while (n--)
		if (!*s++)
			return 1;
	return 0;
}

static int check_header(struct img *img, struct img_err *e)
{
	struct ckpt_hdr *h = &img->hdr;
	uint32_t crc = h->hdr_crc;

	if (h->magic != CKPT_MAGIC)
		return img_fail(e, "bad magic 0x%x (want 0x%x): not a ckpt image", h->magic, CKPT_MAGIC);
	if (h->version != CKPT_VERSION)
		return img_fail(e, "image version %u, this restorer reads version %u", h->version, CKPT_VERSION);
	h->hdr_crc = 0;
	if (ckpt_crc32c(0, h, sizeof(*h)) != crc)
		return img_fail(e, "header checksum mismatch: image corrupted");
	h->hdr_crc = crc;
	if (h->hdr_size != CKPT_HDR_SIZE || h->page_size != CKPT_PAGE_SIZE)
		return img_fail(e, "header size %u / page size %u not supported", h->hdr_size, h->page_size);
	if (h->flags & ~(CKPT_HDR_LOCKS | CKPT_HDR_JOB_MEMBER))
		return img_fail(e, "header flags 0x%x unknown to this reader", h->flags);
	if (!(h->flags & CKPT_HDR_LOCKS) != !h->nlocks || h->nlocks > CKPT_MAX_LOCKS ||
	    (!h->nlocks && h->locks_off))
		return img_fail(e, "header lock table inconsistent (%u locks, flags 0x%x)", h->nlocks, h->flags);
	if (h->cpu_level == 1 || h->cpu_level > 4)
		return img_fail(e, "header cpu level %u unknown to this reader", h->cpu_level);
	if (h->clock_mono_ns < 0 || h->clock_boot_ns < 0 || h->clock_mono_ns > INT64_MAX / 2 ||
	    h->clock_boot_ns > INT64_MAX / 2)	/* a time namespace's clocks stay in [0, KTIME_MAX / 2] */
		return img_fail(e, "header clocks out of range (monotonic %ld, boottime %ld ns)", h->clock_mono_ns,
				h->clock_boot_ns);
	if (!terminated(h->cpu_vendor, sizeof(h->cpu_vendor)) || !terminated(h->kernel, sizeof(h->kernel)) ||
	    !terminated(h->program, sizeof(h->program)))
		return img_fail(e, "header text field not terminated");
	if (h->depth && (h->depth > 1000 || !plain_name(h->parent_name, sizeof(h->parent_name))))
		return img_fail(e, "bad parent reference (depth %u)", h->depth);
	if (h->file_size != img->file_size)
		return img_fail(e, "file is %lu bytes, header says %lu: truncated or extended",
				img->file_size, h->file_size);
	if (h->tables_off != CKPT_HDR_SIZE || h->data_off & (CKPT_PAGE_SIZE - 1) ||
	    h->tables_size != h->data_off - h->tables_off || h->data_off < h->tables_off ||
	    h->data_size != h->file_size - h->data_off || h->data_off > h->file_size)
		return img_fail(e, "header layout inconsistent (tables %lu+%lu, data %lu+%lu)",
				h->tables_off, h->tables_size, h->data_off, h->data_size);
	if (h->tables_size > CKPT_MAX_TABLES)
		return img_fail(e, "tables of %lu bytes exceed the %u limit", h->tables_size, CKPT_MAX_TABLES);
	if (h->nthreads < 1 || h->nthreads > CKPT_MAX_THREADS || h->nvmas > CKPT_MAX_VMAS ||
	    h->nfds > CKPT_MAX_FDS)
		return img_fail(e, "bad counts: %u threads, %u vmas", h->nthreads, h->nvmas);
	if (!table_ok(h, h->threads_off, h->nthreads, sizeof(struct ckpt_thread)) ||
	    !table_ok(h, h->proc_off, 1, sizeof(struct ckpt_proc)) ||
	    !table_ok(h, h->vmas_off, h->nvmas, sizeof(struct ckpt_vma)) ||
	    !table_ok(h, h->runs_off, h->nruns, sizeof(struct ckpt_run)) ||
	    !table_ok(h, h->fds_off, h->nfds, sizeof(struct ckpt_fd)) ||
	    !table_ok(h, h->sigs_off, h->nsigs, sizeof(struct ckpt_siginfo)) ||
	    !table_ok(h, h->timers_off, h->ntimers, sizeof(struct ckpt_timer)) ||
	    !table_ok(h, h->locks_off, h->nlocks, sizeof(struct ckpt_lock)) ||
	    !table_ok(h, h->strings_off, h->strings_size, 1) || h->strings_size < 1)
		return img_fail(e, "a table lies outside the tables area");
	return 0;
}

static int check_threads(struct img *img, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;

	for (uint32_t i = 0; i < h->nthreads; i++) {
		const struct ckpt_thread *t = &img->threads[i];
		uint32_t min = t->flags & CKPT_CTX_XSAVE ? 576 : 512;

		if (t->flags & ~(CKPT_CTX_FSGSBASE | CKPT_CTX_XSAVE | CKPT_CTX_CAPS) ||
		    t->xsave_size < min || t->xsave_size > CKPT_XSAVE_MAX || (t->xsave_off & 63) ||
		    !table_ok(h, t->xsave_off, t->xsave_size, 1))
			return img_fail(e, "thread %u: bad FPU area (%u bytes at %lu)", i, t->xsave_size, t->xsave_off);
		if (t->regs.rip >= IMG_TASK_SIZE || t->regs.rsp >= IMG_TASK_SIZE ||
		    t->regs.fs_base >= IMG_TASK_SIZE || t->regs.gs_base >= IMG_TASK_SIZE)
			return img_fail(e, "thread %u: rip 0x%lx / rsp 0x%lx / fs or gs base outside user space", i,
					t->regs.rip, t->regs.rsp);
		if ((t->sched.flags & ~CKPT_SCHED_ALL) ||
		    ((t->sched.flags & CKPT_SCHED_ATTR) && t->sched.attr.size != sizeof(t->sched.attr)))
			return img_fail(e, "thread %u: scheduling record out of range", i);
	}
	return 0;
}

static int str_ok(const struct img *img, uint32_t off)
{
	return off < img->hdr.strings_size;
}

static int check_proc(struct img *img, struct img_err *e)
{
	const struct ckpt_proc *p = img->proc;

	if (!str_ok(img, p->cwd_off) || !str_ok(img, p->exe_off) || !terminated(p->comm, sizeof(p->comm)) ||
	    p->auxv_words > CKPT_AUXV_WORDS || (p->auxv_words & 1) || p->ngroups > CKPT_MAX_GROUPS ||
	    (p->membarrier & ~CKPT_MEMBARRIER_REGISTERS) || p->pdeathsig > CKPT_NSIG || (p->mdwe & ~3u) ||
	    p->tsc > 2 || (p->securebits & ~0xffu))
		return img_fail(e, "process record out of range");
	if ((p->resume_addr & 7) || p->resume_addr >= IMG_TASK_SIZE)
		return img_fail(e, "resume block 0x%lx misaligned or outside user space", p->resume_addr);
	return 0;
}

static int check_vmas(struct img *img, uint64_t *data_end, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;
	uint64_t prev_end = 0, data_at = h->data_off;
	uint32_t next_run = 0;
	int resume_ok = 0;

	for (uint32_t i = 0; i < h->nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		uint64_t stored = 0;

		if (v->start >= v->end || (v->start | v->end) & (CKPT_PAGE_SIZE - 1) ||
		    v->end > IMG_TASK_SIZE || v->start < prev_end)
			return img_fail(e, "vma %u: bad range 0x%lx-0x%lx", i, v->start, v->end);
		if (!v->kind || v->kind >= CKPT_VMA_KIND_MAX || v->prot & ~7u || v->pkey < 0 || v->pkey > 15)
			return img_fail(e, "vma %u at 0x%lx: bad kind %u / prot %u / pkey %d", i, v->start,
					v->kind, v->prot, v->pkey);
		if (!str_ok(img, v->path_off) || !str_ok(img, v->name_off))
			return img_fail(e, "vma %u: string offset out of range", i);
		if (v->kind == CKPT_VMA_FILE && !v->path_off)
			return img_fail(e, "vma %u at 0x%lx: file mapping without a path", i, v->start);
		/* what mmap(2) would refuse after the point of no return: an offset
		 * that is unaligned or runs past the largest file offset, a shared
		 * region that grows down, a shared file mapping writable though its
		 * file was not open for writing */
		if (v->kind == CKPT_VMA_FILE && ((v->pgoff & (CKPT_PAGE_SIZE - 1)) ||
						 v->pgoff > INT64_MAX - (v->end - v->start)))
			return img_fail(e, "vma %u at 0x%lx: file offset 0x%lx unaligned or too large", i, v->start,
					v->pgoff);
		if ((v->flags & CKPT_MAP_SHARED) && (v->flags & CKPT_MAP_GROWSDOWN))
			return img_fail(e, "vma %u at 0x%lx: a shared region cannot grow down", i, v->start);
		if ((v->flags & CKPT_MAP_UFFD) && v->kind != CKPT_VMA_ANON && v->kind != CKPT_VMA_HEAP &&
		    v->kind != CKPT_VMA_STACK && v->kind != CKPT_VMA_SHMEM)
			return img_fail(e, "vma %u at 0x%lx: a %s mapping registered with a userfaultfd", i, v->start,
					img_kind_name(v->kind));
		if (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED) && (v->prot & PROT_WRITE) &&
		    !(v->flags & CKPT_MAP_MAYWRITE))
			return img_fail(e, "vma %u at 0x%lx: shared writable mapping of a file not open for writing",
					i, v->start);
		if ((v->kind == CKPT_VMA_VDSO && v->end - v->start != h->vdso_size) ||
		    (v->kind == CKPT_VMA_VVAR && v->end - v->start != h->vvar_size) ||
		    (v->kind == CKPT_VMA_VVAR_VCLOCK && v->end - v->start != h->vvar_vclock_size))
			return img_fail(e, "vma %u: [%s] size differs from the header's", i, img_kind_name(v->kind));
		if (v->run_first != next_run || v->run_count > h->nruns - next_run)
			return img_fail(e, "vma %u: runs %u+%u out of order", i, v->run_first, v->run_count);
		if (v->run_count && (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR ||
				     v->kind == CKPT_VMA_VVAR_VCLOCK ||
				     (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED))))
			return img_fail(e, "vma %u at 0x%lx: %s mapping cannot hold pages", i, v->start,
					img_kind_name(v->kind));
		for (uint32_t r = v->run_first; r < v->run_first + v->run_count; r++) {
			const struct ckpt_run *run = &img->runs[r];

			/* addr < end before end - addr: a difference that wraps would let
			 * a run's pages land anywhere, the restorer's stack included */
			if (run->vma != i || run->npages == 0 || run->addr & (CKPT_PAGE_SIZE - 1) ||
			    run->addr < v->start || run->addr >= v->end ||
			    run->npages > (v->end - run->addr) / CKPT_PAGE_SIZE ||
			    (r > v->run_first && run->addr < img->runs[r - 1].addr +
							     img->runs[r - 1].npages * CKPT_PAGE_SIZE))
				return img_fail(e, "run %u: 0x%lx+%lu pages outside vma %u", r, run->addr,
						run->npages, i);
			if (run->data_off == 0 && h->depth && run->crc == 0)
				continue;	/* zero pages: nothing stored */
			if (run->data_off != data_at || run->npages > (h->file_size - data_at) / CKPT_PAGE_SIZE)
				return img_fail(e, "run %u: data at %lu, expected %lu", r, run->data_off, data_at);
			data_at += run->npages * CKPT_PAGE_SIZE;
			stored += run->npages;
		}
		if (stored != v->pages_stored)
			return img_fail(e, "vma %u: %lu pages stored, runs hold %lu", i, v->pages_stored, stored);
		if (img_writes_into(v, img->proc->resume_addr, sizeof(struct ckpt_resume)))
			resume_ok = 1;
		next_run += v->run_count;
		prev_end = v->end;
	}
	if (next_run != h->nruns)
		return img_fail(e, "runs cover %u of %u run records", next_run, h->nruns);
	if (!resume_ok)
		return img_fail(e, "resume block 0x%lx is not in a writable region the restorer builds",
				img->proc->resume_addr);
	*data_end = data_at;
	return 0;
}

/* [addr, addr + len) lies in v, which the restorer maps writable itself: not
 * the kernel's [vdso]/[vvar] pages (moved in as they are), not a shared file */
int img_writes_into(const struct ckpt_vma *v, uint64_t addr, uint64_t len)
{
	return addr >= v->start && addr < v->end && len <= v->end - addr && (v->prot & PROT_WRITE) &&
	       v->kind != CKPT_VMA_VDSO && v->kind != CKPT_VMA_VVAR && v->kind != CKPT_VMA_VVAR_VCLOCK &&
	       !(v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED));
}

/* An O_PATH record: a directory's is CKPT_FD_DIR, a character device's
 * CKPT_FD_CHR, any other type's (regular, symbolic link, socket, FIFO,
 * block device) CKPT_FD_REG; a symbolic link's has O_NOFOLLOW; no content */
static int path_record_ok(const struct ckpt_fd *f)
{
	uint32_t type = f->mode & S_IFMT;

	if (f->kind == CKPT_FD_DIR || f->kind == CKPT_FD_CHR)
		return type == (f->kind == CKPT_FD_DIR ? S_IFDIR : S_IFCHR);
	return f->kind == CKPT_FD_REG && !f->data_len && !(f->fd_flags & CKPT_FD_STORED) &&
	       (type == S_IFREG || type == S_IFSOCK || type == S_IFIFO || type == S_IFBLK ||
		(type == S_IFLNK && (f->flags & O_NOFOLLOW)));
}

/* A UNIX pair end: a socket type, known flags, a peek offset of -1 (off) or
 * one an int holds; its other end (`peer`) the first record of a pair end of
 * the same type whose peer is this one's first record, or this very record
 * (the other end was closed); stored bytes on a first record only (their
 * records are checked as the restorer reads them) */
static int unix_pair_bad(const struct img *img, uint32_t i)
{
	const struct ckpt_fd *f = &img->fds[i], *lead = &img->fds[f->share], *o = &img->fds[f->peer];

	return (f->aux[0] != KSYS_SOCK_STREAM && f->aux[0] != KSYS_SOCK_DGRAM && f->aux[0] != KSYS_SOCK_SEQPACKET) ||
	       (f->aux[2] & ~(uint64_t)(CKPT_UP_PASSCRED | CKPT_UP_SHUT_RD | CKPT_UP_SHUT_WR | CKPT_UP_NAMED)) ||
	       (f->aux[4] != ~0ull && f->aux[4] > 0x7fffffffu) || lead->kind != CKPT_FD_UNIX_PAIR ||
	       lead->peer != f->peer || (f->share != i && f->data_len) ||
	       (f->peer != f->share && (o->share != f->peer || o->peer != f->share || o->aux[0] != f->aux[0]));
}

/* a TCP connection's two addresses: their stored bytes (sockaddr_in or
 * sockaddr_in6 twice), 0 for another family */
static uint64_t addrs_len(const struct ckpt_fd *f)
{
	return f->aux[0] == KSYS_AF_INET ? 32u : f->aux[0] == KSYS_AF_INET6 ? 56u : 0u;
}

/* A socket record (CKPT_FD_SOCKET): a family, type and protocol ckpt makes;
 * its address bytes (aux[3] of them with CKPT_SO_DGRAM_QUEUE, the queue's
 * records after them; two addresses of the family's size for a connection
 * or a connected UDP socket; else all the stored bytes) 2 to
 * CKPT_SOCKADDR_MAX; TCP_REPAIR only for a TCP connection; a queue only for
 * a datagram socket, with at least one datagram; a peek offset only with
 * CKPT_SO_PEEK_OFF, and not negative. */
static int socket_bad(const struct ckpt_fd *f)
{
	uint64_t opts = f->aux[4], queue = opts & CKPT_SO_DGRAM_QUEUE;
	uint64_t addr = queue ? f->aux[3] : opts & CKPT_SO_TCP_REPAIR ? addrs_len(f) : f->data_len;

	if ((f->aux[0] != KSYS_AF_INET && f->aux[0] != KSYS_AF_INET6 && f->aux[0] != KSYS_AF_UNIX) ||
	    (f->aux[1] != KSYS_SOCK_STREAM && f->aux[1] != KSYS_SOCK_DGRAM && f->aux[1] != KSYS_SOCK_SEQPACKET) ||
	    f->aux[2] > 255 || f->aux[3] > (1u << 20) || addr < 2 || addr > CKPT_SOCKADDR_MAX ||
	    ((opts & CKPT_SO_TCP_REPAIR) && !(opts & CKPT_SO_WAS_CONNECTED)) ||
	    (opts & CKPT_SO_PEEK_OFF ? f->sock_peek_off < 0 : f->sock_peek_off != 0))
		return 1;
	if (queue && (f->aux[1] != KSYS_SOCK_DGRAM || f->data_len <= addr || f->size < 1 ||
		      (f->aux[0] != KSYS_AF_UNIX && addr != (f->aux[0] == KSYS_AF_INET ? 16u : 28u) *
						      (opts & CKPT_SO_DGRAM_PEER ? 2 : 1))))
		return 1;
	if ((opts & CKPT_SO_DGRAM_PEER) && (f->aux[1] != KSYS_SOCK_DGRAM || (opts & CKPT_SO_WAS_CONNECTED) ||
					    !addrs_len(f) || addr != addrs_len(f) || (f->aux[3] && !queue)))
		return 1;
	return (opts & CKPT_SO_WAS_CONNECTED) &&
	       (f->aux[1] != KSYS_SOCK_STREAM || f->aux[3] || !addrs_len(f) || addr != addrs_len(f));
}

/* CKPT_SO_TCP_REPAIR: the struct ckpt_tcp_repair after the addresses, and
 * the two queues after it, which fill the rest of the stored bytes.  (Its
 * checksum is checked with all of them, by the restorer.) */
static int check_tcp_repair(const struct img *img, const struct ckpt_fd *f, struct img_err *e)
{
	struct ckpt_tcp_repair r;

	if (f->data_len < addrs_len(f) + sizeof(r) || f->data_off > img->hdr.file_size ||
	    f->data_len > img->hdr.file_size - f->data_off)
		return img_fail(e, "fd %d: TCP repair state of %lu bytes", f->fd, f->data_len);
	if (read_at(img->fd, &r, sizeof(r), f->data_off + addrs_len(f), e, "TCP repair state"))
		return -1;
	if (r.snd_len > CKPT_TCP_QUEUE_MAX || r.rcv_len > CKPT_TCP_QUEUE_MAX ||
	    f->data_len != addrs_len(f) + sizeof(r) + r.snd_len + r.rcv_len || r.options > 7 ||
	    (r.wscale & 0xffff) > 14 || (r.wscale >> 16) > 14 || !r.mss || r.mss > 65535)
		return img_fail(e, "fd %d: TCP repair state out of range", f->fd);
	return 0;
}

/* A pty record (CKPT_FD_PTY): a master is its own peer; a slave's peer is a
 * master's first record; the number fits a dev_t's minor; the state is the
 * master's alone; the stored bytes are one struct ckpt_tty or none. */
static int pty_bad(const struct img *img, uint32_t i)
{
	const struct ckpt_fd *f = &img->fds[i], *m = &img->fds[f->peer];

	if (f->aux[0] > CKPT_PTY_SLAVE || f->aux[1] > 0xfffff || f->aux[3] > 0xffffffffu || (f->flags & O_PATH) ||
	    (f->data_len && f->data_len != sizeof(struct ckpt_tty)) || f->aux[4] || f->aux[5])
		return 1;
	if (f->aux[0] == CKPT_PTY_MASTER)
		return f->peer != i || (f->aux[2] & ~(uint64_t)(CKPT_PTY_LOCKED | CKPT_PTY_PACKET));
	return f->aux[2] || m->aux[0] != CKPT_PTY_MASTER || m->share != f->peer || m->aux[1] != f->aux[1];
}

/* descriptors in ascending fd order; stored bytes follow the page runs, the
 * [vdso] bytes (when stored) follow theirs */
static int check_fds(struct img *img, uint64_t data_at, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;
	int32_t prev = -1;
	uint32_t uffds = 0;		/* userfaultfd instances: one at most */

	for (uint32_t i = 0; i < h->nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];

		if (f->fd <= prev || f->fd >= (1 << 20) || !f->kind || f->kind >= CKPT_FD_KIND_MAX ||
		    !str_ok(img, f->path_off) || f->share > i || img->fds[f->share].share != f->share ||
		    f->peer >= h->nfds || (f->peer != i && ((f->kind != CKPT_FD_PIPE && f->kind != CKPT_FD_UNIX_PAIR &&
							      f->kind != CKPT_FD_PTY) ||
							    img->fds[f->peer].kind != f->kind)))
			return img_fail(e, "descriptor record %u (fd %d) out of range", i, f->fd);
		if (f->kind == CKPT_FD_UNIX_PAIR && unix_pair_bad(img, i))
			return img_fail(e, "fd %d: UNIX pair record out of range", f->fd);
		if (f->kind == CKPT_FD_SOCKET && (f->size < 0 || (f->size && f->aux[1] != KSYS_SOCK_DGRAM)))
			return img_fail(e, "fd %d: %ld datagrams queued for a socket of type %lu", f->fd, f->size,
					f->aux[1]);
		if (f->kind == CKPT_FD_SOCKET && socket_bad(f))
			return img_fail(e, "fd %d: socket record out of range", f->fd);
		if (f->kind == CKPT_FD_NETLINK &&
		    (f->aux[0] >= 32 || (f->aux[1] != KSYS_SOCK_RAW && f->aux[1] != KSYS_SOCK_DGRAM) ||
		     f->aux[2] > 0xffffffffu || f->aux[3] > 1 || (f->aux[2] && !f->aux[3]) ||
		     (f->aux[4] & ~(uint64_t)CKPT_NETLINK_OPTIONS) || f->data_len % 4 ||
		     f->data_len > CKPT_NETLINK_GROUPS_MAX))
			return img_fail(e, "fd %d: netlink record out of range", f->fd);
		if ((f->flags & O_PATH) && f->kind != CKPT_FD_UNSUPPORTED && !path_record_ok(f))
			return img_fail(e, "fd %d: O_PATH record of kind %u for a file of mode 0%o", f->fd,
					f->kind, f->mode);
		if (f->kind == CKPT_FD_SOCKET && (f->aux[4] & CKPT_SO_TCP_REPAIR) && check_tcp_repair(img, f, e))
			return -1;
		if (f->kind == CKPT_FD_CHR && f->data_len && (f->data_len != sizeof(struct ckpt_tty) ||
							      (f->flags & O_PATH)))
			return img_fail(e, "fd %d: terminal state of %lu bytes", f->fd, f->data_len);
		if (f->kind == CKPT_FD_PTY && pty_bad(img, i))
			return img_fail(e, "fd %d: pty record out of range", f->fd);
		if (f->kind == CKPT_FD_EPOLL && f->data_len % sizeof(struct ckpt_epoll_watch))
			return img_fail(e, "fd %d: epoll watches of %lu bytes", f->fd, f->data_len);
		if (f->kind == CKPT_FD_FANOTIFY && (f->data_len % sizeof(struct ckpt_fanotify_mark) ||
						    f->data_len > CKPT_FANOTIFY_MARKS_MAX * sizeof(struct ckpt_fanotify_mark) ||
						    f->aux[0] > 0xffffffffu || f->aux[1] > 0xffffffffu ||
						    f->aux[2] > 0xffffffffu))
			return img_fail(e, "fd %d: fanotify record out of range", f->fd);
		if (f->kind == CKPT_FD_USERFAULTFD && (f->data_len % sizeof(struct ckpt_uffd_range) ||
						       f->data_len > CKPT_UFFD_RANGES_MAX * sizeof(struct ckpt_uffd_range) ||
						       (f->aux[0] & ~(uint64_t)CKPT_UFFD_FEATURES) ||
						       (f->aux[0] && !(f->aux[0] >> 31)) ||
						       f->aux[1] > CKPT_UFFD_USER_MODE || f->aux[2] > 1 ||
						       (f->share == i && uffds++)))
			return img_fail(e, "fd %d: userfaultfd record out of range", f->fd);
		if (f->kind == CKPT_FD_INOTIFY && (f->data_len % sizeof(struct ckpt_inotify_watch) ||
						   f->aux[0] > 0x7fffffff || f->aux[1] > 0xffffffff))
			return img_fail(e, "fd %d: inotify record out of range", f->fd);
		if ((f->fd_flags & CKPT_FD_STORED) && (f->kind != CKPT_FD_REG || f->size < 0 ||
						      f->data_len != (uint64_t)f->size))
			return img_fail(e, "fd %d: stored content of %lu bytes for a %s of %ld", f->fd, f->data_len,
					f->kind == CKPT_FD_REG ? "file" : "descriptor that is not a file", f->size);
		if ((f->kind == CKPT_FD_MEMFD || f->kind == CKPT_FD_DELETED) && f->size < 0)
			return img_fail(e, "fd %d: %s of size %ld", f->fd, f->kind == CKPT_FD_MEMFD ? "memfd" : "file",
					f->size);
		if (f->data_len) {
			if (f->data_off != data_at || f->data_len > h->file_size - data_at)
				return img_fail(e, "fd %d: stored bytes at %lu, expected %lu", f->fd,
						f->data_off, data_at);
			data_at += f->data_len;
		}
		prev = f->fd;
	}
	for (uint32_t i = 0; i < h->nvmas; i++)
		if ((img->vmas[i].flags & CKPT_MAP_UFFD) && !uffds)
			return img_fail(e, "vma %u at 0x%lx: registered with a userfaultfd the image does not hold", i,
					img->vmas[i].start);
	if (h->vdso_data_off) {			/* the [vdso] bytes, last */
		if (h->vdso_data_off != data_at || !h->vdso_size || h->vdso_size > h->file_size - data_at)
			return img_fail(e, "stored vDSO bytes at %lu+%lu, expected at %lu", h->vdso_data_off,
					h->vdso_size, data_at);
		data_at += h->vdso_size;
	}
	if (data_at != h->file_size)
		return img_fail(e, "data area holds %lu bytes, records account for %lu", h->data_size,
				data_at - h->data_off);
	for (uint32_t i = 0; i < h->nsigs; i++)
		if (!img->sigs[i].signo || img->sigs[i].signo > CKPT_NSIG)
			return img_fail(e, "pending signal record %u: signal %u", i, img->sigs[i].signo);
	for (uint32_t i = 0; i < h->ntimers; i++)
		if (img->timers[i].id < 0 || img->timers[i].signo < 0 || img->timers[i].signo > CKPT_NSIG)
			return img_fail(e, "timer record %u out of range", i);
	return 0;
}

/* each lock on a descriptor the restorer reopens by path, through the first
 * of the descriptors that share its open file description; a range that
 * F_SETLK takes (start + len fits an off_t); flock and leases whole-file, a
 * lease on a regular file only */
static int check_locks(struct img *img, struct img_err *e)
{
	for (uint32_t i = 0; i < img->hdr.nlocks; i++) {
		const struct ckpt_lock *l = &img->locks[i];
		const struct ckpt_fd *f = l->fd_index < img->hdr.nfds ? &img->fds[l->fd_index] : 0;
		int ranged = l->kind == CKPT_LOCK_POSIX || l->kind == CKPT_LOCK_OFD;

		if (!f || f->share != l->fd_index || !l->kind || l->kind >= CKPT_LOCK_KIND_MAX || l->type > 1 ||
		    (f->kind != CKPT_FD_REG && f->kind != CKPT_FD_DIR && f->kind != CKPT_FD_CHR &&
		     f->kind != CKPT_FD_FIFO) || (l->kind == CKPT_LOCK_LEASE && f->kind != CKPT_FD_REG) ||
		    l->start < 0 || l->len < 0 || l->len > INT64_MAX - l->start || (!ranged && (l->start || l->len)) ||
		    l->sig < 0 || l->sig > CKPT_NSIG || (l->sig && l->kind != CKPT_LOCK_LEASE))
			return img_fail(e, "lock record %u out of range", i);
	}
	return 0;
}

int img_open(struct img *img, const char *path, uint64_t table_addr, struct img_err *e)
{
	struct ksys_stat st;
	const struct ckpt_hdr *h = &img->hdr;
	uint64_t data_end = 0;
	long r;

	memset(img, 0, sizeof(*img));
	img->path = path;
	img->fd = (int)sys_open(path, O_RDONLY | O_CLOEXEC | 04000 /* O_NONBLOCK: a FIFO must not hang us */, 0);
	if (sys_failed(img->fd)) {
		int err = -img->fd;

		img->fd = -1;
		if (err == 2)
			return img_fail(e, "no such file");
		if (err == 13)
			return img_fail(e, "permission denied");
		return img_fail(e, "open: errno %d", err);
	}
	if (sys_failed(sys_fstat(img->fd, &st)))
		return img_fail(e, "fstat failed");
	if ((st.st_mode & S_IFMT) == S_IFDIR)
		return img_fail(e, "is a directory, not an image");
	if ((st.st_mode & S_IFMT) != S_IFREG)
		return img_fail(e, "not a regular file");
	img->file_size = st.st_size;
	if (img->file_size == 0)
		return img_fail(e, "empty file, not an image");
	if (img->file_size < CKPT_HDR_SIZE)
		return img_fail(e, "truncated: %lu bytes, a header alone is %u", img->file_size, CKPT_HDR_SIZE);
	if (read_at(img->fd, &img->hdr, sizeof(img->hdr), 0, e, "header"))
		return -1;
	if (img->hdr.magic == CKPT_ZIP_MAGIC) {	/* CKPT_COMPRESS */
#ifdef IMG_UNPACK					/* libckpt and the tools, not the restorer */
		int raw = img_unpack(img->fd, img->file_size, img_unpack_pages, e);

		if (raw < 0)
			return -1;
		img->packed_size = img->file_size;
		img->packed_frames = ((const struct ckpt_zip_hdr *)(const void *)&img->hdr)->nframes;
		sys_close(img->fd);
		img->fd = raw;
		if (sys_failed(sys_fstat(img->fd, &st)))
			return img_fail(e, "fstat failed");
		img->file_size = st.st_size;
		if (read_at(img->fd, &img->hdr, sizeof(img->hdr), 0, e, "header"))
			return -1;
#else
		return img_fail(e, "a compressed image (CKPT_COMPRESS): the restorer reads uncompressed images only; "
				"restore it with `ckpt restore IMAGE`");
#endif
	}
	if (check_header(img, e))
		return -1;

	r = sys_mmap(table_addr, h->tables_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | (table_addr ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	if (sys_failed(r) || (table_addr && (uint64_t)r != table_addr))
		return img_fail(e, "no memory for %lu bytes of tables at 0x%lx: errno %d", h->tables_size,
				table_addr, sys_failed(r) ? (int)-r : 17);
	img->tables = (uint8_t *)r;
	if (read_at(img->fd, img->tables, h->tables_size, h->tables_off, e, "tables"))
		return -1;
	if (ckpt_crc32c(0, img->tables, h->tables_size) != h->tables_crc)
		return img_fail(e, "tables checksum mismatch: image corrupted");

	img->threads = table_at(img, h->threads_off);
	img->proc = table_at(img, h->proc_off);
	img->vmas = table_at(img, h->vmas_off);
	img->runs = table_at(img, h->runs_off);
	img->fds = table_at(img, h->fds_off);
	img->sigs = table_at(img, h->sigs_off);
	img->timers = table_at(img, h->timers_off);
	img->locks = table_at(img, h->locks_off);
	img->strings = table_at(img, h->strings_off);
	if (img->strings[h->strings_size - 1] != 0)
		return img_fail(e, "string table not terminated");
	if (check_threads(img, e) || check_proc(img, e) || check_vmas(img, &data_end, e) ||
	    check_fds(img, data_end, e) || check_locks(img, e))
		return -1;
	return 0;
}
