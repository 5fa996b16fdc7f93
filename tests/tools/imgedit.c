/* imgedit.c -- edit ckpt images for the bad-input tests.
 *
 * Changes one field of an image and, unless told not to, recomputes the
 * checksums afterwards, so that the image is still well-formed byte-wise and
 * only the restorer's semantic check (version, CPU features, address ranges)
 * can refuse it.  Checksums are recomputed inside-out, as the format nests them
 * (include/ckpt_image.h): each run's crc over its pages (only with fix-crc -a),
 * then tables_crc over [tables_off, data_off), which holds the run table, then
 * hdr_crc over the 4096-byte header with hdr_crc zero, which holds tables_crc.
 *
 * Usage: imgedit [-n] IMG COMMAND [ARGS]
 *   -n                          do not recompute checksums after an edit
 *   info                        print header fields as name=value lines (sh eval)
 *   vmas                        one line per vma: index start end kind prot runs
 *   get-hdr FIELD               print one header field (decimal)
 *   set-hdr FIELD VALUE         set a header field (magic, version, xcr0, ...)
 *   get-vma INDEX FIELD         print one field of vma INDEX
 *   set-vma INDEX FIELD VALUE   set one field of vma INDEX (start, end, prot, ...)
 *   set-thread INDEX FIELD VALUE  set one field of thread INDEX (flags, xfeatures, ...)
 *   runs                        one line per run: index addr npages data_off vma
 *   get-run INDEX FIELD         print one field of run INDEX
 *   set-run INDEX FIELD VALUE   set one field of run INDEX (addr, npages, data_off, crc, vma)
 *   fds                         one line per descriptor record: index fd kind path_off data_len
 *   get-fd INDEX FIELD          print one field of descriptor record INDEX
 *   set-fd INDEX FIELD VALUE    set one field of descriptor record INDEX (kind, size, ...)
 *   get-lock INDEX FIELD        print one field of lock record INDEX
 *   set-lock INDEX FIELD VALUE  set one field of lock record INDEX (fd_index, kind, type, start, len)
 *   get-proc FIELD              print one field of the process record
 *   set-proc FIELD VALUE        set one field of the process record (resume_addr, cwd_off ...)
 *   set-comm TEXT               the process record's comm (at most 15 bytes)
 *   set-fd-path INDEX TEXT      set-str on descriptor record INDEX's path
 *   set-str OFFSET TEXT         overwrite the string at OFFSET in the string table with
 *                               TEXT (C escapes \n \t \e \\ \xHH); it must fit in the
 *                               old string's bytes (the rest is filled with NULs)
 *   vdso-differ                 make the stored [vdso] bytes another kernel's: one byte
 *                               past the ELF's section headers and segments (padding no
 *                               code reads) changes, vdso_crc follows; the restorer then
 *                               takes the other-kernel path, redirecting every function
 *   vdso-craft WHAT             vdso-differ, then one field of the stored vDSO's ELF made
 *                               what a crafted image could hold: phnum (0xffff), symtab
 *                               (DT_SYMTAB far past the end), strsz (DT_STRSZ huge), nchain
 *                               (DT_HASH's count huge), name (a function's name offset
 *                               huge), tail (a function 4 bytes before the end), gnu-hash
 *                               (DT_HASH's tag erased: the count comes from DT_GNU_HASH)
 *   vdso-unstore                drop the stored [vdso] bytes (vdso_data_off 0, the file
 *                               shortened): an image from before they were stored
 *   flip OFFSET BIT             flip one bit of the file (never fixes checksums)
 *   fix-crc [-a]                recompute tables_crc and hdr_crc (-a: run crcs first)
 *   check                       verify every checksum; exit 1 on a mismatch
 * VALUE and INDEX take C syntax (0x... hex, decimal).  Exit status: 0 done,
 * 1 check failed, 2 usage or I/O error (one line on stderr, "imgedit: ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

static const char *img_path;
static unsigned char *img;	/* the whole file */
static uint64_t img_len;

static void die(const char *fmt, ...)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "imgedit: ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0)
		exit(2);
	exit(2);
}

