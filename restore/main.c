/* main.c -- the restorer: turn this fresh process into the one in the image.
 *
 *   ./restorer [-v] [--lazy] [--same-pid] [--stdio=caller|image] [--close-unsupported] [--as-owner]
 *              [--clocks=continue|host] [--cwd DIR] [--map-path OLD=NEW]... [IMAGE]
 *                                    IMAGE defaults to "myckpt"
 *
 * Steps (docs/restore.md numbers them the same way):
 *   1. block every signal; read argv and auxv from the kernel's stack
 *   2. read and validate the header and tables (image.c); a privileged restorer
 *      checks whose image it is, and --as-owner becomes its owner (check_owner)
 *   3. check this machine: CPU features, XSAVE components, vDSO, mapped files, pkeys, cwd,
 *      resource limits; make every descriptor at a staging number (fds.c); every
 *      path the image names goes through --cwd and --map-path first (paths.c)
 *      -- any refusal so far: "restorer: IMAGE: reason", exit 2, nothing changed --
 *  3b. clocks: an image of another boot (or time namespace) gets a new time
 *      namespace in which CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from its
 *      values (continue_clocks); then --same-pid's new process, if asked
 *   4. rebuild the address space (vma.c): park vDSO, unmap all else, place vDSO,
 *      map and fill every region, checking each run's checksum (a bad one: exit 2)
 *   5. process state: cwd, umask, name, signal dispositions, altstack, mm fields,
 *      rseq, tid address, robust list, limits, personality, timers, pending
 *      signals; descriptors moved to their numbers; the resume block for libckpt;
 *      POSIX locks taken again (locks.c: OFD, flock locks and leases were taken
 *      in step 3)
 *   6. the other threads (each sets its scheduling, rseq, tid address...), this
 *      thread's scheduling; rst_jump: fs/gs base, FPU state, registers, iretq -- POINT OF NO RETURN
 * Fds 0, 1, 2 stay the caller's (unless --stdio=image); every descriptor the
 * image did not have is closed before step 6.
 * Signals stay blocked through the jump: libckpt puts back the mask it had at
 * the save point once it has unmapped the restorer (the program's own mask
 * then returns with sigreturn), so no handler runs on a half-built process.
 */
#include "rst.h"
#include "ckpt_sys.h"
#include "cpu.h"

void rst_jump(const struct ckpt_regs *regs, const void *fpu, uint64_t xmask, unsigned flags)
	__attribute__((noreturn));
#define RST_MAX_THREADS	64
#define RST_THREAD_STACK 16384
void rst_main(uint64_t *sp) __attribute__((noreturn, used));

extern char rst_zone_start[], rst_zone_end[], rst_tables_addr[];

#define AT_NULL		0
#define AT_ENTRY	9
#define AT_HWCAP2	26
#define HWCAP2_FSGSBASE	0x2

static char image_path[4096];		/* argv lives on the stack step 4 unmaps */
static uint64_t hwcap2;			/* AT_HWCAP2 of this process */
static uint8_t thread_stacks[RST_MAX_THREADS][RST_THREAD_STACK] __attribute__((aligned(16)));
#define MAX_CHAIN 256
static struct img parents[MAX_CHAIN];	/* an incremental image's parents, newest first */
static char parent_paths[MAX_CHAIN][IMG_PATH_MAX];
static const struct img *chain[MAX_CHAIN + 1];	/* oldest (full) first */
static uint32_t nchain;
static int file_fds[CKPT_MAX_VMAS];	/* per vma: the opened mapped file, or -1 */
static struct img img;

static long cwd_fd = -1;		/* the working directory, pinned in step 3 */
static char cwd_path[RST_PATH_MAX];	/* the image's, mapped by --map-path */
static const char *cwd_name;		/* its path: --cwd's, the image's or cwd_path */
static struct ckpt_bail *bail;		/* tlongjmp: where to go back on a refusal */
static int carry_fd = -1;		/* tlongjmp: libckpt's memfd, handed back to it */

/* Refused before anything changed: exit 2, or for a tlongjmp go back into the
 * program (rax = 2) after closing what we opened in its descriptor table. */
static void __attribute__((noreturn)) refuse(const char *path, const struct img_err *e)
{
	img_say(2, "restorer: %s: %S\n", path, e->msg[0] ? e->msg : "refused without a reason (a restorer bug)");
	rst_job_failed();			/* a job's other processes go too */
	if (!bail)
		sys_exit_group(2);
	if (img.fd >= 0)
		rst_close_files(&img, file_fds, 3);
	if (img.fd > 2)
		sys_close(img.fd);
	if (cwd_fd > 2)
		sys_close((int)cwd_fd);
	bail->regs.rax = 2;
	rst_jump(&bail->regs, (const void *)bail->fpu, bail->xfeatures, bail->flags);
}

/* Whose rights the program gets back.  A restorer with euid 0 or any
 * capability would run the image's code, and open every file the image
 * names, with those: it restores only images that belong to the uid it runs
 * as and that no one else can write (each parent of a chain too).  With
 * --as-owner it first becomes the owner of an image of another uid (its uid,
 * and the file's gid, no supplementary groups), before any path the image
 * names is opened. */
static int privileged_start;		/* euid 0 or a capability when the restorer started */

static int has_capabilities(void)
{
	struct { uint32_t version; int32_t pid; } hdr = { 0x20080522 /* v3 */, 0 };
	uint32_t caps[6] = { 0 };		/* effective, permitted, inheritable; x2 */

	return sys_failed(SC2(__NR_capget, &hdr, caps)) || (caps[0] | caps[1] | caps[3] | caps[4]);
}

static int check_owner(int fd, int as_owner, struct img_err *e)
{
	struct ksys_stat st;
	uint32_t euid;
	long r;

	if (!privileged_start)
		return 0;
	euid = (uint32_t)SC0(__NR_geteuid);
	if (sys_failed(sys_fstat(fd, &st)))
		return img_fail(e, "fstat failed");
	if ((st.st_mode & 022) && st.st_nlink)	/* a memfd (tlongjmp's in-memory image) has no name to write by */
		return img_fail(e, "writable by group or others: refused by a privileged restorer");
	if (st.st_uid == euid)
		return 0;
	if (!as_owner)
		return img_fail(e, "belongs to uid %u, not to you (uid %u): restore it as that user, or "
				"with --as-owner to run it with that uid's rights", st.st_uid, euid);
	r = SC2(__NR_setgroups, 0, 0);
	if (!r)
		r = SC3(__NR_setresgid, st.st_gid, st.st_gid, st.st_gid);
	if (!r)
		r = SC3(__NR_setresuid, st.st_uid, st.st_uid, st.st_uid);
	if (sys_failed(r))
		return img_fail(e, "--as-owner: cannot become uid %u gid %u: errno %d", st.st_uid, st.st_gid,
				(int)-r);
	if (st.st_uid && has_capabilities())
		return img_fail(e, "--as-owner: still holds capabilities as uid %u", st.st_uid);
	sys_prctl(4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0);	/* a process of that user like any other */
	return 0;
}

/* "--in-process=FD,ADDR" (decimal fd, hex address of a struct ckpt_bail) */
static int parse_in_process(const char *s)
{
	uint64_t fd = img_parse_num(&s, 10), addr;

	if (*s++ != ',')
		return -1;
	addr = img_parse_num(&s, 16);
	if (*s || !addr || (addr & 7) || fd > 0x7fffffff)
		return -1;
	carry_fd = (int)fd;
	bail = (struct ckpt_bail *)addr;
	return 0;
}

static void __attribute__((noreturn)) usage(int status)
{
	static const char text[] =
		"usage: restorer [-v] [--lazy] [--same-pid] [--stdio=caller|image]\n"
		"                [--close-unsupported] [--as-owner] [--clocks=continue|host]\n"
		"                [--cwd DIR] [--map-path OLD=NEW]... [IMAGE]\n"
		"  restore the process saved in IMAGE (default: myckpt) into this process\n"
		"  -v, --verbose         say what is restored and what had to be skipped\n"
		"  --lazy                map page data from IMAGE instead of reading it: the\n"
		"                        program runs at once and pages come in on first touch;\n"
		"                        page checksums are not checked, and IMAGE must stay\n"
		"                        (replace it only by rename, never rewrite it in place)\n"
		"  --stdio=caller        fds 0, 1, 2 are this command's (the default)\n"
		"  --stdio=image         fds 0, 1, 2 are opened again as the image recorded them\n"
		"  --close-unsupported   restore descriptors that cannot be made again (connected sockets...)\n"
		"                        as closed, with a notice, instead of refusing the image\n"
		"  --same-pid            give the program its old pid and tids back (with\n"
		"                        CAP_CHECKPOINT_RESTORE, else in new user and PID\n"
		"                        namespaces; this command waits for it)\n"
		"  --as-owner            with privilege (root, or any capability), restore an\n"
		"                        image of another user as that user (its uid and gid,\n"
		"                        no other groups); without it such an image is refused\n"
		"  --clocks=continue     (the default) an image of another boot: CLOCK_MONOTONIC\n"
		"                        and CLOCK_BOOTTIME go on from its values, in a new time\n"
		"                        namespace (without privilege, in a user namespace of its\n"
		"                        own); a notice where that cannot be done\n"
		"  --clocks=host         the program sees this boot's clocks as they are\n"
		"  --cwd DIR             the working directory to restore into, instead of\n"
		"                        the image's (gone, or elsewhere on this machine)\n"
		"  --map-path OLD=NEW    every path the image names that is OLD or under it\n"
		"                        (whole components) is NEW, or under NEW, here: files,\n"
		"                        mapped files, FIFOs, the cwd; absolute paths; up to 16,\n"
		"                        the longest OLD that matches wins\n"
		"  -h, --help            this text\n"
		"exit status: 2 image refused or bad usage (nothing changed), 127 restore failed\n";

	sys_write(status ? 2 : 1, text, sizeof(text) - 1);
	sys_exit_group(status);
}

