/* dump.c -- `ckpt dump PID`: checkpoint a running process from outside and wait for its image. */
#include "ckpt.h"

#include <sys/uio.h>

const char dump_help[] =
	"usage: ckpt dump [--file PATH] [--timeout S] [--portable] PID\n"
	"checkpoint the running process PID (started with ckpt run, or with libckpt.so\n"
	"in LD_PRELOAD) and wait until its new image is complete\n"
	"  -f, --file PATH     where the image appears (default: where libckpt writes it,\n"
	"                      which it published when the program started; for an older\n"
	"                      libckpt, CKPT_FILE in the process's environment, a relative\n"
	"                      one taken from its current directory)\n"
	"  -t, --timeout S     give up after S seconds (default 60; 0 waits for ever)\n"
	"  -p, --portable      store the pages of its private file mappings (program,\n"
	"                      libraries) whole, as CKPT_COPY_FILES=1 does, in this image\n"
	"                      and every later one, so that it restores where those\n"
	"                      files differ or are gone; then names the files the image\n"
	"                      still needs (open files, shared mappings: restorer\n"
	"                      --map-path maps them)\n"
	"sends nothing unless PID maps libckpt.so and catches its trigger signal\n"
	"(CKPT_SIGNAL when it started, default SIGUSR2), which would kill it otherwise,\n"
	"nor when every thread of it blocks or waits for that signal (signalfd, sigwaitinfo).\n"
	"prints PATH, size and time taken; on a terminal, progress on stderr\n"
	"exit status: 0 image written, 1 failed (no such process, not ckpt-enabled,\n"
	"checkpoint failed, timeout, --portable image not portable), 2 usage error\n";

/* NAME=value from a NUL-separated environ block, or NULL */
static const char *env_get(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, nl) && p[nl] == '=')
			return p + nl + 1;
	return NULL;
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

/* is PID's program Go without cgo (goprog.h)?  Not when unreadable */
static int go_without_cgo(int pid)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = ckpt_go_program(fd) == CKPT_GO_NOCGO;
	close(fd);
	return r;
}

/* state letter of /proc/PID/stat ('R', 'S', 'Z'...), or 0 when gone;
 * *exit_signal: field 38 */
static char proc_state(long pid, long *exit_signal)
{
	char path[64], buf[1024], *p, *q;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')');		/* comm may hold spaces and parens */
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	q = p + 2;
	for (int field = 3; field < 38 && q; field++)
		if ((q = strchr(q, ' ')))
			q++;
	*exit_signal = q ? strtol(q, NULL, 10) : -1;
	return p[2];
}

/* is child C running and made as libckpt makes its writer: a raw clone
 * whose exit signal is 0?  A program's own children (fork, posix_spawn,
 * a shell's pipeline) send SIGCHLD, and are not waited for. */
static int writer_like(long c)
{
	long exit_signal = -1;
	char st = proc_state(c, &exit_signal);

	return st && st != 'Z' && st != 'X' && exit_signal == 0;
}

/* " 12 34 ": the children of every thread of pid (each thread's own file:
 * the thread that takes the trigger forks the writer) */
static void children_of(pid_t pid, char *out, size_t cap)
{
	char path[64];
	DIR *dir;
	struct dirent *de;
	size_t at = 0;

	snprintf(out, cap, " ");
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir)) && at + 2 < cap) {
		char kids_path[64 + 256 + 16], *kids;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(kids_path, sizeof(kids_path), "%s/%s/children", path, de->d_name);
		if (!(kids = slurp(kids_path, NULL)))
			continue;
		at = strlen(out);
		snprintf(out + at, cap - at, "%s ", kids);
		free(kids);
	}
	if (dir)
		closedir(dir);
}

/* does pid have a child like libckpt's writer?  It writes the image while
 * the program runs on, so the handler being done does not mean the
 * checkpoint is */
static int live_child(pid_t pid)
{
	char kids[4096], *p, *end;

	children_of(pid, kids, sizeof(kids));
	for (p = kids;; p = end) {
		long c = strtol(p, &end, 10);

		if (end == p)
			return 0;
		if (writer_like(c))
			return 1;
	}
}

