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

extern char rst_zone_start[], rst_zone_end[], rst_park_addr[];

static char maps_buf[1 << 20];		/* this process's /proc/self/maps (a tlongjmp: the program's) */
static uint8_t changed_file[CKPT_MAX_VMAS / 8];	/* per vma: its data file changed (a notice, step 4) */
static struct { uint32_t vma; int fd; uint64_t offset; } shared[RST_MAX_SHARED_VMAS];	/* a job's (job.c) */
static uint32_t nshared;

/* Region i is memory the job's processes share: step 4 maps it from fd (a
 * memfd the job's restore filled) at offset, not from this image.  0, or -1
 * when the table is full. */
int rst_share_vma(uint32_t i, int fd, uint64_t offset)
{
	if (nshared == RST_MAX_SHARED_VMAS)
		return -1;
	shared[nshared].vma = i;
	shared[nshared].fd = fd;
	shared[nshared++].offset = offset;
	return 0;
}


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

/* ---- the vDSO: this kernel's, or another kernel's redirected to it ----
 *
 * The program keeps pointers into the image's [vdso]: glibc resolved
 * clock_gettime and friends there at start-up, and AT_SYSINFO_EHDR names it.
 * When this kernel's vDSO is the image's (same bytes, its [vvar] pages at the
 * same distances), its pages simply move to the image's places.  Otherwise,
 * when the image carries the old vDSO's bytes (hdr.vdso_data_off), this
 * kernel's pages go, their layout kept, to a gap of the image's layout, and
 * the image's [vdso] address gets private pages holding the old bytes in
 * which each exported function starts with a jump to this kernel's function
 * of the same name, or with a system call when it has none.  The image's old
 * [vvar] addresses stay empty: only the old code read them, and no function
 * of it runs any more.  Everything is worked out here, in step 3, into
 * redirect_copy; step 4 only maps it (map_redirect). */

#define RST_VDSO_MAX	(64u << 10)	/* the largest [vdso] redirected */
#define STACK_ROOM	(128ull << 20)	/* kept free below a region that grows down */
static uint8_t redirect_copy[RST_VDSO_MAX];	/* the old bytes, then the jumps and stubs */

/* 1 when the image's vDSO is this kernel's: same bytes and size, the same
 * [vvar] pages at the same distances from it, each of them with its place */
static int same_vdso(const struct img *img, const struct rst_specials *sp)
{
	const struct ckpt_hdr *h = &img->hdr;
	uint64_t vdso = sp->start[CKPT_VMA_VDSO], img_vdso = 0;
	uint64_t sizes[CKPT_VMA_KIND_MAX] = { 0 };
	uint32_t seen = 0;

	sizes[CKPT_VMA_VDSO] = h->vdso_size;
	sizes[CKPT_VMA_VVAR] = h->vvar_size;
	sizes[CKPT_VMA_VVAR_VCLOCK] = h->vvar_vclock_size;
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++)
		if (sizes[k] != sp->end[k] - sp->start[k])
			return 0;
	if (ckpt_crc32c(0, (const void *)vdso, h->vdso_size) != h->vdso_crc)
		return 0;
	for (uint32_t i = 0; i < h->nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		if (v->kind == CKPT_VMA_VDSO)
			img_vdso = v->start;
		if (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK)
			seen |= 1u << v->kind;
	}
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++)
		if (sp->start[k] && !(seen & (1u << k)))
			return 0;
	for (uint32_t i = 0; i < h->nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		if ((v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK) &&
		    v->start - img_vdso != sp->start[v->kind] - vdso)
			return 0;
	}
	return 1;
}

/* n (<= 8) little-endian bytes at off of the size bytes at b; 0 when any of
 * them lies past the end: nothing here reads outside a vDSO, whatever its
 * offsets say */
static uint64_t elf_get(const uint8_t *b, uint64_t size, uint64_t off, uint32_t n)
{
	uint64_t v = 0;

	if (off <= size && n <= size - off)
		memcpy(&v, b + off, n);
	return v;
}

