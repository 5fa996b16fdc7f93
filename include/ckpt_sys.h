/* ckpt_sys.h -- raw Linux x86-64 system calls for the restorer and the capture
 * library's signal path.  No libc, no errno: each sys_<name>() returns the kernel's
 * answer, which is -errno when it lies in [-4095, -1] (sys_failed()).  The kernel
 * never returns a valid result in that range, which is why 4095 bounds it.
 *
 * Syscall ABI (asm/syscall.asm does the register shuffle, and is the only
 * `syscall` instruction the restorer has besides the two arch_prctl fallbacks):
 *   rax = number; rdi, rsi, rdx, r10, r8, r9 = arguments; rcx, r11 clobbered.
 *
 * Constants come from the kernel's uapi values, defined here only when the
 * including file has not already got them from a libc header.
 */
#ifndef CKPT_SYS_H
#define CKPT_SYS_H

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>

long ckpt_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

#define SC0(n)			ckpt_raw_syscall(n, 0, 0, 0, 0, 0, 0)
#define SC1(n, a)		ckpt_raw_syscall(n, (long)(a), 0, 0, 0, 0, 0)
#define SC2(n, a, b)		ckpt_raw_syscall(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(n, a, b, c)		ckpt_raw_syscall(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(n, a, b, c, d)	ckpt_raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(n, a, b, c, d, e)	ckpt_raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SC6(n, a, b, c, d, e, f) ckpt_raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline int sys_failed(long r) { return (unsigned long)r >= -4095UL; }

/* ---- uapi constants (x86-64 values) ---- */
#ifndef PROT_READ
#define PROT_NONE	0x0
#define PROT_READ	0x1
#define PROT_WRITE	0x2
#define PROT_EXEC	0x4
#define MAP_SHARED	0x01
#define MAP_PRIVATE	0x02
#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_GROWSDOWN	0x0100
#define MAP_NORESERVE	0x4000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE	1
#define MREMAP_FIXED	2
#endif
#ifndef MADV_RANDOM
#define MADV_RANDOM	1
#define MADV_SEQUENTIAL	2
#define MADV_MERGEABLE	12
#define MADV_HUGEPAGE	14
#define MADV_NOHUGEPAGE	15
#define MADV_DONTDUMP	16
#define MADV_DONTFORK	10
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK	18
#endif
#ifndef O_RDONLY
#define O_RDONLY	00
#define O_WRONLY	01
#define O_RDWR		02
#define O_CREAT		0100
#define O_EXCL		0200
#define O_TRUNC		01000
#define O_DIRECTORY	0200000
#define O_NOFOLLOW	0400000
#define O_CLOEXEC	02000000
#endif
#ifndef O_NOCTTY
#define O_NOCTTY	0400
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK	04000
#endif
#ifndef O_PATH
#define O_PATH		010000000
#endif
#ifndef AT_FDCWD
#define AT_FDCWD	-100
#endif
#ifndef S_IFMT
#define S_IFMT		0170000
#define S_IFREG		0100000
#define S_IFDIR		0040000
#endif
#ifndef S_IFCHR
#define S_IFCHR		0020000
#define S_IFIFO		0010000
#endif
#ifndef S_IFLNK
#define S_IFLNK		0120000
#endif
#ifndef S_IFSOCK
#define S_IFSOCK	0140000
#endif
#ifndef S_IFBLK
#define S_IFBLK		0060000
#endif

/* terminals (asm-generic/ioctls.h) */
#define KSYS_TCGETS2		0x802c542a	/* _IOR('T', 0x2A, struct termios2) */
#define KSYS_TCSETS2		0x402c542b	/* _IOW('T', 0x2B, struct termios2) */
#define KSYS_TIOCGPGRP		0x540f
#define KSYS_TIOCSPGRP		0x5410
#define KSYS_TIOCGWINSZ		0x5413
#define KSYS_TIOCSWINSZ		0x5414
#define KSYS_FIONREAD		0x541b		/* bytes waiting to be read: int */
#define INOTIFY_IOC_SETNEXTWD	0x40044900	/* _IOW('I', 0, int): the next wd to hand out */
/* userfaultfd's, for libckpt's tracking and snapshot and the program's own
 * (raw: no uapi header) */
