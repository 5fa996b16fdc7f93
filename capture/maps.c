/* maps.c -- read the address space: /proc/self/smaps into vma records, then
 * the page tables (PAGEMAP_SCAN on /proc/self/pagemap) into runs of pages worth
 * storing.  Runs inside the signal handler: raw syscalls, static storage.
 */
#include "cap.h"

/* PAGEMAP_SCAN (Linux 6.7) postdates Debian 12's 6.1 uapi headers */
#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN		0xc0606610ul	/* _IOWR('f', 16, struct pm_scan_arg) */
#endif
#ifndef PAGE_IS_FILE
#define PAGE_IS_WPALLOWED	(1ul << 0)
#define PAGE_IS_WRITTEN		(1ul << 1)
#define PAGE_IS_FILE		(1ul << 2)
#define PAGE_IS_PRESENT		(1ul << 3)
#define PAGE_IS_SWAPPED		(1ul << 4)
#define PAGE_IS_PFNZERO		(1ul << 5)
#define PAGE_IS_HUGE		(1ul << 6)
#endif
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1ul << 8)	/* Linux 6.14 */
#endif

struct cap_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

static uint64_t hex(const char **s)
{
	return img_parse_num(s, 16);
}

static uint64_t dec(const char **s)
{
	return img_parse_num(s, 10);
}

static int starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}



/* "start-end perms offset maj:min inode   path" -> a new vma record */
static int parse_header(struct cap_walk *w, const char *p, const char *eol)
{
	struct ckpt_vma *v;
	const char *path;
	uint64_t start, end, maj, min;
	size_t plen;
	int shared;

	start = hex(&p);
	p++;
	end = hex(&p);
	p++;
	if (w->nvmas >= CAP_MAX_VMAS) {
		w->fail_what = "too many regions";
		w->fail_addr = start;
		return -7;			/* E2BIG */
	}
	if (start == ckpt_track.hash_map)
		return 0;			/* the page-hash store is the library's own */
	v = &ckpt_scratch.vmas[w->nvmas];
	memset(v, 0, sizeof(*v));
	v->start = start;
	v->end = end;
	v->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) | (p[2] == 'x' ? PROT_EXEC : 0);
	shared = p[3] == 's';
	v->flags = shared ? CKPT_MAP_SHARED : 0;
	p += 5;
	v->pgoff = hex(&p);
	p++;
	maj = hex(&p);
	p++;
	min = hex(&p);
	p++;
	v->dev = maj << 32 | min;
	v->ino = dec(&p);
	while (p < eol && *p == ' ')
		p++;
	path = p;
	plen = eol - p;

	if (plen == 0) {
		v->kind = shared ? CKPT_VMA_SHMEM : CKPT_VMA_ANON;
	} else if (path[0] == '[') {
		if (starts(path, "[heap]"))
			v->kind = CKPT_VMA_HEAP;
		else if (starts(path, "[stack]"))
			v->kind = CKPT_VMA_STACK;
		else if (starts(path, "[vdso]"))
			v->kind = CKPT_VMA_VDSO;
		else if (starts(path, "[vvar]"))
			v->kind = CKPT_VMA_VVAR;
		else if (starts(path, "[vvar_vclock]"))
			v->kind = CKPT_VMA_VVAR_VCLOCK;
		else if (starts(path, "[vsyscall]"))
			return 0;		/* fixed by the kernel, not a vma */
		else if (starts(path, "[anon:") || starts(path, "[anon_shmem:")) {
			size_t skip = path[5] == ':' ? 6 : 12;

			v->kind = skip == 6 ? CKPT_VMA_ANON : CKPT_VMA_SHMEM;
			v->name_off = cap_add_stringn(w, path + skip, plen - skip - 1);
		} else {
			w->fail_what = "unknown special mapping";
			w->fail_addr = start;
			return -22;
		}
	} else {
		static const char deleted[] = " (deleted)";
		size_t dl = sizeof(deleted) - 1;
		int gone = plen > dl && !memcmp(path + plen - dl, deleted, dl);
		struct ksys_stat st;

		v->path_off = cap_add_stringn(w, path, plen);
		if (!v->path_off) {
			w->fail_what = "string table full";
			w->fail_addr = start;
			return -7;
		}
		if (starts(path, "/[aio]") && !(w->lost & CKPT_PROC_AIO_LOST)) {
			w->lost |= CKPT_PROC_AIO_LOST;	/* the kernel's context is not restored */
			w->aio_ring = start;		/* (its ring is copied, as a deleted file's) */
		}
		if (shared && (starts(path, "/dev/zero (deleted)") || starts(path, "/SYSV"))) {
			v->kind = CKPT_VMA_SHMEM;
		} else if (gone) {
			v->kind = CKPT_VMA_GONE;
		} else if (sys_failed(sys_stat(ckpt_scratch.strings + v->path_off, &st)) ||
			   st.st_ino != v->ino || ksys_major(st.st_dev) != maj || ksys_minor(st.st_dev) != min) {
			v->kind = CKPT_VMA_GONE;	/* replaced since it was mapped */
		} else if ((st.st_mode & S_IFMT) != S_IFREG) {
			w->fail_what = "device mapping cannot be saved";
			w->fail_addr = start;
			return -19;		/* ENODEV */
		} else {
			v->kind = CKPT_VMA_FILE;
			v->fsize = st.st_size;
			v->mtime_sec = st.st_mtime_sec;
			v->mtime_nsec = st.st_mtime_nsec;
		}
	}
	if (v->kind == CKPT_VMA_VDSO) {
		w->vdso_start = start;
		w->vdso_end = end;
	} else if (v->kind == CKPT_VMA_VVAR) {
		w->vvar_size = end - start;
	} else if (v->kind == CKPT_VMA_VVAR_VCLOCK) {
		w->vvar_vclock_size = end - start;
	}
	w->nvmas++;
	return 0;
}

