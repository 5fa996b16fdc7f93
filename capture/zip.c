/* zip.c -- CKPT_COMPRESS=zstd: the image written as a compressed container
 * (include/ckpt_image.h, "a compressed image").
 *
 * dump.c hands every write of the raw image (bytes, raw offset) to
 * cap_zip_write().  Consecutive writes are copied into a 1 MiB slot; a full
 * slot goes to a compressor thread, which compresses it with zstd level 1 into
 * the slot's own output buffer, takes the next free place in the file and
 * writes the frame there.  Two compressors per slot pair run at once while
 * this thread goes on filling the next slots, and the kernel writes back what
 * they wrote meanwhile.  A frame that does not shrink by 1/32 is stored as it
 * is (random data costs a copy, not a second pass), and after ZIP_TRY_AGAIN
 * such frames in a row only one in ZIP_TRY_EVERY is tried until one shrinks
 * (random data then costs little more than the copy).  cap_zip_end() writes the
 * frame table, sorted by raw offset, and the header last.
 *
 * The writer is a child forked from a signal handler (or a thread of the
 * program, in place): no malloc.  zstd works in a static context inside our
 * own mapping (ZSTD_initStaticCCtx), and the threads are raw clones
 * (cap_spawn_helper) that touch nothing but their slots.
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_initStaticCCtx, ZSTD_estimateCCtxSize_usingCParams */
#include <zstd.h>
#include "cap.h"

#define ZIP_WORKERS_MAX	4
#define ZIP_STACK	(256u << 10)

enum { SLOT_FREE, SLOT_FULL, SLOT_QUIT };

struct zip_slot {
	int32_t state;			/* SLOT_*: futex word */
	int32_t err;			/* the compressor's -errno for this frame, 0 */
	int has_frame;			/* frame below written, not yet taken into the table */
	uint32_t len;			/* raw bytes in `in`, or at src */
	struct ckpt_zip_frame frame;
	uint8_t *in, *out;
	const uint8_t *src;		/* a run's pages compressed where they are (cap_zip_run), or 0 */
	int via_mem;			/* with src: read them into `in` through /proc/self/mem */
	struct ckpt_run *run;		/* with src: the run whose crc this piece's is part of, */
	uint64_t after;			/* the run's bytes after the piece, */
	uint32_t raw_crc;		/* and the piece's own crc, taken by its compressor */
};

struct zip_worker {
	volatile int32_t tid;
	int index;
	ZSTD_CCtx *cctx;
	uint8_t *stack;
};

struct zip_state {
	int fd;
	uint32_t nworkers, nslots;
	uint64_t zpos;			/* next free byte of the file (compressors add to it) */
	uint64_t raw_end;		/* end of the raw image so far */
	uint32_t frames_seen;		/* frames the compressors took, in all */
	uint32_t stored_in_a_row;	/* frames tried that did not shrink, since one did */
	uint64_t synced_to;
	uint32_t next;			/* the slot being filled */
	struct zip_slot slot[2 * ZIP_WORKERS_MAX];
	struct zip_worker worker[ZIP_WORKERS_MAX];
	struct ckpt_zip_frame *table;	/* frames taken in, in the order written */
	uint32_t nframes, table_cap;
	uint64_t arena_len;		/* this struct, the slots, the contexts and stacks */
	long self_mem;			/* /proc/self/mem, for cap_zip_run's slow case */
};
/* The state lives at the start of its own mapping, made after the page walk:
 * the compressors change it while the writer copies the program's memory,
 * libckpt's data included, and a page of the image must not change between
 * its checksum and its write.  Only this pointer is libckpt's, set before
 * the first byte goes out and cleared after the last. */
static struct zip_state *zip;

#define ZIP_TRY_AGAIN	4
#define ZIP_TRY_EVERY	16

/* Level 1, the fastest level whose images keep within 40% of the raw bytes
 * on the bench's text, with a hash table of 2^13 entries (32 KiB) in place
 * of its 2^14: the table then stays in the first-level cache.  Measured on
 * 1 MiB frames here: text 416 against 374 MB/s a core (28.6% against 28.7%
 * of raw), shared libraries 438 against 421 MB/s (34.1% against 33.3%). */
#define ZIP_LEVEL	1
#define ZIP_HASH_LOG	13

static ZSTD_compressionParameters zip_params(void)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(ZIP_LEVEL, CKPT_ZIP_FRAME_MAX, 0);

	if (cp.hashLog > ZIP_HASH_LOG)
		cp.hashLog = ZIP_HASH_LOG;
	return cp;
}

static uint64_t out_bound(void)
{
	return (ZSTD_compressBound(CKPT_ZIP_FRAME_MAX) + 4095) & ~4095ull;
}