/* a child of pid made as libckpt makes its writer (exit signal 0) that was
 * not among before (" 12 34 "), or 0.  Dead ones too: a writer killed before
 * the first poll saw it is still the one whose status says why there is no
 * image (it stays a zombie until libckpt reaps it at the next checkpoint). */
static pid_t new_child(pid_t pid, const char *before)
{
	char kids[4096], *p, *end, key[24];

	children_of(pid, kids, sizeof(kids));
	for (p = kids;; p = end) {
		long c = strtol(p, &end, 10), exit_signal = -1;

		if (end == p)
			return 0;
		snprintf(key, sizeof(key), " %ld ", c);
		if (proc_state(c, &exit_signal) && exit_signal == 0 && !strstr(before, key))
			return (pid_t)c;
	}
}

/* the wait status of a child that has exited and is not reaped yet (field 52
 * of /proc/PID/stat), or -1 */
static int zombie_status(pid_t child)
{
	char path[64], buf[1024], *p;
	int field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", child);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')) || p[1] != ' ' ||
	    (p[2] != 'Z' && p[2] != 'X'))
		return -1;
	for (p += 2; *p && field < 52; p++)
		field += *p == ' ';
	return field == 52 && *p >= '0' && *p <= '9' ? atoi(p) : -1;
}

/* libckpt blocks every signal while it takes a checkpoint; the kernel never
 * shows SIGKILL/SIGSTOP blocked, glibc's sigfillset leaves out 32, 33 */
static int all_blocked(uint64_t blk)
{
	return (blk | 0x180040100ull) == ~0ull;
}

/* Is thread tid of pid waiting in sigwaitinfo/sigtimedwait for sig?  While
 * it waits the kernel shows the waited signals unblocked.  The set comes
 * from the call's first argument (/proc/PID/task/TID/syscall, then
 * process_vm_readv); where that is not allowed, wchan says it waits, for
 * some set: taken as one with sig, which a waiter blocks to be reliable. */
static int waits_for(pid_t pid, const char *tid, int sig)
{
	char path[64 + 256], text[256];
	unsigned long long set = 0, addr;
	struct iovec local = { &set, sizeof(set) }, remote;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", pid, tid);
	if (read_small(path, text, sizeof(text)) > 0) {
		if (strncmp(text, "128 ", 4))		/* __NR_rt_sigtimedwait */
			return 0;
		addr = strtoull(text + 4, NULL, 16);
		remote.iov_base = (void *)(uintptr_t)addr;
		remote.iov_len = sizeof(set);
		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(set))
			return !!(set & (1ull << (sig - 1)));
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", pid, tid);
	return read_small(path, text, sizeof(text)) > 0 && !strncmp(text, "do_sigtimedwait", 15);
}

/* Does every thread of pid block sig (SigBlk of /proc/PID/task/N/status,
 * or waits for it: waits_for)?
 * 0 no (or cannot tell), 1 yes, 2 yes and some thread blocks everything (in
 * libckpt's handler, or the program blocked all it could). */
static int blocked_in_all_threads(pid_t pid, int sig)
{
	char path[64], task[64 + 256 + 8];
	DIR *d;
	struct dirent *de;
	int threads = 0, blocking = 0, busy = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char *status;
		uint64_t blk;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(task, sizeof(task), "%s/%s/status", path, de->d_name);
		if (!(status = slurp(task, NULL)))
			continue;		/* that thread is gone */
		blk = status_mask(status, "SigBlk");
		free(status);
		threads++;
		blocking += (blk & (1ull << (sig - 1))) || waits_for(pid, de->d_name, sig);
		busy |= all_blocked(blk);
	}
	if (d)
		closedir(d);
	return threads && blocking == threads ? 1 + busy : 0;
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

