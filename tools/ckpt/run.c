/* run.c -- `ckpt run`: start a program with libckpt.so preloaded. */
#include "ckpt.h"
#include "slurm.h"

const char run_help[] =
	"usage: ckpt run [--file PATH] [--signal SIG] [--interval S] [--cpu-baseline LEVEL]\n"
	"                [--slurm] [--] PROGRAM [ARGS...]\n"
	"run PROGRAM (searched on PATH) with libckpt.so preloaded\n"
	"  -f, --file PATH     image path, made absolute (default: CKPT_FILE, else ./myckpt)\n"
	"  -s, --signal SIG    trigger signal: number or name, USR1, SIGUSR1, RTMIN+3\n"
	"                      (default: CKPT_SIGNAL, else SIGUSR2)\n"
	"  -i, --interval S    seconds between automatic checkpoints (sets CKPT_INTERVAL)\n"
	"      --cpu-baseline LEVEL  x86-64-v2, x86-64-v3 or x86-64-v4: glibc picks no code\n"
	"                      above LEVEL (GLIBC_TUNABLES) and images record it, so they\n"
	"                      restore on any CPU of that level (ckpt check --cpu LEVEL IMAGE);\n"
	"                      the program's own code must keep to it too\n"
	"      --slurm         in a Slurm batch job: stay as PROGRAM's parent; on the job's\n"
	"                      warning signal (CKPT_SLURM_SIGNAL, default USR1) checkpoint to\n"
	"                      CKPT_SLURM_DIR (default SLURM_SUBMIT_DIR/ckpt-images)/JOBID/img\n"
	"                      and scontrol requeue the job; a requeued run restores from\n"
	"                      the newest good image (see ckpt(1), SLURM)\n"
	"sets LD_PRELOAD (the libckpt.so beside ckpt, or in ../lib), CKPT_FILE and\n"
	"CKPT_SIGNAL, then execs PROGRAM: the exit status is PROGRAM's; 127 not found,\n"
	"126 not executable, 2 usage error\n";

/* --cpu-baseline: the level for libckpt, and glibc told to pick no code
 * above it (glibc.cpu.hwcaps: the features glibc's ifuncs choose by), after
 * whatever GLIBC_TUNABLES the caller set.  0, or -1 for an unknown level. */
static int set_cpu_baseline(const char *level)
{
	static const char *const above[5] = {
		[2] = "-AVX,-AVX2,-FMA,-FMA4,-BMI1,-BMI2,-LZCNT,-MOVBE,-F16C,-XSAVEC,"
		      "-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512ER,-AVX512PF,-AVX512VL",
		[3] = "-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512ER,-AVX512PF,-AVX512VL",
		[4] = "",
	};
	const char *n = level, *old = getenv("GLIBC_TUNABLES");
	char num[4], *t;

	if (!strncmp(n, "x86-64-v", 8))
		n += 8;
	if (n[0] < '2' || n[0] > '4' || n[1])
		return -1;
	snprintf(num, sizeof(num), "%c", n[0]);
	setenv("CKPT_CPU_LEVEL", num, 1);
	if (!above[n[0] - '0'][0])
		return 0;
	if (asprintf(&t, "%s%sglibc.cpu.hwcaps=%s", old && *old ? old : "", old && *old ? ":" : "",
		     above[n[0] - '0']) < 0)
		return -1;
	setenv("GLIBC_TUNABLES", t, 1);
	free(t);
	return 0;
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
		{ "version", no_argument, 0, 'V' }, { "slurm", no_argument, 0, 'S' },
		{ "cpu-baseline", required_argument, 0, 'B' }, { 0, 0, 0, 0 },
	};
	const char *file = NULL, *signal_arg = NULL, *interval = NULL, *baseline = NULL, *old;
	char lib[PATH_MAX], img[PATH_MAX], prog[PATH_MAX], num[16], *preload;
	int c, sig, slurm = 0;

	while ((c = next_opt(argc, argv, "+:f:s:i:hV", opts)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 's': signal_arg = optarg; break;
		case 'i': interval = optarg; break;
		case 'S': slurm = 1; break;
		case 'B': baseline = optarg; break;
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
	if (baseline && set_cpu_baseline(baseline))
		usage_error("--cpu-baseline %s: want x86-64-v2, x86-64-v3 or x86-64-v4", baseline);

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
