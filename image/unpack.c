/* unpack.c -- a compressed image (CKPT_COMPRESS, include/ckpt_image.h) into
 * the ordinary image it holds, in a memfd: for img_open() in the hosted
 * programs (ckpt, readckpt, libckpt).  The restorer reads raw images only;
 * `ckpt restore` hands it the memfd.
 *
 * The container comes from whoever could write the file: every field is
 * checked before it is used, each frame's stored bytes against their crc, and
 * a frame must unpack to exactly its length.  No malloc: the frame buffers
 * and zstd's context are a mapping of our own (libckpt may call this from a
 * signal handler, for a roll-back).
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_initStaticDCtx, ZSTD_estimateDCtxSize */
#include <pthread.h>
#include <zstd.h>
#include "image.h"
#include "ckpt_sys.h"

#define UNPACK_RAW_MAX	(1ull << 40)	/* an image of more than a TiB is not one of ours */

/* the frame table: sorted, disjoint, inside the file and the image, the last
 * one ending the image */
static int check_frames(const struct ckpt_zip_hdr *h, const struct ckpt_zip_frame *t, struct img_err *e)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < h->nframes; i++) {
		const struct ckpt_zip_frame *f = &t[i];

		if (f->raw_off < end || !f->raw_len || f->raw_len > CKPT_ZIP_FRAME_MAX ||
		    f->raw_off > h->raw_size - f->raw_len || f->file_off < sizeof(*h) ||
		    f->file_off > h->index_off || f->stored_len > h->index_off - f->file_off ||
		    (f->flags & ~CKPT_ZIP_STORED) || ((f->flags & CKPT_ZIP_STORED) && f->stored_len != f->raw_len) ||
		    f->stored_len > ZSTD_compressBound(CKPT_ZIP_FRAME_MAX))
			return img_fail(e, "compressed image: frame %u out of range: image corrupted", i);
		end = f->raw_off + f->raw_len;
	}
	if (end != h->raw_size)
		return img_fail(e, "compressed image: its frames end at %lu, the image at %lu: image corrupted", end,
				h->raw_size);
	return 0;
}

/* Where the image's page data ends, from its header and run table as far as
 * they are unpacked in out (every frame below data_off is, when the first
 * frame at or past it comes): pages go from data_off to there, the
 * descriptors' bytes and the vDSO's after.  0 when the header or the table
 * make no sense (then nothing is left out: img_open will say what is wrong). */
static uint64_t pages_end(const uint8_t *map, uint64_t raw_size)
{
	const struct ckpt_hdr *h = (const struct ckpt_hdr *)map;
	uint64_t end;

	if (h->magic != CKPT_MAGIC || h->data_off > raw_size || h->runs_off > h->data_off ||
	    (uint64_t)h->nruns * sizeof(struct ckpt_run) > h->data_off - h->runs_off)
		return 0;
	end = h->data_off;
	for (uint32_t i = 0; i < h->nruns; i++) {
		const struct ckpt_run *r = (const struct ckpt_run *)(map + h->runs_off) + i;

		if (r->npages > raw_size / 4096)
			return 0;
		if (r->data_off)
			end += r->npages * CKPT_PAGE_SIZE;
	}
	return end <= raw_size ? end : 0;
}

/* What the frames' unpackers share.  Each frame goes straight into a shared
 * mapping of the memfd, its pages made present first in one call (a page
 * fault costs far more than the kernel's loop, and a write() into the memfd
 * would copy every byte once more). */
struct unpacker {
	int fd;				/* the compressed file */
	int pages;			/* 0: frames wholly inside the page data are left out */
	uint8_t *map;			/* the memfd, raw_size bytes */
	const struct ckpt_zip_hdr *h;
	const struct ckpt_zip_frame *t;
	uint32_t next;			/* the next frame to take (several unpackers) */
	int32_t failed;			/* one failed: the others stop (its e says why) */
};

/* One unpacker's frames, taken in turn from u->next, with its work area
 * (in buffer, then zstd's context): 0, or -1 with e filled. */
