#include "unwind.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <libunwind.h>

#include "array.h"
#include "htable.h"
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
	Dwarf_CFI *cfi;          /* libdw's reader of the object's .eh_frame,
	                          * for the rule cache; NULL until needed */
	int cfi_tried;
	int ok;
	uint64_t hdr_vaddr;      /* ELF address of .eh_frame_hdr */
	uint64_t fde_count;
	uint64_t lo, hi;         /* PT_LOAD range, for di.start_ip/end_ip */
};

#define EH_TABLE_SLOTS 256     /* objects per process; collisions just redo work */
#define STACK_MAX (1ull << 30) /* no thread's stack is larger */

/*
 * The fast path: what the CFI of one code address says, reduced to the
 * rules that compiled x86-64 code uses (CFA = register + offset; return
 * address and callee-saved registers at CFA + offset, or unchanged), so a
 * step is a table lookup and a few loads from the stack copy. Anything
 * else (expressions, signal frames, PLT stubs) is RULE_SLOW: that step is
 * left to libunwind, which knows every case. Code with no CFI at all is
 * RULE_NONE: its step follows the frame-pointer chain, if plausible.
 *
 * libunwind's own rule cache takes a lock that blocks signals with two
 * sigprocmask calls per frame; this one is private to the unwinder.
 */
enum rule_kind { RULE_STEP = 1, RULE_BOTTOM, RULE_SLOW, RULE_NONE };

#define RULE_SAME  INT16_MAX      /* register unchanged by this frame */
#define RULE_UNDEF INT16_MIN      /* register not recoverable (call-clobbered) */
#define RULE_REGS  SNAP_RIP       /* general registers 0..15 */

struct cfi_rule {
	uint8_t kind;
	uint8_t cfa_reg;              /* DWARF register number (= SNAP_*) */
	int32_t cfa_off;
	int16_t ra_off;               /* return address at CFA + ra_off */
	int16_t reg_off[RULE_REGS];   /* each register: at CFA + off, or
	                               * RULE_SAME / RULE_UNDEF */
};

struct rule_entry {
	const struct elf_file *ef;
	uint64_t vaddr;
	struct cfi_rule rule;
};

#define RULES_MAX  (1u << 19)     /* rules kept; then the cache starts over */

/*
 * The rule of each recent PC, by its address in the process: most samples
 * walk through the same few hundred return addresses, and finding a PC's
 * rule by its mapping, ELF file, load bias and (file, address) hash costs
 * more than the step itself. Direct-mapped; valid for one set of mappings
 * (unwinder_flush empties it).
 */
#define PC_SLOTS 1024u

struct pc_slot {
	uint64_t pc;
	uint32_t rule;       /* index in rules, + 1; 0 for an empty slot */
};

struct unwinder {
	unw_addr_space_t as;
	struct elf_cache *cache;
	struct eh_table tables[EH_TABLE_SLOTS];
	struct rule_entry *rules;     /* each (file, address) computed once */
	size_t nrules, rules_cap;
	struct htable rules_index;
	const struct maps *pc_maps;   /* the mappings pcs was filled from */
	struct pc_slot *pcs;          /* PC_SLOTS, allocated at first use */
	uint64_t fast_walks, slow_walks;
	bool fast;                    /* use the rule cache (default) */
};

/* The walk in progress, the `arg` of every accessor. */
struct unwind_walk {
	struct unwinder *uw;
	const struct maps *maps;
	const struct snapshot *snap;
	const uint64_t *regs;             /* where libunwind's cursor starts */
	const struct mapping *last_map;   /* one-entry cache for access_mem */
	struct elf_file *last_ef;
	int past_stack;                   /* a read fell beyond the stack copy */
	int no_info;                      /* find_proc_info failed in this step */
};

