/* readckpt -- print an image in plain text: header, machine, threads and their
 * registers, process state, regions.  It reads and validates with the same code
 * as the restorer (image/read.c), so what it prints is what would be restored. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "image.h"

static const char *const sig_names[CKPT_NSIG + 1] = {
	[1] = "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
	"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
	"URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
};

/* s as the restorer prints it (img_escape): one line of printable ASCII.
 * Four buffers, so that one printf can take four escaped strings. */
static const char *esc(const char *s)
{
	static char buf[4][4 * 4096 + 1];
	static unsigned next;
	char *b = buf[next++ % 4];

	img_escape(b, sizeof(buf[0]), s);
	return b;
}

static void print_regs(const struct ckpt_regs *r)
{
	static const char *const names[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
					       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	const uint64_t *v = &r->rax;

	for (int i = 0; i < 16; i++)
		printf("    %-3s 0x%016lx%s", names[i], v[i], i % 4 == 3 ? "\n" : "");
	printf("    rip 0x%016lx    rflags 0x%08lx    cs 0x%lx ss 0x%lx\n", r->rip, r->rflags, r->cs, r->ss);
	printf("    fs_base 0x%016lx    gs_base 0x%016lx\n", r->fs_base, r->gs_base);
}

static void print_fpu(const struct img *img, const struct ckpt_thread *t)
{
	const uint8_t *a = img->tables + (t->xsave_off - img->hdr.tables_off);
	uint32_t mxcsr;
	uint16_t fcw;
	uint64_t xstate_bv = 0;

	memcpy(&fcw, a, 2);
	memcpy(&mxcsr, a + 24, 4);
	if (t->flags & CKPT_CTX_XSAVE)
		memcpy(&xstate_bv, a + 512, 8);
	printf("    fpu %s, %u bytes: fcw 0x%04x mxcsr 0x%08x", t->flags & CKPT_CTX_XSAVE ? "xsave" : "fxsave",
	       t->xsave_size, fcw, mxcsr);
	if (t->flags & CKPT_CTX_XSAVE)
		printf(" xfeatures 0x%lx xstate_bv 0x%lx", t->xfeatures, xstate_bv);
	printf("\n");
}

static void print_mask(const char *label, uint64_t m)
{
	printf("%s", label);
	if (!m)
		printf(" (none)");
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (m & (1ull << (s - 1))) {
			if (s < 32 && sig_names[s])
				printf(" %s", sig_names[s]);
			else
				printf(" %d", s);
		}
	printf("\n");
}

static void perms(uint32_t prot, uint32_t flags, char out[5])
{
	out[0] = prot & 1 ? 'r' : '-';
	out[1] = prot & 2 ? 'w' : '-';
	out[2] = prot & 4 ? 'x' : '-';
	out[3] = flags & CKPT_MAP_SHARED ? 's' : 'p';
	out[4] = 0;
}

static void print_id(const uint8_t id[16])
{
	for (int i = 0; i < 16; i++)
		printf("%02x", id[i]);
}

/* a thread's scheduling, the parts it records */
static void print_sched(const struct ckpt_sched *s)
{
	if (s->flags & CKPT_SCHED_ATTR)
		printf("    sched      policy %u nice %d priority %u flags 0x%lx\n", s->attr.policy, s->attr.nice,
		       s->attr.priority, s->attr.flags);
	if (s->flags & CKPT_SCHED_AFFINITY) {
		printf("    cpus      ");
		for (int c = 0; c < (int)sizeof(s->cpus) * 8; c++)
			if (s->cpus[c / 8] >> (c % 8) & 1)
				printf(" %d", c);
		printf("\n");
	}
	if (s->flags & CKPT_SCHED_IOPRIO)
		printf("    ioprio     class %u level %u\n", s->ioprio >> 13, s->ioprio & 0x1fff);
	if (s->flags & CKPT_SCHED_TIMERSLACK)
		printf("    timerslack %lu ns\n", s->timerslack_ns);
}

/* image, format, id and parent, program, machine, cpu, vdso */
static void print_header(const struct img *img, const char *path)
{
	const struct ckpt_hdr *h = &img->hdr;
	time_t created = (time_t)(h->created_ns / 1000000000ull);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&created));
	printf("image %s\n", esc(path));
	printf("  format      version %u, %lu bytes (tables %lu, page data %lu)\n", h->version, h->file_size,
	       h->tables_size, h->data_size);
	if (img->packed_size)		/* CKPT_COMPRESS: img_open unpacked it */
		printf("  compressed  zstd, %lu bytes in the file (%lu%% of the image), %u frames\n", img->packed_size,
		       h->file_size ? img->packed_size * 100 / h->file_size : 0, img->packed_frames);
	printf("  created     %s\n", when);
	printf("  id          ");
	print_id(h->image_id);
	if (h->depth) {
		printf(", incremental, %u image%s back to a full one\n  parent      %s (id ", h->depth,
		       h->depth == 1 ? "" : "s", esc(h->parent_name));
		print_id(h->parent_id);
		printf(")");
	} else {
		printf(", full image");
	}
	printf("\n");
	printf("  program     %s, pid %u\n", esc(h->program), img->proc->pid);
	printf("  machine     %s, kernel %s, page %u\n", esc(h->cpu_vendor), esc(h->kernel), h->page_size);
	printf("  cpu         xcr0 0x%lx, xsave %u bytes, hwcap2 0x%lx, cpuid1 ecx 0x%08x edx 0x%08x,"
	       " cpuid7 ebx 0x%08x ecx 0x%08x edx 0x%08x\n", h->xcr0, h->xsave_size, h->hwcap2,
	       h->cpuid1_ecx, h->cpuid1_edx, h->cpuid7_ebx, h->cpuid7_ecx, h->cpuid7_edx);
	if (h->cpu_level)
		printf("  cpu level   x86-64-v%u: only its features count (ckpt run --cpu-baseline)\n", h->cpu_level);
	printf("  vdso        %lu bytes crc 0x%08x, vvar %lu, vvar_vclock %lu; ", h->vdso_size, h->vdso_crc,
	       h->vvar_size, h->vvar_vclock_size);
	if (h->vdso_data_off)
		printf("its bytes stored at %lu (restores on another kernel)\n", h->vdso_data_off);
	else
		printf("its bytes not stored (restores only on this kernel build)\n");
	if (h->clock_mono_ns || h->clock_boot_ns)
		printf("  clocks      monotonic %ld.%09ld s, boottime %ld.%09ld s at the checkpoint\n",
		       h->clock_mono_ns / 1000000000, h->clock_mono_ns % 1000000000,
		       h->clock_boot_ns / 1000000000, h->clock_boot_ns % 1000000000);
	else
		printf("  clocks      not recorded\n");
}

