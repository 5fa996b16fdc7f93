/* mem.c -- the string routines the freestanding restorer needs (memcpy,
 * memset and memcmp are image/mem.c's, with the image code that uses them). */
#include "rst.h"

size_t rst_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int rst_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}
