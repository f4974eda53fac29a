#include "pyfind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "elf_file.h"
#include "log.h"
#include "pylayout.h"
#include "target.h"

#include "banned.h"

#define HEX(major, minor) (((uint32_t)(major) << 24) | ((uint32_t)(minor) << 16))
#define HEX_MAJOR(h) ((h) >> 24)
#define HEX_MINOR(h) (((h) >> 16) & 0xff)
#define HEX_MAJOR_MINOR(h) ((h) & 0xffff0000u)

/* Bounds on what a file may make us read. */
#define RODATA_MAX (64u << 20)
#define BANNER_MAX 24            /* "3.13.0rc2+" and then some */
#define HEAD_OFFSET_MAX (1u << 20)

/*
 * _Py_DebugOffsets, the start of _PyRuntime on 3.13+
 * (Include/internal/pycore_runtime.h, 3.13): char cookie[8]; uint64_t
 * version; uint64_t free_threaded; struct _runtime_state { uint64_t size;
 * uint64_t finalizing; uint64_t interpreters_head; } ...
 */
#define DEBUG_COOKIE "xdebugpy"
#define DEBUG_OFF_VERSION 8
#define DEBUG_OFF_FREE_THREADED 16
#define DEBUG_OFF_HEAD 40
#define DEBUG_READ 48

/*
 * offsetof(_PyRuntimeState, interpreters.head) where _Py_DebugOffsets does
 * not say it: the version's table (pylayout.c, checked against each
 * version's headers). The test reads the same word through
 * PyInterpreterState_Head() in each interpreter.
 */
static int head_offset(uint32_t hex, uint64_t *off)
{
	const struct pylayout *l = pylayout_for_version(hex);

	if (!l || l->runtime.interpreters_head == PYLAYOUT_ABSENT)
		return -ENOTSUP;
	*off = l->runtime.interpreters_head;
	return 0;
}

const char *pyfind_version_source_name(enum pyfind_version_source src)
{
	switch (src) {
	case PYFIND_VERSION_PY_VERSION: return "py_version";
	case PYFIND_VERSION_DEBUG_OFFSETS: return "debug_offsets";
	case PYFIND_VERSION_BANNER: return "banner";
	case PYFIND_VERSION_NAME: return "name";
	case PYFIND_VERSION_NONE: break;
	}
	return "none";
}

