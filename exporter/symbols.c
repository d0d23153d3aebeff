/*
 * Function names for code addresses (symbols.h), on the exporter thread.
 *
 * An address is looked up in the loader's list of loaded objects
 * (dl_iterate_phdr), and, while the loader holds that list still, in the
 * object's dynamic symbol table as it is in memory: the exported names,
 * dladdr's, always those of the code that is loaded (a library upgraded on
 * disk since is not read), and never read after a dlclose. A name not found
 * there comes from the file's .symtab (static functions, executables linked
 * without -rdynamic), mapped read-only. Of a table's functions that contain
 * the address, the one that begins nearest below it; of several there, the
 * first in the table (dladdr's choice: an interceptor's `abort` before its
 * `__interceptor_abort`).
 *
 * A table's first INDEX_AFTER lookups scan it; then an index of its
 * functions sorted by address is built (a radix sort, a few passes over the
 * table) and searched. dladdr, which this replaces, scans the whole dynamic
 * symbol table at every call: in node (75,000 exported symbols) a lookup
 * cost 0.1-0.4 ms, and a few hundred call sites and stack frames took the
 * exporter thread 0.2 s of CPU in a 0.3 s program.
 *
 * Nothing called under the loader's lock takes the loader's other lock
 * (dladdr, dlsym, dlopen: a thread in dlopen holds that one and waits for
 * this one): the index comes from weft's private allocator. Names are cached
 * per address for the life of the process.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/fd.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/resource.h"
#include "exporter/symbols.h"

enum { MAX_OBJECTS = 256, MAX_FILES = 64, INDEX_AFTER = 1 };

/* A function in a table's index: where it begins (a link-time address), its size, its name. */
struct fsym {
	uint64_t value;
	uint32_t size; /* clamped: no function is 4 GiB long */
	uint32_t name; /* in the string table */
};

/* One of a module's symbol tables, and its index once built. */
struct table {
	const ElfW(Sym) * syms;
	size_t n_syms;
	const char *strtab;
	size_t strtab_size;
	struct fsym *index; /* by value, then table order; NULL until built */
	size_t n_index;
	unsigned lookups;
	bool index_failed; /* out of memory: the table is scanned */
};

/* A loaded object's exported functions, as the loader has them in memory. */
struct object {
	uintptr_t bias;
	const ElfW(Sym) * dynsym; /* with bias: which object this is still */
	struct table dyn;
};

/* A module's .symtab, from its file mapped whole. */
struct file {
	char path[256];
	const unsigned char *map;
	size_t size;
	struct table sym;
	bool done; /* file_get returned: the entry is whole (see weft_symbols_reset) */
};

/* The cache's entries, by address (the first 8 bytes, for weft_hashmap_eq_u64). */
struct cache_entry {
	uint64_t addr;
	const char *name; /* NULL: looked up, nothing found */
};

static struct object objects[MAX_OBJECTS] WEFT_LARGE;
static size_t n_objects;
static struct file files[MAX_FILES] WEFT_LARGE;
static size_t n_files;
static struct weft_hashmap cache =
	WEFT_HASHMAP_INIT(sizeof(struct cache_entry), weft_hashmap_eq_u64);

/* The file's .symtab, if it has one. */
static void file_load(struct file *f)
{
	const ElfW(Ehdr) * eh;
	const ElfW(Shdr) * sh;

	/* Never through a descriptor the program could see: it may be opening a file. */
	f->map = weft_fd_map(f->path, &f->size);
	if (!f->map || f->size < sizeof(ElfW(Ehdr)))
		return;
	eh = (const ElfW(Ehdr) *)f->map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > f->size)
		return;
	sh = (const ElfW(Shdr) *)(f->map + eh->e_shoff);
	for (size_t i = 0; i < eh->e_shnum; i++) {
		const ElfW(Shdr) * str;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > f->size ||
		    str->sh_offset + str->sh_size > f->size)
			return;
		f->sym.syms = (const ElfW(Sym) *)(f->map + sh[i].sh_offset);
		f->sym.n_syms = sh[i].sh_size / sizeof(ElfW(Sym));
		f->sym.strtab = (const char *)(f->map + str->sh_offset);
		f->sym.strtab_size = str->sh_size;
		return;
	}
}