static int unpack_frames(struct unpacker *u, uint8_t *work, struct img_err *e)
{
	const struct ckpt_zip_hdr *h = u->h;
	uint64_t data_off = 0, end = 0;	/* the page data: [data_off, end), once known */
	int known = u->pages;		/* (with pages, nothing is left out) */
	uint64_t in_cap = (ZSTD_compressBound(CKPT_ZIP_FRAME_MAX) + 4095) & ~4095ull;
	uint8_t *in = work;
	ZSTD_DCtx *dctx = ZSTD_initStaticDCtx(work + in_cap, ZSTD_estimateDCtxSize());
	uint32_t i;

	if (!dctx)
		return img_fail(e, "compressed image: no decompressor");
	while (!__atomic_load_n(&u->failed, __ATOMIC_RELAXED) &&
	       (i = __atomic_fetch_add(&u->next, 1, __ATOMIC_RELAXED)) < h->nframes) {
		const struct ckpt_zip_frame *f = &u->t[i];
		uint8_t *to = u->map + f->raw_off;
		int err;

		if (!known && f->raw_off >= CKPT_HDR_SIZE) {	/* the header is in: where do pages go? */
			const struct ckpt_hdr *hd = (const struct ckpt_hdr *)u->map;

			known = 1;
			if (hd->magic == CKPT_MAGIC && f->raw_off >= hd->data_off) {
				data_off = hd->data_off;
				end = pages_end(u->map, h->raw_size);
			} else {
				known = 0;	/* the tables are not all in yet */
			}
		}
		if (end && f->raw_off >= data_off && f->raw_off + f->raw_len <= end)
			continue;		/* page data, not asked for */
		sys_madvise((uint64_t)to & ~4095ull, ((uint64_t)to & 4095) + f->raw_len, 23 /* MADV_POPULATE_WRITE */);
		err = img_pread_all(u->fd, f->flags & CKPT_ZIP_STORED ? to : in, f->stored_len, f->file_off);
		if (err)
			goto failed_read;
		if (ckpt_crc32c(0, f->flags & CKPT_ZIP_STORED ? to : in, f->stored_len) != f->crc) {
			img_fail(e, "compressed image: frame %u checksum mismatch: image corrupted", i);
			goto failed;
		}
		if (!(f->flags & CKPT_ZIP_STORED)) {
			size_t n = ZSTD_decompressDCtx(dctx, to, f->raw_len, in, f->stored_len);

			if (ZSTD_isError(n) || n != f->raw_len) {
				img_fail(e, "compressed image: frame %u does not unpack to its %u bytes: "
					 "image corrupted", i, f->raw_len);
				goto failed;
			}
		}
		continue;
failed_read:
		img_fail(e, "compressed image: read frame %u: %s", i, err == -5 ? "truncated" : "read error");
failed:
		__atomic_store_n(&u->failed, 1, __ATOMIC_RELAXED);
		return -1;
	}
	return 0;
}

/* A helper thread's share (img_unpack_threads): its own work area */
struct helper {
	struct unpacker *u;
	uint8_t *work;
	struct img_err e;
	int r;
};

static void *helper_main(void *arg)
{
	struct helper *hp = arg;

	hp->r = unpack_frames(hp->u, hp->work, &hp->e);
	return 0;
}

/* The frames on the calling thread and img_unpack_threads - 1 more (page
 * data wanted: any frame may go first): 0, or -1 with e filled (the first
 * failure's). */
