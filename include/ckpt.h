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

#ifdef __cplusplus
}
#endif
#endif