/* A vDSO's dynamic symbol table, found as the dynamic loader finds it:
 * PT_DYNAMIC's DT_SYMTAB, DT_STRTAB, DT_STRSZ, and the symbol count from
 * DT_HASH (its nchain) or DT_GNU_HASH (its last chain's end).  Addresses are
 * turned into offsets by the segment at file offset 0; every offset is
 * checked against the size. */
struct vdso_syms {
	const uint8_t *b;
	uint64_t size;
	uint64_t bias;			/* p_vaddr of the segment at file offset 0 */
	uint64_t symtab, nsyms;		/* offset of Elf64_Sym [nsyms] */
	uint64_t strtab, strsz;
};

#define ELF_GET(s, off, n)	elf_get((s)->b, (s)->size, (off), (n))

/* how many symbols a DT_GNU_HASH table at off covers: past the highest one a
 * bucket names, to the end of its chain (bit 0 set); 0 when it runs out */
static uint64_t gnu_hash_count(const struct vdso_syms *s, uint64_t off)
{
	uint64_t nbuckets = ELF_GET(s, off, 4), symoffset = ELF_GET(s, off + 4, 4);
	uint64_t buckets = off + 16 + 8 * ELF_GET(s, off + 8, 4), top = 0;

	if (buckets > s->size || nbuckets > (s->size - buckets) / 4)
		return 0;
	for (uint64_t i = 0; i < nbuckets; i++)
		if (ELF_GET(s, buckets + 4 * i, 4) > top)
			top = ELF_GET(s, buckets + 4 * i, 4);
	if (top < symoffset)
		return symoffset;
	for (uint64_t chain = buckets + 4 * nbuckets; top - symoffset < s->size / 4; top++)
		if (ELF_GET(s, chain + 4 * (top - symoffset), 4) & 1)
			return top + 1;
	return 0;
}

static int vdso_symbols(const uint8_t *b, uint64_t size, struct vdso_syms *s)
{
	uint64_t phoff = elf_get(b, size, 32, 8), phnum = elf_get(b, size, 56, 2);
	uint64_t dyn = 0, dynsz = 0, hash = 0, gnu_hash = 0, syment = 24;
	int loaded = 0;

	memset(s, 0, sizeof(*s));
	s->b = b;
	s->size = size;
	/* "\x7fELF", 64-bit, little-endian, Elf64_Phdr entries */
	if (elf_get(b, size, 0, 4) != 0x464c457f || elf_get(b, size, 4, 2) != 0x0102 ||
	    elf_get(b, size, 54, 2) != 56 || phoff > size || phnum > (size - phoff) / 56)
		return -1;
	for (uint64_t ph = phoff; ph < phoff + phnum * 56; ph += 56) {
		uint32_t type = (uint32_t)elf_get(b, size, ph, 4);

		if (type == 1 && !loaded && elf_get(b, size, ph + 8, 8) == 0) {	/* PT_LOAD at offset 0 */
			s->bias = elf_get(b, size, ph + 16, 8);
			loaded = 1;
		}
		if (type == 2) {					/* PT_DYNAMIC */
			dyn = elf_get(b, size, ph + 8, 8);
			dynsz = elf_get(b, size, ph + 32, 8);
		}
	}
	if (!loaded || !dyn || dyn > size || dynsz > size - dyn)
		return -1;
	for (uint64_t d = dyn; d + 16 <= dyn + dynsz; d += 16) {
		uint64_t tag = elf_get(b, size, d, 8), val = elf_get(b, size, d + 8, 8);

		if (tag == 0)			/* DT_NULL */
			break;
		if (tag == 4)			/* DT_HASH (an address, as the next three) */
			hash = val - s->bias;
		else if (tag == 0x6ffffef5)	/* DT_GNU_HASH */
			gnu_hash = val - s->bias;
		else if (tag == 5)		/* DT_STRTAB */
			s->strtab = val - s->bias;
		else if (tag == 6)		/* DT_SYMTAB */
			s->symtab = val - s->bias;
		else if (tag == 10)		/* DT_STRSZ */
			s->strsz = val;
		else if (tag == 11)		/* DT_SYMENT */
			syment = val;
	}
	s->nsyms = hash ? ELF_GET(s, hash + 4, 4) : gnu_hash ? gnu_hash_count(s, gnu_hash) : 0;
	if (syment != 24 || !s->symtab || s->symtab > size || s->nsyms > (size - s->symtab) / 24 ||
	    !s->strtab || s->strtab > size || s->strsz > size - s->strtab)
		return -1;
	return 0;
}

