#include "summary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "array.h"
#include "hash.h"
#include "htable.h"
#include "text.h"

#include "banned.h"

/* Longest name written, in bytes (names come from the target). */
#define SUMMARY_NAME_MAX 1024

struct leaf {
	const struct frame *frame;   /* owned by the symbolizer */
	uint64_t hash;
	uint64_t self;
};

struct leaves {
	const struct profile *p;
	struct symbolizer *sym;
	struct leaf *items;
	size_t n, cap;
	struct htable index;
};

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Functions are told apart by name, module and kind, as the folded names
 * (and so the flamegraph) tell them apart. */
static uint64_t frame_hash(const struct frame *f)
{
	uint64_t h = hash_bytes(f->function, strlen(f->function));

	if (f->module)
		h ^= hash_mix64(hash_bytes(f->module, strlen(f->module)));
	return hash_mix64(h + (uint64_t)f->kind);
}

static int count_leaf(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct leaves *l = ctx;
	const struct profile_thread *t = profile_thread_at(l->p, thread);
	const struct frame *frames;
	size_t n;
	const uint64_t *addrs = profile_stack(l->p, stack, &n);
	struct htable_iter it;
	struct leaf *bigger;
	uint64_t h;

	if (!n)
		return 0;
	symbolizer_resolve(l->sym, t->pid, addrs[0], &frames);
	h = frame_hash(&frames[0]);
	for (uint32_t i = htable_find(&l->index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&l->index, &it)) {
		const struct frame *f = l->items[i].frame;

		if (l->items[i].hash == h && f->kind == frames[0].kind &&
		    same_str(f->function, frames[0].function) &&
		    same_str(f->module, frames[0].module)) {
			l->items[i].self += count;
			return 0;
		}
	}
	if (!array_id_room(l->n))
		return -ENOMEM;
	bigger = array_grow(l->items, &l->cap, l->n + 1, sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	l->items = bigger;
	if (htable_insert(&l->index, h, (uint32_t)l->n) < 0)
		return -ENOMEM;
	l->items[l->n++] = (struct leaf){ .frame = &frames[0], .hash = h, .self = count };
	return 0;
}

static int leaf_cmp(const void *a, const void *b)
{
	const struct leaf *x = a, *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	return strcmp(x->frame->function, y->frame->function);
}

static void put_string(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	json_escape(out, s, strlen(s), SUMMARY_NAME_MAX);
	fputc('"', out);
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

static const char *program_what(enum session_program what)
{
	switch (what) {
	case SESSION_PROGRAM_EXITED: return "exited";
	case SESSION_PROGRAM_STOPPED: return "stopped";
	case SESSION_PROGRAM_KEPT: return "kept";
	case SESSION_PROGRAM_NONE: break;
	}
	return "attached";
}

static void put_program(FILE *out, const struct run_summary *s)
{
	const struct session_program_end *pe = &s->program;
	int st = pe->status;

	fputs("\"program\":{\"pid\":", out);
	fprintf(out, "%d,\"name\":", (int)s->pid);
	put_string(out, s->program_name);
	fprintf(out, ",\"started\":%s,\"end\":\"%s\"",
		pe->what == SESSION_PROGRAM_NONE ? "false" : "true", program_what(pe->what));
	fputs(",\"exit_status\":", out);
	if (st >= 0 && WIFEXITED(st))
		fprintf(out, "%d", WEXITSTATUS(st));
	else
		fputs("null", out);
	fputs(",\"signal\":", out);
	if (st >= 0 && WIFSIGNALED(st))
		fprintf(out, "%d", WTERMSIG(st));
	else
		fputs("null", out);
	fputs(",\"stopped_with\":", out);
	if (pe->what == SESSION_PROGRAM_STOPPED)
		fprintf(out, "%d", pe->signal);
	else
		fputs("null", out);
	fputc('}', out);
}

void summary_set_lag(struct run_summary *s, const struct sampler_stats *st)
{
	s->ticks_due = st->ticks + st->ticks_missed;
	s->ticks_missed = st->ticks_missed;
	s->snapshots_skipped = st->skipped_late;
	s->snapshots_due = st->snapshots + st->deferred + st->failed + st->skipped_late;
}

bool summary_lag(const struct run_summary *s, unsigned rate, bool perf_possible, char *buf,
		 size_t size)
{
	double missed = share(s->ticks_missed, s->ticks_due);
	double skipped = share(s->snapshots_skipped, s->snapshots_due);
	char what[160];
	unsigned lower = rate / 2 ? rate / 2 : 1;

	buf[0] = '\0';
	if (missed < SUMMARY_LAG_SHARE && skipped < SUMMARY_LAG_SHARE)
		return false;
	if (missed >= SUMMARY_LAG_SHARE && skipped >= SUMMARY_LAG_SHARE)
		snprintf(what, sizeof(what), "%.0f%% of the ticks were missed and %.0f%% of the "
			 "thread snapshots due were skipped", 100.0 * missed, 100.0 * skipped);
	else if (missed >= SUMMARY_LAG_SHARE)
		snprintf(what, sizeof(what), "%.0f%% of the ticks were missed", 100.0 * missed);
	else
		snprintf(what, sizeof(what), "%.0f%% of the thread snapshots due were skipped",
			 100.0 * skipped);
	/* The weights keep the time right (a skipped thread's next snapshot
	 * stands for its CPU time meanwhile): what suffers is the detail. */
	snprintf(buf, size, "sampling fell behind: %s (threads slow to stop, or hotspy "
		 "short of CPU: more busy threads than CPUs, threads in uninterruptible "
		 "sleep, or more threads than a tick has time for) \xe2\x80\x94 the profile "
		 "has fewer samples, each "
		 "standing for more time; lower the rate (-r %u)%s", what, lower,
		 perf_possible ? " or, for native code, use --sampler perf, which stops no "
		 "thread" : "");
	return true;
}

void summary_python_version(uint32_t hex, char *buf, size_t size)
{
	static const char level[] = { 'a', 'b', 'c' };
	unsigned rel = (hex >> 4) & 0xf;

	if (rel >= 0xa && rel <= 0xc)
		snprintf(buf, size, "%u.%u.%u%s%c%u", hex >> 24, (hex >> 16) & 0xff,
			 (hex >> 8) & 0xff, rel == 0xc ? "r" : "", level[rel - 0xa], hex & 0xf);
	else
		snprintf(buf, size, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
}

int summary_write_json(FILE *out, const struct run_summary *s, const struct profile *p,
		       struct symbolizer *sym)
{
	struct leaves l = { .p = p, .sym = sym };
	int err = profile_for_each(p, count_leaf, &l);

	if (err)
		goto done;
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), leaf_cmp);
	fprintf(out, "{\"schema\":\"%s\",\"samples\":%" PRIu64 ",\"duration_s\":%.3f,"
		"\"rate_hz\":%u,\"threads\":%zu,\"end\":\"%s\",\"end_text\":",
		SUMMARY_SCHEMA, s->samples, s->seconds, s->rate, s->threads, s->end);
	put_string(out, s->end_text);
	fputs(",\"end_signal\":", out);
	if (s->end_signal)
		fprintf(out, "%d", s->end_signal);
	else
		fputs("null", out);
	fputs(",\"sampler\":{\"name\":", out);
	put_string(out, s->sampler);
	fputs(",\"reason\":", out);
	put_string(out, s->sampler_reason);
	fprintf(out, "},\"time\":\"%s\",\"truncated\":%" PRIu64 ",\"truncated_share\":%.4f,"
		"\"lost\":%" PRIu64 ",\"output\":{\"path\":", s->wall ? "wall-clock" : "on-cpu",
		s->truncated, share(s->truncated, s->samples), s->lost);
	put_string(out, s->output);
	fputs(",\"format\":", out);
	put_string(out, s->format);
	fputs("},", out);
	put_program(out, s);
	fprintf(out, ",\"sampling\":{\"ticks_due\":%" PRIu64 ",\"ticks_missed\":%" PRIu64
		",\"ticks_missed_share\":%.4f,\"snapshots_due\":%" PRIu64
		",\"snapshots_skipped\":%" PRIu64 ",\"snapshots_skipped_share\":%.4f}",
		s->ticks_due, s->ticks_missed, share(s->ticks_missed, s->ticks_due),
		s->snapshots_due, s->snapshots_skipped, share(s->snapshots_skipped, s->snapshots_due));
	fprintf(out, ",\"exit_code\":%d,\"python\":", s->exit_code);
	if (s->python_version) {
		char v[32];

		summary_python_version(s->python_version, v, sizeof(v));
		fprintf(out, "{\"version\":\"%s\",\"samples\":%" PRIu64 ",\"share\":%.4f}", v,
			s->python_samples, share(s->python_samples, s->samples));
	} else {
		fputs("null", out);
	}
	fputs(",\"top\":[", out);
	for (size_t i = 0; i < l.n && i < SUMMARY_TOP; i++) {
		const struct frame *f = l.items[i].frame;

		fputs(i ? ",{\"function\":" : "{\"function\":", out);
		put_string(out, f->function);
		fputs(",\"module\":", out);
		put_string(out, f->module);
		fputs(",\"file\":", out);
		put_string(out, f->file);
		fprintf(out, ",\"kind\":\"%s\",\"self\":%" PRIu64 ",\"self_share\":%.4f}",
			frame_kind_name(f->kind), l.items[i].self, share(l.items[i].self, s->samples));
	}
	fputs("]}\n", out);
	if (fflush(out) == EOF || ferror(out))
		err = -EIO;
done:
	free(l.items);
	htable_release(&l.index);
	return err;
}
