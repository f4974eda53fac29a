#include "elf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

/* Symbol ranks at one address: the lowest wins (a global over its aliases). */
enum { RANK_GLOBAL, RANK_WEAK, RANK_LOCAL };

struct segment {
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t offset;
	uint64_t filesz;
};

struct symbol {
	uint64_t addr;
	uint64_t end;           /* one past the last address it covers */
	const char *name;       /* in the ELF string table */
	unsigned rank;
	bool sized;             /* end came from st_size, not from a guess */
};

struct elf_file {
	Elf *elf;
	char *image;            /* the whole file */
	size_t size;
	bool mapped;            /* image is an mmap, else malloc'd */
	bool dyn;
	uint64_t page_size;

	struct segment *loads;
	size_t nloads;
	uint64_t vaddr_lo, vaddr_hi;

	bool has_eh_frame_hdr;
	uint64_t eh_vaddr, eh_size;

	const uint8_t *build_id;
	size_t build_id_len;

	bool symbols_built;
	struct symbol *syms;
	size_t nsyms;
	char *plt_names;        /* the "name@plt" strings of PLT entries */
};

static bool add_overflows(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b;
}

static int read_phdrs(struct elf_file *ef)
{
	size_t phnum, n = 0;
	GElf_Phdr ph;

	if (elf_getphdrnum(ef->elf, &phnum) < 0)
		return -ENOEXEC;
	if (phnum) {
		ef->loads = calloc(phnum, sizeof(*ef->loads));
		if (!ef->loads)
			return -ENOMEM;
	}
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type == PT_GNU_EH_FRAME) {
			ef->has_eh_frame_hdr = true;
			ef->eh_vaddr = ph.p_vaddr;
			ef->eh_size = ph.p_memsz;
		}
		/* A segment that wraps around cannot be mapped: skip it rather
		 * than let every later sum overflow. */
		if (ph.p_type != PT_LOAD || add_overflows(ph.p_vaddr, ph.p_memsz) ||
		    add_overflows(ph.p_offset, ph.p_filesz))
			continue;
		ef->loads[n] = (struct segment){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz,
			.offset = ph.p_offset, .filesz = ph.p_filesz,
		};
		if (n == 0 || ph.p_vaddr < ef->vaddr_lo)
			ef->vaddr_lo = ph.p_vaddr;
		if (n == 0 || ph.p_vaddr + ph.p_memsz > ef->vaddr_hi)
			ef->vaddr_hi = ph.p_vaddr + ph.p_memsz;
		n++;
	}
	ef->nloads = n;
	return 0;
}

static bool scan_notes(struct elf_file *ef, Elf_Data *d)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *base = d->d_buf;

		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(ELF_NOTE_GNU) &&
		    memcmp(base + name_off, ELF_NOTE_GNU, sizeof(ELF_NOTE_GNU)) == 0 &&
		    nh.n_descsz > 0) {
			ef->build_id = base + desc_off;
			ef->build_id_len = nh.n_descsz;
			return true;
		}
	}
	return false;
}

/* The loader's view (PT_NOTE) first: it survives section stripping, and the
 * vdso has it. Sections are the fallback for objects without one. */
static void find_build_id(struct elf_file *ef)
{
	Elf_Scn *scn = NULL;
	size_t phnum;
	GElf_Shdr sh;
	GElf_Phdr ph;

	if (elf_getphdrnum(ef->elf, &phnum) == 0) {
		for (size_t i = 0; i < phnum; i++) {
			Elf_Data *d;

			if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			d = elf_getdata_rawchunk(ef->elf, (int64_t)ph.p_offset, ph.p_filesz,
						 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
			if (d && scan_notes(ef, d))
				return;
		}
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		if (d && scan_notes(ef, d))
			return;
	}
}

/* Parse ef->image, which @ef already owns. 0 or -errno. */
static int elf_file_parse(struct elf_file *ef)
{
	GElf_Ehdr eh;
	long page = sysconf(_SC_PAGESIZE);
	int err;

	ef->page_size = page > 0 ? (uint64_t)page : 4096;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	ef->elf = elf_memory(ef->image, ef->size);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &eh))
		return -ENOEXEC;
	ef->dyn = eh.e_type == ET_DYN;
	err = read_phdrs(ef);
	if (err)
		return err;
	find_build_id(ef);
	return 0;
}