static uint64_t rule_hash(const struct elf_file *ef, uint64_t vaddr)
{
	uint64_t h = (uint64_t)(uintptr_t)ef ^ (vaddr * 0x9e3779b97f4a7c15ull);

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

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

	if (t->cfi)
		dwarf_cfi_end(t->cfi);
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

/*
 * Is @addr (not in the copy) stack beyond the copy: the copy was too short?
 * It is when it lies below the end of the mapping that holds the copy. A
 * main thread's stack grows without an mmap, so maps read before a deep
 * recursion may hold no mapping for the copy at all: then, if the sampler
 * cut the copy (stack_cut), the stack is what lies above it up to the
 * [stack] mapping. Anything else (the heap, a register holding data) is
 * not the stack: a walk that reads there stops for want of a frame, it was
 * not cut.
 */
static int past_copy(const struct unwind_walk *w, uint64_t addr)
{
	const struct snapshot *s = w->snap;
	const struct mapping *m;

	if (addr < s->stack_addr)
		return 0;
	m = maps_find(w->maps, s->stack_addr);
	if (m)
		return addr < m->end;
	if (!s->stack_cut || addr - s->stack_addr >= STACK_MAX)
		return 0;
	m = maps_find(w->maps, addr);
	return !m || strcmp(m->path, "[stack]") == 0;
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
	 * PLT rules); unw_one_step keeps no guessed frame. */
	w->no_info = 1;
	ef = walk_object(w, ip, &m);
	if (!ef)
		return -UNW_ENOINFO;
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

	if (past_copy(w, addr))
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
	*valp = w->regs ? w->regs[reg] : w->snap->regs[reg];
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

static const unw_accessors_t unwind_accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

/* libdw's CFI reader of @ef (through the eh_table slot), or NULL. */
static Dwarf_CFI *object_cfi(struct unwinder *uw, struct elf_file *ef)
{
	struct eh_table *t = eh_table_get(uw, ef);

	if (!t)
		return NULL;
	if (!t->cfi_tried) {
		t->cfi_tried = 1;
		t->cfi = dwarf_getcfi_elf(elf_file_elf(ef));
	}
	return t->cfi;
}

/* A location rule "at CFA + off" as libdw spells it: DW_OP_call_frame_cfa,
 * then optionally DW_OP_plus_uconst with the (signed) offset. */
static int cfa_offset_rule(const Dwarf_Op *ops, size_t nops, int16_t *off)
{
	int64_t v = 0;

	if (nops < 1 || nops > 2 || ops[0].atom != DW_OP_call_frame_cfa)
		return -1;
	if (nops == 2) {
		if (ops[1].atom != DW_OP_plus_uconst)
			return -1;
		v = (int64_t)ops[1].number;
	}
	if (v <= RULE_UNDEF || v >= RULE_SAME)
		return -1;
	*off = (int16_t)v;
	return 0;
}

/* Reduce the CFI of ELF address @vaddr in @ef to a cfi_rule. */
static void rule_compute(struct unwinder *uw, struct elf_file *ef, uint64_t vaddr,
			 struct cfi_rule *r)
{
	Dwarf_CFI *cfi = object_cfi(uw, ef);
	Dwarf_Frame *frame = NULL;
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;
	bool signal = false;
	int ra;

	memset(r, 0, sizeof(*r));
	r->kind = RULE_NONE;
	if (!cfi || dwarf_cfi_addrframe(cfi, vaddr, &frame) != 0)
		goto out;
	r->kind = RULE_SLOW;
	ra = dwarf_frame_info(frame, NULL, NULL, &signal);
	if (ra != SNAP_RIP || signal)
		goto out;
	/* The outermost frame says its caller's PC is undefined. */
	if (dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) != 0)
		goto out;
	if (nops == 0 && ops == ops_mem) {
		r->kind = RULE_BOTTOM;
		goto out;
	}
	if (cfa_offset_rule(ops, nops, &r->ra_off) < 0)
		goto out;
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1 ||
	    ops[0].atom != DW_OP_bregx || ops[0].number >= RULE_REGS)
		goto out;
	r->cfa_reg = (uint8_t)ops[0].number;
	r->cfa_off = (int32_t)(int64_t)ops[0].number2;
	if ((int64_t)ops[0].number2 != r->cfa_off)
		goto out;
	for (int reg = 0; reg < RULE_REGS; reg++) {
		if (reg == SNAP_RSP)
			continue;   /* the caller's SP is the CFA (x86-64 psABI) */
		if (dwarf_frame_register(frame, reg, ops_mem, &ops, &nops) != 0)
			goto out;
		if (nops == 0)
			r->reg_off[reg] = ops ? RULE_UNDEF : RULE_SAME;
		else if (cfa_offset_rule(ops, nops, &r->reg_off[reg]) < 0)
			goto out;
	}
	r->kind = RULE_STEP;
