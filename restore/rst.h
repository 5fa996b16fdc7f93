/* rst.h -- what the restorer's files share (and readckpt with image.c/out.c). */
#ifndef RST_H
#define RST_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "ckpt_image.h"

/* out.c: a small formatter (%s escaped, %S %c %d %u %x %ld %lu %lx %%) and one-write output */
size_t rst_escape(char *buf, size_t cap, const char *s);	/* s as one line of printable ASCII */
size_t rst_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t rst_fmt(char *buf, size_t cap, const char *fmt, ...);
uint64_t rst_parse_num(const char **s, unsigned base);
void rst_say(int fd, const char *fmt, ...);

/* An error message under construction: "reason" without the "restorer: IMAGE: " prefix. */
struct rst_err {
	char msg[256];
};
int rst_fail(struct rst_err *e, const char *fmt, ...);	/* fills e, returns -1 */

/* image.c: the one reader and validator, for the restorer and for readckpt */
struct rst_image {
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
	const char *strings;
};
/* Open, read and check everything but the page data.  The tables go to a fresh
 * mapping at table_addr (MAP_FIXED_NOREPLACE) or anywhere when table_addr is 0.
 * linker.ld leaves the restorer room for CKPT_MAX_TABLES there. */
int rst_image_open(struct rst_image *img, const char *path, uint64_t table_addr, struct rst_err *e);
const char *rst_image_str(const struct rst_image *img, uint32_t off);	/* "" for 0 */
const char *rst_kind_name(uint32_t kind);
int rst_writes_into(const struct ckpt_vma *v, uint64_t addr, uint64_t len);

/* mem.c: gcc may emit calls to these even with -ffreestanding */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t rst_strlen(const char *s);
int rst_streq(const char *a, const char *b);

/* vma.c: the restorer's own vDSO pages, and the rebuild */
struct rst_specials {
	uint64_t start[CKPT_VMA_KIND_MAX];	/* indexed by CKPT_VMA_VDSO/VVAR/VVAR_VCLOCK */
	uint64_t end[CKPT_VMA_KIND_MAX];
};
int rst_find_specials(struct rst_specials *sp, struct rst_err *e);
int rst_check_vdso(const struct rst_image *img, const struct rst_specials *sp, struct rst_err *e);
int rst_open_files(const struct rst_image *img, int *fds, int verbose, struct rst_err *e);
int rst_alloc_pkeys(const struct rst_image *img, struct rst_err *e);
int rst_verify_runs(const struct rst_image *img, struct rst_err *e);
/* chain[0] is a full image, chain[nchain - 1] the one to restore */
void rst_rebuild(const struct rst_image *const *chain, uint32_t nchain, const struct rst_specials *sp,
		 const int *fds, int lazy, int verbose);

/* fds.c; rst_pin/rst_reopen open a path the image names (see fds.c) */
struct ksys_stat;
#define RST_WRONG_TYPE	(-4095L)	/* rst_pin: the path is of another type; no errno is this */
long rst_pin(const char *path, uint32_t type, struct ksys_stat *st);
long rst_reopen(int pinned, int flags);
const char *rst_type_name(uint32_t mode);
int rst_prepare_fds(const struct rst_image *img, int stdio_image, int close_unsupported, int verbose,
		    struct rst_err *e);
void rst_install_fds(const struct rst_image *img, int stdio_image);
void rst_rewind_fds(const struct rst_image *img);

#define RST_TASK_SIZE	0x7ffffffff000ull	/* x86-64 4-level user address space top */

#endif
