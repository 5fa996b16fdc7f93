/* ckpt.c -- the `ckpt` command: run a program under libckpt.so, checkpoint it
 * from outside, restore it, inspect an image, and say what this machine allows.
 *
 *   ckpt run [--file PATH] [--interval S] [--signal SIG] [--] PROGRAM [ARGS...]
 *   ckpt dump PID [--file PATH] [--timeout S]
 *   ckpt restore [--lazy] [-v] [IMAGE]
 *   ckpt info [--json] [IMAGE]
 *   ckpt merge IMAGE OUT
 *   ckpt check
 *
 * A hosted program (libc).  It finds its helpers from its own location
 * (/proc/self/exe), so it works from any directory:
 *   libckpt.so   DIR/libckpt.so (the build tree), else DIR/../lib/libckpt.so
 *                (installed: PREFIX/bin/ckpt, PREFIX/lib/libckpt.so)
 *   restorer     DIR/restorer     (the build tree and PREFIX/bin alike)
 *   readckpt     DIR/readckpt
 * where DIR is the directory that holds the ckpt binary.
 *
 * Exit status: 0 done; 1 the operation failed; 2 usage error (and, for info
 * and restore, an image that is refused, as readckpt and the restorer say).
 * `run` and `restore` exec their program: its status is theirs.  Errors are
 * one line on stderr, `ckpt: ...`.
 *
 * `info --json` reads the image with the same reader and validator as the
 * restorer and readckpt (restore/image.c), linked in the same way as readckpt.
 */
#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <cpuid.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "signame.h"
#include "image.h"

#ifndef CKPT_TOOL_VERSION
#define CKPT_TOOL_VERSION "0.1"
#endif

/* exit statuses */
#define EX_OK		0
#define EX_FAIL		1
#define EX_USAGE	2

static char self_dir[PATH_MAX];		/* directory holding this binary */
static const char *cmd = "";		/* subcommand, for messages: "dump: " */

/* ---- messages ---- */

/* "ckpt: [cmd: ]message\n" on stderr, one write */
static void say(const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	n = snprintf(line, sizeof(line), "ckpt: %s%s", cmd, *cmd ? ": " : "");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, n) < 0)
		return;
}

static void __attribute__((noreturn)) usage_error(const char *fmt, ...)
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

static void __attribute__((noreturn)) version(void)
{
	printf("ckpt %s (image format version %u, x86-64)\n", CKPT_TOOL_VERSION, CKPT_VERSION);
	exit(EX_OK);
}

static const char main_help[] =
	"usage: ckpt COMMAND [OPTIONS] [ARGS]\n"
	"checkpoint and restore Linux x86-64 processes from user space\n"
	"\n"
	"commands:\n"
	"  run      run a program with libckpt.so loaded, so that it can be checkpointed\n"
	"  dump     checkpoint a running ckpt-enabled process and wait for its image\n"
	"  restore  turn this process into the one saved in an image (execs restorer)\n"
	"  info     print an image (readckpt), or describe it in JSON\n"
	"  merge    fold a chain of incremental images into one full image\n"
	"  check    say what this kernel and CPU allow, one line per capability\n"
	"  help     help on a command: ckpt help dump\n"
	"\n"
	"options: -h, --help  this text;  -V, --version  the version\n"
	"exit status: 0 done, 1 operation failed, 2 usage error or image refused;\n"
	"run and restore exec their program, whose status is theirs\n"
	"see ckpt(1), restorer(1), readckpt(1), libckpt(3), ckpt-image(5)\n";

static const char run_help[] =
	"usage: ckpt run [--file PATH] [--signal SIG] [--interval S] [--] PROGRAM [ARGS...]\n"
	"run PROGRAM (searched on PATH) with libckpt.so preloaded\n"
	"  -f, --file PATH     image path, made absolute (default: CKPT_FILE, else ./myckpt)\n"
	"  -s, --signal SIG    trigger signal: number or name, USR1, SIGUSR1, RTMIN+3\n"
	"                      (default: CKPT_SIGNAL, else SIGUSR2)\n"
	"  -i, --interval S    seconds between automatic checkpoints (sets CKPT_INTERVAL)\n"
	"sets LD_PRELOAD (the libckpt.so beside ckpt, or in ../lib), CKPT_FILE and\n"
	"CKPT_SIGNAL, then execs PROGRAM: the exit status is PROGRAM's; 127 not found,\n"
	"126 not executable, 2 usage error\n";

static const char dump_help[] =
	"usage: ckpt dump [--file PATH] [--timeout S] PID\n"
	"checkpoint the running process PID (started with ckpt run, or with libckpt.so\n"
	"in LD_PRELOAD) and wait until its new image is complete\n"
	"  -f, --file PATH     where the image appears (default: CKPT_FILE in the process's\n"
	"                      environment; a relative one is taken from the process's\n"
	"                      current directory, which may not be where it started)\n"
	"  -t, --timeout S     give up after S seconds (default 60; 0 waits for ever)\n"
	"sends nothing unless PID maps libckpt.so and catches its trigger signal\n"
	"(CKPT_SIGNAL in its environment, default SIGUSR2), which would kill it otherwise.\n"
	"prints PATH, size and time taken; on a terminal, progress on stderr\n"
	"exit status: 0 image written, 1 failed (no such process, not ckpt-enabled,\n"
	"checkpoint failed, timeout), 2 usage error\n";

static const char restore_help[] =
	"usage: ckpt restore [--lazy] [-v] [RESTORER-OPTIONS] [IMAGE]\n"
	"exec the restorer on IMAGE (default: myckpt): this process becomes the saved one\n"
	"  -v, --verbose       the restorer says what it restores and what it skips\n"
	"      --lazy          map the image's pages; they load on first touch\n"
	"any other option is passed to the restorer if restorer --help names it\n"
	"exit status: the restored program's; 2 image refused or usage error (nothing\n"
	"changed); 127 the restore failed after the point of no return; 1 no restorer\n";

static const char info_help[] =
	"usage: ckpt info [--json] [IMAGE]\n"
	"print IMAGE (default: myckpt) after validating it like the restorer does\n"
	"      --json          one JSON object: header, machine, threads, process, regions\n"
	"                      (addresses as \"0x...\" strings, sizes as numbers)\n"
	"without --json this runs readckpt IMAGE\n"
	"exit status: 0 printed, 2 image refused or usage error, 1 no readckpt\n";

static const char merge_help[] =
	"usage: ckpt merge IMAGE OUT\n"
	"fold the chain of incremental images ending at IMAGE (CKPT_INCREMENTAL=1) into\n"
	"one full image OUT that needs no other file; IMAGE and its parents are read\n"
	"and checked as the restorer does.  OUT appears only when complete (written\n"
	"beside it, fsync'd, renamed over it), mode 0600\n"
	"exit status: 0 written, 1 failed (nothing written), 2 usage error or an image\n"
	"of the chain refused\n";

static const char check_help[] =
	"usage: ckpt check\n"
	"one line per capability ckpt uses or will use, with yes/no and why:\n"
	"fsgsbase, XSAVE features, userfaultfd write-protect (async), PAGEMAP_SCAN,\n"
	"PR_SET_MM_MAP, CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE, time and user namespaces.\n"
	"Probes run in short-lived child processes; results differ for root and users.\n"
	"exit status: 0 (the answers are in the output), 2 usage error\n";

/* ---- helpers ---- */

static void find_self(void)
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

static int is_file(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* a helper program beside ckpt: "restorer", "readckpt" */
static int find_helper(const char *name, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/%s", self_dir, name) < (int)cap && access(out, X_OK) == 0 &&
	    is_file(out))
		return 0;
	say("no %s beside ckpt (looked for %s)", name, out);
	return -1;
}

/* libckpt.so: DIR/libckpt.so (build tree), else DIR/../lib/libckpt.so (installed) */
static int find_lib(char *out, size_t cap)
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "1.5", "30" -> seconds; -1 if not a number >= 0 */
static double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0) || v > 1e9)
		return -1;
	return v;
}

