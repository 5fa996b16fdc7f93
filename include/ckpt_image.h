/* ckpt_image.h -- the image format: the only contract between capture and restore.
 *
 * Fixed-width types only; every struct has explicit padding and a size assert, so
 * the layout is the same for the hosted capture library, the freestanding restorer
 * and readckpt.  docs/image-format.md describes every field with its offset.
 *
 * File layout (all offsets in bytes from the start of the file):
 *
 *   0                 struct ckpt_hdr (4096 bytes, hdr_crc covers it)
 *   tables_off        the tables, tables_size bytes, tables_crc covers them:
 *                       threads_off  struct ckpt_thread   [nthreads]
 *                       proc_off     struct ckpt_proc     [1]
 *                       vmas_off     struct ckpt_vma      [nvmas]  (sorted by start)
 *                       runs_off     struct ckpt_run      [nruns]  (sorted by addr)
 *                       fds_off      struct ckpt_fd       [nfds]
 *                       sigs_off     struct ckpt_siginfo  [nsigs]
 *                       timers_off   struct ckpt_timer    [ntimers]
 *                       locks_off    struct ckpt_lock     [nlocks] (with CKPT_HDR_LOCKS)
 *                       strings_off  NUL-terminated strings, strings_size bytes
 *                       each thread's XSAVE/FXSAVE area at thread.xsave_off
 *                     zero padding up to data_off is part of the tables (and the crc)
 *   data_off          page data, page-aligned: the runs' pages, back to back in
 *                     run order, each run with its own crc; then the descriptors'
 *                     stored bytes (ckpt_fd.data_off/len), back to back in table
 *                     order, each with its own crc; then the [vdso] bytes when
 *                     stored (hdr.vdso_data_off, vdso_size, vdso_crc); data_size
 *                     bytes in all
 *   file_size         = data_off + data_size; nothing follows
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdint.h>
#include <stddef.h>

#define CKPT_MAGIC		0x54504b43u	/* "CKPT" read as a little-endian u32 */
#define CKPT_VERSION		1u
#define CKPT_HDR_SIZE		4096u
#define CKPT_PAGE_SIZE		4096u
#define CKPT_XSAVE_MAX		16384u		/* largest XSAVE area accepted (AMX fits) */
#define CKPT_MAX_THREADS	4096u
#define CKPT_MAX_VMAS		65536u
#define CKPT_MAX_FDS		65536u
#define CKPT_MAX_LOCKS		65536u
#define CKPT_MAX_TABLES		(256u << 20)	/* tables larger than this are refused */
#define CKPT_NSIG		64

/* ---- registers: mirrored by asm/regs.inc (struc ckpt_regs) ---- */
struct ckpt_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;	/*   0 */
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;		/*  64 */
	uint64_t rip;						/* 128 */
	uint64_t rflags;					/* 136 */
	uint64_t fs_base;					/* 144 */
	uint64_t gs_base;					/* 152 */
	uint64_t cs, ss;					/* 160 selectors seen at save */
	uint64_t pad[2];					/* 176 */
};								/* 192 */
#define CKPT_REGS_SIZE 192
_Static_assert(sizeof(struct ckpt_regs) == CKPT_REGS_SIZE, "ckpt_regs");

/* ckpt_thread.flags and the flags argument of the asm save/load routines */
#define CKPT_CTX_FSGSBASE	0x1u	/* rd/wrfsbase usable (AT_HWCAP2 bit 1) */
#define CKPT_CTX_XSAVE		0x2u	/* area is XSAVE (standard form), else FXSAVE */
#define CKPT_CTX_CAPS		0x4u	/* ckpt_thread.caps holds its capabilities (else an older image) */

/* One thread.  Record 0 is the process's main thread (tid == pid). */
/* A thread's scheduling: what it (or whoever started it: nice, taskset, ionice)
 * set that differs from a new process's defaults.  Each part counts only with
 * its CKPT_SCHED_* bit in flags (0 in older images: nothing to set). */
struct ckpt_sched {
	uint32_t flags;		/* CKPT_SCHED_* */
	uint32_t ioprio;	/* ioprio_get(IOPRIO_WHO_PROCESS, tid), with CKPT_SCHED_IOPRIO */
	uint64_t timerslack_ns;	/* PR_GET_TIMERSLACK, with CKPT_SCHED_TIMERSLACK */
	struct {		/* struct sched_attr, its first 48 bytes (SCHED_ATTR_SIZE_VER0) */
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} attr;			/* with CKPT_SCHED_ATTR */
	uint8_t cpus[128];	/* sched_getaffinity: CPU n is bit n % 8 of byte n / 8 (up to 1024
				 * CPUs), with CKPT_SCHED_AFFINITY */
};
_Static_assert(sizeof(struct ckpt_sched) == 192, "ckpt_sched");

#define CKPT_SCHED_ATTR		0x1u	/* policy, nice, priority or flags not the defaults */
#define CKPT_SCHED_AFFINITY	0x2u	/* fewer CPUs allowed than the machine had online */
#define CKPT_SCHED_IOPRIO	0x4u	/* an I/O priority was set */
#define CKPT_SCHED_TIMERSLACK	0x8u	/* timer slack other than 50 us */
#define CKPT_SCHED_ALL		0xfu

struct ckpt_thread {
	uint32_t tid;		/* tid at checkpoint (== pid for the main thread) */
	uint32_t flags;		/* CKPT_CTX_* used to save this thread */
	struct ckpt_regs regs;	/* at the save point inside libckpt (see docs/restore.md) */
	uint64_t sigmask;	/* blocked signals at the save point, bit n-1 = signal n */
	uint64_t ss_sp;		/* sigaltstack */
	uint64_t ss_size;
	uint32_t ss_flags;
	uint32_t rseq_len;	/* 0: no rseq area registered */
	uint64_t rseq_addr;
	uint32_t rseq_sig;
	uint32_t xsave_size;	/* bytes at xsave_off (512 for FXSAVE) */
	uint64_t xsave_off;	/* file offset, 64-aligned, inside the tables */
	uint64_t xfeatures;	/* XCR0 when saved: the XRSTOR mask */
	uint64_t clear_child_tid;	/* set_tid_address(); glibc's cached tid lives there */
	uint64_t robust_list;
	uint64_t robust_len;
	uint64_t sig_rip;	/* where the checkpoint's signal interrupted this thread (the
				 * program's rip its handler returns to); 0: not taken in a
				 * signal handler, or an older image */
	struct ckpt_sched sched;	/* its scheduling, set again */
	uint32_t caps[6];	/* capget (version 3): effective, permitted, inheritable for
				 * capabilities 0-31, then the same for 32-63; with CKPT_CTX_CAPS */
};								/* 512 */
_Static_assert(sizeof(struct ckpt_thread) == 512, "ckpt_thread");

/* ckpt_vma.kind */
enum ckpt_vma_kind {
	CKPT_VMA_ANON = 1,	/* private anonymous: stored pages */
	CKPT_VMA_HEAP,		/* [heap]: private anonymous, inside start_brk..brk */
	CKPT_VMA_STACK,		/* [stack] */
	CKPT_VMA_FILE,		/* file-backed: mapped from path again; private ones store written pages */
	CKPT_VMA_SHMEM,		/* shared anonymous (/dev/zero (deleted), [anon_shmem:]): stored pages */
	CKPT_VMA_GONE,		/* file deleted or replaced since mapping: content stored, mapped anonymous */
	CKPT_VMA_VDSO,		/* [vdso]: the new kernel's is moved here, nothing stored */
	CKPT_VMA_VVAR,		/* [vvar] */
	CKPT_VMA_VVAR_VCLOCK,	/* [vvar_vclock] */
	CKPT_VMA_KIND_MAX
};

