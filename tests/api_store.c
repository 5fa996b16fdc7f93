/* api_store.c -- where tsetjmp keeps its images, and that nobody else can
 * plant, read or redirect them.
 *
 * Simulates programs started with each store setting, each in a fresh child
 * (the library reads the setting once): CKPT_DIR (images named
 * <program>.<pid>.<n>, regular files, mode 0600 even with umask 0, owned by
 * the user; a symlink planted at the image's name is replaced, not followed; a
 * CKPT_DIR that does not exist is ENOENT); the private directory
 * $XDG_RUNTIME_DIR/ckpt (made 0700; refused with EACCES when it is a symlink,
 * has group/other bits, or belongs to another user); the fallback
 * /tmp/ckpt-<uid> for a uid nobody uses (as root only: made 0700 and owned by
 * that uid, refused when root owns it, when it is 0777, when it is a
 * symlink); CKPT_STORE=memory (no file anywhere, CKPT_DIR ignored).
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
 * when uid >= 0); returns its result: the descriptor, or -errno */
static int try_store(const char *store_dir, const char *xdg, const char *memory, int uid,
		     const char *plant, int *pid_out)
{
	int p[2], st, r = -999;
	pid_t pid;

	if (pipe(p))
		a_fatal("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		char link[4200];

		close(p[0]);
		store_dir ? setenv("CKPT_DIR", store_dir, 1) : unsetenv("CKPT_DIR");
		xdg ? setenv("XDG_RUNTIME_DIR", xdg, 1) : unsetenv("XDG_RUNTIME_DIR");
		memory ? setenv("CKPT_STORE", memory, 1) : unsetenv("CKPT_STORE");
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
	if (pid < 0 || read(p[0], &r, sizeof r) != sizeof r)
		r = -999;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (pid_out)
		*pid_out = pid;
	return r;
}

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

static int body(void)
{
	char a[4200], b[4200], c[4200], img[4200], tgt[4200], buf[8];
	int uid = (int)getuid(), pid, r, fd;

	prctl(PR_GET_NAME, comm);

	/* CKPT_DIR */
	snprintf(a, sizeof a, "%s/dirA", a_dir);
	mk(a, 0700, -1);
	r = try_store(a, NULL, NULL, -1, NULL, &pid);
	a_eq("CKPT_DIR: tsetjmp returns 1", r, 1);
	path_of(img, sizeof img, a, pid, 1);
	image_ok("CKPT_DIR", img, uid);

	/* a symlink planted at the image's name */
	snprintf(tgt, sizeof tgt, "%s/target", a_dir);
	fd = open(tgt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, "keep", 4);
	close(fd);
	r = try_store(a, NULL, NULL, -1, tgt, &pid);
	a_eq("a symlink planted at the image name: tsetjmp still works", r, 1);
	path_of(img, sizeof img, a, pid, 1);
	image_ok("planted symlink", img, uid);
	fd = open(tgt, O_RDONLY);
	a_ok(fd >= 0 && read(fd, buf, 8) == 4 && !memcmp(buf, "keep", 4),
	     "the symlink's target was not written through");
	close(fd);

	snprintf(b, sizeof b, "%s/no/such/dir", a_dir);
	r = try_store(b, NULL, NULL, -1, NULL, NULL);
	a_eq("CKPT_DIR that does not exist: -ENOENT", r, -ENOENT);

	/* $XDG_RUNTIME_DIR/ckpt */
	snprintf(b, sizeof b, "%s/run", a_dir);
	mk(b, 0700, -1);
	r = try_store(NULL, b, NULL, -1, NULL, &pid);
	a_eq("$XDG_RUNTIME_DIR/ckpt: tsetjmp returns 1", r, 1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	dir_ok("private dir", c, uid);
	path_of(img, sizeof img, c, pid, 1);
	image_ok("private dir", img, uid);

	snprintf(b, sizeof b, "%s/run2", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	symlink(a, c);
	r = try_store(NULL, b, NULL, -1, NULL, NULL);
	a_eq("private dir is a symlink (to a 0700 dir of ours): refused, -EACCES", r, -EACCES);

	snprintf(b, sizeof b, "%s/run3", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/ckpt", b);
	mk(c, 0755, -1);
	r = try_store(NULL, b, NULL, -1, NULL, NULL);
	a_eq("private dir with mode 0755: refused, -EACCES", r, -EACCES);
	a_ok(empty_dir(c), "nothing written into it");

	/* CKPT_STORE=memory */
	snprintf(b, sizeof b, "%s/run4", a_dir);
	mk(b, 0700, -1);
	snprintf(c, sizeof c, "%s/no/such/dir", a_dir);
	r = try_store(c, b, "memory", -1, NULL, NULL);
	a_eq("CKPT_STORE=memory: tsetjmp returns 1 (CKPT_DIR ignored)", r, 1);
	a_ok(empty_dir(b), "CKPT_STORE=memory: no file in the private dir");

	if (uid != 0) {
		a_note("not root: the cases with another user's directory are run by the root pass");
		a_done();
	}

	/* root: another user's directories */
	{
		int u = 61000 + getpid() % 4000;
		char tmpd[64];
		struct stat st;

		snprintf(b, sizeof b, "%s/run5", a_dir);
		mk(b, 0700, -1);
		snprintf(c, sizeof c, "%s/ckpt", b);
		mk(c, 0700, 12345);
		r = try_store(NULL, b, NULL, -1, NULL, NULL);
		a_eq("root: private dir owned by uid 12345: refused, -EACCES", r, -EACCES);

		chmod(a_dir, 0711);		/* let uid u reach its dirs */
		snprintf(b, sizeof b, "%s/run6", a_dir);
		mk(b, 0700, u);
		snprintf(c, sizeof c, "%s/ckpt", b);
		mk(c, 0700, 0);
		r = try_store(NULL, b, NULL, u, NULL, NULL);
		a_eq("uid u: its private dir owned by root: refused, -EACCES", r, -EACCES);

		snprintf(tmpd, sizeof tmpd, "/tmp/ckpt-%d", u);
		if (lstat(tmpd, &st) == 0) {
			a_note("%s exists: the /tmp fallback cases are not run", tmpd);
			a_done();
		}
		r = try_store(NULL, NULL, NULL, u, NULL, &pid);
		a_eq("uid u, no XDG_RUNTIME_DIR: tsetjmp makes /tmp/ckpt-<u>", r, 1);
		dir_ok("/tmp fallback", tmpd, u);
		path_of(img, sizeof img, tmpd, pid, 1);
		image_ok("/tmp fallback", img, u);
		snprintf(img, sizeof img, "rm -rf '%s'", tmpd);
		system(img);

		mk(tmpd, 0700, 0);
		r = try_store(NULL, NULL, NULL, u, NULL, NULL);
		a_eq("/tmp/ckpt-<u> made by root first: refused, -EACCES", r, -EACCES);
		rmdir(tmpd);

		mk(tmpd, 0777, u);
		r = try_store(NULL, NULL, NULL, u, NULL, NULL);
		a_eq("/tmp/ckpt-<u> owned by u but mode 0777: refused, -EACCES", r, -EACCES);
		a_ok(empty_dir(tmpd), "nothing written into it");
		rmdir(tmpd);

		snprintf(c, sizeof c, "%s/udir", a_dir);
		mk(c, 0700, u);
		symlink(c, tmpd);
		r = try_store(NULL, NULL, NULL, u, NULL, NULL);
		a_eq("/tmp/ckpt-<u> a symlink to a 0700 dir of u: refused, -EACCES", r, -EACCES);
		a_ok(empty_dir(c), "nothing written through the symlink");
		unlink(tmpd);
	}
	a_done();
}

int main(void)
{
	return a_main(body, A_STORE_DISK);
}
