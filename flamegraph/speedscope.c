#include "speedscope.h"
#include "array.h"
#include "hash.h"
#include "htable.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Longest name kept, in bytes, as in the folded format. */
#define NAME_MAX_BYTES 1024

struct sframe {
	const char *function;   /* the symbolizer's, valid while it lives */
	const char *suffix;     /* "_[i]", "_[k]" or "" */
	const char *file;
	unsigned line;
	uint64_t hash;          /* compared before the names */
};

/* One distinct (thread, named stack): frames[off .. off+len) root first. */
struct ssample {
	uint32_t thread;
	uint32_t len;
	size_t off;
	uint64_t count;
};

struct writer {
	const struct profile *p;
	struct symbolizer *sym;
	struct sframe *frames;
	size_t nframes, frames_cap;
	struct htable index;    /* of @frames */
	bool lines;             /* a frame per (function, file, line), not per function */
	uint32_t *seq;          /* frame indices of every sample, back to back */
	size_t nseq, seq_cap;
	struct ssample *samples;
	size_t nsamples, samples_cap;
};

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static uint64_t frame_hash(const struct sframe *f, bool lines)
{
	uint64_t h = hash_bytes(f->function, strnlen(f->function, NAME_MAX_BYTES));

	h ^= hash_bytes(f->suffix, strlen(f->suffix)) * 3;
	if (lines && f->file)
		h ^= hash_bytes(f->file, strlen(f->file)) * 5;
	return hash_mix64(h ^ f->line);
}

/* The index of frame @f in the shared table, added on first sight. Without
 * --lines a function is one frame wherever it was sampled (speedscope's
 * Sandwich view lists frames, not functions), with the file of its first
 * sight and no line. */
