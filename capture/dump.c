/* dump.c -- lay out and write one image (include/ckpt_image.h).
 *
 * Order: page data first (each run's crc is computed on the way), then the
 * tables, then the header, all into a fresh private file beside the target;
 * fsync, rename over the target, fsync the directory.  A reader never sees a
 * partial image, and a failure leaves the previous image as it was.
 */
#include "cap.h"

static struct ckpt_hdr hdr CAP_COLD;
static const uint8_t zeros[4096];

static int write_at(int fd, const void *buf, uint64_t n, uint64_t off)
{
	if (cap_zip_active())		/* CKPT_COMPRESS: a frame of the container */
		return cap_zip_write(buf, n, off);
	return img_pwrite_all(fd, buf, n, off);
}

/* write `len` bytes of table at *off, extend the running crc */
static int put(int fd, uint64_t *off, uint32_t *crc, const void *p, uint64_t len)
{
	int r = write_at(fd, p, len, *off);

	*crc = ckpt_crc32c(*crc, p, len);
	*off += len;
	return r;
}

static int put_zeros(int fd, uint64_t *off, uint32_t *crc, uint64_t len)
{
	while (len) {
		uint64_t n = len > sizeof(zeros) ? sizeof(zeros) : len;
		int r = put(fd, off, crc, zeros, n);

		if (r)
			return r;
		len -= n;
	}
	return 0;
}

/* A run goes through a bounce buffer (read with /proc/self/mem) when it is
 * unreadable (PROT_NONE, exec-only: /proc/self/mem ignores protections), maps
 * a deleted file (past the file's end /proc/self/mem answers EIO where a load
 * would raise SIGBUS: those pages are stored as zeros), is shared memory (the
 * fork does not freeze it: the program, or another process, writes it while
 * we do), is written meanwhile by a thread of the process or by the kernel on
 * its behalf (find_moving), or is kept by a uffd snapshot (snap.c: a page the
 * program has written since is taken from its copy): the crc is of the bytes
 * written. */
static int needs_bounce(const struct ckpt_run *run, const struct ckpt_vma *v)
{
	return cap_snap_covers(run->vma) || !(v->prot & PROT_READ) || v->kind == CKPT_VMA_GONE ||
	       (v->flags & (CKPT_MAP_COPIED | CKPT_MAP_SHARED)) || cap_from_parent(run->vma) ||
	       (ckpt_scratch.moving[run->vma / 8] & (1u << (run->vma % 8)));
}

