/*
 * test_pyfind.c - the pure parts of tracer/pyfind: CPython versions from
 * file names and from PY_VERSION strings; and that a process that is not
 * Python (this test) is not taken for one. The live interpreters are
 * tests/python/pyfind_test.py's.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elf_cache.h"
#include "maps.h"
#include "pyfind.h"

#include "banned.h"

static uint32_t name_hex(const char *path)
{
	uint32_t hex = 0xdeadbeef;

	if (pyfind_version_from_name(path, &hex) != 0)
		return 0;
	return hex;
}

static void test_names(void)
{
	/* Shared libraries, with every ABI flag and SONAME suffix. */
	CHECK_EQ_U64(name_hex("libpython3.13t.so.1.0"), 0x030d0000);
	CHECK_EQ_U64(name_hex("libpython3.9d.so"), 0x03090000);
	CHECK_EQ_U64(name_hex("libpython3.9.so"), 0x03090000);
	CHECK_EQ_U64(name_hex("libpython2.7.so.1.0"), 0x02070000);
	CHECK_EQ_U64(name_hex("libpython3.6m.so.1.0"), 0x03060000);
	CHECK_EQ_U64(name_hex("libpython3.7dm.so.1.0"), 0x03070000);
	CHECK_EQ_U64(name_hex("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"), 0x030b0000);
	CHECK_EQ_U64(name_hex("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"),
		     0x030c0000);
	CHECK_EQ_U64(name_hex("libpython3.14.so.1.0 (deleted)"), 0x030e0000);
	/* Executables. */
	CHECK_EQ_U64(name_hex("python3.11"), 0x030b0000);
	CHECK_EQ_U64(name_hex("/usr/bin/python3.11"), 0x030b0000);
	CHECK_EQ_U64(name_hex("python3.13t"), 0x030d0000);
	CHECK_EQ_U64(name_hex("python2.7"), 0x02070000);
	CHECK_EQ_U64(name_hex("/opt/py/bin/python3.10 (deleted)"), 0x030a0000);

	/* Not a CPython of a known minor version. */
	CHECK_EQ_U64(name_hex("python3.12-config"), 0);
	CHECK_EQ_U64(name_hex("python3"), 0);
	CHECK_EQ_U64(name_hex("python"), 0);
	CHECK_EQ_U64(name_hex("libpython3.so"), 0);
	CHECK_EQ_U64(name_hex("libpython3.11.a"), 0);
	CHECK_EQ_U64(name_hex("libpython3.11.sox"), 0);
	CHECK_EQ_U64(name_hex("libpython3.11"), 0);
	CHECK_EQ_U64(name_hex("libpython3..so"), 0);
	CHECK_EQ_U64(name_hex("libpython3.1234.so"), 0);
	CHECK_EQ_U64(name_hex("libpython4.0.so"), 0);
	CHECK_EQ_U64(name_hex("libpython3.11xyz.so"), 0);
	CHECK_EQ_U64(name_hex("python3.11.so"), 0);
	CHECK_EQ_U64(name_hex("ipython3.11"), 0);
	CHECK_EQ_U64(name_hex("/usr/lib/python3.11/lib-dynload/_ssl.so"), 0);
	CHECK_EQ_U64(name_hex("/usr/bin/python3.11/"), 0);
	CHECK_EQ_U64(name_hex(""), 0);
	CHECK_EQ_U64(name_hex("libc.so.6"), 0);
}

static uint32_t string_hex(const char *s)
{
	uint32_t hex = 0xdeadbeef;

	if (pyfind_version_from_string(s, strlen(s), &hex) != 0)
		return 0;
	return hex;
}

static void test_strings(void)
{
	/* Include/patchlevel.h: level 0xA alpha, 0xB beta, 0xC rc, 0xF final. */
	CHECK_EQ_U64(string_hex("3.12.1"), 0x030c01f0);
	CHECK_EQ_U64(string_hex("3.11.7"), 0x030b07f0);
	CHECK_EQ_U64(string_hex("2.7.18"), 0x020712f0);
	CHECK_EQ_U64(string_hex("3.13.0rc2"), 0x030d00c2);
	CHECK_EQ_U64(string_hex("3.14.0a7"), 0x030e00a7);
	CHECK_EQ_U64(string_hex("3.14.0b1"), 0x030e00b1);
	CHECK_EQ_U64(string_hex("3.9.18+"), 0x030912f0);

	CHECK_EQ_U64(string_hex("3.9"), 0);
	CHECK_EQ_U64(string_hex("3.9."), 0);
	CHECK_EQ_U64(string_hex("3.9.18 "), 0);
	CHECK_EQ_U64(string_hex("3.9.18rc"), 0);
	CHECK_EQ_U64(string_hex("3.9.18r1"), 0);
	CHECK_EQ_U64(string_hex("3.9.18c1"), 0);
	CHECK_EQ_U64(string_hex("3.14.0a16"), 0);
	CHECK_EQ_U64(string_hex("3.9.256"), 0);
	CHECK_EQ_U64(string_hex("1.2.13"), 0);
	CHECK_EQ_U64(string_hex("3.9.18++"), 0);
	CHECK_EQ_U64(string_hex(""), 0);
	/* Exactly @len bytes: a prefix of a longer string is judged alone. */
	{
		uint32_t hex = 0;

		CHECK(pyfind_version_from_string("3.10.13 (main", 7, &hex) == 0);
		CHECK_EQ_U64(hex, 0x030a0df0);
		CHECK(pyfind_version_from_string("3.10.13 (main", 8, &hex) == -EINVAL);
	}
}

/* This test is C: nothing in it may pass for an interpreter. */
static void test_not_python(void)
{
	struct elf_cache *cache = elf_cache_new();
	struct pyfind_result r;
	struct maps *maps = NULL;

	CHECK(cache != NULL);
	CHECK(maps_read(getpid(), &maps) == 0);
	if (cache && maps)
		CHECK(pyfind_runtime(getpid(), maps, cache, &r) == -ENOENT);
	maps_free(maps);
	elf_cache_free(cache);
}

int main(void)
{
	test_names();
	test_strings();
	test_not_python();
	return check_status();
}
