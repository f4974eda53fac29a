#include "pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "addrspace.h"
#include "array.h"
#include "folded.h"
#include "hash.h"
#include "htable.h"
#include "maps.h"
#include "protobuf.h"
#include "pycode.h"

#include "banned.h"

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4, PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9, PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3,
	MAPPING_ID = 1, MAPPING_START = 2, MAPPING_LIMIT = 3, MAPPING_OFFSET = 4,
	MAPPING_FILENAME = 5, MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINE_NUMBERS = 9, MAPPING_HAS_INLINE = 10,
	LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5,
};

/* Longest string written, in bytes: names come from the target. */
#define PPROF_STRING_MAX 4096
/* The kernel's code as one mapping, as perf_to_profile names it. */
#define KERNEL_MAPPING_NAME "[kernel.kallsyms]"

/* ---- the writer ---- */

struct pstring {
	size_t off, len;        /* in writer.chars */
	uint64_t hash;
};

struct pmapping {
	pid_t pid;
	uint32_t image;                /* the program of @pid (addrspace.h) */
	uint64_t start, limit, offset;
	uint32_t filename, build_id;   /* string ids */
};

struct pfunction {
	uint32_t name, file;
	uint64_t hash;
};

struct plocation {
	pid_t pid;
	uint64_t addr;
	uint64_t hash;
};

struct writer {
	const struct profile *p;
	struct symbolizer *sym;
	char *chars;
	size_t nchars, chars_cap;
	struct pstring *strings;
	size_t nstrings, strings_cap;
	struct htable string_index;
	struct pmapping *mappings;
	size_t nmappings, mappings_cap;
	struct htable mapping_index;
	uint32_t kernel_mapping;       /* id, 0 until needed */
	struct pfunction *functions;
	size_t nfunctions, functions_cap;
	struct htable function_index;
	struct plocation *locations;
	size_t nlocations, locations_cap;
	struct htable location_index;
	struct pb_buf body;            /* samples, locations: encoded as found */
	struct pb_buf msg, sub, packed;   /* scratch */
	uint32_t *ids;                 /* one sample's location ids */
	size_t ids_cap;
	uint64_t period_ns;
	uint32_t s_pid, s_tid, s_thread, s_process;   /* label keys */
};

/* The id of string @s[0..len) (cut at PPROF_STRING_MAX), added on first
 * use; the bytes are copied. 0 ("") also when out of memory: w->body.err
 * then says so. */
static uint32_t string_id(struct writer *w, const char *s, size_t len)
{
	struct htable_iter it;
	uint64_t h;
	char *chars;
	struct pstring *strings;

	if (len > PPROF_STRING_MAX)
		len = PPROF_STRING_MAX;
	h = hash_bytes(s, len);
	for (uint32_t id = htable_find(&w->string_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&w->string_index, &it)) {
		const struct pstring *x = &w->strings[id];

		if (x->hash == h && x->len == len && memcmp(w->chars + x->off, s, len) == 0)
			return id;
	}
	if (!array_id_room(w->nstrings) || len > SIZE_MAX / 2 - w->nchars)
		goto nomem;
	chars = array_grow(w->chars, &w->chars_cap, w->nchars + len + 1, 1);
	if (!chars)
		goto nomem;
	w->chars = chars;
	strings = array_grow(w->strings, &w->strings_cap, w->nstrings + 1, sizeof(*strings));
	if (!strings)
		goto nomem;
	w->strings = strings;
	if (htable_insert(&w->string_index, h, (uint32_t)w->nstrings) < 0)
		goto nomem;
	if (len)
		memcpy(w->chars + w->nchars, s, len);
	w->strings[w->nstrings] = (struct pstring){ .off = w->nchars, .len = len, .hash = h };
	w->nchars += len;
	return (uint32_t)w->nstrings++;
nomem:
	w->body.err = -ENOMEM;
	return 0;
}

static uint32_t string_of(struct writer *w, const char *s)
{
	return s ? string_id(w, s, strnlen(s, PPROF_STRING_MAX)) : 0;
}

/* Hex text of a build-id, as pprof prints it. */
static uint32_t build_id_string(struct writer *w, const uint8_t *id, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char text[2 * 64];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 2 <= sizeof(text); i++) {
		text[n++] = hex[id[i] >> 4];
		text[n++] = hex[id[i] & 15];
	}
	return string_id(w, text, n);
}

/* The id (1-based) of the mapping of user address @addr of @pid, 0 when
 * none holds it. */
static uint32_t mapping_id(struct writer *w, pid_t pid, uint64_t addr)
{
	const uint8_t *bid;
	size_t bid_len;
	const struct mapping *m = symbolizer_mapping(w->sym, pid, addr, &bid, &bid_len);
	uint32_t image = addrspace_user_image(addr);
	struct pmapping *bigger;
	struct htable_iter it;
	uint64_t h;

	if (!m)
		return 0;
	h = hash_mix64(m->start ^ hash_mix64((uint64_t)pid + ((uint64_t)image << 32)));
	for (uint32_t id = htable_find(&w->mapping_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&w->mapping_index, &it)) {
		if (w->mappings[id].pid == pid && w->mappings[id].image == image &&
		    w->mappings[id].start == m->start)
			return id + 1;
	}
	if (!array_id_room(w->nmappings + 1))
		goto nomem;
	bigger = array_grow(w->mappings, &w->mappings_cap, w->nmappings + 1, sizeof(*bigger));
	if (!bigger)
		goto nomem;
	w->mappings = bigger;
	if (htable_insert(&w->mapping_index, h, (uint32_t)w->nmappings) < 0)
		goto nomem;
	w->mappings[w->nmappings] = (struct pmapping){
		.pid = pid, .image = image, .start = m->start, .limit = m->end,
		.offset = m->offset,
		.filename = string_of(w, m->path[0] ? m->path : mapping_module(m)),
		.build_id = bid_len ? build_id_string(w, bid, bid_len) : 0,
	};
	return (uint32_t)++w->nmappings;
nomem:
	w->body.err = -ENOMEM;
	return 0;
}

