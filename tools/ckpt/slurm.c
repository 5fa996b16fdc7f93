/* slurm.c -- `ckpt run --slurm PROGRAM [ARGS...]`: checkpoint/resume for
 * a Slurm batch job, so that a job script gains it with one line:
 *
 *   #SBATCH --requeue --open-mode=append --signal=B:USR1@120
 *   exec ckpt run --slurm ./simulate input
 *
 * ckpt stays as the program's parent (the supervisor) for the whole job:
 *
 *   first run (SLURM_RESTART_COUNT unset or 0, or no usable image):
 *     start PROGRAM under libckpt.so with CKPT_FILE=DIR/JOBID/img, CKPT_KEEP=2
 *     (DIR: $CKPT_SLURM_DIR, else $SLURM_SUBMIT_DIR/ckpt-images; both
 *     directories 0700 and ours).  CKPT_INTERVAL etc. pass through.
 *   on Slurm's warning signal (CKPT_SLURM_SIGNAL, default SIGUSR1: the job's
 *   --signal=B:USR1@SECONDS, or preemption with preempt_send_user_signal):
 *     sigqueue the libckpt trigger with CKPT_FINAL_COOKIE (signame.h): libckpt
 *     waits for a checkpoint still being written, writes this one, and stops
 *     the program (SIGSTOP) so that it does nothing the image does not hold.
 *     Then ckpt kills it, runs `scontrol requeue $SLURM_JOB_ID` and exits 0.
 *     If the checkpoint fails the program runs on (libckpt says why) until
 *     Slurm ends it; if the requeue fails, the image stays and ckpt says how
 *     to requeue by hand, exit 1.
 *   on SIGTERM, SIGINT, SIGHUP (scancel, or the end of a job that had no
 *     warning): passed on to the program; no checkpoint, no requeue.
 *   requeued run (SLURM_RESTART_COUNT > 0): the newest image that the reader
 *     accepts and whose page checksums match (img, then img.1) is restored by
 *     the restorer, in a child that becomes the program; a skipped image is
 *     named on stderr (the job's output) with the reason.  No image at all:
 *     the program starts over, and ckpt says so.
 *   the program ends: its exit status is the job's (a signal death is
 *     raised again on ckpt itself).
 *
 * Entry points (run.c): ckpt_slurm_image() picks and makes the image
 * path; ckpt_slurm_run() replaces the exec of PROGRAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckpt.h"
#include "slurm.h"

/* "ckpt: slurm: message\n" on stderr (the job's output file) */
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("slurm", fmt, ap);
	va_end(ap);
}

/* PATH as a directory of ours: made 0700 when missing; refused when it is a
 * link, not a directory, someone else's, or writable by others (images hold
 * the program's memory, and are never written through others' paths) */
