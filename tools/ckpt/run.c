/* run.c -- `ckpt run`: start a program with libckpt.so preloaded. */
#include "ckpt.h"
#include "slurm.h"

const char run_help[] =
	"usage: ckpt run [--file PATH] [--signal SIG] [--interval S] [--slurm] [--] PROGRAM [ARGS...]\n"
	"run PROGRAM (searched on PATH) with libckpt.so preloaded\n"
	"  -f, --file PATH     image path, made absolute (default: CKPT_FILE, else ./myckpt)\n"
	"  -s, --signal SIG    trigger signal: number or name, USR1, SIGUSR1, RTMIN+3\n"
	"                      (default: CKPT_SIGNAL, else SIGUSR2)\n"
	"  -i, --interval S    seconds between automatic checkpoints (sets CKPT_INTERVAL)\n"
	"      --slurm         in a Slurm batch job: stay as PROGRAM's parent; on the job's\n"
	"                      warning signal (CKPT_SLURM_SIGNAL, default USR1) checkpoint to\n"
	"                      CKPT_SLURM_DIR (default SLURM_SUBMIT_DIR/ckpt-images)/JOBID/img\n"
	"                      and scontrol requeue the job; a requeued run restores from\n"
	"                      the newest good image (see ckpt(1), SLURM)\n"
	"sets LD_PRELOAD (the libckpt.so beside ckpt, or in ../lib), CKPT_FILE and\n"
	"CKPT_SIGNAL, then execs PROGRAM: the exit status is PROGRAM's; 127 not found,\n"
	"126 not executable, 2 usage error\n";

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

/* what kind of Go program path is (goprog.h) */
static enum ckpt_go go_kind(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum ckpt_go kind;

	if (fd < 0)
		return CKPT_GO_NOT;
	kind = ckpt_go_program(fd);
	close(fd);
	return kind;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' }, { "signal", required_argument, 0, 's' },
		{ "interval", required_argument, 0, 'i' }, { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' }, { "slurm", no_argument, 0, 'S' }, { 0, 0, 0, 0 },
	};
	const char *file = NULL, *signal_arg = NULL, *interval = NULL, *old;
	char lib[PATH_MAX], img[PATH_MAX], prog[PATH_MAX], num[16], *preload;
	int c, sig, slurm = 0;

	while ((c = next_opt(argc, argv, "+:f:s:i:hV", opts)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 's': signal_arg = optarg; break;
		case 'i': interval = optarg; break;
		case 'S': slurm = 1; break;
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
	if (slurm && file)
		usage_error("--slurm names the image itself (CKPT_SLURM_DIR/JOBID/img): no --file");
	if (slurm && ckpt_slurm_image(prog, sizeof(prog)))
		return EX_USAGE;
	if (slurm)
		file = prog;			/* absolute: copied to img below */
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
	if (is_static_elf(prog)) {
		say("warning: %s is statically linked: LD_PRELOAD has no effect, it cannot be checkpointed",
		    prog);
	} else if (go_kind(prog) == CKPT_GO_NOCGO) {
		say("%s is " CKPT_GO_NOCGO_WHY ": not started", prog);
		return EX_FAIL;
	}
	if (slurm)
		return ckpt_slurm_run(argv + optind, img, self_dir);
	execvp(argv[optind], argv + optind);
	c = errno;
	say("%s: %s", argv[optind], c == ENOENT ? "command not found" : strerror(c));
	return c == ENOENT ? 127 : 126;
}
