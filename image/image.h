/* image.h -- the image, shared by every program: the restorer, readckpt, ckpt
 * and libckpt.  Built twice from the same files (freestanding for the restorer,
 * hosted for the rest), so nothing here may need libc.
 *
 *   read.c    open an image, read its tables and check every byte that is not
 *             page data (the one validator)
 *   chain.c   open an incremental image and its parents, newest last
 *   write.c   lay out the tables of a new image and seal it (the checksums)
 *   unpack.c  a compressed image (CKPT_COMPRESS) into a memfd: hosted builds
 *             with IMG_UNPACK only (libckpt, the tools), never the restorer
 *   crc32c.c  CRC-32C, the checksum of every part of an image
 *   fmt.c     the message formatter (no libc printf): one line, one write
 */
#ifndef IMAGE_H
#define IMAGE_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "ckpt_image.h"

#define IMG_TASK_SIZE	0x7ffffffff000ull	/* x86-64 4-level user address space top */

/* from libc, or from mem.c in the freestanding build (the restorer) */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* crc32c.c: CRC-32C of len bytes at buf, continuing from crc (start with 0) */
uint32_t ckpt_crc32c(uint32_t crc, const void *buf, uint64_t len);
/* hosted builds: crc of a part followed by n bytes, less theirs (crc32c.c) */
uint32_t ckpt_crc32c_shift(uint32_t crc, uint64_t n);

/* fmt.c: a small formatter (%s escaped, %S %c %d %u %x %ld %lu %lx %%) and one-write output */
size_t img_escape(char *buf, size_t cap, const char *s);	/* s as one line of printable ASCII */
size_t img_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t img_fmt(char *buf, size_t cap, const char *fmt, ...);
/* what CKPT_PROC_GROUPS_LOST << i names, i < CKPT_PROC_NLOST */
extern const char img_lost_names[][21];
uint64_t img_parse_num(const char **s, unsigned base);
void img_say(int fd, const char *fmt, ...);

/* An error message under construction: "reason" without the "PROGRAM: IMAGE: " prefix. */
struct img_err {
	char msg[256];
};
int img_fail(struct img_err *e, const char *fmt, ...);	/* fills e, returns -1 */

/* read.c: the one reader and validator */
struct img {
	const char *path;
	int fd;
	uint64_t file_size;
	struct ckpt_hdr hdr;
	uint8_t *tables;		/* hdr.tables_size bytes read from tables_off */
	struct ckpt_thread *threads;
	struct ckpt_proc *proc;
	struct ckpt_vma *vmas;
	struct ckpt_run *runs;
	struct ckpt_fd *fds;
	struct ckpt_siginfo *sigs;
	struct ckpt_timer *timers;
	struct ckpt_lock *locks;	/* hdr.nlocks of them */
	const char *strings;
	uint64_t packed_size;		/* a compressed image: the file's size (file_size is the
					 * unpacked image's, fd a memfd holding it); 0 otherwise */
	uint32_t packed_frames;
};
/* Open, read and check everything but the page data.  The tables go to a fresh
 * mapping at table_addr (MAP_FIXED_NOREPLACE) or anywhere when table_addr is 0.
 * linker.ld.in leaves the restorer room for CKPT_MAX_TABLES there. */
int img_open(struct img *img, const char *path, uint64_t table_addr, struct img_err *e);
/* unpack.c (hosted programs only): a compressed image's file into a memfd
 * holding the image it contains (pages 0: without its page data, zeros
 * there); -1 with e filled.  img_open() unpacks with img_unpack_pages, 1
 * unless a program that reads no page data says 0 (ckpt info, readckpt,
 * ckpt dump's report of the new image). */
int img_unpack(int fd, uint64_t file_size, int pages, struct img_err *e);
extern int img_unpack_pages;
#define IMG_UNPACK_THREADS_MAX	16
extern int img_unpack_threads;		/* unpackers at once when the page data is wanted (1: the
					 * caller's thread only, as libckpt has it; `ckpt restore`:
					 * one per CPU) */
const char *img_str(const struct img *img, uint32_t off);	/* "" for 0 */
const char *img_kind_name(uint32_t kind);
const char *img_fd_why(const struct ckpt_fd *f);	/* why an UNSUPPORTED descriptor is not restored */
const char *img_netlink_name(uint64_t protocol);	/* NETLINK_ROUTE ..., or "?" */
int img_inotify_watch_ok(const struct img *img, const struct ckpt_fd *f, int32_t prev,
			 const struct ckpt_inotify_watch *w, struct img_err *e);
int img_fanotify_mark_ok(const struct img *img, const struct ckpt_fd *f, const struct ckpt_fanotify_mark *m,
			 struct img_err *e);	/* its type, flags, masks and path in range */
const char *img_lock_name(const struct ckpt_lock *l);	/* "POSIX write lock" ... "read lease" */
int img_writes_into(const struct ckpt_vma *v, uint64_t addr, uint64_t len);

/* chain.c: open top's parents, newest first (see there); their number, or -1 */
#define IMG_PATH_MAX	(4096 + 256)
int img_open_parents(const struct img *top, const char *path, struct img *parents, char (*paths)[IMG_PATH_MAX],
		     uint32_t max, uint64_t table_addr, uint64_t table_limit, struct img_err *e);

/* job.c: a job table, read whole into a fresh mapping and checked */
struct img_job {
	int fd;
	uint8_t *base;			/* the whole file */
	uint64_t size;
	struct ckpt_job_hdr hdr;
	struct ckpt_job_proc *procs;
	struct ckpt_job_obj *objs;
	struct ckpt_job_ref *refs;
};
int img_job_is(const char *path);	/* 1: path is a job table (its magic) */
int img_job_open(struct img_job *j, const char *path, struct img_err *e);
void img_job_close(struct img_job *j);	/* the tools' (not in the freestanding restorer) */
size_t img_job_member_path(const char *table, const struct ckpt_job_proc *p, char *out, size_t cap);
size_t img_job_beside(const char *table, const char *name, char *out, size_t cap);
int img_job_name_ok(const char *s);	/* a file of a job's: a hidden name of [A-Za-z0-9._-] */
/* A shared memory's page bitmap (ckpt_job_shm): how many pages from page i
 * on, of n, it marks one after another */
static inline uint64_t img_bits_run(const uint64_t *bits, uint64_t i, uint64_t n)
{
	uint64_t run = 0;

	while (i + run < n && (bits[(i + run) / 64] >> ((i + run) % 64) & 1))
		run++;
	return run;
}

/* write.c (not in the restorer): the steps every image writer shares */
#define IMG_NO_DATA	(~0ull)		/* a run's data_off before placing: zero pages, nothing stored */
int img_pwrite_all(int fd, const void *buf, uint64_t n, uint64_t off);
int img_pread_all(int fd, void *buf, uint64_t n, uint64_t off);	/* its reading twin: an end of file is -EIO */
void img_place_data(struct ckpt_hdr *h, struct ckpt_run *runs, struct ckpt_fd *fds);
void img_seal(struct ckpt_hdr *h, uint32_t tables_crc);
long img_create_beside(const char *path, char *tmp, size_t cap, int pid, uint64_t started);	/* fd or -errno */
void img_sync_dir(const char *path);

#endif
