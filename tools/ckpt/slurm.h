/* slurm.h -- `ckpt run --slurm` (slurm.c), called from run.c */
#ifndef CKPT_SLURM_H
#define CKPT_SLURM_H

#include <stddef.h>

/* DIR/JOBID/img into img, its directories made 0700; CKPT_KEEP=2 at least.
 * 0, or -1 after a message (not in a Slurm job, a directory refused). */
int ckpt_slurm_image(char *img, size_t cap);

/* Supervise PROGRAM (argv) for the job: start it or restore it from img's
 * newest good image, checkpoint and requeue on Slurm's warning, pass on its
 * exit status.  The environment already holds LD_PRELOAD and CKPT_FILE=img. */
int ckpt_slurm_run(char **argv, const char *img, const char *self_dir);

#endif