static void futex_wake(int32_t *w)
{
	SC3(__NR_futex, w, 129 /* FUTEX_WAKE_PRIVATE */, 0x7fffffff);
}

static void futex_wait(int32_t *w, int32_t val)
{
	SC4(__NR_futex, w, 128 /* FUTEX_WAIT_PRIVATE */, val, 0);
}

/* compress slot s into a frame and write it at the next free place */
static void compress_slot(struct zip_worker *me, struct zip_slot *s)
{
	const uint8_t *in = s->src ? s->src : s->in, *bytes = s->out;
	uint32_t seen;
	size_t n;
	uint64_t off;
	int tried;

	if (s->via_mem && sys_pread((int)zip->self_mem, s->in, s->len, (int64_t)(uint64_t)s->src) == s->len)
		in = s->in;			/* (reading in place is slow here: cap_touch_slow) */
	if (s->run)				/* the first touch of these pages: here, not in the writer */
		s->raw_crc = ckpt_crc32c(0, in, s->len);
	/* after ZIP_TRY_AGAIN frames in a row that did not shrink (random data,
	 * data compressed already), only one frame in ZIP_TRY_EVERY is tried: the
	 * rest are stored as they are, at the cost of a copy */
	seen = __atomic_fetch_add(&zip->frames_seen, 1, __ATOMIC_RELAXED);
	tried = __atomic_load_n(&zip->stored_in_a_row, __ATOMIC_RELAXED) < ZIP_TRY_AGAIN || seen % ZIP_TRY_EVERY == 0;
	n = tried ? ZSTD_compress2(me->cctx, s->out, out_bound(), in, s->len) : s->len;
	s->frame.flags = 0;
	if (!tried || ZSTD_isError(n) || n >= s->len - s->len / 32) {
		bytes = in;			/* incompressible (or zstd refused): as it is */
		n = s->len;
		s->frame.flags = CKPT_ZIP_STORED;
		if (tried)
			__atomic_fetch_add(&zip->stored_in_a_row, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&zip->stored_in_a_row, 0, __ATOMIC_RELAXED);
	}
	s->frame.stored_len = (uint32_t)n;
	/* a run's piece stored as it is: its crc, taken above, is the frame's */
	s->frame.crc = s->run && bytes == in ? s->raw_crc : ckpt_crc32c(0, bytes, n);
	off = __atomic_fetch_add(&zip->zpos, n, __ATOMIC_RELAXED);
	s->frame.file_off = off;
	s->err = img_pwrite_all(zip->fd, bytes, n, off);
}

/* a compressor: slots index, index + nworkers, ... in turn, until told to quit */
static void worker_main(void *arg)
{
	struct zip_worker *me = arg;

	for (uint32_t i = (uint32_t)me->index;; i = (i + zip->nworkers) % zip->nslots) {
		struct zip_slot *s = &zip->slot[i];
		int32_t st;

		while ((st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) == SLOT_FREE)
			futex_wait(&s->state, SLOT_FREE);
		if (st == SLOT_QUIT)
			break;
		compress_slot(me, s);
		__atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELEASE);
		futex_wake(&s->state);
	}
	SC1(__NR_exit, 0);
}

static int take_frame(struct zip_slot *s)
{
	if (!s->has_frame)
		return 0;
	s->has_frame = 0;
	if (s->run)				/* its part of the run's crc */
		s->run->crc ^= ckpt_crc32c_shift(s->raw_crc, s->after);
	s->run = 0;
	s->src = 0;
	s->via_mem = 0;
	if (s->err)
		return s->err;
	if (zip->nframes == zip->table_cap) {
		uint64_t old = (uint64_t)zip->table_cap * sizeof(*zip->table);
		long m = zip->table ? SC4(__NR_mremap, zip->table, old, 2 * old, 1 /* MREMAP_MAYMOVE */)
				   : sys_mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (sys_failed(m))
			return (int)m;
		zip->table = (struct ckpt_zip_frame *)m;
		zip->table_cap = zip->table_cap ? 2 * zip->table_cap : 65536 / sizeof(*zip->table);
	}
	zip->table[zip->nframes++] = s->frame;
	return 0;
}

/* wait for slot i to be free; take in its last frame */
static int free_slot(uint32_t i)
{
	struct zip_slot *s = &zip->slot[i];
	int32_t st;

	while ((st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) == SLOT_FULL)
		futex_wait(&s->state, SLOT_FULL);
	return take_frame(s);
}

