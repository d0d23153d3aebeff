/*
 * Function names by address (exporter/symbols.h) and their cache: a static
 * function of this program (found in its .symtab, not by dladdr), one of the
 * core's, no name for a heap address or 0, one interned copy per address
 * however often it is asked for, many addresses (the cache grows), and reset;
 * functions of the C library (its .dynsym: it has no .symtab), named by the
 * table scan at the first lookup and by the module's index after, each name
 * checked by dlsym, which must find the same function under it; and the
 * module of an address (weft_symbols_module); a library replaced on disk
 * after it was loaded keeps the names of the code that is loaded (a file
 * whose .dynsym is not the loaded one is not read), and one closed and
 * another loaded in its place is read anew (libsymlib-a.so and
 * libsymlib-b.so, beside this program).
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A copy of lib NAME, beside this program, at `to`; 0 or -1. */
static int copy_lib(const char *name, const char *to)
{
	char self[512], from[600], buf[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *in, *out;
	size_t k;
	int bad = 0;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(from, sizeof(from), "%s/%s", self, name);
	in = fopen(from, "rb");
	out = fopen(to, "wb");
	if (!in || !out)
		bad = 1;
	while (!bad && (k = fread(buf, 1, sizeof(buf), in)) > 0)
		bad = fwrite(buf, 1, k, out) != k;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		bad = 1;
	return bad ? -1 : 0;
}

/*
 * The loader's list lock (dl_iterate_phdr's; dlopen and dlclose take it
 * too) must never be held by a lookup: a fork the program makes meanwhile
 * leaves it held in the child for good (glibc 2.36 does not reset it), and
 * the child hangs in its first dlopen. This program's own dl_iterate_phdr
 * counts the calls, and forwards them.
 */
static _Atomic int iterate_calls;

int dl_iterate_phdr(int (*callback)(struct dl_phdr_info *, size_t, void *), void *data)
{
	static int (*real)(int (*)(struct dl_phdr_info *, size_t, void *), void *);

	iterate_calls++;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "dl_iterate_phdr");
	return real ? real(callback, data) : 0;
}

static void test_no_list_lock(void)
{
	uintptr_t base = (uintptr_t)&fclose;

	iterate_calls = 0;
	/* Addresses in the C library, in this program, and in none. */
	for (uintptr_t i = 0; i < 3000; i += 7) {
		(void)weft_symbols_name(base + i);
		(void)weft_symbols_name((uintptr_t)&local_function + 0x100 + i);
		(void)weft_symbols_name(0x1000 + i);
	}
	expect_int(iterate_calls, 0);
}

/*
 * Where the kernel will not read this process's memory for the check that a
 * module's file is the loaded one (a seccomp filter refuses
 * process_vm_readv), the file is trusted: a function only its .symtab names
 * is still named. In a child, whose filter stays with it.
 */
static void test_check_refused(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };
	char dir[] = "/tmp/weft-symbols-XXXXXX", c[64];
	int status;
	pid_t pid;

	assert_true(mkdtemp(dir) != NULL);
	snprintf(c, sizeof(c), "%s/libc3.so", dir);
	assert_true(copy_lib("libsymlib-c.so", c) == 0);
	pid = fork();
	if (pid == 0) {
		void *h;
		uintptr_t (*hidden)(void);
		const char *name;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0)
			_exit(2);
		h = dlopen(c, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			_exit(3);
		/* Names are cached by address, and the earlier tests' libraries were here. */
		weft_symbols_reset();
		*(void **)&hidden = dlsym(h, "symlib_hidden_address");
		name = hidden ? weft_symbols_name(hidden() + 1) : NULL;
		_exit(name && strcmp(name, "symlib_hidden") == 0 ? 0 : 1);
	}
	assert_true(pid > 0 && waitpid(pid, &status, 0) == pid);
	expect_true(WIFEXITED(status));
	expect_int(WEXITSTATUS(status), 0);
	unlink(c);
	rmdir(dir);
}

/*
 * A library replaced on disk, then closed and another opened: names from
 * what is loaded, never from the file now at the path, nor from the closed
 * one.
 */
static void test_replaced_and_closed(void)
{
	char dir[] = "/tmp/weft-symbols-XXXXXX", a[64], b[64], tmp[64];
	void *ha, *hb;
	uintptr_t a1, a2, b2;

	assert_true(mkdtemp(dir) != NULL);
	snprintf(a, sizeof(a), "%s/liba.so", dir);
	snprintf(b, sizeof(b), "%s/libb.so", dir);
	snprintf(tmp, sizeof(tmp), "%s/new.so", dir);
	assert_true(copy_lib("libsymlib-a.so", a) == 0);
	assert_true(copy_lib("libsymlib-b.so", b) == 0);
	ha = dlopen(a, RTLD_NOW | RTLD_LOCAL);
	assert_true(ha != NULL);
	a1 = (uintptr_t)dlsym(ha, "symlib_alpha_one");
	a2 = (uintptr_t)dlsym(ha, "symlib_alpha_two");
	assert_true(a1 && a2);
	expect_str(weft_symbols_name(a1 + 1), "symlib_alpha_one");
	/* The file at liba.so is now libsymlib-b.so's (an upgrade renames a new file in). */
	assert_true(copy_lib("libsymlib-b.so", tmp) == 0);
	assert_true(rename(tmp, a) == 0);
	expect_str(weft_symbols_name(a2 + 1), "symlib_alpha_two");
	expect_str(weft_symbols_name(a1 + 2), "symlib_alpha_one");
	/*
	 * Replaced before its first lookup: the file is not the one loaded
	 * (its .dynsym differs from the loaded one), and is not read.
	 */
	{
		char c[64];
		void *hc;
		uintptr_t c1;

		snprintf(c, sizeof(c), "%s/libc2.so", dir);
		assert_true(copy_lib("libsymlib-a.so", c) == 0);
		hc = dlopen(c, RTLD_NOW | RTLD_LOCAL);
		assert_true(hc != NULL);
		c1 = (uintptr_t)dlsym(hc, "symlib_alpha_one");
		assert_true(copy_lib("libsymlib-b.so", tmp) == 0);
		assert_true(rename(tmp, c) == 0);
		expect_str(weft_symbols_name(c1 + 1), "symlib_alpha_one");
		expect_str(weft_symbols_name((uintptr_t)dlsym(hc, "symlib_alpha_two") + 1),
			   "symlib_alpha_two");
		dlclose(hc);
		unlink(c);
	}
	/* Closed: its addresses are no module's (and nothing of it is read). */
	assert_true(dlclose(ha) == 0);
	expect_true(weft_symbols_name(a2 + 2) == NULL);
	/* Another library, quite likely where the first one was: its own names. */
	hb = dlopen(b, RTLD_NOW | RTLD_LOCAL);
	assert_true(hb != NULL);
	b2 = (uintptr_t)dlsym(hb, "symlib_beta_two");
	assert_true(b2 != 0);
	expect_str(weft_symbols_name(b2 + 1), "symlib_beta_two");
	expect_str(weft_symbols_name((uintptr_t)dlsym(hb, "symlib_beta_one") + 1),
		   "symlib_beta_one");
	dlclose(hb);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

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

	test_replaced_and_closed();
	test_no_list_lock();
	test_check_refused();

	/* After a reset the cache is empty: a new copy of the same name. */
	weft_symbols_reset();
	b = weft_symbols_name(local);
	expect_str(b, "local_function");
	expect_true(b != a);
	expect_true(weft_symbols_name(local) == b);

	free(heap);
	return harness_done();
}
