/*
 * test_kallsyms.c - the /proc/kallsyms reader on recorded tables: text
 * symbols only, module names kept, lookups between symbols, hidden tables
 * (kptr_restrict) reported as such, garbage skipped; and the real table of
 * this machine when it can be read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kallsyms.h"
#include "banned.h"

static const char table[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81001000 t do_one_initcall\n"
	"ffffffff81002000 D some_data\n"              /* not text: skipped */
	"ffffffff81003000 T __x64_sys_read\n"
	"ffffffff81003400 W weak_fn\n"
	"garbage line\n"
	"zzzz T bad_address\n"
	"ffffffff81004000 T\n"                        /* no name */
	"ffffffffc0001000 t e1000_clean\t[e1000]\n"
	"ffffffff81000800 t unsorted_fn\n";           /* order is not assumed */

static void test_lookup(void)
{
	struct kallsyms *k = kallsyms_parse(table, sizeof(table) - 1);

	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_EQ_U64(kallsyms_count(k), 6);
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81000000), "_stext");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff810007ff), "_stext");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81000800), "unsorted_fn");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81001fff), "do_one_initcall");
	/* The data symbol is not a boundary: still inside do_one_initcall. */
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81002abc), "do_one_initcall");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81003010), "__x64_sys_read");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81003400), "weak_fn");
	CHECK_STR(kallsyms_lookup(k, 0xffffffffc0001010), "e1000_clean [e1000]");
	/* Below the first symbol, and far past the last: unknown. */
	CHECK(kallsyms_lookup(k, 0xffffffff80000000) == NULL);
	CHECK(kallsyms_lookup(k, 0xffffffffc0ffffff) == NULL);
	kallsyms_free(k);
}

static void test_hidden(void)
{
	static const char hidden[] =
		"0000000000000000 T _stext\n"
		"0000000000000000 t do_one_initcall\n";
	struct kallsyms *k;

	errno = 0;
	k = kallsyms_parse(hidden, sizeof(hidden) - 1);
	CHECK(k == NULL);
	CHECK(errno == EACCES);

	errno = 0;
	k = kallsyms_parse("", 0);
	CHECK(k == NULL);
	CHECK(errno == ENODATA);

	errno = 0;
	k = kallsyms_parse("ffffffff81002000 D only_data\n", 28);
	CHECK(k == NULL);
	CHECK(errno == ENODATA);
}

static void test_hostile(void)
{
	/* A control byte in a name is replaced; an over-long line skipped. */
	char text[2048];
	struct kallsyms *k;

	memcpy(text, "ffffffff81000000 T a\x01" "b\n", 24);
	memset(text + 24, 'x', 1000);
	memcpy(text + 1024, "\nffffffff81001000 T next\n", 26);
	k = kallsyms_parse(text, 1024 + 25);
	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81000010), "a?b");
	CHECK_STR(kallsyms_lookup(k, 0xffffffff81001000), "next");
	kallsyms_free(k);
	/* Not NUL-terminated, cut mid-address. */
	k = kallsyms_parse("ffffffff8100", 12);
	CHECK(k == NULL);
}

static void test_live(void)
{
	struct kallsyms *k = kallsyms_load("/proc/kallsyms");

	if (!k) {
		fprintf(stderr, "note: /proc/kallsyms not readable here (%s)\n", strerror(errno));
		return;
	}
	CHECK(kallsyms_count(k) > 1000);
	kallsyms_free(k);
	k = kallsyms_load("/nonexistent/kallsyms");
	CHECK(k == NULL && errno == ENOENT);
}

int main(void)
{
	test_lookup();
	test_hidden();
	test_hostile();
	test_live();
	return check_status();
}