static uint32_t kernel_mapping_id(struct writer *w)
{
	struct pmapping *bigger;

	if (w->kernel_mapping)
		return w->kernel_mapping;
	bigger = array_grow(w->mappings, &w->mappings_cap, w->nmappings + 1, sizeof(*bigger));
	if (!bigger || !array_id_room(w->nmappings + 1)) {
		w->body.err = -ENOMEM;
		return 0;
	}
	w->mappings = bigger;
	/* Never looked up by address: not in the index. */
	w->mappings[w->nmappings] = (struct pmapping){
		.start = ADDRSPACE_KERNEL_MIN, .limit = PROFILE_ADDR_UNKNOWN,
		.filename = string_of(w, KERNEL_MAPPING_NAME),
	};
	w->kernel_mapping = (uint32_t)++w->nmappings;
	return w->kernel_mapping;
}

/* The id (1-based) of the function named @f. Functions are told apart by
 * name and file, so two modules' "main" stay two. */
static uint32_t function_id(struct writer *w, const struct frame *f)
{
	uint32_t name = string_of(w, f->function), file = string_of(w, f->file);
	uint64_t h = hash_mix64((uint64_t)name << 32 | file);
	struct pfunction *bigger;
	struct htable_iter it;

	for (uint32_t id = htable_find(&w->function_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&w->function_index, &it)) {
		if (w->functions[id].name == name && w->functions[id].file == file)
			return id + 1;
	}
	if (!array_id_room(w->nfunctions + 1))
		goto nomem;
	bigger = array_grow(w->functions, &w->functions_cap, w->nfunctions + 1, sizeof(*bigger));
	if (!bigger)
		goto nomem;
	w->functions = bigger;
	if (htable_insert(&w->function_index, h, (uint32_t)w->nfunctions) < 0)
		goto nomem;
	w->functions[w->nfunctions] = (struct pfunction){ .name = name, .file = file, .hash = h };
	return (uint32_t)++w->nfunctions;
nomem:
	w->body.err = -ENOMEM;
	return 0;
}

/* Encode location @id for address @addr of @pid into the body. */
static void location_encode(struct writer *w, uint32_t id, pid_t pid, uint64_t addr)
{
	const struct frame *frames;
	size_t n = symbolizer_resolve(w->sym, pid, addr, &frames);
	uint32_t mapping = 0;
	uint64_t address = addrspace_user_address(addr);   /* in the process */

	switch (addrspace_of(addr)) {
	case ADDR_SPACE_USER:
		mapping = mapping_id(w, pid, addr);
		break;
	case ADDR_SPACE_KERNEL:
		mapping = kernel_mapping_id(w);
		break;
	case ADDR_SPACE_PYTHON:
	case ADDR_SPACE_MARKER:
		address = 0;   /* no machine address: only the function says */
		break;
	}
	w->msg.len = 0;
	pb_put_varint(&w->msg, LOCATION_ID, id);
	if (mapping)
		pb_put_varint(&w->msg, LOCATION_MAPPING_ID, mapping);
	if (address)
		pb_put_varint(&w->msg, LOCATION_ADDRESS, address);
	/* The symbolizer's order is pprof's: innermost first, the function
	 * they were inlined into last. */
	for (size_t i = 0; i < n; i++) {
		w->sub.len = 0;
		pb_put_varint(&w->sub, LINE_FUNCTION_ID, function_id(w, &frames[i]));
		if (frames[i].line)
			pb_put_varint(&w->sub, LINE_LINE, frames[i].line);
		pb_put_message(&w->msg, LOCATION_LINE, &w->sub);
	}
	pb_put_message(&w->body, PROFILE_LOCATION, &w->msg);
}

/* The id (1-based) of the location of @addr in @pid, encoded on first use. */
static uint32_t location_id(struct writer *w, pid_t pid, uint64_t addr)
{
	uint64_t h = hash_mix64(addr ^ hash_mix64((uint64_t)pid + 1));
	struct plocation *bigger;
	struct htable_iter it;
	uint32_t id;

	for (id = htable_find(&w->location_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&w->location_index, &it)) {
		if (w->locations[id].addr == addr && w->locations[id].pid == pid)
			return id + 1;
	}
	if (!array_id_room(w->nlocations + 1))
		goto nomem;
	bigger = array_grow(w->locations, &w->locations_cap, w->nlocations + 1, sizeof(*bigger));
	if (!bigger)
		goto nomem;
	w->locations = bigger;
	if (htable_insert(&w->location_index, h, (uint32_t)w->nlocations) < 0)
		goto nomem;
	w->locations[w->nlocations] = (struct plocation){ .pid = pid, .addr = addr, .hash = h };
	id = (uint32_t)++w->nlocations;
	location_encode(w, id, pid, addr);
	return id;
nomem:
	w->body.err = -ENOMEM;
	return 0;
}

static void put_label(struct pb_buf *msg, struct pb_buf *sub, uint32_t key, uint32_t str,
		      int64_t num)
{
	sub->len = 0;
	pb_put_varint(sub, LABEL_KEY, key);
	if (str)
		pb_put_varint(sub, LABEL_STR, str);
	else
		pb_put_varint(sub, LABEL_NUM, (uint64_t)num);
	pb_put_message(msg, SAMPLE_LABEL, sub);
}

