#include "unwind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libunwind.h>

#include "log.h"
#include "profile.h"
#include "banned.h"

/*
 * libunwind's search over a binary-search table in the unwound process's
 * address space. It is exported by libunwind-generic but not declared in
 * its public header; perf's unwind-libunwind-local.c declares it the same way.
 */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

/*
 * What we know of one object's .eh_frame_hdr (LSB 3.0 "Exception Frame
 * Header"): version 1, then the encodings of eh_frame_ptr, fde_count and the
 * table; libunwind only understands a table of (sdata4 datarel) pairs, which
 * is what GNU ld and lld write.
 */
struct eh_table {
	struct elf_file *ef;     /* key */
	int ok;
	uint64_t hdr_vaddr;      /* ELF address of .eh_frame_hdr */
	uint64_t fde_count;
	uint64_t lo, hi;         /* PT_LOAD range, for di.start_ip/end_ip */
};

#define EH_TABLE_SLOTS 256     /* objects per process; collisions just redo work */

struct unwinder {
	unw_addr_space_t as;
	struct elf_cache *cache;
	struct eh_table tables[EH_TABLE_SLOTS];
};

/* The walk in progress, the `arg` of every accessor. */
struct unwind_walk {
	struct unwinder *uw;
	const struct maps *maps;
	const struct snapshot *snap;
	const struct mapping *last_map;   /* one-entry cache for access_mem */
	struct elf_file *last_ef;
	int past_stack;                   /* a read fell beyond the stack copy */
	int unmapped;                     /* a PC fell outside the maps */
	int no_info;                      /* find_proc_info failed in this step */
};

#define DW_EH_PE_udata4  0x03
#define DW_EH_PE_sdata4  0x0b
#define DW_EH_PE_pcrel   0x10
#define DW_EH_PE_datarel 0x30

static struct eh_table *eh_table_get(struct unwinder *uw, struct elf_file *ef)
{
	uintptr_t h = (uintptr_t)ef;
	struct eh_table *t;
	uint8_t hdr[4];
	uint32_t count;
	uint64_t size;

	h ^= h >> 17;
	t = &uw->tables[(h * 0x9e3779b97f4a7c15ull >> 40) % EH_TABLE_SLOTS];
	if (t->ef == ef)
		return t->ok ? t : NULL;

