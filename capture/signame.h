/* signame.h -- signal names shared by libckpt.so and the ckpt command */
#ifndef CKPT_SIGNAME_H
#define CKPT_SIGNAME_H

struct ckpt_signame {
	const char *name;	/* without "SIG" */
	int sig;
};
extern const struct ckpt_signame ckpt_signames[];	/* ends with { 0, 0 } */
int ckpt_parse_signal(const char *s);

#endif
