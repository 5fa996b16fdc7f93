/* crc32c.c -- CRC-32C (Castagnoli), the checksum of every part of an image.
 * Computed with the SSE4.2 crc32 instruction; start with crc = 0.
 *
 * One crc32 takes 3 cycles to give its result but a new one can start every
 * cycle, so long buffers go as three independent streams over consecutive
 * 2 KiB blocks A, B, C, joined by the CRC's linearity:
 * state(A B C) = ((state(A) * x^(8*2048) + state0(B)) * x^(8*2048)) + state0(C),
 * products taken mod the polynomial (bit-reflected, as the instruction works;
 * state0 starts from 0).  The value is the same as one stream's.
 *
 * One copy, built freestanding for the restorer and hosted for the rest. */
#include "image.h"

#define CRC_BLOCK	2048u
#define CRC_SHIFT	0x0d65762au	/* x^(8 * CRC_BLOCK) mod P, reflected */

/* a * b mod P, bit-reflected (bit 31 holds x^0) */
static uint32_t crc_mulmod(uint32_t a, uint32_t b)
{
	uint32_t r = 0;

	for (uint32_t bit = 0x80000000u; bit; bit >>= 1) {
		if (b & bit)
			r ^= a;
		a = (a >> 1) ^ (a & 1 ? 0x82f63b78u : 0);	/* a *= x */
	}
	return r;
}

__attribute__((target("sse4.2")))
uint32_t ckpt_crc32c(uint32_t crc, const void *buf, uint64_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;

	for (; len && ((uintptr_t)p & 7); len--, p++)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	for (; len >= 3 * CRC_BLOCK; len -= 3 * CRC_BLOCK, p += 3 * CRC_BLOCK) {
		uint64_t c1 = 0, c2 = 0;

		for (uint32_t i = 0; i < CRC_BLOCK; i += 8) {
			uint64_t w0, w1, w2;

			__builtin_memcpy(&w0, p + i, 8);
			__builtin_memcpy(&w1, p + CRC_BLOCK + i, 8);
			__builtin_memcpy(&w2, p + 2 * CRC_BLOCK + i, 8);
			c = __builtin_ia32_crc32di(c, w0);
			c1 = __builtin_ia32_crc32di(c1, w1);
			c2 = __builtin_ia32_crc32di(c2, w2);
		}
		c = crc_mulmod(crc_mulmod((uint32_t)c, CRC_SHIFT) ^ (uint32_t)c1, CRC_SHIFT) ^
		    (uint32_t)c2;
	}
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t word;

		__builtin_memcpy(&word, p, 8);	/* not *(uint64_t *)p: the caller's
						 * type may be anything (aliasing) */
		c = __builtin_ia32_crc32di(c, word);
	}
	for (; len; len--, p++)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return ~(uint32_t)c;
}


#if __STDC_HOSTED__			/* libckpt's compressed writer; not the restorer */
/* The CRC-32C of a run of n more bytes after a part whose CRC-32C is crc,
 * as if those bytes were zero, less their own: crc * x^(8n) mod P.  The CRC
 * of A then B is ckpt_crc32c_shift(crc(A), |B|) ^ crc(B); the shift is linear,
 * so the CRC of pieces is the xor of each one's, shifted by the bytes after
 * it, whatever order the pieces are done in. */
uint32_t ckpt_crc32c_shift(uint32_t crc, uint64_t n)
{
	uint32_t x8 = 0x00800000u;		/* x^8, bit-reflected */

	for (; n; n >>= 1, x8 = crc_mulmod(x8, x8))
		if (n & 1)
			crc = crc_mulmod(crc, x8);
	return crc;
}
#endif