/* ckpt_vma.flags: how it was mapped */
#define CKPT_MAP_SHARED		0x0001u	/* 's' in maps, else private */
#define CKPT_MAP_GROWSDOWN	0x0002u	/* VmFlags gd */
#define CKPT_MAP_NORESERVE	0x0004u	/* VmFlags nr, or writable private anonymous without ac */
#define CKPT_MAP_MAYWRITE	0x0008u	/* VmFlags mw: shared file opened for writing */
#define CKPT_MAP_FRESH		0x0010u	/* incremental: older images hold nothing of this region */
#define CKPT_MAP_TRACKED	0x0020u	/* VmFlags uw: writes tracked with userfaultfd-wp */
#define CKPT_MAP_COPIED		0x0040u	/* private file mapping stored whole (CKPT_COPY_FILES=1):
					 * restored from the file when it is unchanged, else
					 * from these pages, anonymous */
#define CKPT_MAP_JOB_SHARED	0x0080u	/* memory of a job's that its processes share: no pages
					 * here, the job table's CKPT_JOB_SHM object has them */
#define CKPT_MAP_UFFD_MISSING	0x0100u	/* VmFlags um: registered with the program's userfaultfd
					 * (the image's one CKPT_FD_USERFAULTFD) for missing
					 * pages; every page it had, zero pages too, is stored */
#define CKPT_MAP_UFFD_WP	0x0200u	/* VmFlags uw of the program's userfaultfd (not
					 * libckpt's tracking): registered for write protection;
					 * its pages stored as for UFFD_MISSING */
#define CKPT_MAP_UFFD		(CKPT_MAP_UFFD_MISSING | CKPT_MAP_UFFD_WP)

/* ckpt_vma.advice: VmFlags that madvise() and friends set, applied again */
#define CKPT_ADV_DONTFORK	0x0001u	/* dc */
#define CKPT_ADV_DONTDUMP	0x0002u	/* dd */
#define CKPT_ADV_WIPEONFORK	0x0004u	/* wf */
#define CKPT_ADV_HUGEPAGE	0x0008u	/* hg */
#define CKPT_ADV_NOHUGEPAGE	0x0010u	/* nh */
#define CKPT_ADV_MERGEABLE	0x0020u	/* mg */
#define CKPT_ADV_SEQUENTIAL	0x0040u	/* sr */
#define CKPT_ADV_RANDOM		0x0080u	/* rr */
#define CKPT_ADV_LOCKED		0x0100u	/* lo (restored best effort: RLIMIT_MEMLOCK) */
#define CKPT_ADV_LOCKONFAULT	0x0200u	/* lf: mlock2(MLOCK_ONFAULT), with lo */
#define CKPT_ADV_SEALED		0x0400u	/* sl: mseal(), applied last */
#define CKPT_ADV_GUARD		0x0800u	/* gu: MADV_GUARD_INSTALL pages: not stored, and
					 * not restored (CKPT_PROC_VMFLAGS_LOST) */

struct ckpt_vma {
	uint64_t start, end;	/* page-aligned, start < end */
	uint64_t pgoff;		/* file offset in bytes (FILE) */
	uint64_t dev;		/* major << 32 | minor, as /proc/self/maps shows it */
	uint64_t ino;
	int64_t  fsize;		/* file size at checkpoint (FILE) */
	int64_t  mtime_sec;	/* file mtime at checkpoint (FILE) */
	uint32_t mtime_nsec;
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint32_t kind;		/* enum ckpt_vma_kind */
	uint32_t flags;		/* CKPT_MAP_* */
	uint32_t advice;	/* CKPT_ADV_* */
	int32_t  pkey;		/* protection key, 0 when none */
	uint32_t path_off;	/* into strings: path, or the anon name; 0 = none */
	uint32_t name_off;	/* into strings: PR_SET_VMA_ANON_NAME name; 0 = none */
	uint32_t run_first;	/* index of this vma's first run */
	uint32_t run_count;
	uint64_t pages_stored;
	uint64_t pad[3];
};								/* 128 */
_Static_assert(sizeof(struct ckpt_vma) == 128, "ckpt_vma");

/* A run of consecutive stored pages, all inside one vma.  In an incremental
 * image a run with data_off 0 stores nothing: those pages are zero now
 * (written, then dropped with MADV_DONTNEED), whatever older images hold. */
struct ckpt_run {
	uint64_t addr;		/* page-aligned */
	uint64_t npages;
	uint64_t data_off;	/* file offset of the first page; 0: zero pages */
	uint32_t crc;		/* CRC-32C of the npages * 4096 bytes */
	uint32_t vma;		/* index into the vma table */
};								/* 32 */
_Static_assert(sizeof(struct ckpt_run) == 32, "ckpt_run");

/* Kernel sigaction as rt_sigaction(2) takes it. */
struct ckpt_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};
_Static_assert(sizeof(struct ckpt_sigaction) == 32, "ckpt_sigaction");

#define CKPT_MAX_GROUPS 64	/* supplementary groups a checkpoint keeps */
#define CKPT_AUXV_WORDS 128	/* u64 words of /proc/self/auxv kept (pairs, AT_NULL last) */

/* The process: mm fields, identity, signal dispositions. */
struct ckpt_proc {
	uint32_t pid;		/* at checkpoint */
	uint32_t umask;
	char     comm[16];	/* PR_GET_NAME */
	uint64_t start_code, end_code, start_data, end_data;	/* PR_SET_MM_MAP fields */
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint32_t auxv_words;	/* used words of auxv[] */
	uint32_t cwd_off;	/* into strings */
	uint32_t exe_off;	/* into strings: /proc/self/exe target */
	uint32_t membarrier;	/* CKPT_MEMBARRIER_REGISTER_* the process was registered for:
				 * registered again; 0 in older images */
	uint64_t resume_addr;	/* libckpt's struct ckpt_resume the restorer fills in */
	uint64_t auxv[CKPT_AUXV_WORDS];
	struct ckpt_sigaction sigact[CKPT_NSIG];	/* [n-1] = signal n; SIGKILL/SIGSTOP unused */
	struct { uint64_t cur, max; } rlimit[16];	/* prlimit64, RLIMIT_CPU .. RLIMIT_RTTIME */
	struct { int64_t interval_sec, interval_usec, value_sec, value_usec; } itimer[3];
							/* ITIMER_REAL, _VIRTUAL, _PROF: remaining */
	uint32_t personality;
	uint32_t attrs;		/* CKPT_PROC_*: prctl flags set; 0 in older images */
	int32_t  oom_score_adj;	/* /proc/self/oom_score_adj, with CKPT_PROC_OOM_SCORE_ADJ */
	uint32_t ngroups;	/* used entries of groups[], with CKPT_PROC_GROUPS */
	uint32_t groups[CKPT_MAX_GROUPS];	/* getgroups(), supplementary gids */
	uint32_t pdeathsig;	/* PR_GET_PDEATHSIG of the main thread: set again (the parent is now
				 * the restorer's); 0: none, or an older image */
	uint32_t mdwe;		/* PR_GET_MDWE: memory-deny-write-execute flags, set again last */
	uint64_t capbset;	/* the capability bounding set (PR_CAPBSET_READ), bit n = capability n,
				 * with CKPT_PROC_CAPBSET */
	uint32_t coredump_filter;	/* /proc/self/coredump_filter, with CKPT_PROC_MORE */
	uint32_t securebits;	/* PR_GET_SECUREBITS (SECBIT_KEEP_CAPS among them), with CKPT_PROC_MORE */
	uint32_t spec[3];	/* PR_GET_SPECULATION_CTRL of PR_SPEC_STORE_BYPASS, _INDIRECT_BRANCH,
				 * _L1D_FLUSH (0: not recorded), with CKPT_PROC_MORE */
	uint32_t tsc;		/* PR_GET_TSC: 2 = PR_TSC_SIGSEGV; 0 or 1: rdtsc allowed */
	uint32_t pad32;
	uint32_t pad1;
	uint64_t pad[27];
};								/* 4096 */
_Static_assert(sizeof(struct ckpt_proc) == 4096, "ckpt_proc");