out:
	free(frame);
}

/* The rule of ELF address @vaddr of @ef, computed once. NULL when out of
 * memory. Valid until the next call. */
static const struct cfi_rule *rule_get(struct unwinder *uw, struct elf_file *ef,
				       uint64_t vaddr)
{
	uint64_t hash = rule_hash(ef, vaddr);
	struct htable_iter it;
	struct rule_entry *e;

	for (uint32_t i = htable_find(&uw->rules_index, hash, &it); i != HTABLE_NONE;
	     i = htable_next(&uw->rules_index, &it)) {
		e = &uw->rules[i];
		if (e->ef == ef && e->vaddr == vaddr)
			return &e->rule;
	}
	if (uw->nrules == RULES_MAX) {
		/* Bounded: start over rather than grow without end. */
		uw->nrules = 0;
		htable_clear(&uw->rules_index);
		if (uw->pcs)
			memset(uw->pcs, 0, PC_SLOTS * sizeof(*uw->pcs));
	}
	e = array_grow(uw->rules, &uw->rules_cap, uw->nrules + 1, sizeof(*e));
	if (!e)
		return NULL;
	uw->rules = e;
	if (htable_insert(&uw->rules_index, hash, (uint32_t)uw->nrules) < 0)
		return NULL;
	e = &uw->rules[uw->nrules++];
	e->ef = ef;
	e->vaddr = vaddr;
	rule_compute(uw, ef, vaddr, &e->rule);
	return &e->rule;
}

/* One register from the stack copy. 0, 1 when @addr is in the stack past
 * the copy (the copy was too short), -1 elsewhere. */
static int stack_load(const struct unwind_walk *w, uint64_t addr, uint64_t *val)
{
	const struct snapshot *s = w->snap;

	if (addr >= s->stack_addr && addr - s->stack_addr <= s->stack_len &&
	    s->stack_len - (addr - s->stack_addr) >= sizeof(*val)) {
		memcpy(val, s->stack + (addr - s->stack_addr), sizeof(*val));
		return 0;
	}
	return past_copy(w, addr) ? 1 : -1;
}

/* How one step from a frame to its caller went. */
enum step {
	STEP_OK,        /* registers now hold the caller's */
	STEP_BOTTOM,    /* the frame is the outermost */
	STEP_CUT,       /* a load fell in the stack past the copy */
	STEP_STOP,      /* no plausible way up: the walk ends here */
	STEP_NO_CFI,    /* the code has no unwind information */
};

/* The registers of the frame being stepped, and which are known. */
struct walk_regs {
	uint64_t r[SNAP_NREGS];
	uint32_t valid;            /* bit i: r[i] holds the frame's value */
};

#define REG_BIT(reg) (1u << (reg))
#define REGS_ALL     ((1u << SNAP_NREGS) - 1)

/* One step by a cached rule @r (RULE_STEP). */
static enum step cfi_step(const struct unwind_walk *w, const struct cfi_rule *r,
			  struct walk_regs *wr)
{
	uint64_t cfa, ra, saved[RULE_REGS];
	uint32_t loaded = 0;
	int reg, ld;