static int write_pair(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct writer *w = ctx;
	const struct profile_thread *t = profile_thread_at(w->p, thread);
	const char *process = profile_thread_process(w->p, t);
	size_t n;
	const uint64_t *addrs = profile_stack(w->p, stack, &n);
	uint32_t proc_name = process ? string_of(w, process) : 0;
	uint32_t thread_name = string_of(w, t->name);

	/* Locations first: each is encoded into the body on first use, and
	 * the sample's own message is built in the scratch buffers. They are
	 * met root first (see pprof_write). */
	if (n > w->ids_cap) {
		uint32_t *bigger = array_grow(w->ids, &w->ids_cap, n, sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		w->ids = bigger;
	}
	for (size_t i = n; i-- > 0; )
		w->ids[i] = location_id(w, t->pid, addrs[i]);
	w->packed.len = 0;
	for (size_t i = 0; i < n; i++)
		pb_put_raw_varint(&w->packed, w->ids[i]);
	w->msg.len = 0;
	pb_put_message(&w->msg, SAMPLE_LOCATION_ID, &w->packed);
	w->packed.len = 0;
	pb_put_raw_varint(&w->packed, count);
	pb_put_raw_varint(&w->packed, count * w->period_ns);
	pb_put_message(&w->msg, SAMPLE_VALUE, &w->packed);
	put_label(&w->msg, &w->sub, w->s_pid, 0, t->pid);
	put_label(&w->msg, &w->sub, w->s_tid, 0, t->tid);
	if (proc_name)
		put_label(&w->msg, &w->sub, w->s_process, proc_name, 0);
	if (thread_name)
		put_label(&w->msg, &w->sub, w->s_thread, thread_name, 0);
	pb_put_message(&w->body, PROFILE_SAMPLE, &w->msg);
	return w->body.err;
}

/* For the pre-pass: the mapping of the program itself, found by its
 * name (a comm: at most 15 bytes of the file's name). */
static int find_program(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct writer *w = ctx;
	const struct profile_thread *t = profile_thread_at(w->p, thread);
	const char *name = profile_thread_process(w->p, t);
	size_t n, len;
	const uint64_t *addrs = profile_stack(w->p, stack, &n);

	(void)count;
	if (t->tid != t->pid)
		return 0;   /* the main thread's name is the program's */
	if (!name || strchr(name, ' '))
		name = t->name;   /* --subprocesses names it "NAME (PID)" */
	len = strnlen(name, 16);
	if (!len || len > 15)
		return 0;
	for (size_t i = n; i-- > 0; ) {
		const struct mapping *m;

		if (addrspace_of(addrs[i]) != ADDR_SPACE_USER)
			continue;
		m = symbolizer_mapping(w->sym, t->pid, addrs[i], NULL, NULL);
		if (m && mapping_is_file(m) && strncmp(mapping_module(m), name, len) == 0) {
			mapping_id(w, t->pid, addrs[i]);
			return 1;
		}
	}
	return 0;
}

static void put_value_type(struct writer *w, struct pb_buf *out, uint32_t field,
			   const char *type, const char *unit)
{
	w->sub.len = 0;
	pb_put_varint(&w->sub, VALUE_TYPE_TYPE, string_of(w, type));
	pb_put_varint(&w->sub, VALUE_TYPE_UNIT, string_of(w, unit));
	pb_put_message(out, field, &w->sub);
}

/* The rest of the Profile, after the samples and locations. */
static void write_tables(struct writer *w, struct pb_buf *out, const struct pprof_options *o)
{
	const char *time_type = o->wall ? "wall" : "cpu";

	put_value_type(w, out, PROFILE_SAMPLE_TYPE, "samples", "count");
	put_value_type(w, out, PROFILE_SAMPLE_TYPE, time_type, "nanoseconds");
	put_value_type(w, out, PROFILE_PERIOD_TYPE, time_type, "nanoseconds");
	pb_put_varint(out, PROFILE_PERIOD, w->period_ns);
	if (o->time_nanos)
		pb_put_varint(out, PROFILE_TIME_NANOS, (uint64_t)o->time_nanos);
	if (o->duration_nanos)
		pb_put_varint(out, PROFILE_DURATION_NANOS, (uint64_t)o->duration_nanos);
	pb_put_varint(out, PROFILE_DEFAULT_SAMPLE_TYPE, string_of(w, time_type));
	for (size_t i = 0; i < w->nmappings; i++) {
		const struct pmapping *m = &w->mappings[i];
		bool symbolized = m->filename != 0;

		w->msg.len = 0;
		pb_put_varint(&w->msg, MAPPING_ID, i + 1);
		pb_put_varint(&w->msg, MAPPING_START, m->start);
		pb_put_varint(&w->msg, MAPPING_LIMIT, m->limit);
		if (m->offset)
			pb_put_varint(&w->msg, MAPPING_OFFSET, m->offset);
		pb_put_varint(&w->msg, MAPPING_FILENAME, m->filename);
		if (m->build_id)
			pb_put_varint(&w->msg, MAPPING_BUILD_ID, m->build_id);
		/* Named already: pprof must not symbolize again. */
		pb_put_varint(&w->msg, MAPPING_HAS_FUNCTIONS, symbolized);
		pb_put_varint(&w->msg, MAPPING_HAS_FILENAMES, symbolized);
		pb_put_varint(&w->msg, MAPPING_HAS_LINE_NUMBERS, symbolized);
		pb_put_varint(&w->msg, MAPPING_HAS_INLINE, symbolized);
		pb_put_message(out, PROFILE_MAPPING, &w->msg);
	}
	for (size_t i = 0; i < w->nfunctions; i++) {
		const struct pfunction *f = &w->functions[i];

		w->msg.len = 0;
		pb_put_varint(&w->msg, FUNCTION_ID, i + 1);
		pb_put_varint(&w->msg, FUNCTION_NAME, f->name);
		pb_put_varint(&w->msg, FUNCTION_SYSTEM_NAME, f->name);
		if (f->file)
			pb_put_varint(&w->msg, FUNCTION_FILENAME, f->file);
		pb_put_message(out, PROFILE_FUNCTION, &w->msg);
	}
	/* Last: every string is known by now. */
	for (size_t i = 0; i < w->nstrings; i++)
		pb_put_bytes(out, PROFILE_STRING_TABLE, w->chars + w->strings[i].off,
			     w->strings[i].len);
}

/* Gzip the bytes of @bufs[0..n), one after the other, to @out (zlib's
 * deflate with a gzip wrapper). 0, -ENOMEM or -EIO. */
static int gzip_write(FILE *out, const struct pb_buf *bufs, size_t n)
{
	unsigned char chunk[64 * 1024];
	z_stream z = { 0 };
	int zr = Z_OK, err = 0;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *data = bufs[i].data;
		size_t len = bufs[i].len;

		do {
			/* avail_in is 32 bits: big buffers go in slices. */
			uInt take = len > (1u << 30) ? 1u << 30 : (uInt)len;
			int flush;

			z.next_in = (Bytef *)(uintptr_t)data;
			z.avail_in = take;
			data += take;
			len -= take;
			flush = len || i + 1 < n ? Z_NO_FLUSH : Z_FINISH;
			do {
				size_t have;

				z.next_out = chunk;
				z.avail_out = sizeof(chunk);
				zr = deflate(&z, flush);
				if (zr == Z_STREAM_ERROR) {
					err = -EIO;
					goto out;
				}
				have = sizeof(chunk) - z.avail_out;
				if (fwrite(chunk, 1, have, out) != have) {
					err = -EIO;
					goto out;
				}
			} while (z.avail_out == 0);
		} while (len);
	}
	if (zr != Z_STREAM_END)
		err = -EIO;
out:
	deflateEnd(&z);
	return err;
}

