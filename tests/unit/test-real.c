/*
 * The real-symbol table resolved without dlsym (agent/real.c): for every
 * interposed function, what the hash-table lookup finds is what dlsym (or,
 * for a versioned row, dlvsym) with RTLD_NEXT finds; a non-default version is
 * found as such; and the table, filled entry by entry as each is first asked
 * for, holds dlsym's answers.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "agent/real.h"
#include "tests/unit/harness.h"

struct row {
	const char *name;
	const char *version;
};

#define ROW(name, fail, version, fallback) { #name, version },
static const struct row rows[] = { WEFT_REAL_SYMBOLS(ROW) };
#undef ROW

static void *next_symbol(const char *name, const char *version)
{
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;

	return p ? p : dlsym(RTLD_NEXT, name);
}

/* Every row: the same address as dlsym, and found by the lookup itself. */
static void test_rows_match_dlsym(void)
{
	size_t found = 0, defined = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		void *want = next_symbol(rows[i].name, rows[i].version);
		void *got = weft_real_find(rows[i].name, rows[i].version);

		if (want)
			defined++;
		if (got)
			found++;
		if (got != want)
			HARNESS_FAIL(0, "%s: found %p, dlsym %p", rows[i].name, got, want);
		harness_checks++;
	}
	/* glibc defines them all, and none is an indirect function. */
	expect_int(found, defined);
	expect_true(defined > 80);
}

/* Versions: the named one, the default one, and hidden ones left alone. */
static void test_versions(void)
{
	void *v232 = dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
	void *v225 = dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.2.5");

	assert_true(v232 && v225 && v232 != v225);
	expect_true(weft_real_find("pthread_cond_wait", "GLIBC_2.3.2") == v232);
	expect_true(weft_real_find("pthread_cond_wait", "GLIBC_2.2.5") == v225);
	/* No version: the default one, as dlsym. */
	expect_true(weft_real_find("pthread_cond_wait", NULL) ==
		    dlsym(RTLD_NEXT, "pthread_cond_wait"));
	/* Only a hidden (compatibility) version exists: dlsym finds none, nor do we. */
	expect_true(weft_real_find("__pthread_mutex_lock", NULL) ==
		    dlsym(RTLD_NEXT, "__pthread_mutex_lock"));
	expect_true(weft_real_find("__pthread_mutex_lock", "GLIBC_2.2.5") ==
		    dlvsym(RTLD_NEXT, "__pthread_mutex_lock", "GLIBC_2.2.5"));
	expect_true(weft_real_find("pthread_cond_wait", "GLIBC_0.0") == NULL);
	expect_true(weft_real_find("weft_no_such_function", NULL) == NULL);
}

/*
 * The table as the agent fills it: weft_real_prepare keeps the objects up to
 * libc and resolves only the one entry it checks against dlsym (here, with glibc and every object
 * hashed; where the objects' tables cannot be used it would resolve every entry, as before); then
 * each entry, when first asked for, is dlsym's answer, and stays in the table.
 */
static void test_table(void)
{
	void *const *table = (void *const *)(const void *)&weft_real;
	size_t resolved = 0;
	void *late = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	int libc = -1, z = -1, pos = 0;
	struct link_map *self = NULL;
	Dl_info info;

	weft_real_prepare();
	/*
	 * The objects kept end with libc: not the library opened after it, whose
	 * tables a dlclose unmaps.
	 */
	assert_true(late != NULL);
	assert_true(dladdr1((const void *)&weft_real, &info, (void **)&self, RTLD_DL_LINKMAP) &&
		    self);
	for (const struct link_map *m = self->l_next; m; m = m->l_next, pos++) {
		if (strstr(m->l_name, "/libc.so.6"))
			libc = pos;
		if (strstr(m->l_name, "/libz.so.1"))
			z = pos;
	}
	assert_true(libc >= 0 && z > libc);
	expect_int(weft_real_prepared_objects(), libc + 1);
	dlclose(late);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		resolved += table[i] != NULL;
	expect_int(resolved, 1);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		void *want = next_symbol(rows[i].name, rows[i].version);
		void *got = weft_real_resolve((enum weft_real_index)i);

		if (got != want || table[i] != want)
			HARNESS_FAIL(0, "weft_real.%s: %p (table %p), dlsym %p", rows[i].name, got,
				     table[i], want);
		harness_checks++;
	}
}

int main(void)
{
	test_rows_match_dlsym();
	test_versions();
	test_table();
	return harness_done();
}
