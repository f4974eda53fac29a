#include "stackgaps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrspace.h"
#include "array.h"
#include "frame.h"
#include "banned.h"

struct collect {
	const struct profile *p;
	struct symbolizer *sym;
	struct stackgap *gaps;
	size_t n, cap;
	int err;
};

static int same_module(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Add @count to the gap (@kind, @module). Linear: a profile's gaps are a
 * handful of modules. */
static void add(struct collect *c, enum stackgap_kind kind, const char *module,
		uint64_t count)
{
	struct stackgap *g;

	for (size_t i = 0; i < c->n; i++) {
		if (c->gaps[i].kind == kind && same_module(c->gaps[i].module, module)) {
			c->gaps[i].samples += count;
			return;
		}
	}
	g = array_grow(c->gaps, &c->cap, c->n + 1, sizeof(*g));
	if (!g) {
		c->err = -ENOMEM;
		return;
	}
	c->gaps = g;
	c->gaps[c->n++] = (struct stackgap){ .kind = kind, .module = module, .samples = count };
}

static int visit(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct collect *c = ctx;
	const struct profile_thread *t = profile_thread_at(c->p, thread);
	const uint64_t *addrs;
	const struct frame *f;
	const char *seen[8];
	size_t n, nseen = 0;

	addrs = profile_stack(c->p, stack, &n);
	if (!t || n == 0)
		return 0;
	if (addrs[n - 1] == PROFILE_ADDR_TRUNCATED) {
		add(c, STACKGAP_CUT, NULL, count);
	} else if (addrs[n - 1] == PROFILE_ADDR_UNKNOWN && n >= 2 &&
		   addrspace_of(addrs[n - 2]) == ADDR_SPACE_USER) {
		size_t nf = symbolizer_resolve(c->sym, t->pid, addrs[n - 2], &f);

		add(c, STACKGAP_STOPPED, nf ? f[nf - 1].module : NULL, count);
	}
	/* Unnamed frames: each module once per stack (the first few modules
	 * of a stack: a profile whose stacks cross more has bigger worries). */
	for (size_t i = 0; i < n && !c->err; i++) {
		size_t nf, k;

		if (addrspace_of(addrs[i]) != ADDR_SPACE_USER)
			continue;
		nf = symbolizer_resolve(c->sym, t->pid, addrs[i], &f);
		/* "[anon]" code is no file a symbol table could come from. */
		if (nf != 1 || f->kind != FRAME_UNKNOWN || !f->module || f->module[0] == '[')
			continue;
		for (k = 0; k < nseen && !same_module(seen[k], f->module); k++)
			;
		if (k < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nseen++] = f->module;
		add(c, STACKGAP_UNNAMED, f->module, count);
	}
	return c->err;
}

static int by_samples(const void *a, const void *b)
{
	const struct stackgap *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return (int)x->kind - (int)y->kind;
}

long stackgaps_collect(const struct profile *p, struct symbolizer *sym,
		       struct stackgap **out)
{
	struct collect c = { .p = p, .sym = sym };

	profile_for_each(p, visit, &c);
	if (c.err) {
		free(c.gaps);
		*out = NULL;
		return c.err;
	}
	if (c.n)
		qsort(c.gaps, c.n, sizeof(*c.gaps), by_samples);
	*out = c.gaps;
	return (long)c.n;
}