#define UFFD_API			0xaaull
#define UFFD_USER_MODE_ONLY		1	/* userfaultfd(2) flag */
#define UFFDIO_API			0xc018aa3ful	/* _IOWR(0xaa, 0x3f, struct uffdio_api) */
#define UFFDIO_REGISTER			0xc020aa00ul	/* _IOWR(0xaa, 0x00, struct uffdio_register) */
#define UFFDIO_WRITEPROTECT		0xc018aa06ul	/* _IOWR(0xaa, 0x06, struct uffdio_writeprotect) */
#define UFFDIO_WAKE			0x8010aa02ul	/* _IOR(0xaa, 0x02, struct uffdio_range) */
#define UFFDIO_REGISTER_MODE_MISSING	1
#define UFFDIO_REGISTER_MODE_WP		2
#define UFFDIO_WRITEPROTECT_MODE_WP	1
#define KSYS_TIOCPKT		0x5420		/* packet mode on a pty master: int */
#define KSYS_TIOCGPTN		0x80045430	/* a pty master's number: _IOR('T', 0x30, unsigned int) */
#define KSYS_TIOCSPTLCK		0x40045431	/* lock (1) or unlock (0) its slave: _IOW('T', 0x31, int) */
#define KSYS_TIOCGPKT		0x80045438	/* _IOR('T', 0x38, int) */
#define KSYS_TIOCGPTLCK		0x80045439	/* _IOR('T', 0x39, int) */
#define KSYS_TIOCGPTPEER	0x5441		/* open its slave, flags in the argument (Linux 4.13) */
#define KSYS_PTMX_RDEV		0x502		/* /dev/ptmx: major 5, minor 2, as st_rdev encodes it */
#define KSYS_PTS_MAJOR		136		/* /dev/pts/N: major 136, minor N */

/* fanotify (linux/fanotify.h) */
#define KSYS_FAN_CLOEXEC		0x1u	/* fanotify_init */
#define KSYS_FAN_NONBLOCK		0x2u
#define KSYS_FAN_MARK_ADD		0x1u	/* fanotify_mark */
#define KSYS_FAN_MARK_DONT_FOLLOW	0x4u
#define KSYS_FAN_MARK_ONLYDIR		0x8u
#define KSYS_FAN_MARK_MOUNT		0x10u
#define KSYS_FAN_MARK_IGNORED_MASK	0x20u
#define KSYS_FAN_MARK_FILESYSTEM	0x100u
#define KSYS_FAN_MARK_IGNORE		0x400u	/* Linux 6.0 */

/* netlink sockets (linux/netlink.h) */
#define KSYS_AF_NETLINK		16
#define KSYS_SOCK_RAW		3
#define KSYS_SOL_NETLINK	270
#define KSYS_NETLINK_ADD_MEMBERSHIP	1
#define KSYS_NETLINK_LIST_MEMBERSHIPS	9
#define KSYS_SO_MEMINFO		55	/* u32[9]: [0] the receive queue's bytes (SK_MEMINFO_RMEM_ALLOC) */

