/* check.c -- `ckpt check`: what this kernel and CPU allow. */
#include "ckpt.h"
#include "cpu.h"

const char check_help[] =
	"usage: ckpt check\n"
	"       ckpt check [--cpu LEVEL] IMAGE\n"
	"one line per capability ckpt uses or will use, with yes/no and why:\n"
	"fsgsbase, XSAVE features, userfaultfd write-protect (async), PAGEMAP_SCAN,\n"
	"PR_SET_MM_MAP, CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE, time and user namespaces.\n"
	"Probes run in short-lived child processes; results differ for root and users.\n"
	"With IMAGE: does this CPU (with --cpu, any CPU of LEVEL: x86-64-v2, x86-64-v3,\n"
	"x86-64-v4) have what the image needs?  One line, naming the missing CPUID\n"
	"features and XSAVE components; without --cpu, a second line says whether\n"
	"this kernel's vDSO is the image's or the restorer will redirect the image's.\n"
	"exit status: 0 (the answers are in the output; with IMAGE: it restores there),\n"
	"1 IMAGE does not restore there, 2 usage error or an unreadable image\n";

/* ---- ckpt check IMAGE: the CPU an image needs ---- */

/* the names of the CPUID bits images record (0: no name, printed as a bit) */
static const char *const leaf1_ecx[32] = {
	"sse3", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2", "ssse3",
	"cnxt_id", "sdbg", "fma", "cx16", "xtpr", "pdcm", 0, "pcid", "dca", "sse4.1", "sse4.2",
	"x2apic", "movbe", "popcnt", "tsc_deadline", "aes", "xsave", "osxsave", "avx", "f16c",
	"rdrand", "hypervisor",
};
static const char *const leaf1_edx[32] = {
	"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", 0, "sep", "mtrr",
	"pge", "mca", "cmov", "pat", "pse36", "psn", "clflush", 0, "ds", "acpi", "mmx", "fxsr",
	"sse", "sse2", "ss", "htt", "tm", "ia64", "pbe",
};
static const char *const leaf7_ebx[32] = {
	"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "fdp_excptn_only", "smep", "bmi2",
	"erms", "invpcid", "rtm", "pqm", "fpu_cs_ds", "mpx", "pqe", "avx512f", "avx512dq", "rdseed",
	"adx", "smap", "avx512ifma", "pcommit", "clflushopt", "clwb", "intel_pt", "avx512pf",
	"avx512er", "avx512cd", "sha", "avx512bw", "avx512vl",
};
static const char *const leaf7_ecx[32] = {
	"prefetchwt1", "avx512vbmi", "umip", "pku", "ospke", "waitpkg", "avx512vbmi2", "cet_ss",
	"gfni", "vaes", "vpclmulqdq", "avx512vnni", "avx512bitalg", "tme", "avx512vpopcntdq", 0,
	"la57", 0, 0, 0, 0, 0, "rdpid", "kl", "bus_lock_detect", "cldemote", 0, "movdiri",
	"movdir64b", "enqcmd", "sgx_lc", "pks",
};
static const char *const xsave_comp[19] = {
	"x87", "SSE", "AVX", "BNDREGS", "BNDCSR", "opmask", "ZMM_Hi256", "Hi16_ZMM",
	"PT", "PKRU", "PASID", "CET_U", "CET_S", "HDC", "UINTR", "LBR", "HWP",
	"TILECFG", "TILEDATA",
};

/* append the names of the set bits of miss (a bit of word) to out */
static void name_bits(char *out, size_t cap, uint64_t miss, const char *const *names, unsigned n,
		      const char *word)
{
	for (unsigned b = 0; b < 64; b++) {
		size_t len = strlen(out);

		if (!(miss >> b & 1) || len + 40 >= cap)
			continue;
		if (b < n && names[b])
			snprintf(out + len, cap - len, " %s", names[b]);
		else
			snprintf(out + len, cap - len, " %s-bit%u", word, b);
	}
}

/* LEVEL (x86-64-v3, v3 or 3) as a level number, or 0 */
static uint32_t parse_level(const char *s)
{
	struct img_cpu_level l;

	if (!strncmp(s, "x86-64-v", 8))
		s += 8;
	else if (s[0] == 'v')
		s++;
	if (s[0] && !s[1] && img_cpu_level((uint32_t)(s[0] - '0'), &l))
		return (uint32_t)(s[0] - '0');
	return 0;
}

/* Is this kernel's vDSO the image's (size, crc, vvar sizes: the restorer also
 * compares the vvar distances), or will the restorer redirect the image's to
 * it?  One line; EX_FAIL when it refuses the image. */
