/* regs_offsets.c -- the numbers the asm needs, taken from the C headers.
 *
 * Never linked: the Makefile compiles it with `$(CC) -S` and keeps only the
 * lines `.ascii "=> NAME VALUE"` of the output, each as `NAME equ VALUE`, in
 * $(B)/regs_offsets.inc, which asm/regs.inc includes.  So struct ckpt_regs,
 * the CKPT_CTX_* flags (include/ckpt_image.h), the syscall numbers
 * (<asm/unistd.h>, as include/ckpt_sys.h) and the arch_prctl codes
 * (<asm/prctl.h>) are written once, in C, and the asm follows them.
 */
#include <stddef.h>
#include <asm/prctl.h>
#include <asm/unistd.h>

#include "ckpt_image.h"

/* NAME equ VALUE; "%c0": the constant without the '$' of an immediate */
#define EMIT(name, value) __asm__ volatile(".ascii \"=> " name " %c0\"" : : "i"((long)(value)))
#define FIELD(f) EMIT("ckpt_regs." #f, offsetof(struct ckpt_regs, f))

void regs_offsets(void);
void regs_offsets(void)
{
	/* struct ckpt_regs, named as `struc ckpt_regs` would name it */
	EMIT("ckpt_regs", 0);
	FIELD(rax);
	FIELD(rbx);
	FIELD(rcx);
	FIELD(rdx);
	FIELD(rsi);
	FIELD(rdi);
	FIELD(rbp);
	FIELD(rsp);
	FIELD(r8);
	FIELD(r9);
	FIELD(r10);
	FIELD(r11);
	FIELD(r12);
	FIELD(r13);
	FIELD(r14);
	FIELD(r15);
	FIELD(rip);
	FIELD(rflags);
	FIELD(fs_base);
	FIELD(gs_base);
	FIELD(cs);
	FIELD(ss);
	FIELD(pad);
	EMIT("ckpt_regs_size", sizeof(struct ckpt_regs));
	EMIT("CKPT_REGS_SIZE", CKPT_REGS_SIZE);

	/* flags argument of ckpt_save_context / rst_jump */
	EMIT("CKPT_CTX_FSGSBASE", CKPT_CTX_FSGSBASE);
	EMIT("CKPT_CTX_XSAVE", CKPT_CTX_XSAVE);

	/* syscall numbers and arch_prctl codes used from asm */
	EMIT("SYS_arch_prctl", __NR_arch_prctl);
	EMIT("SYS_clone3", __NR_clone3);
	EMIT("ARCH_SET_GS", ARCH_SET_GS);
	EMIT("ARCH_SET_FS", ARCH_SET_FS);
	EMIT("ARCH_GET_FS", ARCH_GET_FS);
	EMIT("ARCH_GET_GS", ARCH_GET_GS);
}
