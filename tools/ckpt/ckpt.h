/* ckpt.h -- what the files of the `ckpt` command share: util.c's helpers
 * (messages, option parsing, where the helper programs are) and one entry
 * point and help text per subcommand, each in a file of its own (run.c,
 * dump.c, restore.c, info.c, merge.c, check.c); main.c dispatches.
 */
#ifndef CKPT_TOOL_H
#define CKPT_TOOL_H

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
#include "goprog.h"
#include "image.h"

#ifndef CKPT_TOOL_VERSION
#define CKPT_TOOL_VERSION "0.1"
#endif

/* exit statuses */
#define EX_OK		0
#define EX_FAIL		1
#define EX_USAGE	2

extern char self_dir[PATH_MAX];		/* directory holding this binary */
extern const char *cmd;			/* subcommand, for messages: "dump: " */

/* util.c */
void vsay(const char *who, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...);
void __attribute__((noreturn)) version(void);
void find_self(void);
int is_file(const char *p);
int is_static_elf(const char *path);	/* ELF without PT_INTERP: 1 static, 0 not/unknown */
const char *restorer_image(const char *path, char *buf, size_t cap);
int find_helper(const char *name, char *out, size_t cap);
int find_lib(char *out, size_t cap);
double now_s(void);
double parse_seconds(const char *s);
void human(char *buf, size_t cap, double bytes);
const char *sig_name(int sig, char *buf, size_t cap);
int next_opt(int argc, char **argv, const char *shortopts, const struct option *longopts);
void __attribute__((noreturn)) help(const char *text);

char *slurp(const char *path, size_t *len);
const char *status_field(const char *status, const char *field);
uint64_t status_mask(const char *status, const char *field);
int absolute(const char *path, char *out, size_t cap);
ssize_t read_small(const char *path, char *buf, size_t cap);	/* a /proc file, NUL-terminated */
const char *esc(const char *s);		/* s escaped (img_escape), one of two buffers */

/* one per subcommand: its entry point and its --help text */
int cmd_run(int argc, char **argv);
extern const char run_help[];
int cmd_dump(int argc, char **argv);
extern const char dump_help[];
int cmd_restore(int argc, char **argv);
extern const char restore_help[];
int cmd_info(int argc, char **argv);
extern const char info_help[];
int cmd_merge(int argc, char **argv);
extern const char merge_help[];
int cmd_check(int argc, char **argv);
extern const char check_help[];

#endif
