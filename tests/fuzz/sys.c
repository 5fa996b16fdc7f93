/* sys.c -- the restorer's raw system calls, hosted, for the fuzz target.
 *
 * The restorer's C code calls ckpt_raw_syscall() (asm/syscall.asm) for every
 * system call.  Here it is C: the calls the checks before the point of no
 * return make are passed on (reads and writes through libc, so that ASan sees
 * the buffers), paths are kept inside the sandbox, and what must never happen
 * there is an oracle finding:
 *   - any system call not on the list below (a check that changes the process),
 *   - an open that would block on a FIFO (fifo-block),
 *   - a write into a file that existed before (write-existing),
 * Every descriptor, mapping and protection key it hands out is taken back by
 * fz_reset() after each input.  The linker symbols of linker.ld.in and the asm
 * entry points the checks never reach are defined here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "ckpt_layout.h"
#include "fuzz.h"

/* the linker script's zone symbols, from the same numbers (include/ckpt_layout.h) */
#define STR_(x) #x
#define STR(x) STR_(x)
__asm__(".globl rst_zone_start\n .set rst_zone_start, " STR(CKPT_ZONE_START) "\n"
	".globl rst_zone_end\n .set rst_zone_end, " STR(CKPT_ZONE_END) "\n"
	".globl rst_tables_addr\n .set rst_tables_addr, " STR(CKPT_ZONE_TABLES) "\n"
	".globl rst_park_addr\n .set rst_park_addr, " STR(CKPT_ZONE_PARK) "\n");

void rst_jump(const void *regs, const void *fpu, uint64_t xmask, unsigned flags)
{
	fz_found("jump", "rst_jump reached from the checks");
	abort();
}

long sys_clone3_on_stack(const void *args, uint64_t size, void (*fn)(void *), void *arg)
{
	fz_found("jump", "sys_clone3_on_stack reached from the checks");
	abort();
}

size_t rst_strlen(const char *s)
{
	return strlen(s);
}

int rst_streq(const char *a, const char *b)
{
	return !strcmp(a, b);
}

int fz_root = -1;
const char *const fz_fixture[FZ_FIXTURES] = { "lib", "data", "dir", "fifo", "tmp" };
uint64_t fz_fixture_ino[FZ_FIXTURES], fz_fixture_dev[FZ_FIXTURES];
static char root_path[256];
static char maps_copy[64];		/* /proc/self/fd/N of a copy of /proc/self/maps */

#define MAX_FD (1 << 20)
static uint8_t fd_mine[MAX_FD / 8];	/* handed out during this input */
static uint8_t fd_tmpfile[MAX_FD / 8];	/* O_TMPFILE files: their /proc/self/fd link may be opened */
static struct map { uint64_t addr, len; } maps[300];
static struct map kept;			/* the last input's tables, unmapped lazily */
static unsigned nmaps;
static uint32_t pkeys;
static char out[8192];
static size_t out_len;

static void bit_set(uint8_t *m, long fd, int on)
{
	if (fd >= 0 && fd < MAX_FD) {
		if (on)
			m[fd / 8] |= 1 << (fd % 8);
		else
			m[fd / 8] &= ~(1 << (fd % 8));
	}
}

static int bit(const uint8_t *m, long fd)
{
	return fd >= 0 && fd < MAX_FD && (m[fd / 8] >> (fd % 8) & 1);
}

static long fd_top;			/* above every fd in fd_mine */

static long mine(long r)
{
	if (r >= 0)
		bit_set(fd_mine, r, 1);
	if (r >= fd_top)
		fd_top = r + 1;
	return r;
}

static long ret(long r)
{
	return r < 0 ? -errno : r;
}

