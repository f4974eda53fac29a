#include "protobuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "banned.h"

void pb_buf_release(struct pb_buf *b)
{
	free(b->data);
	*b = (struct pb_buf){ 0 };
}

static uint8_t *pb_room(struct pb_buf *b, size_t more)
{
	uint8_t *bigger;

	if (b->err)
		return NULL;
	if (more > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return NULL;
	}
	bigger = array_grow(b->data, &b->cap, b->len + more, 1);
	if (!bigger) {
		b->err = -ENOMEM;
		return NULL;
	}
	b->data = bigger;
	return b->data + b->len;
}

void pb_put_raw_varint(struct pb_buf *b, uint64_t v)
{
	uint8_t *p = pb_room(b, 10);
	size_t n = 0;

	if (!p)
		return;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	b->len += n;
}

static void pb_put_tag(struct pb_buf *b, uint32_t field, enum pb_wire wire)
{
	pb_put_raw_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

void pb_put_varint(struct pb_buf *b, uint32_t field, uint64_t v)
{
	pb_put_tag(b, field, PB_VARINT);
	pb_put_raw_varint(b, v);
}

void pb_put_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len)
{
	uint8_t *p;

	pb_put_tag(b, field, PB_LEN);
	pb_put_raw_varint(b, len);
	if (!len)
		return;
	p = pb_room(b, len);
	if (!p)
		return;
	memcpy(p, data, len);
	b->len += len;
}

void pb_put_message(struct pb_buf *b, uint32_t field, const struct pb_buf *msg)
{
	if (msg->err && !b->err)
		b->err = msg->err;
	pb_put_bytes(b, field, msg->data, msg->err ? 0 : msg->len);
}

int pb_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (q >= end)
			return -EINVAL;
		x |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q++ & 0x80)) {
			*v = x;
			*p = q;
			return 0;
		}
	}
	return -EINVAL;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t tag, len;

	if (r->p >= r->end)
		return 0;
	if (pb_get_varint(&r->p, r->end, &tag) < 0 || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
		return -EINVAL;
	*f = (struct pb_field){ .number = (uint32_t)(tag >> 3), .wire = (enum pb_wire)(tag & 7) };
	switch (tag & 7) {
	case PB_VARINT:
		return pb_get_varint(&r->p, r->end, &f->value) < 0 ? -EINVAL : 1;
	case PB_FIXED64:
	case PB_FIXED32: {
		size_t n = (tag & 7) == PB_FIXED64 ? 8 : 4;

		if ((size_t)(r->end - r->p) < n)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			f->value |= (uint64_t)r->p[i] << (8 * i);
		r->p += n;
		return 1;
	}
	case PB_LEN:
		if (pb_get_varint(&r->p, r->end, &len) < 0 || len > (uint64_t)(r->end - r->p))
			return -EINVAL;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	default:
		return -EINVAL;   /* groups (3, 4) and 6, 7 */
	}
}
