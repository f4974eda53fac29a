/*
 * bench_stopwait.c - how the tracer should wait for a ptrace stop: block at
 * once (hotspy's ptrace sampler: sigtimedwait on SIGCHLD), or spin on
 * waitpid(WNOHANG) for up to SPIN us first, with or without sched_yield
 * between two polls, as an adaptive mutex spins before it sleeps. On a VM,
 * a tracer that blocks lets its vCPU halt, and the tracee's stop must wake
 * it; a tracer that spins stays awake, but holds a CPU the tracee may need
 * to reach its stop.
 *
 * A child spins in a loop; every millisecond the tracer PTRACE_INTERRUPTs
 * it, waits for the stop the way under test, and PTRACE_CONTs it. The ways
 * are interleaved in blocks, so that the machine's drift hits all alike.
 * Prints per way the median and 90th percentile of the stop (from
 * PTRACE_INTERRUPT until waitpid sees it) and the tracer's CPU per stop.
 * Prints; never passes or fails. It times only until waitpid sees the
 * stop: a stop seen early, while the tracee is still on a run queue, makes
 * the next ptrace request wait in the kernel (wait_task_inactive, up to a
 * tick), which a sampler pays and this does not show (docs/benchmarks.md).
 *
 *   cc -O2 -Wall -Wextra -o bench_stopwait tests/bench/bench_stopwait.c
 *   ./bench_stopwait [STOPS_PER_WAY [BLOCKS]]       (defaults 500, 10)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct way {
	const char *name;
	unsigned long long spin_ns;
	int yield;
	double *stop_us;
	size_t n;
	double cpu_us;
};

static unsigned long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One stop of @child, waited for as @w says. 0, or -1 when it is gone. */
static int one_stop(pid_t child, const sigset_t *chld, struct way *w)
{
	unsigned long long t0 = now_ns();
	int status, slept = 0;

	if (ptrace(PTRACE_INTERRUPT, child, NULL, NULL) < 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(child, &status, __WALL | WNOHANG);

		if (r == child)
			break;
		if (r < 0)
			return -1;
		if (now_ns() - t0 < w->spin_ns) {
			if (w->yield)
				sched_yield();
			continue;
		}
		{
			struct timespec ts = { 0, 1000000 };

			slept = 1;
			sigtimedwait(chld, NULL, &ts);
		}
	}
	w->stop_us[w->n++] = (double)(now_ns() - t0) / 1000.0;
	if (!slept) {
		/* The stop's SIGCHLD, not taken by a sleep: take it now, as
		 * a sampler would, so it does not wake the next wait. */
		struct timespec zero = { 0, 0 };

		sigtimedwait(chld, NULL, &zero);
	}
	return ptrace(PTRACE_CONT, child, NULL, NULL) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct way ways[] = {
		{ "block at once", 0, 0, NULL, 0, 0 },
		{ "spin 20 us", 20000, 0, NULL, 0, 0 },
		{ "spin 50 us", 50000, 0, NULL, 0, 0 },
		{ "spin 20 us, yield", 20000, 1, NULL, 0, 0 },
		{ "spin 50 us, yield", 50000, 1, NULL, 0, 0 },
	};
	size_t nways = sizeof(ways) / sizeof(ways[0]);
	long per_way = argc > 1 ? atol(argv[1]) : 500, blocks = argc > 2 ? atol(argv[2]) : 10;
	sigset_t chld;
	pid_t child;

	if (per_way <= 0 || blocks <= 0 || per_way % blocks) {
		fprintf(stderr, "usage: bench_stopwait [STOPS_PER_WAY [BLOCKS]] (a multiple)\n");
		return 2;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	child = fork();
	if (child == 0) {
		volatile unsigned long spin = 0;

		for (;;)
			spin++;
	}
	if (child < 0 || ptrace(PTRACE_SEIZE, child, NULL, NULL) < 0) {
		perror("bench_stopwait: fork or PTRACE_SEIZE");
		if (child > 0)
			kill(child, SIGKILL);
		return 1;
	}
	for (size_t i = 0; i < nways; i++) {
		ways[i].stop_us = calloc((size_t)per_way, sizeof(double));
		if (!ways[i].stop_us)
			return 1;
	}
	for (long b = 0; b < blocks; b++) {
		for (size_t i = 0; i < nways; i++) {
			double c0 = cpu_us();

			for (long k = 0; k < per_way / blocks; k++) {
				struct timespec period = { 0, 1000000 };

				nanosleep(&period, NULL);
				if (one_stop(child, &chld, &ways[i]) < 0) {
					fprintf(stderr, "bench_stopwait: the child is gone\n");
					return 1;
				}
			}
			/* The CPU of the waits and of the 1 ms sleeps: the same
			 * sleeps for every way, so the differences are the waits'. */
			ways[i].cpu_us += cpu_us() - c0;
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	for (size_t i = 0; i < nways; i++) {
		struct way *w = &ways[i];

		qsort(w->stop_us, w->n, sizeof(double), by_value);
		printf("%-18s %zu stops: median %6.1f us, 90th pct %7.1f us; tracer cpu %5.1f us per stop\n",
		       w->name, w->n, w->stop_us[w->n / 2], w->stop_us[w->n * 9 / 10],
		       w->cpu_us / (double)w->n);
		free(w->stop_us);
	}
	return 0;
}
