; spawn.asm -- start a thread (or a CLONE_VM helper) on a stack of its own.
;
; Linked into the restorer (each thread of the image after the first) and
; into libckpt.so (the writer's helper that reads smaps while it writes).
; The clone3 has to be raw: the child starts on a new stack that holds no
; return address, so it must not come back through ckpt_raw_syscall.

	bits 64
	default rel
%include "regs.inc"

	section .text

; ----------------------------------------------------------------
; sys_clone3_on_stack -- clone3 a thread of this process onto its own stack
;  IN: rdi = struct clone_args * (flags, stack, stack_size, maybe set_tid),
;      rsi = its size, rdx = fn, rcx = arg
; OUT: parent: rax = the new thread's tid, or -errno; rbx, rbp, r12-r15 kept.
;      child: runs fn(arg) on the new stack; fn never returns
	global sys_clone3_on_stack:function hidden (sys_clone3_on_stack.end - sys_clone3_on_stack)
sys_clone3_on_stack:
	push	r12
	push	r13
	mov	r12, rdx			; r12 = fn  (the child gets a copy of every
	mov	r13, rcx			; r13 = arg  register but rax and rsp)
	mov	eax, SYS_clone3
	syscall					; clone3(args, size): rsp = stack + stack_size
	test	rax, rax
	jz	.child
	pop	r13				; parent: rax = tid or -errno
	pop	r12
	ret
.child:						; rsp = the new stack's top
	xor	ebp, ebp			; outermost frame
	mov	rdi, r13
	call	r12				; fn(arg): ends in rst_jump or exit
	hlt					; trap if it ever returns
.end:

	section .note.GNU-stack noalloc noexec nowrite progbits
