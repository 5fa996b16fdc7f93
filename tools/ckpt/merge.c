/* merge.c -- `ckpt merge IMAGE OUT`: fold an incremental chain into one full image. */
#include "ckpt.h"

const char merge_help[] =
	"usage: ckpt merge IMAGE OUT\n"
	"fold the chain of incremental images ending at IMAGE (CKPT_INCREMENTAL=1) into\n"
	"one full image OUT that needs no other file; IMAGE and its parents are read\n"
	"and checked as the restorer does.  OUT appears only when complete (written\n"
	"beside it, fsync'd, renamed over it), mode 0600\n"
	"A job table (a process and its descendants): each process's chain folded into\n"
	"a full image beside OUT, and OUT a table naming them; the job's shared memory\n"
	"copied beside it too.  IMAGE's files are not changed.\n"
	"exit status: 0 written, 1 failed (nothing written), 2 usage error or an image\n"
	"of the chain refused\n";

/* `ckpt merge IMAGE OUT`: the chain ending at IMAGE folded into one full image.
 * IMAGE's tables are the layout; each of its regions gets its final pages by
 * applying the chain oldest first, as the restorer does (restore/vma.c,
 * apply_chain): a region an image stored whole (CKPT_MAP_FRESH) forgets older
 * data for its range, data runs overwrite, zero runs drop pages.  Pages are
 * built in an anonymous scratch mapping per region with a bitmap of the pages
 * that hold data; runs of those are written with a fresh CRC-32C. */
#define MERGE_MAX_CHAIN 1001

struct merge_vma {
	uint8_t *mem;		/* scratch copy of the region, 0: holds no pages */
	uint8_t *has;		/* one byte per page: 1 = stored data */
};

/* the region of img holding the page at a that can take pages, or -1 */
static long merge_holder(const struct img *img, uint64_t a)
{
	uint32_t lo = 0, hi = img->hdr.nvmas;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (img->vmas[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->hdr.nvmas && img->vmas[lo].start <= a)
		return lo;
	return -1;
}

static void merge_clear(const struct img *top, struct merge_vma *mv, uint64_t a, uint64_t b)
{
	for (uint64_t p = a; p < b; p += CKPT_PAGE_SIZE) {
		long i = merge_holder(top, p);

		if (i >= 0 && mv[i].mem)
			mv[i].has[(p - top->vmas[i].start) / CKPT_PAGE_SIZE] = 0;
	}
}

static int merge_run(const struct img *im, const struct ckpt_run *run, const struct img *top,
		     struct merge_vma *mv, uint8_t *buf, size_t cap)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE;
	uint32_t crc = 0;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done > cap ? cap : len - done;
		ssize_t r = pread(im->fd, buf, n, (off_t)(run->data_off + done));

		if (r != (ssize_t)n) {
			say("%s: read pages at 0x%lx: %s", im->path, run->addr + done, r < 0 ? strerror(errno) : "short read");
			return -1;
		}
		crc = ckpt_crc32c(crc, buf, n);
		for (uint64_t p = 0; p < n; p += CKPT_PAGE_SIZE) {
			uint64_t a = run->addr + done + p;
			long i = merge_holder(top, a);

			if (i >= 0 && mv[i].mem) {
				uint64_t pg = (a - top->vmas[i].start) / CKPT_PAGE_SIZE;

				memcpy(mv[i].mem + pg * CKPT_PAGE_SIZE, buf + p, CKPT_PAGE_SIZE);
				mv[i].has[pg] = 1;
			}
		}
		done += n;
	}
	if (crc != run->crc) {
		say("%s: page data checksum mismatch at 0x%lx: image corrupted", im->path, run->addr);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n, off_t at)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w, n -= (size_t)w, at += w;
	}
	return 0;
}
/* What cmd_merge's steps share. */
struct merge {
	const char *in, *out;
	struct img *chain;		/* newest first: chain[0] is IMAGE */
	uint32_t n;			/* images in the chain */
	struct img *top;		/* &chain[0], whose layout OUT takes */
	struct merge_vma *mv;		/* one per region of top */
	uint8_t *buf;			/* MERGE_BUF bytes for copying */
	struct ckpt_run *runs;		/* the new runs */
	uint64_t nruns, cap_runs;
	struct ckpt_hdr h;		/* OUT's header */
	uint8_t *tables;		/* OUT's tables, tsize bytes */
	uint64_t tsize;
	char tmp[PATH_MAX + 64];	/* OUT's temp file */
};

#define MERGE_BUF (1 << 20)

