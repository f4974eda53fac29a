/*
 * banned.h - functions that must not appear in hotspy code.
 *
 * Every project .c file includes it directly, after its other headers, so
 * that no system header sees the macros. Using one of these names is a
 * compile error that points here. Use snprintf, memcpy with an explicit
 * bound, or text_append_safe (text.h) instead.
 */
#ifndef HOTSPY_BANNED_H
#define HOTSPY_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#endif
