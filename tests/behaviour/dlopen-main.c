/*
 * dlopen-main LIBRARY: loads a library whose constructor creates threads
 * (tests/behaviour/dlctor.c), calls into it, unloads it (its destructor
 * creates a thread too), then loads it again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <stdio.h>

typedef int (*ok_fn)(void);
typedef int (*spawn_fn)(int);

static int load_and_use(const char *path, int round)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ok_fn ok;
	spawn_fn spawn;

	if (!h) {
		printf("round %d: dlopen failed: %s\n", round, dlerror());
		return 1;
	}
	ok = __extension__(ok_fn) dlsym(h, "dlctor_constructor_ok");
	spawn = __extension__(spawn_fn) dlsym(h, "dlctor_spawn");
	if (!ok || !spawn) {
		printf("round %d: dlsym failed\n", round);
		return 1;
	}
	printf("round %d: constructor threads ok: %d\n", round, ok());
	printf("round %d: threads started from the library: %d\n", round, spawn(2));
	printf("round %d: dlclose: %d\n", round, dlclose(h));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dlopen-main LIBRARY\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (load_and_use(argv[1], 1) || load_and_use(argv[1], 2))
		return 1;
	return 0;
}
