/* regs_gpr.c -- a program checkpointed in the middle of a computation, with every
 * general register holding a live value.
 *
 * The subject loads 15 distinct 64-bit patterns into rax..r15 (all but rsp), sets
 * CF PF AF ZF SF OF and DF with popfq, and spins (jmp through memory: no register,
 * no flag touched) while it is checkpointed.  After restore, the spin ends and the
 * registers are stored rip-relative before anything else runs.  rsp must be the
 * value it had before the patterns were loaded.
 */
#include "lib.h"

#define NREG 15
static const char *const names[NREG] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* RFLAGS pattern: CF PF AF ZF SF DF OF set, plus bit 1 (always 1) and IF (always 1
 * in user mode; popfq cannot clear it) */
#define FLAGS_SET	0x0cd5ull
#define FLAGS_PAT	(FLAGS_SET | 0x2)
#define FLAGS_CHECKED	0x0cd5ull	/* the status flags and DF */

uint64_t pat[NREG], got[NREG];
uint64_t flags_pat = FLAGS_PAT, flags_got, rsp_before, rsp_after;

void regs_spin(void);
__asm__(
"	.text\n"
"	.globl	regs_spin\n"
"	.type	regs_spin, @function\n"
"regs_spin:\n"
"	push	%rbx\n"
"	push	%rbp\n"
"	push	%r12\n"
"	push	%r13\n"
"	push	%r14\n"
"	push	%r15\n"
	T_ARM_ASM("1f", "2f")
"	mov	%rsp, rsp_before(%rip)\n"
"	pushq	flags_pat(%rip)\n"
"	popfq\n"				/* flags first: the movs keep them */
"	mov	pat+8*0(%rip), %rax\n"
"	mov	pat+8*1(%rip), %rbx\n"
"	mov	pat+8*2(%rip), %rcx\n"
"	mov	pat+8*3(%rip), %rdx\n"
"	mov	pat+8*4(%rip), %rsi\n"
"	mov	pat+8*5(%rip), %rdi\n"
"	mov	pat+8*6(%rip), %rbp\n"
"	mov	pat+8*7(%rip), %r8\n"
"	mov	pat+8*8(%rip), %r9\n"
"	mov	pat+8*9(%rip), %r10\n"
"	mov	pat+8*10(%rip), %r11\n"
"	mov	pat+8*11(%rip), %r12\n"
"	mov	pat+8*12(%rip), %r13\n"
"	mov	pat+8*13(%rip), %r14\n"
"	mov	pat+8*14(%rip), %r15\n"
	T_READY_ASM
	T_SPIN_ASM("1")
"2:	pushfq\n"
"	popq	flags_got(%rip)\n"
"	mov	%rax, got+8*0(%rip)\n"
"	mov	%rbx, got+8*1(%rip)\n"
"	mov	%rcx, got+8*2(%rip)\n"
"	mov	%rdx, got+8*3(%rip)\n"
"	mov	%rsi, got+8*4(%rip)\n"
"	mov	%rdi, got+8*5(%rip)\n"
"	mov	%rbp, got+8*6(%rip)\n"
"	mov	%r8, got+8*7(%rip)\n"
"	mov	%r9, got+8*8(%rip)\n"
"	mov	%r10, got+8*9(%rip)\n"
"	mov	%r11, got+8*10(%rip)\n"
"	mov	%r12, got+8*11(%rip)\n"
"	mov	%r13, got+8*12(%rip)\n"
"	mov	%r14, got+8*13(%rip)\n"
"	mov	%r15, got+8*14(%rip)\n"
"	mov	%rsp, rsp_after(%rip)\n"
"	cld\n"					/* the C ABI wants DF clear */
"	pop	%r15\n"
"	pop	%r14\n"
"	pop	%r13\n"
"	pop	%r12\n"
"	pop	%rbp\n"
"	pop	%rbx\n"
"	ret\n"
"	.size	regs_spin, . - regs_spin\n"
);

static int subject(void)
{
	for (int i = 0; i < NREG; i++)
		pat[i] = 0x0123456789abcdefull * (i + 3) ^ 0xa5c3f00ff00fc3a5ull ^
			 (uint64_t)(i + 1) << 56;
	regs_spin();
	t_after_spin();
	if (t_break())
		got[1] ^= 0x10;		/* rbx */
	for (int i = 0; i < NREG; i++)
		t_eq64(names[i], got[i], pat[i]);
	t_eq64("rflags CF PF AF ZF SF OF DF", flags_got & FLAGS_CHECKED, FLAGS_SET);
	t_eq64("rsp", rsp_after, rsp_before);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
