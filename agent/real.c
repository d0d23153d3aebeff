#include <dlfcn.h>
#include <errno.h>
#include <elf.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/atomic.h"
#include "agent/guard.h"
#include "agent/hot.h"
#include "agent/real.h"

struct weft_real_table weft_real WEFT_HOT_DATA;

struct real_entry {
	const char *name;
	const char *version;
};

#define WEFT_REAL_ENTRY(name, fail, version, fallback) { #name, version },
static const struct real_entry real_entries[WEFT_REAL_COUNT] = { WEFT_REAL_SYMBOLS(
	WEFT_REAL_ENTRY) };
#undef WEFT_REAL_ENTRY

/* This thread is inside dlsym: a nested hook must not resolve again. */
static __thread bool resolving __attribute__((tls_model("initial-exec")));

static void *find_next(enum weft_real_index idx);

void *weft_real_resolve(enum weft_real_index idx)
{
	/*
	 * The table is an array of function pointers in declaration order; we
	 * access it as such so that one loop serves every entry. Each slot is
	 * written with a relaxed atomic store: racing resolvers store the same
	 * value, and a reader that sees NULL simply resolves again.
	 */
	_Atomic(void *) *slots = (_Atomic(void *) *)(void *)&weft_real;
	const struct real_entry *e = &real_entries[idx];
	void *p = weft_load_relaxed(&slots[idx]);
	int saved;

	if (p)
		return p;
	/* The objects' hash tables, when they were read: no lock, no errno, no allocation. */
	p = find_next(idx);
	if (p || resolving) {
		if (p)
			weft_store_relaxed(&slots[idx], p);
		return p;
	}
	/* Reached from a hook: the program's errno is kept (dlsym may set it). */
	saved = errno;
	resolving = true;
	weft_guard_enter();
	if (e->version)
		p = dlvsym(RTLD_NEXT, e->name, e->version);
	if (!p)
		p = dlsym(RTLD_NEXT, e->name);
	weft_guard_leave();
	resolving = false;
	errno = saved;
	if (p)
		weft_store_relaxed(&slots[idx], p);
	return p;
}

/*
 * Resolving without dlsym, entry by entry as each is first used.
 *
 * dlsym costs about 1,300 instructions a symbol (the loader's lock, its error
 * catching, a lookup through every object in the scope). What RTLD_NEXT finds
 * is the first definition in the objects that follow libweft.so in the search
 * order — the link-map chain after ours, for the objects loaded at start-up
 * (a preloaded libweft.so is one of them, and libc, which defines every entry,
 * is another). Each object's GNU hash table answers whether it defines a name
 * in a few dozen instructions. The version rules are dlsym's and dlvsym's:
 * without a version, an unversioned definition or the default (not hidden)
 * version; with one, exactly that version.
 *
 * weft_real_prepare reads those objects once, at start-up; from then on an
 * entry is looked up there when first asked for (weft_real_resolve): only
 * what the process calls, a handful of the 126 entries for a short program
 * (the whole table at once cost 53,000 instructions of a disabled start).
 * The lookup reads the objects' tables and nothing else (no lock, no
 * allocation, no errno), so a first call from a signal handler or a vfork
 * child is as safe as any later one — with two exceptions, left to dlsym at
 * that first call: a name that is an indirect function (whose resolver dlsym
 * would run) or a TLS symbol (glibc defines none of the table's names so,
 * which tests/unit/test-real.c checks), and a name no object defines (a
 * function this libc lacks, which no program then calls through it). The
 * objects are trusted only if each has a GNU hash table and the first entry
 * they define agrees with dlsym's answer; else dlsym resolves the whole table
 * at start-up, as before.
 */
struct next_obj {
	ElfW(Addr) base;
	const uint32_t *gnu_hash;
	const ElfW(Sym) * symtab;
	const char *strtab;
	const ElfW(Half) * versym;
	const ElfW(Verdef) * verdef;
};

#define NEXT_MAX 32

enum lookup { FOUND, ABSENT, UNKNOWN };

/* A dynamic-section address: glibc relocates some tags in place, not all. */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) p)
{
	return (const void *)(p < base ? p + base : p);
}