/* The FPU area must load without a fault: XRSTOR/FXRSTOR raise #GP on MXCSR
 * bits this CPU reserves, on components it does not enable, and on a
 * compacted or dirty XSAVE header. */
static int check_fpu_area(const struct img *im, const struct ckpt_thread *t, uint64_t xcr0,
			  struct img_err *e)
{
	static uint8_t probe[512] __attribute__((aligned(64)));
	const uint8_t *a = im->tables + (t->xsave_off - im->hdr.tables_off);
	uint32_t mxcsr, mask;
	uint64_t hdr[8];

	__asm__ volatile("fxsave %0" : "=m"(probe));
	memcpy(&mask, probe + 28, 4);		/* MXCSR_MASK; 0 means the default 0xffbf */
	memcpy(&mxcsr, a + 24, 4);
	if (mxcsr & ~(mask ? mask : 0xffbf))
		return img_fail(e, "thread %u: MXCSR 0x%x sets bits this CPU reserves", t->tid, mxcsr);
	if (!(t->flags & CKPT_CTX_XSAVE))
		return 0;
	memcpy(hdr, a + 512, sizeof(hdr));	/* hdr[0]: XSTATE_BV, the components not in their first state */
	if (hdr[0] & ~xcr0)
		return img_fail(e, "thread %u: its saved state uses XSAVE components 0x%lx, this CPU enables 0x%lx",
				t->tid, hdr[0], xcr0);
	if (hdr[0] & ~t->xfeatures || hdr[1] || hdr[2] | hdr[3] | hdr[4] | hdr[5] | hdr[6] | hdr[7])
		return img_fail(e, "thread %u: XSAVE header invalid (xstate_bv 0x%lx, xcomp_bv 0x%lx)", t->tid,
				hdr[0], hdr[1]);
	for (uint32_t c = 2; c < 63; c++) {	/* XRSTOR reads each component xstate_bv names */
		uint32_t r[4];

		if (!(hdr[0] >> c & 1))
			continue;
		img_cpuid(0xd, c, r);		/* eax: its size, ebx: its offset in the area */
		if ((uint64_t)r[0] + r[1] > t->xsave_size)
			return img_fail(e, "thread %u: XSAVE component %u ends past the %u-byte area", t->tid, c,
					t->xsave_size);
	}
	return 0;
}

/* This CPU's XCR0, once check_cpu has run: XRSTOR loads only what it enables */
static uint64_t this_xcr0;

/* CPU features and FPU layout: the image's program may have picked code paths
 * (glibc ifuncs) by them, all its CPU had or, started for an x86-64 level
 * (hdr.cpu_level), that level's; and its XSAVE area must fit this CPU. */
static int check_cpu(const struct img *im, struct img_err *e)
{
	const struct ckpt_hdr *h = &im->hdr;
	struct img_cpu_level l = { ~0u, ~0u, ~0u, ~0ull };
	uint32_t miss, leaf7_rest = ~0u;	/* leaf 7 ecx, edx: no level names them */
	struct img_cpu cpu;

	if (img_cpu_level(h->cpu_level, &l))
		leaf7_rest = 0;
	img_probe_cpu(&cpu);
	this_xcr0 = cpu.xcr0;
	miss = h->cpuid1_ecx & l.cpuid1_ecx & ~cpu.cpuid1_ecx & ~CKPT_CPUID1_ECX_IGNORE;
	if (miss)
		return img_fail(e, "this CPU lacks features the image's CPU had (cpuid 1 ecx 0x%x)", miss);
	if ((miss = h->cpuid1_edx & l.cpuid1_edx & ~cpu.cpuid1_edx))
		return img_fail(e, "this CPU lacks features the image's CPU had (cpuid 1 edx 0x%x)", miss);
	if ((miss = h->cpuid7_ebx & l.cpuid7_ebx & ~cpu.cpuid7_ebx))
		return img_fail(e, "this CPU lacks features the image's CPU had (cpuid 7 ebx 0x%x)", miss);
	if ((miss = h->cpuid7_ecx & leaf7_rest & ~cpu.cpuid7_ecx))
		return img_fail(e, "this CPU lacks features the image's CPU had (cpuid 7 ecx 0x%x)", miss);
	if ((miss = h->cpuid7_edx & leaf7_rest & ~cpu.cpuid7_edx))
		return img_fail(e, "this CPU lacks features the image's CPU had (cpuid 7 edx 0x%x)", miss);
	if (h->xcr0 & l.xcr0 & ~cpu.xcr0)	/* glibc picks AVX/AVX-512 code by XCR0 */
		return img_fail(e, "image's CPU enabled XSAVE components 0x%lx, this CPU enables 0x%lx",
				h->xcr0 & l.xcr0, cpu.xcr0);
	for (uint32_t i = 0; i < h->nthreads; i++)
		if (check_fpu_area(im, &im->threads[i], cpu.xcr0, e))
			return -1;
	return 0;
}

/* /proc/sys/vm/mmap_min_addr: no region may start below it (64 KiB when it
 * cannot be read), even where CAP_SYS_RAWIO would let mmap put one there */
static uint64_t mmap_min_addr(void)
{
	char text[32];
	const char *p = text;
	long fd = sys_open("/proc/sys/vm/mmap_min_addr", O_RDONLY | O_CLOEXEC, 0), n = -1;

	if (!sys_failed(fd)) {
		n = sys_read((int)fd, text, sizeof(text) - 1);
		sys_close((int)fd);
	}
	if (n <= 0 || text[0] < '0' || text[0] > '9')
		return 65536;
	text[n] = 0;
	return img_parse_num(&p, 10);
}

static int check_process(const struct img *im, struct img_err *e)
{
	const char *cwd = img_str(im, im->proc->cwd_off);
	struct ksys_stat st;
	uint64_t min_addr = mmap_min_addr();

	if (im->hdr.nthreads > RST_MAX_THREADS)
		return img_fail(e, "image has %u threads; this restorer makes at most %u", im->hdr.nthreads,
				RST_MAX_THREADS);
	if (im->threads[0].tid != im->proc->pid)
		return img_fail(e, "thread 0 is tid %u, not the process's main thread %u", im->threads[0].tid,
				im->proc->pid);
	if (bail && im->hdr.nthreads > 1)
		return img_fail(e, "a roll-back into a multi-threaded image is not supported");
	if (rst_cwd[0])				/* --cwd DIR */
		cwd = rst_cwd;
	else if (*cwd && !(cwd = rst_map_path(cwd, cwd_path, e)))
		return -1;
	cwd_name = cwd;
	if (*cwd && sys_failed(cwd_fd = rst_pin(cwd, S_IFDIR, &st)))
		return cwd_fd == RST_WRONG_TYPE ? img_fail(e, "working directory %s is now a %s", cwd,
							   rst_type_name(st.st_mode))
		       : cwd_fd == -2 || cwd_fd == -20 /* ENOENT, ENOTDIR */
				? img_fail(e, "working directory %s is gone (restore elsewhere with --cwd DIR)", cwd)
				: img_fail(e, "working directory %s: cannot open: errno %d", cwd, (int)-cwd_fd);
	for (uint32_t i = 0; i < im->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &im->vmas[i];

		if (v->end > (uint64_t)rst_zone_start && v->start < (uint64_t)rst_zone_end)
			return img_fail(e, "region 0x%lx-0x%lx collides with the restorer at 0x%lx-0x%lx",
					v->start, v->end, (uint64_t)rst_zone_start, (uint64_t)rst_zone_end);
		if (v->start < min_addr)
			return img_fail(e, "region 0x%lx-0x%lx lies below vm.mmap_min_addr 0x%lx", v->start, v->end,
					min_addr);
	}
	return 0;
}

/* The limits this process runs under now must let the image's memory and
 * descriptors exist (the image's own limits are set in step 5). */