/* symbol i's name, or 0 when it does not end inside the string table */
static const char *sym_name(const struct vdso_syms *s, uint64_t i)
{
	uint64_t at = ELF_GET(s, s->symtab + 24 * i, 4);

	for (uint64_t k = at; k < s->strsz; k++)
		if (!s->b[s->strtab + k])
			return (const char *)s->b + s->strtab + at;
	return 0;
}

/* the offset of symbol i, a function defined in the vDSO (STT_FUNC, not
 * SHN_UNDEF), into it; or ~0 */
static uint64_t func_offset(const struct vdso_syms *s, uint64_t i)
{
	uint64_t sym = s->symtab + 24 * i, off = ELF_GET(s, sym + 8, 8) - s->bias;

	if ((ELF_GET(s, sym + 4, 1) & 0xf) != 2 || !ELF_GET(s, sym + 6, 2) || off >= s->size)
		return ~0ull;
	return off;
}

/* the system call a vDSO function stands for, by name (__vdso_ or not), or 0 */
static uint32_t syscall_of(const char *name)
{
	static const struct { char name[14]; uint16_t nr; } calls[] = {
		{ "clock_gettime", 228 }, { "gettimeofday", 96 }, { "time", 201 },
		{ "getcpu", 309 }, { "clock_getres", 229 },
	};

	if (!memcmp(name, "__vdso_", 7))
		name += 7;
	for (uint32_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (rst_streq(name, calls[i].name))
			return calls[i].nr;
	return 0;
}

/* The stubs written at an old function's start (SysV ABI: its arguments in
 * rdi, rsi, rdx, which a system call takes as they are; r11 is free at a call) */
#define JUMP_LEN	13	/* 49 bb imm64: movabs r11, target; 41 ff e3: jmp r11 */
#define CALL_LEN	8	/* b8 imm32: mov eax, nr; 0f 05: syscall; c3: ret */
					/* 48 c7 c0 imm32: mov rax, -ENOSYS; c3: ret */

/* Each function of the old vDSO (symbols in old) redirected in redirect_copy:
 * to this kernel's function of the same name (symbols in now, mapped at
 * now_at), else to its system call, else to -ENOSYS.  Every stub must end
 * before the next function starts. */
static int redirect_functions(const struct vdso_syms *old, const struct vdso_syms *now, uint64_t now_at,
			      struct rst_specials *sp, struct img_err *e)
{
	for (uint64_t i = 0; i < old->nsyms; i++) {
		uint64_t at = func_offset(old, i), room = old->size, to = ~0ull;
		const char *name = sym_name(old, i);
		uint8_t *p;
		uint32_t nr;

		if (at == ~0ull)
			continue;
		p = redirect_copy + at;
		if (!name)
			return img_fail(e, "stored vDSO: function %lu has no name", i);
		for (uint64_t j = 0; j < old->nsyms; j++)	/* the next function, or the end */
			if (func_offset(old, j) > at && func_offset(old, j) < room)
				room = func_offset(old, j);
		for (uint64_t j = 0; j < now->nsyms && to == ~0ull; j++) {
			const char *n = sym_name(now, j);

			if (func_offset(now, j) != ~0ull && n && rst_streq(n, name))
				to = now_at + func_offset(now, j);
		}
		if (room - at < (to != ~0ull ? JUMP_LEN : CALL_LEN))
			return img_fail(e, "stored vDSO: %s has %lu bytes, too few for a jump", name, room - at);
		nr = syscall_of(name);
		if (to != ~0ull) {
			p[0] = 0x49, p[1] = 0xbb;
			memcpy(p + 2, &to, 8);
			p[10] = 0x41, p[11] = 0xff, p[12] = 0xe3;
			sp->jumps++;
		} else if (nr) {
			p[0] = 0xb8;
			memcpy(p + 1, &nr, 4);
			p[5] = 0x0f, p[6] = 0x05, p[7] = 0xc3;
			sp->calls++;
		} else {
			p[0] = 0x48, p[1] = 0xc7, p[2] = 0xc0;
			p[3] = 0xda, p[4] = 0xff, p[5] = 0xff, p[6] = 0xff;	/* -38 */
			p[7] = 0xc3;
			sp->enosys++;
		}
	}
	return 0;
}

static uint64_t fits(uint64_t lo, uint64_t hi, uint64_t len)
{
	return hi > lo && hi - lo >= len ? hi - len : 0;
}

/* The start of len bytes at the top of the highest gap of the image's
 * layout: outside every region it has (its old [vvar]s too) and the
 * restorer's zone, STACK_ROOM below a region that grows down; or 0. */
static uint64_t find_gap(const struct img *img, uint64_t len)
{
	uint64_t zs = (uint64_t)rst_zone_start, ze = (uint64_t)rst_zone_end, at;

	for (uint32_t i = img->hdr.nvmas + 1; i-- > 0;) {
		uint64_t lo = i ? img->vmas[i - 1].end : 1ull << 32;
		uint64_t hi = i < img->hdr.nvmas ? img->vmas[i].start : IMG_TASK_SIZE;

		if (i < img->hdr.nvmas && (img->vmas[i].flags & CKPT_MAP_GROWSDOWN))
			hi = hi > STACK_ROOM ? hi - STACK_ROOM : 0;
		if (hi > zs && lo < ze) {	/* the zone splits it: above, else below */
			if ((at = fits(lo > ze ? lo : ze, hi, len)))
				return at;
			hi = zs;
		}
		if ((at = fits(lo, hi, len)))
			return at;
	}
	return 0;
}

/* The image's stored vDSO bytes into redirect_copy, checked against vdso_crc
 * (whichever vDSO this kernel has: a corrupted image is refused) */
static int read_stored_vdso(const struct img *img, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;

	if (h->vdso_size > RST_VDSO_MAX)
		return img_fail(e, "stored vDSO of %lu bytes: this restorer takes at most %u", h->vdso_size,
				RST_VDSO_MAX);
	for (uint64_t done = 0; done < h->vdso_size;) {
		long r = sys_pread(img->fd, redirect_copy + done, h->vdso_size - done, h->vdso_data_off + done);

		if (r <= 0 && r != -4)
			return img_fail(e, "reading the stored vDSO at %lu failed", h->vdso_data_off + done);
		done += r > 0 ? (uint64_t)r : 0;
	}
	if (ckpt_crc32c(0, redirect_copy, h->vdso_size) != h->vdso_crc)
		return img_fail(e, "stored vDSO bytes checksum mismatch: image corrupted");
	return 0;
}

/* Another kernel's vDSO, its bytes in redirect_copy: a gap chosen for this
 * kernel's pages, the old functions redirected there. */
static int plan_redirect(const struct img *img, struct rst_specials *sp, struct img_err *e)
{
	const struct ckpt_hdr *h = &img->hdr;
	uint64_t base = sp->start[CKPT_VMA_VDSO], top = sp->end[CKPT_VMA_VDSO], img_vdso = 0;
	struct vdso_syms old, now;

	for (uint32_t i = 0; i < h->nvmas; i++)
		if (img->vmas[i].kind == CKPT_VMA_VDSO)
			img_vdso = img->vmas[i].start;
	if (!img_vdso)
		return img_fail(e, "image has no place for this kernel's [vdso]");
	for (uint32_t i = 0; i < h->nthreads; i++) {	/* stopped there, or the signal came there */
		const struct ckpt_thread *t = &img->threads[i];
		uint64_t rip = t->sig_rip - img_vdso < h->vdso_size ? t->sig_rip : t->regs.rip;

		if (rip - img_vdso < h->vdso_size)
			return img_fail(e, "thread %u was inside the vDSO at the checkpoint (rip 0x%lx): it cannot "
					"go on in another kernel's", t->tid, rip);
	}
	if (vdso_symbols(redirect_copy, h->vdso_size, &old))
		return img_fail(e, "stored vDSO has no dynamic symbol table this restorer can read");
	if (vdso_symbols((const uint8_t *)base, top - base, &now))
		return img_fail(e, "this kernel's vDSO has no dynamic symbol table this restorer can read");
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++) {
		if (sp->start[k] && sp->start[k] < base)
			base = sp->start[k];
		if (sp->end[k] > top)
			top = sp->end[k];
	}
	sp->moved_to = find_gap(img, top - base);
	if (!sp->moved_to)
		return img_fail(e, "no room for this kernel's vDSO pages (%lu bytes) in the image's layout", top - base);
	sp->redirect_at = img_vdso;
	return redirect_functions(&old, &now, sp->moved_to + (sp->start[CKPT_VMA_VDSO] - base), sp, e);
}

