/* goprog.c -- is a program Go, and with or without cgo, from its ELF sections.
 *
 * A Go program built without runtime/cgo makes its own system calls: it sets
 * its handlers for every signal with rt_sigaction (taking CKPT_SIGNAL and the
 * stop signal from libckpt, whose sigaction wrapper never sees it) and starts
 * its threads with clone.  With cgo, both go through libc. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goprog.h"

#define MAX_TABLE	(4 << 20)	/* larger string tables are not read */

/* size bytes at off into a new buffer, NUL-terminated, or NULL */
static char *read_at(int fd, uint64_t off, uint64_t size)
{
	char *p;

	if (size > MAX_TABLE || !(p = malloc(size + 1)))
		return NULL;
	if (pread(fd, p, size, (off_t)off) != (ssize_t)size) {
		free(p);
		return NULL;
	}
	p[size] = 0;
	return p;
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
	uint64_t dynstr_size = 0;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !eh.e_shnum || eh.e_shstrndx >= eh.e_shnum)
		return CKPT_GO_NOT;
	sh = (Elf64_Shdr *)read_at(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(*sh));
	if (!sh)
		return CKPT_GO_NOT;
	names = read_at(fd, sh[eh.e_shstrndx].sh_offset, sh[eh.e_shstrndx].sh_size);
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
	free(dynstr);
	free(names);
	free(sh);
	return !go ? CKPT_GO_NOT : cgo ? CKPT_GO_CGO : CKPT_GO_NOCGO;
}