/* VmFlags a program can set that the restorer does not set again: named at
 * checkpoint time (cap_say_not_restored), once per flag */
const char cap_vmflags_lost[CAP_VMFLAGS_NLOST][3] = { "gu", "ss", "ht", "um", "sf", "ui" };
#define LOST_UFFD	3		/* "um" (uffd_registration) */

static void lose(struct cap_walk *w, const struct ckpt_vma *v, int i)
{
	if (!(w->vmflags_lost & (1u << i))) {
		w->vmflags_lost |= 1u << i;
		w->vmflags_lost_at[i] = v->start;
		w->lost |= CKPT_PROC_VMFLAGS_LOST;
	}
}

/* VmFlags um (missing pages) and uw (write protection): a registration with
 * a userfaultfd.  libckpt's own (the tracking of track.c, the snapshot of
 * snap.c) register for write protection alone, and only when the program
 * holds no userfaultfd of its own, or (tracking) beside it, which is named
 * (cap_say_not_restored).  A region registered for missing pages is the
 * program's; it is restored with the program's one userfaultfd
 * (w->program_uffd), and named when there is none (several instances, or
 * one that another process holds). */
static void uffd_registration(struct cap_walk *w, struct ckpt_vma *v, int um, int uw)
{
	if (um && !w->program_uffd)
		lose(w, v, LOST_UFFD);
	else if (w->program_uffd && (um || (uw && ckpt_track.uffd < 0)))
		v->flags |= (um ? CKPT_MAP_UFFD_MISSING : 0) | (uw ? CKPT_MAP_UFFD_WP : 0);
	else if (uw)
		v->flags |= CKPT_MAP_TRACKED;
}

/* "VmFlags: rd wr mr mw me ac sd" -> mapping flags and advice */
static void parse_vmflags(struct cap_walk *w, struct ckpt_vma *v, const char *p, const char *eol)
{
	static const struct { char name[3]; uint32_t adv; } advs[] = {
		{ "dc", CKPT_ADV_DONTFORK }, { "dd", CKPT_ADV_DONTDUMP }, { "wf", CKPT_ADV_WIPEONFORK },
		{ "hg", CKPT_ADV_HUGEPAGE }, { "nh", CKPT_ADV_NOHUGEPAGE }, { "mg", CKPT_ADV_MERGEABLE },
		{ "sr", CKPT_ADV_SEQUENTIAL }, { "rr", CKPT_ADV_RANDOM }, { "lo", CKPT_ADV_LOCKED },
		{ "lf", CKPT_ADV_LOCKONFAULT }, { "sl", CKPT_ADV_SEALED }, { "gu", CKPT_ADV_GUARD },
	};
	int account = 0, um = 0, uw = 0;

	for (; p + 1 < eol; p++) {
		if (p[0] == ' ' || p[1] == ' ')
			continue;
		if (p[0] == 'g' && p[1] == 'd')
			v->flags |= CKPT_MAP_GROWSDOWN;
		else if (p[0] == 'm' && p[1] == 'w')
			v->flags |= CKPT_MAP_MAYWRITE;
		else if (p[0] == 'a' && p[1] == 'c')
			account = 1;
		else if (p[0] == 'n' && p[1] == 'r')
			v->flags |= CKPT_MAP_NORESERVE;
		else if (p[0] == 'u' && p[1] == 'w')
			uw = 1;
		else if (p[0] == 'u' && p[1] == 'm')
			um = 1;
		for (size_t i = 0; i < sizeof(advs) / sizeof(advs[0]); i++)
			if (p[0] == advs[i].name[0] && p[1] == advs[i].name[1])
				v->advice |= advs[i].adv;
		for (int i = 0; i < CAP_VMFLAGS_NLOST; i++)
			if (i != LOST_UFFD && p[0] == cap_vmflags_lost[i][0] && p[1] == cap_vmflags_lost[i][1])
				lose(w, v, i);
		p++;
	}
	uffd_registration(w, v, um, uw);
	/* private writable memory is accounted unless mapped MAP_NORESERVE */
	if (!account && !(v->flags & CKPT_MAP_SHARED) && (v->prot & PROT_WRITE) &&
	    (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP))
		v->flags |= CKPT_MAP_NORESERVE;
	/* the kernel sets dd on its own special mappings; nothing to redo there */
	if (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK)
		v->advice = 0;
}

/* REFINE: this header's region in the table the process made (sorted), or -1 */
static int32_t find_vma(const struct cap_walk *w, const struct ckpt_vma *vmas, const char *p, uint32_t *hint)
{
	uint64_t start = hex(&p), end;

	p++;
	end = hex(&p);
	while (*hint < w->nvmas && vmas[*hint].start < start)
		(*hint)++;
	if (*hint < w->nvmas && vmas[*hint].start == start && vmas[*hint].end == end)
		return (int32_t)*hint;
	return -1;
}

/* What a walk works on: the scratch tables, or for the writer's smaps helper
 * copies of its own (see cap_refine_start) */
struct walk_space {
	struct ckpt_vma *vmas;
	char *buf;			/* CAP_IOBUF bytes */
	uint8_t *from_parent;		/* CAP_MAX_VMAS / 8 */
	const uint8_t *remade;
};

static int walk(struct cap_walk *w, int mode, const struct walk_space *sp);