const char *pyfind_runtime_source_name(enum pyfind_runtime_source src)
{
	switch (src) {
	case PYFIND_RUNTIME_SYMBOL: return "symbol";
	case PYFIND_RUNTIME_SECTION: return "section";
	case PYFIND_RUNTIME_COPY: return "copy";
	case PYFIND_RUNTIME_NONE: break;
	}
	return "none";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of at most 3 digits at *@s (< @end), below @max. */
static int parse_small(const char **s, const char *end, unsigned max, unsigned *v)
{
	unsigned n = 0, digits = 0;

	while (*s < end && is_digit(**s) && digits < 4) {
		n = n * 10 + (unsigned)(**s - '0');
		(*s)++;
		digits++;
	}
	if (digits == 0 || digits > 3 || n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

/* "M.m" at *@s: the version part of a file name. */
static int parse_major_minor(const char **s, const char *end, uint32_t *hex)
{
	unsigned major, minor;

	if (parse_small(s, end, 9, &major) < 0 || *s >= end || **s != '.')
		return -EINVAL;
	(*s)++;
	if (parse_small(s, end, 255, &minor) < 0)
		return -EINVAL;
	if (major < 2 || major > 3)
		return -EINVAL;
	*hex = HEX(major, minor);
	return 0;
}

/* ABI flags of a build: d (debug), m (pymalloc, ≤3.7), t (free-threaded),
 * u (wide unicode, 2.7 and 3.2). */
static const char *skip_abiflags(const char *s, const char *end)
{
	for (int i = 0; i < 3 && s < end && strchr("dmtu", *s) && *s; i++)
		s++;
	return s;
}

/* Whether the file name of @path (a version pyfind_version_from_name
 * reads) carries the t ABI flag of a free-threaded build:
 * libpython3.13t.so.1.0, python3.13t. */
static bool name_free_threaded(const char *path)
{
	const char *base = strrchr(path, '/'), *s, *end, *flags;
	uint32_t hex;

	base = base ? base + 1 : path;
	end = base + strlen(base);
	if (pyfind_version_from_name(base, &hex) < 0)
		return false;
	s = base + (strncmp(base, "libpython", 9) == 0 ? 9 : 6);
	if (parse_major_minor(&s, end, &hex) < 0)
		return false;
	flags = s;
	s = skip_abiflags(s, end);
	return memchr(flags, 't', (size_t)(s - flags)) != NULL;
}

int pyfind_version_from_name(const char *path, uint32_t *hexversion)
{
	static const char deleted[] = " (deleted)";
	const char *base = strrchr(path, '/'), *s, *end;
	bool lib;
	uint32_t hex;
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len >= sizeof(deleted) - 1 &&
	    strcmp(base + len - (sizeof(deleted) - 1), deleted) == 0)
		len -= sizeof(deleted) - 1;
	end = base + len;
	if (len > 9 && memcmp(base, "libpython", 9) == 0) {
		lib = true;
		s = base + 9;
	} else if (len > 6 && memcmp(base, "python", 6) == 0) {
		lib = false;
		s = base + 6;
	} else {
		return -ENOENT;
	}
	if (parse_major_minor(&s, end, &hex) < 0)
		return -ENOENT;
	s = skip_abiflags(s, end);
	if (lib) {
		/* ".so" then the end or a version suffix (".so.1.0"). */
		if (end - s < 3 || memcmp(s, ".so", 3) != 0)
			return -ENOENT;
		s += 3;
		if (s != end && *s != '.')
			return -ENOENT;
	} else if (s != end) {
		return -ENOENT;
	}
	*hexversion = hex;
	return 0;
}

int pyfind_version_from_string(const char *s, size_t len, uint32_t *hexversion)
{
	const char *end = s + len;
	unsigned major, minor, micro, level = 0xf, serial = 0;

	if (parse_small(&s, end, 9, &major) < 0 || s >= end || *s++ != '.' ||
	    parse_small(&s, end, 255, &minor) < 0 || s >= end || *s++ != '.' ||
	    parse_small(&s, end, 255, &micro) < 0)
		return -EINVAL;
	if (major < 2 || major > 3)
		return -EINVAL;
	/* Release level and serial (Include/patchlevel.h). */
	if (s < end && (*s == 'a' || *s == 'b' || *s == 'r')) {
		if (*s == 'r') {
			if (end - s < 2 || s[1] != 'c')
				return -EINVAL;
			level = 0xc;
			s += 2;
		} else {
			level = *s == 'a' ? 0xa : 0xb;
			s++;
		}
		if (parse_small(&s, end, 15, &serial) < 0)
			return -EINVAL;
	}
	/* "+": a build from the branch after that release; same hex. */
	if (s < end && *s == '+')
		s++;
	if (s != end)
		return -EINVAL;
	*hexversion = HEX(major, minor) | micro << 8 | level << 4 | serial;
	return 0;
}

/*
 * PY_VERSION ("3.9.18") as the compiler left it in .rodata: a string of
 * its own, or the tail of a longer one (gcc merges "…/versions/3.9.18"
 * and "3.9.18"). Accepted when it begins after a character that is
 * neither a digit nor a dot, ends with NUL, has the major.minor of @want
 * when that is known, else one of at least @min (messages quote other
 * versions: Debian's 3.11 holds "3.2.0"), and is the only distinct such
 * version in the section: anything ambiguous is no answer.
 */
static int banner_version(const struct elf_file *ef, uint32_t want, uint32_t min,
			  uint32_t *hex)
{
	uint64_t size, off;
	uint32_t found = 0;
	char *buf;
	int err = -ENOENT;

	if (elf_file_section(ef, ".rodata", NULL, &size, &off) < 0)
		return -ENOENT;
	if (size > RODATA_MAX)
		size = RODATA_MAX;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	if (elf_file_read(ef, off, buf, size) < 0)
		goto out;
	for (uint64_t i = 0; i + 5 < size; i++) {
		uint64_t j, lim = i + BANNER_MAX < size ? i + BANNER_MAX : size;
		uint32_t h;

		if ((buf[i] != '2' && buf[i] != '3') || buf[i + 1] != '.')
			continue;
		if (i > 0 && (is_digit(buf[i - 1]) || buf[i - 1] == '.'))
			continue;
		for (j = i; j < lim && buf[j]; j++)
			;
		if (j == lim || pyfind_version_from_string(buf + i, j - i, &h) < 0)
			continue;
		if (want ? HEX_MAJOR_MINOR(h) != want : h < min)
			continue;
		if (found && found != h) {
			err = -ENOENT;  /* two versions: trust neither */
			goto out;
		}
		found = h;
		err = 0;
	}
	if (!err)
		*hex = found;
out:
	free(buf);
	return err;
}

/* Is @m the process's executable (the exe link names the same file)? */
static bool is_executable(const struct mapping *m, const char *exe, const struct stat *st)
{
	if (exe[0] && strcmp(m->path, exe) == 0)
		return true;
	return st && m->inode == (uint64_t)st->st_ino &&
	       m->dev_major == major(st->st_dev) && m->dev_minor == minor(st->st_dev);
}

/* What one ELF file says about the runtime it holds; ELF addresses. */
struct candidate {
	const struct mapping *m;
	struct elf_file *ef;
	uint64_t runtime, runtime_size, section;
	uint64_t tstate_current, interp_head;
	enum pyfind_runtime_source runtime_from;
};

static bool candidate_probe(struct candidate *c)
{
	uint64_t v, size;

	if (elf_file_find_symbol(c->ef, "_PyRuntime", &v, &size) == 0 && v) {
		c->runtime = v;
		c->runtime_size = size;
		c->runtime_from = PYFIND_RUNTIME_SYMBOL;
	}
	if (elf_file_section(c->ef, ".PyRuntime", &v, &size, NULL) == 0 && v) {
		c->section = v;
		if (!c->runtime) {
			c->runtime = v;
			c->runtime_size = size;
			c->runtime_from = PYFIND_RUNTIME_SECTION;
		}
	}
	if (c->runtime)
		return true;
	/* 2.7 and 3.6 (Python/pystate.c): the current thread state is
	 * exported; interp_head is static, in .symtab only. */
	if (elf_file_find_symbol(c->ef, "_PyThreadState_Current", &v, NULL) == 0 && v) {
		c->tstate_current = v;
		if (elf_file_find_symbol(c->ef, "interp_head", &v, NULL) == 0)
			c->interp_head = v;
		return true;
	}
	return false;
}

/* A mapping of the process's executable, or NULL. */
static const struct mapping *executable_mapping(pid_t pid, const struct maps *maps)
{
	char link[64], exe[PYFIND_PATH_MAX] = "";
	struct stat st;
	bool have_st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	have_st = stat(link, &st) == 0;
	for (size_t i = 0; i < maps_count(maps); i++) {
		const struct mapping *m = maps_at(maps, i);

		if (mapping_is_file(m) && is_executable(m, exe, have_st ? &st : NULL))
			return m;
	}
	return NULL;
}

/*
 * The file holding the runtime: a libpython first (the interpreter's code
 * and data are there when a program links it), then the executable
 * (static builds, static embedding). Other libraries are not opened:
 * a process maps dozens and only these two kinds hold an interpreter.
 */
static int candidate_find(pid_t pid, const struct maps *maps, struct elf_cache *cache,
			  const struct mapping *exe, struct candidate *c)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct mapping *tried = NULL;

		for (size_t i = 0; i < maps_count(maps); i++) {
			const struct mapping *m = maps_at(maps, i);
			const char *base = strrchr(m->path, '/');
			uint32_t hex;
			bool want;

			if (!mapping_is_file(m))
				continue;
			/* One file maps several times in a row: probe it once. */
			if (tried && tried->inode == m->inode &&
			    tried->dev_major == m->dev_major && tried->dev_minor == m->dev_minor)
				continue;
			base = base ? base + 1 : m->path;
			want = pass == 0 ? strncmp(base, "libpython", 9) == 0 &&
					   pyfind_version_from_name(base, &hex) == 0
					 : exe && m->inode == exe->inode &&
					   m->dev_major == exe->dev_major &&
					   m->dev_minor == exe->dev_minor;
			if (!want)
				continue;
			tried = m;
			*c = (struct candidate){ .m = m, .ef = elf_cache_get(cache, pid, m) };
			if (c->ef && candidate_probe(c))
				return 0;
		}
	}
	return -ENOENT;
}