static void print_threads(const struct img *img)
{
	printf("threads %u\n", img->hdr.nthreads);
	for (uint32_t i = 0; i < img->hdr.nthreads; i++) {
		const struct ckpt_thread *t = &img->threads[i];

		printf("  thread %u: tid %u\n", i, t->tid);
		print_regs(&t->regs);
		print_fpu(img, t);
		print_mask("    blocked    ", t->sigmask);
		printf("    altstack   %s0x%lx+%lu\n", t->ss_flags & 2 ? "disabled " : "", t->ss_sp, t->ss_size);
		printf("    rseq       0x%lx len %u sig 0x%x\n", t->rseq_addr, t->rseq_len, t->rseq_sig);
		printf("    tid addr   0x%lx   robust list 0x%lx+%lu\n", t->clear_child_tid, t->robust_list,
		       t->robust_len);
		if (t->sig_rip)
			printf("    signal at  0x%lx (the program's rip the checkpoint's signal interrupted)\n",
			       t->sig_rip);
		print_sched(&t->sched);
		if (t->flags & CKPT_CTX_CAPS)
			printf("    caps       effective 0x%08x%08x permitted 0x%08x%08x inheritable 0x%08x%08x\n",
			       t->caps[3], t->caps[0], t->caps[4], t->caps[1], t->caps[5], t->caps[2]);
	}
}

