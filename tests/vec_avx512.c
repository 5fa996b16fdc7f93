/* vec_avx512.c -- a program checkpointed with live AVX-512 state.
 *
 * Simulates AVX-512 code interrupted mid-loop: zmm0-zmm31 hold 32 distinct 512-bit
 * patterns (XSAVE components ZMM_Hi256 and Hi16_ZMM: zmm16-31 exist only there)
 * and the opmask registers k0-k7 hold patterns (64-bit with AVX512BW, else 16-bit
 * kmovw).  They are live while the subject spins through the checkpoint.
 * Skips when CPUID says no AVX512F or XCR0 lacks opmask/ZMM state.
 */
#include "lib.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

unsigned char zmm_pat[32][64] __attribute__((aligned(64)));
unsigned char zmm_got[32][64] __attribute__((aligned(64)));
uint64_t k_pat[8], k_got[8];
static int have_bw;

/* one function per opmask width: kmovq needs AVX512BW */
#define ZMM_SPIN(fn, KLOAD, KSTORE) \
"	.text\n" \
"	.globl	" fn "\n" \
"	.type	" fn ", @function\n" \
fn ":\n" \
	T_ARM_ASM("1f", "2f") \
	KLOAD \
"	vmovdqu64 zmm_pat+64*0(%rip), %zmm0\n" \
"	vmovdqu64 zmm_pat+64*1(%rip), %zmm1\n" \
"	vmovdqu64 zmm_pat+64*2(%rip), %zmm2\n" \
"	vmovdqu64 zmm_pat+64*3(%rip), %zmm3\n" \
"	vmovdqu64 zmm_pat+64*4(%rip), %zmm4\n" \
"	vmovdqu64 zmm_pat+64*5(%rip), %zmm5\n" \
"	vmovdqu64 zmm_pat+64*6(%rip), %zmm6\n" \
"	vmovdqu64 zmm_pat+64*7(%rip), %zmm7\n" \
"	vmovdqu64 zmm_pat+64*8(%rip), %zmm8\n" \
"	vmovdqu64 zmm_pat+64*9(%rip), %zmm9\n" \
"	vmovdqu64 zmm_pat+64*10(%rip), %zmm10\n" \
"	vmovdqu64 zmm_pat+64*11(%rip), %zmm11\n" \
"	vmovdqu64 zmm_pat+64*12(%rip), %zmm12\n" \
"	vmovdqu64 zmm_pat+64*13(%rip), %zmm13\n" \
"	vmovdqu64 zmm_pat+64*14(%rip), %zmm14\n" \
"	vmovdqu64 zmm_pat+64*15(%rip), %zmm15\n" \
"	vmovdqu64 zmm_pat+64*16(%rip), %zmm16\n" \
"	vmovdqu64 zmm_pat+64*17(%rip), %zmm17\n" \
"	vmovdqu64 zmm_pat+64*18(%rip), %zmm18\n" \
"	vmovdqu64 zmm_pat+64*19(%rip), %zmm19\n" \
"	vmovdqu64 zmm_pat+64*20(%rip), %zmm20\n" \
"	vmovdqu64 zmm_pat+64*21(%rip), %zmm21\n" \
"	vmovdqu64 zmm_pat+64*22(%rip), %zmm22\n" \
"	vmovdqu64 zmm_pat+64*23(%rip), %zmm23\n" \
"	vmovdqu64 zmm_pat+64*24(%rip), %zmm24\n" \
"	vmovdqu64 zmm_pat+64*25(%rip), %zmm25\n" \
"	vmovdqu64 zmm_pat+64*26(%rip), %zmm26\n" \
"	vmovdqu64 zmm_pat+64*27(%rip), %zmm27\n" \
"	vmovdqu64 zmm_pat+64*28(%rip), %zmm28\n" \
"	vmovdqu64 zmm_pat+64*29(%rip), %zmm29\n" \
"	vmovdqu64 zmm_pat+64*30(%rip), %zmm30\n" \
"	vmovdqu64 zmm_pat+64*31(%rip), %zmm31\n" \
	T_READY_ASM \
	T_SPIN_ASM("1") \
"2:\n" \
	KSTORE \
