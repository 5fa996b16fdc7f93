/* seal.h -- re-seal the checksums of a (possibly mutated) image in a buffer.
 *
 * Inside-out, as include/ckpt_image.h nests them: each run's crc over its
 * pages and each descriptor's data_crc over its stored bytes (where those lie
 * inside the buffer), then tables_crc over the tables and vdso_crc over the
 * stored [vdso] bytes (unless it is 0), then hdr_crc over the
 * header with hdr_crc zero.  Every offset is bounds-checked against the buffer
 * here: the fields may hold anything after a mutation.
 */
#ifndef FUZZ_SEAL_H
#define FUZZ_SEAL_H

#include <stdint.h>
#include <string.h>
#include "image.h"		/* ckpt_crc32c */

/* [off, off + n * size) inside a buffer of len bytes */
static inline int fz_inside(uint64_t len, uint64_t off, uint64_t n, uint64_t size)
{
	return off <= len && n <= (len - off) / size;
}

/* the tables are inside the buffer: re-seal the records' crcs and tables_crc */
static inline void fz_seal_tables(uint8_t *b, uint64_t len, struct ckpt_hdr *h)
{
	if (!fz_inside(len, h->tables_off, h->tables_size, 1))
		return;
	if (h->runs_off >= h->tables_off && fz_inside(len, h->runs_off, h->nruns, sizeof(struct ckpt_run)))
		for (uint32_t i = 0; i < h->nruns; i++) {
			struct ckpt_run r;

			memcpy(&r, b + h->runs_off + i * sizeof(r), sizeof(r));
			if (r.data_off && fz_inside(len, r.data_off, r.npages, CKPT_PAGE_SIZE)) {
				r.crc = ckpt_crc32c(0, b + r.data_off, r.npages * CKPT_PAGE_SIZE);
				memcpy(b + h->runs_off + i * sizeof(r), &r, sizeof(r));
			}
		}
	if (h->fds_off >= h->tables_off && fz_inside(len, h->fds_off, h->nfds, sizeof(struct ckpt_fd)))
		for (uint32_t i = 0; i < h->nfds; i++) {
			struct ckpt_fd f;

			memcpy(&f, b + h->fds_off + i * sizeof(f), sizeof(f));
			if (f.data_len && fz_inside(len, f.data_off, f.data_len, 1)) {
				f.data_crc = ckpt_crc32c(0, b + f.data_off, f.data_len);
				memcpy(b + h->fds_off + i * sizeof(f), &f, sizeof(f));
			}
		}
	h->tables_crc = ckpt_crc32c(0, b + h->tables_off, h->tables_size);
	/* stored [vdso] bytes (vdso_crc 0 is target.c's "this kernel's vDSO"):
	 * mutated, they reach the restorer's redirect of another kernel's vDSO */
	if (h->vdso_crc && h->vdso_data_off && fz_inside(len, h->vdso_data_off, h->vdso_size, 1))
		h->vdso_crc = ckpt_crc32c(0, b + h->vdso_data_off, h->vdso_size);
}

/* re-seal the image of len bytes at b (len >= CKPT_HDR_SIZE) */
static inline void fz_seal(uint8_t *b, uint64_t len, int records_too)
{
	struct ckpt_hdr h;

	memcpy(&h, b, sizeof(h));
	if (records_too)
		fz_seal_tables(b, len, &h);
	else if (fz_inside(len, h.tables_off, h.tables_size, 1))
		h.tables_crc = ckpt_crc32c(0, b + h.tables_off, h.tables_size);
	h.hdr_crc = 0;
	h.hdr_crc = ckpt_crc32c(0, &h, sizeof(h));
	memcpy(b, &h, sizeof(h));
}

/* An input is one image or a chain, newest first: each image is hdr.file_size
 * bytes (the last one takes the rest).  Returns how many, at most max. */
static inline unsigned fz_split(const uint8_t *b, uint64_t len, uint64_t *off, uint64_t *size, unsigned max)
{
	unsigned n = 0;
	uint64_t at = 0;

	while (n < max && len - at >= CKPT_HDR_SIZE) {
		struct ckpt_hdr h;

		memcpy(&h, b + at, sizeof(h));
		off[n] = at;
		size[n] = h.file_size >= CKPT_HDR_SIZE && h.file_size <= len - at ? h.file_size : len - at;
		at += size[n++];
	}
	return n;
}

#endif
