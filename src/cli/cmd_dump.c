/*
 * cmd_dump.c - hotspy dump: the stack of every thread of a process, once.
 *
 * The ptrace sampler in wall-clock mode takes one snapshot of each thread
 * (stopped only while its registers and stack are copied), the sampler
 * detaches, and only then are the stacks named and printed, as
 * text or as one JSON document.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "profile.h"
#include "sampler.h"
#include "session.h"
#include "symbols.h"
#include "text.h"

#include "banned.h"

/* Ticks to wait for every thread to be sampled once (at DUMP_RATE). */
#define DUMP_RATE 1000
#define DUMP_TICKS_MAX 200
#define NAME_SHOWN_MAX 1024

struct dumped {
	pid_t tid;
	char state;
	char *comm;
	uint64_t *addrs;
	size_t n;
};

struct dump {
	struct dumped *v;
	size_t n, cap;
	int ticks;
};

/* Keep the first stack of each thread; 0 or -ENOMEM. */
static int on_sample(const struct sample *smp, void *ctx)
{
	struct dump *d = ctx;
	struct dumped *t;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].tid == smp->tid)
			return 0;       /* one stack per thread */
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		t = realloc(d->v, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->v = t;
		d->cap = cap;
	}
	t = &d->v[d->n];
	t->tid = smp->tid;
	t->state = smp->state ? smp->state : '?';
	t->comm = strdup(smp->comm ? smp->comm : "?");
	t->addrs = malloc((smp->n ? smp->n : 1) * sizeof(*t->addrs));
	if (!t->comm || !t->addrs) {
		free(t->comm);
		free(t->addrs);
		return -ENOMEM;
	}
	if (smp->n)
		memcpy(t->addrs, smp->addrs, smp->n * sizeof(*t->addrs));
	t->n = smp->n;
	d->n++;
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	const struct dumped *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Bytes from the target on a terminal: no control characters. */
static void put_safe(FILE *out, const char *s)
{
	for (size_t i = 0; s[i] && i < NAME_SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

static const char *state_name(char st)
{
	switch (st) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk sleep";
	case 'T': case 't': return "stopped";
	case 'Z': return "zombie";
	default: return "unknown";
	}
}

static void print_text(FILE *out, const struct dump *d, struct symbolizer *sym, pid_t pid,
		       const char *comm)
{
	fprintf(out, "Process %d: ", (int)pid);
	put_safe(out, comm);
	fprintf(out, " (%zu thread%s)\n", d->n, d->n == 1 ? "" : "s");
	for (size_t i = 0; i < d->n; i++) {
		const struct dumped *t = &d->v[i];

		fprintf(out, "\nThread %d \"", (int)t->tid);
		put_safe(out, t->comm);
		fprintf(out, "\" (%s)\n", state_name(t->state));
		for (size_t k = 0; k < t->n; k++) {
			const struct frame *f;
			size_t nf = symbolizer_resolve(sym, pid, t->addrs[k], &f);

			for (size_t j = 0; j < nf; j++) {
				fputs("    ", out);
				put_safe(out, f[j].function);
				if (f[j].kind == FRAME_INLINED)
					fputs(" [inlined]", out);
				if (f[j].module) {
					fputs(" (", out);
					put_safe(out, f[j].module);
					fputc(')', out);
				}
				if (f[j].file) {
					fputs(" at ", out);
					put_safe(out, f[j].file);
					if (f[j].line)
						fprintf(out, ":%u", f[j].line);
				}
				fputc('\n', out);
			}
		}
	}
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	json_escape(out, s, strlen(s), NAME_SHOWN_MAX);
	fputc('"', out);
}

static const char *kind_name(enum frame_kind k)
{
	switch (k) {
	case FRAME_NATIVE: return "native";
	case FRAME_INLINED: return "inlined";
	case FRAME_KERNEL: return "kernel";
	case FRAME_JIT: return "jit";
	case FRAME_PYTHON: return "python";
	case FRAME_MARKER: return "marker";
	default: return "unknown";
	}
}

static void print_json(FILE *out, const struct dump *d, struct symbolizer *sym, pid_t pid,
		       const char *comm)
{
	fprintf(out, "{\"pid\":%d,\"process\":", (int)pid);
	json_str(out, comm);
	fputs(",\"threads\":[", out);
	for (size_t i = 0; i < d->n; i++) {
		const struct dumped *t = &d->v[i];
		int first = 1;

		fprintf(out, "%s\n{\"tid\":%d,\"name\":", i ? "," : "", (int)t->tid);
		json_str(out, t->comm);
		fprintf(out, ",\"state\":\"%c\",\"frames\":[",
			t->state >= 'A' && t->state <= 'z' ? t->state : '?');
		for (size_t k = 0; k < t->n; k++) {
			const struct frame *f;
			size_t nf = symbolizer_resolve(sym, pid, t->addrs[k], &f);

			for (size_t j = 0; j < nf; j++) {
				fputs(first ? "\n {\"function\":" : ",\n {\"function\":", out);
				first = 0;
				json_str(out, f[j].function);
				fprintf(out, ",\"kind\":\"%s\"", kind_name(f[j].kind));
				if (f[j].kind != FRAME_MARKER)
					fprintf(out, ",\"address\":\"0x%" PRIx64 "\"", t->addrs[k]);
				if (f[j].module) {
					fputs(",\"module\":", out);
					json_str(out, f[j].module);
				}
				if (f[j].file) {
					fputs(",\"file\":", out);
					json_str(out, f[j].file);
					if (f[j].line)
						fprintf(out, ",\"line\":%u", f[j].line);
				}
				fputc('}', out);
			}
		}
		fputs("]}", out);
	}
	fputs("]}\n", out);
}

/* One snapshot: done when every thread has been sampled once, or after
 * DUMP_TICKS_MAX ticks. */
static int on_tick(struct session *ss, void *ctx, uint64_t now_ns)
{
	struct dump *d = ctx;

	(void)now_ns;
	if (d->n && d->n >= sampler_thread_count(session_sampler(ss)))
		return 1;
	return ++d->ticks >= DUMP_TICKS_MAX;
}

int cmd_dump(const struct options *o)
{
	struct session_setup setup = {
		.kind = SAMPLER_PTRACE,
		.sampler = {
			.pid = o->pid, .rate = DUMP_RATE, .stack_size = o->stack_size,
			.idle = true,
		},
	};
	struct dump d = { 0 };
	struct session_hooks hooks = { .on_sample = on_sample, .on_tick = on_tick, .ctx = &d };
	struct session *ss = NULL;
	char comm[256] = "?";
	bool sampler_failed;
	pid_t pid = 0;
	int ret = 1, err;

	if (session_new(o, &ss) < 0 || session_attach(ss, &setup) < 0)
		goto out;
	pid = sampler_pid(session_sampler(ss));
	snprintf(comm, sizeof(comm), "%s", sampler_comm(session_sampler(ss)));
	if (session_run(ss, &hooks) == SESSION_FAILED) {
		err = session_error(ss, &sampler_failed);
		if (sampler_failed)
			log_error(err, "cannot take the stacks: %s", strerror(-err));
		else
			log_error(err, "out of memory");
		goto out;
	}
	/* Let go of the process before the slow part. */
	session_detach(ss);
	if (d.n == 0) {
		log_error(-ESRCH, "no thread of process %d could be sampled (did it exit?)",
			  (int)pid);
		goto out;
	}
	qsort(d.v, d.n, sizeof(*d.v), by_tid);
	if (o->json)
		print_json(stdout, &d, session_symbolizer(ss), pid, comm);
	else
		print_text(stdout, &d, session_symbolizer(ss), pid, comm);
	if (fflush(stdout) == EOF || ferror(stdout))
		log_error(-EIO, "cannot write the stacks: %s", strerror(errno));
	else
		ret = 0;
out:
	session_free(ss);
	for (size_t i = 0; i < d.n; i++) {
		free(d.v[i].comm);
		free(d.v[i].addrs);
	}
	free(d.v);
	return ret;
}
