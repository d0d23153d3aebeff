/*
 * libgcc_s.so.1 without a dependency on it (libweft.so only).
 *
 * Compiled with -fexceptions, so that cancellation and exceptions run the
 * cleanup handlers of weft's frames (the thread trampoline's, the wait
 * guards'), weft's code refers to two functions of libgcc's unwinder: the
 * cleanup landing pads end with a call to _Unwind_Resume, and the frames that
 * have them name __gcc_personality_v0 as their personality routine. Bound to
 * libgcc_s.so.1 at link time, they made it a NEEDED library, which every
 * process weft is loaded into opened, mapped and relocated at start (9
 * system calls, 17,000 instructions and several page faults), disabled or
 * not, for functions that run only when a thread unwinds through weft.
 *
 * So libweft.so defines both itself, hidden — the references in its own code
 * bind to them, and nothing is added to the program's scope (no _Unwind_*
 * symbol is exported: the unwinder tests check it) — and each forwards to
 * libgcc_s's function of the same name and version, the one it was bound to
 * before. An unwind that reaches weft's frames is one of:
 *
 *   - glibc's forced unwind (pthread_cancel, pthread_exit), which runs on
 *     libgcc_s.so.1: glibc dlopen()s it before unwinding, so it is loaded;
 *   - a C++ exception thrown through a weft frame: libstdc++.so needs
 *     libgcc_s.so.1, so it is loaded — unless the program links libgcc and
 *     libstdc++ statically, in which case the forwarders load it, as the
 *     NEEDED entry used to at start.
 *
 * The personality routine is called in both phases of an unwind. In the
 * search phase a C personality has nothing to do (C frames catch nothing:
 * libgcc's own returns at once), so the forwarder answers without resolving
 * anything. In the cleanup phase it resolves libgcc_s's functions once, with
 * dlopen (which finds the library loaded, by its soname, without touching
 * the file system) and dlvsym. Both take the loader's lock: once per process,
 * on the first unwind that cleans up a weft frame. That one acquisition is
 * the only new thing: a thread that another thread cancels and then waits
 * for while holding the loader's lock (a library constructor that cancels
 * and joins a worker) would wait for it — as glibc's own pthread_exit takes
 * the same lock on the exiting thread the first time it loads libgcc_s.
 * Nothing resolves earlier on purpose: before the first unwind, libgcc_s.so.1
 * may not be loaded, and loading it would allocate with the program's malloc.
 * The pointers are published with release order and read with acquire order;
 * two threads resolving at once find the same functions.
 *
 * The types are declared here rather than taken from <unwind.h>, which
 * declares these functions with default visibility.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct _Unwind_Exception;
struct _Unwind_Context;

/* From the Itanium C++ ABI's base unwinding interface, as libgcc defines them. */
#define UA_CLEANUP_PHASE       2
#define URC_FATAL_PHASE2_ERROR 2
#define URC_FATAL_PHASE1_ERROR 3
#define URC_CONTINUE_UNWIND    8

typedef int (*personality_fn)(int version, int actions, uint64_t exception_class,
			      struct _Unwind_Exception *exc, struct _Unwind_Context *ctx);
typedef void (*resume_fn)(struct _Unwind_Exception *exc);

static personality_fn gcc_personality;
static resume_fn gcc_resume;

/*
 * No RTLD_NOLOAD probe first: when the library is loaded, dlopen finds it by
 * its soname without touching the file system; when it is not, the probe
 * would open and read the file only to find that out.
 */
static void *libgcc(void)
{
	int saved = errno;
	void *h = dlopen("libgcc_s.so.1", RTLD_LAZY);

	errno = saved;
	return h;
}

/* Resolves both forwarders' targets, once: 0, or -ENOENT. Takes the loader's lock. */
static int link_prepare(void)
{
	void *h;
	personality_fn p;
	resume_fn r;
	int saved = errno;

	if (__atomic_load_n(&gcc_resume, __ATOMIC_ACQUIRE))
		return 0;
	h = libgcc();
	if (!h)
		return -ENOENT;
	*(void **)&p = dlvsym(h, "__gcc_personality_v0", "GCC_3.3.1");
	*(void **)&r = dlvsym(h, "_Unwind_Resume", "GCC_3.0");
	errno = saved;
	if (!p || !r)
		return -ENOENT;
	__atomic_store_n(&gcc_personality, p, __ATOMIC_RELEASE);
	__atomic_store_n(&gcc_resume, r, __ATOMIC_RELEASE);
	return 0;
}

int __gcc_personality_v0(int version, int actions, uint64_t exception_class,
			 struct _Unwind_Exception *exc, struct _Unwind_Context *ctx);
void _Unwind_Resume(struct _Unwind_Exception *exc) __attribute__((noreturn));

int __gcc_personality_v0(int version, int actions, uint64_t exception_class,
			 struct _Unwind_Exception *exc, struct _Unwind_Context *ctx)
{
	personality_fn p;

	if (version != 1)
		return URC_FATAL_PHASE1_ERROR;
	/* Only cleanups: nothing to find in the search phase (libgcc does the same). */
	if (!(actions & UA_CLEANUP_PHASE))
		return URC_CONTINUE_UNWIND;
	p = __atomic_load_n(&gcc_personality, __ATOMIC_ACQUIRE);
	if (!p && link_prepare() == 0)
		p = __atomic_load_n(&gcc_personality, __ATOMIC_ACQUIRE);
	/* No libgcc_s at all: the program could not have started with the NEEDED entry. */
	if (!p)
		return URC_FATAL_PHASE2_ERROR;
	return p(version, actions, exception_class, exc, ctx);
}

/* Reached only from a landing pad the personality above entered: resolved by then. */
void _Unwind_Resume(struct _Unwind_Exception *exc)
{
	resume_fn r = __atomic_load_n(&gcc_resume, __ATOMIC_ACQUIRE);

	if (!r && link_prepare() == 0)
		r = __atomic_load_n(&gcc_resume, __ATOMIC_ACQUIRE);
	if (!r)
		abort();
	r(exc);
	__builtin_unreachable();
}