/* ckpt_proc.attrs */
#define CKPT_PROC_NO_NEW_PRIVS	0x0001u	/* PR_GET_NO_NEW_PRIVS was 1: set again */
#define CKPT_PROC_THP_DISABLE	0x0002u	/* PR_GET_THP_DISABLE was not 0: set again */
#define CKPT_PROC_THP_EXCEPT_ADVISED 0x0004u	/* ... with PR_THP_DISABLE_EXCEPT_ADVISED */
#define CKPT_PROC_OOM_SCORE_ADJ	0x0008u	/* oom_score_adj recorded: written again */
#define CKPT_PROC_GROUPS	0x0010u	/* groups[] recorded: set again where they differ */
#define CKPT_PROC_SUBREAPER	0x0020u	/* PR_GET_CHILD_SUBREAPER was 1: set again */
#define CKPT_PROC_MORE		0x0080u	/* coredump_filter, securebits, spec[], tsc recorded */
#define CKPT_PROC_CAPBSET	0x0040u	/* capbset recorded: what the restorer's bounding set has
					 * beyond it is dropped */
/* ... and what the process had that is not restored: libckpt names it at
 * checkpoint time, the restorer again (bits in this order, img_lost_names) */
#define CKPT_PROC_GROUPS_LOST	0x10000u	/* more than CKPT_MAX_GROUPS supplementary groups */
#define CKPT_PROC_POSIX_LOCKS_LOST 0x20000u	/* fcntl F_SETLK record locks held on a descriptor
						 * not reopened by path (no ckpt_lock for them) */
#define CKPT_PROC_FLOCKS_LOST	0x40000u	/* flock() locks, likewise */
#define CKPT_PROC_OFD_LOCKS_LOST 0x80000u	/* F_OFD_SETLK locks, likewise */
#define CKPT_PROC_LEASES_LOST	0x100000u	/* F_SETLEASE leases, likewise, or being broken */
#define CKPT_PROC_AIO_LOST	0x200000u	/* io_setup contexts (an "/[aio]" ring mapped) */
#define CKPT_PROC_VMFLAGS_LOST	0x400000u	/* VmFlags the restorer does not set again (gu ss ht um sf) */
#define CKPT_PROC_CHILDREN_LOST	0x800000u	/* child processes (running or not reaped): process
						 * trees are not checkpointed */
#define CKPT_PROC_SECCOMP_LOST	0x1000000u	/* seccomp filters: the kernel does not show them to an
						 * unprivileged process, and the restorer does not have them */
#define CKPT_PROC_NLOST		9	/* bits from CKPT_PROC_GROUPS_LOST up: img_lost_names */

/* ckpt_proc.membarrier: membarrier(2)'s MEMBARRIER_CMD_REGISTER_* commands, the
 * bits MEMBARRIER_CMD_GET_REGISTRATIONS returns */
#define CKPT_MEMBARRIER_REGISTER_GLOBAL_EXPEDITED		0x004u
#define CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED		0x010u
#define CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE	0x040u
#define CKPT_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED_RSEQ		0x100u
#define CKPT_MEMBARRIER_REGISTERS	0x154u	/* all four */

/* Written by the restorer into the restored program just before the jump
 * (at ckpt_proc.resume_addr), read by libckpt on its way back. */
struct ckpt_resume {
	uint64_t magic;		/* CKPT_RESUME_MAGIC once filled in */
	uint64_t zone_start;	/* the restorer's address range: libckpt unmaps it */
	uint64_t zone_end;
	uint32_t pid;		/* pid of the restored process */
	uint32_t flags;		/* CKPT_RESUME_* */
	int32_t  carry_fd;	/* IN_PROCESS: libckpt's memfd carried across the roll-back */
	int32_t  exe_fd;	/* EXE_FD: the program's executable where --map-path put it */
	uint64_t pad[3];
};
#define CKPT_RESUME_MAGIC	0x454d555345524b43ull	/* "CKRESUME" */
#define CKPT_RESUME_VERBOSE	0x1u	/* restorer ran with -v */
#define CKPT_RESUME_IN_PROCESS	0x2u	/* tlongjmp: same process, descriptors left as they are */
#define CKPT_RESUME_EXE_FD	0x4u	/* exe_fd is open (O_CLOEXEC): libckpt points /proc/self/exe
					 * at it, not at the recorded path, and closes it */

/* tlongjmp's way back when the restorer refuses the image before it changed
 * anything (--in-process=FD,ADDR names one of these in libckpt's memory):
 * the restorer loads these registers instead of the image's, with rax = 2. */
struct ckpt_bail {
	struct ckpt_regs regs;
	uint64_t fpu;		/* address of the FPU area saved with regs */
	uint64_t xfeatures;	/* its XRSTOR mask */
	uint32_t flags;		/* CKPT_CTX_* */
	uint32_t pad;
};
_Static_assert(sizeof(struct ckpt_resume) == 64, "ckpt_resume");
_Static_assert(sizeof(struct ckpt_bail) == 216, "ckpt_bail");