static void usage(void)
{
	die("usage: imgedit [-n] IMG info|vmas|get-hdr F|set-hdr F V|get-vma I F|"
	    "set-vma I F V|get-thread I F|set-thread I F V|runs|get-run I F|set-run I F V|fds|get-fd I F|"
	    "set-fd I F V|set-fd-path I T|get-lock I F|set-lock I F V|get-proc F|set-proc F V|set-comm T|set-str OFF T|vdso-differ|vdso-craft W|"
	    "vdso-unstore|"
	    "flip OFF BIT|fix-crc [-a]|check");
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	if (*s == '-')
		v = (uint64_t)strtoll(s, &end, 0);
	else
		v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("%s: not a number", s);
	return v;
}

static void load(void)
{
	int fd = open(img_path, O_RDONLY);
	struct stat st;
	uint64_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: open: %s", img_path, strerror(errno));
	img_len = (uint64_t)st.st_size;
	img = malloc(img_len ? img_len : 1);
	if (!img)
		die("%s: out of memory", img_path);
	while (got < img_len) {
		ssize_t n = pread(fd, img + got, img_len - got, (off_t)got);

		if (n <= 0)
			die("%s: read: %s", img_path, n ? strerror(errno) : "short file");
		got += (uint64_t)n;
	}
	close(fd);
}

/* write back in place (keeps inode and mode) */
static void store(void)
{
	int fd = open(img_path, O_WRONLY);
	uint64_t put = 0;

	if (fd < 0)
		die("%s: open for writing: %s", img_path, strerror(errno));
	while (put < img_len) {
		ssize_t n = pwrite(fd, img + put, img_len - put, (off_t)put);

		if (n <= 0)
			die("%s: write: %s", img_path, strerror(errno));
		put += (uint64_t)n;
	}
	if (close(fd) < 0)
		die("%s: close: %s", img_path, strerror(errno));
}

static struct ckpt_hdr *hdr(void)
{
	if (img_len < sizeof(struct ckpt_hdr))
		die("%s: %llu bytes, shorter than a header", img_path,
		    (unsigned long long)img_len);
	return (struct ckpt_hdr *)img;
}

/* pointer to [off, off+len) inside the file, or die */
static void *at(uint64_t off, uint64_t len, const char *what)
{
	if (off > img_len || len > img_len - off)
		die("%s: %s at %llu+%llu is outside the file (%llu bytes)", img_path,
		    what, (unsigned long long)off, (unsigned long long)len,
		    (unsigned long long)img_len);
	return img + off;
}

/* ---- field tables: name, offset, size ---- */
struct field {
	const char *name;
	size_t off, size;
};
#define F(type, name) { #name, offsetof(struct type, name), sizeof(((struct type *)0)->name) }

static const struct field hdr_fields[] = {
	F(ckpt_hdr, magic), F(ckpt_hdr, version), F(ckpt_hdr, hdr_size), F(ckpt_hdr, hdr_crc),
	F(ckpt_hdr, file_size), F(ckpt_hdr, created_ns), F(ckpt_hdr, tables_off),
	F(ckpt_hdr, tables_size), F(ckpt_hdr, tables_crc), F(ckpt_hdr, flags),
	F(ckpt_hdr, data_off), F(ckpt_hdr, data_size), F(ckpt_hdr, nthreads),
	F(ckpt_hdr, nvmas), F(ckpt_hdr, nruns), F(ckpt_hdr, strings_size),
	F(ckpt_hdr, threads_off), F(ckpt_hdr, proc_off), F(ckpt_hdr, vmas_off),
	F(ckpt_hdr, runs_off), F(ckpt_hdr, strings_off), F(ckpt_hdr, page_size),
	F(ckpt_hdr, xsave_size), F(ckpt_hdr, xcr0), F(ckpt_hdr, hwcap2),
	F(ckpt_hdr, cpuid1_ecx), F(ckpt_hdr, cpuid1_edx), F(ckpt_hdr, cpuid7_ebx),
	F(ckpt_hdr, cpuid7_ecx), F(ckpt_hdr, cpuid7_edx), F(ckpt_hdr, cpu_level), F(ckpt_hdr, vdso_crc),
	F(ckpt_hdr, vdso_size), F(ckpt_hdr, vvar_size), F(ckpt_hdr, vvar_vclock_size),
	F(ckpt_hdr, nfds), F(ckpt_hdr, nsigs), F(ckpt_hdr, ntimers), F(ckpt_hdr, fds_off),
	F(ckpt_hdr, sigs_off), F(ckpt_hdr, timers_off), F(ckpt_hdr, depth), F(ckpt_hdr, clock_mono_ns),
	F(ckpt_hdr, clock_boot_ns), F(ckpt_hdr, vdso_data_off), F(ckpt_hdr, nlocks), F(ckpt_hdr, locks_off),
	{ 0, 0, 0 }
};

