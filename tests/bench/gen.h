/* gen.h -- the bytes the benchmark's workload holds, made the same way by the
 * program (work.c) and by run1.c for the machine's baselines. */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H
#include <stdint.h>
#include <string.h>

/* splitmix64: dense, incompressible, and cheap enough (~1 ns a word) */
static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* "text": 16-byte records, a name out of 16 padded to 8 bytes, six random
 * hex digits, a space and a newline ("gamma   3fa91c \n").  The zstd command
 * (level 3, its default) makes 3.1 bytes of them into one; libckpt's zstd
 * level 1 in 1 MiB frames about 3.3. */
static inline void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char names[16][9] = { "alpha   ", "beta    ", "gamma   ", "delta   ", "epsilon ",
					   "zeta    ", "eta     ", "theta   ", "iota    ", "kappa   ",
					   "lambda  ", "mu      ", "nu      ", "xi      ", "omicron ", "pi      " };
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i + 16 <= n; i += 16) {
		uint64_t r = mix(seed + i / 16);
		uint8_t *q = p + i;

		memcpy(q, names[r & 15], 8);
		for (int k = 0; k < 6; k++)
			q[8 + k] = (uint8_t)hex[(r >> (4 + 4 * k)) & 15];
		q[14] = ' ';
		q[15] = '\n';
	}
}
#endif