int pprof_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		const struct pprof_options *o)
{
	struct writer w = {
		.p = p, .sym = sym,
		.period_ns = 1000000000ull / (o->rate ? o->rate : 1),
	};
	struct pb_buf tail = { 0 };
	int err;

	string_id(&w, "", 0);   /* string 0 is "" */
	w.s_pid = string_of(&w, "pid");
	w.s_tid = string_of(&w, "tid");
	w.s_thread = string_of(&w, "thread");
	w.s_process = string_of(&w, "process");
	/* pprof takes the first mapping as the main binary (its File: and
	 * Build ID:): the program's, when a stack of its main thread shows it;
	 * else the first stack's root, as locations are met root first. */
	profile_for_each(p, find_program, &w);
	err = profile_for_each(p, write_pair, &w);
	if (!err) {
		write_tables(&w, &tail, o);
		err = w.body.err ? w.body.err : w.msg.err ? w.msg.err : w.sub.err ? w.sub.err :
		      w.packed.err ? w.packed.err : tail.err;
	}
	if (!err) {
		/* A message is its fields in any order: the body and the tail
		 * one after the other are one Profile. */
		const struct pb_buf parts[] = { w.body, tail };

		err = gzip_write(out, parts, 2);
	}
	if (!err && (fflush(out) == EOF || ferror(out)))
		err = -EIO;
	pb_buf_release(&tail);
	pb_buf_release(&w.body);
	pb_buf_release(&w.msg);
	pb_buf_release(&w.sub);
	pb_buf_release(&w.packed);
	free(w.chars);
	free(w.strings);
	free(w.mappings);
	free(w.functions);
	free(w.locations);
	free(w.ids);
	htable_release(&w.string_index);
	htable_release(&w.mapping_index);
	htable_release(&w.function_index);
	htable_release(&w.location_index);
	return err;
}

/* ---- the reader ---- */

/* Most frames added over a whole file: a small file whose samples each
 * name one location of thousands of lines would otherwise cost hours. */
#define PPROF_FRAMES_MAX (UINT64_C(1) << 28)

struct rfunction {
	uint64_t id;
	uint64_t name, file;     /* string indexes (checked when used) */
};

struct rmapping {
	uint64_t id, start, offset;
	uint64_t file;
};

struct rline {
	uint64_t function;       /* id */
	int64_t line;
};

struct rlocation {
	uint64_t id, mapping, address;
	size_t first_line, nlines;   /* in reader.lines */
};

struct byte_range {
	const uint8_t *data;
	size_t len;
};

struct reader {
	const struct pprof_read_options *o;
	struct flametree *t;
	char **strings;          /* NUL-terminated copies */
	size_t nstrings, strings_cap;
	struct rfunction *functions;
	size_t nfunctions, functions_cap;
	struct htable function_index;
	struct rmapping *mappings;
	size_t nmappings, mappings_cap;
	struct htable mapping_index;
	struct rlocation *locations;
	size_t nlocations, locations_cap;
	struct htable location_index;
	struct rline *lines;
	size_t nlines, lines_cap;
	struct byte_range *samples;
	size_t nsamples, samples_cap;
	uint64_t *types;         /* sample_type: the type's string index */
	size_t ntypes, types_cap;
	uint64_t default_type;
	/* One stack as it is built. */
	struct folded_text text;
	struct flametree_frame *levels;
	struct frame *frames;
	size_t *offs;
	size_t nlevels, levels_cap, frames_cap, offs_cap;
	uint64_t *loc_ids;
	size_t nloc_ids, loc_ids_cap;
	uint64_t frames_added;   /* against PPROF_FRAMES_MAX */
};