/* This kernel's vDSO where the image had its own, or the image's redirected
 * to it (plan_redirect); an image without the old bytes, on another kernel,
 * is refused. */
int rst_check_vdso(const struct img *img, struct rst_specials *sp, struct img_err *e)
{
	if (img->hdr.vdso_data_off && read_stored_vdso(img, e))
		return -1;
	if (same_vdso(img, sp))
		return 0;
	if (!img->hdr.vdso_data_off)
		return img_fail(e, "vDSO differs from this kernel's (image from kernel %s), and the image predates "
				"stored vDSO bytes: cannot restore", img->hdr.kernel);
	return plan_redirect(img, sp, e);
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

/* Regions a and b map the same recorded file (path, identity) the same way:
 * b takes a's descriptor */
static int same_file(const struct img *img, const struct ckpt_vma *a, const struct ckpt_vma *b)
{
	return rst_streq(img_str(img, a->path_off), img_str(img, b->path_off)) && a->ino == b->ino &&
	       a->dev == b->dev && a->fsize == b->fsize && a->mtime_sec == b->mtime_sec &&
	       a->mtime_nsec == b->mtime_nsec &&
	       ((a->flags ^ b->flags) & (CKPT_MAP_SHARED | CKPT_MAP_MAYWRITE | CKPT_MAP_COPIED)) == 0;
}

/* Open every file the image maps and check it is the file that was mapped.
 * Code that changed cannot run where the program expects it: refused.  Data
 * files that changed are mapped as they are now (as the kernel would show a
 * running program), with a notice once every check has passed (a refusal
 * stays one line).  Pages the restorer would write past the end of a file
 * (SIGBUS, or EFAULT to a read) are refused here, not met in step 4.
 * Consecutive regions of one file (a library's segments) share one
 * descriptor: close them with rst_close_files. */
int rst_open_files(const struct img *img, int *fds, int verbose, struct img_err *e)
{
	static char mapped[RST_PATH_MAX], dir[RST_PATH_MAX];
	struct ksys_stat opened_st = { 0 };	/* the file last opened, as it is now */
	int32_t opened = -1;			/* its region, whose descriptor the next may share */

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
		if (opened >= 0 && fds[opened] >= 0 && same_file(img, &img->vmas[opened], v)) {
			fd = fds[opened];		/* a library's next segment: one open a file */
			st = opened_st;
		} else {
			fd = rst_pin(path, S_IFREG, &st);	/* a FIFO would block the open, a device see it */
			if (fd == RST_WRONG_TYPE && !(v->flags & CKPT_MAP_COPIED))
				return img_fail(e, "mapped file %s is now a %s", path, rst_type_name(st.st_mode));
			if (!sys_failed(fd)) {
				long pinned = fd;

				fd = rst_reopen((int)pinned, mode);
				sys_close((int)pinned);
			}
			opened = (int32_t)i;
			opened_st = st;
		}
		changed = sys_failed(fd) || st.st_ino != v->ino || ksys_major(st.st_dev) != (v->dev >> 32) ||
			  ksys_minor(st.st_dev) != (uint32_t)v->dev || st.st_size != v->fsize ||
			  (int64_t)st.st_mtime_sec != v->mtime_sec || st.st_mtime_nsec != v->mtime_nsec;
		if (v->flags & CKPT_MAP_COPIED) {	/* the image has every page: the file is optional */
			if (changed) {
				if (!sys_failed(fd))	/* (its own: a shared one is never changed) */
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

/* close what rst_open_files opened: each descriptor once, from `lowest` up */
void rst_close_files(const struct img *img, const int *fds, int lowest)
{
	int last = -1;

	for (uint32_t i = 0; i < img->hdr.nvmas && i < CKPT_MAX_VMAS; i++)
		if (fds[i] >= lowest && fds[i] != last)
			sys_close(last = fds[i]);
}

static void __attribute__((noreturn)) die(const struct img *img, int status, const char *what,
					  uint64_t addr, uint64_t len, long err)
{
	img_say(2, "restorer: %s: %s 0x%lx+0x%lx: errno %d\n", img->path, what, addr, len, (int)-err);
	sys_exit_group(status);
}

/* ---- the populator: pages made present on another CPU ----
 * Filling a region is making its pages present (MADV_POPULATE_WRITE: the
 * kernel zeroes each one) and a read() over them, with a CRC-32C of what
 * was read.  Here the first part costs more than the other two together.
 * With two CPUs or more, a thread of the restorer's own (the populator)
 * makes a long run's pages present a few MiB ahead of the main thread,
 * which reads and sums each piece once the populator is past it.  The main
 * thread posts the pieces (a run in pieces of at most 1 MiB) into a ring;
 * it has waited for every piece it posted by the time fill_run returns, so
 * the populator never touches a region the main thread goes on to move or
 * protect, and it is joined at the end of step 4, before any other thread
 * exists.  Not for a chain, a roll-back, lazy regions (nothing is read
 * there), nor a run shorter than AHEAD_MIN (made present inline). */
#define FILL_PIECE	(1u << 20)	/* read, summed and made present in pieces of 1 MiB */
#define AHEAD_SLOTS	64u
#define AHEAD_PIECES	8u		/* pieces posted ahead of the one being read */
#define AHEAD_MIN	(4u << 20)
#define AHEAD_STACK	16384u
#define POPULATE_MIN	(16u << 20)	/* less page data: no thread */

static struct {
	uint64_t addr, len;		/* pages to make present; len 0: stop, exit */
} ahead_ring[AHEAD_SLOTS];
static volatile uint32_t ahead_posted, ahead_done;	/* entries posted, entries done */
static volatile int32_t populator_tid;	/* cleared by the kernel when the populator exits */
static int populating;			/* the populator runs */
static uint8_t populator_stack[AHEAD_STACK] __attribute__((aligned(16)));

static void futex_wait(volatile void *word, uint32_t was)
{
	SC6(__NR_futex, word, 0 /* FUTEX_WAIT */, was, 0, 0, 0);
}

static void futex_wake(volatile void *word)
{
	SC6(__NR_futex, word, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
}

static void __attribute__((noreturn)) populator_main(void *arg)
{
	(void)arg;
	for (uint32_t next = 0;; next++) {
		while (__atomic_load_n(&ahead_posted, __ATOMIC_ACQUIRE) == next)
			futex_wait(&ahead_posted, next);
		const __typeof__(ahead_ring[0]) *p = &ahead_ring[next % AHEAD_SLOTS];

		if (!p->len)
			SC1(__NR_exit, 0);	/* this thread only */
		/* (a failure: the main thread's read faults the pages in) */
		sys_madvise(p->addr, p->len, 23 /* MADV_POPULATE_WRITE */);
		__atomic_store_n(&ahead_done, next + 1, __ATOMIC_RELEASE);
		futex_wake(&ahead_done);
	}
}

/* how many CPUs this process may run on */
static uint32_t cpus(void)
{
	uint64_t mask[16] = { 0 };
	long n = sys_sched_getaffinity(0, sizeof(mask), mask);
	uint32_t count = 0;

	for (long i = 0; !sys_failed(n) && i < n / 8; i++)
		count += (uint32_t)__builtin_popcountll(mask[i]);
	return count;
}

/* Start the populator where it pays: two CPUs, eager, one image, enough
 * data; not in a roll-back (the program's process gets no thread of ours). */
static void start_populator(const struct img *img, int lazy, int chained, int in_process, int verbose)
{
	struct ksys_clone_args ca = {
		.flags = KSYS_CLONE_THREAD | 0x200000 /* CLONE_CHILD_CLEARTID */,
		.child_tid = (uint64_t)&populator_tid, .stack = (uint64_t)populator_stack,
		.stack_size = AHEAD_STACK,
	};
	long tid;

	if (lazy || chained || in_process || img->hdr.data_size < POPULATE_MIN)
		return;
	if (cpus() >= 2) {
		populator_tid = 1;
		tid = sys_clone3_on_stack(&ca, sizeof(ca), populator_main, 0);
		populating = !sys_failed(tid);	/* (else: made present inline, as on one CPU) */
	}
	if (verbose)
		img_say(2, "restorer: %s: pages made present %s\n", img->path,
			populating ? "ahead by a second thread" : "inline: one CPU, or no second thread");
}

/* hand the populator len bytes at addr (waiting while the ring is full);
 * len 0: nothing more comes */
static void post(uint64_t addr, uint64_t len)
{
	uint32_t n = ahead_posted, done;

	while (n - (done = __atomic_load_n(&ahead_done, __ATOMIC_ACQUIRE)) >= AHEAD_SLOTS)
		futex_wait(&ahead_done, done);
	ahead_ring[n % AHEAD_SLOTS].addr = addr;
	ahead_ring[n % AHEAD_SLOTS].len = len;
	__atomic_store_n(&ahead_posted, n + 1, __ATOMIC_RELEASE);
	futex_wake(&ahead_posted);
}

/* wait until the populator has done entry n */
static void wait_done(uint32_t n)
{
	uint32_t done;

	while ((int32_t)((done = __atomic_load_n(&ahead_done, __ATOMIC_ACQUIRE)) - n) <= 0)
		futex_wait(&ahead_done, done);
}

/* the populator gone: the restorer is one thread again */
static void stop_populator(void)
{
	int32_t tid;

	if (!populating)
		return;
	post(0, 0);
	while ((tid = populator_tid) != 0)
		futex_wait(&populator_tid, (uint32_t)tid);
	populating = 0;
}

/* read one run's pages into place (its region built `delta` bytes away from
 * its address) and check them against the run's crc; a long one with the
 * populator making its pieces present ahead */
static void fill_run(const struct img *img, const struct ckpt_run *run, uint64_t delta)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE, done = 0, posted = 0, to = run->addr + delta;
	uint32_t crc = 0, first = ahead_posted;	/* the ring entry of the run's first piece */
	int ahead = populating && len >= AHEAD_MIN;

	/* made present first, in one call (Linux 5.14; before, EINVAL, and the
	 * reads below fault them in one by one): a page fault costs far more
	 * than the kernel's loop, most of all in a virtual machine */
	if (!ahead)
		sys_madvise(to, len, 23 /* MADV_POPULATE_WRITE */);
	/* a piece at a time: the crc reads each while it is still in cache */
	while (done < len) {
		uint64_t n = len - done > FILL_PIECE ? FILL_PIECE : len - done;
		long r;

		if (ahead) {		/* piece k is entry first + k */
			for (; posted < len && posted < done + AHEAD_PIECES * FILL_PIECE; posted += FILL_PIECE)
				post(to + posted, len - posted > FILL_PIECE ? FILL_PIECE : len - posted);
			wait_done(first + (uint32_t)(done / FILL_PIECE));
		}
		r = sys_pread(img->fd, (void *)(to + done), n, run->data_off + done);
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
		if (lazy && !(v->flags & CKPT_MAP_UFFD))	/* (registered: anonymous memory) */
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

/* A region a chain's pages go into: not the kernel's, not a shared file
 * (its file has them), not a job's shared memory (its memfd has them) */
static int takes_pages(const struct ckpt_vma *v)
{
	return !is_special(v) && !(v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)) &&
	       !(v->flags & CKPT_MAP_JOB_SHARED);
}

/* the restored regions' part of [a, b): zeroed (private: the pages drop
 * back to zero; shared memory: the hole is punched in the object) */
static void clear_range(const struct img *img, uint64_t a, uint64_t b)
{
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];
		uint64_t s = a > v->start ? a : v->start, e = b < v->end ? b : v->end;

		if (s >= e || !takes_pages(v))
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
	if (lo < img->hdr.nvmas && img->vmas[lo].start <= a && b <= img->vmas[lo].end && takes_pages(&img->vmas[lo]))
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

/* step 4 for a region of a job's shared memory: 1 when it is one (mapped) */
static int map_shared(const struct img *img, uint32_t i, int verbose)
{
	const struct ckpt_vma *v = &img->vmas[i];
	long r;

	for (uint32_t k = 0; k < nshared; k++) {
		if (shared[k].vma != i)
			continue;
		r = sys_mmap(v->start, v->end - v->start, v->prot, MAP_SHARED | MAP_FIXED_NOREPLACE, shared[k].fd,
			     shared[k].offset);
		if (r != (long)v->start)
			die(img, 127, "map the job's shared memory", v->start, v->end - v->start,
			    sys_failed(r) ? r : -17);
		seal_vma(img, v, v->prot, verbose);
		return 1;
	}
	return 0;
}

/* Step 4: the image's [vdso] address gets the old bytes with their functions
 * redirected (plan_redirect) to this kernel's vDSO, now at vdso; read and
 * execute only. */
static void map_redirect(const struct img *img, const struct rst_specials *sp, uint64_t vdso, int verbose)
{
	uint64_t at = sp->redirect_at, len = img->hdr.vdso_size;
	long r = sys_mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (r != (long)at)
		die(img, 127, "map the vDSO redirect", at, len, sys_failed(r) ? r : -17);
	memcpy((void *)at, redirect_copy, len);
	if (sys_failed(r = sys_mprotect(at, len, PROT_READ | PROT_EXEC)))
		die(img, 127, "mprotect the vDSO redirect", at, len, r);
	if (verbose)
		img_say(2, "restorer: %s: vDSO of kernel %s redirected to this one's at 0x%lx: %u functions, "
			"%u to system calls, %u to -ENOSYS\n", img->path, img->hdr.kernel,
			vdso, sp->jumps, sp->calls, sp->enosys);
}

void rst_rebuild(const struct img *const *chain, uint32_t nchain, const struct rst_specials *sp,
		 const int *fds, int lazy, int in_process, int verbose)
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
	 * the image has each one this kernel has, with the same size); for
	 * another kernel's vDSO, to the gap it chose, the redirect at the old one */
	for (uint32_t k = CKPT_VMA_VDSO; k <= CKPT_VMA_VVAR_VCLOCK; k++) {
		uint64_t len = sp->end[k] - sp->start[k], to = sp->moved_to + (sp->start[k] - base);

		if (!parked[k])
			continue;
		for (uint32_t i = 0; i < img->hdr.nvmas && !sp->moved_to; i++)
			if (img->vmas[i].kind == k)
				to = img->vmas[i].start;
		r = sys_mremap(parked[k], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (sys_failed(r))
			die(img, 127, "place vdso pages", to, len, r);
	}
	if (sp->moved_to)
		map_redirect(img, sp, sp->moved_to + (sp->start[CKPT_VMA_VDSO] - base), verbose);
	else if (verbose)
		img_say(2, "restorer: %s: vDSO: this kernel's, as in the image\n", img->path);

	/* 4. every other region, in address order, their pages made present by
	 * the populator where there is one */
	start_populator(img, lazy, chained, in_process, verbose);
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		int lazy_here = lazy && !chained && !(v->flags & CKPT_MAP_SHARED) && v->kind != CKPT_VMA_STACK;
		int apart = !lazy_here && !chained && ((i > 0 && twins(&img->vmas[i - 1], v)) ||
						       (i + 1 < img->hdr.nvmas && twins(v, &img->vmas[i + 1])));

		if (changed_file[i / 8] & (1u << (i % 8)))
			img_say(2, "restorer: notice: %s changed since the checkpoint; mapped as it is now\n",
				img_str(img, v->path_off));
		if (!is_special(v) && !map_shared(img, i, verbose))
			map_vma(img, v, fds[i], apart, lazy_here, chained, verbose);
	}
	stop_populator();
	for (uint32_t k = 0; k < nshared; k++)	/* (one fd may serve several regions) */
		sys_close(shared[k].fd);
	if (!chained)
		return;
	apply_chain(chain, nchain);
	for (uint32_t i = 0; i < img->hdr.nvmas; i++)
		if (!is_special(&img->vmas[i]))
			seal_vma(img, &img->vmas[i], fill_prot(&img->vmas[i], 1), verbose);
}
