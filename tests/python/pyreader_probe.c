/*
 * pyreader_probe - the Python frames of every thread of a live process as
 * tracer/pyreader reads them, for tests/python/pyreader_test.py.
 *
 *   pyreader_probe PID [ROUNDS]
 *
 * Each thread is seized and interrupted (PTRACE_SEIZE, PTRACE_INTERRUPT),
 * captured while stopped, and detached at once (which resumes it); the
 * frames are named afterwards, as a recording does. With ROUNDS (default
 * 1) every thread is captured that many times and the last round printed:
 * later rounds go through the reader's caches. Output, tab-separated:
 *
 *   reader VERSION_HEX MODULE LAYOUT(table|target)
 *   thread TID STATUS FRAMES CALLS
 *   frame TID NAME FILE LINE CALL ANCHOR        (innermost first)
 *   stats KEY VALUE ...
 *
 * Exit: 0, 2 not Python, 3 unsupported version (one line names it),
 * 4 interpreter not initialised, 1 error.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addrspace.h"
#include "elf_cache.h"
#include "maps.h"
#include "pycode.h"
#include "pyreader.h"
#include "pystack.h"

#include "banned.h"

#define PROBE_THREADS_MAX 1024

static const char *status_name(enum pystack_status s)
{
	switch (s) {
	case PYSTACK_NONE: return "none";
	case PYSTACK_OK: return "ok";
	case PYSTACK_CUT: return "cut";
	case PYSTACK_TORN: return "torn";
	}
	return "?";
}

/* Stop @tid, capture it, let it go. The thread is never left stopped:
 * every path after a successful seize detaches. */
static int capture_one(struct pyreader *r, pid_t tid, struct pystack *st)
{
	int status, err = 0;

	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL))
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		err = -errno;
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return err;
	}
	if (waitpid(tid, &status, __WALL) < 0) {
		err = -errno;
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return err;
	}
	err = pyreader_capture(r, tid, st);
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	return err;
}

static size_t list_threads(pid_t pid, pid_t *tids, size_t max)
{
	char path[64];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (n < max && (d = readdir(dir))) {
		char *end;
		long t = strtol(d->d_name, &end, 10);

		if (!*end && t > 0)
			tids[n++] = (pid_t)t;
	}
	closedir(dir);
	return n;
}

static void print_stack(const struct pycodes *codes, pid_t tid, const struct pystack *st,
			const uint64_t *addrs)
{
	printf("thread\t%d\t%s\t%zu\t%zu\n", (int)tid, status_name(st->status), st->n, st->ncalls);
	for (size_t i = 0; i < st->n; i++) {
		uint32_t id = addrspace_python_code(addrs[i]);
		const struct pycode *c = pycodes_get(codes, id);
		int line = pycodes_line(codes, id, addrspace_python_index(addrs[i]));

		printf("frame\t%d\t%s\t%s\t%d\t%" PRIu32 "\t0x%" PRIx64 "\n", (int)tid,
		       c ? c->name : "?", c ? c->file : "?", line, st->frames[i].call,
		       st->anchor[st->frames[i].call]);
	}
}

int main(int argc, char **argv)
{
	static struct pystack stack;
	static pid_t tids[PROBE_THREADS_MAX];
	struct elf_cache *cache = NULL;
	struct pycodes *codes = NULL;
	struct pyreader *r = NULL;
	struct maps *maps = NULL;
	struct pyfind_result found;
	struct pyreader_stats s;
	uint64_t *addrs = NULL;
	size_t n;
	int rc = 1, err;
	long pid, rounds = 1;
	char *end;

	if (argc < 2 || argc > 3 || (pid = strtol(argv[1], &end, 10)) <= 0 || *end ||
	    (argc == 3 && ((rounds = strtol(argv[2], &end, 10)) < 1 || rounds > 1000 || *end))) {
		fprintf(stderr, "usage: pyreader_probe PID [ROUNDS]\n");
		return 1;
	}
	cache = elf_cache_new();
	codes = pycodes_new();
	addrs = calloc(PYSTACK_MAX_FRAMES, sizeof(*addrs));
	if (!cache || !codes || !addrs)
		goto out;
	if ((err = maps_read((pid_t)pid, &maps))) {
		fprintf(stderr, "pyreader_probe: cannot read the maps of %ld: %s\n", pid, strerror(-err));
		goto out;
	}
	r = pyreader_new((pid_t)pid, maps, cache, codes, &found);
	if (!r) {
		err = errno;
		if (err == ENOTSUP)
			printf("unsupported\tCPython 0x%08" PRIx32 "\t%s\n", found.hexversion, found.module);
		else
			fprintf(stderr, "pyreader_probe: %ld: %s\n", pid, strerror(err));
		rc = err == ENOENT ? 2 : err == ENOTSUP ? 3 : err == EAGAIN ? 4 : 1;
		goto out;
	}
	printf("reader\t0x%08" PRIx32 "\t%s\t%s\n", pyreader_version(r), pyreader_module(r),
	       pyreader_layout_from_target(r) ? "target" : "table");
	n = list_threads((pid_t)pid, tids, PROBE_THREADS_MAX);
	/* Capture one thread at a time, name it after it is resumed. */
	for (size_t i = 0; i < n * (size_t)rounds; i++) {
		pid_t tid = tids[i % n];
		bool last = i / n == (size_t)rounds - 1;

		struct pystack *st = &stack;

		err = capture_one(r, tid, st);
		if (err == -ESRCH)
			continue;   /* the thread ended meanwhile */
		if (err) {
			fprintf(stderr, "pyreader_probe: thread %d: %s\n", (int)tid, strerror(-err));
			goto out;
		}
		if ((err = pyreader_resolve(r, st, addrs))) {
			fprintf(stderr, "pyreader_probe: resolve: %s\n", strerror(-err));
			goto out;
		}
		if (last) {
			const char *name;

			print_stack(codes, tid, st, addrs);
			/* Read while the thread runs, as the sampler does. */
			name = pyreader_thread_name(r, tid);
			printf("pyname\t%d\t%s\n", (int)tid, name ? name : "-");
		}
	}
	pyreader_stats(r, &s);
	printf("stats\tcaptures %" PRIu64 "\treads %" PRIu64 "\tframes %" PRIu64 "\tnone %" PRIu64
	       "\ttorn %" PRIu64 "\tcut %" PRIu64 "\twalks %" PRIu64 "\tcodes_read %" PRIu64
	       "\tcodes_stale %" PRIu64 "\tresolve_reads %" PRIu64 "\n",
	       s.captures, s.reads, s.frames, s.none, s.torn, s.cut, s.walks, s.codes_read,
	       s.codes_stale, s.resolve_reads);
	rc = 0;
out:
	pyreader_free(r);
	maps_free(maps);
	pycodes_free(codes);
	elf_cache_free(cache);
	free(addrs);
	return rc;
}
