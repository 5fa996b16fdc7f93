/* dump.c -- `ckpt dump PID`: checkpoint a running process from outside and wait for its image. */
#include "ckpt.h"

#include <sys/uio.h>

const char dump_help[] =
	"usage: ckpt dump [--file PATH] [--timeout S] PID\n"
	"checkpoint the running process PID (started with ckpt run, or with libckpt.so\n"
	"in LD_PRELOAD) and wait until its new image is complete\n"
	"  -f, --file PATH     where the image appears (default: CKPT_FILE in the process's\n"
	"                      environment; a relative one is taken from the process's\n"
	"                      current directory, which may not be where it started)\n"
	"  -t, --timeout S     give up after S seconds (default 60; 0 waits for ever)\n"
	"sends nothing unless PID maps libckpt.so and catches its trigger signal\n"
	"(CKPT_SIGNAL in its environment, default SIGUSR2), which would kill it otherwise,\n"
	"nor when every thread of it blocks or waits for that signal (signalfd, sigwaitinfo).\n"
	"prints PATH, size and time taken; on a terminal, progress on stderr\n"
	"exit status: 0 image written, 1 failed (no such process, not ckpt-enabled,\n"
	"checkpoint failed, timeout), 2 usage error\n";

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

/* state letter of /proc/PID/stat ('R', 'S', 'Z'...), or 0 when gone; *ppid set */
static char proc_state(long pid, long *ppid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
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

int cmd_dump(int argc, char **argv)
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
		if (status_mask(status, "SigIgn") & (1ull << (sig - 1)))
			say("pid %d ignores %s: libckpt's handler was replaced by SIG_IGN (a raw "
			    "rt_sigaction; CKPT_SIGNAL picks another signal): not signalled", pid, signame);
		else
			say("pid %d has no handler for %s: libckpt's was never installed (see its stderr) "
			    "or was removed (a raw rt_sigaction; CKPT_SIGNAL picks another signal): not "
			    "signalled", pid, signame);
		free(status);
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
	while ((live_child(pid) || blocked_in_all_threads(pid, sig) == 2) &&
	       now_s() - t0 < (timeout > 0 && timeout < 10 ? timeout : 10))
		usleep(10000);
	had_old = !stat(path, &before);
	/* a program that blocks the trigger everywhere (signalfd, sigwaitinfo,
	 * sigpending) would take it for its own or keep it pending for ever */
	if (blocked_in_all_threads(pid, sig)) {
		say("pid %d blocks %s in every thread (it reads it with signalfd or sigwaitinfo, or "
		    "leaves it pending): no checkpoint can start; CKPT_SIGNAL picks another signal: "
		    "not signalled", pid, signame);
		return EX_FAIL;
	}

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
		in_handler = all_blocked(blk);	/* libckpt's handler is writing */
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
