#!/bin/sh
# crc32c.sh -- the image checksum is CRC-32C, whatever path the code takes.
#
# Simulates a third-party tool checking an image against the format's words
# (docs/image-format.md: "CRC-32C"): ckpt_crc32c() from image/crc32c.c,
# which runs long buffers as three interleaved streams joined by the CRC's
# linearity, must give exactly what the plain bit-at-a-time definition gives:
# the standard check value of "123456789" (0xe3069283); and, for 3000 random
# buffers of 0 to 64 KiB at random alignments, with a zero and a non-zero
# starting value, and fed whole or in two pieces, the reference's value.
# Environment (tests/run.sh): ROOT, TMPDIR.  `ok N` / `not ok N`; exit 0, 1, 4.
# CKPT_TEST_BREAK=1: the reference is given a different polynomial.

set -u
. "$(dirname "$0")/lib.sh"
workdir crc32c
need_cc
grep -q sse4_2 /proc/cpuinfo || skip "this CPU has no SSE4.2 (crc32 instruction)"

poly=0x82f63b78
[ $BRK = 1 ] && poly=0x82f63b79
cat >"$W/crc.c" <<EOF2
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "image.h"

static uint32_t reference(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (crc & 1 ? $poly : 0);
	}
	return ~crc;
}

int main(void)
{
	static unsigned char buf[(64 << 10) + 64];
	unsigned bad = 0, first = 0;

	printf("check %08x\n", ckpt_crc32c(0, "123456789", 9));
	srand(7);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)rand();
	for (int t = 0; t < 3000; t++) {
		size_t off = (size_t)rand() % 64, len = (size_t)rand() % (64 << 10), cut = len ? (size_t)rand() % len : 0;
		uint32_t init = t & 1 ? (uint32_t)rand() : 0, want = reference(init, buf + off, len);

		if (ckpt_crc32c(init, buf + off, len) != want ||
		    ckpt_crc32c(ckpt_crc32c(init, buf + off, cut), buf + off + cut, len - cut) != want) {
			if (!bad++)
				first = (unsigned)len;
		}
	}
	printf("random %u wrong", bad);
	if (bad)
		printf(" (first: %u bytes)", first);
	printf("\n");
	return 0;
}
EOF2
compile_or_fail build cc -O2 -I"$ROOT/include" -I"$ROOT/image" -o "$W/crc" "$W/crc.c" "$ROOT/image/crc32c.c"
"$W/crc" >"$W/out" 2>&1
if grep -qx "check e3069283" "$W/out"; then
	ok "CRC-32C(\"123456789\") = 0xe3069283, the standard check value"
else
	not_ok "check value: $(head -n 1 "$W/out")"
fi
if grep -qx "random 0 wrong" "$W/out"; then
	ok "3000 random buffers (0-64 KiB, any alignment, zero and non-zero start, whole and in two pieces) agree with the bitwise definition"
else
	not_ok "random buffers: $(sed -n 2p "$W/out")"
fi
finish
