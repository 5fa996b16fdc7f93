/* api.c -- user-directed checkpoints: tsetjmp/tlongjmp, persist, cache,
 * chkpt_status, chkpt_history (include/ckpt.h).
 *
 * tsetjmp writes an ordinary image (the same writer as the signal trigger) to
 * <store>/<program>.<pid>.<n>, or into a memfd with CKPT_STORE=memory (and
 * always in a privileged program).
 * tlongjmp maps the restorer binary into this process at its fixed zone and
 * starts it on a made-up initial stack with --in-process=FD,ADDR: it runs the
 * same checks and the same rebuild as `./restorer IMAGE`, leaves the
 * descriptor table alone (regular files go back to their saved offsets), and
 * ends in the image's registers inside tsetjmp, which returns n again.  When
 * it refuses the image before changing anything it jumps back here instead
 * (struct ckpt_bail), and tlongjmp returns -1.
 *
 * What must outlive a roll-back (how many checkpoints exist, the jump history,
 * persist()ed bytes, the cache store's descriptor) travels in a memfd: the
 * descriptor table is the one thing a roll-back does not replace.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "cap.h"
#include "ckpt.h"
#include "ckpt_layout.h"

#define CKPT_API __attribute__((visibility("default")))

#define MAX_CKPTS	1024
#define MAX_PERSIST	64
#define MAX_JUMPS	64
#define MAX_CACHE	64
#define REG_MAGIC	0x47455254504b43ull	/* "CKPTREG" */

void ckpt_enter_restorer(uint64_t entry, uint64_t sp) __attribute__((noreturn));

/* Everything that must survive a roll-back. */
struct registry {
	uint64_t magic;
	int32_t numchkpts;		/* tsetjmp calls that made an image */
	int32_t current;		/* the state the process is in: 0, then n of tsetjmp/tlongjmp */
	int32_t recovered, from_state, to_state, last_signal;
	int32_t cache_fd;		/* memfd holding cache() data, or -1 */
	uint32_t njumps;		/* all jumps made; the last MAX_JUMPS are kept */
	struct ckpt_jump jumps[MAX_JUMPS];
	uint32_t npersist;
	struct { uint64_t addr, size; } persist[MAX_PERSIST];
	int32_t pid[MAX_CKPTS + 1];	/* pid in image n's name */
	int32_t memfd[MAX_CKPTS + 1];	/* CKPT_STORE=memory: image n, or -1 */
};

static struct registry reg;
static char store_dir[4096] CAP_COLD;
static int store_memory;
static struct ckpt_bail bail;
static uint8_t bail_fpu[CKPT_XSAVE_MAX] CAP_COLD __attribute__((aligned(64)));
static uint64_t fake_stack[64] __attribute__((aligned(16)));
static char arg_in[64];
static char arg_path[4200] CAP_COLD;

static void reg_init(void)
{
	if (reg.magic == REG_MAGIC)
		return;
	memset(&reg, 0, sizeof(reg));
	reg.magic = REG_MAGIC;
	reg.cache_fd = -1;
	for (int i = 0; i <= MAX_CKPTS; i++)
		reg.memfd[i] = -1;
}

static int fd_is_ours(int fd)
{
	if (reg.magic != REG_MAGIC || fd < 0)
		return 0;
	if (fd == reg.cache_fd)
		return 1;
	for (int i = 1; i <= reg.numchkpts; i++)
		if (reg.memfd[i] == fd)
			return 1;
	return 0;
}

/* Is dir a directory only the effective user can enter: not a symlink (lstat),
 * owned by the euid, no group or other bits?  0, or -13 with what it is in why. */