static void human(char *buf, size_t cap, double bytes)
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

static const char *sig_name(int sig, char *buf, size_t cap)
{
	for (const struct ckpt_signame *p = ckpt_signames; p->name; p++)
		if (p->sig == sig) {
			snprintf(buf, cap, "SIG%s", p->name);
			return buf;
		}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, cap, "signal %d", sig);
	return buf;
}

/* getopt_long with our own messages: opterr off, '?' and ':' reported here */
static int next_opt(int argc, char **argv, const char *shortopts, const struct option *longopts)
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

static void __attribute__((noreturn)) help(const char *text)
{
	fputs(text, stdout);
	exit(EX_OK);
}

/* ================================================================ run ==== */

/* ELF without PT_INTERP: LD_PRELOAD has no effect on it.  1 static, 0 not/unknown */
static int is_static_elf(const char *path)
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

/* PROGRAM as execvp would find it, or "" */
static void which(const char *prog, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p, *colon;

	out[0] = 0;
	if (strchr(prog, '/')) {
		snprintf(out, cap, "%s", prog);
		return;
	}
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (p = path;; p = colon + 1) {
		colon = strchr(p, ':');
		int len = colon ? (int)(colon - p) : (int)strlen(p);

		snprintf(out, cap, "%.*s%s%s", len, p, len ? "/" : "", prog);
		if (access(out, X_OK) == 0 && is_file(out))
			return;
		if (!colon)
			break;
	}
	out[0] = 0;
}

/* PATH relative to the current directory -> absolute, without resolving links */
static int absolute(const char *path, char *out, size_t cap)
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

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' }, { "signal", required_argument, 0, 's' },
		{ "interval", required_argument, 0, 'i' }, { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	const char *file = NULL, *signal_arg = NULL, *interval = NULL, *old;
	char lib[PATH_MAX], img[PATH_MAX], prog[PATH_MAX], num[16], *preload;
	int c, sig;

	while ((c = next_opt(argc, argv, "+:f:s:i:hV", opts)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 's': signal_arg = optarg; break;
		case 'i': interval = optarg; break;
		case 'h': help(run_help);
		case 'V': version();
		}
	}
	if (optind >= argc)
		usage_error("no PROGRAM to run");
	if (file && !*file)
		usage_error("--file: empty path");
	if (signal_arg) {
		sig = ckpt_parse_signal(signal_arg);
		if (!sig)
			usage_error("--signal %s: not a signal name or number libckpt accepts", signal_arg);
		if (sig == SIGKILL || sig == SIGSTOP)
			usage_error("--signal %s: cannot be caught", signal_arg);
		snprintf(num, sizeof(num), "%d", sig);
		setenv("CKPT_SIGNAL", num, 1);
	}
	if (interval && !(parse_seconds(interval) > 0))
		usage_error("--interval %s: want a number of seconds > 0", interval);

	if (find_lib(lib, sizeof(lib)))
		return EX_FAIL;
	if (strpbrk(lib, " :")) {
		say("cannot preload %s: LD_PRELOAD splits paths at spaces and colons", lib);
		return EX_FAIL;
	}
	if (!file)
		file = getenv("CKPT_FILE");
	if (!file || !*file)
		file = "myckpt";		/* libckpt's default, made explicit for ckpt dump */
	if (absolute(file, img, sizeof(img))) {
		say("cannot make %s absolute: %s", file, strerror(errno ? errno : ENAMETOOLONG));
		return EX_FAIL;
	}
	setenv("CKPT_FILE", img, 1);
	if (interval) {
		setenv("CKPT_INTERVAL", interval, 1);
	}
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		preload = malloc(strlen(lib) + strlen(old) + 2);
		if (!preload)
			return EX_FAIL;
		sprintf(preload, "%s:%s", lib, old);
	} else {
		preload = lib;
	}
	setenv("LD_PRELOAD", preload, 1);

	which(argv[optind], prog, sizeof(prog));
	if (!prog[0]) {
		say("%s: command not found", argv[optind]);
		return 127;
	}
	if (is_static_elf(prog))
		say("warning: %s is statically linked: LD_PRELOAD has no effect, it cannot be checkpointed",
		    prog);
	execvp(argv[optind], argv + optind);
	c = errno;
	say("%s: %s", argv[optind], c == ENOENT ? "command not found" : strerror(c));
	return c == ENOENT ? 127 : 126;
}

/* =============================================================== dump ==== */

/* whole small file (/proc/PID/environ, status) into a malloc'd buffer; NUL-terminated */
static char *slurp(const char *path, size_t *len)
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

/* NAME=value from a NUL-separated environ block, or NULL */
static const char *env_get(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, nl) && p[nl] == '=')
			return p + nl + 1;
	return NULL;
}

/* "Field:\tvalue" from /proc/PID/status text */
static const char *status_field(const char *status, const char *field)
{
	size_t fl = strlen(field);

	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, field, fl) && p[fl] == ':')
			return p + fl + 1 + strspn(p + fl + 1, " \t");
	return NULL;
}

static uint64_t status_mask(const char *status, const char *field)
{
	const char *v = status_field(status, field);

	return v ? strtoull(v, NULL, 16) : 0;
}

/* a mapping of libckpt.so* in /proc/PID/maps: 1 yes, 0 no, -errno */
static int maps_libckpt(int pid)
{
	char path[64], line[4096 + 256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/'), *base;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		base = strrchr(p, '/') + 1;
		if (!strncmp(base, "libckpt.so", 10))
			found = 1;
	}
	fclose(f);
	return found;
}

/* state letter of /proc/PID/stat ('R', 'S', 'Z'...), or 0 when gone; *ppid set */
static char proc_state(long pid, long *ppid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');		/* comm may hold spaces and parens */
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	if (ppid)
		*ppid = strtol(p + 4, NULL, 10);
	return p[2];
}

/* does PID have a child that has not exited?  libckpt writes the image from
 * a forked child while the program runs on, so the handler being done does
 * not mean the checkpoint is */
static int live_child(pid_t pid)
{
	char path[64], *kids, *p, *end;
	long ppid;
	DIR *d;
	struct dirent *de;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	kids = slurp(path, NULL);
	if (kids) {
		for (p = kids; !found; p = end) {
			long c = strtol(p, &end, 10);
			char st;

			if (end == p)
				break;
			st = proc_state(c, NULL);
			found = st && st != 'Z' && st != 'X';
		}
		free(kids);
		return found;
	}
	d = opendir("/proc");		/* no CONFIG_PROC_CHILDREN: ask every process */
	while (d && !found && (de = readdir(d))) {
		char st;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		st = proc_state(strtol(de->d_name, NULL, 10), &ppid);
		found = st && st != 'Z' && st != 'X' && ppid == pid;
	}
	if (d)
		closedir(d);
	return found;
}

struct dump_watch {
	const char *path;	/* the image */
	char dir[PATH_MAX];	/* its directory, and the temp file's prefix ".NAME.tmp." */
	char prefix[NAME_MAX + 16];
};

/* size of the temp file libckpt is writing beside the image, -1 if none */
static long long tmp_size(const struct dump_watch *w)
{
	DIR *d = opendir(w->dir);
	struct dirent *de;
	long long best = -1;
	size_t pl = strlen(w->prefix);
	struct stat st;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, w->prefix, pl) && !fstatat(dirfd(d), de->d_name, &st, 0) &&
		    st.st_size > best)
			best = st.st_size;
	closedir(d);
	return best;
}

