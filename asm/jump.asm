; jump.asm -- the restorer's last step: load a saved thread state and iretq into it.
;
; void rst_jump(const struct ckpt_regs *regs, const void *fpu_area,
;               uint64_t xrstor_mask, unsigned flags) __attribute__((noreturn));
;
; Order: fs/gs base first (the arch_prctl fallback is a syscall, which clobbers
; rcx/r11), then the FPU/vector state, then an iretq frame on the restorer stack,
; then every general register, then iretq, which loads rip, cs, rflags, rsp, ss
; in one instruction.  Nothing after the frame is built may touch memory the
; target owns: the restorer's stack and .bss are still mapped (libckpt unmaps them).

	default rel
%include "regs.inc"

	section .text

; ----------------------------------------------------------------
; rst_jump -- reload a struct ckpt_regs and its FPU area, resume the target
;  IN: rdi = struct ckpt_regs * (restorer .bss), rsi = fpu area (64-aligned),
;      rdx = XRSTOR mask (image xfeatures), ecx = CKPT_CTX_* flags
; OUT: does not return
	global rst_jump:function (rst_jump.end - rst_jump)
rst_jump:
	mov	r12, rdi			; r12 = regs       (survives syscalls)
	mov	r13, rsi			; r13 = fpu area
	mov	r14, rdx			; r14 = xrstor mask
	mov	r15d, ecx			; r15d = flags

	test	r15d, CKPT_CTX_FSGSBASE
	jz	.bases_by_prctl
	mov	rax, [r12 + ckpt_regs.fs_base]
	wrfsbase rax				; target TLS from here on
	mov	rax, [r12 + ckpt_regs.gs_base]
	wrgsbase rax
	jmp	.fpu

.bases_by_prctl:
	mov	eax, SYS_arch_prctl
	mov	edi, ARCH_SET_FS
	mov	rsi, [r12 + ckpt_regs.fs_base]
	syscall					; arch_prctl(ARCH_SET_FS, fs_base)
	mov	eax, SYS_arch_prctl
	mov	edi, ARCH_SET_GS
	mov	rsi, [r12 + ckpt_regs.gs_base]
	syscall					; arch_prctl(ARCH_SET_GS, gs_base)
	; fall through to .fpu

.fpu:
	test	r15d, CKPT_CTX_XSAVE
	jz	.fxrstor
	mov	eax, r14d			; edx:eax = mask: the components the
	mov	rdx, r14			;   image saved (checked against this
	shr	rdx, 32				;   CPU's XCR0 before we got here)
	xrstor	[r13]				; x87, SSE, AVX, AVX-512, PKRU
	jmp	.frame
.fxrstor:
	fxrstor	[r13]				; x87 and SSE only
	; fall through to .frame

.frame:						; iretq pops rip, cs, rflags, rsp, ss
	mov	ax, ss
	movzx	eax, ax
	push	rax				; ss: this kernel's user data selector
	push	qword [r12 + ckpt_regs.rsp]	; rsp
	push	qword [r12 + ckpt_regs.rflags]	; rflags
	mov	ax, cs
	movzx	eax, ax
	push	rax				; cs: this kernel's user code selector
	push	qword [r12 + ckpt_regs.rip]	; rip

.load_gprs:					; r12 last: it is the base pointer
	mov	rax, [r12 + ckpt_regs.rax]
	mov	rbx, [r12 + ckpt_regs.rbx]
	mov	rcx, [r12 + ckpt_regs.rcx]
	mov	rdx, [r12 + ckpt_regs.rdx]
	mov	rsi, [r12 + ckpt_regs.rsi]
	mov	rdi, [r12 + ckpt_regs.rdi]
	mov	rbp, [r12 + ckpt_regs.rbp]
	mov	r8, [r12 + ckpt_regs.r8]
	mov	r9, [r12 + ckpt_regs.r9]
	mov	r10, [r12 + ckpt_regs.r10]
	mov	r11, [r12 + ckpt_regs.r11]
	mov	r13, [r12 + ckpt_regs.r13]
	mov	r14, [r12 + ckpt_regs.r14]
	mov	r15, [r12 + ckpt_regs.r15]
	mov	r12, [r12 + ckpt_regs.r12]
	; ---- POINT OF NO RETURN: every register is the target's ----
	iretq
.end:

	section .note.GNU-stack noalloc noexec nowrite progbits
