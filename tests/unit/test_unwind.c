/*
 * test_unwind.c - the unwinder's rule cache against libunwind, on real
 * stacks with no live target: the test takes a snapshot of its own thread
 * (registers at a known instruction, and a copy of its stack), then walks it
 * both ways. The walks must agree address for address, reach the bottom,
 * and pass through main; a copy cut short must end in [truncated] both ways.
 * Then code without unwind information, on a made-up stack: the walk
 * follows a plausible frame-pointer chain and ends in [unknown] (never
 * [truncated]) where the chain stops being plausible.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "elf_cache.h"
#include "maps.h"
#include "profile.h"
#include "snapshot.h"
#include "unwind.h"
#include "banned.h"

#define DEPTH 12
#define MAX_FRAMES 256

static uint8_t stack_copy[1 << 20];

int main(void);

/* Copy the live stack without ASan's checks: it holds other frames'
 * redzones, which are not ours to read as objects. */
__attribute__((no_sanitize_address, noinline))
static size_t copy_stack(uint64_t sp, uint64_t end)
{
	const volatile uint8_t *src = (const volatile uint8_t *)(uintptr_t)sp;
	size_t len = end - sp;

	if (len > sizeof(stack_copy))
		len = sizeof(stack_copy);
	for (size_t i = 0; i < len; i++)
		stack_copy[i] = src[i];
	return len;
}

/* Registers as they are at the instruction after the lea. */
__attribute__((noinline))
static void capture(struct snapshot *snap)
{
	uint64_t *r = snap->regs;

	__asm__ volatile(
		"lea 0(%%rip), %%rax\n\t"
		"movq %%rax, 128(%0)\n\t"      /* SNAP_RIP * 8 */
		"movq %%rsp, 56(%0)\n\t"       /* SNAP_RSP * 8 */
		"movq %%rbp, 48(%0)\n\t"       /* SNAP_RBP * 8 */
		"movq %%rbx, 24(%0)\n\t"       /* SNAP_RBX * 8 */
		"movq %%r12, 96(%0)\n\t"
		"movq %%r13, 104(%0)\n\t"
		"movq %%r14, 112(%0)\n\t"
		"movq %%r15, 120(%0)\n\t"
		: : "r"(r) : "rax", "memory");
}

struct walk {
	uint64_t addrs[MAX_FRAMES];
	uint64_t sps[MAX_FRAMES];
	size_t n;
	enum unwind_end end;
};

static int walk_both(const struct snapshot *snap, struct walk *fast, struct walk *slow)
{
	struct elf_cache *cache = elf_cache_new();
	struct unwinder *uw = cache ? unwinder_new(cache) : NULL;
	struct maps *maps = NULL;
	uint64_t nfast, nslow;

	if (!uw || maps_read(getpid(), &maps) < 0) {
		unwinder_free(uw);
		elf_cache_free(cache);
		return -1;
	}
	fast->n = unwinder_unwind(uw, maps, snap, fast->addrs, fast->sps, MAX_FRAMES, &fast->end);
	unwinder_counts(uw, &nfast, &nslow);
	CHECK_EQ_U64(nfast, 1);    /* this walk went through the rule cache */
	unwinder_set_fast(uw, false);
	slow->n = unwinder_unwind(uw, maps, snap, slow->addrs, slow->sps, MAX_FRAMES, &slow->end);
	maps_free(maps);
	unwinder_free(uw);
	elf_cache_free(cache);
	return 0;
}

static void compare(const struct walk *fast, const struct walk *slow)
{
	CHECK_EQ_U64(fast->n, slow->n);
	CHECK_EQ_U64(fast->end, slow->end);
	for (size_t i = 0; i < fast->n && i < slow->n; i++) {
		if (fast->addrs[i] != slow->addrs[i]) {
			fprintf(stderr, "frame %zu: fast %#" PRIx64 " slow %#" PRIx64 "\n", i,
				fast->addrs[i], slow->addrs[i]);
			CHECK(fast->addrs[i] == slow->addrs[i]);
		}
		/* The two agree on each frame's stack pointer too, and stack
		 * pointers grow towards the root. */
		if (addrspace_is_marker(fast->addrs[i]))
			continue;
		CHECK_EQ_U64(fast->sps[i], slow->sps[i]);
		if (i > 0)
			CHECK(fast->sps[i] > fast->sps[i - 1]);
	}
}

