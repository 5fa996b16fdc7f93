/* prep.c -- turn a real image into a fuzz seed (tests/fuzz/mkcorpus.sh).
 *
 *   prep IMAGE OUT      write IMAGE, fitted to the fuzz sandbox, to OUT
 *
 * Page data is cut to one zeroed page in each of the first few regions that
 * store any (the pages say nothing to the checks, a small input runs faster,
 * and they hold the environment of whoever made the image); the vDSO is
 * marked "this kernel's" (vdso_crc 0: target.c puts this kernel's bytes in
 * the stored copy); mapped files and descriptors' files
 * name the sandbox fixtures (target.c fit(): inode 1 "lib", 2 "data", 3 "dir",
 * 4 "fifo"; inotify watches and fanotify marks the directory), the working directory is "/",
 * and the low bits of created_ns
 * (the target's restore options) are 0; cpu_level is 2 (x86-64-v2: the CPU
 * check asks only for that level's features) and each thread's XSAVE header
 * names only the x87 and SSE state (the other components' places in the
 * area are the making CPU's), so a seed made on one machine passes the
 * checks on another.  Then every checksum is re-sealed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

#define KEEP_RUNS 3

static uint8_t *img;
static uint64_t len;

/* one page for each of the first KEEP_RUNS regions with runs; descriptors'
 * stored bytes and the [vdso]'s after them, as before */
static void cut_pages(struct ckpt_hdr *h)
{
	struct ckpt_vma *v = (struct ckpt_vma *)(img + h->vmas_off);
	struct ckpt_run *r = (struct ckpt_run *)(img + h->runs_off), kept[KEEP_RUNS];
	struct ckpt_fd *fd = (struct ckpt_fd *)(img + h->fds_off);
	uint8_t *out = calloc(1, len);
	uint64_t at = h->data_off;
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->nvmas; i++) {
		uint32_t first = v[i].run_first, count = v[i].run_count;

		v[i].run_first = n;
		v[i].run_count = 0;
		v[i].pages_stored = 0;
		if (!count || n == KEEP_RUNS)
			continue;
		kept[n] = r[first];
		kept[n].npages = 1;
		if (kept[n].data_off) {
			kept[n].data_off = at;
			at += CKPT_PAGE_SIZE;
			v[i].pages_stored = 1;
		}
		v[i].run_count = 1;
		n++;
	}
	for (uint32_t i = 0; i < h->nfds; i++)
		if (fd[i].data_len) {
			memcpy(out + at, img + fd[i].data_off, fd[i].data_len);
			fd[i].data_off = at;
			at += fd[i].data_len;
		}
	if (h->vdso_data_off) {			/* the stored [vdso] bytes, last */
		memcpy(out + at, img + h->vdso_data_off, h->vdso_size);
		h->vdso_data_off = at;
		at += h->vdso_size;
	}
	memset(r, 0, h->nruns * sizeof(*r));
	memcpy(r, kept, n * sizeof(*r));
	h->nruns = n;
	memcpy(out, img, h->data_off);		/* header and tables, as edited */
	h->file_size = at;
	h->data_size = at - h->data_off;
	free(img);
	img = out;
	len = at;
}

/* put s over the string at off (always fits: only shorter names are asked for) */
static void set_str(const struct ckpt_hdr *h, uint32_t off, const char *s)
{
	char *at = (char *)img + h->strings_off + off;

	if (off && strlen(at) >= strlen(s))
		strcpy(at, s);
}

int main(int argc, char **argv)
{
	FILE *f;
	struct ckpt_hdr h;
	struct ckpt_vma *v;
	struct ckpt_fd *fd;
	struct ckpt_proc *p;

	if (argc != 3 || !(f = fopen(argv[1], "rb"))) {
		fprintf(stderr, "usage: prep IMAGE OUT\n");
		return 2;
	}
	fseek(f, 0, SEEK_END);
	len = (uint64_t)ftell(f);
	rewind(f);
	img = malloc(len);
	if (len < CKPT_HDR_SIZE || fread(img, 1, len, f) != len)
		return 2;
	fclose(f);
	memcpy(&h, img, sizeof(h));
	cut_pages(&h);
	v = (struct ckpt_vma *)(img + h.vmas_off);
	fd = (struct ckpt_fd *)(img + h.fds_off);
	p = (struct ckpt_proc *)(img + h.proc_off);
	for (uint32_t i = 0; i < h.nvmas; i++)
		if (v[i].kind == CKPT_VMA_FILE) {
			set_str(&h, v[i].path_off, "/lib");
			v[i].ino = 1;
			v[i].fsize = v[i].mtime_sec = 0;
		}
	for (uint32_t i = 0; i < h.nfds; i++) {
		switch (fd[i].kind) {
		case CKPT_FD_REG: case CKPT_FD_CHR:
			set_str(&h, fd[i].path_off, "/data");
			fd[i].ino = 2;
			break;
		case CKPT_FD_DIR:
			set_str(&h, fd[i].path_off, "/dir");
			fd[i].ino = 3;
			break;
		case CKPT_FD_FIFO:
			set_str(&h, fd[i].path_off, "/fifo");
			fd[i].ino = 4;
			break;
		case CKPT_FD_INOTIFY:		/* every watch on the directory fixture */
			for (uint64_t k = 0; k < fd[i].data_len / sizeof(struct ckpt_inotify_watch); k++) {
				struct ckpt_inotify_watch *w = (struct ckpt_inotify_watch *)(img + fd[i].data_off) + k;

				set_str(&h, w->path_off, "/dir");
				w->ino = 3;
			}
			continue;
		case CKPT_FD_FANOTIFY:		/* every mark on the directory fixture */
			for (uint64_t k = 0; k < fd[i].data_len / sizeof(struct ckpt_fanotify_mark); k++) {
				struct ckpt_fanotify_mark *m = (struct ckpt_fanotify_mark *)(img + fd[i].data_off) + k;

				set_str(&h, m->path_off, "/dir");
				m->ino = 3;
			}
			continue;
		default:
			continue;
		}
		fd[i].size = fd[i].mtime_sec = 0;
	}
	for (uint32_t i = 0; i < h.nthreads; i++) {
		struct ckpt_thread *t = (struct ckpt_thread *)(img + h.threads_off) + i;
		uint64_t bv;

		if (!(t->flags & CKPT_CTX_XSAVE))
			continue;
		memcpy(&bv, img + t->xsave_off + 512, 8);	/* XSTATE_BV */
		bv &= 3;
		memcpy(img + t->xsave_off + 512, &bv, 8);
	}
	set_str(&h, p->cwd_off, "/");
	h.vdso_crc = 0;
	h.created_ns &= ~0x1full;		/* target.c: how to restore, plain */
	h.cpu_level = 2;
	memset(h.program, 0, sizeof(h.program));
	memcpy(h.program, "seed", 4);
	memcpy(img, &h, sizeof(h));
	fz_seal(img, len, 1);
	if (!(f = fopen(argv[2], "wb")) || fwrite(img, 1, len, f) != len || fclose(f))
		return 2;
	return 0;
}
