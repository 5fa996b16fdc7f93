/* preload.c -- libckpt.so: settings, the trigger signal, the public API, and
 * what the process does on its way back after a restore.
 *
 * Loaded with LD_PRELOAD (or linked with -lckpt).  The constructor reads the
 * environment once and installs the handler for CKPT_SIGNAL only; handlers the
 * program sets for other signals are never touched.  In a privileged program
 * (AT_SECURE) it reads no CKPT_* variable and installs no trigger at all.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

#include "cap.h"
#include "cpu.h"
#include "signame.h"
#include "goprog.h"
#include "ckpt.h"

#define CKPT_API __attribute__((visibility("default")))



static struct cap_state state;
static uint8_t fpu_area[CKPT_XSAVE_MAX] __attribute__((aligned(64)));
static struct ckpt_resume resume;		/* the restorer fills this in */
static int busy;				/* a checkpoint is being taken (atomic) */
static int writer;				/* pid of the child writing an image */
static const char *writer_path;			/* and the image it writes */

/* A process with a large address space and little data (a sparse one) costs
 * more to fork (the page tables are copied) than to write in place.  Then a
 * thread of libckpt's own (CLONE_VM, its own descriptor table) writes the
 * image: the program waits only until every page is in the file, and the
 * thread goes on with smaps, the tables, fsync and the rename. */
static struct {
	volatile int32_t tid;		/* set at clone, cleared (and woken) at its exit */
	volatile int32_t data_out;	/* 1: the program may go on */
	int result;
	int retake;			/* auto: a uffd snapshot did not hold, the writer asked for
					 * the checkpoint again (a fork this time) */
	uint64_t stack, stack_len;
	struct cap_walk w;
} inplace;

#define INPLACE_STACK	(512u << 10)
static void forget_writer_thread(void);
static unsigned long restore_count;


/* ---- settings ---- */

/* In a privileged program: one line, only when someone set CKPT_* variables,
 * naming them and saying what holds instead. */
static void say_env_ignored(void)
{
	extern char **environ;
	char names[400];
	size_t n = 0;

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);

		if (strncmp(*e, "CKPT_", 5) || n + len + 8 >= sizeof(names))
			continue;
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%.*s", n ? ", " : "", (int)len, *e);
	}
	if (n)
		cap_say("a privileged program (setuid, setgid or file capabilities): %s ignored; "
			"no checkpoint signal or timer; checkpoints only through the API, "
			"into places of its own (libckpt(3), PRIVILEGED PROGRAMS)", names);
}

static void probe_machine(void)
{
	struct img_cpu cpu;

	ckpt_cfg.hwcap2 = getauxval(AT_HWCAP2);
	if (ckpt_cfg.hwcap2 & 2)		/* HWCAP2_FSGSBASE */
		ckpt_cfg.ctx_flags |= CKPT_CTX_FSGSBASE;
	img_probe_cpu(&cpu);
	memcpy(ckpt_cfg.cpu_vendor, cpu.vendor, sizeof(cpu.vendor));
	ckpt_cfg.cpuid7_ebx = cpu.cpuid7_ebx;
	ckpt_cfg.cpuid7_ecx = cpu.cpuid7_ecx;
	ckpt_cfg.cpuid7_edx = cpu.cpuid7_edx;
	ckpt_cfg.cpuid1_ecx = cpu.cpuid1_ecx;
	ckpt_cfg.cpuid1_edx = cpu.cpuid1_edx;
	ckpt_cfg.xsave_size = 512;			/* FXSAVE */
	if ((cpu.cpuid1_ecx & IMG_CPUID1_ECX_XSAVE) && (cpu.cpuid1_ecx & IMG_CPUID1_ECX_OSXSAVE)) {
		ckpt_cfg.xcr0 = cpu.xcr0;
		if (cpu.xsave_size <= CKPT_XSAVE_MAX) {
			ckpt_cfg.xsave_size = cpu.xsave_size;
			ckpt_cfg.ctx_flags |= CKPT_CTX_XSAVE;
		}
	}
	ckpt_cfg.have_pagemap_scan = 1;		/* cleared on first ENOTTY */
}

/* CKPT_CPU_LEVEL=x86-64-v2 (or 2, v3, v4: what ckpt run --cpu-baseline sets,
 * with glibc told to use no more): images say only that level's features
 * count, so they restore on any CPU of that level. */
static void read_cpu_level(const char *s)
{
	struct img_cpu_level l;
	const char *n = s;

	if (!s || !*s)
		return;
	if (!strncmp(n, "x86-64-v", 8))
		n += 8;
	if (n[0] && !n[1] && img_cpu_level((uint32_t)(n[0] - '0'), &l))
		ckpt_cfg.cpu_level = (uint32_t)(n[0] - '0');
	else
		cap_say("CKPT_CPU_LEVEL=%s: not x86-64-v2, -v3 or -v4: images need every feature of this CPU", s);
}

static void on_signal(int sig, siginfo_t *si, void *ucv);
static struct sigaction prog_view, stop_view;	/* what the program set for them */
static int trigger_owned, stop_owned;		/* our handlers are installed */

#define INTERVAL_COOKIE	0x636b7074696d6572ull	/* "ckptimer": sigval of our own timer */

/* CKPT_INTERVAL=S: a POSIX timer of the library's own (CLOCK_MONOTONIC) sends
 * CKPT_SIGNAL every S seconds.  The program's handlers never see it and its
 * own timers (alarm, setitimer, timer_create) are untouched; a system call
 * that fails with EINTR whenever any handler runs (poll, select, epoll_wait,
 * sigsuspend) can see that, as with any handled signal.  The timer is part of
 * the image: a restored program goes on checkpointing at the same pace. */
static void start_interval(const char *s)
{
	struct { uint64_t value; int32_t signo, notify, pad[12]; } sev = {
		.value = INTERVAL_COOKIE, .signo = ckpt_cfg.sig, .notify = 0 /* SIGEV_SIGNAL */,
	};
	struct ksys_timespec its[2];
	double secs;
	char *end;
	int id = -1;
	long r;

	if (!s || !*s)
		return;
	secs = strtod(s, &end);
	if (*end || !(secs >= 0.001) || secs > 1e9) {
		cap_say("CKPT_INTERVAL=%s: not a number of seconds: no periodic checkpoints", s);
		return;
	}
	its[0].tv_sec = its[1].tv_sec = (int64_t)secs;
	its[0].tv_nsec = its[1].tv_nsec = (int64_t)((secs - (double)(int64_t)secs) * 1e9);
	r = sys_timer_create(1 /* CLOCK_MONOTONIC */, &sev, &id);
	if (!sys_failed(r))
		r = sys_timer_settime(id, 0, its);
	if (sys_failed(r))
		cap_say("CKPT_INTERVAL=%s: timer: errno %d: no periodic checkpoints", s, (int)-r);
}

/* the stop signal for the other threads (threads.c) */
static void install_stop_handler(void)
{
	const char *ss = cap_env("CKPT_STOP_SIGNAL");
	struct sigaction st;

	if (ss && *ss && !(ckpt_stop_sig = ckpt_parse_signal(ss)))
		cap_say("CKPT_STOP_SIGNAL=%s: not a signal: using %d", ss, ckpt_stop_sig = 63);
	memset(&st, 0, sizeof(st));
	st.sa_sigaction = (void (*)(int, siginfo_t *, void *))cap_on_stop;
	st.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;	/* on altstack.c's stack */
	sigfillset(&st.sa_mask);
	if (ckpt_stop_sig == ckpt_cfg.sig || sigaction(ckpt_stop_sig, &st, &stop_view))
		cap_say("stop signal %d unusable: multi-threaded checkpoints will fail", ckpt_stop_sig);
	else
		stop_owned = 1;
	cap_altstack_init();
}

