/* signame.c -- signal names as CKPT_SIGNAL and `ckpt run --signal` take them.
 * Linked into libckpt.so and into the ckpt command, so both read a setting
 * the same way. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "signame.h"

const struct ckpt_signame ckpt_signames[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "PWR", SIGPWR },
	{ "URG", SIGURG }, { "WINCH", SIGWINCH }, { "XCPU", SIGXCPU }, { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF }, { "IO", SIGIO }, { "SYS", SIGSYS }, { 0, 0 },
};

/* "12", "USR2", "SIGUSR2", "RTMIN+3" -> signal number, or 0 */
int ckpt_parse_signal(const char *s)
{
	char *end;
	long n;

	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (!strncmp(s, "RTMIN+", 6)) {
		n = strtol(s + 6, &end, 10);
		return !*end && n >= 0 && SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + (int)n : 0;
	}
	if (*s >= '0' && *s <= '9') {
		n = strtol(s, &end, 10);
		return !*end && n > 0 && n <= 64 ? (int)n : 0;
	}
	for (const struct ckpt_signame *p = ckpt_signames; p->name; p++)
		if (!strcmp(s, p->name))
			return p->sig;
	return 0;
}

/* the signals a process dies of, named in messages only (not settings) */
static const struct ckpt_signame fatal_names[] = {
	{ "KILL", SIGKILL }, { "SEGV", SIGSEGV }, { "BUS", SIGBUS }, { "ABRT", SIGABRT },
	{ "ILL", SIGILL }, { "FPE", SIGFPE }, { "TRAP", SIGTRAP }, { "XFSZ", SIGXFSZ },
	{ "PIPE", SIGPIPE }, { "STOP", SIGSTOP }, { 0, 0 },
};

const char *ckpt_signal_abbrev(int sig)
{
	for (const struct ckpt_signame *p = ckpt_signames; p->name; p++)
		if (p->sig == sig)
			return p->name;
	for (const struct ckpt_signame *p = fatal_names; p->name; p++)
		if (p->sig == sig)
			return p->name;
	return 0;
}