/* What cmd_dump's steps share. */
struct dump {
	pid_t pid;
	const char *file;		/* --file, or NULL */
	double timeout;			/* seconds, 0: for ever */
	int sig;			/* the trigger signal */
	char signame[32];
	char path[PATH_MAX];		/* where the image appears */
	char status_path[64];		/* /proc/PID/status */
	struct dump_watch w;
	struct stat before;		/* the image there before the trigger, if had_old */
	int had_old;
	int progress;			/* stderr is a terminal: show progress */
	double t0, t, shown;		/* trigger time, time since it, when progress was last shown */
	int done_seen;			/* polls in a row that found the handler done, no image */
	int from_env;			/* path and signal read from its environment, not libckpt's memfd */
	char kids_before[4096];		/* " pid pid ... ": its children before the trigger */
	pid_t writer;			/* the child that appeared after it: libckpt's writer */
	int quiet[64], nquiet;		/* threads that blocked every signal before the trigger */
	int portable;			/* --portable */
};

/* why the image may be elsewhere, for a failure message */
static const char *elsewhere(const struct dump *d)
{
	return d->from_env ? "; its image path and signal were read from its environment, which "
			     "the program may have rewritten (it closed libckpt's settings descriptor, "
			     "or its libckpt is older): --file names the path" : "";
}