static int grow(void *pp, size_t *cap, size_t n, size_t size)
{
	void **p = pp;
	void *bigger;

	if (!array_id_room(n))
		return -ENOMEM;
	bigger = array_grow(*p, cap, n + 1, size);
	if (!bigger)
		return -ENOMEM;
	*p = bigger;
	return 0;
}

static const char *string_at(const struct reader *r, uint64_t i)
{
	return i < r->nstrings ? r->strings[i] : "";
}

static uint32_t function_find(const struct reader *r, uint64_t id)
{
	struct htable_iter it;
	uint32_t i = htable_find(&r->function_index, hash_mix64(id), &it);

	while (i != HTABLE_NONE && r->functions[i].id != id)
		i = htable_next(&r->function_index, &it);
	return i;
}

static uint32_t mapping_find(const struct reader *r, uint64_t id)
{
	struct htable_iter it;
	uint32_t i;

	if (!id)
		return HTABLE_NONE;
	i = htable_find(&r->mapping_index, hash_mix64(id), &it);
	while (i != HTABLE_NONE && r->mappings[i].id != id)
		i = htable_next(&r->mapping_index, &it);
	return i;
}

static uint32_t location_find(const struct reader *r, uint64_t id)
{
	struct htable_iter it;
	uint32_t i = htable_find(&r->location_index, hash_mix64(id), &it);

	while (i != HTABLE_NONE && r->locations[i].id != id)
		i = htable_next(&r->location_index, &it);
	return i;
}

static int read_string(struct reader *r, const struct pb_field *f)
{
	char *s;

	if (f->wire != PB_LEN)
		return -EINVAL;
	if (grow(&r->strings, &r->strings_cap, r->nstrings, sizeof(*r->strings)) < 0)
		return -ENOMEM;
	s = malloc(f->len + 1);
	if (!s)
		return -ENOMEM;
	if (f->len)
		memcpy(s, f->data, f->len);
	s[f->len] = '\0';
	r->strings[r->nstrings++] = s;
	return 0;
}

/* A sub-message of @f, field by field; calls @fn for each. */
static int read_message(const struct pb_field *f, int (*fn)(void *, const struct pb_field *),
			void *ctx)
{
	struct pb_reader pr = { f->data, f->data + f->len };
	struct pb_field sub;
	int ret;

	if (f->wire != PB_LEN)
		return -EINVAL;
	while ((ret = pb_next(&pr, &sub)) > 0) {
		ret = fn(ctx, &sub);
		if (ret < 0)
			return ret;
	}
	return ret;
}

static int function_field(void *ctx, const struct pb_field *f)
{
	struct rfunction *fn = ctx;

	if (f->wire != PB_VARINT)
		return 0;   /* unknown or future fields are skipped */
	if (f->number == FUNCTION_ID)
		fn->id = f->value;
	else if (f->number == FUNCTION_NAME)
		fn->name = f->value;
	else if (f->number == FUNCTION_FILENAME)
		fn->file = f->value;
	return 0;
}

static int mapping_field(void *ctx, const struct pb_field *f)
{
	struct rmapping *m = ctx;

	if (f->wire != PB_VARINT)
		return 0;
	if (f->number == MAPPING_ID)
		m->id = f->value;
	else if (f->number == MAPPING_START)
		m->start = f->value;
	else if (f->number == MAPPING_OFFSET)
		m->offset = f->value;
	else if (f->number == MAPPING_FILENAME)
		m->file = f->value;
	return 0;
}

static int line_field(void *ctx, const struct pb_field *f)
{
	struct rline *l = ctx;

	if (f->wire != PB_VARINT)
		return 0;
	if (f->number == LINE_FUNCTION_ID)
		l->function = f->value;
	else if (f->number == LINE_LINE)
		l->line = (int64_t)f->value;
	return 0;
}

struct location_ctx {
	struct reader *r;
	struct rlocation loc;
};

static int location_field(void *ctx, const struct pb_field *f)
{
	struct location_ctx *c = ctx;
	struct reader *r = c->r;
	struct rline l = { 0 };
	int err;

	if (f->number == LOCATION_LINE && f->wire == PB_LEN) {
		err = read_message(f, line_field, &l);
		if (err < 0)
			return err;
		if (grow(&r->lines, &r->lines_cap, r->nlines, sizeof(*r->lines)) < 0)
			return -ENOMEM;
		r->lines[r->nlines++] = l;
		c->loc.nlines++;
		return 0;
	}
	if (f->wire != PB_VARINT)
		return 0;
	if (f->number == LOCATION_ID)
		c->loc.id = f->value;
	else if (f->number == LOCATION_MAPPING_ID)
		c->loc.mapping = f->value;
	else if (f->number == LOCATION_ADDRESS)
		c->loc.address = f->value;
	return 0;
}

static int value_type_field(void *ctx, const struct pb_field *f)
{
	uint64_t *type = ctx;

	if (f->wire == PB_VARINT && f->number == VALUE_TYPE_TYPE)
		*type = f->value;
	return 0;
}

