/* demo.c -- the program `make image` checkpoints: a counter.
 *
 * Prints "count 1", "count 2", ... one line every 300 ms, each with a single
 * write(2) on stdout, and exits 0 after "count 40".  Run it under libckpt.so,
 * send SIGUSR2, kill it, then `./restorer myckpt` goes on from where the image
 * was written.
 *
 * What it avoids so that it restores well: it holds no descriptor but 0, 1 and 2
 * (which the restorer replaces with its own): it opens nothing, and closes
 * whatever the caller leaked to it (a terminal's or a test harness's pipe, whose
 * other end an image cannot bring back) first thing; it never asks for its pid,
 * and sleeps with relative nanosleep(2) restarted on EINTR, so the checkpoint
 * signal landing in a sleep costs at most one shortened delay and no clock
 * value from before the checkpoint is compared with one from after it.
 *
 * Usage: demo [LAST [INTERVAL_MS]]   (defaults 40 and 300; the tests count
 * faster so that a restored demo finishes quickly)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* write all of buf, retrying on EINTR; 0 or -1 */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* sleep ms milliseconds; a signal (the checkpoint trigger) only interrupts it */
static void sleep_ms(long ms)
{
	struct timespec req = { ms / 1000, (ms % 1000) * 1000000L }, rem;

	while (nanosleep(&req, &rem) < 0 && errno == EINTR)
		req = rem;
}

/* parse a positive decimal number, or die with a usage line */
static long arg_num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 1000000000L) {
		static const char usage[] = "usage: demo [LAST [INTERVAL_MS]]\n";
		write_all(2, usage, sizeof(usage) - 1);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long last = 40, interval = 300;
	char line[32];

	/* libckpt.so opens nothing in its constructor, so this only drops leaks */
	close_range(3, ~0u, 0);
	if (argc > 3)
		arg_num("");		/* prints usage, exits 2 */
	if (argc > 1)
		last = arg_num(argv[1]);
	if (argc > 2)
		interval = arg_num(argv[2]);

	for (long i = 1; i <= last; i++) {
		/* "count N\n", built by hand: one write per line, no stdio buffer */
		char digits[24];
		int nd = 0, len;
		long v = i;

		do
			digits[nd++] = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		memcpy(line, "count ", 6);
		for (len = 6; nd > 0; )
			line[len++] = digits[--nd];
		line[len++] = '\n';
		if (write_all(1, line, (size_t)len) < 0)
			return 1;
		if (i < last)
			sleep_ms(interval);
	}
	return 0;
}
