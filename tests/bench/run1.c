/* run1.c -- one benchmark run: checkpoint the workload once, restore the image
 * eagerly and lazily, and measure the machine on the same bytes in the same
 * run.  tests/bench/bench.sh runs it several times per size and takes medians.
 *
 *   run1 dense|sparse|text BYTES DIR ROOT [THREADS]
 *     DIR   scratch directory (the image and the baseline file go there, so
 *           both sit on the same filesystem); left empty afterwards
 *     ROOT  where libckpt.so and restorer are (bench.sh: a copy in bench-out/bin);
 *           the workload is DIR/../bin/work
 *     THREADS  threads of the workload (default 1; see work.c)
 *   BENCH_COMPRESS=1: the workload runs with CKPT_COMPRESS=zstd, the restores
 *   are `ckpt restore [--lazy] IMAGE` (ROOT/ckpt: it unpacks the image into
 *   memory first), and mode is printed as MODE+zstd
 *
 * Prints one line of key=value on stdout (times in ns, sizes in bytes):
 *   mode bytes threads           the arguments
 *   from work (its own memory): fill_ns sum_ns fork_ns fork_cold_ns memcpy_ns
 *                                written
 *   pause_ns other_gap_ns        the program's pause (see work.c)
 *   thr_pause_ns                 the longest pause of its other threads
 *   ckpt_ns                      SIGUSR2 sent -> new image renamed into place
 *                                (inotify IN_MOVED_TO on DIR)
 *   img_size img_disk            st_size, st_blocks * 512
 *   eager_run_ns eager_ver_ns    fork+exec of `restorer IMAGE` -> the program
 *   lazy_run_ns lazy_ver_ns      runs again / has summed all its memory; the
 *                                same with `restorer --lazy IMAGE`
 *   write_ns                     write() + fsync of the written bytes (the same
 *                                generator, the same bytes) to a new file in DIR
 *   read_ns                      read() of that file into fresh mmap'd memory,
 *                                page cache warm (as the image is at restore)
 *   read_cold_ns                 the same after echo 1 > drop_caches (root), or
 *                                -1, with drop_note=why on stderr
 * Exit 0, or 1 with the reason on stderr; every process it started is gone
 * by then (it is a child subreaper, so libckpt's writer comes back to it too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "gen.h"

#define TIMEOUT_MS	180000

static const char *dir, *root, *mode, *threads = "1";
static char image[PATH_MAX], base[PATH_MAX], work_bin[PATH_MAX], restorer[PATH_MAX], ckpt_cmd[PATH_MAX];
static int compress;			/* BENCH_COMPRESS=1 */
static pid_t kids[4];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* kill what we started, reap everything (the writer too: subreaper, __WALL) */
static void cleanup(void)
{
	for (unsigned i = 0; i < sizeof kids / sizeof kids[0]; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	unlink(image);
	unlink(base);
}

/* SIGINT, SIGTERM (make bench interrupted): leave nothing behind */
static void on_stop(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	va_list ap;
	char b[512];
	int n;

	va_start(ap, fmt);
	n = snprintf(b, sizeof b, "run1: %s: ", mode);
	n += vsnprintf(b + n, sizeof b - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof b - 2)
		n = sizeof b - 2;
	b[n++] = '\n';
	if (write(2, b, n) < 0)
		n = 0;
	cleanup();
	exit(1);
}

static void track(pid_t p, int on)
{
	for (unsigned i = 0; i < sizeof kids / sizeof kids[0]; i++)
		if (on ? kids[i] == 0 : kids[i] == p) {
			kids[i] = on ? p : 0;
			return;
		}
}

/* wait for pid, TIMEOUT_MS at most; returns the wait status */
static int reap(pid_t pid, const char *who)
{
	int st;

	for (int waited = 0; waited < TIMEOUT_MS; waited += 1) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			track(pid, 0);
			return st;
		}
		if (r < 0 && errno != EINTR)
			fatal("waitpid %s: %s", who, strerror(errno));
		usleep(1000);
	}
	fatal("%s (pid %d) still running after %d s", who, pid, TIMEOUT_MS / 1000);
}

