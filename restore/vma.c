/* vma.c -- take the restorer's address space apart and build the image's.
 *
 * Address space while this runs (x86-64, 47-bit user space):
 *
 *   0x000000000000  +---------------------------------------------+
 *                   | image regions below the zone                |
 *   0x1c0000000000  +== restorer zone (include/ckpt_layout.h) ====+
 *                   | restorer text/rodata/data/bss (+ its stack) |
 *   +16 MiB         | image tables (rst_tables_addr)              |
 *   +1008 MiB       | parked [vvar] [vvar_vclock] [vdso]          |
 *   0x1c0040000000  +=============================================+
 *                   | image regions above the zone: PIE program,  |
 *                   | heap, libraries, [stack], vdso/vvar...      |
 *   0x7ffffffff000  +---------------------------------------------+
 *
 * rst_rebuild() parks the kernel's vDSO pages in the zone, unmaps everything
 * outside the zone (the kernel-made stack included: _start left it), moves the
 * vDSO pages to where the image had them, then maps and fills every region.
 */
#include "rst.h"
#include "ckpt_sys.h"

static char maps_buf[1 << 20];		/* this process's /proc/self/maps (a tlongjmp: the program's) */
static uint8_t changed_file[CKPT_MAX_VMAS / 8];	/* per vma: its data file changed (a notice, step 4) */

/* Find this kernel's [vdso], [vvar], [vvar_vclock] in the restorer's own maps. */
int rst_find_specials(struct rst_specials *sp, struct img_err *e)
{
	long fd = sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	uint64_t len = 0;
	const char *p;

	memset(sp, 0, sizeof(*sp));
	if (sys_failed(fd))
		return img_fail(e, "cannot open /proc/self/maps: errno %d", (int)-fd);
	for (;;) {
		long r = sys_read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len);

		if (r <= 0)
			break;
		len += r;
	}
	sys_close(fd);
	if (len >= sizeof(maps_buf) - 1)
		return img_fail(e, "/proc/self/maps is larger than %lu bytes", sizeof(maps_buf) - 1);
	maps_buf[len] = 0;

	for (p = maps_buf; *p; ) {
		const char *name;
		uint64_t start = img_parse_num(&p, 16), end;
		int kind = 0;

		p++;				/* '-' */
		end = img_parse_num(&p, 16);
		while (*p && *p != '\n' && *p != '[')
			p++;
		name = p;
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
		if (!memcmp(name, "[vdso]", 6))
			kind = CKPT_VMA_VDSO;
		else if (!memcmp(name, "[vvar]", 6))
			kind = CKPT_VMA_VVAR;
		else if (!memcmp(name, "[vvar_vclock]", 13))
			kind = CKPT_VMA_VVAR_VCLOCK;
		if (kind) {
			sp->start[kind] = start;
			sp->end[kind] = end;
		}
	}
	if (!sp->start[CKPT_VMA_VDSO])
		return img_fail(e, "this kernel gave the restorer no [vdso]");
	return 0;
}

/* The image's vDSO must be this kernel's: same bytes, same vvar pages at the
 * same distance.  Programs keep pointers into it (glibc resolved clock_gettime
 * there at start-up), so another kernel's vDSO cannot be swapped in. */
