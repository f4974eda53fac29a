/*
 * elf_file.h - one ELF object (executable, shared library, vdso image), read
 * with libelf, opened once and shared by the unwinder and the symbolizer.
 *
 * The file is mapped read-only; byte reads by file offset are memcpy.
 * Function symbols (.symtab, else .dynsym) are indexed lazily on the first
 * lookup into a sorted array.
 */
#ifndef HOTSPY_ELF_FILE_H
#define HOTSPY_ELF_FILE_H

#include <stddef.h>
#include <stdint.h>

struct elf_file;

/* Open @path. NULL with errno set (ENOENT, EACCES, ENOEXEC for not ELF). */
struct elf_file *elf_file_open(const char *path);
/* Wrap an in-memory image (the vdso copied from the target). The bytes are
 * copied. NULL with errno set. */
struct elf_file *elf_file_from_memory(const void *image, size_t len);
void elf_file_free(struct elf_file *ef);  /* accepts NULL */

/*
 * Load bias for a mapping of this file at @map_start with file offset
 * @map_offset: runtime address = ELF virtual address + bias. Uses the PT_LOAD
 * segment that contains @map_offset. 0 or -ENOENT when no segment does.
 * Any address of the mapping with its own file offset works as well, and
 * picks the right segment where two segments share a file page.
 */
int elf_file_load_bias(const struct elf_file *ef, uint64_t map_start,
		       uint64_t map_offset, uint64_t *bias);

/* Lowest and one-past-highest virtual address of the PT_LOAD segments. */
void elf_file_vaddr_range(const struct elf_file *ef, uint64_t *lo, uint64_t *hi);

/*
 * Copy @len bytes at file offset @off into @buf. 0, or -EFAULT when the range
 * is outside the file.
 */
int elf_file_read(const struct elf_file *ef, uint64_t off, void *buf, size_t len);

/* Copy @len bytes at ELF virtual address @vaddr (inside a PT_LOAD's file
 * part). 0 or -EFAULT. Used for the vdso image, whose file offsets and
 * addresses differ from the mapping's. */
int elf_file_read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf,
			size_t len);

/* Virtual address and size of .eh_frame_hdr (PT_GNU_EH_FRAME). 0 or -ENOENT. */
int elf_file_eh_frame_hdr(const struct elf_file *ef, uint64_t *vaddr, uint64_t *size);

/*
 * The function symbol that contains ELF virtual address @vaddr, from .symtab
 * or, when the file is stripped, .dynsym. Returns its name (owned by @ef, valid
 * until elf_file_free) and stores its start in *@start if non-NULL; NULL when
 * no symbol covers @vaddr. A symbol with size 0 covers up to the next one.
 * On x86-64 each PLT stub (.plt, .plt.sec, .plt.got) is a symbol too,
 * named "function@plt" after the relocation of the GOT slot it jumps
 * through, as perf and objdump name it.
 */
const char *elf_file_symbol(struct elf_file *ef, uint64_t vaddr, uint64_t *start);

/*
 * The symbol named exactly @name, of any type (object, function, TLS...),
 * defined in this file: .dynsym first (what the loader sees, kept by
 * strip), then .symtab (which also has local symbols such as CPython's
 * static `interp_head`). Stores its ELF virtual address in *@vaddr and its
 * st_size in *@size (either may be NULL). 0, or -ENOENT when no defined
 * symbol has that name. A linear scan: meant for a few look-ups per file,
 * not per sample.
 */
int elf_file_find_symbol(const struct elf_file *ef, const char *name, uint64_t *vaddr,
			 uint64_t *size);

/*
 * The section named exactly @name (".PyRuntime", ".rodata"): its address
 * (sh_addr), size and file offset, each stored when its pointer is
 * non-NULL. For SHT_NOBITS (.bss) the file offset holds no bytes. 0, or
 * -ENOENT when the file has no such section (or no section headers).
 */
int elf_file_section(const struct elf_file *ef, const char *name, uint64_t *vaddr,
		     uint64_t *size, uint64_t *file_offset);

/* Build-id note as raw bytes; returns length (0 when absent). Owned by @ef. */
size_t elf_file_build_id(const struct elf_file *ef, const uint8_t **id);

/* 1 when the object names a library starting with @prefix among its
 * DT_NEEDED entries (libpython3.11.so.1.0 for "libpython"), else 0. */
int elf_file_needs(const struct elf_file *ef, const char *prefix);

/* True when the object is a PIE or shared object (ET_DYN). */
int elf_file_is_dyn(const struct elf_file *ef);

/* The libelf handle, for libdw readers (CFI, DWARF). Owned by @ef. */
struct Elf *elf_file_elf(const struct elf_file *ef);

#endif
