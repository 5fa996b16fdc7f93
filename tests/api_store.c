/* api_store.c -- where tsetjmp keeps its images, and that nobody else can
 * plant, read, redirect or block them.
 *
 * Simulates programs started with each store setting, each in a fresh child
 * (the library reads the setting once): CKPT_DIR (images named
 * <program>.<pid>.<n>, regular files, mode 0600 even with umask 0, owned by
 * the user; a symlink planted at the image's name is replaced, not followed; a
 * CKPT_DIR that does not exist is ENOENT); the private directory
 * $XDG_RUNTIME_DIR/ckpt (made 0700); the default ${TMPDIR:-/tmp}/ckpt-<uid>
 * for a uid nobody uses (as root only: made 0700 and owned by that uid);
 * CKPT_STORE=memory (no file anywhere, CKPT_DIR ignored).
 * A private directory that is not private (a symlink, group or other bits, or
 * made first by another user, which would block tsetjmp) is never written
 * into: tsetjmp still works, in a fresh directory from mkdtemp
 * (${TMPDIR:-/tmp}/ckpt-<uid>.XXXXXX, 0700, ours), and one line on stderr
 * names both and how to fix it.
 * The cases that need a second user run as root only (tests/run.sh runs the
 * rest again as an ordinary user).
 */
#include "api_lib.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"	/* paths under a short temp dir */

#include <grp.h>
#include <sys/prctl.h>

static char comm[17];

static void path_of(char *out, size_t cap, const char *dir, int pid, int n)
{
	snprintf(out, cap, "%s/%s.%d.%d", dir, comm, pid, n);
}

/* run tsetjmp in a fresh child with the environment set by env (and as uid
 * when uid >= 0, with TMPDIR=tmpdir when given); returns its result: the
 * descriptor, or -errno; what it said on stderr goes to err */
