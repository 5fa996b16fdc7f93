/* fds_epoll.c -- an event loop's epoll instances come back with what they watch.
 *
 * Simulates the core of libuv or any epoll server: an epoll instance watching
 * an eventfd (level-triggered, 64-bit data 0x1122334455667788), a pipe's read
 * end (EPOLLIN | EPOLLET, data 7), the pipe's write end (EPOLLOUT |
 * EPOLLONESHOT, data 8) and a second epoll instance (data 9) that itself
 * watches another eventfd (data 10); the outer instance is also dup'd.
 * Before the checkpoint nothing is ready but the write end, whose one shot is
 * spent in a first epoll_wait.
 *
 * After restore: /proc/self/fdinfo lists the same watches (number, events,
 * data) for both instances (the spent one-shot watch also shows EPOLLERR |
 * EPOLLHUP, which epoll_ctl always adds: see watches()); nothing is reported at once (the one shot stays
 * spent, the eventfd is 0, the pipe empty); a write to the eventfd is reported
 * with its 64-bit data; a byte into the pipe is reported once (edge) with data
 * 7; a write to the inner eventfd makes the inner instance ready, reported by
 * the outer with data 9 and by the inner with data 10; the dup shares the
 * instance (a wait on it sees the same); EPOLL_CTL_ADD of the eventfd fails with
 * EEXIST and EPOLL_CTL_DEL of it by its number succeeds, after which its
 * writes are no longer reported.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static int ep, ep_dup, inner, ev, ev_inner, pfd[2];
static char watches0[2][4096];

static int by_fd(const void *a, const void *b)
{
	return atoi(*(char *const *)a) - atoi(*(char *const *)b);
}

/* the "tfd:" lines of an epoll fd's fdinfo as "fd:events:data ", in fd order,
 * without pos/ino/sdev (those name the objects, which are new after a
 * restore).  A spent one-shot watch keeps only EPOLLONESHOT; epoll_ctl always
 * adds EPOLLERR | EPOLLHUP to what it is given, so one made again shows those
 * two as well: they are left out of one-shot watches here. */
static void watches(int f, char *out, size_t n)
{
	char path[64], text[8192], *p, item[64][48], *sorted[64];
	size_t used = 0, k = 0;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", f);
	out[0] = 0;
	if (t_read_file(path, text, sizeof text) < 0)
		return;
	for (p = text; (p = strstr(p, "tfd:")); p++) {
		int tfd;
		unsigned events;
		unsigned long long data;

		if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 && k < 64) {
			if (events & EPOLLONESHOT)
				events &= ~(unsigned)(EPOLLERR | EPOLLHUP);
			snprintf(item[k], sizeof item[k], "%d:%x:%llx ", tfd, events, data);
			sorted[k] = item[k];
			k++;
		}
	}
	qsort(sorted, k, sizeof(sorted[0]), by_fd);
	for (size_t i = 0; i < k && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s", sorted[i]);
}

static int add(int e, int f, unsigned events, uint64_t data)
{
	struct epoll_event x = { .events = events, .data.u64 = data };

	return epoll_ctl(e, EPOLL_CTL_ADD, f, &x);
}

/* one epoll_wait with a short timeout: number of events, data of the first */
static int wait1(int e, uint64_t *data)
{
	struct epoll_event x[8];
	int n = epoll_wait(e, x, 8, 50);

	*data = n > 0 ? x[0].data.u64 : 0;
	return n;
}

static int subject(void)
{
	uint64_t data, one = 1;
	char now[4096];
	int n, r;

	ep = epoll_create1(EPOLL_CLOEXEC);
	inner = epoll_create1(0);
	ev = eventfd(0, EFD_NONBLOCK);
	ev_inner = eventfd(0, EFD_NONBLOCK);
	if (ep < 0 || inner < 0 || ev < 0 || ev_inner < 0 || pipe2(pfd, O_NONBLOCK))
		t_fatal("epoll/eventfd/pipe: %s", strerror(errno));
	ep_dup = dup(ep);
	if (add(ep, ev, EPOLLIN, 0x1122334455667788ull) || add(ep, pfd[0], EPOLLIN | EPOLLET, 7) ||
	    add(ep, pfd[1], EPOLLOUT | EPOLLONESHOT, 8) || add(ep, inner, EPOLLIN, 9) ||
	    add(inner, ev_inner, EPOLLIN, 10))
		t_fatal("epoll_ctl: %s", strerror(errno));
	n = wait1(ep, &data);
	if (n != 1 || data != 8)
		t_fatal("first wait: %d events, data %lu (want the one shot of the write end)", n,
			(unsigned long)data);
	watches(ep, watches0[0], sizeof watches0[0]);
	watches(inner, watches0[1], sizeof watches0[1]);

	t_wait();

	watches(ep, now, sizeof now);
	if (t_break())
		now[0] ^= 1;
	t_ok(!strcmp(now, watches0[0]), "outer instance watches %s(want %s)", now, watches0[0]);
	watches(inner, now, sizeof now);
	t_ok(!strcmp(now, watches0[1]), "inner instance watches %s(want %s)", now, watches0[1]);
	n = wait1(ep, &data);
	t_ok(n == 0, "nothing ready at once (one shot spent, eventfd 0, pipe empty): %d events", n);

	r = write(ev, &one, 8) == 8 ? wait1(ep, &data) : -1;
	t_ok(r == 1 && data == 0x1122334455667788ull, "an eventfd write is reported with its 64-bit data "
	     "(%d events, data 0x%llx)", r, (unsigned long long)data);
	if (read(ev, &one, 8) != 8)
		t_ok(0, "eventfd read back");
	r = write(pfd[1], "x", 1) == 1 ? wait1(ep, &data) : -1;
	t_ok(r == 1 && data == 7, "a byte into the pipe is reported with data 7 (%d events, data %lu)", r,
	     (unsigned long)data);
	n = wait1(ep, &data);
	t_ok(n == 0, "edge-triggered: the unread byte is not reported again (%d events)", n);
	one = 1;
	r = write(ev_inner, &one, 8) == 8 ? wait1(ep_dup, &data) : -1;
	t_ok(r == 1 && data == 9, "the inner instance, ready, is reported through the dup of the outer with "
	     "data 9 (%d events, data %lu)", r, (unsigned long)data);
	r = wait1(inner, &data);
	t_ok(r == 1 && data == 10, "the inner instance reports its eventfd with data 10 (%d events, data %lu)",
	     r, (unsigned long)data);
	t_ok(add(ep, ev, EPOLLIN, 1) < 0 && errno == EEXIST, "EPOLL_CTL_ADD of the eventfd again: EEXIST");
	t_ok(epoll_ctl(ep, EPOLL_CTL_DEL, ev, NULL) == 0, "EPOLL_CTL_DEL of the eventfd by its number");
	one = 1;
	if (read(ev_inner, &one, 8) != 8 || write(ev, &one, 8) != 8)
		t_ok(0, "eventfd read/write");
	n = wait1(ep, &data);
	t_ok(n == 0, "after the DEL its writes are not reported (%d events)", n);
	return t_result();
}

int main(void)
{
	return t_main(subject, NULL);
}