static void remove_root(void)
{
	char cmd[300];

	if (root_path[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root_path) < (int)sizeof(cmd) &&
	    system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", root_path);
}

/* The kernel writes this process's 200-odd mappings as text for each read of
 * /proc/self/maps: a copy taken now serves rst_find_specials() instead (the
 * vDSO does not move).  A placeholder page just below rst_tables_addr (where
 * the restorer's own bss would be) keeps the page table there, which the
 * tables' mapping would otherwise make and free at each input. */
static void snapshot_maps(void)
{
	char buf[1 << 16];
	int in = open("/proc/self/maps", O_RDONLY), fd = memfd_create("maps", 0);
	ssize_t n;

	if (in < 0 || fd < 0)
		exit(1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			exit(1);
	close(in);
	snprintf(maps_copy, sizeof(maps_copy), "/proc/self/fd/%d", fd);
	if (mmap((void *)(CKPT_ZONE_TABLES - 4096), 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0) == MAP_FAILED)
		exit(1);
}

void fz_sandbox_init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char lib[65536];
	int fd;

	snprintf(root_path, sizeof(root_path), "%s/ckpt-fuzz.XXXXXX", base);
	if (!mkdtemp(root_path) || chdir(root_path) || (fz_root = open(root_path, O_PATH | O_DIRECTORY)) < 0) {
		perror("fuzz: sandbox");
		exit(1);
	}
	atexit(remove_root);
	memset(lib, 0x90, sizeof(lib));
	fd = open("lib", O_CREAT | O_WRONLY, 0755);
	if (fd < 0 || write(fd, lib, sizeof(lib)) != sizeof(lib) || ftruncate(fd, 16 << 20) || close(fd))	/* as long as the seeds' libraries */
		exit(1);
	fd = open("data", O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "precious\n", 9) != 9 || close(fd))
		exit(1);
	if (mkdir("dir", 0755) || mkfifo("fifo", 0600) || mkdir("tmp", 0700))
		exit(1);
	snapshot_maps();
	for (int i = 0; i < FZ_FIXTURES; i++) {
		struct stat st;

		if (stat(fz_fixture[i], &st))
			exit(1);
		fz_fixture_ino[i] = st.st_ino;
		fz_fixture_dev[i] = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
	}
}

/* /proc/self/fd/N of a descriptor opened in the sandbox during this input (an
 * O_TMPFILE file, or the O_PATH handle the restorer pins a path with before it
 * opens it for real): N, or -1 */
static long link_to_mine(const char *path)
{
	char *end;
	long n;

	if (strncmp(path, "/proc/self/fd/", 14) || !path[14])
		return -1;
	n = strtol(path + 14, &end, 10);
	return !*end && n >= 0 && n < MAX_FD && (bit(fd_tmpfile, n) || bit(fd_mine, n)) ? n : -1;
}

/* would opening this FIFO with these flags wait for the other end? */
static int blocks(const struct stat *st, long flags)
{
	return S_ISFIFO(st->st_mode) && !(flags & (O_NONBLOCK | O_PATH)) && (flags & O_ACCMODE) != O_RDWR;
}

static long sandbox_open(const char *path, long flags, long mode)
{
	struct open_how how = { .flags = (uint64_t)flags, .resolve = RESOLVE_IN_ROOT };
	struct stat st;
	long fd, n;

	if (!strcmp(path, "/proc/self/maps"))
		return mine(ret(open(maps_copy, (int)flags, (int)mode)));
	if (!strcmp(path, "/dev/ptmx") && !(flags & O_CREAT))	/* a new pty pair: nothing else changes */
		return mine(ret(open(path, (int)flags, (int)mode)));
	if ((n = link_to_mine(path)) >= 0) {
		if (!fstat((int)n, &st) && blocks(&st, flags)) {
			fz_found("fifo-block", "open(%s, 0%lo) of a FIFO would block", path, flags);
			return -ENXIO;
		}
		return mine(ret(open(path, (int)flags, (int)mode)));
	}
	if (flags & O_CREAT)
		fz_found("creat", "open(%s) with O_CREAT before the point of no return", path);
	how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? (uint64_t)(mode & 07777) : 0;
	/* a FIFO opened without O_NONBLOCK for reading or writing only waits for
	 * the other end: the restorer would hang before it changed anything */
	if (!fstatat(fz_root, path[0] == '/' ? path + 1 : path, &st, 0) && blocks(&st, flags)) {
		fz_found("fifo-block", "open(%s, 0%lo) of a FIFO would block", path, flags);
		return -ENXIO;
	}
	fd = syscall(SYS_openat2, fz_root, path, &how, sizeof(how));
	fd = mine(ret(fd));
	if (fd >= 0 && (flags & __O_TMPFILE) == __O_TMPFILE)
		bit_set(fd_tmpfile, fd, 1);
	return fd;
}

static long sandbox_stat(const char *path, void *st, int nofollow)
{
	struct open_how how = { .flags = O_PATH | (nofollow ? O_NOFOLLOW : 0), .resolve = RESOLVE_IN_ROOT };
	long fd = syscall(SYS_openat2, fz_root, path, &how, sizeof(how)), r;

	if (fd < 0)
		return -errno;
	r = ret(syscall(SYS_fstat, fd, st));
	close((int)fd);
	return r;
}

