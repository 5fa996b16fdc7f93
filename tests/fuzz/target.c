/* target.c -- libFuzzer target: the restorer's reader and every check it makes
 * before the point of no return (make fuzz; docs/fuzz.md).
 *
 * The restorer's own main.c is compiled in (hosted, by clang, with ASan and
 * UBSan; its system calls go through sys.c), and each input runs its
 * check_image(): img_open and the parent chain, check_cpu,
 * check_process, check_limits, the vDSO, the mapped files, then
 * rst_prepare_fds (or, for a roll-back, rst_verify_runs).
 *
 * An input is an image, or an incremental chain newest first (fz_split).  The
 * custom mutator changes fields of the header and the tables and re-seals the
 * checksums (seal.h), so that mutants reach the checks behind the checksum
 * gate.  Before the checks the target makes the inputs fit this machine and
 * its sandbox (fit()): vdso_crc 0 stands for this kernel's vDSO, an inode
 * number 1..5 for the sandbox fixture of that index.
 *
 * Oracles besides ASan/UBSan (labels for CKPT_FUZZ_KNOWN):
 *   run-outside     an accepted image has a run outside its region or its file
 *   fault-after     an accepted region the rebuild cannot map (below
 *                   mmap_min_addr, unaligned or overflowing file offset,
 *                   shared and grows-down)
 *   vvar-resume     an accepted resume block outside a writable ordinary region
 *   empty-reason    a refusal with no reason
 *   raw-string      a refusal or notice that is not one printable line
 *   fifo-block, write-existing, creat, syscall, jump: see sys.c
 */
#include "main.c"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ckpt_layout.h"
#include "fuzz.h"
#include "seal.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

/* ASan's defaults for this target.  strict_memcmp=0: memcmp is checked up to
 * the first difference, as restore/mem.c's memcmp reads (strip() in fds.c
 * compares a path that may be shorter than its prefix).  No quarantine, a
 * short allocation stack: inputs are large, and fresh memory for each one
 * costs most of the time in page faults. */
const char *__asan_default_options(void)
{
	return "strict_memcmp=0:quarantine_size_mb=0:malloc_context_size=5";
}

#define MAX_IMAGES 8
static struct rst_specials here;	/* this kernel's vDSO pages */
static uint32_t here_vdso_crc;
static struct stat fixture[FZ_FIXTURES];
static uint64_t mmap_min = 65536;
static int say;				/* CKPT_FUZZ_SAY=1: each input's verdict on stderr */
static char known[512];
static unsigned long known_count[16];
static const char *known_label[16];

static void report_known(void)
{
	for (int i = 0; i < 16 && known_label[i]; i++)
		fprintf(stderr, "fuzz: known finding %s: %lu inputs\n", known_label[i], known_count[i]);
}