/* WALK_SMAPS: /proc/self/smaps into new records (flags, advice, keys too).
 * WALK_MAPS: /proc/self/maps, far cheaper (smaps walks every page table
 * entry to count Rss): layout only, for the process before a fork.
 * WALK_REFINE: in the forked writer, the process's smaps fills in flags,
 * advice and keys of the records the process made before the fork (the
 * writer's own would not do: a fork drops mlock and MADV_DONTFORK regions).
 * The process runs on meanwhile; a region it changed since keeps what maps
 * said.  MADV_DONTFORK and MADV_WIPEONFORK regions have no pages in the
 * writer: those are read from the process itself (cap_from_parent). */
int cap_walk_maps(struct cap_walk *w, int mode)
{
	struct walk_space sp = { ckpt_scratch.vmas, ckpt_scratch.iobuf, ckpt_scratch.from_parent,
				 ckpt_scratch.remade };

	return walk(w, mode, &sp);
}

static int walk(struct cap_walk *w, int mode, const struct walk_space *sp)
{
	char *buf = sp->buf, file[64];
	size_t have = 0;
	long fd;
	int in_vma = 0, err = 0;
	uint32_t hint = 0, cur = 0;

	if (mode == WALK_REFINE || mode == WALK_PARENT_MAPS)
		img_fmt(file, sizeof(file), "/proc/%d/%s", w->parent_pid, mode == WALK_REFINE ? "smaps" : "maps");
	else
		img_fmt(file, sizeof(file), "/proc/self/%s", mode == WALK_MAPS ? "maps" : "smaps");
	fd = sys_open(file, O_RDONLY | O_CLOEXEC, 0);

	memset(sp->from_parent, 0, CAP_MAX_VMAS / 8);
	if (mode != WALK_REFINE) {		/* (the strings begun by cap_prepare) */
		memset(ckpt_scratch.remade, 0, sizeof(ckpt_scratch.remade));
		w->nvmas = 0;
	}
	if (sys_failed(fd)) {
		w->fail_what = mode == WALK_REFINE ? "open the process's smaps" : "open /proc/self/smaps";
		return (int)fd;
	}
	for (;;) {
		long r = sys_read(fd, buf + have, CAP_IOBUF - 1 - have);
		char *p = buf, *eol;

		if (r < 0 && r != -4) {
			err = (int)r;
			w->fail_what = "read /proc/self/smaps";
			break;
		}
		if (r <= 0 && r != -4 && have == 0)
			break;
		have += r > 0 ? r : 0;
		if (r == 0 && have && buf[have - 1] != '\n')
			buf[have++] = '\n';	/* last line without newline */
		while ((eol = memchr(p, '\n', buf + have - p))) {
			const char *q = p;

			if ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')) {
				while ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))
					q++;
			}
			if (*q == '-' && q != p && mode == WALK_REFINE) {
				int32_t j = find_vma(w, sp->vmas, p, &hint);

				in_vma = j >= 0;
				cur = in_vma ? (uint32_t)j : 0;
			} else if (*q == '-' && q != p) {
				uint32_t before = w->nvmas;

				err = parse_header(w, p, eol);
				if (err)
					break;
				in_vma = w->nvmas != before;
				cur = w->nvmas - 1;
			} else if (in_vma && starts(p, "VmFlags:")) {
				parse_vmflags(w, &sp->vmas[cur], p + 8, eol);
				if (mode == WALK_REFINE &&
				    (sp->vmas[cur].advice & (CKPT_ADV_WIPEONFORK | CKPT_ADV_DONTFORK)) &&
				    !(sp->remade[cur / 8] >> (cur % 8) & 1))
					sp->from_parent[cur / 8] |= 1u << (cur % 8);
			} else if (in_vma && starts(p, "ProtectionKey:")) {
				const char *k = p + 14;

				while (*k == ' ')
					k++;
				sp->vmas[cur].pkey = (int32_t)dec(&k);
			}
			p = eol + 1;
		}
		if (err)
			break;
		have -= p - buf;
		memmove(buf, p, have);
		if (r == 0)
			break;
	}
	sys_close(fd);
	return err;
}

/* ---- the writer's smaps helper ----
 * Reading the process's smaps costs about 7 ms per GiB mapped (the kernel
 * walks every page table entry to count Rss).  The writer has it read by a
 * thread of its own (CLONE_VM) while it scans and writes the pages, on copies
 * of the region table: nothing it writes is a page the writer stores.  Its
 * stack, copies and buffer are one mapping of the writer's own, outside every
 * region of the image, and its descriptors a table of its own. */
struct refine_job {
	struct cap_walk w;		/* copy */
	struct walk_space sp;
	int err;
	const char *fail_what;
	volatile int32_t tid;		/* set by clone3, cleared at the helper's exit */
	uint64_t map_len;
};

#define REFINE_STACK	(256u << 10)

static void refine_helper(void *arg)
{
	struct refine_job *j = arg;

	j->err = walk(&j->w, WALK_REFINE, &j->sp);
	j->fail_what = j->w.fail_what;
	SC1(__NR_exit, 0);		/* this thread only; the writer goes on */
}

/* start it: 0, or -errno (then the caller reads smaps itself) */
int cap_refine_start(struct cap_walk *w, void **handle)
{
	uint64_t vbytes = ((uint64_t)w->nvmas * sizeof(struct ckpt_vma) + 4095) & ~4095ull;
	uint64_t len = REFINE_STACK + 4096 + vbytes + CAP_IOBUF + 2 * (CAP_MAX_VMAS / 8);
	long m = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct refine_job *j;
	char *at;
	long tid;

	if (sys_failed(m))
		return (int)m;
	at = (char *)m + REFINE_STACK;	/* the stack grows down from here */
	j = (struct refine_job *)at;
	at += 4096;
	j->map_len = len;
	j->w = *w;
	j->sp.vmas = (struct ckpt_vma *)at;
	memcpy(j->sp.vmas, ckpt_scratch.vmas, (uint64_t)w->nvmas * sizeof(struct ckpt_vma));
	at += vbytes;
	j->sp.buf = at;
	at += CAP_IOBUF;
	j->sp.from_parent = (uint8_t *)at;
	memcpy(at + CAP_MAX_VMAS / 8, ckpt_scratch.remade, CAP_MAX_VMAS / 8);
	j->sp.remade = (const uint8_t *)at + CAP_MAX_VMAS / 8;
	tid = cap_spawn_helper((uint64_t)m, REFINE_STACK, &j->tid, refine_helper, j);
	if (sys_failed(tid)) {
		sys_munmap((uint64_t)m, len);
		return (int)tid;
	}
	*handle = j;
	return 0;
}