static int check_limits(const struct img *im, struct img_err *e)
{
	struct { uint64_t cur, max; } lim;
	uint64_t total = 0, data = 0;
	int32_t top = -1;

	for (uint32_t i = 0; i < im->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &im->vmas[i];

		total += v->end - v->start;
		if ((v->prot & PROT_WRITE) && !(v->flags & (CKPT_MAP_SHARED | CKPT_MAP_GROWSDOWN)))
			data += v->end - v->start;
	}
	for (uint32_t i = 0; i < im->hdr.nfds; i++)
		top = im->fds[i].fd;
	if (!sys_prlimit(7, 0, &lim) && top >= 0 && lim.cur < (uint64_t)top + 1 + im->hdr.nfds)
		return img_fail(e, "RLIMIT_NOFILE is %lu here; the image has fd %d open (needs %lu)", lim.cur,
				top, (uint64_t)top + 1 + im->hdr.nfds);
	if (!sys_prlimit(9, 0, &lim) && lim.cur < total + ((uint64_t)rst_zone_end - (uint64_t)rst_zone_start))
		return img_fail(e, "RLIMIT_AS is %lu bytes here; the image maps %lu", lim.cur, total);
	if (!sys_prlimit(2, 0, &lim) && lim.cur < data)
		return img_fail(e, "RLIMIT_DATA is %lu bytes here; the image has %lu of private writable memory",
				lim.cur, data);
	return 0;
}

/* POSIX timers with their old ids (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.15).
 * A timer aimed at one thread (SIGEV_THREAD_ID) goes to that thread's tid
 * now: pid for the main thread, tids[k] for the image's thread k (0 while it
 * does not exist yet: such timers are made later, once it does). */
static void restore_timers(uint32_t old_pid, uint32_t pid, const int32_t *tids, int others)
{
	int on = 0;

	for (uint32_t i = 0; i < img.hdr.ntimers; i++) {
		const struct ckpt_timer *t = &img.timers[i];
		struct { uint64_t value; int32_t signo, notify, tid, pad[11]; } sev = {
			.value = t->sigval, .signo = t->signo, .notify = t->notify, .tid = t->tid,
		};
		int64_t its[4] = { t->interval_sec, t->interval_nsec, t->value_sec, t->value_nsec };
		int id = t->id, main_one = t->notify != 4 /* SIGEV_THREAD_ID */ || (uint32_t)t->tid == old_pid;
		long r;

		if (main_one == others)
			continue;			/* the other pass's */
		if (main_one)
			sev.tid = (int32_t)pid;
		for (uint32_t k = 1; !main_one && k < img.hdr.nthreads; k++)
			if (img.threads[k].tid == (uint32_t)t->tid)
				sev.tid = tids[k];
		if (!on && sys_failed(sys_prctl(77, 1, 0, 0, 0)))	/* PR_TIMER_CREATE_RESTORE_IDS on */
			img_say(2, "restorer: notice: this kernel cannot give timers their old ids\n");
		on = 1;
		r = sys_timer_create(t->clockid, &sev, &id);
		if (sys_failed(r) || id != t->id)
			img_say(2, "restorer: notice: POSIX timer %d not restored (errno %d, got id %d)\n", t->id,
				(int)-r, id);
		else if (its[2] || its[3])
			sys_timer_settime(id, 0, its);
	}
	if (on)
		sys_prctl(77, 0, 0, 0, 0);
}

/* Interval timers, POSIX timers of the process and its main thread, and the
 * signals that were pending: queued now, delivered once libckpt unblocks them. */
static void restore_timers_signals(const struct ckpt_proc *p, uint32_t old_pid, uint32_t pid)
{
	long r;

	for (int i = 0; i < 3; i++)
		if (p->itimer[i].value_sec || p->itimer[i].value_usec)
			sys_setitimer(i, &p->itimer[i]);
	restore_timers(old_pid, pid, 0, 0);
	for (uint32_t i = 0; i < img.hdr.nsigs; i++) {
		const struct ckpt_siginfo *s = &img.sigs[i];

		r = s->shared ? sys_rt_sigqueueinfo((int)pid, (int)s->signo, s->info)
			      : sys_rt_tgsigqueueinfo((int)pid, (int)pid, (int)s->signo, s->info);
		if (sys_failed(r))
			img_say(2, "restorer: notice: pending signal %u not queued again: errno %d\n", s->signo,
				(int)-r);
	}
}

/* Wait for process pid, then end the way it ended, so that the caller sees
 * one command with the program's status.  As pid 1 of a PID namespace
 * (reap_all) every orphan there is reaped on the way, and a death by signal
 * becomes status 128 + signal: the kernel ignores a signal pid 1 sends itself. */
static void __attribute__((noreturn)) end_as(long pid, int reap_all)
{
	int status = 0;
	long r;

	sys_close_range(0, ~0u);	/* hold no end of the program's pipes */
	do
		r = SC4(__NR_wait4, reap_all ? -1 : pid, &status, 0x40000000 /* __WALL */, 0);
	while (r == -4 || (r > 0 && r != pid));
	if (sys_failed(r))
		sys_exit_group(127);
	if ((status & 0x7f) == 0)
		sys_exit_group((status >> 8) & 0xff);
	if (!reap_all) {		/* killed by a signal: end the same way */
		uint64_t one = 1ull << ((status & 0x7f) - 1);
		struct ckpt_sigaction dfl = { 0 };

		sys_rt_sigaction(status & 0x7f, &dfl, 0);
		SC2(__NR_kill, sys_getpid(), status & 0x7f);
		sys_rt_sigprocmask(1 /* SIG_UNBLOCK */, &one, 0);
	}
	sys_exit_group(128 + (status & 0x7f));
}

static long fork_with_pid(int32_t *want)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
		uint64_t set_tid, set_tid_size, cgroup;
	} args = { .exit_signal = 17 /* SIGCHLD */, .set_tid = (uint64_t)want, .set_tid_size = want ? 1 : 0 };

	return SC2(__NR_clone3, &args, sizeof(args));
}

static int write_proc(const char *file, const char *text)
{
	long fd = sys_open(file, O_WRONLY | O_CLOEXEC, 0), n;

	if (sys_failed(fd))
		return (int)fd;
	n = sys_write((int)fd, text, rst_strlen(text));
	sys_close((int)fd);
	return sys_failed(n) ? (int)n : 0;
}

static void __attribute__((noreturn)) pid_refused(const char *path, uint32_t want, const char *why, long err)
{
	img_say(2, "restorer: %s: --same-pid: pid %u: %s: errno %d\n", path, want, why, (int)-err);
	sys_exit_group(2);
}

/* Each thread's capabilities, set by the thread itself before it enters the
 * program: the image's (a program that dropped some does not get them back
 * from a privileged restorer), or none inside a user namespace of our own
 * (those it gave are the restorer's, not the program's).  The kernel lets a
 * thread only lower them: what the image had beyond the restorer's own is a
 * notice. */
static int in_own_userns;
static int32_t new_tids[CKPT_MAX_THREADS];	/* the image's thread k runs as new_tids[k] */