	cfa = wr->r[r->cfa_reg] + (uint64_t)(int64_t)r->cfa_off;
	ld = stack_load(w, cfa + (uint64_t)(int64_t)r->ra_off, &ra);
	if (ld > 0)
		return STEP_CUT;
	if (ld < 0)
		return STEP_STOP;
	/* A walk that does not move up the stack is going nowhere. */
	if (cfa <= wr->r[SNAP_RSP])
		return STEP_STOP;
	for (reg = 0; reg < RULE_REGS; reg++) {
		int16_t off = r->reg_off[reg];

		if (reg == SNAP_RSP || off == RULE_SAME || off == RULE_UNDEF)
			continue;
		ld = stack_load(w, cfa + (uint64_t)(int64_t)off, &saved[reg]);
		if (ld > 0)
			return STEP_CUT;
		/* A slot the CFI still names after the epilogue popped it
		 * (GCC leaves the rule in place past `pop %rbx`) lies below
		 * the stack pointer, outside the copy: the caller's value of
		 * that register is unknown, which matters only if a later
		 * rule needs it. libunwind, which loads registers when asked,
		 * steps on too. */
		if (ld == 0)
			loaded |= REG_BIT(reg);
	}
	for (reg = 0; reg < RULE_REGS; reg++) {
		int16_t off = r->reg_off[reg];

		if (reg == SNAP_RSP || off == RULE_SAME)
			continue;
		if (off != RULE_UNDEF && (loaded & REG_BIT(reg))) {
			wr->r[reg] = saved[reg];
			wr->valid |= REG_BIT(reg);
		} else {
			wr->valid &= ~REG_BIT(reg);
		}
	}
	wr->r[SNAP_RSP] = cfa;
	wr->r[SNAP_RIP] = ra;
	return STEP_OK;
}

/*
 * One step along the frame-pointer chain, for code without unwind
 * information (JIT code, V8's embedded builtins, hand-written assembly), as
 * perf's unwinders do when the CFI is missing (elfutils'
 * backends/x86_64_unwind.c, libunwind's guess in Gstep.c). The chain is
 * believed only when it is plausible: RBP 8-aligned, at or above the stack
 * pointer, inside the stack copy, and the saved return address in
 * executable memory. Without frame pointers RBP is an ordinary register,
 * and these checks are what keeps its value from being read as a frame.
 */
static enum step fp_step(struct unwind_walk *w, struct walk_regs *wr)
{
	uint64_t fp = wr->r[SNAP_RBP], saved, ra;
	const struct mapping *m;

	if (!(wr->valid & REG_BIT(SNAP_RBP)) || fp < wr->r[SNAP_RSP] || (fp & 7) ||
	    fp > UINT64_MAX - 16)
		return STEP_STOP;
	/* A frame pointer beyond the copy cannot be checked: whether the
	 * register held a frame pointer at all is not known, so this is not
	 * a cut copy (which perf's copies often are, at a page not yet
	 * touched) but a walk without unwind information. */
	if (stack_load(w, fp, &saved) != 0 || stack_load(w, fp + 8, &ra) != 0)
		return STEP_STOP;
	m = maps_find(w->maps, ra);
	if (!m || !(m->prot & MAP_PROT_EXEC))
		return STEP_STOP;
	wr->r[SNAP_RSP] = fp + 16;
	wr->r[SNAP_RBP] = saved;
	wr->r[SNAP_RIP] = ra;
	/* What the frame saved of the other registers is not known. */
	wr->valid = REG_BIT(SNAP_RSP) | REG_BIT(SNAP_RBP) | REG_BIT(SNAP_RIP);
	return STEP_OK;
}

/*
 * One step by libunwind, for CFI beyond the cached rules (expressions,
 * signal frames, PLT stubs). The cursor starts at @wr (access_reg reads
 * w->regs); *@adjust says whether the caller's PC is a return address
 * (not after a signal frame, where it is the interrupted instruction).
 */
static enum step unw_one_step(struct unwinder *uw, struct unwind_walk *w,
			      struct walk_regs *wr, int *adjust)
{
	struct walk_regs next = { .valid = 0 };
	unw_cursor_t cursor;
	unw_word_t v;
	int ret, signal;