/* @len bytes at ELF address @vaddr: from the target, else from the file
 * (initialised data is the same until the program writes it). */
static int read_either(pid_t pid, const struct candidate *c, uint64_t bias, uint64_t vaddr,
		       void *buf, size_t len)
{
	if (target_read(pid, vaddr + bias, buf, len) == 0)
		return 0;
	return elf_file_read_vaddr(c->ef, vaddr, buf, len);
}

static void version_find(pid_t pid, const struct candidate *c, uint64_t bias,
			 struct pyfind_result *out, uint64_t *debug_head_off)
{
	unsigned char dbg[DEBUG_READ];
	uint64_t v, size;
	uint32_t hex = 0, min;

	/* Py_Version (3.11+, Python/getversion.c): const unsigned long, so
	 * in the file's read-only data. Little-endian: its low 4 bytes. */
	if (elf_file_find_symbol(c->ef, "Py_Version", &v, &size) == 0 &&
	    (size == 4 || size == 8) && elf_file_read_vaddr(c->ef, v, &hex, 4) == 0 &&
	    HEX_MAJOR(hex) == 3) {
		out->hexversion = hex;
		out->version_exact = true;
		out->version_from = PYFIND_VERSION_PY_VERSION;
	}
	if (c->runtime && read_either(pid, c, bias, c->runtime, dbg, sizeof(dbg)) == 0 &&
	    memcmp(dbg, DEBUG_COOKIE, 8) == 0) {
		uint64_t dv, ft, head;

		memcpy(&dv, dbg + DEBUG_OFF_VERSION, 8);
		memcpy(&ft, dbg + DEBUG_OFF_FREE_THREADED, 8);
		memcpy(&head, dbg + DEBUG_OFF_HEAD, 8);
		out->has_debug_offsets = true;
		out->free_threaded = ft != 0;
		if (head < HEAD_OFFSET_MAX && (!c->runtime_size || head + 8 <= c->runtime_size))
			*debug_head_off = head;
		if (!out->version_from && dv >> 24 == 3 && dv <= UINT32_MAX) {
			out->hexversion = (uint32_t)dv;
			out->version_exact = true;
			out->version_from = PYFIND_VERSION_DEBUG_OFFSETS;
		}
	}
	if (out->version_from)
		return;
	/* The name gives major.minor; PY_VERSION in the file, the rest. */
	if (pyfind_version_from_name(c->m->path, &hex) == 0) {
		out->hexversion = hex;
		out->version_from = PYFIND_VERSION_NAME;
	}
	/* Without a name, what was found bounds the version: .PyRuntime
	 * came in 3.10, _PyRuntime in 3.7. */
	min = c->section ? HEX(3, 10) :
	      c->runtime ? HEX(3, 7) : HEX(2, 7);
	if (banner_version(c->ef, out->hexversion, min, &hex) == 0) {
		out->hexversion = hex;
		out->version_exact = true;
		out->version_from = PYFIND_VERSION_BANNER;
	}
}

