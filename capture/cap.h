/* cap.h -- what the capture library's files share.
 *
 * Everything on the checkpoint path runs inside a signal handler: raw sys_*
 * calls only (no errno, no malloc, no stdio), and state in static storage.
 */
#ifndef CAP_H
#define CAP_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "image.h"
#include "ckpt_sys.h"

#define CAP_MAX_VMAS	CKPT_MAX_VMAS	/* the kernel allows 65530 (vm.max_map_count) */
#define CAP_MAX_RUNS	131072u
#define CAP_STRINGS	(512u << 10)
#define CAP_IOBUF	(1u << 20)
#define CAP_MAX_FDS	4096u
#define CAP_FDBUF	(4u << 20)	/* buffered pipe bytes kept per checkpoint */
#define CAP_MAX_SIGS	1024u
#define CAP_MAX_TIMERS	256u
#define CAP_MAX_LOCKS	4096u
#define CAP_MAX_FD_COPY	(64u << 20)	/* largest deleted file or memfd copied into an image */
#define CAP_MAX_FD_STORE (1u << 20)	/* largest open file CKPT_COPY_FILES=all stores */


/* snap.c: CKPT_SNAPSHOT=uffd, the program going on while its write-protected
 * memory is written.  In the scratch: never protected, never in the image. */
struct cap_walk;
enum { SNAP_BROKEN_READ = 1, SNAP_BROKEN_REMOVE, SNAP_BROKEN_UNMAP, SNAP_BROKEN_REMAP };
struct cap_snap {
	int active;			/* the pages are being written */
	int uffd, wake, mem;		/* userfaultfd; eventfd: the writer's "stop"; /proc/self/mem */
	volatile int32_t handler_tid;	/* the fault handler thread, until it exits */
	volatile int32_t go;		/* 1: the writer may start */
	int32_t broken;			/* SNAP_BROKEN_*: why the snapshot no longer holds */
	uint64_t broken_at;
	uint64_t area, area_len;	/* handler stack | vma_base | state | shares | side */
	uint64_t *vma_base;		/* each region's first page in state/side; ~0: not covered */
	uint8_t *state;			/* per page: PAGE_* (snap.c) */
	uint8_t *side;			/* per page: its copy, once it has one */
	uint64_t (*shares)[2];		/* the pause's protection: [start, end) each, share_len at most */
	uint64_t (*gaps)[2];		/* protected between two runs, never written: [start, end) each */
	uint64_t share_len;
	uint32_t nshares, ngaps;
	uint32_t next_share;		/* the next one to take (the pausing thread and the handler) */
	int32_t sharing;		/* the handler is protecting one (futex) */
	int32_t protect_err;		/* the first -errno of a protection */
	uint64_t block, block_end;	/* the handler's last copy: its length, where it ended */
	uint32_t nvmas;
	uint64_t hole_start, hole_end;	/* this scratch */
	uint64_t faults, copied, precopied;
};
int cap_snap_possible(void);		/* 0, or -errno: no userfaultfd that waits in the kernel */
int cap_snap_begin(struct cap_walk *w, const char **why);
void cap_snap_forget_fds(void);		/* the beginning thread's copies */
void cap_snap_forget(void);		/* in the child of a fork(): none runs there */
void cap_snap_go(void);			/* the writer may start */
void cap_snap_wait_go(void);
int cap_snap_covers(uint32_t vma);
void cap_snap_claim(uint32_t vma, uint64_t addr, uint8_t *buf, uint64_t n);
void cap_snap_written(uint32_t vma, uint64_t addr, uint64_t n);
void cap_snap_gone(uint32_t vma, uint64_t addr);	/* the writer could not read it */
int cap_snap_end(const char *path);	/* 0, or -EAGAIN: abandoned (said) */
extern int cap_snap_abandoned;
extern uint64_t cap_signal_sp;		/* the stack pointer the trigger interrupted; 0: none */

/* A large buffer of libckpt's that a pause writes at most a page of: in
 * .lbss, which the linker puts after .bss, so that the variables a pause
 * writes share a few pages (config.c, cap_warm).  Zero-initialised only. */