static void next_obj_read(const struct link_map *m, struct next_obj *o)
{
	memset(o, 0, sizeof(*o));
	o->base = m->l_addr;
	for (const ElfW(Dyn) *d = m->l_ld; d && d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_GNU_HASH:
			o->gnu_hash = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_SYMTAB:
			o->symtab = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_STRTAB:
			o->strtab = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_VERSYM:
			o->versym = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_VERDEF:
			o->verdef = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		default:
			break;
		}
	}
}

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* The name of version index ndx in o's definitions, NULL if none. */
static const char *version_name(const struct next_obj *o, ElfW(Half) ndx)
{
	const ElfW(Verdef) *d = o->verdef;

	while (d) {
		if (d->vd_ndx == ndx) {
			const ElfW(Verdaux) *a = (const void *)((const char *)d + d->vd_aux);

			return o->strtab + a->vda_name;
		}
		if (!d->vd_next)
			break;
		d = (const void *)((const char *)d + d->vd_next);
	}
	return NULL;
}

/* LD_DYNAMIC_WEAK is set (whatever its value): ld.so then prefers a strong definition. */
static bool dynamic_weak;

/*
 * Whether a dynamic symbol is a definition ld.so's lookup would take: not a
 * local one, and not one whose value is 0 (unless thread-local).
 */
static bool defines(const ElfW(Sym) * sym)
{
	return ELF64_ST_BIND(sym->st_info) != STB_LOCAL &&
	       (sym->st_value != 0 || ELF64_ST_TYPE(sym->st_info) == STT_TLS);
}

static enum lookup next_obj_lookup(const struct next_obj *o, const char *name, uint32_t h,
				   const char *version, void **out)
{
	const uint32_t *t = o->gnu_hash;
	const ElfW(Addr) * bloom;
	const uint32_t *buckets, *chain;
	const ElfW(Sym) *found = NULL;
	uint32_t nbuckets, symoffset, bloom_size, shift, idx;
	ElfW(Addr) word, mask;
	const unsigned bits = sizeof(ElfW(Addr)) * 8;

	if (!t || !o->symtab || !o->strtab)
		return UNKNOWN;
	nbuckets = t[0];
	symoffset = t[1];
	bloom_size = t[2];
	shift = t[3];
	if (!nbuckets || !bloom_size)
		return ABSENT;
	bloom = (const ElfW(Addr) *)(t + 4);
	buckets = (const uint32_t *)(bloom + bloom_size);
	chain = buckets + nbuckets;
	word = bloom[(h / bits) % bloom_size];
	mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((word & mask) != mask)
		return ABSENT;
	idx = buckets[h % nbuckets];
	if (idx < symoffset)
		return ABSENT;
	for (const uint32_t *hv = &chain[idx - symoffset];; hv++, idx++) {
		const ElfW(Sym) *sym = &o->symtab[idx];

		if (((*hv ^ h) >> 1) == 0 && sym->st_shndx != SHN_UNDEF && defines(sym) &&
		    strcmp(o->strtab + sym->st_name, name) == 0) {
			ElfW(Half) v = o->versym ? o->versym[idx] : 0;
			ElfW(Half) ndx = v & 0x7fff;

			if (version) {
				const char *vn = o->versym ? version_name(o, ndx) : NULL;

				/* dlvsym: that version, or any symbol of an unversioned object. */
				if (!o->versym || (vn && strcmp(vn, version) == 0)) {
					found = sym;
					break;
				}
			} else if (ndx < 2) {
				/* dlsym: an unversioned definition at once... */
				found = sym;
				break;
			} else if (!(v & 0x8000) && !found) {
				/* ...else the default version, the one not hidden. */
				found = sym;
			}
		}
		if (*hv & 1)
			break;
	}
	if (!found)
		return ABSENT;
	/*
	 * An indirect function's address is what its resolver returns, an
	 * absolute symbol's is its value, and with LD_DYNAMIC_WEAK set a weak
	 * definition gives way to a later strong one: dlsym's job, all three.
	 */
	if (ELF64_ST_TYPE(found->st_info) == STT_GNU_IFUNC ||
	    ELF64_ST_TYPE(found->st_info) == STT_TLS || found->st_shndx == SHN_ABS ||
	    (dynamic_weak && ELF64_ST_BIND(found->st_info) == STB_WEAK))
		return UNKNOWN;
	*out = (void *)(o->base + found->st_value);
	return FOUND;
}