/* Versions this finder can hand on: a layout exists or the target
 * describes itself (_Py_DebugOffsets). Matches what was found: 2.7 and
 * 3.6 have no _PyRuntime, 3.7+ have it. */
static bool version_supported(const struct pyfind_result *r, bool debug_head)
{
	uint32_t mm = HEX_MAJOR_MINOR(r->hexversion);

	if (mm == HEX(2, 7) || mm == HEX(3, 6))
		return r->tstate_current_addr != 0;
	if (!r->runtime_addr || HEX_MAJOR(r->hexversion) != 3 || mm < HEX(3, 7))
		return false;
	if (mm >= HEX(3, 14))
		return r->has_debug_offsets && debug_head;
	return true;
}

/*
 * A program that names @symbol of libpython from non-PIC code (an
 * embedder using the internal API, say) gets a copy of it in its own
 * .bss by a copy relocation (R_X86_64_COPY), and the dynamic linker binds
 * every reference, libpython's own included, to the executable's
 * definition: the executable comes first in the lookup scope. The copy is
 * then the live object and libpython's stays unused. Its runtime address,
 * or 0 when there is no copy.
 */
static uint64_t copy_relocated(pid_t pid, struct elf_cache *cache,
			       const struct mapping *exe, const struct candidate *c,
			       const char *symbol)
{
	struct elf_file *ef;
	uint64_t v, bias;

	if (!exe || (exe->inode == c->m->inode && exe->dev_major == c->m->dev_major &&
		     exe->dev_minor == c->m->dev_minor))
		return 0;
	ef = elf_cache_get(cache, pid, exe);
	if (!ef || elf_file_find_symbol(ef, symbol, &v, NULL) < 0 || !v ||
	    elf_file_load_bias(ef, exe->start, exe->offset, &bias) < 0)
		return 0;
	return v + bias;
}

