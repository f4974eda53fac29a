/*
 * crowd - a target whose threads are slow to stop, for the tests of the
 * ptrace sampler's bounds (release_test.py).
 *
 *   crowd [--late N] [--sleepers N] [--vfork] BUSY SECONDS
 *
 * BUSY threads spin; --late N more spin at nice 19, so that while the busy
 * ones hold the CPUs they get little and take hundreds of milliseconds to
 * reach a stop asked of them (as threads do on a machine with many more
 * runnable threads than CPUs); --sleepers N threads sleep in nanosleep; --vfork one
 * thread vforks a child that sleeps SECONDS, leaving that thread in
 * uninterruptible sleep, where no PTRACE_INTERRUPT stops it. Prints "ready"
 * once every thread runs; exits 0 after SECONDS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double end_time;

/* Every thread waits here until all are made: spinners that start at once
 * starve the main thread that makes the others (120 took 8 s to start). */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void gate_wait(void)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void spin_until_end(void)
{
	uint64_t x = 1;

	gate_wait();
	while (now() < end_time) {
		for (int i = 0; i < 100000; i++) {
			x = x * UINT64_C(6364136223846793005) + 1;
			__asm__ volatile("" : "+r"(x));
		}
	}
}

static void *busy(void *arg)
{
	(void)arg;
	spin_until_end();
	return NULL;
}

static void *late(void *arg)
{
	(void)arg;
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	spin_until_end();
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	(void)arg;
	gate_wait();
	while (now() < end_time)
		nanosleep(&ts, NULL);
	return NULL;
}

static void *vforker(void *arg)
{
	double secs = *(const double *)arg;
	pid_t pid;

	gate_wait();
	pid = vfork();

	if (pid == 0) {
		struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };

		nanosleep(&ts, NULL);
		_exit(0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nlate = 0, nsleep = 0, vfork_on = 0, nbusy, i = 1, n = 0;
	double secs;
	pthread_t th[1024];

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--late") == 0 && i + 1 < argc)
			nlate = atoi(argv[++i]);
		else if (strcmp(argv[i], "--sleepers") == 0 && i + 1 < argc)
			nsleep = atoi(argv[++i]);
		else if (strcmp(argv[i], "--vfork") == 0)
			vfork_on = 1;
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: crowd [--late N] [--sleepers N] [--vfork] BUSY SECONDS\n");
		return 2;
	}
	nbusy = atoi(argv[i]);
	secs = atof(argv[i + 1]);
	if (nbusy < 0 || nlate < 0 || nsleep < 0 || nbusy + nlate + nsleep + 1 > 1024) {
		fprintf(stderr, "crowd: too many threads\n");
		return 2;
	}
	end_time = now() + secs;
	for (int k = 0; k < nbusy; k++)
		if (pthread_create(&th[n], NULL, busy, NULL) == 0)
			n++;
	for (int k = 0; k < nlate; k++)
		if (pthread_create(&th[n], NULL, late, NULL) == 0)
			n++;
	for (int k = 0; k < nsleep; k++)
		if (pthread_create(&th[n], NULL, sleeper, NULL) == 0)
			n++;
	if (vfork_on && pthread_create(&th[n], NULL, vforker, &secs) == 0)
		n++;
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	printf("ready\n");
	fflush(stdout);
	for (int k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	return 0;
}