#define CAP_COLD __attribute__((section(".lbss")))

/* The checkpoint's working storage.  One page-aligned object, so the page scan
 * can leave it out of the image: after a restore its contents do not matter. */
struct cap_scratch {
	struct ckpt_vma vmas[CAP_MAX_VMAS];
	struct ckpt_run runs[CAP_MAX_RUNS];
	char strings[CAP_STRINGS];
	char iobuf[CAP_IOBUF];		/* smaps text, then page bounce buffer */
	uint64_t regions[3 * 4096];	/* PAGEMAP_SCAN output (struct page_region) */
	unsigned char mincore_vec[65536];
	uint8_t from_parent[CAP_MAX_VMAS / 8];	/* pages read from the process, not the writer */
	uint8_t remade[CAP_MAX_VMAS / 8];	/* MADV_DONTFORK regions the writer made and filled */
	struct ckpt_fd fds[CAP_MAX_FDS];
	uint64_t fd_later[CAP_MAX_FDS / 64];	/* records the writer finishes (cap_describe_fds_late) */
	struct ckpt_siginfo sigs[CAP_MAX_SIGS];
	struct ckpt_timer timers[CAP_MAX_TIMERS];
	struct ckpt_lock locks[CAP_MAX_LOCKS];
	char fdbuf[CAP_FDBUF];
	/* dump.c's write state: it changes while pages are written, so it must
	 * be here, out of the image, for an image written in place */
	struct { uint64_t base, len; } gathered[1024];	/* small runs for one pwritev */
	uint32_t ngathered;
	uint64_t gathered_off, gathered_len;
	uint64_t synced_to;		/* writeback started up to here */
	/* a forked writer's first read of a page: CAP_TOUCH_* (maps.c,
	 * cap_touch_slow), and the scan's window on pages read another way */
	int touch;
	long self_mem;			/* /proc/self/mem while the scan reads through it, or -1 */
	uint8_t moving[CAP_MAX_VMAS / 8];	/* regions written while the writer reads them (dump.c) */
	uint8_t pagebuf[CAP_IOBUF];
	struct cap_snap snap;
	struct cap_job_work {		/* job.c, in the root of a job checkpoint */
		struct ckpt_job_hdr hdr;
		struct ckpt_job_proc procs[CKPT_JOB_MAX_PROCS];
		struct ckpt_job_obj objs[CKPT_JOB_MAX_OBJS];
		struct ckpt_job_ref refs[CKPT_JOB_MAX_REFS];
		struct cap_job_fd {	/* every descriptor of the job's live processes */
			uint32_t proc, flags, pipe, sock, pair_end;
			int32_t fd, group, pidfd_of;	/* a pidfd: its process (-1 gone), else 0 */
			uint64_t dev, ino;
		} fds[CKPT_JOB_MAX_REFS];
		uint8_t data[4u << 20];	/* the bytes in the job's pipes */
	} job;
} __attribute__((aligned(4096)));	/* whole pages: none of it shares a page with the image */

/* Process-wide settings, fixed when the library loads. */
struct cap_config {
	char path[4096];		/* absolute image path */
	int sig;			/* trigger signal */
	unsigned ctx_flags;		/* CKPT_CTX_* for ckpt_save_context */
	uint32_t xsave_size;		/* bytes of FPU area */
	uint64_t xcr0;
	uint64_t hwcap2;
	uint32_t cpuid1_ecx, cpuid1_edx, cpuid7_ebx, cpuid7_ecx, cpuid7_edx;
	char cpu_vendor[16];
	uint32_t cpu_level;		/* CKPT_CPU_LEVEL: 2..4, or 0 */
	int have_pagemap_scan;		/* -1 unknown, 0 no, 1 yes */
	int pagemap_scan_no_guard;	/* it refuses PAGE_IS_GUARD (before Linux 6.14) */
	int fork_writer;		/* write images from a forked child (CKPT_FORK != 0) */
	int keep;			/* CKPT_KEEP: images kept, the newest at path (0/1: one) */
	int incremental;		/* CKPT_INCREMENTAL=1 */
	int copy_files;			/* CKPT_COPY_FILES=1: private file mappings stored whole;
					 * 2 (=all): and open regular files up to CAP_MAX_FD_STORE */
	int full_every;			/* CKPT_FULL_EVERY: a full image after this many (default 8) */
	int compress;			/* CKPT_COMPRESS=zstd: a full image of a lone process is
					 * written as a compressed container (zip.c) */
	int snapshot;			/* CKPT_SNAPSHOT: CAP_SNAP_*, 0: auto */
	int secure;			/* AT_SECURE: a privileged program; no CKPT_* is read */
	/* the sealed memfd "ckpt" naming path and sig for `ckpt dump` (preload.c):
	 * its number, and its inode (0: none published) to know it is still ours */
	int settings_fd;
	uint64_t settings_dev, settings_ino;
};