static struct file *file_get(const char *path)
{
	struct file *f;

	for (size_t i = 0; i < n_files; i++)
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	if (n_files == MAX_FILES || strlen(path) >= sizeof(f->path))
		return NULL;
	f = &files[n_files++];
	strcpy(f->path, path);
	file_load(f);
	/* Last, as a fork would see it: a forked child drops an entry not done. */
	atomic_signal_fence(memory_order_seq_cst);
	f->done = true;
	return f;
}

/* /proc/self/exe, because the loader names the main program by argv[0] or not at all. */
static const char *exe_path(void)
{
	static char path[256];
	const char *built = weft_resource_exe_path();
	ssize_t n;

	/* The resource has read it already, in any process that exports. */
	if (built[0])
		return built;
	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	return path;
}

/*
 * An address of the object, as a dynamic entry gives it: relocated by the
 * loader (most objects), or not yet (the vDSO's, a read-only dynamic section).
 */
static const void *dyn_ptr(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi,
			   ElfW(Addr) ptr)
{
	if (ptr >= lo && ptr < hi)
		return (const void *)ptr;
	if (ptr + info->dlpi_addr >= lo && ptr + info->dlpi_addr < hi)
		return (const void *)(ptr + info->dlpi_addr);
	return NULL;
}

/* How many symbols a GNU hash table covers: past the last chain's end. */
static size_t gnu_hash_count(const uint32_t *h)
{
	uint32_t nbuckets = h[0], symoffset = h[1], bloom = h[2], last = 0;
	const uint32_t *buckets = h + 4 + bloom * (sizeof(ElfW(Addr)) / 4);
	const uint32_t *chain = buckets + nbuckets;

	for (uint32_t b = 0; b < nbuckets; b++)
		if (buckets[b] > last)
			last = buckets[b];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return (size_t)last + 1;
}

/* The object's dynamic symbol table in memory, into t; false when it has none weft can read. */
static bool dynsym_of(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi, struct table *t)
{
	const ElfW(Dyn) *d = NULL;
	const uint32_t *gnu = NULL, *sysv = NULL;

	for (size_t i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	if (!d)
		return false;
	memset(t, 0, sizeof(*t));
	for (; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB:
			t->syms = dyn_ptr(info, lo, hi, d->d_un.d_ptr);
			break;
		case DT_STRTAB:
			t->strtab = dyn_ptr(info, lo, hi, d->d_un.d_ptr);
			break;
		case DT_STRSZ:
			t->strtab_size = d->d_un.d_val;
			break;
		case DT_GNU_HASH:
			gnu = dyn_ptr(info, lo, hi, d->d_un.d_ptr);
			break;
		case DT_HASH:
			sysv = dyn_ptr(info, lo, hi, d->d_un.d_ptr);
			break;
		}
	}
	if (!t->syms || !t->strtab || !t->strtab_size || (!gnu && !sysv))
		return false;
	t->n_syms = sysv ? sysv[1] : gnu_hash_count(gnu);
	return true;
}

/*
 * The entry for a loaded object: the one kept, if it is still this object
 * (an object dlclose()d and another loaded at its address is a new entry:
 * the old one's index is given back), else a new one; NULL when the table
 * is full or the object's dynamic symbols cannot be read.
 */
static struct object *object_of(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi)
{
	struct table t;
	struct object *o = NULL;

	if (!dynsym_of(info, lo, hi, &t))
		return NULL;
	for (size_t i = 0; i < n_objects; i++) {
		if (objects[i].bias != info->dlpi_addr)
			continue;
		if (objects[i].dynsym == t.syms)
			return &objects[i];
		o = &objects[i]; /* another object now: replaced below */
		weft_free(o->dyn.index);
		break;
	}
	if (!o) {
		if (n_objects == MAX_OBJECTS)
			return NULL;
		o = &objects[n_objects++];
	}
	o->bias = info->dlpi_addr;
	o->dynsym = t.syms;
	o->dyn = t;
	return o;
}

