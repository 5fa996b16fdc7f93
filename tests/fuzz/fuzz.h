/* fuzz.h -- what the fuzz target (target.c) and its system-call layer (sys.c) share. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>

/* The sandbox: a fresh directory under /dev/shm (or TMPDIR), the cwd of the
 * target.  Every path the restorer's code opens resolves inside it (absolute
 * ones too, openat2 RESOLVE_IN_ROOT); /proc/self/maps and the /proc/self/fd
 * links of its own O_TMPFILE files are the only ways out.  Fixtures in it:
 * "lib" (code file), "data" (a file nobody may write), "dir", "fifo", "tmp". */
#define FZ_FIXTURES 5
extern int fz_root;			/* the sandbox directory */
extern const char *const fz_fixture[FZ_FIXTURES];
extern uint64_t fz_fixture_ino[FZ_FIXTURES], fz_fixture_dev[FZ_FIXTURES];
void fz_sandbox_init(void);

/* One finding of an oracle: abort() with the reason, unless LABEL is listed in
 * CKPT_FUZZ_KNOWN (comma-separated: a known bug someone else is fixing), when
 * it is only counted (printed at exit).  Returns only then. */
void fz_found(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* what the system-call layer saw during one input, undone by fz_reset() */
void fz_reset(void);
const char *fz_output(void);		/* what the code wrote to fds 1 and 2 */

#endif
