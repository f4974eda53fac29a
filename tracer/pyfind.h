/*
 * pyfind.h - where the CPython runtime lives in a live process, and which
 * version it is, found from the process's maps and ELF files alone: nothing
 * runs in the target and the target's binary is never executed.
 *
 * The runtime is in libpython (libpython2.7.so.1.0, libpython3.X[dmt].so*,
 * pyenv's and most distributions' shared builds) or in the executable
 * (Debian's static /usr/bin/python3.11, a C program linking libpython
 * statically). It is located by the `_PyRuntime` symbol (3.7+), else by the
 * `.PyRuntime` section that starts at it (3.10+, builds without symbols),
 * and for 2.7 and 3.6 by `_PyThreadState_Current` and the static
 * `interp_head`. Facts and offsets: shared/PYTHON.md.
 */
#ifndef HOTSPY_PYFIND_H
#define HOTSPY_PYFIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "elf_cache.h"
#include "maps.h"

#define PYFIND_PATH_MAX 4096

/* Where the version came from, best first. */
enum pyfind_version_source {
	PYFIND_VERSION_NONE,
	PYFIND_VERSION_PY_VERSION,     /* the Py_Version constant (3.11+) */
	PYFIND_VERSION_DEBUG_OFFSETS,  /* _Py_DebugOffsets.version (3.13+) */
	PYFIND_VERSION_BANNER,         /* the PY_VERSION string in .rodata */
	PYFIND_VERSION_NAME,           /* the file's name: major.minor only */
};

/* How runtime_addr was found. */
enum pyfind_runtime_source {
	PYFIND_RUNTIME_NONE,           /* 2.7, 3.6: no _PyRuntime */
	PYFIND_RUNTIME_SYMBOL,         /* the _PyRuntime symbol */
	PYFIND_RUNTIME_SECTION,        /* the .PyRuntime section */
	PYFIND_RUNTIME_COPY,           /* the executable's copy of libpython's
	                                * _PyRuntime (copy relocation) */
};

/* What pyfind_runtime found. A plain value; addresses are the target's. */
struct pyfind_result {
	/* PY_VERSION_HEX (0x030b07f0 is 3.11.7 final). When !version_exact
	 * only major and minor are known: the low 16 bits are 0. */
	uint32_t hexversion;
	bool version_exact;
	enum pyfind_version_source version_from;

	/* &_PyRuntime (3.7+), 0 for 2.7 and 3.6. */
	uint64_t runtime_addr;
	enum pyfind_runtime_source runtime_from;
	/* Start of the .PyRuntime section (3.10+), 0 when the file has none
	 * or when it is not the live runtime (PYFIND_RUNTIME_COPY); equal to
	 * runtime_addr otherwise. */
	uint64_t section_addr;
	/* 2.7 and 3.6: &_PyThreadState_Current, and &interp_head when the
	 * file has .symtab (0 otherwise). 3.7+: tstate_current_addr is 0 and
	 * interp_head_addr is &_PyRuntime.interpreters.head. */
	uint64_t tstate_current_addr;
	uint64_t interp_head_addr;

	/* The newest PyInterpreterState (the value at interp_head_addr) read
	 * from the target, 0 while the interpreter is not up yet. */
	uint64_t interp_head;
	/* interp_head != 0; also true for 2.7/3.6 without interp_head, where
	 * it cannot be told (then interp_head_addr is 0). */
	bool initialized;

	/* 3.13+: _PyRuntime starts with _Py_DebugOffsets ("xdebugpy"). */
	bool has_debug_offsets;
	/* A free-threaded build (3.13t): _Py_DebugOffsets.free_threaded or
	 * the t ABI flag of the file's name. Not supported: -ENOTSUP. */
	bool free_threaded;

	uint64_t load_bias;        /* runtime address - ELF address, module's */
	/* The mapped file holding the runtime, as /proc/PID/maps names it
	 * (truncated to fit). */
	char module[PYFIND_PATH_MAX];
};

/*
 * Find the CPython runtime in process @pid, whose current mappings are
 * @maps; its files are opened through @cache (which follows
 * /proc/PID/root and map_files). Reads a few words of the target with
 * process_vm_readv. Fills *@out and returns:
 *   0         found; out->initialized says whether the interpreter is up.
 *             While it is not, ask again later (a program started under
 *             hotspy: libpython is not even mapped at its exec).
 *   -ENOENT   no CPython runtime in the process (not Python, or not yet
 *             mapped); nothing worth a message.
 *   -ENOTSUP  a CPython whose version is not supported, or a
 *             free-threaded build (out->free_threaded); out->hexversion
 *             (0 when unknown) and out->module are set for one message.
 *   -errno    the target could not be read (-EPERM, -ESRCH...).
 * Not safe in a signal handler (opens files, allocates).
 */
int pyfind_runtime(pid_t pid, const struct maps *maps, struct elf_cache *cache,
		   struct pyfind_result *out);

/*
 * The major.minor of CPython named by the file name of @path (a directory
 * part is ignored): libpython3.9.so, libpython3.13t.so.1.0,
 * libpython3.6m.so.1.0, libpython2.7.so.1.0, python3.11, python3.13t.
 * Stores PY_VERSION_HEX with micro, level and serial 0 in *@hexversion.
 * 0, or -ENOENT for any other name (libpython3.so, python3,
 * python3.12-config). Pure.
 */
int pyfind_version_from_name(const char *path, uint32_t *hexversion);

/*
 * PY_VERSION_HEX of a PY_VERSION string of exactly @len bytes: "3.12.1",
 * "3.13.0rc2", "3.14.0a7", "3.9.18+" (a development build after 3.9.18).
 * 0, or -EINVAL when the bytes are not such a string. Pure.
 */
int pyfind_version_from_string(const char *s, size_t len, uint32_t *hexversion);

/* Whether process @pid runs CPython: pyfind_runtime finds it (up or not
 * yet), or finds a version hotspy does not read (still a Python program).
 * Not safe in a signal handler. */
bool pyfind_is_python(pid_t pid, struct elf_cache *cache);

/*
 * Whether the command @argv0 would run CPython: the file execvp would run
 * (looked up in $PATH), or the interpreter of its #! line (through
 * /usr/bin/env too), is a CPython interpreter or links libpython. Reads
 * the files, runs nothing.
 */
bool pyfind_command_is_python(const char *argv0);

/* Short name of a source, for messages and the probe ("py_version"...). */
const char *pyfind_version_source_name(enum pyfind_version_source src);
const char *pyfind_runtime_source_name(enum pyfind_runtime_source src);

#endif