/* the signals whose disposition is not the default */
static void print_sigactions(const struct ckpt_proc *p)
{
	printf("  signal dispositions (not default):\n");
	for (int s = 1; s <= CKPT_NSIG; s++) {
		const struct ckpt_sigaction *sa = &p->sigact[s - 1];

		if (!sa->handler)
			continue;
		printf("    %-6s %s flags 0x%lx mask 0x%lx\n", s < 32 && sig_names[s] ? sig_names[s] : "",
		       sa->handler == 1 ? "ignored" : "handler", sa->flags, sa->mask);
		if (sa->handler > 1)
			printf("           at 0x%lx restorer 0x%lx (signal %d)\n", sa->handler, sa->restorer, s);
	}
}

static void print_limits(const struct ckpt_proc *p)
{
	printf("  limits (cur/max, - = unlimited):");
	for (int r = 0; r < 16; r++) {
		if (r % 4 == 0)
			printf("\n   ");
		if (p->rlimit[r].cur == ~0ull)
			printf(" %2d:-", r);
		else
			printf(" %2d:%lu", r, p->rlimit[r].cur);
		if (p->rlimit[r].max == ~0ull)
			printf("/-");
		else
			printf("/%lu", p->rlimit[r].max);
	}
	printf("\n  personality 0x%x\n", p->personality);
	if (p->attrs & CKPT_PROC_NO_NEW_PRIVS)	/* older images: nothing printed */
		printf("  no_new_privs\n");
	if (p->attrs & CKPT_PROC_OOM_SCORE_ADJ)
		printf("  oom_score_adj %d\n", p->oom_score_adj);
	if (p->attrs & CKPT_PROC_MORE)
		printf("  coredump_filter 0x%x securebits 0x%x speculation %u/%u/%u tsc %u\n", p->coredump_filter,
		       p->securebits, p->spec[0], p->spec[1], p->spec[2], p->tsc);
	if (p->attrs & CKPT_PROC_CAPBSET)
		printf("  bounding set 0x%lx\n", p->capbset);
	if (p->attrs & CKPT_PROC_SUBREAPER)
		printf("  child_subreaper\n");
	if (p->pdeathsig)
		printf("  pdeathsig %u\n", p->pdeathsig);
	if (p->mdwe)
		printf("  mdwe 0x%x (memory-deny-write-execute)\n", p->mdwe);
	if (p->membarrier)
		printf("  membarrier registered%s%s%s%s\n",
		       p->membarrier & CKPT_MEMBARRIER_REGISTER_GLOBAL_EXPEDITED ? " global-expedited" : "",
		       p->membarrier & CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED ? " private-expedited" : "",
		       p->membarrier & CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE ? " sync-core" : "",
		       p->membarrier & CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED_RSEQ ? " rseq" : "");
	if (p->attrs & CKPT_PROC_GROUPS) {
		printf("  groups");
		for (uint32_t i = 0; i < p->ngroups; i++)
			printf(" %u", p->groups[i]);
		printf("\n");
	}
	for (int i = 0; i < CKPT_PROC_NLOST; i++)
		if (p->attrs & (CKPT_PROC_GROUPS_LOST << i))
			printf("  not restored: %s\n", img_lost_names[i]);
	if (p->attrs & CKPT_PROC_THP_DISABLE)
		printf("  thp_disable%s\n", p->attrs & CKPT_PROC_THP_EXCEPT_ADVISED ? " except_advised" : "");
}

/* interval timers, POSIX timers, pending signals */
static void print_timers_and_pending(const struct img *img)
{
	const struct ckpt_proc *p = img->proc;

	for (int i = 0; i < 3; i++)
		if (p->itimer[i].value_sec || p->itimer[i].value_usec)
			printf("  itimer %s: %ld.%06lds left, every %ld.%06lds\n", i == 0 ? "REAL" : i == 1 ? "VIRTUAL" : "PROF",
			       p->itimer[i].value_sec, p->itimer[i].value_usec, p->itimer[i].interval_sec,
			       p->itimer[i].interval_usec);
	for (uint32_t i = 0; i < img->hdr.ntimers; i++) {
		const struct ckpt_timer *t = &img->timers[i];

		printf("  posix timer %d: clock %d signal %d notify %d", t->id, t->clockid, t->signo, t->notify);
		if (t->notify & 4)			/* SIGEV_THREAD_ID */
			printf(" (thread %d)", t->tid);
		printf(" value 0x%lx, %ld.%09lds left, every %ld.%09lds\n", t->sigval, t->value_sec, t->value_nsec,
		       t->interval_sec, t->interval_nsec);
	}
	for (uint32_t i = 0; i < img->hdr.nsigs; i++)
		printf("  pending signal %u (%s)\n", img->sigs[i].signo, img->sigs[i].shared ? "process" : "thread");
}

