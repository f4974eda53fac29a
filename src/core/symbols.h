/*
 * symbols.h - naming code addresses.
 *
 * Resolution goes: process maps -> mapping -> ELF file (elf_cache) -> load
 * bias -> function symbol. Each distinct (pid, address) is resolved once and
 * the result kept for the life of the symbolizer.
 */
#ifndef HOTSPY_SYMBOLS_H
#define HOTSPY_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "debug_cache.h"
#include "elf_cache.h"
#include "frame.h"
#include "maps.h"
#include "pycode.h"

struct symbolizer;

/* @cache is borrowed and must outlive the symbolizer. NULL with errno. */
struct symbolizer *symbolizer_new(struct elf_cache *cache);
void symbolizer_free(struct symbolizer *sym);   /* accepts NULL */

/* Use @maps for process @pid from now on (takes a reference; drops the one
 * held before). */
void symbolizer_set_maps(struct symbolizer *sym, pid_t pid, struct maps *maps);

/* As symbolizer_set_maps, for the program @pid ran as image @image
 * (addrspace.h: 0 for the one it ran when sampling began, +1 per exec):
 * user addresses tagged with @image are named with @maps. Image 0 is what
 * symbolizer_set_maps sets. */
void symbolizer_set_image_maps(struct symbolizer *sym, pid_t pid, uint32_t image,
			       struct maps *maps);

/* The demangled form of a C++ (_Z...) or Rust (legacy _ZN...17h...E, v0
 * _R...) symbol name, malloc'd, or NULL when @name is not one. */
char *symbol_demangle(const char *name);

/* The short form of the same: the scope-qualified name without return
 * type and parameter list, clone suffixes kept
 * ("geo::accumulate_dots<double> [clone .constprop.0]"), as perf prints
 * it. Malloc'd, or NULL when @name is not a mangled name. */
char *symbol_demangle_short(const char *name);

/* Python frames: the file as co_filename gives it, whole, instead of
 * relative to the sys.path entry it lies under (py-spy's
 * --full-filenames). Off by default. */
void symbolizer_set_full_filenames(struct symbolizer *sym, bool on);

/* C++ names keep their return and parameter types (the full form of
 * symbol_demangle) when this is called with true (--full-names); by
 * default they are short (symbol_demangle_short). Call before the first
 * symbolizer_resolve. */
void symbolizer_set_full_names(struct symbolizer *sym, bool on);

/* C++ and Rust names are demangled unless this is called with false
 * (--no-demangle). Call before the first symbolizer_resolve. */
void symbolizer_set_demangle(struct symbolizer *sym, bool on);

/* Also look for separate debug files by build-id under @dir
 * (DIR/.build-id/xx/rest.debug) and by debuglink in @dir, before the
 * standard places. @dir must outlive @sym. */
void symbolizer_add_debug_dir(struct symbolizer *sym, const char *dir);

/* Read compressed debug files through @dc (debug_cache.h), which is
 * borrowed and must outlive the symbolizer; NULL (the default) inflates
 * their DWARF in memory each time. The names are the same either way.
 * Call before the first symbolizer_resolve. */
void symbolizer_set_debug_cache(struct symbolizer *sym, struct debug_cache *dc);

/* Name python addresses (addrspace.h) from @codes, which is borrowed and
 * must outlive the symbolizer. Without it they are "[python]". */
void symbolizer_set_pycodes(struct symbolizer *sym, const struct pycodes *codes);

/*
 * Name @addr of process @pid. Stores an array of frames, innermost first
 * (several when functions were inlined), in *@frames and returns its length,
 * always >= 1: an address that cannot be named gets one FRAME_UNKNOWN frame.
 * The frames are owned by the symbolizer and valid until symbolizer_free.
 */
size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames);

/*
 * Where user address @addr of process @pid comes from (of its image:
 * addrspace.h), for writers that list
 * mappings (pprof): the mapping that holds it, borrowed from the maps given
 * by symbolizer_set_maps (valid until they are replaced, or the symbolizer
 * freed), or NULL when none does. When @build_id is not NULL it receives
 * the build-id of the mapping's ELF file (owned by the ELF cache) and the
 * return value of *@build_id_len its length, 0 when none is known.
 */
const struct mapping *symbolizer_mapping(struct symbolizer *sym, pid_t pid, uint64_t addr,
					 const uint8_t **build_id, size_t *build_id_len);

#endif