/* wait for it, and take what it found: flags, advice, keys, which regions
 * must be read from the process (MADV_WIPEONFORK), the VmFlags not restored */
int cap_refine_finish(struct cap_walk *w, void *handle)
{
	struct refine_job *j = handle;
	int err;

	cap_join_helper(&j->tid, 1);
	err = j->err;
	if (err)
		w->fail_what = j->fail_what;
	else {
		for (uint32_t i = 0; i < w->nvmas; i++) {
			ckpt_scratch.vmas[i].flags |= j->sp.vmas[i].flags;
			ckpt_scratch.vmas[i].advice |= j->sp.vmas[i].advice;
			ckpt_scratch.vmas[i].pkey = j->sp.vmas[i].pkey;
		}
		memcpy(ckpt_scratch.from_parent, j->sp.from_parent, CAP_MAX_VMAS / 8);
		w->lost |= j->w.lost;		/* VmFlags not restored */
		w->vmflags_lost = j->w.vmflags_lost;
		memcpy(w->vmflags_lost_at, j->w.vmflags_lost_at, sizeof(w->vmflags_lost_at));
	}
	sys_munmap((uint64_t)j - REFINE_STACK, j->map_len);
	return err;
}

/* ---- page scan ---- */

#define ZERO_RUN	IMG_NO_DATA	/* a run of zero pages: img_place_data stores nothing */


static int add_run(struct cap_walk *w, uint32_t vma, uint64_t start, uint64_t end)
{
	return cap_add_run_as(w, vma, start, end, 0);
}

/* Does the page at addr hold only zeros?  Eight words at a time, and out at
 * the first that is not zero: a page of data answers in its first 64 bytes,
 * and only a page that is truly zero is read through. */
static int page_is_zero(uint64_t addr)
{
	const uint64_t *p = (const uint64_t *)addr;

	for (uint32_t i = 0; i < CKPT_PAGE_SIZE / 8; i += 8)
		if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] | p[i + 6] | p[i + 7])
			return 0;
	return 1;
}

/* A forked writer's first read of each page of the process can cost far more
 * than the read: the fork left every page "old" (accessed bit clear), and
 * where a hypervisor keeps shadow page tables (a paravirtualized guest: this
 * project's test machine) setting the bit again exits to the host, about
 * 4.5 us a page, 1.2 s a GiB.  /proc/self/mem reads the same pages through
 * the kernel's own mapping of them and sets no bit: 0.12 s a GiB there.  On
 * ordinary hardware the first read costs a TLB miss, and reading in place
 * saves a copy.  So time it, once a checkpoint, on 64 pages the writer is
 * about to read anyway: over 1 us a page is slow. */
int cap_touch_slow(uint64_t addr, uint64_t npages)
{
	struct ksys_timespec t0, t1;
	uint64_t sum = 0, ns;

	if (ckpt_scratch.touch == CAP_TOUCH_UNKNOWN && npages >= 64) {
		sys_clock_gettime(1, &t0);
		for (uint64_t i = 0; i < 64; i++)
			sum += *(volatile const uint64_t *)(addr + i * CKPT_PAGE_SIZE);
		sys_clock_gettime(1, &t1);
		ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000 + t1.tv_nsec - t0.tv_nsec);
		ckpt_scratch.touch = ns > 64 * 1000 ? CAP_TOUCH_SLOW : CAP_TOUCH_FAST;
		(void)sum;
	}
	return ckpt_scratch.touch == CAP_TOUCH_SLOW;
}

/* Does the page at p hold only zeros: at addr in place, or in pagebuf, read
 * through /proc/self/mem with the pages after it (window: [base, base + have)) */
static const uint64_t *page_to_check(uint64_t a, uint64_t end, uint64_t *base, uint64_t *have)
{
	long r;

	if (ckpt_scratch.self_mem < 0)
		return (const uint64_t *)a;
	if (a >= *base && a < *base + *have)
		return (const uint64_t *)(ckpt_scratch.pagebuf + (a - *base));
	*base = a;
	*have = end - a < CAP_IOBUF ? end - a : CAP_IOBUF;
	r = sys_pread((int)ckpt_scratch.self_mem, ckpt_scratch.pagebuf, *have, (int64_t)a);
	if (r < (long)CKPT_PAGE_SIZE) {		/* (cannot happen: a present page) read it in place */
		*have = 0;
		return (const uint64_t *)a;
	}
	*have = (uint64_t)r & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	return (const uint64_t *)ckpt_scratch.pagebuf;
}

/* [start, end) as runs, without its all-zero pages.  Reads every page: the
 * caller vouches that each one is readable and there (present or swapped,
 * never a missing page a userfaultfd would hold); through /proc/self/mem
 * where reading in place is slow (cap_touch_slow).  The capture's own
 * scratch is left out unread (cap_add_run_as would drop it anyway). */
