/*
 * text.h - untrusted bytes made safe for the text formats hotspy writes.
 * Names come from the target (symbols, thread names, file names): any
 * bytes, any length.
 */
#ifndef HOTSPY_TEXT_H
#define HOTSPY_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Length of the valid UTF-8 sequence at @s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF; U+FFFE and U+FFFF refused too, as XML
 * does), or 0 when the bytes at @s do not start one.
 */
size_t utf8_valid_len(const unsigned char *s, size_t avail);

/*
 * Code point @c as UTF-8 in @out; returns its length, 1 to 4. A value past
 * U+10FFFF gets the 4-byte form of its low 21 bits, and surrogates are
 * encoded as they are: the callers decide what garbage from a target
 * becomes before they call.
 */
size_t utf8_encode(uint32_t c, char out[4]);

/*
 * Write the first @max of @len bytes of @s as the inside of a JSON string:
 * '"' and '\\' escaped, control bytes as \u00XX, each byte of invalid UTF-8
 * as U+FFFD, and "..." when the string was cut.
 */
void json_escape(FILE *out, const char *s, size_t len, size_t max);

/*
 * Append @src to the terminal text in @buf (NUL-terminated, @size bytes,
 * the first @at in use) with control characters (C0, DEL, C1) and invalid
 * UTF-8 as '?', never splitting a character. Every name from the target
 * goes through this or text_put_safe before it reaches a terminal.
 * Returns the new length.
 */
size_t text_append_safe(char *buf, size_t size, size_t at, const char *src);

/* Write the first @max bytes of @src to @out as text_append_safe makes it
 * safe for a terminal. @src may be NULL (nothing written). */
void text_put_safe(FILE *out, const char *src, size_t max);

#endif