void fz_found(const char *label, const char *fmt, ...)
{
	size_t n = strlen(label);
	va_list ap;

	for (const char *k = known; (k = strstr(k, label)); k += n)
		if ((k == known || k[-1] == ',') && (k[n] == ',' || !k[n])) {
			for (int i = 0; i < 16; i++)
				if (!known_label[i] || !strcmp(known_label[i], label)) {
					known_label[i] = known_label[i] ? known_label[i] : strdup(label);
					known_count[i]++;
					break;
				}
			return;
		}
	fprintf(stderr, "fuzz: FINDING %s: ", label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct img_err e;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");

	if (f) {
		if (fscanf(f, "%lu", &mmap_min) != 1)
			mmap_min = 65536;
		fclose(f);
	}
	if (getenv("CKPT_FUZZ_KNOWN"))
		snprintf(known, sizeof(known), "%s", getenv("CKPT_FUZZ_KNOWN"));
	say = getenv("CKPT_FUZZ_SAY") != NULL;
	atexit(report_known);
	fz_sandbox_init();
	for (int i = 0; i < FZ_FIXTURES; i++)
		stat(fz_fixture[i], &fixture[i]);
	if (rst_find_specials(&here, &e)) {
		fprintf(stderr, "fuzz: %s\n", e.msg);
		exit(1);
	}
	here_vdso_crc = ckpt_crc32c(0, (const void *)here.start[CKPT_VMA_VDSO],
				    here.end[CKPT_VMA_VDSO] - here.start[CKPT_VMA_VDSO]);
	fz_reset();
	return 0;
}

/* ---- making an input fit this machine and the sandbox ---- */

static void fit_file(uint64_t *dev, uint64_t *ino, int64_t *size, int64_t *mtime_sec, uint32_t *mtime_nsec)
{
	const struct stat *st;

	if (*ino < 1 || *ino > FZ_FIXTURES)
		return;
	st = &fixture[*ino - 1];
	*dev = (uint64_t)major(st->st_dev) << 32 | minor(st->st_dev);
	*ino = st->st_ino;
	if (!*size)
		*size = st->st_size;
	if (!*mtime_sec) {
		*mtime_sec = st->st_mtim.tv_sec;
		*mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	}
}

/* vdso_crc 0: this kernel's vDSO, its [vvar] pages at this kernel's
 * distance; stored [vdso] bytes of its size become its bytes.  (Another
 * vdso_crc: the stored bytes, which the mutator re-seals, are another
 * kernel's vDSO, redirected.) */
static void fit_vdso(uint8_t *b, uint64_t len, struct ckpt_hdr *h, struct ckpt_vma *v, uint32_t n)
{
	uint64_t vdso = 0, base = here.start[CKPT_VMA_VDSO];

	if (h->vdso_data_off && h->vdso_size == here.end[CKPT_VMA_VDSO] - base &&
	    fz_inside(len, h->vdso_data_off, h->vdso_size, 1))
		memcpy(b + h->vdso_data_off, (const void *)base, h->vdso_size);

	h->vdso_crc = here_vdso_crc;
	h->vdso_size = here.end[CKPT_VMA_VDSO] - base;
	h->vvar_size = here.end[CKPT_VMA_VVAR] - here.start[CKPT_VMA_VVAR];
	h->vvar_vclock_size = here.end[CKPT_VMA_VVAR_VCLOCK] - here.start[CKPT_VMA_VVAR_VCLOCK];
	for (uint32_t i = 0; i < n; i++)
		if (v[i].kind == CKPT_VMA_VDSO)
			vdso = v[i].start;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = v[i].kind;

		if (k < CKPT_VMA_VDSO || k > CKPT_VMA_VVAR_VCLOCK)
			continue;
		if (!here.start[k]) {		/* no such pages on this kernel */
			v[i].kind = CKPT_VMA_ANON;
			continue;
		}
		if (k != CKPT_VMA_VDSO && vdso)
			v[i].start = vdso + (here.start[k] - base);
		v[i].end = v[i].start + (here.end[k] - here.start[k]);
	}
}

static void fit(uint8_t *b, uint64_t len)
{
	struct ckpt_hdr h;
	int changed = 0;

	memcpy(&h, b, sizeof(h));
	if (!fz_inside(len, h.tables_off, h.tables_size, 1))
		return;
	if (h.vmas_off >= h.tables_off && fz_inside(len, h.vmas_off, h.nvmas, sizeof(struct ckpt_vma)) &&
	    !(((uintptr_t)b + h.vmas_off) & 7)) {
		struct ckpt_vma *v = (struct ckpt_vma *)(b + h.vmas_off);

		if (!h.vdso_crc) {
			fit_vdso(b, len, &h, v, h.nvmas);
			changed = 1;
		}
		for (uint32_t i = 0; i < h.nvmas; i++)
			if (v[i].ino >= 1 && v[i].ino <= FZ_FIXTURES) {
				fit_file(&v[i].dev, &v[i].ino, &v[i].fsize, &v[i].mtime_sec, &v[i].mtime_nsec);
				changed = 1;
			}
	}
	if (h.fds_off >= h.tables_off && fz_inside(len, h.fds_off, h.nfds, sizeof(struct ckpt_fd)) &&
	    !(((uintptr_t)b + h.fds_off) & 7)) {
		struct ckpt_fd *f = (struct ckpt_fd *)(b + h.fds_off);

		for (uint32_t i = 0; i < h.nfds; i++)
			if (f[i].ino >= 1 && f[i].ino <= FZ_FIXTURES) {
				fit_file(&f[i].dev, &f[i].ino, &f[i].size, &f[i].mtime_sec, &f[i].mtime_nsec);
				changed = 1;
			}
	}
	if (changed) {
		memcpy(b, &h, sizeof(h));
		fz_seal(b, len, 0);
	}
}