static int not_private(const char *dir, char *why, size_t cap)
{
	struct ksys_stat st;
	long r = SC4(__NR_newfstatat, AT_FDCWD, dir, &st, 0x100 /* AT_SYMLINK_NOFOLLOW */);

	if (sys_failed(r))
		snprintf(why, cap, "errno %d", (int)-r);
	else if ((st.st_mode & S_IFMT) != S_IFDIR)
		snprintf(why, cap, "%s", (st.st_mode & S_IFMT) == 0120000 /* S_IFLNK */ ? "a symlink" : "not a directory");
	else if (st.st_uid != geteuid() || (st.st_mode & 077))
		snprintf(why, cap, "owner %u, mode %04o", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		return 0;
	return -13;
}

/* The default store: $XDG_RUNTIME_DIR/ckpt when that directory is ours, else
 * ${TMPDIR:-/tmp}/ckpt-<euid>, made 0700 if missing (in a privileged program
 * the environment is not read: /tmp/ckpt-<euid>).  An image holds the
 * memory: when the directory is there but not private (another user made it
 * first, a symlink, group or other bits), a fresh one from mkdtemp beside it
 * serves this process instead, and one line says so; nothing is written
 * through a directory someone else controls. */
static int private_store(char *out, size_t cap)
{
	const char *run = cap_env("XDG_RUNTIME_DIR"), *tmp = cap_env("TMPDIR");
	unsigned me = (unsigned)geteuid();
	char why[64], fresh[4096];
	struct ksys_stat st;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (run && *run && !sys_stat(run, &st) && st.st_uid == me)
		snprintf(out, cap, "%s/ckpt", run);
	else
		snprintf(out, cap, "%s/ckpt-%u", tmp, me);
	SC2(__NR_mkdir, out, 0700);
	if (!not_private(out, why, sizeof(why)))
		return 0;
	snprintf(fresh, sizeof(fresh), "%s/ckpt-%u.XXXXXX", tmp, me);
	if (!mkdtemp(fresh)) {
		cap_say("%s is not a private directory of uid %u (%s), and mkdtemp %s: %s: no images",
			out, me, why, fresh, strerror(errno));
		return -13;
	}
	cap_say("%s is not a private directory of uid %u (%s): this process keeps its images in %s; "
		"remove it%s to fix that", out, me, why, fresh, ckpt_cfg.secure ? "" : " (or set CKPT_DIR)");
	snprintf(out, cap, "%s", fresh);
	return 0;
}

/* The store: CKPT_DIR as given, or memory (CKPT_STORE=memory, and always in
 * a privileged program: no file the user who started it could read, replace
 * or point elsewhere), or the default private directory. */
static int store_init(void)
{
	const char *dir = cap_env("CKPT_DIR"), *kind = cap_env("CKPT_STORE");
	long fd;

	if (store_dir[0] || store_memory)
		return 0;
	if (ckpt_cfg.secure || (kind && !strcmp(kind, "memory"))) {
		store_memory = 1;
		return 0;
	}
	if (dir && *dir) {
		snprintf(store_dir, sizeof(store_dir), "%s", dir);
		fd = sys_open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (sys_failed(fd)) {
			cap_say("CKPT_DIR=%s: errno %d", dir, (int)-fd);
			store_dir[0] = 0;
			return (int)fd;
		}
		sys_close((int)fd);
		return 0;
	}
	if (private_store(store_dir, sizeof(store_dir))) {
		store_dir[0] = 0;
		return -13;
	}
	return 0;
}

/* ckpt_checkpoint() in a privileged program: <private store>/<program>.<pid>.myckpt,
 * owned by the effective uid.  Refused (EPERM) when that is the real uid
 * (setgid, file capabilities): the image would belong to the user who
 * started the program, and with it memory the kernel keeps from them. */
static int cap_private_image(char *out, size_t cap)
{
	static char dir[4096] CAP_COLD;
	static int told;
	char comm[17] = { 0 };

	if (geteuid() == getuid()) {
		if (!told++)
			cap_say("ckpt_checkpoint: a setgid or file-capability program: its image would "
				"belong to the user who started it: refused");
		return -1;			/* EPERM */
	}
	if (!dir[0] && private_store(dir, sizeof(dir))) {
		dir[0] = 0;
		return -13;
	}
	sys_prctl(PR_GET_NAME, (uint64_t)comm, 0, 0, 0);
	snprintf(out, cap, "%s/%s.%d.myckpt", dir, comm, (int)getpid());
	return 0;
}

static void image_path(int n, char *buf, size_t cap)
{
	char comm[17] = { 0 };

	if (reg.memfd[n] >= 0) {
		snprintf(buf, cap, "/proc/self/fd/%d", reg.memfd[n]);
		return;
	}
	sys_prctl(PR_GET_NAME, (uint64_t)comm, 0, 0, 0);
	snprintf(buf, cap, "%s/%s.%d.%d", store_dir, comm, reg.pid[n], n);
}

CKPT_API int tsetjmp(void)
{
	char path[4200];
	int n, prev, r, fd = -1;

	reg_init();
	cap_wait_writer();		/* an image being written in place */
	if (cap_count_threads() > 1) {	/* a roll-back of several threads is not safe here */
		errno = ENOTSUP;
		return -1;
	}
	if ((r = store_init())) {
		errno = -r;
		return -1;
	}
	n = reg.numchkpts + 1;
	if (n > MAX_CKPTS) {
		errno = ENOSPC;
		return -1;
	}
	if (store_memory) {
		char name[64];

		snprintf(name, sizeof(name), "ckpt:%d.%d", (int)getpid(), n);
		fd = (int)sys_memfd_create(name, 1 /* MFD_CLOEXEC */);
		if (fd < 0) {
			errno = -fd;
			return -1;
		}
	}
	/* the image records itself as checkpoint n, the state the process is in */
	prev = reg.current;
	reg.numchkpts = n;
	reg.current = n;
	reg.pid[n] = (int)getpid();
	reg.memfd[n] = fd;
	image_path(n, path, sizeof(path));
	r = cap_take_to(path, fd);
	if (r < 0) {
		reg.numchkpts = n - 1;
		reg.current = prev;
		reg.memfd[n] = -1;
		if (fd >= 0)
			sys_close(fd);
		errno = -r;
		return -1;
	}
	return n;			/* after the write, and again after a roll-back */
}

/* The signal being handled when tlongjmp is called from a handler: a signal
 * blocked now that has a handler, a synchronous one first; 0 if none. */
static int handled_signal(void)
{
	static const int sync[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP };
	uint64_t blocked = 0;
	struct ckpt_sigaction sa;

	sys_rt_sigprocmask(SIG_BLOCK, 0, &blocked);
	for (size_t i = 0; i < sizeof(sync) / sizeof(sync[0]); i++)
		if ((blocked >> (sync[i] - 1) & 1) && !sys_rt_sigaction(sync[i], 0, &sa) && sa.handler > 1)
			return sync[i];
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (s != ckpt_cfg.sig && (blocked >> (s - 1) & 1) && !sys_rt_sigaction(s, 0, &sa) && sa.handler > 1)
			return s;
	return 0;
}

/* where the restorer binary is: $CKPT_RESTORER, beside libckpt.so (build
 * tree), or ../bin/restorer (installed: lib/libckpt.so, bin/restorer); in a
 * privileged program never from the environment */
static int find_restorer(char *out, size_t cap)
{
	const char *env = cap_env("CKPT_RESTORER");
	Dl_info info;
	char dir[3900], *slash;

	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return access(out, X_OK);
	}
	if (!dladdr((void *)tsetjmp, &info) || !info.dli_fname)
		return -1;
	snprintf(dir, sizeof(dir), "%s", info.dli_fname);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		*slash = 0;
	snprintf(out, cap, "%s/restorer", dir);
	if (!access(out, X_OK))
		return 0;
	snprintf(out, cap, "%s/../bin/restorer", dir);
	return access(out, X_OK);
}

