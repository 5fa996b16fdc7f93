/* cpu.h -- the one CPU probe: the CPUID words and XCR0 an image records
 * (libckpt), the restorer compares with this machine's, and `ckpt check` shows.
 * Static inline and freestanding (inline asm, no libc): the restorer includes
 * it as the hosted programs do.
 *
 * cpuid and xgetbv are asm without "volatile": they only read, and the same
 * question gets the same answer while the process runs, so the compiler may
 * drop a leaf whose answer a caller never looks at (the restorer does not look
 * at the XSAVE area size). */
#ifndef IMG_CPU_H
#define IMG_CPU_H

#include <stdint.h>

#define IMG_CPUID1_ECX_SSE42	(1u << 20)	/* crc32: every image checksum */
#define IMG_CPUID1_ECX_XSAVE	(1u << 26)
#define IMG_CPUID1_ECX_OSXSAVE	(1u << 27)	/* the kernel enabled XSAVE: xgetbv allowed */

/* r[0..3] = eax, ebx, ecx, edx of CPUID leaf, subleaf sub */
static inline void img_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* XCR0: the XSAVE components the kernel enabled (only with OSXSAVE) */
static inline uint64_t img_xcr0(void)
{
	uint32_t lo, hi;

	__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

struct img_cpu {
	char vendor[12];		/* CPUID 0: "GenuineIntel", "AuthenticAMD"... (not terminated) */
	uint32_t cpuid1_ecx, cpuid1_edx;
	uint32_t cpuid7_ebx, cpuid7_ecx, cpuid7_edx;	/* 0 where leaf 7 does not exist */
	uint64_t xcr0;			/* 0 without OSXSAVE */
	uint32_t xsave_size;		/* CPUID 0xd.0 ebx with XSAVE and OSXSAVE, else 0 */
};

static inline void img_probe_cpu(struct img_cpu *c)
{
	uint32_t r[4];

	img_cpuid(0, 0, r);		/* eax: the highest leaf; ebx, edx, ecx: the vendor */
	__builtin_memcpy(c->vendor, &r[1], 4);
	__builtin_memcpy(c->vendor + 4, &r[3], 4);
	__builtin_memcpy(c->vendor + 8, &r[2], 4);
	c->cpuid7_ebx = c->cpuid7_ecx = c->cpuid7_edx = 0;
	if (r[0] >= 7) {
		img_cpuid(7, 0, r);
		c->cpuid7_ebx = r[1];
		c->cpuid7_ecx = r[2];
		c->cpuid7_edx = r[3];
	}
	img_cpuid(1, 0, r);
	c->cpuid1_ecx = r[2];
	c->cpuid1_edx = r[3];
	c->xcr0 = r[2] & IMG_CPUID1_ECX_OSXSAVE ? img_xcr0() : 0;
	c->xsave_size = 0;
	if ((r[2] & IMG_CPUID1_ECX_XSAVE) && (r[2] & IMG_CPUID1_ECX_OSXSAVE)) {
		img_cpuid(0xd, 0, r);	/* ebx: the area size for the components XCR0 enables */
		c->xsave_size = r[1];
	}
}

/* The x86-64 micro-architecture levels (the psABI's x86-64-v2, -v3, -v4): the
 * CPUID bits and XCR0 components a program started for a level may use.  An
 * image taken at a level (ckpt run --cpu-baseline, CKPT_CPU_LEVEL) restores on
 * any CPU that has them, whatever else the CPU it came from had.  Level 1 is
 * not offered: the restorer itself needs SSE4.2 (crc32).  LAHF/SAHF and
 * LZCNT are in leaf 0x80000001, which images do not record. */
struct img_cpu_level {
	uint32_t cpuid1_ecx, cpuid1_edx, cpuid7_ebx;
	uint64_t xcr0;
};

#define IMG_LEVEL1_EDX	(1u << 0 | 1u << 8 | 1u << 15 | 1u << 23 | 1u << 24 | 1u << 25 | 1u << 26)
					/* fpu cx8 cmov mmx fxsr sse sse2 */
#define IMG_LEVEL2_ECX	(1u << 0 | 1u << 9 | 1u << 13 | 1u << 19 | 1u << 20 | 1u << 23)
					/* sse3 ssse3 cx16 sse4.1 sse4.2 popcnt */
#define IMG_LEVEL3_ECX	(IMG_LEVEL2_ECX | 1u << 12 | 1u << 22 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 29)
					/* fma movbe xsave osxsave avx f16c */
#define IMG_LEVEL3_7EBX	(1u << 3 | 1u << 5 | 1u << 8)	/* bmi1 avx2 bmi2 */
#define IMG_LEVEL4_7EBX	(IMG_LEVEL3_7EBX | 1u << 16 | 1u << 17 | 1u << 28 | 1u << 30 | 1u << 31)
					/* avx512f dq cd bw vl */

/* level 2..4, or 0 for any other number */
static inline int img_cpu_level(uint32_t n, struct img_cpu_level *l)
{
	if (n < 2 || n > 4)
		return 0;
	l->cpuid1_edx = IMG_LEVEL1_EDX;
	l->cpuid1_ecx = n == 2 ? IMG_LEVEL2_ECX : IMG_LEVEL3_ECX;
	l->cpuid7_ebx = n == 2 ? 0 : n == 3 ? IMG_LEVEL3_7EBX : IMG_LEVEL4_7EBX;
	l->xcr0 = n == 2 ? 0x3 : n == 3 ? 0x7 : 0xe7;	/* x87 sse | avx | opmask zmm_hi256 hi16_zmm */
	return 1;
}

#endif