static const struct field vma_fields[] = {
	F(ckpt_vma, start), F(ckpt_vma, end), F(ckpt_vma, pgoff), F(ckpt_vma, dev),
	F(ckpt_vma, ino), F(ckpt_vma, fsize), F(ckpt_vma, mtime_sec),
	F(ckpt_vma, mtime_nsec), F(ckpt_vma, prot), F(ckpt_vma, kind), F(ckpt_vma, flags),
	F(ckpt_vma, advice), F(ckpt_vma, pkey), F(ckpt_vma, path_off),
	F(ckpt_vma, name_off), F(ckpt_vma, run_first), F(ckpt_vma, run_count),
	F(ckpt_vma, pages_stored),
	{ 0, 0, 0 }
};

static const struct field thread_fields[] = {
	F(ckpt_thread, tid), F(ckpt_thread, flags), F(ckpt_thread, sigmask),
	F(ckpt_thread, ss_sp), F(ckpt_thread, ss_size), F(ckpt_thread, ss_flags),
	F(ckpt_thread, rseq_len), F(ckpt_thread, rseq_addr), F(ckpt_thread, rseq_sig),
	F(ckpt_thread, xsave_size), F(ckpt_thread, xsave_off), F(ckpt_thread, xfeatures),
	F(ckpt_thread, clear_child_tid), F(ckpt_thread, robust_list),
	F(ckpt_thread, robust_len), F(ckpt_thread, sig_rip),
	{ "rip", offsetof(struct ckpt_thread, regs.rip), 8 },
	{ "rsp", offsetof(struct ckpt_thread, regs.rsp), 8 },
	{ "rflags", offsetof(struct ckpt_thread, regs.rflags), 8 },
	{ "fs_base", offsetof(struct ckpt_thread, regs.fs_base), 8 },
	{ 0, 0, 0 }
};

static const struct field run_fields[] = {
	F(ckpt_run, addr), F(ckpt_run, npages), F(ckpt_run, data_off), F(ckpt_run, crc),
	F(ckpt_run, vma),
	{ 0, 0, 0 }
};

static const struct field fd_fields[] = {
	F(ckpt_fd, fd), F(ckpt_fd, kind), F(ckpt_fd, flags), F(ckpt_fd, fd_flags), F(ckpt_fd, pos),
	F(ckpt_fd, dev), F(ckpt_fd, ino), F(ckpt_fd, size), F(ckpt_fd, mtime_sec),
	F(ckpt_fd, mtime_nsec), F(ckpt_fd, mode), F(ckpt_fd, path_off), F(ckpt_fd, share),
	F(ckpt_fd, peer), F(ckpt_fd, data_crc), F(ckpt_fd, data_off), F(ckpt_fd, data_len),
	{ "aux0", offsetof(struct ckpt_fd, aux), 8 },
	{ "aux1", offsetof(struct ckpt_fd, aux) + 8, 8 },	/* a pty's number */
	{ "aux4", offsetof(struct ckpt_fd, aux) + 32, 8 },	/* a socket's CKPT_SO_* */
	{ 0, 0, 0 }
};

static const struct field lock_fields[] = {
	F(ckpt_lock, fd_index), F(ckpt_lock, kind), F(ckpt_lock, type), F(ckpt_lock, start), F(ckpt_lock, len),
	F(ckpt_lock, sig),
	{ 0, 0, 0 }
};

