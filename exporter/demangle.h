/*
 * Readable names for mangled symbols: C++ (the Itanium ABI's `_Z...`) and
 * Rust (legacy `_ZN...17h<hash>E` and v0 `_R...`), as OpenTelemetry's
 * code.function.name wants a function's name: qualified, without its
 * parameters or a Rust hash (`Queue::pop`, `std::rt::lang_start`,
 * `<std::sys::thread::unix::Thread>::new::thread_start`). C names and
 * anything else are left as they are.
 *
 * The demanglers are libiberty's, c++filt's own (scripts/private-demangler.sh),
 * called through their callback entry points, which allocate nothing: their
 * work is on the stack, some 72 bytes a character of the mangled name plus
 * their recursion, up to about 250 bytes a character (a name of 1,000
 * characters that nests templates 250 deep took 248 KiB; libiberty's own
 * recursion limit refuses names past about 1,024 characters). So a name is
 * demangled only where that much stack is sure to be there: up to
 * WEFT_DEMANGLE_MAX characters on weft's own threads (the exporter's stack
 * is 1 MiB), up to WEFT_DEMANGLE_MAX_PROGRAM (64 KiB of stack at most) on
 * a program's thread (the final export of a process whose exporter thread
 * never started), and never on a signal's alternate stack.
 */
#ifndef WEFT_EXPORTER_DEMANGLE_H
#define WEFT_EXPORTER_DEMANGLE_H

#include <stddef.h>

#define WEFT_DEMANGLE_MAX         1024
#define WEFT_DEMANGLE_MAX_PROGRAM 256

/*
 * The readable form of `name` into out[size] (NUL-terminated): its length;
 * 0 when `name` is not a mangled C++ or Rust name, is malformed, is too
 * long to demangle on this thread's stack, or its readable form does not
 * fit (then the caller keeps `name`).
 */
size_t weft_demangle(const char *name, char *out, size_t size);

#endif
