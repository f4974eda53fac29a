#include "speedscope.h"
#include "array.h"
#include "hash.h"
#include "json.h"
#include "htable.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
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
	const char *proc = profile_thread_process(p, t);

	char pid[24];
	size_t plen, len;

	fputc('"', out);
	if (processes) {
		/* A recording of several processes (--subprocesses, -a) names
		 * each "NAME (PID)" already: the pid once. */
		plen = (size_t)snprintf(pid, sizeof(pid), " (%d)", (int)t->pid);
		len = proc ? strlen(proc) : 0;
		if (proc)
			json_escape(out, proc, len, NAME_MAX_BYTES);
		else
			fputs("pid", out);
		if (!proc || len < plen || strcmp(proc + len - plen, pid) != 0)
			fputs(pid, out);
		fputs(" / ", out);
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
		if (profile_thread_at(p, (uint32_t)i)->pid != profile_thread_at(p, 0)->pid ||
		    profile_thread_at(p, (uint32_t)i)->image != profile_thread_at(p, 0)->image)
			processes = 1;   /* several processes, or programs of one */
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

/* The reader. */

/* More tokens in one file are refused. */
#define READ_TOKENS_MAX (64u * 1024 * 1024)

struct rframe {
	char *name;             /* the level's name in the tree */
	size_t len;
};

struct reader {
	struct flametree *t;
	const struct json_doc *d;
	struct speedscope_info *info;
	struct rframe *frames;
	size_t nframes;
	const char **names;     /* one stack: the two levels, then frames */
	size_t *lens;
	size_t n, cap, lens_cap;
	char root[256], thread[256];
	double scale;           /* to the unit of info->unit */
};

static int read_fail(struct reader *r, const char *what, uint32_t tok)
{
	r->info->error = what;
	r->info->error_at = tok < r->d->ntok ? r->d->tok[tok].start : 0;
	return -EINVAL;
}

/* The frames of shared.frames, named for the tree. */
static int read_frames(struct reader *r, bool lines)
{
	uint32_t arr = json_member(r->d, json_member(r->d, 0, "shared"), "frames");
	char name[FLAMETREE_NAME_MAX], file[FLAMETREE_NAME_MAX];

	if (arr == JSON_NONE || r->d->tok[arr].type != JSON_ARRAY)
		return read_fail(r, "no shared.frames array", 0);
	r->frames = calloc(r->d->tok[arr].size ? r->d->tok[arr].size : 1, sizeof(*r->frames));
	if (!r->frames)
		return -ENOMEM;
	for (uint32_t f = json_first(r->d, arr); f != JSON_NONE; f = json_next(r->d, f, arr)) {
		uint32_t fl = json_member(r->d, f, "file"), ln = json_member(r->d, f, "line");
		long nlen = json_string(r->d, json_member(r->d, f, "name"), name, sizeof(name));
		double line = 0;
		size_t size;
		char *text;

		if (nlen < 0)
			return read_fail(r, "a frame without a name", f);
		if (ln != JSON_NONE && (json_number(r->d, ln, &line) < 0 || line < 0 ||
					line > UINT32_MAX))
			return read_fail(r, "a frame's line is no line number", ln);
		if (fl != JSON_NONE && json_string(r->d, fl, file, sizeof(file)) < 0)
			return read_fail(r, "a frame's file is no string", fl);
		if (fl == JSON_NONE)
			file[0] = '\0';
		size = (size_t)nlen + strlen(file) + 32;
		text = malloc(size);
		if (!text)
			return -ENOMEM;
		if (lines && file[0] && line >= 1)
			snprintf(text, size, "%s (%s:%u)", name, file, (unsigned)line);
		else
			snprintf(text, size, "%s", name);
		r->frames[r->nframes] = (struct rframe){ .name = text, .len = strlen(text) };
		r->nframes++;
		if (file[0] && flametree_set_info(r->t, text, strlen(text), NULL, file,
						  (unsigned)line) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Make room for @need levels in the stack being built. */
static int stack_room(struct reader *r, size_t need)
{
	const char **names;
	size_t *lens;

	if (need <= r->cap)
		return 0;
	/* No stack is too deep, only too big beside the tree. */
	if (flametree_room(r->t, (r->cap + need) * (sizeof(*names) + sizeof(*lens))) < 0)
		return -E2BIG;
	names = array_grow(r->names, &r->cap, need, sizeof(*names));
	if (!names)
		return -ENOMEM;
	r->names = names;
	lens = array_grow(r->lens, &r->lens_cap, need, sizeof(*lens));
	if (!lens)
		return -ENOMEM;
	r->lens = lens;
	return 0;
}

static int push_frame(struct reader *r, uint32_t tok)
{
	double v;
	int err;

	if (json_number(r->d, tok, &v) < 0 || v < 0 || v >= (double)r->nframes ||
	    v != (double)(size_t)v)
		return read_fail(r, "a frame index out of range", tok);
	err = stack_room(r, r->n + 1);
	if (err)
		return err;
	r->names[r->n] = r->frames[(size_t)v].name;
	r->lens[r->n++] = r->frames[(size_t)v].len;
	return 0;
}

static int add_stack(struct reader *r, double weight)
{
	int err;

	weight *= r->scale;
	if (!(weight > 0) || !isfinite(weight))
		return 0;       /* an empty stretch adds nothing */
	err = flametree_add(r->t, r->names, r->lens, r->n, weight, false);
	/* Weights each finite whose sum is not (two of 1.7e308) would make
	 * every share NaN: the file is refused, saying why. */
	if (err == -EINVAL) {
		r->info->error = "weights whose sum is no finite number";
		r->info->error_at = 0;
	}
	return err;
}

static int read_sampled(struct reader *r, uint32_t prof)
{
	uint32_t samples = json_member(r->d, prof, "samples");
	uint32_t weights = json_member(r->d, prof, "weights");
	uint32_t s, w;
	int err;

	if (samples == JSON_NONE || weights == JSON_NONE ||
	    r->d->tok[samples].type != JSON_ARRAY || r->d->tok[weights].type != JSON_ARRAY)
		return read_fail(r, "a sampled profile without samples and weights arrays", prof);
	if (r->d->tok[samples].size != r->d->tok[weights].size)
		return read_fail(r, "samples and weights of different lengths", prof);
	for (s = json_first(r->d, samples), w = json_first(r->d, weights); s != JSON_NONE;
	     s = json_next(r->d, s, samples), w = json_next(r->d, w, weights)) {
		double weight;

		if (r->d->tok[s].type != JSON_ARRAY)
			return read_fail(r, "a sample is no array of frame indices", s);
		if (json_number(r->d, w, &weight) < 0 || weight < 0)
			return read_fail(r, "a weight is no number >= 0", w);
		r->n = 2;
		for (uint32_t f = json_first(r->d, s); f != JSON_NONE; f = json_next(r->d, f, s))
			if ((err = push_frame(r, f)) < 0)
				return err;
		if (r->n > 2 && (err = add_stack(r, weight)) < 0)
			return err;
	}
	return 0;
}

static int read_evented(struct reader *r, uint32_t prof)
{
	uint32_t events = json_member(r->d, prof, "events");
	double last = 0;
	bool started = false;
	int err;

	if (events == JSON_NONE || r->d->tok[events].type != JSON_ARRAY)
		return read_fail(r, "an evented profile without an events array", prof);
	r->n = 2;
	for (uint32_t e = json_first(r->d, events); e != JSON_NONE; e = json_next(r->d, e, events)) {
		uint32_t type = json_member(r->d, e, "type"), frame = json_member(r->d, e, "frame");
		double at;

		if (json_number(r->d, json_member(r->d, e, "at"), &at) < 0)
			return read_fail(r, "an event without a time", e);
		if (started && at < last)
			return read_fail(r, "events out of order", e);
		if (started && r->n > 2 && at > last && (err = add_stack(r, at - last)) < 0)
			return err;
		last = at;
		started = true;
		if (json_string_is(r->d, type, "O")) {
			if ((err = push_frame(r, frame)) < 0)
				return err;
		} else if (json_string_is(r->d, type, "C")) {
			double v;

			if (r->n <= 2 || json_number(r->d, frame, &v) < 0 || v < 0 ||
			    v >= (double)r->nframes || r->frames[(size_t)v].name != r->names[r->n - 1])
				return read_fail(r, "a close event that does not match the open frame", e);
			r->n--;
		} else {
			return read_fail(r, "an event of unknown type (expected \"O\" or \"C\")", e);
		}
	}
	if (r->n > 2)
		return read_fail(r, "frames still open at the end of the events", events);
	return 0;
}

/* The unit of @prof as info->unit, and the scale to it. */
static int read_unit(struct reader *r, uint32_t prof)
{
	static const struct { const char *name, *unit; double scale; } units[] = {
		{ "nanoseconds", "milliseconds", 1e-6 },
		{ "microseconds", "milliseconds", 1e-3 },
		{ "milliseconds", "milliseconds", 1 },
		{ "seconds", "milliseconds", 1e3 },
		{ "none", "samples", 1 },
		{ "bytes", "bytes", 1 },
	};
	uint32_t u = json_member(r->d, prof, "unit");

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (u != JSON_NONE && !json_string_is(r->d, u, units[i].name))
			continue;
		if (u == JSON_NONE && i != 4)
			continue;       /* no unit: counts */
		if (r->info->unit && strcmp(r->info->unit, units[i].unit) != 0)
			return read_fail(r, "profiles in different units", u);
		r->info->unit = units[i].unit;
		r->scale = units[i].scale;
		return 0;
	}
	return read_fail(r, "an unknown unit", u);
}

int speedscope_read(struct flametree *t, const char *buf, size_t len, bool lines,
		    struct speedscope_info *info)
{
	struct json_doc d;
	struct reader r = { .t = t, .d = &d, .info = info };
	uint32_t profiles;
	int err;

	memset(info, 0, sizeof(*info));
	err = json_parse(&d, buf, len, READ_TOKENS_MAX);
	if (err == -EINVAL || err == -E2BIG) {
		info->error = d.error ? d.error : "too big";
		info->error_at = d.error_at;
		err = -EINVAL;
		goto out;
	}
	if (err)
		goto out;
	profiles = json_member(&d, 0, "profiles");
	if (profiles == JSON_NONE || d.tok[profiles].type != JSON_ARRAY) {
		err = read_fail(&r, "no profiles array (not a speedscope file?)", 0);
		goto out;
	}
	if (json_string(&d, json_member(&d, 0, "name"), r.root, sizeof(r.root)) <= 0)
		snprintf(r.root, sizeof(r.root), "speedscope");
	if ((err = read_frames(&r, lines)) < 0 || (err = stack_room(&r, 16)) < 0)
		goto out;
	r.names[0] = r.root;
	r.lens[0] = strlen(r.root);
	r.names[1] = r.thread;
	for (uint32_t p = json_first(&d, profiles); p != JSON_NONE; p = json_next(&d, p, profiles)) {
		uint32_t type = json_member(&d, p, "type");

		if (!json_string_is(&d, type, "sampled") && !json_string_is(&d, type, "evented")) {
			info->skipped++;
			continue;
		}
		if (json_string(&d, json_member(&d, p, "name"), r.thread, sizeof(r.thread)) <= 0)
			snprintf(r.thread, sizeof(r.thread), "profile %zu", info->profiles + 1);
		r.lens[1] = strlen(r.thread);
		if ((err = read_unit(&r, p)) < 0)
			goto out;
		err = json_string_is(&d, type, "sampled") ? read_sampled(&r, p) : read_evented(&r, p);
		if (err < 0)
			goto out;
		info->profiles++;
	}
	if (!info->unit)
		info->unit = "samples";
out:
	for (size_t i = 0; i < r.nframes; i++)
		free(r.frames[i].name);
	free(r.frames);
	free(r.names);
	free(r.lens);
	json_release(&d);
	return err;
}