static int add_nonzero(struct cap_walk *w, uint32_t vma, uint64_t start, uint64_t end)
{
	uint64_t skip_s = (uint64_t)&ckpt_scratch;
	uint64_t skip_e = (skip_s + sizeof(ckpt_scratch)) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	uint64_t from = start, base = 0, have = 0;

	if (ckpt_scratch.self_mem < 0 && (start >= skip_e || end <= skip_s) &&
	    cap_touch_slow(start, (end - start) / CKPT_PAGE_SIZE))
		ckpt_scratch.self_mem = sys_open("/proc/self/mem", O_RDONLY | O_CLOEXEC, 0);
	for (uint64_t a = start; a < end; a += CKPT_PAGE_SIZE) {
		if (a >= skip_s && a < skip_e) {
			if (a > from && add_run(w, vma, from, a))
				return -7;
			a = (skip_e < end ? skip_e : end) - CKPT_PAGE_SIZE;
			from = a + CKPT_PAGE_SIZE;
			continue;
		}
		if (!page_is_zero((uint64_t)page_to_check(a, end, &base, &have)))
			continue;
		if (a > from && add_run(w, vma, from, a))
			return -7;
		from = a + CKPT_PAGE_SIZE;
	}
	return end > from ? add_run(w, vma, from, end) : 0;
}

/* One PAGEMAP_SCAN walk over a region, call after call.  The kernel can end a
 * call with walk_end below the last region it returned, and the next call
 * then returns some of those pages again: keep only what lies past what we
 * have, and go on from the further of the two.  written: the regions are
 * PAGE_IS_WRITTEN ones, and those holding no page become zero runs.
 * drop_zero: the pages are read, and those all zero left out. */
static int scan_walk(struct cap_walk *w, int pm, uint32_t vi, struct cap_pm_scan_arg *a, int written,
		     int drop_zero)
{
	uint64_t (*reg)[3] = (uint64_t (*)[3])ckpt_scratch.regions;
	uint64_t done = a->start;

	while (a->start < a->end) {
		long n = sys_ioctl(pm, PAGEMAP_SCAN, a);

		if (sys_failed(n))
			return (int)n;
		for (long i = 0; i < n; i++) {
			uint64_t s = reg[i][0] > done ? reg[i][0] : done, e = reg[i][1], c = reg[i][2];
			int zero = written && !((c & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) && !(c & PAGE_IS_PFNZERO));

			if (e <= s)
				continue;
			if (drop_zero ? add_nonzero(w, vi, s, e) : cap_add_run_as(w, vi, s, e, zero))
				return -7;
			done = e;
		}
		if (a->walk_end <= a->start && done <= a->start)
			break;
		a->start = a->walk_end > done ? a->walk_end : done;
	}
	return 0;
}

/* A tracked region in an incremental image: the pages written since the last
 * checkpoint, protected again in the same walk.  Written pages that hold
 * nothing now (dropped with MADV_DONTNEED) become zero runs. */
static int scan_written(struct cap_walk *w, int pm, uint32_t vi)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t (*reg)[3] = (uint64_t (*)[3])ckpt_scratch.regions;
	struct cap_pm_scan_arg a = {
		.size = sizeof(a), .flags = 1 | 2,	/* PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC */
		.start = v->start, .end = v->end,
		.vec = (uint64_t)reg, .vec_len = sizeof(ckpt_scratch.regions) / 24,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO,
	};

	return scan_walk(w, pm, vi, &a, 1, 0);
}

/* Pages that hold data of their own: present or swapped, and not the shared
 * zero page (read but never written); in a private file mapping, only pages
 * copied on write (clean file pages are mapped from the file again). */
static int scan_ioctl(struct cap_walk *w, int pm, uint32_t vi, uint64_t exclude_file, int drop_zero)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t (*reg)[3] = (uint64_t (*)[3])ckpt_scratch.regions;
	/* a guard page (MADV_GUARD_INSTALL) reads as swapped, and reading it is
	 * SIGSEGV; a kernel before 6.14 refuses the bit (and has no guard pages,
	 * but for 6.13) */
	uint64_t guard = ckpt_cfg.pagemap_scan_no_guard ? 0 : PAGE_IS_GUARD;
	/* the shared zero page, left out, would be a missing page at restore:
	 * in a region of the program's userfaultfd, one its handler sees again */
	uint64_t zero = v->flags & CKPT_MAP_UFFD ? 0 : PAGE_IS_PFNZERO;
	struct cap_pm_scan_arg a = {
		.size = sizeof(a), .start = v->start, .end = v->end,
		.vec = (uint64_t)reg, .vec_len = sizeof(ckpt_scratch.regions) / 24,
		.category_inverted = zero | exclude_file | guard,
		.category_mask = zero | exclude_file | guard,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};

	return scan_walk(w, pm, vi, &a, 0, drop_zero);
}

/* Each page's pagemap word in [start, end), read from pm a buffer at a time,
 * to fn with the page's address; a non-zero return from fn stops the walk
 * and is returned.  0 at the end; -errno for a read that failed (fail_addr
 * says where). */
static int each_pagemap_word(struct cap_walk *w, int pm, uint64_t start, uint64_t end,
			     int (*fn)(struct cap_walk *w, void *arg, uint64_t addr, uint64_t word), void *arg)
{
	uint64_t *words = (uint64_t *)ckpt_scratch.iobuf, per = CAP_IOBUF / 8;

	for (uint64_t a = start; a < end; ) {
		uint64_t n = (end - a) / CKPT_PAGE_SIZE;
		long r;

		if (n > per)
			n = per;
		r = sys_pread(pm, words, n * 8, (int64_t)(a / CKPT_PAGE_SIZE * 8));
		if (sys_failed(r) || r == 0) {
			w->fail_addr = a;
			return r ? (int)r : -5;
		}
		for (uint64_t i = 0; i < (uint64_t)r / 8; i++, a += CKPT_PAGE_SIZE) {
			int stop = fn(w, arg, a, words[i]);

			if (stop)
				return stop;
		}
	}
	return 0;
}