/* fds 1 and 2 go to a buffer: the target checks every line there */
static long output(long fd, const char *buf, size_t n)
{
	if (n > sizeof(out) - 1 - out_len)
		n = sizeof(out) - 1 - out_len;
	memcpy(out + out_len, buf, n);
	out_len += n;
	out[out_len] = 0;
	return (long)n;
}

static long write_to(long fd, const void *buf, size_t n)
{
	struct stat st;

	if (fd == 1 || fd == 2)
		return output(fd, buf, n);
	if (!fstat((int)fd, &st) && S_ISREG(st.st_mode))
		for (int i = 0; i < FZ_FIXTURES; i++)
			if (st.st_ino == fz_fixture_ino[i]) {
				fz_found("write-existing", "write of %zu bytes into the existing file %s", n,
					 fz_fixture[i]);
				return -EPERM;
			}
	return ret(write((int)fd, buf, n));
}

long ckpt_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long r;

	switch (nr) {
	case SYS_read:
		return ret(read((int)a1, (void *)a2, (size_t)a3));
	case SYS_pread64:
		return ret(pread((int)a1, (void *)a2, (size_t)a3, (off_t)a4));
	case SYS_write:
		return write_to(a1, (const void *)a2, (size_t)a3);
	case SYS_openat:
		if (a1 != AT_FDCWD)
			break;
		return sandbox_open((const char *)a2, a3, a4);
	case SYS_newfstatat:
		if (a1 != AT_FDCWD || (a4 & ~AT_SYMLINK_NOFOLLOW))
			break;
		return sandbox_stat((const char *)a2, (void *)a3, a4 == AT_SYMLINK_NOFOLLOW);
	case SYS_close:
		bit_set(fd_mine, a1, 0);
		bit_set(fd_tmpfile, a1, 0);
		return ret(close((int)a1));
	case SYS_mmap:
		if (!(a4 & MAP_ANONYMOUS) || nmaps == sizeof(maps) / sizeof(maps[0]))
			break;
		if (a1 && a1 == (long)kept.addr && a2 == (long)kept.len) {	/* zeroed, as a fresh one */
			memset((void *)a1, 0, (size_t)a2);
			kept.addr = 0;
			r = a1;
		} else {
			if (kept.addr)
				munmap((void *)kept.addr, kept.len);
			kept.addr = 0;
			r = ret(syscall(SYS_mmap, a1, a2, a3, a4, a5, a6));
		}
		if ((unsigned long)r < -4095UL) {
			maps[nmaps].addr = (uint64_t)r;
			maps[nmaps++].len = (uint64_t)a2;
		}
		return r;
	case SYS_prlimit64:
		if (a1 != 0 || a3 != 0)
			break;			/* reading this process's limits only */
		return ret(syscall(nr, a1, a2, a3, a4));
	case SYS_pkey_alloc:
		r = ret(syscall(nr, a1, a2));
		if (r > 0 && r < 32)
			pkeys |= 1u << r;
		return r;
	case SYS_pkey_free:
		pkeys &= ~(1u << (a1 & 31));
		return ret(syscall(nr, a1));
	case SYS_fcntl:
		r = ret(syscall(nr, a1, a2, a3));
		if (a2 == F_DUPFD_CLOEXEC || a2 == F_DUPFD)
			mine(r);
		return r;
	case SYS_pipe2:
		r = ret(syscall(nr, a1, a2));
		if (!r) {
			mine(((int *)a1)[0]);
			mine(((int *)a1)[1]);
		}
		return r;
	case SYS_eventfd2: case SYS_timerfd_create: case SYS_signalfd4: case SYS_epoll_create1:
	case SYS_memfd_create: case SYS_inotify_init1: case SYS_fanotify_init:
	case SYS_userfaultfd:		/* the program's, made again (nothing registered yet) */
		return mine(ret(syscall(nr, a1, a2, a3, a4)));
	case SYS_pidfd_open:		/* a pidfd of the restored process itself */
		if (a1 != getpid())
			break;
		return mine(ret(syscall(nr, a1, a2, a3, a4)));
	case SYS_fstat: case SYS_lseek: case SYS_ftruncate: case SYS_timerfd_settime: case SYS_getpid:
		return ret(syscall(nr, a1, a2, a3, a4));
	case SYS_fchmod:		/* a memfd's mode, on a memfd made here */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1))
			break;
		return ret(syscall(nr, a1, a2));
	case SYS_utimensat:		/* futimens: a FIFO's times, on one opened here */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1) || a2 != 0)
			break;
		return ret(syscall(nr, a1, a2, a3, a4));
	case SYS_socket:		/* a socket of the image's, made again */
		return mine(ret(syscall(nr, a1, a2, a3)));
	case SYS_socketpair:		/* a TCP connection, back as closed */
		r = ret(syscall(nr, a1, a2, a3, a4));
		if (!r) {
			mine(((int *)a4)[0]);
			mine(((int *)a4)[1]);
		}
		return r;
	case SYS_setsockopt: case SYS_listen: case SYS_getsockopt: case SYS_connect: case SYS_sendto:
		/* TCP_REPAIR: a connection made again; a datagram queue refilled (sendto's sixth
		 * argument: the address length) */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1))
			break;
		return ret(syscall(nr, a1, a2, a3, a4, a5, a6));
	case SYS_recvfrom:		/* a peek at a datagram socket's queue, refilled here */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1) || !(a4 & MSG_PEEK))
			break;
		return ret(syscall(nr, a1, a2, a3, a4, a5, a6));
	case SYS_bind:			/* an IP address: for real; a UNIX path: no file made */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1))
			break;
		if (*(const unsigned short *)a2 == AF_UNIX)
			return -EACCES;
		return ret(syscall(nr, a1, a2, a3));
	case SYS_fanotify_mark:		/* a mark on a fanotify instance made here: no file changes; its
					 * path found in the sandbox, marked through a descriptor of it
					 * (fanotify takes no O_PATH one) */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1) || a4 != AT_FDCWD || !a5)
			break;
		{
			struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC |
							 (a2 & 0x4 /* DONT_FOLLOW */ ? O_NOFOLLOW : 0),
						.resolve = RESOLVE_IN_ROOT };
			long at = syscall(SYS_openat2, fz_root, (const char *)a5, &how, sizeof(how));

			if (at < 0)
				return -errno;
			r = ret(syscall(nr, a1, a2, a3, at, 0));
			close((int)at);
			return r;
		}
	case SYS_shutdown:		/* a socket pair's end, shut as it was */
	case SYS_flock:			/* an flock lock of the image's, on a descriptor made here */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1))
			break;
		return ret(syscall(nr, a1, a2));
	case SYS_ioctl:			/* on a descriptor made here: TFD_IOC_SET_TICKS on a timerfd,
					 * INOTIFY_IOC_SETNEXTWD on an inotify descriptor, UFFDIO_API
					 * on a userfaultfd; on a new
					 * pty master TIOCSPTLCK, TIOCPKT, TCSETS2, TIOCSWINSZ and
					 * TIOCGPTN, and TIOCGPTPEER, which opens its slave */
		if (a1 < 0 || a1 >= MAX_FD || !bit(fd_mine, a1))
			break;
		if (a2 == 0x5441)
			return mine(ret(syscall(nr, a1, a2, a3)));
		if (a2 != 0x40085400 && a2 != 0x40044900 && a2 != 0x40045431 && a2 != 0x5420 && a2 != 0x402c542b &&
		    a2 != 0x5414 && a2 != 0x80045430 && a2 != 0xc018aa3f)
			break;
		return ret(syscall(nr, a1, a2, a3));
	}
	fz_found("syscall", "system call %ld (%lx, %lx, %lx) before the point of no return", nr, a1, a2, a3);
	abort();
}

void fz_reset(void)
{
	for (long fd = 0; fd < fd_top && fd < MAX_FD; fd += 8) {
		if (!fd_mine[fd / 8])
			continue;
		for (long k = fd; k < fd + 8; k++)
			if (bit(fd_mine, k))
				close((int)k);
		fd_mine[fd / 8] = fd_tmpfile[fd / 8] = 0;
	}
	fd_top = 0;
	for (unsigned i = 0; i < nmaps; i++) {
		if (i == 0 && maps[0].len <= (1 << 20)) {
			kept = maps[0];		/* the image's tables: most likely the next one's size */
			continue;
		}
		munmap((void *)maps[i].addr, maps[i].len);
	}
	nmaps = 0;
	for (int k = 1; k < 32; k++)
		if (pkeys & (1u << k))
			syscall(SYS_pkey_free, k);
	pkeys = 0;
	out_len = 0;
	out[0] = 0;
}

const char *fz_output(void)
{
	return out;
}