/* ckpt_fd.kind */
enum ckpt_fd_kind {
	CKPT_FD_REG = 1,	/* regular file, reopened by path at pos.  With O_PATH in
				 * flags: a path descriptor of a file of f->mode's type
				 * (regular, symbolic link with O_NOFOLLOW, socket file,
				 * FIFO, block device with aux[0] = st_rdev), opened
				 * O_PATH again by path; a DIR or CHR record with O_PATH
				 * is a directory's or device's path descriptor */
	CKPT_FD_DIR,		/* directory, reopened by path */
	CKPT_FD_PIPE,		/* pipe with both ends here: made again, buffered bytes refilled */
	CKPT_FD_FIFO,		/* named pipe, reopened by path, buffered bytes refilled */
	CKPT_FD_CHR,		/* character device (/dev/null, /dev/pts/N ...), reopened by path; aux[0] = st_rdev (0: not checked).
				 * A terminal's has stored bytes: its struct ckpt_tty, put back on
				 * whatever terminal the descriptor is at restore */
	CKPT_FD_MEMFD,		/* memfd: made again with its name, content and seals */
	CKPT_FD_DELETED,	/* regular file deleted since open: content stored, made again unlinked */
	CKPT_FD_EVENTFD,	/* aux[0] = counter, aux[1] = 1 for EFD_SEMAPHORE */
	CKPT_FD_TIMERFD,	/* aux[0] = clockid, aux[1..2] = interval s/ns, aux[3..4] = remaining s/ns,
				 * aux[5] = expirations not read yet */
	CKPT_FD_SIGNALFD,	/* aux[0] = mask */
	CKPT_FD_UNSUPPORTED,	/* path says what it was (socket:[..], anon_inode:[..]),
				 * aux[0] why (CKPT_WHY_*; 0 in older images) */
	CKPT_FD_EPOLL,		/* stored bytes: struct ckpt_epoll_watch[], re-added after every fd is back */
	CKPT_FD_SOCKET,		/* a socket not connected to anything: listening, bound or fresh.
				 * aux[0] = family (AF_INET, AF_INET6, AF_UNIX), aux[1] = type
				 * (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET), aux[2] = protocol,
				 * aux[3] = listen backlog (0: not listening; CKPT_SO_DGRAM_QUEUE's
				 * address bytes for a datagram socket), aux[4] = CKPT_SO_*
				 * options, aux[5] = SO_RCVBUF | SO_SNDBUF << 32 as set by the
				 * program (0: the kernel's defaults); stored bytes: its address
				 * (getsockname), 2 to 128 bytes */
	CKPT_FD_UNIX_PAIR,	/* a UNIX socket connected to another descriptor of this process
				 * (socketpair, or a connection accepted from one of its own
				 * listeners): made again with socketpair, each end's queue
				 * refilled through the other.  aux[0] = type (SOCK_STREAM,
				 * SOCK_DGRAM, SOCK_SEQPACKET), aux[1] = 0, aux[2] = CKPT_UP_*,
				 * aux[3] = the other end's inode at the checkpoint (0: it was
				 * closed, and `peer` is the record itself), aux[4] = SO_PEEK_OFF
				 * (-1: off), aux[5] = SO_RCVBUF | SO_SNDBUF << 32; `peer` = the
				 * first record of the other end.  Stored bytes (first record of
				 * an end only): what was queued for it to read, as records of
				 * a uint32_t length then that many bytes, in order; a datagram
				 * or seqpacket record is one message (0 bytes: an empty one) */
	CKPT_FD_INOTIFY,	/* inotify: its watches added again with their numbers.  aux[0] = the
				 * last watch number the kernel handed out (the next is one more),
				 * aux[1] = bytes of events pending at checkpoint (not restored);
				 * stored bytes: struct ckpt_inotify_watch[], ascending wd */
	CKPT_FD_PIDFD,		/* a pidfd (pidfd_open, CLONE_PIDFD) of this process itself:
				 * made again of the restored process, with O_NONBLOCK and
				 * PIDFD_THREAD (O_EXCL) as flags say.  One of another
				 * process, or of one gone (fdinfo Pid: -1), is
				 * CKPT_FD_UNSUPPORTED, CKPT_WHY_PIDFD_OTHER with aux[1] =
				 * its pid (0: gone), made again when that pid is a
				 * process of the same job */
	CKPT_FD_NETLINK,	/* a netlink socket, made again with its protocol and groups:
				 * aux[0] = protocol (NETLINK_ROUTE ...), aux[1] = type
				 * (SOCK_RAW, SOCK_DGRAM), aux[2] = the port id to bind it to
				 * (0: the kernel chooses, as it had: the old pid or a
				 * negative one), aux[3] = 1 when it was bound, aux[4] =
				 * SOL_NETLINK options set (1 << option, CKPT_NETLINK_OPTIONS),
				 * aux[5] = SO_RCVBUF | SO_SNDBUF << 32 as for CKPT_FD_SOCKET;
				 * size = bytes queued to be read at the checkpoint (lost,
				 * named then); stored bytes: the multicast groups joined
				 * (NETLINK_LIST_MEMBERSHIPS: bit g-1 for group g), a multiple
				 * of 4 bytes, CKPT_NETLINK_GROUPS_MAX at most, 0 for none */
	CKPT_FD_PTY,		/* a pseudo-terminal whose master (/dev/ptmx) the process holds:
				 * made again as a new pair (another /dev/pts number), the
				 * master from /dev/ptmx, each slave description from it with
				 * TIOCGPTPEER.  aux[0] = CKPT_PTY_MASTER or CKPT_PTY_SLAVE,
				 * aux[1] = its number at the checkpoint (TIOCGPTN), aux[2] =
				 * CKPT_PTY_* state (master only), aux[3] = bytes queued for
				 * reading at this end (lost, named then); `peer` = the
				 * master's record (a master's own).  Stored bytes (0 or 64):
				 * the pair's struct ckpt_tty, set again through the master */
	CKPT_FD_FANOTIFY,	/* fanotify: made again with its fanotify_init flags, its marks
				 * added again once every descriptor is back.  aux[0] = its
				 * flags (FAN_CLASS_*, FAN_REPORT_*, ...), aux[1] = the flags
				 * of the descriptors its events open (event_f_flags),
				 * aux[2] = bytes of events pending at checkpoint (not
				 * restored, named then); stored bytes: struct
				 * ckpt_fanotify_mark[].  One with a mark whose path is
				 * not known is CKPT_FD_UNSUPPORTED, CKPT_WHY_FANOTIFY */
	CKPT_FD_USERFAULTFD,	/* the program's userfaultfd (one instance an image): made
				 * again with the features it gave UFFDIO_API: aux[0] as
				 * fdinfo shows them, bit 31 set once UFFDIO_API was
				 * called (0: not yet); aux[1] = CKPT_UFFD_USER_MODE
				 * when it could only be one that handles user-mode faults;
				 * aux[2] = 1 when events were pending at checkpoint (an
				 * unmap, remap, fork or remove: not restored, named then;
				 * faults come again).  Once memory is back, the regions
				 * with CKPT_MAP_UFFD_* are registered with it, then the
				 * pages in its stored bytes, struct ckpt_uffd_range[],
				 * write-protected again */
	CKPT_FD_KIND_MAX
};

#define CKPT_FD_CLOEXEC		0x1u	/* ckpt_fd.fd_flags: FD_CLOEXEC */
#define CKPT_FD_STORED		0x2u	/* ckpt_fd.fd_flags: a REG file's content is stored
					 * (CKPT_COPY_FILES=all), made again unlinked if it is gone */

/* CKPT_FD_UNSUPPORTED aux[0]: why (img_fd_why() says it in words) */
enum ckpt_fd_why {
	CKPT_WHY_KIND = 0,	/* a kind of descriptor ckpt does not make again */
	CKPT_WHY_CONNECTED,	/* a socket connected to a peer */
	CKPT_WHY_SOCKET_KIND,	/* a socket of another family or type than IPv4, IPv6, UNIX */
	CKPT_WHY_TOO_BIG,	/* a file to copy (deleted, memfd) over the copy limit */
	CKPT_WHY_EPOLL,		/* an epoll instance whose watches could not be read */
	CKPT_WHY_PIPE_OUTSIDE,	/* a pipe whose other end is in another process */
	CKPT_WHY_UNIX_OUTSIDE,	/* a UNIX connection whose other end is in another process */
	CKPT_WHY_SCM_RIGHTS,	/* descriptors in flight (SCM_RIGHTS) in a socket's queue */
	CKPT_WHY_INOTIFY_PATH,	/* an inotify watch whose path is not known, or no longer
				 * names the watched inode */
	CKPT_WHY_PIDFD_OTHER,	/* a pidfd of another process */
	CKPT_WHY_FANOTIFY,	/* fanotify */
	CKPT_WHY_IO_URING,	/* io_uring */
	CKPT_WHY_BPF,		/* a bpf map, program or link */
	CKPT_WHY_PERF,		/* a perf event */
	CKPT_WHY_USERFAULTFD,	/* one of several userfaultfd instances of the program */
	CKPT_WHY_MAX
};

/* CKPT_FD_SOCKET aux[4]: the options set on it */
#define CKPT_SO_REUSEADDR	0x1u
#define CKPT_SO_REUSEPORT	0x2u
#define CKPT_SO_KEEPALIVE	0x4u
#define CKPT_SO_TCP_NODELAY	0x8u
#define CKPT_SO_V6ONLY		0x10u
#define CKPT_SO_WAS_CONNECTED	0x100u	/* a TCP connection: comes back as closed by its peer; the
					 * stored bytes hold its address, then its peer's */
