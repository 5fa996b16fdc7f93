/* check.c -- `ckpt check`: what this kernel and CPU allow. */
#include "ckpt.h"
#include "cpu.h"

const char check_help[] =
	"usage: ckpt check\n"
	"one line per capability ckpt uses or will use, with yes/no and why:\n"
	"fsgsbase, XSAVE features, userfaultfd write-protect (async), PAGEMAP_SCAN,\n"
	"PR_SET_MM_MAP, CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE, time and user namespaces.\n"
	"Probes run in short-lived child processes; results differ for root and users.\n"
	"exit status: 0 (the answers are in the output), 2 usage error\n";

static void line(const char *what, int yes, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("%-24s %-3s  %s\n", what, yes ? "yes" : "no", why);
}

/* run fn in a child, return its exit status (0..255), or -1 */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t c;
	int st;

	fflush(stdout);
	c = fork();
	if (c < 0)
		return -1;
	if (c == 0)
		_exit(fn(arg) & 0xff);
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static long read_long(const char *path, long dflt)
{
	char *s = slurp(path, NULL);
	long v = dflt;

	if (s) {
		v = strtol(s, NULL, 10);
		free(s);
	}
	return v;
}

static void check_fsgsbase(void)
{
	unsigned long h2 = getauxval(AT_HWCAP2);

	if (h2 & 2)
		line("fsgsbase", 1, "AT_HWCAP2 bit 1: rdfsbase/wrfsbase save and load fs/gs base in user space");
	else
		line("fsgsbase", 0, "AT_HWCAP2 bit 1 clear (CPU or kernel): fs/gs base go through arch_prctl");
}

static void check_xsave(void)
{
	static const char *const comp[19] = {
		"x87", "SSE", "AVX", "BNDREGS", "BNDCSR", "opmask", "ZMM_Hi256", "Hi16_ZMM",
		"PT", "PKRU", "PASID", "CET_U", "CET_S", "HDC", "UINTR", "LBR", "HWP",
		"TILECFG", "TILEDATA",
	};
	struct img_cpu cpu;
	char names[256] = "";
	uint64_t xcr0;
	size_t n = 0;

	img_probe_cpu(&cpu);
	if (!(cpu.cpuid1_ecx & IMG_CPUID1_ECX_XSAVE) || !(cpu.cpuid1_ecx & IMG_CPUID1_ECX_OSXSAVE)) {
		line("xsave", 0, "CPUID.1 ECX XSAVE/OSXSAVE clear: FPU/SSE state saved with FXSAVE (512 bytes)");
		return;
	}
	xcr0 = cpu.xcr0;
	for (int i = 0; i < 64; i++)
		if (xcr0 & (1ull << i))
			n += snprintf(names + n, sizeof(names) - n, "%s%s", n ? " " : "",
				      i < 19 ? comp[i] : "?");
	line("xsave", 1, "XCR0 0x%lx: %s; %u-byte area%s", xcr0, names, cpu.xsave_size,
	     cpu.xsave_size > CKPT_XSAVE_MAX ? " (larger than ckpt accepts: FXSAVE is used)" : "");
	line("  avx", (xcr0 & 0x6) == 0x6, "XCR0 bits 1-2 (SSE, AVX): ymm state in the images");
	line("  avx-512", (xcr0 & 0xe0) == 0xe0, "XCR0 bits 5-7 (opmask, ZMM_Hi256, Hi16_ZMM): zmm and k state in the images");
	line("  pkru", (xcr0 & 0x200) != 0, "XCR0 bit 9: protection-key rights (PKRU) in the images");
	line("  amx", (xcr0 & 0x60000) == 0x60000, "XCR0 bits 17-18 (TILECFG, TILEDATA)");
}

