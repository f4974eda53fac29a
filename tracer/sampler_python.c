/*
 * sampler_python.c - Python frames in the samplers' samples: one CPython
 * reader per sampled process, found when its interpreter is up (a program
 * started under hotspy runs native code before it), and the merge of each
 * sample's Python frames with its native stack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrspace.h"
#include "elf_cache.h"
#include "elf_file.h"
#include "log.h"
#include "pyreader.h"
#include "sampler_backend.h"
#include "target.h"
#include "text.h"

#include "banned.h"

/* A process that is not (yet) Python is looked at again when its mappings
 * change (libpython appears in the maps of a program started under hotspy;
 * mappings are re-read at most every 2 ms). A CPython whose interpreter is
 * coming up is looked at every 5 ms: its first Python code runs a few
 * milliseconds after the runtime is initialised. */
#define PYTHON_STARTING_RETRY_NS (5ull * 1000 * 1000)

static void range_add(struct addr_range *r, size_t *n, size_t max, uint64_t start,
		      uint64_t end)
{
	if (*n < max && start < end)
		r[(*n)++] = (struct addr_range){ start, end };
}

/* The code of the function @name in the mapped file @module, if it has
 * the symbol. */
static void symbol_range(struct sampler *s, struct sampler_proc *p, const char *module,
			 const char *name, struct addr_range *r, size_t *n, size_t max)
{
	const struct mapping *m;
	struct elf_file *ef;
	uint64_t vaddr, size, bias;

	for (size_t i = 0; i < maps_count(p->maps); i++) {
		m = maps_at(p->maps, i);
		if (!m->path || strcmp(m->path, module) != 0 || !(m->prot & MAP_PROT_EXEC))
			continue;
		ef = elf_cache_get(s->cfg.cache, p->pid, m);
		if (!ef || elf_file_load_bias(ef, m->start, m->offset, &bias) < 0 ||
		    elf_file_find_symbol(ef, name, &vaddr, &size) < 0 || !size)
			continue;
		range_add(r, n, max, vaddr + bias, vaddr + bias + size);
		return;
	}
}

static bool basename_is(const char *path, const char *prefix)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, prefix, strlen(prefix)) == 0;
}

/*
 * Where the merge looks, in the interpreter's module: its code (hidden)
 * and its eval loop (paired by order up to 3.10). Taken once, when the
 * reader is made: the module is mapped by then.
 */
static void python_module_ranges(struct sampler *s, struct sampler_proc *p)
{
	struct sampler_python *py = &p->python;
	struct pyreader_range text[PYREADER_TEXT_MAX];
	size_t n = pyreader_text(py->reader, text);
	const char *module = pyreader_module(py->reader);

	py->ninterp = py->neval = 0;
	for (size_t i = 0; i < n; i++)
		range_add(py->interp, &py->ninterp, SAMPLER_PYTHON_RANGES, text[i].start,
			  text[i].end);
	symbol_range(s, p, module, "_PyEval_EvalFrameDefault", py->eval, &py->neval,
		     SAMPLER_PYTHON_RANGES);
	symbol_range(s, p, module, "PyEval_EvalFrameEx", py->eval, &py->neval,
		     SAMPLER_PYTHON_RANGES);
	if (target_exe_name(p->pid, py->exe, sizeof(py->exe)) < 0)
		py->exe[0] = '\0';
}

/*
 * Where the merge looks in the other mappings: the process and thread
 * start code (hidden under the outermost Python frame): the C library's,
 * and the executable's when it is a Python interpreter (python3.12 linking
 * libpython has only its main), not a program embedding Python; and the C
 * runtime (hidden where the interpreter calls it). Taken again whenever the
 * mappings were read again: an interpreter found right after its exec
 * (a static python3.11 holds _PyRuntime itself) may have been found in
 * mappings without the C library yet, whose frames then stayed above
 * <module> in every sample of a spawned worker.
 */
static void python_maps_ranges(struct sampler_proc *p)
{
	struct sampler_python *py = &p->python;
	const char *exe = py->exe;

	py->nstartup = py->nruntime = 0;
	py->ranges_maps_ns = p->maps_loaded_ns;
	for (size_t i = 0; i < maps_count(p->maps); i++) {
		const struct mapping *m = maps_at(p->maps, i);

		if (!m->path || !(m->prot & MAP_PROT_EXEC))
			continue;
		bool libc = basename_is(m->path, "libc.so") || basename_is(m->path, "libc-") ||
			    basename_is(m->path, "libpthread");

		if (libc || (exe[0] && basename_is(exe, "python") && basename_is(m->path, exe)))
			range_add(py->startup, &py->nstartup, SAMPLER_PYTHON_RANGES, m->start,
				  m->end);
		if (libc || basename_is(m->path, "ld-linux") || basename_is(m->path, "libm.so") ||
		    basename_is(m->path, "libm-") || basename_is(m->path, "libdl"))
			range_add(py->runtime, &py->nruntime, SAMPLER_PYTHON_RANGES, m->start,
				  m->end);
	}
}

