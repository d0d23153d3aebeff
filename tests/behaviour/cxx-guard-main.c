/*
 * A C program that loads a C++ library with dlopen and asks it to run a
 * thread that holds a std::lock_guard when it calls pthread_exit and when it
 * is cancelled. Prints whether the mutex was released each time; exits 1 if
 * it was not. Usage: cxx-guard-main path/to/libcxxguard.so
 */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	void *h = dlopen(argc > 1 ? argv[1] : "libcxxguard.so", RTLD_NOW);
	int (*run)(int);
	int exit_ok, cancel_ok;

	if (!h) {
		fprintf(stderr, "cxx-guard-main: %s\n", dlerror());
		return 2;
	}
	/* POSIX's way of turning dlsym's object pointer into a function pointer. */
	*(void **)&run = dlsym(h, "cxx_guard_run");
	if (!run)
		return 2;
	exit_ok = run(0);
	printf("pthread_exit: mutex %s\n", exit_ok == 1 ? "released" : "still locked");
	cancel_ok = run(1);
	printf("pthread_cancel: mutex %s\n", cancel_ok == 1 ? "released" : "still locked");
	return exit_ok == 1 && cancel_ok == 1 ? 0 : 1;
}