/* Addresses of a local of descend() at each depth: each lies in the C stack
 * frame [sps[i], sps[i + 1]) of that call, as a CPython eval loop's
 * _PyCFrame or shim frame lies in its call's frame. */
static uint64_t anchors[DEPTH + 1];

static int descend(int depth);

static void check_anchors(const struct walk *w, uint64_t leaf_sp)
{
	uint64_t lo = (uint64_t)(uintptr_t)&descend;
	size_t found = 0, first = 0;

	CHECK_EQ_U64(w->sps[0], leaf_sp);
	/* The innermost frame in descend() is descend(0); callers follow. */
	while (first < w->n && !(w->addrs[first] >= lo && w->addrs[first] < lo + 4096))
		first++;
	CHECK(first > 0 && first < w->n);
	for (size_t d = 0; d <= DEPTH; d++) {
		size_t i = first + d;

		if (i + 1 >= w->n)
			break;
		if (anchors[d] >= w->sps[i] && anchors[d] < w->sps[i + 1])
			found++;
		else
			fprintf(stderr, "descend(%zu)'s local %#" PRIx64 " is not in frame %zu "
				"[%#" PRIx64 ", %#" PRIx64 ")\n", d, anchors[d], i, w->sps[i],
				w->sps[i + 1]);
	}
	CHECK_EQ_U64(found, DEPTH + 1);
}

/* Does the walk pass through main? main's code is between its address and
 * the next function's; a return address into it is within a few KiB. */
static int through_main(const struct walk *w)
{
	uint64_t lo = (uint64_t)(uintptr_t)&main;

	for (size_t i = 0; i < w->n; i++)
		if (w->addrs[i] >= lo && w->addrs[i] < lo + 4096)
			return 1;
	return 0;
}

static void check_walks(void)
{
	static struct walk fast, slow;
	struct snapshot snap;
	struct maps *maps = NULL;
	const struct mapping *m;

	memset(&snap, 0, sizeof(snap));
	snap.pid = getpid();
	snap.tid = getpid();
	capture(&snap);
	if (maps_read(getpid(), &maps) < 0) {
		CHECK(!"cannot read own maps");
		return;
	}
	m = maps_find(maps, snap.regs[SNAP_RSP]);
	CHECK(m != NULL);
	if (!m) {
		maps_free(maps);
		return;
	}
	snap.stack_addr = snap.regs[SNAP_RSP];
	snap.stack = stack_copy;
	snap.stack_len = copy_stack(snap.regs[SNAP_RSP], m->end);
	maps_free(maps);

	/* The whole stack: both reach the bottom through main. */
	if (walk_both(&snap, &fast, &slow) < 0) {
		CHECK(!"cannot set up the unwinder");
		return;
	}
	compare(&fast, &slow);
	CHECK(fast.end == UNWIND_BOTTOM);
	CHECK(fast.n > DEPTH);
	CHECK(through_main(&fast));
	check_anchors(&fast, snap.regs[SNAP_RSP]);
	check_anchors(&slow, snap.regs[SNAP_RSP]);

	/* A copy cut short: both stop where the copy ends, marked. */
	snap.stack_len = 96;
	if (walk_both(&snap, &fast, &slow) < 0)
		return;
	compare(&fast, &slow);
	CHECK(fast.end == UNWIND_CUT);
	CHECK(fast.n >= 2 && fast.addrs[fast.n - 1] == PROFILE_ADDR_TRUNCATED);
}

/* Recursion so the walk crosses many frames of one function. */
__attribute__((noinline))
static int descend(int depth)
{
	volatile int local = depth;
	int r;

	anchors[depth] = (uint64_t)(uintptr_t)&local;
	if (depth == 0) {
		check_walks();
		return 0;
	}
	r = descend(depth - 1);
	__asm__ volatile("" : : : "memory");   /* not a tail call */
	return r + 1;
}

