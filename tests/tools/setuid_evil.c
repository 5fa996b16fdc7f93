/* setuid_evil.c -- stands for a user's own program handed to a privileged
 * program as CKPT_RESTORER (tests/sh/setuid.sh).  Freestanding and linked in
 * the restorer's zone, so that tlongjmp would load and enter it; if it ever
 * runs, it creates EVIL_OUT (a path given at build time) holding its
 * effective uid, and exits 42.
 */
static long sc3(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

__attribute__((force_align_arg_pointer, noreturn)) void _start(void)
{
	char buf[24];
	unsigned long uid = (unsigned long)sc3(107 /* geteuid */, 0, 0, 0);
	int i = sizeof(buf);
	long fd;

	buf[--i] = '\n';
	do
		buf[--i] = (char)('0' + uid % 10);
	while (uid /= 10);
	fd = sc3(2 /* open */, (long)EVIL_OUT, 0101 /* O_WRONLY | O_CREAT */, 0644);
	sc3(1 /* write */, fd, (long)(buf + i), (long)sizeof(buf) - i);
	for (;;)
		sc3(231 /* exit_group */, 42, 0, 0);
}
