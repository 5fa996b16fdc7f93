/* generations.c -- a restored process can be checkpointed and restored again.
 *
 * Simulates a long job checkpointed periodically: the original is checkpointed;
 * the restored copy (generation 1) checks its state, changes it, is checkpointed
 * again and killed; generation 2 is restored from that new image, and so on to
 * generation 3.  At each step the counter (incremented once per generation) and
 * memory patterns (rewritten with a new seed each generation, heap and an mmap'ed
 * region) must be those of the generation before, and the pid a new one.
 */
#include "lib.h"

#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#define HEAPSZ	300000
#define MAPSZ	(1 << 20)

static volatile uint64_t counter;

static int subject(void)
{
	unsigned char *heap = malloc(HEAPSZ);
	unsigned char *map = mmap(NULL, MAPSZ, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t last_pid;

	if (!heap || map == MAP_FAILED)
		t_fatal("allocation");
	counter = 0;
	for (;;) {
		t_fill(heap, HEAPSZ, 2000 + counter);
		t_fill(map, MAPSZ, 3000 + counter);
		last_pid = getpid();

		int gen = t_wait();
		if (t_break())
			counter += 7;

		t_eq64("counter (one increment per generation)", counter, gen ? gen - 1 : 0);
		t_check_fill("heap pattern of the previous generation", heap, HEAPSZ,
			     2000 + counter);
		t_check_fill("mapping pattern of the previous generation", map, MAPSZ,
			     3000 + counter);
		if (gen > 0)
			t_ok(getpid() != last_pid, "runs as a new pid (%d, before %d)",
			     getpid(), last_pid);
		if (t_last())
			return t_result();
		counter++;
	}
}

int main(void)
{
	struct t_opts o = { .generations = 3 };

	return t_main(subject, &o);
}