static int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' }, { "timeout", required_argument, 0, 't' },
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	const char *file = NULL, *pid_arg = NULL, *cf, *cs;
	char path[PATH_MAX], proc[64], signame[32], cwd[PATH_MAX], sz[32], *env, *status, *end;
	double timeout = 60, t0, t, shown = 0;
	struct stat before, st;
	struct dump_watch w;
	int c, sig = SIGUSR2, had_old, r, progress, done_seen = 0;
	size_t envlen;
	long pidl;
	pid_t pid;

	while ((c = next_opt(argc, argv, ":f:t:hV", opts)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 't':
			timeout = parse_seconds(optarg);
			if (timeout < 0)
				usage_error("--timeout %s: want a number of seconds", optarg);
			break;
		case 'h': help(dump_help);
		case 'V': version();
		}
	}
	if (optind >= argc)
		usage_error("no PID given");
	if (optind + 1 < argc)
		usage_error("one PID only ('%s' is extra)", argv[optind + 1]);
	pid_arg = argv[optind];
	errno = 0;
	pidl = strtol(pid_arg, &end, 10);
	if (*end || end == pid_arg || pidl <= 0 || pidl > INT_MAX || errno)
		usage_error("'%s' is not a process id", pid_arg);
	pid = (pid_t)pidl;
	if (pid == getpid()) {
		say("pid %d is ckpt itself", pid);
		return EX_FAIL;
	}

	/* 1. the process exists and we may signal it */
	if (kill(pid, 0)) {
		if (errno == ESRCH)
			say("pid %d: no such process", pid);
		else
			say("pid %d: cannot signal it: %s", pid, strerror(errno));
		return EX_FAIL;
	}
	/* 2. it maps libckpt.so; otherwise SIGUSR2 would kill it: send nothing */
	r = maps_libckpt(pid);
	if (r < 0) {
		say("pid %d: cannot read /proc/%d/maps (%s): not signalled", pid, pid, strerror(-r));
		return EX_FAIL;
	}
	if (!r) {
		say("pid %d does not have libckpt.so loaded (start it with ckpt run): not signalled", pid);
		return EX_FAIL;
	}
	/* 3. its CKPT_FILE and CKPT_SIGNAL, read by libckpt when it started */
	snprintf(proc, sizeof(proc), "/proc/%d/environ", pid);
	env = slurp(proc, &envlen);
	if (!env) {
		say("pid %d: cannot read %s (%s): not signalled", pid, proc, strerror(errno));
		return EX_FAIL;
	}
	cs = env_get(env, envlen, "CKPT_SIGNAL");
	if (cs && *cs) {
		sig = ckpt_parse_signal(cs);
		if (!sig || sig == SIGKILL || sig == SIGSTOP) {
			say("pid %d: CKPT_SIGNAL=%s is not a signal libckpt accepts: its checkpoints are "
			    "disabled; not signalled", pid, cs);
			return EX_FAIL;
		}
	}
	sig_name(sig, signame, sizeof(signame));
	cf = env_get(env, envlen, "CKPT_FILE");
	if (file) {
		if (absolute(file, path, sizeof(path)))
			usage_error("--file %s: path too long", file);
	} else {
		if (!cf || !*cf)
			cf = "myckpt";
		if (cf[0] == '/') {
			snprintf(path, sizeof(path), "%s", cf);
		} else {
			/* libckpt took it relative to the directory the program started
			 * in; the current one is the best guess left (see --help) */
			snprintf(proc, sizeof(proc), "/proc/%d/cwd", pid);
			ssize_t n = readlink(proc, cwd, sizeof(cwd) - 1);

			if (n <= 0) {
				say("pid %d: CKPT_FILE=%s is relative and %s is unreadable (%s): use --file",
				    pid, cf, proc, strerror(errno));
				return EX_FAIL;
			}
			cwd[n] = 0;
			if (snprintf(path, sizeof(path), "%s/%s", cwd, cf) >= (int)sizeof(path))
				usage_error("CKPT_FILE of pid %d: path too long", pid);
		}
	}
	free(env);
	/* 4. it catches that signal (libckpt installed its handler) */
	snprintf(proc, sizeof(proc), "/proc/%d/status", pid);
	status = slurp(proc, NULL);
	if (!status) {
		say("pid %d: cannot read %s (%s): not signalled", pid, proc, strerror(errno));
		return EX_FAIL;
	}
	if (!(status_mask(status, "SigCgt") & (1ull << (sig - 1)))) {
		say("pid %d does not catch %s (libckpt disabled? see its stderr): not signalled",
		    pid, signame);
		return EX_FAIL;
	}
	free(status);

	/* where libckpt writes: DIR/.NAME.tmp.<hex>, renamed to DIR/NAME */
	{
		const char *slash = strrchr(path, '/');

		snprintf(w.dir, sizeof(w.dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
		snprintf(w.prefix, sizeof(w.prefix), ".%.*s.tmp.", NAME_MAX, slash + 1);
		w.path = path;
	}
	if (stat(w.dir, &st) || !S_ISDIR(st.st_mode)) {
		say("pid %d: image directory %s: %s: not signalled", pid, w.dir,
		    errno ? strerror(errno) : "not a directory");
		return EX_FAIL;
	}
	had_old = !stat(path, &before);

	/* 5. the previous checkpoint's writer may still be exiting: libckpt
	 * refuses a new one (EBUSY) until it has gone, so wait a little */
	progress = isatty(2);
	t0 = now_s();
	while (live_child(pid) && now_s() - t0 < (timeout > 0 && timeout < 10 ? timeout : 10))
		usleep(10000);
	had_old = !stat(path, &before);

	/* 6. trigger, then wait for a new inode at the path */
	t0 = now_s();
	if (kill(pid, sig)) {
		say("pid %d: kill %s: %s", pid, signame, strerror(errno));
		return EX_FAIL;
	}
	for (int i = 0;; i++) {
		int in_handler, pending, gone, writing;
		uint64_t blk;

		/* status first, then the image: libckpt renames before its handler
		 * returns, so "handler done" followed by "no new image" is a failure */
		status = slurp(proc, NULL);
		gone = !status || *status_field(status, "State") == 'Z' || *status_field(status, "State") == 'X';
		blk = status ? status_mask(status, "SigBlk") : 0;
		pending = status && ((status_mask(status, "SigPnd") | status_mask(status, "ShdPnd")) &
				     (1ull << (sig - 1)));
		/* libckpt blocks every signal while it writes; the kernel never
		 * shows SIGKILL/SIGSTOP blocked, glibc's sigfillset leaves out 32, 33 */
		in_handler = (blk | 0x180040100ull) == ~0ull;
		writing = !pending && !in_handler && (live_child(pid) || tmp_size(&w) >= 0);
		if (!stat(path, &st) && (!had_old || st.st_ino != before.st_ino || st.st_dev != before.st_dev)) {
			t = now_s() - t0;
			if (shown)
				fputs("\r\033[K", stderr);
			human(sz, sizeof(sz), (double)st.st_size);
			printf("%s: %lld bytes (%s) in %.3f s\n", path, (long long)st.st_size, sz, t);
			free(status);
			return EX_OK;
		}
		if (gone) {
			if (shown)
				fputs("\r\033[K", stderr);
			say("pid %d exited before its image was complete (it wrote none at %s)", pid, path);
			free(status);
			return EX_FAIL;
		}
		/* done, and no new image: the same answer three polls in a row, to
		 * step over the instant between dequeue and the handler's mask */
		done_seen = !pending && !in_handler && !writing ? done_seen + 1 : 0;
		if (done_seen >= 3) {
			if (shown)
				fputs("\r\033[K", stderr);
			say("pid %d handled %s but wrote no new image at %s (libckpt says why on the "
			    "program's stderr: a previous checkpoint still running? or the image is "
			    "elsewhere: use --file)", pid, signame, path);
			free(status);
			return EX_FAIL;
		}
		t = now_s() - t0;
		if (timeout > 0 && t > timeout) {
			if (shown)
				fputs("\r\033[K", stderr);
			if (status && *status_field(status, "State") == 'T')
				say("timed out after %.0f s: pid %d is stopped (SIGCONT it)", timeout, pid);
			else if (pending && (blk & (1ull << (sig - 1))) && !in_handler)
				say("timed out after %.0f s: pid %d blocks %s; the checkpoint waits until it "
				    "unblocks it", timeout, pid, signame);
			else
				say("timed out after %.0f s: no new image at %s", timeout, path);
			free(status);
			return EX_FAIL;
		}
		free(status);
		if (progress && t > 0.5 && t - shown >= 0.2) {
			long long size = tmp_size(&w);

			human(sz, sizeof(sz), size > 0 ? (double)size : 0);
			fprintf(stderr, "\r\033[Kckpt: dump: pid %d: %s written, %.1f s", pid, sz, t);
			fflush(stderr);
			shown = t;
		}
		usleep(i < 100 ? 2000 : 20000);
	}
}

/* ============================================================ restore ==== */

/* the restorer's --help text (stdout and stderr), or NULL if it would not run */
static char *helper_help(const char *exe)
{
	static char buf[16384];
	int p[2], st;
	pid_t child;
	size_t n = 0;
	ssize_t r;

	if (pipe(p))
		return NULL;
	child = fork();
	if (child < 0)
		return NULL;
	if (child == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execl(exe, exe, "--help", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (n < sizeof(buf) - 1 && (r = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(p[0]);
	waitpid(child, &st, 0);
	buf[n] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
		return NULL;
	return buf;
}

/* does TEXT name option OPT ("--lazy") as a whole word? */
static int names_option(const char *text, const char *opt, size_t len)
{
	for (const char *p = text; (p = strstr(p, opt)); p += len) {
		char next = p[len];

		if ((p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-')) &&
		    !(isalnum((unsigned char)next) || next == '-' || next == '_'))
			return 1;
	}
	return 0;
}

/* ckpt restore's own options are -v, -h, -V; any other option goes to the
 * restorer if its --help names it (--lazy, --stdio=, --close-unsupported...),
 * so ckpt never offers what the installed restorer cannot do. */
static int cmd_restore(int argc, char **argv)
{
	char rst[PATH_MAX], opt[64];
	const char *help_text = NULL, *image = NULL;
	char **args;
	int n = 0;

	if (find_helper("restorer", rst, sizeof(rst)) && argc > 1 &&
	    strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))
		return EX_FAIL;
	args = calloc(argc + 3, sizeof(*args));
	if (!args)
		return EX_FAIL;
	args[n++] = rst;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t len;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			help(restore_help);
		if (!strcmp(a, "-V") || !strcmp(a, "--version"))
			version();
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			args[n++] = "-v";
			continue;
		}
		if (!strcmp(a, "--") || a[0] != '-' || !a[1]) {
			if (!strcmp(a, "--") && ++i >= argc)
				usage_error("no IMAGE after --");
			if (image)
				usage_error("one IMAGE only ('%s' is extra)", argv[i]);
			image = argv[i];
			continue;
		}
		len = strcspn(a, "=");
		snprintf(opt, sizeof(opt), "%.*s", (int)(len < sizeof(opt) ? len : sizeof(opt) - 1), a);
		if (!help_text && !(help_text = helper_help(rst))) {
			say("cannot run %s --help", rst);
			return EX_FAIL;
		}
		if (!names_option(help_text, opt, strlen(opt))) {
			if (!strcmp(opt, "--lazy")) {
				say("--lazy: %s does not support lazy restore yet (not in its --help)", rst);
				exit(EX_USAGE);
			}
			usage_error("unknown option '%s' (not one of ckpt restore's, not in restorer --help)", a);
		}
		args[n++] = (char *)a;
	}
	if (image) {
		args[n++] = "--";
		args[n++] = (char *)image;
	}
	args[n] = NULL;
	execv(rst, args);
	say("cannot run %s: %s", rst, strerror(errno));
	return EX_FAIL;
}

/* =============================================================== info ==== */

static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned c = *p, len = 0;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			p++;
			continue;
		}
		if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			p++;
			continue;
		}
		if (c < 0x80) {
			fputc(c, f);
			p++;
			continue;
		}
		/* valid UTF-8 passes through; any other byte becomes U+FFFD */
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		for (unsigned i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				len = 0;
		if (len) {
			fwrite(p, 1, len, f);
			p += len;
		} else {
			fputs("\\ufffd", f);
			p++;
		}
	}
	fputc('"', f);
}