static int put_file(const char *name, const uint8_t *b, uint64_t len)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write(fd, b, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* a parent's file name the sandbox can take (the reader checks it again) */
static int usable_name(const char *s)
{
	if (!memchr(s, 0, 256) || !*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..") ||
	    !strcmp(s, "img"))
		return 0;
	for (int i = 0; i < FZ_FIXTURES; i++)
		if (!strcmp(s, fz_fixture[i]))
			return 0;
	return 1;
}

/* ---- oracles ---- */

static void check_line(const char *what, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) {
			fz_found("raw-string", "%s holds byte 0x%02x: %.*s", what, (unsigned char)s[i], (int)n, s);
			return;
		}
}

static void check_output(void)
{
	const char *s = fz_output(), *nl;

	for (; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl) {
			fz_found("raw-string", "output not ended by a newline: %s", s);
			return;
		}
		if (strncmp(s, "restorer: ", 10))
			fz_found("raw-string", "output line without \"restorer: \": %.*s", (int)(nl - s), s);
		check_line("output line", s, (size_t)(nl - s));
	}
}

static void check_accepted(const struct img *im, int top)
{
	const struct ckpt_hdr *h = &im->hdr;
	uint64_t resume = im->proc->resume_addr;
	int resume_ok = 0;

	for (uint32_t i = 0; i < h->nruns; i++) {
		const struct ckpt_run *r = &im->runs[i];
		const struct ckpt_vma *v = &im->vmas[r->vma];

		if (r->addr < v->start || r->addr > v->end || r->npages > (v->end - r->addr) / CKPT_PAGE_SIZE)
			fz_found("run-outside", "run %u at 0x%lx+%lu pages lies outside vma %u 0x%lx-0x%lx", i,
				 r->addr, r->npages, r->vma, v->start, v->end);
		if (r->data_off && (r->data_off < h->data_off ||
				    !fz_inside(im->file_size, r->data_off, r->npages, CKPT_PAGE_SIZE)))
			fz_found("run-outside", "run %u: %lu pages at %lu lie outside the file's %lu bytes", i,
				 r->npages, r->data_off, im->file_size);
	}
	for (uint32_t i = 0; i < h->nfds; i++) {
		const struct ckpt_fd *f = &im->fds[i];

		if (f->data_len && (f->data_off < h->data_off || !fz_inside(im->file_size, f->data_off, f->data_len, 1)))
			fz_found("run-outside", "fd %d: stored bytes %lu+%lu outside the file", f->fd, f->data_off,
				 f->data_len);
	}
	if (!top)
		return;
	for (uint32_t i = 0; i < h->nvmas; i++) {
		const struct ckpt_vma *v = &im->vmas[i];
		int special = v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK;

		if (v->start < mmap_min)
			fz_found("fault-after", "vma %u at 0x%lx below mmap_min_addr 0x%lx", i, v->start, mmap_min);
		if (v->kind == CKPT_VMA_FILE && ((v->pgoff & (CKPT_PAGE_SIZE - 1)) ||
						 v->pgoff + (v->end - v->start) < v->pgoff ||
						 v->pgoff + (v->end - v->start) > (1ull << 62)))
			fz_found("fault-after", "vma %u: file offset 0x%lx unaligned or past any file", i, v->pgoff);
		if ((v->flags & CKPT_MAP_SHARED) && (v->flags & CKPT_MAP_GROWSDOWN))
			fz_found("fault-after", "vma %u at 0x%lx: shared and grows down", i, v->start);
		if (resume >= v->start && resume + sizeof(struct ckpt_resume) <= v->end && (v->prot & PROT_WRITE) &&
		    !special)
			resume_ok = 1;
	}
	if (!resume_ok)
		fz_found("vvar-resume", "resume block 0x%lx not in a writable ordinary region", resume);
}

