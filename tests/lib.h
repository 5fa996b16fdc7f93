/* lib.h -- the harness every property test links with (tests/lib.c).
 *
 * A test is one program that runs under LD_PRELOAD=libckpt.so with CKPT_FILE set
 * (tests/run.sh does that).  Its main() calls t_main(subject, &opts):
 *
 *   parent (the test program)                 subject (forked child)
 *   -------------------------                 ----------------------
 *   fork ----------------------------------->  set up the state under test
 *                                              t_wait(): t_seq++ (tagged), spin
 *   sees t_seq move, tag and all (vm_readv)
 *   kill(SIGUSR2) -------------------------->  libckpt writes the image
 *   waits for a NEW file at CKPT_FILE
 *   sigqueue(SIGUSR1, gen 0) --------------->  spin ends: self-check (gen 0)
 *   waitpid: must exit 0                       exit
 *   fork; block all signals; execv restorer
 *   sigqueue(SIGUSR1, gen 1 [| BREAK]) ----->  (pending until the program is back)
 *                                              spin ends: checks, "ok N ..."
 *   waitpid: 42 = pass                         exit 42 (all ok; not 0, which a
 *                                              restorer that did nothing returns) / 1
 *
 * opts.restores = 2 restores the same image again after that; opts.generations = 3
 * lets the restored subject wait again (not T_GO_LAST): the parent checkpoints it,
 * kills it and restores the new image, three generations deep.
 *
 * The gen 0 run checks the ORIGINAL process after its checkpoint: if that fails the
 * test itself is wrong, and it says so.  The subject's environment after restore is
 * the image's, so CKPT_TEST_BREAK reaches it through the SIGUSR1 value (T_GO_BREAK):
 * each test then corrupts one value it checks, and must fail.
 *
 * The spin touches no register and no flag (jmp through t_target), so register
 * tests keep patterns live in every register across the checkpoint (top-level asm):
 *
 *	T_ARM_ASM("1f", "2f")		t_target = 1f, t_exit = 2f, t_go = -1 (uses rax)
 *	... load the patterns ...
 *	T_READY_ASM			t_seq++, its tag (push/pop: no register, no flag)
 *	T_SPIN_ASM("1")			1: jmp *t_target(%rip)
 *  2:	... store the registers, rip-relative only ...
 *
 * Output goes through write(2), never stdio buffers: buffered bytes would be in the
 * image and come out twice.
 */
#ifndef TESTS_LIB_H
#define TESTS_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <signal.h>

/* ---- SIGUSR1 value (sigqueue) from the parent to the subject ---- */
#define T_GO_GEN_MASK	0xffu		/* 0: original process, n: restored n times */
#define T_GO_RUN_SHIFT	8		/* which restore of the same image (twice) */
#define T_GO_RUN_MASK	0xff00u
#define T_GO_BREAK	0x10000		/* CKPT_TEST_BREAK=1: corrupt one checked value */
#define T_GO_LAST	0x20000		/* exit after these checks (else wait again) */

struct t_opts {
	int restores;		/* restore the first image this many times (default 1) */
	int generations;	/* restore, checkpoint the restored process again... (default 1) */
	unsigned delay_ms;	/* sleep between each checkpoint and the next go */
	/* parent side, after each image is complete: return 0 if fine */
	int (*after_ckpt)(const char *image, int gen);
};

/* parent side: runs the whole scheme above, returns the exit code for main() */
int t_main(int (*subject)(void), const struct t_opts *opts);

/* ---- subject side ---- */
extern void *volatile t_target;		/* the spin jumps here */
extern void *volatile t_exit;		/* SIGUSR1 stores this into t_target */
extern volatile uint64_t t_seq;		/* bumped each time the subject starts waiting */
extern volatile uint64_t t_seq_tag;	/* T_SEQ_TAG(t_seq), written just before t_seq */
extern uint64_t t_seq_next;		/* t_seq + 1, set by T_ARM_ASM */
extern uint64_t t_seq_tag_next;		/* T_SEQ_TAG(t_seq_next), set by T_ARM_ASM */
extern volatile int t_go;		/* the SIGUSR1 value, -1 while waiting */

/* The parent reads t_seq at the subject's address before the restored process is
 * the program again: the restorer may hold anything there.  A count counts only
 * with its tag beside it.  (The xor is an imm32, sign-extended, for the asm.) */
#define T_SEQ_XOR	0x5c3a96e1
#define T_SEQ_TAG(seq)	(~((uint64_t)(seq) ^ (uint64_t)(int64_t)(int32_t)T_SEQ_XOR))
#define T_STR_(x)	#x
#define T_STR(x)	T_STR_(x)