int rst_check_vdso(const struct img *img, const struct rst_specials *sp, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;
	uint64_t vdso = sp->start[CKPT_VMA_VDSO], img_vdso = 0;
	uint32_t crc = ckpt_crc32c(0, (const void *)vdso, sp->end[CKPT_VMA_VDSO] - vdso);
	uint64_t sizes[CKPT_VMA_KIND_MAX] = { 0 };

	sizes[CKPT_VMA_VDSO] = h->vdso_size;
	sizes[CKPT_VMA_VVAR] = h->vvar_size;
	sizes[CKPT_VMA_VVAR_VCLOCK] = h->vvar_vclock_size;
	if (crc != h->vdso_crc || h->vdso_size != sp->end[CKPT_VMA_VDSO] - vdso)
		return img_fail(e, "vDSO differs from this kernel's (image from kernel %s): cannot restore", h->kernel);
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++)
		if (sizes[k] != sp->end[k] - sp->start[k])
			return img_fail(e, "[%s] is %lu bytes here, %lu in the image (kernel %s)",
					img_kind_name(k), sp->end[k] - sp->start[k], sizes[k], h->kernel);
	for (uint32_t i = 0; i < h->nvmas; i++) {
		uint32_t k = img->vmas[i].kind;

		if (k == CKPT_VMA_VDSO)
			img_vdso = img->vmas[i].start;
		if (k == CKPT_VMA_VDSO || k == CKPT_VMA_VVAR || k == CKPT_VMA_VVAR_VCLOCK)
			sizes[k] = 0;		/* seen: this kernel's pages have a place */
	}
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++)
		if (sizes[k])
			return img_fail(e, "image has no place for this kernel's [%s]", img_kind_name(k));
	for (uint32_t i = 0; i < h->nvmas && img_vdso; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		if ((v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK) &&
		    v->start - img_vdso != sp->start[v->kind] - vdso)
			return img_fail(e, "[%s] sits at another distance from [vdso] on this kernel",
					img_kind_name(v->kind));
	}
	return 0;
}

/* the last byte past v's start the restorer writes: its stored pages, the resume block */
static uint64_t written_span(const struct img *img, const struct ckpt_vma *v)
{
	uint64_t span = 0, at = img->proc->resume_addr;

	if (v->run_count) {
		const struct ckpt_run *last = &img->runs[v->run_first + v->run_count - 1];

		span = last->addr + last->npages * CKPT_PAGE_SIZE - v->start;
	}
	if (at >= v->start && at < v->end && at + sizeof(struct ckpt_resume) - v->start > span)
		span = at + sizeof(struct ckpt_resume) - v->start;
	return span;
}

/* Open every file the image maps and check it is the file that was mapped.
 * Code that changed cannot run where the program expects it: refused.  Data
 * files that changed are mapped as they are now (as the kernel would show a
 * running program), with a notice once every check has passed (a refusal
 * stays one line).  Pages the restorer would write past the end of a file
 * (SIGBUS, or EFAULT to a read) are refused here, not met in step 4. */