static void print_process(const struct img *img)
{
	const struct ckpt_proc *p = img->proc;

	printf("process\n");
	printf("  comm %s  umask %03o  cwd %s\n", esc(p->comm), p->umask, esc(img_str(img, p->cwd_off)));
	printf("  exe  %s\n", esc(img_str(img, p->exe_off)));
	printf("  resume block 0x%lx\n", p->resume_addr);
	printf("  code 0x%lx-0x%lx  data 0x%lx-0x%lx  brk 0x%lx-0x%lx  stack 0x%lx\n", p->start_code,
	       p->end_code, p->start_data, p->end_data, p->start_brk, p->brk, p->start_stack);
	printf("  args 0x%lx-0x%lx  env 0x%lx-0x%lx  auxv %u words\n", p->arg_start, p->arg_end,
	       p->env_start, p->env_end, p->auxv_words);
	print_sigactions(p);
	print_limits(p);
	print_timers_and_pending(img);
}

/* a file type (st_mode) in words */
static const char *path_type(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0100000: return "regular file";
	case 0040000: return "directory";
	case 0120000: return "symbolic link";
	case 0140000: return "socket file";
	case 0010000: return "FIFO";
	case 0020000: return "character device";
	case 0060000: return "block device";
	default: return "file of unknown type";
	}
}