struct keep_args {
	uint32_t vi;
	int exclude_file, drop_zero;
};

static int keep_page(struct cap_walk *w, void *arg, uint64_t addr, uint64_t word)
{
	const struct keep_args *k = arg;
	int keep = (word >> 63 & 1) || (word >> 62 & 1);	/* present, swapped */

	if ((k->exclude_file && (word >> 61 & 1)) || (word >> 58 & 1))	/* 61: file, 58: guard page */
		keep = 0;
	if (keep && (k->drop_zero ? add_nonzero : add_run)(w, k->vi, addr, addr + CKPT_PAGE_SIZE))
		return -7;
	return 0;
}

/* Without PAGEMAP_SCAN (kernels before 6.7): the pagemap words.  The zero
 * page cannot be told apart there: read-only-touched pages are stored too,
 * unless drop_zero reads them. */
static int scan_pagemap(struct cap_walk *w, int pm, uint32_t vi, int exclude_file, int drop_zero)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	struct keep_args k = { vi, exclude_file, drop_zero };

	return each_pagemap_word(w, pm, v->start, v->end, keep_page, &k);
}

struct wp_ranges {
	struct ckpt_uffd_range *out;
	uint64_t n, room;
};

static int note_protected(struct cap_walk *w, void *arg, uint64_t addr, uint64_t word)
{
	struct wp_ranges *p = arg;

	if (!(word >> 57 & 1))			/* 57: write-protected by a userfaultfd */
		return 0;
	if (p->n && p->out[p->n - 1].end == addr)
		p->out[p->n - 1].end = addr + CKPT_PAGE_SIZE;
	else if (p->n < p->room)
		p->out[p->n++] = (struct ckpt_uffd_range){ addr, addr + CKPT_PAGE_SIZE };
	else
		w->uffd_wp_dropped++;
	return 0;
}

/* In the pause, once the regions are known: the pages the program's
 * userfaultfd write-protects (pagemap bit 57: a present page's, or with
 * UFFD_FEATURE_WP_UNPOPULATED a marker on one not there yet), as ranges in
 * fdbuf, the userfaultfd's stored bytes.  Read here, not in a forked writer:
 * the fork clears the bit where the child's region is not registered.
 * Ranges past CKPT_UFFD_RANGES_MAX are counted in w->uffd_wp_dropped. */
int cap_collect_uffd_wp(struct cap_walk *w)
{
	struct ckpt_fd *f = &ckpt_scratch.fds[w->program_uffd - 1];
	struct wp_ranges p = { (struct ckpt_uffd_range *)(ckpt_scratch.fdbuf + w->fdbuf_used), 0,
			       (CAP_FDBUF - w->fdbuf_used) / sizeof(struct ckpt_uffd_range) };
	long pm = sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	int err = 0;

	if (p.room > CKPT_UFFD_RANGES_MAX)
		p.room = CKPT_UFFD_RANGES_MAX;
	w->uffd_wp_dropped = 0;
	if (sys_failed(pm)) {
		w->fail_what = "open /proc/self/pagemap";
		return (int)pm;
	}
	for (uint32_t i = 0; i < w->nvmas && !err; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];

		if (v->flags & CKPT_MAP_UFFD_WP)
			err = each_pagemap_word(w, (int)pm, v->start, v->end, note_protected, &p);
	}
	sys_close((int)pm);
	if (err) {
		w->fail_what = "read /proc/self/pagemap";
		return err;
	}
	f->pos = w->fdbuf_used;			/* where in fdbuf, until write time */
	f->data_len = p.n * sizeof(struct ckpt_uffd_range);
	w->fdbuf_used += f->data_len;
	return 0;
}

/* Pages worth storing in region vi, from the pagemap pm: PAGEMAP_SCAN, or
 * the pagemap words on a kernel without it (which is then remembered).
 * drop_zero: read each page found and leave out those all zero. */
static int scan_present(struct cap_walk *w, int pm, uint32_t vi, uint64_t exclude_file, int drop_zero)
{
	uint32_t first = w->nruns;
	int err;

	if (ckpt_cfg.have_pagemap_scan) {
		err = scan_ioctl(w, pm, vi, exclude_file, drop_zero);
		if (err == -22 && !ckpt_cfg.pagemap_scan_no_guard) {	/* without PAGE_IS_GUARD */
			ckpt_cfg.pagemap_scan_no_guard = 1;
			w->nruns = first;
			err = scan_ioctl(w, pm, vi, exclude_file, drop_zero);
		}
		if (err != -25 && err != -22)	/* ENOTTY/EINVAL: kernel without it */
			return err;
		ckpt_cfg.have_pagemap_scan = 0;
		w->nruns = first;
	}
	return scan_pagemap(w, pm, vi, exclude_file != 0, drop_zero);
}

/* the process's /proc/PID/pagemap (the writer is its child), opened into *pm
 * on first use: 0 or -errno */
static int parent_pagemap(const struct cap_walk *w, long *pm)
{
	char path[64];
	int err;

	if (*pm >= 0)
		return 0;
	img_fmt(path, sizeof(path), "/proc/%d/pagemap", w->parent_pid);
	*pm = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (!sys_failed(*pm))
		return 0;
	err = (int)*pm;
	*pm = -1;
	return err;
}

