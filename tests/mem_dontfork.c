/* mem_dontfork.c -- a MADV_DONTFORK region is saved as it was at the
 * checkpoint, not as it is later.
 *
 * Simulates a V8 (Node.js) heap: V8 gives every page of its JavaScript heap
 * MADV_DONTFORK, so the forked writer does not inherit it, while threads keep
 * writing to it the moment the checkpoint lets them go.  Here a thread stores
 * a counter n, incremented without pause, into a MADV_DONTFORK page and then
 * into an ordinary page; 64 MiB of data below the DONTFORK region give the
 * writer something to do before it reaches that region, and the thread time
 * to run on.  A MADV_WIPEONFORK page is checked for content.
 *
 * The image is checked as written (by the harness, once it is complete): the
 * two pages belong to one moment: the DONTFORK copy of the counter is n or
 * n + 1 when the ordinary one is n (the thread may stop between the two
 * stores), never further ahead (it is when the writer reads the page after the
 * process went on).  The restored process cannot be asked: its counter thread,
 * resumed, would store the pair again before anyone looks.  After restore:
 * the counter thread runs again, both regions still carry their advice
 * (VmFlags dc, wf) and the WIPEONFORK page holds what it held (it is read from
 * the process: see docs/restore.md).  CKPT_TEST_BREAK=1 breaks the check that
 * the counter thread runs again (the harness's image check has no number).
 */
#include "lib.h"
#include "ckpt_image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define PG		4096
#define BULK		(64u << 20)
/* fixed places, so that the harness can find the pages in the image */
#define AT_DONTFORK	0x5d0000400000ull
#define AT_PLAIN	0x5d0000800000ull

static volatile uint64_t *dontfork, *plain;
static unsigned char *wipe, *bulk;
static volatile uint64_t started;

static void *count(void *arg)
{
	for (uint64_t n = 1;; n++) {
		*dontfork = n;
		*plain = n;
		started = 1;
	}
	return arg;
}

static void *map_at(uint64_t addr, size_t len)
{
	void *p = mmap((void *)addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != (void *)addr)
		t_fatal("mmap at 0x%llx: %s", (unsigned long long)addr, strerror(errno));
	return p;
}

static int subject(void)
{
	pthread_t t;
	uint64_t before, after;
	const char *flags;

	/* the writer goes up through the addresses: bulk first, then dontfork */
	bulk = map_at(AT_DONTFORK - BULK - PG, BULK);
	dontfork = map_at(AT_DONTFORK, 4 * PG);
	plain = map_at(AT_PLAIN, PG);
	wipe = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wipe == MAP_FAILED || madvise((void *)dontfork, 4 * PG, MADV_DONTFORK) ||
	    madvise(wipe, PG, MADV_WIPEONFORK))
		t_fatal("mmap/madvise");
	t_fill(wipe, PG, 0x77);
	t_fill(bulk, BULK, 0x88);
	if (pthread_create(&t, NULL, count, NULL))
		t_fatal("pthread_create");
	while (!started)
		usleep(1000);

	if (t_wait() == 0)
		return t_result();	/* the original: nothing to check here */
	before = *plain;
	usleep(20000);
	after = *plain;
	if (t_break())
		after = before;
	t_ok(after > before, "the counter thread runs again (%lu -> %lu)", (unsigned long)before,
	     (unsigned long)after);
	flags = t_smaps_field((const void *)dontfork, "VmFlags:");
	t_ok(flags && strstr(flags, " dc"), "the DONTFORK region keeps its advice (VmFlags:%s)", flags ? flags : "?");
	flags = t_smaps_field(wipe, "VmFlags:");
	t_ok(flags && strstr(flags, " wf"), "the WIPEONFORK region keeps its advice (VmFlags:%s)", flags ? flags : "?");
	t_check_fill("the WIPEONFORK page's content", wipe, PG, 0x77);
	return t_result();
}

/* the u64 at addr as the image stores it; 0 when absent (never written) */
static uint64_t image_word(int fd, const struct ckpt_hdr *h, uint64_t addr)
{
	for (uint32_t i = 0; i < h->nruns; i++) {
		struct ckpt_run r;
		uint64_t v = 0;

		if (pread(fd, &r, sizeof r, (off_t)(h->runs_off + i * sizeof r)) != sizeof r)
			return 0;
		if (addr >= r.addr && addr < r.addr + r.npages * PG) {
			if (r.data_off && pread(fd, &v, 8, (off_t)(r.data_off + (addr - r.addr))) != 8)
				return 0;
			return v;
		}
	}
	return 0;
}

static int check_image(const char *image, int gen)
{
	struct ckpt_hdr h;
	uint64_t d, p;
	int fd = open(image, O_RDONLY), ok;

	if (fd < 0 || pread(fd, &h, sizeof h, 0) != sizeof h) {
		t_printf("not ok - read the header of %s", image);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	d = image_word(fd, &h, AT_DONTFORK);
	p = image_word(fd, &h, AT_PLAIN);
	close(fd);
	ok = p && (d == p || d == p + 1);
	t_printf("%s - image of generation %d: the DONTFORK page is of the checkpoint's moment: counter %lu there, "
		 "%lu in the ordinary page", ok ? "ok" : "not ok", gen, (unsigned long)d, (unsigned long)p);
	return !ok;
}

int main(void)
{
	struct t_opts o = { .after_ckpt = check_image };

	return t_main(subject, &o);
}