static int merge_nomem(const struct merge *m)
{
	say("%s: out of memory", m->in);
	return -1;
}

/* IMAGE's stored [vdso] bytes (OUT carries them) match its vdso_crc: 0 or -1 */
static int check_stored_vdso(const char *path, const struct img *im)
{
	static uint8_t b[64 << 10];
	uint64_t n = im->hdr.vdso_size;

	if (!im->hdr.vdso_data_off)
		return 0;
	if (n > sizeof(b) || pread(im->fd, b, n, (off_t)im->hdr.vdso_data_off) != (ssize_t)n ||
	    ckpt_crc32c(0, b, n) != im->hdr.vdso_crc) {
		say("%s: stored vDSO bytes checksum mismatch: image corrupted", esc(path));
		return -1;
	}
	return 0;
}

/* The chain ending at IMAGE, checked like the restorer checks it: 0 or -1. */
static int open_chain(struct merge *m)
{
	static struct img chain[MERGE_MAX_CHAIN];
	static char paths[MERGE_MAX_CHAIN][IMG_PATH_MAX];
	struct img_err err;
	int c;

	if (img_open(&chain[0], m->in, 0, &err)) {
		say("%s: %s", esc(m->in), err.msg);
		return -1;
	}
	c = img_open_parents(&chain[0], m->in, &chain[1], &paths[1], MERGE_MAX_CHAIN - 1, 0, ~0ull, &err);
	if (c < 0) {
		say("%s: %s", m->in, err.msg);
		return -1;
	}
	m->chain = chain;
	m->n = (uint32_t)c + 1;
	m->top = &chain[0];
	return check_stored_vdso(m->in, m->top);
}

/* A scratch copy and a page bitmap for each region of IMAGE that can hold pages. */
static int map_scratch(struct merge *m)
{
	uint32_t vcount = m->top->hdr.nvmas;

	m->mv = calloc(vcount ? vcount : 1, sizeof(*m->mv));
	m->buf = malloc(MERGE_BUF);
	if (!m->mv || !m->buf)
		return merge_nomem(m);
	for (uint32_t i = 0; i < vcount; i++) {
		const struct ckpt_vma *v = &m->top->vmas[i];
		uint64_t len = v->end - v->start;

		if (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK ||
		    (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)))
			continue;
		m->mv[i].mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		m->mv[i].has = calloc(len / CKPT_PAGE_SIZE, 1);
		if (m->mv[i].mem == MAP_FAILED || !m->mv[i].has)
			return merge_nomem(m);
	}
	return 0;
}

/* Every image's pages into the scratch copies, oldest first, as restore/vma.c
 * apply_chain: 0, or -1 (a page data read failed or its crc did not match). */
static int apply_chain(struct merge *m)
{
	for (uint32_t k = m->n; k-- > 0;) {
		const struct img *im = &m->chain[k];

		for (uint32_t i = 0; k != m->n - 1 && i < im->hdr.nvmas; i++)
			if (im->vmas[i].flags & CKPT_MAP_FRESH)
				merge_clear(m->top, m->mv, im->vmas[i].start, im->vmas[i].end);
		for (uint32_t i = 0; i < im->hdr.nruns; i++) {
			const struct ckpt_run *run = &im->runs[i];

			if (!run->data_off)
				merge_clear(m->top, m->mv, run->addr, run->addr + run->npages * CKPT_PAGE_SIZE);
			else if (merge_run(im, run, m->top, m->mv, m->buf, MERGE_BUF))
				return -1;
		}
	}
	return 0;
}

/* append a run of region vi: 0 or -1 (out of memory) */
static int add_run(struct merge *m, uint32_t vi, uint64_t addr, uint64_t npages)
{
	if (m->nruns == m->cap_runs) {
		m->cap_runs = m->cap_runs ? m->cap_runs * 2 : 256;
		m->runs = realloc(m->runs, m->cap_runs * sizeof(*m->runs));
		if (!m->runs)
			return merge_nomem(m);
	}
	m->runs[m->nruns++] = (struct ckpt_run){ .addr = addr, .npages = npages, .vma = vi };
	return 0;
}

/* The new runs: the pages with data, in region order; each region of IMAGE
 * says which of them are its own. */
