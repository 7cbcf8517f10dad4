/* Per-phase timing of a container's life across skiffd and skiff-monitor,
 * for measuring start/exit latency: with SKIFF_START_TRACE=<file> in
 * skiffd's environment (the monitor it starts inherits it), both processes
 * append "<CLOCK_MONOTONIC µs> <pid> <id12> <phase>" lines to that file
 * (O_APPEND: lines from both interleave whole). Off, a mark is one branch.
 * Not an interface: phase names change with the code. */
#ifndef SKIFF_START_TRACE_H
#define SKIFF_START_TRACE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline int skiff_start_trace_fd(void)
{
	static int fd = -2;
	if (fd == -2) {
		const char *p = getenv("SKIFF_START_TRACE");
		fd = p && *p ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	}
	return fd;
}

static inline void skiff_start_trace_write(const char *id, const char *phase)
{
	struct timespec ts;
	char line[160];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%lld %d %.12s %s\n",
		     (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, (int)getpid(), id ? id : "-", phase);
	if (n > 0 && write(skiff_start_trace_fd(), line, (size_t)n) < 0)
		return;
}

#define START_TRACE(id, phase)                                                                                     \
	do {                                                                                                       \
		if (skiff_start_trace_fd() >= 0)                                                                   \
			skiff_start_trace_write(id, phase);                                                        \
	} while (0)

#endif