static int check_image_vdso(const char *path, const struct ckpt_hdr *h)
{
	uint64_t size[3] = { 0, 0, 0 }, vdso = getauxval(AT_SYSINFO_EHDR);
	static const char *const names[3] = { "[vdso]", "[vvar]", "[vvar_vclock]" };
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char name[64] = "";

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &s, &e, name) < 2)
			continue;
		for (int k = 0; k < 3; k++)
			if (!strcmp(name, names[k]))
				size[k] = e - s;
	}
	if (f)
		fclose(f);
	if (vdso && size[0] == h->vdso_size && size[1] == h->vvar_size && size[2] == h->vvar_vclock_size &&
	    ckpt_crc32c(0, (const void *)vdso, size[0]) == h->vdso_crc) {
		printf("%s: vDSO: this kernel's, as in the image\n", esc(path));
		return EX_OK;
	}
	if (h->vdso_data_off) {
		printf("%s: vDSO: kernel %s's, not this kernel's: the restorer redirects its functions to "
		       "this kernel's vDSO\n", esc(path), esc(h->kernel));
		return EX_OK;
	}
	printf("%s: does not restore on this kernel: its vDSO (kernel %s) differs from this kernel's, and "
	       "the image predates stored vDSO bytes\n", esc(path), esc(h->kernel));
	return EX_FAIL;
}

/* Does this CPU, or the least CPU of a level, have what the image needs?
 * The comparison of the restorer's check_cpu (restore/main.c), with names. */
static int check_image_cpu(const char *path, uint32_t level)
{
	struct img_cpu_level need = { ~0u, ~0u, ~0u, ~0ull }, l = { 0, 0, 0, 0 };
	uint32_t leaf7_rest = ~0u;	/* leaf 7 ecx, edx: no level names them */
	struct img_cpu have;
	struct img img;
	struct img_err err;
	char missing[1024] = "", where[64], why[128];
	const struct ckpt_hdr *h;

	if (img_open(&img, path, 0, &err)) {
		say("%s: %s", esc(path), err.msg);	/* msg: escaped already */
		return EX_USAGE;
	}
	h = &img.hdr;
	if (img_cpu_level(h->cpu_level, &need))
		leaf7_rest = 0;
	if (level) {
		img_cpu_level(level, &l);
		memset(&have, 0, sizeof(have));
		have.cpuid1_ecx = l.cpuid1_ecx;
		have.cpuid1_edx = l.cpuid1_edx;
		have.cpuid7_ebx = l.cpuid7_ebx;
		have.xcr0 = l.xcr0;
		snprintf(where, sizeof(where), "any CPU of x86-64-v%u", level);
	} else {
		img_probe_cpu(&have);
		snprintf(where, sizeof(where), "this CPU");
	}
	name_bits(missing, sizeof(missing),
		  h->cpuid1_ecx & need.cpuid1_ecx & ~have.cpuid1_ecx & ~CKPT_CPUID1_ECX_IGNORE, leaf1_ecx, 32,
		  "cpuid1.ecx");
	name_bits(missing, sizeof(missing), h->cpuid1_edx & need.cpuid1_edx & ~have.cpuid1_edx, leaf1_edx, 32,
		  "cpuid1.edx");
	name_bits(missing, sizeof(missing), h->cpuid7_ebx & need.cpuid7_ebx & ~have.cpuid7_ebx, leaf7_ebx, 32,
		  "cpuid7.ebx");
	name_bits(missing, sizeof(missing), h->cpuid7_ecx & leaf7_rest & ~have.cpuid7_ecx, leaf7_ecx, 32,
		  "cpuid7.ecx");
	name_bits(missing, sizeof(missing), h->cpuid7_edx & leaf7_rest & ~have.cpuid7_edx, 0, 0, "cpuid7.edx");
	name_bits(missing, sizeof(missing), h->xcr0 & need.xcr0 & ~have.xcr0, xsave_comp, 19, "xcr0");
	if (h->cpu_level)
		snprintf(why, sizeof(why), "its program was started for x86-64-v%u", h->cpu_level);
	else
		snprintf(why, sizeof(why), "its program may use every feature of the CPU it came from; "
			 "ckpt run --cpu-baseline starts one for a level");
	if (!missing[0])
		printf("%s: restores on %s, as far as the CPU goes (%s)\n", esc(path), where, why);
	else
		printf("%s: does not restore on %s: it needs%s (%s)\n", esc(path), where, missing, why);
	if (!level && check_image_vdso(path, h) != EX_OK)
		return EX_FAIL;
	return missing[0] ? EX_FAIL : EX_OK;
}

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
				      i < 19 ? xsave_comp[i] : "?");
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
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' },
		{ "cpu", required_argument, 0, 'c' }, { 0, 0, 0, 0 },
	};
	const char *cpu = NULL;
	uint32_t level = 0;
	int c;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(check_help);
		case 'V': version();
		case 'c': cpu = optarg; break;
		}
	}
	if (cpu && !(level = parse_level(cpu)))
		usage_error("--cpu %s: want x86-64-v2, x86-64-v3 or x86-64-v4", cpu);
	if (optind + 1 < argc)
		usage_error("one IMAGE at most ('%s')", argv[optind + 1]);
	if (optind < argc)
		return check_image_cpu(argv[optind], level);
	if (cpu)
		usage_error("--cpu goes with an IMAGE");
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
