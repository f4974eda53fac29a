/*
 * perfmap.h - the symbol files JIT compilers write for perf:
 * /tmp/perf-PID.map, one "START SIZE name" line per function, START and
 * SIZE in hex (a 0x prefix allowed). The file is untrusted input: malformed
 * lines are skipped, names are cut, and the table is bounded.
 */
#ifndef HOTSPY_PERFMAP_H
#define HOTSPY_PERFMAP_H

#include <stddef.h>
#include <stdint.h>

struct perfmap;

/* Parse @len bytes of map text. NULL only without memory. */
struct perfmap *perfmap_parse(const char *text, size_t len);
/* Read and parse @path; NULL with errno when it cannot be read. */
struct perfmap *perfmap_load(const char *path);
void perfmap_free(struct perfmap *pm);   /* accepts NULL */

/* The name of the function that contains @addr (the last one listed, when
 * a JIT reused the address), or NULL. Owned by @pm. */
const char *perfmap_lookup(const struct perfmap *pm, uint64_t addr);
size_t perfmap_count(const struct perfmap *pm);

#endif