enum { CAP_SNAP_AUTO, CAP_SNAP_FORK, CAP_SNAP_UFFD, CAP_SNAP_INPLACE };

/* The state a checkpoint takes besides memory, filled before the page walk. */
#define CAP_MAX_THREADS	64

struct cap_state {
	struct ckpt_thread thread;	/* the thread taking the checkpoint */
	struct ckpt_proc proc;
	const void *fpu;		/* its FPU area, xsave_size bytes, 64-aligned */
	uint32_t nthreads;		/* every thread, the main one (tid == pid) first: */
	struct ckpt_thread *thr[CAP_MAX_THREADS];
	const void *fpu_of[CAP_MAX_THREADS];
	char cwd[4096];
	char exe[4096];
};

extern struct cap_config ckpt_cfg;
extern struct cap_scratch ckpt_scratch;
void cap_warm(void);			/* the pages a pause writes: present now */
void cap_warm_range(const void *from, uint64_t len);	/* every page of it */

/* A job checkpoint in progress in this process (job.c; config.c holds it so
 * that the readers below job.c can ask).  role 0: this process alone. */
#define CAP_JOB_ROOT	1		/* it took the trigger and leads the job's checkpoint */
#define CAP_JOB_MEMBER	2		/* a descendant, at the root's order */
struct cap_job_state {
	int role;
	char path[4200];		/* this process's image: ".NAME.JOBID.PID" beside the table */
	char table[4096];		/* the job table's path, for messages */
	int fds[5];			/* libckpt's descriptors of the job, or -1: a member's ctl
					 * (to write) and go (to read); the root's ctl[2], go[2]
					 * and the order memfd */
	int answered;			/* a member told the root it is ready (or why not) */
	uint8_t job_id[16];		/* the table's, in each image's header */
	int final;			/* a final checkpoint: members stop once written */
	int stop_again;			/* it was stopped (SIGSTOP, job control) when its job's
					 * checkpoint came: it stops again after it, and after a restore */
};
extern struct cap_job_state ckpt_job;
int cap_is_job_fd(int fd);		/* one of ckpt_job's descriptors */

/* config.c: what a lower floor needs of an upper one, filled in by it (api.c) */
struct cap_hooks {
	void (*after_rollback)(int carry_fd);	/* back in the process rolled back (tlongjmp) */
	void (*after_fresh_restore)(void);	/* back in a fresh process (./restorer) */
	int (*fd_is_ours)(int fd);		/* a descriptor of libckpt's, not the program's */
};
extern struct cap_hooks cap_hooks;
void cap_say(const char *fmt, ...);		/* "libckpt: ..." on stderr, one write */
void cap_rseq_probe(uint64_t *addr, uint32_t *len);
int cap_is_settings_fd(int fd);		/* fd is still libckpt's settings memfd */
const char *cap_env(const char *name);		/* a setting from the environment; 0 in a privileged program */
/* maps.c: is the first read of a page of this (forked) process slow?  Times
 * it on up to 64 present pages at addr the first time it is asked in a
 * checkpoint; slow: read pages through /proc/self/mem instead */
enum { CAP_TOUCH_UNKNOWN, CAP_TOUCH_FAST, CAP_TOUCH_SLOW };
int cap_touch_slow(uint64_t addr, uint64_t npages);

