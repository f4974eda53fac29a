/*
 * protobuf.h - the few pieces of the protocol buffers wire format that the
 * pprof writer and reader need: varints and length-delimited fields, written
 * into a growable buffer and read back, bounded, from untrusted bytes.
 *
 * Why not libprotobuf-c: see docs/pprof.md. The format is small and
 * stable (https://protobuf.dev/programming-guides/encoding/), and pprof
 * needs no schema compiler, reflection or unknown-field keeping.
 */
#ifndef HOTSPY_PROTOBUF_H
#define HOTSPY_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2,
	PB_FIXED32 = 5,
};

/* Bytes written back to back. After a failed append err is -ENOMEM and
 * every later append is a no-op: check err once at the end. */
struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

/* Free the bytes; @b is empty again. */
void pb_buf_release(struct pb_buf *b);

/* A bare varint (no tag), as in the body of a packed field. */
void pb_put_raw_varint(struct pb_buf *b, uint64_t v);
/* Field @field as a varint (int64/uint64/bool; negative int64 values take
 * ten bytes, as the format says). */
void pb_put_varint(struct pb_buf *b, uint32_t field, uint64_t v);
/* Field @field as length-delimited bytes (a string, a packed array, or an
 * encoded message). @data may be NULL when @len is 0. */
void pb_put_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len);
/* Field @field holding the bytes of @msg (an encoded sub-message). */
void pb_put_message(struct pb_buf *b, uint32_t field, const struct pb_buf *msg);

/* Reading: a window on bytes that are not owned. */
struct pb_reader {
	const uint8_t *p, *end;
};

/* One field as read. For PB_LEN, @data/@len are its bytes (inside the
 * reader's window); for the others, @value is its value. */
struct pb_field {
	uint32_t number;
	enum pb_wire wire;
	uint64_t value;
	const uint8_t *data;
	size_t len;
};

/* A varint at *@p (before @end): 0 and *@p moved past it, or -EINVAL when
 * it is cut or longer than ten bytes. */
int pb_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/*
 * The next field of @r: 1 with it in *@f, 0 at the end of the window, or
 * -EINVAL for malformed bytes (a bad tag, a wire type the format has no
 * more, groups, or a length past the window). Never reads outside it.
 */
int pb_next(struct pb_reader *r, struct pb_field *f);

#endif