/* ---- one input ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	static size_t cap;
	static struct ckpt_bail no_bail;
	uint64_t off[MAX_IMAGES], len[MAX_IMAGES];
	char names[MAX_IMAGES][256];
	unsigned n, written = 0;
	struct rst_specials sp;
	struct img_err err;
	struct ckpt_hdr h;
	const char *blame;

	if (size < CKPT_HDR_SIZE)
		return 0;
	if (size > cap) {
		free(buf);
		buf = malloc(size);
		cap = size;
	}
	memcpy(buf, data, size);
	n = fz_split(buf, size, off, len, MAX_IMAGES);
	for (unsigned i = 0; i < n; i++) {
		fit(buf + off[i], len[i]);
		if (i == 0) {
			strcpy(names[0], "img");
		} else {
			memcpy(&h, buf + off[i - 1], sizeof(h));
			if (!usable_name(h.parent_name))
				break;
			strcpy(names[i], h.parent_name);
		}
		if (put_file(names[i], buf + off[i], len[i]))
			break;
		written++;
	}

	/* how to restore: from bits of created_ns, a field nothing checks */
	memcpy(&h, buf, sizeof(h));
	bail = h.created_ns & 1 ? &no_bail : 0;
	nchain = 0;
	rst_proc_pid = (h.created_ns >> 4) & 1 ? 0 : (uint32_t)getpid();	/* --same-pid, or not */
	blame = check_image("img", &sp, (h.created_ns >> 3) & 1, (h.created_ns >> 1) & 1, (h.created_ns >> 2) & 1,
			    0, &err);
	if (say)
		fprintf(stderr, "fuzz: %s %s\n", blame ? "refused:" : "accepted", blame ? err.msg : "");
	if (blame) {
		if (!err.msg[0])
			fz_found("empty-reason", "refused with an empty reason");
		check_line("refusal", err.msg, strlen(err.msg));
	} else {
		for (uint32_t i = 0; i < nchain; i++)
			check_accepted(chain[i], i + 1 == nchain);
	}
	check_output();

	fz_reset();
	for (unsigned i = 1; i < written; i++)
		unlink(names[i]);
	return 0;
}

/* ---- the mutator: fields of the header and the tables, then re-sealed ---- */

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : rng;
}

static const uint64_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 63, 64, 511, 512, 576, 0xfff, 0x1000, 0x1001, 0x7fff, 0xffff, 0x10000,
	0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7ffffffff000, 0x800000000000,
	CKPT_ZONE_START, CKPT_ZONE_END, 0x8000000000000000, 0x7fffffffffffffff, ~0ull, ~0xfffull,
};

/* a value seen elsewhere in the tables (an address, an offset), maybe a page off */
static uint64_t borrow(const uint8_t *b, uint64_t len, const struct ckpt_hdr *h)
{
	uint64_t v = 0, at;

	if (h->tables_size < 8 || !fz_inside(len, h->tables_off, h->tables_size, 1))
		return rnd(0);
	at = h->tables_off + (rnd(h->tables_size / 8) * 8);
	memcpy(&v, b + at, 8);
	switch (rnd(4)) {
	case 0: return v + CKPT_PAGE_SIZE * (1 + rnd(4));
	case 1: return v - CKPT_PAGE_SIZE * (1 + rnd(4));
	default: return v;
	}
}

static void mutate_value(uint8_t *p, unsigned width, const uint8_t *b, uint64_t len, const struct ckpt_hdr *h)
{
	uint64_t v = 0;

	memcpy(&v, p, width);
	switch (rnd(7)) {
	case 0: case 1: v = interesting[rnd(sizeof(interesting) / sizeof(interesting[0]))]; break;
	case 2: v += 1 + rnd(16); break;
	case 3: v -= 1 + rnd(16); break;
	case 4: v += (rnd(2) ? 1 : -1) * CKPT_PAGE_SIZE * (1 + rnd(16)); break;
	case 5: v = borrow(b, len, h); break;
	default: v ^= 1ull << rnd(width * 8); break;
	}
	memcpy(p, &v, width);
}

