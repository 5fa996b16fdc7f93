/* vec_avx.c -- a vectorised program checkpointed with live AVX state.
 *
 * Simulates a program in the middle of AVX work: ymm0-ymm15 hold 16 distinct
 * 256-bit patterns, so the upper halves (XSAVE's YMM_Hi128 component, which an
 * FXSAVE-only checkpoint loses) differ from zero and from each other.  They are
 * live in the registers while the subject spins through the checkpoint.
 * Skips when the CPU or the kernel (XCR0) has no AVX.
 */
#include "lib.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

unsigned char ymm_pat[16][32] __attribute__((aligned(32)));
unsigned char ymm_got[16][32] __attribute__((aligned(32)));

void avx_spin(void);
__asm__(
"	.text\n"
"	.globl	avx_spin\n"
"	.type	avx_spin, @function\n"
"avx_spin:\n"
	T_ARM_ASM("1f", "2f")
"	vmovdqu	ymm_pat+32*0(%rip), %ymm0\n"
"	vmovdqu	ymm_pat+32*1(%rip), %ymm1\n"
"	vmovdqu	ymm_pat+32*2(%rip), %ymm2\n"
"	vmovdqu	ymm_pat+32*3(%rip), %ymm3\n"
"	vmovdqu	ymm_pat+32*4(%rip), %ymm4\n"
"	vmovdqu	ymm_pat+32*5(%rip), %ymm5\n"
"	vmovdqu	ymm_pat+32*6(%rip), %ymm6\n"
"	vmovdqu	ymm_pat+32*7(%rip), %ymm7\n"
"	vmovdqu	ymm_pat+32*8(%rip), %ymm8\n"
"	vmovdqu	ymm_pat+32*9(%rip), %ymm9\n"
"	vmovdqu	ymm_pat+32*10(%rip), %ymm10\n"
"	vmovdqu	ymm_pat+32*11(%rip), %ymm11\n"
"	vmovdqu	ymm_pat+32*12(%rip), %ymm12\n"
"	vmovdqu	ymm_pat+32*13(%rip), %ymm13\n"
"	vmovdqu	ymm_pat+32*14(%rip), %ymm14\n"
"	vmovdqu	ymm_pat+32*15(%rip), %ymm15\n"
	T_READY_ASM
	T_SPIN_ASM("1")
"2:\n"
"	vmovdqu	%ymm0, ymm_got+32*0(%rip)\n"
"	vmovdqu	%ymm1, ymm_got+32*1(%rip)\n"
"	vmovdqu	%ymm2, ymm_got+32*2(%rip)\n"
"	vmovdqu	%ymm3, ymm_got+32*3(%rip)\n"
"	vmovdqu	%ymm4, ymm_got+32*4(%rip)\n"
"	vmovdqu	%ymm5, ymm_got+32*5(%rip)\n"
"	vmovdqu	%ymm6, ymm_got+32*6(%rip)\n"
"	vmovdqu	%ymm7, ymm_got+32*7(%rip)\n"
"	vmovdqu	%ymm8, ymm_got+32*8(%rip)\n"
"	vmovdqu	%ymm9, ymm_got+32*9(%rip)\n"
"	vmovdqu	%ymm10, ymm_got+32*10(%rip)\n"
"	vmovdqu	%ymm11, ymm_got+32*11(%rip)\n"
"	vmovdqu	%ymm12, ymm_got+32*12(%rip)\n"
"	vmovdqu	%ymm13, ymm_got+32*13(%rip)\n"
"	vmovdqu	%ymm14, ymm_got+32*14(%rip)\n"
"	vmovdqu	%ymm15, ymm_got+32*15(%rip)\n"
"	vzeroupper\n"
"	ret\n"
"	.size	avx_spin, . - avx_spin\n"
);

static void need_avx(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX))
		t_skip("CPUID says no AVX");
	if (!(c & bit_OSXSAVE))
		t_skip("OSXSAVE off: the kernel does not enable XSAVE");
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		t_skip("XCR0 = 0x%x: the kernel does not enable AVX state", lo);
}

static int subject(void)
{
	char name[64];

	t_fill(ymm_pat, sizeof ymm_pat, 0xa7c);
	avx_spin();
	t_after_spin();
	if (t_break())
		ymm_got[12][30] ^= 0x80;	/* upper half of ymm12 */

	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof name, "ymm%d low half (xmm%d)", i, i);
		t_eqmem(name, ymm_got[i], ymm_pat[i], 16);
		snprintf(name, sizeof name, "ymm%d upper half", i);
		t_eqmem(name, ymm_got[i] + 16, ymm_pat[i] + 16, 16);
	}
	return t_result();
}

int main(void)
{
	need_avx();
	return t_main(subject, NULL);
}