int pyfind_runtime(pid_t pid, const struct maps *maps, struct elf_cache *cache,
		   struct pyfind_result *out)
{
	uint64_t bias, head_off = UINT64_MAX, head = 0, copy;
	const struct mapping *exe;
	struct candidate c;
	int err;

	memset(out, 0, sizeof(*out));
	exe = executable_mapping(pid, maps);
	err = candidate_find(pid, maps, cache, exe, &c);
	if (err)
		return err;
	if (elf_file_load_bias(c.ef, c.m->start, c.m->offset, &bias) < 0)
		return -ENOENT;
	out->load_bias = bias;
	snprintf(out->module, sizeof(out->module), "%s", c.m->path);
	if (c.runtime) {
		out->runtime_addr = c.runtime + bias;
		out->runtime_from = c.runtime_from;
	}
	if (c.section)
		out->section_addr = c.section + bias;
	if (c.tstate_current)
		out->tstate_current_addr = c.tstate_current + bias;

	version_find(pid, &c, bias, out, &head_off);
	if (c.runtime && (copy = copy_relocated(pid, cache, exe, &c, "_PyRuntime"))) {
		out->runtime_addr = copy;
		out->runtime_from = PYFIND_RUNTIME_COPY;
		out->section_addr = 0;
	}
	if (c.tstate_current &&
	    (copy = copy_relocated(pid, cache, exe, &c, "_PyThreadState_Current")))
		out->tstate_current_addr = copy;
	/* A free-threaded build (PEP 703: no GIL, per-object locks, thread
	 * states and frames laid out apart) says so in its _Py_DebugOffsets
	 * and in its ABI flag; hotspy has no reader for it yet. */
	if (name_free_threaded(c.m->path))
		out->free_threaded = true;
	if (out->free_threaded) {
		log_debug("process %d: CPython %u.%ut in %s is a free-threaded build", (int)pid,
			  HEX_MAJOR(out->hexversion), HEX_MINOR(out->hexversion), out->module);
		return -ENOTSUP;
	}
	if (!version_supported(out, head_off != UINT64_MAX)) {
		log_debug("process %d: CPython %u.%u in %s is not supported", (int)pid,
			  HEX_MAJOR(out->hexversion), HEX_MINOR(out->hexversion), out->module);
		return -ENOTSUP;
	}