static const struct field proc_fields[] = {
	F(ckpt_proc, pid), F(ckpt_proc, umask), F(ckpt_proc, start_code), F(ckpt_proc, end_code),
	F(ckpt_proc, start_brk), F(ckpt_proc, brk), F(ckpt_proc, start_stack),
	F(ckpt_proc, auxv_words), F(ckpt_proc, cwd_off), F(ckpt_proc, exe_off),
	F(ckpt_proc, resume_addr), F(ckpt_proc, personality), F(ckpt_proc, attrs),
	F(ckpt_proc, oom_score_adj), F(ckpt_proc, ngroups),
	{ 0, 0, 0 }
};

static const struct field *field(const struct field *t, const char *name, const char *table)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	die("no %s field '%s'", table, name);
	return NULL;
}

static uint64_t get_at(const unsigned char *base, const struct field *f)
{
	uint64_t v = 0;

	memcpy(&v, base + f->off, f->size);	/* little-endian */
	return v;
}

static void set_at(unsigned char *base, const struct field *f, uint64_t v)
{
	/* fits unsigned, or is a negative number that sign-extends from f->size */
	if (f->size < 8 && v >> (8 * f->size) != 0 &&
	    (int64_t)v >> (8 * f->size - 1) != -1)
		die("%s: value 0x%llx does not fit in %zu bytes", f->name,
		    (unsigned long long)v, f->size);
	memcpy(base + f->off, &v, f->size);
}

static unsigned char *vma_at(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	if (i >= h->nvmas)
		die("%s: vma %llu: image has %u", img_path, (unsigned long long)i, h->nvmas);
	return at(h->vmas_off + i * sizeof(struct ckpt_vma), sizeof(struct ckpt_vma), "vma");
}

static unsigned char *thread_at(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	if (i >= h->nthreads)
		die("%s: thread %llu: image has %u", img_path, (unsigned long long)i,
		    h->nthreads);
	return at(h->threads_off + i * sizeof(struct ckpt_thread),
		  sizeof(struct ckpt_thread), "thread");
}

static unsigned char *run_rec(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	if (i >= h->nruns)
		die("%s: run %llu: image has %u", img_path, (unsigned long long)i, h->nruns);
	return at(h->runs_off + i * sizeof(struct ckpt_run), sizeof(struct ckpt_run), "run");
}

static unsigned char *fd_rec(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	if (i >= h->nfds)
		die("%s: descriptor record %llu: image has %u", img_path, (unsigned long long)i, h->nfds);
	return at(h->fds_off + i * sizeof(struct ckpt_fd), sizeof(struct ckpt_fd), "fd");
}

static unsigned char *lock_rec(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	if (i >= h->nlocks)
		die("%s: lock record %llu: image has %u", img_path, (unsigned long long)i, h->nlocks);
	return at(h->locks_off + i * sizeof(struct ckpt_lock), sizeof(struct ckpt_lock), "lock");
}

static unsigned char *proc_rec(void)
{
	return at(hdr()->proc_off, sizeof(struct ckpt_proc), "process record");
}

/* TEXT with C escapes decoded into out (at most cap bytes); returns its length */
static size_t unescape(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s; s++) {
		char c = *s;

		if (c == '\\' && s[1]) {
			s++;
			switch (*s) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'e': c = 27; break;
			case 'x': {
				char hex[3] = { s[1], s[1] ? s[2] : 0, 0 };
				char *end;

				c = (char)strtoul(hex, &end, 16);
				if (end != hex + 2)
					die("set-str: \\x wants two hex digits");
				s += 2;
				break;
			}
			default: c = *s; break;
			}
		}
		if (n >= cap)
			die("set-str: text longer than %zu bytes", cap);
		out[n++] = c;
	}
	return n;
}