	w->regs = wr->r;
	w->no_info = 0;
	w->past_stack = 0;
	if (unw_init_remote(&cursor, uw->as, w) < 0)
		return STEP_STOP;
	signal = unw_is_signal_frame(&cursor) > 0;
	ret = unw_step(&cursor);
	/* A step made without unwind info is libunwind's guess from frame
	 * pointer or PLT rules: leave that to fp_step, which checks it. */
	if (w->no_info)
		return STEP_NO_CFI;
	if (ret == 0)
		return STEP_BOTTOM;
	if (ret < 0)
		return w->past_stack ? STEP_CUT : STEP_STOP;
	/* Only a signal frame may move down the stack (to a handler's
	 * alternate stack); any other step that does not go up is lost. */
	if (!signal && (unw_get_reg(&cursor, UNW_REG_SP, &v) < 0 || v <= wr->r[SNAP_RSP]))
		return STEP_STOP;
	/* Read every register before changing any: libunwind reads a register
	 * that a rule says is kept (or copied) through access_reg, that is
	 * from wr->r, when it is asked for. */
	for (int reg = 0; reg < SNAP_NREGS; reg++) {
		if (unw_get_reg(&cursor, reg, &v) == 0) {
			next.r[reg] = v;
			next.valid |= REG_BIT(reg);
		}
	}
	*wr = next;
	*adjust = !signal;
	return STEP_OK;
}

/*
 * The rule for @pc: the cached one when its object has CFI for it, else
 * NULL with *@no_cfi set when there is none at all (anonymous code, an
 * object without .eh_frame_hdr, an address no FDE covers). *@unmapped is
 * set when @pc is in no mapping.
 */
static const struct cfi_rule *rule_of_pc(struct unwinder *uw, struct unwind_walk *w,
					 uint64_t pc, int *no_cfi, int *unmapped)
{
	const struct mapping *m;
	struct elf_file *ef;
	const struct cfi_rule *r;
	uint64_t bias;

	struct pc_slot *slot = NULL;

	*no_cfi = 0;
	*unmapped = 0;
	if (uw->fast) {
		if (uw->pc_maps != w->maps || !uw->pcs) {
			if (!uw->pcs)
				uw->pcs = malloc(PC_SLOTS * sizeof(*uw->pcs));
			if (uw->pcs)
				memset(uw->pcs, 0, PC_SLOTS * sizeof(*uw->pcs));
			uw->pc_maps = w->maps;
		}
		if (uw->pcs) {
			slot = &uw->pcs[(pc ^ (pc >> 10) ^ (pc >> 20)) & (PC_SLOTS - 1)];
			if (slot->rule && slot->pc == pc) {
				r = &uw->rules[slot->rule - 1].rule;
				goto found;
			}
		}
	}
	ef = walk_object(w, pc, &m);
	if (!ef) {
		if (!maps_find(w->maps, pc))
			*unmapped = 1;
		*no_cfi = 1;
		return NULL;
	}
	if (elf_file_load_bias(ef, m->start, m->offset, &bias) < 0) {
		*no_cfi = 1;
		return NULL;
	}
	r = rule_get(uw, ef, pc - bias);
	if (r && slot) {
		slot->pc = pc;
		slot->rule = (uint32_t)((const struct rule_entry *)
					((const char *)r - offsetof(struct rule_entry, rule)) -
					uw->rules) + 1;
	}
found:
	if (r && r->kind == RULE_NONE) {
		*no_cfi = 1;
		return NULL;
	}
	return r;
}

static void tables_release(struct unwinder *uw)
{
	for (size_t i = 0; i < EH_TABLE_SLOTS; i++)
		if (uw->tables[i].cfi)
			dwarf_cfi_end(uw->tables[i].cfi);
	memset(uw->tables, 0, sizeof(uw->tables));
}

struct unwinder *unwinder_new(struct elf_cache *cache)
{
	struct unwinder *uw = calloc(1, sizeof(*uw));
	unw_accessors_t accessors;

