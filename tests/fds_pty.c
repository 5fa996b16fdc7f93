/* fds_pty.c -- a pseudo-terminal whose master the program holds comes back
 * as a connected pair, with its mode, size and state.
 *
 * Like a terminal emulator or an expect-like driver, the subject opens a
 * pty (posix_openpt, grantpt, unlockpt), opens its slave by name and dups
 * it, puts the slave in raw mode with VMIN 0, VTIME 3 and a 33x111 window;
 * a second master is left locked (no unlockpt), in packet mode, O_NONBLOCK.
 * After each restore (two generations):
 *   - bytes written to the master are read at the slave and back, unchanged
 *     (raw: no echo, no CR/LF translation);
 *   - the slave's mode and the window size are as they were;
 *   - ptsname(master) names the slave it holds (the same device), and the
 *     dup is the same open file (an offset-free device: its flags);
 *   - the second master is still locked, in packet mode and non-blocking.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static int m, s, s2, m2;
static struct termios mode;

static void open_pair(void)
{
	struct winsize ws = { .ws_row = 33, .ws_col = 111 };

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		t_fatal("posix_openpt: %s", strerror(errno));
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0 || (s2 = dup(s)) < 0)
		t_fatal("open %s: %s", ptsname(m), strerror(errno));
	tcgetattr(s, &mode);
	cfmakeraw(&mode);
	mode.c_cc[VMIN] = 0;
	mode.c_cc[VTIME] = 3;
	if (tcsetattr(s, TCSANOW, &mode) || ioctl(m, TIOCSWINSZ, &ws))
		t_fatal("tcsetattr: %s", strerror(errno));
	m2 = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (m2 < 0 || ioctl(m2, TIOCPKT, &(int){ 1 }))
		t_fatal("second pty: %s", strerror(errno));
}

/* len bytes written at one end arrive at the other as they were */
static void through(int from, int to, const char *what, const char *msg)
{
	char buf[64] = { 0 };
	size_t len = strlen(msg);
	ssize_t got = 0;

	if (write(from, msg, len) != (ssize_t)len) {
		t_ok(0, "%s: write: %s", what, strerror(errno));
		return;
	}
	for (int tries = 0; tries < 20 && got < (ssize_t)len; tries++) {
		ssize_t n = read(to, buf + got, sizeof(buf) - 1 - (size_t)got);

		if (n > 0)
			got += n;
		else
			usleep(10000);
	}
	t_ok(got == (ssize_t)len && !memcmp(buf, msg, len), "%s: %zu bytes arrive as they were (%zd read)", what,
	     len, got);
}

static int subject(void)
{
	open_pair();
	for (;;) {
		struct termios now;
		struct winsize ws = { 0 };
		struct stat a, b;
		char name[64] = "";
		int locked = 0, packet = 0;

		t_wait();
		through(m, s, "master to slave", "ping\n");
		through(s, m, "slave to master", "pong\r\n");
		tcgetattr(s, &now);
		t_ok(now.c_lflag == mode.c_lflag && now.c_iflag == mode.c_iflag && now.c_oflag == mode.c_oflag &&
		     now.c_cflag == mode.c_cflag && now.c_cc[VMIN] == 0 && now.c_cc[VTIME] == 3,
		     "the slave's mode: raw, VMIN 0, VTIME 3 (lflag 0%o iflag 0%o oflag 0%o, VTIME %d)", now.c_lflag,
		     now.c_iflag, now.c_oflag, now.c_cc[VTIME]);
		ioctl(s, TIOCGWINSZ, &ws);
		if (t_break())
			ws.ws_col++;
		t_ok(ws.ws_row == 33 && ws.ws_col == 111, "window 33x111 (%ux%u)", ws.ws_row, ws.ws_col);
		ptsname_r(m, name, sizeof(name));
		t_ok(!stat(name, &a) && !fstat(s, &b) && a.st_rdev == b.st_rdev && !fstat(s2, &a) &&
		     a.st_rdev == b.st_rdev && fcntl(s2, F_GETFL) == fcntl(s, F_GETFL),
		     "ptsname(master) %s is the slave held, and its dup the same", name);
		ioctl(m2, TIOCGPTLCK, &locked);
		ioctl(m2, TIOCGPKT, &packet);
		t_ok(locked == 1 && packet == 1 && (fcntl(m2, F_GETFL) & O_NONBLOCK),
		     "the second master: locked %d, packet mode %d, O_NONBLOCK", locked, packet);
		if (t_last())
			return t_result();
	}
}

int main(void)
{
	struct t_opts o = { .generations = 2 };

	return t_main(subject, &o);
}