/* zip.c: CKPT_COMPRESS, the image written as a compressed container */
int cap_zip_begin(int fd);		/* 0, or -errno: written raw */
int cap_zip_active(void);
int cap_zip_write(const void *buf, uint64_t n, uint64_t off);
int cap_zip_run(struct ckpt_run *run, uint64_t len);	/* pages read where they are; run->crc */
int cap_zip_drain(void);
int cap_zip_end(uint64_t *raw, uint64_t *stored);
void cap_zip_abort(void);

long cap_spawn_helper(uint64_t stack, uint64_t len, volatile int32_t *tid, void (*fn)(void *), void *arg);
int cap_join_helper(volatile int32_t *tid, int wait);	/* 1: it has exited */
uint64_t cap_mono_ns(void);	/* CLOCK_MONOTONIC, in ns */

/* maps.c: walk /proc/self/smaps into scratch vmas, then the page tables into runs */
#define CAP_VMFLAGS_NLOST 6
struct cap_walk {
	uint32_t nvmas;
	uint32_t nruns;
	uint32_t strings_used;
	uint32_t nfds, nsigs, ntimers, nlocks;
	uint64_t fdbuf_used;
	int incremental;		/* this image holds only what changed since its parent */
	int scanned;			/* pages already scanned (in the process, before the fork) */
	int in_writer;			/* the scan runs in the writer: all-zero pages are read and left out */
	int keep_zero;			/* ... unless the image is compressed (an all-zero page costs
					 * the file nearly nothing, and reading each page twice a lot) */
	int quick;			/* the layout came from /proc/self/maps: refine it in the writer */
	int maps_later;			/* quick, and even that is left to the forked writer (cap_walk_late) */
	int keep_events;		/* an image to restore (not tsetjmp's store): inotify events
					 * pending are taken into libckpt's keeping (inotify.c) */
	uint32_t program_uffd;		/* the program's one userfaultfd: its fd record + 1 (0: none) */
	int no_fork;			/* written without a fork (the program's userfaultfd takes forks) */
	uint64_t uffd_wp_dropped;	/* its write-protected pages past the ranges an image holds */
	int parent_pid;			/* the process being saved (the writer is its child) */
	int chain;			/* CKPT_INCREMENTAL: written as <path>.<id>, linked to <path> */
	uint8_t image_id[16], parent_id[16];
	uint32_t depth;
	char parent_name[256];
	uint32_t ndelete;		/* CKPT_KEEP: chain images no kept image needs any more */
	uint8_t delete_ids[64][16];
	uint64_t vdso_start, vdso_end, vvar_size, vvar_vclock_size;
	const char *fail_what;		/* which step failed, for the message */
	uint64_t fail_addr;
	int fd_has_locks;		/* the descriptor described last shows "lock:" lines */
	int64_t tty_nr;			/* /proc/self/stat's tty_nr, read at the first terminal; -1 before */
	uint32_t lost;			/* CKPT_PROC_*_LOST: held, and not restored */
	int32_t lost_fd[CKPT_PROC_NLOST];	/* the descriptor a lock or lease not recorded is held through */
	uint64_t aio_ring;		/* the first io_setup ring's address */
	uint32_t vmflags_lost;		/* bit i: a region has VmFlags cap_vmflags_lost[i] */
	uint64_t vmflags_lost_at[CAP_VMFLAGS_NLOST];	/* the first such region */
	uint32_t nchildren;		/* child processes at the checkpoint (not restored) */
	int32_t children[8];		/* the first of them */
	int64_t real_ns, mono_ns, boot_ns;	/* CLOCK_REALTIME, _MONOTONIC, _BOOTTIME when the
						 * timers were read: the checkpoint instant */
};
enum { WALK_SMAPS, WALK_MAPS, WALK_REFINE, WALK_PARENT_MAPS };	/* the last: WALK_MAPS of w->parent_pid */
int cap_walk_late(struct cap_walk *w, const char *path, int of_parent);	/* dump.c: a quick walk left to the writer */
extern const char cap_vmflags_lost[CAP_VMFLAGS_NLOST][3];
int cap_walk_maps(struct cap_walk *w, int mode);
int cap_from_parent(uint32_t vma_index);
int cap_take_dontfork(struct cap_walk *w, int may_copy);	/* in the writer, before the process goes on */
int cap_rescan_from_parent(struct cap_walk *w);
int cap_refine_start(struct cap_walk *w, void **handle);	/* the smaps read, in a helper thread */
int cap_refine_finish(struct cap_walk *w, void *handle);
int cap_scan_pages(struct cap_walk *w);
int cap_collect_uffd_wp(struct cap_walk *w);	/* the program's userfaultfd's protected pages */