static void set_str(uint64_t off, const char *text)
{
	struct ckpt_hdr *h = hdr();
	char *s, buf[4096];
	size_t old, len;

	if (off == 0 || off >= h->strings_size)
		die("%s: string offset %llu outside the string table (%u bytes)", img_path,
		    (unsigned long long)off, h->strings_size);
	s = at(h->strings_off + off, h->strings_size - off, "string");
	old = strnlen(s, h->strings_size - off);
	len = unescape(text, buf, sizeof(buf));
	if (len > old || memchr(buf, 0, len))
		die("set-str: %zu bytes do not fit the old string's %zu (or hold a NUL)", len, old);
	memset(s, 0, old);
	memcpy(s, buf, len);
}

/* ---- the stored [vdso] ---- */
static uint8_t *stored_vdso(void)
{
	struct ckpt_hdr *h = hdr();

	if (!h->vdso_data_off)
		die("%s: no stored vDSO bytes", img_path);
	return at(h->vdso_data_off, h->vdso_size, "stored vDSO");
}

/* the last byte of the stored [vdso], when no section header, segment or
 * section of its ELF reaches it: changed, with vdso_crc to match */
static void vdso_differ(void)
{
	struct ckpt_hdr *h = hdr();
	uint8_t *b = stored_vdso();
	uint64_t used = 64, shoff, phoff;
	uint16_t phnum, shnum;

	if (h->vdso_size < 64 || memcmp(b, "\x7f" "ELF", 4))
		die("%s: stored vDSO is not an ELF image", img_path);
	memcpy(&phoff, b + 32, 8);
	memcpy(&shoff, b + 40, 8);
	memcpy(&phnum, b + 56, 2);
	memcpy(&shnum, b + 60, 2);
	if (shoff + (uint64_t)shnum * 64 > used)
		used = shoff + (uint64_t)shnum * 64;
	for (uint16_t i = 0; i < phnum && phoff + (i + 1) * 56ull <= h->vdso_size; i++) {
		uint64_t off, filesz;

		memcpy(&off, b + phoff + i * 56 + 8, 8);
		memcpy(&filesz, b + phoff + i * 56 + 32, 8);
		if (off + filesz > used)
			used = off + filesz;
	}
	for (uint16_t i = 0; i < shnum && shoff + (i + 1) * 64ull <= h->vdso_size; i++) {
		uint32_t type;
		uint64_t off, size;

		memcpy(&type, b + shoff + i * 64 + 4, 4);
		memcpy(&off, b + shoff + i * 64 + 24, 8);
		memcpy(&size, b + shoff + i * 64 + 32, 8);
		if (type != 8 /* SHT_NOBITS: no bytes in the file */ && off + size > used)
			used = off + size;
	}
	if (used >= h->vdso_size)
		die("%s: stored vDSO has no padding past its ELF contents (%llu of %llu bytes)", img_path,
		    (unsigned long long)used, (unsigned long long)h->vdso_size);
	b[h->vdso_size - 1] ^= 0x5a;
	h->vdso_crc = ckpt_crc32c(0, b, h->vdso_size);
}

/* the entry of the stored vDSO's PT_DYNAMIC with this tag: its file offset
 * (its address taken as one: a vDSO is linked at 0) */
static uint64_t vdso_dyn(const uint8_t *b, uint64_t size, uint64_t tag)
{
	uint64_t phoff, dyn = 0, dynsz = 0, t;
	uint16_t phnum;

	memcpy(&phoff, b + 32, 8);
	memcpy(&phnum, b + 56, 2);
	for (uint16_t i = 0; i < phnum && phoff + (i + 1) * 56ull <= size; i++) {
		uint32_t type;

		memcpy(&type, b + phoff + i * 56, 4);
		if (type == 2) {		/* PT_DYNAMIC */
			memcpy(&dyn, b + phoff + i * 56 + 8, 8);
			memcpy(&dynsz, b + phoff + i * 56 + 32, 8);
		}
	}
	for (uint64_t d = dyn; dyn && d + 16 <= dyn + dynsz && d + 16 <= size; d += 16) {
		memcpy(&t, b + d, 8);
		if (t == tag)
			return d;
	}
	die("%s: stored vDSO has no dynamic entry %llu", img_path, (unsigned long long)tag);
	return 0;
}