static struct elf_file *elf_file_finish(struct elf_file *ef)
{
	int err = elf_file_parse(ef);

	if (err) {
		elf_file_free(ef);
		errno = -err;
		return NULL;
	}
	return ef;
}

struct elf_file *elf_file_open(const char *path)
{
	struct elf_file *ef;
	struct stat st;
	void *image;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto err_close;
	}
	/* mmap cannot take an empty file, and devices are not objects. */
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		err = ENOEXEC;
		goto err_close;
	}
	/* Private and writable: elf_memory takes a char *, so libelf is not
	 * promised a read-only image; a write would stay in our own pages. */
	image = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (image == MAP_FAILED) {
		err = errno;
		goto err_close;
	}
	close(fd);
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		munmap(image, (size_t)st.st_size);
		errno = ENOMEM;
		return NULL;
	}
	ef->image = image;
	ef->size = (size_t)st.st_size;
	ef->mapped = true;
	return elf_file_finish(ef);

err_close:
	close(fd);
	errno = err;
	return NULL;
}

struct elf_file *elf_file_from_memory(const void *image, size_t len)
{
	struct elf_file *ef;

	if (len == 0) {
		errno = ENOEXEC;
		return NULL;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return NULL;
	ef->image = malloc(len);
	if (!ef->image) {
		free(ef);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(ef->image, image, len);
	ef->size = len;
	return elf_file_finish(ef);
}

void elf_file_free(struct elf_file *ef)
{
	if (!ef)
		return;
	/* elf_end first: libelf's data may point into the image. */
	elf_end(ef->elf);
	if (ef->mapped)
		munmap(ef->image, ef->size);
	else
		free(ef->image);
	free(ef->loads);
	free(ef->syms);
	free(ef->plt_names);
	free(ef);
}

/*
 * The kernel (fs/binfmt_elf.c) and ld.so (_dl_map_segments) map a segment
 * from the page holding p_offset to the page holding p_vaddr + bias, so for
 * any byte of that mapping, at address A and file offset O,
 *   A - O == p_vaddr + bias - p_offset.
 * The page size is the system's, not p_align, which may be 2 MiB.
 *
 * A file page can hold the end of one segment and the start of the next
 * (data shares the last page of the read-only segment before it; without
 * -z separate-code, text and data share one too), so an offset can lie in
 * two segments' mapped ranges. The one taken, in this order of weight:
 *  - for an ET_EXEC, the one that gives bias 0: it runs at link addresses;
 *  - one whose own bytes hold the offset, or that begins in the offset's
 *    page (a mapping starts at the first page of its segment);
 *  - of those, the one that begins last;
 *  - the first in program header order.
 * So a whole mapping gets its own segment, and a single address passed with
 * its own file offset gets the segment whose bytes are there.
 */
struct bias_rank {
	bool exec_zero;
	bool strong;
	uint64_t first;
};

static bool rank_above(const struct bias_rank *a, const struct bias_rank *b)
{
	if (a->exec_zero != b->exec_zero)
		return a->exec_zero;
	if (a->strong != b->strong)
		return a->strong;
	return a->first > b->first;
}

int elf_file_load_bias(const struct elf_file *ef, uint64_t map_start,
		       uint64_t map_offset, uint64_t *bias)
{
	struct bias_rank best = { 0 };
	bool found = false;

	for (size_t i = 0; i < ef->nloads; i++) {
		const struct segment *s = &ef->loads[i];
		uint64_t first = s->offset & ~(ef->page_size - 1);
		uint64_t b = map_start - map_offset - (s->vaddr - s->offset);
		struct bias_rank r = {
			.exec_zero = !ef->dyn && b == 0,
			.strong = map_offset >= s->offset || map_offset == first,
			.first = first,
		};

		if (map_offset < first || map_offset >= s->offset + s->filesz)
			continue;
		if (!found || rank_above(&r, &best)) {
			best = r;
			*bias = b;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

void elf_file_vaddr_range(const struct elf_file *ef, uint64_t *lo, uint64_t *hi)
{
	*lo = ef->vaddr_lo;
	*hi = ef->vaddr_hi;
}

int elf_file_read(const struct elf_file *ef, uint64_t off, void *buf, size_t len)
{
	if (off > ef->size || len > ef->size - off)
		return -EFAULT;
	memcpy(buf, ef->image + off, len);
	return 0;
}

int elf_file_read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf,
			size_t len)
{
	for (size_t i = 0; i < ef->nloads; i++) {
		const struct segment *s = &ef->loads[i];
		uint64_t in;

		if (vaddr < s->vaddr)
			continue;
		in = vaddr - s->vaddr;
		if (in < s->filesz && len <= s->filesz - in)
			return elf_file_read(ef, s->offset + in, buf, len);
	}
	return -EFAULT;
}

int elf_file_eh_frame_hdr(const struct elf_file *ef, uint64_t *vaddr, uint64_t *size)
{
	if (!ef->has_eh_frame_hdr)
		return -ENOENT;
	*vaddr = ef->eh_vaddr;
	*size = ef->eh_size;
	return 0;
}

size_t elf_file_build_id(const struct elf_file *ef, const uint8_t **id)
{
	*id = ef->build_id;
	return ef->build_id_len;
}

int elf_file_is_dyn(const struct elf_file *ef)
{
	return ef->dyn;
}

struct Elf *elf_file_elf(const struct elf_file *ef)
{
	return ef->elf;
}

static int cmp_symbol(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* .symtab when present: it also names the static functions. */
static Elf_Scn *symbol_section(Elf *elf, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL, *dynsym = NULL;
	GElf_Shdr dsh;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr s;

		if (!gelf_getshdr(scn, &s))
			continue;
		if (s.sh_type == SHT_SYMTAB) {
			*sh = s;
			return scn;
		}
		if (s.sh_type == SHT_DYNSYM && !dynsym) {
			dynsym = scn;
			dsh = s;
		}
	}
	if (dynsym)
		*sh = dsh;
	return dynsym;
}

/* Where a symbol without a size may end at most: its section's end. */
static uint64_t section_end(const struct elf_file *ef, const GElf_Sym *st)
{
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (st->st_shndx == SHN_UNDEF || st->st_shndx >= SHN_LORESERVE)
		return ef->vaddr_hi;
	scn = elf_getscn(ef->elf, st->st_shndx);
	if (!scn || !gelf_getshdr(scn, &sh) || add_overflows(sh.sh_addr, sh.sh_size))
		return ef->vaddr_hi;
	return sh.sh_addr + sh.sh_size;
}

static size_t collect_symbols(struct elf_file *ef, Elf_Data *d, size_t strndx,
			      struct symbol *out, size_t max)
{
	size_t n = 0;
	GElf_Sym st;

	for (size_t i = 0; n < max && gelf_getsym(d, (int)i, &st); i++) {
		unsigned type = GELF_ST_TYPE(st.st_info), bind = GELF_ST_BIND(st.st_info);
		const char *name;

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || st.st_value == 0 ||
		    st.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(ef->elf, strndx, st.st_name);
		if (!name || !*name)
			continue;
		out[n] = (struct symbol){
			.addr = st.st_value,
			.name = name,
			.rank = bind == STB_GLOBAL ? RANK_GLOBAL :
				bind == STB_WEAK ? RANK_WEAK : RANK_LOCAL,
			.sized = st.st_size > 0,
		};
		if (st.st_size > 0)
			out[n].end = add_overflows(st.st_value, st.st_size) ?
				     UINT64_MAX : st.st_value + st.st_size;
		else
			out[n].end = section_end(ef, &st);
		n++;
	}
	return n;
}

/*
 * Sort by address, keep one symbol per address (the best ranked, with the
 * largest size any alias gives), and let a symbol without a size run to the
 * next one.
 */
static size_t merge_symbols(struct symbol *v, size_t n)
{
	size_t kept = 0;

	qsort(v, n, sizeof(*v), cmp_symbol);
	for (size_t i = 0; i < n; i++) {
		struct symbol *last = kept ? &v[kept - 1] : NULL;

		if (last && last->addr == v[i].addr) {
			if (v[i].sized && (!last->sized || v[i].end > last->end)) {
				last->end = v[i].end;
				last->sized = true;
			}
			continue;
		}
		v[kept++] = v[i];
	}
	for (size_t i = 0; i < kept; i++) {
		if (v[i].sized)
			continue;
		if (i + 1 < kept && v[i + 1].addr < v[i].end)
			v[i].end = v[i + 1].addr;
		if (v[i].end <= v[i].addr)
			v[i].end = v[i].addr + 1;
	}
	return kept;
}

/*
 * PLT entries (x86-64). A call to a function of another object goes
 * through a stub in .plt, .plt.sec (with -fcf-protection) or .plt.got
 * (functions whose address is also taken, or -z now), which jumps through
 * a GOT slot: "jmp *DISP(%rip)", ff 25 disp32, maybe after endbr64 and a
 * bnd prefix. The relocation that fills the slot names the function:
 * R_X86_64_JUMP_SLOT (.rela.plt) or R_X86_64_GLOB_DAT (.rela.dyn), or, for
 * an ifunc of the object itself (R_X86_64_IRELATIVE), the ifunc symbol at
 * the addend. The lazy .plt entries of an IBT object ("endbr64; push N;
 * bnd jmp .plt") are named by N, their index in .rela.plt. perf and objdump
 * name these stubs "function@plt"; without this they were module+offset.
 * Reading the slot from each stub's own code, rather than assuming the
 * entries follow the relocations in order (perf's older way), holds for
 * all three sections and any entry size.
 */
#define PLT_NAMES_MAX 65536     /* entries named per object, at most */
#define PLT_SUFFIX "@plt"

struct got_slot {
	uint64_t addr;          /* of the GOT slot (r_offset) */
	const char *name;       /* of the function, in the ELF string table */
};

struct plt_entry {
	uint64_t addr, end;
	const char *name;
};

struct plt_scan {
	struct got_slot *slots;         /* sorted by addr */
	size_t nslots;
	const char **lazy;              /* .rela.plt's names by index */
	size_t nlazy;
	struct plt_entry *entries;
	size_t nentries, cap;
};

static int cmp_slot(const void *a, const void *b)
{
	const struct got_slot *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The name of the ifunc (or function) symbol at @addr, from the symbols
 * already built, or NULL. */
static const char *symbol_at(const struct symbol *syms, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (syms[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && syms[lo].addr == addr ? syms[lo].name : NULL;
}

/* The function names of the GOT slots filled by the relocations of one
 * SHT_RELA section @scn, appended to @ps; those of .rela.plt (@is_plt) also
 * by index for the lazy entries. */
static void read_relocations(struct elf_file *ef, Elf_Scn *scn, const GElf_Shdr *sh,
			     bool is_plt, struct plt_scan *ps)
{
	Elf_Data *d = elf_getdata(scn, NULL), *symd;
	size_t fsize = gelf_fsize(ef->elf, ELF_T_RELA, 1, EV_CURRENT), n;
	Elf_Scn *symscn = elf_getscn(ef->elf, sh->sh_link);
	GElf_Shdr symsh;
	struct got_slot *slots;

	if (!d || !fsize || !symscn || !gelf_getshdr(symscn, &symsh) ||
	    (symsh.sh_type != SHT_DYNSYM && symsh.sh_type != SHT_SYMTAB))
		return;
	symd = elf_getdata(symscn, NULL);
	n = d->d_size / fsize;
	if (!symd || n == 0 || n > PLT_NAMES_MAX || ps->nslots + n > PLT_NAMES_MAX)
		return;
	slots = realloc(ps->slots, (ps->nslots + n) * sizeof(*slots));
	if (!slots)
		return;
	ps->slots = slots;
	if (is_plt && !ps->lazy) {
		ps->lazy = calloc(n, sizeof(*ps->lazy));
		ps->nlazy = ps->lazy ? n : 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned type;
		const char *name = NULL;
		GElf_Rela r;
		GElf_Sym st;

		if (!gelf_getrela(d, (int)i, &r))
			break;
		type = (unsigned)GELF_R_TYPE(r.r_info);
		if (type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT) {
			if (gelf_getsym(symd, (int)GELF_R_SYM(r.r_info), &st) &&
			    (GELF_ST_TYPE(st.st_info) == STT_FUNC ||
			     GELF_ST_TYPE(st.st_info) == STT_GNU_IFUNC ||
			     GELF_ST_TYPE(st.st_info) == STT_NOTYPE))
				name = elf_strptr(ef->elf, symsh.sh_link, st.st_name);
		} else if (type == R_X86_64_IRELATIVE) {
			name = symbol_at(ef->syms, ef->nsyms, (uint64_t)r.r_addend);
		}
		if (!name || !*name)
			continue;
		if (is_plt && i < ps->nlazy)
			ps->lazy[i] = name;
		ps->slots[ps->nslots++] = (struct got_slot){ .addr = r.r_offset, .name = name };
	}
}

static const char *slot_name(const struct plt_scan *ps, uint64_t addr)
{
	struct got_slot key = { .addr = addr }, *hit;

	hit = ps->nslots ? bsearch(&key, ps->slots, ps->nslots, sizeof(key), cmp_slot) : NULL;
	return hit ? hit->name : NULL;
}

/* The function the stub at @code[0..len) (at ELF address @addr) calls, or
 * NULL. */
static const char *stub_target(const struct plt_scan *ps, const uint8_t *code, size_t len,
			       uint64_t addr)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t i = 0;
	int32_t disp;

	if (len >= sizeof(endbr64) && memcmp(code, endbr64, sizeof(endbr64)) == 0)
		i = sizeof(endbr64);
	if (i + 5 <= len && code[i] == 0x68) {
		/* push $N: a lazy entry, N the index in .rela.plt. */
		uint32_t index;

		memcpy(&index, code + i + 1, 4);
		return index < ps->nlazy ? ps->lazy[index] : NULL;
	}
	if (i < len && code[i] == 0xf2)  /* bnd */
		i++;
	if (i + 6 > len || code[i] != 0xff || code[i + 1] != 0x25)
		return NULL;
	memcpy(&disp, code + i + 2, 4);
	/* The slot is relative to the end of the jmp. */
	return slot_name(ps, addr + i + 6 + (uint64_t)(int64_t)disp);
}

/* Name each entry of the PLT section @scn into @ps. */
static void scan_plt(struct plt_scan *ps, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	uint64_t step = sh->sh_entsize == 8 || sh->sh_entsize == 16 ? sh->sh_entsize : 16;

	if (!d || !d->d_buf || sh->sh_type != SHT_PROGBITS)
		return;
	for (uint64_t off = 0; off + step <= d->d_size; off += step) {
		const char *name = stub_target(ps, (const uint8_t *)d->d_buf + off,
					       (size_t)step, sh->sh_addr + off);
		struct plt_entry *e;

		if (!name)
			continue;
		if (ps->nentries == ps->cap) {
			size_t cap = ps->cap ? 2 * ps->cap : 64;

			if (cap > PLT_NAMES_MAX)
				return;
			e = realloc(ps->entries, cap * sizeof(*e));
			if (!e)
				return;
			ps->entries = e;
			ps->cap = cap;
		}
		ps->entries[ps->nentries++] = (struct plt_entry){
			.addr = sh->sh_addr + off, .end = sh->sh_addr + off + step, .name = name,
		};
	}
}

/* Add a "name@plt" symbol for each PLT entry to the sorted symbols. */
static void add_plt_symbols(struct elf_file *ef)
{
	struct plt_scan ps = { 0 };
	Elf_Scn *scn = NULL;
	size_t shstrndx, bytes = 0, used = 0;
	struct symbol *syms;
	GElf_Ehdr eh;

	if (!gelf_getehdr(ef->elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(ef->elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		name = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		read_relocations(ef, scn, &sh, name && strcmp(name, ".rela.plt") == 0, &ps);
	}
	if (ps.nslots)
		qsort(ps.slots, ps.nslots, sizeof(*ps.slots), cmp_slot);
	while (ps.nslots && (scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		if (name && (strcmp(name, ".plt") == 0 || strcmp(name, ".plt.sec") == 0 ||
			     strcmp(name, ".plt.got") == 0))
			scan_plt(&ps, scn, &sh);
	}
	for (size_t i = 0; i < ps.nentries; i++)
		bytes += strnlen(ps.entries[i].name, 1024) + sizeof(PLT_SUFFIX);
	syms = ps.nentries ? realloc(ef->syms, (ef->nsyms + ps.nentries) * sizeof(*syms)) : NULL;
	if (syms)
		ef->syms = syms;
	ef->plt_names = syms ? malloc(bytes) : NULL;
	for (size_t i = 0; ef->plt_names && i < ps.nentries; i++) {
		size_t len = strnlen(ps.entries[i].name, 1024);
		char *dst = ef->plt_names + used;

		memcpy(dst, ps.entries[i].name, len);
		memcpy(dst + len, PLT_SUFFIX, sizeof(PLT_SUFFIX));
		used += len + sizeof(PLT_SUFFIX);
		ef->syms[ef->nsyms++] = (struct symbol){
			.addr = ps.entries[i].addr, .end = ps.entries[i].end, .name = dst,
			.rank = RANK_LOCAL, .sized = true,
		};
	}
	if (ef->plt_names)
		ef->nsyms = merge_symbols(ef->syms, ef->nsyms);
	free(ps.slots);
	free(ps.lazy);
	free(ps.entries);
}

static void build_symbols(struct elf_file *ef)
{
	size_t max, fsize;
	Elf_Data *d;
	Elf_Scn *scn;
	GElf_Shdr sh;

	ef->symbols_built = true;
	scn = symbol_section(ef->elf, &sh);
	if (!scn)
		return;
	/* Size the array from the data libelf checked against the file, never
	 * from sh_size, which a bad header can make anything. */
	d = elf_getdata(scn, NULL);
	fsize = gelf_fsize(ef->elf, ELF_T_SYM, 1, EV_CURRENT);
	if (!d || !fsize)
		return;
	max = d->d_size / fsize;
	if (!max)
		return;
	ef->syms = calloc(max, sizeof(*ef->syms));
	if (!ef->syms)
		return;
	ef->nsyms = merge_symbols(ef->syms, collect_symbols(ef, d, sh.sh_link, ef->syms, max));
	add_plt_symbols(ef);
}

const char *elf_file_symbol(struct elf_file *ef, uint64_t vaddr, uint64_t *start)
{
	size_t lo = 0, hi;

	if (!ef->symbols_built)
		build_symbols(ef);
	/* The last symbol that starts at or below @vaddr. */
	hi = ef->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ef->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || vaddr >= ef->syms[lo - 1].end)
		return NULL;
	if (start)
		*start = ef->syms[lo - 1].addr;
	return ef->syms[lo - 1].name;
}

/* The defined symbol @name in the symbol table section @scn. */
static int find_in_table(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, const char *name,
			 uint64_t *vaddr, uint64_t *size)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t fsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT), n;
	GElf_Sym st;

	if (!d || !fsize)
		return -ENOENT;
	/* Bounded by the data libelf checked against the file, not sh_size. */
	n = d->d_size / fsize;
	for (size_t i = 1; i < n && gelf_getsym(d, (int)i, &st); i++) {
		const char *s;

		if (st.st_shndx == SHN_UNDEF || st.st_name == 0)
			continue;
		s = elf_strptr(elf, sh->sh_link, st.st_name);
		if (!s || strcmp(s, name) != 0)
			continue;
		if (vaddr)
			*vaddr = st.st_value;
		if (size)
			*size = st.st_size;
		return 0;
	}
	return -ENOENT;
}

static Elf_Scn *section_of_type(Elf *elf, unsigned type, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, sh) && sh->sh_type == type)
			return scn;
	}
	return NULL;
}

int elf_file_find_symbol(const struct elf_file *ef, const char *name, uint64_t *vaddr,
			 uint64_t *size)
{
	static const unsigned types[] = { SHT_DYNSYM, SHT_SYMTAB };
	GElf_Shdr sh;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		Elf_Scn *scn = section_of_type(ef->elf, types[i], &sh);

		if (scn && find_in_table(ef->elf, scn, &sh, name, vaddr, size) == 0)
			return 0;
	}
	return -ENOENT;
}

int elf_file_section(const struct elf_file *ef, const char *name, uint64_t *vaddr,
		     uint64_t *size, uint64_t *file_offset)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(ef->elf, &shstrndx) < 0)
		return -ENOENT;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *s;

		if (!gelf_getshdr(scn, &sh))
			continue;
		s = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		if (!s || strcmp(s, name) != 0)
			continue;
		if (vaddr)
			*vaddr = sh.sh_addr;
		if (size)
			*size = sh.sh_size;
		if (file_offset)
			*file_offset = sh.sh_offset;
		return 0;
	}
	return -ENOENT;
}

int elf_file_needs(const struct elf_file *ef, const char *prefix)
{
	size_t plen = strlen(prefix);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			const char *lib;

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != DT_NEEDED)
				continue;
			lib = elf_strptr(ef->elf, sh.sh_link, dyn.d_un.d_val);
			if (lib && strncmp(lib, prefix, plen) == 0)
				return 1;
		}
	}
	return 0;
}