/* Shared memory: pages the page cache holds (mincore) */
static int scan_resident(struct cap_walk *w, uint32_t vi)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];
	uint64_t per = sizeof(ckpt_scratch.mincore_vec);

	for (uint64_t a = v->start; a < v->end; ) {
		uint64_t n = (v->end - a) / CKPT_PAGE_SIZE;
		long r;

		if (n > per)
			n = per;
		r = sys_mincore(a, n * CKPT_PAGE_SIZE, ckpt_scratch.mincore_vec);
		if (sys_failed(r))
			return (int)r;
		for (uint64_t i = 0; i < n; i++)
			if ((ckpt_scratch.mincore_vec[i] & 1) &&
			    add_run(w, vi, a + i * CKPT_PAGE_SIZE, a + (i + 1) * CKPT_PAGE_SIZE))
				return -7;
		a += n * CKPT_PAGE_SIZE;
	}
	return 0;
}

/* In the writer, while the process still waits: the private regions the
 * fork left out (MADV_DONTFORK: V8 gives its whole JavaScript heap that
 * advice) are made again here, at their addresses, and filled with the
 * process's pages through /proc/PID/mem.  Read later, once the process runs
 * on, they would no longer match the rest of the snapshot.  They are the
 * process's regions missing from the writer's own /proc/self/maps.  Pages
 * the process has (present or swapped, not the zero page) are copied; the
 * page scan then finds them in the writer like any other.  may_copy 0: the
 * process was let go on (its count of mapped pages said the fork left
 * nothing out), and a region missing here fails the checkpoint instead. */
int cap_take_dontfork(struct cap_walk *w, int may_copy)
{
	char *buf = ckpt_scratch.iobuf, path[64];
	uint64_t used = (w->fdbuf_used + 15) & ~15ull;	/* past the descriptors' bytes */
	uint64_t (*have)[2] = (uint64_t (*)[2])(ckpt_scratch.fdbuf + used);	/* the writer's regions */
	uint64_t room = (CAP_FDBUF - used) / 16, nhave = 0;
	size_t len = 0;
	long fd = sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0), r, pm = -1, mem = -1;
	int err = 0;

	if (sys_failed(fd))
		return (int)fd;
	for (;;) {			/* "start-end ..." lines, ascending */
		char *p = buf, *eol;

		r = sys_read((int)fd, buf + len, CAP_IOBUF - 1 - len);
		if (r < 0 && r != -4) {
			sys_close((int)fd);
			return (int)r;
		}
		len += r > 0 ? r : 0;
		while ((eol = memchr(p, '\n', buf + len - p)) && nhave < room) {
			const char *q = p;

			have[nhave][0] = hex(&q);
			q++;
			have[nhave++][1] = hex(&q);
			p = eol + 1;
		}
		len -= p - buf;
		memmove(buf, p, len);
		if (r == 0)
			break;
	}
	sys_close((int)fd);
	for (uint32_t i = 0, h = 0; i < w->nvmas && !err; i++) {
		struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		uint32_t first = w->nruns;

		while (h < nhave && have[h][1] <= v->start)
			h++;
		if ((h < nhave && have[h][0] < v->end) || (v->flags & CKPT_MAP_SHARED) ||
		    (v->kind != CKPT_VMA_ANON && v->kind != CKPT_VMA_HEAP && v->kind != CKPT_VMA_FILE &&
		     v->kind != CKPT_VMA_STACK))
			continue;		/* the fork kept it (or it is not ours to make) */
		if (!may_copy) {
			err = -11;		/* EAGAIN: its pages are no longer the snapshot's */
			break;
		}
		r = sys_mmap(v->start, v->end - v->start, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0);
		if (sys_failed(r) || (uint64_t)r != v->start) {
			err = sys_failed(r) ? (int)r : -17;
			break;
		}
		if ((err = parent_pagemap(w, &pm)))
			break;
		if (mem < 0) {
			img_fmt(path, sizeof(path), "/proc/%d/mem", w->parent_pid);
			mem = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
			if (sys_failed(mem)) {
				err = (int)mem;
				mem = -1;
				break;
			}
		}
		err = scan_present(w, (int)pm, i, 0, 0);	/* (ours are still empty: not read) */
		for (uint32_t k = first; k < w->nruns && !err; k++) {	/* the pages, into place */
			const struct ckpt_run *run = &ckpt_scratch.runs[k];
			uint64_t n = run->npages * CKPT_PAGE_SIZE;

			r = sys_pread((int)mem, (void *)run->addr, n, (int64_t)run->addr);
			if ((uint64_t)r != n)
				err = sys_failed(r) ? (int)r : -5;
		}
		w->nruns = first;	/* the real scan comes later */
		ckpt_scratch.remade[i / 8] |= 1u << (i % 8);
	}
	if (pm >= 0)
		sys_close((int)pm);
	if (mem >= 0)
		sys_close((int)mem);
	if (err)
		w->fail_what = may_copy ? "copying the MADV_DONTFORK regions" :
					  "a region the fork left out, found after the process went on";
	return err;
}

/* After the smaps read found MADV_WIPEONFORK regions (empty in the writer):
 * their runs again, from the process's pagemap; every other region keeps the
 * runs it had (rescanning it would also find the pages the writer itself
 * dirtied since).  Runs stay in region order, as the format wants. */