static int own_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) && errno != EEXIST) {
		note("%s: mkdir: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st)) {
		note("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		note("%s: not a directory", path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		note("%s: owned by uid %d, not by this job's user (uid %d)", path, (int)st.st_uid, (int)geteuid());
		return -1;
	}
	if (st.st_mode & 022) {
		note("%s: writable by others (mode %o): images are not written there", path,
		     (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int ckpt_slurm_image(char *img, size_t cap)
{
	const char *job = getenv("SLURM_JOB_ID"), *dir = getenv("CKPT_SLURM_DIR");
	const char *sub = getenv("SLURM_SUBMIT_DIR"), *keep = getenv("CKPT_KEEP");
	char base[PATH_MAX], d[PATH_MAX], cwd[PATH_MAX];

	if (!job || !*job || strspn(job, "0123456789") != strlen(job)) {
		note("SLURM_JOB_ID=%s: not inside a Slurm job (run it from an sbatch script)", job ? job : "");
		return -1;
	}
	if (dir && *dir)
		snprintf(base, sizeof(base), "%s", dir);
	else if (sub && *sub)
		snprintf(base, sizeof(base), "%s/ckpt-images", sub);
	else
		snprintf(base, sizeof(base), "ckpt-images");
	if (base[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd))) {
			note("cannot read the working directory: %s", strerror(errno));
			return -1;
		}
		if (snprintf(d, sizeof(d), "%s/%s", cwd, base) >= (int)sizeof(d)) {
			note("%s/%s: path too long", cwd, base);
			return -1;
		}
		memcpy(base, d, sizeof(base));
	}
	if (own_dir(base))
		return -1;
	if (snprintf(d, sizeof(d), "%s/%s", base, job) >= (int)sizeof(d) || own_dir(d))
		return -1;
	if (snprintf(img, cap, "%s/img", d) >= (int)cap) {
		note("%s/img: path too long", d);
		return -1;
	}
	/* the image before the newest is the fallback for a bad newest one */
	if (!keep || atoi(keep) < 2)
		setenv("CKPT_KEEP", "2", 1);
	return 0;
}

/* ---- resume: which image ---- */

/* the reader's checks, then every stored page and the stored vDSO against
 * their checksums: 0 or -1 with the reason in why */
static int verify(const char *path, char *why, size_t cap)
{
	static char buf[1 << 20];
	struct img im;
	struct img_err err;
	int bad = 0;

	if (img_open(&im, path, 0, &err)) {
		snprintf(why, cap, "%s", err.msg);
		return -1;
	}
	if (im.hdr.depth) {
		snprintf(why, cap, "incremental (depth %u): only full images are resumed by --slurm", im.hdr.depth);
		bad = 1;
	}
	for (uint32_t i = 0; !bad && i < im.hdr.nruns; i++) {
		const struct ckpt_run *run = &im.runs[i];
		uint64_t len = run->npages * CKPT_PAGE_SIZE, done = 0;
		uint32_t crc = 0;

		if (!run->data_off)
			continue;		/* zero pages: nothing stored */
		while (done < len) {
			ssize_t r = pread(im.fd, buf, len - done > sizeof(buf) ? sizeof(buf) : len - done,
					  (off_t)(run->data_off + done));

			if (r <= 0) {
				snprintf(why, cap, "page data at %lu: %s", (unsigned long)(run->data_off + done),
					 r < 0 ? strerror(errno) : "short file");
				bad = 1;
				break;
			}
			crc = ckpt_crc32c(crc, buf, (uint64_t)r);
			done += (uint64_t)r;
		}
		if (!bad && crc != run->crc) {
			snprintf(why, cap, "page data checksum mismatch at 0x%lx: image corrupted",
				 (unsigned long)run->addr);
			bad = 1;
		}
	}
	if (!bad && im.hdr.vdso_data_off) {	/* the stored [vdso] bytes, which the restorer checks too */
		uint64_t n = im.hdr.vdso_size;

		if (n > sizeof(buf) || pread(im.fd, buf, n, (off_t)im.hdr.vdso_data_off) != (ssize_t)n ||
		    ckpt_crc32c(0, buf, n) != im.hdr.vdso_crc) {
			snprintf(why, cap, "stored vDSO bytes checksum mismatch: image corrupted");
			bad = 1;
		}
	}
	close(im.fd);
	munmap(im.tables, im.hdr.tables_size);
	return bad ? -1 : 0;
}

/* a job's shared memory: its file beside the table, of its length and CRC */
static int verify_shm(const char *table, const struct ckpt_job_shm *m)
{
	char file[IMG_PATH_MAX];
	struct stat st;
	uint64_t len;
	void *p;
	int fd, bad;

	if (!img_job_beside(table, m->file, file, sizeof(file)) || (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = CKPT_JOB_SHM_BITMAP(m->size) + m->stored * CKPT_PAGE_SIZE;	/* its bitmap and pages */
	if (fstat(fd, &st) || (uint64_t)st.st_size != len) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	bad = ckpt_crc32c(0, p, len) != m->crc;
	munmap(p, len);
	return bad ? -1 : 0;
}

/* a job table: the table's checks, then every process's image as verify() */
static int verify_job(const char *path, char *why, size_t cap)
{
	struct img_job j;
	struct img_err err;
	char member[IMG_PATH_MAX], sub[300] = "its path is too long";
	int bad = 0;

	if (img_job_open(&j, path, &err)) {
		snprintf(why, cap, "%s", err.msg);
		img_job_close(&j);
		return -1;
	}
	for (uint32_t i = 0; !bad && i < j.hdr.nprocs; i++) {
		if (j.procs[i].state != CKPT_JOB_LIVE)
			continue;
		if (!img_job_member_path(path, &j.procs[i], member, sizeof(member)) ||
		    verify(member, sub, sizeof(sub))) {
			snprintf(why, cap, "pid %d's image: %s", j.procs[i].pid, sub);
			bad = 1;
		}
	}
	for (uint32_t k = 0; !bad && k < j.hdr.nobjs; k++)
		if (j.objs[k].kind == CKPT_JOB_SHM && verify_shm(path, (const void *)(j.base + j.objs[k].data_off))) {
			snprintf(why, cap, "the content of its shared memory %u is missing or damaged", k);
			bad = 1;
		}
	img_job_close(&j);
	return bad ? -1 : 0;
}

/* the newest good image among img, img.1 .. img.(CKPT_KEEP-1) into out, or "" */
static void pick_image(const char *img, char *out, size_t cap)
{
	const char *k = getenv("CKPT_KEEP");
	int keep = k && atoi(k) > 1 && atoi(k) <= 1000 ? atoi(k) : 2;
	char path[PATH_MAX], why[300];
	struct stat st;

	out[0] = 0;
	for (int i = 0; i < keep; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s", img);
		else
			snprintf(path, sizeof(path), "%s.%d", img, i);
		if (stat(path, &st)) {
			if (i == 0)
				note("%s: no image (%s)", path, strerror(errno));
			continue;
		}
		if ((img_job_is(path) ? verify_job : verify)(path, why, sizeof(why))) {
			note("%s: %s: skipped", path, why);
			continue;
		}
		if (i > 0)
			note("resuming from the previous image %s, not the newest", path);
		snprintf(out, cap, "%s", path);
		return;
	}
}

/* ---- the supervisor ---- */

static const int passed_on[] = { SIGTERM, SIGINT, SIGHUP };

/* `scontrol requeue JOBID`: its exit status, or -1 */
static int requeue(const char *job)
{
	int st;
	pid_t p = fork();

	if (p == 0) {
		execlp("scontrol", "scontrol", "requeue", job, (char *)NULL);
		note("scontrol: %s", strerror(errno));
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* has the final checkpoint's handler finished without stopping the program?
 * (pending: not yet in the handler; all blocked: in it, libckpt blocks every
 * signal while it writes; the kernel never shows 9, 19 blocked, glibc's
 * sigfillset leaves out 32, 33) */
static int handler_done(pid_t pid, int trigger)
{
	char path[64], buf[4096], *p;
	unsigned long long pnd = 0, shd = 0, blk = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	if ((p = strstr(buf, "\nState:\t")) && p[8] == 'T')
		return 0;
	if ((p = strstr(buf, "\nSigPnd:\t")))
		pnd = strtoull(p + 9, NULL, 16);
	if ((p = strstr(buf, "\nShdPnd:\t")))
		shd = strtoull(p + 9, NULL, 16);
	if ((p = strstr(buf, "\nSigBlk:\t")))
		blk = strtoull(p + 9, NULL, 16);
	return !((pnd | shd) & (1ull << (trigger - 1))) && (blk | 0x180040100ull) != ~0ull;
}

static int env_signal(const char *name, int dflt)
{
	const char *v = getenv(name);
	int s;

	if (!v || !*v)
		return dflt;
	s = ckpt_parse_signal(v);
	if (!s || s == SIGKILL || s == SIGSTOP) {
		note("%s=%s: not a signal that can be caught", name, v);
		return -1;
	}
	return s;
}

/* What the supervisor's steps share. */
struct slurm_job {
	char **argv;			/* PROGRAM and its arguments */
	const char *img;		/* CKPT_FILE */
	const char *job, *rc;		/* SLURM_JOB_ID, SLURM_RESTART_COUNT */
	int end_sig, trigger;		/* Slurm's warning, libckpt's trigger */
	char signame[16];		/* end_sig's name */
	char image[PATH_MAX];		/* the image to resume from, "" to start over */
	char rst[PATH_MAX];		/* the restorer */
	sigset_t set, old;		/* the signals waited for (blocked), the mask before */
	pid_t pid;			/* the program */
	int final;			/* the final checkpoint is being written */
	int finished;			/* no final checkpoint (any more): the program runs to its end */
	int done_polls;			/* polls in a row that found the trigger's handler done */
	int had_old;			/* an image was there at the warning: before */
	struct stat before;
	double t0;			/* when the warning came */
};

/* The warning and trigger signals (CKPT_SLURM_SIGNAL, CKPT_SIGNAL): 0 or -1. */
static int read_signals(struct slurm_job *j)
{
	j->end_sig = env_signal("CKPT_SLURM_SIGNAL", SIGUSR1);
	j->trigger = env_signal("CKPT_SIGNAL", SIGUSR2);
	if (j->end_sig < 0 || j->trigger < 0)
		return -1;
	if (j->end_sig == j->trigger) {
		note("CKPT_SLURM_SIGNAL and CKPT_SIGNAL are both signal %d: the job's warning must differ "
		     "from libckpt's trigger", j->end_sig);
		return -1;
	}
	snprintf(j->signame, sizeof(j->signame), "%d", j->end_sig);
	for (const struct ckpt_signame *s = ckpt_signames; s->name; s++)
		if (s->sig == j->end_sig)
			snprintf(j->signame, sizeof(j->signame), "SIG%s", s->name);
	return 0;
}

/* A requeued run: the image to resume from, if one is good and the restorer is there. */
static void choose_image(struct slurm_job *j, const char *self_dir)
{
	double t1;

	j->image[0] = 0;
	if (!j->rc || atoi(j->rc) <= 0)
		return;
	t1 = now_s();
	pick_image(j->img, j->image, sizeof(j->image));
	if (j->image[0])
		note("job %s restart %s: resuming from %s (checked in %.3f s)", j->job, j->rc, j->image, now_s() - t1);
	else
		note("job %s restart %s: no usable image: starting %s over", j->job, j->rc, j->argv[0]);
	snprintf(j->rst, sizeof(j->rst), "%s/restorer", self_dir);
	if (j->image[0] && access(j->rst, X_OK)) {
		note("%s: %s: starting %s over", j->rst, strerror(errno), j->argv[0]);
		j->image[0] = 0;
	}
}

/* The signals we wait for stay blocked; sigtimedwait takes them. */
static void block_signals(struct slurm_job *j)
{
	sigemptyset(&j->set);
	sigaddset(&j->set, j->end_sig);
	sigaddset(&j->set, SIGCHLD);
	for (size_t i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++)
		sigaddset(&j->set, passed_on[i]);
	sigprocmask(SIG_BLOCK, &j->set, &j->old);
}

/* A child that becomes the program: restored by the restorer, or PROGRAM
 * started.  0, or -1 (fork failed). */
static int start_program(struct slurm_job *j)
{
	j->pid = fork();
	if (j->pid < 0) {
		note("fork: %s", strerror(errno));
		return -1;
	}
	if (j->pid > 0)
		return 0;
	sigprocmask(SIG_SETMASK, &j->old, NULL);
	if (j->image[0]) {
		/* the restorer takes this process over: it becomes the program */
		char unpacked[64];
		const char *image = restorer_image(j->image, unpacked, sizeof(unpacked));

		if (!image)
			_exit(2);
		execl(j->rst, j->rst, "--", image, (char *)NULL);
		note("%s: %s", j->rst, strerror(errno));
		_exit(127);
	}
	execvp(j->argv[0], j->argv);
	note("%s: %s", j->argv[0], errno == ENOENT ? "command not found" : strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The final image is in place: requeue the job.  ckpt's exit status. */
static int requeue_job(const struct slurm_job *j)
{
	int s = requeue(j->job);

	if (s) {
		note("scontrol requeue %s failed (status %d): the image stays; `scontrol requeue "
		     "%s` resumes the job from it", j->job, s, j->job);
		return 1;
	}
	note("job %s requeued: the next run resumes from %s", j->job, j->img);
	return 0;
}

/* sig to every descendant of pid, the deepest first: a job's other
 * processes, which libckpt's final checkpoint of a job stops too */
static void signal_descendants(pid_t pid, int sig)
{
	static pid_t tree[4096];
	int n = 1;

	tree[0] = pid;
	for (int at = 0; at < n; at++) {
		char path[64];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)tree[at]);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d))) {
			char kids[64 + 256 + 16];
			FILE *f;
			long c;

			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			snprintf(kids, sizeof(kids), "/proc/%d/task/%s/children", (int)tree[at], de->d_name);
			if (!(f = fopen(kids, "r")))
				continue;
			while (n < (int)(sizeof(tree) / sizeof(tree[0])) && fscanf(f, "%ld", &c) == 1)
				tree[n++] = (pid_t)c;
			fclose(f);
		}
		closedir(d);
	}
	while (--n > 0)
		kill(tree[n], sig);
}

/* The program stopped: -1 to go on supervising, or ckpt's exit status.
 * libckpt stops the program only after the final image is in place: then
 * it is killed (before Slurm's SIGCONT could wake it) and the job requeued. */
static int on_stop(struct slurm_job *j, int status)
{
	struct stat st;
	double t1;

	if (!j->final || WSTOPSIG(status) != SIGSTOP)
		return -1;	/* stopped by someone else: theirs to continue */
	t1 = now_s();
	if (stat(j->img, &st) || (j->had_old && st.st_ino == j->before.st_ino && st.st_dev == j->before.st_dev)) {
		note("the program stopped, but %s is not a new image: letting it run on", j->img);
		signal_descendants(j->pid, SIGCONT);
		kill(j->pid, SIGCONT);
		j->final = 0;
		j->finished = 1;
		return -1;
	}
	signal_descendants(j->pid, SIGKILL);	/* a job: its other processes too */
	kill(j->pid, SIGKILL);
	waitpid(j->pid, &status, 0);
	note("job %s: checkpoint complete: %s, %lld bytes, %.3f s after %s", j->job, j->img,
	     (long long)st.st_size, t1 - j->t0, j->signame);
	return requeue_job(j);
}

/* The program ended: its exit status; a signal death is raised again on ckpt
 * itself, so that Slurm records it. */
static int end_like_program(const struct slurm_job *j, int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	signal(WTERMSIG(status), SIG_DFL);
	sigprocmask(SIG_SETMASK, &j->old, NULL);
	kill(getpid(), WTERMSIG(status));
	return 128 + WTERMSIG(status);
}

/* The final checkpoint's handler returned without stopping the program,
 * three polls in a row: the checkpoint failed. */
static void check_checkpoint_failed(struct slurm_job *j)
{
	j->done_polls = handler_done(j->pid, j->trigger) ? j->done_polls + 1 : 0;
	if (j->done_polls < 3)
		return;
	note("job %s: the checkpoint failed (libckpt says why above); the program runs "
	     "on until Slurm ends it; not requeued", j->job);
	j->final = 0;
	j->finished = 1;
}

/* Slurm's warning: trigger the final checkpoint (once). */
static void start_final_checkpoint(struct slurm_job *j)
{
	if (j->final || j->finished) {
		note("%s again: ignored, the final checkpoint is %s", j->signame,
		     j->final ? "being written" : "over");
		return;
	}
	j->had_old = !stat(j->img, &j->before);
	j->t0 = now_s();
	if (sigqueue(j->pid, j->trigger, (union sigval){ .sival_ptr = (void *)CKPT_FINAL_COOKIE })) {
		note("cannot signal the program (pid %d): %s", (int)j->pid, strerror(errno));
		j->finished = 1;
		return;
	}
	j->final = 1;
	j->done_polls = 0;
	note("job %s: %s: checkpointing to %s", j->job, j->signame, j->img);
}

/* A signal sigtimedwait took (or <= 0: none): the warning, or one to pass on. */
static void take_signal(struct slurm_job *j, int s)
{
	const char *name = s == SIGTERM ? "TERM" : s == SIGINT ? "INT" : "HUP";

	if (s == j->end_sig) {
		start_final_checkpoint(j);
	} else if (s > 0 && s != SIGCHLD && j->final) {
		/* the end came before the image: Slurm's SIGKILL decides */
		note("job %s: SIG%s while the final checkpoint is written: not passed on", j->job, name);
	} else if (s > 0 && s != SIGCHLD) {
		/* scancel (or an end with no warning): the program ends, no requeue */
		if (!j->finished)
			note("job %s: SIG%s: passed on to the program; no checkpoint, no requeue", j->job, name);
		j->finished = 1;
		kill(j->pid, s);
	}
}

/* Poll the program every 20 ms until it ends or the job is requeued: ckpt's exit status. */
static int supervise(struct slurm_job *j)
{
	for (;;) {
		struct timespec tick = { 0, 20 * 1000 * 1000 };
		siginfo_t si;
		int status, ret;
		pid_t r = waitpid(j->pid, &status, WNOHANG | WUNTRACED);

		if (r == j->pid && WIFSTOPPED(status)) {
			if ((ret = on_stop(j, status)) >= 0)
				return ret;
			continue;
		}
		if (r == j->pid)
			return end_like_program(j, status);
		if (j->final)
			check_checkpoint_failed(j);
		take_signal(j, sigtimedwait(&j->set, &si, &tick));
	}
}

int ckpt_slurm_run(char **argv, const char *img, const char *self_dir)
{
	static struct slurm_job j;

	j.argv = argv;
	j.img = img;
	j.job = getenv("SLURM_JOB_ID");
	j.rc = getenv("SLURM_RESTART_COUNT");
	if (read_signals(&j))
		return 2;
	choose_image(&j, self_dir);
	block_signals(&j);
	if (start_program(&j))
		return 1;
	return supervise(&j);
}