int rst_open_files(const struct img *img, int *fds, int verbose, struct img_err *e)
{
	static char mapped[RST_PATH_MAX], dir[RST_PATH_MAX];

	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		const char *path = img_str(img, v->path_off);
		struct ksys_stat st;
		int mode = (v->flags & CKPT_MAP_SHARED) && (v->flags & CKPT_MAP_MAYWRITE) ? O_RDWR : O_RDONLY;
		long fd;
		int changed;

		fds[i] = -1;
		if (v->kind != CKPT_VMA_FILE)
			continue;
		if (!(path = rst_map_path(path, mapped, e)))	/* --map-path */
			return -1;
		fd = rst_pin(path, S_IFREG, &st);	/* a FIFO would block the open, a device see it */
		if (fd == RST_WRONG_TYPE && !(v->flags & CKPT_MAP_COPIED))
			return img_fail(e, "mapped file %s is now a %s", path, rst_type_name(st.st_mode));
		if (!sys_failed(fd)) {
			long pinned = fd;

			fd = rst_reopen((int)pinned, mode);
			sys_close((int)pinned);
		}
		changed = sys_failed(fd) || st.st_ino != v->ino || ksys_major(st.st_dev) != (v->dev >> 32) ||
			  ksys_minor(st.st_dev) != (uint32_t)v->dev || st.st_size != v->fsize ||
			  (int64_t)st.st_mtime_sec != v->mtime_sec || st.st_mtime_nsec != v->mtime_nsec;
		if (v->flags & CKPT_MAP_COPIED) {	/* the image has every page: the file is optional */
			if (changed) {
				if (!sys_failed(fd))
					sys_close((int)fd);
				if (verbose)
					img_say(2, "restorer: notice: %s is gone or changed; mapped from the image's copy\n",
						path);
			} else {
				fds[i] = (int)fd;
			}
			continue;
		}
		if (fd == -2 || fd == -20)		/* ENOENT, ENOTDIR */
			return img_fail(e, v->flags & CKPT_MAP_SHARED ? "mapped file %s is gone (--map-path %s=NEW maps it)"
					: "mapped file %s is gone (--map-path %s=NEW maps it; CKPT_COPY_FILES=1 at "
					  "checkpoint time stores it)", path, rst_dir_of(img_str(img, v->path_off), dir));
		if (sys_failed(fd))
			return img_fail(e, "mapped file %s: cannot open: errno %d", path, (int)-fd);
		fds[i] = (int)fd;
		if (v->pgoff + written_span(img, v) > (((uint64_t)st.st_size + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1)))
			return img_fail(e, "mapped file %s: pages to write at offset %lu lie past its end (%ld bytes)",
					path, v->pgoff, st.st_size);
		if (st.st_ino != v->ino || ksys_major(st.st_dev) != (v->dev >> 32) ||
		    ksys_minor(st.st_dev) != (uint32_t)v->dev)
			return img_fail(e, "mapped file %s was replaced (inode %lu, was %lu)", path,
					st.st_ino, v->ino);
		if (changed && (v->prot & PROT_EXEC))
			return img_fail(e, "code file %s changed since the checkpoint", path);
		if (changed && st.st_size < v->fsize && !(v->flags & CKPT_MAP_SHARED) &&
		    (uint64_t)st.st_size < v->pgoff + (v->end - v->start))
			return img_fail(e, "mapped file %s shrank from %ld to %ld bytes", path, v->fsize, st.st_size);
		if (changed)
			changed_file[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	return 0;
}

static void __attribute__((noreturn)) die(const struct img *img, int status, const char *what,
					  uint64_t addr, uint64_t len, long err)
{
	img_say(2, "restorer: %s: %s 0x%lx+0x%lx: errno %d\n", img->path, what, addr, len, (int)-err);
	sys_exit_group(status);
}

/* read one run's pages into place (its region built `delta` bytes away from
 * its address) and check them against the run's crc */
static void fill_run(const struct img *img, const struct ckpt_run *run, uint64_t delta)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE, done = 0, to = run->addr + delta;
	uint32_t crc = 0;

	/* 1 MiB at a time: the crc reads each piece while it is still in cache */
	while (done < len) {
		uint64_t n = len - done > (1u << 20) ? (1u << 20) : len - done;
		long r = sys_pread(img->fd, (void *)(to + done), n, run->data_off + done);

		if (r == -4)
			continue;
		if (r <= 0)
			die(img, 127, "read pages", run->addr + done, n, r ? r : -5);
		crc = ckpt_crc32c(crc, (const void *)(to + done), r);
		done += r;
	}
	if (crc != run->crc) {
		img_say(2, "restorer: %s: page data checksum mismatch at 0x%lx: image corrupted\n",
			img->path, run->addr);
		sys_exit_group(2);
	}
}

/* Check every run's crc before anything is torn down (a tlongjmp must leave
 * the program as it was when the image is bad), reading through a buffer. */
int rst_verify_runs(const struct img *img, struct img_err *e)
{
	static char buf[1 << 20];

	for (uint32_t i = 0; i < img->hdr.nruns; i++) {
		const struct ckpt_run *run = &img->runs[i];
		uint64_t len = run->npages * CKPT_PAGE_SIZE;
		uint32_t crc = 0;

		if (!run->data_off)
			continue;		/* zero pages: nothing stored */
		for (uint64_t done = 0; done < len; ) {
			long r = sys_pread(img->fd, buf, len - done > sizeof(buf) ? sizeof(buf) : len - done,
					   run->data_off + done);

			if (r <= 0)
				return img_fail(e, "reading page data at %lu failed", run->data_off + done);
			crc = ckpt_crc32c(crc, buf, r);
			done += r;
		}
		if (crc != run->crc)
			return img_fail(e, "page data checksum mismatch at 0x%lx: image corrupted", run->addr);
	}
	return 0;
}

