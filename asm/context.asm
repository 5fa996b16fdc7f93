; context.asm -- save the calling thread's CPU state (capture side, in libckpt.so).
;
; int ckpt_save_context(struct ckpt_regs *regs, void *fpu_area, unsigned flags);
;
; Works like setjmp for the whole register file: returns 0 after saving, and
; returns 1 a second time when the restorer (asm/jump.asm) loads this state back.
; The saved state is the caller's right after this call returns: rip = our return
; address, rsp = above it, rax = 1.  Resuming must not go through our `ret`: by
; the time the image is written, the caller's next call has overwritten the slot
; that held our return address.  Declare it returns_twice in C, like setjmp.
; flags: CKPT_CTX_FSGSBASE -> rdfsbase/rdgsbase, else arch_prctl(ARCH_GET_FS/GS);
;        CKPT_CTX_XSAVE    -> xsave of every XCR0 component, else fxsave.
; fpu_area must be 64-byte aligned, its 64-byte XSAVE header zeroed once, and as
; large as CPUID 0xD.0 EBX says (512 bytes for FXSAVE).

	default rel
%include "regs.inc"

	section .text

; ----------------------------------------------------------------
; ckpt_save_context -- store GPRs, rip, rflags, selectors, fs/gs base, FPU/vector state
;  IN: rdi = struct ckpt_regs *, rsi = fpu_area, edx = CKPT_CTX_* flags
; OUT: eax = 0 now; eax = 1 when resumed, in the caller, with every other
;      register as it was at the call
	global ckpt_save_context:function hidden (ckpt_save_context.end - ckpt_save_context)
ckpt_save_context:
	mov	qword [rdi + ckpt_regs.rax], 1	; the resumed call returns 1
	mov	[rdi + ckpt_regs.rbx], rbx	; the caller's values, all of them:
	mov	[rdi + ckpt_regs.rcx], rcx
	mov	[rdi + ckpt_regs.rdx], rdx
	mov	[rdi + ckpt_regs.rsi], rsi
	mov	[rdi + ckpt_regs.rdi], rdi
	mov	[rdi + ckpt_regs.rbp], rbp
	mov	[rdi + ckpt_regs.r8], r8
	mov	[rdi + ckpt_regs.r9], r9
	mov	[rdi + ckpt_regs.r10], r10
	mov	[rdi + ckpt_regs.r11], r11
	mov	[rdi + ckpt_regs.r12], r12
	mov	[rdi + ckpt_regs.r13], r13
	mov	[rdi + ckpt_regs.r14], r14
	mov	[rdi + ckpt_regs.r15], r15
	lea	rax, [rsp + 8]
	mov	[rdi + ckpt_regs.rsp], rax	; rsp as after our ret
	mov	rax, [rsp]
	mov	[rdi + ckpt_regs.rip], rax	; resume at our return address
	pushfq					; no mov/lea above touched the flags:
	pop	qword [rdi + ckpt_regs.rflags]	;   these are the caller's
	mov	ax, cs
	movzx	eax, ax
	mov	[rdi + ckpt_regs.cs], rax	; 0x33 on x86-64 Linux
	mov	ax, ss
	movzx	eax, ax
	mov	[rdi + ckpt_regs.ss], rax	; 0x2b

	test	edx, CKPT_CTX_FSGSBASE
	jz	.bases_by_prctl
	rdfsbase rax
	mov	[rdi + ckpt_regs.fs_base], rax
	rdgsbase rax
	mov	[rdi + ckpt_regs.gs_base], rax
	jmp	.fpu

.bases_by_prctl:				; no FSGSBASE: ask the kernel
	mov	r8, rdi				; r8 = regs, r9 = fpu_area, r10d = flags:
	mov	r9, rsi				;   syscall clobbers only rax, rcx, r11
	mov	r10d, edx
	mov	eax, SYS_arch_prctl
	mov	edi, ARCH_GET_FS
	lea	rsi, [r8 + ckpt_regs.fs_base]
	syscall					; arch_prctl(ARCH_GET_FS, &regs->fs_base)
	mov	eax, SYS_arch_prctl
	mov	edi, ARCH_GET_GS
	lea	rsi, [r8 + ckpt_regs.gs_base]
	syscall					; arch_prctl(ARCH_GET_GS, &regs->gs_base)
	mov	rsi, r9
	mov	edx, r10d
	; fall through to .fpu

.fpu:
	test	edx, CKPT_CTX_XSAVE
	jz	.fxsave
	mov	eax, -1				; edx:eax = all ones: every component
	mov	edx, -1				;   XCR0 enables (x87 .. AVX-512, PKRU)
	xsave	[rsi]
	xor	eax, eax			; first return: 0
	ret
.fxsave:
	fxsave	[rsi]
	xor	eax, eax			; first return: 0
	ret
.end:

; ----------------------------------------------------------------
; ckpt_enter_restorer -- start the restorer mapped into this process (tlongjmp)
;  IN: rdi = its entry point (_start), rsi = a stack laid out as the kernel lays
;      out a new program's: argc, argv[], NULL, envp[], NULL, auxv pairs
; OUT: does not return here: the restorer ends in the image's registers, or
;      in the ckpt_bail registers it was given when it refuses the image
	global ckpt_enter_restorer:function hidden (ckpt_enter_restorer.end - ckpt_enter_restorer)
ckpt_enter_restorer:
	mov	rsp, rsi			; rsp = &argc, as after execve
	xor	ebp, ebp
	jmp	rdi				; _start takes it from here
.end:

; ----------------------------------------------------------------
; ckpt_call_on_stack -- run fn(arg) on another stack, then come back to this one
;  IN: rdi = fn, rsi = arg, rdx = the other stack's top (16-byte aligned)
; OUT: fn's return value in rax; rbx, rbp, r12-r15 kept (fn keeps them, as
;      the ABI says: rbp holds our way back)
	global ckpt_call_on_stack:function hidden (ckpt_call_on_stack.end - ckpt_call_on_stack)
ckpt_call_on_stack:
	push	rbp
	mov	rbp, rsp			; rbp = our frame, on the stack we came on
	mov	rsp, rdx			; rsp = the other stack's top
	mov	rax, rdi			; rax = fn
	mov	rdi, rsi			; rdi = arg
	call	rax				; fn(arg), rsp 16-aligned at the call
	mov	rsp, rbp			; back on the stack we came on
	pop	rbp
	ret
.end:

	section .note.GNU-stack noalloc noexec nowrite progbits