/* Publish the image path and the trigger signal where the program does not
 * write: `ckpt dump` cannot trust /proc/PID/environ, which a program that
 * sets its process title (redis, nginx, postgres) overwrites.  A memfd
 * named "ckpt" (/proc/PID/fd/N -> "/memfd:ckpt (deleted)"), sealed so that
 * nobody changes it, kept out of images (state.c), moved out of the
 * program's way (from fd 256 up), close-on-exec.  A restored process gets it
 * back at the same number if it was there at the checkpoint.  Its text:
 *     ckpt-settings 1\nsignal N\npath /abs/path\n
 * A program that closes every descriptor loses it: dump then reads the
 * environment, and says so.  Nothing is said here when it cannot be made. */
#define SETTINGS_SEALS	(8 | 4 | 2 | 1)	/* F_SEAL_WRITE | GROW | SHRINK | SEAL */

static void publish_settings(int from)
{
	char text[sizeof(ckpt_cfg.path) + 64];
	struct ksys_stat st;
	long fd, hi, r;
	size_t len, at = 0;

	if (cap_is_settings_fd(ckpt_cfg.settings_fd))
		return;				/* still there */
	ckpt_cfg.settings_ino = 0;
	len = (size_t)snprintf(text, sizeof(text), "ckpt-settings 1\nsignal %d\npath %s\n",
			       ckpt_cfg.sig, ckpt_cfg.path);
	if (len >= sizeof(text))
		return;
	fd = sys_memfd_create("ckpt", 1 | 2 /* MFD_CLOEXEC | MFD_ALLOW_SEALING */);
	if (sys_failed(fd))
		return;
	hi = sys_fcntl((int)fd, 1030 /* F_DUPFD_CLOEXEC */, from);
	if (!sys_failed(hi)) {
		sys_close((int)fd);
		fd = hi;
	}
	while (at < len && (r = sys_write((int)fd, text + at, len - at)) > 0)
		at += (size_t)r;
	if (at < len || sys_failed(sys_fcntl((int)fd, 1033 /* F_ADD_SEALS */, SETTINGS_SEALS)) ||
	    sys_failed(sys_fstat((int)fd, &st))) {
		sys_close((int)fd);
		return;
	}
	ckpt_cfg.settings_fd = (int)fd;
	ckpt_cfg.settings_dev = st.st_dev;
	ckpt_cfg.settings_ino = st.st_ino;
}

/* is this process a Go program without cgo (goprog.h)? */
static int go_without_cgo(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return 0;
	r = ckpt_go_program(fd) == CKPT_GO_NOCGO;
	close(fd);
	return r;
}

/* A job (job.c) is the process that takes the trigger and every descendant
 * that carries libckpt.  A process with an ancestor that carries libckpt
 * (one that catches both the trigger and the stop signal) is inside a job:
 * it starts no CKPT_INTERVAL timer of its own, as the job's top process
 * checkpoints it with the rest (with CKPT_INCREMENTAL, into a chain of its
 * own images, each named by its job's id).  A trigger sent to it
 * still checkpoints it and its own descendants.  The environment is not
 * touched.  1: inside a job. */
static int catches_ours(const char *status)
{
	const char *v = cap_field(status, "SigCgt:");
	uint64_t mask = v ? img_parse_num(&v, 16) : 0;

	return (mask >> (ckpt_cfg.sig - 1) & 1) && ckpt_stop_sig > 0 && (mask >> (ckpt_stop_sig - 1) & 1);
}

static int in_a_job(void)
{
	int32_t p = (int32_t)getppid();
	char path[48], status[2048];

	for (int depth = 0; depth < 64 && p > 1; depth++) {
		const char *pp;

		img_fmt(path, sizeof(path), "/proc/%d/status", p);
		if (cap_read_small(path, status, sizeof(status)) <= 0)
			return 0;
		if (catches_ours(status))
			return 1;
		pp = cap_field(status, "PPid:");
		p = pp ? (int32_t)img_parse_num(&pp, 10) : 0;
	}
	return 0;
}

/* is pid an ancestor of this process? */
static int is_ancestor(int32_t pid)
{
	int32_t p = (int32_t)getppid();

	for (int depth = 0; depth < 256 && p > 1 && pid > 0; depth++) {
		char path[48];
		uint64_t pp;

		if (p == pid)
			return 1;
		img_fmt(path, sizeof(path), "/proc/%d/stat", p);
		if (cap_stat_field(path, 4, &pp))
			return 0;
		p = (int32_t)pp;
	}
	return pid > 0 && p == pid;
}

/* CKPT_COMPRESS=zstd (or 1): full images of this process are compressed
 * (zip.c); 0, off or unset: not.  What stays uncompressed is said now. */
static void read_compress(const char *v)
{
	if (!v || !*v || !strcmp(v, "0") || !strcmp(v, "off"))
		return;
	if (strcmp(v, "zstd") && strcmp(v, "1")) {
		cap_say("CKPT_COMPRESS=%s: not zstd, 1, 0 or off: images are not compressed", v);
		return;
	}
	ckpt_cfg.compress = 1;
	if (ckpt_cfg.incremental)
		cap_say("CKPT_COMPRESS: the images of CKPT_INCREMENTAL are written uncompressed "
			"(the restorer reads a chain itself)");
	else if (in_a_job())
		cap_say("CKPT_COMPRESS: a job's images are written uncompressed (the restorer reads them itself)");
}

/* CKPT_SNAPSHOT: how a lone process's full image is taken while the program
 * goes on.  auto (unset) chooses by the process's shape (choose_snapshot). */
static void read_snapshot(const char *v)
{
	int err;

	if (!v || !*v || !strcmp(v, "auto"))
		return;
	if (!strcmp(v, "fork"))
		ckpt_cfg.snapshot = CAP_SNAP_FORK;
	else if (!strcmp(v, "inplace"))
		ckpt_cfg.snapshot = CAP_SNAP_INPLACE;
	else if (!strcmp(v, "uffd"))
		ckpt_cfg.snapshot = CAP_SNAP_UFFD;
	else {
		cap_say("CKPT_SNAPSHOT=%s: not fork, uffd, inplace or auto: chosen automatically", v);
		return;
	}
	if (!ckpt_cfg.fork_writer)
		cap_say("CKPT_SNAPSHOT=%s: CKPT_FORK=0 writes every image with the program stopped", v);
	else if (ckpt_cfg.snapshot == CAP_SNAP_UFFD && (err = cap_snap_possible())) {
		cap_say("CKPT_SNAPSHOT=uffd: no userfaultfd that also waits on the kernel's writes (errno %d%s): "
			"images are written by a forked child", -err,
			err == -1 ? "; an ordinary user needs vm.unprivileged_userfaultfd=1" : "");
		ckpt_cfg.snapshot = CAP_SNAP_FORK;
	} else if (ckpt_cfg.snapshot != CAP_SNAP_FORK && (ckpt_cfg.incremental || in_a_job()))
		cap_say("CKPT_SNAPSHOT=%s: %s images are written by a forked child", v,
			ckpt_cfg.incremental ? "CKPT_INCREMENTAL's" : "a job's");
}