	if (c.runtime) {
		if (head_off == UINT64_MAX && head_offset(out->hexversion, &head_off) < 0)
			return -ENOTSUP;
		out->interp_head_addr = out->runtime_addr + head_off;
	} else if (c.interp_head) {
		out->interp_head_addr = c.interp_head + bias;
	}
	if (!out->interp_head_addr) {
		out->initialized = true;  /* cannot tell: say it is up */
		return 0;
	}
	err = target_read(pid, out->interp_head_addr, &head, sizeof(head));
	if (err)
		return err;
	out->interp_head = head;
	out->initialized = head != 0;
	return 0;
}

bool pyfind_is_python(pid_t pid, struct elf_cache *cache)
{
	struct pyfind_result *res = malloc(sizeof(*res));
	struct maps *maps = NULL;
	bool yes = false;
	int err;

	if (!res)
		return false;
	if (maps_read(pid, &maps) == 0) {
		err = pyfind_runtime(pid, maps, cache, res);
		yes = err == 0 || err == -ENOTSUP;
		maps_free(maps);
	}
	free(res);
	return yes;
}

/* The path execvp would run for @name: itself when it has a '/', else the
 * first executable file of that name in $PATH. 0 or -ENOENT. */
static int command_path(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(out, size, "%s", name);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", name);

		if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
			return 0;
		path += len;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

/* A file that is a CPython interpreter or links libpython: by its name, by
 * the runtime's symbols and section, or by its DT_NEEDED entries. */
static bool file_is_python(const char *path)
{
	const char *base = strrchr(path, '/');
	struct elf_file *ef;
	uint32_t v;
	bool yes;

	base = base ? base + 1 : path;
	if (strncmp(base, "python", 6) == 0 && pyfind_version_from_name(base, &v) == 0)
		return true;
	ef = elf_file_open(path);
	if (!ef)
		return false;
	yes = elf_file_find_symbol(ef, "_PyRuntime", NULL, NULL) == 0 ||
	      elf_file_find_symbol(ef, "_PyThreadState_Current", NULL, NULL) == 0 ||
	      elf_file_section(ef, ".PyRuntime", NULL, NULL, NULL) == 0 ||
	      elf_file_needs(ef, "libpython");
	elf_file_free(ef);
	return yes;
}

/* The next blank-separated word of *@p, NUL-terminated in place, or NULL. */
static char *next_word(char **p)
{
	char *w = *p + strspn(*p, " \t");
	size_t len = strcspn(w, " \t");

	if (!len)
		return NULL;
	*p = w + len + (w[len] != '\0');
	w[len] = '\0';
	return w;
}

/* "python", "python3", "python3.12", "python3.13t", "pypy" not: the names
 * under which CPython is run, wrappers (pyenv's shims) included. */
static bool python_name(const char *cmd)
{
	const char *base = strrchr(cmd, '/');

	base = base ? base + 1 : cmd;
	if (strncmp(base, "python", 6) != 0)
		return false;
	base += 6;
	base += strspn(base, "0123456789.");
	if (*base == 'd' || *base == 'm' || *base == 't')
		base++;
	return *base == '\0';
}

bool pyfind_command_is_python(const char *argv0)
{
	char path[PYFIND_PATH_MAX], line[256], name[256];
	FILE *f;

	if (python_name(argv0))
		return true;

	/* A script: its #! line names the interpreter, through env or not.
	 * One level only, as the kernel does. */
	for (int depth = 0; depth < 2; depth++) {
		char *p, *interp, *base;

		if (command_path(argv0, path, sizeof(path)) < 0)
			return false;
		f = fopen(path, "re");
		if (!f)
			return false;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		if (!p || strncmp(line, "#!", 2) != 0)
			return file_is_python(path);
		line[strcspn(line, "\n")] = '\0';
		p = line + 2;
		interp = next_word(&p);
		if (!interp)
			return false;
		base = strrchr(interp, '/');
		if (strcmp(base ? base + 1 : interp, "env") == 0) {
			do
				interp = next_word(&p);
			while (interp && interp[0] == '-');
			if (!interp)
				return false;
		}
		if (strchr(interp, '/'))
			return file_is_python(interp);
		snprintf(name, sizeof(name), "%s", interp);
		argv0 = name;
	}
	return false;
}