/* sockets (linux/socket.h, asm-generic/socket.h, linux/in.h, linux/tcp.h) */
#define KSYS_AF_UNIX		1
#define KSYS_AF_INET		2
#define KSYS_AF_INET6		10
#define KSYS_SOCK_STREAM	1
#define KSYS_SOCK_DGRAM		2
#define KSYS_SOCK_SEQPACKET	5
#define KSYS_SOCK_CLOEXEC	02000000
#define KSYS_SOL_SOCKET		1
#define KSYS_SO_REUSEADDR	2
#define KSYS_SO_TYPE		3
#define KSYS_SO_SNDBUF		7
#define KSYS_SO_RCVBUF		8
#define KSYS_SO_KEEPALIVE	9
#define KSYS_SO_REUSEPORT	15
#define KSYS_SO_ACCEPTCONN	30
#define KSYS_SO_PROTOCOL	38
#define KSYS_SO_DOMAIN		39
#define KSYS_SO_PASSCRED	16
#define KSYS_SO_PEEK_OFF	42
#define KSYS_MSG_PEEK		0x2
#define KSYS_MSG_CTRUNC		0x8
#define KSYS_MSG_TRUNC		0x20
#define KSYS_MSG_DONTWAIT	0x40
#define KSYS_MSG_NOSIGNAL	0x4000
#define KSYS_SOCK_NONBLOCK	04000
#define KSYS_IPPROTO_TCP	6
#define KSYS_TCP_NODELAY	1
#define KSYS_TCP_INFO		11
#define KSYS_TCP_MAXSEG		2
#define KSYS_TCP_REPAIR		19	/* 1 on, 0 off (with a window probe), -1 off without one */
#define KSYS_TCP_REPAIR_QUEUE	20	/* which queue TCP_QUEUE_SEQ, send and recv mean: */
#define KSYS_TCP_RECV_QUEUE	1
#define KSYS_TCP_SEND_QUEUE	2
#define KSYS_TCP_QUEUE_SEQ	21
#define KSYS_TCP_REPAIR_OPTIONS	22	/* struct tcp_repair_opt { u32 code, val; }[] */
#define KSYS_TCP_TIMESTAMP	24
#define KSYS_TCP_REPAIR_WINDOW	29	/* struct tcp_repair_window: 5 u32 */
#define KSYS_IPPROTO_IPV6	41
#define KSYS_IPV6_V6ONLY	26
#define KSYS_IPPROTO_IP		0
#define KSYS_IP_FREEBIND	15	/* bind to an address that is not this machine's */
#define KSYS_IPV6_FREEBIND	78	/* the same for IPv6 (Linux 4.15) */
#define KSYS_SOMAXCONN		4096	/* net.core.somaxconn's default: listen() takes the lower */
#ifndef SIG_SETMASK
#define SIG_BLOCK	0
#define SIG_SETMASK	2
#endif
#ifndef PR_SET_NAME
#define PR_SET_NAME	15
#define PR_GET_NAME	16
#endif
#ifndef PR_SET_MM
#define PR_SET_MM	35
#endif
#define CKPT_PR_SET_MM_EXE_FILE	13
#define CKPT_PR_SET_MM_MAP	14
#define CKPT_PR_GET_TID_ADDRESS	40
#define CKPT_PR_SET_VMA		0x53564d41
#define CKPT_PR_SET_VMA_ANON_NAME 0
#define CKPT_PR_GET_KEEPCAPS	7
#define CKPT_PR_SET_KEEPCAPS	8
#define CKPT_PR_GET_TSC		25
#define CKPT_PR_SET_TSC		26
#define CKPT_PR_GET_SECUREBITS	27
#define CKPT_PR_SET_SECUREBITS	28
#define CKPT_PR_GET_SPECULATION_CTRL 52
#define CKPT_PR_SET_SPECULATION_CTRL 53
#define CKPT_PR_CAPBSET_READ	23
#define CKPT_PR_CAPBSET_DROP	24
#define CKPT_PR_SET_NO_NEW_PRIVS 38
#define CKPT_PR_GET_NO_NEW_PRIVS 39
#define CKPT_PR_SET_THP_DISABLE	41
#define CKPT_MEMBARRIER_CMD_PRIVATE_EXPEDITED	0x008	/* fails with EPERM unless registered */
#define CKPT_MEMBARRIER_CMD_GET_REGISTRATIONS	0x200	/* Linux 6.3 */
#define CKPT_PR_SET_PDEATHSIG	1
#define CKPT_PR_GET_PDEATHSIG	2
#define CKPT_PR_SET_CHILD_SUBREAPER 36
#define CKPT_PR_GET_CHILD_SUBREAPER 37
#define CKPT_PR_SET_MDWE	65	/* Linux 6.3 */
#define CKPT_PR_GET_MDWE	66
#define CKPT_PR_SET_TIMERSLACK	29
#define CKPT_PR_GET_TIMERSLACK	30
#define CKPT_TIMERSLACK_DEFAULT	50000	/* ns: init's, so a new process's as a rule */
#define CKPT_IOPRIO_WHO_PROCESS	1	/* with who a tid, or 0: the calling thread */
#define CKPT_PR_GET_THP_DISABLE	42	/* 1, | 2 with PR_THP_DISABLE_EXCEPT_ADVISED (Linux 6.18) */
#define CKPT_RSEQ_SIG		0x53053053	/* glibc's x86 RSEQ_SIG */
#define CKPT_RSEQ_UNREGISTER	1