/* the regions overlapping [lo, hi) are marked moving */
static void mark_moving(uint32_t nvmas, uint64_t lo, uint64_t hi)
{
	uint32_t first = 0, n = nvmas;

	while (n) {				/* the regions are in address order: the */
		uint32_t half = n / 2;		/* first one that ends above lo */

		if (ckpt_scratch.vmas[first + half].end <= lo) {
			first += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	for (uint32_t i = first; i < nvmas && ckpt_scratch.vmas[i].start < hi; i++)
		ckpt_scratch.moving[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Page data goes to the file in order: once 8 MiB have been written since the
 * last time, start their writeback, so the disk works while we go on. */

static void start_writeback(int fd, uint64_t written_to)
{
	if (written_to - ckpt_scratch.synced_to < (8u << 20) || cap_data_out || cap_zip_active())
		return;			/* (in place, the program waits: writeback starts after;
					 * compressed, zip.c starts it on the frames) */
	SC4(__NR_sync_file_range, fd, ckpt_scratch.synced_to, written_to - ckpt_scratch.synced_to,
	    2 /* SYNC_FILE_RANGE_WRITE */);
	ckpt_scratch.synced_to = written_to;
}

/* Small runs (a sparse heap: thousands of them) are summed at once and written
 * with one pwritev per 1024: they lie back to back in the file. */
#define SMALL_RUN_PAGES	16

static int flush_gathered(int fd)
{
	uint64_t off = ckpt_scratch.gathered_off, left = ckpt_scratch.gathered_len;
	uint32_t i = 0;

	if (cap_zip_active()) {			/* into the frame being filled */
		int err = 0;

		for (; i < ckpt_scratch.ngathered && !err; i++) {
			err = cap_zip_write((const void *)ckpt_scratch.gathered[i].base, ckpt_scratch.gathered[i].len, off);
			off += ckpt_scratch.gathered[i].len;
		}
		ckpt_scratch.ngathered = 0;
		ckpt_scratch.gathered_len = 0;
		return err;
	}
	while (left) {
		long r = SC4(__NR_pwritev, fd, &ckpt_scratch.gathered[i], ckpt_scratch.ngathered - i, off);

		if (r == -4)
			continue;
		if (sys_failed(r) || r == 0) {
			ckpt_scratch.ngathered = 0;
			ckpt_scratch.gathered_len = 0;
			return r ? (int)r : -5;
		}
		off += r, left -= r;
		while (r && i < ckpt_scratch.ngathered) {	/* step over what went out */
			uint64_t k = (uint64_t)r < ckpt_scratch.gathered[i].len ? (uint64_t)r : ckpt_scratch.gathered[i].len;

			ckpt_scratch.gathered[i].base += k, ckpt_scratch.gathered[i].len -= k, r -= k;
			if (!ckpt_scratch.gathered[i].len)
				i++;
		}
	}
	start_writeback(fd, ckpt_scratch.gathered_off + ckpt_scratch.gathered_len);
	ckpt_scratch.ngathered = 0;
	ckpt_scratch.gathered_len = 0;
	return 0;
}

static int gather_run(int fd, struct ckpt_run *run)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE;

	if (ckpt_scratch.ngathered == sizeof(ckpt_scratch.gathered) / sizeof(ckpt_scratch.gathered[0])) {
		int err = flush_gathered(fd);

		if (err)
			return err;
	}
	if (!ckpt_scratch.ngathered)
		ckpt_scratch.gathered_off = run->data_off;
	run->crc = ckpt_crc32c(0, (const void *)run->addr, len);
	ckpt_scratch.gathered[ckpt_scratch.ngathered].base = run->addr;
	ckpt_scratch.gathered[ckpt_scratch.ngathered++].len = len;
	ckpt_scratch.gathered_len += len;
	return 0;
}

/* bounce: read through memfd (/proc/PID/mem), for the reasons above or
 * because reading in place is slow here (cap_touch_slow) */
static int write_run(int fd, int memfd, struct ckpt_run *run, int bounce)
{
	uint64_t len = run->npages * CKPT_PAGE_SIZE;
	uint32_t crc = 0;
	int snapped = cap_snap_covers(run->vma);	/* (then bounce is set) */

	if (!bounce && cap_zip_active())
		return cap_zip_run(run, len);	/* the compressors read the pages and take the crc */
	if (!bounce) {
		/* 8 MiB at a time: crc while the piece is in cache, then write it */
		for (uint64_t done = 0; done < len; ) {
			uint64_t n = len - done > (8u << 20) ? (8u << 20) : len - done;
			int w;

			crc = ckpt_crc32c(crc, (const void *)(run->addr + done), n);
			w = write_at(fd, (const void *)(run->addr + done), n, run->data_off + done);
			if (w)
				return w;
			done += n;
			start_writeback(fd, run->data_off + done);
		}
		run->crc = crc;
		return 0;
	}
	for (uint64_t done = 0; done < len; ) {
		uint64_t n = len - done > CAP_IOBUF ? CAP_IOBUF : len - done;
		long r = sys_pread(memfd, ckpt_scratch.iobuf, n, run->addr + done);
		int w;

		if (r == -5 || r == 0) {	/* EIO: past the file's end */
			n = CKPT_PAGE_SIZE;
			memset(ckpt_scratch.iobuf, 0, n);
			if (snapped)		/* (or, protected memory: unmapped) */
				cap_snap_gone(run->vma, run->addr + done);
		} else if (sys_failed(r)) {
			return (int)r;
		} else {
			n = (uint64_t)r & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
			if (!n) {
				n = CKPT_PAGE_SIZE;
				memset(ckpt_scratch.iobuf + r, 0, n - r);
			}
		}
		if (snapped)
			cap_snap_claim(run->vma, run->addr + done, (uint8_t *)ckpt_scratch.iobuf, n);
		crc = ckpt_crc32c(crc, ckpt_scratch.iobuf, n);
		w = write_at(fd, ckpt_scratch.iobuf, n, run->data_off + done);
		if (w)
			return w;
		if (snapped)
			cap_snap_written(run->vma, run->addr + done, n);
		done += n;
		start_writeback(fd, run->data_off + done);
	}
	run->crc = crc;
	return 0;
}

/* A descriptor's stored bytes: buffered pipe bytes, epoll or inotify watches, a terminal's mode, a socket's
 * address or a UNIX pair end's queue (taken at collection time), or the whole content
 * of a memfd or deleted file, read from the descriptor. */
static int write_fd_data(int fd, struct ckpt_fd *f)
{
	uint32_t crc = 0;
	int err = 0, src = f->fd;

	if (!f->data_len)
		return 0;
	switch (f->kind) {		/* bytes the capture put in fdbuf: where */
	case CKPT_FD_SOCKET: case CKPT_FD_NETLINK: case CKPT_FD_INOTIFY: case CKPT_FD_CHR: case CKPT_FD_PTY:
	case CKPT_FD_FANOTIFY: case CKPT_FD_USERFAULTFD: {
		const char *bytes = ckpt_scratch.fdbuf + f->pos;

		f->pos = 0;			/* (it held the place in fdbuf) */
		f->data_crc = ckpt_crc32c(0, bytes, f->data_len);
		return write_at(fd, bytes, f->data_len, f->data_off);
	}
	case CKPT_FD_PIPE: case CKPT_FD_FIFO: case CKPT_FD_EPOLL: case CKPT_FD_UNIX_PAIR:
		f->data_crc = ckpt_crc32c(0, ckpt_scratch.fdbuf + f->aux[1], f->data_len);
		return write_at(fd, ckpt_scratch.fdbuf + f->aux[1], f->data_len, f->data_off);
	}
	if ((f->flags & 3) == O_WRONLY) {	/* read it through a second opening */
		char link[64];

		img_fmt(link, sizeof(link), "/proc/self/fd/%d", f->fd);
		src = (int)sys_open(link, O_RDONLY | O_CLOEXEC, 0);
		if (sys_failed(src))
			return src;
	}
	for (uint64_t done = 0; done < f->data_len; ) {
		uint64_t n = f->data_len - done > CAP_IOBUF ? CAP_IOBUF : f->data_len - done;
		long r = sys_pread(src, ckpt_scratch.iobuf, n, (int64_t)done);

		if (sys_failed(r)) {
			if (src != f->fd)
				sys_close(src);
			return (int)r;
		}
		if (r == 0) {			/* shrank meanwhile: zeros */
			memset(ckpt_scratch.iobuf, 0, n);
			r = (long)n;
		}
		crc = ckpt_crc32c(crc, ckpt_scratch.iobuf, r);
		err = write_at(fd, ckpt_scratch.iobuf, r, f->data_off + done);
		if (err)
			break;
		done += r;
	}
	if (src != f->fd)
		sys_close(src);
	f->data_crc = crc;
	return err;
}

static int write_image(struct cap_walk *wp, struct cap_state *st, const char *path, int target_fd);

/* "<path>.<first 8 bytes of the id in hex>": an image of a chain.  In a job,
 * where path is this checkpoint's ".NAME.JOBID.PID" and the id a job's id:
 * the same name with that job's id, the image of this process it wrote. */
void cap_chain_name(char *out, size_t cap, const char *path, const uint8_t *id)
{
	size_t n = img_fmt(out, cap, "%s.", path);
	char *dot;

	if (ckpt_job.role) {
		out[n - 1] = 0;			/* the path as it is */
		dot = strrchr(out, '.');	/* before the pid; the job's id before it */
		if (dot && dot - out >= 17 && dot[-17] == '.')
			cap_hex(dot - 16, id, 8);
		return;
	}
	if (n + 16 < cap) {
		cap_hex(out + n, id, 8);
		out[n + 16] = 0;
	}
}

/* CKPT_KEEP=N: before the new image takes the name, the one there becomes
 * path.1, path.1 becomes path.2 ... up to path.N-1; the oldest goes.  Each
 * step leaves every kept name on a complete image. */
static void rotate(const char *path)
{
	char from[4200], to[4200];

	if (ckpt_cfg.keep < 2)
		return;
	for (int k = ckpt_cfg.keep - 1; k >= 2; k--) {
		img_fmt(from, sizeof(from), "%s.%d", path, k - 1);
		img_fmt(to, sizeof(to), "%s.%d", path, k);
		sys_rename(from, to);
	}
	img_fmt(to, sizeof(to), "%s.1", path);
	sys_unlink(to);
	SC5(__NR_linkat, AT_FDCWD, path, AT_FDCWD, to, 0);
}

static void fill_header(const struct cap_walk *w, const struct cap_state *st)
{
	struct { char f[6][65]; } uts;

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = CKPT_MAGIC;
	hdr.version = CKPT_VERSION;
	hdr.hdr_size = CKPT_HDR_SIZE;
	hdr.page_size = CKPT_PAGE_SIZE;
	hdr.xsave_size = ckpt_cfg.xsave_size;
	hdr.xcr0 = ckpt_cfg.xcr0;
	hdr.hwcap2 = ckpt_cfg.hwcap2;
	hdr.cpuid1_ecx = ckpt_cfg.cpuid1_ecx;
	hdr.cpuid1_edx = ckpt_cfg.cpuid1_edx;
	hdr.cpuid7_ebx = ckpt_cfg.cpuid7_ebx;
	hdr.cpuid7_ecx = ckpt_cfg.cpuid7_ecx;
	hdr.cpuid7_edx = ckpt_cfg.cpuid7_edx;
	memcpy(hdr.cpu_vendor, ckpt_cfg.cpu_vendor, sizeof(hdr.cpu_vendor));
	hdr.cpu_level = (uint8_t)ckpt_cfg.cpu_level;
	if (w->vdso_end) {
		hdr.vdso_size = w->vdso_end - w->vdso_start;
		hdr.vdso_crc = ckpt_crc32c(0, (const void *)w->vdso_start, hdr.vdso_size);
		hdr.vdso_data_off = 1;	/* stored: img_place_data gives it its place */
	}
	hdr.vvar_size = w->vvar_size;
	hdr.vvar_vclock_size = w->vvar_vclock_size;
	if (!sys_failed(SC1(__NR_uname, &uts)))
		memcpy(hdr.kernel, uts.f[2], sizeof(hdr.kernel) - 1);
	memcpy(hdr.program, st->proc.comm, sizeof(st->proc.comm));
	memcpy(hdr.image_id, w->image_id, sizeof(hdr.image_id));
	if (w->incremental) {
		memcpy(hdr.parent_id, w->parent_id, sizeof(hdr.parent_id));
		hdr.depth = w->depth;
		memcpy(hdr.parent_name, w->parent_name, sizeof(hdr.parent_name));
	}
	hdr.created_ns = (uint64_t)w->real_ns;
	hdr.clock_mono_ns = w->mono_ns;
	hdr.clock_boot_ns = w->boot_ns;
	if (ckpt_job.role) {			/* one process of a job (job.c) */
		hdr.flags |= CKPT_HDR_JOB_MEMBER;
		memcpy(hdr.job_id, ckpt_job.job_id, sizeof(hdr.job_id));
	}
}

/* The clocks as this process sees them (its time namespace's), read one after
 * the other with the timers' remaining times: a restorer that continues
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME from these keeps the timers' deadlines
 * where they were on those clocks. */
static void read_clocks(struct cap_walk *w)
{
	struct ksys_timespec t;

	sys_clock_gettime(0, &t);		/* CLOCK_REALTIME */
	w->real_ns = t.tv_sec * 1000000000ll + t.tv_nsec;
	sys_clock_gettime(1, &t);		/* CLOCK_MONOTONIC */
	w->mono_ns = t.tv_sec * 1000000000ll + t.tv_nsec;
	sys_clock_gettime(7, &t);		/* CLOCK_BOOTTIME */
	w->boot_ns = t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* Memory tagged with a protection key is out of reach of a signal handler:
 * the kernel enters handlers with PKRU at its default, which allows key 0
 * only.  Open every key while the image is taken; sigreturn puts the
 * program's PKRU back. */
static uint32_t pkru_open_all(void)
{
	uint32_t old;

	if (!(ckpt_cfg.cpuid7_ecx & (1u << 4)))	/* OSPKE */
		return 0;
	__asm__ volatile("rdpkru" : "=a"(old) : "c"(0) : "rdx");
	__asm__ volatile("wrpkru" : : "a"(0), "c"(0), "d"(0) : "memory");
	return old;
}

static void pkru_set(uint32_t v)
{
	if (ckpt_cfg.cpuid7_ecx & (1u << 4))
		__asm__ volatile("wrpkru" : : "a"(v), "c"(0), "d"(0) : "memory");
}

/* Phase 1, in the process itself: the address space layout, what a forked
 * child would not inherit (pending signals, POSIX timers), and the
 * descriptors: their offsets, pipe bytes and counters are shared with the
 * child but move on as soon as the program does.  quick 0: the layout from
 * smaps; 1: from maps, the writer reads the smaps; 2: the forked writer
 * reads the maps too (cap_walk_late), which are its own, the process's at
 * the fork, and finishes the records of the quiet descriptors
 * (cap_describe_fds_late). */
int cap_prepare(struct cap_walk *w, struct cap_state *st, const char *path, int incremental, int quick)
{
	int err;

	memset(w, 0, sizeof(*w));
	w->incremental = incremental;
	w->parent_pid = (int)sys_getpid();
	w->keep_events = path == ckpt_cfg.path || path == ckpt_job.path;
	w->strings_used = 1;			/* offset 0 is "" */
	ckpt_scratch.strings[0] = 0;
	/* the kernel's state first, then memory: the program's userfaultfd, if
	 * it has one, says how VmFlags read (and that they are read now, not in
	 * the writer) */
	err = cap_collect_signals(w);
	if (!err)
		err = cap_collect_timers(w);
	read_clocks(w);
	if (!err)
		err = cap_collect_fds(w, quick == 2);
	w->quick = quick && !w->program_uffd;
	w->maps_later = w->quick && quick == 2;
	if (!err && !w->maps_later)
		err = cap_walk_maps(w, w->quick ? WALK_MAPS : WALK_SMAPS);
	if (!err && w->program_uffd)
		err = cap_collect_uffd_wp(w);
	if (!err && incremental && ckpt_track.method == TRACK_UFFD) {	/* it lives in our page tables */
		err = cap_scan_pages(w);
		w->scanned = 1;
	}
	if (path == ckpt_cfg.path)	/* an image to restore: not tsetjmp's, which keeps the children */
		cap_collect_children(w);
	if (err) {
		cap_say("%s: %s at 0x%lx: errno %d", path, w->fail_what ? w->fail_what : "address space walk",
			w->fail_addr, -err);
		return err;
	}
	st->proc.attrs |= w->lost;
	cap_say_not_restored(path, &st->proc, w);
	return 0;
}

/* The layout a quick cap_prepare left to the forked writer (maps_later):
 * from the writer's own /proc/self/maps, which are the process's as they
 * were at the fork, or of_parent from the process's, while it still waits
 * because the fork left regions out (MADV_DONTFORK; cap_take_dontfork then
 * copies them).  No-op without maps_later.  0, or -errno (said, as
 * cap_prepare says its own walk's failure). */
int cap_walk_late(struct cap_walk *w, const char *path, int of_parent)
{
	int err;

	if (!w->maps_later)
		return 0;
	w->maps_later = 0;
	err = cap_walk_maps(w, of_parent ? WALK_PARENT_MAPS : WALK_MAPS);
	if (err)
		cap_say("%s: checkpoint failed: %s at 0x%lx: errno %d", path,
			w->fail_what ? w->fail_what : "address space walk", w->fail_addr, -err);
	else if (w->lost & CKPT_PROC_AIO_LOST)
		cap_say_aio_lost(cap_said_path(path), w);
	return err;
}

/* Phase 2, in the process or in a child forked right after phase 1 (its
 * memory and descriptors are the process's at the fork): pages, descriptors,
 * the file. */
int cap_finish(struct cap_walk *w, struct cap_state *st, const char *path, int target_fd)
{
	uint32_t pkru = pkru_open_all();
	int err;

	cap_mark_affinity(st);
	err = write_image(w, st, path, target_fd);

	pkru_set(pkru);
	if (!err)
		cap_track_commit(w);
	return err;
}

volatile int32_t *cap_data_out;

/* The start time of process pid (field 22 of /proc/PID/stat, clock ticks
 * since boot; pid 0: this one): 0, or -errno (-2: no such process). */
static int start_time(int pid, uint64_t *out)
{
	char path[40];

	if (pid)
		img_fmt(path, sizeof(path), "/proc/%d/stat", pid);
	else
		img_fmt(path, sizeof(path), "/proc/self/stat");
	return (int)cap_stat_field(path, 22, out);
}

/* digits of the given base, at least one, then `end`: their value, s moved past */
static int take_num(const char **s, unsigned base, char end, uint64_t *v)
{
	const char *p = *s;

	*v = img_parse_num(s, base);
	if (*s == p || **s != end)
		return 0;
	if (end)
		(*s)++;
	return 1;
}

/* A writer killed before its rename (the program killed with kill -9, its
 * writer with it) leaves its temp file ".NAME.tmp.PID.START.RANDOM" (see
 * write_image).  Before writing NAME again, remove the ones beside it whose
 * writer is gone: no process PID, or one that started at another time (the
 * pid was reused).  Only regular files of our euid with exactly that name;
 * looked at and removed through the directory's descriptor (fstatat with
 * AT_SYMLINK_NOFOLLOW, unlinkat), never through a symlink. */
static void remove_stale_temps(const char *path, const char *name)
{
	static char dents[16384] CAP_COLD;
	char dir[4096];
	size_t nl = strlen(name), dl = (size_t)(name - path);
	uint32_t me = (uint32_t)SC0(__NR_geteuid);
	long dfd, len;

	if (dl >= sizeof(dir))
		return;
	memcpy(dir, path, dl);
	img_fmt(dir + dl, sizeof(dir) - dl, ".");	/* "DIR/." or "." */
	dfd = sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (sys_failed(dfd))
		return;
	while ((len = sys_getdents64((int)dfd, dents, sizeof(dents))) > 0) {
		for (long at = 0; at < len; ) {
			const char *e = dents + at + 19, *p = e + 1 + nl;	/* d_ino, d_off, d_reclen, d_type */
			uint64_t pid, start, rnd, now;
			struct ksys_stat st;
			uint16_t reclen;

			memcpy(&reclen, dents + at + 16, 2);
			at += reclen;
			if (e[0] != '.' || strncmp(e + 1, name, nl) || strncmp(p, ".tmp.", 5))
				continue;
			p += 5;
			if (!take_num(&p, 10, '.', &pid) || !take_num(&p, 10, '.', &start) ||
			    !take_num(&p, 16, 0, &rnd) || !pid || pid > 0x7fffffff)
				continue;
			if (start_time((int)pid, &now) != -2 && now == start)
				continue;		/* (also: a process we may not look at) */
			if (sys_failed(SC4(__NR_newfstatat, dfd, e, &st, 0x100 /* AT_SYMLINK_NOFOLLOW */)) ||
			    (st.st_mode & S_IFMT) != S_IFREG || st.st_uid != me)
				continue;
			SC3(__NR_unlinkat, dfd, e, 0);
		}
	}
	sys_close((int)dfd);
}

/* What write_image's steps share: the walk (a copy of the caller's), the
 * process's threads, where the image goes, and the file being written. */
struct writer {
	struct cap_walk w;
	struct cap_state *st;
	const char *path;
	int target_fd;		/* >= 0: an in-memory store (memfd), written in place, no rename */
	int fd;			/* the file being written: target_fd, or the temp file tmp */
	int refined;		/* quick: the smaps was taken in, this is the second pass */
	void *refiner;		/* the smaps helper, while it runs */
	char tmp[4200];
};

/* Quick (no smaps before the fork): the process's smaps, which fills in each
 * region's flags, advice and key, is read by a helper thread while the pages
 * are scanned and written (or after them, if it cannot be started), and taken
 * in once the data is out (refine). */
static void start_refiner(struct writer *x)
{
	if (!x->w.quick || cap_data_out || cap_refine_start(&x->w, &x->refiner))
		x->refiner = 0;		/* (in place: read after the program goes on) */
}

/* Which pages to store, unless phase 1 scanned them. */
static int scan_pages(struct writer *x)
{
	struct cap_walk *w = &x->w;
	int err = 0;

	if (!w->scanned)
		err = cap_scan_pages(w);
	if (err)
		cap_say("%s: %s at 0x%lx: errno %d", x->path, w->fail_what ? w->fail_what : "page scan",
			w->fail_addr, -err);
	return err;
}

/* The header, and where everything goes:
 * threads | proc | vmas | runs | fds | sigs | timers | locks | strings | pad64 | fpu | pad4096 | data
 * (data: pages | descriptors' bytes | [vdso] bytes) */
static void lay_out(struct writer *x)
{
	const struct cap_walk *w = &x->w;
	struct cap_state *st = x->st;
	uint64_t tables_end;

	fill_header(w, st);
	hdr.nthreads = st->nthreads;
	hdr.nvmas = w->nvmas;
	hdr.nruns = w->nruns;
	hdr.strings_size = w->strings_used;
	hdr.tables_off = CKPT_HDR_SIZE;
	hdr.threads_off = hdr.tables_off;
	hdr.proc_off = hdr.threads_off + (uint64_t)st->nthreads * sizeof(struct ckpt_thread);
	hdr.vmas_off = hdr.proc_off + sizeof(struct ckpt_proc);
	hdr.runs_off = hdr.vmas_off + (uint64_t)w->nvmas * sizeof(struct ckpt_vma);
	hdr.nfds = w->nfds;
	hdr.nsigs = w->nsigs;
	hdr.ntimers = w->ntimers;
	hdr.fds_off = hdr.runs_off + (uint64_t)w->nruns * sizeof(struct ckpt_run);
	hdr.sigs_off = hdr.fds_off + (uint64_t)w->nfds * sizeof(struct ckpt_fd);
	hdr.timers_off = hdr.sigs_off + (uint64_t)w->nsigs * sizeof(struct ckpt_siginfo);
	hdr.nlocks = w->nlocks;
	hdr.locks_off = w->nlocks ? hdr.timers_off + (uint64_t)w->ntimers * sizeof(struct ckpt_timer) : 0;
	if (w->nlocks)			/* a restorer that does not know locks refuses the image */
		hdr.flags |= CKPT_HDR_LOCKS;
	hdr.strings_off = hdr.timers_off + (uint64_t)w->ntimers * sizeof(struct ckpt_timer) +
			  (uint64_t)w->nlocks * sizeof(struct ckpt_lock);
	tables_end = hdr.strings_off + w->strings_used;
	for (uint32_t i = 0; i < st->nthreads; i++) {	/* each thread's FPU area, 64-aligned */
		st->thr[i]->xsave_off = (tables_end + 63) & ~63ull;
		st->thr[i]->xsave_size = ckpt_cfg.xsave_size;
		tables_end = st->thr[i]->xsave_off + st->thr[i]->xsave_size;
	}
	hdr.data_off = (tables_end + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	hdr.tables_size = hdr.data_off - hdr.tables_off;
	img_place_data(&hdr, ckpt_scratch.runs, ckpt_scratch.fds);
}

/* The file to write: the in-memory store, or the one of the first pass, emptied;
 * or a fresh file beside the path that nobody else can have made (image/write.c),
 * whose name tells whose it is: this writer's pid and start time. */
/* CKPT_COMPRESS: a full image of a lone process at its path is compressed
 * (zip.c); a chain's images, a job's and tsetjmp's store are read by the
 * restorer itself */
static int compress_wanted(const struct writer *x)
{
	return ckpt_cfg.compress && x->target_fd < 0 && !x->w.chain && !ckpt_job.role && x->path == ckpt_cfg.path;
}

static void maybe_compress(struct writer *x)
{
	int err;

	if (!compress_wanted(x))
		return;
	if ((err = cap_zip_begin(x->fd)))
		cap_say("%s: CKPT_COMPRESS: no compressor (errno %d): this image is written uncompressed", x->path,
			-err);
}

static int open_output(struct writer *x)
{
	const char *name = x->path;
	uint64_t started;
	long fd;

	if (x->target_fd >= 0 || x->refined) {
		if (!x->refined)
			x->fd = x->target_fd;
		sys_ftruncate(x->fd, 0);
		maybe_compress(x);
		return 0;
	}
	for (const char *s = x->path; *s; s++)
		if (*s == '/')
			name = s + 1;
	if (start_time(0, &started))
		started = 0;
	remove_stale_temps(x->path, name);
	fd = img_create_beside(x->path, x->tmp, sizeof(x->tmp), (int)sys_getpid(), started);
	if (fd == -36) {
		cap_say("%s: path too long", x->path);
		return -36;
	}
	if (sys_failed(fd)) {
		cap_say("%s: create %s: errno %d", x->path, x->tmp, (int)-fd);
		return (int)fd;
	}
	x->fd = (int)fd;
	maybe_compress(x);
	return 0;
}

/* open /proc/PID/mem (pid 0: /proc/self/mem) once, into *memfd: 0 or -errno */
static int open_mem(long *memfd, int pid)
{
	char mem[64];

	if (*memfd >= 0)
		return 0;
	if (pid)
		img_fmt(mem, sizeof(mem), "/proc/%d/mem", pid);
	else
		img_fmt(mem, sizeof(mem), "/proc/self/mem");
	*memfd = sys_open(mem, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(*memfd)) {
		int err = (int)*memfd;

		*memfd = -1;
		return err;
	}
	return 0;
}

/* A thread's frames, from its stack pointer: its callees' below, its callers'
 * above.  A stack restored from an image can be several regions back to back
 * (pieces mapped from the image file beside anonymous ones), so the window
 * is marked across adjacent regions, not only the one holding the stack
 * pointer; but never across a gap or an unreadable region (a guard page),
 * and not at all from a stack pointer outside every region: a writer
 * thread's own stack, mapped after the walk (marking its neighbours would
 * send a sparse region next to it through the bounce buffer page by page). */
#define FRAMES_BELOW	(256u << 10)
#define FRAMES_ABOVE	(64u << 10)

static void mark_frames(uint32_t nvmas, uint64_t sp)
{
	const struct ckpt_vma *v = ckpt_scratch.vmas;
	uint64_t lo = sp > FRAMES_BELOW ? sp - FRAMES_BELOW : 0, hi = sp + FRAMES_ABOVE;
	uint32_t first = 0, n = nvmas, last;

	while (n) {				/* the regions are in address order: the */
		uint32_t half = n / 2;		/* first one that ends above sp */

		if (v[first + half].end <= sp) {
			first += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	if (first == nvmas || v[first].start > sp)
		return;
	for (last = first; last + 1 < nvmas && v[last + 1].start == v[last].end && v[last + 1].start < hi &&
			   (v[last + 1].prot & PROT_READ); last++)
		;
	for (; first > 0 && v[first - 1].end == v[first].start && v[first - 1].end > lo &&
	       (v[first - 1].prot & PROT_READ); first--)
		;
	mark_moving(nvmas, v[first].start, v[last].end);
}

/* The regions whose bytes can change while this writer reads them: its own
 * stack, and its rseq area, where the kernel writes the CPU number whenever
 * the thread comes back to user space on another CPU (a forked writer has
 * dropped its registration).  A writer inside the process itself (in place,
 * CKPT_FORK=0, a uffd snapshot) shares the memory with the program's threads,
 * stopped or waiting for the pages: the thread that took the checkpoint
 * makes system calls on its stack below its saved one (each pushes a return
 * address), and any of them coming back to user space on another CPU (after
 * a preemption, a stop and continue) has its rseq area written.  Such a run
 * read in place could change between its crc and its write: an image the
 * restorer refuses as corrupted. */
static void find_moving(const struct writer *x)
{
	const struct cap_walk *w = &x->w;
	uint64_t rseq;
	uint32_t len;

	memset(ckpt_scratch.moving, 0, (w->nvmas + 7) / 8);
	mark_frames(w->nvmas, (uint64_t)__builtin_frame_address(0));
	cap_rseq_probe(&rseq, &len);
	if (len)
		mark_moving(w->nvmas, rseq, rseq + len);
	if ((int)sys_getpid() != w->parent_pid)
		return;				/* a forked writer: its copy stands still */
	for (uint32_t i = 0; i < x->st->nthreads; i++) {
		const struct ckpt_thread *t = x->st->thr[i];

		mark_frames(w->nvmas, t->regs.rsp);
		if (t->rseq_len)
			mark_moving(w->nvmas, t->rseq_addr, t->rseq_addr + t->rseq_len);
	}
}

/* Every run's pages, in file order: small ones gathered, the others written
 * one by one (through /proc/PID/mem where a run needs a bounce buffer, the
 * parent's for MADV_DONTFORK/WIPEONFORK pages). */
static int write_pages(struct writer *x)
{
	long memfd = -1, pmemfd = -1;
	int err = 0;

	ckpt_scratch.synced_to = hdr.data_off;
	find_moving(x);
	for (uint32_t i = 0; i < x->w.nruns && !err; i++) {
		struct ckpt_run *run = &ckpt_scratch.runs[i];
		const struct ckpt_vma *v = &ckpt_scratch.vmas[run->vma];
		int parent = cap_from_parent(run->vma), bounce;

		if (!run->data_off)
			continue;		/* zero pages */
		if (run->npages <= SMALL_RUN_PAGES && !needs_bounce(run, v)) {
			err = gather_run(x->fd, run);	/* many small runs, one pwritev */
			continue;
		}
		bounce = needs_bounce(run, v) || (!cap_zip_active() && cap_touch_slow(run->addr, run->npages));
		if ((err = flush_gathered(x->fd)) ||
		    (parent && (err = open_mem(&pmemfd, x->w.parent_pid))) ||
		    (bounce && (err = open_mem(&memfd, 0))))
			break;
		err = write_run(x->fd, parent ? (int)pmemfd : (int)memfd, run, bounce);
	}
	if (!err)
		err = flush_gathered(x->fd);
	if (memfd >= 0)
		sys_close((int)memfd);
	if (pmemfd >= 0)
		sys_close((int)pmemfd);
	if (err)
		cap_say("%s: write page data: errno %d", x->path, -err);
	return err;
}

/* The bytes each descriptor carries (pipe buffers, epoll watches, memfd and
 * deleted-file contents). */
static int write_fd_contents(struct writer *x)
{
	int err = 0;

	for (uint32_t i = 0; i < x->w.nfds && !err; i++)
		err = write_fd_data(x->fd, &ckpt_scratch.fds[i]);
	if (err)
		cap_say("%s: write descriptor contents: errno %d", x->path, -err);
	return err;
}

/* The [vdso] bytes, last in the data area: a restorer on another kernel
 * sends the program's calls into them on to its own vDSO. */
static int write_vdso(struct writer *x)
{
	int err = 0;

	if (hdr.vdso_data_off &&
	    (err = write_at(x->fd, (const void *)x->w.vdso_start, hdr.vdso_size, hdr.vdso_data_off)))
		cap_say("%s: write vDSO bytes: errno %d", x->path, -err);
	return err;
}

/* Written in place: the program may go on now that its memory is out. */
static void let_program_go_on(const struct writer *x)
{
	if (!cap_data_out || x->refined)
		return;
	__atomic_store_n(cap_data_out, 1, __ATOMIC_RELEASE);
	SC3(__NR_futex, cap_data_out, 129 /* FUTEX_WAKE_PRIVATE */, 1);
}

/* Quick, first pass done: take in the smaps.  Only MADV_WIPEONFORK regions
 * (empty here) change which pages are stored: if the smaps shows any, those
 * are scanned again in the process and *again is set, for the data to be
 * written again (the other regions keep their runs: the writer's own pages
 * changed meanwhile). */
static int refine(struct writer *x, int *again)
{
	struct cap_walk *w = &x->w;
	uint32_t from_parent = 0;
	int err;

	SC4(__NR_sync_file_range, x->fd, ckpt_scratch.synced_to, 0, 2 /* SYNC_FILE_RANGE_WRITE: the rest */);
	x->refined = 1;
	err = x->refiner ? cap_refine_finish(w, x->refiner) : cap_walk_maps(w, WALK_REFINE);
	x->refiner = 0;
	if (err) {
		cap_say("%s: %s: errno %d", x->path, w->fail_what ? w->fail_what : "read the process's smaps", -err);
		return err;
	}
	cap_say_vmflags_lost(x->path, w);	/* the smaps is read only now */
	for (uint32_t i = 0; i < w->nvmas; i++)
		from_parent += (uint32_t)cap_from_parent(i);
	if (from_parent && (err = cap_rescan_from_parent(w)))
		cap_say("%s: page scan of the MADV_WIPEONFORK regions: errno %d", x->path, -err);
	*again = from_parent && !err;
	return err;
}

/* The tables and each thread's FPU area, padded to data_off, then the sealed
 * header (its crc covers the tables). */
static int write_tables_and_header(struct writer *x)
{
	const struct cap_walk *w = &x->w;
	const struct cap_state *st = x->st;
	uint64_t off = hdr.tables_off;
	uint32_t crc = 0;
	int fd = x->fd, err = 0;

	/* the proc record with what a quick walk's refine found lost (VmFlags) */
	const size_t attrs_at = offsetof(struct ckpt_proc, attrs);
	uint32_t attrs = st->proc.attrs | w->lost;

	for (uint32_t i = 0; i < w->nfds; i++)	/* fdbuf offsets, kept for a second pass until now */
		if (ckpt_scratch.fds[i].kind == CKPT_FD_PIPE || ckpt_scratch.fds[i].kind == CKPT_FD_FIFO ||
		    ckpt_scratch.fds[i].kind == CKPT_FD_EPOLL || ckpt_scratch.fds[i].kind == CKPT_FD_UNIX_PAIR)
			ckpt_scratch.fds[i].aux[1] = 0;
	for (uint32_t i = 0; i < st->nthreads && !err; i++)
		err = put(fd, &off, &crc, st->thr[i], sizeof(struct ckpt_thread));
	if (err ||
	    (err = put(fd, &off, &crc, &st->proc, attrs_at)) ||
	    (err = put(fd, &off, &crc, &attrs, sizeof(attrs))) ||
	    (err = put(fd, &off, &crc, (const char *)&st->proc + attrs_at + sizeof(attrs),
		       sizeof(st->proc) - attrs_at - sizeof(attrs))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.vmas, (uint64_t)w->nvmas * sizeof(struct ckpt_vma))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.runs, (uint64_t)w->nruns * sizeof(struct ckpt_run))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.fds, (uint64_t)w->nfds * sizeof(struct ckpt_fd))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.sigs, (uint64_t)w->nsigs * sizeof(struct ckpt_siginfo))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.timers, (uint64_t)w->ntimers * sizeof(struct ckpt_timer))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.locks, (uint64_t)w->nlocks * sizeof(struct ckpt_lock))) ||
	    (err = put(fd, &off, &crc, ckpt_scratch.strings, w->strings_used))) {
		cap_say("%s: write tables: errno %d", x->path, -err);
		return err;
	}
	for (uint32_t i = 0; i < st->nthreads && !err; i++)
		if (!(err = put_zeros(fd, &off, &crc, st->thr[i]->xsave_off - off)))
			err = put(fd, &off, &crc, st->fpu_of[i], st->thr[i]->xsave_size);
	if (err || (err = put_zeros(fd, &off, &crc, hdr.data_off - off))) {
		cap_say("%s: write tables: errno %d", x->path, -err);
		return err;
	}
	img_seal(&hdr, crc);
	if ((err = write_at(fd, &hdr, sizeof(hdr), 0)))
		cap_say("%s: write header: errno %d", x->path, -err);
	return err;
}

/* A failed image: the temp file goes (an in-memory store is the caller's). */
static int discard(struct writer *x, int err)
{
	cap_snap_end(0);
	cap_zip_abort();
	if (x->target_fd >= 0)
		return err;
	sys_close(x->fd);
	sys_unlink(x->tmp);
	return err;
}

/* An image of a chain: <path>.<id> for good, then <path> becomes a second
 * name of it; CKPT_KEEP: the chain files no kept image needs go. */
static int name_chain_image(struct writer *x)
{
	char named[4200];
	int err;

	if (ckpt_job.role) {			/* its name is its own already: no second one */
		if (sys_failed(err = (int)sys_rename(x->tmp, x->path))) {
			cap_say("%s: rename: errno %d", x->path, -err);
			sys_unlink(x->tmp);
			return err;
		}
		goto drop;
	}
	cap_chain_name(named, sizeof(named), x->path, x->w.image_id);
	if (sys_failed(err = (int)sys_rename(x->tmp, named))) {
		cap_say("%s: rename: errno %d", named, -err);
		sys_unlink(x->tmp);
		return err;
	}
	if (sys_failed(err = (int)SC5(__NR_linkat, AT_FDCWD, named, AT_FDCWD, x->tmp, 0)) ||
	    sys_failed(err = (int)sys_rename(x->tmp, x->path))) {
		cap_say("%s: cannot point it at %s: errno %d", x->path, named, -err);
		sys_unlink(x->tmp);
		return err;
	}
drop:
	for (uint32_t i = 0; i < x->w.ndelete; i++) {
		cap_chain_name(named, sizeof(named), x->path, x->w.delete_ids[i]);
		sys_unlink(named);
	}
	return 0;
}

/* A full image: CKPT_KEEP rotation, then the temp file takes the name. */
static int name_image(struct writer *x)
{
	int err;

	rotate(x->path);
	if (sys_failed(err = (int)sys_rename(x->tmp, x->path))) {
		cap_say("%s: rename: errno %d", x->path, -err);
		sys_unlink(x->tmp);
		return err;
	}
	return 0;
}

/* fsync the temp file, give it its name(s), fsync the directory. */
static int publish(struct writer *x)
{
	int err = (int)sys_fsync(x->fd);

	if (sys_failed(err)) {
		cap_say("%s: fsync: errno %d", x->path, -err);
		return discard(x, err);
	}
	sys_close(x->fd);
	err = x->w.chain ? name_chain_image(x) : name_image(x);
	if (err)
		return err;
	img_sync_dir(x->path);
	return 0;
}

/* The image of the walk *wp: its page data first, then the tables and the
 * header; a quick walk may need its data written twice (refine). */
static int write_image(struct cap_walk *wp, struct cap_state *st, const char *path, int target_fd)
{
	struct writer x = { .w = *wp, .st = st, .path = path, .target_fd = target_fd, .fd = -1 };
	int err, again;

	start_refiner(&x);
	x.w.in_writer = 1;
	x.w.keep_zero = compress_wanted(&x);
	if ((err = scan_pages(&x)))
		return err;
	do {
		again = 0;
		lay_out(&x);
		if ((err = open_output(&x)))
			return err;
		if ((err = write_pages(&x)) || (err = write_fd_contents(&x)) || (err = write_vdso(&x)) ||
		    (cap_zip_active() && (err = cap_zip_drain())) ||	/* the pages read, the crcs known */
		    (err = cap_snap_end(path)))		/* a uffd snapshot's pages are all out */
			return discard(&x, err);
		let_program_go_on(&x);
		if (x.w.quick && !x.refined && (err = refine(&x, &again)))
			return discard(&x, err);
	} while (again);
	if ((err = write_tables_and_header(&x)))
		return discard(&x, err);
	if (cap_zip_active()) {
		uint64_t raw, stored;

		if ((err = cap_zip_end(&raw, &stored))) {
			cap_say("%s: write the compressed image's frame table: errno %d", path, -err);
			return discard(&x, err);
		}
		if (cap_env("CKPT_VERBOSE"))
			cap_say("%s: compressed: %lu bytes for an image of %lu (%lu%%)", path, stored, raw,
				raw ? stored * 100 / raw : 0);
	}
	if (target_fd >= 0)
		return 0;
	return publish(&x);
}
