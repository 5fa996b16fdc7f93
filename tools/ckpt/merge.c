/* merge.c -- `ckpt merge IMAGE OUT`: fold an incremental chain into one full image. */
#include "ckpt.h"

const char merge_help[] =
	"usage: ckpt merge IMAGE OUT\n"
	"fold the chain of incremental images ending at IMAGE (CKPT_INCREMENTAL=1) into\n"
	"one full image OUT that needs no other file; IMAGE and its parents are read\n"
	"and checked as the restorer does.  OUT appears only when complete (written\n"
	"beside it, fsync'd, renamed over it), mode 0600\n"
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

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	static struct img chain[MERGE_MAX_CHAIN];
	static char paths[MERGE_MAX_CHAIN][IMG_PATH_MAX];
	struct img_err err;
	const char *in, *out;
	struct img *top;
	struct merge_vma *mv;
	struct ckpt_run *runs = NULL;
	struct ckpt_hdr h;
	uint8_t *tables = NULL, *buf = NULL;
	uint64_t nruns = 0, cap_runs = 0, runs_at, tsize;
	uint32_t n = 0, vcount;
	char tmp[PATH_MAX + 64];
	int c, fd = -1, ret = EX_FAIL;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(merge_help);
		case 'V': version();
		}
	}
	if (argc - optind != 2)
		usage_error("want IMAGE and OUT");
	in = argv[optind];
	out = argv[optind + 1];

	/* the chain, newest first, checked like the restorer checks it */
	if (img_open(&chain[0], in, 0, &err)) {
		say("%s: %s", esc(in), err.msg);
		return EX_USAGE;
	}
	c = img_open_parents(&chain[0], in, &chain[1], &paths[1], MERGE_MAX_CHAIN - 1, 0, ~0ull, &err);
	if (c < 0) {
		say("%s: %s", in, err.msg);
		return EX_USAGE;
	}
	n = (uint32_t)c + 1;
	top = &chain[0];
	vcount = top->hdr.nvmas;

	/* scratch copies of the regions that can hold pages */
	mv = calloc(vcount ? vcount : 1, sizeof(*mv));
	buf = malloc(1 << 20);
	if (!mv || !buf)
		goto nomem;
	for (uint32_t i = 0; i < vcount; i++) {
		const struct ckpt_vma *v = &top->vmas[i];
		uint64_t len = v->end - v->start;

		if (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK ||
		    (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)))
			continue;
		mv[i].mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		mv[i].has = calloc(len / CKPT_PAGE_SIZE, 1);
		if (mv[i].mem == MAP_FAILED || !mv[i].has)
			goto nomem;
	}
	/* oldest first, as restore/vma.c apply_chain */
	for (uint32_t k = n; k-- > 0;) {
		const struct img *im = &chain[k];

		for (uint32_t i = 0; k != n - 1 && i < im->hdr.nvmas; i++)
			if (im->vmas[i].flags & CKPT_MAP_FRESH)
				merge_clear(top, mv, im->vmas[i].start, im->vmas[i].end);
		for (uint32_t i = 0; i < im->hdr.nruns; i++) {
			const struct ckpt_run *run = &im->runs[i];

			if (!run->data_off)
				merge_clear(top, mv, run->addr, run->addr + run->npages * CKPT_PAGE_SIZE);
			else if (merge_run(im, run, top, mv, buf, 1 << 20))
				goto fail;
		}
	}

	/* the new runs: pages with data, in region order */
	for (uint32_t i = 0; i < vcount; i++) {
		struct ckpt_vma *v = &top->vmas[i];
		uint64_t np = (v->end - v->start) / CKPT_PAGE_SIZE;

		v->run_first = (uint32_t)nruns;
		v->run_count = 0;
		v->pages_stored = 0;
		v->flags &= ~CKPT_MAP_FRESH;
		for (uint64_t p = 0; mv[i].mem && p < np;) {
			uint64_t q = p;

			if (!mv[i].has[p]) {
				p++;
				continue;
			}
			while (q < np && mv[i].has[q])
				q++;
			if (nruns == cap_runs) {
				cap_runs = cap_runs ? cap_runs * 2 : 256;
				runs = realloc(runs, cap_runs * sizeof(*runs));
				if (!runs)
					goto nomem;
			}
			runs[nruns] = (struct ckpt_run){ .addr = v->start + p * CKPT_PAGE_SIZE, .npages = q - p,
							 .vma = i };
			v->run_count++;
			v->pages_stored += q - p;
			nruns++;
			p = q;
		}
	}
	if (nruns > UINT32_MAX) {
		say("%s: too many runs", in);
		goto fail;
	}

	/* the tables: IMAGE's, old runs zeroed, the new runs at their end (64-aligned) */
	h = top->hdr;
	runs_at = (h.tables_off + h.tables_size + 63) & ~63ull;
	tsize = (runs_at + nruns * sizeof(struct ckpt_run) - h.tables_off + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	if (tsize > CKPT_MAX_TABLES) {
		say("%s: merged tables would be %lu bytes", in, tsize);
		goto fail;
	}
	tables = calloc(1, tsize);
	if (!tables)
		goto nomem;
	memcpy(tables, top->tables, h.tables_size);
	memset(tables + (h.runs_off - h.tables_off), 0, h.nruns * sizeof(struct ckpt_run));
	memcpy(tables + (h.vmas_off - h.tables_off), top->vmas, vcount * sizeof(struct ckpt_vma));
	for (uint64_t r = 0; r < nruns; r++) {
		const struct ckpt_vma *v = &top->vmas[runs[r].vma];

		runs[r].crc = ckpt_crc32c(0, mv[runs[r].vma].mem + (runs[r].addr - v->start),
					  runs[r].npages * CKPT_PAGE_SIZE);
	}
	h.runs_off = runs_at;
	h.nruns = (uint32_t)nruns;
	h.tables_size = tsize;
	h.data_off = h.tables_off + tsize;
	/* the pages, then the descriptors' stored bytes */
	img_place_data(&h, runs, (struct ckpt_fd *)(tables + (h.fds_off - h.tables_off)));
	memcpy(tables + (runs_at - h.tables_off), runs, nruns * sizeof(struct ckpt_run));
	h.depth = 0;
	memset(h.parent_id, 0, sizeof(h.parent_id));
	memset(h.parent_name, 0, sizeof(h.parent_name));
	if (getrandom(h.image_id, sizeof(h.image_id), 0) != sizeof(h.image_id)) {
		say("getrandom: %s", strerror(errno));
		goto fail;
	}
	img_seal(&h, ckpt_crc32c(0, tables, tsize));

	/* written beside OUT, fsync'd, renamed over it */
	fd = (int)img_create_beside(out, tmp, sizeof(tmp), (int)getpid(), 0);
	if (fd < 0) {
		say("%s: create %s: %s", out, tmp, strerror(-fd));
		goto fail;
	}
	if (write_all(fd, &h, sizeof(h), 0) || write_all(fd, tables, tsize, (off_t)h.tables_off))
		goto wfail;
	for (uint64_t r = 0; r < nruns; r++) {
		const struct ckpt_vma *v = &top->vmas[runs[r].vma];

		if (write_all(fd, mv[runs[r].vma].mem + (runs[r].addr - v->start), runs[r].npages * CKPT_PAGE_SIZE,
			      (off_t)runs[r].data_off))
			goto wfail;
	}
	for (uint32_t i = 0; i < h.nfds; i++) {
		const struct ckpt_fd *of = &top->fds[i];
		const struct ckpt_fd *nf = (const struct ckpt_fd *)(tables + (h.fds_off - h.tables_off)) + i;

		for (uint64_t done = 0; done < of->data_len;) {
			uint64_t k = of->data_len - done > (1 << 20) ? (1 << 20) : of->data_len - done;

			if (pread(top->fd, buf, k, (off_t)(of->data_off + done)) != (ssize_t)k ||
			    write_all(fd, buf, k, (off_t)(nf->data_off + done)))
				goto wfail;
			done += k;
		}
	}
	if (fsync(fd))
		goto wfail;
	close(fd);
	fd = -1;
	{	/* what is renamed into place passes the restorer's reader */
		struct img chk;

		if (img_open(&chk, tmp, 0, &err)) {
			say("%s: the merged image does not pass the checks: %s", esc(out), err.msg);
			unlink(tmp);
			goto fail;
		}
		close(chk.fd);
		munmap(chk.tables, chk.hdr.tables_size);
	}
	if (rename(tmp, out)) {
		say("%s: rename: %s", out, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	img_sync_dir(out);
	printf("%s: %u image%s merged: %lu bytes, %lu runs\n", out, n, n == 1 ? "" : "s", h.file_size, nruns);
	ret = EX_OK;
	goto done;
wfail:
	say("%s: write %s: %s", out, tmp, strerror(errno ? errno : EIO));
	close(fd);
	unlink(tmp);
	goto fail;
nomem:
	say("%s: out of memory", in);
fail:
done:
	free(tables);
	free(runs);
	free(buf);
	return ret;
}