/* the offset of the first defined function symbol of the stored vDSO */
static uint64_t vdso_first_func(const uint8_t *b, uint64_t size)
{
	uint64_t symtab, strtab;

	memcpy(&symtab, b + vdso_dyn(b, size, 6) + 8, 8);	/* DT_SYMTAB */
	memcpy(&strtab, b + vdso_dyn(b, size, 5) + 8, 8);	/* DT_STRTAB */
	for (uint64_t sym = symtab; sym + 24 <= strtab && sym + 24 <= size; sym += 24)
		if ((b[sym + 4] & 0xf) == 2 && (b[sym + 6] | b[sym + 7]))	/* STT_FUNC, defined */
			return sym;
	die("%s: stored vDSO has no function symbol", img_path);
	return 0;
}

static void vdso_craft(const char *what)
{
	struct ckpt_hdr *h = hdr();
	uint8_t *b;
	uint64_t v, size;

	vdso_differ();
	b = stored_vdso();
	size = h->vdso_size;
	if (!strcmp(what, "phnum")) {
		b[56] = b[57] = 0xff;
	} else if (!strcmp(what, "symtab")) {
		v = 0xfffffffff0ull;
		memcpy(b + vdso_dyn(b, size, 6) + 8, &v, 8);
	} else if (!strcmp(what, "strsz")) {
		v = ~0ull >> 1;
		memcpy(b + vdso_dyn(b, size, 10) + 8, &v, 8);
	} else if (!strcmp(what, "nchain")) {
		memcpy(&v, b + vdso_dyn(b, size, 4) + 8, 8);
		if (v + 8 > size)
			die("%s: stored vDSO's DT_HASH lies outside it", img_path);
		memset(b + v + 4, 0xff, 4);
	} else if (!strcmp(what, "name")) {
		memset(b + vdso_first_func(b, size), 0xff, 4);
	} else if (!strcmp(what, "tail")) {
		v = size - 4;
		memcpy(b + vdso_first_func(b, size) + 8, &v, 8);
	} else if (!strcmp(what, "gnu-hash")) {
		v = 0x6ffffff0;		/* DT_VERSYM: a tag the restorer does not read */
		vdso_dyn(b, size, 0x6ffffef5);	/* there must be a DT_GNU_HASH */
		memcpy(b + vdso_dyn(b, size, 4), &v, 8);
	} else {
		die("vdso-craft: %s: want phnum, symtab, strsz, nchain, name, tail or gnu-hash", what);
	}
	h->vdso_crc = ckpt_crc32c(0, b, size);
}

/* the stored [vdso] bytes cut off the end of the file */
static void vdso_unstore(void)
{
	struct ckpt_hdr *h = hdr();

	stored_vdso();
	if (h->vdso_data_off + h->vdso_size != img_len)
		die("%s: stored vDSO bytes are not last in the file", img_path);
	img_len = h->vdso_data_off;
	h->file_size = img_len;
	h->data_size = img_len - h->data_off;
	h->vdso_data_off = 0;
	if (truncate(img_path, (off_t)img_len))
		die("%s: truncate: %s", img_path, strerror(errno));
}

/* ---- checksums ---- */
static uint32_t crc_tables(void)
{
	struct ckpt_hdr *h = hdr();

	return ckpt_crc32c(0, at(h->tables_off, h->tables_size, "tables"), h->tables_size);
}

static uint32_t crc_hdr(void)
{
	struct ckpt_hdr copy = *hdr();

	copy.hdr_crc = 0;
	return ckpt_crc32c(0, &copy, sizeof(copy));
}

static struct ckpt_run *run_at(uint64_t i)
{
	struct ckpt_hdr *h = hdr();

	return at(h->runs_off + i * sizeof(struct ckpt_run), sizeof(struct ckpt_run), "run");
}

static uint32_t crc_run(const struct ckpt_run *r)
{
	uint64_t len = r->npages * CKPT_PAGE_SIZE;

	return ckpt_crc32c(0, at(r->data_off, len, "run data"), len);
}

