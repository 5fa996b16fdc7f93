/* ckpt.h -- the public API of libckpt.so.
 *
 * A program gets these by linking with -lckpt, or by running under
 * LD_PRELOAD=libckpt.so (then it may look them up with dlsym).
 * Environment read once, when the library loads:
 *   CKPT_FILE     image path (default: "myckpt" in the directory the program started in)
 *   CKPT_SIGNAL   trigger signal, number or name (default SIGUSR2)
 */
#ifndef CKPT_H
#define CKPT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write the image to CKPT_FILE now.
 * Returns 0 once the image is complete, 1 when the process has just been
 * restored from that image (execution comes out of this call again),
 * -1 with errno set when the checkpoint failed (the previous image is kept). */
int ckpt_checkpoint(void);

/* How many times this process image has been restored (0 in the original run). */
unsigned long ckpt_restore_count(void);

/* ---- user-directed checkpoints: roll back to a saved state ----
 * Images go to CKPT_DIR when set, else to a directory only this user can
 * enter ($XDG_RUNTIME_DIR/ckpt or /tmp/ckpt-<uid>, mode 0700), named
 * <program>.<pid>.<n>; CKPT_STORE=memory keeps them in memfds instead. */

/* Save the process; returns its checkpoint descriptor n (1, 2, ...), and n
 * again when a tlongjmp(n) rolls the process back to it; -1 with errno. */
int tsetjmp(void);

/* Overlay this process (same pid) with checkpoint d, 0 meaning the latest.
 * Does not return on success.  Returns -1 with errno EINVAL (no such
 * descriptor, or the image was refused: the reason is on stderr), ENOENT
 * (its image is gone), ENOEXEC (no restorer binary), EBUSY (the restorer's
 * address range is in use), leaving the process as it was.  May be called
 * from a signal handler, SIGSEGV and SIGBUS included.  Descriptors stay as
 * they are (see libckpt(3)); regular files still open go back to their offset. */
int tlongjmp(int d);

/* Keep [addr, addr + size) as it is across every later tlongjmp. */
int persist(void *addr, size_t size);

/* Copy memory out to a store no roll-back touches, or back in from it. */
#define CKPT_CACHE_OUT	1
#define CKPT_CACHE_IN	2
int cache(int dir, void *addr, size_t size);

/* chkpt_status(type) */
#define CKPT_RECOVERED	1	/* 1 once a roll-back has happened, else 0 */
#define CKPT_FROM_STATE	2	/* the state the last roll-back left (-1, EINVAL: none yet) */
#define CKPT_TO_STATE	3	/* the state it went to (-1, EINVAL: none yet) */
#define CKPT_SIGTYPE	4	/* the signal being handled at the last roll-back, or 0 */
#define CKPT_NUMCHKPTS	5	/* how many checkpoints tsetjmp has made */
int chkpt_status(int type);

/* One roll-back: from state, to state, the signal being handled, when. */
struct ckpt_jump {
	int from;
	int to;
	int signal;
	int pad;
	unsigned long long time_ns;	/* CLOCK_REALTIME */
};
/* Fill out[0..max) with the latest roll-backs, oldest first; returns how many
 * are kept (at most 64), which may exceed max. */
int chkpt_history(struct ckpt_jump *out, int max);

#ifdef __cplusplus
}
#endif
#endif