static void json_strn(FILE *f, const char *s, size_t max)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%.*s", (int)(max < sizeof(buf) - 1 ? max : sizeof(buf) - 1), s);
	json_str(f, buf);
}

static const char *const sig_abbrev[32] = {
	[1] = "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
	"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
	"URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
};

static void json_sigset(FILE *f, uint64_t m)
{
	int first = 1;

	fputc('[', f);
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (m & (1ull << (s - 1))) {
			fprintf(f, "%s%d", first ? "" : ", ", s);
			first = 0;
		}
	fputc(']', f);
}

static int info_json(const char *path)
{
	static const char *const rn[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
					    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	struct img img;
	struct img_err err;
	const struct ckpt_hdr *h;
	const struct ckpt_proc *p;
	FILE *f = stdout;
	char when[64];
	time_t created;

	if (img_open(&img, path, 0, &err)) {
		say("%s: %s", path, err.msg);
		return EX_USAGE;
	}
	h = &img.hdr;
	p = img.proc;
	created = (time_t)(h->created_ns / 1000000000ull);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&created));

	fputs("{\n  \"path\": ", f);
	json_str(f, path);
	fprintf(f, ",\n  \"format_version\": %u,\n  \"file_size\": %lu,\n  \"tables_size\": %lu,\n"
		"  \"data_size\": %lu,\n  \"created_ns\": %lu,\n  \"created\": \"%s\",\n",
		h->version, h->file_size, h->tables_size, h->data_size, h->created_ns, when);
	fputs("  \"program\": ", f);
	json_strn(f, h->program, sizeof(h->program));
	fprintf(f, ",\n  \"pid\": %u,\n", p->pid);
	fputs("  \"machine\": {\"cpu_vendor\": ", f);
	json_strn(f, h->cpu_vendor, sizeof(h->cpu_vendor));
	fputs(", \"kernel\": ", f);
	json_strn(f, h->kernel, sizeof(h->kernel));
	fprintf(f, ", \"page_size\": %u, \"xcr0\": \"0x%lx\", \"xsave_size\": %u, \"hwcap2\": \"0x%lx\",\n"
		"    \"cpuid1_ecx\": \"0x%08x\", \"cpuid1_edx\": \"0x%08x\", \"cpuid7_ebx\": \"0x%08x\","
		" \"cpuid7_ecx\": \"0x%08x\", \"cpuid7_edx\": \"0x%08x\",\n"
		"    \"vdso_size\": %lu, \"vdso_crc\": \"0x%08x\", \"vvar_size\": %lu, \"vvar_vclock_size\": %lu},\n",
		h->page_size, h->xcr0, h->xsave_size, h->hwcap2, h->cpuid1_ecx, h->cpuid1_edx,
		h->cpuid7_ebx, h->cpuid7_ecx, h->cpuid7_edx, h->vdso_size, h->vdso_crc, h->vvar_size,
		h->vvar_vclock_size);

	fputs("  \"threads\": [", f);
	for (uint32_t i = 0; i < h->nthreads; i++) {
		const struct ckpt_thread *t = &img.threads[i];
		const uint64_t *v = &t->regs.rax;

		fprintf(f, "%s\n    {\"tid\": %u, \"fpu\": \"%s\", \"xsave_size\": %u, \"xfeatures\": \"0x%lx\",\n"
			"     \"regs\": {", i ? "," : "", t->tid, t->flags & CKPT_CTX_XSAVE ? "xsave" : "fxsave",
			t->xsave_size, t->xfeatures);
		for (int r = 0; r < 16; r++)
			fprintf(f, "\"%s\": \"0x%lx\", ", rn[r], v[r]);
		fprintf(f, "\"rip\": \"0x%lx\", \"rflags\": \"0x%lx\", \"fs_base\": \"0x%lx\", "
			"\"gs_base\": \"0x%lx\", \"cs\": \"0x%lx\", \"ss\": \"0x%lx\"},\n     \"blocked\": ",
			t->regs.rip, t->regs.rflags, t->regs.fs_base, t->regs.gs_base, t->regs.cs, t->regs.ss);
		json_sigset(f, t->sigmask);
		fprintf(f, ", \"altstack\": {\"sp\": \"0x%lx\", \"size\": %lu, \"flags\": %u},\n"
			"     \"rseq\": {\"addr\": \"0x%lx\", \"len\": %u, \"sig\": \"0x%x\"}, "
			"\"clear_child_tid\": \"0x%lx\", \"robust_list\": \"0x%lx\", \"robust_len\": %lu}",
			t->ss_sp, t->ss_size, t->ss_flags, t->rseq_addr, t->rseq_len, t->rseq_sig,
			t->clear_child_tid, t->robust_list, t->robust_len);
	}
	fputs("\n  ],\n  \"process\": {\"comm\": ", f);
	json_strn(f, p->comm, sizeof(p->comm));
	fprintf(f, ", \"umask\": \"%03o\", \"cwd\": ", p->umask);
	json_str(f, img_str(&img, p->cwd_off));
	fputs(", \"exe\": ", f);
	json_str(f, img_str(&img, p->exe_off));
	fprintf(f, ",\n    \"start_code\": \"0x%lx\", \"end_code\": \"0x%lx\", \"start_data\": \"0x%lx\", "
		"\"end_data\": \"0x%lx\",\n    \"start_brk\": \"0x%lx\", \"brk\": \"0x%lx\", "
		"\"start_stack\": \"0x%lx\", \"arg_start\": \"0x%lx\", \"arg_end\": \"0x%lx\",\n"
		"    \"env_start\": \"0x%lx\", \"env_end\": \"0x%lx\", \"auxv_words\": %u,\n"
		"    \"signals\": [", p->start_code, p->end_code, p->start_data, p->end_data, p->start_brk,
		p->brk, p->start_stack, p->arg_start, p->arg_end, p->env_start, p->env_end, p->auxv_words);
	for (int s = 1, first = 1; s <= CKPT_NSIG; s++) {
		const struct ckpt_sigaction *sa = &p->sigact[s - 1];

		if (!sa->handler)
			continue;
		fprintf(f, "%s\n      {\"signal\": %d, \"name\": \"%s\", \"action\": \"%s\", \"handler\": \"0x%lx\", "
			"\"flags\": \"0x%lx\", \"mask\": \"0x%lx\"}", first ? "" : ",", s,
			s < 32 && sig_abbrev[s] ? sig_abbrev[s] : "", sa->handler == 1 ? "ignore" : "handler",
			sa->handler, sa->flags, sa->mask);
		first = 0;
	}
	fprintf(f, "]},\n  \"runs\": %u,\n  \"regions\": [", h->nruns);
	for (uint32_t i = 0; i < h->nvmas; i++) {
		const struct ckpt_vma *v = &img.vmas[i];

		fprintf(f, "%s\n    {\"start\": \"0x%lx\", \"end\": \"0x%lx\", \"size\": %lu, \"perm\": \"%c%c%c%c\", "
			"\"kind\": \"%s\", \"path\": ", i ? "," : "", v->start, v->end, v->end - v->start,
			v->prot & 1 ? 'r' : '-', v->prot & 2 ? 'w' : '-', v->prot & 4 ? 'x' : '-',
			v->flags & CKPT_MAP_SHARED ? 's' : 'p', img_kind_name(v->kind));
		json_str(f, img_str(&img, v->path_off));
		fputs(", \"name\": ", f);
		json_str(f, img_str(&img, v->name_off));
		fprintf(f, ", \"pgoff\": %lu, \"flags\": \"0x%x\", \"advice\": \"0x%x\", \"pkey\": %d, "
			"\"pages_stored\": %lu, \"runs\": %u}", v->pgoff, v->flags, v->advice, v->pkey,
			v->pages_stored, v->run_count);
	}
	fputs("\n  ],\n  \"fds\": [", f);
	for (uint32_t i = 0; i < h->nfds; i++) {
		static const char *const fd_kinds[CKPT_FD_KIND_MAX] = {
			[CKPT_FD_REG] = "file", [CKPT_FD_DIR] = "dir", [CKPT_FD_PIPE] = "pipe",
			[CKPT_FD_FIFO] = "fifo", [CKPT_FD_CHR] = "chr", [CKPT_FD_MEMFD] = "memfd",
			[CKPT_FD_DELETED] = "deleted", [CKPT_FD_EVENTFD] = "eventfd",
			[CKPT_FD_TIMERFD] = "timerfd", [CKPT_FD_SIGNALFD] = "signalfd",
			[CKPT_FD_UNSUPPORTED] = "unsupported", [CKPT_FD_EPOLL] = "epoll",
		};
		const struct ckpt_fd *d = &img.fds[i];
		const char *k = d->kind < CKPT_FD_KIND_MAX && fd_kinds[d->kind] ? fd_kinds[d->kind] : "?";

		fprintf(f, "%s\n    {\"fd\": %d, \"kind\": \"%s\", \"flags\": \"0x%x\", \"cloexec\": %s, "
			"\"pos\": %lu, \"stored\": %lu, \"path\": ", i ? "," : "", d->fd, k, d->flags,
			d->fd_flags & CKPT_FD_CLOEXEC ? "true" : "false", d->pos, d->data_len);
		json_str(f, img_str(&img, d->path_off));
		fputc('}', f);
	}
	fputs("\n  ],\n  \"pending_signals\": [", f);
	for (uint32_t i = 0; i < h->nsigs; i++)
		fprintf(f, "%s{\"signal\": %u, \"shared\": %s}", i ? ", " : "", img.sigs[i].signo,
			img.sigs[i].shared ? "true" : "false");
	fputs("],\n  \"timers\": [", f);
	for (uint32_t i = 0; i < h->ntimers; i++) {
		const struct ckpt_timer *t = &img.timers[i];

		fprintf(f, "%s\n    {\"id\": %d, \"clockid\": %d, \"signal\": %d, \"interval_ns\": %ld, "
			"\"remaining_ns\": %ld}", i ? "," : "", t->id, t->clockid, t->signo,
			t->interval_sec * 1000000000l + t->interval_nsec, t->value_sec * 1000000000l + t->value_nsec);
	}
	fputs("]\n}\n", f);
	if (fflush(f) || ferror(f)) {
		say("writing the JSON: %s", strerror(errno));
		return EX_FAIL;
	}
	return EX_OK;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	const char *path = "myckpt";
	char rdr[PATH_MAX], arg[PATH_MAX + 2];
	int c, json = 0;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': help(info_help);
		case 'V': version();
		}
	}
	if (optind + 1 < argc)
		usage_error("one IMAGE only ('%s' is extra)", argv[optind + 1]);
	if (optind < argc)
		path = argv[optind];
	if (json)
		return info_json(path);
	if (find_helper("readckpt", rdr, sizeof(rdr)))
		return EX_FAIL;
	/* readckpt takes no "--": keep a leading '-' from reading as an option */
	snprintf(arg, sizeof(arg), "%s%s", path[0] == '-' ? "./" : "", path);
	execl(rdr, rdr, arg, (char *)NULL);
	say("cannot run %s: %s", rdr, strerror(errno));
	return EX_FAIL;
}

