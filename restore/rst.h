/* rst.h -- what the restorer's files share; the image code is image/image.h. */
#ifndef RST_H
#define RST_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "image.h"

/* mem.c (memcpy, memset, memcmp: image/image.h) */
size_t rst_strlen(const char *s);
int rst_streq(const char *a, const char *b);

/* vma.c: the restorer's own vDSO pages, and the rebuild */
struct rst_specials {
	uint64_t start[CKPT_VMA_KIND_MAX];	/* indexed by CKPT_VMA_VDSO/VVAR/VVAR_VCLOCK */
	uint64_t end[CKPT_VMA_KIND_MAX];
	/* another kernel's vDSO in the image (rst_check_vdso): 0 when it is this one's */
	uint64_t moved_to;	/* where this kernel's lowest vdso/vvar page goes, the rest as now */
	uint64_t redirect_at;	/* the image's [vdso]: the old bytes, their functions redirected */
	uint32_t jumps, calls, enosys;	/* old functions sent to this vDSO, to a system call, to -ENOSYS */
};
int rst_find_specials(struct rst_specials *sp, struct img_err *e);
int rst_check_vdso(const struct img *img, struct rst_specials *sp, struct img_err *e);
int rst_open_files(const struct img *img, int *fds, int verbose, struct img_err *e);
void rst_close_files(const struct img *img, const int *fds, int lowest);
int rst_alloc_pkeys(const struct img *img, struct img_err *e);
int rst_verify_runs(const struct img *img, struct img_err *e);
/* chain[0] is a full image, chain[nchain - 1] the one to restore */
#define RST_MAX_SHARED_VMAS 256
int rst_share_vma(uint32_t i, int fd, uint64_t offset);
void rst_rebuild(const struct img *const *chain, uint32_t nchain, const struct rst_specials *sp,
		 const int *fds, int lazy, int in_process, int verbose);

/* fds.c; rst_pin/rst_reopen open a path the image names (see fds.c) */
struct ksys_stat;
#define RST_WRONG_TYPE	(-4095L)	/* rst_pin: the path is of another type; no errno is this */
extern uint32_t rst_proc_pid;	/* /proc/<the image's pid>/... opens as /proc/<this>/...; 0: refused */
long rst_pin(const char *path, uint32_t type, struct ksys_stat *st);
long rst_reopen(int pinned, int flags);
const char *rst_type_name(uint32_t mode);
int rst_prepare_fds(const struct img *img, int stdio_image, int close_unsupported, int verbose,
		    const uint8_t *later, struct img_err *e);
void rst_install_fds(const struct img *img, int stdio_image);
void rst_note_foreground(void);
int rst_staged_fd(const struct img *img, int32_t fd, int stdio_image);
int rst_stage_job_fd(const struct img *img, int32_t fd, int newfd, struct img_err *e);
void rst_rewind_fds(const struct img *img);

/* locks.c: the image's file locks and leases, early on the staging
 * descriptors (stage), late (stage 0) on their own numbers */
int rst_take_locks(const struct img *img, const int *stage, int stdio_image, struct img_err *e);

/* paths.c: --map-path and --cwd (see there) */
#define RST_PATH_MAX	4096
#define RST_MAX_MAPS	16
extern char rst_cwd[RST_PATH_MAX];
const char *rst_add_map(const char *arg);
const char *rst_set_cwd(const char *dir);
void rst_say_maps(void);
const char *rst_map_path(const char *path, char *out, struct img_err *e);
const char *rst_dir_of(const char *path, char *out);

/* job.c: a job's table, its tree, and the descriptors its processes share */
extern int rst_in_job;
int rst_job_open(const char *path, struct img_err *e);
int rst_job_fd(void);
const struct ckpt_job_proc *rst_job_proc(uint32_t i);
int rst_job_me(void);
uint32_t rst_job_nprocs(void);			/* this process's index in the table */
const char *rst_job_make_tree(const char *path);
int rst_job_member_ok(const struct img *img, struct img_err *e);
void rst_job_later_fds(const struct img *img, uint8_t *later);
int rst_job_share(const struct img *img, int stdio_image, const char *path, struct img_err *e);
void rst_job_failed(void);

#endif
