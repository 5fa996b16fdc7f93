/* write.c -- what every writer of an image does the same way: place the page
 * data and the descriptors' stored bytes after the tables, seal the header
 * with its checksums, and make the file appear at its path only when complete
 * (written beside it under a fresh name, fsync'd, renamed over, the directory
 * fsync'd).  Used by libckpt (capture/dump.c, in a signal handler: raw
 * syscalls only) and by `ckpt merge`.  Not part of the restorer.
 */
#include "image.h"
#include "ckpt_sys.h"

/* n bytes at off of fd, by pread (nr __NR_pread64) or pwrite, through EINTR
 * and short counts: 0, or -errno (nothing moved: -EIO).  In pieces of at
 * most 1 GiB. */
static int io_all(long nr, int fd, uint8_t *p, uint64_t n, uint64_t off)
{
	while (n) {
		long r = SC4(nr, fd, p, n > (1u << 30) ? (1u << 30) : n, off);

		if (r == -4)
			continue;
		if (sys_failed(r) || r == 0)
			return r ? (int)r : -5;
		p += r, off += r, n -= r;
	}
	return 0;
}

int img_pwrite_all(int fd, const void *buf, uint64_t n, uint64_t off)
{
	return io_all(__NR_pwrite64, fd, (uint8_t *)buf, n, off);
}

int img_pread_all(int fd, void *buf, uint64_t n, uint64_t off)
{
	return io_all(__NR_pread64, fd, buf, n, off);
}

/* From h->data_off on: each run's pages in run order (a run whose data_off
 * is IMG_NO_DATA stores nothing and gets 0), then each descriptor's bytes,
 * then, when h->vdso_data_off is not 0 on entry (the writer stores them),
 * the vdso_size bytes of the [vdso].  Sets data_size and file_size. */
void img_place_data(struct ckpt_hdr *h, struct ckpt_run *runs, struct ckpt_fd *fds)
{
	uint64_t off = h->data_off;

	for (uint32_t i = 0; i < h->nruns; i++) {
		if (runs[i].data_off == IMG_NO_DATA) {
			runs[i].data_off = 0;
			runs[i].crc = 0;
			continue;
		}
		runs[i].data_off = off;
		off += runs[i].npages * CKPT_PAGE_SIZE;
	}
	for (uint32_t i = 0; i < h->nfds; i++) {
		fds[i].data_off = fds[i].data_len ? off : 0;
		off += fds[i].data_len;
	}
	if (h->vdso_data_off && h->vdso_size) {
		h->vdso_data_off = off;
		off += h->vdso_size;
	} else {
		h->vdso_data_off = 0;
	}
	h->data_size = off - h->data_off;
	h->file_size = off;
}

/* The tables' checksum goes in, then the header's own over its 4096 bytes
 * with hdr_crc zero. */
void img_seal(struct ckpt_hdr *h, uint32_t tables_crc)
{
	h->tables_crc = tables_crc;
	h->hdr_crc = 0;
	__asm__ volatile("" : : "r"(h) : "memory");	/* the stores land before the crc reads them */
	h->hdr_crc = ckpt_crc32c(0, h, sizeof(*h));
}

/* A fresh file beside path that nobody else can have made, named after its
 * writer: ".NAME.tmp.PID.START.RANDOM" in path's directory (START: the
 * writer's start time in /proc/PID/stat, so a stale one can be told from a
 * live one), O_EXCL | O_NOFOLLOW, mode 0600 whatever the umask.  Its name
 * goes to tmp.  The descriptor, or -errno. */
long img_create_beside(const char *path, char *tmp, size_t cap, int pid, uint64_t started)
{
	const char *slash = path;
	uint64_t rnd = 0;
	size_t n;
	long fd;

	for (const char *s = path; *s; s++)
		if (*s == '/')
			slash = s + 1;
	sys_getrandom(&rnd, sizeof(rnd));
	n = img_fmt(tmp, cap, "%s", path);
	if (n + 80 >= cap)
		return -36;			/* ENAMETOOLONG */
	img_fmt(tmp + (slash - path), cap - (size_t)(slash - path), ".%s.tmp.%d.%lu.%lx", slash, pid, started, rnd);
	fd = sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!sys_failed(fd))
		sys_fchmod((int)fd, 0600);
	return fd;
}

/* After a rename to path: make the rename itself durable. */
void img_sync_dir(const char *path)
{
	char dir[4096];
	size_t end = 0;
	long fd;

	for (size_t i = 0; path[i]; i++)
		if (path[i] == '/')
			end = i;		/* the last slash */
	if (end >= sizeof(dir))
		return;
	memcpy(dir, path, end);
	dir[end] = 0;
	if (path[end] != '/')
		dir[0] = '.', dir[1] = 0;	/* no slash: the current directory */
	else if (end == 0)
		dir[0] = '/', dir[1] = 0;
	fd = sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (!sys_failed(fd)) {
		sys_fsync((int)fd);
		sys_close((int)fd);
	}
}
