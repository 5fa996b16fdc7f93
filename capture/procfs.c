/* procfs.c -- reading the small /proc files libckpt learns the process from
 * (status, fdinfo, timers, mountinfo ...): one read into a caller's buffer,
 * and a field of it by its key.  Below every other capture file: it uses
 * nothing of theirs.  Runs in signal handlers: raw syscalls only.
 */
#include "cap.h"

/* value of "key:\t..." at the start of a line of a small /proc text, or 0
 * when absent */
const char *cap_field(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; ) {
		if (!strncmp(p, key, kl)) {
			p += kl;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

long cap_read_small(const char *path, char *buf, size_t cap)
{
	long fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0), n;

	if (sys_failed(fd))
		return fd;
	n = sys_read((int)fd, buf, cap - 1);
	sys_close((int)fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

/* field n (1-based, as proc(5) numbers them; n > 2) of a /proc/.../stat
 * file, read as a decimal number: 0, or -errno (-2: no such process) */
long cap_stat_field(const char *path, int n, uint64_t *out)
{
	char buf[1024];
	const char *p;
	long r = cap_read_small(path, buf, sizeof(buf));
	int field = 2;

	if (r <= 0)
		return r ? r : -5;
	p = strrchr(buf, ')');			/* comm may hold spaces and parens */
	if (!p)
		return -5;
	for (p++; *p; ) {
		while (*p == ' ')
			p++;
		if (++field == n)
			break;
		while (*p && *p != ' ')
			p++;
	}
	*out = img_parse_num(&p, 10);
	return 0;
}