static int frame_index(struct writer *w, struct sframe *f, uint32_t *index)
{
	struct htable_iter it;
	struct sframe *frames;

	if (!w->lines)
		f->line = 0;
	f->hash = frame_hash(f, w->lines);
	for (uint32_t i = htable_find(&w->index, f->hash, &it); i != HTABLE_NONE;
	     i = htable_next(&w->index, &it)) {
		const struct sframe *g = &w->frames[i];

		if (g->hash == f->hash && g->line == f->line && g->suffix == f->suffix &&
		    strncmp(g->function, f->function, NAME_MAX_BYTES) == 0 &&
		    (!w->lines || str_eq(g->file, f->file))) {
			*index = i;
			return 0;
		}
	}
	frames = array_grow(w->frames, &w->frames_cap, w->nframes + 1, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	w->frames = frames;
	if (htable_insert(&w->index, f->hash, (uint32_t)w->nframes) < 0)
		return -ENOMEM;
	w->frames[w->nframes] = *f;
	*index = (uint32_t)w->nframes++;
	return 0;
}

static int visit(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct writer *w = ctx;
	const struct profile_thread *t = profile_thread_at(w->p, thread);
	size_t n, start = w->nseq;
	const uint64_t *addrs = profile_stack(w->p, stack, &n);
	struct ssample *samples;

	/* The profile keeps the leaf first; speedscope wants the root first,
	 * and a frame's inlined callees (innermost last) after it. */
	while (n-- > 0) {
		const struct frame *fr;
		size_t k = symbolizer_resolve(w->sym, t->pid, addrs[n], &fr);

		while (k-- > 0) {
			/* The full C++ signature where the name is short: a
			 * frame's name is all speedscope shows of it. */
			struct sframe f = {
				.function = fr[k].signature ? fr[k].signature : fr[k].function,
				.suffix = frame_kind_suffix(fr[k].kind),
				.file = fr[k].file, .line = fr[k].file ? fr[k].line : 0,
			};
			uint32_t idx, *seq;

			if (frame_index(w, &f, &idx) < 0)
				return -ENOMEM;
			seq = array_grow(w->seq, &w->seq_cap, w->nseq + 1, sizeof(*seq));
			if (!seq)
				return -ENOMEM;
			w->seq = seq;
			w->seq[w->nseq++] = idx;
		}
	}
	/* A sample's length is 32 bits. */
	if (w->nseq - start >= UINT32_MAX)
		return -ENOMEM;
	samples = array_grow(w->samples, &w->samples_cap, w->nsamples + 1, sizeof(*samples));
	if (!samples)
		return -ENOMEM;
	w->samples = samples;
	w->samples[w->nsamples++] = (struct ssample){
		.thread = thread, .len = (uint32_t)(w->nseq - start), .off = start,
		.count = count,
	};
	return 0;
}

static int sample_cmp(const void *a, const void *b, void *ctx)
{
	const struct ssample *x = a, *y = b;
	const struct writer *w = ctx;
	const uint32_t *sx = w->seq + x->off, *sy = w->seq + y->off;
	uint32_t n = x->len < y->len ? x->len : y->len;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	for (uint32_t i = 0; i < n; i++)
		if (sx[i] != sy[i])
			return sx[i] < sy[i] ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Milliseconds of @count samples at @rate, printed exactly enough. */
static void write_ms(FILE *out, uint64_t count, unsigned rate)
{
	fprintf(out, "%.10g", (double)count * 1000.0 / (double)(rate ? rate : 1));
}

static void write_frames(FILE *out, const struct writer *w)
{
	fputs("\"shared\":{\"frames\":[", out);
	for (size_t i = 0; i < w->nframes; i++) {
		const struct sframe *f = &w->frames[i];
		size_t len = strlen(f->function);

		fputs(i ? ",\n{\"name\":\"" : "\n{\"name\":\"", out);
		json_escape(out, f->function, len, NAME_MAX_BYTES);
		fputs(f->suffix, out);
		fputc('"', out);
		if (f->file) {
			fputs(",\"file\":\"", out);
			json_escape(out, f->file, strlen(f->file), NAME_MAX_BYTES);
			fputc('"', out);
			if (f->line)
				fprintf(out, ",\"line\":%u", f->line);
		}
		fputc('}', out);
	}
	fputs("]},\n", out);
}

static void write_profile_name(FILE *out, const struct profile *p,
			       const struct profile_thread *t, int processes)
{
	const char *proc = profile_process_name(p, t->pid);

	fputc('"', out);
	if (processes) {
		if (proc)
			json_escape(out, proc, strlen(proc), NAME_MAX_BYTES);
		else
			fputs("pid", out);
		fprintf(out, " (%d) / ", (int)t->pid);
	}
	json_escape(out, t->name, strlen(t->name), NAME_MAX_BYTES);
	fprintf(out, " (%d)\"", (int)t->tid);
}

/* Samples [from, to) all belong to one thread. */
static void write_thread(FILE *out, const struct writer *w, size_t from, size_t to,
			 int processes, unsigned rate)
{
	const struct profile_thread *t = profile_thread_at(w->p, w->samples[from].thread);
	uint64_t total = 0;

	for (size_t i = from; i < to; i++)
		total += w->samples[i].count;
	fputs("{\"type\":\"sampled\",\"name\":", out);
	write_profile_name(out, w->p, t, processes);
	fputs(",\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":", out);
	write_ms(out, total, rate);
	fputs(",\n\"samples\":[", out);
	for (size_t i = from; i < to; i++) {
		const struct ssample *s = &w->samples[i];

		fputs(i > from ? ",\n[" : "\n[", out);
		for (uint32_t k = 0; k < s->len; k++)
			fprintf(out, k ? ",%" PRIu32 : "%" PRIu32, w->seq[s->off + k]);
		fputc(']', out);
	}
	fputs("],\n\"weights\":[", out);
	for (size_t i = from; i < to; i++) {
		if (i > from)
			fputc(',', out);
		write_ms(out, w->samples[i].count, rate);
	}
	fputs("]}", out);
}

/* Merge samples equal in thread and frames (addresses naming alike). */
static void merge_equal(struct writer *w)
{
	size_t j = 0;

	for (size_t i = 0; i < w->nsamples; i++) {
		if (j && sample_cmp(&w->samples[j - 1], &w->samples[i], w) == 0)
			w->samples[j - 1].count += w->samples[i].count;
		else
			w->samples[j++] = w->samples[i];
	}
	w->nsamples = j;
}

int speedscope_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		     const struct speedscope_options *opts)
{
	struct writer w = { .p = p, .sym = sym, .lines = opts && opts->lines };
	unsigned rate = opts && opts->rate ? opts->rate : 100;
	size_t nthreads = 0, busiest = 0;
	uint64_t busiest_total = 0;
	int processes = 0, err;

	for (size_t i = 1; i < profile_thread_count(p); i++)
		if (profile_thread_at(p, (uint32_t)i)->pid != profile_thread_at(p, 0)->pid)
			processes = 1;
	err = profile_for_each(p, visit, &w);
	if (err)
		goto out;
	if (w.nsamples)
		qsort_r(w.samples, w.nsamples, sizeof(*w.samples), sample_cmp, &w);
	merge_equal(&w);

	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
	      "\"exporter\":\"hotspy " HOTSPY_VERSION "\",\n\"name\":\"", out);
	if (opts && opts->name)
		json_escape(out, opts->name, strlen(opts->name), NAME_MAX_BYTES);
	else
		fputs("hotspy profile", out);
	fputs("\",\n", out);
	write_frames(out, &w);
	fputs("\"profiles\":[", out);
	for (size_t i = 0; i < w.nsamples;) {
		size_t j = i;
		uint64_t total = 0;

		while (j < w.nsamples && w.samples[j].thread == w.samples[i].thread)
			total += w.samples[j++].count;
		if (total > busiest_total) {
			busiest_total = total;
			busiest = nthreads;
		}
		if (nthreads++)
			fputs(",\n", out);
		write_thread(out, &w, i, j, processes, rate);
		i = j;
	}
	fprintf(out, "],\n\"activeProfileIndex\":%zu}\n", busiest);
	if (fflush(out) == EOF || ferror(out))
		err = -EIO;
out:
	free(w.frames);
	htable_release(&w.index);
	free(w.seq);
	free(w.samples);
	return err;
}