static const struct { uint32_t flag; int advice; } advices[] = {
	{ CKPT_ADV_DONTFORK, MADV_DONTFORK },
	{ CKPT_ADV_DONTDUMP, MADV_DONTDUMP },
	{ CKPT_ADV_WIPEONFORK, MADV_WIPEONFORK },
	{ CKPT_ADV_HUGEPAGE, MADV_HUGEPAGE },
	{ CKPT_ADV_NOHUGEPAGE, MADV_NOHUGEPAGE },
	{ CKPT_ADV_MERGEABLE, MADV_MERGEABLE },
	{ CKPT_ADV_SEQUENTIAL, MADV_SEQUENTIAL },
	{ CKPT_ADV_RANDOM, MADV_RANDOM },
};

static int private_anon(const struct ckpt_vma *v)
{
	return !(v->flags & CKPT_MAP_SHARED) && (v->kind == CKPT_VMA_ANON || v->kind == CKPT_VMA_HEAP ||
						  v->kind == CKPT_VMA_STACK || v->kind == CKPT_VMA_GONE);
}

/* Two adjacent private anonymous regions the kernel would merge into one on
 * mmap, though the program had two (each had its own anon_vma, from separate
 * mappings).  Kept apart, /proc/self/maps reads as it did. */
static int twins(const struct ckpt_vma *a, const struct ckpt_vma *b)
{
	return a->end == b->start && private_anon(a) && private_anon(b) && a->prot == b->prot &&
	       a->flags == b->flags && a->advice == b->advice && a->pkey == b->pkey && !a->name_off &&
	       !b->name_off;
}

/* map one region at its address, fill its stored pages, give it its final
 * protection, advice, name and protection key.  A region with a twin is built
 * away from its place and moved in with mremap: a moved region with pages of
 * its own keeps its own anon_vma, which the kernel never merges. */
/* Lazy: map a run's pages MAP_PRIVATE straight from the image file over the
 * fresh region.  Nothing is read now; each page comes in on first touch, and a
 * write copies it.  Not for shared memory (the pages must be the object's), nor
 * for the stack (a file-backed piece at its bottom would stop it growing). */
static void map_run_lazily(const struct img *img, const struct ckpt_run *run, uint64_t delta, int prot)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE;
	long r = sys_mmap(run->addr + delta, len, prot, MAP_PRIVATE | MAP_FIXED, img->fd, run->data_off);

	if (r != (long)(run->addr + delta))
		die(img, 127, "map image pages", run->addr, len, sys_failed(r) ? r : -17);
}

static void seal_vma(const struct img *img, const struct ckpt_vma *v, int tmp_prot, int verbose);

/* tmp_prot: while pages go in, a private region is writable; a shared file
 * mapping never receives pages and keeps what its file's open mode allows */
static int fill_prot(const struct ckpt_vma *v, int chained)
{
	if ((v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)) || (!chained && !v->run_count))
		return v->prot;
	return v->prot | PROT_READ | PROT_WRITE;
}