/* a fixture's name, a path that climbs, a newline, an escape, over a string */
static void mutate_string(uint8_t *b, uint64_t len, const struct ckpt_hdr *h)
{
	static const char *const words[] = {
		"/lib", "/data", "/dir", "/fifo", "/tmp", "fifo", "data", "/../../data", "/proc/self/maps",
		"/proc/self/fd/3", "/memfd:x (deleted)", "/tmp/gone (deleted)", "a\nb", "\x1b[31m", "",
	};
	const char *w = words[rnd(sizeof(words) / sizeof(words[0]))];
	uint64_t at, room, wl = strlen(w);

	if (h->strings_size < 2 || !fz_inside(len, h->strings_off, h->strings_size, 1))
		return;
	at = h->strings_off + 1 + rnd(h->strings_size - 1);
	for (room = 0; at + room < h->strings_off + h->strings_size && b[at + room]; room++)
		;
	if (at > h->strings_off + 1 && b[at - 1] && rnd(4))
		return;				/* mostly at the start of a string */
	if (wl <= room) {
		memcpy(b + at, w, wl);
		b[at + wl] = 0;
	}
}

static void mutate_image(uint8_t *b, uint64_t len)
{
	struct ckpt_hdr h;
	static const struct { unsigned rec, weight; } tabs[] = {
		{ sizeof(struct ckpt_thread), 1 }, { sizeof(struct ckpt_proc), 1 }, { sizeof(struct ckpt_vma), 4 },
		{ sizeof(struct ckpt_run), 4 }, { sizeof(struct ckpt_fd), 4 }, { sizeof(struct ckpt_siginfo), 1 },
		{ sizeof(struct ckpt_timer), 1 },
	};
	unsigned pick = (unsigned)rnd(20), width = rnd(2) ? 8 : 4;
	uint64_t toff = 0, count = 0, rec = 0;
	uint8_t *p;

	memcpy(&h, b, sizeof(h));
	if (pick < 3) {				/* a header field */
		unsigned at = (unsigned)rnd(432 / 4) * 4;

		if (at == 12)
			return;			/* hdr_crc: re-sealed anyway */
		if (at % 8)
			width = 4;
		mutate_value(b + at, width, b, len, &h);
		return;
	}
	if (pick < 5) {
		mutate_string(b, len, &h);
		return;
	}
	pick = (unsigned)rnd(16);
	for (unsigned t = 0; t < 7; t++) {
		if (pick >= tabs[t].weight) {
			pick -= tabs[t].weight;
			continue;
		}
		rec = tabs[t].rec;
		switch (t) {
		case 0: toff = h.threads_off, count = h.nthreads; break;
		case 1: toff = h.proc_off, count = 1; break;
		case 2: toff = h.vmas_off, count = h.nvmas; break;
		case 3: toff = h.runs_off, count = h.nruns; break;
		case 4: toff = h.fds_off, count = h.nfds; break;
		case 5: toff = h.sigs_off, count = h.nsigs; break;
		default: toff = h.timers_off, count = h.ntimers; break;
		}
		break;
	}
	if (!rec || !count || !fz_inside(len, toff, count, rec))
		return;
	p = b + toff + rnd(count) * rec;
	p += rnd((rec == sizeof(struct ckpt_proc) || rec == sizeof(struct ckpt_thread) ? 256 : rec) / 4) * 4;
	if ((uintptr_t)(p - b) % 8)
		width = 4;
	mutate_value(p, width, b, len, &h);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed)
{
	uint64_t off[MAX_IMAGES], len[MAX_IMAGES];
	unsigned n, k, reseal = 1;

	rng = (uint64_t)seed * 0x9e3779b97f4a7c15ull | 1;
	if (size < CKPT_HDR_SIZE || !rnd(16)) {	/* bytes anywhere; mostly re-sealed */
		size = LLVMFuzzerMutate(data, size, max);
		reseal = rnd(4) != 0;
		n = fz_split(data, size, off, len, MAX_IMAGES);
		for (unsigned i = 0; reseal && i < n; i++)
			fz_seal(data + off[i], len[i], 1);
		return size;
	}
	n = fz_split(data, size, off, len, MAX_IMAGES);
	k = (unsigned)rnd(n);
	for (unsigned e = 1 + (unsigned)rnd(3); e; e--)
		mutate_image(data + off[k], len[k]);
	fz_seal(data + off[k], len[k], 1);
	return size;
}