/* descriptor i, and an epoll's or inotify's watches or a terminal's mode (read from its stored bytes) */
static void print_fd(const struct img *img, uint32_t i)
{
	static const char *const kinds[CKPT_FD_KIND_MAX] = {
		[CKPT_FD_REG] = "file", [CKPT_FD_DIR] = "dir", [CKPT_FD_PIPE] = "pipe", [CKPT_FD_FIFO] = "fifo",
		[CKPT_FD_CHR] = "chardev", [CKPT_FD_MEMFD] = "memfd", [CKPT_FD_DELETED] = "deleted",
		[CKPT_FD_EVENTFD] = "eventfd", [CKPT_FD_TIMERFD] = "timerfd", [CKPT_FD_SIGNALFD] = "signalfd",
		[CKPT_FD_UNSUPPORTED] = "UNSUPPORTED", [CKPT_FD_EPOLL] = "epoll", [CKPT_FD_SOCKET] = "socket",
		[CKPT_FD_UNIX_PAIR] = "unix-pair", [CKPT_FD_INOTIFY] = "inotify", [CKPT_FD_PIDFD] = "pidfd",
		[CKPT_FD_NETLINK] = "netlink", [CKPT_FD_PTY] = "pty",
		[CKPT_FD_FANOTIFY] = "fanotify", [CKPT_FD_USERFAULTFD] = "userfaultfd",
	};
	const struct ckpt_fd *f = &img->fds[i];

	printf("  %4d %-11s flags 0%06o%s pos %-8lu %s", f->fd, kinds[f->kind], f->flags,
	       f->fd_flags & CKPT_FD_CLOEXEC ? " cloexec" : "        ", f->pos, esc(img_str(img, f->path_off)));
	if (f->share != i)
		printf("  (same file as fd %d)", img->fds[f->share].fd);
	if (f->peer != i)
		printf("  (other end: fd %d)", img->fds[f->peer].fd);
	if (f->data_len)
		printf("  [%lu bytes stored]", f->data_len);
	printf("\n");
	if (f->kind == CKPT_FD_UNSUPPORTED)
		printf("         not restored: %s\n", img_fd_why(f));
	if (f->kind == CKPT_FD_SOCKET)
		printf("         family %lu type %lu protocol %lu, listen backlog %lu (0: not listening), "
		       "options 0x%lx, buffers rcv %u snd %u, peek offset %d\n", f->aux[0], f->aux[1], f->aux[2],
		       f->aux[4] & CKPT_SO_DGRAM_QUEUE ? 0 : f->aux[3],
		       f->aux[4], (uint32_t)f->aux[5], (uint32_t)(f->aux[5] >> 32),
		       f->aux[4] & CKPT_SO_PEEK_OFF ? f->sock_peek_off : -1);
	if ((f->flags & 010000000) && f->kind != CKPT_FD_UNSUPPORTED)	/* O_PATH */
		printf("         O_PATH: a path descriptor of a %s\n", path_type(f->mode));
	if (f->kind == CKPT_FD_NETLINK) {
		uint32_t groups[CKPT_NETLINK_GROUPS_MAX / 4];
		uint64_t n = f->data_len <= sizeof(groups) &&
			     pread(img->fd, groups, f->data_len, (off_t)f->data_off) == (ssize_t)f->data_len ?
			     f->data_len * 8 : 0;

		printf("         netlink %s (protocol %lu) type %lu, %s, options 0x%lx, buffers rcv %u snd %u, "
		       "%ld bytes were queued (not kept); groups:", img_netlink_name(f->aux[0]), f->aux[0], f->aux[1],
		       !f->aux[3] ? "not bound" : f->aux[2] ? "bound to its port id" : "bound, the port id chosen by the kernel",
		       f->aux[4], (uint32_t)f->aux[5], (uint32_t)(f->aux[5] >> 32), f->size);
		for (uint64_t g = 0; g < n; g++)
			if (groups[g / 32] & (1u << (g % 32)))
				printf(" %lu", g + 1);
		printf(n ? "\n" : " none\n");
		if (f->aux[2])
			printf("         port id %lu\n", f->aux[2]);
	}
	if (f->kind == CKPT_FD_SOCKET && (f->aux[4] & CKPT_SO_DGRAM_PEER))
		printf("         a UDP socket connected to a peer (the second address): connected again\n");
	if (f->kind == CKPT_FD_SOCKET && f->size)
		printf("         %ld datagrams queued at the checkpoint: %s\n", f->size,
		       f->aux[4] & CKPT_SO_DGRAM_QUEUE ? "stored with their senders, queued again" : "not restored");
	if (f->kind == CKPT_FD_UNIX_PAIR)
		printf("         type %lu, other end %s (inode %lu), options 0x%lx (passcred 1, shut rd 2, wr 4, "
		       "named 8), peek offset %ld, buffers rcv %u snd %u\n", f->aux[0],
		       f->peer != f->share ? "in this process" : "closed", f->aux[3], f->aux[2], (int64_t)f->aux[4],
		       (uint32_t)f->aux[5], (uint32_t)(f->aux[5] >> 32));
	if (f->kind == CKPT_FD_UNSUPPORTED && f->aux[0] == CKPT_WHY_INOTIFY_PATH && f->aux[1])
		printf("         watch %lu: inode %lu on device %lu:%lu\n", f->aux[1], f->aux[3], f->aux[2] >> 32,
		       f->aux[2] & 0xffffffff);
	if (f->kind == CKPT_FD_INOTIFY && f->share == i)
		printf("         last wd handed out %lu, %lu bytes of events pending at checkpoint (not restored)\n",
		       f->aux[0], f->aux[1]);
	for (uint64_t k = 0; f->kind == CKPT_FD_INOTIFY && k < f->data_len / sizeof(struct ckpt_inotify_watch); k++) {
		struct ckpt_inotify_watch wt;

		if (pread(img->fd, &wt, sizeof(wt), (off_t)(f->data_off + k * sizeof(wt))) != sizeof(wt))
			break;
		printf("         watch %d: mask 0x%x, inode %lu on device %lu:%lu, %s\n", wt.wd, wt.mask, wt.ino,
		       wt.dev >> 32, wt.dev & 0xffffffff,
		       wt.path_off < img->hdr.strings_size ? esc(img_str(img, wt.path_off)) : "(path out of range)");
	}
	if (f->kind == CKPT_FD_FANOTIFY && f->share == i)
		printf("         fanotify_init flags 0x%lx, event flags 0%lo, %lu bytes of events pending at checkpoint "
		       "(not restored)\n", f->aux[0], f->aux[1], f->aux[2]);
	for (uint64_t k = 0; f->kind == CKPT_FD_FANOTIFY && k < f->data_len / sizeof(struct ckpt_fanotify_mark); k++) {
		static const char *const types[] = { "inode", "mount", "file system" };
		struct ckpt_fanotify_mark m;

		if (pread(img->fd, &m, sizeof(m), (off_t)(f->data_off + k * sizeof(m))) != sizeof(m))
			break;
		printf("         mark %lu: %s, mask 0x%lx, ignored 0x%lx, flags 0x%x, %s\n", k + 1,
		       m.type <= CKPT_FAN_FS ? types[m.type] : "?", m.mask, m.ignored_mask, m.flags,
		       m.path_off < img->hdr.strings_size ? esc(img_str(img, m.path_off)) : "(path out of range)");
	}
	if (f->kind == CKPT_FD_USERFAULTFD && f->share == i)
		printf("         features 0x%lx%s%s, %lu write-protected ranges%s\n", f->aux[0] & ~(1ul << 31),
		       f->aux[0] ? "" : " (UFFDIO_API not called)",
		       f->aux[1] & CKPT_UFFD_USER_MODE ? ", user mode only" : "",
		       f->data_len / sizeof(struct ckpt_uffd_range),
		       f->aux[2] ? ", events pending at checkpoint (not restored)" : "");
	for (uint64_t k = 0; f->kind == CKPT_FD_USERFAULTFD && k < f->data_len / sizeof(struct ckpt_uffd_range); k++) {
		struct ckpt_uffd_range r;

		if (pread(img->fd, &r, sizeof(r), (off_t)(f->data_off + k * sizeof(r))) != sizeof(r))
			break;
		printf("         write-protected 0x%lx-0x%lx\n", r.start, r.end);
	}
	if (f->kind == CKPT_FD_SOCKET && (f->aux[4] & CKPT_SO_TCP_REPAIR)) {	/* validated by img_open */
		struct ckpt_tcp_repair r;
		uint64_t at = f->data_off + (f->aux[0] == 2 ? 32 : 56);

		if (pread(img->fd, &r, sizeof(r), (off_t)at) == sizeof(r))
			printf("         TCP_REPAIR: send seq %u (%u bytes queued), receive seq %u (%u bytes unread), "
			       "mss %u, options 0x%x, wscale %u/%u, timestamp %u, window wl1 %u snd %u max %u rcv %u "
			       "wup %u, buffers snd %u rcv %u\n", r.snd_seq, r.snd_len, r.rcv_seq, r.rcv_len, r.mss,
			       r.options, r.wscale & 0xffff, r.wscale >> 16, r.timestamp, r.window[0], r.window[1],
			       r.window[2], r.window[3], r.window[4], r.sndbuf, r.rcvbuf);
	}
	if (f->kind == CKPT_FD_PTY)
		printf("         pty %s of /dev/pts/%lu at the checkpoint (made again as a new pair)%s%s, %lu bytes "
		       "queued to read here (not kept)\n", f->aux[0] == CKPT_PTY_MASTER ? "master" : "slave", f->aux[1],
		       f->aux[2] & CKPT_PTY_LOCKED ? ", locked" : "", f->aux[2] & CKPT_PTY_PACKET ? ", packet mode" : "",
		       f->aux[3]);
	if ((f->kind == CKPT_FD_CHR || f->kind == CKPT_FD_PTY) && f->data_len == sizeof(struct ckpt_tty)) {
		struct ckpt_tty t;

		if (pread(img->fd, &t, sizeof(t), (off_t)f->data_off) == sizeof(t))
			printf("         terminal: %s, echo %s, lflag 0%o iflag 0%o oflag 0%o cflag 0%o, window %ux%u%s%s\n",
			       t.lflag & 2 /* ICANON */ ? "line mode" : "raw (no ICANON)", t.lflag & 010 /* ECHO */ ? "on" : "off",
			       t.lflag, t.iflag, t.oflag, t.cflag, t.rows, t.cols,
			       t.flags & CKPT_TTY_CTTY ? ", the controlling terminal" : "",
			       t.flags & CKPT_TTY_FOREGROUND ? ", its process group in the foreground" : "");
	}
	for (uint64_t k = 0; f->kind == CKPT_FD_EPOLL && k < f->data_len / sizeof(struct ckpt_epoll_watch); k++) {
		struct ckpt_epoll_watch wt;

		if (pread(img->fd, &wt, sizeof(wt), (off_t)(f->data_off + k * sizeof(wt))) != sizeof(wt))
			break;
		printf("         watches fd %d: events 0x%x, data 0x%lx\n", wt.fd, wt.events, wt.data);
	}
}