static void read_result(pid_t pid, char *buf, size_t n)
{
	char path[PATH_MAX];
	int fd;
	ssize_t r;

	snprintf(path, sizeof path, "%s/res.%d", dir, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("no result from pid %d (%s): %s", pid, path, strerror(errno));
	r = read(fd, buf, n - 1);
	close(fd);
	unlink(path);
	buf[r > 0 ? r : 0] = 0;
}

/* "key=123" in s, or fatal */
static uint64_t field(const char *s, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = s; (p = strstr(p, key)); p += k)
		if ((p == s || p[-1] == ' ') && p[k] == '=')
			return strtoull(p + k + 1, NULL, 10);
	fatal("no %s in \"%s\"", key, s);
}

static pid_t start_work(size_t bytes, int *rfd)
{
	int pfd[2];
	pid_t p;

	if (pipe(pfd))
		fatal("pipe: %s", strerror(errno));
	p = fork();
	if (p < 0)
		fatal("fork: %s", strerror(errno));
	if (p == 0) {
		char lib[PATH_MAX], b[32], f[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* only 0, 1, 2 and the pipe (as 3): anything else we inherited
		 * would be in the image, and a pipe to a stranger is refused */
		if (dup2(pfd[1], 3) < 0 || syscall(436 /* close_range */, 4, ~0u, 0))
			_exit(126);
		if (chdir(dir))
			_exit(126);
		snprintf(lib, sizeof lib, "%s/libckpt.so", root);
		snprintf(b, sizeof b, "%zu", bytes);
		snprintf(f, sizeof f, "%d", 3);
		setenv("LD_PRELOAD", lib, 1);
		setenv("CKPT_FILE", image, 1);
		if (compress)
			setenv("CKPT_COMPRESS", "zstd", 1);
		execl(work_bin, "work", mode, b, f, threads, (char *)NULL);
		_exit(126);
	}
	close(pfd[1]);
	track(p, 1);
	*rfd = pfd[0];
	return p;
}

/* restorer [--lazy] IMAGE; returns when the restored program has exited */
static void restore(int lazy, uint64_t *run_ns, uint64_t *ver_ns)
{
	char res[256];
	uint64_t t0;
	pid_t p;
	int st;

	t0 = now_ns();
	p = fork();
	if (p < 0)
		fatal("fork: %s", strerror(errno));
	if (p == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		if (compress)
			execl(ckpt_cmd, "ckpt", "restore", lazy ? "--lazy" : "--", image, (char *)NULL);
		else if (lazy)
			execl(restorer, "restorer", "--lazy", image, (char *)NULL);
		else
			execl(restorer, "restorer", image, (char *)NULL);
		_exit(126);
	}
	track(p, 1);
	st = reap(p, lazy ? "lazily restored program" : "restored program");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fatal("%s restore: the program %s %d", lazy ? "lazy" : "eager",
		      WIFEXITED(st) ? "exited" : "was killed by signal",
		      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	read_result(p, res, sizeof res);
	if (!field(res, "ok"))
		fatal("%s restore: memory sum differs after restore", lazy ? "lazy" : "eager");
	*run_ns = field(res, "run_ns") - t0;
	*ver_ns = field(res, "ver_ns") - t0;
}

/* ---- baselines: the machine on the same bytes ---- */

static void *fresh(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap %zu: %s", n, strerror(errno));
	return p;
}

/* the writer's way: few large writes (at most 1 GiB each, as libckpt's) */
static uint64_t time_write(const char *path, const uint8_t *buf, size_t n)
{
	uint64_t t0 = now_ns();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fatal("create %s: %s", path, strerror(errno));
	for (size_t done = 0; done < n; ) {
		ssize_t r = write(fd, buf + done, n - done > (1ul << 30) ? (1ul << 30) : n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fatal("write %s: %s", path, strerror(errno));
		done += r;
	}
	if (fsync(fd))
		fatal("fsync %s: %s", path, strerror(errno));
	close(fd);
	return now_ns() - t0;
}

static uint64_t time_read(const char *path, size_t n)
{
	uint8_t *buf = fresh(n);
	uint64_t t0 = now_ns(), t;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	for (size_t done = 0; done < n; ) {
		ssize_t r = read(fd, buf + done, n - done > (1ul << 30) ? (1ul << 30) : n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fatal("read %s: %s", path, r ? strerror(errno) : "short file");
		done += r;
	}
	close(fd);
	t = now_ns() - t0;
	munmap(buf, n);
	return t;
}

/* 1 if the page cache was dropped, else 0 with *why set */
static int drop_caches(const char **why)
{
	int fd;

	if (geteuid() != 0) {
		*why = "not root";
		return 0;
	}
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return 0;
	}
	if (write(fd, "1", 1) != 1) {
		*why = strerror(errno);
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	char wl[512], res[256];
	uint64_t t_sig, t_sent, ckpt_ns, er, ev, lr, lv, wr, rd, rc = (uint64_t)-1;
	size_t bytes, written;
	const char *why = "";
	struct stat st;
	uint8_t *buf;
	int rfd, ifd, wst;
	ssize_t n, len = 0;
	pid_t w;

	if ((argc != 5 && argc != 6) || (strcmp(argv[1], "dense") && strcmp(argv[1], "sparse") &&
					  strcmp(argv[1], "text"))) {
		fprintf(stderr, "usage: run1 dense|sparse|text BYTES DIR ROOT [THREADS]\n");
		return 2;
	}
	mode = argv[1];
	if (argc == 6)
		threads = argv[5];
	bytes = strtoull(argv[2], NULL, 0);
	dir = argv[3];
	root = argv[4];
	snprintf(image, sizeof image, "%s/img", dir);
	snprintf(base, sizeof base, "%s/baseline", dir);
	snprintf(work_bin, sizeof work_bin, "%s/../bin/work", dir);
	snprintf(restorer, sizeof restorer, "%s/restorer", root);
	snprintf(ckpt_cmd, sizeof ckpt_cmd, "%s/ckpt", root);
	compress = getenv("BENCH_COMPRESS") && !strcmp(getenv("BENCH_COMPRESS"), "1");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGHUP, on_stop);
	unlink(image);

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, dir, IN_MOVED_TO) < 0)
		fatal("inotify on %s: %s", dir, strerror(errno));

	/* 1. the workload: fill, measure fork and memcpy, then spin */
	w = start_work(bytes, &rfd);
	while ((n = read(rfd, wl + len, sizeof wl - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("read from work: %s", strerror(errno));
		len += n;
	}
	close(rfd);
	wl[len] = 0;
	if (!strchr(wl, '\n')) {
		reap(w, "work");
		fatal("work ended before it was ready (see above)");
	}
	*strchr(wl, '\n') = 0;
	written = field(wl, "written");

	/* 2. checkpoint: SIGUSR2 -> IN_MOVED_TO "img"; work learns the send
	 * time first and when kill() returned after (see work.c: it picks its
	 * pause by them) */
	{
		struct iovec l = { &t_sig, sizeof t_sig };
		struct iovec r = { (void *)(uintptr_t)field(wl, "addr"), sizeof t_sig };
		struct iovec r1 = { (void *)(uintptr_t)(field(wl, "addr") + 8), sizeof t_sent };
		struct iovec l1 = { &t_sent, sizeof t_sent };

		/* twice: the first write takes the copy-on-write fault (and its TLB
		 * flush, a gap in work's spin) before the send time */
		t_sig = 0;
		if (process_vm_writev(w, &l, 1, &r, 1, 0) != sizeof t_sig)
			fatal("process_vm_writev to work: %s", strerror(errno));
		usleep(1000);
		t_sig = now_ns();
		if (process_vm_writev(w, &l, 1, &r, 1, 0) != sizeof t_sig)
			fatal("process_vm_writev to work: %s", strerror(errno));
		if (kill(w, SIGUSR2))
			fatal("kill SIGUSR2: %s", strerror(errno));
		t_sent = now_ns();
		if (process_vm_writev(w, &l1, 1, &r1, 1, 0) != sizeof t_sent)
			fatal("process_vm_writev to work: %s", strerror(errno));
	}
	for (;;) {
		char ev_buf[4096] __attribute__((aligned(8)));
		struct pollfd pf = { ifd, POLLIN, 0 };
		int got = 0;

		if (poll(&pf, 1, TIMEOUT_MS) <= 0)
			fatal("no image at %s after %d s", image, TIMEOUT_MS / 1000);
		n = read(ifd, ev_buf, sizeof ev_buf);
		for (ssize_t off = 0; n > 0 && off < n; ) {
			struct inotify_event *e = (struct inotify_event *)(ev_buf + off);

			if (e->len && !strcmp(e->name, "img"))
				got = 1;
			off += sizeof *e + e->len;
		}
		if (got)
			break;
	}
	ckpt_ns = now_ns() - t_sig;
	close(ifd);
	if (stat(image, &st))
		fatal("stat %s: %s", image, strerror(errno));

	/* 3. the original stops; its pause */
	if (kill(w, SIGUSR1))
		fatal("kill SIGUSR1: %s", strerror(errno));
	wst = reap(w, "work");
	if (!WIFEXITED(wst) || WEXITSTATUS(wst))
		fatal("the original program %s %d after its checkpoint",
		      WIFEXITED(wst) ? "exited" : "was killed by signal",
		      WIFEXITED(wst) ? WEXITSTATUS(wst) : WTERMSIG(wst));
	read_result(w, res, sizeof res);
	*strchr(res, '\n') = 0;
	while (waitpid(-1, NULL, __WALL) > 0)	/* libckpt's writer, reparented to us */
		;

	/* 4. restores */
	restore(0, &er, &ev);
	restore(1, &lr, &lv);
	unlink(image);

	/* 5. the machine on the same bytes */
	buf = fresh(written);
	if (!strcmp(mode, "text")) {
		fill_text(buf, written, 1);
	} else if (!strcmp(mode, "dense")) {
		for (size_t i = 0; i < written / 8; i++)
			((uint64_t *)buf)[i] = mix(1 + i);
	} else {
		for (size_t i = 0; i < written / 8; i++)
			((uint64_t *)buf)[i] = mix(1 + i * 8);	/* written pieces: as random */
	}
	wr = time_write(base, buf, written);
	munmap(buf, written);
	rd = time_read(base, written);
	if (drop_caches(&why))
		rc = time_read(base, written);
	else
		fprintf(stderr, "run1: cold read skipped: drop_caches: %s\n", why);
	unlink(base);

	printf("mode=%s%s bytes=%zu threads=%s %s %s ckpt_ns=%llu img_size=%lld img_disk=%lld "
	       "eager_run_ns=%llu eager_ver_ns=%llu lazy_run_ns=%llu lazy_ver_ns=%llu "
	       "write_ns=%llu read_ns=%llu read_cold_ns=%lld\n",
	       mode, compress ? "+zstd" : "", bytes, threads, wl, res, (unsigned long long)ckpt_ns, (long long)st.st_size,
	       (long long)st.st_blocks * 512, (unsigned long long)er, (unsigned long long)ev,
	       (unsigned long long)lr, (unsigned long long)lv, (unsigned long long)wr,
	       (unsigned long long)rd, (long long)rc);
	return 0;
}