	if (!uw)
		return NULL;
	uw->cache = cache;
	/* libunwind takes the table by a non-const pointer and copies it
	 * (Gcreate_addr_space.c: as->acc = *a). */
	accessors = unwind_accessors;
	uw->as = unw_create_addr_space(&accessors, 0);
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
	uw->fast = true;
	return uw;
}

void unwinder_free(struct unwinder *uw)
{
	if (!uw)
		return;
	unw_destroy_addr_space(uw->as);
	tables_release(uw);
	free(uw->rules);
	free(uw->pcs);
	htable_release(&uw->rules_index);
	free(uw);
}

void unwinder_flush(struct unwinder *uw)
{
	/* Rules stay: they belong to the ELF files, which do not change. The
	 * rules by PC go: the same PC may be another file's now. */
	unw_flush_cache(uw->as, 0, 0);
	uw->pc_maps = NULL;
	tables_release(uw);
}

size_t unwinder_unwind(struct unwinder *uw, const struct maps *maps,
		       const struct snapshot *snap, uint64_t *addrs, uint64_t *sps,
		       size_t max, enum unwind_end *end)
{
	struct unwind_walk w = { .uw = uw, .maps = maps, .snap = snap };
	struct walk_regs wr;
	bool slow = false;
	size_t n = 0;
	int adjust = 0;   /* callers' return addresses point past the call */

	memcpy(wr.r, snap->regs, sizeof(wr.r));
	wr.valid = REGS_ALL;
	*end = UNWIND_NO_INFO;
	for (;;) {
		const struct cfi_rule *r;
		uint64_t ip = wr.r[SNAP_RIP];
		int no_cfi, unmapped, next_adjust = 1;
		enum step st;

		/* A zero return address is how some outermost frames without
		 * CFI end (hand-written thread entry code). */
		if (ip == 0 && n > 0) {
			*end = UNWIND_BOTTOM;
			break;
		}
		if (n == max - 1) {
			*end = UNWIND_CUT;
			break;
		}
		if (sps)
			sps[n] = wr.r[SNAP_RSP];
		addrs[n++] = adjust ? ip - 1 : ip;
		r = rule_of_pc(uw, &w, ip - (uint64_t)adjust, &no_cfi, &unmapped);
		if (unmapped) {
			/* A PC outside every mapping means the maps are stale:
			 * the caller reloads them and walks again. */
			*end = UNWIND_UNMAPPED;
			break;
		}
		if (r && r->kind == RULE_BOTTOM) {
			*end = UNWIND_BOTTOM;
			break;
		}
		if (no_cfi) {
			st = fp_step(&w, &wr);
		} else if (uw->fast && r && r->kind == RULE_STEP &&
			   (wr.valid & REG_BIT(r->cfa_reg)) &&
			   (st = cfi_step(&w, r, &wr)) != STEP_STOP) {
			/* Stepped by the cached rule. One that leads nowhere
			 * is not yet the end: libunwind reads the CFI itself
			 * below, as the whole walk used to fall back to it. */
		} else {
			slow = true;
			st = unw_one_step(uw, &w, &wr, &next_adjust);
			if (st == STEP_NO_CFI)
				st = fp_step(&w, &wr);
		}
		if (st == STEP_BOTTOM) {
			*end = UNWIND_BOTTOM;
			break;
		}
		if (st == STEP_CUT) {
			*end = UNWIND_CUT;
			break;
		}
		if (st != STEP_OK)
			break;
		adjust = next_adjust;
	}
	if (slow)
		uw->slow_walks++;
	else
		uw->fast_walks++;
	if (*end != UNWIND_BOTTOM)
		addrs[n++] = *end == UNWIND_CUT ? PROFILE_ADDR_TRUNCATED : PROFILE_ADDR_UNKNOWN;
	return n;
}

void unwinder_set_fast(struct unwinder *uw, bool fast)
{
	uw->fast = fast;
}

void unwinder_counts(const struct unwinder *uw, uint64_t *fast, uint64_t *slow)
{
	*fast = uw->fast_walks;
	*slow = uw->slow_walks;
}