#define CKPT_SO_TCP_REPAIR	0x200u	/* with WAS_CONNECTED: the connection's kernel state, read
					 * with TCP_REPAIR (CAP_NET_ADMIN over its network
					 * namespace), follows the two addresses: a struct
					 * ckpt_tcp_repair, then the receive queue's bytes, then
					 * the send queue's.  Restored as it was where TCP_REPAIR
					 * is allowed again, else as closed by its peer */
#define CKPT_SO_DGRAM_PEER	0x400u	/* a UDP socket connected to a peer: the stored bytes hold
					 * its address, then the peer's; connected again */
#define CKPT_SO_DGRAM_QUEUE	0x800u	/* a datagram socket (UDP, UNIX) whose queued datagrams
					 * are stored: aux[3] = the bytes of its address(es) at
					 * the start of the stored bytes, then `size` records of
					 * a uint32_t length, a uint32_t sender address length
					 * (CKPT_SOCKADDR_MAX at most, 0: none), the sender's
					 * address, then the datagram's bytes.  Queued again at
					 * restore, each sent from its sender's address where the
					 * restorer may bind it (else named) */
#define CKPT_SO_PEEK_OFF	0x1000u	/* SO_PEEK_OFF was on (>= 0): its value in sock_peek_off */
#define CKPT_SOCKADDR_MAX	128u	/* the longest address stored (sockaddr_un is 110) */
#define CKPT_TCP_QUEUE_MAX	(64u << 20)	/* the most bytes either queue holds in an image */

/* A TCP connection's state as TCP_REPAIR shows it (CKPT_SO_TCP_REPAIR). */
struct ckpt_tcp_repair {
	uint32_t snd_seq;	/* TCP_QUEUE_SEQ of the send queue: the sequence number after its last byte */
	uint32_t rcv_seq;	/* TCP_QUEUE_SEQ of the receive queue: after its last byte */
	uint32_t snd_len;	/* bytes in the send queue (sent and not acknowledged, or not sent) */
	uint32_t rcv_len;	/* bytes received that the program had not read */
	uint32_t mss;		/* TCP_MAXSEG */
	uint32_t options;	/* tcpi_options of TCP_INFO: 1 timestamps, 2 SACK, 4 window scaling */
	uint32_t wscale;	/* window scale: ours (tcpi_snd_wscale) | the peer's (tcpi_rcv_wscale) << 16 */
	uint32_t timestamp;	/* TCP_TIMESTAMP: the connection's timestamp clock */
	uint32_t window[5];	/* TCP_REPAIR_WINDOW: snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup */
	uint32_t sndbuf;	/* SO_SNDBUF and SO_RCVBUF as they were: a queue too big for a new */
	uint32_t rcvbuf;	/* socket's buffer gets this one */
	uint32_t pad;
};
_Static_assert(sizeof(struct ckpt_tcp_repair) == 64, "ckpt_tcp_repair");

/* CKPT_FD_NETLINK */
#define CKPT_NETLINK_OPTIONS	0x1d38u	/* aux[4] bits kept: NETLINK_PKTINFO (3), _BROADCAST_ERROR (4),
					 * _NO_ENOBUFS (5), _LISTEN_ALL_NSID (8), _CAP_ACK (10),
					 * _EXT_ACK (11), _GET_STRICT_CHK (12) */
#define CKPT_NETLINK_GROUPS_MAX	512u	/* stored bytes: groups 1 to 4096 */
/* CKPT_FD_PTY aux[0], aux[2] */
#define CKPT_PTY_MASTER		0u
#define CKPT_PTY_SLAVE		1u
#define CKPT_PTY_LOCKED		0x1u	/* the slave still locked (no unlockpt yet: TIOCGPTLCK) */
#define CKPT_PTY_PACKET		0x2u	/* packet mode on the master (TIOCPKT) */

/* CKPT_FD_UNIX_PAIR aux[2] */
#define CKPT_UP_PASSCRED	0x1u	/* SO_PASSCRED set */
#define CKPT_UP_SHUT_RD		0x2u	/* shut down for reading (its own shutdown or its peer's SHUT_WR) */
#define CKPT_UP_SHUT_WR		0x4u	/* shut down for writing */
#define CKPT_UP_NAMED		0x8u	/* it had an address (accepted from a listener): it comes back
					 * unnamed, as a socketpair's end is (said at checkpoint and restore) */
#define CKPT_SOCK_RECORD_MAX	(1u << 20)	/* the longest record of a queue stored */

/* One open descriptor.  Descriptors that share one open file description
 * (dup, fork) have the same `share` value: the index of the first of them. */
struct ckpt_fd {
	int32_t  fd;
	uint32_t kind;		/* enum ckpt_fd_kind */
	uint32_t flags;		/* open(2) flags as /proc/self/fdinfo shows them */
	uint32_t fd_flags;	/* CKPT_FD_CLOEXEC, CKPT_FD_STORED */
	uint64_t pos;		/* file offset */
	uint64_t dev, ino;	/* st_dev as major << 32 | minor, st_ino */
	int64_t  size;		/* st_size at checkpoint; CKPT_FD_SOCKET (a socket's st_size is
				 * 0): the datagrams queued for it, which are not restored */
	int64_t  mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;		/* st_mode */
	uint32_t path_off;	/* into strings: readlink of /proc/self/fd/N */
	uint32_t share;		/* index into the fd table of the first sharer */
	uint32_t peer;		/* CKPT_FD_PIPE: index of a descriptor on the other end;
				 * CKPT_FD_UNIX_PAIR: of the other end's first record */
	uint32_t data_crc;	/* CRC-32C of the data bytes */
	uint64_t data_off;	/* stored bytes: pipe buffer, file or memfd content */
	uint64_t data_len;
	uint64_t aux[6];	/* kind-specific, see enum ckpt_fd_kind */
	uint32_t tfd_flags;	/* TIMERFD on a realtime clock set with TFD_TIMER_ABSTIME:
				 * its settime flags (ABSTIME 1, CANCEL_ON_SET 2); 0 otherwise
				 * and in older images */
	int32_t  sock_peek_off;	/* SOCKET with CKPT_SO_PEEK_OFF: SO_PEEK_OFF as the program left
				 * it; 0 otherwise */
	int64_t  tfd_deadline_ns;	/* with tfd_flags: the wall-clock expiry, ns since the epoch */
};								/* 160 */
_Static_assert(sizeof(struct ckpt_fd) == 160, "ckpt_fd");

/* One descriptor watched by an epoll instance (CKPT_FD_EPOLL's stored bytes). */
struct ckpt_epoll_watch {
	int32_t  fd;		/* the number it was added under */
	uint32_t events;	/* EPOLLIN ... EPOLLET, EPOLLONESHOT as the kernel keeps them */
	uint64_t data;		/* epoll_data, returned by epoll_wait */
};
_Static_assert(sizeof(struct ckpt_epoll_watch) == 16, "ckpt_epoll_watch");

/* A terminal's state (a CKPT_FD_CHR's stored bytes): the kernel's struct
 * termios2 (TCGETS2) and struct winsize (TIOCGWINSZ), as x86-64 lays them out */
