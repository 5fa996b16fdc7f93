/* cwd.c -- the working directory survives.
 *
 * Simulates a program that chdir'ed somewhere (a directory with a space in its
 * name, two levels below its temp dir) and opens files by relative path: after
 * restore getcwd() is the same and a relative open finds the file there.
 */
#include "lib.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int subject(void)
{
	char dir[PATH_MAX], before[PATH_MAX], after[PATH_MAX], buf[32] = "";
	int fd;

	snprintf(dir, sizeof dir, "%s/work dir", t_tmpdir());
	if (mkdir(dir, 0700) || chdir(dir) || mkdir("deeper", 0700) || chdir("deeper"))
		t_fatal("mkdir/chdir %s/deeper", dir);
	fd = open("marker", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "here", 4) != 4 || close(fd))
		t_fatal("create marker");
	if (!getcwd(before, sizeof before))
		t_fatal("getcwd");

	t_wait();
	if (!getcwd(after, sizeof after))
		snprintf(after, sizeof after, "(getcwd failed)");
	if (t_break())
		after[strlen(after) - 1] ^= 1;

	t_ok(!strcmp(after, before), "getcwd() is \"%s\" (want \"%s\")", after, before);
	fd = open("marker", O_RDONLY);
	t_ok(fd >= 0 && read(fd, buf, sizeof buf) == 4 && !memcmp(buf, "here", 4),
	     "relative open(\"marker\") finds the file in the cwd");
	if (fd >= 0)
		close(fd);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