/* ============================================================== merge ==== */

/* `ckpt merge IMAGE OUT`: the chain ending at IMAGE folded into one full image.
 * IMAGE's tables are the layout; each of its regions gets its final pages by
 * applying the chain oldest first, as the restorer does (restore/vma.c,
 * apply_chain): a region an image stored whole (CKPT_MAP_FRESH) forgets older
 * data for its range, data runs overwrite, zero runs drop pages.  Pages are
 * built in an anonymous scratch mapping per region with a bitmap of the pages
 * that hold data; runs of those are written with a fresh CRC-32C. */
#define MERGE_MAX_CHAIN 1001

struct merge_vma {
	uint8_t *mem;		/* scratch copy of the region, 0: holds no pages */
	uint8_t *has;		/* one byte per page: 1 = stored data */
};

/* the region of img holding the page at a that can take pages, or -1 */
static long merge_holder(const struct img *img, uint64_t a)
{
	uint32_t lo = 0, hi = img->hdr.nvmas;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (img->vmas[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->hdr.nvmas && img->vmas[lo].start <= a)
		return lo;
	return -1;
}

static void merge_clear(const struct img *top, struct merge_vma *mv, uint64_t a, uint64_t b)
{
	for (uint64_t p = a; p < b; p += CKPT_PAGE_SIZE) {
		long i = merge_holder(top, p);

		if (i >= 0 && mv[i].mem)
			mv[i].has[(p - top->vmas[i].start) / CKPT_PAGE_SIZE] = 0;
	}
}

static int merge_run(const struct img *im, const struct ckpt_run *run, const struct img *top,
		     struct merge_vma *mv, uint8_t *buf, size_t cap)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE;
	uint32_t crc = 0;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done > cap ? cap : len - done;
		ssize_t r = pread(im->fd, buf, n, (off_t)(run->data_off + done));

		if (r != (ssize_t)n) {
			say("%s: read pages at 0x%lx: %s", im->path, run->addr + done, r < 0 ? strerror(errno) : "short read");
			return -1;
		}
		crc = ckpt_crc32c(crc, buf, n);
		for (uint64_t p = 0; p < n; p += CKPT_PAGE_SIZE) {
			uint64_t a = run->addr + done + p;
			long i = merge_holder(top, a);

			if (i >= 0 && mv[i].mem) {
				uint64_t pg = (a - top->vmas[i].start) / CKPT_PAGE_SIZE;

				memcpy(mv[i].mem + pg * CKPT_PAGE_SIZE, buf + p, CKPT_PAGE_SIZE);
				mv[i].has[pg] = 1;
			}
		}
		done += n;
	}
	if (crc != run->crc) {
		say("%s: page data checksum mismatch at 0x%lx: image corrupted", im->path, run->addr);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n, off_t at)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w, n -= (size_t)w, at += w;
	}
	return 0;
}

