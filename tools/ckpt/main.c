/* main.c -- the `ckpt` command: run a program under libckpt.so, checkpoint it
 * from outside, restore it, inspect an image, and say what this machine allows.
 *
 *   ckpt run [--file PATH] [--interval S] [--signal SIG] [--slurm] [--] PROGRAM [ARGS...]
 *   ckpt dump PID [--file PATH] [--timeout S]
 *   ckpt restore [--lazy] [-v] [--cwd DIR] [--map-path OLD=NEW]... [IMAGE]
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
 * restorer and readckpt (image/read.c).
 *
 * This file is the dispatcher: the command list below is the only one; each
 * subcommand lives in a file of its own named after it.
 */
#include "ckpt.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;		/* one line of `ckpt --help` */
	const char *help;
} commands[] = {
	{ "run", cmd_run, "run a program with libckpt.so loaded, so that it can be checkpointed", run_help },
	{ "dump", cmd_dump, "checkpoint a running ckpt-enabled process and wait for its image", dump_help },
	{ "restore", cmd_restore, "turn this process into the one saved in an image (execs restorer)", restore_help },
	{ "info", cmd_info, "print an image (readckpt), or describe it in JSON", info_help },
	{ "merge", cmd_merge, "fold a chain of incremental images into one full image", merge_help },
	{ "check", cmd_check, "say what this kernel and CPU allow, one line per capability", check_help },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void __attribute__((noreturn)) main_help(void)
{
	printf("usage: ckpt COMMAND [OPTIONS] [ARGS]\n"
	       "checkpoint and restore Linux x86-64 processes from user space\n"
	       "\n"
	       "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].summary);
	printf("  help     help on a command: ckpt help dump\n"
	       "\n"
	       "options: -h, --help  this text;  -V, --version  the version\n"
	       "exit status: 0 done, 1 operation failed, 2 usage error or image refused;\n"
	       "run and restore exec their program, whose status is theirs\n"
	       "see ckpt(1), restorer(1), readckpt(1), libckpt(3), ckpt-image(5)\n");
	exit(EX_OK);
}

/* "run, dump, restore, info, merge, check" */
static const char *command_list(void)
{
	static char list[256];
	size_t at = 0;

	for (size_t i = 0; i < NCOMMANDS; i++)
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", commands[i].name);
	return list;
}

int main(int argc, char **argv)
{
	const char *a = argc > 1 ? argv[1] : NULL;
	size_t i;

	if (!a)
		usage_error("no command given; commands: %s", command_list());
	if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		main_help();
	if (!strcmp(a, "-V") || !strcmp(a, "--version"))
		version();
	if (!strcmp(a, "help")) {
		if (argc < 3)
			main_help();
		for (i = 0; i < NCOMMANDS; i++)
			if (!strcmp(argv[2], commands[i].name))
				help(commands[i].help);
		usage_error("help: unknown command '%s'", argv[2]);
	}
	if (a[0] == '-')
		usage_error("unknown option '%s'; a command comes first: %s", a, command_list());
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(a, commands[i].name)) {
			cmd = commands[i].name;
			find_self();
			optind = 1;
			return commands[i].fn(argc - 1, argv + 1);
		}
	usage_error("unknown command '%s'; commands: %s", a, command_list());
}