static void map_vma(const struct img *img, const struct ckpt_vma *v, int fd, int apart, int lazy,
		    int chained, int verbose)
{
	uint64_t len = v->end - v->start, at = v->start;
	int prot = v->prot, flags = MAP_FIXED_NOREPLACE, tmp_prot = fill_prot(v, chained);
	long r;

	if (v->kind == CKPT_VMA_FILE && fd >= 0) {
		flags |= v->flags & CKPT_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
	} else {				/* anonymous (or a copied file that is gone) */
		fd = -1;
		flags |= MAP_ANONYMOUS | (v->flags & CKPT_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE);
	}
	if (v->flags & CKPT_MAP_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	if (v->flags & CKPT_MAP_NORESERVE)
		flags |= MAP_NORESERVE;
	if (apart) {				/* anywhere free, moved in below */
		flags &= ~MAP_FIXED_NOREPLACE;
		at = 0;
		tmp_prot = prot | PROT_READ | PROT_WRITE;
	}
	r = sys_mmap(at, len, tmp_prot, flags, fd, fd >= 0 ? v->pgoff : 0);
	if (sys_failed(r) || (!apart && r != (long)v->start))
		die(img, 127, "mmap", v->start, len, sys_failed(r) ? r : -17);
	at = (uint64_t)r;
	if (chained)
		return;				/* filled from the whole chain, sealed after */

	for (uint32_t i = v->run_first; i < v->run_first + v->run_count; i++) {
		if (lazy)
			map_run_lazily(img, &img->runs[i], at - v->start, tmp_prot);
		else
			fill_run(img, &img->runs[i], at - v->start);
	}
	if (apart) {
		if (!v->run_count) {		/* no page yet: make the anon_vma exist */
			*(volatile char *)at = 0;
			sys_madvise(at, CKPT_PAGE_SIZE, 4);	/* MADV_DONTNEED */
		}
		r = sys_mremap(at, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
		if (sys_failed(r))
			die(img, 127, "mremap", v->start, len, r);
	}
	seal_vma(img, v, tmp_prot, verbose);
}

static uint32_t unlocked;		/* regions mlock refused */

/* final protection (and key), advice, lock, name, mseal */
static void seal_vma(const struct img *img, const struct ckpt_vma *v, int tmp_prot, int verbose)
{
	uint64_t len = v->end - v->start;
	int prot = v->prot;
	long r;

	if (v->pkey)
		r = sys_pkey_mprotect(v->start, len, prot, v->pkey);
	else
		r = tmp_prot != prot ? sys_mprotect(v->start, len, prot) : 0;
	if (sys_failed(r))
		die(img, 127, "mprotect", v->start, len, r);

	for (uint32_t i = 0; i < sizeof(advices) / sizeof(advices[0]); i++) {
		if (!(v->advice & advices[i].flag))
			continue;
		r = sys_madvise(v->start, len, advices[i].advice);
		if (sys_failed(r) && verbose)
			img_say(2, "restorer: notice: madvise(0x%lx, %d): errno %d\n", v->start,
				advices[i].advice, (int)-r);
	}
	if (v->advice & CKPT_ADV_LOCKED) {	/* MLOCK_ONFAULT (1) with lf */
		r = sys_mlock2(v->start, len, v->advice & CKPT_ADV_LOCKONFAULT ? 1 : 0);
		if (sys_failed(r) && !unlocked++)	/* one line: RLIMIT_MEMLOCK refuses them all */
			img_say(2, "restorer: notice: region 0x%lx and any locked after it may stay unlocked: "
				"mlock errno %d\n", v->start, (int)-r);
	}
	if (v->name_off) {
		r = sys_prctl(CKPT_PR_SET_VMA, CKPT_PR_SET_VMA_ANON_NAME, v->start, len,
			      (uint64_t)img_str(img, v->name_off));
		if (sys_failed(r) && verbose)
			img_say(2, "restorer: notice: region 0x%lx keeps no name: errno %d\n", v->start, (int)-r);
	}
	if (v->advice & CKPT_ADV_SEALED) {	/* last: nothing changes it after this */
		r = sys_mseal(v->start, len);
		if (sys_failed(r))
			img_say(2, "restorer: notice: region 0x%lx stays unsealed: mseal errno %d\n", v->start,
				(int)-r);
	}
}

/* ---- incremental chains: pages of every image, oldest first ---- */

static int is_special(const struct ckpt_vma *v)
{
	return v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK;
}

/* the restored regions' part of [a, b): zeroed (private: the pages drop
 * back to zero; shared memory: the hole is punched in the object) */
static void clear_range(const struct img *img, uint64_t a, uint64_t b)
{
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		uint64_t s = a > v->start ? a : v->start, e = b < v->end ? b : v->end;

		if (s >= e || is_special(v) || (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)))
			continue;
		sys_madvise(s, e - s, v->flags & CKPT_MAP_SHARED ? 9 /* MADV_REMOVE */ : 4 /* MADV_DONTNEED */);
	}
}