/* The options and the PID; a usage error exits. */
static void parse_dump_args(struct dump *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' }, { "timeout", required_argument, 0, 't' },
		{ "portable", no_argument, 0, 'p' },
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	const char *pid_arg;
	char *end;
	long pidl;
	int c;

	while ((c = next_opt(argc, argv, ":f:t:phV", opts)) != -1) {
		switch (c) {
		case 'f': d->file = optarg; break;
		case 'p': d->portable = 1; break;
		case 't':
			d->timeout = parse_seconds(optarg);
			if (d->timeout < 0)
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
	d->pid = (pid_t)pidl;
}

/* 1. the process exists and we may signal it; 2. it maps libckpt.so (otherwise
 * SIGUSR2 would kill it: send nothing).  0 or -1. */
static int check_target(const struct dump *d)
{
	char exe[64];
	int r;

	if (d->pid == getpid()) {
		say("pid %d is ckpt itself", d->pid);
		return -1;
	}
	if (kill(d->pid, 0)) {
		if (errno == ESRCH)
			say("pid %d: no such process", d->pid);
		else
			say("pid %d: cannot signal it: %s", d->pid, strerror(errno));
		return -1;
	}
	r = maps_libckpt(d->pid);
	if (r < 0) {
		say("pid %d: cannot read /proc/%d/maps (%s): not signalled", d->pid, d->pid, strerror(-r));
		return -1;
	}
	snprintf(exe, sizeof(exe), "/proc/%d/exe", d->pid);
	if (!r && is_static_elf(exe)) {
		say("pid %d is statically linked: libckpt.so cannot be preloaded into it (it cannot "
		    "be checkpointed): not signalled", d->pid);
		return -1;
	}
	if (!r) {
		say("pid %d does not have libckpt.so loaded (start it with ckpt run): not signalled", d->pid);
		return -1;
	}
	if (go_without_cgo(d->pid)) {
		say("pid %d is " CKPT_GO_NOCGO_WHY ": not signalled", d->pid);
		return -1;
	}
	return 0;
}

/* d->path from --file, or from CKPT_FILE (cf, NULL if unset) as libckpt took it: 0 or -1 */
static int image_path(struct dump *d, const char *cf)
{
	char link[64], cwd[PATH_MAX];
	ssize_t n;

	if (d->file) {
		if (absolute(d->file, d->path, sizeof(d->path)))
			usage_error("--file %s: path too long", d->file);
		return 0;
	}
	if (!cf || !*cf)
		cf = "myckpt";
	if (cf[0] == '/') {
		snprintf(d->path, sizeof(d->path), "%s", cf);
		return 0;
	}
	/* libckpt took it relative to the directory the program started in;
	 * the current one is the best guess left (see --help) */
	snprintf(link, sizeof(link), "/proc/%d/cwd", d->pid);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	if (n <= 0) {
		say("pid %d: CKPT_FILE=%s is relative and %s is unreadable (%s): use --file",
		    d->pid, cf, link, strerror(errno));
		return -1;
	}
	cwd[n] = 0;
	if (snprintf(d->path, sizeof(d->path), "%s/%s", cwd, cf) >= (int)sizeof(d->path))
		usage_error("CKPT_FILE of pid %d: path too long", d->pid);
	return 0;
}

/* The settings libckpt published in a sealed memfd "ckpt" (capture/preload.c,
 * publish_settings): "ckpt-settings 1\nsignal N\npath P\n".  Opening
 * /proc/PID/fd/N needs what reading /proc/PID/environ needs.  Only a sealed
 * memfd counts (F_GET_SEALS fails on anything else), so no other file the
 * process holds is read.  1 found (*sig, path), 0 none. */
#define SETTINGS_HEAD	"ckpt-settings 1\nsignal "

static int read_settings_fd(pid_t pid, int *sig, char *path, size_t cap)
{
	char dir[64], link[64 + 256], target[64], text[PATH_MAX + 64];
	DIR *d;
	struct dirent *de;
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	while (d && !found && (de = readdir(d))) {
		struct stat st;
		ssize_t n;
		int fd, seals;
		char *p, *nl;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strcmp(target, "/memfd:ckpt (deleted)"))
			continue;
		fd = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		seals = fcntl(fd, F_GET_SEALS);
		n = -1;
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size < (off_t)sizeof(text) &&
		    seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) ==
					(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
			n = pread(fd, text, sizeof(text) - 1, 0);
		close(fd);
		if (n <= 0)
			continue;
		text[n] = 0;
		if (strncmp(text, SETTINGS_HEAD, strlen(SETTINGS_HEAD)))
			continue;
		*sig = (int)strtol(text + strlen(SETTINGS_HEAD), &p, 10);
		if (strncmp(p, "\npath /", 7) || !(nl = strchr(p + 6, '\n')) || nl[1] ||
		    *sig < 1 || *sig > 64 || (size_t)(nl - (p + 6)) >= cap)
			continue;
		snprintf(path, cap, "%.*s", (int)(nl - (p + 6)), p + 6);
		found = 1;
	}
	if (d)
		closedir(d);
	return found;
}

/* 3. its trigger signal and image path as libckpt took them when it started:
 * d->sig, d->signame, d->path.  From its settings memfd; from its environment
 * (CKPT_SIGNAL, CKPT_FILE) for an older libckpt, or when the program closed
 * that descriptor.  0 or -1. */
static int read_target_env(struct dump *d)
{
	char proc[64], *env;
	const char *cs;
	size_t envlen;
	int r, sig;

	if (read_settings_fd(d->pid, &sig, d->path, sizeof(d->path))) {
		d->sig = sig;
		sig_name(d->sig, d->signame, sizeof(d->signame));
		if (d->file && absolute(d->file, d->path, sizeof(d->path)))
			usage_error("--file %s: path too long", d->file);
		return 0;
	}
	snprintf(proc, sizeof(proc), "/proc/%d/environ", d->pid);
	env = slurp(proc, &envlen);
	if (!env) {
		say("pid %d: cannot read %s (%s): not signalled", d->pid, proc, strerror(errno));
		return -1;
	}
	d->from_env = !d->file;
	cs = env_get(env, envlen, "CKPT_SIGNAL");
	if (cs && *cs) {
		d->sig = ckpt_parse_signal(cs);
		if (!d->sig || d->sig == SIGKILL || d->sig == SIGSTOP) {
			say("pid %d: CKPT_SIGNAL=%s is not a signal libckpt accepts: its checkpoints are "
			    "disabled; not signalled", d->pid, cs);
			return -1;
		}
	}
	sig_name(d->sig, d->signame, sizeof(d->signame));
	r = image_path(d, env_get(env, envlen, "CKPT_FILE"));
	free(env);
	return r;
}

/* Can pid read its own /proc/PID/pagemap (mode 0400)?  A process that is
 * not dumpable has its /proc files owned by root: then only as root, or with
 * CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH (CapEff bits 1, 2).  libckpt
 * refuses then (capture/preload.c, proc_self_unreadable).  1: it cannot. */
static int not_dumpable(pid_t pid, const char *status)
{
	char path[64];
	const char *field = status_field(status, "Uid");
	char *uid = (char *)field, *end;
	unsigned long fsuid;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	if (!field || stat(path, &st))
		return 0;
	for (int i = 0; i < 3; i++)		/* real, effective, saved, then fs */
		strtoul(uid, &uid, 10);
	fsuid = strtoul(uid, &end, 10);
	if (end == uid)
		return 0;
	return st.st_uid != fsuid && !(status_mask(status, "CapEff") & 0x6);
}

/* 4. it catches that signal (libckpt installed its handler): 0 or -1 */
static int check_catches(struct dump *d)
{
	char *status;

	snprintf(d->status_path, sizeof(d->status_path), "/proc/%d/status", d->pid);
	status = slurp(d->status_path, NULL);
	if (!status) {
		say("pid %d: cannot read %s (%s): not signalled", d->pid, d->status_path, strerror(errno));
		return -1;
	}
	if (not_dumpable(d->pid, status)) {
		say("pid %d is not dumpable (it changed its uid or called PR_SET_DUMPABLE 0): libckpt "
		    "cannot read its /proc/self files; no checkpoint: not signalled", d->pid);
		free(status);
		return -1;
	}
	if (!(status_mask(status, "SigCgt") & (1ull << (d->sig - 1)))) {
		if (status_mask(status, "SigIgn") & (1ull << (d->sig - 1)))
			say("pid %d ignores %s: libckpt's handler was replaced by SIG_IGN (a raw "
			    "rt_sigaction; CKPT_SIGNAL picks another signal): not signalled", d->pid, d->signame);
		else
			say("pid %d has no handler for %s: libckpt's was never installed (see its stderr) "
			    "or was removed (a raw rt_sigaction; CKPT_SIGNAL picks another signal): not "
			    "signalled%s", d->pid, d->signame, elsewhere(d));
		free(status);
		return -1;
	}
	free(status);
	return 0;
}

/* A process in a mount namespace of its own (unshare -m, a container)
 * writes its image at a path of its own view: watched here through
 * /proc/PID/root, which needs what reading its environment needs.  --file
 * names a path of the caller's view.  0, or -1 with a line said. */
static int see_its_mounts(struct dump *d)
{
	char ns[64], path[PATH_MAX];
	struct stat mine, its;

	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", d->pid);
	if (d->file || stat("/proc/self/ns/mnt", &mine) || stat(ns, &its) ||
	    (mine.st_ino == its.st_ino && mine.st_dev == its.st_dev))
		return 0;
	if (snprintf(path, sizeof(path), "/proc/%d/root%s", d->pid, d->path) >= (int)sizeof(path)) {
		say("pid %d: image path %s too long to reach through /proc/%d/root: use --file", d->pid,
		    d->path, d->pid);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	return 0;
}

/* Where libckpt writes: DIR/.NAME.tmp.<hex>, renamed to DIR/NAME; DIR must
 * be a directory.  0 or -1. */
static int watch_image_dir(struct dump *d)
{
	const char *slash = strrchr(d->path, '/');
	struct stat st;

	snprintf(d->w.dir, sizeof(d->w.dir), "%.*s", slash == d->path ? 1 : (int)(slash - d->path), d->path);
	snprintf(d->w.prefix, sizeof(d->w.prefix), ".%.*s.tmp.", NAME_MAX, slash + 1);
	d->w.path = d->path;
	if (stat(d->w.dir, &st) || !S_ISDIR(st.st_mode)) {
		say("pid %d: image directory %s: %s: not signalled", d->pid, d->w.dir,
		    errno ? strerror(errno) : "not a directory");
		return -1;
	}
	return 0;
}

/* 5. The previous checkpoint's writer may still be exiting: libckpt refuses a
 * new one (EBUSY) until it has gone, so wait a little; then note the image
 * that is there now.  -1 when the program blocks the trigger everywhere. */
static int wait_previous_writer(struct dump *d)
{
	double t0 = now_s();

	while ((live_child(d->pid) || blocked_in_all_threads(d->pid, d->sig) == 2) &&
	       now_s() - t0 < (d->timeout > 0 && d->timeout < 10 ? d->timeout : 10))
		usleep(10000);
	d->had_old = !stat(d->path, &d->before);
	/* a program that blocks the trigger everywhere (signalfd, sigwaitinfo,
	 * sigpending) would take it for its own or keep it pending for ever */
	if (blocked_in_all_threads(d->pid, d->sig)) {
		say("pid %d blocks %s in every thread (it reads it with signalfd or sigwaitinfo, or "
		    "leaves it pending): no checkpoint can start; CKPT_SIGNAL picks another signal: "
		    "not signalled", d->pid, d->signame);
		return -1;
	}
	return 0;
}

/* What one poll saw of the process. */
struct dump_look {
	char *status;			/* /proc/PID/status, NULL if gone */
	uint64_t blk;			/* its SigBlk */
	int gone, pending, in_handler, writing;
};

/* Threads of PID that block every signal now, as libckpt's handler does: with
 * note, their tids go to d->quiet (before the trigger: a glibc timer thread
 * blocks them all for good); else 1 if one not in d->quiet does.  The trigger
 * goes to any thread, and a Go program's main thread rarely takes it. */
static int threads_all_blocked(struct dump *d, int note)
{
	char path[64], task[64 + 256 + 8];
	DIR *dir;
	struct dirent *de;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", d->pid);
	dir = opendir(path);
	while (dir && !found && (de = readdir(dir))) {
		char *status;
		int tid = atoi(de->d_name), known = 0;

		if (tid <= 0)
			continue;
		snprintf(task, sizeof(task), "%s/%s/status", path, de->d_name);
		if (!(status = slurp(task, NULL)))
			continue;		/* that thread is gone */
		if (all_blocked(status_mask(status, "SigBlk"))) {
			for (int i = 0; i < d->nquiet; i++)
				known |= d->quiet[i] == tid;
			if (note && d->nquiet < (int)(sizeof(d->quiet) / sizeof(d->quiet[0])))
				d->quiet[d->nquiet++] = tid;
			else if (!note && !known)
				found = 1;
		}
		free(status);
	}
	if (dir)
		closedir(dir);
	return found;
}

static void look_at_target(struct dump *d, struct dump_look *l)
{
	const char *s = l->status = slurp(d->status_path, NULL);
	uint64_t bit = 1ull << (d->sig - 1);

	l->gone = !s || *status_field(s, "State") == 'Z' || *status_field(s, "State") == 'X';
	l->blk = s ? status_mask(s, "SigBlk") : 0;
	l->pending = s && ((status_mask(s, "SigPnd") | status_mask(s, "ShdPnd")) & bit);
	/* libckpt's handler is writing, in whichever thread took the trigger */
	l->in_handler = s && threads_all_blocked(d, 0);
	l->writing = !l->pending && !l->in_handler && (live_child(d->pid) || tmp_size(&d->w) >= 0);
}

/* a new image at the path (another inode than before): *st */
static int new_image(const struct dump *d, struct stat *st)
{
	return !stat(d->path, st) &&
	       (!d->had_old || st->st_ino != d->before.st_ino || st->st_dev != d->before.st_dev);
}

static void clear_progress(const struct dump *d)
{
	if (d->shown)
		fputs("\r\033[K", stderr);
}

/* After a poll: EX_OK (the image is there), EX_FAIL (it will not come), or
 * -1 (wait on).  Status first, then the image: libckpt renames before its
 * handler returns, so "handler done" followed by "no new image" is a failure. */
static int verdict(struct dump *d, const struct dump_look *l)
{
	struct stat st;
	char sz[32];
	int ws;

	if (new_image(d, &st)) {
		d->t = now_s() - d->t0;
		clear_progress(d);
		human(sz, sizeof(sz), (double)st.st_size);
		printf("%s: %lld bytes (%s) in %.3f s\n", d->path, (long long)st.st_size, sz, d->t);
		return EX_OK;
	}
	if (d->writer && (ws = zombie_status(d->writer)) > 0 && (ws & 0x7f)) {
		clear_progress(d);
		say("pid %d: checkpoint failed: its writer (pid %d) died of signal %d (%s); no new image "
		    "at %s", d->pid, d->writer, ws & 0x7f, sig_name(ws & 0x7f, sz, sizeof(sz)), d->path);
		return EX_FAIL;
	}
	if (l->gone) {
		clear_progress(d);
		say("pid %d exited before its image was complete (it wrote none at %s)%s", d->pid, d->path,
		    elsewhere(d));
		return EX_FAIL;
	}
	/* done, and no new image: the same answer three polls in a row, to
	 * step over the instant between dequeue and the handler's mask */
	d->done_seen = !l->pending && !l->in_handler && !l->writing ? d->done_seen + 1 : 0;
	if (d->done_seen >= 3) {
		clear_progress(d);
		say("pid %d handled %s but wrote no new image at %s (libckpt says why on the "
		    "program's stderr: a previous checkpoint still running?)%s", d->pid, d->signame,
		    d->path, elsewhere(d));
		return EX_FAIL;
	}
	d->t = now_s() - d->t0;
	if (d->timeout > 0 && d->t > d->timeout) {
		clear_progress(d);
		if (l->status && *status_field(l->status, "State") == 'T')
			say("timed out after %.0f s: pid %d is stopped (SIGCONT it)", d->timeout, d->pid);
		else if (l->pending && (l->blk & (1ull << (d->sig - 1))) && !l->in_handler)
			say("timed out after %.0f s: pid %d blocks %s; the checkpoint waits until it "
			    "unblocks it", d->timeout, d->pid, d->signame);
		else
			say("timed out after %.0f s: no new image at %s%s", d->timeout, d->path, elsewhere(d));
		return EX_FAIL;
	}
	return -1;
}

/* on a terminal, after half a second: how much the writer has written */
static void show_progress(struct dump *d)
{
	long long size;
	char sz[32];

	if (!d->progress || d->t <= 0.5 || d->t - d->shown < 0.2)
		return;
	size = tmp_size(&d->w);
	human(sz, sizeof(sz), size > 0 ? (double)size : 0);
	fprintf(stderr, "\r\033[Kckpt: dump: pid %d: %s written, %.1f s", d->pid, sz, d->t);
	fflush(stderr);
	d->shown = d->t;
}

/* 6. Trigger, then poll until a new inode is at the path: EX_OK or EX_FAIL. */
static int trigger_and_wait(struct dump *d)
{
	children_of(d->pid, d->kids_before, sizeof(d->kids_before));
	threads_all_blocked(d, 1);
	d->t0 = now_s();
	if (d->portable ? sigqueue(d->pid, d->sig, (union sigval){ .sival_ptr = (void *)CKPT_PORTABLE_COOKIE })
			: kill(d->pid, d->sig)) {
		say("pid %d: kill %s: %s", d->pid, d->signame, strerror(errno));
		return EX_FAIL;
	}
	for (int i = 0;; i++) {
		struct dump_look l;
		int ret;

		if (!d->writer)
			d->writer = new_child(d->pid, d->kids_before);
		look_at_target(d, &l);
		ret = verdict(d, &l);
		free(l.status);
		if (ret >= 0)
			return ret;
		show_progress(d);
		usleep(i < 100 ? 2000 : 20000);
	}
}

/* 7. --portable: the new image holds every private file mapping's pages (a
 * libckpt older than CKPT_PORTABLE_COOKIE took it as a plain trigger: then it
 * does not); the files it still needs are named.  EX_OK or EX_FAIL. */
static int check_portable(const struct dump *d, const struct img *img)
{
	const char *first = NULL;
	uint32_t missing = 0, needed = 0;

	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		if (v->kind != CKPT_VMA_FILE)
			continue;
		if (!(v->flags & CKPT_MAP_SHARED) && !(v->flags & CKPT_MAP_COPIED))
			missing++;
		else if (v->flags & CKPT_MAP_SHARED && !needed++)
			first = img_str(img, v->path_off);
	}
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *f = &img->fds[i];

		if (f->share == i && f->fd > 2 && !(f->fd_flags & CKPT_FD_STORED) &&
		    (f->kind == CKPT_FD_REG || f->kind == CKPT_FD_DIR || f->kind == CKPT_FD_FIFO) && !needed++)
			first = img_str(img, f->path_off);
	}
	if (missing)
		say("%s: not portable: %u private file mappings are not stored (pid %d's libckpt predates "
		    "--portable: start it with CKPT_COPY_FILES=1)", esc(d->path), missing, d->pid);
	else if (needed)
		say("notice: %s still needs files where it is restored (%u shared mappings and open files, "
		    "such as %s): restorer --map-path maps them", esc(d->path), needed, esc(first));
	return missing ? EX_FAIL : EX_OK;
}