struct ckpt_tty {
	uint32_t iflag, oflag, cflag, lflag;	/* c_iflag ... c_lflag */
	uint8_t  line;				/* c_line */
	uint8_t  cc[19];			/* c_cc[NCCS] */
	uint32_t ispeed, ospeed;		/* c_ispeed, c_ospeed */
	uint16_t rows, cols, xpixel, ypixel;	/* the window size */
	uint32_t flags;				/* CKPT_TTY_* */
	uint32_t pad[2];
};
_Static_assert(sizeof(struct ckpt_tty) == 64, "ckpt_tty");
#define CKPT_TTY_TERMIOS_SIZE	44u	/* the termios2 part: iflag .. ospeed */
#define CKPT_TTY_CTTY		0x1u	/* the process's controlling terminal */
#define CKPT_TTY_FOREGROUND	0x2u	/* ... with its process group in the foreground */

/* One watch of an inotify instance (CKPT_FD_INOTIFY's stored bytes). */
struct ckpt_inotify_watch {
	int32_t  wd;		/* its watch descriptor, 1 .. INT_MAX */
	uint32_t mask;		/* given to inotify_add_watch at restore: the kernel's mask (events,
				 * IN_ONESHOT, IN_EXCL_UNLINK), with IN_ONLYDIR for a directory and
				 * IN_DONT_FOLLOW for a symbolic link watched itself */
	uint32_t path_off;	/* into strings: an absolute path naming the watched inode */
	uint32_t pad;
	uint64_t dev, ino;	/* the watched inode at checkpoint: dev as major << 32 | minor */
};
_Static_assert(sizeof(struct ckpt_inotify_watch) == 32, "ckpt_inotify_watch");
/* One mark of a fanotify instance (CKPT_FD_FANOTIFY's stored bytes). */
struct ckpt_fanotify_mark {
	uint32_t type;		/* CKPT_FAN_INODE, CKPT_FAN_MOUNT, CKPT_FAN_FS */
	uint32_t flags;		/* FAN_MARK_* the kernel shows for it (IGNORED_SURV_MODIFY,
				 * EVICTABLE, IGNORE), with FAN_MARK_ONLYDIR for a
				 * directory and FAN_MARK_DONT_FOLLOW for a symbolic link */
	uint64_t mask;		/* its events */
	uint64_t ignored_mask;	/* events it ignores, added with FAN_MARK_IGNORED_MASK */
	uint64_t dev, ino;	/* the marked inode (a mount's or file system's root for the
				 * others) at checkpoint: dev as major << 32 | minor */
	uint32_t path_off;	/* into strings: an absolute path naming it (a mount point for a
				 * mount mark, a path on the file system for a file system mark) */
	uint32_t pad;
};
_Static_assert(sizeof(struct ckpt_fanotify_mark) == 48, "ckpt_fanotify_mark");
#define CKPT_FAN_INODE		0u
#define CKPT_FAN_MOUNT		1u	/* FAN_MARK_MOUNT */
#define CKPT_FAN_FS		2u	/* FAN_MARK_FILESYSTEM */
#define CKPT_FAN_MARK_FLAGS	0x64cu	/* what flags may hold: FAN_MARK_DONT_FOLLOW 0x4,
					 * ONLYDIR 0x8, IGNORED_SURV_MODIFY 0x40,
					 * EVICTABLE 0x200, IGNORE 0x400 */
#define CKPT_FANOTIFY_MARKS_MAX	1024u	/* per image */

/* A range of write-protected pages of the program's userfaultfd
 * (CKPT_FD_USERFAULTFD's stored bytes), ascending, page-aligned. */
struct ckpt_uffd_range {
	uint64_t start, end;
};
_Static_assert(sizeof(struct ckpt_uffd_range) == 16, "ckpt_uffd_range");
#define CKPT_UFFD_RANGES_MAX	4096u	/* per image */
#define CKPT_UFFD_USER_MODE	1u	/* CKPT_FD_USERFAULTFD aux[1] */
#define CKPT_UFFD_FEATURES	0xffffffffu	/* what aux[0] may hold: the kernel's features word */

#define CKPT_INOTIFY_MASK	0x87000fffu	/* what mask may hold: IN_ALL_EVENTS, IN_ONLYDIR,
					 * IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_ONESHOT */

/* A signal pending at the checkpoint, queued again at restore. */
struct ckpt_siginfo {
	uint32_t signo;
	uint32_t shared;	/* 1: pending for the process, 0: for the thread */
	uint8_t  info[128];	/* siginfo_t as rt_sigtimedwait returned it */
};								/* 136 */
_Static_assert(sizeof(struct ckpt_siginfo) == 136, "ckpt_siginfo");

/* A POSIX timer (timer_create), made again with the same id. */
struct ckpt_timer {
	int32_t  id;
	int32_t  clockid;
	int32_t  signo;
	int32_t  notify;	/* SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID */
	int32_t  tid;		/* SIGEV_THREAD_ID target */
	int32_t  pad0;
	uint64_t sigval;
	int64_t  interval_sec, interval_nsec, value_sec, value_nsec;	/* remaining */
};								/* 64 */
_Static_assert(sizeof(struct ckpt_timer) == 64, "ckpt_timer");

/* ckpt_lock.kind: how the lock was taken, and how the restorer takes it again */
#define CKPT_LOCK_POSIX		1	/* fcntl F_SETLK: the process's record lock */
#define CKPT_LOCK_OFD		2	/* fcntl F_OFD_SETLK: the open file description's */
#define CKPT_LOCK_FLOCK		3	/* flock(): the open file description's, whole file */
#define CKPT_LOCK_LEASE		4	/* fcntl F_SETLEASE, whole file */
#define CKPT_LOCK_KIND_MAX	5
/* ckpt_lock.type: the kernel's F_RDLCK and F_WRLCK (flock: LOCK_SH, LOCK_EX) */
#define CKPT_LOCK_READ		0
#define CKPT_LOCK_WRITE		1

/* A file lock or lease held at the checkpoint (a "lock:" line of the
 * descriptor's /proc/self/fdinfo), taken again, non-blocking, on the restored
 * descriptor; one that cannot be is a refusal.  Only on descriptors reopened
 * by path (REG, DIR, CHR, FIFO); locks on any other kind are named as not
 * restored (CKPT_PROC_*_LOCKS_LOST, CKPT_PROC_LEASES_LOST). */
struct ckpt_lock {
	uint32_t fd_index;	/* the descriptor record it was taken through (a share lead) */
	uint16_t kind;		/* CKPT_LOCK_* */
	uint16_t type;		/* CKPT_LOCK_READ, CKPT_LOCK_WRITE */
	int64_t  start;		/* POSIX, OFD: first byte; 0 for FLOCK and LEASE */
	int64_t  len;		/* POSIX, OFD: bytes from start, 0: to the end of the file
				 * however far it grows; 0 for FLOCK and LEASE */
	int32_t  sig;		/* LEASE: the signal its breaks are told with (F_SETSIG;
				 * 0: SIGIO); 0 for the others */
	uint32_t pad;
};								/* 32 */
_Static_assert(sizeof(struct ckpt_lock) == 32, "ckpt_lock");

/* ckpt_hdr.flags: a feature old readers must refuse, not ignore */
#define CKPT_HDR_LOCKS		0x1u	/* the image holds locks (nlocks, locks_off): a restorer
					 * that ignored them would bring the program back
					 * without them */
#define CKPT_HDR_JOB_MEMBER	0x2u	/* one process of a job (job_id): restored only with
					 * the rest of its job, through the job table */