/* The objects after ours in the link-map chain; how many, or -1 if unknown. */
static int next_objs(struct next_obj *objs)
{
	Dl_info info;
	struct link_map *self = NULL;
	int n = 0;

	if (!dladdr1((void *)&weft_real, &info, (void **)&self, RTLD_DL_LINKMAP) || !self)
		return -1;
	for (const struct link_map *m = self->l_next; m; m = m->l_next) {
		if (n == NEXT_MAX)
			return -1;
		next_obj_read(m, &objs[n++]);
	}
	return n;
}

/* The definition among objs[0..n); *where: the object's index (-1: none). */
static void *find_in(const struct next_obj *objs, int n, const char *name, const char *version,
		     int *where)
{
	uint32_t h = gnu_hash(name);
	void *p;

	*where = -1;
	for (int i = 0; i < n; i++) {
		switch (next_obj_lookup(&objs[i], name, h, version, &p)) {
		case FOUND:
			*where = i;
			return p;
		case UNKNOWN:
			return NULL;
		case ABSENT:
			break;
		}
	}
	return NULL;
}

void *weft_real_find(const char *name, const char *version)
{
	struct next_obj objs[NEXT_MAX];
	int n = next_objs(objs), where;

	return n < 0 ? NULL : find_in(objs, n, name, version, &where);
}

/* The objects after ours, read by weft_real_prepare; next_n > 0 once they can be used. */
static struct next_obj next[NEXT_MAX];
static _Atomic int next_n;

static void *find_next(enum weft_real_index idx)
{
	int n = weft_load_acquire(&next_n), where;

	return n > 0 ? find_in(next, n, real_entries[idx].name, real_entries[idx].version, &where)
		     : NULL;
}

int weft_real_prepared_objects(void)
{
	return weft_load_acquire(&next_n);
}

void weft_real_prepare(void)
{
	int n = next_objs(next), libc;

	dynamic_weak = getenv("LD_DYNAMIC_WEAK") != NULL;
	/* An object whose tables cannot answer: first calls would go to dlsym. Not lazily, then. */
	for (int i = 0; i < n; i++)
		if (!next[i].gnu_hash || !next[i].symtab || !next[i].strtab)
			n = 0;
	/*
	 * The objects kept for later lookups end with libc: those after it were
	 * loaded after it (a library a constructor opened before weft's ran,
	 * which the program may close, unmapping its tables), and what they
	 * alone define is left to dlsym.
	 */
	if (n > 0 && find_in(next, n, "gnu_get_libc_version", NULL, &libc) && libc >= 0)
		n = libc + 1;
	for (int i = 0; n > 0 && i < WEFT_REAL_COUNT; i++) {
		const struct real_entry *e = &real_entries[i];
		int where;
		void *p = find_in(next, n, e->name, e->version, &where), *want;

		if (!p)
			continue;
		/* The first answer is checked against dlsym's: the same, and the objects serve. */
		want = weft_real_resolve((enum weft_real_index)i);
		if (p == want) {
			weft_store_release(&next_n, n);
			return;
		}
		break;
	}
	/* Not decidable that way: dlsym, for every entry not yet resolved, now. */
	for (int i = 0; i < WEFT_REAL_COUNT; i++)
		weft_real_resolve((enum weft_real_index)i);
}

int weft_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

int weft_sys_close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

void weft_sys_closefrom(int lowfd)
{
	syscall(SYS_close_range, lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u, 0);
}

int weft_sys_dup2(int oldfd, int newfd)
{
	return (int)syscall(SYS_dup2, oldfd, newfd);
}

int weft_sys_dup3(int oldfd, int newfd, int flags)
{
	return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

int weft_sys_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}

int weft_sys_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	unsigned long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

ssize_t weft_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

ssize_t weft_sys_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

ssize_t weft_sys_readv(int fd, const struct iovec *iov, int n)
{
	return syscall(SYS_readv, fd, iov, n);
}

ssize_t weft_sys_writev(int fd, const struct iovec *iov, int n)
{
	return syscall(SYS_writev, fd, iov, n);
}

int weft_sys_nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)syscall(SYS_nanosleep, req, rem);
}

/* glibc's sleep: nanosleep, then the whole seconds left. */
unsigned int weft_sys_sleep(unsigned int seconds)
{
	struct timespec d = { (time_t)seconds, 0 };

	if (weft_sys_nanosleep(&d, &d) == 0)
		return 0;
	return (unsigned int)d.tv_sec;
}
