/*
 * pyfind_probe - print what tracer/pyfind finds in a process, one
 * `key value` a line, for tests/python/pyfind_test.py.
 *
 *   pyfind_probe PID            the process as it is now
 *   pyfind_probe --spawn CMD... start CMD stopped at its exec (as
 *                               `hotspy record -- CMD` does), report what
 *                               is found there (exec_* keys), let it run,
 *                               ask again until the interpreter is up
 *                               (at most 20 s), report that, kill CMD.
 *
 * Exit: 0 found, 2 not found (-ENOENT), 3 unsupported (-ENOTSUP), 1 error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elf_cache.h"
#include "maps.h"
#include "pyfind.h"
#include "target.h"

#include "banned.h"

static int probe(pid_t pid, struct elf_cache *cache, struct pyfind_result *r)
{
	struct maps *maps;
	int err = maps_read(pid, &maps);

	if (err)
		return err;
	err = pyfind_runtime(pid, maps, cache, r);
	maps_free(maps);
	return err;
}

static const char *status_name(int err)
{
	return err == 0 ? "found" : err == -ENOENT ? "not_found" :
	       err == -ENOTSUP ? "unsupported" : "error";
}

static int exit_code(int err)
{
	return err == 0 ? 0 : err == -ENOENT ? 2 : err == -ENOTSUP ? 3 : 1;
}

static void print(const char *prefix, int err, const struct pyfind_result *r)
{
	printf("%sstatus %s\n", prefix, status_name(err));
	if (err && err != -ENOTSUP) {
		printf("%serror %s\n", prefix, strerror(-err));
		return;
	}
	printf("%shexversion 0x%08" PRIx32 "\n", prefix, r->hexversion);
	printf("%sversion_exact %d\n", prefix, r->version_exact);
	printf("%sversion_from %s\n", prefix, pyfind_version_source_name(r->version_from));
	printf("%sruntime_addr 0x%" PRIx64 "\n", prefix, r->runtime_addr);
	printf("%sruntime_from %s\n", prefix, pyfind_runtime_source_name(r->runtime_from));
	printf("%ssection_addr 0x%" PRIx64 "\n", prefix, r->section_addr);
	printf("%ststate_current_addr 0x%" PRIx64 "\n", prefix, r->tstate_current_addr);
	printf("%sinterp_head_addr 0x%" PRIx64 "\n", prefix, r->interp_head_addr);
	printf("%sinterp_head 0x%" PRIx64 "\n", prefix, r->interp_head);
	printf("%sinitialized %d\n", prefix, r->initialized);
	printf("%sdebug_offsets %d\n", prefix, r->has_debug_offsets);
	printf("%sfree_threaded %d\n", prefix, r->free_threaded);
	printf("%smodule %s\n", prefix, r->module);
}

static int spawn(char **argv, struct elf_cache *cache)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	struct pyfind_result r;
	int err, status, tries;
	pid_t pid = target_spawn(argv, 0);

	if (pid < 0)
		return 1;
	err = probe(pid, cache, &r);
	print("exec_", err, &r);
	/* Stopped at the exec event: detaching lets it run untraced. */
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	for (tries = 0; tries < 4000; tries++) {
		err = probe(pid, cache, &r);
		if ((err == 0 && r.initialized) || (err && err != -ENOENT))
			break;
		nanosleep(&tick, NULL);
	}
	printf("polls %d\n", tries);
	print("", err, &r);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return exit_code(err);
}

int main(int argc, char **argv)
{
	struct elf_cache *cache = elf_cache_new();
	struct pyfind_result r;
	int err, rc;
	long pid;
	char *end;

	if (!cache)
		return 1;
	if (argc >= 3 && strcmp(argv[1], "--spawn") == 0) {
		rc = spawn(argv + 2, cache);
	} else if (argc == 2) {
		pid = strtol(argv[1], &end, 10);
		if (*end || pid <= 0) {
			fprintf(stderr, "usage: pyfind_probe PID | --spawn CMD [ARGS...]\n");
			elf_cache_free(cache);
			return 1;
		}
		err = probe((pid_t)pid, cache, &r);
		print("", err, &r);
		rc = exit_code(err);
	} else {
		fprintf(stderr, "usage: pyfind_probe PID | --spawn CMD [ARGS...]\n");
		rc = 1;
	}
	elf_cache_free(cache);
	return rc;
}