static void set_capabilities(const struct ckpt_thread *t)
{
	static uint32_t said;
	struct { uint32_t version; int32_t pid; } hdr = { 0x20080522 /* v3 */, 0 };
	uint32_t now[6], want[6] = { 0 }, lacking = 0;	/* effective, permitted, inheritable; x2 */

	if (!in_own_userns && !(t->flags & CKPT_CTX_CAPS))
		return;				/* an older image: the restorer's stand */
	if (sys_failed(SC2(__NR_capget, &hdr, now)))
		return;
	for (int k = 0; k < 6 && !in_own_userns; k++) {
		want[k] = t->caps[k] & now[k];
		lacking |= t->caps[k] & ~now[k];
	}
	if (lacking && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		img_say(2, "restorer: notice: not restored: capabilities the image's process had and the "
			"restorer lacks\n");
	if (memcmp(want, now, sizeof(now)))
		SC2(__NR_capset, &hdr, want);
}

/* A user namespace of our own, made by unshare(2) together with the
 * namespaces in `also`, which it then owns: the uid and gid mapped to
 * themselves (every file is accessed as before), setgroups denied.  Its
 * capabilities are dropped before the program runs (set_capabilities).
 * Returns 0, or -errno with *mapping 0 when unshare failed, 1 when the maps. */
static long enter_own_userns(long also, int *mapping)
{
	uint32_t uid = (uint32_t)SC0(__NR_getuid), gid = (uint32_t)SC0(__NR_getgid);
	char map[64];
	long r;

	*mapping = 0;
	r = SC1(__NR_unshare, 0x10000000 /* CLONE_NEWUSER */ | also);
	if (sys_failed(r))
		return r;
	*mapping = 1;
	img_fmt(map, sizeof(map), "%u %u 1\n", uid, uid);
	r = write_proc("/proc/self/uid_map", map);
	if (!r)
		r = write_proc("/proc/self/setgroups", "deny");
	img_fmt(map, sizeof(map), "%u %u 1\n", gid, gid);
	if (!r)
		r = write_proc("/proc/self/gid_map", map);
	in_own_userns = !r;
	return r;
}

/* An ordinary user may not choose pids in the system's PID namespace, but may
 * in one it owns: a new user namespace (enter_own_userns) owning a new PID
 * namespace.  Its first process, pid 1 there, takes a mount
 * namespace with a /proc of the new PID namespace (so that /proc/PID means the
 * pids the program sees) and makes the program's process with the old pid;
 * then it reaps, and ends as the program ends.  Returns in the program's
 * process; this process and pid 1 wait.  (Inside the time namespace that
 * continue_clocks may have entered: every process made here is in it too.) */
static void old_pid_in_new_ns(const char *path, uint32_t want)
{
	int32_t tid = (int32_t)want;
	int mapping = 0;
	long r = -1, pid;

	if (rst_in_job || privileged_start)	/* a job as root: the system's users and rights */
		r = SC1(__NR_unshare, 0x20000000 /* CLONE_NEWPID */);
	if (r)
		r = enter_own_userns(0x20000000 /* CLONE_NEWPID */, &mapping);
	if (r)
		pid_refused(path, want, mapping ? "cannot map uid and gid in the new user namespace"
						: "needs CAP_CHECKPOINT_RESTORE or a user namespace (unshare)", r);
	pid = fork_with_pid(0);
	if (sys_failed(pid))
		pid_refused(path, want, "cannot start the new PID namespace", pid);
	if (pid)
		end_as(pid, 0);

	/* pid 1 of the new namespace: gone with the restorer that started it */
	sys_prctl(1 /* PR_SET_PDEATHSIG */, 9, 0, 0, 0);
	r = SC1(__NR_unshare, 0x00020000);			/* CLONE_NEWNS */
	if (!r)
		r = SC5(__NR_mount, 0, "/", 0, 16384 | (1 << 18), 0);	/* MS_REC | MS_PRIVATE */
	if (!r)
		r = SC5(__NR_mount, "proc", "/proc", "proc", 2 | 4 | 8, 0);	/* NOSUID NODEV NOEXEC */
	if (sys_failed(r))
		pid_refused(path, want, "cannot mount /proc for the new PID namespace", r);
	pid = fork_with_pid(&tid);
	if (sys_failed(pid))
		pid_refused(path, want, pid == -17 ? "is in use" : "cannot be had", pid);
	if (pid)
		end_as(pid, 1);
}

/* --same-pid: continue in a child made with clone3(set_tid = the image's pid),
 * in the system's PID namespace where allowed (CAP_CHECKPOINT_RESTORE), else
 * in new user and PID namespaces; this process waits for it. */
static void become_old_pid(const char *path, uint32_t want, int verbose)
{
	int32_t tid = (int32_t)want;
	long pid;

	if ((uint32_t)sys_getpid() == want)
		return;
	pid = fork_with_pid(&tid);
	if (pid == -1 /* EPERM */) {
		if (verbose)
			img_say(2, "restorer: %s: --same-pid: no CAP_CHECKPOINT_RESTORE: pid %u in new user "
				"and PID namespaces\n", path, want);
		old_pid_in_new_ns(path, want);
		return;
	}
	if (sys_failed(pid))
		pid_refused(path, want, pid == -17 ? "is in use" : "cannot be had", pid);
	if (pid)
		end_as(pid, 0);
}

/* Clocks that keep going.  CLOCK_MONOTONIC and CLOCK_BOOTTIME start near 0 at
 * each boot, and a program keeps deadlines and durations on them.  When this
 * process's clocks are not the image's (another boot, machine or time
 * namespace) the restorer enters a new time namespace whose offsets make both
 * continue from the values the image recorded: the time between checkpoint
 * and restore does not count on them, as if the program had been stopped on a
 * machine that was off.  Its timers (restored with their remaining times) keep
 * their deadlines on those clocks; CLOCK_REALTIME is the real time. */
#define NS_PER_SEC	1000000000ll
#define ANOTHER_BOOT_NS	NS_PER_SEC	/* the boot's instant moved more: see clocks_are_the_images */

static int64_t clock_ns(int clockid)
{
	struct ksys_timespec t = { 0, 0 };

	sys_clock_gettime(clockid, &t);
	return t.tv_sec * NS_PER_SEC + t.tv_nsec;
}

/* now[0..2]: CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME as this process
 * sees them.  Within one boot and time namespace, neither clock is behind the
 * image's, and REALTIME - BOOTTIME (the instant the boot began) stays put
 * unless the wall clock is set: NTP's slewing moves REALTIME and BOOTTIME
 * alike.  A reboot moves that instant by the whole uptime the image had and
 * the reboot's own seconds, a time namespace by its offset; a step of the wall
 * clock by a second or more is taken for another boot too, which costs the
 * program only the time since the checkpoint on those two clocks. */
static int clocks_are_the_images(const struct ckpt_hdr *h, const int64_t now[3])
{
	int64_t moved = (now[2] - now[1]) - ((int64_t)h->created_ns - h->clock_boot_ns);

	return now[0] >= h->clock_mono_ns && now[1] >= h->clock_boot_ns && moved < ANOTHER_BOOT_NS &&
	       moved > -ANOTHER_BOOT_NS;
}

/* /proc/self/timens_offsets: "monotonic SECS NSECS" then "boottime SECS NSECS"
 * (SECS may be negative, NSECS in [0, 1e9)), relative to the initial time
 * namespace's clocks; into off[0], off[1] in ns.  Returns 0 or -errno. */
static long read_time_offsets(int64_t off[2])
{
	char text[160];
	const char *p = text;
	long fd = sys_open("/proc/self/timens_offsets", O_RDONLY | O_CLOEXEC, 0), n;

	if (sys_failed(fd))
		return fd;
	n = sys_read((int)fd, text, sizeof(text) - 1);
	sys_close((int)fd);
	if (n <= 0)
		return n ? n : -5 /* EIO */;
	text[n] = 0;
	for (int i = 0; i < 2; i++) {
		int64_t sec;
		int neg;

		while (*p && *p != '-' && (*p < '0' || *p > '9'))	/* the clock's name, spaces */
			p++;
		neg = *p == '-';
		p += neg;
		sec = (int64_t)img_parse_num(&p, 10);
		while (*p == ' ')
			p++;
		off[i] = (neg ? -sec : sec) * NS_PER_SEC + (int64_t)img_parse_num(&p, 10);
	}
	return 0;
}

/* off[0], off[1] (ns) as the new namespace's offsets, one write: allowed until
 * a process enters it, with CAP_SYS_TIME in the user namespace owning it */
static long write_time_offsets(const int64_t off[2])
{
	char text[128];
	size_t at = 0;

	for (int i = 0; i < 2; i++) {
		int64_t sec = off[i] / NS_PER_SEC, nsec = off[i] % NS_PER_SEC;

		if (nsec < 0)				/* the kernel wants NSECS in [0, 1e9) */
			nsec += NS_PER_SEC, sec--;
		at += img_fmt(text + at, sizeof(text) - at, "%s %ld %ld\n", i ? "boottime" : "monotonic", sec,
			      nsec);
	}
	return write_proc("/proc/self/timens_offsets", text);
}

/* Step 3b (before step 4 moves the vDSO: entering a time namespace switches
 * the vvar pages of this mm).  unshare(CLONE_NEWTIME) makes the namespace for
 * the children; its offsets are the ones this process lives with (off[]) plus
 * the image's clocks minus its own, written before anyone is in it; then this
 * process, single-threaded still, enters it through time_for_children.
 * Without CAP_SYS_ADMIN: inside a user namespace of its own, as --same-pid
 * does.  What cannot be done is a notice, and the clocks are this boot's. */
static void continue_clocks(const char *path, int host_clocks, int verbose)
{
	const struct ckpt_hdr *h = &img.hdr;
	int64_t now[3] = { clock_ns(1 /* MONOTONIC */), clock_ns(7 /* BOOTTIME */), clock_ns(0 /* REALTIME */) };
	int64_t off[2] = { 0, 0 }, shift[2] = { h->clock_mono_ns - now[0], h->clock_boot_ns - now[1] };
	const char *failed = "reading /proc/self/timens_offsets";
	int mapping = 0;
	long r, fd;

	if (!h->clock_mono_ns || !h->clock_boot_ns) {
		if (verbose)
			img_say(2, "restorer: %s: clocks: the image has none recorded: this boot's\n", path);
		return;
	}
	if (clocks_are_the_images(h, now)) {
		if (verbose)
			img_say(2, "restorer: %s: clocks: the image's boot: monotonic and boottime as they are "
				"(%ld ms on since the checkpoint)\n", path, -shift[0] / 1000000);
		return;
	}
	if (host_clocks) {
		if (verbose)
			img_say(2, "restorer: %s: clocks: --clocks=host: monotonic and boottime are this boot's, "
				"%ld s and %ld s behind the image's\n", path, shift[0] / NS_PER_SEC,
				shift[1] / NS_PER_SEC);
		return;
	}
	r = read_time_offsets(off);
	if (!r) {
		failed = "unshare(CLONE_NEWTIME)";
		r = SC1(__NR_unshare, 0x00000080 /* CLONE_NEWTIME */);
	}
	if (r == -1 /* EPERM */) {
		failed = "unshare(CLONE_NEWUSER|CLONE_NEWTIME)";
		r = enter_own_userns(0x00000080, &mapping);
		if (r && mapping) {	/* unmapped, the program would run as no one: refused */
			img_say(2, "restorer: %s: clocks: cannot map uid and gid in a user namespace of its own: "
				"errno %d (--clocks=host restores without one)\n", path, (int)-r);
			sys_exit_group(2);
		}
	}
	if (!r) {
		off[0] += shift[0];
		off[1] += shift[1];
		failed = "writing the offsets";
		r = write_time_offsets(off);
	}
	if (!r) {
		failed = "entering it";
		fd = sys_open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC, 0);
		r = sys_failed(fd) ? fd : SC2(__NR_setns, fd, 0x00000080);
		if (!sys_failed(fd))
			sys_close((int)fd);
	}
	if (r) {
		img_say(2, "restorer: notice: %s: clocks not continued (time namespace: %s: errno %d): "
			"monotonic and boottime are this boot's, %ld s behind the image's\n", path, failed, (int)-r,
			shift[0] / NS_PER_SEC);
		return;
	}
	if (verbose)
		img_say(2, "restorer: %s: clocks: monotonic and boottime continue from the image's, moved by "
			"%ld ms and %ld ms (a time namespace%s, offsets %ld s and %ld s)\n", path, shift[0] / 1000000,
			shift[1] / 1000000, in_own_userns ? " in a user namespace of its own" : "",
			off[0] / NS_PER_SEC, off[1] / NS_PER_SEC);
}

