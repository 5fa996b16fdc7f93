/* goprog.c -- is a program Go, and with or without cgo, from its ELF sections.
 *
 * A Go program built without runtime/cgo makes its own system calls: it sets
 * its handlers for every signal with rt_sigaction (taking CKPT_SIGNAL and the
 * stop signal from libckpt, whose sigaction wrapper never sees it) and starts
 * its threads with clone.  With cgo, both go through libc.
 * libckpt asks from its constructor, before the program's first malloc: the
 * buffers are mappings of their own, so that the program's heap starts
 * where it would without libckpt. */
#include <elf.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goprog.h"

#define MAX_TABLE	(4 << 20)	/* larger string tables are not read */

/* size bytes at off into a new mapping, NUL-terminated, or NULL */
static char *read_at(int fd, uint64_t off, uint64_t size)
{
	char *p;

	if (size > MAX_TABLE)
		return NULL;
	p = mmap(NULL, size + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (pread(fd, p, size, (off_t)off) != (ssize_t)size) {
		munmap(p, size + 1);
		return NULL;
	}
	p[size] = 0;
	return p;
}

static void drop(void *p, uint64_t size)
{
	if (p)
		munmap(p, size + 1);
}

/* does the string table tab (size bytes) hold the string s? */
static int has_string(const char *tab, uint64_t size, const char *s)
{
	size_t len = strlen(s) + 1;

	for (uint64_t i = 0; i + len <= size; i += strlen(tab + i) + 1)
		if (!memcmp(tab + i, s, len))
			return 1;
	return 0;
}

enum ckpt_go ckpt_go_program(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	char *names = NULL, *dynstr = NULL;
	int go = 0, cgo = 0;
	uint64_t dynstr_size = 0, sh_size, names_size = 0;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !eh.e_shnum || eh.e_shstrndx >= eh.e_shnum)
		return CKPT_GO_NOT;
	sh_size = (uint64_t)eh.e_shnum * sizeof(*sh);
	sh = (Elf64_Shdr *)read_at(fd, eh.e_shoff, sh_size);
	if (!sh)
		return CKPT_GO_NOT;
	names_size = sh[eh.e_shstrndx].sh_size;
	names = read_at(fd, sh[eh.e_shstrndx].sh_offset, names_size);
	for (int i = 0; names && i < eh.e_shnum; i++) {
		const char *name;

		if (sh[i].sh_name >= sh[eh.e_shstrndx].sh_size)
			continue;
		name = names + sh[i].sh_name;
		if (!strcmp(name, ".go.buildinfo") || !strcmp(name, ".note.go.buildid"))
			go = 1;
		else if (!strcmp(name, ".dynstr") && !dynstr) {
			dynstr_size = sh[i].sh_size;
			dynstr = read_at(fd, sh[i].sh_offset, dynstr_size);
		}
	}
	if (go && dynstr)
		cgo = has_string(dynstr, dynstr_size, "x_cgo_init");
	drop(dynstr, dynstr_size);
	drop(names, names_size);
	drop(sh, sh_size);
	return !go ? CKPT_GO_NOT : cgo ? CKPT_GO_CGO : CKPT_GO_NOCGO;
}
