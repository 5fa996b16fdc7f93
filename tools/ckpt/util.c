/* util.c -- helpers every subcommand of `ckpt` uses. */
#include "ckpt.h"

char self_dir[PATH_MAX];		/* directory holding this binary */
const char *cmd = "";		/* subcommand, for messages: "dump: " */

/* ---- messages ---- */

/* "ckpt: [WHO: ]message\n" on stderr, one write (a job's output file may be
 * shared with the program's) */
void vsay(const char *who, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "ckpt: %s%s", who, *who ? ": " : "");
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, n) < 0)
		return;
}

/* "ckpt: [cmd: ]message\n" */
void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(cmd, fmt, ap);
	va_end(ap);
}

void __attribute__((noreturn)) usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (*cmd)
		say("%s (see: ckpt %s --help)", msg, cmd);
	else
		say("%s (see: ckpt --help)", msg);
	exit(EX_USAGE);
}

void __attribute__((noreturn)) version(void)
{
	printf("ckpt %s (image format version %u, x86-64)\n", CKPT_TOOL_VERSION, CKPT_VERSION);
	exit(EX_OK);
}








/* ---- helpers ---- */

void find_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_dir, sizeof(self_dir) - 1);
	char *slash;

	if (n <= 0) {
		say("cannot read /proc/self/exe: %s", strerror(errno));
		exit(EX_FAIL);
	}
	self_dir[n] = 0;
	slash = strrchr(self_dir, '/');
	if (slash)
		*slash = 0;
}

int is_file(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* a helper program beside ckpt: "restorer", "readckpt" */
int find_helper(const char *name, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/%s", self_dir, name) < (int)cap && access(out, X_OK) == 0 &&
	    is_file(out))
		return 0;
	say("no %s beside ckpt (looked for %s)", name, out);
	return -1;
}

/* libckpt.so: DIR/libckpt.so (build tree), else DIR/../lib/libckpt.so (installed) */
int find_lib(char *out, size_t cap)
{
	static const char *const rel[] = { "libckpt.so", "../lib/libckpt.so" };
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", self_dir, rel[i]) < (int)sizeof(p) && is_file(p) && realpath(p, out) && strlen(out) < cap)
			return 0;
	}
	say("no libckpt.so beside ckpt (%s/libckpt.so) or in %s/../lib", self_dir, self_dir);
	return -1;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "1.5", "30" -> seconds; -1 if not a number >= 0 */
double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0) || v > 1e9)
		return -1;
	return v;
}

void human(char *buf, size_t cap, double bytes)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4)
		bytes /= 1024, u++;
	if (u == 0)
		snprintf(buf, cap, "%.0f bytes", bytes);
	else
		snprintf(buf, cap, "%.1f %s", bytes, unit[u]);
}

/* ---- signals: named as libckpt reads CKPT_SIGNAL (capture/signame.c) ---- */

const char *sig_name(int sig, char *buf, size_t cap)
{
	if (ckpt_signal_abbrev(sig)) {
		snprintf(buf, cap, "SIG%s", ckpt_signal_abbrev(sig));
		return buf;
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, cap, "signal %d", sig);
	return buf;
}

/* getopt_long with our own messages: opterr off, '?' and ':' reported here */
int next_opt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?') {
		if (optopt)
			usage_error("unknown option '-%c'", optopt);
		usage_error("unknown option '%s'", argv[optind - 1]);
	}
	if (c == ':')
		usage_error("option '%s' needs a value", argv[optind - 1]);
	return c;
}

void __attribute__((noreturn)) help(const char *text)
{
	fputs(text, stdout);
	exit(EX_OK);
}

/* whole small file (/proc/PID/environ, status) into a malloc'd buffer; NUL-terminated */
char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 8192, n = 0;
	char *buf;
	ssize_t r;

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	while (buf && (r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf && r < 0) {
		free(buf);
		buf = NULL;
	}
	if (!buf) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* "Field:\tvalue" from /proc/PID/status text */
const char *status_field(const char *status, const char *field)
{
	size_t fl = strlen(field);

	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, field, fl) && p[fl] == ':')
			return p + fl + 1 + strspn(p + fl + 1, " \t");
	return NULL;
}

uint64_t status_mask(const char *status, const char *field)
{
	const char *v = status_field(status, field);

	return v ? strtoull(v, NULL, 16) : 0;
}

/* PATH relative to the current directory -> absolute, without resolving links */
int absolute(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(out, cap, "%s", path) < (int)cap ? 0 : -1;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return snprintf(out, cap, "%s/%s", cwd, path) < (int)cap ? 0 : -1;
}

/* s escaped (img_escape) for a message; two buffers, for two strings in one */
const char *esc(const char *s)
{
	static char buf[2][4 * PATH_MAX + 1];
	static unsigned next;
	char *b = buf[next++ % 2];

	img_escape(b, sizeof(buf[0]), s);
	return b;
}

/* a small file (one read), NUL-terminated: its length, or -1 */
ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* ELF without PT_INTERP: LD_PRELOAD has no effect on it.  1 static, 0 not/unknown */
int is_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY | O_CLOEXEC), interp = 0, ok = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(ph)) {
		ok = 1;
		for (int i = 0; i < eh.e_phnum; i++) {
			if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * sizeof(ph)) != sizeof(ph)) {
				ok = 0;
				break;
			}
			if (ph.p_type == PT_INTERP)
				interp = 1;
		}
	}
	close(fd);
	return ok && !interp;
}

/* The image the restorer is to read, for PATH: PATH itself, or for a
 * compressed image (CKPT_COMPRESS) "/proc/self/fd/N", a memfd holding the
 * image unpacked, kept open across exec, with the file's owner and mode 0600
 * (a privileged restorer asks whose image it is of the memfd).  NULL, said,
 * if it cannot be unpacked, or if it is group- or world-writable and we are
 * root: then a privileged restorer would have refused the file itself. */
const char *restorer_image(const char *path, char *buf, size_t cap)
{
	struct img_err e;
	struct stat st;
	uint32_t magic = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), raw;
	long cpus;

	if (fd < 0)
		return path;			/* the restorer says why */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || pread(fd, &magic, sizeof(magic), 0) != sizeof(magic) ||
	    magic != CKPT_ZIP_MAGIC) {
		close(fd);
		return path;
	}
	if (geteuid() == 0 && (st.st_mode & 022)) {
		say("%s: writable by group or others: refused by a privileged restorer", path);
		close(fd);
		return NULL;
	}
	cpus = sysconf(_SC_NPROCESSORS_ONLN);	/* the frames unpacked side by side */
	img_unpack_threads = cpus < 1 ? 1 : cpus > IMG_UNPACK_THREADS_MAX ? IMG_UNPACK_THREADS_MAX : (int)cpus;
	raw = img_unpack(fd, (uint64_t)st.st_size, 1, &e);
	close(fd);
	if (raw < 0) {
		say("%s: %s", path, e.msg);
		return NULL;
	}
	if (fchmod(raw, 0600) || (geteuid() == 0 && fchown(raw, st.st_uid, st.st_gid)) ||
	    fcntl(raw, F_SETFD, 0)) {
		say("%s: cannot hand the unpacked image on: %s", path, strerror(errno));
		close(raw);
		return NULL;
	}
	snprintf(buf, cap, "/proc/self/fd/%d", raw);
	return buf;
}