	memset(t, 0, sizeof(*t));
	t->ef = ef;
	if (elf_file_eh_frame_hdr(ef, &t->hdr_vaddr, &size) < 0 || size < 12)
		return NULL;
	if (elf_file_read_vaddr(ef, t->hdr_vaddr, hdr, sizeof(hdr)) < 0 ||
	    elf_file_read_vaddr(ef, t->hdr_vaddr + 8, &count, sizeof(count)) < 0)
		return NULL;
	if (hdr[0] != 1 || hdr[2] != DW_EH_PE_udata4 ||
	    hdr[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || count == 0)
		return NULL;
	if (12 + (uint64_t)count * 8 > size)
		return NULL;
	t->fde_count = count;
	elf_file_vaddr_range(ef, &t->lo, &t->hi);
	t->ok = 1;
	return t;
}

/* The mapping and ELF object holding @addr, through the walk's cache. */
static struct elf_file *walk_object(struct unwind_walk *w, uint64_t addr,
				    const struct mapping **mp)
{
	const struct mapping *m = w->last_map;

	if (!m || addr < m->start || addr >= m->end) {
		m = maps_find(w->maps, addr);
		if (!m)
			return NULL;
		w->last_map = m;
		w->last_ef = elf_cache_get(w->uw->cache, w->snap->pid, m);
	}
	*mp = m;
	return w->last_ef;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct unwind_walk *w = arg;
	const struct mapping *m;
	struct elf_file *ef;
	struct eh_table *t;
	unw_dyn_info_t di;
	uint64_t bias;
	int ret;

	/* Failing here makes libunwind guess the next frame (frame pointer,
	 * PLT rules); unwinder_unwind keeps no guessed frame. */
	w->no_info = 1;
	ef = walk_object(w, ip, &m);
	if (!ef) {
		if (!maps_find(w->maps, ip))
			w->unmapped = 1;
		return -UNW_ENOINFO;
	}
	t = eh_table_get(w->uw, ef);
	if (!t || elf_file_load_bias(ef, m->start, m->offset, &bias) < 0)
		return -UNW_ENOINFO;

	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = t->lo + bias;
	di.end_ip = t->hi + bias;
	di.u.rti.segbase = t->hdr_vaddr + bias;
	di.u.rti.table_data = t->hdr_vaddr + 12 + bias;
	/* table_len counts unw_word_t; each entry is two 4-byte fields. */
	di.u.rti.table_len = t->fde_count * 8 / sizeof(unw_word_t);
	ret = dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
	if (ret >= 0)
		w->no_info = 0;
	return ret;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* Only called for dynamic (JIT-registered) unwind info, which we never
	 * hand out; table-based info is released by libunwind itself. */
	(void)as;
	(void)pi;
	(void)arg;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	(void)as;
	(void)dilap;
	(void)arg;
	return -UNW_ENOINFO;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp,
		      int write, void *arg)
{
	struct unwind_walk *w = arg;
	const struct snapshot *s = w->snap;
	const struct mapping *m;
	struct elf_file *ef;

	(void)as;
	if (write)
		return -UNW_EINVAL;

	if (addr >= s->stack_addr && addr - s->stack_addr <= s->stack_len &&
	    s->stack_len - (addr - s->stack_addr) >= sizeof(*valp)) {
		memcpy(valp, s->stack + (addr - s->stack_addr), sizeof(*valp));
		return 0;
	}

	ef = walk_object(w, addr, &m);
	if (ef && elf_file_read(ef, addr - m->start + m->offset, valp, sizeof(*valp)) == 0)
		return 0;

	/* Beyond the copy but inside the same stack: the copy was too short. */
	m = maps_find(w->maps, addr);
	if (m && addr >= s->stack_addr && s->stack_addr >= m->start && s->stack_addr < m->end)
		w->past_stack = 1;
	return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp,
		      int write, void *arg)
{
	struct unwind_walk *w = arg;

	(void)as;
	if (write)
		return -UNW_EINVAL;
	if (reg < 0 || reg >= SNAP_NREGS)
		return -UNW_EBADREG;
	*valp = w->snap->regs[reg];
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
			int write, void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EINVAL;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
	(void)as;
	(void)cu;
	(void)arg;
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *bufp,
			 size_t buf_len, unw_word_t *offp, void *arg)
{
	/* Names come later, from the symbolizer, for what is shown. */
	(void)as;
	(void)addr;
	(void)bufp;
	(void)buf_len;
	(void)offp;
	(void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t unwind_accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

struct unwinder *unwinder_new(struct elf_cache *cache)
{
	struct unwinder *uw = calloc(1, sizeof(*uw));

	if (!uw)
		return NULL;
	uw->cache = cache;
	uw->as = unw_create_addr_space(&unwind_accessors, 0);
	if (!uw->as) {
		free(uw);
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Rules found for an IP stay valid until the mappings change
	 * (unwinder_flush). The global cache guards itself with a lock that
	 * blocks all signals through sigprocmask, two system calls per frame
	 * (measured: ~64 per walk of the hotspots fixture); the lock-free
	 * UNW_CACHE_PER_THREAD exists only in libunwind builds configured with
	 * --enable-per-thread-cache, and quietly becomes GLOBAL in Debian's.
	 * The cost is hotspy's alone: walks run after the target resumed.
	 */
	unw_set_caching_policy(uw->as, UNW_CACHE_GLOBAL);
	return uw;
}

void unwinder_free(struct unwinder *uw)
{
	if (!uw)
		return;
	unw_destroy_addr_space(uw->as);
	free(uw);
}

void unwinder_flush(struct unwinder *uw)
{
	unw_flush_cache(uw->as, 0, 0);
	memset(uw->tables, 0, sizeof(uw->tables));
}

size_t unwinder_unwind(struct unwinder *uw, const struct maps *maps,
		       const struct snapshot *snap, uint64_t *addrs, size_t max,
		       enum unwind_end *end)
{
	struct unwind_walk w = { .uw = uw, .maps = maps, .snap = snap };
	unw_cursor_t cursor;
	unw_word_t ip;
	size_t n = 0;
	int adjust = 0;   /* callers' return addresses point past the call */
	int ret;

	*end = UNWIND_NO_INFO;
	if (unw_init_remote(&cursor, uw->as, &w) < 0) {
		addrs[n++] = snap->regs[SNAP_RIP];
		addrs[n++] = PROFILE_ADDR_UNKNOWN;
		return n;
	}
	for (;;) {
		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) {
			/* A zero return address is how some outermost frames
			 * without CFI end (hand-written thread entry code). */
			if (ip == 0 && n > 0)
				*end = UNWIND_BOTTOM;
			break;
		}
		if (n == max - 1) {
			*end = UNWIND_CUT;
			break;
		}
		addrs[n++] = adjust ? ip - 1 : ip;
		/* After a signal frame the next PC is an interrupted
		 * instruction, not a return address. */
		adjust = unw_is_signal_frame(&cursor) <= 0;
		w.no_info = 0;
		ret = unw_step(&cursor);
		/* A step made without unwind info is libunwind's guess from
		 * frame-pointer or PLT rules: without frame pointers it reads
		 * stale stack slots as return addresses. End the walk instead. */
		if (w.no_info) {
			*end = UNWIND_NO_INFO;
			break;
		}
		if (ret == 0) {
			*end = UNWIND_BOTTOM;
			break;
		}
		if (ret < 0)
			break;
	}
	/* A PC outside every mapping means the maps are stale, wherever the
	 * walk ended: the caller reloads them and walks again. */
	if (w.unmapped)
		*end = UNWIND_UNMAPPED;
	if (*end != UNWIND_BOTTOM) {
		if (w.past_stack && *end != UNWIND_UNMAPPED)
			*end = UNWIND_CUT;
		addrs[n++] = *end == UNWIND_CUT ? PROFILE_ADDR_TRUNCATED
						: PROFILE_ADDR_UNKNOWN;
	}
	return n;
}
