/* Per-step timing of skiff_spawn, for measuring the start path: with
 * SKIFF_SPAWN_TRACE=1 in the environment of the process that calls
 * skiff_spawn, every step prints "spawn-trace: <pid> <step> +<µs> =<µs>" to
 * that process's stderr (the child keeps a copy of it). Off, a mark is one
 * branch. Not an interface: step names change with the code. */
#ifndef SKIFF_SPAWN_TRACE_H
#define SKIFF_SPAWN_TRACE_H

extern int skiff_spawn_trace_fd; /* -1: off */
void skiff_spawn_trace_mark(const char *step);

#define SPAWN_TRACE(step)                                                                                          \
	do {                                                                                                       \
		if (skiff_spawn_trace_fd >= 0)                                                                     \
			skiff_spawn_trace_mark(step);                                                              \
	} while (0)

#endif