static int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	static struct img chain[MERGE_MAX_CHAIN];
	static char paths[MERGE_MAX_CHAIN][IMG_PATH_MAX];
	struct img_err err;
	const char *in, *out;
	struct img *top;
	struct merge_vma *mv;
	struct ckpt_run *runs = NULL;
	struct ckpt_hdr h;
	uint8_t *tables = NULL, *buf = NULL;
	uint64_t nruns = 0, cap_runs = 0, runs_at, tsize;
	uint32_t n = 0, vcount;
	char tmp[PATH_MAX + 64];
	int c, fd = -1, ret = EX_FAIL;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(merge_help);
		case 'V': version();
		}
	}
	if (argc - optind != 2)
		usage_error("want IMAGE and OUT");
	in = argv[optind];
	out = argv[optind + 1];

	/* the chain, newest first, checked like the restorer checks it */
	if (img_open(&chain[0], in, 0, &err)) {
		say("%s: %s", in, err.msg);
		return EX_USAGE;
	}
	c = img_open_parents(&chain[0], in, &chain[1], &paths[1], MERGE_MAX_CHAIN - 1, 0, 0, &err);
	if (c < 0) {
		say("%s: %s", in, err.msg);
		return EX_USAGE;
	}
	n = (uint32_t)c + 1;
	top = &chain[0];
	vcount = top->hdr.nvmas;

	/* scratch copies of the regions that can hold pages */
	mv = calloc(vcount ? vcount : 1, sizeof(*mv));
	buf = malloc(1 << 20);
	if (!mv || !buf)
		goto nomem;
	for (uint32_t i = 0; i < vcount; i++) {
		const struct ckpt_vma *v = &top->vmas[i];
		uint64_t len = v->end - v->start;

		if (v->kind == CKPT_VMA_VDSO || v->kind == CKPT_VMA_VVAR || v->kind == CKPT_VMA_VVAR_VCLOCK ||
		    (v->kind == CKPT_VMA_FILE && (v->flags & CKPT_MAP_SHARED)))
			continue;
		mv[i].mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		mv[i].has = calloc(len / CKPT_PAGE_SIZE, 1);
		if (mv[i].mem == MAP_FAILED || !mv[i].has)
			goto nomem;
	}
	/* oldest first, as restore/vma.c apply_chain */
	for (uint32_t k = n; k-- > 0;) {
		const struct img *im = &chain[k];

		for (uint32_t i = 0; k != n - 1 && i < im->hdr.nvmas; i++)
			if (im->vmas[i].flags & CKPT_MAP_FRESH)
				merge_clear(top, mv, im->vmas[i].start, im->vmas[i].end);
		for (uint32_t i = 0; i < im->hdr.nruns; i++) {
			const struct ckpt_run *run = &im->runs[i];

			if (!run->data_off)
				merge_clear(top, mv, run->addr, run->addr + run->npages * CKPT_PAGE_SIZE);
			else if (merge_run(im, run, top, mv, buf, 1 << 20))
				goto fail;
		}
	}

	/* the new runs: pages with data, in region order */
	for (uint32_t i = 0; i < vcount; i++) {
		struct ckpt_vma *v = &top->vmas[i];
		uint64_t np = (v->end - v->start) / CKPT_PAGE_SIZE;

		v->run_first = (uint32_t)nruns;
		v->run_count = 0;
		v->pages_stored = 0;
		v->flags &= ~CKPT_MAP_FRESH;
		for (uint64_t p = 0; mv[i].mem && p < np;) {
			uint64_t q = p;

			if (!mv[i].has[p]) {
				p++;
				continue;
			}
			while (q < np && mv[i].has[q])
				q++;
			if (nruns == cap_runs) {
				cap_runs = cap_runs ? cap_runs * 2 : 256;
				runs = realloc(runs, cap_runs * sizeof(*runs));
				if (!runs)
					goto nomem;
			}
			runs[nruns] = (struct ckpt_run){ .addr = v->start + p * CKPT_PAGE_SIZE, .npages = q - p,
							 .vma = i };
			v->run_count++;
			v->pages_stored += q - p;
			nruns++;
			p = q;
		}
	}
	if (nruns > UINT32_MAX) {
		say("%s: too many runs", in);
		goto fail;
	}

	/* the tables: IMAGE's, old runs zeroed, the new runs at their end (64-aligned) */
	h = top->hdr;
	runs_at = (h.tables_off + h.tables_size + 63) & ~63ull;
	tsize = (runs_at + nruns * sizeof(struct ckpt_run) - h.tables_off + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	if (tsize > CKPT_MAX_TABLES) {
		say("%s: merged tables would be %lu bytes", in, tsize);
		goto fail;
	}
	tables = calloc(1, tsize);
	if (!tables)
		goto nomem;
	memcpy(tables, top->tables, h.tables_size);
	memset(tables + (h.runs_off - h.tables_off), 0, h.nruns * sizeof(struct ckpt_run));
	memcpy(tables + (h.vmas_off - h.tables_off), top->vmas, vcount * sizeof(struct ckpt_vma));
	for (uint64_t r = 0; r < nruns; r++) {
		const struct ckpt_vma *v = &top->vmas[runs[r].vma];

		runs[r].crc = ckpt_crc32c(0, mv[runs[r].vma].mem + (runs[r].addr - v->start),
					  runs[r].npages * CKPT_PAGE_SIZE);
	}
	h.runs_off = runs_at;
	h.nruns = (uint32_t)nruns;
	h.tables_size = tsize;
	h.data_off = h.tables_off + tsize;
	/* the pages, then the descriptors' stored bytes */
	img_place_data(&h, runs, (struct ckpt_fd *)(tables + (h.fds_off - h.tables_off)));
	memcpy(tables + (runs_at - h.tables_off), runs, nruns * sizeof(struct ckpt_run));
	h.depth = 0;
	memset(h.parent_id, 0, sizeof(h.parent_id));
	memset(h.parent_name, 0, sizeof(h.parent_name));
	if (getrandom(h.image_id, sizeof(h.image_id), 0) != sizeof(h.image_id)) {
		say("getrandom: %s", strerror(errno));
		goto fail;
	}
	img_seal(&h, ckpt_crc32c(0, tables, tsize));

	/* written beside OUT, fsync'd, renamed over it */
	fd = (int)img_create_beside(out, tmp, sizeof(tmp));
	if (fd < 0) {
		say("%s: create %s: %s", out, tmp, strerror(-fd));
		goto fail;
	}
	if (write_all(fd, &h, sizeof(h), 0) || write_all(fd, tables, tsize, (off_t)h.tables_off))
		goto wfail;
	for (uint64_t r = 0; r < nruns; r++) {
		const struct ckpt_vma *v = &top->vmas[runs[r].vma];

		if (write_all(fd, mv[runs[r].vma].mem + (runs[r].addr - v->start), runs[r].npages * CKPT_PAGE_SIZE,
			      (off_t)runs[r].data_off))
			goto wfail;
	}
	for (uint32_t i = 0; i < h.nfds; i++) {
		const struct ckpt_fd *of = &top->fds[i];
		const struct ckpt_fd *nf = (const struct ckpt_fd *)(tables + (h.fds_off - h.tables_off)) + i;

		for (uint64_t done = 0; done < of->data_len;) {
			uint64_t k = of->data_len - done > (1 << 20) ? (1 << 20) : of->data_len - done;

			if (pread(top->fd, buf, k, (off_t)(of->data_off + done)) != (ssize_t)k ||
			    write_all(fd, buf, k, (off_t)(nf->data_off + done)))
				goto wfail;
			done += k;
		}
	}
	if (fsync(fd))
		goto wfail;
	close(fd);
	fd = -1;
	if (rename(tmp, out)) {
		say("%s: rename: %s", out, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	img_sync_dir(out);
	printf("%s: %u image%s merged: %lu bytes, %lu runs\n", out, n, n == 1 ? "" : "s", h.file_size, nruns);
	ret = EX_OK;
	goto done;
wfail:
	say("%s: write %s: %s", out, tmp, strerror(errno ? errno : EIO));
	close(fd);
	unlink(tmp);
	goto fail;
nomem:
	say("%s: out of memory", in);
fail:
done:
	free(tables);
	free(runs);
	free(buf);
	return ret;
}

/* ============================================================== check ==== */

static void line(const char *what, int yes, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("%-24s %-3s  %s\n", what, yes ? "yes" : "no", why);
}

/* run fn in a child, return its exit status (0..255), or -1 */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t c;
	int st;

	fflush(stdout);
	c = fork();
	if (c < 0)
		return -1;
	if (c == 0)
		_exit(fn(arg) & 0xff);
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static long read_long(const char *path, long dflt)
{
	char *s = slurp(path, NULL);
	long v = dflt;

	if (s) {
		v = strtol(s, NULL, 10);
		free(s);
	}
	return v;
}

static void check_fsgsbase(void)
{
	unsigned long h2 = getauxval(AT_HWCAP2);

	if (h2 & 2)
		line("fsgsbase", 1, "AT_HWCAP2 bit 1: rdfsbase/wrfsbase save and load fs/gs base in user space");
	else
		line("fsgsbase", 0, "AT_HWCAP2 bit 1 clear (CPU or kernel): fs/gs base go through arch_prctl");
}

static void check_xsave(void)
{
	static const char *const comp[19] = {
		"x87", "SSE", "AVX", "BNDREGS", "BNDCSR", "opmask", "ZMM_Hi256", "Hi16_ZMM",
		"PT", "PKRU", "PASID", "CET_U", "CET_S", "HDC", "UINTR", "LBR", "HWP",
		"TILECFG", "TILEDATA",
	};
	unsigned a, b, c, d;
	char names[256] = "";
	uint64_t xcr0;
	size_t n = 0;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 26)) || !(c & (1u << 27))) {
		line("xsave", 0, "CPUID.1 ECX XSAVE/OSXSAVE clear: FPU/SSE state saved with FXSAVE (512 bytes)");
		return;
	}
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	xcr0 = (uint64_t)d << 32 | a;
	for (int i = 0; i < 64; i++)
		if (xcr0 & (1ull << i))
			n += snprintf(names + n, sizeof(names) - n, "%s%s", n ? " " : "",
				      i < 19 ? comp[i] : "?");
	__cpuid_count(0xd, 0, a, b, c, d);
	line("xsave", 1, "XCR0 0x%lx: %s; %u-byte area%s", xcr0, names, b,
	     b > CKPT_XSAVE_MAX ? " (larger than ckpt accepts: FXSAVE is used)" : "");
	line("  avx", (xcr0 & 0x6) == 0x6, "XCR0 bits 1-2 (SSE, AVX): ymm state in the images");
	line("  avx-512", (xcr0 & 0xe0) == 0xe0, "XCR0 bits 5-7 (opmask, ZMM_Hi256, Hi16_ZMM): zmm and k state in the images");
	line("  pkru", (xcr0 & 0x200) != 0, "XCR0 bit 9: protection-key rights (PKRU) in the images");
	line("  amx", (xcr0 & 0x60000) == 0x60000, "XCR0 bits 17-18 (TILECFG, TILEDATA)");
}