/* the slot being filled goes to its compressor; the next one is made ready */
static int submit(void)
{
	struct zip_slot *s = &zip->slot[zip->next];
	uint64_t pos;
	int err;

	if (!s->len)
		return 0;
	s->has_frame = 1;
	__atomic_store_n(&s->state, SLOT_FULL, __ATOMIC_RELEASE);
	futex_wake(&s->state);
	zip->next = (zip->next + 1) % zip->nslots;
	pos = __atomic_load_n(&zip->zpos, __ATOMIC_RELAXED);
	if (pos - zip->synced_to >= (8u << 20)) {	/* the disk works while we go on */
		SC4(__NR_sync_file_range, zip->fd, zip->synced_to, pos - zip->synced_to, 2 /* SYNC_FILE_RANGE_WRITE */);
		zip->synced_to = pos;
	}
	err = free_slot(zip->next);		/* (its compressor may still be at it) */
	zip->slot[zip->next].len = 0;
	return err;
}

static void stop_workers(void)
{
	for (uint32_t i = 0; i < zip->nslots; i++) {
		struct zip_slot *s = &zip->slot[i];

		while (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_FULL)
			futex_wait(&s->state, SLOT_FULL);
		__atomic_store_n(&s->state, SLOT_QUIT, __ATOMIC_RELEASE);
		futex_wake(&s->state);
	}
	for (uint32_t k = 0; k < zip->nworkers; k++)
		cap_join_helper(&zip->worker[k].tid, 1);
}

static uint32_t cpus_here(void)
{
	uint8_t mask[128];
	long r = sys_sched_getaffinity(0, sizeof(mask), mask);
	uint32_t n = 0;

	for (long i = 0; i < r; i++)
		n += (uint32_t)__builtin_popcount(mask[i]);
	return n ? n : 1;
}

/* writes to fd (empty) are compressed from here on: 0, or -errno (then
 * nothing changed and the image is written raw) */
int cap_zip_begin(int fd)
{
	ZSTD_compressionParameters cp = zip_params();
	uint64_t ws = (ZSTD_estimateCCtxSize_usingCParams(cp) + 4095) & ~4095ull;
	uint64_t head = (sizeof(struct zip_state) + 4095) & ~4095ull, per_slot = CKPT_ZIP_FRAME_MAX + out_bound();
	uint32_t nworkers = cpus_here() > ZIP_WORKERS_MAX ? ZIP_WORKERS_MAX : cpus_here();
	uint64_t len = head + 2 * nworkers * per_slot + nworkers * (ws + ZIP_STACK);
	uint8_t *p;
	long m;

	cap_zip_abort();			/* (a second pass: begin again) */
	m = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sys_failed(m))
		return (int)m;
	zip = (struct zip_state *)m;		/* zero, as fresh memory is */
	zip->arena_len = len;
	zip->nworkers = nworkers;
	zip->nslots = 2 * nworkers;
	zip->fd = fd;
	zip->zpos = zip->synced_to = sizeof(struct ckpt_zip_hdr);
	zip->self_mem = sys_open("/proc/self/mem", O_RDONLY | O_CLOEXEC, 0);	/* before the threads:
										 * they copy the table */
	p = (uint8_t *)m + head;
	for (uint32_t i = 0; i < zip->nslots; i++, p += per_slot) {
		zip->slot[i].in = p;
		zip->slot[i].out = p + CKPT_ZIP_FRAME_MAX;
	}
	for (uint32_t k = 0; k < nworkers; k++, p += ws + ZIP_STACK) {
		struct zip_worker *w = &zip->worker[k];
		long tid;

		w->index = (int)k;
		w->cctx = ZSTD_initStaticCCtx(p, ws);
		w->stack = p + ws;
		if (w->cctx && (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZIP_LEVEL)) ||
				ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, (int)cp.hashLog))))
			w->cctx = 0;
		tid = w->cctx ? cap_spawn_helper((uint64_t)w->stack, ZIP_STACK, &w->tid, worker_main, w) : -12;
		if (sys_failed(tid)) {
			zip->nworkers = k;	/* the ones started stop */
			cap_zip_abort();
			return (int)tid;
		}
	}
	return 0;
}

int cap_zip_active(void)
{
	return zip != 0;
}

/* A run's pages, read by the compressors where they are (they stay as they
 * are until cap_zip_drain(): the writer's fork froze them, or the program
 * waits): 1 MiB a frame, each compressor taking its piece's crc, which the
 * frames put together into run->crc as they come back.  The writer thread
 * itself never reads these pages; the first read of each page of a forked
 * process is costly (its accessed bit was cleared at the fork), and two
 * compressors share that cost. */