/* struct stat as the x86-64 kernel fills it (fstat, newfstatat) */
struct ksys_stat {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t  st_size, st_blksize, st_blocks;
	uint64_t st_atime_sec, st_atime_nsec;
	uint64_t st_mtime_sec, st_mtime_nsec;
	uint64_t st_ctime_sec, st_ctime_nsec;
	int64_t  unused[3];
};
/* st_dev -> the major:minor that /proc/self/maps prints (new_encode_dev) */
static inline uint32_t ksys_major(uint64_t d) { return (uint32_t)((d >> 8) & 0xfff); }
static inline uint32_t ksys_minor(uint64_t d) { return (uint32_t)((d & 0xff) | ((d >> 12) & 0xfff00)); }

/* struct prctl_mm_map (linux/prctl.h) for PR_SET_MM_MAP */
struct ksys_mm_map {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;		/* __u64 *auxv */
	uint32_t auxv_size;	/* bytes */
	uint32_t exe_fd;	/* (u32)-1: leave /proc/self/exe alone */
};

/* stack_t for sigaltstack(2) */
struct ksys_stack {
	uint64_t ss_sp;
	int32_t  ss_flags;
	int32_t  pad;
	uint64_t ss_size;
};

struct ksys_timespec { int64_t tv_sec, tv_nsec; };

struct ksys_clone_args {		/* struct clone_args (linux/sched.h) */
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};
/* CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM */
#define KSYS_CLONE_THREAD	0x50f00ul
/* asm/spawn.asm: clone3 onto args->stack; the child runs fn(arg), which must
 * never return (it ends in rst_jump, or the exit system call) */
long sys_clone3_on_stack(const struct ksys_clone_args *args, uint64_t size, void (*fn)(void *), void *arg);

/* ---- the calls (man 2 prototype above each) ---- */