/* ---- userfaultfd ---- */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM	(1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

static void check_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	long unpriv = read_long("/proc/sys/vm/unprivileged_userfaultfd", -1);
	const char *how = "";
	int fd, e, wp_reg = 0;
	void *page;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) {
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
		how = " with UFFD_USER_MODE_ONLY";
	}
	if (fd < 0) {
		e = errno;
		if (e == ENOSYS)
			line("userfaultfd", 0, "the kernel has no userfaultfd (CONFIG_USERFAULTFD)");
		else
			line("userfaultfd", 0, "userfaultfd(): %s (vm.unprivileged_userfaultfd=%ld; "
			     "needs CAP_SYS_PTRACE or a kernel with UFFD_USER_MODE_ONLY)", strerror(e), unpriv);
		line("  write-protect", 0, "no userfaultfd");
		line("  write-protect async", 0, "no userfaultfd");
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		line("userfaultfd", 0, "UFFDIO_API: %s", strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	line("userfaultfd", 1, "opened%s (vm.unprivileged_userfaultfd=%ld); features 0x%llx", how,
	     unpriv, (unsigned long long)api.features);
	/* a real registration: what the kernel says for anonymous memory */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | (*how ? UFFD_USER_MODE_ONLY : 0));
	if (page != MAP_FAILED && fd >= 0) {
		struct uffdio_api a2 = { .api = UFFD_API, .features = api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP };
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)page, .len = 4096 }, .mode = UFFDIO_REGISTER_MODE_WP,
		};

		wp_reg = !ioctl(fd, UFFDIO_API, &a2) && !ioctl(fd, UFFDIO_REGISTER, &reg);
	}
	if (fd >= 0)
		close(fd);
	if (page != MAP_FAILED)
		munmap(page, 4096);
	line("  write-protect", (api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) && wp_reg,
	     "UFFD_FEATURE_PAGEFAULT_FLAG_WP %s, UFFDIO_REGISTER_MODE_WP on anonymous memory %s%s",
	     api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP ? "offered" : "absent",
	     wp_reg ? "works" : "refused",
	     api.features & UFFD_FEATURE_WP_UNPOPULATED ? "; WP_UNPOPULATED" : "");
	line("  write-protect async", (api.features & UFFD_FEATURE_WP_ASYNC) != 0,
	     "UFFD_FEATURE_WP_ASYNC %s: dirty tracking without a fault handler (Linux 6.7+)",
	     api.features & UFFD_FEATURE_WP_ASYNC ? "offered" : "absent");
}

