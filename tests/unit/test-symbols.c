/*
 * Function names by address (exporter/symbols.h) and their cache: a static
 * function of this program (found in its .symtab, not by dladdr), one of the
 * core's, no name for a heap address or 0, one interned copy per address
 * however often it is asked for, many addresses (the cache grows), and reset;
 * functions of the C library (its .dynsym: it has no .symtab), named by the
 * table scan at the first lookup and by the module's index after, each name
 * checked by dlsym, which must find the same function under it; and the
 * module of an address (weft_symbols_module).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/symbols.h"
#include "tests/unit/harness.h"

/*
 * weft_symbols_reset() forgets the cache without freeing it, by design (a
 * forked child's parent may have been mid-update): the names cached before
 * the reset below are leaked on purpose. Only sanitizer runtimes call this.
 */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:weft_symbols_name\n";
}

/* noinline and used: a real function with a .symtab entry of its own. */
__attribute__((noinline, used)) static int local_function(int x)
{
	return x * 3 + 1;
}

static volatile int sink;

int main(void)
{
	uintptr_t local = (uintptr_t)&local_function;
	uintptr_t core = (uintptr_t)&weft_symbols_name;
	const char *a, *b;
	void *heap = malloc(64);
	size_t same = 0, named = 0;

	sink = local_function(sink);
	weft_symbols_init();
	expect_true(weft_symbols_name(0) == NULL);

	a = weft_symbols_name(local);
	expect_str(a, "local_function");
	/* An address inside the function names it too. */
	expect_str(weft_symbols_name(local + 1), "local_function");
	/* Asked again, the cached copy itself comes back. */
	b = weft_symbols_name(local);
	expect_true(a == b);
	expect_str(weft_symbols_name(core), "weft_symbols_name");

	/* No function there: NULL, and NULL again from the cache. */
	expect_true(weft_symbols_name((uintptr_t)heap) == NULL);
	expect_true(weft_symbols_name((uintptr_t)heap) == NULL);

	/*
	 * 2,000 addresses, the bytes from main's first on: the cache grows
	 * several times and keeps every answer.
	 */
	{
		static const char *first[2000];
		uintptr_t base = (uintptr_t)&main;

		for (size_t i = 0; i < 2000; i++)
			first[i] = weft_symbols_name(base + i);
		for (size_t i = 0; i < 2000; i++) {
			same += weft_symbols_name(base + i) == first[i];
			named += first[i] != NULL;
		}
		expect_int(same, 2000);
		expect_true(named > 0);
		expect_str(first[0], "main");
		expect_true(weft_symbols_name(local) == a);
	}

	/*
	 * The C library's functions (none an IFUNC: its address is then an
	 * unexported implementation): the first lookup scans the table, the
	 * others search the index. An address inside each names it: the name,
	 * asked of the loader, is the same function.
	 */
	{
		const uintptr_t libc_fns[] = {
			(uintptr_t)&fclose,
			(uintptr_t)&fopen,
			(uintptr_t)&malloc,
			(uintptr_t)&free,
			(uintptr_t)&qsort,
			(uintptr_t)&getenv,
			(uintptr_t)&dlsym,
			(uintptr_t)&fputs,
			(uintptr_t)&realloc,
			(uintptr_t)&pthread_create,
			(uintptr_t)&pthread_mutex_lock,
		};
		uintptr_t start = 0;
		const char *path;
		Dl_info info;

		for (size_t i = 0; i < sizeof(libc_fns) / sizeof(libc_fns[0]); i++) {
			const char *name = weft_symbols_name(libc_fns[i] + 1);

			expect_true(name != NULL);
			if (name)
				expect_true((uintptr_t)dlsym(RTLD_DEFAULT, name) == libc_fns[i]);
		}
		/* The module the loader names (under a sanitizer, its runtime's interceptor). */
		expect_true(dladdr((void *)libc_fns[0], &info) != 0);
		path = weft_symbols_module(libc_fns[0], &start);
		expect_str(path, info.dli_fname);
		expect_true(start == (uintptr_t)info.dli_fbase);
		path = weft_symbols_module(local, &start);
		expect_true(path && strstr(path, "test-symbols"));
		expect_true(start && start <= local);
		expect_true(weft_symbols_module((uintptr_t)heap, &start) == NULL);
	}

	/* After a reset the cache is empty: a new copy of the same name. */
	weft_symbols_reset();
	b = weft_symbols_name(local);
	expect_str(b, "local_function");
	expect_true(b != a);
	expect_true(weft_symbols_name(local) == b);

	free(heap);
	return harness_done();
}