static int collect_runs(struct merge *m)
{
	for (uint32_t i = 0; i < m->top->hdr.nvmas; i++) {
		struct ckpt_vma *v = &m->top->vmas[i];
		const uint8_t *has = m->mv[i].has;
		uint64_t np = (v->end - v->start) / CKPT_PAGE_SIZE;

		v->run_first = (uint32_t)m->nruns;
		v->run_count = 0;
		v->pages_stored = 0;
		v->flags &= ~CKPT_MAP_FRESH;
		for (uint64_t p = 0; m->mv[i].mem && p < np;) {
			uint64_t q = p;

			if (!has[p]) {
				p++;
				continue;
			}
			while (q < np && has[q])
				q++;
			if (add_run(m, i, v->start + p * CKPT_PAGE_SIZE, q - p))
				return -1;
			v->run_count++;
			v->pages_stored += q - p;
			p = q;
		}
	}
	if (m->nruns > UINT32_MAX) {
		say("%s: too many runs", m->in);
		return -1;
	}
	return 0;
}

/* the scratch copy of run r's pages */
static const uint8_t *run_pages(const struct merge *m, const struct ckpt_run *r)
{
	return m->mv[r->vma].mem + (r->addr - m->top->vmas[r->vma].start);
}

/* OUT's descriptor table, inside its tables */
static const struct ckpt_fd *merged_fds(const struct merge *m)
{
	return (const struct ckpt_fd *)(m->tables + (m->h.fds_off - m->h.tables_off));
}

/* The tables: IMAGE's, old runs zeroed, the new runs at their end
 * (64-aligned); the data placed after them; a full image with a new id,
 * sealed. */
static int build_tables(struct merge *m)
{
	struct ckpt_hdr *h = &m->h;
	uint64_t runs_at;

	*h = m->top->hdr;
	runs_at = (h->tables_off + h->tables_size + 63) & ~63ull;
	m->tsize = (runs_at + m->nruns * sizeof(struct ckpt_run) - h->tables_off + CKPT_PAGE_SIZE - 1) &
		   ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	if (m->tsize > CKPT_MAX_TABLES) {
		say("%s: merged tables would be %lu bytes", m->in, m->tsize);
		return -1;
	}
	m->tables = calloc(1, m->tsize);
	if (!m->tables)
		return merge_nomem(m);
	memcpy(m->tables, m->top->tables, h->tables_size);
	memset(m->tables + (h->runs_off - h->tables_off), 0, h->nruns * sizeof(struct ckpt_run));
	memcpy(m->tables + (h->vmas_off - h->tables_off), m->top->vmas, m->top->hdr.nvmas * sizeof(struct ckpt_vma));
	for (uint64_t r = 0; r < m->nruns; r++)
		m->runs[r].crc = ckpt_crc32c(0, run_pages(m, &m->runs[r]), m->runs[r].npages * CKPT_PAGE_SIZE);
	h->runs_off = runs_at;
	h->nruns = (uint32_t)m->nruns;
	h->tables_size = m->tsize;
	h->data_off = h->tables_off + m->tsize;
	/* the pages, then the descriptors' stored bytes, then IMAGE's [vdso] bytes */
	img_place_data(h, m->runs, (struct ckpt_fd *)merged_fds(m));
	memcpy(m->tables + (runs_at - h->tables_off), m->runs, m->nruns * sizeof(struct ckpt_run));
	h->depth = 0;
	memset(h->parent_id, 0, sizeof(h->parent_id));
	memset(h->parent_name, 0, sizeof(h->parent_name));
	if (getrandom(h->image_id, sizeof(h->image_id), 0) != sizeof(h->image_id)) {
		say("getrandom: %s", strerror(errno));
		return -1;
	}
	img_seal(h, ckpt_crc32c(0, m->tables, m->tsize));
	return 0;
}

/* header, tables, pages, then the descriptors' and the [vdso]'s bytes copied
 * from IMAGE: 0 or -1 (errno) */
static int write_contents(const struct merge *m, int fd)
{
	const struct ckpt_fd *nfds = merged_fds(m);

	if (write_all(fd, &m->h, sizeof(m->h), 0) || write_all(fd, m->tables, m->tsize, (off_t)m->h.tables_off))
		return -1;
	for (uint64_t r = 0; r < m->nruns; r++)
		if (write_all(fd, run_pages(m, &m->runs[r]), m->runs[r].npages * CKPT_PAGE_SIZE,
			      (off_t)m->runs[r].data_off))
			return -1;
	for (uint32_t i = 0; i < m->h.nfds; i++) {
		const struct ckpt_fd *of = &m->top->fds[i];

		for (uint64_t done = 0; done < of->data_len;) {
			uint64_t k = of->data_len - done > MERGE_BUF ? MERGE_BUF : of->data_len - done;

			if (pread(m->top->fd, m->buf, k, (off_t)(of->data_off + done)) != (ssize_t)k ||
			    write_all(fd, m->buf, k, (off_t)(nfds[i].data_off + done)))
				return -1;
			done += k;
		}
	}
	if (m->h.vdso_data_off) {		/* open_chain checked them */
		uint64_t n = m->h.vdso_size;

		if (n > MERGE_BUF || pread(m->top->fd, m->buf, n, (off_t)m->top->hdr.vdso_data_off) != (ssize_t)n ||
		    write_all(fd, m->buf, n, (off_t)m->h.vdso_data_off))
			return -1;
	}
	return 0;
}