/* ---- PAGEMAP_SCAN (linux/fs.h, Linux 6.7) ---- */
struct ck_page_region {
	uint64_t start, end, categories;
};
struct ck_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define CK_PAGEMAP_SCAN		_IOWR('f', 16, struct ck_pm_scan_arg)
#define CK_PAGE_IS_PRESENT	(1 << 3)

static void check_pagemap_scan(void)
{
	static char probe[8192] __attribute__((aligned(4096)));
	struct ck_page_region vec[4];
	struct ck_pm_scan_arg arg = {
		.size = sizeof(arg), .start = (uintptr_t)probe, .end = (uintptr_t)probe + 4096,
		.vec = (uintptr_t)vec, .vec_len = 4, .category_anyof_mask = CK_PAGE_IS_PRESENT,
		.return_mask = CK_PAGE_IS_PRESENT,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long r;

	probe[0] = 1;
	if (fd < 0) {
		line("pagemap_scan", 0, "/proc/self/pagemap: %s", strerror(errno));
		return;
	}
	r = ioctl(fd, CK_PAGEMAP_SCAN, &arg);
	if (r < 0)
		line("pagemap_scan", 0, "ioctl(PAGEMAP_SCAN): %s (Linux 6.7+): pages found with mincore",
		     errno == ENOTTY ? "not in this kernel" : strerror(errno));
	else
		line("pagemap_scan", 1, "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap: resident pages found "
		     "in one call per range");
	close(fd);
}

/* ---- PR_SET_MM_MAP, in a child: set the mm fields to what they are ---- */
static int probe_mm_map(void *unused)
{
	struct prctl_mm_map mm;
	uint64_t v[64] = { 0 };
	static uint64_t auxv[128];
	unsigned size = 0;
	char *s = slurp("/proc/self/stat", NULL), *q;
	int fd, field, n;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) || size != sizeof(mm))
		return 100;
	if (!s || !(q = strrchr(s, ')')))
		return 101;
	for (field = 2, q++; *q && field < 63;) {
		while (*q == ' ')
			q++;
		field++;
		v[field] = strtoull(q, &q, 10);
		while (*q && *q != ' ')
			q++;
	}
	fd = open("/proc/self/auxv", O_RDONLY);
	n = fd >= 0 ? (int)read(fd, auxv, sizeof(auxv)) : -1;
	if (n <= 0)
		return 101;
	memset(&mm, 0, sizeof(mm));
	mm.start_code = v[26], mm.end_code = v[27], mm.start_stack = v[28];
	mm.start_data = v[45], mm.end_data = v[46], mm.start_brk = v[47];
	mm.arg_start = v[48], mm.arg_end = v[49], mm.env_start = v[50], mm.env_end = v[51];
	mm.brk = (uint64_t)sbrk(0);
	mm.auxv = (__u64 *)auxv;
	mm.auxv_size = (unsigned)n;
	mm.exe_fd = (unsigned)-1;
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &mm, sizeof(mm), 0) ? errno : 0;
}

static int have_cap(int cap)
{
	char *s = slurp("/proc/self/status", NULL);
	uint64_t eff = s ? status_mask(s, "CapEff") : 0;

	free(s);
	return (eff >> cap) & 1;
}

static void check_mm_and_caps(void)
{
	int r = in_child(probe_mm_map, NULL);
	int cr = have_cap(40), res = have_cap(24);	/* CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE */

	if (r == 0)
		line("pr_set_mm_map", 1, "prctl(PR_SET_MM, PR_SET_MM_MAP) accepted: brk, stack, arg/env, "
		     "auxv restored");
	else if (r == 100)
		line("pr_set_mm_map", 0, "PR_SET_MM_MAP_SIZE refused or differs (CONFIG_CHECKPOINT_RESTORE?)");
	else if (r > 0 && r < 100)
		line("pr_set_mm_map", 0, "prctl(PR_SET_MM_MAP): %s: brk and arg/env fields stay the "
		     "restorer's", strerror(r));
	else
		line("pr_set_mm_map", 0, "the probe could not run");
	line("cap_checkpoint_restore", cr, "%s: PR_SET_MM_MAP exe_fd (/proc/PID/exe names the program "
	     "again after restore)", cr ? "in the effective set" : "not in the effective set");
	line("cap_sys_resource", res, "%s: PR_SET_MM_EXE_FILE, the older way to set /proc/PID/exe",
	     res ? "in the effective set" : "not in the effective set");
}

/* ---- namespaces, in children ---- */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int probe_unshare(void *flags)
{
	return unshare((int)(intptr_t)flags) ? errno : 0;
}

static void check_ns(void)
{
	int u = in_child(probe_unshare, (void *)(intptr_t)CLONE_NEWUSER);
	int t = in_child(probe_unshare, (void *)(intptr_t)CLONE_NEWTIME);
	int ut = t ? in_child(probe_unshare, (void *)(intptr_t)(CLONE_NEWUSER | CLONE_NEWTIME)) : -1;
	long unpriv = read_long("/proc/sys/kernel/unprivileged_userns_clone", -1);
	long maxns = read_long("/proc/sys/user/max_user_namespaces", -1);

	if (t == 0)
		line("time namespace", 1, "unshare(CLONE_NEWTIME): monotonic and boottime clocks can "
		     "continue from the checkpoint");
	else if (ut == 0)
		line("time namespace", 1, "unshare(CLONE_NEWTIME) inside a new user namespace only (%s "
		     "without one)", strerror(t));
	else
		line("time namespace", 0, "unshare(CLONE_NEWTIME): %s",
		     t == EINVAL ? "not in this kernel (CONFIG_TIME_NS)" : t > 0 ? strerror(t) : "probe failed");
	if (u == 0)
		line("user namespace", 1, "unshare(CLONE_NEWUSER) works (max_user_namespaces=%ld)", maxns);
	else
		line("user namespace", 0, "unshare(CLONE_NEWUSER): %s (max_user_namespaces=%ld%s)",
		     u > 0 ? strerror(u) : "probe failed", maxns,
		     unpriv == 0 ? ", kernel.unprivileged_userns_clone=0" : "");
}

static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'h': help(check_help);
		case 'V': version();
		}
	}
	if (optind < argc)
		usage_error("takes no arguments ('%s')", argv[optind]);
	printf("# ckpt check: uid %d, kernel ", (int)getuid());
	fflush(stdout);
	{
		char *rel = slurp("/proc/sys/kernel/osrelease", NULL);

		printf("%s", rel ? rel : "?\n");
		free(rel);
	}
	check_fsgsbase();
	check_xsave();
	check_uffd();
	check_pagemap_scan();
	check_mm_and_caps();
	check_ns();
	return fflush(stdout) ? EX_FAIL : EX_OK;
}

/* =============================================================== main ==== */

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "run", cmd_run, run_help },		{ "dump", cmd_dump, dump_help },
	{ "restore", cmd_restore, restore_help }, { "info", cmd_info, info_help },
	{ "merge", cmd_merge, merge_help },	{ "check", cmd_check, check_help },
};

int main(int argc, char **argv)
{
	const char *a = argc > 1 ? argv[1] : NULL;
	size_t i;

	if (!a)
		usage_error("no command given; commands: run, dump, restore, info, merge, check");
	if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		help(main_help);
	if (!strcmp(a, "-V") || !strcmp(a, "--version"))
		version();
	if (!strcmp(a, "help")) {
		if (argc < 3)
			help(main_help);
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i].name))
				help(commands[i].help);
		usage_error("help: unknown command '%s'", argv[2]);
	}
	if (a[0] == '-')
		usage_error("unknown option '%s'; a command comes first: run, dump, restore, info, check", a);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(a, commands[i].name)) {
			cmd = commands[i].name;
			find_self();
			optind = 1;
			return commands[i].fn(argc - 1, argv + 1);
		}
	usage_error("unknown command '%s'; commands: run, dump, restore, info, merge, check", a);
}