/* threads.c: the other threads, stopped in a handler while the image is taken */
struct cap_thread_slot {
	struct ckpt_thread rec;
	uint8_t fpu[CKPT_XSAVE_MAX] __attribute__((aligned(64)));
	int32_t tid;
};
extern struct cap_thread_slot ckpt_slots[CAP_MAX_THREADS - 1];
extern uint32_t ckpt_nslots;
int cap_stop_threads(const char *path);		/* 0, or -errno with all released */
void cap_release_threads(void);
void cap_wait_arrivals(void);			/* after a restore, in the trigger thread */
void cap_program_setxid(struct ckpt_sigaction sigact[CKPT_NSIG]);	/* 33 as the program set it, while the threads stop */
void cap_fill_thread(struct ckpt_thread *t, uint64_t program_mask);
void cap_mark_affinity(struct cap_state *st);	/* the writer: threads whose CPUs are the cgroup's lose the flag */
extern int ckpt_stop_sig;
void cap_altstack_init(void);			/* altstack.c: the main thread's, and pthread_create's */
int cap_on_take_stack(void (*fn)(void *), void *arg);	/* 0 ran there, -16 (EBUSY) not */
uint64_t ckpt_call_on_stack(void (*fn)(void *), void *arg, uint64_t top);	/* context.asm */
void cap_on_stop(int sig, void *si, void *ucv);

/* track.c: written pages between checkpoints (userfaultfd write-protect) */
enum { TRACK_NONE, TRACK_UFFD, TRACK_HASH };
struct track_state {
	int method;			/* TRACK_*: how writes are found */
	int uffd;			/* TRACK_UFFD: -1: not tracking */
	uint64_t hash_map;		/* TRACK_HASH: the page-hash store (shared, libckpt's) */
	int valid;			/* the last image is complete and tracking ran since */
	uint32_t since_full;		/* images since the last full one */
	uint32_t depth;			/* of the last image */
	uint8_t last_id[16];		/* of the last image */
	int32_t pid;			/* the process they belong to: a child forked since starts over */
	int in_job;			/* the last image was a job's (named by its job id) */
	uint32_t nkept;			/* ids of images written, newest last (CKPT_KEEP) */
	struct { uint8_t id[16]; uint32_t depth; } kept[64];
};
extern struct track_state ckpt_track;
int cap_track_init(void);
void cap_track_check(void);
void cap_track_restart(void);			/* a forked child: tracking of its own, from a full image */
int cap_scan_hashed(struct cap_walk *w, int pm, uint32_t vi);
void cap_hash_begin(void);			/* the writer, before a chain image's scan */
void cap_track_commit(const struct cap_walk *w);	/* the writer, once that image is linked in */
/* config.c: the scratch tables a walk fills */
int cap_add_run_as(struct cap_walk *w, uint32_t vma, uint64_t start, uint64_t end, int zero);
uint32_t cap_add_stringn(struct cap_walk *w, const char *s, size_t n);	/* offset, 0 when full or empty */
uint32_t cap_add_string(struct cap_walk *w, const char *s);
void cap_hex(char *out, const uint8_t *b, int n);	/* 2n hex digits, no NUL: ids in file names */
int cap_trackable(const struct ckpt_vma *v);
void cap_track_arm(const struct cap_walk *w, int full);

