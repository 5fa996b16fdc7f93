/* signame.h -- signal names shared by libckpt.so and the ckpt command */
#ifndef CKPT_SIGNAME_H
#define CKPT_SIGNAME_H

struct ckpt_signame {
	const char *name;	/* without "SIG" */
	int sig;
};
extern const struct ckpt_signame ckpt_signames[];	/* ends with { 0, 0 } */
int ckpt_parse_signal(const char *s);
const char *ckpt_signal_abbrev(int sig);	/* "USR2", "SEGV"...; 0 for one without a name here */

/* The sigval that makes CKPT_SIGNAL, sent with sigqueue(), a final checkpoint
 * (ckpt run --slurm, when the job is about to end): libckpt waits for one still
 * being written, writes this one before its handler returns, and then stops
 * the process (SIGSTOP) so that it does nothing the image does not hold. */
#define CKPT_FINAL_COOKIE	0x636b7074656e6400ull	/* "ckptend" */

/* The sigval that makes CKPT_SIGNAL, sent with sigqueue(), a portable
 * checkpoint (ckpt dump --portable): as if the process had started with
 * CKPT_COPY_FILES=1, from this image on (a writer may still scan the pages
 * after the handler returns, so the setting stays). */
/* the trigger from a job's root to its other processes: the high half this,
 * the low half the number of the root's order memfd (capture/job.c) */
#define CKPT_JOB_COOKIE		0x636b706a00000000ull	/* "ckpj" */
#define CKPT_PORTABLE_COOKIE	0x636b7074706f7274ull	/* "ckptport" */

#endif
