#include "gilshare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#include "banned.h"

/* A thread's name as kept: Python's names are bounded by the reader. */
#define GILSHARE_NAME_MAX 64

struct gil_thread {
	pid_t pid, tid;
	char name[GILSHARE_NAME_MAX];   /* as the target gives it: escaped
	                                 * when printed */
	uint64_t known;   /* samples whose GIL state is known */
	uint64_t held;    /* of which held the GIL */
};

struct gilshare {
	struct gil_thread *v;
	size_t n, cap;
};

struct gilshare *gilshare_new(void)
{
	return calloc(1, sizeof(struct gilshare));
}

void gilshare_free(struct gilshare *g)
{
	if (!g)
		return;
	free(g->v);
	free(g);
}

static struct gil_thread *thread_get(struct gilshare *g, pid_t pid, pid_t tid)
{
	struct gil_thread *t;

	/* Linear: a few threads sampled at most a few thousand times a
	 * second; the last one found is most often the next one. */
	for (size_t i = g->n; i-- > 0;)
		if (g->v[i].tid == tid && g->v[i].pid == pid)
			return &g->v[i];
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		struct gil_thread *v = realloc(g->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	t = &g->v[g->n++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	return t;
}

int gilshare_add(struct gilshare *g, const struct sample *smp)
{
	struct gil_thread *t;
	const char *name = smp->python_name ? smp->python_name : smp->comm;

	if (smp->gil < 0)
		return 0;
	t = thread_get(g, smp->pid, smp->tid);
	if (!t)
		return -ENOMEM;
	/* The latest name: a thread can be renamed. */
	if (name && strncmp(t->name, name, sizeof(t->name) - 1) != 0)
		snprintf(t->name, sizeof(t->name), "%s", name);
	t->known += smp->weight;
	if (smp->gil > 0)
		t->held += smp->weight;
	return 0;
}

size_t gilshare_count(const struct gilshare *g)
{
	return g->n;
}

static double share(const struct gil_thread *t)
{
	return t->known ? 100.0 * (double)t->held / (double)t->known : 0.0;
}

double gilshare_of(const struct gilshare *g, pid_t tid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].tid == tid)
			return g->v[i].known ? share(&g->v[i]) : -1.0;
	return -1.0;
}

static int by_share(const void *a, const void *b)
{
	double x = share(a), y = share(b);

	if (x != y)
		return x > y ? -1 : 1;
	return ((const struct gil_thread *)a)->tid < ((const struct gil_thread *)b)->tid ? -1 : 1;
}

void gilshare_print(const struct gilshare *g, FILE *out)
{
	struct gil_thread *v;

	if (!g->n)
		return;
	v = malloc(g->n * sizeof(*v));
	if (!v)
		return;
	memcpy(v, g->v, g->n * sizeof(*v));
	qsort(v, g->n, sizeof(*v), by_share);
	fputs("hotspy: GIL held, share of each thread's samples:", out);
	for (size_t i = 0; i < g->n; i++) {
		fputs(i ? ", " : " ", out);
		text_put_safe(out, v[i].name[0] ? v[i].name : "?", sizeof(v[i].name));
		fprintf(out, " (%d) %.1f%%", (int)v[i].tid, share(&v[i]));
	}
	fputc('\n', out);
	free(v);
}