/* state.c */
long cap_read_small(const char *path, char *buf, size_t cap);	/* a small /proc file, 0-terminated */
const char *cap_field(const char *text, const char *key);	/* "key:" line's value, or 0 */
long cap_stat_field(const char *path, int n, uint64_t *out);	/* /proc/.../stat field n (1-based) */
int cap_collect_fds(struct cap_walk *w, int later);
int cap_describe_fds_late(struct cap_walk *w, const char *path);	/* in the writer: what cap_collect_fds(w, 1) left */
int cap_describe_inotify(struct cap_walk *w, struct ckpt_fd *f, uint32_t lead);	/* inotify.c */
void cap_inotify_after_restore(void);
int cap_describe_fanotify(struct cap_walk *w, struct ckpt_fd *f, uint32_t lead);	/* inotify.c */
void cap_link_ptys(struct cap_walk *w);	/* pty.c: /dev/ptmx and its slaves as CKPT_FD_PTY */
/* 1 while a final checkpoint (the process stops after it) is taken: TCP
 * connections stay in repair mode, so that the kill that ends the process
 * sends their peers nothing; cap_repair_release() lets them go again */
extern int cap_final_take;
void cap_repair_release(void);
int cap_collect_signals(struct cap_walk *w);
int cap_collect_timers(struct cap_walk *w);
int cap_count_threads(void);
void cap_collect_children(struct cap_walk *w);
int cap_childless(void);			/* no child of any thread (one waitid): job.c too */
uint32_t cap_own_fds(int32_t *out, uint32_t max);	/* libckpt's descriptors now open */
/* a UNIX socket's peer inode and shutdown (sock_diag); a queue read without
 * taking it (records of a uint32_t length then the bytes); an OOB byte queued */
int cap_unix_peer_of(uint64_t ino, uint64_t *peer, uint32_t *shut);
int cap_peek_queue(int fd, int unix_, int type, int with_from, char *out, uint64_t room, uint64_t *used,
		   uint64_t *count);
int cap_oob_queued(int fd);
void cap_collect_limits(struct ckpt_proc *p);
void cap_collect_inherited(const char *path, struct ckpt_proc *p);	/* what a fork keeps: the writer reads it */
const char *cap_said_path(const char *path);
void cap_say_not_restored(const char *path, const struct ckpt_proc *p, const struct cap_walk *w);
void cap_say_aio_lost(const char *path, const struct cap_walk *w);
void cap_say_vmflags_lost(const char *path, const struct cap_walk *w);

/* dump.c: phase 1 in the process, phase 2 there or in a forked child */
int cap_prepare(struct cap_walk *w, struct cap_state *st, const char *path, int incremental, int quick);
int cap_finish(struct cap_walk *w, struct cap_state *st, const char *path, int target_fd);
/* when set, cap_finish sets it to 1 (and wakes it) once every page and stored
 * byte is in the file: from there on it reads only libckpt's own tables */
extern volatile int32_t *cap_data_out;
void cap_wait_writer(void);			/* an in-place writer thread, if any, is done */
void cap_chain_name(char *out, size_t cap, const char *path, const uint8_t *id);

/* preload.c: the trigger, taking a checkpoint, the way back */
int cap_take_to(const char *path, int target_fd);	/* checkpoint now, waited for (api.c) */
int ckpt_save_context(struct ckpt_regs *regs, void *fpu_area, unsigned flags) __attribute__((returns_twice));


/* job.c: a job's checkpoint (floor 3, beside dump.c) */
int cap_job_begin(const char *path, int final);	/* the root: 0 alone, 1 a job, -errno refused */
int cap_job_join(int32_t root, int order_fd);	/* a member, at the root's order */
int cap_job_barrier(void);		/* state read: wait for the whole job; 0, or cancelled */
void cap_job_release(int commit);	/* the root: the members go on */
void cap_job_forked(void);		/* the root: its writer has the shared memory's copies */
void cap_job_drop_shared(struct cap_walk *w);	/* its pieces of the job's shared memory: no pages */
int cap_job_done(int result);		/* the writer's last word */
void cap_job_not_ready(int err);	/* a member that could not take part tells why */
void cap_job_end(void);			/* this process's part is over */

#endif