/* ---- the header ---- */
struct ckpt_hdr {
	uint32_t magic;		/*   0 CKPT_MAGIC */
	uint32_t version;	/*   4 CKPT_VERSION */
	uint32_t hdr_size;	/*   8 CKPT_HDR_SIZE */
	uint32_t hdr_crc;	/*  12 CRC-32C of the 4096 bytes with this field zero */
	uint64_t file_size;	/*  16 */
	uint64_t created_ns;	/*  24 CLOCK_REALTIME at checkpoint */
	uint64_t tables_off;	/*  32 = CKPT_HDR_SIZE */
	uint64_t tables_size;	/*  40 = data_off - tables_off */
	uint32_t tables_crc;	/*  48 */
	uint32_t flags;		/*  52 CKPT_HDR_*: features an older reader refuses */
	uint64_t data_off;	/*  56 page-aligned */
	uint64_t data_size;	/*  64 */
	uint32_t nthreads;	/*  72 */
	uint32_t nvmas;		/*  76 */
	uint32_t nruns;		/*  80 */
	uint32_t strings_size;	/*  84 */
	uint64_t threads_off;	/*  88 */
	uint64_t proc_off;	/*  96 */
	uint64_t vmas_off;	/* 104 */
	uint64_t runs_off;	/* 112 */
	uint64_t strings_off;	/* 120 */
	/* the machine the image came from */
	uint32_t page_size;	/* 128 */
	uint32_t xsave_size;	/* 132 CPUID 0xD.0 EBX: XSAVE area for XCR0 (512: FXSAVE) */
	uint64_t xcr0;		/* 136 XGETBV(0), 0 without XSAVE */
	uint64_t hwcap2;	/* 144 AT_HWCAP2 */
	uint32_t cpuid1_ecx;	/* 152 feature words the program may have chosen code by */
	uint32_t cpuid1_edx;	/* 156 */
	uint32_t cpuid7_ebx;	/* 160 */
	uint32_t cpuid7_ecx;	/* 164 */
	uint32_t cpuid7_edx;	/* 168 */
	uint32_t vdso_crc;	/* 172 CRC-32C of the [vdso] bytes */
	uint64_t vdso_size;	/* 176 */
	uint64_t vvar_size;	/* 184 */
	uint64_t vvar_vclock_size;	/* 192 0 when the kernel has none */
	char     cpu_vendor[16];	/* 200 CPUID 0 vendor string */
	char     kernel[65];	/* 216 uname release */
	uint8_t  cpu_level;	/* 281 x86-64-v2..v4 the program was started for (ckpt run
				 *     --cpu-baseline): only that level's CPUID bits
				 *     and XCR0 components count; 0: all of them */
	uint8_t  pad0[6];	/* 282 */
	char     program[64];	/* 288 comm of the program, for messages */
	uint32_t nfds;		/* 352 descriptor table */
	uint32_t nsigs;		/* 356 pending signals */
	uint32_t ntimers;	/* 360 POSIX timers */
	uint32_t pad1;		/* 364 */
	uint64_t fds_off;	/* 368 */
	uint64_t sigs_off;	/* 376 */
	uint64_t timers_off;	/* 384 */
	uint8_t  image_id[16];	/* 392 random: who this image is */
	uint8_t  parent_id[16];	/* 408 image_id of the parent (depth > 0) */
	uint32_t depth;		/* 424 0: full image; n: n parents back to a full one */
	uint32_t pad2;		/* 428 */
	char     parent_name[256];	/* 432 the parent's file name, in this image's directory */
	/* so that an image outlives the kernel and the boot it was made on */
	uint64_t vdso_data_off;	/* 688 where the [vdso] bytes (vdso_size, vdso_crc) are
				 *     in the file: last in the data area; 0: not stored
				 *     (then only this very kernel's vDSO will do) */
	int64_t  clock_mono_ns;	/* 696 CLOCK_MONOTONIC at checkpoint; 0: not recorded */
	int64_t  clock_boot_ns;	/* 704 CLOCK_BOOTTIME at checkpoint; 0: not recorded */
	uint32_t nlocks;	/* 712 file locks and leases, with CKPT_HDR_LOCKS; else 0 */
	uint32_t pad3;		/* 716 */
	uint64_t locks_off;	/* 720 struct ckpt_lock [nlocks] */
	uint8_t  job_id[16];	/* 728 with CKPT_HDR_JOB_MEMBER: the job table's job_id */
	uint8_t  reserved[3352];/* 744 zero */
};
_Static_assert(sizeof(struct ckpt_hdr) == CKPT_HDR_SIZE, "ckpt_hdr");
_Static_assert(offsetof(struct ckpt_hdr, page_size) == 128, "hdr machine");
_Static_assert(offsetof(struct ckpt_hdr, program) == 288, "hdr program");
_Static_assert(offsetof(struct ckpt_hdr, vdso_data_off) == 688, "hdr vdso bytes");
_Static_assert(offsetof(struct ckpt_hdr, locks_off) == 720, "hdr locks");
_Static_assert(offsetof(struct ckpt_hdr, job_id) == 728, "hdr job");

/* ---- a compressed image (CKPT_COMPRESS=zstd) ----
 * A container of an ordinary image's bytes: the writer compresses whatever it
 * would have written at raw offset OFF into a frame and appends it, so the
 * raw image's own order of writes (page data, tables, header last) stays.
 *
 *   0          struct ckpt_zip_hdr (4096 bytes)
 *   4096       the frames' stored bytes, in the order they were written
 *   index_off  struct ckpt_zip_frame [nframes], sorted by raw_off, no two
 *              overlapping; file_size = index_off + nframes * 32
 * Unpacking writes each frame's raw_len bytes at its raw_off of a file of
 * raw_size bytes (never written bytes are zero): that file is the image, with
 * every checksum of its own.  The restorer reads raw images only; the tools
 * (`ckpt restore`, `ckpt info`, readckpt, merge) unpack into a memfd first. */
#define CKPT_ZIP_MAGIC		0x5a504b43u	/* "CKPZ" read as a little-endian u32 */
#define CKPT_ZIP_VERSION	1u
#define CKPT_ZIP_ZSTD		1u	/* ckpt_zip_hdr.codec */
#define CKPT_ZIP_FRAME_MAX	(1u << 20)	/* raw bytes of one frame at most */
#define CKPT_ZIP_STORED		0x1u	/* ckpt_zip_frame.flags: the raw bytes as they are */

struct ckpt_zip_hdr {
	uint32_t magic;		/*   0 CKPT_ZIP_MAGIC */
	uint32_t version;	/*   4 CKPT_ZIP_VERSION */
	uint32_t hdr_crc;	/*   8 CRC-32C of the 4096 bytes with this field zero */
	uint32_t codec;		/*  12 CKPT_ZIP_ZSTD */
	uint64_t raw_size;	/*  16 the unpacked image's size: the end of the last frame */
	uint64_t index_off;	/*  24 */
	uint32_t nframes;	/*  32 */
	uint32_t index_crc;	/*  36 CRC-32C of the frame table */
	uint8_t  reserved[4056];/*  40 zero */
};
_Static_assert(sizeof(struct ckpt_zip_hdr) == 4096, "ckpt_zip_hdr");

struct ckpt_zip_frame {
	uint64_t raw_off;	/* where its bytes go in the image */
	uint64_t file_off;	/* where its stored bytes are in this file, >= 4096 */
	uint32_t raw_len;	/* 1 .. CKPT_ZIP_FRAME_MAX */
	uint32_t stored_len;	/* bytes in this file; raw_len with CKPT_ZIP_STORED */
	uint32_t crc;		/* CRC-32C of the stored bytes */
	uint32_t flags;		/* CKPT_ZIP_STORED */
};
_Static_assert(sizeof(struct ckpt_zip_frame) == 32, "ckpt_zip_frame");