/* Map the restorer's PT_LOAD segments at their fixed addresses (its zone must
 * be free).  Returns its entry point, or 0 with errno set. */
static uint64_t load_restorer(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[16];
	struct ksys_stat st;
	long fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	int err = ENOEXEC;

	if (sys_failed(fd)) {
		errno = ENOEXEC;
		return 0;
	}
	/* a privileged program runs it with its rights: only a file that
	 * nobody but root or its own euid can have written */
	if (ckpt_cfg.secure && (sys_fstat((int)fd, &st) || (st.st_uid && st.st_uid != geteuid()) ||
				(st.st_mode & 022))) {
		cap_say("tlongjmp: %s may be written by others than root or uid %u: not run in a "
			"privileged program", path, (unsigned)geteuid());
		err = EPERM;
		goto fail;
	}
	if (sys_pread((int)fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC || eh.e_phnum > 16 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    sys_pread((int)fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff) != (long)(eh.e_phnum * sizeof(Elf64_Phdr)))
		goto fail;
	for (int i = 0; i < eh.e_phnum; i++) {
		uint64_t va, end_file, end_mem;
		int prot;
		long r;

		if (ph[i].p_type != PT_LOAD)
			continue;
		va = ph[i].p_vaddr & ~0xfffull;
		end_file = ph[i].p_vaddr + ph[i].p_filesz;
		end_mem = (ph[i].p_vaddr + ph[i].p_memsz + 0xfff) & ~0xfffull;
		if (va < CKPT_ZONE_START || end_mem > CKPT_ZONE_START + CKPT_ZONE_SIZE)
			goto fail;
		prot = (ph[i].p_flags & PF_R ? PROT_READ : 0) | (ph[i].p_flags & PF_W ? PROT_WRITE : 0) |
		       (ph[i].p_flags & PF_X ? PROT_EXEC : 0);
		if (ph[i].p_filesz) {
			r = sys_mmap(va, end_file - va, prot, MAP_PRIVATE | MAP_FIXED_NOREPLACE, (int)fd,
				     ph[i].p_offset & ~0xfffull);
			if (r != (long)va) {
				err = r == -17 ? EBUSY : ENOMEM;
				goto fail;
			}
			if ((prot & PROT_WRITE) && (end_file & 0xfff))
				memset((void *)end_file, 0, 0x1000 - (end_file & 0xfff));	/* .bss start */
		}
		va = ph[i].p_filesz ? (end_file + 0xfff) & ~0xfffull : va;
		if (end_mem > va) {
			r = sys_mmap(va, end_mem - va, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (r != (long)va) {
				err = r == -17 ? EBUSY : ENOMEM;
				goto fail;
			}
		}
	}
	sys_close((int)fd);
	return eh.e_entry;
fail:
	sys_close((int)fd);
	sys_munmap(CKPT_ZONE_START, CKPT_ZONE_SIZE);
	errno = err;
	return 0;
}

/* The persist()ed bytes, region after region behind the registry in the
 * carry memfd: into it (to_carry) before a jump, back out after it.  Through
 * /proc/self/mem, so a region that is not mapped (now, or in the state rolled
 * back to) is skipped rather than faulted on: what is there stays. */
static void copy_persisted(int carry, int to_carry)
{
	static char buf[1 << 16] CAP_COLD;
	uint64_t base = sizeof(struct registry);
	long mem = sys_open("/proc/self/mem", (to_carry ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);

	for (uint32_t i = 0; i < reg.npersist && !sys_failed(mem); i++) {
		uint64_t a = reg.persist[i].addr, off = base, left = reg.persist[i].size;

		while (left) {
			uint64_t chunk = left > sizeof(buf) ? sizeof(buf) : left;
			long n = to_carry ? sys_pread((int)mem, buf, chunk, (int64_t)a)
					  : sys_pread(carry, buf, chunk, (int64_t)off);

			if (n <= 0 || (to_carry ? sys_pwrite(carry, buf, n, (int64_t)off)
						: sys_pwrite((int)mem, buf, n, (int64_t)a)) != n)
				break;
			a += n, off += n, left -= n;
		}
		base += reg.persist[i].size;
	}
	if (!sys_failed(mem))
		sys_close((int)mem);
}

/* the registry as it will be after the jump, then the persist()ed bytes */
static int write_carry(int d, int sig)
{
	struct registry next = reg;
	long fd = sys_memfd_create("ckpt:carry", 1 /* MFD_CLOEXEC */);
	struct ckpt_jump *j = &next.jumps[next.njumps % MAX_JUMPS];
	struct ksys_timespec now;

	if (sys_failed(fd))
		return (int)fd;
	sys_clock_gettime(0, &now);
	j->from = reg.current;
	j->to = d;
	j->signal = sig;
	j->time_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	next.njumps++;
	next.recovered = 1;
	next.from_state = reg.current;
	next.to_state = d;
	next.last_signal = sig;
	next.current = d;
	if (sys_pwrite((int)fd, &next, sizeof(next), 0) != sizeof(next))
		goto fail;
	copy_persisted((int)fd, 1);
	return (int)fd;
fail:
	sys_close((int)fd);
	return -5;
}

/* In the process rolled back: take the registry and persist()ed bytes over. */
static void after_rollback(int carry_fd)
{

	if (carry_fd < 0 || sys_pread(carry_fd, &reg, sizeof(reg), 0) != sizeof(reg))
		return;
	copy_persisted(carry_fd, 0);
	sys_close(carry_fd);
}

/* In a fresh process (./restorer): the memory store's descriptors did not come along. */
static void after_fresh_restore(void)
{
	if (reg.magic != REG_MAGIC)
		return;
	reg.cache_fd = -1;
	for (int i = 0; i <= MAX_CKPTS; i++)
		reg.memfd[i] = -1;
}

/* (declared in include/ckpt.h; the trigger and ckpt_restore_count are in preload.c) */
CKPT_API int ckpt_checkpoint(void)
{
	int r;

	if (ckpt_cfg.secure && (r = cap_private_image(ckpt_cfg.path, sizeof(ckpt_cfg.path)))) {
		errno = -r;
		return -1;
	}
	if (!ckpt_cfg.path[0]) {
		errno = EINVAL;
		return -1;
	}
	r = cap_take_to(ckpt_cfg.path, -1);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* the way lower floors reach the API's state (capture/config.c) */
__attribute__((constructor)) static void register_hooks(void)
{
	cap_hooks.after_rollback = after_rollback;
	cap_hooks.after_fresh_restore = after_fresh_restore;
	cap_hooks.fd_is_ours = fd_is_ours;
}

CKPT_API int tlongjmp(int d)
{
	static const uint64_t all = ~0ull;
	char restorer[4096], path[4200];
	struct ksys_stat st;
	uint64_t entry, old_mask, *sp, rseq_addr;
	uint32_t rseq_len;
	int carry, sig, r;

	reg_init();
	cap_wait_writer();
	if (cap_count_threads() > 1) {
		errno = ENOTSUP;
		return -1;
	}
	if (d == 0)
		d = reg.numchkpts;
	if (d < 1 || d > reg.numchkpts) {
		errno = EINVAL;
		return -1;
	}
	image_path(d, path, sizeof(path));
	if (sys_stat(path, &st) || (st.st_mode & S_IFMT) != S_IFREG) {
		errno = ENOENT;
		return -1;
	}
	if (find_restorer(restorer, sizeof(restorer))) {
		cap_say("tlongjmp: no restorer binary (set CKPT_RESTORER)");
		errno = ENOEXEC;
		return -1;
	}
	sig = handled_signal();
	entry = load_restorer(restorer);
	if (!entry)
		return -1;
	carry = write_carry(d, sig);
	if (carry < 0) {
		sys_munmap(CKPT_ZONE_START, CKPT_ZONE_SIZE);
		errno = -carry;
		return -1;
	}

	/* the stack the restorer's _start expects: argc, argv, envp, auxv */
	snprintf(arg_in, sizeof(arg_in), "--in-process=%d,%lx", carry, (unsigned long)&bail);
	snprintf(arg_path, sizeof(arg_path), "%s", path);
	sp = fake_stack;
	*sp++ = 4;
	*sp++ = (uint64_t)"restorer";
	*sp++ = (uint64_t)arg_in;
	*sp++ = (uint64_t)"--";
	*sp++ = (uint64_t)arg_path;
	*sp++ = 0;			/* end of argv */
	*sp++ = 0;			/* empty envp */
	*sp++ = AT_HWCAP2;
	*sp++ = ckpt_cfg.hwcap2;
	*sp++ = AT_NULL;
	*sp++ = 0;

	sys_rt_sigprocmask(SIG_BLOCK, &all, &old_mask);
	/* The kernel writes this thread's rseq area (in glibc's TCB) on its way
	 * back to user space: once the restorer unmaps it, that write would kill
	 * us.  The restorer registers the image's area again. */
	cap_rseq_probe(&rseq_addr, &rseq_len);
	if (rseq_len)
		sys_rseq(rseq_addr, rseq_len, CKPT_RSEQ_UNREGISTER, CKPT_RSEQ_SIG);
	bail.fpu = (uint64_t)bail_fpu;
	bail.xfeatures = ckpt_cfg.xcr0;
	bail.flags = ckpt_cfg.ctx_flags;
	r = ckpt_save_context(&bail.regs, bail_fpu, ckpt_cfg.ctx_flags);
	if (r == 0)
		ckpt_enter_restorer(entry, (uint64_t)fake_stack);
	/* the restorer refused the image (its reason is on stderr) and came back */
	if (rseq_len)
		sys_rseq(rseq_addr, rseq_len, 0, CKPT_RSEQ_SIG);
	sys_munmap(CKPT_ZONE_START, CKPT_ZONE_SIZE);
	sys_close(carry);
	sys_rt_sigprocmask(SIG_SETMASK, &old_mask, 0);
	errno = EINVAL;
	return -1;
}

CKPT_API int persist(void *addr, size_t size)
{
	reg_init();
	if (!addr || !size || (uint64_t)addr + size < (uint64_t)addr) {
		errno = EINVAL;
		return -1;
	}
	for (uint32_t i = 0; i < reg.npersist; i++)
		if (reg.persist[i].addr == (uint64_t)addr) {
			reg.persist[i].size = size;
			return 0;
		}
	if (reg.npersist >= MAX_PERSIST) {
		errno = ENOMEM;
		return -1;
	}
	reg.persist[reg.npersist].addr = (uint64_t)addr;
	reg.persist[reg.npersist].size = size;
	reg.npersist++;
	return 0;
}

/* The cache store: a memfd (no roll-back replaces a descriptor) holding a
 * table of MAX_CACHE {addr, size, off} entries, then the data. */
struct cache_entry { uint64_t addr, size, off; };

CKPT_API int cache(int dir, void *addr, size_t size)
{
	struct cache_entry tab[MAX_CACHE], *e = 0;
	struct ksys_stat st;
	uint64_t end;
	long n;

	reg_init();
	if (!addr || !size || (dir != CKPT_CACHE_OUT && dir != CKPT_CACHE_IN)) {
		errno = EINVAL;
		return -1;
	}
	if (reg.cache_fd < 0) {
		if (dir == CKPT_CACHE_IN) {
			errno = ENOENT;
			return -1;
		}
		reg.cache_fd = (int)sys_memfd_create("ckpt:cache", 1 /* MFD_CLOEXEC */);
		if (reg.cache_fd < 0) {
			errno = -reg.cache_fd;
			reg.cache_fd = -1;
			return -1;
		}
		memset(tab, 0, sizeof(tab));
		sys_pwrite(reg.cache_fd, tab, sizeof(tab), 0);
	}
	if (sys_pread(reg.cache_fd, tab, sizeof(tab), 0) != sizeof(tab)) {
		errno = EIO;
		return -1;
	}
	for (int i = 0; i < MAX_CACHE; i++)
		if (tab[i].addr == (uint64_t)addr)
			e = &tab[i];
	if (dir == CKPT_CACHE_IN) {
		if (!e) {
			errno = ENOENT;
			return -1;
		}
		n = sys_pread(reg.cache_fd, addr, size < e->size ? size : e->size, (int64_t)e->off);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		return 0;
	}
	if (!e || e->size < size) {		/* a new slot at the end */
		if (!e) {
			for (int i = 0; i < MAX_CACHE && !e; i++)
				if (!tab[i].addr)
					e = &tab[i];
			if (!e) {
				errno = ENOMEM;
				return -1;
			}
		}
		sys_fstat(reg.cache_fd, &st);
		end = (uint64_t)st.st_size;
		e->addr = (uint64_t)addr;
		e->off = end;
	}
	e->size = size;
	n = sys_pwrite(reg.cache_fd, addr, size, (int64_t)e->off);
	if (n != (long)size || sys_pwrite(reg.cache_fd, tab, sizeof(tab), 0) != sizeof(tab)) {
		errno = n < 0 ? (int)-n : EIO;
		return -1;
	}
	return 0;
}

CKPT_API int chkpt_status(int type)
{
	reg_init();
	switch (type) {
	case CKPT_RECOVERED:
		return reg.recovered;
	case CKPT_FROM_STATE:
	case CKPT_TO_STATE:
		if (!reg.recovered) {
			errno = EINVAL;
			return -1;
		}
		return type == CKPT_FROM_STATE ? reg.from_state : reg.to_state;
	case CKPT_SIGTYPE:
		return reg.last_signal;
	case CKPT_NUMCHKPTS:
		return reg.numchkpts;
	default:
		errno = EINVAL;
		return -1;
	}
}

CKPT_API int chkpt_history(struct ckpt_jump *out, int max)
{
	uint32_t kept, first;
	int n = 0;

	reg_init();
	if (max < 0 || (max && !out)) {
		errno = EINVAL;
		return -1;
	}
	kept = reg.njumps < MAX_JUMPS ? reg.njumps : MAX_JUMPS;
	first = reg.njumps - kept;
	for (uint32_t i = first; i < reg.njumps && n < max; i++)
		out[n++] = reg.jumps[i % MAX_JUMPS];
	return (int)kept;
}