/* is descriptor f of process `proc` of the job one the job makes (from the
 * job table, not from its own record: shared, or a pidfd of its own)? */
static int job_shared(const struct img_job *j, uint32_t proc, const struct ckpt_fd *f)
{
	for (uint32_t r = 0; j && r < j->hdr.nrefs; r++)
		if (j->refs[r].proc == proc && j->refs[r].fd == f->fd)
			return 1;
	for (uint32_t k = 0; j && f->aux[0] == CKPT_WHY_PIDFD_OTHER && k < j->hdr.nprocs; k++)
		if ((uint64_t)j->procs[k].pid == f->aux[1])
			return 1;		/* a pidfd of a process of the job: made again */
	return 0;
}

/* one image (a job's: process `proc` of job j) */
static int report_one(const struct dump *d, const char *path, const struct img_job *j, uint32_t proc)
{
	struct img img;
	struct img_err err;
	char who[64] = "";
	int r = EX_OK;

	if (img_open(&img, path, 0, &err)) {
		say("%s: %s", esc(path), err.msg);	/* msg: escaped already */
		return EX_FAIL;
	}
	if (j)
		snprintf(who, sizeof(who), " pid %d (%s)", j->procs[proc].pid, j->procs[proc].comm);
	for (int i = 0; i < CKPT_PROC_NLOST; i++)
		if (img.proc->attrs & (CKPT_PROC_GROUPS_LOST << i))
			say("notice: %s:%s not restored: %s", esc(d->path), who, img_lost_names[i]);
	for (uint32_t i = 0; i < img.hdr.nfds; i++) {
		const struct ckpt_fd *f = &img.fds[i];

		if (f->kind == CKPT_FD_UNSUPPORTED && (f->fd > 2 || (j && proc)) && !job_shared(j, proc, f))
			say("notice: %s:%s not restored: fd %d (%s): %s", esc(d->path), who, f->fd,
			    esc(img_str(&img, f->path_off)), img_fd_why(f));
	}
	if (d->portable)
		r = check_portable(d, &img);
	close(img.fd);
	munmap(img.tables, img.hdr.tables_size);
	return r;
}