/* The merged image in a fresh file beside OUT, fsync'd (m->tmp): 0 or -1. */
static int write_temp(struct merge *m)
{
	int fd = (int)img_create_beside(m->out, m->tmp, sizeof(m->tmp), (int)getpid(), 0);

	if (fd < 0) {
		say("%s: create %s: %s", m->out, m->tmp, strerror(-fd));
		return -1;
	}
	if (write_contents(m, fd) || fsync(fd)) {
		say("%s: write %s: %s", m->out, m->tmp, strerror(errno ? errno : EIO));
		close(fd);
		unlink(m->tmp);
		return -1;
	}
	close(fd);
	return 0;
}

/* The temp file, if it passes the restorer's reader, renamed over OUT: 0 or -1. */
static int check_and_rename(const struct merge *m)
{
	struct img_err err;
	struct img chk;

	if (img_open(&chk, m->tmp, 0, &err)) {
		say("%s: the merged image does not pass the checks: %s", esc(m->out), err.msg);
		unlink(m->tmp);
		return -1;
	}
	close(chk.fd);
	munmap(chk.tables, chk.hdr.tables_size);
	if (rename(m->tmp, m->out)) {
		say("%s: rename: %s", m->out, strerror(errno));
		unlink(m->tmp);
		return -1;
	}
	img_sync_dir(m->out);
	return 0;
}

/* One chain ending at in, folded into out: 0, 1 failed (nothing written), 2 refused */
static int merge_one(const char *in, const char *out, int quiet)
{
	static struct merge m;
	int ret = EX_FAIL;

	memset(&m, 0, sizeof(m));
	m.in = in;
	m.out = out;
	if (open_chain(&m))
		return EX_USAGE;
	if (!map_scratch(&m) && !apply_chain(&m) && !collect_runs(&m) && !build_tables(&m) &&
	    !write_temp(&m) && !check_and_rename(&m)) {
		if (!quiet)
			printf("%s: %u image%s merged: %lu bytes, %lu runs\n", m.out, m.n, m.n == 1 ? "" : "s",
			       m.h.file_size, m.nruns);
		ret = EX_OK;
	}
	for (uint32_t i = 0; m.mv && i < m.top->hdr.nvmas; i++) {
		if (m.mv[i].mem && m.mv[i].mem != MAP_FAILED)
			munmap(m.mv[i].mem, m.top->vmas[i].end - m.top->vmas[i].start);
		free(m.mv[i].has);
	}
	for (uint32_t k = 0; k < m.n; k++) {
		close(m.chain[k].fd);
		munmap(m.chain[k].tables, m.chain[k].hdr.tables_size);
	}
	free(m.mv);
	free(m.tables);
	free(m.runs);
	free(m.buf);
	return ret;
}

/* a shared memory's content (CRC-32C crc) copied beside the table at
 * to_table as name (its path in made): 0, or -1 (said) */
static int copy_beside(const char *from, uint32_t crc, const char *to_table, const char *name, char *made, size_t cap)
{
	char tmp[PATH_MAX + 64], buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1;
	ssize_t n = 0;
	off_t at = 0;
	uint32_t got = 0;

	if (in < 0 || !img_job_beside(to_table, name, made, cap) ||
	    (out = (int)img_create_beside(made, tmp, sizeof(tmp), (int)getpid(), 0)) < 0) {
		say("%s: cannot copy it beside %s: %s", esc(from), esc(to_table), strerror(errno ? errno : EINVAL));
		if (in >= 0)
			close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write_all(out, buf, (size_t)n, at)) {
			n = -1;
			break;
		}
		got = ckpt_crc32c(got, buf, (uint64_t)n);
		at += n;
	}
	close(in);
	if (!n && got != crc) {
		say("%s: the job's shared memory is damaged (CRC): not merged", esc(from));
		n = -1;
		errno = EIO;
	}
	if (n < 0 || fsync(out) || rename(tmp, made)) {
		say("%s: copying to %s: %s", esc(from), made, strerror(errno ? errno : EIO));
		close(out);
		unlink(tmp);
		return -1;
	}
	close(out);
	return 0;
}