/* Pieces of the spin, for top-level (basic) asm: one "%" per register.
 * T_ARM_ASM(spin, exit) clobbers rax and flags, so it comes before the patterns.
 * T_READY_ASM stores t_seq + 1 and its tag with push/pop (memory to memory): no
 * register, no flag; it writes 8 bytes below rsp, so never from a red-zone leaf. */
#define T_ARM_ASM(spin, exit) \
	"	lea	" spin "(%rip), %rax\n" \
	"	mov	%rax, t_target(%rip)\n" \
	"	lea	" exit "(%rip), %rax\n" \
	"	mov	%rax, t_exit(%rip)\n" \
	"	movl	$-1, t_go(%rip)\n" \
	"	mov	t_seq(%rip), %rax\n" \
	"	inc	%rax\n" \
	"	mov	%rax, t_seq_next(%rip)\n" \
	"	xor	$" T_STR(T_SEQ_XOR) ", %rax\n" \
	"	not	%rax\n" \
	"	mov	%rax, t_seq_tag_next(%rip)\n"
#define T_READY_ASM \
	"	pushq	t_seq_tag_next(%rip)\n" \
	"	popq	t_seq_tag(%rip)\n" \
	"	pushq	t_seq_next(%rip)\n" \
	"	popq	t_seq(%rip)\n"
#define T_SPIN_ASM(spin) spin ":	jmp	*t_target(%rip)\n"

/* SIGUSR1 handler (SA_SIGINFO): t_go = value, t_target = t_exit.  t_main installs
 * it with SA_SIGINFO|SA_RESTART; sigstate.c installs it with flags of its own. */
void t_go_handler(int sig, siginfo_t *si, void *uc);
/* After an asm spin: takes the go value (t_gen() etc. read it), returns the
 * generation.  (t_wait() does this itself, and exits 1 at entry if an earlier
 * round of checks failed.) */
int t_after_spin(void);

/* C-level wait: spins until SIGUSR1, returns the generation (0 = original) */
int t_wait(void);
int t_gen(void);		/* generation of the last go */
int t_run(void);		/* restore number for the same image (1, 2, ...) */
int t_break(void);		/* restored and CKPT_TEST_BREAK: corrupt one value */
int t_last(void);		/* exit after these checks */
int t_result(void);		/* 0 if every check passed so far, else 1 */

/* Checks print "ok N [gen/run] desc" after restore; before it (gen 0) only failures,
 * as "# self-check ...".  They return the condition. */
int t_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int t_eq64(const char *what, uint64_t got, uint64_t want);
int t_eqmem(const char *what, const void *got, const void *want, size_t n);
/* deterministic pattern; the bytes at offset o (a multiple of 8) of a fill with seed s
 * are those of a fill with seed s + o / 8 */
void t_fill(void *p, size_t n, uint64_t seed);
int t_check_fill(const char *what, const void *p, size_t n, uint64_t seed);

/* ---- output, both sides: one write(2) per line ---- */
void t_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void t_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* "# ..." on stderr */
_Noreturn void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* exit 4 */
_Noreturn void t_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* exit 1 */

/* ---- /proc/self/maps ---- */
/* Read a whole file (/proc/self/maps) into buf, NUL-terminated, no malloc;
 * returns the length or -1. */
long t_read_file(const char *path, char *buf, size_t size);
/* readlink of /proc/self/fd/F into buf (PATH_MAX bytes), "(not open)" if closed */
void t_fdlink(int f, char *buf);
/* the value after KEY ("VmFlags:", "ProtectionKey:") in the smaps block that
 * holds addr, blanks skipped, up to the end of its line; NULL if none.  The
 * text lives in a static buffer until the next call. */
const char *t_smaps_field(const void *addr, const char *key);
/* Find the maps line containing addr: copies it to line (may be NULL), fills start/end
 * and perms ("rw-p"), returns 1 if found, 0 if addr is unmapped, -1 on error. */
int t_maps_find(uintptr_t addr, uintptr_t *start, uintptr_t *end, char perms[5],
		char *line, size_t linesz);
/* Compare two maps texts; prints the lines only one side has (matched by start
 * address), as "# maps before:" / "# maps after:".  Returns 0 when identical. */
int t_maps_diff(const char *before, const char *after);

/* directory holding CKPT_FILE (the test's private temp dir) */
const char *t_tmpdir(void);

/* A child that runs fn() and exits with its return; returns its wait status. */
int t_fork_wait(int (*fn)(void *), void *arg);

#endif