/* The chain: the image's parents (image/chain.c), checked before anything
 * changes, their tables in the zone after the image's own. */
static int open_chain(const char *path, struct img_err *e)
{
	extern char rst_park_addr[];
	int n = img_open_parents(&img, path, parents, parent_paths, MAX_CHAIN, (uint64_t)rst_tables_addr,
				 (uint64_t)rst_park_addr, e);

	if (n < 0)
		return -1;
	nchain = 0;
	for (int i = n; i > 0; i--)
		chain[nchain++] = &parents[i - 1];
	chain[nchain++] = &img;
	return 0;
}

static unsigned jump_flags_of(const struct ckpt_thread *t)
{
	return (t->flags & CKPT_CTX_XSAVE) | (hwcap2 & HWCAP2_FSGSBASE ? CKPT_CTX_FSGSBASE : 0);
}

/* The calling thread's scheduling as the image has it (ckpt_sched: only what
 * was not a new process's default).  What the kernel refuses here (a real-time
 * policy or a lower nice without CAP_SYS_NICE, CPUs this machine or cgroup
 * lacks) is a notice, once a kind for all threads: the program runs anyway. */
static void restore_sched(const struct ckpt_sched *s)
{
	static uint32_t said;		/* CKPT_SCHED_* already named; threads share it */
	uint32_t failed = 0;
	long err = 0, r;

	if ((s->flags & CKPT_SCHED_AFFINITY) && sys_failed(r = sys_sched_setaffinity(0, sizeof(s->cpus), s->cpus)))
		failed |= CKPT_SCHED_AFFINITY, err = r;
	/* the nice value too: sched_setattr sets it only for SCHED_OTHER and
	 * SCHED_BATCH, but a thread keeps its own under any policy */
	if ((s->flags & CKPT_SCHED_ATTR) && (sys_failed(r = sys_sched_setattr(0, &s->attr)) ||
					     sys_failed(r = SC3(__NR_setpriority, 0 /* PRIO_PROCESS */, 0, s->attr.nice))))
		failed |= CKPT_SCHED_ATTR, err = r;
	if ((s->flags & CKPT_SCHED_IOPRIO) && sys_failed(r = sys_ioprio_set(CKPT_IOPRIO_WHO_PROCESS, 0, (int)s->ioprio)))
		failed |= CKPT_SCHED_IOPRIO, err = r;
	if (s->flags & CKPT_SCHED_TIMERSLACK)
		sys_prctl(CKPT_PR_SET_TIMERSLACK, s->timerslack_ns, 0, 0, 0);	/* its own: never refused */
	failed &= ~__atomic_fetch_or(&said, failed, __ATOMIC_RELAXED);
	if (failed)
		img_say(2, "restorer: notice: not restored:%s%s%s (errno %d)\n",
			failed & CKPT_SCHED_AFFINITY ? " CPU affinity" : "",
			failed & CKPT_SCHED_ATTR ? " scheduling policy and nice" : "",
			failed & CKPT_SCHED_IOPRIO ? " I/O priority" : "", (int)-err);
}

/* A thread of the image other than the main one, on its restorer stack: its
 * own kernel state, then its registers.  It resumes in libckpt's stop handler,
 * which counts it in before the main thread lets the restorer's zone go. */
static void rst_thread_main(void *arg)
{
	const struct ckpt_thread *t = arg;
	struct ksys_stack ss = { .ss_sp = t->ss_sp, .ss_size = t->ss_size,
				 .ss_flags = (int32_t)(t->ss_flags & 0x80000002u) };

	sys_sigaltstack(&ss, 0);
	if (t->rseq_len)
		sys_rseq(t->rseq_addr, t->rseq_len, 0, t->rseq_sig);
	if (t->clear_child_tid) {
		*(volatile uint32_t *)t->clear_child_tid = (uint32_t)sys_gettid();	/* glibc's cached tid */
		sys_set_tid_address(t->clear_child_tid);
	}
	if (t->robust_list)
		sys_set_robust_list(t->robust_list, t->robust_len);
	restore_sched(&t->sched);
	set_capabilities(t);
	/* POINT OF NO RETURN (this thread): its registers, and into the program */
	rst_jump(&t->regs, img.tables + (t->xsave_off - img.hdr.tables_off), t->xfeatures & this_xcr0,
		 jump_flags_of(t));
}

/* a notice naming state the restored process does not get back; err: -errno, or 0 */
static void not_restored(const char *what, long err)
{
	img_say(2, err ? "restorer: notice: not restored: %s: errno %d\n" : "restorer: notice: not restored: %s\n",
		what, (int)-err);
}

/* Step 5, with CKPT_PROC_MORE: the core dump filter, the securebits (keep
 * capabilities across a uid change, and the locked ones, which need
 * CAP_SETPCAP), speculation mitigations the process turned on for itself
 * where the kernel leaves them to each thread (PR_SPEC_PRCTL; PR_SPEC_DISABLE
 * 4, FORCE_DISABLE 8, DISABLE_NOEXEC 16: never undone; L1D flushing is not
 * set again),
 * rdtsc made to fault (PR_TSC_SIGSEGV).  Set in the main thread before the
 * others are made: each inherits them.  What is refused is a notice. */
static void restore_more(const struct ckpt_proc *p)
{
	char hex[16];
	long r, now = sys_prctl(CKPT_PR_GET_SECUREBITS, 0, 0, 0, 0);

	img_fmt(hex, sizeof(hex), "0x%x", p->coredump_filter);	/* base 0 to the kernel */
	if ((r = write_proc("/proc/self/coredump_filter", hex)))
		not_restored("coredump_filter", r);
	if (!sys_failed(now) && (uint32_t)now != p->securebits &&
	    sys_failed(r = ((uint32_t)now & ~0x10u) == (p->securebits & ~0x10u) ?	/* SECBIT_KEEP_CAPS alone */
			   sys_prctl(CKPT_PR_SET_KEEPCAPS, (p->securebits >> 4) & 1, 0, 0, 0) :
			   sys_prctl(CKPT_PR_SET_SECUREBITS, p->securebits, 0, 0, 0)))
		not_restored("securebits", r);
	for (uint32_t k = 0; k < 2; k++) {	/* PR_SPEC_STORE_BYPASS, PR_SPEC_INDIRECT_BRANCH */
		uint32_t off = p->spec[k] & (4 | 8 | 16);	/* the one bit of them the kernel reports */

		if ((p->spec[k] & 1 /* PR_SPEC_PRCTL: the thread's own choice */) && off && sys_failed(r = sys_prctl(CKPT_PR_SET_SPECULATION_CTRL, k, off, 0, 0)))
			not_restored("a speculation mitigation (PR_SET_SPECULATION_CTRL)", r);
	}
	if (p->tsc == 2 && sys_failed(r = sys_prctl(CKPT_PR_SET_TSC, 2, 0, 0, 0)))
		not_restored("PR_SET_TSC", r);
}

/* Step 5: what the kernel keeps for the process besides memory.  Failures here
 * are reported as notices: the memory is in place and the program can run. */