static int unpack_all(struct unpacker *u, uint8_t *work, uint64_t work_len, struct img_err *e)
{
	struct helper hp[IMG_UNPACK_THREADS_MAX - 1];
	pthread_t tid[IMG_UNPACK_THREADS_MAX - 1];
	int n = 0, r;

	for (int k = 0; u->pages && k < img_unpack_threads - 1 && k < IMG_UNPACK_THREADS_MAX - 1; k++) {
		long m = sys_mmap(0, work_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (sys_failed(m))
			break;
		hp[n] = (struct helper){ .u = u, .work = (uint8_t *)m };
		if (pthread_create(&tid[n], 0, helper_main, &hp[n])) {
			sys_munmap((uint64_t)m, work_len);
			break;
		}
		n++;
	}
	r = unpack_frames(u, work, e);
	for (int k = 0; k < n; k++) {
		pthread_join(tid[k], 0);
		sys_munmap((uint64_t)hp[k].work, work_len);
		if (hp[k].r && !r) {
			*e = hp[k].e;
			r = -1;
		}
	}
	return r;
}

/* fd: a file of file_size bytes that begins with CKPT_ZIP_MAGIC.  Returns a
 * memfd (close-on-exec) holding the image, or -1 with e filled.  pages 0:
 * the page data is left out (zeros): for a reader of the tables and the
 * descriptors' bytes only (img_unpack_pages). */
int img_unpack_pages = 1;
int img_unpack_threads = 1;

int img_unpack(int fd, uint64_t file_size, int pages, struct img_err *e)
{
	struct ckpt_zip_hdr h;
	uint32_t crc;
	uint64_t table_len, work_len;
	long tmap = 0, wmap = 0, map = 0, out = -1;
	struct unpacker u;
	int r = -1;

	if (file_size < sizeof(h) || img_pread_all(fd, &h, sizeof(h), 0))
		return img_fail(e, "compressed image: truncated header");
	crc = h.hdr_crc;
	h.hdr_crc = 0;
	if (ckpt_crc32c(0, &h, sizeof(h)) != crc)
		return img_fail(e, "compressed image: header checksum mismatch: image corrupted");
	if (h.version != CKPT_ZIP_VERSION || h.codec != CKPT_ZIP_ZSTD)
		return img_fail(e, "compressed image: version %u, codec %u: this reader knows version %u, zstd (%u)",
				h.version, h.codec, CKPT_ZIP_VERSION, CKPT_ZIP_ZSTD);
	table_len = (uint64_t)h.nframes * sizeof(struct ckpt_zip_frame);
	if (!h.nframes || h.index_off < sizeof(h) || h.index_off > file_size || file_size - h.index_off != table_len ||
	    h.raw_size < CKPT_HDR_SIZE || h.raw_size > UNPACK_RAW_MAX)
		return img_fail(e, "compressed image: header out of range (%u frames, %lu bytes unpacked, file of "
				"%lu): image corrupted", h.nframes, h.raw_size, file_size);
	tmap = sys_mmap(0, table_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	work_len = ((ZSTD_compressBound(CKPT_ZIP_FRAME_MAX) + 4095) & ~4095ull) + ZSTD_estimateDCtxSize();
	wmap = sys_mmap(0, work_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sys_failed(tmap) || sys_failed(wmap)) {
		img_fail(e, "compressed image: no memory for its %u frames", h.nframes);
		goto out;
	}
	if (img_pread_all(fd, (void *)tmap, table_len, h.index_off)) {
		img_fail(e, "compressed image: cannot read its frame table");
		goto out;
	}
	if (ckpt_crc32c(0, (void *)tmap, table_len) != h.index_crc) {
		img_fail(e, "compressed image: frame table checksum mismatch: image corrupted");
		goto out;
	}
	if (check_frames(&h, (void *)tmap, e))
		goto out;
	out = sys_memfd_create("ckpt-unpacked", 1 /* MFD_CLOEXEC */);
	if (sys_failed(out) || sys_failed(sys_ftruncate((int)out, (int64_t)h.raw_size))) {
		img_fail(e, "compressed image: no memory file for its %lu bytes: errno %d", h.raw_size,
			 sys_failed(out) ? (int)-out : 28);
		goto out;
	}
	map = sys_mmap(0, h.raw_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)out, 0);
	if (sys_failed(map)) {
		img_fail(e, "compressed image: cannot map a memory file of %lu bytes: errno %d", h.raw_size, (int)-map);
		goto out;
	}
	u = (struct unpacker){ .fd = fd, .pages = pages, .map = (uint8_t *)map, .h = &h, .t = (void *)tmap };
	if (unpack_all(&u, (uint8_t *)wmap, work_len, e))
		goto out;
	r = (int)out;
	out = -1;
out:
	if (!sys_failed(map) && map)
		sys_munmap((uint64_t)map, h.raw_size);
	if (out >= 0)
		sys_close((int)out);
	if (!sys_failed(tmap) && tmap)
		sys_munmap((uint64_t)tmap, table_len);
	if (!sys_failed(wmap) && wmap)
		sys_munmap((uint64_t)wmap, work_len);
	return r;
}
