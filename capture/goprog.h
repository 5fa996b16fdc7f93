/* goprog.h -- is a program Go, and with or without cgo (libckpt.so and the ckpt command) */
#ifndef CKPT_GOPROG_H
#define CKPT_GOPROG_H

enum ckpt_go {
	CKPT_GO_NOT = 0,	/* not Go, or not an ELF file we can read */
	CKPT_GO_CGO,		/* Go with runtime/cgo: threads and handlers through libc */
	CKPT_GO_NOCGO,		/* Go without cgo: raw clone and rt_sigaction of its own */
};

/* what the ELF file open at fd is: a section .go.buildinfo or .note.go.buildid
 * makes it Go; x_cgo_init in .dynstr (exported by runtime/cgo) makes it cgo */
enum ckpt_go ckpt_go_program(int fd);

/* why a Go program without cgo cannot be checkpointed, for one line */
#define CKPT_GO_NOCGO_WHY \
	"a Go program without cgo, whose runtime sets its own signal handlers with raw " \
	"system calls over libckpt's (build it with cgo to checkpoint it; issue 15)"

#endif