/* `ckpt merge TABLE OUT`: each live process's chain folded into a full image
 * ".OUTNAME.JOBID.PID" beside OUT, the shared memory's content copied as
 * ".OUTNAME.JOBID.mK", then OUT: the table naming them (temp file, rename).
 * Nothing of TABLE's is changed; a failure removes what was written. */
static int merge_job(const char *in, const char *out)
{
	static char made[CKPT_JOB_MAX_PROCS + CKPT_JOB_MAX_OBJS][IMG_PATH_MAX];
	const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
	char prefix[64], from[IMG_PATH_MAX], tmp[PATH_MAX + 64];
	struct img_job j;
	struct img_err err;
	struct ckpt_job_hdr *h;
	uint8_t *t = NULL;
	uint32_t nmade = 0, merged = 0;
	int ret = EX_FAIL, r, fd;

	if (img_job_open(&j, in, &err)) {
		say("%s: %s", esc(in), err.msg);
		img_job_close(&j);
		return EX_USAGE;
	}
	for (int tries = 0; tries < 2; tries++, base = "job") {	/* "job": OUT's name breaks the rule */
		int n = snprintf(prefix, sizeof(prefix), ".%.40s.", base);

		for (int i = 0; i < 8; i++)
			n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, "%02x", j.hdr.job_id[i]);
		snprintf(prefix + n, sizeof(prefix) - (size_t)n, ".");
		if (strlen(base) <= 40 && img_job_name_ok(prefix))
			break;
	}
	t = malloc(j.size);
	if (!t) {
		say("%s: out of memory", in);
		goto out;
	}
	memcpy(t, j.base, j.size);
	h = (struct ckpt_job_hdr *)t;
	for (uint32_t k = 0; k < j.hdr.nprocs; k++) {
		struct ckpt_job_proc *p = (struct ckpt_job_proc *)(t + h->procs_off) + k;

		if (p->state != CKPT_JOB_LIVE)
			continue;
		img_job_member_path(in, &j.procs[k], from, sizeof(from));
		memset(p->image, 0, sizeof(p->image));
		snprintf(p->image, sizeof(p->image), "%s%d", prefix, p->pid);
		if (!img_job_beside(out, p->image, made[nmade], sizeof(made[0]))) {
			say("%s: the path of its images is too long", out);
			goto out;
		}
		if ((r = merge_one(from, made[nmade], 1))) {
			ret = r;
			goto out;
		}
		nmade++;
		merged++;
	}
	for (uint32_t k = 0; k < j.hdr.nobjs; k++) {
		struct ckpt_job_obj *o = (struct ckpt_job_obj *)(t + h->objs_off) + k;
		struct ckpt_job_shm *m = (struct ckpt_job_shm *)(t + o->data_off);

		if (o->kind != CKPT_JOB_SHM)
			continue;
		img_job_beside(in, m->file, from, sizeof(from));
		memset(m->file, 0, sizeof(m->file));
		snprintf(m->file, sizeof(m->file), "%sm%u", prefix, k);
		if (copy_beside(from, m->crc, out, m->file, made[nmade], sizeof(made[0])))
			goto out;
		nmade++;
		o->data_crc = ckpt_crc32c(0, t + o->data_off, o->data_len);
	}
	h->crc = 0;
	h->crc = ckpt_crc32c(0, t, j.size);
	fd = (int)img_create_beside(out, tmp, sizeof(tmp), (int)getpid(), 0);
	if (fd < 0 || write_all(fd, t, j.size, 0) || fsync(fd) || close(fd) || rename(tmp, out)) {
		say("%s: writing the table: %s", out, strerror(fd < 0 ? -fd : errno ? errno : EIO));
		if (fd >= 0)
			unlink(tmp);
		goto out;
	}
	img_sync_dir(out);
	printf("%s: a job of %u processes merged, each into one full image beside it\n", out, merged);
	ret = EX_OK;
out:
	if (ret != EX_OK)
		while (nmade)
			unlink(made[--nmade]);
	free(t);
	img_job_close(&j);
	return ret;
}

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(merge_help);
		case 'V': version();
		}
	}
	if (argc - optind != 2)
		usage_error("want IMAGE and OUT");
	if (img_job_is(argv[optind]))
		return merge_job(argv[optind], argv[optind + 1]);
	return merge_one(argv[optind], argv[optind + 1], 0);
}