static void print_fds(const struct img *img)
{
	printf("descriptors %u\n", img->hdr.nfds);
	for (uint32_t i = 0; i < img->hdr.nfds; i++)
		print_fd(img, i);
}

/* the file locks and leases the restorer takes again */
static void print_locks(const struct img *img)
{
	if (!img->hdr.nlocks)
		return;
	printf("locks %u (taken again at restore)\n", img->hdr.nlocks);
	for (uint32_t i = 0; i < img->hdr.nlocks; i++) {
		const struct ckpt_lock *l = &img->locks[i];
		const struct ckpt_fd *f = &img->fds[l->fd_index];

		printf("  %4d %-16s", f->fd, img_lock_name(l));
		if ((l->kind == CKPT_LOCK_POSIX || l->kind == CKPT_LOCK_OFD) && l->len)
			printf(" bytes %ld-%ld", l->start, l->start + l->len - 1);
		else if (l->kind == CKPT_LOCK_POSIX || l->kind == CKPT_LOCK_OFD)
			printf(" bytes %ld to EOF", l->start);
		if (l->sig)
			printf(" (breaks told with signal %d)", l->sig);
		printf("  %s\n", esc(img_str(img, f->path_off)));
	}
}

static void print_regions(const struct img *img)
{
	printf("regions %u, runs %u\n", img->hdr.nvmas, img->hdr.nruns);
	printf("  %-33s %-4s %-11s %10s %8s  %s\n", "address", "perm", "kind", "size", "stored", "path");
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		char pm[5];

		perms(v->prot, v->flags, pm);
		printf("  %016lx-%016lx %s%c%-11s %9luK %7luK  %s%s%s%s%s%s%s\n", v->start, v->end, pm,
		       v->flags & CKPT_MAP_FRESH ? '*' : ' ',
		       img_kind_name(v->kind), (v->end - v->start) >> 10, v->pages_stored * 4,
		       esc(img_str(img, v->path_off)), v->name_off ? "[anon:" : "",
		       esc(img_str(img, v->name_off)), v->name_off ? "]" : "",
		       v->flags & CKPT_MAP_JOB_SHARED ? "  (the job's shared memory: its pages in the job table's)" : "",
		       v->flags & CKPT_MAP_UFFD_MISSING ? "  (userfaultfd: missing)" : "",
		       v->flags & CKPT_MAP_UFFD_WP ? "  (userfaultfd: write-protect)" : "");
	}
}