/* 8. What the new image will not bring back, one line each, as libckpt said
 * on the program's stderr (which the person dumping may not see); then
 * --portable's check; for a job, each process's image.  EX_OK or EX_FAIL. */
static int report_image(const struct dump *d)
{
	struct img_job j;
	struct img_err err;
	char member[IMG_PATH_MAX];
	int r = EX_OK;

	img_unpack_pages = 0;		/* a compressed image: its tables are what is reported */
	if (!img_job_is(d->path))
		return report_one(d, d->path, NULL, 0);
	if (img_job_open(&j, d->path, &err)) {
		say("%s: %s", esc(d->path), err.msg);
		img_job_close(&j);
		return EX_FAIL;
	}
	for (uint32_t i = 0; i < j.hdr.nprocs; i++)
		if (j.procs[i].state == CKPT_JOB_LIVE &&
		    (!img_job_member_path(d->path, &j.procs[i], member, sizeof(member)) ||
		     report_one(d, member, &j, i) != EX_OK))
			r = EX_FAIL;
	img_job_close(&j);
	return r;
}

int cmd_dump(int argc, char **argv)
{
	static struct dump d = { .timeout = 60, .sig = SIGUSR2 };
	int r;

	parse_dump_args(&d, argc, argv);
	if (check_target(&d) || read_target_env(&d) || check_catches(&d) || see_its_mounts(&d) ||
	    watch_image_dir(&d))
		return EX_FAIL;
	d.progress = isatty(2);
	if (wait_previous_writer(&d))
		return EX_FAIL;
	r = trigger_and_wait(&d);
	return r == EX_OK ? report_image(&d) : r;
}