/* One top-level field of the Profile. */
static int profile_field(struct reader *r, const struct pb_field *f)
{
	int err;

	switch (f->number) {
	case PROFILE_STRING_TABLE:
		return read_string(r, f);
	case PROFILE_SAMPLE:
		if (f->wire != PB_LEN)
			return -EINVAL;
		if (grow(&r->samples, &r->samples_cap, r->nsamples, sizeof(*r->samples)) < 0)
			return -ENOMEM;
		r->samples[r->nsamples++] = (struct byte_range){ f->data, f->len };
		return 0;
	case PROFILE_SAMPLE_TYPE: {
		uint64_t type = 0;

		err = read_message(f, value_type_field, &type);
		if (err < 0)
			return err;
		if (grow(&r->types, &r->types_cap, r->ntypes, sizeof(*r->types)) < 0)
			return -ENOMEM;
		r->types[r->ntypes++] = type;
		return 0;
	}
	case PROFILE_DEFAULT_SAMPLE_TYPE:
		if (f->wire == PB_VARINT)
			r->default_type = f->value;
		return 0;
	case PROFILE_FUNCTION: {
		struct rfunction fn = { 0 };

		err = read_message(f, function_field, &fn);
		if (err < 0)
			return err;
		if (grow(&r->functions, &r->functions_cap, r->nfunctions, sizeof(fn)) < 0 ||
		    htable_insert(&r->function_index, hash_mix64(fn.id),
				  (uint32_t)r->nfunctions) < 0)
			return -ENOMEM;
		r->functions[r->nfunctions++] = fn;
		return 0;
	}
	case PROFILE_MAPPING: {
		struct rmapping m = { 0 };

		err = read_message(f, mapping_field, &m);
		if (err < 0)
			return err;
		if (grow(&r->mappings, &r->mappings_cap, r->nmappings, sizeof(m)) < 0 ||
		    htable_insert(&r->mapping_index, hash_mix64(m.id), (uint32_t)r->nmappings) < 0)
			return -ENOMEM;
		r->mappings[r->nmappings++] = m;
		return 0;
	}
	case PROFILE_LOCATION: {
		struct location_ctx c = { .r = r, .loc = { .first_line = r->nlines } };

		err = read_message(f, location_field, &c);
		if (err < 0)
			return err;
		if (grow(&r->locations, &r->locations_cap, r->nlocations, sizeof(c.loc)) < 0 ||
		    htable_insert(&r->location_index, hash_mix64(c.loc.id),
				  (uint32_t)r->nlocations) < 0)
			return -ENOMEM;
		r->locations[r->nlocations++] = c.loc;
		return 0;
	}
	default:
		return 0;
	}
}

/* The work space of the stack being built, in bytes. */
static size_t stack_bytes(const struct reader *r)
{
	return r->levels_cap * sizeof(*r->levels) + r->frames_cap * sizeof(*r->frames) +
	       r->offs_cap * sizeof(*r->offs) + r->loc_ids_cap * sizeof(*r->loc_ids) +
	       r->text.cap;
}

/* One more level from @start to the end of the text; @f (copied) may be
 * NULL for the process and thread levels. */