/* ---- userfaultfd ---- */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM	(1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

static void check_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	long unpriv = read_long("/proc/sys/vm/unprivileged_userfaultfd", -1);
	const char *how = "";
	int fd, e, wp_reg = 0;
	void *page;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) {
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
		how = " with UFFD_USER_MODE_ONLY";
	}
	if (fd < 0) {
		e = errno;
		if (e == ENOSYS)
			line("userfaultfd", 0, "the kernel has no userfaultfd (CONFIG_USERFAULTFD)");
		else
			line("userfaultfd", 0, "userfaultfd(): %s (vm.unprivileged_userfaultfd=%ld; "
			     "needs CAP_SYS_PTRACE or a kernel with UFFD_USER_MODE_ONLY)", strerror(e), unpriv);
		line("  write-protect", 0, "no userfaultfd");
		line("  write-protect async", 0, "no userfaultfd");
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		line("userfaultfd", 0, "UFFDIO_API: %s", strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	line("userfaultfd", 1, "opened%s (vm.unprivileged_userfaultfd=%ld); features 0x%llx", how,
	     unpriv, (unsigned long long)api.features);
	/* a real registration: what the kernel says for anonymous memory */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | (*how ? UFFD_USER_MODE_ONLY : 0));
	if (page != MAP_FAILED && fd >= 0) {
		struct uffdio_api a2 = { .api = UFFD_API, .features = api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP };
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)page, .len = 4096 }, .mode = UFFDIO_REGISTER_MODE_WP,
		};

		wp_reg = !ioctl(fd, UFFDIO_API, &a2) && !ioctl(fd, UFFDIO_REGISTER, &reg);
	}
	if (fd >= 0)
		close(fd);
	if (page != MAP_FAILED)
		munmap(page, 4096);
	line("  write-protect", (api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) && wp_reg,
	     "UFFD_FEATURE_PAGEFAULT_FLAG_WP %s, UFFDIO_REGISTER_MODE_WP on anonymous memory %s%s",
	     api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP ? "offered" : "absent",
	     wp_reg ? "works" : "refused",
	     api.features & UFFD_FEATURE_WP_UNPOPULATED ? "; WP_UNPOPULATED" : "");
	line("  write-protect async", (api.features & UFFD_FEATURE_WP_ASYNC) != 0,
	     "UFFD_FEATURE_WP_ASYNC %s: dirty tracking without a fault handler (Linux 6.7+)",
	     api.features & UFFD_FEATURE_WP_ASYNC ? "offered" : "absent");
}

/* ---- PAGEMAP_SCAN (linux/fs.h, Linux 6.7) ---- */
struct ck_page_region {
	uint64_t start, end, categories;
};
struct ck_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define CK_PAGEMAP_SCAN		_IOWR('f', 16, struct ck_pm_scan_arg)
#define CK_PAGE_IS_PRESENT	(1 << 3)

static void check_pagemap_scan(void)
{
	static char probe[8192] __attribute__((aligned(4096)));
	struct ck_page_region vec[4];
	struct ck_pm_scan_arg arg = {
		.size = sizeof(arg), .start = (uintptr_t)probe, .end = (uintptr_t)probe + 4096,
		.vec = (uintptr_t)vec, .vec_len = 4, .category_anyof_mask = CK_PAGE_IS_PRESENT,
		.return_mask = CK_PAGE_IS_PRESENT,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long r;

	probe[0] = 1;
	if (fd < 0) {
		line("pagemap_scan", 0, "/proc/self/pagemap: %s", strerror(errno));
		return;
	}
	r = ioctl(fd, CK_PAGEMAP_SCAN, &arg);
	if (r < 0)
		line("pagemap_scan", 0, "ioctl(PAGEMAP_SCAN): %s (Linux 6.7+): pages found with mincore",
		     errno == ENOTTY ? "not in this kernel" : strerror(errno));
	else
		line("pagemap_scan", 1, "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap: resident pages found "
		     "in one call per range");
	close(fd);
}

/* ---- PR_SET_MM_MAP, in a child: set the mm fields to what they are ---- */
static int probe_mm_map(void *unused)
{
	struct prctl_mm_map mm;
	uint64_t v[64] = { 0 };
	static uint64_t auxv[128];
	unsigned size = 0;
	char *s = slurp("/proc/self/stat", NULL), *q;
	int fd, field, n;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) || size != sizeof(mm))
		return 100;
	if (!s || !(q = strrchr(s, ')')))
		return 101;
	for (field = 2, q++; *q && field < 63;) {
		while (*q == ' ')
			q++;
		field++;
		v[field] = strtoull(q, &q, 10);
		while (*q && *q != ' ')
			q++;
	}
	fd = open("/proc/self/auxv", O_RDONLY);
	n = fd >= 0 ? (int)read(fd, auxv, sizeof(auxv)) : -1;
	if (n <= 0)
		return 101;
	memset(&mm, 0, sizeof(mm));
	mm.start_code = v[26], mm.end_code = v[27], mm.start_stack = v[28];
	mm.start_data = v[45], mm.end_data = v[46], mm.start_brk = v[47];
	mm.arg_start = v[48], mm.arg_end = v[49], mm.env_start = v[50], mm.env_end = v[51];
	mm.brk = (uint64_t)sbrk(0);
	mm.auxv = (__u64 *)auxv;
	mm.auxv_size = (unsigned)n;
	mm.exe_fd = (unsigned)-1;
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &mm, sizeof(mm), 0) ? errno : 0;
}