/* A defined function's symbol, with a name: the ones an address is named after. */
static bool is_function(const struct table *t, const ElfW(Sym) * s)
{
	return ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
	       s->st_name < t->strtab_size && s->st_name <= UINT32_MAX;
}

static bool contains(uint64_t value, uint64_t size, uint64_t offset)
{
	return offset >= value && offset - value < (size ? size : 1);
}

/* The whole table, for its first lookups. */
static const char *scan(const struct table *t, uint64_t offset)
{
	const ElfW(Sym) *best = NULL;

	for (size_t i = 0; i < t->n_syms; i++) {
		const ElfW(Sym) *s = &t->syms[i];

		if (is_function(t, s) && contains(s->st_value, s->st_size, offset) &&
		    (!best || s->st_value > best->st_value))
			best = s;
	}
	return best ? t->strtab + best->st_name : NULL;
}

/* Sorts a[0..n) by value, stably (least significant digit first), with tmp[n] beside it. */
static void radix_sort(struct fsym *a, struct fsym *tmp, size_t n)
{
	enum { BITS = 11, DIGITS = 1 << BITS };
	uint64_t top = 0;
	size_t count[DIGITS];

	for (size_t i = 0; i < n; i++)
		top |= a[i].value;
	for (unsigned shift = 0; shift < 64 && (top >> shift); shift += BITS) {
		size_t sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].value >> shift) & (DIGITS - 1)]++;
		for (size_t d = 0; d < DIGITS; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].value >> shift) & (DIGITS - 1)]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/* The table's functions sorted by value, those at one value in table order (a stable sort). */
static void index_build(struct table *t)
{
	size_t n = 0, k = 0;
	struct fsym *a, *tmp;

	for (size_t i = 0; i < t->n_syms; i++)
		n += is_function(t, &t->syms[i]);
	a = n ? weft_alloc(n * sizeof(*a)) : NULL;
	tmp = n ? weft_alloc(n * sizeof(*tmp)) : NULL;
	if (!a || !tmp) {
		weft_free(a);
		weft_free(tmp);
		t->index_failed = n != 0;
		return;
	}
	for (size_t i = 0; i < t->n_syms; i++) {
		const ElfW(Sym) *s = &t->syms[i];

		if (is_function(t, s))
			a[k++] = (struct fsym){
				.value = s->st_value,
				.size = s->st_size > UINT32_MAX ? UINT32_MAX : (uint32_t)s->st_size,
				.name = (uint32_t)s->st_name,
			};
	}
	radix_sort(a, tmp, n);
	weft_free(tmp);
	t->n_index = n;
	/* Whole before it is seen (a fork copies what this thread has written so far). */
	atomic_signal_fence(memory_order_seq_cst);
	t->index = a;
}

/*
 * The index's answer, the scan's: the last function beginning at or below
 * offset that contains it, the first in the table of those at its value.
 * How far back it looks for one that contains it, past smaller ones
 * beginning nearer (labels inside a function), is bounded.
 */
static const char *index_lookup(const struct table *t, uint64_t offset)
{
	enum { LOOK_BACK = 256 };
	size_t lo = 0, hi = t->n_index, seen = 0;
	const struct fsym *a = t->index;

	/* hi: the first beginning above offset. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid].value <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (hi > 0 && seen++ < LOOK_BACK) {
		size_t first = hi - 1;

		/* The run of functions at this value, first to last. */
		while (first > 0 && a[first - 1].value == a[hi - 1].value)
			first--;
		for (size_t i = first; i < hi; i++)
			if (contains(a[i].value, a[i].size, offset))
				return t->strtab + a[i].name;
		hi = first;
	}
	return NULL;
}

/* The function of the table that contains offset: scanned at first, then from the index. */
static const char *table_lookup(struct table *t, uint64_t offset)
{
	if (!t->n_syms)
		return NULL;
	if (!t->index && !t->index_failed && ++t->lookups > INDEX_AFTER)
		index_build(t);
	return t->index ? index_lookup(t, offset) : scan(t, offset);
}

