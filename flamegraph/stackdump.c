#include "stackdump.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "banned.h"

#define NAME_SHOWN_MAX 1024

/* Bytes from the target on a terminal: no control characters. */
static void put_safe(FILE *out, const char *s)
{
	text_put_safe(out, s, NAME_SHOWN_MAX);
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

/*
 * The locals of the frame at @addr, looked for from *@next on (they come in
 * the order of the addresses); NULL when it has none. A frame the merge
 * left out is skipped over.
 */
static const struct stackdump_locals *locals_of(const struct stackdump_thread *t, uint64_t addr,
						size_t *next)
{
	for (size_t j = *next; j < t->nlocals; j++)
		if (t->locals[j].addr == addr) {
			*next = j + 1;
			return &t->locals[j];
		}
	return NULL;
}

/* Arguments, then locals, each under its heading, as py-spy prints them. */
static void locals_text(FILE *out, const struct stackdump_locals *lc)
{
	for (int pass = 1; pass >= 0; pass--) {
		bool head = false;

		for (size_t i = 0; i < lc->n; i++) {
			if (lc->v[i].arg != (pass == 1))
				continue;
			if (!head) {
				fputs(pass ? "        Arguments:\n" : "        Locals:\n", out);
				head = true;
			}
			fputs("            ", out);
			put_safe(out, lc->v[i].name);
			fputs(": ", out);
			put_safe(out, lc->v[i].value);
			fputc('\n', out);
		}
	}
	if (lc->more)
		fprintf(out, "        (%zu more not read)\n", lc->more);
}

static int finish(FILE *out)
{
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}

static void text_process(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym)
{
	fprintf(out, "Process %d: ", (int)pid);
	put_safe(out, process);
	fprintf(out, " (%zu thread%s)\n", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		const struct stackdump_thread *t = &threads[i];

		fprintf(out, "\nThread %d \"", (int)t->tid);
		put_safe(out, t->name);
		fprintf(out, "\" (%s)", state_name(t->state));
		if (t->python_name) {
			fputs(" Python \"", out);
			put_safe(out, t->python_name);
			fputc('"', out);
		}
		if (t->gil > 0)
			fputs(" holds the GIL", out);
		fputc('\n', out);
		size_t next = 0;

		for (size_t k = 0; k < t->n; k++) {
			const struct frame *f;
			size_t nf = symbolizer_resolve(sym, pid, t->addrs[k], &f);
			const struct stackdump_locals *lc = locals_of(t, t->addrs[k], &next);

			for (size_t j = 0; j < nf; j++) {
				fputs("    ", out);
				put_safe(out, f[j].function);
				fputs(frame_kind_tag(f[j].kind), out);
				/* A Python frame as py-spy dump shows it: its file
				 * (shown form) and line together. */
				if (f[j].kind == FRAME_PYTHON && f[j].module) {
					fputs(" (", out);
					put_safe(out, f[j].module);
					if (f[j].line)
						fprintf(out, ":%u", f[j].line);
					fputs(")\n", out);
					if (lc && j + 1 == nf)
						locals_text(out, lc);
					continue;
				}
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
				if (lc && j + 1 == nf)
					locals_text(out, lc);
			}
		}
	}
}

int stackdump_write_text(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym)
{
	text_process(out, pid, process, threads, n, sym);
	return finish(out);
}

int stackdump_write_text_all(FILE *out, const struct stackdump_process *procs, size_t n,
			     struct symbolizer *sym)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc('\n', out);
		text_process(out, procs[i].pid, procs[i].process, procs[i].threads, procs[i].n,
			     sym);
	}
	return finish(out);
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	json_escape(out, s, strlen(s), NAME_SHOWN_MAX);
	fputc('"', out);
}

/* "locals":[...] of a frame, arguments first. */
static void locals_json(FILE *out, const struct stackdump_locals *lc)
{
	bool first = true;

	fputs(",\"locals\":[", out);
	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = 0; i < lc->n; i++) {
			if (lc->v[i].arg != (pass == 1))
				continue;
			fputs(first ? "{\"name\":" : ",{\"name\":", out);
			first = false;
			json_str(out, lc->v[i].name);
			fputs(",\"value\":", out);
			json_str(out, lc->v[i].value);
			fprintf(out, ",\"arg\":%s}", pass ? "true" : "false");
		}
	fputc(']', out);
	if (lc->more)
		fprintf(out, ",\"locals_more\":%zu", lc->more);
}

/* {"pid":..,"process":..,"threads":[...] with no closing brace. */
static void json_process(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym)
{
	fprintf(out, "{\"pid\":%d,\"process\":", (int)pid);
	json_str(out, process);
	fputs(",\"threads\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct stackdump_thread *t = &threads[i];
		int first = 1;

		fprintf(out, "%s\n{\"tid\":%d,\"name\":", i ? "," : "", (int)t->tid);
		json_str(out, t->name);
		if (t->python_name) {
			fputs(",\"python_name\":", out);
			json_str(out, t->python_name);
		}
		if (t->gil >= 0)
			fprintf(out, ",\"gil\":%s", t->gil ? "true" : "false");
		fprintf(out, ",\"state\":\"%c\",\"frames\":[",
			t->state >= 'A' && t->state <= 'z' ? t->state : '?');
		size_t next = 0;

		for (size_t k = 0; k < t->n; k++) {
			const struct frame *f;
			size_t nf = symbolizer_resolve(sym, pid, t->addrs[k], &f);
			const struct stackdump_locals *lc = locals_of(t, t->addrs[k], &next);

			for (size_t j = 0; j < nf; j++) {
				fputs(first ? "\n {\"function\":" : ",\n {\"function\":", out);
				first = 0;
				json_str(out, f[j].function);
				fprintf(out, ",\"kind\":\"%s\"", frame_kind_name(f[j].kind));
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
				if (lc && j + 1 == nf)
					locals_json(out, lc);
				fputc('}', out);
			}
		}
		fputs("]}", out);
	}
	fputc(']', out);
}

int stackdump_write_json(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym)
{
	json_process(out, pid, process, threads, n, sym);
	fputs("}\n", out);
	return finish(out);
}

int stackdump_write_json_all(FILE *out, const struct stackdump_process *procs, size_t n,
			     struct symbolizer *sym)
{
	if (!n) {
		fputs("{}\n", out);
		return finish(out);
	}
	json_process(out, procs[0].pid, procs[0].process, procs[0].threads, procs[0].n, sym);
	fputs(",\"subprocesses\":[", out);
	for (size_t i = 1; i < n; i++) {
		fputs(i > 1 ? ",\n" : "\n", out);
		json_process(out, procs[i].pid, procs[i].process, procs[i].threads, procs[i].n,
			     sym);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return finish(out);
}