/* ssize_t read(int fd, void *buf, size_t count); */
static inline long sys_read(int fd, void *buf, size_t n) { return SC3(__NR_read, fd, buf, n); }
/* ssize_t write(int fd, const void *buf, size_t count); */
static inline long sys_write(int fd, const void *buf, size_t n) { return SC3(__NR_write, fd, buf, n); }
/* ssize_t pread(int fd, void *buf, size_t count, off_t offset); */
static inline long sys_pread(int fd, void *buf, size_t n, int64_t off) { return SC4(__NR_pread64, fd, buf, n, off); }
/* ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); */
static inline long sys_pwrite(int fd, const void *buf, size_t n, int64_t off) { return SC4(__NR_pwrite64, fd, buf, n, off); }
/* int openat(int dirfd, const char *path, int flags, mode_t mode); */
static inline long sys_open(const char *path, int flags, int mode) { return SC4(__NR_openat, AT_FDCWD, path, flags, mode); }
/* int close(int fd); */
static inline long sys_close(int fd) { return SC1(__NR_close, fd); }
/* int fstat(int fd, struct stat *st); */
static inline long sys_fstat(int fd, struct ksys_stat *st) { return SC2(__NR_fstat, fd, st); }
/* int futimens(int fd, const struct timespec times[2]); as utimensat(fd, NULL, times, 0) */
static inline long sys_futimens(int fd, const void *times) { return SC4(__NR_utimensat, fd, 0, times, 0); }
/* int newfstatat(int dirfd, const char *path, struct stat *st, int flags); */
static inline long sys_stat(const char *path, struct ksys_stat *st) { return SC4(__NR_newfstatat, AT_FDCWD, path, st, 0); }
/* void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off); */
static inline long sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off)
{ return SC6(__NR_mmap, addr, len, prot, flags, fd, off); }
/* int munmap(void *addr, size_t len); */
static inline long sys_munmap(uint64_t addr, uint64_t len) { return SC2(__NR_munmap, addr, len); }
/* int mprotect(void *addr, size_t len, int prot); */
static inline long sys_mprotect(uint64_t addr, uint64_t len, int prot) { return SC3(__NR_mprotect, addr, len, prot); }
/* void *mremap(void *old, size_t old_len, size_t new_len, int flags, void *new); */
static inline long sys_mremap(uint64_t old, uint64_t olen, uint64_t nlen, int flags, uint64_t naddr)
{ return SC5(__NR_mremap, old, olen, nlen, flags, naddr); }
/* int madvise(void *addr, size_t len, int advice); */
static inline long sys_madvise(uint64_t addr, uint64_t len, int advice) { return SC3(__NR_madvise, addr, len, advice); }
/* int mlock(const void *addr, size_t len); */
static inline long sys_mlock(uint64_t addr, uint64_t len) { return SC2(__NR_mlock, addr, len); }
/* int mlock2(const void *addr, size_t len, unsigned flags); 1 = MLOCK_ONFAULT */
static inline long sys_mlock2(uint64_t addr, uint64_t len, unsigned flags) { return SC3(__NR_mlock2, addr, len, flags); }
/* int mseal(void *addr, size_t len, unsigned long flags); (Linux 6.10) */
#define KSYS_NR_mseal 462
static inline long sys_mseal(uint64_t addr, uint64_t len) { return SC3(KSYS_NR_mseal, addr, len, 0); }
/* int pkey_alloc(unsigned flags, unsigned access_rights); */
static inline long sys_pkey_alloc(void) { return SC2(__NR_pkey_alloc, 0, 0); }
/* int pkey_free(int pkey); */
static inline long sys_pkey_free(int k) { return SC1(__NR_pkey_free, k); }
/* int pkey_mprotect(void *addr, size_t len, int prot, int pkey); */
static inline long sys_pkey_mprotect(uint64_t a, uint64_t len, int prot, int k) { return SC4(__NR_pkey_mprotect, a, len, prot, k); }
/* noreturn void exit_group(int status); */
static inline __attribute__((noreturn, always_inline)) void sys_exit_group(int status)
{ SC1(__NR_exit_group, status); __builtin_unreachable(); }
/* int rt_sigaction(int sig, const struct sigaction *act, struct sigaction *old, size_t sigsetsize); */
static inline long sys_rt_sigaction(int sig, const void *act, void *old) { return SC4(__NR_rt_sigaction, sig, act, old, 8); }
/* int rt_sigprocmask(int how, const sigset_t *set, sigset_t *old, size_t sigsetsize); */
static inline long sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old) { return SC4(__NR_rt_sigprocmask, how, set, old, 8); }
/* int sigaltstack(const stack_t *ss, stack_t *old); */
static inline long sys_sigaltstack(const struct ksys_stack *ss, struct ksys_stack *old) { return SC2(__NR_sigaltstack, ss, old); }
/* int prctl(int option, unsigned long a2, a3, a4, a5); */
static inline long sys_prctl(int op, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) { return SC5(__NR_prctl, op, a2, a3, a4, a5); }
/* int fchdir(int fd); */
static inline long sys_fchdir(int fd) { return SC1(__NR_fchdir, fd); }
/* mode_t umask(mode_t mask); */
static inline long sys_umask(int mask) { return SC1(__NR_umask, mask); }
/* pid_t getpid(void); */
static inline long sys_getpid(void) { return SC0(__NR_getpid); }
/* pid_t set_tid_address(int *tidptr); -- returns the caller's tid */
static inline long sys_set_tid_address(uint64_t p) { return SC1(__NR_set_tid_address, p); }
/* long set_robust_list(struct robust_list_head *head, size_t len); */
static inline long sys_set_robust_list(uint64_t head, uint64_t len) { return SC2(__NR_set_robust_list, head, len); }
/* long get_robust_list(int pid, struct robust_list_head **head, size_t *len); */
static inline long sys_get_robust_list(uint64_t *head, uint64_t *len) { return SC3(__NR_get_robust_list, 0, head, len); }
/* int rseq(struct rseq *rseq, uint32_t len, int flags, uint32_t sig); */
static inline long sys_rseq(uint64_t area, uint32_t len, int flags, uint32_t sig) { return SC4(__NR_rseq, area, len, flags, sig); }
/* int close_range(unsigned first, unsigned last, int flags); */
static inline long sys_close_range(unsigned first, unsigned last) { return SC3(__NR_close_range, first, last, 0); }
/* int ioctl(int fd, unsigned long req, void *arg); */
static inline long sys_ioctl(int fd, unsigned long req, void *arg) { return SC3(__NR_ioctl, fd, req, arg); }
/* int fsync(int fd); */
static inline long sys_fsync(int fd) { return SC1(__NR_fsync, fd); }
/* int fchmod(int fd, mode_t mode); */
static inline long sys_fchmod(int fd, int mode) { return SC2(__NR_fchmod, fd, mode); }
/* int renameat(int olddirfd, const char *old, int newdirfd, const char *new); */
static inline long sys_rename(const char *from, const char *to) { return SC4(__NR_renameat, AT_FDCWD, from, AT_FDCWD, to); }
/* int unlinkat(int dirfd, const char *path, int flags); */
static inline long sys_unlink(const char *path) { return SC3(__NR_unlinkat, AT_FDCWD, path, 0); }
/* ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size); */
static inline long sys_readlink(const char *path, char *buf, size_t n) { return SC4(__NR_readlinkat, AT_FDCWD, path, buf, n); }
/* ssize_t getrandom(void *buf, size_t n, unsigned flags); */
static inline long sys_getrandom(void *buf, size_t n) { return SC3(__NR_getrandom, buf, n, 0); }
/* int clock_gettime(clockid_t clk, struct timespec *tp); */
static inline long sys_clock_gettime(int clk, struct ksys_timespec *tp) { return SC2(__NR_clock_gettime, clk, tp); }
/* int mincore(void *addr, size_t len, unsigned char *vec); */
static inline long sys_mincore(uint64_t addr, uint64_t len, unsigned char *vec) { return SC3(__NR_mincore, addr, len, vec); }