"	vmovdqu64 %zmm0, zmm_got+64*0(%rip)\n" \
"	vmovdqu64 %zmm1, zmm_got+64*1(%rip)\n" \
"	vmovdqu64 %zmm2, zmm_got+64*2(%rip)\n" \
"	vmovdqu64 %zmm3, zmm_got+64*3(%rip)\n" \
"	vmovdqu64 %zmm4, zmm_got+64*4(%rip)\n" \
"	vmovdqu64 %zmm5, zmm_got+64*5(%rip)\n" \
"	vmovdqu64 %zmm6, zmm_got+64*6(%rip)\n" \
"	vmovdqu64 %zmm7, zmm_got+64*7(%rip)\n" \
"	vmovdqu64 %zmm8, zmm_got+64*8(%rip)\n" \
"	vmovdqu64 %zmm9, zmm_got+64*9(%rip)\n" \
"	vmovdqu64 %zmm10, zmm_got+64*10(%rip)\n" \
"	vmovdqu64 %zmm11, zmm_got+64*11(%rip)\n" \
"	vmovdqu64 %zmm12, zmm_got+64*12(%rip)\n" \
"	vmovdqu64 %zmm13, zmm_got+64*13(%rip)\n" \
"	vmovdqu64 %zmm14, zmm_got+64*14(%rip)\n" \
"	vmovdqu64 %zmm15, zmm_got+64*15(%rip)\n" \
"	vmovdqu64 %zmm16, zmm_got+64*16(%rip)\n" \
"	vmovdqu64 %zmm17, zmm_got+64*17(%rip)\n" \
"	vmovdqu64 %zmm18, zmm_got+64*18(%rip)\n" \
"	vmovdqu64 %zmm19, zmm_got+64*19(%rip)\n" \
"	vmovdqu64 %zmm20, zmm_got+64*20(%rip)\n" \
"	vmovdqu64 %zmm21, zmm_got+64*21(%rip)\n" \
"	vmovdqu64 %zmm22, zmm_got+64*22(%rip)\n" \
"	vmovdqu64 %zmm23, zmm_got+64*23(%rip)\n" \
"	vmovdqu64 %zmm24, zmm_got+64*24(%rip)\n" \
"	vmovdqu64 %zmm25, zmm_got+64*25(%rip)\n" \
"	vmovdqu64 %zmm26, zmm_got+64*26(%rip)\n" \
"	vmovdqu64 %zmm27, zmm_got+64*27(%rip)\n" \
"	vmovdqu64 %zmm28, zmm_got+64*28(%rip)\n" \
"	vmovdqu64 %zmm29, zmm_got+64*29(%rip)\n" \
"	vmovdqu64 %zmm30, zmm_got+64*30(%rip)\n" \
"	vmovdqu64 %zmm31, zmm_got+64*31(%rip)\n" \
"	vzeroupper\n" \
"	ret\n" \
"	.size	" fn ", . - " fn "\n"

void zmm_spin_q(void);
void zmm_spin_w(void);
__asm__(ZMM_SPIN("zmm_spin_q",
"	kmovq	k_pat+8*0(%rip), %k0\n"
"	kmovq	k_pat+8*1(%rip), %k1\n"
"	kmovq	k_pat+8*2(%rip), %k2\n"
"	kmovq	k_pat+8*3(%rip), %k3\n"
"	kmovq	k_pat+8*4(%rip), %k4\n"
"	kmovq	k_pat+8*5(%rip), %k5\n"
"	kmovq	k_pat+8*6(%rip), %k6\n"
"	kmovq	k_pat+8*7(%rip), %k7\n",
"	kmovq	%k0, k_got+8*0(%rip)\n"
"	kmovq	%k1, k_got+8*1(%rip)\n"
"	kmovq	%k2, k_got+8*2(%rip)\n"
"	kmovq	%k3, k_got+8*3(%rip)\n"
"	kmovq	%k4, k_got+8*4(%rip)\n"
"	kmovq	%k5, k_got+8*5(%rip)\n"
"	kmovq	%k6, k_got+8*6(%rip)\n"
"	kmovq	%k7, k_got+8*7(%rip)\n"));
__asm__(ZMM_SPIN("zmm_spin_w",
"	kmovw	k_pat+8*0(%rip), %k0\n"
"	kmovw	k_pat+8*1(%rip), %k1\n"
"	kmovw	k_pat+8*2(%rip), %k2\n"
"	kmovw	k_pat+8*3(%rip), %k3\n"
"	kmovw	k_pat+8*4(%rip), %k4\n"
"	kmovw	k_pat+8*5(%rip), %k5\n"
"	kmovw	k_pat+8*6(%rip), %k6\n"
"	kmovw	k_pat+8*7(%rip), %k7\n",
"	kmovw	%k0, k_got+8*0(%rip)\n"
"	kmovw	%k1, k_got+8*1(%rip)\n"
"	kmovw	%k2, k_got+8*2(%rip)\n"
"	kmovw	%k3, k_got+8*3(%rip)\n"
"	kmovw	%k4, k_got+8*4(%rip)\n"
"	kmovw	%k5, k_got+8*5(%rip)\n"
"	kmovw	%k6, k_got+8*6(%rip)\n"
"	kmovw	%k7, k_got+8*7(%rip)\n"));

static void need_avx512(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		t_skip("no AVX-512: OSXSAVE off (the kernel does not enable XSAVE)");
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F))
		t_skip("no AVX-512: CPUID.(EAX=7,ECX=0):EBX bit 16 (AVX512F) is clear");
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 0xe6) != 0xe6)
		t_skip("no AVX-512: XCR0 = 0x%x lacks opmask/ZMM_Hi256/Hi16_ZMM (0xe0)", lo);
	have_bw = !!(b & bit_AVX512BW);
}

static int subject(void)
{
	char name[64];

	t_fill(zmm_pat, sizeof zmm_pat, 0x512);
	t_fill(k_pat, sizeof k_pat, 0x0a5);
	if (!have_bw)
		for (int i = 0; i < 8; i++)
			k_pat[i] &= 0xffff;
	if (have_bw)
		zmm_spin_q();
	else
		zmm_spin_w();
	t_after_spin();
	if (t_break())
		zmm_got[20][50] ^= 0x04;	/* zmm20: only in XSAVE's Hi16_ZMM */

	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof name, "zmm%d (512 bits)", i);
		t_eqmem(name, zmm_got[i], zmm_pat[i], 64);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "k%d (%d bits)", i, have_bw ? 64 : 16);
		t_eq64(name, k_got[i], k_pat[i]);
	}
	return t_result();
}

int main(void)
{
	need_avx512();
	return t_main(subject, NULL);
}
