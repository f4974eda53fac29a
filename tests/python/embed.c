/*
 * embed.c - a C program that embeds CPython (3.11+), built at test time by
 * tests/python/pyfind_test.py against libpython, shared or static. It
 * prints what it knows of its own interpreter as `script key=value ...`
 * (the runtime's address from the linker, the newest interpreter, the
 * version), then runs Python busy for at most @1 seconds (default 60).
 */
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Where _PyRuntime is. Built with EMBED_DLSYM, asked of the dynamic linker
 * as any embedder would. Otherwise named here (its declaration is in
 * Include/internal/pycore_runtime.h; only its address is taken): linked
 * statically that is the one definition; linked with libpython.so it makes
 * the linker copy _PyRuntime into this executable (R_X86_64_COPY), and the
 * copy is the one the interpreter uses.
 */
#ifdef EMBED_DLSYM
#include <dlfcn.h>

static void *runtime_address(void)
{
	return dlsym(RTLD_DEFAULT, "_PyRuntime");
}
#else
extern char _PyRuntime;

static void *runtime_address(void)
{
	return &_PyRuntime;
}
#endif

int main(int argc, char **argv)
{
	char code[256];
	int seconds = argc > 1 ? atoi(argv[1]) : 60;

	Py_Initialize();
	printf("script hexversion=%lu runtime=%lu head=%lu\n", (unsigned long)Py_Version,
	       (unsigned long)(uintptr_t)runtime_address(),
	       (unsigned long)(uintptr_t)PyInterpreterState_Head());
	fflush(stdout);
	snprintf(code, sizeof(code),
		 "n = 0\n"
		 "while n < %d * 3000000:\n"
		 "    n += 1\n", seconds);
	PyRun_SimpleString(code);
	return Py_FinalizeEx() < 0 ? 1 : 0;
}
