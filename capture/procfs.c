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