static void restore_process(const struct ckpt_thread *t, const struct ckpt_proc *p, uint32_t pid,
			    int limits, int verbose)
{
	struct ksys_mm_map mm = {
		.start_code = p->start_code, .end_code = p->end_code,
		.start_data = p->start_data, .end_data = p->end_data,
		.start_brk = p->start_brk, .brk = p->brk, .start_stack = p->start_stack,
		.arg_start = p->arg_start, .arg_end = p->arg_end,
		.env_start = p->env_start, .env_end = p->env_end,
		.auxv = (uint64_t)p->auxv, .auxv_size = p->auxv_words * 8, .exe_fd = (uint32_t)-1,
	};
	struct ksys_stack ss = { .ss_sp = t->ss_sp, .ss_size = t->ss_size,
				 .ss_flags = (int32_t)(t->ss_flags & 0x80000002u) };	/* DISABLE|AUTODISARM */
	long r;

	if (cwd_fd >= 0 && sys_failed(r = sys_fchdir((int)cwd_fd)))	/* the directory step 3 checked */
		img_say(2, "restorer: notice: cannot return to %s: errno %d\n", cwd_name, (int)-r);
	if (cwd_fd >= 0)
		sys_close((int)cwd_fd);
	sys_umask(p->umask);
	sys_prctl(PR_SET_NAME, (uint64_t)p->comm, 0, 0, 0);
	for (int sig = 1; sig <= CKPT_NSIG; sig++) {
		if (sig == 9 || sig == 19)	/* SIGKILL, SIGSTOP: fixed */
			continue;
		r = sys_rt_sigaction(sig, &p->sigact[sig - 1], 0);
		if (sys_failed(r) && verbose)
			img_say(2, "restorer: notice: signal %d disposition: errno %d\n", sig, (int)-r);
	}
	if (sys_failed(r = sys_sigaltstack(&ss, 0)))
		img_say(2, "restorer: notice: alternate signal stack not restored: errno %d\n", (int)-r);
	if (sys_failed(r = sys_prctl(PR_SET_MM, CKPT_PR_SET_MM_MAP, (uint64_t)&mm, sizeof(mm), 0)))
		img_say(2, "restorer: notice: brk/stack/arg fields not restored (PR_SET_MM_MAP errno %d)\n",
			(int)-r);
	if (t->rseq_len && sys_failed(r = sys_rseq(t->rseq_addr, t->rseq_len, 0, t->rseq_sig)))
		img_say(2, "restorer: notice: rseq area 0x%lx not registered: errno %d\n", t->rseq_addr, (int)-r);
	if (t->clear_child_tid) {
		*(volatile uint32_t *)t->clear_child_tid = pid;	/* glibc's cached tid */
		sys_set_tid_address(t->clear_child_tid);
	}
	if (t->robust_list)
		sys_set_robust_list(t->robust_list, t->robust_len);
	if (!limits)
		return;
	sys_personality(p->personality);
	for (int res = 0; res < 16; res++)
		if (sys_failed(r = sys_prlimit(res, &p->rlimit[res], 0)) && verbose)
			img_say(2, "restorer: notice: resource limit %d not restored: errno %d\n", res, (int)-r);
	if ((p->attrs & CKPT_PROC_THP_DISABLE) &&	/* flags: PR_THP_DISABLE_EXCEPT_ADVISED = 2 */
	    sys_failed(r = sys_prctl(CKPT_PR_SET_THP_DISABLE, 1, (p->attrs & CKPT_PROC_THP_EXCEPT_ADVISED) >> 1, 0, 0)))
		not_restored("PR_SET_THP_DISABLE", r);
	if (p->attrs & CKPT_PROC_OOM_SCORE_ADJ) {	/* lower than ours: needs CAP_SYS_RESOURCE */
		char adj[16];

		img_fmt(adj, sizeof(adj), "%d", p->oom_score_adj);
		if ((r = write_proc("/proc/self/oom_score_adj", adj)))
			not_restored("oom_score_adj", r);
	}
	for (uint32_t reg = CKPT_MEMBARRIER_REGISTER_GLOBAL_EXPEDITED; reg <= CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED_RSEQ;
	     reg <<= 2)		/* 0x4, 0x10, 0x40, 0x100: membarrier(2)'s REGISTER_* commands themselves */
		if ((p->membarrier & reg) && sys_failed(r = sys_membarrier((int)reg, 0)))
			not_restored("a membarrier registration", r);
	if (p->attrs & CKPT_PROC_GROUPS) {	/* as root (its own image, check_owner); else a notice */
		uint32_t now[CKPT_MAX_GROUPS];
		long n = SC2(__NR_getgroups, CKPT_MAX_GROUPS, now);

		if ((n != p->ngroups || memcmp(now, p->groups, (size_t)n * 4)) &&
		    sys_failed(r = SC2(__NR_setgroups, p->ngroups, p->groups)))
			not_restored(img_lost_names[0], r);	/* "supplementary groups" */
	}
	if (p->attrs & CKPT_PROC_MORE)
		restore_more(p);
	/* the bounding set, before the threads are made (each inherits it): what
	 * the restorer's has beyond the image's goes (needs CAP_SETPCAP) */
	for (int c = 0; (p->attrs & CKPT_PROC_CAPBSET) && c < 64; c++)
		if (!(p->capbset >> c & 1) && sys_prctl(CKPT_PR_CAPBSET_READ, (uint64_t)c, 0, 0, 0) == 1 &&
		    sys_failed(r = sys_prctl(CKPT_PR_CAPBSET_DROP, (uint64_t)c, 0, 0, 0))) {
			not_restored("a reduced capability bounding set", r);
			break;
		}
	if ((p->attrs & CKPT_PROC_SUBREAPER) && sys_failed(r = sys_prctl(CKPT_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)))
		not_restored("PR_SET_CHILD_SUBREAPER", r);
	if (p->pdeathsig && sys_failed(r = sys_prctl(CKPT_PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0)))
		not_restored("PR_SET_PDEATHSIG", r);	/* its parent now: whoever ran the restorer */
	for (int i = 0; i < CKPT_PROC_NLOST; i++)	/* libckpt said so at checkpoint time too */
		if (p->attrs & (CKPT_PROC_GROUPS_LOST << i))
			not_restored(img_lost_names[i], 0);
	/* last: nothing after them may need privileges or a writable code page */
	if (p->mdwe && sys_failed(r = sys_prctl(CKPT_PR_SET_MDWE, p->mdwe, 0, 0, 0)))
		not_restored("PR_SET_MDWE", r);
	if (p->attrs & CKPT_PROC_NO_NEW_PRIVS)
		sys_prctl(CKPT_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* a region the restorer made writable holds [addr, addr + len) */
static int writable(uint64_t addr, uint64_t len)
{
	for (uint32_t i = 0; i < img.hdr.nvmas; i++)
		if (img_writes_into(&img.vmas[i], addr, len))
			return 1;
	return 0;
}

/* Steps 2 and 3: read and check the image, its chain and this machine, open
 * the mapped files and make the descriptors at staging numbers.  Nothing the
 * process had changes here.  Returns 0, or on a refusal the image to name.
 * tests/fuzz/target.c calls this too: everything before the point of no return.
 * (Out of line, the restorer is 240 bytes smaller than with it inlined.) */
/* a job's process: the descriptors its job hands it later (job.c); 0 alone */
static const uint8_t *job_later(void)
{
	static uint8_t later[CKPT_MAX_FDS / 8];

	if (!rst_in_job)
		return 0;
	rst_job_later_fds(&img, later);
	return later;
}

static __attribute__((noinline)) const char *check_image(const char *path, struct rst_specials *specials,
							 int verbose, int stdio_image, int close_unsupported,
							 int as_owner, struct img_err *err)
{
	/* 2. header and tables; whose image it is, before any path it names is opened */
	if (img_open(&img, path, (uint64_t)rst_tables_addr, err) || check_owner(img.fd, as_owner, err) ||
	    open_chain(path, err))
		return path;
	for (uint32_t i = 0; i + 1 < nchain; i++)
		if (check_owner(chain[i]->fd, 0, err))
			return chain[i]->path;

	/* 3. this machine */
	if (check_cpu(&img, err) || check_process(&img, err) || check_limits(&img, err) ||
	    rst_find_specials(specials, err) || rst_check_vdso(&img, specials, err) ||
	    rst_open_files(&img, file_fds, verbose, err))
		return path;
	for (uint32_t i = 0; bail && i + 1 < nchain; i++)
		if (rst_verify_runs(chain[i], err))
			return chain[i]->path;
	for (uint32_t i = 0; bail && i < img.hdr.nvmas; i++)
		if (img.vmas[i].flags & CKPT_MAP_UFFD) {
			img_fail(err, "region 0x%lx is registered with the program's userfaultfd: a roll-back "
				 "does not rebuild such memory", img.vmas[i].start);
			return path;
		}
	if (bail ? rst_verify_runs(&img, err)	/* a roll-back: the program must survive a bad image */
		 : rst_alloc_pkeys(&img, err) ||
		   rst_prepare_fds(&img, stdio_image, close_unsupported, verbose, job_later(), err))
		return path;
	return 0;
}

/* What the command line asked for. */
struct rst_opts {
	const char *path;		/* the image; image_path once read_args is done */
	int verbose, stdio_image, close_unsupported, lazy, same_pid, as_owner;
	int host_clocks;		/* --clocks=host: no time namespace */
};

/* Step 1: the kernel's auxv, after argv and envp on the initial stack: this
 * process's AT_HWCAP2 into hwcap2.  Returns 1 when the kernel's execve wrote
 * it (AT_ENTRY is there), 0 for tlongjmp's own stack (AT_HWCAP2 alone). */
static int read_auxv(uint64_t *sp)
{
	uint64_t *auxv;
	int exec_ed = 0;

	for (auxv = sp + 1 + sp[0] + 1; *auxv; auxv++)	/* skip argc, argv, envp */
		;
	for (auxv++; auxv[0] != AT_NULL; auxv += 2) {
		if (auxv[0] == AT_HWCAP2)
			hwcap2 = auxv[1];
		exec_ed |= auxv[0] == AT_ENTRY;
	}
	return exec_ed;
}

/* before the image is opened: one line (fmt with arg for a %s), exit 2 */
static void __attribute__((noreturn)) refuse_to_start(const char *fmt, const char *arg)
{
	img_say(2, fmt, arg);
	sys_exit_group(2);
}

/* Step 1: "--cwd DIR" and "--map-path OLD=NEW" (or --cwd=DIR, --map-path=OLD=NEW),
 * copied off the stack by paths.c; *i moves past a separate value */
static void path_option(const char *a, uint64_t *i, uint64_t argc, char **argv)
{
	int cwd = a[2] == 'c';
	const char *value = a + (cwd ? 5 : 10), *why;

	if (*value == '=')
		value++;
	else if (*i + 1 < argc)
		value = argv[++*i];
	else
		refuse_to_start("restorer: %s needs a value (see restorer --help)\n", a);
	why = cwd ? rst_set_cwd(value) : rst_add_map(value);
	if (why)
		refuse_to_start(why, value);
}

/* Step 1: the options, and the image path copied off the stack step 4 unmaps.
 * A bad command line: one line, exit 2. */
static void read_args(uint64_t argc, char **argv, int exec_ed, struct rst_opts *o)
{
	int paths = 0;

	for (uint64_t i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (rst_streq(a, "-v") || rst_streq(a, "--verbose"))
			o->verbose = 1;
		else if (rst_streq(a, "-h") || rst_streq(a, "--help"))
			usage(0);
		else if (rst_streq(a, "--stdio=image"))
			o->stdio_image = 1;
		else if (rst_streq(a, "--stdio=caller"))
			o->stdio_image = 0;
		else if (rst_streq(a, "--close-unsupported"))
			o->close_unsupported = 1;
		else if (rst_streq(a, "--lazy"))
			o->lazy = 1;
		else if (rst_streq(a, "--same-pid"))
			o->same_pid = 1;
		else if (rst_streq(a, "--as-owner"))
			o->as_owner = 1;
		else if (rst_streq(a, "--clocks=continue"))
			o->host_clocks = 0;
		else if (rst_streq(a, "--clocks=host"))
			o->host_clocks = 1;
		else if (rst_streq(a, "--cwd") || rst_streq(a, "--map-path") || !memcmp(a, "--cwd=", 6) ||
			 !memcmp(a, "--map-path=", 11))
			path_option(a, &i, argc, argv);
		else if (!memcmp(a, "--in-process=", 13)) {	/* from libckpt's tlongjmp only */
			if (parse_in_process(a + 13))
				refuse_to_start("restorer: bad --in-process argument\n", 0);
		}
		else if (rst_streq(a, "--")) {
			if (i + 1 < argc)
				o->path = argv[++i], paths++;
		}
		else if (a[0] == '-' && a[1])
			refuse_to_start("restorer: unknown option '%s' (see restorer --help)\n", a);
		else
			o->path = a, paths++;
	}
	/* --in-process is tlongjmp's: libckpt enters the restorer on a stack of its
	 * own, whose auxv holds AT_HWCAP2 alone, with a memfd of its own.  Given to a
	 * restorer that execve started, it would have a refusal jump through ADDR. */
	if (bail && (exec_ed || sys_failed(sys_fcntl(carry_fd, 1034 /* F_GET_SEALS: memfds only */, 0))))
		refuse_to_start("restorer: --in-process is for libckpt's tlongjmp only, not a command line\n", 0);
	if (paths > 1 || rst_strlen(o->path) >= sizeof(image_path))
		refuse_to_start("restorer: give one image path (see restorer --help)\n", 0);
	memcpy(image_path, o->path, rst_strlen(o->path) + 1);
	o->path = image_path;
}

/* Step 1: every checksum is CRC-32C with the SSE4.2 crc32 instruction */
static void require_sse42(void)
{
	uint32_t r[4];

	img_cpuid(1, 0, r);
	if (!(r[2] & IMG_CPUID1_ECX_SSE42))
		refuse_to_start("restorer: this CPU lacks SSE4.2, which image checksums need\n", 0);
}

/* Steps 2 and 3, or "restorer: IMAGE: reason" and exit 2 (a roll-back: back
 * into the program).  Then --lazy holds for a full image only: an incremental
 * one's pages are spread over its chain and are read. */
static void open_and_check_image(struct rst_opts *o, struct rst_specials *specials)
{
	struct img_err err;
	const char *blame;

	if (o->verbose)
		rst_say_maps();
	privileged_start = SC0(__NR_geteuid) == 0 || has_capabilities();
	rst_proc_pid = o->same_pid ? 0 : (uint32_t)sys_getpid();	/* --same-pid: a child of ours */
	blame = check_image(o->path, specials, o->verbose, o->stdio_image, o->close_unsupported, o->as_owner,
			    &err);
	if (blame)
		refuse(blame, &err);
	if (o->verbose)			/* where the image was made, and that this CPU will do */
		img_say(2, "restorer: %s: made by kernel %s on a %s CPU, for %s; this CPU has every feature "
			"that allows\n", o->path, img.hdr.kernel, img.hdr.cpu_vendor,
			img.hdr.cpu_level == 2 ? "x86-64-v2" : img.hdr.cpu_level == 3 ? "x86-64-v3" :
			img.hdr.cpu_level == 4 ? "x86-64-v4" : "all its features");
	if (o->lazy && nchain > 1) {
		o->lazy = 0;
		if (o->verbose)
			img_say(2, "restorer: notice: %s is incremental: its pages are read, not mapped\n", o->path);
	}
}

/* Step 4: the address space (vma.c); then the parents' image files and the
 * mapped files are closed (the image's own in place_descriptors) */
static void rebuild_memory(const struct rst_specials *specials, int lazy, int verbose)
{
	rst_rebuild(chain, nchain, specials, file_fds, lazy, bail != 0, verbose);
	for (uint32_t i = 0; i + 1 < nchain; i++)
		sys_close(chain[i]->fd);
	rst_close_files(&img, file_fds, 0);
}

/* Step 5: the main thread's and the process's kernel state, now as pid */
static void restore_main_thread_state(uint32_t pid, int verbose)
{
	struct ckpt_thread *t = &img.threads[0];

	if (t->clear_child_tid && !writable(t->clear_child_tid, 4))
		t->clear_child_tid = 0;
	if (bail)				/* same thread: glibc's cached tid stands */
		t->clear_child_tid = 0;
	restore_process(t, img.proc, pid, !bail, verbose);
	if (!bail)
		restore_timers_signals(img.proc, img.proc->pid, pid);
}

/* Step 5: the resume block libckpt reads on its way back: where the restorer's
 * zone is (libckpt unmaps it), the new pid, how it was restored */
static void write_resume(const char *path, uint32_t pid, int verbose)
{
	struct ckpt_resume *resume = (struct ckpt_resume *)img.proc->resume_addr;

	resume->zone_start = (uint64_t)rst_zone_start;
	resume->zone_end = (uint64_t)rst_zone_end;
	resume->pid = pid;
	resume->flags = (verbose ? CKPT_RESUME_VERBOSE : 0) | (bail ? CKPT_RESUME_IN_PROCESS : 0);
	resume->carry_fd = carry_fd;
	resume->magic = CKPT_RESUME_MAGIC;
	if (verbose)
		img_say(2, "restorer: %s: %u regions, %lu bytes of pages; resuming pid %u as %u\n",
			path, img.hdr.nvmas, img.hdr.data_size, img.proc->pid, pid);
}

/* libckpt makes its settings memfd again at descriptor 256 or above once the
 * process runs (capture/preload.c, publish_settings).  Growing the descriptor
 * table of a process with threads waits for an RCU grace period (5 to 20 ms
 * here, with the process's other threads already running); grown now, while
 * the restorer is the process's only thread, it costs an allocation.  The
 * table keeps its size when the copy is closed; under a limit of 512
 * descriptors or less it stays as it is. */
static void grow_descriptor_table(void)
{
	long copy = sys_fcntl(img.fd, 1030 /* F_DUPFD_CLOEXEC */, 511);

	if (!sys_failed(copy))
		sys_close((int)copy);
}

/* Step 5: the image closed; the descriptors moved from their staging numbers
 * to their own (a roll-back: back to what the program had at tsetjmp) */
static void place_descriptors(int stdio_image)
{
	if (!bail && img.hdr.nthreads > 1)
		grow_descriptor_table();
	sys_close(img.fd);
	if (bail)
		rst_rewind_fds(&img);
	else
		rst_install_fds(&img, stdio_image);
}

/* Step 5: the program's executable, when --map-path moved it: opened for
 * libckpt, which points /proc/self/exe at it (it cannot while the restorer,
 * this process's executable now, is mapped).  Once the descriptors are in
 * place, the number is one the image left free; libckpt closes it. */
static void hand_over_exe(void)
{
	static char mapped[RST_PATH_MAX];
	struct ckpt_resume *resume = (struct ckpt_resume *)img.proc->resume_addr;
	const char *exe = img_str(&img, img.proc->exe_off), *path;
	struct img_err err;
	struct ksys_stat st;
	long pinned, fd;

	if (!*exe || !(path = rst_map_path(exe, mapped, &err)) || path == exe)
		return;				/* not mapped: libckpt opens the recorded path */
	pinned = rst_pin(path, S_IFREG, &st);
	if (sys_failed(pinned))
		return;				/* libckpt's notice says /proc/self/exe stays */
	fd = rst_reopen((int)pinned, O_RDONLY);
	sys_close((int)pinned);
	if (sys_failed(fd))
		return;
	resume->exe_fd = (int32_t)fd;
	resume->flags |= CKPT_RESUME_EXE_FD;
}

/* Step 5: the POSIX locks, and each leased file's owner (locks.c): now that
 * no descriptor of their files is closed any more.  One that another process
 * took since step 3 ends the restore here, before any of the program runs. */
static void take_locks_late(const char *path, int stdio_image)
{
	struct img_err err;

	if (bail || !rst_take_locks(&img, 0, stdio_image, &err))
		return;
	img_say(2, "restorer: %s: %S\n", path, err.msg);
	sys_exit_group(127);
}

/* Step 6: the image's other threads, last: each goes straight into the
 * program (rst_thread_main); then the timers aimed at them, now they exist */
static void start_threads(const char *path, int same_pid, uint32_t pid)
{
	for (uint32_t i = 1; i < img.hdr.nthreads; i++) {
		struct ckpt_thread *o = &img.threads[i];
		int32_t old = (int32_t)o->tid;	/* --same-pid: each thread gets its old tid too (glibc
						 * keeps tids in recursive, error-checking and robust mutexes) */
		struct ksys_clone_args ca = {
			.flags = KSYS_CLONE_THREAD, .stack = (uint64_t)thread_stacks[i],
			.stack_size = RST_THREAD_STACK,
			.set_tid = same_pid ? (uint64_t)&old : 0, .set_tid_size = same_pid ? 1 : 0,
		};
		long tid;

		if (o->clear_child_tid && !writable(o->clear_child_tid, 4))
			o->clear_child_tid = 0;
		tid = sys_clone3_on_stack(&ca, sizeof(ca), rst_thread_main, o);
		if (sys_failed(tid)) {
			img_say(2, "restorer: %s: thread %u of %u: clone: errno %d\n", path, i, img.hdr.nthreads,
				(int)-tid);
			sys_exit_group(127);
		}
		new_tids[i] = (int32_t)tid;
	}
	if (!bail)
		restore_timers(img.proc->pid, pid, new_tids, 1);
}

/* Step 6: the main thread's registers.  POINT OF NO RETURN: rst_jump loads
 * them and iretq's into the program. */
static void __attribute__((noreturn)) jump_into_program(void)
{
	const struct ckpt_thread *t = &img.threads[0];
	unsigned jump_flags = jump_flags_of(t);

	set_capabilities(t);
	rst_jump(&t->regs, img.tables + (t->xsave_off - img.hdr.tables_off), t->xfeatures & this_xcr0, jump_flags);
}

/* The job's root, with its old pid: in the system's PID namespace where
 * allowed (CAP_CHECKPOINT_RESTORE) and every pid of the job is free, else in
 * a new PID namespace (and a user namespace of its own for an ordinary
 * user), where they all are. */
static void become_job_root(const char *path, int verbose)
{
	uint32_t want = (uint32_t)rst_job_proc(0)->pid;
	int32_t tid = (int32_t)want;
	char proc[32];
	struct ksys_stat st;
	long pid = -1;

	for (uint32_t i = 0; i < rst_job_nprocs(); i++) {
		img_fmt(proc, sizeof(proc), "/proc/%d", rst_job_proc(i)->pid);
		if (!sys_stat(proc, &st))
			pid = -17;		/* EEXIST: that pid lives here */
	}
	if (pid != -17)
		pid = fork_with_pid(&tid);
	if (pid == -1 || pid == -17) {
		if (verbose)
			img_say(2, "restorer: %s: the job's pids in a new PID namespace (%s)\n", path,
				pid == -1 ? "no CAP_CHECKPOINT_RESTORE" : "some are in use here");
		old_pid_in_new_ns(path, want);
		return;
	}
	if (sys_failed(pid))
		pid_refused(path, want, "cannot be had", pid);
	if (pid)
		end_as(pid, 0);
}

/* A job's table (job.c): checked, whose it is decided (as for an image),
 * the clocks continued from its root's image, the root made with its old
 * pid (--same-pid's way: in new user and PID namespaces for an ordinary
 * user), then the tree.  Returns in each live process of the job, with
 * o->path its own image, which is then restored like any other, with the
 * old pid and tids; fds 0, 1, 2 are the caller's for the root only. */
static void enter_job(struct rst_opts *o)
{
	const struct ckpt_job_proc *root;
	char root_path[IMG_PATH_MAX];
	struct img_err err;
	long fd;

	privileged_start = SC0(__NR_geteuid) == 0 || has_capabilities();
	if (rst_job_open(o->path, &err) || check_owner(rst_job_fd(), o->as_owner, &err))
		refuse(o->path, &err);
	root = rst_job_proc(0);
	if (!img_job_member_path(o->path, root, root_path, sizeof(root_path)))
		refuse_to_start("restorer: %s: its root's image path is too long\n", o->path);
	fd = sys_open(root_path, O_RDONLY | O_CLOEXEC, 0);	/* its clocks, for continue_clocks */
	if (sys_failed(fd) || sys_pread((int)fd, &img.hdr, sizeof(img.hdr), 0) != sizeof(img.hdr) ||
	    img.hdr.magic != CKPT_MAGIC)
		refuse_to_start("restorer: %s: the image of the job's root is missing or not an image\n", root_path);
	sys_close((int)fd);
	continue_clocks(o->path, o->host_clocks, o->verbose);
	rst_note_foreground();
	become_job_root(o->path, o->verbose);
	o->path = rst_job_make_tree(o->path);
	o->same_pid = 1;
	if (rst_job_me())
		o->stdio_image = 1;		/* the job's own: the caller's only where shared with the root's */
}

/* A job's process, its image checked: the descriptors it shares with the
 * others handed over (job.c), or the job refused */
static void share_job(const struct rst_opts *o)
{
	struct img_err err;

	if (rst_job_member_ok(&img, &err) || rst_job_share(&img, o->stdio_image, o->path, &err))
		refuse(o->path, &err);
	if (o->verbose)
		img_say(2, "restorer: %s: process %d of the job, pid %u\n", o->path, rst_job_me(), img.proc->pid);
}

/* sp: the kernel's initial stack (argc, argv, envp, auxv), or tlongjmp's */
void rst_main(uint64_t *sp)
{
	static const uint64_t all_signals = ~0ull;
	struct rst_opts o = { .path = "myckpt" };
	struct rst_specials specials;
	uint32_t pid;
	int exec_ed;

	/* 1. no signal handler may run until libckpt says so; the command line */
	sys_rt_sigprocmask(SIG_SETMASK, &all_signals, 0);
	exec_ed = read_auxv(sp);
	read_args(sp[0], (char **)(sp + 1), exec_ed, &o);
	require_sse42();

	/* 2, 3. the image, whose it is, its chain and this machine; a job's
	 * table first makes the tree, each process then checks its own image */
	if (!bail && img_job_is(o.path))
		enter_job(&o);
	open_and_check_image(&o, &specials);
	if (rst_in_job)
		share_job(&o);
	else if (!bail)				/* a roll-back stays in its own boot */
		continue_clocks(o.path, o.host_clocks, o.verbose);
	if (o.same_pid && !bail && !rst_in_job)
		become_old_pid(o.path, img.proc->pid, o.verbose);

	/* 4. the address space */
	rebuild_memory(&specials, o.lazy, o.verbose);

	/* 5. process state */
	pid = (uint32_t)sys_getpid();
	restore_main_thread_state(pid, o.verbose);
	write_resume(o.path, pid, o.verbose);
	place_descriptors(o.stdio_image);
	if (!bail)
		hand_over_exe();
	take_locks_late(o.path, o.stdio_image);

	/* 6. registers: the other threads, then this one (its scheduling last: the
	 * threads start with the restorer's, not its, and set their own) */
	start_threads(o.path, o.same_pid, pid);
	if (!bail)
		restore_sched(&img.threads[0].sched);
	jump_into_program();
}