/*
 * Anonymous code (as a JIT writes) has no CFI: a walk from it follows the
 * frame-pointer chain while the chain is plausible. The stack is made up:
 * three frames in the code region, linked by RBP, the last one's saved RBP
 * pointing nowhere.
 */
static void check_frame_pointers(void)
{
	static uint64_t stack[64];
	long page = sysconf(_SC_PAGESIZE);
	struct elf_cache *cache = elf_cache_new();
	struct unwinder *uw = cache ? unwinder_new(cache) : NULL;
	struct maps *maps = NULL;
	struct snapshot snap;
	uint64_t addrs[16], base, code;
	enum unwind_end end;
	void *region;
	size_t n;

	region = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (region == MAP_FAILED || !uw || maps_read(getpid(), &maps) < 0) {
		/* W^X hardening may refuse anonymous code: nothing to test. */
		CHECK(uw != NULL);
		goto out;
	}
	code = (uint64_t)(uintptr_t)region;
	base = (uint64_t)(uintptr_t)stack;
	memset(&snap, 0, sizeof(snap));
	snap.pid = snap.tid = getpid();
	snap.stack_addr = base;
	snap.stack = (const uint8_t *)stack;
	snap.stack_len = sizeof(stack);
	snap.regs[SNAP_RIP] = code + 0x10;
	snap.regs[SNAP_RSP] = base;
	/* frame 1 at stack[4]: saved RBP -> stack[10], return into code+0x40;
	 * frame 2 at stack[10]: saved RBP -> stack[20], return into code+0x80;
	 * frame 3 at stack[20]: saved RBP 8 bytes below the stack pointer
	 * (going down: not a frame), return into code+0xc0. */
	snap.regs[SNAP_RBP] = base + 4 * 8;
	stack[4] = base + 10 * 8;
	stack[5] = code + 0x40;
	stack[10] = base + 20 * 8;
	stack[11] = code + 0x80;
	stack[20] = base + 15 * 8;
	stack[21] = code + 0xc0;

	n = unwinder_unwind(uw, maps, &snap, addrs, NULL, 16, &end);
	CHECK_EQ_U64(n, 5);
	if (n == 5) {
		CHECK_EQ_U64(addrs[0], code + 0x10);
		CHECK_EQ_U64(addrs[1], code + 0x40 - 1);
		CHECK_EQ_U64(addrs[2], code + 0x80 - 1);
		CHECK_EQ_U64(addrs[3], code + 0xc0 - 1);
		CHECK_EQ_U64(addrs[4], PROFILE_ADDR_UNKNOWN);
	}
	CHECK(end == UNWIND_NO_INFO);

	/* A return address in memory that is not code ends the chain. */
	stack[11] = base;
	n = unwinder_unwind(uw, maps, &snap, addrs, NULL, 16, &end);
	CHECK_EQ_U64(n, 3);
	CHECK(addrs[n - 1] == PROFILE_ADDR_UNKNOWN);
	stack[11] = code + 0x80;

	/* RBP beyond a copy the sampler cut: data in a register, not proof
	 * that the copy was short. [unknown], not [truncated]. */
	snap.stack_cut = 1;
	snap.regs[SNAP_RBP] = base + sizeof(stack) + 64;
	n = unwinder_unwind(uw, maps, &snap, addrs, NULL, 16, &end);
	CHECK_EQ_U64(n, 2);
	CHECK(end == UNWIND_NO_INFO);
	CHECK(addrs[n - 1] == PROFILE_ADDR_UNKNOWN);
out:
	if (region != MAP_FAILED)
		munmap(region, (size_t)page);
	maps_free(maps);
	unwinder_free(uw);
	elf_cache_free(cache);
}

int main(void)
{
	if (descend(DEPTH) != DEPTH)
		CHECK(!"recursion");
	check_frame_pointers();
	return check_status();
}
