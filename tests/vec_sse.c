/* vec_sse.c -- a numerical program checkpointed with live x87 and SSE state.
 *
 * Simulates a program in the middle of floating-point work that also changed the
 * FPU modes: eight values on the x87 register stack, a non-default x87 control
 * word (round toward zero, double precision), a non-default MXCSR (round toward
 * zero, flush-to-zero, denormals-are-zero, two sticky exception flags) and 16
 * distinct patterns in xmm0-xmm15.  All are live in the registers (no C code
 * between load and store) while the subject spins through the checkpoint.
 */
#include "lib.h"

#include <stdio.h>
#include <string.h>

#define FCW_PAT		0x0e7f	/* all masked, PC = double, RC = toward zero */
#define FCW_DEFAULT	0x037f
#define MXCSR_DEFAULT	0x1f80
/* FZ | RC toward zero | all masked | DAZ | PE and IE sticky flags */
#define MXCSR_PAT	0xffe1

unsigned char xmm_pat[16][16] __attribute__((aligned(16)));
unsigned char xmm_got[16][16] __attribute__((aligned(16)));
long double x87_pat[8], x87_got[8];
uint16_t fcw_pat = FCW_PAT, fcw_got, fcw_default = FCW_DEFAULT;
uint32_t mxcsr_pat, mxcsr_got, mxcsr_default = MXCSR_DEFAULT;

void sse_spin(void);
__asm__(
"	.text\n"
"	.globl	sse_spin\n"
"	.type	sse_spin, @function\n"
"sse_spin:\n"
	T_ARM_ASM("1f", "2f")
"	fldt	x87_pat+16*0(%rip)\n"
"	fldt	x87_pat+16*1(%rip)\n"
"	fldt	x87_pat+16*2(%rip)\n"
"	fldt	x87_pat+16*3(%rip)\n"
"	fldt	x87_pat+16*4(%rip)\n"
"	fldt	x87_pat+16*5(%rip)\n"
"	fldt	x87_pat+16*6(%rip)\n"
"	fldt	x87_pat+16*7(%rip)\n"	/* st0 = x87_pat[7] */
"	fldcw	fcw_pat(%rip)\n"
"	ldmxcsr	mxcsr_pat(%rip)\n"
"	movdqu	xmm_pat+16*0(%rip), %xmm0\n"
"	movdqu	xmm_pat+16*1(%rip), %xmm1\n"
"	movdqu	xmm_pat+16*2(%rip), %xmm2\n"
"	movdqu	xmm_pat+16*3(%rip), %xmm3\n"
"	movdqu	xmm_pat+16*4(%rip), %xmm4\n"
"	movdqu	xmm_pat+16*5(%rip), %xmm5\n"
"	movdqu	xmm_pat+16*6(%rip), %xmm6\n"
"	movdqu	xmm_pat+16*7(%rip), %xmm7\n"
"	movdqu	xmm_pat+16*8(%rip), %xmm8\n"
"	movdqu	xmm_pat+16*9(%rip), %xmm9\n"
"	movdqu	xmm_pat+16*10(%rip), %xmm10\n"
"	movdqu	xmm_pat+16*11(%rip), %xmm11\n"
"	movdqu	xmm_pat+16*12(%rip), %xmm12\n"
"	movdqu	xmm_pat+16*13(%rip), %xmm13\n"
"	movdqu	xmm_pat+16*14(%rip), %xmm14\n"
"	movdqu	xmm_pat+16*15(%rip), %xmm15\n"
	T_READY_ASM
	T_SPIN_ASM("1")
"2:	fnstcw	fcw_got(%rip)\n"
"	stmxcsr	mxcsr_got(%rip)\n"
"	movdqu	%xmm0, xmm_got+16*0(%rip)\n"
"	movdqu	%xmm1, xmm_got+16*1(%rip)\n"
"	movdqu	%xmm2, xmm_got+16*2(%rip)\n"
"	movdqu	%xmm3, xmm_got+16*3(%rip)\n"
"	movdqu	%xmm4, xmm_got+16*4(%rip)\n"
"	movdqu	%xmm5, xmm_got+16*5(%rip)\n"
"	movdqu	%xmm6, xmm_got+16*6(%rip)\n"
"	movdqu	%xmm7, xmm_got+16*7(%rip)\n"
"	movdqu	%xmm8, xmm_got+16*8(%rip)\n"
"	movdqu	%xmm9, xmm_got+16*9(%rip)\n"
"	movdqu	%xmm10, xmm_got+16*10(%rip)\n"
"	movdqu	%xmm11, xmm_got+16*11(%rip)\n"
"	movdqu	%xmm12, xmm_got+16*12(%rip)\n"
"	movdqu	%xmm13, xmm_got+16*13(%rip)\n"
"	movdqu	%xmm14, xmm_got+16*14(%rip)\n"
"	movdqu	%xmm15, xmm_got+16*15(%rip)\n"
"	fstpt	x87_got+16*7(%rip)\n"	/* pops st0 = what x87_pat[7] loaded */
"	fstpt	x87_got+16*6(%rip)\n"
"	fstpt	x87_got+16*5(%rip)\n"
"	fstpt	x87_got+16*4(%rip)\n"
"	fstpt	x87_got+16*3(%rip)\n"
"	fstpt	x87_got+16*2(%rip)\n"
"	fstpt	x87_got+16*1(%rip)\n"
"	fstpt	x87_got+16*0(%rip)\n"
"	fldcw	fcw_default(%rip)\n"
"	ldmxcsr	mxcsr_default(%rip)\n"
"	ret\n"
"	.size	sse_spin, . - sse_spin\n"
);

static int subject(void)
{
	unsigned char fx[512] __attribute__((aligned(16)));
	uint32_t mxcsr_mask;
	char name[64];

	/* only bits this CPU supports (FXSAVE's MXCSR_MASK; 0 means 0xffbf) */
	memset(fx, 0, sizeof fx);
	__asm__ volatile("fxsave %0" : "=m"(fx));
	memcpy(&mxcsr_mask, fx + 28, 4);
	if (!mxcsr_mask)
		mxcsr_mask = 0xffbf;
	mxcsr_pat = MXCSR_PAT & mxcsr_mask;

	for (int i = 0; i < 8; i++)
		x87_pat[i] = (i + 1) * 1.0L / 3.0L * (i & 1 ? -1e300L : 1e-200L);
	t_fill(xmm_pat, sizeof xmm_pat, 0x55e);

	sse_spin();
	t_after_spin();
	if (t_break())
		xmm_got[7][3] ^= 0x01;

	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof name, "xmm%d", i);
		t_eqmem(name, xmm_got[i], xmm_pat[i], 16);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "x87 st(%d) (80-bit value)", 7 - i);
		t_eqmem(name, &x87_got[i], &x87_pat[i], 10);
	}
	t_eq64("x87 control word", fcw_got, FCW_PAT);
	t_eq64("MXCSR", mxcsr_got, mxcsr_pat);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