int cap_zip_run(struct ckpt_run *run, uint64_t len)
{
	const uint8_t *addr = (const uint8_t *)run->addr;
	int via_mem = zip->self_mem >= 0 && cap_touch_slow(run->addr, len / CKPT_PAGE_SIZE), err;

	if ((err = submit()))			/* what was being gathered goes first */
		return err;
	run->crc = 0;
	for (uint64_t done = 0; done < len; ) {
		struct zip_slot *s = &zip->slot[zip->next];
		uint64_t n = len - done > CKPT_ZIP_FRAME_MAX ? CKPT_ZIP_FRAME_MAX : len - done;

		s->src = addr + done;
		s->len = (uint32_t)n;
		s->frame.raw_off = run->data_off + done;
		s->frame.raw_len = (uint32_t)n;
		s->run = run;
		s->via_mem = via_mem;
		s->after = len - done - n;
		done += n;
		if ((err = submit()))
			return err;
	}
	if (run->data_off + len > zip->raw_end)
		zip->raw_end = run->data_off + len;
	return 0;
}

/* every frame given so far compressed, written and taken in (the runs' crcs
 * complete): 0 or -errno */
int cap_zip_drain(void)
{
	int err = submit();

	for (uint32_t i = 0; i < zip->nslots; i++) {
		int e = free_slot(i);

		if (!err)
			err = e;
	}
	return err;
}

/* n bytes for raw offset off: into the slot being filled (a gap, or a full
 * slot, sends it to its compressor first) */
int cap_zip_write(const void *buf, uint64_t n, uint64_t off)
{
	const uint8_t *b = buf;

	while (n) {
		struct zip_slot *s = &zip->slot[zip->next];
		uint64_t k;
		int err;

		if (s->len && (s->frame.raw_off + s->len != off || s->len == CKPT_ZIP_FRAME_MAX) && (err = submit()))
			return err;
		s = &zip->slot[zip->next];
		if (!s->len)
			s->frame.raw_off = off;
		k = CKPT_ZIP_FRAME_MAX - s->len;
		if (k > n)
			k = n;
		memcpy(s->in + s->len, b, k);
		s->len += (uint32_t)k;
		s->frame.raw_len = s->len;
		b += k, off += k, n -= k;
		if (off > zip->raw_end)
			zip->raw_end = off;
	}
	return 0;
}

static void sort_frames(void)
{
	struct ckpt_zip_frame *t = zip->table;

	for (uint32_t gap = zip->nframes / 2; gap; gap /= 2)	/* shell sort: data frames come in order */
		for (uint32_t i = gap; i < zip->nframes; i++)
			for (uint32_t j = i; j >= gap && t[j - gap].raw_off > t[j].raw_off; j -= gap) {
				struct ckpt_zip_frame x = t[j];

				t[j] = t[j - gap];
				t[j - gap] = x;
			}
}

static void release(void)
{
	if (zip->table)
		sys_munmap((uint64_t)zip->table, (uint64_t)zip->table_cap * sizeof(*zip->table));
	if (zip->self_mem >= 0)
		sys_close((int)zip->self_mem);
	sys_munmap((uint64_t)zip, zip->arena_len);
	zip = 0;
}

/* the last frame, the table and the header: 0 or -errno.  *raw, *stored:
 * the image's size and the file's, for the caller's notice. */
int cap_zip_end(uint64_t *raw, uint64_t *stored)
{
	struct ckpt_zip_hdr h;
	uint64_t table_len;
	int err = cap_zip_drain();

	stop_workers();
	sort_frames();
	for (uint32_t i = 1; i < zip->nframes && !err; i++)
		if (zip->table[i].raw_off < zip->table[i - 1].raw_off + zip->table[i - 1].raw_len)
			err = -22;		/* a range written twice: the writer never does */
	table_len = (uint64_t)zip->nframes * sizeof(*zip->table);
	if (!err) {
		memset(&h, 0, sizeof(h));
		h.magic = CKPT_ZIP_MAGIC;
		h.version = CKPT_ZIP_VERSION;
		h.codec = CKPT_ZIP_ZSTD;
		h.raw_size = zip->raw_end;
		h.index_off = zip->zpos;
		h.nframes = zip->nframes;
		h.index_crc = ckpt_crc32c(0, zip->table, table_len);
		h.hdr_crc = ckpt_crc32c(0, &h, sizeof(h));
		if (!(err = img_pwrite_all(zip->fd, zip->table, table_len, zip->zpos)))
			err = img_pwrite_all(zip->fd, &h, sizeof(h), 0);
	}
	*raw = zip->raw_end;
	*stored = zip->zpos + table_len;
	release();
	return err;
}

/* a failed image (or a second pass): the compressors stop, the memory goes */
void cap_zip_abort(void)
{
	if (!zip)
		return;
	stop_workers();
	release();
}