/* ---- a job: a process and its descendants, checkpointed at one moment ----
 * (DESIGN.md "Jobs").  The file at the image path is then a job table; the
 * image of each live process is a file of its own beside it (same directory),
 * ".NAME.JOBID.PID", a full image as above with CKPT_HDR_JOB_MEMBER, written
 * before the table is renamed in, so the table names only complete images.
 *
 *   0          struct ckpt_job_hdr (256 bytes)
 *   procs_off  struct ckpt_job_proc [nprocs]  a parent before its children; 0 is the root
 *   objs_off   struct ckpt_job_obj  [nobjs]   what two or more processes share
 *   refs_off   struct ckpt_job_ref  [nrefs]   which descriptor of which process is which
 *                                             object; by process, then descriptor
 *   data_off   the bytes in the job's pipes and UNIX pairs, each shared memory's
 *              struct ckpt_job_shm and maps (ckpt_job_obj.data_off, relative to 0)
 *   file_size  nothing follows; crc is CRC-32C of the whole file with crc zero
 */
#define CKPT_JOB_MAGIC		0x424f4a43u	/* "CJOB" read as a little-endian u32 */
#define CKPT_JOB_VERSION	1u
#define CKPT_JOB_MAX_PROCS	256u
#define CKPT_JOB_MAX_OBJS	4096u
#define CKPT_JOB_MAX_REFS	16384u
#define CKPT_JOB_MAX_SIZE	(64u << 20)

struct ckpt_job_hdr {
	uint32_t magic;		/*   0 CKPT_JOB_MAGIC */
	uint32_t version;	/*   4 CKPT_JOB_VERSION */
	uint32_t crc;		/*   8 */
	uint32_t nprocs;	/*  12 */
	uint32_t nobjs;		/*  16 */
	uint32_t nrefs;		/*  20 */
	uint64_t file_size;	/*  24 */
	uint64_t created_ns;	/*  32 CLOCK_REALTIME at checkpoint */
	uint8_t  job_id[16];	/*  40 random; each member image's hdr.job_id */
	uint64_t procs_off;	/*  56 */
	uint64_t objs_off;	/*  64 */
	uint64_t refs_off;	/*  72 */
	uint64_t data_off;	/*  80 */
	uint8_t  reserved[168];	/*  88 zero */
};
_Static_assert(sizeof(struct ckpt_job_hdr) == 256, "ckpt_job_hdr");

/* ckpt_job_proc.state */
#define CKPT_JOB_LIVE		0u	/* running, sleeping: restored from its image */
#define CKPT_JOB_ZOMBIE		1u	/* exited, not reaped by its parent: made again, exits with status */

struct ckpt_job_proc {
	int32_t  pid;		/* its pid (restored: a parent keeps its children's) */
	int32_t  parent;	/* index of its parent, lower than its own; -1 for the root */
	int32_t  pgid;		/* process group and session as the kernel had them: a process */
	int32_t  sid;		/* of the job that leads one leads it again */
	uint32_t state;		/* CKPT_JOB_LIVE, CKPT_JOB_ZOMBIE */
	int32_t  status;	/* a zombie's wait status (exit code << 8, or the signal) */
	char     comm[16];	/* its name, for messages */
	char     image[88];	/* a live process's image file, beside the table; "" for a zombie */
};								/* 128 */
_Static_assert(sizeof(struct ckpt_job_proc) == 128, "ckpt_job_proc");

/* ckpt_job_obj.kind */
#define CKPT_JOB_FILE		1u	/* one open file description (a file, a terminal, a socket
					 * ...) held by two or more processes: the owner makes it
					 * from its own record of owner_fd, the others take it */
#define CKPT_JOB_PIPE		2u	/* a pipe whose ends two or more processes hold, or whose one
					 * end the job holds and the other is closed everywhere (make's
					 * stdin for its jobs): the owner makes it (pipe_size), puts back
					 * the bytes in it and closes an end no ref names */
#define CKPT_JOB_UNIX_PAIR	3u	/* a connected pair of UNIX sockets whose ends are held by two
					 * or more processes (a socketpair made before a fork): the
					 * owner makes it with socketpair(pipe_size = its type) and
					 * puts back what was queued for each end: data_len bytes of
					 * records (a uint32_t length, then the bytes), the first
					 * split bytes for end 0, the rest for end 1 */
#define CKPT_JOB_SHM		4u	/* memory two or more processes map from one object (MAP_SHARED
					 * anonymous, SysV shm, a memfd): data is a struct ckpt_job_shm
					 * and its maps; the content is a file of its own beside the
					 * table (shm.file), read while the job was stopped.  The owner
					 * (the first to map it) makes a memfd of it; each process maps
					 * its pieces from that, none from its own image */

struct ckpt_job_obj {
	uint32_t kind;		/* CKPT_JOB_FILE, CKPT_JOB_PIPE, CKPT_JOB_UNIX_PAIR, CKPT_JOB_SHM */
	uint32_t owner;		/* the process that makes it: the first of its holders */
	int32_t  owner_fd;	/* FILE: the owner's descriptor of it; else -1 */
	uint32_t pipe_size;	/* PIPE: its capacity (F_GETPIPE_SZ); UNIX_PAIR: its socket type */
	uint64_t data_off;	/* PIPE: the bytes in it, read without taking them; UNIX_PAIR: */
	uint64_t data_len;	/* the queues of both ends, as records */
	uint32_t data_crc;
	uint32_t split;		/* UNIX_PAIR: the bytes of end 0's queue (the rest: end 1's); else 0 */
};								/* 40 */
_Static_assert(sizeof(struct ckpt_job_obj) == 40, "ckpt_job_obj");

struct ckpt_job_ref {
	uint32_t proc;		/* index of the process */
	int32_t  fd;		/* its descriptor */
	uint32_t obj;		/* index of the object */
	uint32_t end;		/* PIPE: 0 the read end, 1 the write end; UNIX_PAIR: 0 or 1; FILE: 0 */
};								/* 16 */
_Static_assert(sizeof(struct ckpt_job_ref) == 16, "ckpt_job_ref");

struct ckpt_job_shm {
	char     file[88];	/* its content, beside the table: a bit per page of the object
				 * (uint64_t words, page i in word i / 64, bit i % 64), 1 for a
				 * page stored, then the stored pages in order; a page not
				 * stored is zero */
	uint64_t size;		/* the object's length: the end of its furthest piece mapped */
	uint64_t stored;	/* pages stored */
	uint32_t crc;		/* CRC-32C of that file, whole */
	uint32_t nmaps;		/* struct ckpt_job_shm_map [nmaps] follow */
};								/* 112 */
_Static_assert(sizeof(struct ckpt_job_shm) == 112, "ckpt_job_shm");
#define CKPT_JOB_SHM_BITMAP(size)	(((size) / 4096 + 63) / 64 * 8)	/* its bytes */

struct ckpt_job_shm_map {
	uint32_t proc;		/* index of the process */
	uint32_t reserved;	/* zero */
	uint64_t start, end;	/* the region in that process (a region of its image) */
	uint64_t offset;	/* where in the object it starts */
};								/* 32 */
_Static_assert(sizeof(struct ckpt_job_shm_map) == 32, "ckpt_job_shm_map");

/* Feature bits ignored when comparing CPUs: they say nothing about what code can
 * run (hypervisor present, OSXSAVE is checked through xcr0 instead). */
#define CKPT_CPUID1_ECX_IGNORE	((1u << 31) | (1u << 27))

/* The checksum of every part of an image is CRC-32C (Castagnoli), started from
 * 0: ckpt_crc32c() in image/crc32c.c. */

#endif