/* one process's image: every table */
static int print_image(const char *path)
{
	struct img img;
	struct img_err err;

	if (img_open(&img, path, 0, &err)) {
		fprintf(stderr, "readckpt: %s: %s\n", esc(path), err.msg);	/* msg: escaped already */
		return 2;
	}
	print_header(&img, path);
	print_threads(&img);
	print_process(&img);
	print_fds(&img);
	print_locks(&img);
	print_regions(&img);
	return 0;
}

/* a job's table: the tree, what its processes share, then each one's image */
static int print_job(const char *path)
{
	struct img_job j;
	struct img_err err;
	char when[64], member[IMG_PATH_MAX];
	time_t created;
	int r = 0;

	if (img_job_open(&j, path, &err)) {
		fprintf(stderr, "readckpt: %s: %s\n", esc(path), err.msg);
		img_job_close(&j);
		return 2;
	}
	created = (time_t)(j.hdr.created_ns / 1000000000ull);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&created));
	printf("job %s\n  format      job table version %u, %lu bytes\n  created     %s\n  id          ",
	       esc(path), j.hdr.version, j.hdr.file_size, when);
	for (int i = 0; i < 16; i++)
		printf("%02x", j.hdr.job_id[i]);
	printf("\nprocesses %u\n  %-8s %-8s %-8s %-8s %-16s %s\n", j.hdr.nprocs, "pid", "parent", "group",
	       "session", "name", "state");
	for (uint32_t i = 0; i < j.hdr.nprocs; i++) {
		const struct ckpt_job_proc *p = &j.procs[i];
		int depth = 0;

		for (int32_t a = p->parent; a >= 0; a = j.procs[a].parent)
			depth++;
		printf("  %*s%-*d %-8d %-8d %-8d %-16s ", 2 * depth, "", 8 - 2 * depth > 1 ? 8 - 2 * depth : 1,
		       p->pid, p->parent >= 0 ? j.procs[p->parent].pid : 0, p->pgid, p->sid, esc(p->comm));
		if (p->state == CKPT_JOB_ZOMBIE && (p->status & 0x7f))
			printf("zombie, killed by signal %d\n", p->status & 0x7f);
		else if (p->state == CKPT_JOB_ZOMBIE)
			printf("zombie, exit status %d\n", (p->status >> 8) & 0xff);
		else
			printf("live, image %s\n", esc(p->image));
	}
	printf("shared %u\n", j.hdr.nobjs);
	for (uint32_t k = 0; k < j.hdr.nobjs; k++) {
		const struct ckpt_job_obj *o = &j.objs[k];

		if (o->kind == CKPT_JOB_PIPE)
			printf("  %u pipe, %lu bytes in it, made by pid %d:", k, o->data_len, j.procs[o->owner].pid);
		else if (o->kind == CKPT_JOB_UNIX_PAIR)
			printf("  %u UNIX %s connection, %u + %lu bytes queued, made by pid %d:", k,
			       o->pipe_size == 1 ? "stream" : o->pipe_size == 2 ? "datagram" : "seqpacket", o->split,
			       o->data_len - o->split, j.procs[o->owner].pid);
		else if (o->kind == CKPT_JOB_SHM) {
			const struct ckpt_job_shm *m = (const struct ckpt_job_shm *)(j.base + o->data_off);
			const struct ckpt_job_shm_map *p = (const struct ckpt_job_shm_map *)(m + 1);

			printf("  %u shared memory, %lu bytes (%lu pages stored) in %s, crc 0x%08x, made by pid %d:", k,
			       m->size, m->stored, esc(m->file), m->crc, j.procs[o->owner].pid);
			for (uint32_t n = 0; n < m->nmaps; n++)
				printf(" %d/0x%lx-0x%lx@%lu", j.procs[p[n].proc].pid, p[n].start, p[n].end, p[n].offset);
		} else
			printf("  %u open file, made by pid %d from its fd %d:", k, j.procs[o->owner].pid, o->owner_fd);
		for (uint32_t f = 0; f < j.hdr.nrefs; f++)
			if (j.refs[f].obj == k)
				printf(" %d/%d%s", j.procs[j.refs[f].proc].pid, j.refs[f].fd,
				       o->kind == CKPT_JOB_FILE ? "" : o->kind == CKPT_JOB_UNIX_PAIR ?
				       (j.refs[f].end ? "b" : "a") : j.refs[f].end ? "w" : "r");
		printf("\n");
	}
	for (uint32_t i = 0; i < j.hdr.nprocs; i++) {
		if (j.procs[i].state != CKPT_JOB_LIVE)
			continue;
		printf("\n");
		if (!img_job_member_path(path, &j.procs[i], member, sizeof(member)) || print_image(member))
			r = 2;
	}
	img_job_close(&j);
	return r;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "myckpt";

	img_unpack_pages = 0;		/* a compressed image: its tables and descriptors' bytes */

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(argc > 2 ? stderr : stdout, "usage: readckpt [IMAGE]   (default: myckpt)\n");
		return argc > 2 ? 2 : 0;
	}
	return img_job_is(path) ? print_job(path) : print_image(path);
}