__attribute__((constructor)) static void ckpt_init(void)
{
	const char *file, *sig, *keep, *copy;
	struct sigaction sa;
	char cwd[4096];
	int n;

	ckpt_cfg.secure = getauxval(AT_SECURE) != 0;
	probe_machine();
	pthread_atfork(0, 0, forget_writer_thread);
	ckpt_cfg.fork_writer = 1;
	if (ckpt_cfg.secure) {
		/* the path of ckpt_checkpoint() is chosen at each call (api.c);
		 * the stop signal of threads.c stays: no checkpoint is in flight
		 * when someone else sends it, and then it does nothing */
		say_env_ignored();
		install_stop_handler();
		return;
	}
	if (go_without_cgo()) {
		cap_say("this is " CKPT_GO_NOCGO_WHY ": checkpoints disabled");
		return;
	}
	file = cap_env("CKPT_FILE");
	sig = cap_env("CKPT_SIGNAL");
	if (!file || !*file)
		file = "myckpt";
	if (file[0] == '/') {
		n = snprintf(ckpt_cfg.path, sizeof(ckpt_cfg.path), "%s", file);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			cap_say("cannot read the working directory: checkpoints disabled");
			return;
		}
		n = snprintf(ckpt_cfg.path, sizeof(ckpt_cfg.path), "%s/%s", cwd, file);
	}
	if (n >= (int)sizeof(ckpt_cfg.path) - 64) {
		cap_say("CKPT_FILE too long: checkpoints disabled");
		return;
	}
	ckpt_cfg.fork_writer = !(cap_env("CKPT_FORK") && !strcmp(cap_env("CKPT_FORK"), "0"));
	copy = cap_env("CKPT_COPY_FILES");
	ckpt_cfg.copy_files = !copy ? 0 : !strcmp(copy, "1") ? 1 : !strcmp(copy, "all") ? 2 : 0;
	if (copy && *copy && strcmp(copy, "0") && !ckpt_cfg.copy_files)
		cap_say("CKPT_COPY_FILES=%s: not 0, 1 or all: files are not stored", copy);
	read_cpu_level(cap_env("CKPT_CPU_LEVEL"));
	ckpt_cfg.sig = SIGUSR2;
	if (sig && *sig && !(ckpt_cfg.sig = ckpt_parse_signal(sig))) {
		cap_say("CKPT_SIGNAL=%s: not a signal name or number: checkpoints disabled", sig);
		return;
	}
	if (ckpt_cfg.sig == SIGKILL || ckpt_cfg.sig == SIGSTOP) {
		cap_say("CKPT_SIGNAL=%s cannot be caught: checkpoints disabled", sig);
		ckpt_cfg.sig = 0;
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;	/* on altstack.c's stack */
	sigfillset(&sa.sa_mask);		/* nothing else runs during a checkpoint */
	if (sigaction(ckpt_cfg.sig, &sa, &prog_view)) {
		cap_say("sigaction(%d): %s: checkpoints disabled", ckpt_cfg.sig, strerror(errno));
		return;
	}
	trigger_owned = 1;
	publish_settings(256);
	install_stop_handler();
	cap_warm();
	if (!in_a_job())			/* (else the root's timer checkpoints the whole job) */
		start_interval(cap_env("CKPT_INTERVAL"));
	if (cap_env("CKPT_INCREMENTAL") && !strcmp(cap_env("CKPT_INCREMENTAL"), "1")) {
		const char *every = cap_env("CKPT_FULL_EVERY");
		int r;

		ckpt_cfg.incremental = 1;
		ckpt_cfg.full_every = every && atoi(every) > 0 ? atoi(every) : 8;
		r = cap_track_init();
		if (r)
			cap_say("incremental images: userfaultfd write-protect is not available here (errno %d): "
				"every image is full", -r);
		else if (cap_env("CKPT_VERBOSE"))
			cap_say("incremental images: writes found by %s; a full image every %d",
				ckpt_track.method == TRACK_UFFD ? "userfaultfd write-protect (async)"
								: "comparing page hashes", ckpt_cfg.full_every);
	}
	read_compress(cap_env("CKPT_COMPRESS"));
	read_snapshot(cap_env("CKPT_SNAPSHOT"));
	keep = cap_env("CKPT_KEEP");
	if (keep && *keep) {
		char *end;
		long n = strtol(keep, &end, 10);

		if (*end || n < 1 || n > 1000)
			cap_say("CKPT_KEEP=%s: not a count from 1 to 1000: keeping 1", keep);
		else
			ckpt_cfg.keep = (int)n;
	}
}

/* ---- taking a checkpoint ---- */

/* The calling thread, and what a fork's child would not hold as the process
 * has it now (cap_collect_limits): read in the pause */
static void fill_state(uint64_t program_mask)
{
	struct ckpt_proc *p = &state.proc;

	cap_fill_thread(&state.thread, program_mask);
	memset(p, 0, sizeof(*p));
	p->pid = (uint32_t)sys_getpid();
	p->resume_addr = (uint64_t)&resume;
	cap_collect_limits(p);
}