static int level_push(struct reader *r, size_t start, const struct frame *f)
{
	/* A stack may be as deep as record writes and deeper: what bounds
	 * it is the memory of the stack being built beside the tree. */
	if (r->nlevels + 1 >= r->levels_cap &&
	    flametree_room(r->t, stack_bytes(r) * 2) < 0)
		return -E2BIG;
	if (++r->frames_added > PPROF_FRAMES_MAX)
		return -E2BIG;
	if (grow(&r->levels, &r->levels_cap, r->nlevels, sizeof(*r->levels)) < 0 ||
	    grow(&r->frames, &r->frames_cap, r->nlevels, sizeof(*r->frames)) < 0 ||
	    grow(&r->offs, &r->offs_cap, r->nlevels, sizeof(*r->offs)) < 0)
		return -ENOMEM;
	r->offs[r->nlevels] = start;
	if (f)
		r->frames[r->nlevels] = *f;
	r->levels[r->nlevels++] = (struct flametree_frame){
		.len = r->text.len - start, .frame = f ? &r->frames[r->nlevels] : NULL,
	};
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* The frame of line @k of location @loc (the last line is the function
 * the others were inlined into), named as the folded writer names it. */
static int add_line(struct reader *r, const struct rlocation *loc, size_t k)
{
	const struct rline *l = &r->lines[loc->first_line + k];
	uint32_t fi = function_find(r, l->function);
	uint32_t mi = mapping_find(r, loc->mapping);
	const char *mfile = mi != HTABLE_NONE ? string_at(r, r->mappings[mi].file) : NULL;
	struct frame f = { .kind = FRAME_NATIVE };
	size_t start = r->text.len;
	int err;

	if (fi == HTABLE_NONE)
		return -EINVAL;
	f.function = string_at(r, r->functions[fi].name);
	f.file = string_at(r, r->functions[fi].file);
	if (!*f.file)
		f.file = NULL;
	f.line = l->line > 0 && l->line <= UINT32_MAX ? (unsigned)l->line : 0;
	if (mfile)
		f.module = base_name(mfile);
	if (k + 1 < loc->nlines)
		f.kind = FRAME_INLINED;
	else if (mfile && strncmp(mfile, "[kernel", 7) == 0)
		f.kind = FRAME_KERNEL;
	else if (!mfile && f.file)
		f.kind = FRAME_PYTHON;
	else if (!mfile && (strcmp(f.function, "[truncated]") == 0 ||
			    strcmp(f.function, "[unknown]") == 0))
		f.kind = FRAME_MARKER;
	if (f.kind == FRAME_PYTHON)
		f.module = pycode_short_file(f.file);
	err = folded_text_add_frame(&r->text, &f, r->o->lines);
	return err ? err : level_push(r, start, &f);
}

/* A location with no lines: named by where it is, as the symbolizer names
 * an address it cannot name. */
static int add_bare_location(struct reader *r, const struct rlocation *loc)
{
	uint32_t mi = mapping_find(r, loc->mapping);
	struct frame f = { .kind = FRAME_UNKNOWN };
	size_t start = r->text.len;
	int err;

	if (mi != HTABLE_NONE) {
		const struct rmapping *m = &r->mappings[mi];

		f.module = base_name(string_at(r, m->file));
		err = folded_text_add_name(&r->text, f.module);
		if (!err)
			err = folded_text_addf(&r->text, "+0x%" PRIx64, loc->address - m->start + m->offset);
	} else {
		err = folded_text_addf(&r->text, "0x%" PRIx64, loc->address);
	}
	f.function = "";
	return err ? err : level_push(r, start, &f);
}

struct sample_ctx {
	struct reader *r;
	uint64_t *values;         /* the value at the chosen index, when seen */
	size_t value_index, nvalues;
	bool has_value;
	uint64_t weight;
	uint64_t process, thread; /* string indexes, 0 when absent */
	int64_t pid, tid;
	bool has_pid, has_tid;
};

/* Values may come packed (one length-delimited field) or one by one. */
static int sample_value(struct sample_ctx *c, uint64_t v)
{
	if (c->nvalues++ == c->value_index) {
		c->weight = v;
		c->has_value = true;
	}
	return 0;
}

static int label_field(void *ctx, const struct pb_field *f)
{
	uint64_t *kv = ctx;   /* key, str, num, has_num */

	if (f->wire != PB_VARINT)
		return 0;
	if (f->number == LABEL_KEY)
		kv[0] = f->value;
	else if (f->number == LABEL_STR)
		kv[1] = f->value;
	else if (f->number == LABEL_NUM) {
		kv[2] = f->value;
		kv[3] = 1;
	}
	return 0;
}

static int push_location_id(struct reader *r, uint64_t id)
{
	if (r->nloc_ids + 1 >= r->loc_ids_cap && flametree_room(r->t, stack_bytes(r) * 2) < 0)
		return -E2BIG;
	if (grow(&r->loc_ids, &r->loc_ids_cap, r->nloc_ids, sizeof(*r->loc_ids)) < 0)
		return -ENOMEM;
	r->loc_ids[r->nloc_ids++] = id;
	return 0;
}

static int sample_field(void *ctx, const struct pb_field *f)
{
	struct sample_ctx *c = ctx;
	struct reader *r = c->r;

	if (f->number == SAMPLE_LOCATION_ID || f->number == SAMPLE_VALUE) {
		if (f->wire == PB_VARINT)
			return f->number == SAMPLE_VALUE ? sample_value(c, f->value) :
			       push_location_id(r, f->value);
		if (f->wire == PB_LEN) {
			const uint8_t *p = f->data, *end = f->data + f->len;
			uint64_t v;
			int err;

			while (p < end) {
				if (pb_get_varint(&p, end, &v) < 0)
					return -EINVAL;
				err = f->number == SAMPLE_VALUE ? sample_value(c, v) :
				      push_location_id(r, v);
				if (err < 0)
					return err;
			}
		}
		return 0;
	}
	if (f->number == SAMPLE_LABEL && f->wire == PB_LEN) {
		uint64_t kv[4] = { 0 };
		const char *key;
		int err = read_message(f, label_field, kv);

		if (err < 0)
			return err;
		key = string_at(r, kv[0]);
		if (strcmp(key, "process") == 0 && kv[1])
			c->process = kv[1];
		else if (strcmp(key, "thread") == 0 && kv[1])
			c->thread = kv[1];
		else if (strcmp(key, "pid") == 0 && kv[3]) {
			c->pid = (int64_t)kv[2];
			c->has_pid = true;
		} else if (strcmp(key, "tid") == 0 && kv[3]) {
			c->tid = (int64_t)kv[2];
			c->has_tid = true;
		}
	}
	return 0;
}

/* One sample into the tree: 0, 1 when skipped, or -errno. */
static int add_sample(struct reader *r, const struct byte_range *b, size_t value_index)
{
	struct sample_ctx c = { .r = r, .value_index = value_index };
	struct pb_field whole = { .wire = PB_LEN, .data = b->data, .len = b->len };
	int err;

	r->nloc_ids = 0;
	r->nlevels = 0;
	r->text.len = 0;
	err = read_message(&whole, sample_field, &c);
	if (err < 0)
		return err;
	/* A weight the tree can hold exactly enough (a double). */
	if (!c.has_value || c.weight == 0 || c.weight > (UINT64_C(1) << 53))
		return 1;
	if (c.process) {
		err = folded_text_add_name(&r->text, string_at(r, c.process));
		if (!err)
			err = level_push(r, 0, NULL);
	} else if (c.has_pid) {
		err = folded_text_addf(&r->text, "pid %" PRId64, c.pid);
		if (!err)
			err = level_push(r, 0, NULL);
	}
	if (!err && r->o->threads && c.thread && c.has_tid) {
		size_t start = r->text.len;

		err = folded_text_add_name(&r->text, string_at(r, c.thread));
		if (!err)
			err = folded_text_addf(&r->text, " (%" PRId64 ")", c.tid);
		if (!err)
			err = level_push(r, start, NULL);
	}
	/* location_id[0] is the leaf; a location's last line its outermost. */
	for (size_t i = r->nloc_ids; !err && i-- > 0; ) {
		uint32_t li = location_find(r, r->loc_ids[i]);
		const struct rlocation *loc;

		if (li == HTABLE_NONE)
			return 1;
		loc = &r->locations[li];
		if (!loc->nlines)
			err = add_bare_location(r, loc);
		for (size_t k = loc->nlines; !err && k-- > 0; )
			err = add_line(r, loc, k);
	}
	if (err)
		return err == -EINVAL ? 1 : err;
	if (!r->nlevels)
		return 1;
	for (size_t i = 0; i < r->nlevels; i++) {
		r->levels[i].name = r->text.s ? r->text.s + r->offs[i] : "";
		if (r->levels[i].frame)
			r->levels[i].frame = &r->frames[i];
	}
	return flametree_add_frames(r->t, r->levels, r->nlevels, (double)c.weight,
				    r->o->reverse);
}

/* The index of the value to read: "samples", else the default type, else
 * the last. */
static size_t value_index(const struct reader *r, char *name, size_t size)
{
	size_t pick = r->ntypes ? r->ntypes - 1 : 0;

	for (size_t i = 0; i < r->ntypes; i++) {
		if (strcmp(string_at(r, r->types[i]), "samples") == 0) {
			pick = i;
			goto out;
		}
	}
	for (size_t i = 0; r->default_type && i < r->ntypes; i++) {
		if (r->types[i] == r->default_type)
			pick = i;
	}
out:
	snprintf(name, size, "%s", r->ntypes ? string_at(r, r->types[pick]) : "");
	return pick;
}

static void reader_release(struct reader *r)
{
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r->strings);
	free(r->functions);
	free(r->mappings);
	free(r->locations);
	free(r->lines);
	free(r->samples);
	free(r->types);
	free(r->text.s);
	free(r->levels);
	free(r->frames);
	free(r->offs);
	free(r->loc_ids);
	htable_release(&r->function_index);
	htable_release(&r->mapping_index);
	htable_release(&r->location_index);
}

