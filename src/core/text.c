#include "text.h"

#include <stdint.h>
#include <string.h>

#include "banned.h"

size_t utf8_encode(uint32_t c, char out[4])
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | ((c >> 18) & 7));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

size_t utf8_valid_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

void json_escape(FILE *out, const char *str, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, lim = len < max ? len : max;

	while (i < lim) {
		size_t n;

		if (s[i] == '"' || s[i] == '\\') {
			fputc('\\', out);
			fputc(s[i++], out);
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(out, "\\u%04x", s[i++]);
			continue;
		}
		n = utf8_valid_len(s + i, lim - i);
		if (n == 0) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
	if (len > lim)
		fputs("...", out);
}

/*
 * Length of the character at @s when a terminal shows it as text, 0 when it
 * is not one: a C0 control, DEL, a C1 control (U+0080-U+009F, the 8-bit
 * CSI of "\xc2\x9b" among them: terminals that take UTF-8 act on them),
 * or invalid UTF-8 (a lone 0x9b too).
 */
static size_t terminal_char_len(const unsigned char *s, size_t avail)
{
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 0;
	if (s[0] == 0xc2 && avail >= 2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 0;
	return utf8_valid_len(s, avail);
}

void text_put_safe(FILE *out, const char *src, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = s ? strnlen(src, max) : 0, i = 0;

	while (i < len) {
		size_t n = terminal_char_len(s + i, len - i);

		if (n == 0) {
			fputc('?', out);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
}

size_t text_append_safe(char *buf, size_t size, size_t at, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = s ? strlen(src) : 0, i = 0;

	if (size == 0)
		return 0;
	while (i < len && at + 1 < size) {
		size_t n = terminal_char_len(s + i, len - i);

		if (n == 0) {
			buf[at++] = '?';
			i++;
			continue;
		}
		if (at + n >= size)
			break;
		memcpy(buf + at, s + i, n);
		at += n;
		i += n;
	}
	buf[at < size ? at : size - 1] = '\0';
	return at;
}