static int try_store(const char *store_dir, const char *xdg, const char *memory, int uid,
		     const char *plant, const char *tmpdir, int *pid_out, char *err, size_t errcap)
{
	int p[2], e[2], st, r = -999;
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe(p) || pipe(e))
		a_fatal("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		char link[4200];

		close(p[0]);
		close(e[0]);
		dup2(e[1], 2);
		store_dir ? setenv("CKPT_DIR", store_dir, 1) : unsetenv("CKPT_DIR");
		xdg ? setenv("XDG_RUNTIME_DIR", xdg, 1) : unsetenv("XDG_RUNTIME_DIR");
		memory ? setenv("CKPT_STORE", memory, 1) : unsetenv("CKPT_STORE");
		if (tmpdir)
			setenv("TMPDIR", tmpdir, 1);
		if (uid >= 0 && (setgroups(0, NULL), setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(5);
		prctl(PR_SET_DUMPABLE, 1);	/* /proc/self/mem after a uid change */
		if (plant) {
			path_of(link, sizeof link, store_dir, (int)getpid(), 1);
			if (symlink(plant, link))
				_exit(6);
		}
		umask(0);
		r = tsetjmp();
		if (r < 0)
			r = -errno;
		write(p[1], &r, sizeof r);
		_exit(0);
	}
	close(p[1]);
	close(e[1]);
	if (pid < 0 || read(p[0], &r, sizeof r) != sizeof r)
		r = -999;
	close(p[0]);
	while ((size_t)len < errcap - 1 && (n = read(e[0], err + len, errcap - 1 - len)) > 0)
		len += n;
	err[len] = 0;
	close(e[0]);
	waitpid(pid, &st, 0);
	if (pid_out)
		*pid_out = pid;
	return r;
}

#define TRY(store_dir, xdg, memory, uid, plant, tmpdir, pid_out) \
	try_store(store_dir, xdg, memory, uid, plant, tmpdir, pid_out, err, sizeof err)

static void mk(const char *path, int mode, int uid)
{
	if (mkdir(path, mode) && errno != EEXIST)
		a_fatal("mkdir %s: %s", path, strerror(errno));
	chmod(path, mode);
	if (uid >= 0 && chown(path, uid, uid))
		a_fatal("chown %s: %s", path, strerror(errno));
}

static void image_ok(const char *what, const char *path, int uid)
{
	struct stat st;
	int r = lstat(path, &st);

	a_ok(r == 0 && S_ISREG(st.st_mode), "%s: the image %s is a regular file", what, path);
	a_ok(r == 0 && (int)(st.st_mode & 07777) == 0600 + a_break(), "%s: mode 0600 under umask 0 (%o)", what,
	     r ? 0 : st.st_mode & 07777);
	a_ok(r == 0 && (int)st.st_uid == uid, "%s: owned by uid %d", what, uid);
}

static void dir_ok(const char *what, const char *dir, int uid)
{
	struct stat st;
	int r = lstat(dir, &st);

	a_ok(r == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && (int)st.st_uid == uid,
	     "%s: %s made 0700, owner %d (%o, %d)", what, dir, uid, r ? 0 : st.st_mode & 07777,
	     r ? -1 : (int)st.st_uid);
}

static int empty_dir(const char *dir)
{
	char cmd[4300];

	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

/* tsetjmp refused the private directory bad and went on in a fresh one: one
 * line naming both, and the image there, in ${tmpdir}/ckpt-<uid>.XXXXXX, 0700 */
static void fallback_ok(const char *what, int r, const char *err, const char *bad, const char *tmpdir,
			int uid, int pid)
{
	char want[4200], dir[4200], img[4200];
	const char *in = strstr(err, "keeps its images in "), *end;
	int lines = 0;

	for (const char *c = err; *c; c++)
		lines += *c == '\n';
	a_eq(what, r, 1);
	snprintf(want, sizeof want, "libckpt: %s is not a private directory of uid %d", bad, uid);
	a_ok(lines == 1 && !strncmp(err, want, strlen(want)) && in && strstr(err, "to fix that"),
	     "%s: one line says so and how to fix it: %.*s", what, (int)strcspn(err, "\n"), err);
	dir[0] = 0;
	if (in && (end = strchr(in += 20, ';')) && (size_t)(end - in) < sizeof dir) {
		memcpy(dir, in, end - in);
		dir[end - in] = 0;
	}
	snprintf(want, sizeof want, "%s/ckpt-%d.", tmpdir, uid);
	a_ok(!strncmp(dir, want, strlen(want)) && strlen(dir) == strlen(want) + 6,
	     "%s: the fresh directory %s is %sXXXXXX", what, dir, want);
	dir_ok(what, dir, uid);
	path_of(img, sizeof img, dir, pid, 1);
	image_ok(what, img, uid);
}

static int body(void)
{
	char a[4200], b[4200], c[4200], img[4200], tgt[4200], buf[8], err[2048], tmpd[4200];
	int uid = (int)getuid(), pid, r, fd;

	prctl(PR_GET_NAME, comm);

	/* CKPT_DIR */
	snprintf(a, sizeof a, "%s/dirA", a_dir);
	mk(a, 0700, -1);
	r = TRY(a, NULL, NULL, -1, NULL, a_dir, &pid);
	a_eq("CKPT_DIR: tsetjmp returns 1", r, 1);
	path_of(img, sizeof img, a, pid, 1);
	image_ok("CKPT_DIR", img, uid);

	/* a symlink planted at the image's name */
	snprintf(tgt, sizeof tgt, "%s/target", a_dir);
	fd = open(tgt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, "keep", 4);
	close(fd);
	r = TRY(a, NULL, NULL, -1, tgt, a_dir, &pid);
	a_eq("a symlink planted at the image name: tsetjmp still works", r, 1);
	path_of(img, sizeof img, a, pid, 1);
	image_ok("planted symlink", img, uid);
	fd = open(tgt, O_RDONLY);
	a_ok(fd >= 0 && read(fd, buf, 8) == 4 && !memcmp(buf, "keep", 4),
	     "the symlink's target was not written through");
	close(fd);

	snprintf(b, sizeof b, "%s/no/such/dir", a_dir);
	r = TRY(b, NULL, NULL, -1, NULL, a_dir, NULL);
	a_eq("CKPT_DIR that does not exist: -ENOENT", r, -ENOENT);

	/* $XDG_RUNTIME_DIR/ckpt */
	snprintf(b, sizeof b, "%s/run", a_dir);
	mk(b, 0700, -1);
	r = TRY(NULL, b, NULL, -1, NULL, a_dir, &pid);
	a_eq("$XDG_RUNTIME_DIR/ckpt: tsetjmp returns 1", r, 1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	dir_ok("private dir", c, uid);
	path_of(img, sizeof img, c, pid, 1);
	image_ok("private dir", img, uid);

	/* ${TMPDIR}/ckpt-<uid> when there is no $XDG_RUNTIME_DIR */
	r = TRY(NULL, NULL, NULL, -1, NULL, a_dir, &pid);
	a_eq("no $XDG_RUNTIME_DIR: tsetjmp returns 1", r, 1);
	snprintf(c, sizeof c, "%s/ckpt-%d", a_dir, uid);
	dir_ok("$TMPDIR/ckpt-<uid>", c, uid);
	path_of(img, sizeof img, c, pid, 1);
	image_ok("$TMPDIR/ckpt-<uid>", img, uid);

	snprintf(b, sizeof b, "%s/run2", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	symlink(a, c);
	r = TRY(NULL, b, NULL, -1, NULL, a_dir, &pid);
	fallback_ok("private dir is a symlink (to a 0700 dir of ours): a fresh one", r, err, c, a_dir, uid, pid);
	path_of(img, sizeof img, a, pid, 1);
	a_ok(access(img, F_OK) != 0, "nothing written through the symlink");

	snprintf(b, sizeof b, "%s/run3", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	mk(c, 0755, -1);
	r = TRY(NULL, b, NULL, -1, NULL, a_dir, &pid);
	fallback_ok("private dir with mode 0755: a fresh one", r, err, c, a_dir, uid, pid);
	a_ok(empty_dir(c), "nothing written into it");

	/* CKPT_STORE=memory */
	snprintf(b, sizeof b, "%s/run4", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/no/such/dir", a_dir);
	r = TRY(c, b, "memory", -1, NULL, a_dir, NULL);
	a_eq("CKPT_STORE=memory: tsetjmp returns 1 (CKPT_DIR ignored)", r, 1);
	a_ok(empty_dir(b), "CKPT_STORE=memory: no file in the private dir");

	if (uid != 0) {
		a_note("not root: the cases with another user's directory are run by the root pass");
		a_done();
	}

	/* root: another user's directories */
	{
		int u = 61000 + getpid() % 4000;
		char utmp[4200];

		snprintf(b, sizeof b, "%s/run5", a_dir);
		mk(b, 0700, -1);
		snprintf(c, sizeof c, "%s/ckpt", b);
		mk(c, 0700, 12345);
		r = TRY(NULL, b, NULL, -1, NULL, a_dir, &pid);
		fallback_ok("root: private dir owned by uid 12345: a fresh one", r, err, c, a_dir, 0, pid);
		a_ok(empty_dir(c), "nothing written into it");

		chmod(a_dir, 0711);		/* let uid u reach its dirs */
		snprintf(utmp, sizeof utmp, "%s/tmp", a_dir);	/* its TMPDIR, a /tmp of its own */
		mk(utmp, 01777, -1);
		snprintf(b, sizeof b, "%s/run6", a_dir);
		mk(b, 0700, u);
		snprintf(c, sizeof c, "%s/ckpt", b);
		mk(c, 0700, 0);
		r = TRY(NULL, b, NULL, u, NULL, utmp, &pid);
		fallback_ok("uid u: its private dir owned by root: a fresh one", r, err, c, utmp, u, pid);

		snprintf(tmpd, sizeof tmpd, "%s/ckpt-%d", utmp, u);
		r = TRY(NULL, NULL, NULL, u, NULL, utmp, &pid);
		a_eq("uid u, no XDG_RUNTIME_DIR: tsetjmp makes $TMPDIR/ckpt-<u>", r, 1);
		dir_ok("$TMPDIR fallback", tmpd, u);
		path_of(img, sizeof img, tmpd, pid, 1);
		image_ok("$TMPDIR fallback", img, u);
		snprintf(img, sizeof img, "rm -rf '%s'/*", utmp);
		system(img);

		/* another user (root here) made $TMPDIR/ckpt-<u> first: tsetjmp is not blocked */
		mk(tmpd, 0700, 0);
		r = TRY(NULL, NULL, NULL, u, NULL, utmp, &pid);
		fallback_ok("$TMPDIR/ckpt-<u> made by another user first: a fresh one", r, err, tmpd, utmp, u, pid);
		a_ok(empty_dir(tmpd), "nothing written into it");
		system(img);

		mk(tmpd, 0777, u);
		r = TRY(NULL, NULL, NULL, u, NULL, utmp, &pid);
		fallback_ok("$TMPDIR/ckpt-<u> owned by u but mode 0777: a fresh one", r, err, tmpd, utmp, u, pid);
		a_ok(empty_dir(tmpd), "nothing written into it");
		system(img);

		snprintf(c, sizeof c, "%s/udir", a_dir);
		mk(c, 0700, u);
		symlink(c, tmpd);
		r = TRY(NULL, NULL, NULL, u, NULL, utmp, &pid);
		fallback_ok("$TMPDIR/ckpt-<u> a symlink to a 0700 dir of u: a fresh one", r, err, tmpd, utmp, u, pid);
		a_ok(empty_dir(c), "nothing written through the symlink");
		system(img);
	}
	a_done();
}

int main(void)
{
	return a_main(body, A_STORE_DISK);
}