static int decode(struct flametree *t, const uint8_t *buf, size_t len,
		  const struct pprof_read_options *opts, struct pprof_read_stats *st)
{
	static const struct pprof_read_options none;
	struct reader r = { .o = opts ? opts : &none, .t = t };
	struct pb_reader pr = { buf, buf + len };
	struct pb_field f;
	size_t vi;
	int ret;

	while ((ret = pb_next(&pr, &f)) > 0) {
		ret = profile_field(&r, &f);
		if (ret < 0)
			break;
	}
	if (ret == 0 && !r.ntypes)
		ret = -EINVAL;   /* every Profile says what its values are */
	if (ret < 0)
		goto out;
	vi = value_index(&r, st->value_type, sizeof(st->value_type));
	for (size_t i = 0; i < r.nsamples; i++) {
		ret = add_sample(&r, &r.samples[i], vi);
		if (ret < 0)
			goto out;
		if (ret)
			st->skipped++;
		else
			st->samples++;
	}
	ret = 0;
out:
	reader_release(&r);
	return ret;
}

static bool is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

bool pprof_input_is(FILE *in, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	int c = getc(in);

	if (c != EOF)
		ungetc(c, in);
	if (c == 0x1f)
		return true;
	return (len > 3 && strcmp(name + len - 3, ".pb") == 0) ||
	       (len > 6 && strcmp(name + len - 6, ".pprof") == 0);
}

/* Inflate a gzip'd @buf into *@out (malloc'd), at most PPROF_INPUT_MAX
 * bytes. 0, -EINVAL (corrupt, or too big) or -ENOMEM. */
static int gunzip(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = { 0 };
	uint8_t *data = NULL, *bigger;
	size_t cap = 0, n = 0;
	int zr = Z_OK, err = 0;

	if (len > PPROF_INPUT_MAX)
		return -EINVAL;
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	while (zr != Z_STREAM_END) {
		if (n == cap) {
			if (cap >= PPROF_INPUT_MAX) {
				err = -EINVAL;
				break;
			}
			bigger = array_grow(data, &cap, n + 64 * 1024, 1);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			data = bigger;
			if (cap > PPROF_INPUT_MAX)
				cap = PPROF_INPUT_MAX;
		}
		z.next_out = data + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_MEM_ERROR) {
			err = -ENOMEM;
			break;
		}
		if (zr != Z_OK && zr != Z_STREAM_END) {
			err = -EINVAL;   /* corrupt, or cut short (Z_BUF_ERROR) */
			break;
		}
	}
	inflateEnd(&z);
	if (err) {
		free(data);
		return err;
	}
	*out = data;
	*out_len = n;
	return 0;
}

int pprof_read_buffer(struct flametree *t, const uint8_t *buf, size_t len,
		      const struct pprof_read_options *opts, struct pprof_read_stats *st)
{
	struct pprof_read_stats local;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int err;

	if (!st)
		st = &local;
	*st = (struct pprof_read_stats){ 0 };
	if (!is_gzip(buf, len))
		return len <= PPROF_INPUT_MAX ? decode(t, buf, len, opts, st) : -EINVAL;
	err = gunzip(buf, len, &plain, &plain_len);
	if (err < 0)
		return err;
	err = decode(t, plain, plain_len, opts, st);
	free(plain);
	return err;
}

int pprof_read(struct flametree *t, FILE *in, const struct pprof_read_options *opts,
	       struct pprof_read_stats *st)
{
	uint8_t *buf = NULL, *bigger;
	size_t cap = 0, len = 0, n;
	int err;

	for (;;) {
		if (len == cap) {
			if (cap > PPROF_INPUT_MAX) {
				free(buf);
				return -EINVAL;
			}
			bigger = array_grow(buf, &cap, len + 64 * 1024, 1);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		n = fread(buf + len, 1, cap - len, in);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		return -EIO;
	}
	err = pprof_read_buffer(t, buf, len, opts, st);
	free(buf);
	return err;
}