static int have_cap(int cap)
{
	char *s = slurp("/proc/self/status", NULL);
	uint64_t eff = s ? status_mask(s, "CapEff") : 0;

	free(s);
	return (eff >> cap) & 1;
}

static void check_mm_and_caps(void)
{
	int r = in_child(probe_mm_map, NULL);
	int cr = have_cap(40), res = have_cap(24);	/* CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE */

	if (r == 0)
		line("pr_set_mm_map", 1, "prctl(PR_SET_MM, PR_SET_MM_MAP) accepted: brk, stack, arg/env, "
		     "auxv restored");
	else if (r == 100)
		line("pr_set_mm_map", 0, "PR_SET_MM_MAP_SIZE refused or differs (CONFIG_CHECKPOINT_RESTORE?)");
	else if (r > 0 && r < 100)
		line("pr_set_mm_map", 0, "prctl(PR_SET_MM_MAP): %s: brk and arg/env fields stay the "
		     "restorer's", strerror(r));
	else
		line("pr_set_mm_map", 0, "the probe could not run");
	line("cap_checkpoint_restore", cr, "%s: PR_SET_MM_MAP exe_fd (/proc/PID/exe names the program "
	     "again after restore)", cr ? "in the effective set" : "not in the effective set");
	line("cap_sys_resource", res, "%s: PR_SET_MM_EXE_FILE, the older way to set /proc/PID/exe",
	     res ? "in the effective set" : "not in the effective set");
}

/* ---- namespaces, in children ---- */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int probe_unshare(void *flags)
{
	return unshare((int)(intptr_t)flags) ? errno : 0;
}

static void check_ns(void)
{
	int u = in_child(probe_unshare, (void *)(intptr_t)CLONE_NEWUSER);
	int t = in_child(probe_unshare, (void *)(intptr_t)CLONE_NEWTIME);
	int ut = t ? in_child(probe_unshare, (void *)(intptr_t)(CLONE_NEWUSER | CLONE_NEWTIME)) : -1;
	long unpriv = read_long("/proc/sys/kernel/unprivileged_userns_clone", -1);
	long maxns = read_long("/proc/sys/user/max_user_namespaces", -1);

	if (t == 0)
		line("time namespace", 1, "unshare(CLONE_NEWTIME): monotonic and boottime clocks can "
		     "continue from the checkpoint");
	else if (ut == 0)
		line("time namespace", 1, "unshare(CLONE_NEWTIME) inside a new user namespace only (%s "
		     "without one)", strerror(t));
	else
		line("time namespace", 0, "unshare(CLONE_NEWTIME): %s",
		     t == EINVAL ? "not in this kernel (CONFIG_TIME_NS)" : t > 0 ? strerror(t) : "probe failed");
	if (u == 0)
		line("user namespace", 1, "unshare(CLONE_NEWUSER) works (max_user_namespaces=%ld)", maxns);
	else
		line("user namespace", 0, "unshare(CLONE_NEWUSER): %s (max_user_namespaces=%ld%s)",
		     u > 0 ? strerror(u) : "probe failed", maxns,
		     unpriv == 0 ? ", kernel.unprivileged_userns_clone=0" : "");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(check_help);
		case 'V': version();
		}
	}
	if (optind < argc)
		usage_error("takes no arguments ('%s')", argv[optind]);
	printf("# ckpt check: uid %d, kernel ", (int)getuid());
	fflush(stdout);
	{
		char *rel = slurp("/proc/sys/kernel/osrelease", NULL);

		printf("%s", rel ? rel : "?\n");
		free(rel);
	}
	check_fsgsbase();
	check_xsave();
	check_uffd();
	check_pagemap_scan();
	check_mm_and_caps();
	check_ns();
	return fflush(stdout) ? EX_FAIL : EX_OK;
}