static void fix_crc(int runs_too)
{
	struct ckpt_hdr *h = hdr();

	if (runs_too)
		for (uint64_t i = 0; i < h->nruns; i++) {
			struct ckpt_run *r = run_at(i);

			r->crc = crc_run(r);
		}
	h->tables_crc = crc_tables();
	h->hdr_crc = crc_hdr();
}

static int check(void)
{
	struct ckpt_hdr *h = hdr();
	int bad = 0;
	uint32_t c;

	if ((c = crc_hdr()) != h->hdr_crc) {
		printf("hdr_crc 0x%08x, computed 0x%08x\n", h->hdr_crc, c);
		bad = 1;
	}
	if ((c = crc_tables()) != h->tables_crc) {
		printf("tables_crc 0x%08x, computed 0x%08x\n", h->tables_crc, c);
		bad = 1;
	}
	for (uint64_t i = 0; i < h->nruns; i++) {
		struct ckpt_run *r = run_at(i);

		if ((c = crc_run(r)) != r->crc) {
			printf("run %llu crc 0x%08x, computed 0x%08x\n",
			       (unsigned long long)i, r->crc, c);
			bad = 1;
		}
	}
	if (!bad)
		printf("checksums ok\n");
	return bad;
}

int main(int argc, char **argv)
{
	int fix = 1, a = 1;
	const char *cmd;

	if (argc > a && !strcmp(argv[a], "-n")) {
		fix = 0;
		a++;
	}
	if (argc - a < 2)
		usage();
	img_path = argv[a++];
	cmd = argv[a++];
	argc -= a;
	argv += a;		/* argv[0..argc) are the command's arguments */
	load();

	if (!strcmp(cmd, "info") && argc == 0) {
		unsigned char *h = (unsigned char *)hdr();

		for (const struct field *f = hdr_fields; f->name; f++)
			printf("%s=%llu\n", f->name, (unsigned long long)get_at(h, f));
		printf("actual_size=%llu\n", (unsigned long long)img_len);
		return 0;
	}
	if (!strcmp(cmd, "vmas") && argc == 0) {
		struct ckpt_hdr *h = hdr();

		for (uint64_t i = 0; i < h->nvmas; i++) {
			struct ckpt_vma *v = (struct ckpt_vma *)vma_at(i);

			printf("%llu 0x%llx 0x%llx %u %u %u\n", (unsigned long long)i,
			       (unsigned long long)v->start, (unsigned long long)v->end,
			       v->kind, v->prot, v->run_count);
		}
		return 0;
	}
	if (!strcmp(cmd, "get-hdr") && argc == 1) {
		printf("%llu\n", (unsigned long long)get_at((unsigned char *)hdr(),
				field(hdr_fields, argv[0], "header")));
		return 0;
	}
	if (!strcmp(cmd, "get-vma") && argc == 2) {
		printf("%llu\n", (unsigned long long)get_at(vma_at(num(argv[0])),
				field(vma_fields, argv[1], "vma")));
		return 0;
	}
	if (!strcmp(cmd, "runs") && argc == 0) {
		for (uint64_t i = 0; i < hdr()->nruns; i++) {
			struct ckpt_run *r = (struct ckpt_run *)run_rec(i);

			printf("%llu 0x%llx %llu %llu %u\n", (unsigned long long)i, (unsigned long long)r->addr,
			       (unsigned long long)r->npages, (unsigned long long)r->data_off, r->vma);
		}
		return 0;
	}
	if (!strcmp(cmd, "fds") && argc == 0) {
		for (uint64_t i = 0; i < hdr()->nfds; i++) {
			struct ckpt_fd *f = (struct ckpt_fd *)fd_rec(i);

			printf("%llu %d %u %u %llu\n", (unsigned long long)i, f->fd, f->kind, f->path_off,
			       (unsigned long long)f->data_len);
		}
		return 0;
	}
	if (!strcmp(cmd, "get-run") && argc == 2) {
		printf("%llu\n", (unsigned long long)get_at(run_rec(num(argv[0])), field(run_fields, argv[1], "run")));
		return 0;
	}
	if (!strcmp(cmd, "get-fd") && argc == 2) {
		printf("%llu\n", (unsigned long long)get_at(fd_rec(num(argv[0])), field(fd_fields, argv[1], "fd")));
		return 0;
	}
	if (!strcmp(cmd, "get-lock") && argc == 2) {
		printf("%llu\n", (unsigned long long)get_at(lock_rec(num(argv[0])), field(lock_fields, argv[1], "lock")));
		return 0;
	}
	if (!strcmp(cmd, "get-thread") && argc == 2) {
		printf("%llu\n", (unsigned long long)get_at(thread_at(num(argv[0])),
							   field(thread_fields, argv[1], "thread")));
		return 0;
	}
	if (!strcmp(cmd, "get-proc") && argc == 1) {
		printf("%llu\n", (unsigned long long)get_at(proc_rec(), field(proc_fields, argv[0], "process")));
		return 0;
	}
	if (!strcmp(cmd, "check") && argc == 0)
		return check();

	if (!strcmp(cmd, "set-hdr") && argc == 2) {
		set_at((unsigned char *)hdr(), field(hdr_fields, argv[0], "header"), num(argv[1]));
	} else if (!strcmp(cmd, "set-vma") && argc == 3) {
		set_at(vma_at(num(argv[0])), field(vma_fields, argv[1], "vma"), num(argv[2]));
	} else if (!strcmp(cmd, "set-thread") && argc == 3) {
		set_at(thread_at(num(argv[0])), field(thread_fields, argv[1], "thread"),
		       num(argv[2]));
	} else if (!strcmp(cmd, "set-run") && argc == 3) {
		set_at(run_rec(num(argv[0])), field(run_fields, argv[1], "run"), num(argv[2]));
	} else if (!strcmp(cmd, "set-fd") && argc == 3) {
		set_at(fd_rec(num(argv[0])), field(fd_fields, argv[1], "fd"), num(argv[2]));
	} else if (!strcmp(cmd, "set-lock") && argc == 3) {
		set_at(lock_rec(num(argv[0])), field(lock_fields, argv[1], "lock"), num(argv[2]));
	} else if (!strcmp(cmd, "set-proc") && argc == 2) {
		set_at(proc_rec(), field(proc_fields, argv[0], "process"), num(argv[1]));
	} else if (!strcmp(cmd, "set-comm") && argc == 1) {
		struct ckpt_proc *p = (struct ckpt_proc *)proc_rec();
		char buf[sizeof(p->comm)];
		size_t len = unescape(argv[0], buf, sizeof(buf) - 1);

		memset(p->comm, 0, sizeof(p->comm));
		memcpy(p->comm, buf, len);
	} else if (!strcmp(cmd, "set-fd-path") && argc == 2) {
		struct ckpt_fd *f = (struct ckpt_fd *)fd_rec(num(argv[0]));

		if (!f->path_off)
			die("%s: descriptor record %s has no path", img_path, argv[0]);
		set_str(f->path_off, argv[1]);
	} else if (!strcmp(cmd, "set-str") && argc == 2) {
		set_str(num(argv[0]), argv[1]);
	} else if (!strcmp(cmd, "vdso-differ") && argc == 0) {
		vdso_differ();
	} else if (!strcmp(cmd, "vdso-craft") && argc == 1) {
		vdso_craft(argv[0]);
	} else if (!strcmp(cmd, "vdso-unstore") && argc == 0) {
		vdso_unstore();
	} else if (!strcmp(cmd, "flip") && argc == 2) {
		uint64_t off = num(argv[0]), bit = num(argv[1]);

		if (off >= img_len || bit > 7)
			die("%s: flip %s %s: file has %llu bytes, bits are 0-7", img_path,
			    argv[0], argv[1], (unsigned long long)img_len);
		img[off] ^= (unsigned char)(1u << bit);
		fix = 0;
	} else if (!strcmp(cmd, "fix-crc") && argc <= 1) {
		if (argc == 1 && strcmp(argv[0], "-a"))
			usage();
		fix_crc(argc == 1);
		fix = 0;
	} else {
		usage();
	}
	if (fix)
		fix_crc(0);
	store();
	return 0;
}