int cap_rescan_from_parent(struct cap_walk *w)
{
	uint64_t bytes = (uint64_t)w->nruns * sizeof(struct ckpt_run);
	long m = sys_mmap(0, bytes ? bytes : CKPT_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ckpt_run *old = (struct ckpt_run *)m;
	long ppm = -1;
	int err = 0;

	if (sys_failed(m))
		return (int)m;
	memcpy(old, ckpt_scratch.runs, bytes);
	w->nruns = 0;
	for (uint32_t i = 0; i < w->nvmas && !err; i++) {
		struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		uint32_t first = v->run_first, count = v->run_count;

		v->run_first = w->nruns;
		if (cap_from_parent(i) && !(v->flags & CKPT_MAP_SHARED) &&
		    (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP || v->kind == CKPT_VMA_STACK ||
		     v->kind == CKPT_VMA_FILE)) {
			if ((err = parent_pagemap(w, &ppm)))
				break;
			err = scan_present(w, (int)ppm, i, v->kind == CKPT_VMA_FILE ? PAGE_IS_FILE : 0, 0);
		} else {
			for (uint32_t k = first; k < first + count; k++) {
				ckpt_scratch.runs[w->nruns] = old[k];
				if (!old[k].data_off)		/* a zero run stays one */
					ckpt_scratch.runs[w->nruns].data_off = ZERO_RUN;
				w->nruns++;
			}
		}
		v->run_count = w->nruns - v->run_first;
		v->pages_stored = 0;
		for (uint32_t r = v->run_first; r < w->nruns; r++)
			if (ckpt_scratch.runs[r].data_off != ZERO_RUN)
				v->pages_stored += ckpt_scratch.runs[r].npages;
	}
	sys_munmap((uint64_t)m, bytes ? bytes : CKPT_PAGE_SIZE);
	if (ppm >= 0)
		sys_close((int)ppm);
	return err;
}

int cap_from_parent(uint32_t i)
{
	return (ckpt_scratch.from_parent[i / 8] >> (i % 8)) & 1;
}

/* Leave region vi's all-zero pages out of the image?  Where the kernel maps
 * no shared zero page (a read fault allocates a zeroed page of its own), a
 * GiB read through and never written is a GiB of present pages: it would
 * be stored whole.  Only for private anonymous memory (heap, stack, anon)
 * that is readable and whose pages are the writer's own, and only when the
 * writer scans (a scan before the fork would read them in the program's
 * pause).  Not a private file mapping (its copied page differs from the
 * file even if all zero), not shared memory (the object keeps what it has),
 * not a region of the program's userfaultfd (a page left out is a missing
 * page at restore, which its handler would see). */
static int drop_zero(const struct cap_walk *w, uint32_t vi)
{
	const struct ckpt_vma *v = &ckpt_scratch.vmas[vi];

	return w->in_writer && !w->keep_zero && !(v->flags & (CKPT_MAP_SHARED | CKPT_MAP_UFFD)) &&
	       (v->prot & PROT_READ) && !cap_from_parent(vi) &&
	       (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP || v->kind == CKPT_VMA_STACK);
}

int cap_scan_pages(struct cap_walk *w)
{
	long pm = sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0), ppm = -1;
	int err = 0;

	w->nruns = 0;
	ckpt_scratch.touch = CAP_TOUCH_UNKNOWN;	/* timed again in this process */
	ckpt_scratch.self_mem = -1;
	if (w->chain)
		cap_hash_begin();		/* page hashes: this scan's table starts empty */
	if (sys_failed(pm)) {
		w->fail_what = "open /proc/self/pagemap";
		return (int)pm;
	}
	for (uint32_t i = 0; i < w->nvmas && !err; i++) {
		struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		uint32_t first = w->nruns;

		v->run_first = first;
		if (v->flags & CKPT_MAP_JOB_SHARED)
			;			/* the job table's object holds its pages */
		else switch (v->kind) {
		case CKPT_VMA_VDSO: case CKPT_VMA_VVAR: case CKPT_VMA_VVAR_VCLOCK:
			break;			/* the kernel's, moved at restore */
		case CKPT_VMA_FILE:
			if (v->flags & CKPT_MAP_SHARED)
				break;		/* the file holds it */
			if (ckpt_cfg.copy_files) {	/* the image must not need the file */
				v->flags |= CKPT_MAP_COPIED;
				err = add_run(w, i, v->start, v->end);
				break;
			}
			__attribute__((fallthrough));	/* private: copied-on-write pages only */
		case CKPT_VMA_ANON: case CKPT_VMA_HEAP: case CKPT_VMA_STACK: {
			uint64_t xf = v->kind == CKPT_VMA_FILE ? PAGE_IS_FILE : 0;

			int use = (int)pm;

			if (w->incremental && (v->flags & CKPT_MAP_TRACKED) && cap_trackable(v)) {
				err = scan_written(w, pm, i);
				break;
			}
			if (ckpt_track.method == TRACK_HASH && w->chain && cap_trackable(v) && !cap_from_parent(i)) {
				err = cap_scan_hashed(w, pm, i);	/* sets FRESH itself */
				break;
			}
			if (cap_from_parent(i)) {	/* the writer lacks these pages: ask the process's */
				if ((err = parent_pagemap(w, &ppm)))
					break;
				use = (int)ppm;
			}
			err = scan_present(w, use, i, xf, drop_zero(w, i));
			break;
		}
		case CKPT_VMA_SHMEM:
			err = scan_resident(w, i);
			break;
		case CKPT_VMA_GONE:		/* no file to map again: all of it */
			err = add_run(w, i, v->start, v->end);
			break;
		}
		v->run_count = w->nruns - first;
		v->pages_stored = 0;
		for (uint32_t r = first; r < w->nruns; r++)
			if (ckpt_scratch.runs[r].data_off != ZERO_RUN)
				v->pages_stored += ckpt_scratch.runs[r].npages;
		if (w->incremental && !((v->flags & CKPT_MAP_TRACKED) && cap_trackable(v)) &&
		    !(ckpt_track.method == TRACK_HASH && cap_trackable(v) && !cap_from_parent(i)))
			v->flags |= CKPT_MAP_FRESH;	/* stored whole: older images do not apply */
		if (err && !w->fail_what) {
			w->fail_what = "page scan";
			w->fail_addr = v->start;
		}
	}
	sys_close(pm);
	if (ppm >= 0)
		sys_close(ppm);
	if (ckpt_scratch.self_mem >= 0)
		sys_close((int)ckpt_scratch.self_mem);
	ckpt_scratch.self_mem = -1;
	return err;
}
