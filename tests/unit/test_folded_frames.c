/*
 * test_folded_frames.c - how the folded writer spells frames, with frames no
 * real binary gives on demand: inlined chains, kernel frames, hostile and
 * overlong names.
 *
 * This file defines symbolizer_resolve itself. The linker takes it instead
 * of the one in hs_core's symbols.o, which is then never pulled in (nothing
 * here calls another symbolizer_ function); a duplicate definition would be
 * a link error, not a silent mix.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "folded.h"
#include "profile.h"
#include "symbols.h"

#include "banned.h"

#define LONG_NAME_LEN 1500
#define CUT_LEN 1024

enum {
	ADDR_INLINED = 0x100,   /* inner_fn inlined into middle_fn into outer_fn */
	ADDR_KERNEL = 0x200,
	ADDR_HOSTILE = 0x300,
	ADDR_LONG = 0x400,
	ADDR_HIGH_BYTES = 0x500,
	ADDR_OTHER = 0x600,
};

static const struct frame inlined[] = {
	{ .function = "inner_fn", .file = "inner.h", .line = 3, .kind = FRAME_INLINED },
	{ .function = "middle_fn", .file = "mid;dle.c", .line = 40, .kind = FRAME_INLINED },
	{ .function = "outer_fn", .file = "outer.c", .line = 0, .kind = FRAME_NATIVE },
};
static const struct frame kernel = { .function = "do_syscall_64", .kind = FRAME_KERNEL };
static const struct frame hostile = { .function = "a;b\nc\x7f\x01" "d", .kind = FRAME_NATIVE };
static const struct frame high = { .function = "caf\xc3\xa9", .kind = FRAME_NATIVE };
static const struct frame other = { .function = "libx.so+0x600", .kind = FRAME_UNKNOWN };
static char long_name[LONG_NAME_LEN + 1];
static const struct frame overlong = { .function = long_name, .kind = FRAME_NATIVE };

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	(void)sym;
	(void)pid;
	switch (addr) {
	case ADDR_INLINED:
		*frames = inlined;
		return 3;
	case ADDR_KERNEL:
		*frames = &kernel;
		return 1;
	case ADDR_HOSTILE:
		*frames = &hostile;
		return 1;
	case ADDR_LONG:
		*frames = &overlong;
		return 1;
	case ADDR_HIGH_BYTES:
		*frames = &high;
		return 1;
	default:
		*frames = &other;
		return 1;
	}
}

static char *fold(const struct profile *p, const struct folded_options *o, int *ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem) {
		*ret = -errno;
		return NULL;
	}
	*ret = folded_write(mem, p, NULL, o);
	fclose(mem);
	return text;
}

int main(void)
{
	const uint64_t deep[] = { ADDR_KERNEL, ADDR_INLINED, ADDR_HOSTILE, ADDR_OTHER };
	const uint64_t lng[] = { ADDR_LONG, ADDR_HIGH_BYTES };
	char cut[CUT_LEN + 1], expect[CUT_LEN + 128];
	struct profile *p = profile_new();
	char *text;
	uint32_t t;
	int ret;

	memset(long_name, 'n', LONG_NAME_LEN);
	memcpy(cut, long_name, CUT_LEN);
	cut[CUT_LEN] = '\0';
	CHECK(p != NULL);
	if (!p)
		return check_status();
	CHECK_EQ_U64(profile_set_process(p, 1, "proc"), 0);
	CHECK_EQ_U64(profile_thread(p, 1, 1, "main", &t), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, deep, 4, 2), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, lng, 2, 1), 0);

	text = fold(p, NULL, &ret);
	CHECK_EQ_U64(ret, 0);
	snprintf(expect, sizeof(expect),
		 "proc;caf\xc3\xa9;%s 1\n"
		 "proc;libx.so+0x600;a:b?c??d;outer_fn;middle_fn_[i];inner_fn_[i];do_syscall_64_[k] 2\n",
		 cut);
	CHECK_STR(text, expect);
	free(text);

	/* --lines: "function (file:line)" where both are known, made safe. */
	{
		struct folded_options o = { .lines = true };

		text = fold(p, &o, &ret);
		CHECK_EQ_U64(ret, 0);
		CHECK(text && strstr(text, ";outer_fn;middle_fn_[i] (mid:dle.c:40);"
				     "inner_fn_[i] (inner.h:3);do_syscall_64_[k] 2\n"));
		free(text);
	}
	profile_free(p);
	return check_status();
}
