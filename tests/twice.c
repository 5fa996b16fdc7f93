/* twice.c -- one image, restored twice: both copies start from the same state.
 *
 * Simulates restarting a job from the same checkpoint after a crash, twice.  The
 * image holds a counter and a memory pattern (heap and an anonymous mapping); the
 * first restored copy checks them, then changes them; the second copy, restored
 * from the same file afterwards, must see the original values, not the first
 * copy's changes (nothing shared, nothing consumed by the first restore).
 */
#include "lib.h"

#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#define COUNTER	4141
#define HEAPSZ	200000
#define MAPSZ	(256 * 1024)

static volatile uint64_t counter;

static int subject(void)
{
	unsigned char *heap = malloc(HEAPSZ);
	unsigned char *map = mmap(NULL, MAPSZ, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid0 = getpid();

	if (!heap || map == MAP_FAILED)
		t_fatal("allocation");
	t_fill(heap, HEAPSZ, 42);
	t_fill(map, MAPSZ, 43);
	counter = COUNTER;

	t_wait();
	if (t_break())
		counter++;

	t_eq64("counter", counter, COUNTER);
	t_check_fill("heap pattern", heap, HEAPSZ, 42);
	t_check_fill("mapping pattern", map, MAPSZ, 43);
	if (t_gen() > 0)
		t_ok(getpid() != pid0, "runs as a new pid (%d, original %d)", getpid(), pid0);
	/* the next restore must not see these */
	counter = 0;
	t_fill(heap, HEAPSZ, 44);
	t_fill(map, MAPSZ, 45);
	return t_result();
}

int main(void)
{
	struct t_opts o = { .restores = 2 };

	return t_main(subject, &o);
}
