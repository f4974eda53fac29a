#include "text.h"

#include <stdint.h>
#include <string.h>

#include "banned.h"

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

size_t text_append_safe(char *buf, size_t size, size_t at, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = s ? strlen(src) : 0, i = 0;

	if (size == 0)
		return 0;
	while (i < len && at + 1 < size) {
		size_t n = s[i] < 0x20 || s[i] == 0x7f ? 0 : utf8_valid_len(s + i, len - i);

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
