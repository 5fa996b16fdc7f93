/* restore.c -- `ckpt restore`: exec the restorer on an image. */
#include "ckpt.h"

const char restore_help[] =
	"usage: ckpt restore [--lazy] [-v] [--cwd DIR] [--map-path OLD=NEW]...\n"
	"                    [RESTORER-OPTIONS] [IMAGE]\n"
	"exec the restorer on IMAGE (default: myckpt): this process becomes the saved one;\n"
	"a compressed image (CKPT_COMPRESS) is unpacked into memory first\n"
	"  -v, --verbose       the restorer says what it restores and what it skips\n"
	"      --lazy          map the image's pages; they load on first touch\n"
	"      --cwd DIR       restore into working directory DIR, not the image's\n"
	"      --map-path OLD=NEW  a path the image names under OLD is under NEW here\n"
	"                      (repeatable; files, mapped files, FIFOs, the cwd)\n"
	"any other option is passed to the restorer if restorer --help names it\n"
	"exit status: the restored program's; 2 image refused or usage error (nothing\n"
	"changed); 127 the restore failed after the point of no return; 1 no restorer\n";

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

/* does TEXT name option OPT ("--lazy") as a whole word?  1 yes, 2 yes and
 * with a value after a space ("--cwd DIR": an upper-case word follows), 0 no */
static int names_option(const char *text, const char *opt, size_t len)
{
	int found = 0;

	for (const char *p = text; (p = strstr(p, opt)); p += len) {
		char next = p[len];

		if ((p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-')) &&
		    !(isalnum((unsigned char)next) || next == '-' || next == '_')) {
			if (next == ' ' && isupper((unsigned char)p[len + 1]))
				return 2;
			found = 1;
		}
	}
	return found;
}

/* ckpt restore's own options are -v, -h, -V; any other option goes to the
 * restorer if its --help names it (--lazy, --stdio=, --close-unsupported...),
 * so ckpt never offers what the installed restorer cannot do. */
int cmd_restore(int argc, char **argv)
{
	char rst[PATH_MAX], opt[64], unpacked[64];
	const char *help_text = NULL, *image = NULL;
	char **args;
	int n = 0, named;

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
		named = names_option(help_text, opt, strlen(opt));
		if (!named) {
			if (!strcmp(opt, "--lazy")) {
				say("--lazy: %s does not support lazy restore yet (not in its --help)", rst);
				exit(EX_USAGE);
			}
			usage_error("unknown option '%s' (not one of ckpt restore's, not in restorer --help)", a);
		}
		args[n++] = (char *)a;
		if (named == 2 && !a[len]) {	/* "--cwd DIR": its value follows */
			if (++i >= argc)
				usage_error("%s needs a value (restorer --help)", a);
			args[n++] = argv[i];
		}
	}
	/* a compressed image: the restorer reads the image it holds, unpacked */
	if (!(image = restorer_image(image ? image : "myckpt", unpacked, sizeof(unpacked))))
		return EX_USAGE;
	args[n++] = "--";
	args[n++] = (char *)image;
	args[n] = NULL;
	execv(rst, args);
	say("cannot run %s: %s", rst, strerror(errno));
	return EX_FAIL;
}
