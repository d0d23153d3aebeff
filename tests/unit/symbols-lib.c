/*
 * Small libraries for test-symbols: libsymlib-a.so and libsymlib-b.so
 * (stripped), exported functions whose names differ between them, laid out
 * differently, so that a name read from the wrong one shows; libsymlib-c.so
 * (not stripped), a function it does not export, named by its .symtab only.
 */
#include <stdint.h>

int symlib_beta_pad(int x);
int symlib_beta_one(int x);
int symlib_beta_two(int x);
int symlib_alpha_one(int x);
int symlib_alpha_two(int x);
uintptr_t symlib_hidden_address(void);

#ifdef SYMLIB_B
/* Room first: B's functions start where A's do not. */
__attribute__((noinline, used, visibility("default"))) int symlib_beta_pad(int x)
{
	volatile int v = x;

	for (int i = 0; i < 64; i++)
		v = v * 31 + i;
	return v;
}

__attribute__((noinline, visibility("default"))) int symlib_beta_one(int x)
{
	return x + 11;
}

__attribute__((noinline, visibility("default"))) int symlib_beta_two(int x)
{
	return x * 13;
}
#elif defined(SYMLIB_C)
__attribute__((noinline, used)) static int symlib_hidden(int x)
{
	return x - 7;
}

__attribute__((visibility("default"))) uintptr_t symlib_hidden_address(void)
{
	return (uintptr_t)&symlib_hidden;
}
#else
__attribute__((noinline, visibility("default"))) int symlib_alpha_one(int x)
{
	return x + 1;
}

__attribute__((noinline, visibility("default"))) int symlib_alpha_two(int x)
{
	return x * 3;
}
#endif