/* ssize_t getdents64(int fd, void *dirp, size_t count); */
static inline long sys_getdents64(int fd, void *buf, size_t n) { return SC3(__NR_getdents64, fd, buf, n); }
/* int fcntl(int fd, int cmd, long arg); */
static inline long sys_fcntl(int fd, int cmd, long arg) { return SC3(__NR_fcntl, fd, cmd, arg); }
/* int dup3(int old, int new, int flags); */
static inline long sys_dup3(int o, int n, int flags) { return SC3(__NR_dup3, o, n, flags); }
/* off_t lseek(int fd, off_t off, int whence); */
static inline long sys_lseek(int fd, int64_t off, int whence) { return SC3(__NR_lseek, fd, off, whence); }
/* int kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2); */
static inline long sys_kcmp(int p1, int p2, int type, long i1, long i2) { return SC5(__NR_kcmp, p1, p2, type, i1, i2); }
/* ssize_t tee(int in, int out, size_t len, unsigned flags); */
static inline long sys_tee(int in, int out, size_t n, unsigned flags) { return SC4(__NR_tee, in, out, n, flags); }
/* int pipe2(int fds[2], int flags); */
static inline long sys_pipe2(int *fds, int flags) { return SC2(__NR_pipe2, fds, flags); }
/* int eventfd2(unsigned initval, int flags); */
static inline long sys_eventfd2(unsigned v, int flags) { return SC2(__NR_eventfd2, v, flags); }
/* int timerfd_create(int clockid, int flags); */
static inline long sys_timerfd_create(int clk, int flags) { return SC2(__NR_timerfd_create, clk, flags); }
/* int timerfd_settime(int fd, int flags, const struct itimerspec *new, struct itimerspec *old); */
static inline long sys_timerfd_settime(int fd, int flags, const void *n, void *o) { return SC4(__NR_timerfd_settime, fd, flags, n, o); }
/* int timerfd_gettime(int fd, struct itimerspec *cur); */
static inline long sys_timerfd_gettime(int fd, void *cur) { return SC2(__NR_timerfd_gettime, fd, cur); }
/* int signalfd4(int fd, const sigset_t *mask, size_t sizemask, int flags); */
static inline long sys_epoll_create1(int flags) { return SC1(__NR_epoll_create1, flags); }

