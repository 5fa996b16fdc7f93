/* fmt.c -- message formatting without libc: every line is built in a buffer and
 * written with a single write(2), so lines from the restorer never interleave. */
#include "image.h"
#include "ckpt_sys.h"

const char img_lost_names[][21] = {
	"supplementary groups", "POSIX record locks", "flock locks", "OFD locks", "leases",
	"Linux AIO contexts", "some mapping VmFlags", "child processes",
};

static size_t put_num(char *buf, size_t cap, size_t at, uint64_t v, unsigned base, int neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg && at < cap)
		buf[at++] = '-';
	while (n && at < cap)
		buf[at++] = tmp[--n];
	return at;
}

/* s appended to buf[at, cap) so that it prints as one line of plain text:
 * bytes outside printable ASCII become \n \t \r or \xHH, a backslash \\.
 * A sequence that does not fit whole is left out. */
static size_t put_escaped(char *buf, size_t cap, size_t at, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char seq[4] = { '\\', (char)c, 0, 0 };
		size_t n = 2;

		if (c == '\n' || c == '\t' || c == '\r')
			seq[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		else if (c < 0x20 || c >= 0x7f) {
			seq[1] = 'x', seq[2] = "0123456789abcdef"[c >> 4], seq[3] = "0123456789abcdef"[c & 15];
			n = 4;
		} else if (c != '\\')
			seq[0] = (char)c, n = 1;
		if (n > cap - at)
			break;
		memcpy(buf + at, seq, n);
		at += n;
	}
	return at;
}

size_t img_escape(char *buf, size_t cap, const char *s)
{
	size_t n;

	if (!cap)
		return 0;
	n = put_escaped(buf, cap - 1, 0, s);
	buf[n] = 0;
	return n;
}

/* Supports %s %S %c %d %u %x and the l-forms %ld %lu %lx, and %%.  %s prints
 * its string escaped (img_escape: it may come from an image), %S as it is (a
 * message this formatter built).  Always NUL-terminates (cap > 0) and returns
 * the length written. */
size_t img_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t at = 0;

	if (!cap)
		return 0;
	cap--;					/* room for the NUL */
	for (; *fmt && at < cap; fmt++) {
		int lng = 0;

		if (*fmt != '%') {
			buf[at++] = *fmt;
			continue;
		}
		if (*++fmt == 'l')
			lng = 1, fmt++;
		switch (*fmt) {
		case 's':
			at = put_escaped(buf, cap, at, va_arg(ap, const char *));
			break;
		case 'S': {
			const char *s = va_arg(ap, const char *);

			while (*s && at < cap)
				buf[at++] = *s++;
			break;
		}
		case 'c':
			buf[at++] = (char)va_arg(ap, int);
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);

			at = put_num(buf, cap, at, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			at = put_num(buf, cap, at, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			at = put_num(buf, cap, at, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0);
			break;
		case '%':
			buf[at++] = '%';
			break;
		default:			/* unknown: print it as written */
			buf[at++] = '%';
			if (*fmt && at < cap)
				buf[at++] = *fmt;
			if (!*fmt)
				fmt--;
			break;
		}
	}
	buf[at] = 0;
	return at;
}

/* Digits of base 8, 10 or 16 (lowercase) at *s; *s is left after them. */
uint64_t img_parse_num(const char **s, unsigned base)
{
	uint64_t v = 0;

	for (;; (*s)++) {
		char c = **s;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return v;
		if (d >= base)
			return v;
		v = v * base + d;
	}
}

size_t img_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = img_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void img_say(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = img_vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n == sizeof(line) - 1) {		/* cut short: still one line, ended as fmt ends */
		const char *end = fmt;

		while (*end)
			end++;
		if (end[-1] == '\n')
			line[n - 1] = '\n';
	}
	sys_write(fd, line, n);
}

int img_fail(struct img_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	img_vfmt(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}