/* /proc/self/stat fields 26-28 and 45-51, brk, auxv: the PR_SET_MM_MAP set */
static int fill_mm(struct ckpt_proc *p)
{
	char *buf = ckpt_scratch.iobuf, *s;
	uint64_t v[64] = { 0 };
	long fd, n;
	int field;

	fd = sys_open("/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return (int)fd;
	n = sys_read((int)fd, buf, 4095);
	sys_close((int)fd);
	if (n <= 0)
		return -5;
	buf[n] = 0;
	s = strrchr(buf, ')');			/* comm may hold spaces and parens */
	if (!s)
		return -5;
	for (field = 2, s++; *s && field < 64; ) {
		while (*s == ' ')
			s++;
		field++;
		if (*s >= '0' && *s <= '9')
			v[field] = strtoull(s, &s, 10);
		while (*s && *s != ' ')
			s++;
	}
	p->start_code = v[26];
	p->end_code = v[27];
	p->start_stack = v[28];
	p->start_data = v[45];
	p->end_data = v[46];
	p->start_brk = v[47];
	p->arg_start = v[48];
	p->arg_end = v[49];
	p->env_start = v[50];
	p->env_end = v[51];
	p->brk = (uint64_t)SC1(__NR_brk, 0);

	fd = sys_open("/proc/self/auxv", O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(fd))
		return (int)fd;
	n = sys_read((int)fd, p->auxv, sizeof(p->auxv));
	sys_close((int)fd);
	p->auxv_words = n > 0 ? (uint32_t)(n / 16) * 2 : 0;
	return 0;
}

/* The process's state that a fork's child holds as it was at the fork, read
 * where the image is written: by the forked writer, out of the pause, or in
 * the pause when a thread of the process writes it (or no fork is made).
 * 0, or -errno (said). */
static int inherited_read;			/* this checkpoint's, by fill_inherited */

static int fill_inherited(struct cap_walk *w, const char *path)
{
	struct ckpt_proc *p = &state.proc;
	long r;

	if (inherited_read)			/* in the pause, for a snapshot that then */
		return 0;			/* could not begin and forked after all */
	r = fill_mm(p);
	if (r) {
		cap_say("%s: cannot read the mm fields: errno %d", cap_said_path(path), (int)-r);
		return (int)r;
	}
	cap_collect_inherited(path, p);
	r = sys_umask(022);
	sys_umask((int)r);
	p->umask = (uint32_t)r;
	sys_prctl(PR_GET_NAME, (uint64_t)p->comm, 0, 0, 0);	/* the calling thread's, as the fork copied it */
	for (int sig = 1; sig <= CKPT_NSIG; sig++)		/* the fork copied the dispositions */
		if (sig != SIGKILL && sig != SIGSTOP)
			sys_rt_sigaction(sig, 0, &p->sigact[sig - 1]);
	cap_program_setxid(p->sigact);				/* (threads.c's, while they stop) */
	r = SC2(__NR_getcwd, state.cwd, sizeof(state.cwd));
	if (sys_failed(r))
		state.cwd[0] = 0;
	r = sys_readlink("/proc/self/exe", state.exe, sizeof(state.exe) - 1);
	state.exe[sys_failed(r) ? 0 : r] = 0;
	state.proc.cwd_off = cap_add_string(w, state.cwd);
	state.proc.exe_off = cap_add_string(w, state.exe);
	inherited_read = 1;
	return 0;
}

/* /proc/self/exe names the restorer after a restore; point it at the program
 * again.  PR_SET_MM_MAP with exe_fd needs CAP_CHECKPOINT_RESTORE, the older
 * PR_SET_MM_EXE_FILE needs CAP_SYS_RESOURCE; without either it stays, with a
 * notice.  The restorer must be unmapped first (the kernel refuses, EBUSY,
 * while the old executable is still mapped). */
static void reset_exe(const struct ckpt_proc *p)
{
	struct ksys_mm_map mm = {
		.start_code = p->start_code, .end_code = p->end_code,
		.start_data = p->start_data, .end_data = p->end_data,
		.start_brk = p->start_brk, .brk = (uint64_t)SC1(__NR_brk, 0), .start_stack = p->start_stack,
		.arg_start = p->arg_start, .arg_end = p->arg_end,
		.env_start = p->env_start, .env_end = p->env_end,
		.auxv = (uint64_t)p->auxv, .auxv_size = p->auxv_words * 8,
	};
	long fd, r;

	/* --map-path moved it: the restorer opened it where it is now */
	fd = resume.flags & CKPT_RESUME_EXE_FD ? resume.exe_fd : sys_open(state.exe, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(fd)) {
		cap_say("notice: /proc/self/exe still names the restorer: %s: errno %d", state.exe, (int)-fd);
		return;
	}
	mm.exe_fd = (uint32_t)fd;
	r = sys_prctl(PR_SET_MM, CKPT_PR_SET_MM_MAP, (uint64_t)&mm, sizeof(mm), 0);
	if (r == -1)				/* EPERM */
		r = sys_prctl(PR_SET_MM, CKPT_PR_SET_MM_EXE_FILE, fd, 0, 0);
	if (r == -1)
		cap_say("notice: /proc/self/exe still names the restorer "
			"(needs CAP_CHECKPOINT_RESTORE or CAP_SYS_RESOURCE)");
	else if (sys_failed(r))
		cap_say("notice: /proc/self/exe still names the restorer: errno %d", (int)-r);
	sys_close((int)fd);
}

/* Back from a restore: drop the restorer, put the signal mask back. */
static void after_restore(void)
{
	restore_count++;
	writer = 0;				/* the image's writer was another process */
	for (int i = 0; i < 5; i++)		/* a job's pipes were not in the image */
		ckpt_job.fds[i] = -1;
	ckpt_job.role = 0;
	memset(&inplace, 0, sizeof(inplace));	/* or a thread of the process saved */
	/* write tracking and the chain belong to the process that was saved: start
	 * afresh (a full image first), and never delete that lineage's files */
	memset(&ckpt_track, 0, sizeof(ckpt_track));
	ckpt_track.uffd = -1;
	if (ckpt_cfg.incremental)
		cap_track_init();
	if (resume.magic == CKPT_RESUME_MAGIC) {
		cap_wait_arrivals();		/* no thread may still be in the restorer's code */
		sys_munmap(resume.zone_start, resume.zone_end - resume.zone_start);
		cap_inotify_after_restore();
		if (resume.flags & CKPT_RESUME_IN_PROCESS)
			cap_hooks.after_rollback(resume.carry_fd);
		else {
			cap_hooks.after_fresh_restore();
			if (state.exe[0])
				reset_exe(&state.proc);
		}
	}
	if (trigger_owned && ckpt_cfg.settings_ino)	/* it was there at the checkpoint; not */
		publish_settings(ckpt_cfg.settings_fd);	/* in the image: made anew, same number */
	resume.magic = 0;
	cap_release_threads();			/* the process is whole again: the others go on */
}

#define WNOHANG		1
#define WCLONE		0x80000000	/* __WCLONE: our writer sends no SIGCHLD */

/* Collect the last writer if it has finished (or wait for it): 0 when none
 * is left, -16 (EBUSY) while it still runs, -5 (EIO) when it failed. */
static int reap_writer(int wait)
{
	int status = 0;
	long r;

	if (inplace.stack) {			/* the in-place writer thread */
		if (!cap_join_helper(&inplace.tid, wait))
			return -16;
		sys_munmap(inplace.stack, inplace.stack_len);
		inplace.stack = 0;
		return inplace.result ? -5 : 0;
	}
	if (!writer)
		return 0;
	do
		r = SC4(__NR_wait4, writer, &status, (wait ? 0 : WNOHANG) | WCLONE, 0);
	while (r == -4);
	if (r == 0)
		return -16;
	writer = 0;
	if (sys_failed(r))
		return 0;			/* already gone: someone waited with __WALL */
	if ((status & 0x7f) && (status & 0x7f) != 0x7f) {	/* it says nothing itself then */
		const char *name = ckpt_signal_abbrev(status & 0x7f);

		cap_say("%s: checkpoint failed: the writer died of signal %d (%s%s)", writer_path,
			status & 0x7f, name ? "SIG" : "", name ? name : "no name");
	}
	return (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0 ? 0 : -5;
}

/* An in-place writer thread still at work dies with the process: exit()
 * (this library's destructor), tsetjmp() and tlongjmp() wait for it first. */
void cap_wait_writer(void)
{
	if (inplace.stack && reap_writer(1) == -5)
		cap_say("%s: the last checkpoint failed (see above)", ckpt_cfg.path);
}

/* At exit, the forked writer too: it reads the process's /proc/PID/smaps and
 * pagemap while it writes, and they are gone with the process (a program that
 * exits right after its checkpoint lost the image: "open the process's smaps:
 * errno 2"). */
__attribute__((destructor)) static void writer_at_exit(void)
{
	cap_wait_writer();
	if (writer && reap_writer(1) == -5)
		cap_say("%s: the last checkpoint failed (see above)", writer_path);
}

/* in the child of a fork() (the program's): that thread is not in it, nor
 * a uffd snapshot's handler */
static void forget_writer_thread(void)
{
	if (inplace.stack)
		sys_munmap(inplace.stack, inplace.stack_len);
	memset(&inplace, 0, sizeof(inplace));
	cap_snap_forget();
}

/* MADV_DONTFORK regions would be missing in the writer, MADV_WIPEONFORK ones
 * empty: lift both around the fork (set = 0), then put them back (set = 1). */
static void fork_advice(const struct cap_walk *w, int set)
{
	if (w->quick)
		return;				/* advice unknown here: the writer reads those pages from us */
	for (uint32_t i = 0; i < w->nvmas; i++) {
		const struct ckpt_vma *v = &ckpt_scratch.vmas[i];
		uint64_t len = v->end - v->start;

		if (v->advice & CKPT_ADV_DONTFORK)
			sys_madvise(v->start, len, set ? 10 : 11);	/* MADV_DONTFORK / MADV_DOFORK */
		if (v->advice & CKPT_ADV_WIPEONFORK)
			sys_madvise(v->start, len, set ? 18 : 19);	/* MADV_WIPEONFORK / MADV_KEEPONFORK */
	}
}

/* Write the image: in a child forked here, whose memory and descriptors stay
 * as they are at the fork (copy on write) while the program runs on; or
 * right here with CKPT_FORK=0.  A raw clone: no atfork handlers run, the child
 * never returns into the program, flushes no stdio and runs no atexit
 * handler, and it sends no SIGCHLD the program could see. */
/* CKPT_INCREMENTAL: this image's place in the chain, and which older chain
 * files CKPT_KEEP lets go (the newest `keep` images and what they need stay). */
static void plan_chain(struct cap_walk *w, const char *path, int full)
{
	struct track_state *t = &ckpt_track;
	uint32_t keep = ckpt_cfg.keep > 1 ? (uint32_t)ckpt_cfg.keep : 1, oldest, base;
	const char *slash = strrchr(path, '/');

	w->chain = 1;
	if (ckpt_job.role)			/* a job's image: its job's id, which its name carries */
		memcpy(w->image_id, ckpt_job.job_id, sizeof(w->image_id));
	else
		sys_getrandom(w->image_id, sizeof(w->image_id));
	if (!full) {
		memcpy(w->parent_id, t->last_id, sizeof(w->parent_id));
		w->depth = t->depth + 1;
		cap_chain_name(w->parent_name, sizeof(w->parent_name), slash ? slash + 1 : path, t->last_id);
	}
	if (t->nkept == 64) {			/* the list is full: the oldest goes */
		memcpy(w->delete_ids[w->ndelete++], t->kept[0].id, 16);
		memmove(t->kept, t->kept + 1, 63 * sizeof(t->kept[0]));
		t->nkept--;
	}
	memcpy(t->kept[t->nkept].id, w->image_id, 16);
	t->kept[t->nkept++].depth = w->depth;
	oldest = t->nkept > keep ? t->nkept - keep : 0;
	base = oldest >= t->kept[oldest].depth ? oldest - t->kept[oldest].depth : 0;
	for (uint32_t i = 0; i < base && w->ndelete < 64; i++)
		memcpy(w->delete_ids[w->ndelete++], t->kept[i].id, 16);
	memmove(t->kept, t->kept + base, (t->nkept - base) * sizeof(t->kept[0]));
	t->nkept -= base;
}

/* VmPTE (page tables) and the anonymous and shared memory resident, in kB,
 * from /proc/self/status: does writing in place cost less than a fork?
 * This rule was set when forking copied about 8 ms of page tables per MiB
 * of VmPTE here and writing cost about 0.5 ms per MiB of data; the same
 * guest now forks a GiB of the zero page (2 MiB of VmPTE) in 4.5 to 5 ms
 * and writes 10 MiB in place in a 6 to 8 ms pause, but the forked writer
 * then takes 25 to 45 ms for its image against 15 to 20 ms in place (it
 * reads every page anew).  Only for large page tables.
 * Every resident page counts, all-zero ones too: the writer leaves them out
 * of the image but must read each one through to know (a kernel without the
 * shared zero page, pvm_no_zero_page=1, makes a GiB read through resident:
 * its in-place checkpoint took 0.42 s, a fork of it 40 ms). */
static uint64_t status_kb(const char *text, const char *key)
{
	const char *v = cap_field(text, key);

	return v ? img_parse_num(&v, 10) : 0;
}

/* auto: what the last pause of each method cost (its own part, after the
 * common walk) and the resident data it held, in kB; a method measured
 * nowhere yet is tried, then the cheaper per kB is taken. */
static struct { uint64_t ns, kb; } measured[4];
static uint64_t shape_kb;			/* the data of the checkpoint being taken */
static int uffd_unusable;			/* auto: none to be had, or a snapshot did not hold */

/* Below 256 MiB mapped (statm's first field, a cheap read) a fork copies at
 * most 64 Ki page table entries, a few ms here, and writing in place cannot
 * pay: the data is taken as statm's resident less its file and shared pages,
 * and /proc/self/status (about 50 us in a pause, read cold) is left alone. */
static int in_place_pays(void)
{
	char buf[4096];
	uint64_t pte;
	const char *s = buf;

	if (cap_read_small("/proc/self/statm", buf, sizeof(buf)) <= 0)
		return 0;
	if (img_parse_num(&s, 10) < (256u << 20) / CKPT_PAGE_SIZE) {
		uint64_t resident = (s++, img_parse_num(&s, 10)), shared = (s++, img_parse_num(&s, 10));

		shape_kb = resident > shared ? (resident - shared) * (CKPT_PAGE_SIZE / 1024) : 0;
		return 0;
	}
	if (cap_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	pte = status_kb(buf, "VmPTE:");
	shape_kb = status_kb(buf, "RssAnon:") + status_kb(buf, "RssShmem:");
	return pte >= 1024 && shape_kb <= 16 * pte;
}

static void inplace_writer(void *arg)
{
	inplace.result = cap_finish(&inplace.w, &state, ckpt_cfg.path, -1);
	__atomic_store_n(&inplace.data_out, 1, __ATOMIC_RELEASE);	/* (if it failed early) */
	SC3(__NR_futex, &inplace.data_out, 129 /* FUTEX_WAKE_PRIVATE */, 1);
	SC1(__NR_exit, 0);		/* this thread only */
}

/* start the in-place writer and wait until the pages are out: 0, or -errno
 * (nothing started: the caller forks as usual) */
static int write_in_place(struct cap_walk *w)
{
	long m = sys_mmap(0, INPLACE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long tid;

	if (sys_failed(m))
		return (int)m;
	inplace.w = *w;
	inplace.data_out = 0;
	inplace.result = 0;
	inplace.stack = (uint64_t)m;
	inplace.stack_len = INPLACE_STACK;
	memset(ckpt_scratch.remade, 0xff, sizeof(ckpt_scratch.remade));	/* every page is here */
	cap_data_out = &inplace.data_out;
	tid = cap_spawn_helper((uint64_t)m, INPLACE_STACK, &inplace.tid, inplace_writer, 0);
	if (sys_failed(tid)) {
		sys_munmap((uint64_t)m, INPLACE_STACK);
		inplace.stack = 0;
		cap_data_out = 0;
		return (int)tid;
	}
	while (!__atomic_load_n(&inplace.data_out, __ATOMIC_ACQUIRE))
		SC4(__NR_futex, &inplace.data_out, 128 /* FUTEX_WAIT_PRIVATE */, 0, 0);
	cap_data_out = 0;
	return 0;
}

/* A writer (the forked one, or the uffd snapshot's thread: the calling
 * thread only) is a batch job (SCHED_BATCH, the same share of the CPU):
 * woken by the process, by the fork's verdict or by a pipe it writes into,
 * it does not take the CPU from the program, which may still be in its
 * pause or waiting for the snapshot's fault handler. */
static void writer_batch(void)
{
	static const int32_t no_priority;

	SC3(__NR_sched_setscheduler, 0, 3 /* SCHED_BATCH */, &no_priority);
}

/* CKPT_SNAPSHOT=uffd (snap.c): the pages are write-protected in the pause,
 * this thread writes them while the program runs on. */
static void snapshot_writer(void *arg)
{
	(void)arg;
	writer_batch();
	cap_snap_wait_go();
	inplace.result = cap_finish(&inplace.w, &state, ckpt_cfg.path, -1);
	cap_snap_end(0);		/* (an image that failed before its pages were out, or */
					/* one in place: the release put off until then) */
	if (cap_snap_abandoned && !ckpt_cfg.snapshot && !inplace.retake) {
		inplace.retake = 1;	/* (once: a program that unmaps at every checkpoint */
		SC2(__NR_kill, sys_getpid(), ckpt_cfg.sig);	/* is not asked again and again) */
	}
	SC1(__NR_exit, 0);
}

/* protect the pages and start the writer: 0, or -errno (said; nothing is
 * left protected: the caller forks as usual) */
static int write_snapshot(struct cap_walk *w)
{
	long m = sys_mmap(0, INPLACE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	const char *why = "";
	long tid;
	int err;

	if (sys_failed(m))
		return (int)m;
	inplace.w = *w;
	inplace.data_out = 1;			/* the program does not wait */
	inplace.result = 0;
	inplace.stack = (uint64_t)m;
	inplace.stack_len = INPLACE_STACK;
	memset(ckpt_scratch.remade, 0xff, sizeof(ckpt_scratch.remade));	/* every page is here */
	if ((err = cap_snap_begin(&inplace.w, &why))) {
		cap_say("%s: the uffd snapshot: %s: errno %d: this image is written by a forked child%s",
			ckpt_cfg.path, why, -err, ckpt_cfg.snapshot ? "" : ", and the next ones too");
		sys_munmap((uint64_t)m, INPLACE_STACK);
		inplace.stack = 0;
		return err;
	}
	tid = cap_spawn_helper((uint64_t)m, INPLACE_STACK, &inplace.tid, snapshot_writer, 0);
	if (sys_failed(tid)) {
		cap_snap_end(0);
		sys_munmap((uint64_t)m, INPLACE_STACK);
		inplace.stack = 0;
		return (int)tid;
	}
	cap_snap_forget_fds();
	cap_snap_go();
	return 0;
}

/* Which way a lone process's full image is taken: CKPT_SNAPSHOT, or by the
 * process's shape and by measurement.  A sparse process is written in place
 * (in_place_pays): the uffd snapshot would protect only its few MiB of data
 * (snap.c, list_protection), for a shorter pause, but its writer, its smaps
 * read and the program then share the CPUs, and the image took longer than
 * one written in place (17 ms against 13.5, README, "Performance").  Otherwise fork
 * and the uffd snapshot are each tried once
 * and then the one whose pause cost less per kB of data is used, its figure
 * taken again each time.  On the test machine write-protecting a page costs
 * what forking it does; the snapshot's pause shares that work between two
 * CPUs but adds the page scan, and the two come out close at a GiB (README,
 * "Performance"): the measurement decides.  A snapshot abandoned once (the
 * program unmapped memory meanwhile) is not tried again. */
static int choose_snapshot(void)
{
	if (ckpt_cfg.snapshot)
		return ckpt_cfg.snapshot;
	if (in_place_pays())
		return CAP_SNAP_INPLACE;
	if (!uffd_unusable && !measured[CAP_SNAP_UFFD].kb && measured[CAP_SNAP_FORK].kb &&
	    cap_snap_possible())
		uffd_unusable = 1;		/* (an ordinary user: fork, said nowhere) */
	if (uffd_unusable || cap_snap_abandoned || !measured[CAP_SNAP_FORK].kb)
		return CAP_SNAP_FORK;
	if (!measured[CAP_SNAP_UFFD].kb)
		return CAP_SNAP_UFFD;
	return measured[CAP_SNAP_UFFD].ns * measured[CAP_SNAP_FORK].kb <
	       measured[CAP_SNAP_FORK].ns * measured[CAP_SNAP_UFFD].kb ? CAP_SNAP_UFFD : CAP_SNAP_FORK;
}

/* auto: remember what this pause's method cost (a uffd snapshot that could
 * not begin is not tried again) */
static void measure(int method, uint64_t t0, int uffd_failed)
{
	if (ckpt_cfg.snapshot || method == CAP_SNAP_INPLACE)
		return;
	if (uffd_failed) {
		uffd_unusable = 1;
		return;
	}
	measured[method].ns = cap_mono_ns() - t0;
	measured[method].kb = shape_kb ? shape_kb : 1;
	if (cap_env("CKPT_VERBOSE"))
		cap_say("%s: snapshot by %s: %lu us for %lu kB", ckpt_cfg.path,
			method == CAP_SNAP_UFFD ? "uffd write protection" : "fork", measured[method].ns / 1000,
			measured[method].kb);
}

/* Pages mapped in process pid (0: this one): the first field of
 * /proc/PID/statm, the kernel's total_vm; 0 when it cannot be read. */
static uint64_t mapped_pages(long pid)
{
	char path[40], buf[128];
	const char *s = buf;

	if (pid)
		img_fmt(path, sizeof(path), "/proc/%d/statm", (int)pid);
	else
		img_fmt(path, sizeof(path), "/proc/self/statm");
	if (cap_read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	return img_parse_num(&s, 10);
}

/* A forked writer keeps the rseq registration of the thread that forked it,
 * whose area is in that thread's TLS: a page of the image.  The kernel writes
 * the CPU number there each time the writer comes back to user space on
 * another CPU, and a page that changes between its crc and its write makes
 * an image the restorer refuses as corrupted.  The writer's first act. */
static void writer_drop_rseq(void)
{
	uint64_t area;
	uint32_t len;

	cap_rseq_probe(&area, &len);
	if (len)
		sys_rseq(area, len, CKPT_RSEQ_UNREGISTER, CKPT_RSEQ_SIG);
}

/* phase 2 (dump.c), and in a job (job.c) the writer's last word */
static int finish(struct cap_walk *w, const char *path, int target_fd)
{
	int r = cap_describe_fds_late(w, path);

	if (!r)
		r = cap_walk_late(w, path, 0);	/* (a fork that failed: the layout here) */
	if (!r)
		r = fill_inherited(w, path);
	if (!r)
		r = cap_finish(w, &state, path, target_fd);
	return ckpt_job.role ? cap_job_done(r) : r;
}

static int write_now(const char *path, int target_fd, int wait)
{
	struct cap_walk w;
	struct track_state *t = &ckpt_track;
	int in_job = ckpt_job.role != 0;
	int chain = ckpt_cfg.incremental && target_fd < 0 && (path == ckpt_cfg.path || (in_job && path == ckpt_job.path));
	int full, r, lone, method;
	uint64_t t0;
	long pid;

	if (chain && t->pid && t->pid != (int32_t)sys_getpid())
		cap_track_restart();		/* forked since: the tracking was its parent's */
	if (chain)
		cap_track_check();
	full = !chain || t->method == TRACK_NONE || !t->valid || t->in_job != in_job ||
	       t->since_full + 1 >= (uint32_t)ckpt_cfg.full_every;
	inherited_read = 0;
	lone = full && !chain && !wait && target_fd < 0 && path == ckpt_cfg.path && !in_job;
	method = lone ? choose_snapshot() : CAP_SNAP_FORK;
	/* a writer that forks reads the costly smaps itself (WALK_REFINE), and
	 * the maps too where nothing in this process needs them after the fork:
	 * out of a job, and out of a chain (cap_track_arm arms the regions) */
	r = cap_prepare(&w, &state, path, !full,
			ckpt_cfg.fork_writer && full ? (method == CAP_SNAP_FORK && !in_job && !chain ? 2 : 1) : 0);
	if (r)
		return r;
	if (chain)
		plan_chain(&w, path, full);
	if (ckpt_job.role && (r = cap_job_barrier()))
		return r;			/* the job's checkpoint is cancelled (said) */
	if (ckpt_job.role)
		cap_job_drop_shared(&w);	/* the table holds the job's shared memory */
	if (method == CAP_SNAP_UFFD && w.program_uffd)
		method = CAP_SNAP_FORK;		/* the program's regions cannot be registered twice */
	if (method != CAP_SNAP_FORK && ckpt_cfg.fork_writer && !w.no_fork && (r = fill_inherited(&w, path)))
		return r;			/* (lone: no job waits for it) */
	t0 = cap_mono_ns();
	if (!ckpt_cfg.fork_writer || w.no_fork) {
		if (ckpt_job.role == CAP_JOB_ROOT)
			cap_job_release(1);
		r = finish(&w, path, target_fd);
	} else if (lone && method == CAP_SNAP_UFFD && !(r = write_snapshot(&w))) {
		measure(method, t0, 0);		/* the thread finishes it; reap_writer collects it */
	} else if (lone && method == CAP_SNAP_INPLACE && write_in_place(&w) == 0) {
		r = 0;				/* the thread finishes it; reap_writer collects it */
		if (cap_env("CKPT_VERBOSE"))
			cap_say("%s: written in place by a thread (a sparse process: cheaper than a fork)", path);
	} else {
		/* Without smaps (quick) this process does not know which regions
		 * have MADV_DONTFORK.  The fork leaves those out of the writer,
		 * which must then copy them from here while the process still
		 * waits.  The kernel's count of mapped pages tells (statm): the
		 * writer's is this process's less what the fork left out.  Equal,
		 * the process goes on at once (verdict 'g'); otherwise ('w') it
		 * waits at the gate until the writer has them: until it closes
		 * its end.  The writer reads the verdict before it maps anything,
		 * and then the layout (maps_later): its own maps after a 'g', the
		 * process's after a 'w'. */
		int gate[2] = { -1, -1 }, verdict[2] = { -1, -1 };
		uint64_t mapped = 0;
		char said = 0;

		if (w.quick && !sys_failed(sys_pipe2(gate, O_CLOEXEC)) && sys_failed(sys_pipe2(verdict, O_CLOEXEC))) {
			sys_close(gate[0]);
			sys_close(gate[1]);
			gate[0] = gate[1] = -1;
		}
		if (gate[0] >= 0)
			mapped = mapped_pages(0);
		else if ((r = cap_walk_late(&w, path, 0)))	/* no verdict to tell the writer */
			return r;			/* (said; maps_later: not in a job) */
		if (ckpt_job.role == CAP_JOB_ROOT)	/* the job is read: its other processes fork */
			cap_job_release(1);		/* their writers while this one forks its own */
		fork_advice(&w, 0);
		pid = SC5(__NR_clone, 0, 0, 0, 0, 0);	/* exit signal 0 */
		if (pid == 0) {
			int bad = 0, copy = 0, late = w.maps_later;

			writer_drop_rseq();
			writer_batch();
			if (ckpt_job.role)	/* a job's processes are still forking theirs: they go first */
				SC3(__NR_setpriority, 0 /* PRIO_PROCESS */, 0, 10);
			if (gate[0] >= 0) {
				sys_close(gate[0]);
				sys_close(verdict[1]);
				while (sys_read(verdict[0], &said, 1) == -4)
					;
				sys_close(verdict[0]);
				/* the layout: this writer's own when the fork left
				 * nothing out, else the process's, which waits */
				bad = cap_walk_late(&w, path, said == 'w');	/* (said) */
				if (!bad && !(late && said == 'g'))
					copy = cap_take_dontfork(&w, said == 'w');
				sys_close(gate[1]);	/* the process goes on */
				if (copy)
					cap_say("%s: checkpoint failed: %s: errno %d", path, w.fail_what, -copy);
				bad = bad || copy;
			}
			sys_exit_group(bad || finish(&w, path, target_fd) ? 1 : 0);
		}
		if (gate[0] >= 0) {
			/* the verdict goes out while this process still holds the
			 * pipe's read end: a writer already gone raises no SIGPIPE */
			sys_close(gate[1]);
			if (!sys_failed(pid)) {
				said = mapped && mapped_pages(pid) == mapped ? 'g' : 'w';
				if (sys_write(verdict[1], &said, 1) != 1)
					said = 'w';	/* (the writer then refuses what it cannot copy) */
			}
			sys_close(verdict[1]);
			sys_close(verdict[0]);
			while (said == 'w' && sys_read(gate[0], &said, 1) == -4)
				;
			sys_close(gate[0]);
		}
		fork_advice(&w, 1);
		if (lone && !sys_failed(pid))	/* (a snapshot that could not begin: not again) */
			measure(CAP_SNAP_FORK, t0, method == CAP_SNAP_UFFD);
		if (ckpt_job.role == CAP_JOB_ROOT && !sys_failed(pid))
			cap_job_forked();
		if (sys_failed(pid)) {		/* no child: write it here */
			cap_say("%s: fork for the writer failed (errno %d); writing in place", path, (int)-pid);
			r = finish(&w, path, target_fd);
		} else {
			writer = (int)pid;
			writer_path = ckpt_job.role == CAP_JOB_ROOT ? ckpt_cfg.path : path;
			r = wait || ckpt_job.final ? reap_writer(1) : 0;
		}
	}
	if (chain && t->method != TRACK_NONE) {	/* from here on, writes are tracked again */
		if (t->method == TRACK_UFFD)
			cap_track_arm(&w, full);
		t->valid = r == 0;		/* a writer that fails later clears it too */
		t->pid = (int32_t)sys_getpid();
		t->in_job = in_job;
		memcpy(t->last_id, w.image_id, sizeof(t->last_id));
		t->depth = w.depth;
		t->since_full = full ? 0 : t->since_full + 1;
	}
	return r;
}

/* The image's thread table: the main thread (tid == pid) first, as the
 * restorer gives its own thread to it; the rest make threads of their own. */
static void list_threads(void)
{
	int32_t pid = (int32_t)sys_getpid();

	state.nthreads = 0;
	state.thr[state.nthreads] = &state.thread;
	state.fpu_of[state.nthreads++] = fpu_area;
	for (uint32_t i = 0; i < ckpt_nslots; i++) {
		state.thr[state.nthreads] = &ckpt_slots[i].rec;
		state.fpu_of[state.nthreads++] = ckpt_slots[i].fpu;
		if (ckpt_slots[i].tid == pid) {	/* the main thread goes first */
			struct ckpt_thread *t = state.thr[0];
			const void *f = state.fpu_of[0];

			state.thr[0] = state.thr[state.nthreads - 1];
			state.fpu_of[0] = state.fpu_of[state.nthreads - 1];
			state.thr[state.nthreads - 1] = t;
			state.fpu_of[state.nthreads - 1] = f;
		}
	}
}

/* A process that is not dumpable (it changed its uid, or PR_SET_DUMPABLE 0)
 * has its /proc/self files owned by root: the mode-0400 ones (pagemap, auxv,
 * fd/) it can no longer read unless it has CAP_DAC_OVERRIDE.  Making it
 * dumpable again would let every process of its uid ptrace it: never done.
 * 1 when it cannot read them, 0 when it can. */
static int proc_self_unreadable(void)
{
	long fd;

	if (sys_prctl(3 /* PR_GET_DUMPABLE */, 0, 0, 0, 0) == 1)
		return 0;
	fd = sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	if (fd == -13)
		return 1;
	if (!sys_failed(fd))
		sys_close((int)fd);
	return 0;
}

/* Save this thread, write the image to path (or into target_fd when >= 0).
 * Returns 0 (written, or being written by the child for a signal), 1
 * (restored), -errno. */
static int ckpt_take(int from_signal, uint64_t program_mask, uint64_t sig_rip, const char *asked, int target_fd)
{
	const char *volatile path = asked;	/* a job's root writes its own image elsewhere */
	static const uint64_t all = ~0ull;
	uint64_t old_mask;			/* this thread's, not a shared one: two */
	int r;					/* threads may call at once */

	sys_rt_sigprocmask(SIG_BLOCK, &all, &old_mask);
	/* at most one checkpoint in flight; a final one waits for it, and so
	 * does a job's member (its root's last writer waited for its image) */
	r = reap_writer(!from_signal || from_signal >= 3 || inplace.retake == 1);
	if (inplace.retake == 1) {		/* the writer's own request: it exits now */
		inplace.retake = 2;
		r = r == -5 ? 0 : r;
	}
	if (r == -5) {
		cap_say("%s: the previous checkpoint failed (see above); the image before it is kept",
			path);
		ckpt_track.valid = 0;		/* the next image of a chain starts afresh */
	}
	if (r == -16 || __atomic_exchange_n(&busy, 1, __ATOMIC_SEQ_CST)) {
		if (r == -16 && from_signal != 2)	/* a timer tick just waits for the next one */
			cap_say("%s: a checkpoint is still being written; this one is skipped", path);
		sys_rt_sigprocmask(SIG_SETMASK, &old_mask, 0);
		return -16;			/* EBUSY */
	}
	if (from_signal >= 1 && from_signal <= 3 && path == ckpt_cfg.path && target_fd < 0) {
		r = cap_job_begin(path, from_signal == 3);	/* the root of a job? */
		if (r < 0)
			goto out;
		if (r > 0)
			path = ckpt_job.path;
	}
	if (proc_self_unreadable()) {
		cap_say("%s: the process is not dumpable (it changed its uid or called PR_SET_DUMPABLE 0): "
			"/proc/self is unreadable; no checkpoint", path);
		r = -13;
		goto out;
	}
	fill_state(from_signal ? program_mask : old_mask);
	state.thread.sig_rip = sig_rip;
	if (!cap_is_settings_fd(ckpt_cfg.settings_fd))
		ckpt_cfg.settings_ino = 0;	/* the program closed it: a restore does not bring it back */
	r = cap_stop_threads(path);
	if (r)
		goto out;
	list_threads();
	state.fpu = fpu_area;
	resume.magic = 0;
	if (ckpt_save_context(&state.thread.regs, fpu_area, ckpt_cfg.ctx_flags) == 0) {
		r = write_now(path, target_fd, !from_signal || from_signal == 3);
		cap_release_threads();		/* the snapshot exists: the others go on */
	} else {
		/* restored: every register is as it was at the call above, memory as
		 * it was when the image was written; the restorer left signals blocked */
		after_restore();
		r = 1;
	}
out:
	if (ckpt_job.role == CAP_JOB_ROOT)
		cap_job_end();			/* cancelled before the fork: everyone goes on */
	__atomic_store_n(&busy, 0, __ATOMIC_SEQ_CST);
	sys_rt_sigprocmask(SIG_SETMASK, &old_mask, 0);	/* after a restore: as it was at the save */
	return r;
}

/* from_signal for ckpt_take: 1 the trigger, 2 our timer, 3 a final checkpoint
 * (CKPT_FINAL_COOKIE, signame.h): written before the handler returns, then the
 * process stops; whoever asked (ckpt run --slurm) kills it, or SIGCONTs it
 * when it cannot requeue.  A failed one returns, and the program goes on.
 * The trigger with CKPT_PORTABLE_COOKIE turns CKPT_COPY_FILES on first. */
struct take_args {
	int from, result;
	uint64_t mask;
	uint64_t rip;			/* where the signal interrupted the program */
};

static void take_from_signal(void *arg)
{
	struct take_args *a = arg;

	a->result = ckpt_take(a->from, a->mask, a->rip, a->from == 4 ? ckpt_job.path : ckpt_cfg.path, -1);
}


static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t cookie = si ? (uint64_t)si->si_value.sival_ptr : 0;
	struct take_args a = { .from = 1 };

	memcpy(&a.mask, &uc->uc_sigmask, sizeof(a.mask));
	a.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	if (si && si->si_code == SI_TIMER && cookie == INTERVAL_COOKIE)
		a.from = 2;
	else if (si && si->si_code == SI_QUEUE && cookie == CKPT_FINAL_COOKIE)
		a.from = 3;
	else if (si && si->si_code == SI_QUEUE && cookie == CKPT_PORTABLE_COOKIE)
		ckpt_cfg.copy_files |= 1;	/* ckpt dump --portable: from now on (2, all, stays) */
	else if (si && si->si_code == SI_QUEUE && cookie >> 32 == CKPT_JOB_COOKIE >> 32) {
		if (!is_ancestor(si->si_pid)) {
			cap_say("a job's order from pid %d, which is not an ancestor of this process: ignored",
				si->si_pid);
			return;
		}
		if (cap_job_join(si->si_pid, (int)(uint32_t)cookie))
			return;			/* said: the root, hearing nothing, cancels */
		a.from = 4;
	}
	/* on altstack.c's take stack: the stack we are on may be a program's small one */
	cap_final_take = a.from == 3;
	cap_signal_sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	if (cap_on_take_stack(take_from_signal, &a))
		take_from_signal(&a);
	cap_final_take = 0;
	cap_signal_sp = 0;
	if (a.from == 4) {
		int final = ckpt_job.final, stopped = ckpt_job.stop_again;

		cap_job_not_ready(a.result);
		cap_job_end();
		ckpt_job.stop_again = 0;
		if ((a.result == 0 && final) || stopped)	/* the root's final checkpoint: all stop; */
			SC2(__NR_kill, sys_getpid(), SIGSTOP);	/* one that was stopped stops again */
	}
	if (a.result == 0 && a.from == 3)
		SC2(__NR_kill, sys_getpid(), SIGSTOP);
	cap_repair_release();		/* continued, or the checkpoint failed: its connections go on */
}

/* ---- the trigger signal stays ours ----
 * A program that sets its own handler for CKPT_SIGNAL (bash sets one for
 * every signal that would end it) would take checkpoints away and die of the
 * next trigger.  These wrappers keep libckpt's handler installed and give the
 * program its own view: what it set is what it reads back.  Other signals go
 * to libc untouched.  (A program making the raw rt_sigaction system call
 * itself is not caught: choose another CKPT_SIGNAL for it.)  The same goes
 * for the stop signal of threads.c.  prog_view and stop_view (declared above,
 * with trigger_owned and stop_owned) are the program's idea of the two. */

CKPT_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);

	if ((trigger_owned && sig == ckpt_cfg.sig) || (stop_owned && sig == ckpt_stop_sig)) {
		struct sigaction *view = sig == ckpt_cfg.sig ? &prog_view : &stop_view;

		if (old)
			*old = *view;
		if (act) {
			*view = *act;
			if (cap_env("CKPT_VERBOSE"))
				cap_say("the program set its own handler for signal %d, which checkpoints use; "
					"kept for checkpoints (CKPT_SIGNAL picks another)", sig);
		}
		return 0;
	}
	if (!real)
		real = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	return real(sig, act, old);
}

CKPT_API sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;		/* BSD semantics, as glibc's signal() */
	if (sigaction(sig, &sa, &old))
		return SIG_ERR;
	return old.sa_handler;
}

/* for api.c: a checkpoint taken by the program, waited for */
int cap_take_to(const char *path, int target_fd)
{
	return ckpt_take(0, 0, 0, path, target_fd);
}

/* ---- the API (include/ckpt.h) ---- */

CKPT_API unsigned long ckpt_restore_count(void)
{
	return restore_count;
}