/* ev: the packed struct epoll_event, u32 events then u64 data (12 bytes) */
static inline long sys_epoll_ctl(int ep, int op, int fd, const void *ev) { return SC4(__NR_epoll_ctl, ep, op, fd, ev); }

static inline long sys_signalfd4(int fd, const uint64_t *mask, int flags) { return SC4(__NR_signalfd4, fd, mask, 8, flags); }
/* int memfd_create(const char *name, unsigned flags); */
static inline long sys_memfd_create(const char *name, unsigned flags) { return SC2(__NR_memfd_create, name, flags); }
/* int prlimit64(pid_t pid, int res, const struct rlimit64 *new, struct rlimit64 *old); */
static inline long sys_prlimit(int res, const void *n, void *o) { return SC4(__NR_prlimit64, 0, res, n, o); }
/* int getitimer(int which, struct itimerval *v); */
static inline long sys_getitimer(int which, void *v) { return SC2(__NR_getitimer, which, v); }
/* int setitimer(int which, const struct itimerval *n, struct itimerval *o); */
static inline long sys_setitimer(int which, const void *n) { return SC3(__NR_setitimer, which, n, 0); }
/* int personality(unsigned long persona); */
static inline long sys_personality(unsigned long p) { return SC1(__NR_personality, p); }
static inline long sys_membarrier(int cmd, unsigned flags) { return SC3(__NR_membarrier, cmd, flags, 0); }
static inline long sys_sched_getattr(int tid, void *attr, unsigned size) { return SC4(__NR_sched_getattr, tid, attr, size, 0); }
static inline long sys_sched_setattr(int tid, const void *attr) { return SC3(__NR_sched_setattr, tid, attr, 0); }
static inline long sys_sched_getaffinity(int tid, size_t len, void *mask) { return SC3(__NR_sched_getaffinity, tid, len, mask); }
static inline long sys_sched_setaffinity(int tid, size_t len, const void *mask) { return SC3(__NR_sched_setaffinity, tid, len, mask); }
static inline long sys_ioprio_get(int which, int who) { return SC2(__NR_ioprio_get, which, who); }
static inline long sys_ioprio_set(int which, int who, int ioprio) { return SC3(__NR_ioprio_set, which, who, ioprio); }
/* int rt_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *t, size_t sz); */
static inline long sys_rt_sigtimedwait(const uint64_t *set, void *info, const struct ksys_timespec *t)
{ return SC4(__NR_rt_sigtimedwait, set, info, t, 8); }
/* int rt_tgsigqueueinfo(pid_t tgid, pid_t tid, int sig, siginfo_t *info); */
static inline long sys_rt_tgsigqueueinfo(int tgid, int tid, int sig, const void *info)
{ return SC4(__NR_rt_tgsigqueueinfo, tgid, tid, sig, info); }
/* int rt_sigqueueinfo(pid_t tgid, int sig, siginfo_t *info); */
static inline long sys_rt_sigqueueinfo(int tgid, int sig, const void *info) { return SC3(__NR_rt_sigqueueinfo, tgid, sig, info); }
/* int timer_create(clockid_t clk, struct sigevent *sev, timer_t *id); */
static inline long sys_timer_create(int clk, void *sev, int *id) { return SC3(__NR_timer_create, clk, sev, id); }
/* int timer_settime(timer_t id, int flags, const struct itimerspec *n, struct itimerspec *o); */
static inline long sys_timer_settime(int id, int flags, const void *n) { return SC4(__NR_timer_settime, id, flags, n, 0); }
/* int timer_gettime(timer_t id, struct itimerspec *cur); */
static inline long sys_timer_gettime(int id, void *cur) { return SC2(__NR_timer_gettime, id, cur); }
/* int ftruncate(int fd, off_t len); */
static inline long sys_ftruncate(int fd, int64_t len) { return SC2(__NR_ftruncate, fd, len); }
/* int socket(int domain, int type, int protocol); */
static inline long sys_socket(int dom, int type, int proto) { return SC3(__NR_socket, dom, type, proto); }
/* int socketpair(int domain, int type, int protocol, int sv[2]); */
static inline long sys_socketpair(int dom, int type, int proto, int *sv) { return SC4(__NR_socketpair, dom, type, proto, sv); }
/* int bind(int fd, const struct sockaddr *addr, socklen_t len); */
static inline long sys_bind(int fd, const void *addr, uint32_t len) { return SC3(__NR_bind, fd, addr, len); }
/* int connect(int fd, const struct sockaddr *addr, socklen_t len); */
static inline long sys_connect(int fd, const void *addr, uint32_t len) { return SC3(__NR_connect, fd, addr, len); }
/* int listen(int fd, int backlog); */
static inline long sys_listen(int fd, int backlog) { return SC2(__NR_listen, fd, backlog); }
/* int setsockopt(int fd, int level, int name, const void *val, socklen_t len); */
static inline long sys_setsockopt(int fd, int level, int name, const void *val, uint32_t len)
{ return SC5(__NR_setsockopt, fd, level, name, val, len); }
/* int getsockopt(int fd, int level, int name, void *val, socklen_t *len); */
static inline long sys_getsockopt(int fd, int level, int name, void *val, uint32_t *len)
{ return SC5(__NR_getsockopt, fd, level, name, val, len); }
/* ssize_t recvfrom(int fd, void *buf, size_t len, int flags, NULL, NULL); */
static inline long sys_recv(int fd, void *buf, uint64_t len, int flags) { return SC6(__NR_recvfrom, fd, buf, len, flags, 0, 0); }
/* ssize_t sendto(int fd, const void *buf, size_t len, int flags, NULL, 0); */
static inline long sys_send(int fd, const void *buf, uint64_t len, int flags) { return SC6(__NR_sendto, fd, buf, len, flags, 0, 0); }
/* int getsockname(int fd, struct sockaddr *addr, socklen_t *len); */
static inline long sys_getsockname(int fd, void *addr, uint32_t *len) { return SC3(__NR_getsockname, fd, addr, len); }
/* int getpeername(int fd, struct sockaddr *addr, socklen_t *len); */
static inline long sys_getpeername(int fd, void *addr, uint32_t *len) { return SC3(__NR_getpeername, fd, addr, len); }
/* ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen); */
static inline long sys_sendto(int fd, const void *buf, uint64_t len, int flags, const void *to, uint32_t tolen)
{ return SC6(__NR_sendto, fd, buf, len, flags, to, tolen); }
/* ssize_t recvmsg(int fd, struct msghdr *msg, int flags); */
static inline long sys_recvmsg(int fd, void *msg, int flags) { return SC3(__NR_recvmsg, fd, msg, flags); }
/* int shutdown(int fd, int how); */
static inline long sys_shutdown(int fd, int how) { return SC2(__NR_shutdown, fd, how); }
/* pid_t gettid(void); */
static inline long sys_gettid(void) { return SC0(__NR_gettid); }

#endif