/* the restored region holding all of [a, b), or 0 */
static const struct ckpt_vma *holder(const struct img *img, uint64_t a, uint64_t b)
{
	uint32_t lo = 0, hi = img->hdr.nvmas;

	while (lo < hi) {			/* vmas are sorted and disjoint */
		uint32_t mid = (lo + hi) / 2;

		if (img->vmas[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->hdr.nvmas && img->vmas[lo].start <= a && b <= img->vmas[lo].end &&
	    !is_special(&img->vmas[lo]) && !(img->vmas[lo].kind == CKPT_VMA_FILE && (img->vmas[lo].flags & CKPT_MAP_SHARED)))
		return &img->vmas[lo];
	return 0;
}

/* A run of an older image whose pages now straddle regions (or fall outside
 * any): read it through a buffer for its crc, copy what has a place. */
static void fill_run_clipped(const struct img *from, const struct img *to, const struct ckpt_run *run)
{
	static char buf[1 << 20];
	uint64_t len = run->npages * CKPT_PAGE_SIZE;
	uint32_t crc = 0;

	for (uint64_t done = 0; done < len; ) {
		uint64_t n = len - done > sizeof(buf) ? sizeof(buf) : len - done;
		long r = sys_pread(from->fd, buf, n, run->data_off + done);

		if (r != (long)n)
			die(from, 127, "read pages", run->addr + done, n, r < 0 ? r : -5);
		crc = ckpt_crc32c(crc, buf, n);
		for (uint64_t p = 0; p < n; p += CKPT_PAGE_SIZE) {
			uint64_t a = run->addr + done + p;

			if (holder(to, a, a + CKPT_PAGE_SIZE))
				memcpy((void *)a, buf + p, CKPT_PAGE_SIZE);
		}
		done += n;
	}
	if (crc != run->crc) {
		img_say(2, "restorer: %s: page data checksum mismatch at 0x%lx: image corrupted\n",
			from->path, run->addr);
		sys_exit_group(2);
	}
}

/* chain[0] is the full image, chain[n-1] the newest (whose layout is built).
 * Oldest first: a region an image stored whole (CKPT_MAP_FRESH) forgets what
 * older images had there; then its runs go in, zero runs dropping pages. */
static void apply_chain(const struct img *const *chain, uint32_t n)
{
	const struct img *top = chain[n - 1];

	for (uint32_t j = 0; j < n; j++) {
		const struct img *im = chain[j];

		for (uint32_t i = 0; j && i < im->hdr.nvmas; i++)
			if (im->vmas[i].flags & CKPT_MAP_FRESH)
				clear_range(top, im->vmas[i].start, im->vmas[i].end);
		for (uint32_t i = 0; i < im->hdr.nruns; i++) {
			const struct ckpt_run *run = &im->runs[i];
			uint64_t end = run->addr + run->npages * CKPT_PAGE_SIZE;

			if (!run->data_off)
				clear_range(top, run->addr, end);
			else if (holder(top, run->addr, end))
				fill_run(im, run, 0);
			else
				fill_run_clipped(im, top, run);
		}
	}
}

/* Allocate exactly the protection keys the image's regions use (pkey_alloc
 * hands out the lowest free key, so take keys until every needed one is ours,
 * then give back the rest). */
int rst_alloc_pkeys(const struct img *img, struct img_err *e)
{
	uint32_t need = 0, have = 1, extra = 0;	/* key 0 always exists */

	for (uint32_t i = 0; i < img->hdr.nvmas; i++)
		need |= 1u << img->vmas[i].pkey;
	need &= ~1u;
	while (need & ~have) {
		long k = sys_pkey_alloc();

		if (sys_failed(k))
			return img_fail(e, "image uses protection keys (mask 0x%x) and pkey_alloc failed: errno %d",
					need, (int)-k);
		have |= 1u << k;
		if (!(need & (1u << k)))
			extra |= 1u << k;
	}
	for (int k = 1; k < 16; k++)
		if (extra & (1u << k))
			sys_pkey_free(k);
	return 0;
}

extern char rst_zone_start[], rst_zone_end[], rst_park_addr[];

void rst_rebuild(const struct img *const *chain, uint32_t nchain, const struct rst_specials *sp,
		 const int *fds, int lazy, int verbose)
{
	const struct img *img = chain[nchain - 1];
	int chained = nchain > 1;
	uint64_t zs = (uint64_t)rst_zone_start, ze = (uint64_t)rst_zone_end;
	uint64_t park = (uint64_t)rst_park_addr, base = sp->start[CKPT_VMA_VDSO];
	uint64_t parked[CKPT_VMA_KIND_MAX] = { 0 };
	long r;

	/* 1. park the vDSO pages in the zone, keeping their relative layout */
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++) {
		if (sp->start[k] < base && sp->start[k])
			base = sp->start[k];
	}
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++) {
		uint64_t len = sp->end[k] - sp->start[k];

		if (!sp->start[k])
			continue;
		parked[k] = park + (sp->start[k] - base);
		r = sys_mremap(sp->start[k], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, parked[k]);
		if (sys_failed(r))
			die(img, 127, "park vdso pages", sp->start[k], len, r);
	}

	/* 2. everything outside the zone goes: the kernel's stack, anything else */
	r = sys_munmap(0, zs);
	if (!sys_failed(r))
		r = sys_munmap(ze, IMG_TASK_SIZE - ze);
	if (sys_failed(r))
		die(img, 127, "unmap", 0, IMG_TASK_SIZE, r);

	/* 3. the vDSO pages go where the image had them (rst_check_vdso made sure
	 * the image has each one this kernel has, with the same size) */
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++) {
		uint64_t len = sp->end[k] - sp->start[k], to = 0;

		if (!parked[k])
			continue;
		for (uint32_t i = 0; i < img->hdr.nvmas; i++)
			if (img->vmas[i].kind == k)
				to = img->vmas[i].start;
		r = sys_mremap(parked[k], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (sys_failed(r))
			die(img, 127, "place vdso pages", to, len, r);
	}

	/* 4. every other region, in address order */
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		int lazy_here = lazy && !chained && !(v->flags & CKPT_MAP_SHARED) && v->kind != CKPT_VMA_STACK;
		int apart = !lazy_here && !chained && ((i > 0 && twins(&img->vmas[i - 1], v)) ||
						       (i + 1 < img->hdr.nvmas && twins(v, &img->vmas[i + 1])));

		if (changed_file[i / 8] & (1u << (i % 8)))
			img_say(2, "restorer: notice: %s changed since the checkpoint; mapped as it is now\n",
				img_str(img, v->path_off));
		if (!is_special(v))
			map_vma(img, v, fds[i], apart, lazy_here, chained, verbose);
	}
	if (!chained)
		return;
	apply_chain(chain, nchain);
	for (uint32_t i = 0; i < img->hdr.nvmas; i++)
		if (!is_special(&img->vmas[i]))
			seal_vma(img, &img->vmas[i], fill_prot(&img->vmas[i], 1), verbose);
}
