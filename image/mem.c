/* mem.c -- memcpy, memset and memcmp for the freestanding build of image/
 * (the restorer).  gcc emits calls to memcpy/memset for struct copies and
 * zeroing even with -ffreestanding -fno-builtin, so they must exist under
 * these names; the hosted build takes libc's. */
#include "image.h"

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

void *memset(void *d, int c, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
