/*
 * addrspace.h - the address spaces of a profile's stacks.
 *
 * A stack is an array of 64-bit addresses; which space an address is in is
 * decided here and only here, by its value:
 *
 *   0x0000000000000000 .. 0x3fffffffffffffff  user: code of the process,
 *       named from its mappings. Canonical user addresses are below
 *       2^47 (2^56 with 5-level paging), so the space has room to spare.
 *   0x4000000000000000 .. 0x7fffffffffffffff  python: a CPython frame, a
 *       tag no machine address takes (above every canonical user address,
 *       below the upper half), encoded as below.
 *   0x8000000000000000 .. 0xfffffffffffffffd  kernel: the upper half, as
 *       the kernel's code is on x86-64 and arm64 (perf's callchains).
 *   0xfffffffffffffffe, 0xffffffffffffffff    marker: PROFILE_ADDR_UNKNOWN
 *       and PROFILE_ADDR_TRUNCATED, the ends of walks that stopped early.
 *
 * A user address: bits 0..55 the address in the process (2^56 covers
 * 5-level paging), bits 56..61 the image: which program the process ran
 * when the sample was taken, 0 for the one it ran when sampling began, +1
 * at each exec (up to ADDRSPACE_IMAGE_MAX; later ones share the last).
 * The same address means different code before and after an exec, so the
 * profile keeps them apart and the symbolizer names each with the mappings
 * of its own image. A process that never execs has only untagged addresses.
 *
 * A python address: bit 62 set, bits 30..61 the id of the code object (an
 * index into the reader's table of code objects, 32 bits), bits 0..29 the
 * index of the instruction in it (30 bits: CPython's code units, far more
 * than any code object holds). Python frames land in a later change; the
 * symbolizer names this space "[python]" until the reader does.
 *
 * Adding a space touches this header, its test (tests/unit/test_addrspace.c)
 * and the symbolizer's switch (symbols.c), nothing else.
 */
#ifndef HOTSPY_ADDRSPACE_H
#define HOTSPY_ADDRSPACE_H

#include <stdbool.h>
#include <stdint.h>

enum addr_space {
	ADDR_SPACE_USER,
	ADDR_SPACE_PYTHON,
	ADDR_SPACE_KERNEL,
	ADDR_SPACE_MARKER,
};

#define ADDRSPACE_PYTHON_MIN UINT64_C(0x4000000000000000)
#define ADDRSPACE_KERNEL_MIN UINT64_C(0x8000000000000000)

/* The walk was cut: stack copy too short or depth limit reached. */
#define PROFILE_ADDR_TRUNCATED UINT64_C(0xffffffffffffffff)
/* The unwinder found no rule for the next frame (no unwind info, bad data). */
#define PROFILE_ADDR_UNKNOWN   UINT64_C(0xfffffffffffffffe)

#define ADDRSPACE_IMAGE_SHIFT 56
#define ADDRSPACE_IMAGE_MAX 63u
#define ADDRSPACE_USER_MASK ((UINT64_C(1) << ADDRSPACE_IMAGE_SHIFT) - 1)

#define ADDRSPACE_PYTHON_INDEX_BITS 30
#define ADDRSPACE_PYTHON_INDEX_MAX ((UINT32_C(1) << ADDRSPACE_PYTHON_INDEX_BITS) - 1)

/* The space of @addr. Safe anywhere (a pure function). */
static inline enum addr_space addrspace_of(uint64_t addr)
{
	if (addr >= PROFILE_ADDR_UNKNOWN)
		return ADDR_SPACE_MARKER;
	if (addr >= ADDRSPACE_KERNEL_MIN)
		return ADDR_SPACE_KERNEL;
	if (addr >= ADDRSPACE_PYTHON_MIN)
		return ADDR_SPACE_PYTHON;
	return ADDR_SPACE_USER;
}

/* True when @addr is one of the two markers that end a cut walk. */
static inline bool addrspace_is_marker(uint64_t addr)
{
	return addrspace_of(addr) == ADDR_SPACE_MARKER;
}

/* User address @addr tagged with image @image (ADDRSPACE_IMAGE_MAX when
 * higher); addresses of other spaces are returned as they are. */
static inline uint64_t addrspace_user_tag(uint64_t addr, uint32_t image)
{
	if (addrspace_of(addr) != ADDR_SPACE_USER)
		return addr;
	if (image > ADDRSPACE_IMAGE_MAX)
		image = ADDRSPACE_IMAGE_MAX;
	return (addr & ADDRSPACE_USER_MASK) | (uint64_t)image << ADDRSPACE_IMAGE_SHIFT;
}

/* The image of user address @addr (0 for other spaces). */
static inline uint32_t addrspace_user_image(uint64_t addr)
{
	if (addrspace_of(addr) != ADDR_SPACE_USER)
		return 0;
	return (uint32_t)(addr >> ADDRSPACE_IMAGE_SHIFT);
}

/* User address @addr without its image: the address in the process.
 * Addresses of other spaces are returned as they are. */
static inline uint64_t addrspace_user_address(uint64_t addr)
{
	if (addrspace_of(addr) != ADDR_SPACE_USER)
		return addr;
	return addr & ADDRSPACE_USER_MASK;
}

/*
 * The python address of instruction @index (at most
 * ADDRSPACE_PYTHON_INDEX_MAX; higher bits are dropped) of code object @code.
 */
static inline uint64_t addrspace_python_make(uint32_t code, uint32_t index)
{
	return ADDRSPACE_PYTHON_MIN | (uint64_t)code << ADDRSPACE_PYTHON_INDEX_BITS |
	       (index & ADDRSPACE_PYTHON_INDEX_MAX);
}

/* The code object id of python address @addr. */
static inline uint32_t addrspace_python_code(uint64_t addr)
{
	return (uint32_t)(addr >> ADDRSPACE_PYTHON_INDEX_BITS);
}

/* The instruction index of python address @addr. */
static inline uint32_t addrspace_python_index(uint64_t addr)
{
	return (uint32_t)addr & ADDRSPACE_PYTHON_INDEX_MAX;
}

#endif