/* One lookup in the loader's list (dl_iterate_phdr): what it found. */
struct query {
	uintptr_t addr;
	bool in_object;     /* addr is in a loaded object */
	bool named;         /* and its dynamic symbols name it: name */
	uintptr_t bias, lo; /* the object's load bias and lowest address */
	char path[256];     /* its file */
	char name[512];     /* cut short if longer */
};

/* Whether the object holds q->addr: then its load bias, lowest address and file into q. */
static bool locate(const struct dl_phdr_info *info, struct query *q, uintptr_t *hi_out)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool in = false;

	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + p->p_vaddr, end = start + p->p_memsz;

		if (p->p_type != PT_LOAD)
			continue;
		in |= q->addr >= start && q->addr < end;
		lo = start < lo ? start : lo;
		hi = end > hi ? end : hi;
	}
	if (!in)
		return false;
	q->in_object = true;
	q->bias = info->dlpi_addr;
	q->lo = lo;
	*hi_out = hi;
	snprintf(q->path, sizeof(q->path), "%s",
		 info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : exe_path());
	return true;
}

static int query_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t hi;

	(void)size;
	return locate(info, arg, &hi);
}

static int query_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct query *q = arg;
	struct object *o;
	const char *name;
	uintptr_t hi;

	(void)size;
	if (!locate(info, q, &hi))
		return 0;
	o = object_of(info, q->lo, hi);
	name = o ? table_lookup(&o->dyn, q->addr - q->bias) : NULL;
	if (name) {
		/* Copied while the object cannot go: its strings are its memory. */
		snprintf(q->name, sizeof(q->name), "%s", name);
		q->named = true;
	}
	return 1;
}

/* The name of the function at addr, in a string of weft's own (cached); NULL: none known. */
static const char *lookup(uintptr_t addr)
{
	struct query q = { .addr = addr };
	struct file *f;
	const char *name;

	dl_iterate_phdr(query_object, &q);
	if (q.named)
		return weft_strdup(q.name);
	if (!q.in_object)
		return NULL;
	/* Not exported: the file's .symtab, if it has one. */
	f = file_get(q.path);
	name = f ? table_lookup(&f->sym, addr - q.bias) : NULL;
	return name ? weft_strdup(name) : NULL;
}

void weft_symbols_init(void)
{
	/* Nothing to read when the resource has it (and nothing of ours to touch). */
	if (!weft_resource_exe_path()[0])
		exe_path();
}

const char *weft_symbols_name(uintptr_t addr)
{
	uint64_t key = addr, h = weft_hashmap_hash_u64(key);
	struct cache_entry *e;
	const char *name;
	void *p;

	if (!addr)
		return NULL;
	e = weft_hashmap_find(&cache, h, &key);
	if (e)
		return e->name;
	name = lookup(addr);
	/* Short of memory, the answer is lost (it is not cached: it would leak). */
	if (weft_hashmap_put(&cache, h, &key, &p) < 0) {
		weft_free((void *)name);
		return NULL;
	}
	e = p;
	e->addr = key;
	e->name = name;
	return e->name;
}

bool weft_symbols_module(uintptr_t addr, char *path, size_t n, uintptr_t *start)
{
	struct query q = { .addr = addr };

	dl_iterate_phdr(query_module, &q);
	if (!q.in_object)
		return false;
	snprintf(path, n, "%s", q.path);
	*start = q.lo;
	return true;
}

void weft_symbols_reset(void)
{
	/*
	 * In a forked child: a file the parent's exporter was loading at the
	 * fork is half made, and every lookup in it would find nothing for
	 * good. Forget it (its mapping, if any, stays) so that the child's first
	 * lookup loads it again. An index being built is not there yet
	 * (published last): it is built again. The objects are the loader's,
	 * the same in the child.
	 */
	if (n_files && !files[n_files - 1].done) {
		n_files--;
		memset(&files[n_files], 0, sizeof(files[n_files]));
	}
	weft_hashmap_init(&cache, sizeof(struct cache_entry), weft_hashmap_eq_u64);
}