struct pyreader *sampler_python(struct sampler *s, struct sampler_proc *p)
{
	struct sampler_python *py = &p->python;
	struct pyfind_result *found;
	uint64_t now;

	if (py->reader || !s->cfg.pycodes || py->state == SAMPLER_PYTHON_UNSUPPORTED)
		return py->reader;
	now = sampler_now_ns();
	/* Not Python (yet): only new mappings can change that. Python whose
	 * interpreter is not up yet: only time. */
	if (py->tried_ns && (py->starting ? now - py->tried_ns < PYTHON_STARTING_RETRY_NS
					  : py->tried_maps_ns == p->maps_loaded_ns))
		return NULL;
	py->tried_ns = now;
	py->tried_maps_ns = p->maps_loaded_ns;
	found = calloc(1, sizeof(*found));
	if (!found)
		return NULL;
	py->reader = pyreader_new(p->pid, p->maps, s->cfg.cache, s->cfg.pycodes, found);
	py->starting = !py->reader && errno == EAGAIN;
	if (py->reader) {
		py->state = SAMPLER_PYTHON_READY;
		python_module_ranges(s, p);
		python_maps_ranges(p);
		s->stats.python_version = pyreader_version(py->reader);
		/* Unknown GIL state is said where it matters (record --gil's
		 * summary). */
		if (s->cfg.gil && !pyreader_want_gil(py->reader))
			log_debug("process %d: no GIL offsets for this version", (int)p->pid);
		log_debug("process %d: CPython %x in %s", (int)p->pid,
			  (unsigned)pyreader_version(py->reader), pyreader_module(py->reader));
	} else if (errno != ENOTSUP) {
		log_debug("process %d: no CPython reader yet: %s", (int)p->pid, strerror(errno));
	} else {
		/* The file's name comes from the target's maps: escaped. */
		char module[PYFIND_PATH_MAX];

		module[0] = '\0';
		text_append_safe(module, sizeof(module), 0, found->module);
		py->state = SAMPLER_PYTHON_UNSUPPORTED;
		if (found->free_threaded)
			log_warn("process %d: Python %u.%ut (free-threaded build, %s) is not "
				 "supported yet; profiling native frames only",
				 (int)p->pid, found->hexversion >> 24,
				 (found->hexversion >> 16) & 0xff, module);
		else if (found->hexversion)
			log_warn("process %d runs Python %u.%u (%s), which hotspy cannot read: "
				 "its Python frames are left out, native frames only",
				 (int)p->pid, found->hexversion >> 24,
				 (found->hexversion >> 16) & 0xff, module);
		else
			log_warn("process %d runs a Python whose version hotspy cannot tell "
				 "(%s): its Python frames are left out, native frames only",
				 (int)p->pid, module);
	}
	free(found);
	return py->reader;
}

void sampler_python_free(struct sampler_proc *p)
{
	pyreader_free(p->python.reader);
	p->python.reader = NULL;
}

size_t sampler_python_merge(struct sampler *s, struct sampler_proc *p,
			    const struct snapshot *snap, const uint64_t *native,
			    const uint64_t *sps, size_t n, uint64_t *out, size_t max)
{
	struct sampler_python *py = &p->python;

	if (py->ranges_maps_ns != p->maps_loaded_ns && p->maps)
		python_maps_ranges(p);

	struct pymerge_input in = {
		.native = native, .sps = sps, .nnative = n, .py = snap->py,
		.pyaddrs = s->pyaddrs,
		.interp = py->interp, .ninterp = py->ninterp,
		.eval = py->eval, .neval = py->neval,
		.startup = py->startup, .nstartup = py->nstartup,
		.runtime = py->runtime, .nruntime = py->nruntime,
	};
	struct pymerge_stats st = { 0 };
	size_t m;

	if (pyreader_resolve(py->reader, snap->py, s->pyaddrs) < 0) {
		/* Out of memory: the native stack, as it is. */
		m = n < max ? n : max;
		memcpy(out, native, m * sizeof(*out));
		return m;
	}
	m = pymerge(&in, s->cfg.python_mode, out, max, &st);
	s->stats.python_samples += snap->weight ? snap->weight : 1;
	s->stats.python_unpaired += st.unpaired;
	if (snap->py->status == PYSTACK_TORN)
		s->stats.python_torn += snap->weight ? snap->weight : 1;
	return m;
}
