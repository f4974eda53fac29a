/*
 * kallsyms.h - naming kernel code addresses from /proc/kallsyms.
 *
 * The table is read once, text symbols only, sorted; a lookup is a binary
 * search. The kernel hides the addresses (prints zeros) to readers it does
 * not trust (kernel.kptr_restrict, or no CAP_SYSLOG): then there is nothing
 * to name with, and kallsyms_load says so.
 */
#ifndef HOTSPY_KALLSYMS_H
#define HOTSPY_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kallsyms;

/*
 * Read a kallsyms table from @path (normally "/proc/kallsyms"). Returns NULL
 * with errno: EACCES when every address reads as zero (hidden), ENOENT when
 * the file is missing, ENODATA when it holds no text symbol, ENOMEM.
 */
struct kallsyms *kallsyms_load(const char *path);

/*
 * Parse a table from memory, as kallsyms_load does. Lines that do not parse
 * are skipped. NULL with errno as kallsyms_load. Safe on any input (fuzzed).
 */
struct kallsyms *kallsyms_parse(const char *text, size_t len);

void kallsyms_free(struct kallsyms *k);   /* accepts NULL */

/*
 * The function containing @addr: the text symbol at or below it, as long as
 * @addr is below the next symbol. NULL when none. The string is owned by
 * @k. A symbol of a module carries the module as "name [module]".
 */
const char *kallsyms_lookup(const struct kallsyms *k, uint64_t addr);

size_t kallsyms_count(const struct kallsyms *k);

#endif
